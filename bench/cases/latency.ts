import { echoServer, pingPong } from "../lib/load";
import { startAgent, startForwarders } from "../lib/peers";
import { fmt, Row } from "../lib/report";
import { median, percentileSorted, round } from "../lib/stats";

export interface LatencyOptions {
  /** Round trips per forwarder, split over `reps` visits taken in alternation. */
  readonly rounds: number;
  readonly reps: number;
  readonly size: number;
  readonly agentBundle?: string;
  /** The highest plan's rate: the agent is also measured with its limiter on. */
  readonly limitedPps: number;
  readonly log: (line: string) => void;
}

export interface LatencyCell {
  readonly forwarder: string;
  readonly rounds: number;
  /** Median over the visits of each visit's p50. */
  readonly p50us: number;
  /** Median over the visits of each visit's p99. */
  readonly p99us: number;
  readonly addedP50us: number;
  readonly addedP99us: number;
  /** p99 over every round trip of every visit together. */
  readonly pooledP99us: number;
  readonly p99PerVisitUs: number[];
}

export interface LatencyResult {
  readonly size: number;
  readonly cells: LatencyCell[];
  readonly skipped: { forwarder: string; reason: string }[];
}

const WARMUP_ROUNDS = 2000;

/** 64-byte request/response round trips, one at a time, through each forwarder to an echo server. */
export async function latency(options: LatencyOptions): Promise<LatencyResult> {
  const echo = echoServer();
  const upstream = await echo.listen();
  const bundle = options.agentBundle;
  const { forwarders, skipped } = await startForwarders(
    upstream,
    bundle
      ? [
          ["agent", () => startAgent({ bundle, upstreamPort: upstream, pps: 0 })],
          [
            `agent ${options.limitedPps} pps`,
            () => startAgent({ bundle, upstreamPort: upstream, pps: options.limitedPps, name: `agent ${options.limitedPps} pps` }),
          ],
        ]
      : [],
    !bundle,
  );

  /** Per forwarder, each visit's sorted round-trip times. */
  const visits = new Map<string, Float64Array[]>(forwarders.map((f) => [f.name, []]));
  const perVisit = Math.max(100, Math.floor(options.rounds / options.reps));
  try {
    // Every forwarder first serves round trips that are not counted: Node's JIT (the agent,
    // and this process) and HAProxy's pools start warm for all alike.
    for (const fw of forwarders) await pingPong(fw.port, WARMUP_ROUNDS, options.size);
    for (let rep = 0; rep < options.reps; rep++) {
      for (const fw of forwarders) {
        const times = await pingPong(fw.port, perVisit, options.size);
        visits.get(fw.name)!.push(times.sort());
      }
    }
  } finally {
    for (const fw of forwarders) await fw.stop();
    await echo.close();
  }

  // Each visit's percentiles, then the median over visits: one noisy moment on a shared
  // machine moves one visit, not the figure. The pooled p99 is kept alongside.
  const stats = forwarders.map((fw) => {
    const list = visits.get(fw.name)!;
    const pooled = Float64Array.from(list.flatMap((v) => Array.from(v))).sort();
    return {
      forwarder: fw.name,
      rounds: pooled.length,
      p50: median(list.map((v) => percentileSorted(v, 50))),
      p99: median(list.map((v) => percentileSorted(v, 99))),
      pooledP99: percentileSorted(pooled, 99),
      p99PerVisit: list.map((v) => round(percentileSorted(v, 99), 4)),
    };
  });
  const base = stats[0];
  const cells = stats.map((s) => ({
    forwarder: s.forwarder,
    rounds: s.rounds,
    p50us: round(s.p50, 4),
    p99us: round(s.p99, 4),
    addedP50us: round(s.p50 - base.p50, 4),
    addedP99us: round(s.p99 - base.p99, 4),
    pooledP99us: round(s.pooledP99, 4),
    p99PerVisitUs: s.p99PerVisit,
  }));
  for (const c of cells) options.log(`  latency ${c.forwarder}: p50 ${fmt.us(c.p50us)} p99 ${fmt.us(c.p99us)}`);
  return { size: options.size, cells, skipped };
}

/** The agent adds no more than HAProxy at the median and at p99, in the same run. */
export function latencyGoalMet(agent: LatencyCell, haproxy: LatencyCell): boolean {
  return agent.addedP50us <= haproxy.addedP50us && agent.addedP99us <= haproxy.addedP99us;
}

export function latencyRows(result: LatencyResult): Row[] {
  const rows: Row[] = [];
  const haproxy = result.cells.find((c) => c.forwarder === "haproxy");
  for (const c of result.cells) {
    const isAgent = c.forwarder.startsWith("agent") && haproxy !== undefined;
    rows.push({
      section: "latency",
      measure: `${c.forwarder}, ${result.size} B round trip`,
      value:
        `p50 ${fmt.us(c.p50us)}, p99 ${fmt.us(c.p99us)}` +
        (c.forwarder === "direct" ? "" : ` (added p50 ${fmt.us(c.addedP50us)}, p99 ${fmt.us(c.addedP99us)})`),
      goal: isAgent ? "added p50 and p99 <= HAProxy's" : undefined,
      met: isAgent ? latencyGoalMet(c, haproxy) : undefined,
    });
  }
  for (const s of result.skipped) {
    rows.push({ section: "latency", measure: s.forwarder, value: `unavailable: ${s.reason}` });
  }
  return rows;
}
