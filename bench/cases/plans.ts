import { BUILT_IN_PLANS, PLAN_SIZES, SIZING, taskSizeFor, type TaskSize } from "../../config/plans";
import { PACKET_BYTES } from "../../runtime/agent/contract";
import { duplexClients, duplexServer, Meter } from "../lib/load";
import { AgentProcess, Forwarder, metric, startAgent, startHaproxy } from "../lib/peers";
import { cpuSeconds, delay, now, processTree, rssBytes } from "../lib/proc";
import { fmt, Row } from "../lib/report";
import { round } from "../lib/stats";

export interface PlansOptions {
  /** Client connections per case; each pumps and counts, and so does the upstream's end. */
  readonly connections: number;
  /** Seconds after the initial burst is spent in both directions before the measured span. */
  readonly settleSeconds: number;
  /** Measured seconds per case. */
  readonly seconds: number;
  readonly agentBundle?: string;
  readonly log: (line: string) => void;
}

export interface PlanCase {
  readonly plan: string;
  readonly pps: number;
  readonly connections: number;
  readonly seconds: number;
  /** Client to app: packets/s (bytes / 1500) received by the upstream, / target. */
  readonly upRatio: number;
  /** App to client: packets/s received by the clients, / target. */
  readonly downRatio: number;
  /** CPU-seconds per second the agent used: its share of one core. */
  readonly agentCores: number;
  /** Agent CPU-seconds per GB forwarded (both directions counted). */
  readonly cpuSecondsPerGB: number;
  /** Agent VmRSS at the end of the measured span. */
  readonly agentRssBytes: number;
  /** The task size this run's measurement asks for (see SIZING in config/plans.ts). */
  readonly measuredSize?: TaskSize;
  /** The size recorded in config/plans.ts, which `validate` uses. */
  readonly recordedSize?: TaskSize;
}

export interface ReferenceCase {
  /** "haproxy" or "agent" (--pps 0). */
  readonly forwarder: string;
  readonly connections: number;
  readonly seconds: number;
  /** GB/s forwarded, both directions together. */
  readonly gbps: number;
  readonly cores: number;
  readonly cpuSecondsPerGB: number;
}

export interface PlansResult {
  readonly cases: PlanCase[];
  readonly reference: ReferenceCase[];
  readonly failures: { case: string; reason: string }[];
}

/**
 * Every built-in plan at its full rate in both directions at once: a duplex upstream that
 * pumps and sinks, N clients that pump and count. Measured once the initial burst is
 * spent both ways: achieved pps each way / target, the agent's CPU share and CPU-s per GB.
 * As the reference, the same duplex load with no limit through HAProxy (nbthread 1) and
 * through the agent (--pps 0): CPU-s per GB each.
 */
export async function plans(options: PlansOptions): Promise<PlansResult> {
  const cases: PlanCase[] = [];
  const reference: ReferenceCase[] = [];
  const failures: { case: string; reason: string }[] = [];
  const bundle = options.agentBundle;
  if (bundle) {
    for (const plan of Object.values(BUILT_IN_PLANS)) {
      try {
        const c = await planCase(bundle, plan.name, plan.packetsPerSecond, options);
        options.log(
          `  plans ${plan.name}: up ${c.upRatio.toFixed(3)} down ${c.downRatio.toFixed(3)} of target,` +
            ` agent ${c.agentCores.toFixed(3)} cores, ${c.cpuSecondsPerGB.toFixed(2)} CPU-s/GB`,
        );
        cases.push(c);
      } catch (err) {
        failures.push({ case: plan.name, reason: (err as Error).message });
        options.log(`  plans ${plan.name} failed: ${(err as Error).message}`);
      }
    }
  } else {
    failures.push({ case: "agent", reason: "agent bundle not available" });
  }
  const starters: [string, (upstreamPort: number) => Promise<Forwarder>][] = [["haproxy", (port) => startHaproxy(port, 1)]];
  if (bundle) starters.push(["agent", (port) => startAgent({ bundle, upstreamPort: port, pps: 0 })]);
  for (const [name, start] of starters) {
    try {
      const r = await referenceCase(name, start, options);
      options.log(`  plans reference ${name}: ${fmt.gbps(r.gbps)} duplex, ${r.cores.toFixed(2)} cores, ${r.cpuSecondsPerGB.toFixed(3)} CPU-s/GB`);
      reference.push(r);
    } catch (err) {
      failures.push({ case: `reference ${name}`, reason: (err as Error).message });
      options.log(`  plans reference ${name} failed: ${(err as Error).message}`);
    }
  }
  return { cases, reference, failures };
}

async function planCase(bundle: string, plan: string, pps: number, options: PlansOptions): Promise<PlanCase> {
  const up = new Meter();
  const down = new Meter();
  const upstream = duplexServer(up);
  const upstreamPort = await upstream.listen();
  let agent: AgentProcess | undefined;
  let load: { stop(): void } | undefined;
  try {
    agent = await startAgent({ bundle, upstreamPort, pps, name: `agent ${plan}` });
    load = await duplexClients(agent.port, options.connections, down);
    await upstream.waitConnections(options.connections);
    await burstSpentBothWays(agent);
    await delay(options.settleSeconds * 1000);
    const span = await measureSpan(agent.pid, up, down, options.seconds);
    const agentRssBytes = rssBytes(agent.pid);
    const target = pps * PACKET_BYTES;
    const agentCores = span.cpu / span.seconds;
    return {
      plan,
      pps,
      connections: options.connections,
      seconds: round(span.seconds, 4),
      upRatio: round(span.up / span.seconds / target, 5),
      downRatio: round(span.down / span.seconds / target, 5),
      agentCores: round(agentCores, 4),
      cpuSecondsPerGB: round(span.cpu / ((span.up + span.down) / 1e9), 4),
      agentRssBytes,
      measuredSize: taskSizeFor(agentCores),
      recordedSize: PLAN_SIZES[plan],
    };
  } finally {
    load?.stop();
    await agent?.stop();
    await upstream.close();
  }
}

async function referenceCase(
  name: string,
  start: (upstreamPort: number) => Promise<Forwarder>,
  options: PlansOptions,
): Promise<ReferenceCase> {
  const up = new Meter();
  const down = new Meter();
  const upstream = duplexServer(up);
  const upstreamPort = await upstream.listen();
  let forwarder: Forwarder | undefined;
  let load: { stop(): void } | undefined;
  try {
    forwarder = await start(upstreamPort);
    load = await duplexClients(forwarder.port, options.connections, down);
    await upstream.waitConnections(options.connections);
    await delay(options.settleSeconds * 1000);
    const span = await measureSpan(forwarder.pid!, up, down, options.seconds);
    const bytes = span.up + span.down;
    return {
      forwarder: name,
      connections: options.connections,
      seconds: round(span.seconds, 4),
      gbps: round(bytes / span.seconds / 1e9, 4),
      cores: round(span.cpu / span.seconds, 4),
      cpuSecondsPerGB: round(span.cpu / (bytes / 1e9), 4),
    };
  } finally {
    load?.stop();
    await forwarder?.stop();
    await upstream.close();
  }
}

/** Bytes each way, CPU-seconds of the process tree and real seconds over `seconds`. */
async function measureSpan(
  pid: number,
  up: Meter,
  down: Meter,
  seconds: number,
): Promise<{ up: number; down: number; cpu: number; seconds: number }> {
  const pids = processTree(pid);
  const cpu = () => pids.reduce((sum, p) => sum + cpuSeconds(p), 0);
  const up0 = up.total;
  const down0 = down.total;
  const cpu0 = cpu();
  const t0 = now();
  await delay(seconds * 1000);
  const cpu1 = cpu();
  const t1 = now();
  return { up: up.total - up0, down: down.total - down0, cpu: cpu1 - cpu0, seconds: t1 - t0 };
}

/**
 * Resolves at the first 200 ms in which the agent's /metrics show traffic held back at
 * least half the time in each direction (its initial burst is spent both ways), or after
 * `maxSeconds` if that never happens (the load cannot reach the limit).
 */
async function burstSpentBothWays(agent: AgentProcess, maxSeconds = 15): Promise<void> {
  const deadline = now() + maxSeconds;
  let last: { t: number; held: number[] } | undefined;
  while (now() < deadline) {
    try {
      const samples = await agent.metrics();
      const held = ["in", "out"].map((direction) => metric(samples, "tcp_addon_throttled_seconds_total", { direction }));
      const t = now();
      if (last && held.every((h, i) => (h - last!.held[i]) / (t - last!.t) >= 0.5)) return;
      last = { t, held };
    } catch {
      // not answering yet: try again
    }
    await delay(200);
  }
}

/** Each way within 1 % of the plan's rate over the measured span. */
export function planRateMet(c: PlanCase): boolean {
  return Math.abs(c.upRatio - 1) <= 0.01 && Math.abs(c.downRatio - 1) <= 0.01;
}

function sizeText(size: TaskSize | undefined): string {
  return size ? `cpu ${size.cpu}, memory ${size.memory}` : "none (over the largest Fargate size)";
}

export function plansRows(result: PlansResult): Row[] {
  const rows: Row[] = [];
  for (const c of result.cases) {
    rows.push({
      section: "plans",
      measure: `${c.plan} (${c.pps} pps) both ways, ${c.connections} conn`,
      value:
        `up ${c.upRatio.toFixed(3)}, down ${c.downRatio.toFixed(3)} of target; agent ${c.agentCores.toFixed(3)} cores, ` +
        `${c.cpuSecondsPerGB.toFixed(2)} CPU-s per GB, RSS ${fmt.mb(c.agentRssBytes)}`,
      goal: "each way ±1%",
      met: planRateMet(c),
    });
  }
  for (const c of result.cases) {
    const recorded = c.recordedSize;
    const holds = recorded !== undefined && c.measuredSize !== undefined && recorded.cpu >= c.measuredSize.cpu;
    rows.push({
      section: "plans",
      measure: `${c.plan} task size (agent x ${SIZING.margin} <= ${SIZING.agentShare * 100}% of the task's cpu)`,
      value: `this run: ${sizeText(c.measuredSize)}; recorded in config/plans.ts: ${sizeText(recorded)}`,
      goal: "recorded >= this run",
      met: holds,
    });
  }
  for (const r of result.reference) {
    rows.push({
      section: "plans",
      measure: `${r.forwarder}, no limit, both ways, ${r.connections} conn (reference)`,
      value: `${fmt.gbps(r.gbps)}, ${r.cores.toFixed(2)} cores, ${r.cpuSecondsPerGB.toFixed(3)} CPU-s per GB`,
    });
  }
  const haproxy = result.reference.find((r) => r.forwarder === "haproxy");
  const agent = result.reference.find((r) => r.forwarder !== "haproxy");
  if (haproxy && agent) {
    rows.push({
      section: "plans",
      measure: "agent / haproxy CPU-s per GB, no limit, both ways",
      value: fmt.ratio(agent.cpuSecondsPerGB / haproxy.cpuSecondsPerGB),
      goal: "<= 1.00",
      met: agent.cpuSecondsPerGB <= haproxy.cpuSecondsPerGB,
    });
  }
  for (const f of result.failures) rows.push({ section: "plans", measure: f.case, value: `failed: ${f.reason}` });
  return rows;
}
