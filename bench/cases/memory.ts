import { connectMany } from "../lib/load";
import { Forwarder, startAgent, startHaproxy } from "../lib/peers";
import { delay, hardNofile, jsonEvents, Peer, RAISE_NOFILE, rssBytes } from "../lib/proc";
import { fmt, Row } from "../lib/report";
import { median, round } from "../lib/stats";
import { workerScript } from "../lib/workers";

/** The goal for the agent's RSS per idle proxied connection (HAProxy: about 3.3 KB). */
export const MEMORY_GOAL_KB = 6;

/** The agent's RSS per idle proxied connection before the reused read buffers (commit fc7a8a7), which it must not exceed. */
export const MEMORY_BEFORE_KB = 9.3;

export interface MemoryOptions {
  /** Idle proxied connections wanted; capped by the open-files hard limit. */
  readonly connections: number;
  /** The agent's limit while idle connections are held (a plan rate). */
  readonly pps: number;
  readonly agentBundle?: string;
  readonly log: (line: string) => void;
}

export interface MemoryCell {
  readonly forwarder: string;
  readonly connections: number;
  readonly baselineRssBytes: number;
  readonly loadedRssBytes: number;
  readonly perConnectionBytes: number;
}

export interface MemoryResult {
  readonly requested: number;
  /** Open-files hard limit: a forwarder holds two sockets per proxied connection. */
  readonly nofileHardLimit: number;
  readonly cells: MemoryCell[];
  readonly skipped: { forwarder: string; reason: string }[];
}

/**
 * RSS of a forwarder holding N idle proxied connections, minus its RSS when idle after a
 * short warm-up, per connection. The upstream runs in its own process.
 */
export async function memory(options: MemoryOptions): Promise<MemoryResult> {
  const nofile = hardNofile();
  // Two sockets per proxied connection in the forwarder, plus headroom for its own files.
  const connections = Math.min(options.connections, Math.floor((nofile - 100) / 2));
  const cells: MemoryCell[] = [];
  const skipped: { forwarder: string; reason: string }[] = [];
  const candidates: [string, (upstream: number) => Promise<Forwarder>][] = [];
  if (options.agentBundle) {
    const bundle = options.agentBundle;
    candidates.push(["agent", (upstreamPort) => startAgent({ bundle, upstreamPort, pps: options.pps })]);
  } else {
    skipped.push({ forwarder: "agent", reason: "agent bundle not available" });
  }
  candidates.push(["haproxy", (upstream) => startHaproxy(upstream, 1)]);

  for (const [name, start] of candidates) {
    try {
      cells.push(await measureOne(name, start, connections, options.log));
    } catch (err) {
      skipped.push({ forwarder: name, reason: (err as Error).message });
    }
  }
  return { requested: options.connections, nofileHardLimit: nofile, cells, skipped };
}

async function measureOne(
  name: string,
  start: (upstream: number) => Promise<Forwarder>,
  connections: number,
  log: (line: string) => void,
): Promise<MemoryCell> {
  const script = await workerScript("idle-worker");
  const upstream = new Peer("idle upstream", "sh", [...RAISE_NOFILE, process.execPath, script, String(connections)]);
  const next = jsonEvents(upstream);
  let forwarder: Forwarder | undefined;
  let sockets: { destroy(): void }[] = [];
  try {
    const { port } = (await next("ready")) as { port: number };
    forwarder = await start(port);
    const pid = forwarder.pid!;
    // Warm the forwarding path once, so that the baseline holds its code and pools.
    const warm = await connectMany(forwarder.port, 50);
    await delay(300);
    warm.forEach((s) => s.destroy());
    await delay(1000);
    const baseline = await steadyRss(pid);
    const reached = next("reached", 120_000);
    sockets = await connectMany(forwarder.port, connections, undefined, 256, 120_000);
    await reached;
    await delay(1000);
    const loaded = await steadyRss(pid);
    const perConnection = (loaded - baseline) / connections;
    log(`  memory ${name}: ${connections} idle connections, ${fmt.kb(perConnection)} each`);
    return {
      forwarder: name,
      connections,
      baselineRssBytes: baseline,
      loadedRssBytes: loaded,
      perConnectionBytes: round(perConnection, 5),
    };
  } finally {
    sockets.forEach((s) => s.destroy());
    await forwarder?.stop();
    await upstream.stop();
  }
}

/** Median of five VmRSS readings 200 ms apart. */
async function steadyRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(rssBytes(pid));
    await delay(200);
  }
  return median(readings);
}

export function memoryRows(result: MemoryResult): Row[] {
  const rows: Row[] = result.cells.map((c) => ({
    section: "memory",
    measure: `${c.forwarder}, ${c.connections} idle proxied connections`,
    value: `${fmt.kb(c.perConnectionBytes)} per connection (RSS ${fmt.mb(c.baselineRssBytes)} -> ${fmt.mb(c.loadedRssBytes)})`,
    goal: c.forwarder === "agent" ? `<= ${MEMORY_GOAL_KB} KB per connection` : undefined,
    met: c.forwarder === "agent" ? c.perConnectionBytes <= MEMORY_GOAL_KB * 1024 : undefined,
  }));
  for (const s of result.skipped) rows.push({ section: "memory", measure: s.forwarder, value: `unavailable: ${s.reason}` });
  return rows;
}
