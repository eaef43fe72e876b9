import { Meter, sinkServer, sources } from "../lib/load";
import { direct, Forwarder, startAgent, startForwarders, startHaproxy, startReference } from "../lib/peers";
import { BenchError, cpuSeconds, delay, freePort, HOST, now, Peer, processTree, run, schedstat, waitForPort, which } from "../lib/proc";
import { fmt, Row } from "../lib/report";
import { median, round } from "../lib/stats";

export interface ThroughputOptions {
  /** Runs per (forwarder, streams) cell; the cells are visited in alternation. */
  readonly reps: number;
  /** Measured seconds per run, after `warmupSeconds`. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly streams: readonly number[];
  /** The agent bundle, or undefined when it could not be built. */
  readonly agentBundle?: string;
  /** Also run direct, HAProxy and the agent under iperf3 (runs per cell; 0 = skip). */
  readonly iperf3Reps: number;
  /** Runs per (forwarder, direction) of the one-stream iperf3 comparison of each direction (0 = skip). */
  readonly directionReps: number;
  readonly log: (line: string) => void;
}

export interface ThroughputCell {
  readonly forwarder: string;
  readonly streams: number;
  readonly runsGBps: number[];
  readonly medianGBps: number;
  /** CPU cores the forwarding process (and its children) used while forwarding, median. */
  readonly forwarderCores?: number;
}

export interface ThroughputResult {
  readonly cells: ThroughputCell[];
  readonly skipped: { forwarder: string; reason: string }[];
  readonly ratios: { streams: number; agentOverHaproxy?: number; agentOverDirect?: number }[];
  /** Agent CPU-seconds per GB forwarded with no limit (1 stream). */
  readonly agentCpuSecondsPerGB?: number;
  /** HAProxy's, measured the same way. */
  readonly haproxyCpuSecondsPerGB?: number;
  /** The same comparison driven by iperf3 (a C load generator), when it is installed and asked for. */
  readonly iperf3?: { cells: ThroughputCell[]; ratios: ThroughputResult["ratios"] };
  /** One iperf3 stream each way through the agent, HAProxy and a plain Node pipe, with CPU-s per GB. */
  readonly directions?: DirectionCell[];
}

/** up: client to app (iperf3's client sends); down: app to client (`iperf3 -R`, the server sends). */
export interface DirectionCell {
  readonly forwarder: string;
  readonly direction: "up" | "down";
  readonly runsGBps: number[];
  readonly medianGBps: number;
  /** The forwarder's CPU-seconds (schedstat, all threads) per GB received, median over the runs. */
  readonly cpuSecondsPerGB: number;
}

/**
 * Bulk transfer on loopback through each forwarder: N streams from this process to a
 * sink in this process. The load generator is one Node process, so "direct" is its own
 * ceiling and each forwarder gets the other core.
 */
export async function throughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const meter = new Meter();
  const sink = sinkServer(meter);
  const upstream = await sink.listen();
  const bundle = options.agentBundle;
  const { forwarders, skipped } = await startForwarders(
    upstream,
    bundle ? [["agent", () => startAgent({ bundle, upstreamPort: upstream, pps: 0 })]] : [],
    !bundle,
  );

  const runs = new Map<string, { gbps: number[]; cores: number[] }>();
  try {
    for (let rep = 0; rep < options.reps; rep++) {
      for (const streams of options.streams) {
        for (const fw of forwarders) {
          const key = `${fw.name}/${streams}`;
          const cell = runs.get(key) ?? { gbps: [], cores: [] };
          runs.set(key, cell);
          const load = await sources(fw.port, streams);
          await delay(options.warmupSeconds * 1000);
          const pids = fw.pid ? processTree(fw.pid) : [];
          const cpu0 = sumCpu(pids);
          const bytes0 = meter.total;
          const t0 = now();
          await delay(options.seconds * 1000);
          const bytes1 = meter.total;
          const t1 = now();
          const cpu1 = sumCpu(pids);
          load.stop();
          await sink.waitIdle();
          const gbps = (bytes1 - bytes0) / (t1 - t0) / 1e9;
          cell.gbps.push(gbps);
          if (fw.pid) cell.cores.push((cpu1 - cpu0) / (t1 - t0));
          options.log(`  throughput ${fw.name} x${streams} run ${rep + 1}: ${fmt.gbps(gbps)}`);
        }
      }
    }
  } finally {
    for (const fw of forwarders) await fw.stop();
    await sink.close();
  }

  const cells: ThroughputCell[] = [];
  for (const fw of forwarders) {
    for (const streams of options.streams) {
      const cell = runs.get(`${fw.name}/${streams}`)!;
      cells.push({
        forwarder: fw.name,
        streams,
        runsGBps: cell.gbps.map((v) => round(v)),
        medianGBps: round(median(cell.gbps)),
        forwarderCores: cell.cores.length > 0 ? round(median(cell.cores), 3) : undefined,
      });
    }
  }
  const ratios = ratiosOf(cells, options.streams);
  const cpuPerGB = (name: string) => {
    const cell = cells.find((c) => c.forwarder === name && c.streams === options.streams[0]);
    return cell?.forwarderCores !== undefined ? round(cell.forwarderCores / cell.medianGBps, 3) : undefined;
  };
  const agentCpuSecondsPerGB = cpuPerGB("agent");
  const haproxyCpuSecondsPerGB = cpuPerGB("haproxy");
  let iperf3: ThroughputResult["iperf3"];
  if (options.iperf3Reps > 0 && which("iperf3")) {
    try {
      iperf3 = await iperfSession(options);
    } catch (err) {
      skipped.push({ forwarder: "iperf3", reason: (err as Error).message });
    }
  }
  let directions: DirectionCell[] | undefined;
  if (options.directionReps > 0 && which("iperf3")) {
    try {
      directions = await directionSession(options);
    } catch (err) {
      skipped.push({ forwarder: "iperf3 each direction", reason: (err as Error).message });
    }
  } else if (options.directionReps > 0) {
    skipped.push({ forwarder: "iperf3 each direction", reason: "iperf3 not found; install it with: apt-get install -y iperf3" });
  }
  return { cells, skipped, ratios, agentCpuSecondsPerGB, haproxyCpuSecondsPerGB, iperf3, directions };
}

/** Seconds of each one-stream iperf3 run of the direction comparison (at least). */
const DIRECTION_RUN_SECONDS = 4;

/**
 * One iperf3 stream with no limit through the agent, HAProxy (nbthread 1) and a plain Node
 * pipe, each direction, after a warm-up run each, the forwarders in alternation: GB/s
 * received and the forwarder's CPU-seconds per GB. The app side is where the agent reads into reused buffers (`onread`);
 * the client side, which `net.createServer` reads with Node's fresh buffer per read, is held
 * to the plain pipe's figures.
 */
async function directionSession(options: ThroughputOptions): Promise<DirectionCell[]> {
  const serverPort = await freePort();
  const server = new Peer("iperf3 server", "iperf3", ["-s", "-B", HOST, "-p", String(serverPort)]);
  const forwarders: Forwarder[] = [];
  try {
    await waitForPort(serverPort, 10_000, () => server.alive);
    if (options.agentBundle) forwarders.push(await startAgent({ bundle: options.agentBundle, upstreamPort: serverPort, pps: 0 }));
    forwarders.push(await startHaproxy(serverPort, 1), await startReference("pipe", serverPort));
    const runs = new Map<string, { gbps: number[]; cpuPerGB: number[] }>();
    const seconds = Math.max(DIRECTION_RUN_SECONDS, options.seconds);
    // One run each way per forwarder first, not measured: a fresh Node process spends its first
    // seconds optimising, which a plain pipe's little code finishes sooner than the agent's.
    for (const direction of ["up", "down"] as const) {
      for (const fw of forwarders) await iperfRun(fw.port, 1, seconds, direction === "down");
    }
    for (let rep = 0; rep < options.directionReps; rep++) {
      for (const direction of ["up", "down"] as const) {
        for (const fw of forwarders) {
          const before = schedstat(fw.pid!).cpuSeconds;
          const { gbps, bytes } = await iperfRun(fw.port, 1, seconds, direction === "down");
          const cpu = schedstat(fw.pid!).cpuSeconds - before;
          const key = `${fw.name}/${direction}`;
          const cell = runs.get(key) ?? { gbps: [], cpuPerGB: [] };
          cell.gbps.push(gbps);
          cell.cpuPerGB.push(cpu / (bytes / 1e9));
          runs.set(key, cell);
          options.log(`  iperf3 ${direction} via ${fw.name} run ${rep + 1}: ${fmt.gbps(gbps)}, ${(cpu / (bytes / 1e9)).toFixed(3)} CPU-s/GB`);
        }
      }
    }
    return forwarders.flatMap((fw) =>
      (["up", "down"] as const).map((direction) => {
        const cell = runs.get(`${fw.name}/${direction}`)!;
        return {
          forwarder: fw.name,
          direction,
          runsGBps: cell.gbps.map((v) => round(v)),
          medianGBps: round(median(cell.gbps)),
          cpuSecondsPerGB: round(median(cell.cpuPerGB), 4),
        };
      }),
    );
  } finally {
    for (const fw of forwarders) await fw.stop();
    await server.stop();
  }
}

/** The agent's one-stream figures each way against HAProxy's (app to client) and the plain pipe's (client to app). */
export function directionGoals(cells: readonly DirectionCell[] | undefined): { direction: "up" | "down"; against: string; met?: boolean; text: string }[] {
  const get = (forwarder: string, direction: "up" | "down") => cells?.find((c) => c.forwarder === forwarder && c.direction === direction);
  return (
    [
      ["down", "haproxy"],
      ["up", "node pipe"],
    ] as const
  ).map(([direction, against]) => {
    const agent = get("agent", direction);
    const other = get(against, direction);
    if (!agent || !other) return { direction, against, text: "not measured" };
    return {
      direction,
      against,
      met: agent.medianGBps >= other.medianGBps && agent.cpuSecondsPerGB <= other.cpuSecondsPerGB,
      text:
        `agent ${fmt.gbps(agent.medianGBps)} at ${agent.cpuSecondsPerGB.toFixed(3)} CPU-s/GB, ` +
        `${against} ${fmt.gbps(other.medianGBps)} at ${other.cpuSecondsPerGB.toFixed(3)}`,
    };
  });
}

function ratiosOf(cells: readonly ThroughputCell[], streamCounts: readonly number[]): ThroughputResult["ratios"] {
  const get = (name: string, streams: number) => cells.find((c) => c.forwarder === name && c.streams === streams);
  return streamCounts.map((streams) => {
    const agent = get("agent", streams);
    const haproxy = get("haproxy", streams);
    const base = get("direct", streams);
    return {
      streams,
      agentOverHaproxy: agent && haproxy ? round(agent.medianGBps / haproxy.medianGBps, 3) : undefined,
      agentOverDirect: agent && base ? round(agent.medianGBps / base.medianGBps, 3) : undefined,
    };
  });
}

/**
 * The cross-check: iperf3's client and server (C, one process each) in place of the Node
 * load generator, through direct, HAProxy and the agent, in alternation.
 */
async function iperfSession(options: ThroughputOptions): Promise<NonNullable<ThroughputResult["iperf3"]>> {
  const serverPort = await freePort();
  const server = new Peer("iperf3 server", "iperf3", ["-s", "-B", HOST, "-p", String(serverPort)]);
  const forwarders: Forwarder[] = [];
  try {
    await waitForPort(serverPort, 10_000, () => server.alive);
    forwarders.push(direct(serverPort), await startHaproxy(serverPort, 1));
    if (options.agentBundle) forwarders.push(await startAgent({ bundle: options.agentBundle, upstreamPort: serverPort, pps: 0 }));
    const runs = new Map<string, number[]>();
    for (let rep = 0; rep < options.iperf3Reps; rep++) {
      for (const streams of options.streams) {
        for (const fw of forwarders) {
          const gbps = await iperfClient(fw.port, streams, options.seconds);
          const key = `${fw.name}/${streams}`;
          runs.set(key, [...(runs.get(key) ?? []), gbps]);
          options.log(`  iperf3 ${fw.name} x${streams} run ${rep + 1}: ${fmt.gbps(gbps)}`);
        }
      }
    }
    const cells = forwarders.flatMap((fw) =>
      options.streams.map((streams) => {
        const list = runs.get(`${fw.name}/${streams}`)!;
        return { forwarder: fw.name, streams, runsGBps: list.map((v) => round(v)), medianGBps: round(median(list)) };
      }),
    );
    return { cells, ratios: ratiosOf(cells, options.streams) };
  } finally {
    for (const fw of forwarders) await fw.stop();
    await server.stop();
  }
}

/** One iperf3 client run; GB/s received by the server. */
async function iperfClient(port: number, streams: number, seconds: number): Promise<number> {
  return (await iperfRun(port, streams, seconds, false)).gbps;
}

/**
 * One iperf3 client run: GB/s and bytes received (by the server; with `reverse`, the server
 * sends and the client receives). The iperf3 server stops listening between tests for a
 * moment, so a refused connection is tried again (bounded).
 */
async function iperfRun(port: number, streams: number, seconds: number, reverse: boolean): Promise<{ gbps: number; bytes: number }> {
  const args = ["-c", HOST, "-p", String(port), "-P", String(streams), "-t", String(Math.max(1, Math.round(seconds))), "-J", ...(reverse ? ["-R"] : [])];
  for (let attempt = 1; ; attempt++) {
    let out: string;
    try {
      out = run("iperf3", args);
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? "");
    }
    const report = JSON.parse(out || "{}") as { end?: { sum_received?: { bits_per_second?: number; bytes?: number } }; error?: string };
    const bps = report.end?.sum_received?.bits_per_second;
    const bytes = report.end?.sum_received?.bytes;
    if (typeof bps === "number") return { gbps: bps / 8 / 1e9, bytes: bytes ?? (bps / 8) * seconds };
    const refused = /refused|unable to connect/i.test(report.error ?? "");
    if (!refused || attempt >= 20) throw new BenchError("PEER_FAILED", `iperf3: ${report.error ?? "no result"}`);
    await delay(100);
  }
}

function sumCpu(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuSeconds(pid);
    } catch {
      // a socat child that already ended
    }
  }
  return total;
}

export function throughputRows(result: ThroughputResult): Row[] {
  const rows: Row[] = [];
  for (const c of result.cells) {
    const cores = c.forwarderCores !== undefined ? `, ${c.forwarderCores.toFixed(2)} cores` : "";
    rows.push({
      section: "throughput",
      measure: `${c.forwarder}, ${c.streams} stream${c.streams > 1 ? "s" : ""}`,
      value: `${fmt.gbps(c.medianGBps)} (median of ${c.runsGBps.length}${cores})`,
    });
  }
  for (const r of result.ratios) {
    rows.push({
      section: "throughput",
      measure: `agent / haproxy, ${r.streams} stream${r.streams > 1 ? "s" : ""}`,
      value: r.agentOverHaproxy !== undefined ? fmt.ratio(r.agentOverHaproxy) : "n/a",
      goal: ">= 1.00",
      met: r.agentOverHaproxy !== undefined ? r.agentOverHaproxy >= 1 : undefined,
    });
    rows.push({
      section: "throughput",
      measure: `agent / direct, ${r.streams} stream${r.streams > 1 ? "s" : ""}`,
      value: r.agentOverDirect !== undefined ? fmt.ratio(r.agentOverDirect) : "n/a",
    });
  }
  if (result.iperf3) {
    for (const c of result.iperf3.cells) {
      rows.push({
        section: "throughput",
        measure: `iperf3 via ${c.forwarder}, ${c.streams} stream${c.streams > 1 ? "s" : ""}`,
        value: `${fmt.gbps(c.medianGBps)} (median of ${c.runsGBps.length})`,
      });
    }
    for (const r of result.iperf3.ratios) {
      rows.push({
        section: "throughput",
        measure: `iperf3: agent / haproxy, ${r.streams} stream${r.streams > 1 ? "s" : ""}`,
        value: r.agentOverHaproxy !== undefined ? fmt.ratio(r.agentOverHaproxy) : "n/a",
        goal: ">= 1.00",
        met: r.agentOverHaproxy !== undefined ? r.agentOverHaproxy >= 1 : undefined,
      });
    }
  }
  for (const c of result.directions ?? []) {
    rows.push({
      section: "throughput",
      measure: `iperf3, 1 stream, ${c.direction === "up" ? "client to app" : "app to client"}, via ${c.forwarder}`,
      value: `${fmt.gbps(c.medianGBps)} at ${c.cpuSecondsPerGB.toFixed(3)} CPU-s per GB (median of ${c.runsGBps.length})`,
    });
  }
  for (const s of result.skipped) {
    rows.push({ section: "throughput", measure: `${s.forwarder}`, value: `unavailable: ${s.reason}` });
  }
  return rows;
}
