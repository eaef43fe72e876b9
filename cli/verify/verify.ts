import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../../config/package-root";
import { loadConfig } from "../../config/load";
import { issuesOf, oneLine } from "../../ground";
import { StackWorkspace, STACK_FILE, TerraformCheckError } from "./stack";
import { terraformSetup, TerraformUnavailableError } from "./terraform";

/**
 * `tcp-addon verify`: the declaration checked by the real AWS provider, offline. Synth into a
 * temporary folder (never cdktf.out), then for each stack, in a temporary copy: `terraform
 * init` (a provider mirror when one is configured or found, else the registry), `validate`,
 * and `plan -refresh=false` with fake keys and the AWS-calling data sources replaced by the
 * config's values. Exit 0 when every stack plans, 1 on any error, 2 when terraform or the
 * provider cannot be had.
 */

export const VERIFY_OK = 0;
export const VERIFY_FAILED = 1;
export const VERIFY_UNAVAILABLE = 2;


export interface VerifyOptions {
  /** Absolute path of the config file. */
  readonly configFile: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Keep the temporary folder and print where it is. */
  readonly keep?: boolean;
}

/** Runs the whole check and returns the exit code; every problem is printed as one line. */
export async function verify(options: VerifyOptions): Promise<number> {
  const env = options.env ?? process.env;
  const config = loadConfig(options.configFile); // a bad config stops here, exit 1, before any terraform
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-verify-"));
  try {
    let setup;
    try {
      setup = terraformSetup(work, env);
    } catch (err) {
      if (!(err instanceof TerraformUnavailableError)) throw err;
      options.err(`verify: skipped: ${err.message}`);
      return VERIFY_UNAVAILABLE;
    }
    const outdir = path.join(work, "synth");
    const synth = await synthesize(options.configFile, outdir, env);
    if (synth.code !== 0) {
      for (const line of synth.lines) options.err(line);
      return VERIFY_FAILED;
    }
    const stacksDir = path.join(outdir, "stacks");
    let code = VERIFY_OK;
    for (const name of fs.readdirSync(stacksDir).sort()) {
      const stack = JSON.parse(fs.readFileSync(path.join(stacksDir, name, STACK_FILE), "utf8")) as Record<string, unknown>;
      const started = process.hrtime.bigint();
      let workspace = StackWorkspace.create(path.join(work, "plan", name), setup, stack, config.region, true);
      try {
        await workspace.init();
        await workspace.validate(); // every data source and condition as written
        workspace = workspace.rewrite(stack, config.region);
        const counts = await workspace.plan();
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        options.out(
          `${name}: plan ${counts.add} to add, ${counts.change} to change, ${counts.remove} to destroy (validate ok) in ${seconds.toFixed(1)} s`,
        );
        if (workspace.skipped.length > 0) {
          const scopes = [...new Set(workspace.skipped.map((s) => s.split(" ")[0].split("/").slice(0, -1).join("/")))];
          options.out(
            `${name}: validated but not planned offline: ${workspace.skipped.length} data source(s) under ${scopes.join(", ")} read AWS at plan time (their conditions check an existing network)`,
          );
        }
      } catch (err) {
        if (err instanceof TerraformUnavailableError) {
          options.err(`verify: skipped: ${err.message}`);
          return VERIFY_UNAVAILABLE;
        }
        if (!(err instanceof TerraformCheckError)) throw err;
        options.err(`${name}: ${err.message}`);
        code = VERIFY_FAILED;
      }
    }
    if (options.keep === true) options.out(`verify: kept ${work}`);
    return code;
  } finally {
    if (options.keep !== true) fs.rmSync(work, { recursive: true, force: true });
  }
}

/** `tcp-addon synth` in a child process with CDKTF_OUTDIR, so nothing here loads cdktf and cdktf.out is never touched. */
function synthesize(configFile: string, outdir: string, env: NodeJS.ProcessEnv): Promise<{ code: number; lines: string[] }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      // The bin runs the compiled CLI when lib/ is current, the sources through tsx otherwise.
      [path.join(PACKAGE_ROOT, "bin", "tcp-addon.js"), "synth"],
      {
        cwd: PACKAGE_ROOT,
        env: { ...env, CDKTF_OUTDIR: outdir, TCP_ADDON_CONFIG: configFile },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 10 * 60 * 1000,
      },
      (err, _stdout, stderr) => {
        const lines = stderr.split("\n").map(oneLine).filter((l) => l !== "");
        if (err === null) resolve({ code: 0, lines });
        else resolve({ code: 1, lines: lines.length > 0 ? lines : issuesOf(err).map((l) => `synth: ${l}`) });
      },
    );
  });
}
