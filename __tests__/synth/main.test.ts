import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PLAN_SIZES } from "../../config/plans";
import { LOCAL_STATE_NOTICE } from "../../config/state";
import { readTree } from "./tree";
import { AGENT_IMAGE } from "../helpers/images";

/**
 * `main.ts` as a real process, the way `npm run synth` and `cdktf synth` run it. Every case
 * gets its own folder holding a previous cdktf.out with a marker file; the processes run a
 * few at a time in beforeAll, and each test asserts on one case's outcome.
 */

const MAIN = path.resolve(__dirname, "../../main.ts");
const TSX_LOADER = require.resolve("tsx");
const PROCESS_TIMEOUT_MS = 60_000;
const PARALLEL = 3;

const header = `project: acme\nregion: eu-west-1\nagent: { image: "${AGENT_IMAGE}" }\napps:\n`;
const app = (name: string, extra = "") =>
  `  ${name}:\n    image: example/${name.toLowerCase()}:1\n    procfile: Procfile\n${extra}`;

interface Case {
  readonly config: { file: string; text: string };
  readonly env?: Record<string, string>;
  /** Set TCP_ADDON_CONFIG to the file (else main.ts reads tcp-addon.yaml in its folder). */
  readonly viaEnv?: boolean;
}

const BAD: Record<string, { text: string; path: string }> = {
  "unknown plan": { text: header + app("mqtt", "    plan: tcp-2k\n"), path: "apps.mqtt.plan" },
  "bad app name": { text: header + app("MQTT"), path: "apps.MQTT" },
  "duplicate port": {
    text: header + app("one", "    port: 20003\n") + app("two", "    port: 20003\n"),
    path: "apps.two.port",
  },
  "missing tcp process": {
    text: header + "  mqtt:\n    image: example/mqtt:1\n    procfile: Procfile.web\n",
    path: "apps.mqtt.procfile",
  },
  "bad cpu/memory pair": { text: header + app("mqtt", "    cpu: 256\n    memory: 4096\n"), path: "apps.mqtt.memory" },
  "unknown key": { text: header + app("mqtt", "    imagee: x\n"), path: "apps.mqtt.imagee" },
  "empty apps": { text: header.replace("apps:\n", "apps: {}\n"), path: "apps" },
};

const CASES: Record<string, Case> = {
  ...Object.fromEntries(
    Object.entries(BAD).map(([name, bad]) => [name, { config: { file: "bad.yaml", text: bad.text }, viaEnv: true }]),
  ),
  "default file": { config: { file: "tcp-addon.yaml", text: header + app("mqtt") } },
  "cpu below the plan's size": {
    config: { file: "small.yaml", text: header + app("mqtt", "    plan: tcp-100k\n    cpu: 256\n    memory: 512\n") },
    viaEnv: true,
  },
  "other JSON file in CDKTF_OUTDIR": {
    config: {
      file: "other.json",
      text: JSON.stringify({
        project: "other",
        region: "us-east-1",
        agent: { image: AGENT_IMAGE },
        apps: { game: { image: "example/game:1", command: "./game --tcp", port: 30000 } },
      }),
    },
    viaEnv: true,
    env: { CDKTF_OUTDIR: "custom.out" },
  },
};

interface Outcome {
  readonly dir: string;
  readonly code: number | null;
  readonly stderr: string;
  readonly before: Record<string, string>;
}

let root: string;
const outcomes = new Map<string, Outcome>();

function run(name: string, c: Case): Promise<Outcome> {
  const dir = path.join(root, name.replace(/\W+/g, "-"));
  fs.mkdirSync(path.join(dir, "cdktf.out"), { recursive: true });
  fs.writeFileSync(path.join(dir, "cdktf.out", "marker"), `previous output of ${name}\n`);
  fs.writeFileSync(path.join(dir, "Procfile"), "web: npm start\ntcp: node server.js\n");
  fs.writeFileSync(path.join(dir, "Procfile.web"), "web: npm start\n");
  fs.writeFileSync(path.join(dir, c.config.file), c.config.text);
  const before = readTree(path.join(dir, "cdktf.out"));

  const env: NodeJS.ProcessEnv = { ...process.env, ...c.env };
  if (c.viaEnv) env.TCP_ADDON_CONFIG = c.config.file;
  else delete env.TCP_ADDON_CONFIG;
  if (!c.env?.CDKTF_OUTDIR) delete env.CDKTF_OUTDIR;

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TSX_LOADER, MAIN], {
      cwd: dir,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), PROCESS_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ dir, code, stderr, before });
    });
  });
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-main-"));
  const queue = Object.entries(CASES);
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      outcomes.set(next[0], await run(next[0], next[1]));
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}, 4 * PROCESS_TIMEOUT_MS);

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const outcome = (name: string): Outcome => {
  const found = outcomes.get(name);
  if (found === undefined) throw new Error(`no outcome for ${name}`);
  return found;
};

describe.each(Object.entries(BAD))("a config with %s", (name, bad) => {
  it("exits non-zero", () => {
    expect(outcome(name).code).toBe(1);
  });

  it(`prints one line naming ${bad.path}`, () => {
    const lines = outcome(name)
      .stderr.split("\n")
      .filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${bad.path}:`);
  });

  it("leaves cdktf.out byte for byte and no staging folder", () => {
    const { dir, before } = outcome(name);
    expect(readTree(path.join(dir, "cdktf.out"))).toEqual(before);
    expect(fs.readdirSync(dir).filter((f) => f.includes("cdktf.out"))).toEqual(["cdktf.out"]);
  });
});

describe("a valid tcp-addon.yaml in the working folder", () => {
  it("exits 0 with only the local-state notice on stderr", () => {
    expect(outcome("default file")).toMatchObject({ code: 0, stderr: `${LOCAL_STATE_NOTICE}\n` });
  });

  it("replaces cdktf.out with the manifest and stacks/<project>/cdk.tf.json", () => {
    const files = Object.keys(readTree(path.join(outcome("default file").dir, "cdktf.out"))).sort();
    expect(files).toEqual(["manifest.json", path.join("stacks", "acme", "cdk.tf.json")]);
  });

  it("declares the app's TCP_URL output in the stack", () => {
    const file = path.join(outcome("default file").dir, "cdktf.out", "stacks", "acme", "cdk.tf.json");
    const tf = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(tf.output.tcp_url_mqtt.value).toMatch(/^tcp:\/\/\$\{aws_lb\.\w+\.dns_name\}:\d+$/);
  });
});

describe("an app whose cpu is below its plan's task size", () => {
  it("synthesizes, exit 0, with one warning line on stderr that names the line, the path and the fix", () => {
    const { dir, code, stderr } = outcome("cpu below the plan's size");
    expect(code).toBe(0);
    const size = PLAN_SIZES["tcp-100k"];
    expect(stderr.split("\n").filter((l) => l.startsWith("warning:"))).toEqual([
      expect.stringMatching(new RegExp(`^warning: small\\.yaml:9: apps\\.mqtt\\.cpu: .*; set cpu: ${size.cpu} and memory: ${size.memory} or more`)),
    ]);
    expect(fs.existsSync(path.join(dir, "cdktf.out", "stacks", "acme", "cdk.tf.json"))).toBe(true);
  });
});

describe("TCP_ADDON_CONFIG naming another file, with CDKTF_OUTDIR set", () => {
  it("writes that config's stack, named after its project, into CDKTF_OUTDIR", () => {
    const { dir, code, stderr } = outcome("other JSON file in CDKTF_OUTDIR");
    expect({ code, stderr }).toEqual({ code: 0, stderr: `${LOCAL_STATE_NOTICE}\n` });
    const tf = JSON.parse(fs.readFileSync(path.join(dir, "custom.out", "stacks", "other", "cdk.tf.json"), "utf8"));
    expect(tf.output.tcp_url_game.value).toMatch(/:30000$/);
  });

  it("leaves cdktf.out alone", () => {
    const { dir, before } = outcome("other JSON file in CDKTF_OUTDIR");
    expect(readTree(path.join(dir, "cdktf.out"))).toEqual(before);
  });
});
