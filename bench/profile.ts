/**
 * `npm run bench:profile [-- --pps N] [--streams N] [--seconds S] [--duplex] [--top N] [--bundle FILE]`
 *
 * Runs the bundled agent under `node --cpu-prof` with the bench's throughput load (N
 * streams pumping 64 KiB writes into a sink, or both ways with --duplex), stops it, and
 * prints the functions with the most self time. The .cpuprofile is kept (open it in
 * Chrome DevTools) and its path printed.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildAgent } from "../runtime/agent/build";
import { duplexClients, duplexServer, Meter, sinkServer, sources } from "./lib/load";
import { agentSidecarArgs } from "./lib/peers";
import { BenchError, cpuSeconds, delay, jsonEvents, now, Peer } from "./lib/proc";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const USAGE = "usage: npm run bench:profile [-- --pps N] [--streams N] [--seconds S] [--duplex] [--top N] [--bundle FILE]";

function parseArgs(argv: readonly string[]) {
  const out = { pps: 0, streams: 1, seconds: 10, duplex: false, top: 10, bundle: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new BenchError("BAD_ARGS", `${arg} needs a value; ${USAGE}`);
      return v;
    };
    const count = (name: string, v: string, min: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new BenchError("BAD_ARGS", `${name} must be an integer >= ${min}, got "${v}"; ${USAGE}`);
      return n;
    };
    if (arg === "--pps") out.pps = count(arg, value(), 0);
    else if (arg === "--streams") out.streams = count(arg, value(), 1);
    else if (arg === "--seconds") out.seconds = count(arg, value(), 1);
    else if (arg === "--top") out.top = count(arg, value(), 1);
    else if (arg === "--duplex") out.duplex = true;
    else if (arg === "--bundle") out.bundle = path.resolve(value());
    else if (arg === "-h" || arg === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else throw new BenchError("BAD_ARGS", `unknown argument ${arg}; ${USAGE}`);
  }
  return out;
}

/** User and system CPU seconds of a process (the profile sees only the user part, in JS and V8). */
function userSystemSeconds(pid: number): { user: number; system: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const tick = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return { user: Number(fields[11]) / tick, system: Number(fields[12]) / tick };
}

/** Self time per function (name, file and line), in ms, largest first. */
export function selfTimes(profile: CpuProfile): { name: string; ms: number; share: number }[] {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    const f = node.callFrame;
    const file = f.url ? path.basename(f.url) : "";
    const name = `${f.functionName || "(anonymous)"}${file ? ` ${file}:${f.lineNumber + 1}` : ""}`;
    totals.set(name, (totals.get(name) ?? 0) + us);
    all += us;
  }
  return [...totals.entries()]
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / all }))
    .sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const bundle = options.bundle ?? (await buildAgent());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-profile-"));
  const up = new Meter();
  const down = new Meter();
  const upstream = options.duplex ? duplexServer(up) : sinkServer(up);
  const upstreamPort = await upstream.listen();
  const agent = new Peer("agent", process.execPath, ["--cpu-prof", "--cpu-prof-dir", dir, ...agentSidecarArgs(bundle, options.pps, upstreamPort)]);
  try {
    const ready = await jsonEvents(agent)("ready", 10_000);
    const port = ready.listen as number;
    const load = options.duplex ? await duplexClients(port, options.streams, down) : await sources(port, options.streams);
    const cpu0 = cpuSeconds(agent.pid);
    const split0 = userSystemSeconds(agent.pid);
    const bytes0 = up.total + down.total;
    const t0 = now();
    await delay(options.seconds * 1000);
    const cpu = cpuSeconds(agent.pid) - cpu0;
    const split1 = userSystemSeconds(agent.pid);
    const bytes = up.total + down.total - bytes0;
    const seconds = now() - t0;
    load.stop();
    await upstream.waitIdle();
    await agent.stop(10_000);
    const file = fs.readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new BenchError("PEER_FAILED", `the agent wrote no profile in ${dir}`);
    const profile = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as CpuProfile;
    console.log(
      `agent ${options.pps === 0 ? "no limit" : `${options.pps} pps`}, ${options.streams} stream(s)${options.duplex ? " both ways" : ""}: ` +
        `${(bytes / seconds / 1e9).toFixed(3)} GB/s, ${(cpu / seconds).toFixed(2)} cores, ${(cpu / (bytes / 1e9)).toFixed(3)} CPU-s per GB` +
        ` (user ${((split1.user - split0.user) / seconds).toFixed(3)}, system ${((split1.system - split0.system) / seconds).toFixed(3)} cores)`,
    );
    console.log(`self time, top ${options.top} (profile: ${path.join(dir, file)}):`);
    for (const f of selfTimes(profile).slice(0, options.top)) {
      console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
    }
  } finally {
    await agent.stop();
    await upstream.close();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`bench:profile: ${err.message.split("\n")[0]}`);
      process.exit(err instanceof BenchError && err.code === "TCP_ADDON_BENCH_BAD_ARGS" ? 2 : 1);
    },
  );
}
