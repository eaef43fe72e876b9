import * as net from "node:net";
import { once } from "node:events";
import { readProxyHeader, type HeaderOutcome } from "../../runtime/agent/proxy-header-reader";
import { encodeProxyV2 } from "../../runtime/agent/proxy-protocol";

const HEADER = encodeProxyV2({
  kind: "proxy",
  source: { address: "203.0.113.7", port: 51234 },
  destination: { address: "10.0.1.25", port: 20003 },
});

let server: net.Server;
let clients: net.Socket[] = [];

afterEach(async () => {
  for (const c of clients) c.destroy();
  clients = [];
  if (server?.listening) await new Promise((r) => server.close(r));
});

/** A server that reads each connection's header, then collects the rest of its bytes. */
async function start(timeoutMs: number): Promise<{ port: number; next: () => Promise<{ outcome: HeaderOutcome; stream: Promise<Buffer> }> }> {
  const accepted: Array<{ outcome: HeaderOutcome; stream: Promise<Buffer> }> = [];
  const waiters: Array<() => void> = [];
  server = net.createServer({ pauseOnConnect: true }, (socket) => {
    socket.on("error", () => {});
    readProxyHeader(socket, { timeoutMs }, (outcome) => {
      const stream = new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        if (outcome.kind !== "proxy" && outcome.kind !== "local") {
          socket.resetAndDestroy();
          resolve(Buffer.alloc(0));
          return;
        }
        socket.on("data", (c: Buffer) => chunks.push(c));
        socket.on("end", () => {
          resolve(Buffer.concat(chunks));
          socket.end();
        });
        socket.resume();
      });
      accepted.push({ outcome, stream });
      waiters.shift()?.();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const next = async () => {
    if (accepted.length === 0) await new Promise<void>((r) => waiters.push(r));
    return accepted.shift()!;
  };
  return { port, next };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  clients.push(socket);
  await once(socket, "connect");
  return socket;
}

describe("readProxyHeader on a real socket", () => {
  it("reads a header sent in pieces and leaves exactly the stream's bytes", async () => {
    const { port, next } = await start(2000);
    const client = await connect(port);
    const payload = Buffer.from("hello, app: the first bytes after the header");
    const all = Buffer.concat([HEADER, payload]);
    // Pieces: 5 bytes, the rest of the header plus 3 bytes of payload, then the rest.
    client.write(all.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 20));
    client.write(all.subarray(5, HEADER.length + 3));
    await new Promise((r) => setTimeout(r, 20));
    client.end(all.subarray(HEADER.length + 3));
    const { outcome, stream } = await next();
    expect(outcome).toMatchObject({ kind: "proxy", source: { address: "203.0.113.7", port: 51234 } });
    expect(await stream).toEqual(payload);
  });

  it("gives up on a slow header at the deadline and the client sees a reset", async () => {
    // (a deadline long enough that a busy test process has surely read the 10 bytes by then)
    const { port, next } = await start(1500);
    const client = await connect(port);
    client.write(HEADER.subarray(0, 10)); // a valid prefix, then nothing
    const closed = new Promise<string>((resolve) => {
      client.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
      client.on("end", () => resolve("fin"));
    });
    const { outcome } = await next();
    expect(outcome).toEqual({ kind: "timeout", received: 10 });
    expect(await closed).toBe("ECONNRESET");
  });

  it("rejects a client that speaks without a header at its first bytes, before any deadline", async () => {
    const { port, next } = await start(60_000);
    const client = await connect(port);
    client.on("error", () => {});
    client.write("CONNECT mqtt");
    const { outcome } = await next();
    expect(outcome).toEqual({ kind: "invalid", reason: "no PROXY v2 signature" });
  });

  it("reports a client that leaves part-way through its header as an invalid header (counted, reset)", async () => {
    const { port, next } = await start(60_000);
    const client = await connect(port);
    client.end(HEADER.subarray(0, 14));
    const { outcome } = await next();
    expect(outcome).toEqual({ kind: "invalid", reason: "the client closed after 14 byte(s) of a PROXY v2 header" });
  });

  it("reports a client that leaves without sending a byte as closed (no header at all)", async () => {
    const { port, next } = await start(60_000);
    const client = await connect(port);
    client.end();
    const { outcome } = await next();
    expect(outcome).toEqual({ kind: "closed" });
  });
});
