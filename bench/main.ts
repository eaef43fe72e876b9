/**
 * `npm run bench [-- --quick] [-- --only=throughput,latency,rate,plans,memory,synth]`
 *
 * Runs every case in one session on 127.0.0.1 and prints one table: throughput and
 * latency against a direct connection, HAProxy and socat; the agent's rate accuracy
 * against its plans and against the kernel's tbf shaper; each built-in plan at its full
 * rate both ways with the agent's CPU share, and CPU per GB beside HAProxy's; memory per
 * idle connection; synth time and memory. Writes bench/results/latest.json, latest.md and
 * latest.png for a full run, quick.* for `--quick` (plus a dated JSON copy, not committed).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildAgent } from "../runtime/agent/build";
import { latency, latencyRows } from "./cases/latency";
import { memory, memoryRows } from "./cases/memory";
import { plans, plansRows } from "./cases/plans";
import { rateAccuracy, rateRows } from "./cases/rate";
import { synth, synthRows } from "./cases/synth";
import { throughput, throughputRows } from "./cases/throughput";
import { chartSpec, renderPng } from "./lib/chart";
import { goalRows, Results } from "./lib/goals";
import { ensureTools, ToolReport } from "./lib/peers";
import { BenchError, killAllPeers, now } from "./lib/proc";
import { formatMarkdown, formatTable, Row } from "./lib/report";
import { removeNamespaces } from "./lib/shaper";
import { removeWorkers } from "./lib/workers";

const CASES = ["throughput", "latency", "rate", "plans", "memory", "synth"] as const;
type CaseName = (typeof CASES)[number];

/** The built-in plans' rates (packets/s per container, each direction), plus 100 pps. */
const RATES = [100, 1000, 10_000, 100_000];
const HIGHEST_PLAN_PPS = 100_000;
const RESULTS = path.join(__dirname, "results");

interface Settings {
  readonly mode: "quick" | "full";
  readonly throughput: { reps: number; seconds: number; warmupSeconds: number; streams: number[]; iperf3Reps: number; directionReps: number };
  readonly latency: { rounds: number; reps: number; size: number };
  readonly rate: { warmupSeconds: number; windows: number; sampleMs: number; connections: number[]; concurrency: number; smallWriterRates: number[] };
  readonly plans: { connections: number; warmupSeconds: number; maxWarmupSeconds: number; seconds: number; reps: number };
  readonly memory: { connections: number; pps: number };
  readonly synth: { appCounts: number[]; reps: number };
}

const FULL: Settings = {
  mode: "full",
  throughput: { reps: 5, seconds: 2, warmupSeconds: 0.5, streams: [1, 8], iperf3Reps: 3, directionReps: 5 },
  latency: { rounds: 30_000, reps: 5, size: 64 },
  rate: { warmupSeconds: 1, windows: 8, sampleMs: 100, connections: [1, 50], concurrency: 1, smallWriterRates: [1000, 5000] },
  plans: { connections: 8, warmupSeconds: 15, maxWarmupSeconds: 25, seconds: 10, reps: 3 },
  memory: { connections: 10_000, pps: 1000 },
  synth: { appCounts: [1, 10, 100, 200], reps: 3 },
};

/** The full run, shorter: fewer and briefer repetitions of the same cases. */
const QUICK: Settings = {
  mode: "quick",
  throughput: { ...FULL.throughput, reps: 3, seconds: 0.4, warmupSeconds: 0.15, iperf3Reps: 0, directionReps: 1 },
  latency: { ...FULL.latency, rounds: 3000, reps: 3 },
  rate: { ...FULL.rate, warmupSeconds: 0.5, windows: 2, concurrency: 6 },
  plans: { ...FULL.plans, warmupSeconds: 4, maxWarmupSeconds: 6, seconds: 2 },
  memory: { ...FULL.memory, connections: 2000 },
  synth: { ...FULL.synth, reps: 1 },
};

const USAGE = `usage: npm run bench [-- --quick] [-- --only=${CASES.join(",")}] [-- --agent=FILE]`;

function parseArgs(argv: readonly string[]): { settings: Settings; only: Set<CaseName>; agent?: string } {
  let settings = FULL;
  let only = new Set<CaseName>(CASES);
  let agent: string | undefined;
  for (const arg of argv) {
    if (arg === "--quick") settings = QUICK;
    else if (arg.startsWith("--agent=")) {
      agent = path.resolve(arg.slice("--agent=".length));
      if (!fs.existsSync(agent)) throw new BenchError("BAD_ARGS", `--agent: no file at ${agent}; ${USAGE}`);
    } else if (arg.startsWith("--only=")) {
      const names = arg.slice("--only=".length).split(",");
      const bad = names.filter((n) => !(CASES as readonly string[]).includes(n));
      if (bad.length > 0) throw new BenchError("BAD_ARGS", `unknown case ${bad.join(", ")}; ${USAGE}`);
      only = new Set(names as CaseName[]);
    } else if (arg === "-h" || arg === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else throw new BenchError("BAD_ARGS", `unknown argument ${arg}; ${USAGE}`);
  }
  return { settings, only, agent };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function gitCommit(): string | undefined {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: __dirname, encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const { settings, only, agent } = parseArgs(process.argv.slice(2));
  const started = now();
  const command = `npm run bench${settings.mode === "quick" ? " -- --quick" : ""}`;
  log(`tcp-addon bench (${settings.mode}): ${[...only].join(", ")}`);

  const tools: ToolReport = ensureTools(log);
  log(`peers: haproxy ${tools.haproxy}, socat ${tools.socat}, iperf3 ${tools.iperf3 ?? "absent (optional)"}, perf ${tools.perf ?? "absent (optional: no syscalls/s)"}`);

  let agentBundle: string | undefined;
  let agentProblem: string | undefined;
  try {
    agentBundle = agent ?? (await buildAgent());
    log(agent ? `agent: ${agent} (given, not built)` : `agent: built ${path.relative(process.cwd(), agentBundle)}`);
  } catch (err) {
    agentProblem = (err as Error).message.split("\n")[0];
    log(`agent: build failed, agent cases skipped: ${agentProblem}`);
  }

  const environment = {
    date: new Date().toISOString(),
    command,
    commit: gitCommit(),
    node: process.version,
    kernel: os.release(),
    cpu: os.cpus()[0]?.model,
    cpus: os.cpus().length,
    memoryBytes: os.totalmem(),
    loadAverageAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
    tools,
    haproxyThreads: 1,
    socatMode: "fork (one process per connection)",
    agentBuild: agentBundle ? (agent ? `given: ${agent}` : "ok") : agentProblem,
  };

  const results: Results = {};
  const failures: Record<string, string> = {};
  const rows: Row[] = [];
  const attempt = async <T>(name: CaseName, run: () => Promise<T>, toRows: (r: T) => Row[]): Promise<T | undefined> => {
    if (!only.has(name)) return undefined;
    const t0 = now();
    log(`== ${name}`);
    try {
      const result = await run();
      rows.push(...toRows(result));
      log(`   ${name} took ${(now() - t0).toFixed(1)} s`);
      return result;
    } catch (err) {
      const message = (err as Error).message.split("\n")[0];
      failures[name] = message;
      rows.push({ section: name, measure: "case", value: `failed: ${message}` });
      log(`   ${name} failed: ${message}`);
      return undefined;
    }
  };

  results.throughput = await attempt(
    "throughput",
    () => throughput({ ...settings.throughput, agentBundle, log }),
    throughputRows,
  );
  results.latency = await attempt(
    "latency",
    () => latency({ ...settings.latency, agentBundle, limitedPps: HIGHEST_PLAN_PPS, log }),
    latencyRows,
  );
  results.rate = await attempt(
    "rate",
    () => rateAccuracy({ ...settings.rate, rates: RATES, directions: ["up", "down"], agentBundle, log }),
    rateRows,
  );
  for (const [name, value] of [
    ["agent", results.throughput?.agentCpuSecondsPerGB],
    ["haproxy", results.throughput?.haproxyCpuSecondsPerGB],
  ] as const) {
    if (value !== undefined) rows.push({ section: "cpu", measure: `${name} with no limit, 1 stream`, value: `${value.toFixed(2)} CPU-s per GB` });
  }
  results.plans = await attempt("plans", () => plans({ ...settings.plans, agentBundle, log }), plansRows);
  results.memory = await attempt("memory", () => memory({ ...settings.memory, agentBundle, log }), memoryRows);
  results.synth = await attempt("synth", () => synth({ ...settings.synth, log }), synthRows);

  rows.push(...goalRows(results));
  const seconds = now() - started;
  const table = formatTable(rows);
  console.log(table);
  console.log(`\n${command}: ${seconds.toFixed(0)} s on ${environment.cpus} x ${environment.cpu}, node ${environment.node}`);

  fs.mkdirSync(RESULTS, { recursive: true });
  const report = {
    environment: { ...environment, loadAverageAtEnd: os.loadavg().map((v) => Number(v.toFixed(2))), seconds: Math.round(seconds) },
    settings,
    notes: [
      "Throughput: the load generator (sources and sink) is one Node process; 'direct' is its own ceiling.",
      "Rate: packets/s = received bytes / 1500, measured at the receiving end in 1-second windows. The agent's windows start after its initial one-second burst is spent (the first 200 ms in which its /metrics show traffic held back at least half the time) plus the warm-up; the reference's start after the warm-up.",
      "tc tbf reference: two network namespaces made by the bench joined by a veth pair; tbf on the sender's end at the rate that carries pps x 1500 bytes/s of TCP payload in 1514-byte frames (1448-byte segments).",
      "KB = 1024 bytes; MB = 1024 x 1024 bytes; GB/s = 1e9 bytes/s.",
    ],
    failures,
    rows,
    results,
  };
  const json = JSON.stringify(report, null, 2) + "\n";
  const stamp = environment.date.replace(/[:.]/g, "-");
  // latest.* always hold one whole full run of this tree's agent (the docs link to them);
  // quick.* one whole quick run. A run of some cases, or of another agent, writes only a dated
  // JSON file (and its chart to the temp folder).
  const partial = only.size < CASES.length || agent !== undefined;
  const base = partial ? `${stamp}-${settings.mode}-partial` : settings.mode === "full" ? "latest" : "quick";
  fs.writeFileSync(path.join(RESULTS, `${stamp}-${settings.mode}${partial ? "-partial" : ""}.json`), json);
  const written = [`${stamp}-${settings.mode}${partial ? "-partial" : ""}.json`];
  if (!partial) {
    fs.writeFileSync(path.join(RESULTS, `${base}.json`), json);
    fs.writeFileSync(
      path.join(RESULTS, `${base}.md`),
      `Made by \`${command}\` on ${environment.date.slice(0, 10)} (${environment.cpus} x ${environment.cpu}, ` +
        `node ${environment.node}, commit ${environment.commit}).\n\n${formatMarkdown(rows)}\n`,
    );
    written.push(`${base}.json`, `${base}.md`);
  }
  if (results.rate || results.throughput) {
    try {
      const title = `tcp-addon bench (${settings.mode}), ${environment.date.slice(0, 10)}`;
      const file = partial ? path.join(os.tmpdir(), `tcp-addon-bench-${base}.png`) : path.join(RESULTS, `${base}.png`);
      fs.writeFileSync(file, await renderPng(chartSpec(results.rate, results.throughput, title)));
      written.push(path.relative(RESULTS, file));
    } catch (err) {
      log(`chart failed: ${(err as Error).message}`);
    }
  }
  const shown = written.map((f) => {
    const full = path.resolve(RESULTS, f);
    return full.startsWith(process.cwd()) ? path.relative(process.cwd(), full) : full;
  });
  log(`wrote ${shown.join(", ")}`);
}

async function cleanup(): Promise<void> {
  killAllPeers();
  removeNamespaces();
  await removeWorkers();
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

main().then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  async (err: Error) => {
    await cleanup();
    console.error(`bench: ${err.message}`);
    process.exit(err instanceof BenchError && err.code === "TCP_ADDON_BENCH_BAD_ARGS" ? 2 : 1);
  },
);
