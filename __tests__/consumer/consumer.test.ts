import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hashSources } from "../../constructs/agent-image";
import { codeBlocks, docSection, shellLines } from "../helpers/docs";
import { runProcess, type RunResult } from "../helpers/run";

/**
 * tcp-addon as another CDKTF project uses it, exactly as the docs' section "Use the constructs in
 * your own CDKTF project" says: its first `sh` block runs as written, from a copy of this
 * repository (`npm pack`, the real `cdktf init --template=typescript --local` of cdktf-cli from the
 * registry, the npm installs), its files (**`stack.ts`** and the others) are written into the new
 * project, and each line of its last `sh` block runs there and must do what its comment says.
 * Nothing is linked from this repository's node_modules: the project has what the steps install.
 *
 * Needs the npm registry (a few minutes: cdktf-cli, TypeScript, jest, the AWS provider). Without
 * it this prints one skipped line, and fails under CI=true. TCP_ADDON_CONSUMER_PEER_VERSIONS
 * (for example "cdktf@0.21.0 constructs@10.4.2 @cdktf/provider-aws@21.0.0") installs those peer
 * versions after the steps, to run the same checks on the lowest versions the package accepts.
 */

const REPO = path.resolve(__dirname, "../..");
const REPO_MODULES = path.join(REPO, "node_modules");
const SECTION = "Use the constructs in your own CDKTF project";
/** What a copy of the repository leaves out: installs, build output, synth output, VCS. */
const NOT_COPIED = new Set(["node_modules", "lib", "dist", "cdktf.out", ".git", "coverage", ".terraform", "test-output"]);
/** The setup installs from the registry: cdktf-cli alone is hundreds of packages. */
const SETUP_TIMEOUT_MS = 15 * 60_000;
const STEP_TIMEOUT_MS = 5 * 60_000;

const section = docSection(SECTION);
const blocks = codeBlocks(section.text);
const shellBlocks = blocks.filter((b) => b.lang === "sh");
const setupBlock = shellBlocks[0]!;
const checkBlock = shellBlocks[shellBlocks.length - 1]!;
const projectFiles = blocks.filter((b) => b.file !== undefined);

/**
 * The environment of a new shell: no jest or npm-script variables, and no node_modules/.bin of
 * this repository on the PATH (`npm test` puts it there, and `npx cdktf` would find this
 * repository's cdktf-cli instead of failing as it does in a project without one).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("JEST_") && !name.toLowerCase().startsWith("npm_") && name !== "INIT_CWD"),
  );
  env.PATH = (process.env.PATH ?? "").split(path.delimiter).filter((dir) => !dir.includes(`node_modules${path.sep}.bin`)).join(path.delimiter);
  return env;
}

function bash(script: string, cwd: string, timeoutMs = STEP_TIMEOUT_MS): Promise<RunResult> {
  return runProcess("bash", ["-c", script], { cwd, env: userEnv(), timeoutMs, replaceEnv: true });
}

let tmp: string;
let shop: string;
let setup: RunResult;
let skipped = false;

beforeAll(async () => {
  // `npm ping`: the registry answers (CI has it; a machine without network skips, in one line).
  if ((await bash("npm ping", REPO, 60_000)).code !== 0) {
    if (process.env.CI === "true") throw new Error("the npm registry does not answer (npm ping), and CI=true");
    console.log("skipped: the npm registry does not answer (npm ping): the consumer project from cdktf init");
    skipped = true;
    return;
  }
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-consumer-")));
  // A clone as committed and edited, without what a build or an install adds; `npm pack` builds
  // lib/ there (prepare) with this repository's tools.
  const clone = path.join(tmp, "tcp-addon");
  fs.cpSync(REPO, clone, { recursive: true, filter: (file) => !NOT_COPIED.has(path.basename(file)) });
  fs.symlinkSync(REPO_MODULES, path.join(clone, "node_modules"), "dir");

  const cwdFile = path.join(tmp, "cwd-after-setup");
  const script = ["set -euo pipefail", ...shellLines(setupBlock).map((l) => l.command), `pwd > ${JSON.stringify(cwdFile)}`].join("\n");
  setup = await bash(script, clone, SETUP_TIMEOUT_MS);
  if (setup.code !== 0) return;
  shop = fs.readFileSync(cwdFile, "utf8").trim();
  for (const { file, text } of projectFiles) {
    fs.mkdirSync(path.dirname(path.join(shop, file!)), { recursive: true });
    fs.writeFileSync(path.join(shop, file!), text);
  }
  const peers = process.env.TCP_ADDON_CONSUMER_PEER_VERSIONS;
  if (peers !== undefined && peers !== "") {
    const install = await bash(`npm install --save-exact ${peers}`, shop, SETUP_TIMEOUT_MS);
    if (install.code !== 0) throw new Error(`npm install ${peers} failed:\n${install.stderr}`);
  }
}, SETUP_TIMEOUT_MS + 120_000);

afterAll(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Each test needs the steps to have run; without the registry they pass as skipped (one line above). */
function ready(): boolean {
  if (skipped) return false;
  if (setup.code !== 0) throw new Error(`the setup steps failed (exit ${setup.code}):\n${setup.stdout.slice(-4000)}\n${setup.stderr.slice(-4000)}`);
  return true;
}

describe(`"${SECTION}" (${section.file}), run as written: cdktf init, npm installs from the registry, synth, jest`, () => {
  it("has the setup block, the project files and the check block", () => {
    expect(shellLines(setupBlock).map((l) => l.command)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^npm pack/), expect.stringMatching(/^npx (--yes )?cdktf-cli@[\d.]+ init --template=typescript --local /)]),
    );
    expect(projectFiles.map((b) => b.file).sort()).toEqual(["__tests__/main-test.ts", "main.ts", "stack.ts", "tcp-addon.yaml"]);
    expect(shellLines(checkBlock).map((l) => l.command)).toEqual(expect.arrayContaining(["npx cdktf synth", "npx jest"]));
  });

  it("sets the project up from a real cdktf init: the steps exit 0, with TypeScript 5 and cdktf-cli in the project", () => {
    if (!ready()) return;
    const version = (name: string) => (JSON.parse(fs.readFileSync(path.join(shop, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    // cdktf init writes typescript ^7, whose package has no JavaScript compiler API for ts-node
    // and ts-jest (TypeStrong/ts-node#2174: "TypeError: Cannot read properties of undefined
    // (reading 'fileExists')"; kulshekhar/ts-jest#5366, its maintainer: "TypeScript 7 currently
    // lacks the JavaScript compiler API ts-jest relies on"): the steps pin 5.x.
    expect(version("typescript")).toMatch(/^5\./);
    expect(version("cdktf-cli")).toMatch(/^0\.21\./);
    expect(fs.existsSync(path.join(shop, "cdktf.json"))).toBe(true);
    expect(fs.realpathSync(path.join(shop, "node_modules", "tcp-addon"))).not.toContain(REPO);
  });

  it("packs only the compiled API, the bins, the agent bundle, sources and Dockerfile, the config's JSON Schema, the prices, README, CHANGELOG and LICENSE", async () => {
    if (!ready()) return;
    const tarball = fs.readdirSync(tmp).find((f) => f.endsWith(".tgz"))!;
    const listing = await bash(`tar -tzf ${JSON.stringify(path.join(tmp, tarball))}`, tmp);
    const files = listing.stdout.split("\n").filter((l) => l !== "").map((l) => l.replace(/^package\//, ""));
    const ALLOWED = [
      /^(package\.json|README\.md|LICENSE|CHANGELOG\.md)$/,
      /^lib\/.+\.(js|d\.ts)$/,
      /^bin\/tcp-addon(-agent)?\.js$/,
      /^dist\/tcp-addon-agent\.js$/,
      /^runtime\/Dockerfile(\.dockerignore)?$/,
      /^runtime\/agent\/[A-Za-z-]+\.(ts|md)$/,
      /^schema\/tcp-addon\.schema\.json$/,
      /^prices\/aws-prices\.json$/,
    ];
    expect(files).toEqual(expect.arrayContaining(["schema/tcp-addon.schema.json", "prices/aws-prices.json", "CHANGELOG.md"]));
    expect(files.filter((p) => !ALLOWED.some((re) => re.test(p)))).toEqual([]);
    // and every entry point package.json names
    const manifest = JSON.parse(fs.readFileSync(path.join(shop, "node_modules", "tcp-addon", "package.json"), "utf8")) as Record<string, unknown>;
    const named = [manifest.main, manifest.types, ...Object.values(manifest.bin as Record<string, string>)];
    const exported = Object.values(manifest.exports as Record<string, string | Record<string, string>>).flatMap((e) => (typeof e === "string" ? [e] : Object.values(e)));
    for (const file of [...named, ...exported].map((f) => String(f).replace(/^\.\//, ""))) expect(files).toContain(file);
    expect(files).toContain("runtime/agent/main.ts");
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.peerDependencies as object).sort()).toEqual(["@cdktf/provider-aws", "cdktf", "constructs"]);
  });

  const checks = shellLines(checkBlock);
  it.each(checks.map((c) => [c.command, c.comment] as const))("`%s` (%s)", async (command, comment) => {
    if (!ready()) return;
    const result = await bash(command, shop);
    const output = `${result.stdout}\n${result.stderr}`;
    if (result.code !== 0) throw new Error(`\`${command}\` exited ${result.code}:\n${output.slice(-6000)}`);
    if (command === "npx tsc --noEmit") {
      expect(output.trim()).toBe("");
    } else if (command === "npx cdktf synth") {
      const shopStack = readStack("shop");
      expect(Object.values(shopStack.resource.aws_lb_listener ?? {}).map((l) => l.port)).toEqual([1883]);
      expect(Object.values(shopStack.resource.aws_ecs_service ?? {}).map((s) => s.network_configuration)).toEqual([
        expect.objectContaining({ subnets: ["subnet-0c", "subnet-0d"] }),
      ]);
      expect(Object.values(readStack("acme").resource.aws_lb_listener ?? {}).map((l) => l.port)).toEqual([30000]);
    } else if (command === "npx jest") {
      const [, passed] = /^(\d+) passed$/.exec(comment) ?? [];
      expect(passed).toBeDefined();
      expect(result.stderr).toMatch(new RegExp(`Tests:\\s+${passed} passed, ${passed} total`));
    } else if (command.startsWith("npx tcp-addon ")) {
      // the comment ends with what the command prints: "...: ok: 1 app (game)"
      const printed = /: (ok: .*)$/.exec(comment)?.[1];
      expect(result.stdout).toBe(`${printed}\n`);
    }
  }, STEP_TIMEOUT_MS);

  it("builds the agent image from the sources inside node_modules/tcp-addon, tagged as in a clone", () => {
    if (!ready()) return;
    // The terraform_data with a provisioner (the other one is the load balancer's address mode).
    const build = Object.values(readStack("shop").resource.terraform_data ?? {}).find((r) => r.provisioner !== undefined)!;
    const exec = build.provisioner[0]!["local-exec"];
    // Relative to the stack's folder, so the stack deploys from another checkout.
    const workingDir = path.resolve(shop, "cdktf.out", "stacks", "shop", exec.working_dir);
    const installed = path.join(shop, "node_modules", "tcp-addon");
    expect(fs.realpathSync(workingDir)).toBe(fs.realpathSync(installed));
    expect(fs.existsSync(path.join(workingDir, "runtime", "Dockerfile"))).toBe(true);
    const sources = ["runtime/Dockerfile", "runtime/Dockerfile.dockerignore", "runtime/agent"];
    expect(build.input.image).toMatch(new RegExp(`:src-${hashSources(REPO, sources)}$`));
  });

  it("has every file the Dockerfile's build stage copies: the agent bundles from them", async () => {
    if (!ready()) return;
    // What `docker build -f runtime/Dockerfile .` does in its first stage, from the working_dir above.
    const context = path.join(tmp, "docker-build");
    fs.cpSync(path.join(shop, "node_modules", "tcp-addon", "runtime", "agent"), path.join(context, "runtime", "agent"), { recursive: true });
    fs.symlinkSync(REPO_MODULES, path.join(context, "node_modules"), "dir");
    const bundle = await runProcess(process.execPath, [path.join(REPO_MODULES, "tsx", "dist", "cli.mjs"), "runtime/agent/build.ts"], { cwd: context, timeoutMs: STEP_TIMEOUT_MS });
    expect(bundle.code).toBe(0);
    const help = await runProcess(process.execPath, [path.join(context, "dist", "tcp-addon-agent.js"), "--help"], { cwd: context, timeoutMs: STEP_TIMEOUT_MS });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--pps");
  }, STEP_TIMEOUT_MS);

  it("runs the tcp-addon-agent bin from node_modules/.bin on the bundle, without tsx", async () => {
    if (!ready()) return;
    const result = await bash("npx tcp-addon-agent --help", shop);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("--pps");
    expect(result.code).toBe(0);
  }, STEP_TIMEOUT_MS);
});

interface StackJson {
  resource: {
    aws_lb_listener?: Record<string, { port: number }>;
    aws_ecs_service?: Record<string, { network_configuration: unknown }>;
    terraform_data?: Record<string, { input: { image: string }; provisioner: { "local-exec": { working_dir: string } }[] }>;
  };
}

function readStack(name: string): StackJson {
  return JSON.parse(fs.readFileSync(path.join(shop, "cdktf.out", "stacks", name, "cdk.tf.json"), "utf8")) as StackJson;
}
