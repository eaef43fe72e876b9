import { AGENT_METRICS } from "../../runtime/agent/contract";
import { emfViolations } from "./emf-spec";
import { agentEnv, httpGet, metric, readAll, Resources } from "./helpers";

/** The real agent bundle under load: its EMF lines against the spec and against its own /metrics. */

const resources = new Resources();
afterEach(() => resources.closeAll());

const EMF_ENV = { TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "acme", TCP_ADDON_APP: "mqtt", TCP_ADDON_EMF_INTERVAL: "0.5" };
const PPS = 1000;

type EmfLine = Record<string, unknown> & { _aws: unknown; intervalSeconds: number };

async function loadedAgent(env: NodeJS.ProcessEnv) {
  // given an app that echoes 1 byte per kB it receives, behind an agent at 1000 pps
  const app = await resources.server((socket) => {
    socket.on("data", (chunk: Buffer) => socket.write(Buffer.alloc(Math.ceil(chunk.length / 1000), 2)));
    socket.on("end", () => socket.end());
  });
  const { agent, ready } = await resources.startAgent(["--listen", "0", "--health-port", "0", "--pps", String(PPS), "--upstream", `127.0.0.1:${app.port}`], {
    env: agentEnv(env),
  });
  return { agent, ready };
}

/** Three clients send 1.2 MB each (2400 packets in all, well above 1 s of the plan) and read the replies. */
async function drive(port: number): Promise<void> {
  const clients = await Promise.all([0, 1, 2].map(() => resources.connect(port)));
  await Promise.all(
    clients.map((client) => {
      const replies = readAll(client);
      client.end(Buffer.alloc(800 * 1500, 1));
      return replies;
    }),
  );
  await Promise.all(clients.map((c) => new Promise<void>((resolve) => (c.closed ? resolve() : c.once("close", () => resolve())))));
}

it("writes valid EMF lines whose deltas add up to the agent's /metrics, with plan utilisation near 100 % while throttled", async () => {
  const { agent, ready } = await loadedAgent(EMF_ENV);
  await drive(ready.listen);
  // the server side closes after the client: wait until /metrics shows no open connection
  let body = "";
  for (let i = 0; i < 50; i++) {
    body = (await httpGet(ready.healthPort!, "/metrics")).body;
    if (metric(body, "tcp_addon_connections_active") === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  // when the agent stops (it writes the last partial interval)
  agent.signal("SIGTERM");
  expect((await agent.exited).code).toBe(0);
  const lines = agent.lines.filter((l) => l.event === "metrics") as unknown as EmfLine[];

  // then every line is valid EMF, and the sums are the /metrics totals
  expect(lines.length).toBeGreaterThanOrEqual(3);
  for (const line of lines) expect(emfViolations(line)).toEqual([]);
  const sum = (name: string) => lines.reduce((total, l) => total + (l[name] as number), 0);
  expect(sum(AGENT_METRICS.packetsIn.name)).toBe(metric(body, 'tcp_addon_packets_total{direction="in"}'));
  expect(sum(AGENT_METRICS.packetsOut.name)).toBe(metric(body, 'tcp_addon_packets_total{direction="out"}'));
  expect(sum(AGENT_METRICS.bytesIn.name)).toBe(metric(body, 'tcp_addon_bytes_total{direction="in"}'));
  expect(sum(AGENT_METRICS.bytesIn.name)).toBe(3 * 800 * 1500);
  expect(sum(AGENT_METRICS.bytesOut.name)).toBe(metric(body, 'tcp_addon_bytes_total{direction="out"}'));
  expect(sum(AGENT_METRICS.newConnections.name)).toBe(metric(body, "tcp_addon_connections_total"));
  expect(sum(AGENT_METRICS.newConnections.name)).toBe(3);
  expect(sum(AGENT_METRICS.throttledSecondsIn.name)).toBeCloseTo(metric(body, 'tcp_addon_throttled_seconds_total{direction="in"}'), 3);
  expect(lines[lines.length - 1][AGENT_METRICS.activeConnections.name]).toBe(0);

  // plan utilisation is the busier direction over pps x interval, and the plan was used up while throttled
  for (const line of lines) {
    const busier = Math.max(line.PacketsIn as number, line.PacketsOut as number);
    expect(line.PlanUtilization).toBeCloseTo((100 * busier) / (PPS * line.intervalSeconds), 1);
  }
  const throttledLines = lines.filter((l) => (l.ThrottledSecondsIn as number) >= 0.9 * l.intervalSeconds);
  expect(throttledLines.length).toBeGreaterThan(0);
  for (const line of throttledLines) expect(line.PlanUtilization).toBeGreaterThanOrEqual(85);
});

it("writes no metrics line when TCP_ADDON_EMF is off", async () => {
  const { agent, ready } = await loadedAgent({ ...EMF_ENV, TCP_ADDON_EMF: "off" });
  const client = await resources.connect(ready.listen);
  client.end(Buffer.alloc(3000, 1));
  await readAll(client);
  await new Promise((resolve) => setTimeout(resolve, 700));
  agent.signal("SIGTERM");
  await agent.exited;
  expect(agent.lines.some((l) => l.event === "ready")).toBe(true);
  expect(agent.lines.filter((l) => l.event === "metrics")).toEqual([]);
});

it("exits 2 with one line when EMF is on without its dimensions", async () => {
  const agent = resources.spawnAgent(["--listen", "0", "--upstream", "127.0.0.1:9"], { env: agentEnv({ TCP_ADDON_EMF: "1" }) });
  const exit = await agent.exited;
  expect(exit.code).toBe(2);
  expect(agent.stderr.split("\n")[0]).toBe("tcp-addon-agent: TCP_ADDON_EMF is on: set TCP_ADDON_PROJECT (a metric dimension)");
});

