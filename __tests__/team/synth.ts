import { App } from "cdktf";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../config/load";
import type { StateSpec } from "../../config/schema";
import { stackName } from "../../config/state";
import { TcpAddonStack } from "../../constructs/tcp-addon-stack";
import { AGENT_IMAGE } from "../helpers/images";

export { AGENT_IMAGE };

/** A config file's text: project acme, one app on a fixed port, plus `extra` top-level lines. */
export function configText(extra: string, { project = "acme", apps = ["mqtt"] }: { project?: string; apps?: string[] } = {}): string {
  return [
    `project: ${project}`,
    "region: eu-west-1",
    extra,
    `agent: { image: "${AGENT_IMAGE}" }`,
    "apps:",
    ...apps.map((app, i) => `  ${app}: { image: "example/${app}:1", command: "node server.js", port: ${20001 + i} }`),
    "",
  ]
    .filter((line) => line !== "")
    .join("\n");
}

export interface Synthesized {
  /** The temporary folder holding the config (at `configFile`) and `cdktf.out`. */
  readonly dir: string;
  /** `cdktf.out/stacks/<stack>`: where Terraform runs. */
  readonly stackDir: string;
  readonly stack: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly tf: any;
}

/** Writes the config to `<tmp>/<configFile>`, loads it and synthesizes it into `<tmp>/cdktf.out` like `npm run synth`. */
export function synthConfig(text: string, { configFile = "tcp-addon.yaml", state }: { configFile?: string; state?: StateSpec } = {}): Synthesized {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-team-"));
  const file = path.join(dir, configFile);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  const config = loadConfig(file);
  const stack = stackName(config);
  const app = new App({ outdir: path.join(dir, "cdktf.out") });
  new TcpAddonStack(app, stack, { config, ...(state === undefined ? {} : { state }) });
  app.synth();
  const stackDir = path.join(dir, "cdktf.out", "stacks", stack);
  return { dir, stackDir, stack, tf: JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) };
}
