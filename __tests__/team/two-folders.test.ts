import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LOCAL_STATE_NOTICE } from "../../config/state";
import { readTree } from "../synth/tree";

/**
 * A stack synthesized in CI deploys from another checkout: the same config synthesized by
 * `main.ts` in two checkouts at different paths gives byte-identical output, holding no path of
 * either. Each checkout is a copy of what synth reads (main.ts, ground/, config/, constructs/, runtime/,
 * the example config and the example app's folder, which it builds) with node_modules linked in.
 */

const REPO = path.resolve(__dirname, "..", "..");
const COPIED = ["main.ts", "tsconfig.json", "package.json", "tcp-addon.yaml", "ground", "config", "constructs", "runtime", "examples/mqtt"];
const ENV_CONFIG = [
  "project: acme",
  "environment: prod",
  "region: eu-west-1",
  "state: { local: { path: ../state/prod.tfstate } }",
  "apps:",
  "  mqtt: { image: example/mqtt:1, procfile: ../examples/mqtt/Procfile }",
  "",
].join("\n");

function checkout(root: string, name: string): string {
  const dir = path.join(root, name, "tcp-addon");
  for (const rel of COPIED) {
    fs.cpSync(path.join(REPO, rel), path.join(dir, rel), { recursive: true, filter: (src) => path.basename(src) !== "node_modules" });
  }
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  fs.mkdirSync(path.join(dir, "envs"));
  fs.writeFileSync(path.join(dir, "envs", "prod.yaml"), ENV_CONFIG);
  return dir;
}

function synth(cwd: string, configFile?: string): Promise<{ code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CDKTF_OUTDIR;
  delete env.TCP_ADDON_CONFIG;
  if (configFile !== undefined) env.TCP_ADDON_CONFIG = configFile;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

let root: string;
let first: string;
let second: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-two-folders-"));
  first = checkout(root, "alice");
  second = checkout(root, "ci-runner-42");
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe.each([
  ["the example tcp-addon.yaml (local state, agent image built)", undefined, "acme"],
  ["envs/prod.yaml (environment, local state outside the config's folder)", "envs/prod.yaml", "acme-prod"],
])("%s synthesized in two checkouts", (_what, configFile, stack) => {
  let a: Record<string, string>;
  let b: Record<string, string>;
  beforeAll(async () => {
    for (const dir of [first, second]) fs.rmSync(path.join(dir, "cdktf.out"), { recursive: true, force: true });
    const [ra, rb] = await Promise.all([synth(first, configFile), synth(second, configFile)]);
    expect([ra, rb]).toEqual([
      { code: 0, stderr: configFile === undefined ? `${LOCAL_STATE_NOTICE}\n` : "" },
      { code: 0, stderr: configFile === undefined ? `${LOCAL_STATE_NOTICE}\n` : "" },
    ]);
    a = readTree(path.join(first, "cdktf.out"));
    b = readTree(path.join(second, "cdktf.out"));
  }, 120_000);

  it("writes the same files, byte for byte", () => {
    expect(Object.keys(a).sort()).toEqual(["manifest.json", path.join("stacks", stack, "cdk.tf.json")].sort());
    expect(b).toEqual(a);
  });

  it("holds no absolute path of the machine, in the resources or in cdktf's // metadata", () => {
    const text = Object.values(a).join("\n");
    for (const absolute of [first, fs.realpathSync(first), REPO, os.tmpdir(), os.homedir()]) expect(text).not.toContain(absolute);
    expect(text).not.toMatch(/"\/(tmp|home|root|work|Users|var)\//);
  });

  it("points the backend and the image builds at the checkout through relative paths", () => {
    const stackDir = path.join(first, "cdktf.out", "stacks", stack);
    const tf = JSON.parse(a[path.join("stacks", stack, "cdk.tf.json")]);
    const statePath = path.resolve(stackDir, tf.terraform.backend.local.path);
    expect(statePath).toBe(configFile === undefined ? path.join(first, "terraform.acme.tfstate") : path.join(first, "state", "prod.tfstate"));
    // The image builds: the terraform_data with a provisioner (the other one is the load balancer's address mode).
    const builds = Object.entries(tf.resource.terraform_data as Record<string, { provisioner?: { "local-exec": { working_dir: string } }[] }>)
      .filter(([, build]) => build.provisioner !== undefined);
    const workingDirs = Object.fromEntries(builds.map(([id, build]) => [id.replace(/_[0-9A-F]{8}$/, ""), build.provisioner![0]["local-exec"].working_dir]));
    // The agent's image from the checkout's root; the example's app (build: examples/mqtt) from its folder.
    expect(workingDirs).toEqual(configFile === undefined ? { Platform_AgentImage_Build: "../../..", mqtt_Image_Build: "../../../examples/mqtt" } : { Platform_AgentImage_Build: "../../.." });
    expect(fs.existsSync(path.join(stackDir, workingDirs.Platform_AgentImage_Build, "runtime", "Dockerfile"))).toBe(true);
    if (configFile === undefined) expect(fs.existsSync(path.join(stackDir, workingDirs.mqtt_Image_Build, "Dockerfile"))).toBe(true);
  });
});
