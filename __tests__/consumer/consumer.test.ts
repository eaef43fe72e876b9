import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hashSources } from "../../constructs/agent-image";

/**
 * tcp-addon as another CDKTF project uses it: `npm pack` (which builds lib/ through `prepare`),
 * the tarball installed into a project shaped like `cdktf init --template=typescript`
 * (./project: its tsconfig, cdktf.json, jest config and setup.js, plus a stack and a test),
 * then that project's own `tsc --noEmit`, `ts-node main.ts` and jest.
 *
 * Hermetic: the repository is packed from a copy (so this repository's lib/ is never rewritten
 * under other tests), the tarball is installed with `npm install --prefer-offline` without its
 * peers (from the npm cache; the registry only for what the cache lacks), and the peers (cdktf, constructs, the provider) and
 * the consumer's tools are linked from this repository's node_modules. To run the consumer on
 * other peer versions, point TCP_ADDON_CONSUMER_PEERS at a node_modules folder holding cdktf,
 * constructs and @cdktf/provider-aws (for example after `npm install constructs@10.4.2
 * @cdktf/provider-aws@21.0.0 cdktf@0.21.0` in an empty folder).
 */

const REPO = path.resolve(__dirname, "../..");
const PROJECT = path.join(__dirname, "project");
const REPO_MODULES = path.join(REPO, "node_modules");
const PEERS = process.env.TCP_ADDON_CONSUMER_PEERS ?? REPO_MODULES;
/** The provider's folder under node_modules (its package name, as a path). */
const PROVIDER = path.posix.join("@cdktf", "provider-aws");
const PEER_PACKAGES = ["cdktf", "constructs", PROVIDER];
const TOOL_PACKAGES = ["typescript", "ts-node", "ts-jest", "@types/node", "@types/jest"];
/** What a copy of the repository leaves out: installs, build output, synth output, VCS. */
const NOT_COPIED = new Set(["node_modules", "lib", "dist", "cdktf.out", ".git", "coverage", ".terraform"]);
const STEP_TIMEOUT_MS = 240_000;

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file <args>` in `cwd` with jest's own variables removed from the environment. */
function run(file: string, args: readonly string[], cwd: string): Promise<Result> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("JEST_")));
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { cwd, env, timeout: STEP_TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const node = (args: readonly string[], cwd: string) => run(process.execPath, args, cwd);
const npm = (args: readonly string[], cwd: string) => run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], cwd);

function link(from: string, packageName: string, intoModules: string): void {
  const target = path.join(from, packageName);
  if (!fs.existsSync(target)) throw new Error(`${target} is missing: install ${packageName} there`);
  const linkPath = path.join(intoModules, packageName);
  fs.mkdirSync(path.dirname(linkPath), { recursive: true });
  fs.symlinkSync(target, linkPath, "dir");
}

interface Packed {
  readonly filename: string;
  readonly size: number;
  readonly entryCount: number;
  readonly files: readonly { path: string }[];
}

let tmp: string;
let consumer: string;
let packed: Packed;
let installed: string;

beforeAll(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-consumer-")));

  // The repository as committed and edited, without what a build or an install adds.
  const src = path.join(tmp, "src");
  fs.cpSync(REPO, src, { recursive: true, filter: (file) => !NOT_COPIED.has(path.basename(file)) });
  fs.symlinkSync(REPO_MODULES, path.join(src, "node_modules"), "dir");
  const pack = await npm(["pack", "--json", "--pack-destination", tmp], src);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.stderr}`);
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[\n"))) as Packed[])[0]!;

  // The tarball and its own dependencies, the way npm installs them, without the peers.
  const staging = path.join(tmp, "staging");
  fs.mkdirSync(staging);
  const install = await npm(
    ["install", path.join(tmp, packed.filename), "--prefer-offline", "--legacy-peer-deps", "--ignore-scripts", "--no-package-lock"],
    staging,
  );
  if (install.code !== 0) throw new Error(`npm install of the tarball failed:\n${install.stderr}`);

  // The consumer: cdktf's typescript template, the tarball's install, linked peers and tools.
  consumer = path.join(tmp, "shop");
  fs.cpSync(PROJECT, consumer, { recursive: true });
  fs.renameSync(path.join(staging, "node_modules"), path.join(consumer, "node_modules"));
  const modules = path.join(consumer, "node_modules");
  for (const name of PEER_PACKAGES) link(PEERS, name, modules);
  for (const name of TOOL_PACKAGES) link(REPO_MODULES, name, modules);
  installed = path.join(modules, "tcp-addon");
}, STEP_TIMEOUT_MS * 3);

afterAll(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("npm pack", () => {
  const ALLOWED = [
    /^(package\.json|README\.md|LICENSE|CHANGELOG\.md)$/,
    /^lib\/.+\.(js|d\.ts)$/,
    /^bin\/tcp-addon(-agent)?\.js$/,
    /^dist\/tcp-addon-agent\.js$/,
    /^runtime\/Dockerfile(\.dockerignore)?$/,
    /^runtime\/agent\/[A-Za-z-]+\.(ts|md)$/,
    /^schema\/tcp-addon\.schema\.json$/,
  ];

  it("holds only the compiled API, the bins, the agent bundle, sources and Dockerfile, the config's JSON Schema, README, CHANGELOG and LICENSE", () => {
    const unexpected = packed.files.map((f) => f.path).filter((p) => !ALLOWED.some((re) => re.test(p)));
    expect(unexpected).toEqual([]);
  });

  it("holds the entry points that package.json names", () => {
    const paths = new Set(packed.files.map((f) => f.path));
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as Record<string, unknown>;
    const named = [manifest.main, manifest.types, ...Object.values(manifest.bin as Record<string, string>)];
    const exported = Object.values(manifest.exports as Record<string, string | Record<string, string>>).flatMap((e) =>
      typeof e === "string" ? [e] : Object.values(e),
    );
    for (const file of [...named, ...exported].map((f) => String(f).replace(/^\.\//, ""))) expect(paths).toContain(file);
    expect(paths).toContain("runtime/agent/main.ts");
  });

  it("ships the config's JSON Schema (for the YAML language server) and the changelog", () => {
    const paths = new Set(packed.files.map((f) => f.path));
    expect(paths).toContain("schema/tcp-addon.schema.json");
    expect(paths).toContain("CHANGELOG.md");
    const shipped = JSON.parse(fs.readFileSync(path.join(installed, "schema", "tcp-addon.schema.json"), "utf8")) as { title?: string };
    expect(shipped.title).toBe("tcp-addon.yaml");
  });

  it("is not private and takes cdktf, constructs and the provider as peers", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.peerDependencies as object).sort()).toEqual([PROVIDER, "cdktf", "constructs"].sort());
    expect(Object.keys(manifest.dependencies as object)).not.toEqual(expect.arrayContaining(["cdktf"]));
  });
});

describe("a project made by cdktf init --template=typescript", () => {
  it("type-checks under the template's tsconfig (lib es2018, CommonJS)", async () => {
    const result = await node([path.join(REPO_MODULES, "typescript", "bin", "tsc"), "--noEmit", "-p", "."], consumer);
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  }, STEP_TIMEOUT_MS);

  it("synthesizes its app under ts-node: its own stack and a whole config file", async () => {
    const result = await node([path.join(consumer, "node_modules", "ts-node", "dist", "bin.js"), "main.ts"], consumer);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const shop = readStack("shop");
    expect(Object.values(shop.resource.aws_lb_listener ?? {}).map((l) => l.port)).toEqual([1883]);
    expect(Object.values(shop.resource.aws_ecs_service ?? {}).map((s) => s.network_configuration)).toEqual([
      expect.objectContaining({ subnets: ["subnet-0c", "subnet-0d"] }),
    ]);
    expect(Object.values(readStack("acme").resource.aws_lb_listener ?? {}).map((l) => l.port)).toEqual([30000]);
  }, STEP_TIMEOUT_MS);

  it("builds the agent image from the sources inside node_modules/tcp-addon, tagged as in a clone", () => {
    const build = Object.values(readStack("shop").resource.terraform_data ?? {})[0]!;
    const exec = build.provisioner[0]!["local-exec"];
    // Relative to the stack's folder, so the stack deploys from another checkout.
    const workingDir = path.resolve(consumer, "cdktf.out", "stacks", "shop", exec.working_dir);
    expect(fs.realpathSync(workingDir)).toBe(fs.realpathSync(installed));
    expect(fs.existsSync(path.join(workingDir, "runtime", "Dockerfile"))).toBe(true);
    const sources = ["runtime/Dockerfile", "runtime/Dockerfile.dockerignore", "runtime/agent"];
    expect(build.input.image).toMatch(new RegExp(`:src-${hashSources(REPO, sources)}$`));
  });

  it("has every file the Dockerfile's build stage copies: the agent bundles from them", async () => {
    // What `docker build -f runtime/Dockerfile .` does in its first stage, from the working_dir above.
    const context = path.join(tmp, "docker-build");
    fs.cpSync(path.join(installed, "runtime", "agent"), path.join(context, "runtime", "agent"), { recursive: true });
    fs.symlinkSync(REPO_MODULES, path.join(context, "node_modules"), "dir");
    const bundle = await node([path.join(REPO_MODULES, "tsx", "dist", "cli.mjs"), "runtime/agent/build.ts"], context);
    expect(bundle.code).toBe(0);
    const help = await node([path.join(context, "dist", "tcp-addon-agent.js"), "--help"], context);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--pps");
  }, STEP_TIMEOUT_MS);

  it("passes its jest test written with cdktf's matchers (Testing.setupJest, toHaveResourceWithProperties)", async () => {
    const jest = path.join(REPO_MODULES, "jest", "bin", "jest.js");
    const result = await node([jest, "--ci", "--runInBand", "--watchman=false", "--cacheDirectory", path.join(tmp, "jest-cache")], consumer);
    expect(result.stderr).toMatch(/Tests:\s+3 passed, 3 total/);
    expect(result.code).toBe(0);
  }, STEP_TIMEOUT_MS);

  it("runs the tcp-addon bin from node_modules/.bin on the compiled CLI", async () => {
    const result = await node([path.join(consumer, "node_modules", ".bin", "tcp-addon"), "validate"], consumer);
    expect(result).toMatchObject({ code: 0, stdout: "ok: 1 app (game)\n" });
  }, STEP_TIMEOUT_MS);

  it("runs the tcp-addon-agent bin from node_modules/.bin on the bundle, without tsx", async () => {
    const result = await node([path.join(consumer, "node_modules", ".bin", "tcp-addon-agent"), "--help"], consumer);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("--pps");
    expect(result.code).toBe(0);
  }, STEP_TIMEOUT_MS);
});

describe("docs/constructs.md", () => {
  it('shows the consumer project line for line in "Use the constructs in your own CDKTF project"', () => {
    const section = fs.readFileSync(path.join(REPO, "docs", "constructs.md"), "utf8");
    expect(section.startsWith("# Use the constructs in your own CDKTF project\n")).toBe(true);
    const shown = new Map<string, string>();
    for (const m of section.matchAll(/\*\*`([^`]+)`\*\*[^\n]*\n+```[a-z]*\n([\s\S]*?)```/g)) shown.set(m[1]!, m[2]!);
    expect([...shown.keys()].sort()).toEqual(["__tests__/stack-test.ts", "main.ts", "stack.ts", "tcp-addon.yaml"]);
    for (const [file, text] of shown) expect(text).toBe(fs.readFileSync(path.join(PROJECT, file), "utf8"));
  });
});

interface StackJson {
  resource: {
    aws_lb_listener?: Record<string, { port: number }>;
    aws_ecs_service?: Record<string, { network_configuration: unknown }>;
    terraform_data?: Record<string, { input: { image: string }; provisioner: { "local-exec": { working_dir: string } }[] }>;
  };
}

function readStack(name: string): StackJson {
  return JSON.parse(fs.readFileSync(path.join(consumer, "cdktf.out", "stacks", name, "cdk.tf.json"), "utf8")) as StackJson;
}
