import { build } from "esbuild";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * The bench's helper processes (the tbf reference's sink and source, the idle upstream, the
 * reference forwarders, the rate cases' senders), bundled once with esbuild so that each
 * starts as plain `node file.js` in tens of milliseconds rather than through the TypeScript
 * loader.
 */

export type WorkerName = "shaper-worker" | "idle-worker" | "reference-worker" | "load-worker";

let built: Promise<string> | undefined;

/** Path of the bundled worker script; the bundle is made on first use. */
export async function workerScript(name: WorkerName): Promise<string> {
  built ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-bench-workers-"));
    await build({
      entryPoints: ["shaper-worker", "idle-worker", "reference-worker", "load-worker"].map((n) => path.join(__dirname, `${n}.ts`)),
      outdir: dir,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      logLevel: "warning",
    });
    return dir;
  })();
  return path.join(await built, `${name}.js`);
}

/** Deletes the bundles, if they were made. */
export async function removeWorkers(): Promise<void> {
  if (!built) return;
  const dir = await built.catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  built = undefined;
}
