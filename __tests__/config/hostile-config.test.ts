import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { ConfigError } from "../../config/errors";
import { AGENT_IMAGE } from "../helpers/images";
import { FARGATE_CPU_VALUES } from "../../config/fargate";
import { resolveConfig } from "../../config/load";
import { BUILT_IN_PLANS } from "../../config/plans";
import {
  AddonConfigSchema,
  AgentSchema,
  APP_NAME,
  AppSchema,
  NetworkSchema,
  PLAN_NAME,
  PlanSchema,
  PROJECT_NAME,
} from "../../config/schema";

/**
 * Hostile input for the config loader: valid configs broken by generated mutations (unknown
 * keys, wrong types, bad names, plans, sizes, ports, CIDRs, commands...). Each must be refused
 * with a ConfigError whose every issue is one line that starts with the dotted path; a sample
 * also goes through the real `main.ts` process, which must exit non-zero and leave cdktf.out
 * exactly as it was.
 */

const REPO = path.resolve(__dirname, "..", "..");
const TSX_CLI = require.resolve("tsx/cli");
const SINGLE_RUNS = 400;
const COMPOUND_RUNS = 100;
const PROCESS_SAMPLE = 10;

// Copies of the schema's private patterns, used only to keep generated values invalid.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const SECRET_ARN = /^arn:aws[a-z-]*:(ssm|secretsmanager):[a-z0-9-]+:\d{12}:(parameter\/|secret:).+$/;

/** Every issue: one line, `path: problem` or `config: problem` for the whole file. */
const ISSUE = /^(config|[A-Za-z_][A-Za-z0-9_-]*)(\.[^\r\n]*)?: \S[^\r\n]*$/;

type Raw = Record<string, unknown>;

interface Mutation {
  readonly label: string;
  /** Dotted path that at least one issue must start with. */
  readonly path: string;
  readonly apply: (config: Raw) => void;
  /** Replaces the whole config instead (not an object at all). */
  readonly replaceWith?: unknown;
}

let scratch: string;
let noTcpProcfile: string;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-hostile-"));
  noTcpProcfile = path.join(scratch, "Procfile.no-tcp");
  fs.writeFileSync(noTcpProcfile, "web: npm start\nworker: node worker.js\n");
});

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A valid config using every section, with an absolute Procfile path so it resolves from any folder. */
function validConfig(): Raw {
  return {
    project: "acme",
    region: "eu-west-1",
    network: {
      vpcId: "vpc-0abc",
      publicSubnetIds: ["subnet-0a", "subnet-0b"],
      privateSubnetIds: ["subnet-0c", "subnet-0d"],
    },
    plans: { "tcp-50k": { packetsPerSecond: 50000, burst: 60000 } },
    agent: { image: AGENT_IMAGE },
    apps: {
      mqtt: {
        image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mqtt:1.4.2",
        procfile: path.join(REPO, "examples", "mqtt", "Procfile"),
        plan: "tcp-1k",
        containers: 2,
        port: 20003,
        cpu: 256,
        memory: 512,
        env: { LOG_LEVEL: "info" },
        secrets: { DATABASE_PASSWORD: "arn:aws:ssm:eu-west-1:123456789012:parameter/mqtt/db-password" },
        allowedCidrs: ["0.0.0.0/0"],
      },
      game: { image: "public.ecr.aws/acme/game:2", command: "node game.js", plan: "tcp-50k" },
    },
  };
}

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Sets an own, enumerable property, even for names like `__proto__`. Does nothing when an
 * earlier mutation already replaced the parent by something that is not an object.
 */
function put(target: unknown, key: string, value: unknown): void {
  if (!isObject(target)) return;
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The object at `keys`, or undefined when an earlier mutation removed or replaced a part of the way. */
function at(config: Raw, keys: readonly string[]): Raw | undefined {
  let node: unknown = config;
  for (const key of keys) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return isObject(node) ? node : undefined;
}

/** A mutation that sets `keys` (a path from the root) to `value`. */
function setting(label: string, keys: readonly string[], value: unknown, expectPath = keys.join(".")): Mutation {
  return { label, path: expectPath, apply: (c) => put(at(c, keys.slice(0, -1)), keys[keys.length - 1]!, value) };
}

function removing(label: string, keys: readonly string[], expectPath = keys.join(".")): Mutation {
  return {
    label,
    path: expectPath,
    apply: (c) => {
      const parent = at(c, keys.slice(0, -1));
      if (parent) delete parent[keys[keys.length - 1]!];
    },
  };
}

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

function kindOf(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

const notInteger = fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((x) => !Number.isInteger(x));

const TYPED_FIELDS: readonly (readonly [readonly string[], string])[] = [
  [["project"], "string"],
  [["region"], "string"],
  [["apps"], "object"],
  [["plans"], "object"],
  [["agent"], "object"],
  [["network"], "object"],
  [["apps", "mqtt"], "object"],
  [["apps", "mqtt", "image"], "string"],
  [["apps", "mqtt", "procfile"], "string"],
  [["apps", "mqtt", "plan"], "string"],
  [["apps", "mqtt", "containers"], "number"],
  [["apps", "mqtt", "port"], "number"],
  [["apps", "mqtt", "cpu"], "number"],
  [["apps", "mqtt", "memory"], "number"],
  [["apps", "mqtt", "env"], "object"],
  [["apps", "mqtt", "env", "LOG_LEVEL"], "string"],
  [["apps", "mqtt", "secrets"], "object"],
  [["apps", "mqtt", "allowedCidrs"], "array"],
  [["apps", "mqtt", "loadBalancer"], "number"],
  [["apps", "game", "command"], "string"],
  [["plans", "tcp-50k", "packetsPerSecond"], "number"],
  [["agent", "image"], "string"],
  [["network", "vpcId"], "string"],
  [["network", "privateSubnetIds"], "array"],
];

const KNOWN_KEYS: readonly (readonly [readonly string[], readonly string[]])[] = [
  [[], Object.keys(AddonConfigSchema.shape)],
  [["apps", "mqtt"], Object.keys(AppSchema.shape)],
  [["apps", "game"], Object.keys(AppSchema.shape)],
  [["plans", "tcp-50k"], Object.keys(PlanSchema.shape)],
  [["agent"], Object.keys(AgentSchema.shape)],
  [["network"], Object.keys(NetworkSchema.shape)],
];

const unknownKey = fc
  .tuple(fc.constantFrom(...KNOWN_KEYS), fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,12}$/), anyJson)
  .filter(([[, known], key]) => !known.includes(key))
  .map(([[scope], key, value]) => setting(`unknown key ${key}`, [...scope, key], value));

const wrongType = fc
  .tuple(fc.constantFrom(...TYPED_FIELDS), anyJson)
  .filter(([[, kind], value]) => kindOf(value) !== kind)
  .map(([[keys], value]) => setting(`wrong type at ${keys.join(".")}`, keys, value));

const badProject = fc
  .string({ maxLength: 16 })
  .filter((s) => !PROJECT_NAME.test(s))
  .map((s) => setting("bad project name", ["project"], s));

const badRegion = fc
  .string({ maxLength: 16 })
  .filter((s) => !REGION.test(s))
  .map((s) => setting("bad region", ["region"], s));

const badAppName = fc
  .string({ maxLength: 40 })
  .filter((s) => !APP_NAME.test(s))
  .map(
    (name): Mutation => ({
      label: `bad app name ${JSON.stringify(name)}`,
      path: "apps",
      apply: (c) => {
        const apps = at(c, ["apps"]);
        if (!apps || !Object.hasOwn(apps, "game")) return;
        const game = apps.game;
        delete apps.game;
        put(apps, name, game);
      },
    }),
  );

const unknownPlan = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,10}$/)
  .filter((s) => !Object.hasOwn(BUILT_IN_PLANS, s) && s !== "tcp-50k")
  .map((s) => setting("unknown plan", ["apps", "mqtt", "plan"], s));

const badPlanSpec = fc.oneof(
  fc.oneof(fc.integer({ min: -1e9, max: 0 }), notInteger, fc.integer({ min: 10_000_001 })).map((pps) =>
    setting("bad packetsPerSecond", ["plans", "tcp-50k", "packetsPerSecond"], pps),
  ),
  fc.oneof(fc.integer({ min: -1e9, max: 0 }), notInteger).map((b) => setting("bad burst", ["plans", "tcp-50k", "burst"], b)),
  fc.constantFrom(...Object.keys(BUILT_IN_PLANS)).map((name) => setting("built-in plan redefined", ["plans", name], { packetsPerSecond: 7 })),
  fc
    .string({ maxLength: 20 })
    .filter((s) => !PLAN_NAME.test(s))
    .map((name) => setting("bad plan name", ["plans", name], { packetsPerSecond: 1 }, "plans")),
);

const badSize = fc.oneof(
  fc
    .integer({ min: -1, max: 40000 })
    .filter((cpu) => !FARGATE_CPU_VALUES.includes(cpu))
    .map((cpu) => setting("bad cpu", ["apps", "mqtt", "cpu"], cpu)),
  fc
    .integer({ min: -1, max: 200000 })
    .filter((memory) => ![512, 1024, 2048].includes(memory))
    .map((memory) => setting("bad memory for cpu 256", ["apps", "mqtt", "memory"], memory)),
  fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 }), notInteger).map((n) => setting("bad containers", ["apps", "mqtt", "containers"], n)),
);

const badPort = fc.oneof(
  fc.oneof(fc.integer({ min: -100000, max: 0 }), fc.integer({ min: 65536 }), notInteger).map((p) => setting("bad port", ["apps", "mqtt", "port"], p)),
  fc.constant(setting("duplicate port", ["apps", "game", "port"], 20003, "apps")),
  fc.oneof(fc.integer({ min: 50 }), fc.integer({ max: -1 }), notInteger).map((n) => setting("bad loadBalancer", ["apps", "mqtt", "loadBalancer"], n)),
);

const badApps = fc.oneof(
  fc.constant(setting("empty apps", ["apps"], {})),
  fc.constantFrom<readonly string[]>(["project"], ["region"], ["apps"], ["apps", "mqtt", "image"]).map((keys) => removing("missing required key", keys)),
  fc.constant(setting("both procfile and command", ["apps", "mqtt", "command"], "node other.js")),
  fc.constant(removing("no command at all", ["apps", "game", "command"], "apps.game")),
  fc.stringMatching(/^[a-z]{1,8}$/).map((s) => setting("Procfile not found", ["apps", "mqtt", "procfile"], `missing-${s}/Procfile`)),
  fc.constant<Mutation>({
    label: "Procfile without tcp",
    path: "apps.mqtt.procfile",
    apply: (c) => put(at(c, ["apps", "mqtt"]), "procfile", noTcpProcfile),
  }),
);

const badNetworkAndCidrs = fc.oneof(
  fc
    .oneof(fc.string({ maxLength: 20 }).filter((s) => !s.includes("/")), fc.constantFrom("300.1.1.1/8", "10.0.0.0/33", "10.0.0/8", "::/129", "1.2.3.4/-1"))
    .map((cidr) => setting("bad CIDR", ["apps", "mqtt", "allowedCidrs"], [cidr])),
  fc.constant(setting("no CIDR", ["apps", "mqtt", "allowedCidrs"], [])),
  fc
    .string({ maxLength: 16 })
    .filter((s) => !/^vpc-[0-9a-f]+$/.test(s))
    .map((s) => setting("bad VPC id", ["network", "vpcId"], s)),
  fc.constant(setting("no private subnet", ["network", "privateSubnetIds"], [])),
);

const badEnv = fc.oneof(
  fc
    .constantFrom<readonly [string, string]>(["env", "PORT"], ["env", "TCP_URL"], ["secrets", "PORT"], ["secrets", "TCP_URL"])
    .map(([field, name]) =>
      setting(`reserved ${field}.${name}`, ["apps", "mqtt", field, name], "arn:aws:ssm:eu-west-1:123456789012:parameter/x", `apps.mqtt.${field}`),
    ),
  fc
    .string({ maxLength: 12 })
    .filter((s) => !ENV_NAME.test(s))
    .map((name) => setting("bad env name", ["apps", "mqtt", "env", name], "x", "apps.mqtt.env")),
  fc
    .string({ maxLength: 30 })
    .filter((s) => !SECRET_ARN.test(s))
    .map((arn) => setting("secret not an ARN", ["apps", "mqtt", "secrets", "DATABASE_PASSWORD"], arn, "apps.mqtt.secrets")),
);

const notAnObject = fc
  .oneof(fc.constant(null), fc.array(anyJson, { maxLength: 2 }), fc.string({ maxLength: 10 }), fc.integer(), fc.boolean())
  .map((value): Mutation => ({ label: `config is ${kindOf(value)}`, path: "config", apply: () => undefined, replaceWith: value }));

/** One local mutation of the valid config (the config stays an object). */
const localMutation: fc.Arbitrary<Mutation> = fc.oneof(
  unknownKey,
  wrongType,
  badProject,
  badRegion,
  badAppName,
  unknownPlan,
  badPlanSpec,
  badSize,
  badPort,
  badApps,
  badNetworkAndCidrs,
  badEnv,
);

const anyMutation: fc.Arbitrary<Mutation> = fc.oneof({ arbitrary: localMutation, weight: 12 }, { arbitrary: notAnObject, weight: 1 });

function broken(mutations: readonly Mutation[]): unknown {
  const replaced = mutations.find((m) => m.replaceWith !== undefined || m.path === "config");
  if (replaced) return replaced.replaceWith;
  const config = validConfig();
  for (const m of mutations) m.apply(config);
  return config;
}

/** Resolves `raw` and returns the ConfigError it must throw. */
function rejection(raw: unknown): ConfigError {
  try {
    resolveConfig(raw, REPO);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw new Error(`resolveConfig threw ${String(err)} instead of a ConfigError`);
  }
  throw new Error(`accepted a broken config: ${JSON.stringify(raw)}`);
}

function expectWellFormed(err: ConfigError): void {
  expect(err.code).toBe("TCP_ADDON_CONFIG_INVALID");
  expect(err.issues.length).toBeGreaterThan(0);
  for (const issue of err.issues) expect(issue).toMatch(ISSUE);
}

it("accepts the valid config the mutations start from", () => {
  expect(resolveConfig(validConfig(), REPO).apps.map((a) => a.name)).toEqual(["mqtt", "game"]);
});

it("refuses every config broken by one generated mutation, with one-line issues naming its path", () => {
  fc.assert(
    fc.property(anyMutation, (mutation) => {
      const err = rejection(broken([mutation]));
      expectWellFormed(err);
      expect(err.issues.some((i) => i.startsWith(mutation.path))).toBe(true);
    }),
    { numRuns: SINGLE_RUNS },
  );
});

it("refuses every config broken by several mutations at once, with one-line issues", () => {
  fc.assert(
    fc.property(fc.array(localMutation, { minLength: 2, maxLength: 4 }), (mutations) => {
      expectWellFormed(rejection(broken(mutations)));
    }),
    { numRuns: COMPOUND_RUNS },
  );
});

interface Run {
  readonly code: number | null;
  readonly stderr: string;
}

function runSynth(configFile: string, outdir: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, "main.ts"], {
      cwd: REPO,
      env: { ...process.env, TCP_ADDON_CONFIG: configFile, CDKTF_OUTDIR: outdir },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

it(
  `main.ts exits non-zero and leaves cdktf.out untouched for ${PROCESS_SAMPLE} generated broken configs`,
  async () => {
    const samples = fc.sample(anyMutation, { numRuns: PROCESS_SAMPLE, seed: 20240617 });
    const cases = samples.map((mutation, i) => {
      const dir = path.join(scratch, `case-${i}`);
      fs.mkdirSync(path.join(dir, "cdktf.out"), { recursive: true });
      fs.writeFileSync(path.join(dir, "cdktf.out", "marker"), `previous synth ${i}\n`);
      const file = path.join(dir, "tcp-addon.json");
      fs.writeFileSync(file, JSON.stringify(broken([mutation])));
      return { mutation, dir, file };
    });
    const results: Run[] = [];
    for (let i = 0; i < cases.length; i += 2) {
      // two at a time: the machine has two cores
      results.push(...(await Promise.all(cases.slice(i, i + 2).map((c) => runSynth(c.file, path.join(c.dir, "cdktf.out"))))));
    }
    const outcomes = cases.map((c, i) => ({
      label: c.mutation.label,
      code: results[i]!.code,
      lines: results[i]!.stderr.trimEnd().split("\n").length,
      entries: fs.readdirSync(c.dir).sort(),
      out: fs.readdirSync(path.join(c.dir, "cdktf.out")),
      marker: fs.readFileSync(path.join(c.dir, "cdktf.out", "marker"), "utf8"),
    }));
    expect(outcomes).toEqual(
      cases.map((c, i) => ({
        label: c.mutation.label,
        code: 1,
        lines: expect.any(Number),
        entries: ["cdktf.out", "tcp-addon.json"],
        out: ["marker"],
        marker: `previous synth ${i}\n`,
      })),
    );
    for (const r of results) {
      for (const line of r.stderr.trimEnd().split("\n")) expect(line).toContain("tcp-addon.json");
    }
  },
  120_000,
);
