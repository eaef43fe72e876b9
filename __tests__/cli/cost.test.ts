import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main, type CliIo } from "../../cli/main";

/** `tcp-addon cost`: the estimate, its flags and its errors, in-process; and the bin on the example. */

const REPO = path.resolve(__dirname, "../..");
let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-cost-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(args: readonly string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(...l.split("\n")), err: (l) => err.push(...l.split("\n")), env: {}, cwd: dir };
  return { code: await main(args, io), out, err };
}

function writeConfig(region: string): void {
  fs.writeFileSync(path.join(dir, "tcp-addon.yaml"), JSON.stringify({ project: "acme", region, apps: { mqtt: { image: "i", command: "node server.js" } } }));
}

describe("tcp-addon cost", () => {
  it("--help describes every flag", async () => {
    const result = await cli(["cost", "--help"]);
    expect(result.code).toBe(0);
    for (const flag of ["--config FILE", "--traffic PERCENT", "--nat-gateways N", "--hours N"]) expect(result.out.join("\n")).toContain(flag);
  });

  it("prints the assumptions, a line per priced item, each app and the total", async () => {
    writeConfig("us-east-1");
    const result = await cli(["cost"]);
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe("Monthly estimate in us-east-1, USD list prices from prices/aws-prices.json (no free tier, no Savings Plans, no tax)");
    expect(result.out[1]).toMatch(/^Assumptions: 730 hours a month; traffic 25 % of each plan's full rate/);
    expect(result.out).toContainEqual(expect.stringMatching(/^mqtt: \$\d+\.\d\d$/));
    expect(result.out.at(-1)).toMatch(/^total: \$\d{1,3}(,\d{3})*\.\d\d a month$/);
  });

  it("--traffic sets the share of each plan's rate: 5 % sends a fifth of what 25 % sends", async () => {
    writeConfig("eu-west-1");
    const transfer = (lines: string[]) => Number(/\$([\d,.]+)$/.exec(lines.find((l) => l.includes("Data transfer out"))!)![1].replace(/,/g, ""));
    const quarter = transfer((await cli(["cost"])).out);
    const twentieth = transfer((await cli(["cost", "--traffic", "5"])).out);
    expect(twentieth).toBeCloseTo(quarter / 5, 1);
  });

  it("a region without prices is one line and exit 1", async () => {
    writeConfig("ap-south-2");
    const result = await cli(["cost"]);
    expect(result.code).toBe(1);
    expect(result.err).toEqual(["tcp-addon: no prices for region ap-south-2 in prices/aws-prices.json; regions with prices: us-east-1, eu-west-1"]);
    expect(result.out).toEqual([]);
  });

  it.each([["--traffic", "250"], ["--nat-gateways", "1.5"], ["--hours", "x"]])("%s %s is a usage error (exit 2)", async (flag, value) => {
    writeConfig("eu-west-1");
    const result = await cli(["cost", flag, value]);
    expect(result.code).toBe(2);
    expect(result.err[0]).toMatch(new RegExp(`^tcp-addon: ${flag} expects`));
  });

  it("the bin prices the example config offline (npm run cost)", async () => {
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(REPO, "bin/tcp-addon.js"), "cost"], { cwd: REPO, env: { ...process.env, TCP_ADDON_CONFIG: "" } });
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.on("exit", (code) => resolve({ code, stdout }));
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Monthly estimate in eu-west-1/);
    expect(result.stdout).toMatch(/\ntotal: \$[\d,.]+ a month\n$/);
  });
});
