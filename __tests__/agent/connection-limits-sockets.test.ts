import { once } from "node:events";
import * as net from "node:net";
import { monotonicClock } from "../../runtime/agent/clock";
import { ConnectionLimits } from "../../runtime/agent/connection-limits";
import { Logger } from "../../runtime/agent/log";

/**
 * The limits on real loopback sockets, as the agent applies them at accept: a refused
 * connection is reset at once (never a hang, never a FIN), and an admitted one is served.
 */

jest.setTimeout(60_000);

let server: net.Server;
const held: net.Socket[] = [];

afterEach(async () => {
  for (const s of held.splice(0)) s.destroy();
  await new Promise((r) => server.close(r));
});

async function limitedServer(maxConnections: number, maxConnectionsPerIp: number) {
  const lines: Record<string, unknown>[] = [];
  const limits = new ConnectionLimits({
    maxConnections,
    maxConnectionsPerIp,
    clock: monotonicClock,
    logger: new Logger({ write: (l: string) => lines.push(JSON.parse(l)) }),
  });
  let served = 0;
  server = net.createServer({ pauseOnConnect: true }, (socket) => {
    socket.on("error", () => {});
    const slot = limits.accept(socket.remoteAddress ?? "", true);
    if (typeof slot === "string") {
      socket.resetAndDestroy();
      return;
    }
    served += 1;
    held.push(socket);
    socket.once("close", () => slot.release());
    socket.write("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as net.AddressInfo).port, limits, lines, served: () => served };
}

/** Opens a connection from `localAddress` and reports what it saw first: "ok", "reset" or "fin". */
function attempt(port: number, localAddress: string): Promise<{ outcome: string; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress });
    socket.once("data", () => resolve({ outcome: "ok", socket }));
    socket.once("error", (e: NodeJS.ErrnoException) => resolve({ outcome: e.code === "ECONNRESET" ? "reset" : e.code ?? "error", socket }));
    socket.once("end", () => resolve({ outcome: "fin", socket }));
  });
}

async function attempts(port: number, addresses: readonly string[], count: number) {
  const outcomes: Record<string, number> = {};
  const batch = 50;
  for (let i = 0; i < count; i += batch) {
    const results = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, (_, j) => attempt(port, addresses[(i + j) % addresses.length])),
    );
    for (const { outcome, socket } of results) {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (outcome === "ok") held.push(socket);
      else socket.destroy();
    }
  }
  return outcomes;
}

describe("connection limits on loopback", () => {
  it("1000 attempts from one address: exactly maxConnectionsPerIp are served, the rest reset at once, one log line", async () => {
    const { port, limits, lines, served } = await limitedServer(0, 20);
    const start = Date.now();
    const outcomes = await attempts(port, ["127.0.0.1"], 1000);
    const seconds = (Date.now() - start) / 1000;
    expect(outcomes).toEqual({ ok: 20, reset: 980 });
    expect(served()).toBe(20);
    expect(limits.rejectedTotal("max_connections_per_ip")).toBe(980);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    // one line per second per address at most, however long the run took
    expect(lines.length).toBeLessThanOrEqual(1 + Math.ceil(seconds));
  });

  it("1000 attempts from 10 addresses (127.0.0.x): each address gets its own allowance", async () => {
    const addresses = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 10}`);
    const { port, limits, lines } = await limitedServer(0, 5);
    const outcomes = await attempts(port, addresses, 1000);
    expect(outcomes).toEqual({ ok: 50, reset: 950 });
    for (const a of addresses) expect(limits.openFrom(a)).toBe(5);
    expect(new Set(lines.map((l) => l.client))).toEqual(new Set(addresses));
  });

  it("maxConnections holds across addresses, and a closed connection frees its place", async () => {
    const addresses = Array.from({ length: 4 }, (_, i) => `127.0.0.${i + 30}`);
    const { port, limits } = await limitedServer(30, 0);
    expect(await attempts(port, addresses, 200)).toEqual({ ok: 30, reset: 170 });
    const first = held[0];
    first.destroy();
    for (let i = 0; i < 100 && limits.openConnections === 30; i += 1) await new Promise((r) => setTimeout(r, 10));
    expect((await attempt(port, "127.0.0.99")).outcome).toBe("ok");
  });
});
