/**
 * The agent with its CloudWatch EMF lines off and on: throughput and CPU on loopback.
 *
 *   npx tsx bench/emf.ts [--reps N] [--seconds S]
 *
 * Variants, visited in alternation (the order rotated every run), each a fresh agent: EMF off; EMF on at the shipped interval
 * (60 s, so a 2-s run usually writes no line at all: the cost is the timer and nothing else);
 * EMF on every 0.1 s (600 times the shipped rate: an upper bound of what writing the lines
 * costs). Loads: unlimited (--pps 0), 1 stream of 64 KiB writes, bytes/s at the sink and agent
 * CPU-seconds per GB; and 100000 pps (the plan's limiter working, 150 MB/s), agent CPU share.
 * Prints one table; asserts nothing.
 */
import * as path from "node:path";
import { buildAgent } from "../runtime/agent/build";
import { emfLine, ZERO_TOTALS } from "../runtime/agent/emf";
import { Meter, sinkServer, sources } from "./lib/load";
import { startAgent } from "./lib/peers";
import { cpuSeconds, delay, now } from "./lib/proc";
import { median, round } from "./lib/stats";

const VARIANTS: { name: string; env: NodeJS.ProcessEnv }[] = [
  { name: "EMF off", env: { TCP_ADDON_EMF: "0" } },
  { name: "EMF on, every 60 s (shipped)", env: { TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "bench", TCP_ADDON_APP: "bench" } },
  { name: "EMF on, every 0.1 s (x600)", env: { TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "bench", TCP_ADDON_APP: "bench", TCP_ADDON_EMF_INTERVAL: "0.1" } },
];

function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.split("=")[1]);
}

/** CPU time to build one line, in microseconds: the whole per-interval cost besides one write(). */
function lineCostMicros(): number {
  const interval = { previous: ZERO_TOTALS, current: { ...ZERO_TOTALS, packetsIn: 123456, bytesIn: 185184000 }, activeConnections: 12, ppsLimit: 1000, elapsedSeconds: 60, timestampMs: Date.now() };
  const n = 100_000;
  let bytes = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) bytes += emfLine({ project: "acme", app: "mqtt" }, interval).length;
  const used = process.cpuUsage(t0);
  if (bytes === 0) throw new Error("no line");
  return (used.user + used.system) / n;
}

async function main(): Promise<void> {
  const micros = lineCostMicros();
  console.log(`one EMF line: ${round(micros, 2)} µs of CPU to build (at one a minute: ${((micros / 60e6) * 100).toExponential(1)} % of a core)`);
  const reps = flag("reps", 5);
  const seconds = flag("seconds", 2);
  const bundle = await buildAgent();
  console.log(`agent bundle: ${path.relative(process.cwd(), bundle)}; ${reps} runs of ${seconds} s per cell, alternating`);
  const meter = new Meter();
  const sink = sinkServer(meter);
  const upstream = await sink.listen();
  const results = new Map<string, { gbps: number[]; cpuPerGB: number[]; cores: number[]; lines: number[] }>();
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const pps of [0, 100_000]) {
        // rotated each run, so no variant always follows the same one
        for (const variant of [...VARIANTS.slice(rep % VARIANTS.length), ...VARIANTS.slice(0, rep % VARIANTS.length)]) {
          const agent = await startAgent({ bundle, upstreamPort: upstream, pps, env: variant.env });
          const load = await sources(agent.port, 1);
          await delay(300);
          const cpu0 = cpuSeconds(agent.pid);
          const bytes0 = meter.total;
          const t0 = now();
          await delay(seconds * 1000);
          const t1 = now();
          const bytes1 = meter.total;
          const cpu1 = cpuSeconds(agent.pid);
          load.stop();
          await sink.waitIdle();
          await agent.stop();
          const gb = (bytes1 - bytes0) / 1e9;
          const key = `${pps === 0 ? "unlimited" : "100000 pps"} | ${variant.name}`;
          const cell = results.get(key) ?? { gbps: [], cpuPerGB: [], cores: [], lines: [] };
          results.set(key, cell);
          cell.gbps.push(gb / (t1 - t0));
          cell.cpuPerGB.push((cpu1 - cpu0) / gb);
          cell.cores.push((cpu1 - cpu0) / (t1 - t0));
          console.log(`  ${key} run ${rep + 1}: ${round(gb / (t1 - t0), 3)} GB/s, ${round((cpu1 - cpu0) / (t1 - t0), 3)} cores`);
        }
      }
    }
  } finally {
    await sink.close();
  }
  console.log("\n| load | variant | GB/s (median) | agent CPU-s per GB | agent cores | vs EMF off |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const load of ["unlimited", "100000 pps"]) {
    const off = results.get(`${load} | ${VARIANTS[0].name}`)!;
    for (const variant of VARIANTS) {
      const cell = results.get(`${load} | ${variant.name}`)!;
      const ratio = load === "unlimited" ? median(cell.gbps) / median(off.gbps) : median(cell.cores) / median(off.cores);
      console.log(
        `| ${load} | ${variant.name} | ${round(median(cell.gbps), 3)} | ${round(median(cell.cpuPerGB), 2)} | ${round(median(cell.cores), 3)} | ${round(ratio, 3)}x ${load === "unlimited" ? "throughput" : "CPU"} |`,
      );
    }
  }
}

main().catch((err: Error) => {
  console.error(`bench/emf: ${err.message}`);
  process.exit(1);
});
