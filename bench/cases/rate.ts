import { Meter, receivers, Server, sinkServer } from "../lib/load";
import { AgentProcess, metric, startAgent } from "../lib/peers";
import { cpuSeconds, delay, jsonEvents, now, Peer } from "../lib/proc";
import { measureRate, RateMeasurement } from "../lib/rate";
import { Row } from "../lib/report";
import { measureShaper, shaperAvailability, ShaperSettings } from "../lib/shaper";
import { round } from "../lib/stats";
import { workerScript } from "../lib/workers";

/** up: client -> agent -> app; down: app -> agent -> client. */
export type Direction = "up" | "down";

export interface RateOptions {
  readonly rates: readonly number[];
  readonly connections: readonly number[];
  readonly directions: readonly Direction[];
  /**
   * Agent: seconds after it first holds traffic back (its initial burst is spent) before
   * the first window. Reference: seconds after the connections open.
   */
  readonly warmupSeconds: number;
  readonly windows: number;
  readonly sampleMs: number;
  /**
   * How many cases below the highest rate run at the same time (quick mode); 1 = one after
   * another. Cases at the highest rate always run alone.
   */
  readonly concurrency: number;
  /** Cases of 50 connections writing 100 bytes at a time, client to app (the fairness goal), at these rates. */
  readonly smallWriterRates: readonly number[];
  readonly agentBundle?: string;
  readonly log: (line: string) => void;
}

export interface AgentRateCase {
  readonly pps: number;
  readonly connections: number;
  readonly direction: Direction;
  /** The senders' write size when they write small buffers (else 64 KiB). */
  readonly writeBytes?: number;
  readonly measured: RateMeasurement;
  /** Packets/s by the agent's own /metrics counters over the same span, / target. */
  readonly metricsRatio?: number;
  /** Agent CPU seconds per GB forwarded over the measured span. */
  readonly cpuSecondsPerGB?: number;
}

export interface ShaperCase {
  readonly pps: number;
  readonly connections: number;
  readonly measured: RateMeasurement;
  readonly settings: ShaperSettings;
}

export interface RateResult {
  readonly agent: AgentRateCase[];
  readonly agentUnavailable?: string;
  readonly reference: ShaperCase[];
  readonly referenceUnavailable?: string;
  /** Cases that failed, each with its reason. */
  readonly failures: { case: string; reason: string }[];
}

/** The agent at each plan rate, and tbf at the same byte rate, measured at the receiving end. */
export async function rateAccuracy(options: RateOptions): Promise<RateResult> {
  const agent: AgentRateCase[] = [];
  const failures: { case: string; reason: string }[] = [];
  const agentUnavailable = options.agentBundle ? undefined : "agent bundle not available";
  if (options.agentBundle) {
    const bundle = options.agentBundle;
    const cases: { pps: number; connections: number; direction: Direction; writeBytes?: number }[] = options.connections.flatMap((connections) =>
      options.directions.flatMap((direction) => options.rates.map((pps) => ({ pps, connections, direction }))),
    );
    cases.push(...options.smallWriterRates.map((pps) => ({ pps, connections: SMALL_WRITERS, direction: "up" as const, writeBytes: SMALL_WRITE_BYTES })));
    await schedule(cases, options.concurrency, async ({ pps, connections, direction, writeBytes }) => {
      const name = `agent ${pps} pps x${connections} ${direction}${writeBytes ? ` in ${writeBytes}-byte writes` : ""}`;
      const t0 = now();
      try {
        const result = await agentCase(bundle, pps, connections, direction, options, writeBytes);
        options.log(
          `  rate ${name}: long-run ${result.measured.longRunRatio.toFixed(3)}` +
            ` windows ${result.measured.worstWindowRatio.toFixed(3)}..${result.measured.bestWindowRatio.toFixed(3)}` +
            ` (warm-up ${result.measured.warmupSeconds.toFixed(1)} s, case ${(now() - t0).toFixed(1)} s)`,
        );
        agent.push(result);
      } catch (err) {
        failures.push({ case: name, reason: (err as Error).message });
        options.log(`  rate ${name} failed: ${(err as Error).message}`);
      }
    });
  }
  agent.sort((a, b) => a.connections - b.connections || a.direction.localeCompare(b.direction) || a.pps - b.pps);

  const reference: ShaperCase[] = [];
  const availability = shaperAvailability();
  const referenceUnavailable = availability.available ? undefined : availability.reason;
  if (availability.available) {
    const cases = options.connections.flatMap((connections) => options.rates.map((pps) => ({ pps, connections })));
    await schedule(cases, options.concurrency, async ({ pps, connections }) => {
      const name = `tc tbf ${pps} pps x${connections}`;
      try {
        const { settings, ...measured } = await measureShaper({
          pps,
          connections,
          warmupSeconds: options.warmupSeconds,
          windows: options.windows,
          sampleMs: options.sampleMs,
        });
        options.log(`  rate ${name}: long-run ${measured.longRunRatio.toFixed(3)}`);
        reference.push({ pps, connections, measured, settings });
      } catch (err) {
        failures.push({ case: name, reason: (err as Error).message });
        options.log(`  rate ${name} failed: ${(err as Error).message}`);
      }
    });
  }
  reference.sort((a, b) => a.connections - b.connections || a.pps - b.pps);
  return { agent, agentUnavailable, reference, referenceUnavailable, failures };
}

/**
 * Runs the cases below the highest rate `concurrency` at a time, then each case at the
 * highest rate alone, since that is the one that needs a whole core.
 */
async function schedule<T extends { pps: number }>(cases: T[], concurrency: number, run: (c: T) => Promise<void>): Promise<void> {
  const top = Math.max(...cases.map((c) => c.pps));
  const low = cases.filter((c) => c.pps < top);
  for (let i = 0; i < low.length; i += concurrency) await Promise.all(low.slice(i, i + concurrency).map(run));
  for (const c of cases.filter((c) => c.pps === top)) await run(c);
}

/**
 * Resolves `settleSeconds` after the agent's initial burst is spent: the first 200 ms in
 * which its /metrics report traffic held back for at least half the time (the bucket is
 * empty and the senders are waiting on it). Resolves after `maxSeconds` if that never
 * happens (the path cannot reach the limit).
 */
async function burstSpent(agent: AgentProcess, settleSeconds: number, maxSeconds = 15): Promise<void> {
  const deadline = now() + maxSeconds;
  let last: { t: number; held: number } | undefined;
  while (now() < deadline) {
    try {
      const held = metric(await agent.metrics(), "tcp_addon_throttled_seconds_total");
      const t = now();
      if (last && (held - last.held) / (t - last.t) >= 0.5) break;
      last = { t, held };
    } catch {
      // not answering yet: try again
    }
    await delay(200);
  }
  await delay(settleSeconds * 1000);
}

async function agentCase(
  bundle: string,
  pps: number,
  connections: number,
  direction: Direction,
  options: RateOptions,
  writeBytes?: number,
): Promise<AgentRateCase> {
  // The senders run in a worker process and this one only reads and counts (see load-worker.ts).
  const meter = new Meter();
  const sink: Server | undefined = direction === "up" ? sinkServer(meter) : undefined;
  let senders: LoadWorker | undefined;
  let agent: AgentProcess | undefined;
  let load: { stop(): void } | undefined;
  try {
    let upstreamPort: number;
    if (sink) {
      upstreamPort = await sink.listen();
    } else {
      senders = await loadWorker({ mode: "source-server", connections });
      upstreamPort = senders.ready.port as number;
    }
    agent = await startAgent({ bundle, upstreamPort, pps, name: `agent ${pps} pps` });
    const running = agent;
    if (sink) {
      senders = await loadWorker({ mode: "sources", port: running.port, connections, writeBytes });
      await sink.waitConnections(connections);
    } else {
      load = await receivers(running.port, connections, meter);
      await senders!.next("reached", 30_000);
    }
    const marks: Record<string, { packets: number; at: number; cpu: number; bytes: number }> = {};
    const measured = await measureRate(meter, {
      pps,
      warmup: burstSpent(running, options.warmupSeconds),
      windows: options.windows,
      sampleMs: options.sampleMs,
      onMark: async (mark) => {
        const cpu = cpuSeconds(running.pid);
        const bytes = meter.total;
        let packets = Number.NaN;
        const asked = now();
        let at = asked;
        try {
          packets = metric(await running.metrics(), "tcp_addon_packets_total");
          // The counters were read somewhere between the request and the response.
          at = (asked + now()) / 2;
        } catch {
          // metrics unavailable: the receiving end's figures still stand
        }
        marks[mark] = { packets, at, cpu, bytes };
      },
    });
    const { start, end } = marks;
    const metricsRatio = (end.packets - start.packets) / (end.at - start.at) / pps;
    const gb = (end.bytes - start.bytes) / 1e9;
    return {
      pps,
      connections,
      direction,
      writeBytes,
      measured,
      metricsRatio: Number.isFinite(metricsRatio) ? round(metricsRatio, 5) : undefined,
      cpuSecondsPerGB: gb > 0 ? round((end.cpu - start.cpu) / gb, 4) : undefined,
    };
  } finally {
    load?.stop();
    await senders?.peer.stop();
    await agent?.stop();
    await sink?.close();
  }
}

/** A rate case's senders in their own process (bench/lib/load-worker.ts). */
interface LoadWorker {
  readonly peer: Peer;
  /** Its ready line. */
  readonly ready: Record<string, unknown>;
  /** Waits for its next line of this event. */
  readonly next: (event: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
}

async function loadWorker(job: Record<string, unknown>): Promise<LoadWorker> {
  const peer = new Peer("senders", process.execPath, [await workerScript("load-worker"), JSON.stringify(job)]);
  const next = jsonEvents(peer);
  try {
    return { peer, ready: await next("ready", 30_000), next };
  } catch (err) {
    await peer.stop();
    throw err;
  }
}

/** The small writers of the fairness goal: this many connections... */
export const SMALL_WRITERS = 50;
/** ...each writing this many bytes at a time. */
export const SMALL_WRITE_BYTES = 100;
/** Jain's index the small writers' shares must reach. */
export const JAIN_GOAL = 0.98;

/** Long-run within 1% and every 1-second window within 1%, at 1000 pps and above. */
export function rateGoalMet(m: RateMeasurement): boolean {
  return Math.abs(m.longRunRatio - 1) <= 0.01 && m.worstWindowError <= 0.01;
}

function describe(m: RateMeasurement): string {
  const jain = m.connections > 1 ? `, Jain ${m.jain.toFixed(3)}` : "";
  return `long-run ${m.longRunRatio.toFixed(3)}, 1-s windows ${m.worstWindowRatio.toFixed(3)}..${m.bestWindowRatio.toFixed(3)}${jain}`;
}

export function rateRows(result: RateResult): Row[] {
  const rows: Row[] = [];
  for (const c of result.agent) {
    const goal = c.pps >= 1000;
    const metrics = c.metricsRatio !== undefined ? `, /metrics ${c.metricsRatio.toFixed(3)}` : "";
    rows.push({
      section: "rate",
      measure: `agent ${c.pps} pps, ${c.connections} conn, ${c.direction}${c.writeBytes ? `, ${c.writeBytes}-byte writes` : ""}`,
      value: describe(c.measured) + metrics,
      goal: c.writeBytes ? `Jain >= ${JAIN_GOAL}` : goal ? "long-run ±1%, windows ±1%" : undefined,
      met: c.writeBytes ? c.measured.jain >= JAIN_GOAL : goal ? rateGoalMet(c.measured) : undefined,
    });
  }
  if (result.agentUnavailable) rows.push({ section: "rate", measure: "agent", value: `unavailable: ${result.agentUnavailable}` });
  for (const c of result.reference) {
    rows.push({
      section: "rate",
      measure: `tc tbf ${c.pps} pps, ${c.connections} conn (reference)`,
      value: describe(c.measured),
    });
  }
  for (const f of result.failures) rows.push({ section: "rate", measure: f.case, value: `failed: ${f.reason}` });
  if (result.referenceUnavailable) {
    rows.push({ section: "rate", measure: "tc tbf (reference)", value: `unavailable: ${result.referenceUnavailable}` });
  }
  const top = Math.max(...result.agent.map((c) => c.pps));
  for (const c of result.agent.filter((a) => a.pps === top && a.cpuSecondsPerGB !== undefined)) {
    rows.push({
      section: "cpu",
      measure: `agent at ${c.pps} pps, ${c.connections} conn, ${c.direction}`,
      value: `${c.cpuSecondsPerGB!.toFixed(2)} CPU-s per GB`,
    });
  }
  return rows;
}
