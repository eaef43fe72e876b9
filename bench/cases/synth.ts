import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BenchError, delay, now, processTree, pssBytes, rssBytes } from "../lib/proc";
import { fmt, Row } from "../lib/report";
import { linearFit, median, round } from "../lib/stats";

const REPO_ROOT = path.resolve(__dirname, "../..");

export interface SynthOptions {
  readonly appCounts: readonly number[];
  /** Runs per app count, in alternation; the median is reported. */
  readonly reps: number;
  readonly log: (line: string) => void;
}

export interface SynthCell {
  readonly apps: number;
  readonly wallSeconds: number[];
  readonly medianWallSeconds: number;
  /** Peak of the sum of VmRSS over `npm run synth` and all its descendants (polled). */
  readonly medianPeakTreeRssBytes: number;
  /** Peak of the sum of Pss over the same tree: shared pages counted once (polled). */
  readonly medianPeakTreePssBytes: number;
  /** Peak VmRSS of the largest single process in the tree (the synth itself; polled). */
  readonly medianPeakProcessRssBytes: number;
  /** Size of the synthesized Terraform JSON. */
  readonly stackJsonBytes: number;
}

export interface SynthResult {
  readonly command: string;
  readonly method: string;
  readonly cells: SynthCell[];
  /** Linear fit over the app counts: extra time and memory per app. */
  readonly perApp?: { seconds: number; treeRssBytes: number; treePssBytes: number };
  /** "built from runtime/" (the default) or "prebuilt" when runtime/Dockerfile is absent. */
  readonly agentImage: string;
  readonly unavailable?: string;
}

/**
 * A config with `count` apps, each with an explicit port so none collide. The agent image
 * is the default (built from runtime/) unless `prebuiltAgent` is set.
 */
export function synthConfig(count: number, prebuiltAgent = false): object {
  const apps: Record<string, object> = {};
  for (let i = 1; i <= count; i++) {
    apps[`app-${String(i).padStart(3, "0")}`] = {
      image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app-${i}:1.0.0`,
      command: "node server.js",
      plan: "tcp-1k",
      containers: 2,
      port: 20000 + i,
    };
  }
  const agent = prebuiltAgent ? { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tcp-agent:1.0.0" } : undefined;
  return { project: "bench", region: "eu-west-1", ...(agent ? { agent } : {}), apps };
}

/**
 * Wall time and peak memory of `npm run synth` for configs of growing size. Each size runs
 * twice per repetition: once timed and left alone, once with its memory read from /proc
 * every 10 ms over the whole process tree (npm, its shell, the synth): reading the page
 * tables of a 150 MB process a hundred times a second slows it on a 2-core machine.
 */
export async function synth(options: SynthOptions): Promise<SynthResult> {
  const command = "npm run synth";
  const method =
    "wall time from spawn to exit of a run nobody watches; memory from a second run, of npm, its shell and the synth together, polled every 10 ms: " +
    "sum of Pss (/proc/<pid>/smaps_rollup; shared pages counted once, the figure the goal is held to), " +
    "sum of VmRSS (shared pages counted in each process), and the largest single VmRSS";
  const prebuilt = !fs.existsSync(path.join(REPO_ROOT, "runtime/Dockerfile"));
  const agentImage = prebuilt ? "prebuilt (runtime/Dockerfile absent)" : "built from runtime/";
  if (!fs.existsSync(path.join(REPO_ROOT, "main.ts"))) {
    return { command, method, agentImage, cells: [], unavailable: "main.ts not found" };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-bench-synth-"));
  const runs = new Map<number, { wall: number[]; tree: number[]; pss: number[]; proc: number[]; json: number }>();
  try {
    for (const count of options.appCounts) {
      fs.writeFileSync(path.join(dir, `apps-${count}.json`), JSON.stringify(synthConfig(count, prebuilt), null, 2));
      runs.set(count, { wall: [], tree: [], pss: [], proc: [], json: 0 });
    }
    for (let rep = 0; rep < options.reps; rep++) {
      for (const count of options.appCounts) {
        const outdir = path.join(dir, `out-${count}-${rep}`);
        const timed = await runSynth(path.join(dir, `apps-${count}.json`), outdir, false);
        fs.rmSync(outdir, { recursive: true, force: true });
        const result = await runSynth(path.join(dir, `apps-${count}.json`), outdir, true);
        const cell = runs.get(count)!;
        cell.wall.push(timed.wallSeconds);
        cell.tree.push(result.peakTreeRss);
        cell.pss.push(result.peakTreePss);
        cell.proc.push(result.peakProcessRss);
        cell.json = stackJsonSize(outdir);
        fs.rmSync(outdir, { recursive: true, force: true });
        options.log(
          `  synth ${count} apps run ${rep + 1}: ${timed.wallSeconds.toFixed(2)} s, ` +
            `tree RSS ${fmt.mb(result.peakTreeRss)}, PSS ${fmt.mb(result.peakTreePss)}`,
        );
      }
    }
  } catch (err) {
    return { command, method, agentImage, cells: [], unavailable: (err as Error).message };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const cells: SynthCell[] = options.appCounts.map((apps) => {
    const r = runs.get(apps)!;
    return {
      apps,
      wallSeconds: r.wall.map((v) => round(v)),
      medianWallSeconds: round(median(r.wall)),
      medianPeakTreeRssBytes: Math.round(median(r.tree)),
      medianPeakTreePssBytes: Math.round(median(r.pss)),
      medianPeakProcessRssBytes: Math.round(median(r.proc)),
      stackJsonBytes: r.json,
    };
  });
  const xs = cells.map((c) => c.apps);
  const perApp =
    cells.length >= 2
      ? {
          seconds: round(linearFit(xs, cells.map((c) => c.medianWallSeconds)).slope),
          treeRssBytes: Math.round(linearFit(xs, cells.map((c) => c.medianPeakTreeRssBytes)).slope),
          treePssBytes: Math.round(linearFit(xs, cells.map((c) => c.medianPeakTreePssBytes)).slope),
        }
      : undefined;
  return { command, method, agentImage, cells, perApp };
}

/** One `npm run synth`; with `poll`, its process tree's memory is read every 10 ms until it exits. */
async function runSynth(
  config: string,
  outdir: string,
  poll: boolean,
): Promise<{ wallSeconds: number; peakTreeRss: number; peakTreePss: number; peakProcessRss: number }> {
  const started = now();
  const child = spawn("npm", ["run", "--silent", "synth"], {
    cwd: REPO_ROOT,
    env: { ...process.env, TCP_ADDON_CONFIG: config, CDKTF_OUTDIR: outdir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  let exited = false;
  let peakTree = 0;
  let peakPss = 0;
  let peakProcess = 0;
  const exit = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      exited = true;
      resolve(code);
    }),
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, 300_000);
  while (poll && !exited) {
    let sum = 0;
    let pss = 0;
    for (const pid of processTree(child.pid!)) {
      const rss = rssBytes(pid);
      if (!Number.isFinite(rss)) continue;
      sum += rss;
      pss += pssBytes(pid) || 0;
      peakProcess = Math.max(peakProcess, rss);
    }
    peakTree = Math.max(peakTree, sum);
    peakPss = Math.max(peakPss, pss);
    await Promise.race([delay(10), exit]);
  }
  const code = await exit;
  clearTimeout(timer);
  if (timedOut) throw new BenchError("TIMEOUT", "npm run synth ran over 300 s");
  const wallSeconds = now() - started;
  if (code !== 0) {
    const last = stderr.trim().split("\n").filter((l) => !l.includes("npm warn")).slice(-2).join(" | ");
    throw new BenchError("PEER_FAILED", `npm run synth exited ${code}: ${last}`);
  }
  return { wallSeconds, peakTreeRss: peakTree, peakTreePss: peakPss, peakProcessRss: peakProcess };
}

/** Total size of the synthesized cdk.tf.json files under `outdir`. */
function stackJsonSize(outdir: string): number {
  let total = 0;
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(".tf.json")) total += fs.statSync(p).size;
    }
  };
  walk(outdir);
  return total;
}

/** 100 apps: under 2 s of wall time and 250 MB of memory (the tree's PSS). */
export function synthGoalMet(c: SynthCell): boolean {
  return c.medianWallSeconds < 2 && c.medianPeakTreePssBytes < 250 * 1024 * 1024;
}

export function synthRows(result: SynthResult): Row[] {
  if (result.unavailable) return [{ section: "synth", measure: result.command, value: `unavailable: ${result.unavailable}` }];
  const rows: Row[] = result.cells.map((c) => {
    const goal = c.apps === 100;
    return {
      section: "synth",
      measure: `${result.command}, ${c.apps} app${c.apps > 1 ? "s" : ""}`,
      value:
        `${c.medianWallSeconds.toFixed(2)} s, peak ${fmt.mb(c.medianPeakTreePssBytes)} PSS of the process tree ` +
        `(RSS sum ${fmt.mb(c.medianPeakTreeRssBytes)}, synth process ${fmt.mb(c.medianPeakProcessRssBytes)}), ` +
        `${fmt.mb(c.stackJsonBytes)} JSON`,
      goal: goal ? "< 2 s and < 250 MB" : undefined,
      met: goal ? synthGoalMet(c) : undefined,
    };
  });
  if (result.perApp) {
    rows.push({
      section: "synth",
      measure: "growth per app (linear fit)",
      value: `+${(result.perApp.seconds * 1000).toFixed(1)} ms, +${fmt.mb(result.perApp.treePssBytes)} PSS per app`,
    });
  }
  return rows;
}
