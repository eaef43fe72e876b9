import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { ConfigError, configPath, loadConfig, resolveConfig } from "../../config";

const REPO = path.resolve(__dirname, "../..");

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-config-"));
  fs.mkdirSync(path.join(dir, "app"));
  fs.writeFileSync(path.join(dir, "app", "Procfile"), "web: npm start\ntcp: node server.js\n");
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A valid config; each test breaks one thing. */
function valid(): Record<string, any> {
  return {
    project: "acme",
    region: "eu-west-1",
    apps: {
      mqtt: {
        image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mqtt:1",
        procfile: "app/Procfile",
        plan: "tcp-1k",
        containers: 2,
        cpu: 256,
        memory: 512,
        env: { LOG_LEVEL: "info" },
      },
    },
  };
}

function write(config: unknown, name = "tcp-addon.yaml"): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, name.endsWith(".json") ? JSON.stringify(config, null, 2) : stringify(config));
  return file;
}

function issuesOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

function codeOf(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.code;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("configPath", () => {
  it("defaults to tcp-addon.yaml in the working folder", () => {
    expect(configPath({}, "/srv/infra")).toBe("/srv/infra/tcp-addon.yaml");
  });

  it("follows TCP_ADDON_CONFIG, relative to the working folder", () => {
    expect(configPath({ TCP_ADDON_CONFIG: "conf/prod.json" }, "/srv/infra")).toBe("/srv/infra/conf/prod.json");
  });

  it("ignores an empty TCP_ADDON_CONFIG", () => {
    expect(configPath({ TCP_ADDON_CONFIG: "" }, "/srv/infra")).toBe("/srv/infra/tcp-addon.yaml");
  });
});

describe("loadConfig: a valid file", () => {
  it("takes the command from the Procfile's tcp line and runs it in the Procfile's folder", () => {
    const app = loadConfig(write(valid())).apps[0];
    expect(app).toMatchObject({ name: "mqtt", command: "node server.js", workdir: path.join(dir, "app") });
  });

  it("resolves the plan, the derived port and the first load balancer", () => {
    const app = loadConfig(write(valid())).apps[0];
    expect(app).toMatchObject({ plan: { name: "tcp-1k", packetsPerSecond: 1000 }, port: 25707, loadBalancer: 0 });
  });

  it("applies the documented defaults", () => {
    const config = valid();
    config.apps.mqtt = { image: "img", command: "node server.js" };
    const app = loadConfig(write(config)).apps[0];
    expect(app).toMatchObject({
      plan: { name: "tcp-1k" },
      containers: 1,
      cpu: 256,
      memory: 512,
      env: {},
      secrets: {},
      allowedCidrs: ["0.0.0.0/0"],
      workdir: dir,
    });
  });

  it("reads the same config from JSON", () => {
    const fromJson = loadConfig(write(valid(), "tcp-addon.json"));
    const fromYaml = loadConfig(write(valid()));
    expect(fromJson.apps).toEqual(fromYaml.apps);
  });

  it("reads a file with another extension as YAML", () => {
    expect(loadConfig(write(valid(), "addon.conf")).project).toBe("acme");
  });

  it("records the absolute source file", () => {
    expect(loadConfig(write(valid())).source).toBe(path.join(dir, "tcp-addon.yaml"));
  });

  it("offers user plans next to the built-ins", () => {
    const config = valid();
    config.plans = { "tcp-50k": { packetsPerSecond: 50000 } };
    config.apps.mqtt.plan = "tcp-50k";
    const loaded = loadConfig(write(config));
    expect(loaded.apps[0]?.plan).toEqual({ name: "tcp-50k", packetsPerSecond: 50000 });
    expect(Object.keys(loaded.plans)).toContain("tcp-1k");
  });

  it("keeps apps in file order", () => {
    const config = valid();
    config.apps = { zeta: { image: "i", command: "c" }, alpha: { image: "i", command: "c" } };
    expect(loadConfig(write(config)).apps.map((a) => a.name)).toEqual(["zeta", "alpha"]);
  });

  it("loads the repository's example config", () => {
    const config = loadConfig(path.join(REPO, "tcp-addon.yaml"));
    expect(config.apps.map((a) => [a.name, a.command, a.workdir, a.containers])).toEqual([
      ["mqtt", "node server.js", path.join(REPO, "examples", "mqtt"), 1],
    ]);
  });
});

describe("loadConfig: each bad config gives one line naming the path", () => {
  const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
    ["unknown plan", (c) => (c.apps.mqtt.plan = "tcp-2k"), /(^|\/)tcp-addon\.yaml:\d+: apps\.mqtt\.plan: unknown plan "tcp-2k"; known: tcp-1k, tcp-5k, tcp-20k, tcp-100k$/],
    ["bad app name", (c) => (c.apps = { MQTT: c.apps.mqtt }), /(^|\/)tcp-addon\.yaml:\d+: apps\.MQTT: invalid app name "MQTT"; expected/],
    ["duplicate port", (c) => { c.apps.mqtt.port = 20000; c.apps.other = { image: "i", command: "c", port: 20000 }; }, /apps\.other\.port: port 20000 .*"mqtt".*set `port:`/],
    ["missing tcp process", () => fs.writeFileSync(path.join(dir, "app", "Procfile"), "web: npm start\n"), /apps\.mqtt\.procfile: .*Procfile: no "tcp" process/],
    ["missing Procfile", (c) => (c.apps.mqtt.procfile = "nowhere/Procfile"), /apps\.mqtt\.procfile: Procfile not found/],
    ["bad cpu/memory pair", (c) => (c.apps.mqtt.memory = 4096), /apps\.mqtt\.memory: 4096 MiB is not a valid memory size with cpu 256; use one of 512, 1024, 2048$/],
    ["bad cpu", (c) => (c.apps.mqtt.cpu = 300), /apps\.mqtt\.cpu: 300 is not a Fargate cpu size/],
    ["unknown key", (c) => (c.apps.mqtt.contaners = 2), /apps\.mqtt\.contaners: unknown key "contaners"; did you mean "containers"\? expected one of: image, build, procfile, command,/],
    ["unknown top-level key", (c) => (c.regoin = "x"), /: regoin: unknown key "regoin"/],
    ["empty apps", (c) => (c.apps = {}), /: apps: expected at least one app$/],
    ["missing apps", (c) => delete c.apps, /: apps: required/],
    ["PORT in env", (c) => (c.apps.mqtt.env.PORT = "8080"), /apps\.mqtt\.env\.PORT: PORT is set by the platform; remove it/],
    ["TCP_URL in secrets", (c) => (c.apps.mqtt.secrets = { TCP_URL: "arn:aws:ssm:eu-west-1:123456789012:parameter/x" }), /apps\.mqtt\.secrets\.TCP_URL: TCP_URL is set by the platform/],
    ["both procfile and command", (c) => (c.apps.mqtt.command = "node x.js"), /apps\.mqtt\.command: set either `procfile:` or `command:`, not both/],
    ["neither procfile nor command", (c) => delete c.apps.mqtt.procfile, /apps\.mqtt\.procfile: no command to run/],
    ["wrong type", (c) => (c.apps.mqtt.containers = "two"), /apps\.mqtt\.containers: expected a number of tasks or \{ min, max \}, got "two"/],
    ["zero containers", (c) => (c.apps.mqtt.containers = 0), /apps\.mqtt\.containers: must be at least 1, got 0/],
    ["bad project", (c) => (c.project = "Acme Corp"), /: project: expected 1-12 lowercase/],
    ["bad region", (c) => (c.region = "europe"), /: region: expected an AWS region/],
    ["bad CIDR", (c) => (c.apps.mqtt.allowedCidrs = ["10.0.0.0"]), /apps\.mqtt\.allowedCidrs\.0: expected a CIDR block like 203\.0\.113\.0\/24, got "10\.0\.0\.0"/],
    ["plaintext secret", (c) => (c.apps.mqtt.secrets = { DB: "hunter2" }), /apps\.mqtt\.secrets\.DB: expected an SSM parameter or Secrets Manager ARN/],
    ["password in env", (c) => (c.apps.mqtt.env.DB_PASSWORD = "hunter2"), /apps\.mqtt\.env\.DB_PASSWORD: looks like a secret, .*list its ARN under `secrets:`$/],
    ["credentials in an env URL", (c) => (c.apps.mqtt.env.REDIS_URL = "redis://app:hunter2@10.0.0.5:6379"), /apps\.mqtt\.env\.REDIS_URL: looks like a URL with a password in it/],
    ["redefined built-in plan", (c) => (c.plans = { "tcp-1k": { packetsPerSecond: 5 } }), /plans\.tcp-1k: "tcp-1k" is a built-in plan and cannot be redefined/],
    ["same variable in env and secrets", (c) => (c.apps.mqtt.secrets = { LOG_LEVEL: "arn:aws:ssm:eu-west-1:123456789012:parameter/x" }), /apps\.mqtt\.secrets\.LOG_LEVEL: LOG_LEVEL is also set in `env:`/],
  ];

  it.each(cases)("%s", (_name, breakIt, expected) => {
    const config = valid();
    breakIt(config);
    const issues = issuesOf(() => loadConfig(write(config)));
    expect(issues).toEqual([expect.stringMatching(expected)]);
  });

  it("reports the line of the offending key", () => {
    const config = valid();
    config.apps.mqtt.plan = "tcp-2k";
    const file = write(config);
    const line = fs.readFileSync(file, "utf8").split("\n").findIndex((l) => l.includes("plan: tcp-2k")) + 1;
    expect(issuesOf(() => loadConfig(file))[0]).toMatch(new RegExp(`(^|/)tcp-addon\\.yaml:${line}: apps\\.mqtt\\.plan:`));
  });

  it("collects every problem, not just the first", () => {
    const config = valid();
    config.apps.mqtt.plan = "tcp-2k";
    config.apps.mqtt.memory = 4096;
    config.apps.other = { image: "i", command: "c", typo: 1 };
    expect(issuesOf(() => loadConfig(write(config)))).toHaveLength(3);
  });

  it("still checks an app's plan when another field of it is broken", () => {
    const config = valid();
    config.apps.mqtt.plan = "tcp-2k";
    config.apps.mqtt.typo = true;
    const issues = issuesOf(() => loadConfig(write(config)));
    expect(issues).toEqual([expect.stringContaining("apps.mqtt.plan"), expect.stringContaining("apps.mqtt.typo")]);
  });

  it("prints each issue on a single line", () => {
    const config = valid();
    config.apps.mqtt.image = "";
    config.apps.mqtt.cpu = 1.5;
    config.apps["Bad\nName"] = {};
    for (const issue of issuesOf(() => loadConfig(write(config)))) expect(issue).not.toMatch(/[\r\n]/);
  });

  it("gives the invalid-config code", () => {
    const config = valid();
    config.apps = {};
    expect(codeOf(() => loadConfig(write(config)))).toBe("TCP_ADDON_CONFIG_INVALID");
  });
});

describe("loadConfig: unreadable files", () => {
  it("reports a missing file in one line that tells how to fix it", () => {
    const file = path.join(dir, "absent.yaml");
    expect(issuesOf(() => loadConfig(file))).toEqual([
      expect.stringMatching(/absent\.yaml: config file not found; create it .* or set TCP_ADDON_CONFIG/),
    ]);
    expect(codeOf(() => loadConfig(file))).toBe("TCP_ADDON_CONFIG_NOT_FOUND");
  });

  it("reports a YAML syntax error with its line", () => {
    const file = path.join(dir, "tcp-addon.yaml");
    fs.writeFileSync(file, "project: acme\nregion: eu-west-1\napps: mqtt: {}\n");
    expect(issuesOf(() => loadConfig(file))).toEqual([
      expect.stringMatching(/(^|\/)tcp-addon\.yaml:3:7: YAML syntax error: Nested mappings are not allowed in compact mappings;/),
    ]);
    expect(codeOf(() => loadConfig(file))).toBe("TCP_ADDON_CONFIG_UNREADABLE");
  });

  it("reports a duplicated YAML key", () => {
    const file = path.join(dir, "tcp-addon.yaml");
    fs.writeFileSync(file, "project: acme\nproject: other\n");
    expect(issuesOf(() => loadConfig(file))).toEqual([expect.stringMatching(/(^|\/)tcp-addon\.yaml:2:\d+: YAML syntax error: Map keys must be unique/)]);
  });

  it("reports a JSON syntax error with its line", () => {
    const file = path.join(dir, "tcp-addon.json");
    fs.writeFileSync(file, '{\n  "project": "acme",\n  "apps": {,}\n}\n');
    expect(issuesOf(() => loadConfig(file))).toEqual([expect.stringMatching(/(^|\/)tcp-addon\.json:3: JSON syntax error: /)]);
  });

  it("reports an empty file", () => {
    const file = path.join(dir, "tcp-addon.yaml");
    fs.writeFileSync(file, "# nothing yet\n");
    expect(issuesOf(() => loadConfig(file))).toEqual([expect.stringMatching(/the file is empty; expected keys project, region and apps/)]);
  });

  it("reports a folder given as the config file", () => {
    expect(issuesOf(() => loadConfig(dir))).toEqual([expect.stringMatching(/is a folder, not a config file/)]);
  });
});

describe("resolveConfig", () => {
  it("reads Procfiles relative to the given folder", () => {
    const config = resolveConfig(valid(), dir);
    expect(config.apps[0]?.workdir).toBe(path.join(dir, "app"));
  });

  it("labels issues with the path alone when there is no source file", () => {
    const config = valid();
    config.apps.mqtt.plan = "nope";
    expect(issuesOf(() => resolveConfig(config, dir))).toEqual([expect.stringMatching(/^apps\.mqtt\.plan: unknown plan "nope"/)]);
  });

  it("rejects a value that is not a mapping", () => {
    expect(issuesOf(() => resolveConfig(["project"], dir))).toEqual([
      "config: expected a mapping with keys project, region and apps, got a list",
    ]);
  });

  it("places 120 apps 50/50/20 and keeps each app's derived port", () => {
    const config = valid();
    config.apps = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`app-${i}`, { image: "i", command: "c" }]));
    // app-155 and app-340 are the first colliding pair; 0..119 has none.
    const apps = resolveConfig(config, dir).apps;
    const counts = [0, 1, 2].map((lb) => apps.filter((a) => a.loadBalancer === lb).length);
    expect(counts).toEqual([50, 50, 20]);
  });
});

describe("an app's deploy: block", () => {
  it("overrides the deploy timings it names and keeps the rest", () => {
    const config = valid();
    config.apps.mqtt.deploy = { agentDrainSeconds: 30, deregistrationDelaySeconds: 150 };
    const [app] = loadConfig(write(config)).apps;
    expect(app.deploy).toMatchObject({ agentDrainSeconds: 30, deregistrationDelaySeconds: 150, stopTimeoutSeconds: 40, healthyThreshold: 2 });
  });

  it("refuses timings that would refuse connections during a deploy, on the line of the key", () => {
    const config = valid();
    config.apps.mqtt.deploy = { deregistrationDelaySeconds: 30 };
    const [issue, ...rest] = issuesOf(() => loadConfig(write(config)));
    expect(rest).toEqual([]);
    expect(issue).toMatch(/tcp-addon\.yaml:\d+: apps\.mqtt\.deploy\.deregistrationDelaySeconds: .*raise it above 120/);
  });

  it("refuses an unknown key with the keys it knows", () => {
    const config = valid();
    config.apps.mqtt.deploy = { drainSeconds: 5 };
    expect(issuesOf(() => loadConfig(write(config)))).toEqual([
      expect.stringMatching(/apps\.mqtt\.deploy\.drainSeconds: unknown key "drainSeconds"; did you mean "agentDrainSeconds"\? expected one of: .*agentDrainSeconds/),
    ]);
  });
});
