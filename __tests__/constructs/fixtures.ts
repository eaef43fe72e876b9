import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULT_DEPLOY_TIMINGS } from "../../config/deploy-timings";
import type { Plan, ResolvedApp, ResolvedConfig } from "../../config/schema";
import { TcpAddonStack, TcpAddonStackProps } from "../../constructs/tcp-addon-stack";
import { AGENT_IMAGE } from "../helpers/images";

/** Synthesized Terraform JSON, as parsed. */
export interface TfJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, { value: unknown; description?: string }>;
  readonly provider?: Record<string, Record<string, unknown>[]>;
  readonly variable?: Record<string, unknown>;
  readonly locals?: Record<string, unknown>;
}

export interface ContainerDefinition {
  name: string;
  image: string;
  essential?: boolean;
  command?: string[];
  environment?: { name: string; value: string }[];
  secrets?: { name: string; valueFrom: string }[];
  portMappings?: { containerPort: number; protocol: string }[];
  user?: string;
  readonlyRootFilesystem?: boolean;
  privileged?: boolean;
  stopTimeout?: number;
  dependsOn?: { containerName: string; condition: string }[];
  logConfiguration?: { logDriver: string; options: Record<string, string> };
}

export { AGENT_IMAGE };
export const TCP_1K: Plan = { name: "tcp-1k", packetsPerSecond: 1000 };

/** One app as the loader would resolve it; `index` spreads ports and names. */
export function appFixture(name: string, overrides: Partial<ResolvedApp> = {}): ResolvedApp {
  return {
    name,
    image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${name}:1.0`,
    command: "node server.js",
    workdir: "/srv",
    plan: TCP_1K,
    containers: 2,
    port: 20000,
    cpu: 256,
    memory: 512,
    env: { LOG_LEVEL: "info" },
    secrets: {},
    allowedCidrs: ["0.0.0.0/0"],
    loadBalancer: 0,
    ...overrides,
    deploy: overrides.deploy ?? DEFAULT_DEPLOY_TIMINGS,
  };
}

/** `count` apps named app-1..app-n on ports 20001.., 50 per load balancer, like the loader places them. */
export function appsFixture(count: number): ResolvedApp[] {
  return Array.from({ length: count }, (_, i) =>
    appFixture(`app-${i + 1}`, { port: 20001 + i, loadBalancer: Math.floor(i / 50) }),
  );
}

export function configFixture(apps: readonly ResolvedApp[], overrides: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return {
    project: "acme",
    region: "eu-west-1",
    agentImage: AGENT_IMAGE,
    plans: { "tcp-1k": TCP_1K },
    apps,
    warnings: [],
    // A fixed backend: the default (a local file next to the config) would depend on the working folder.
    state: { backend: "s3", bucket: "acme-tf-state", region: "eu-west-1", key: "tcp-addon/acme/default.tfstate" },
    ...overrides,
  };
}

const UNUSED_OUTDIR = path.join(os.tmpdir(), "tcp-addon-constructs-tests");

/** Builds a TcpAddonStack in a test app; returns the synthesized JSON text and its parse. */
export function synthStack(
  config: ResolvedConfig,
  platform?: TcpAddonStackProps["platform"],
): { json: string; tf: TfJson; stack: TcpAddonStack } {
  const stack = new TcpAddonStack(Testing.app({ outdir: UNUSED_OUTDIR }), config.project, { config, platform });
  const json = Testing.synth(stack);
  return { json, tf: JSON.parse(json) as TfJson, stack };
}

/** The resources of one type, by logical id. */
export function resourcesOf(tf: TfJson, type: string): Record<string, Record<string, unknown>> {
  return tf.resource?.[type] ?? {};
}

/** The single resource of `type` whose logical id starts with `prefix` (an app's scope, e.g. "mqtt_"). */
export function resourceIn(tf: TfJson, type: string, prefix: string): Record<string, unknown> {
  const matches = Object.entries(resourcesOf(tf, type)).filter(([id]) => id.startsWith(prefix));
  if (matches.length !== 1) throw new Error(`expected one ${type} under ${prefix}, found ${matches.length}`);
  return matches[0][1];
}

/** `${aws_x.Id.attr}` for a resource's attribute, as the synthesized JSON writes references. */
export function ref(tf: TfJson, type: string, prefix: string, attr: string): string {
  const matches = Object.keys(resourcesOf(tf, type)).filter((id) => id.startsWith(prefix));
  if (matches.length !== 1) throw new Error(`expected one ${type} under ${prefix}, found ${matches.length}`);
  return `\${${type}.${matches[0]}.${attr}}`;
}

/** Parsed container definitions of the app's task definition. */
export function containersOf(tf: TfJson, appName: string): ContainerDefinition[] {
  const td = resourceIn(tf, "aws_ecs_task_definition", `${appName}_`);
  return JSON.parse(td.container_definitions as string) as ContainerDefinition[];
}

export function envOf(container: ContainerDefinition): Record<string, string> {
  return Object.fromEntries((container.environment ?? []).map((e) => [e.name, e.value]));
}

/**
 * Every reference in the JSON (`${...}` expressions and `depends_on` entries) that does not
 * name a declared resource, data source, variable or local. Empty when all resolve.
 */
export function unresolvedReferences(tf: TfJson): string[] {
  const declared = (type: string, name: string) => tf.resource?.[type]?.[name] !== undefined;
  const declaredData = (type: string, name: string) => tf.data?.[type]?.[name] !== undefined;
  const missing: string[] = [];
  const check = (reference: string) => {
    const parts = reference.split(".");
    const ok =
      parts[0] === "data"
        ? declaredData(parts[1], parts[2] ?? "")
        : parts[0] === "var"
        ? tf.variable?.[parts[1]] !== undefined
        : parts[0] === "local"
        ? tf.locals?.[parts[1]] !== undefined
        : declared(parts[0], parts[1] ?? "");
    if (!ok) missing.push(reference);
  };
  const visit = (value: unknown, key?: string) => {
    if (typeof value === "string") {
      for (const expr of expressionsIn(value)) referencesIn(expr).forEach(check);
    } else if (Array.isArray(value)) {
      value.forEach((v) => (key === "depends_on" && typeof v === "string" ? check(v) : visit(v)));
    } else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) if (k !== "//") visit(v, k);
    }
  };
  visit({ resource: tf.resource, data: tf.data, output: tf.output, provider: tf.provider });
  return missing;
}

/** The bodies of `${...}` in a string, skipping the `$${` escape. */
export function expressionsIn(text: string): string[] {
  const found: string[] = [];
  const pattern = /(\$?)\$\{([^}]*)\}/g;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m[1] !== "$") found.push(m[2]);
  }
  return found;
}

/** Dotted references (`aws_lb.X`, `data.aws_region.Y`, `var.z`) in an expression, string literals removed. */
function referencesIn(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const pattern = /(?<![\w.])(data\.[a-z0-9_]+\.[A-Za-z0-9_-]+|[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+)/g;
  return [...code.matchAll(pattern)].map((m) => m[1]).filter((r) => !/^(path|count|each|self|terraform)\./.test(r));
}

/** A scratch folder with a fake agent source tree (Dockerfile + one source file). */
export function fakeAgentSources(agentSource = "export const version = 1;\n"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-agent-src-"));
  fs.mkdirSync(path.join(dir, "runtime", "agent"), { recursive: true });
  fs.writeFileSync(path.join(dir, "runtime", "Dockerfile"), "FROM node:20-alpine\n");
  fs.writeFileSync(path.join(dir, "runtime", "agent", "main.ts"), agentSource);
  return dir;
}
