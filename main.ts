import { ConfigError } from "./constructs/config/errors";
import { configPath, loadConfig } from "./constructs/config/load";
import { synthToDir } from "./constructs/synth";
import { TcpAddonStack } from "./constructs/tcp-addon-stack";

// Read and check the config first: a bad config exits here, before cdktf.out is touched.
try {
  const config = loadConfig(configPath());
  synthToDir(process.env.CDKTF_OUTDIR ?? "cdktf.out", (app) => new TcpAddonStack(app, config.project, { config }));
} catch (err) {
  const lines = err instanceof ConfigError ? err.issues : [err instanceof Error ? err.message : String(err)];
  lines.forEach((line) => console.error(line.replace(/\s*[\r\n]+\s*/g, " ")));
  process.exit(1);
}
