import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LOCAL_STATE_NOTICE } from "../../config/state";
import { type RunResult, runProcess } from "../helpers/run";
import { AGENT_IMAGE } from "../helpers/images";

/** `tcp-addon synth` and `npm run synth` as real processes; stdout closed early by its reader. */

const REPO = path.resolve(__dirname, "../..");
const BIN = path.join(REPO, "bin", "tcp-addon.js");
const TIMEOUT_MS = 60_000;

const CONFIG = `project: acme
region: eu-west-1
agent: { image: "${AGENT_IMAGE}" }
apps:
  one: { image: "example/one:1", command: "node one.js" }
  two: { image: "example/two:1", command: "node two.js" }
`;

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return runProcess(file, args, { cwd: dir, env, timeoutMs: TIMEOUT_MS });
}

/** Resources in a Terraform JSON file, counted independently of the CLI. */
function resourcesIn(file: string): number {
  const tf = JSON.parse(fs.readFileSync(file, "utf8")) as { resource: Record<string, Record<string, unknown>> };
  return Object.values(tf.resource).reduce((n, byName) => n + Object.keys(byName).length, 0);
}

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-synth-cli-"));
  fs.writeFileSync(path.join(dir, "tcp-addon.yaml"), CONFIG);
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("tcp-addon synth", () => {
  it("writes the stack and prints where, with the number of apps, stacks and resources", async () => {
    const result = await run(process.execPath, [BIN, "synth"], { TCP_ADDON_CONFIG: "", CDKTF_OUTDIR: "" });
    const written = path.join(dir, "cdktf.out", "stacks", "acme", "cdk.tf.json");
    expect(result.stderr).toBe(`${LOCAL_STATE_NOTICE}\n`);
    expect(result.stdout).toBe(`wrote cdktf.out/stacks/acme/cdk.tf.json: 2 apps, 1 stack, ${resourcesIn(written)} resources\n`);
    expect(result.code).toBe(0);
  }, TIMEOUT_MS);

  it("is what npm run synth runs, with the config and output folder from the environment", async () => {
    const out = path.join(dir, "elsewhere");
    const result = await run("npm", ["--prefix", REPO, "run", "--silent", "synth"], {
      TCP_ADDON_CONFIG: path.join(dir, "tcp-addon.yaml"),
      CDKTF_OUTDIR: out,
    });
    expect(result.stdout).toContain(`: 2 apps, 1 stack, ${resourcesIn(path.join(out, "stacks", "acme", "cdk.tf.json"))} resources\n`);
    expect(result.code).toBe(0);
  }, TIMEOUT_MS);

  it("stops at a bad config with one line per problem, exit 1, and writes nothing", async () => {
    fs.writeFileSync(path.join(dir, "tcp-addon.yaml"), CONFIG.replace('command: "node two.js"', 'command: "node two.js", plan: tcp-2k'));
    const result = await run(process.execPath, [BIN, "synth"], { TCP_ADDON_CONFIG: "", CDKTF_OUTDIR: "" });
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(/apps\.two\.plan: unknown plan "tcp-2k"/)]);
    expect(result.code).toBe(1);
    expect(fs.existsSync(path.join(dir, "cdktf.out"))).toBe(false);
  }, TIMEOUT_MS);
});

describe("a reader that closes stdout early (tcp-addon plans | head -1)", () => {
  it("ends the command quietly with exit 0, no EPIPE stack trace", async () => {
    const child = spawn(process.execPath, [BIN, "plans"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the reader is gone before the first line is written
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  }, TIMEOUT_MS);
});
