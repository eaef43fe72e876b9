import { once } from "node:events";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { encodeProxyV2, parseProxyV2 } from "../../runtime/agent/proxy-protocol";
import { Balancer } from "../../runtime/local/balancer";
import { localCertificate, type LocalCertificate } from "../../runtime/local/local-certificate";

/** A backend that keeps every byte each connection sent, and echoes them. */
async function recordingBackend() {
  const received: Promise<Buffer>[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    socket.on("error", () => socket.destroy());
    received.push(
      new Promise((resolve) => {
        socket.on("data", (c: Buffer) => chunks.push(c));
        socket.on("close", () => resolve(Buffer.concat(chunks)));
      }),
    );
    socket.pipe(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, sockets, received, port: (server.address() as net.AddressInfo).port };
}

let certDir: string;
let certificate: LocalCertificate;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-cert-"));
  certificate = await localCertificate(certDir);
});

afterAll(() => fs.rmSync(certDir, { recursive: true, force: true }));

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(options: { proxyProtocol?: boolean; tls?: boolean }) {
  const backend = await recordingBackend();
  const balancer = new Balancer({ port: 0, proxyProtocol: options.proxyProtocol, ...(options.tls ? { tls: certificate } : {}) });
  await balancer.listen();
  balancer.add({ id: "r1", host: "127.0.0.1", port: backend.port });
  closers.push(
    () => new Promise((r) => backend.server.close(r)),
    () => backend.sockets.forEach((s) => s.destroy()),
    () => balancer.close(),
  );
  return { backend, balancer };
}

describe("the local balancer speaks as an NLB with PROXY protocol v2", () => {
  it("sends the replica exactly the NLB's header (client address, listener address), then the client's bytes", async () => {
    const { backend, balancer } = await setup({ proxyProtocol: true });
    const client = net.connect({ port: balancer.port, host: "127.0.0.1", localAddress: "127.0.0.7" });
    closers.push(() => client.destroy());
    await once(client, "connect");
    const clientPort = client.localPort!;
    const payload = crypto.randomBytes(100_000);
    client.end(payload);
    const echoed: Buffer[] = [];
    client.on("data", (c: Buffer) => echoed.push(c));
    await once(client, "close");
    const got = await backend.received[0];
    const header = encodeProxyV2({
      kind: "proxy",
      source: { address: "127.0.0.7", port: clientPort },
      destination: { address: "127.0.0.1", port: balancer.port },
    });
    expect(got.subarray(0, header.length)).toEqual(header);
    expect(got.subarray(header.length)).toEqual(payload);
    expect(parseProxyV2(got)).toMatchObject({ kind: "proxy", source: { address: "127.0.0.7" } });
  });

  it("sends no header when PROXY protocol is off", async () => {
    const { backend, balancer } = await setup({});
    const client = net.connect({ port: balancer.port, host: "127.0.0.1" });
    closers.push(() => client.destroy());
    client.resume();
    client.end("plain");
    await once(client, "close");
    expect((await backend.received[0]).toString()).toBe("plain");
  });
});

describe("the local balancer terminates TLS as an NLB TLS listener", () => {
  it("a TLS client that trusts the local certificate gets its bytes through to a plain-TCP replica and back", async () => {
    const { backend, balancer } = await setup({ tls: true, proxyProtocol: true });
    expect(balancer.scheme).toBe("tls");
    const url = new URL(`${balancer.scheme}://${balancer.host}:${balancer.port}`);
    const client = tls.connect({ host: url.hostname, port: Number(url.port), ca: fs.readFileSync(certificate.certFile) });
    closers.push(() => client.destroy());
    await once(client, "secureConnect");
    expect(client.authorized).toBe(true);
    const payload = crypto.randomBytes(200_000);
    const echoed: Buffer[] = [];
    client.on("data", (c: Buffer) => echoed.push(c));
    client.end(payload);
    await once(client, "close");
    expect(Buffer.concat(echoed).subarray(-payload.length)).toEqual(payload);
    const got = await backend.received[0];
    const header = parseProxyV2(got);
    expect(header).toMatchObject({ kind: "proxy", source: { address: "127.0.0.1" }, destination: { port: balancer.port } });
    expect(got.subarray(header.kind === "proxy" ? header.headerBytes : 0)).toEqual(payload);
  });

  it("a client that does not trust the certificate is refused by its own TLS check", async () => {
    const { balancer } = await setup({ tls: true });
    const client = tls.connect({ host: "127.0.0.1", port: balancer.port });
    closers.push(() => client.destroy());
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => client.on("error", resolve));
    expect(err.code).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
  });

  it("resets a TLS client when its replica's flows are terminated", async () => {
    const { balancer } = await setup({ tls: true });
    const client = tls.connect({ host: "127.0.0.1", port: balancer.port, ca: certificate.cert });
    closers.push(() => client.destroy());
    await once(client, "secureConnect");
    client.write("x");
    await once(client, "data");
    expect(balancer.reset("r1")).toBe(1);
    const [err] = (await once(client, "error")) as [NodeJS.ErrnoException];
    expect(err.code).toBe("ECONNRESET");
  });
});

describe("localCertificate", () => {
  it("keeps one certificate for 127.0.0.1 across runs", async () => {
    const again = await localCertificate(certDir);
    expect(again.cert).toBe(certificate.cert);
    const x509 = new crypto.X509Certificate(certificate.cert);
    expect(x509.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(x509.checkHost("localhost")).toBe("localhost");
  });

  it("makes a new one when the kept one is about to expire", async () => {
    const inTwentyNineDays = new Date(Date.now() + 29.5 * 24 * 3600 * 1000);
    const renewed = await localCertificate(certDir, inTwentyNineDays);
    expect(renewed.cert).not.toBe(certificate.cert);
    certificate = renewed;
  });
});
