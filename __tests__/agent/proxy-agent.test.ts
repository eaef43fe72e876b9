import { once } from "node:events";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { encodeProxyV2 } from "../../runtime/agent/proxy-protocol";
import { HOST, Resources, closed, httpGet, metric, readAll } from "./helpers";

/** The agent with PROXY protocol v2 and connection limits, run as it ships (the bundle). */

jest.setTimeout(30_000);
const resources = new Resources();
afterEach(() => resources.closeAll());

const CLIENT = { address: "203.0.113.7", port: 51234 };
const NLB = { address: "10.0.1.25", port: 20003 };
const header = (source = CLIENT) => encodeProxyV2({ kind: "proxy", source, destination: NLB });

/** An app that records every connection's bytes (and echoes them). */
async function recordingApp() {
  const received: Promise<Buffer>[] = [];
  const { port } = await resources.server((socket) => {
    received.push(readAll(socket));
    socket.pipe(socket);
  }, { allowHalfOpen: false });
  return { port, received };
}

async function agentWith(appPort: number, flags: string[]) {
  const healthPort = 0;
  const { ready } = await resources.startAgent(["--listen", "0", "--host", HOST, "--upstream", `${HOST}:${appPort}`, "--health-port", String(healthPort), ...flags]);
  return ready;
}

/** Opens a raw connection to the agent, writes `bytes`, ends, and reads what comes back. */
async function exchange(port: number, bytes: Buffer, localAddress = "127.0.0.1"): Promise<{ echoed: Buffer; error: string | null }> {
  const socket = net.connect({ host: HOST, port, localAddress });
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  // Written once connected; a reset that beats the connect event is reported like any other.
  socket.end(bytes);
  const { error } = await closed(socket);
  return { echoed: Buffer.concat(chunks), error: error?.code ?? null };
}

describe("the agent with PROXY protocol v2", () => {
  it("proxy-v2: strips the header; the app gets the client's bytes intact, and they come back intact", async () => {
    const app = await recordingApp();
    const ready = await agentWith(app.port, ["--proxy-protocol", "proxy-v2", "--pps", "100000"]);
    const payload = crypto.randomBytes(3_000_000);
    const { echoed, error } = await exchange(ready.listen, Buffer.concat([header(), payload]));
    expect(error).toBeNull();
    expect((await app.received[0]).equals(payload)).toBe(true);
    expect(echoed.equals(payload)).toBe(true);
  });

  it("proxy-v2-to-app: the app receives exactly the header it asked for, then the client's bytes", async () => {
    const app = await recordingApp();
    const ready = await agentWith(app.port, ["--proxy-protocol", "proxy-v2-to-app"]);
    const payload = Buffer.from("MQTT CONNECT ...");
    // The NLB's header carries a TLV (the VPC endpoint id); the one sent to the app has the addresses only.
    const nlbHeader = encodeProxyV2({ kind: "proxy", source: CLIENT, destination: NLB, tlvs: [{ type: 0xea, value: Buffer.from("\x01vpce-0abc") }] });
    await exchange(ready.listen, Buffer.concat([nlbHeader, payload]));
    expect(await app.received[0]).toEqual(Buffer.concat([header(), payload]));
  });

  it("resets a connection whose header is too slow, and the app never sees it", async () => {
    const app = await recordingApp();
    const ready = await agentWith(app.port, ["--proxy-protocol", "proxy-v2", "--proxy-header-timeout", "0.3"]);
    // written as soon as it connects: the reset may come before the test sees the connect
    const socket = resources.dial(ready.listen);
    socket.write(header().subarray(0, 10));
    const { error } = await closed(socket);
    expect(error?.code).toBe("ECONNRESET");
    expect(app.received).toHaveLength(0);
    const text = (await httpGet(ready.healthPort!, "/metrics")).body;
    expect(metric(text, 'tcp_addon_proxy_header_errors_total{cause="timeout"}')).toBe(1);
  });

  it("resets a client that sends no header, without a byte to the app; closes a LOCAL connection unforwarded", async () => {
    const app = await recordingApp();
    const ready = await agentWith(app.port, ["--proxy-protocol", "proxy-v2"]);
    expect((await exchange(ready.listen, Buffer.from("GET / HTTP/1.0\r\n\r\n"))).error).toBe("ECONNRESET");
    expect((await exchange(ready.listen, encodeProxyV2({ kind: "local" }))).error).toBeNull();
    expect(app.received).toHaveLength(0);
    const text = (await httpGet(ready.healthPort!, "/metrics")).body;
    expect(metric(text, 'tcp_addon_proxy_header_errors_total{cause="invalid"}')).toBe(1);
    expect(metric(text, "tcp_addon_proxy_local_total")).toBe(1);
  });
});

describe("the agent's connection limits", () => {
  it("counts the PROXY header's client address per IP: 1000 attempts from one client, then another client still gets in", async () => {
    const app = await recordingApp();
    const ready = await agentWith(app.port, ["--proxy-protocol", "proxy-v2", "--max-connections-per-ip", "10"]);
    const open: net.Socket[] = [];
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const socket = net.connect({ host: HOST, port: ready.listen });
          socket.on("error", () => {});
          await once(socket, "connect");
          socket.write(Buffer.concat([header(), Buffer.from("x")]));
          const outcome = await new Promise<string>((resolve) => {
            socket.once("data", () => resolve("served"));
            socket.once("close", () => resolve("reset"));
          });
          if (outcome === "served") open.push(socket);
          else socket.destroy();
          return outcome;
        }),
      );
      for (const o of batch) outcomes[o] = (outcomes[o] ?? 0) + 1;
    }
    expect(outcomes).toEqual({ served: 10, reset: 990 });
    expect((await exchange(ready.listen, Buffer.concat([header({ address: "198.51.100.9", port: 1 }), Buffer.from("y")]))).echoed.toString()).toBe("y");
    const text = (await httpGet(ready.healthPort!, "/metrics")).body;
    expect(metric(text, 'tcp_addon_connections_refused_total{limit="max_connections_per_ip"}')).toBe(990);
    for (const s of open) s.destroy();
  });

  it("without PROXY protocol, --max-connections resets the connection past the limit at once", async () => {
    const app = await recordingApp();
    const ready = await agentWith(app.port, ["--max-connections", "3"]);
    const held = await Promise.all([1, 2, 3].map(() => resources.connect(ready.listen)));
    for (const s of held) s.write("a");
    await Promise.all(held.map((s) => once(s, "data")));
    expect((await exchange(ready.listen, Buffer.from("z"))).error).toBe("ECONNRESET");
    held[0].destroy();
    let reopened = "";
    for (let i = 0; i < 50 && reopened !== "w"; i += 1) reopened = (await exchange(ready.listen, Buffer.from("w"))).echoed.toString();
    expect(reopened).toBe("w");
  });
});
