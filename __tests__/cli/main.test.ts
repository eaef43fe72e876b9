import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PLAN_SIZES } from "../../config/plans";
import { main, type CliIo } from "../../cli/main";

/** The CLI in-process, with its output captured: the cases that need no separate process. */

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-main-"));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(...l.split("\n")), err: (l) => err.push(...l.split("\n")), env, cwd: dir };
  const code = await main(args, io);
  return { code, out, err };
}

function writeConfig(body: Record<string, unknown>, name = "tcp-addon.yaml"): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(body));
  return file;
}

const APP = { image: "i", command: "node server.js" };

describe("tcp-addon usage", () => {
  it("exits 2 with the usage when no command is given", async () => {
    const result = await cli([]);
    expect(result.code).toBe(2);
    expect(result.err[0]).toBe("tcp-addon: missing command");
  });

  it("exits 2 on an unknown command", async () => {
    const result = await cli(["deploy"]);
    expect(result.code).toBe(2);
    expect(result.err[0]).toBe('tcp-addon: unknown command "deploy"');
  });

  it("exits 2 on a stray positional argument", async () => {
    expect((await cli(["validate", "extra"])).code).toBe(2);
  });

  it("prints the usage on stdout for --help, exit 0", async () => {
    const result = await cli(["--help"]);
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe("Usage: tcp-addon <command> [options]");
  });

  it("prints a command's usage for `plans --help`", async () => {
    const result = await cli(["plans", "--help"]);
    expect(result.out[0]).toBe("Usage: tcp-addon plans [--containers N] [--config FILE]");
  });

  it.each(["0", "-1", "two", "1.5"])("rejects --containers %s with exit 2", async (value) => {
    const result = await cli(["plans", `--containers=${value}`]);
    expect(result.code).toBe(2);
  });
});

describe("tcp-addon validate", () => {
  it("reports a missing default config file in one line, exit 1", async () => {
    const result = await cli(["validate"]);
    expect(result.code).toBe(1);
    expect(result.err).toEqual([expect.stringMatching(/tcp-addon\.yaml: config file not found/)]);
  });

  it("counts several apps", async () => {
    writeConfig({ project: "acme", region: "eu-west-1", apps: { a: APP, b: APP } });
    expect((await cli(["validate"])).out).toEqual(["ok: 2 apps (a, b)"]);
  });

  const sizedApp = (cpu: number, memory: number) =>
    "project: acme\nregion: eu-west-1\napps:\n  game:\n    image: i\n    command: node server.js\n" +
    `    plan: tcp-100k\n    cpu: ${cpu}\n    memory: ${memory}\n`;

  it("warns in one line with the file's line and the fix when an app's cpu is below its plan's size, exit 0", async () => {
    fs.writeFileSync(path.join(dir, "tcp-addon.yaml"), sizedApp(256, 512));
    const result = await cli(["validate"]);
    const size = PLAN_SIZES["tcp-100k"];
    expect(result.code).toBe(0);
    expect(result.out).toEqual(["ok: 1 app (game)"]);
    expect(result.err.filter((l) => l.startsWith("warning:"))).toEqual([
      expect.stringMatching(
        new RegExp(`^warning: \\S*tcp-addon\\.yaml:8: apps\\.game\\.cpu: 256 cpu units .* plan tcp-100k .*; set cpu: ${size.cpu} and memory: ${size.memory} or more`),
      ),
    ]);
  });

  it("does not warn when the app's cpu is its plan's size", async () => {
    const size = PLAN_SIZES["tcp-100k"];
    fs.writeFileSync(path.join(dir, "tcp-addon.yaml"), sizedApp(size.cpu, size.memory));
    const result = await cli(["validate"]);
    expect(result.code).toBe(0);
    expect(result.err.filter((l) => l.startsWith("warning:"))).toEqual([]);
  });
});

describe("tcp-addon plans", () => {
  it("shows one container by default", async () => {
    const result = await cli(["plans"]);
    expect(result.out[0]).toMatch(/total \(1 container\)  task size \(cpu\/memory\)  per container a month \(us-east-1\)$/);
    expect(result.out.find((l) => l.startsWith("tcp-100k"))?.split(/\s{2,}/)).toEqual([
      "tcp-100k",
      "100,000",
      "150 MB/s",
      "150 MB/s",
      `${PLAN_SIZES["tcp-100k"].cpu}/${PLAN_SIZES["tcp-100k"].memory}`,
      "$36.04", // 1 vCPU x 730 h x $0.04048 + 2 GB x 730 h x $0.004445 (us-east-1, prices/aws-prices.json)
    ]);
  });

  it("adds the config's own plans after the built-ins", async () => {
    writeConfig({ project: "acme", region: "eu-west-1", plans: { "tcp-50k": { packetsPerSecond: 50000 } }, apps: { a: APP } });
    const result = await cli(["plans", "--containers", "2"]);
    expect(result.out.find((l) => l.startsWith("tcp-50k"))?.split(/\s{2,}/)).toEqual([
      "tcp-50k",
      "50,000",
      "75 MB/s",
      "150 MB/s",
      // Between tcp-20k and tcp-100k: sized as the larger one.
      `${PLAN_SIZES["tcp-100k"].cpu}/${PLAN_SIZES["tcp-100k"].memory}`,
      "$36.04", // the same size at eu-west-1's Fargate rates, equal to us-east-1's
    ]);
  });

  it("says a plan above the largest built-in has no measured size", async () => {
    writeConfig({ project: "acme", region: "eu-west-1", plans: { "tcp-1m": { packetsPerSecond: 1_000_000 } }, apps: { a: APP } });
    const result = await cli(["plans"]);
    expect(result.out.find((l) => l.startsWith("tcp-1m"))?.split(/\s{2,}/).slice(-2)).toEqual(["not measured", "-"]);
  });

  it("falls back to the built-ins with a note when the default config is invalid", async () => {
    writeConfig({ project: "acme", region: "eu-west-1", apps: {} });
    const result = await cli(["plans"]);
    expect(result.code).toBe(0);
    expect(result.err).toEqual([expect.stringMatching(/^note: tcp-addon\.yaml has problems/)]);
    expect(result.out.filter((l) => l.startsWith("tcp-"))).toHaveLength(4);
  });

  it("fails when an explicit --config is invalid", async () => {
    const file = writeConfig({ project: "acme", region: "eu-west-1", apps: {} }, "x.yaml");
    expect((await cli(["plans", "--config", file])).code).toBe(1);
  });
});

describe("tcp-addon urls", () => {
  const config = { project: "acme", region: "eu-west-1", apps: { mqtt: APP, "chat-room": APP } };

  it("reads outputs keyed by Terraform output id", async () => {
    writeConfig(config);
    fs.writeFileSync(
      path.join(dir, "cdktf-outputs.json"),
      JSON.stringify({ acme: { tcp_url_mqtt: "tcp://lb:1", "apps_chat-room_tcp_url_chat_room": "tcp://lb:2" } }),
    );
    const result = await cli(["urls"]);
    expect(result).toMatchObject({ code: 0, out: ["mqtt       tcp://lb:1", "chat-room  tcp://lb:2"] });
  });

  it("reads outputs nested by construct id, as cdktf writes them", async () => {
    writeConfig(config);
    fs.writeFileSync(
      path.join(dir, "cdktf-outputs.json"),
      JSON.stringify({ acme: { "chat-room": { TcpUrl: "tcp://lb:2" }, mqtt: { TcpUrl: "tcp://lb:1" } } }),
    );
    expect((await cli(["urls"])).out).toEqual(["mqtt       tcp://lb:1", "chat-room  tcp://lb:2"]);
  });

  it("names an app that has no output and exits 1", async () => {
    writeConfig(config);
    fs.writeFileSync(path.join(dir, "cdktf-outputs.json"), JSON.stringify({ acme: { tcp_url_mqtt: "tcp://lb:1" } }));
    const result = await cli(["urls"]);
    expect(result.code).toBe(1);
    expect(result.err).toEqual([expect.stringMatching(/^apps\.chat-room: no TCP_URL output in cdktf-outputs\.json/)]);
  });

  it("names the stacks it found when the project's stack is missing", async () => {
    writeConfig(config);
    fs.writeFileSync(path.join(dir, "cdktf-outputs.json"), JSON.stringify({ other: {} }));
    const result = await cli(["urls"]);
    expect(result.err).toEqual([expect.stringMatching(/no stack "acme" \(found: other\)/)]);
  });

  it("tells how to create a missing outputs file", async () => {
    writeConfig(config);
    const result = await cli(["urls"]);
    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      "cdktf-outputs.json: outputs file not found; run `npx cdktf deploy --outputs-file cdktf-outputs.json` first (or pass --outputs FILE)",
    ]);
  });

  it("lists every TCP_URL of the outputs file when there is no config file", async () => {
    fs.writeFileSync(
      path.join(dir, "cdktf-outputs.json"),
      JSON.stringify({ acme: { "chat-room": { TcpUrl: "tcp://lb:2" }, vpc_id: "vpc-1", tcp_url_mqtt_0A1B2C3D: "tcp://lb:1" } }),
    );
    expect((await cli(["urls"])).out).toEqual(["chat-room  tcp://lb:2", "mqtt       tcp://lb:1"]);
  });
});
