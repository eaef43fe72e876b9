import { Testing } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { ConfigError, loadConfig } from "../../config";
import { APP_RULES } from "../../config/app-rules";
import { ConstructError, TcpApp, TcpPlatform, type TcpAppProps } from "../../constructs";
import { AGENT_IMAGE } from "./fixtures";

/**
 * One set of rules for one app: each rule's failing case, written once as YAML (through
 * loadConfig) and once as TcpApp props, is refused by both with the same field and the same words.
 */

const ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/x";
const ZONE = "Z0123456789ABCDEFGHIJ";

interface Case {
  /** The rule of config/app-rules.ts it breaks, or the range or timing it breaks. */
  readonly rule: string;
  /** Keys of the app in the config file. */
  readonly yaml: Record<string, unknown>;
  /** The same app's TcpApp props. */
  readonly props: Partial<TcpAppProps>;
}

const CASES: readonly Case[] = [
  { rule: "image-or-build", yaml: { build: "app" }, props: { build: "app" } },
  { rule: "image-or-build", yaml: { image: undefined }, props: { image: undefined } },
  { rule: "fargate-size", yaml: { cpu: 256, memory: 4096 }, props: { cpu: 256, memory: 4096 } },
  { rule: "reserved-env", yaml: { env: { PORT: "80" } }, props: { env: { PORT: "80" } } },
  { rule: "reserved-env", yaml: { secrets: { TCP_URL: ARN } }, props: { secrets: { TCP_URL: ARN } } },
  { rule: "per-ip-needs-client-ip", yaml: { maxConnectionsPerIp: 10 }, props: { maxConnectionsPerIp: 10 } },
  // The drift the rules closed: YAML refused these, TcpApp took them.
  {
    rule: "per-ip-within-max",
    yaml: { clientIp: "proxy-v2", maxConnections: 5, maxConnectionsPerIp: 10 },
    props: { clientIp: "proxy-v2", maxConnections: 5, maxConnectionsPerIp: 10 },
  },
  {
    rule: "env-secrets-overlap",
    yaml: { env: { LOG_LEVEL: "info" }, secrets: { LOG_LEVEL: ARN } },
    props: { env: { LOG_LEVEL: "info" }, secrets: { LOG_LEVEL: ARN } },
  },
  {
    rule: "certificate-covers-domain",
    yaml: { tls: { domain: "a.example.com", hostedZoneId: ZONE }, domain: { name: "b.example.com", hostedZoneId: ZONE } },
    props: { tls: { domain: "a.example.com", hostedZoneId: ZONE }, domain: { name: "b.example.com", hostedZoneId: ZONE } },
  },
  { rule: "spot-is-x86", yaml: { capacity: "spot", architecture: "arm64" }, props: { capacity: { spotPercent: 100, base: 0 }, architecture: "arm64" } },
  { rule: "tls-certificate", yaml: { tls: { certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc-1", domain: "a.example.com" } }, props: { tls: { certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc-1", domain: "a.example.com" } } },
  { rule: "tls-certificate", yaml: { tls: { domain: "a.example.com" } }, props: { tls: { domain: "a.example.com" } } },
  { rule: "range", yaml: { port: 70000 }, props: { port: 70000 } },
  { rule: "range", yaml: { containers: 0 }, props: { containers: 0 } },
  { rule: "range", yaml: { containers: 101 }, props: { containers: 101 } },
  { rule: "range", yaml: { clientIp: "proxy-v2", maxConnectionsPerIp: 0 }, props: { clientIp: "proxy-v2", maxConnectionsPerIp: 0 } },
  { rule: "range", yaml: { maxConnections: 2.5 }, props: { maxConnections: 2.5 } },
  { rule: "deploy-timings", yaml: { deploy: { agentDrainSeconds: 111 } }, props: { deploy: { agentDrainSeconds: 111 } } },
  { rule: "deploy-timings", yaml: { deploy: { deregistrationDelaySeconds: 10 } }, props: { deploy: { deregistrationDelaySeconds: 10 } } },
];

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-rules-"));
  fs.mkdirSync(path.join(dir, "app"));
  fs.writeFileSync(path.join(dir, "app", "Dockerfile"), "FROM node:22-alpine\n");
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const BASE = { image: "example/broker:2", command: "node broker.js", port: 1883 };

/** The issues loadConfig reports for the app `web`, each without its `file:line: apps.web.` prefix. */
function yamlIssues(app: Record<string, unknown>): string[] {
  const file = path.join(dir, "tcp-addon.yaml");
  const keys = Object.fromEntries(Object.entries({ ...BASE, ...app }).filter(([, v]) => v !== undefined));
  fs.writeFileSync(file, stringify({ project: "shop", region: "eu-west-1", apps: { web: keys } }));
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((line) => {
      const at = line.indexOf(": apps.web.");
      expect(at).toBeGreaterThan(0);
      return line.slice(at + ": apps.web.".length);
    });
  }
  throw new Error("expected loadConfig to refuse the app");
}

/** The message `new TcpApp(...)` throws for the app `web`, without its `web.` prefix. */
function constructIssue(props: Partial<TcpAppProps>): string {
  let thrown: unknown;
  Testing.synthScope((scope) => {
    new AwsProvider(scope, "aws", { region: "eu-west-1" });
    const platform = new TcpPlatform(scope, "Tcp", { project: "shop", agentImage: AGENT_IMAGE });
    const build = props.build === undefined ? {} : { build: path.join(dir, props.build) };
    try {
      new TcpApp(scope, "web", { platform, ...BASE, ...props, ...build });
    } catch (err) {
      thrown = err;
    }
  });
  expect(thrown).toBeInstanceOf(ConstructError);
  expect((thrown as ConstructError).code).toBe("TCP_ADDON_INVALID_PROPS");
  const message = (thrown as Error).message;
  expect(message.startsWith("web.")).toBe(true);
  return message.slice("web.".length);
}

describe("one set of app rules for the config file and TcpApp", () => {
  it.each(CASES.map((c) => [c.rule, JSON.stringify(c.yaml), c] as const))("%s (%s): the same field and message from YAML and from TcpApp", (_rule, _keys, c) => {
    const yaml = yamlIssues(c.yaml);
    // TcpApp throws its first problem; only deploy timings break two invariants at once here.
    if (c.rule !== "deploy-timings") expect(yaml).toHaveLength(1);
    expect(yaml).toContain(constructIssue(c.props));
  });

  it("has a failing case for every rule of APP_RULES", () => {
    const covered = new Set(CASES.map((c) => c.rule));
    expect(APP_RULES.map((rule) => rule.name).filter((name) => !covered.has(name))).toEqual([]);
  });

  it("refuses a per-address limit above maxConnections from a TypeScript stack, as the config file does", () => {
    expect(constructIssue({ clientIp: "proxy-v2", maxConnections: 5, maxConnectionsPerIp: 10 })).toBe(
      "maxConnectionsPerIp: 10 is above maxConnections (5), so it would never apply; lower it or remove it",
    );
  });

  it("refuses a variable both in env and in secrets from a TypeScript stack, as the config file does", () => {
    expect(constructIssue({ env: { LOG_LEVEL: "info" }, secrets: { LOG_LEVEL: ARN } })).toBe(
      "secrets.LOG_LEVEL: LOG_LEVEL is also set in `env:`; keep it in one place",
    );
  });
});
