import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The CLI as users run it: real processes through tsx (`npm run ...`) and through bin/tcp-addon.js. */

const REPO = path.resolve(__dirname, "../..");
const TSX = path.join(REPO, "node_modules", ".bin", "tsx");
const MAIN = path.join(REPO, "cli", "main.ts");
const BIN = path.join(REPO, "bin", "tcp-addon.js");

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { cwd, env: { ...process.env, TCP_ADDON_CONFIG: "", ...env }, timeout: 30_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const cli = (args: readonly string[], env?: NodeJS.ProcessEnv, cwd?: string) => run(TSX, [MAIN, ...args], env, cwd);

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-cli-"));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("tcp-addon (real processes)", () => {
  it("validate accepts the example config and names its apps", async () => {
    const result = await cli(["validate"]);
    expect(result).toMatchObject({ code: 0, stdout: "ok: 1 app (mqtt)\n" });
  });

  it("validate prints one line per problem on stderr and exits 1", async () => {
    const config = path.join(dir, "bad.yaml");
    fs.writeFileSync(
      config,
      [
        "project: acme",
        "region: eu-west-1",
        "apps:",
        "  mqtt: { image: i, command: c, plan: tcp-2k }",
        "  web: { image: i, command: c, cpu: 256, memory: 4096 }",
      ].join("\n"),
    );
    const result = await cli(["validate", "--config", config]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/bad\.yaml:4: apps\.mqtt\.plan: unknown plan "tcp-2k"; known: /),
      expect.stringMatching(/bad\.yaml:5: apps\.web\.memory: 4096 MiB is not a valid memory size with cpu 256/),
    ]);
  });

  it("plans --containers 4 prints 1.5 MB/s per container, 6 MB/s in total and the task size 256/512 for tcp-1k", async () => {
    const result = await cli(["plans", "--containers", "4"]);
    expect(result.code).toBe(0);
    const row = result.stdout.split("\n").find((line) => line.startsWith("tcp-1k "));
    // $9.01: 0.25 vCPU x 730 h x $0.04048 + 0.5 GB x 730 h x $0.004445 (eu-west-1, the example's region)
    expect(row?.split(/\s{2,}/)).toEqual(["tcp-1k", "1,000", "1.5 MB/s", "6 MB/s", "256/512", "$9.01"]);
  });

  it("urls prints each app's TCP_URL from a cdktf outputs file", async () => {
    const outputs = path.join(dir, "outputs.json");
    fs.writeFileSync(
      outputs,
      JSON.stringify({ acme: { mqtt: { TcpUrl: "tcp://acme-nlb-0-0123456789.elb.eu-west-1.amazonaws.com:25707" } } }),
    );
    const result = await cli(["urls", "--outputs", outputs]);
    expect(result).toMatchObject({
      code: 0,
      stdout: "mqtt  tcp://acme-nlb-0-0123456789.elb.eu-west-1.amazonaws.com:25707\n",
    });
  });

  it("rejects an unknown flag with one line and the command's usage, exit 2", async () => {
    const result = await cli(["plans", "--bogus"]);
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")[0]).toBe("tcp-addon: Unknown option '--bogus'");
    expect(result.stderr).toContain("Usage: tcp-addon plans [--containers N] [--config FILE]");
  });

  it("runs from the package bin and honours TCP_ADDON_CONFIG", async () => {
    const config = path.join(dir, "other.json");
    fs.writeFileSync(config, JSON.stringify({ project: "x", region: "eu-west-1", apps: { one: { image: "i", command: "c" } } }));
    const result = await run(process.execPath, [BIN, "validate"], { TCP_ADDON_CONFIG: config });
    expect(result).toMatchObject({ code: 0, stdout: "ok: 1 app (one)\n" });
  });

  it("hands `local` to local mode", async () => {
    const result = await run(process.execPath, [BIN, "local", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: tcp-addon local /);
  });
});
