import { build } from "esbuild";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { AGENT_BUNDLE as BUNDLE_PATH } from "./contract";

/** Where `npm run build:agent` writes the single-file agent. */
export const AGENT_BUNDLE = path.resolve(__dirname, "../..", BUNDLE_PATH);

/** Bundles runtime/agent/main.ts into one file that runs on plain Node with no node_modules. */
export async function buildAgent(outfile: string = AGENT_BUNDLE): Promise<string> {
  await build({
    entryPoints: [path.resolve(__dirname, "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: false,
    sourcemap: false,
    banner: { js: "#!/usr/bin/env node" },
    logLevel: "warning",
  });
  return outfile;
}

export const BUILD_USAGE = `Usage: npm run build:agent [-- --help]

Bundles runtime/agent/main.ts into ${BUNDLE_PATH}: one file that runs on plain Node with no
node_modules (esbuild, target node20). Takes no other flag.`;

if (require.main === module) {
  let help = false;
  try {
    help = parseArgs({ args: process.argv.slice(2), options: { help: { type: "boolean", short: "h" } }, strict: true }).values.help === true;
  } catch (err) {
    console.error(`build:agent: ${(err as Error).message}\n\n${BUILD_USAGE}`);
    process.exit(2);
  }
  if (help) {
    console.log(BUILD_USAGE);
  } else {
    buildAgent().then(
      (file) => console.log(`wrote ${path.relative(process.cwd(), file)}`),
      (err: Error) => {
        console.error(`build:agent: ${err.message}`);
        process.exit(1);
      },
    );
  }
}
