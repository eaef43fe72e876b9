import { configPath, loadConfig } from "./config/load";
import { LOCAL_STATE_NOTICE, stackName } from "./config/state";
import { issuesOf } from "./runtime/agent/errors";

/** `npm run synth` and `cdktf synth`: the config file -> one TcpAddonStack named `<project>[-<environment>]` -> cdktf.out. */
async function main(): Promise<void> {
  // cdktf records a stack trace for every token it creates; with tsx's source maps on, mapping
  // them costs about a fifth of a 100-app synth. Errors here are printed as one line anyway.
  process.setSourceMapsEnabled(false);
  // A bad config stops here, before cdktf is even loaded and before the output folder is touched.
  const config = loadConfig(configPath());
  for (const warning of config.warnings) console.error(`warning: ${warning}`);
  if (config.state === undefined) console.error(LOCAL_STATE_NOTICE);
  const { synthToDir, withoutTokenStacks } = await import("./constructs/synth");
  const { TcpAddonStack } = await import("./constructs/tcp-addon-stack");
  withoutTokenStacks(() =>
    synthToDir(process.env.CDKTF_OUTDIR ?? "cdktf.out", (app) => new TcpAddonStack(app, stackName(config), { config })),
  );
}

main().catch((err: unknown) => {
  for (const line of issuesOf(err)) console.error(line);
  process.exitCode = 1;
});
