import { build } from "esbuild";
import * as path from "node:path";
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

if (require.main === module) {
  buildAgent().then(
    (file) => console.log(`wrote ${path.relative(process.cwd(), file)}`),
    (err: Error) => {
      console.error(`build:agent: ${err.message}`);
      process.exit(1);
    },
  );
}
