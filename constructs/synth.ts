import { App } from "cdktf";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Synthesizes into a fresh folder next to `target`, then swaps it into place, so `target`
 * (usually cdktf.out) is either the complete new output or left exactly as it was: a failure
 * while building the stacks, in an Aspect, or while writing leaves the old output untouched.
 */
export function synthToDir(target: string, build: (app: App) => void): void {
  const dest = path.resolve(target);
  const parent = path.dirname(dest);
  fs.mkdirSync(parent, { recursive: true });
  const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(dest)}.new-`));
  fs.chmodSync(staging, 0o755); // mkdtemp makes it private; cdktf.out is an ordinary folder
  try {
    const app = new App({ outdir: staging });
    build(app);
    app.synth();
    swapInto(staging, dest);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/** Replaces `dest` by `staging` with renames (same folder, so same file system). */
function swapInto(staging: string, dest: string): void {
  if (!fs.existsSync(dest)) {
    fs.renameSync(staging, dest);
    return;
  }
  const old = `${staging}.old`;
  fs.renameSync(dest, old);
  try {
    fs.renameSync(staging, dest);
  } catch (err) {
    fs.renameSync(old, dest);
    throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/**
 * Runs `fn` while cdktf's token creation stacks are not captured. cdktf records a full stack
 * trace for every token it creates (dozens per app), only to print it if a token can never be
 * resolved; on 100 apps that is most of the time spent building the stacks. Errors thrown
 * inside keep their messages, not their stacks. The command line uses this; libraries and
 * tests that want the traces simply don't.
 */
export function withoutTokenStacks<T>(fn: () => T): T {
  const capture = Error.captureStackTrace;
  Error.captureStackTrace = (target: object) => {
    Object.defineProperty(target, "stack", { value: "", configurable: true, writable: true });
  };
  try {
    return fn();
  } finally {
    Error.captureStackTrace = capture;
  }
}
