import { echoServer, pingPong } from "../lib/load";
import { direct, Forwarder, startAgent, startHaproxy, startSocat } from "../lib/peers";
import { fmt, Row } from "../lib/report";
import { percentileSorted, round } from "../lib/stats";

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
  readonly p50us: number;
  readonly p99us: number;
  readonly addedP50us: number;
  readonly addedP99us: number;
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
  const forwarders: Forwarder[] = [direct(upstream)];
  const skipped: { forwarder: string; reason: string }[] = [];
  const starters: [string, () => Promise<Forwarder>][] = [
    ["haproxy", () => startHaproxy(upstream, 1)],
    ["socat", () => startSocat(upstream)],
  ];
  if (options.agentBundle) {
    const bundle = options.agentBundle;
    starters.push(["agent", () => startAgent({ bundle, upstreamPort: upstream, pps: 0 })]);
    starters.push([
      `agent ${options.limitedPps} pps`,
      () => startAgent({ bundle, upstreamPort: upstream, pps: options.limitedPps, name: `agent ${options.limitedPps} pps` }),
    ]);
  } else {
    skipped.push({ forwarder: "agent", reason: "agent bundle not available" });
  }
  for (const [name, start] of starters) {
    try {
      forwarders.push(await start());
    } catch (err) {
      skipped.push({ forwarder: name, reason: (err as Error).message });
    }
  }

  const samples = new Map<string, number[]>(forwarders.map((f) => [f.name, []]));
  const perVisit = Math.max(100, Math.floor(options.rounds / options.reps));
  try {
    // Every forwarder first serves round trips that are not counted: Node's JIT (the agent,
    // and this process) and HAProxy's pools start warm for all alike.
    for (const fw of forwarders) await pingPong(fw.port, WARMUP_ROUNDS, options.size);
    for (let rep = 0; rep < options.reps; rep++) {
      for (const fw of forwarders) {
        const times = await pingPong(fw.port, perVisit, options.size);
        samples.get(fw.name)!.push(...times);
      }
    }
  } finally {
    for (const fw of forwarders) await fw.stop();
    await echo.close();
  }

  const stats = forwarders.map((fw) => {
    const sorted = samples.get(fw.name)!.sort((a, b) => a - b);
    return { forwarder: fw.name, rounds: sorted.length, p50: percentileSorted(sorted, 50), p99: percentileSorted(sorted, 99) };
  });
  const base = stats[0];
  const cells = stats.map((s) => ({
    forwarder: s.forwarder,
    rounds: s.rounds,
    p50us: round(s.p50, 4),
    p99us: round(s.p99, 4),
    addedP50us: round(s.p50 - base.p50, 4),
    addedP99us: round(s.p99 - base.p99, 4),
  }));
  for (const c of cells) options.log(`  latency ${c.forwarder}: p50 ${fmt.us(c.p50us)} p99 ${fmt.us(c.p99us)}`);
  return { size: options.size, cells, skipped };
}

export function latencyRows(result: LatencyResult): Row[] {
  const rows: Row[] = [];
  for (const c of result.cells) {
    const isAgent = c.forwarder.startsWith("agent");
    rows.push({
      section: "latency",
      measure: `${c.forwarder}, ${result.size} B round trip`,
      value:
        `p50 ${fmt.us(c.p50us)}, p99 ${fmt.us(c.p99us)}` +
        (c.forwarder === "direct" ? "" : ` (added p50 ${fmt.us(c.addedP50us)}, p99 ${fmt.us(c.addedP99us)})`),
      goal: isAgent ? "added p99 <= 150 µs" : undefined,
      met: isAgent ? c.addedP99us <= 150 : undefined,
    });
  }
  for (const s of result.skipped) {
    rows.push({ section: "latency", measure: s.forwarder, value: `unavailable: ${s.reason}` });
  }
  return rows;
}
