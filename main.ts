import * as fs from "node:fs";
import * as path from "node:path";
import { configPath, loadConfig } from "./config/load";
import { LOCAL_STATE_NOTICE, stackName } from "./config/state";
import { issuesOf } from "./ground";
import type * as SynthModule from "./constructs/synth";
import type * as StackModule from "./constructs/tcp-addon-stack";

/** What a synth wrote: the output folder, its stacks' files (relative to it) and what they hold. */
export interface SynthSummary {
  readonly outdir: string;
  readonly stackFiles: readonly string[];
  readonly apps: number;
  readonly resources: number;
}

/**
 * `npm run synth`, `tcp-addon synth` and `cdktf synth`: the config file -> one TcpAddonStack
 * named `<project>[-<environment>]` -> `outdir` (CDKTF_OUTDIR, else cdktf.out).
 */
export async function synth(
  file: string = configPath(),
  // `||`: an empty CDKTF_OUTDIR means unset; resolved, "" would be the current folder itself,
  // which the swap into place would replace.
  outdir: string = process.env.CDKTF_OUTDIR || "cdktf.out",
): Promise<SynthSummary> {
  // cdktf records a stack trace for every token it creates; with tsx's source maps on, mapping
  // them costs about a fifth of a 100-app synth. Errors here are printed as one line anyway.
  process.setSourceMapsEnabled(false);
  // A bad config stops here, before cdktf is even loaded and before the output folder is touched.
  const config = loadConfig(file);
  for (const warning of config.warnings) console.error(`warning: ${warning}`);
  if (config.state === undefined) console.error(LOCAL_STATE_NOTICE);
  // require, not import(): under `require("tsx/cjs")` (bin/tcp-addon.js from a clone) only
  // CommonJS loading understands TypeScript files.
  const { synthToDir, withoutTokenStacks } = require("./constructs/synth") as typeof SynthModule;
  const { TcpAddonStack } = require("./constructs/tcp-addon-stack") as typeof StackModule;
  withoutTokenStacks(() => synthToDir(outdir, (app) => new TcpAddonStack(app, stackName(config), { config })));
  return { outdir, apps: config.apps.length, ...countWritten(outdir) };
}

/** `wrote cdktf.out/stacks/acme/cdk.tf.json: 1 app, 1 stack, 41 resources` */
export function describeSynth(summary: SynthSummary): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const files = summary.stackFiles.map((f) => path.join(summary.outdir, f)).join(", ");
  const counts = [plural(summary.apps, "app"), plural(summary.stackFiles.length, "stack"), plural(summary.resources, "resource")];
  return `wrote ${files}: ${counts.join(", ")}`;
}

/** The stacks in cdktf's manifest.json and the resources their Terraform JSON declares. */
function countWritten(outdir: string): Pick<SynthSummary, "stackFiles" | "resources"> {
  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8")) as {
    stacks: Record<string, { synthesizedStackPath: string }>;
  };
  const stackFiles = Object.values(manifest.stacks).map((s) => s.synthesizedStackPath);
  let resources = 0;
  for (const stackFile of stackFiles) {
    const tf = JSON.parse(fs.readFileSync(path.join(outdir, stackFile), "utf8")) as {
      resource?: Record<string, Record<string, unknown>>;
    };
    for (const byName of Object.values(tf.resource ?? {})) resources += Object.keys(byName).length;
  }
  return { stackFiles, resources };
}

if (require.main === module) {
  synth().then(
    (summary) => console.log(describeSynth(summary)),
    (err: unknown) => {
      for (const line of issuesOf(err)) console.error(line);
      process.exitCode = 1;
    },
  );
}
