import { ConnectionLimits, type ConnectionSlot } from "../../runtime/agent/connection-limits";
import { NS_PER_MS } from "../../runtime/agent/clock";
import { Logger } from "../../runtime/agent/log";

function setup(maxConnections: number, maxConnectionsPerIp: number) {
  let now = 0;
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ write: (line: string) => lines.push(JSON.parse(line)) });
  const limits = new ConnectionLimits({ maxConnections, maxConnectionsPerIp, clock: () => now, logger });
  return { limits, lines, advanceMs: (ms: number) => (now += ms * NS_PER_MS) };
}

function slot(x: ConnectionSlot | string): ConnectionSlot {
  if (typeof x === "string") throw new Error(`rejected: ${x}`);
  return x;
}

describe("ConnectionLimits", () => {
  it("refuses the connection past maxConnections and admits again once one closes", () => {
    const { limits } = setup(2, 0);
    const a = slot(limits.accept("10.0.0.1", true));
    slot(limits.accept("10.0.0.2", true));
    expect(limits.accept("10.0.0.3", true)).toBe("max_connections");
    a.release();
    a.release();
    expect(limits.openConnections).toBe(1);
    expect(typeof limits.accept("10.0.0.3", true)).toBe("object");
    expect(limits.rejectedTotal("max_connections")).toBe(1);
  });

  it("counts per address, and other addresses are not affected", () => {
    const { limits } = setup(0, 2);
    slot(limits.accept("10.0.0.1", true));
    const second = slot(limits.accept("10.0.0.1", true));
    expect(limits.accept("10.0.0.1", true)).toBe("max_connections_per_ip");
    expect(typeof limits.accept("10.0.0.2", true)).toBe("object");
    second.release();
    expect(limits.openFrom("10.0.0.1")).toBe(1);
    expect(typeof limits.accept("10.0.0.1", true)).toBe("object");
    expect(limits.rejectedTotal("max_connections_per_ip")).toBe(1);
  });

  it("counts the PROXY header's address, not the socket's, once identified", () => {
    const { limits } = setup(0, 1);
    const first = slot(limits.accept("10.0.0.99", false));
    expect(first.identify("203.0.113.7")).toBeUndefined();
    const second = slot(limits.accept("10.0.0.99", false));
    expect(second.identify("203.0.113.7")).toBe("max_connections_per_ip");
    expect(limits.openConnections).toBe(1); // the refused one gave its slot back
    expect(limits.openFrom("10.0.0.99")).toBe(0);
  });

  it("logs at most once per second per address, with the count it did not log", () => {
    const { limits, lines, advanceMs } = setup(0, 1);
    slot(limits.accept("10.0.0.1", true));
    slot(limits.accept("10.0.0.2", true));
    for (let i = 0; i < 100; i += 1) {
      limits.accept("10.0.0.1", true);
      limits.accept("10.0.0.2", true);
      advanceMs(5);
    }
    expect(lines.map((l) => l.client)).toEqual(["10.0.0.1", "10.0.0.2"]);
    advanceMs(600);
    limits.accept("10.0.0.1", true);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ event: "connection-limit", client: "10.0.0.1", reason: "max_connections_per_ip", limit: 1, notLogged: 99 });
    expect(limits.rejectedTotal("max_connections_per_ip")).toBe(201);
  });
});
