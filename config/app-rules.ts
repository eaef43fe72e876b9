import { MAX_CONNECTIONS } from "../ground";
import { fargatePairProblem } from "./fargate";
import { looksLikeSecretName, secretValueKind } from "./secrets";

/**
 * The rules that judge one app, as pure functions: the config schema runs them in its
 * `superRefine` (each on the fields that parsed) and `TcpApp` runs them on its props, so a YAML
 * file and a stack written in TypeScript are refused for the same reason in the same words.
 * Each issue is a path inside the app and a one-line message (`problem; fix`).
 */

/** One problem of one app: the path of the field inside the app, and what is wrong with how to fix it. */
export interface AppIssue {
  readonly path: readonly string[];
  readonly message: string;
}

/** What the rules read of an app; a field is absent when the app does not set it. */
export interface AppFacts {
  readonly image?: string;
  readonly build?: string;
  readonly cpu?: number;
  readonly memory?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly clientIp?: string;
  /** The app's own connection limit (not its plan's); 0 = no limit. */
  readonly maxConnections?: number;
  readonly maxConnectionsPerIp?: number;
  readonly tls?: TlsFacts;
  readonly domain?: { readonly name: string };
  /** Share of the tasks on Fargate Spot, 0-100. */
  readonly spotPercent?: number;
  readonly architecture?: string;
}

/** The parts of `tls:` the rules read. */
export interface TlsFacts {
  readonly certificateArn?: string;
  readonly domain?: string;
  readonly hostedZoneId?: string;
}

/** The fields of an app (as written in the config file) a rule reads: the schema skips a rule when one of them failed to parse. */
export type AppField = "image" | "build" | "cpu" | "memory" | "env" | "secrets" | "clientIp" | "maxConnections" | "maxConnectionsPerIp" | "tls" | "domain" | "capacity" | "architecture";

/** One rule: the fields it reads and its check. */
export interface AppRule {
  /** A stable name for the rule, for tests and for readers. */
  readonly name: string;
  readonly fields: readonly AppField[];
  readonly check: (app: AppFacts) => AppIssue[];
}

/** Variables the platform sets itself; an app may not set them in `env` or `secrets`. */
export const RESERVED_ENV = ["PORT", "TCP_URL"] as const;

const has = (record: Readonly<Record<string, string>> | undefined, key: string): boolean =>
  record !== undefined && Object.prototype.hasOwnProperty.call(record, key);

/** Whether a certificate for `certificateName` (maybe `*.zone`) is valid for `host`. */
export function certificateCovers(certificateName: string, host: string): boolean {
  if (certificateName === host) return true;
  if (!certificateName.startsWith("*.")) return false;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot + 1) === certificateName.slice(2);
}

/** Exactly one of `image` and `build`. */
function imageOrBuild(app: AppFacts): AppIssue[] {
  if (app.image !== undefined && app.build !== undefined) {
    return [{ path: ["build"], message: "set either `image:` or `build:`, not both; remove one" }];
  }
  if (app.image === undefined && app.build === undefined) {
    return [{ path: ["image"], message: "no image; set `image:` (a container image reference) or `build:` (a folder with a Dockerfile)" }];
  }
  return [];
}

/** A cpu/memory pair Fargate runs. */
function fargateSize(app: AppFacts): AppIssue[] {
  if (app.cpu === undefined || app.memory === undefined) return [];
  const pair = fargatePairProblem(app.cpu, app.memory);
  return pair === undefined ? [] : [{ path: [pair.field], message: pair.message }];
}

/** PORT and TCP_URL belong to the platform. */
function reservedEnv(app: AppFacts): AppIssue[] {
  return (["env", "secrets"] as const).flatMap((field) =>
    RESERVED_ENV.filter((name) => has(app[field], name)).map((name) => ({
      path: [field, name],
      message: `${name} is set by the platform; remove it from \`${field}:\``,
    })),
  );
}

/**
 * A secret in `env:` would be written in plain text into the task definition. The config file
 * refuses it; a stack written in TypeScript meets it as the policy rule SEC1 instead, which a
 * reviewed exception may suppress, so it is not one of APP_RULES.
 */
export function secretInEnv(app: AppFacts): AppIssue[] {
  return Object.entries(app.env ?? {}).flatMap(([name, value]) => {
    const kind = looksLikeSecretName(name) ? "a secret" : secretValueKind(value);
    if (kind === undefined) return [];
    return [{
      path: ["env", name],
      message: `looks like ${kind}, which \`env:\` would write in plain text; put it in AWS SSM Parameter Store or Secrets Manager and list its ARN under \`secrets:\``,
    }];
  });
}

/** A per-address limit needs the client's address. */
function perIpNeedsClientIp(app: AppFacts): AppIssue[] {
  if (app.maxConnectionsPerIp === undefined || app.clientIp !== "off") return [];
  return [{
    path: ["maxConnectionsPerIp"],
    message: "needs the client's address, which the agent only sees through PROXY protocol v2 behind the NLB; set `clientIp: proxy-v2`",
  }];
}

/** A per-address limit above the container's limit would never apply. */
function perIpWithinMax(app: AppFacts): AppIssue[] {
  const { maxConnections, maxConnectionsPerIp } = app;
  if (maxConnectionsPerIp === undefined || maxConnections === undefined || maxConnections <= 0 || maxConnectionsPerIp <= maxConnections) return [];
  return [{
    path: ["maxConnectionsPerIp"],
    message: `${maxConnectionsPerIp} is above maxConnections (${maxConnections}), so it would never apply; lower it or remove it`,
  }];
}

/** TLS needs exactly one certificate: an existing one, or a new one for a domain in a hosted zone. Paths are inside `tls`. */
export function tlsCertificateIssues(tls: TlsFacts): AppIssue[] {
  if (tls.certificateArn !== undefined && (tls.domain !== undefined || tls.hostedZoneId !== undefined)) {
    return [{ path: ["certificateArn"], message: "set either `certificateArn:` or `domain:` with `hostedZoneId:`, not both" }];
  }
  if (tls.certificateArn === undefined && (tls.domain === undefined || tls.hostedZoneId === undefined)) {
    return [{
      path: [tls.domain === undefined ? "domain" : "hostedZoneId"],
      message: "TLS needs a certificate: set `certificateArn:`, or `domain:` and `hostedZoneId:` for a new ACM certificate validated by DNS",
    }];
  }
  return [];
}

/** The new certificate must be valid for the name clients connect to. */
function certificateCoversDomain(app: AppFacts): AppIssue[] {
  const certificate = app.tls?.domain;
  if (certificate === undefined || app.domain === undefined || certificateCovers(certificate, app.domain.name)) return [];
  return [{
    path: ["tls", "domain"],
    message: `the certificate for ${certificate} does not cover ${app.domain.name}, the name clients connect to; use ${app.domain.name} (or a wildcard over it)`,
  }];
}

/**
 * ECS docs, "AWS Fargate capacity providers": "Linux tasks with the ARM64 architecture don't
 * support the Fargate Spot capacity provider."
 */
function spotIsX86(app: AppFacts): AppIssue[] {
  if (app.architecture !== "arm64" || (app.spotPercent ?? 0) === 0) return [];
  return [{ path: ["capacity"], message: "Fargate Spot runs x86_64 tasks only; set `architecture: x86_64` or `capacity: on-demand`" }];
}

/** A variable lives in `env:` or in `secrets:`, not both. */
function envSecretsOverlap(app: AppFacts): AppIssue[] {
  return Object.keys(app.secrets ?? {})
    .filter((name) => has(app.env, name))
    .map((name) => ({ path: ["secrets", name], message: `${name} is also set in \`env:\`; keep it in one place` }));
}

/** Every rule that judges one app, in the order its issues are reported. */
export const APP_RULES: readonly AppRule[] = [
  { name: "image-or-build", fields: ["image", "build"], check: imageOrBuild },
  { name: "fargate-size", fields: ["cpu", "memory"], check: fargateSize },
  { name: "reserved-env", fields: ["env", "secrets"], check: reservedEnv },
  { name: "per-ip-needs-client-ip", fields: ["maxConnectionsPerIp", "clientIp"], check: perIpNeedsClientIp },
  { name: "per-ip-within-max", fields: ["maxConnectionsPerIp", "maxConnections"], check: perIpWithinMax },
  { name: "certificate-covers-domain", fields: ["tls", "domain"], check: certificateCoversDomain },
  { name: "spot-is-x86", fields: ["capacity", "architecture"], check: spotIsX86 },
  { name: "env-secrets-overlap", fields: ["env", "secrets"], check: envSecretsOverlap },
];

/** The issues of every rule whose fields are all usable (`usable` defaults to every field). */
export function appIssues(app: AppFacts, usable: (field: AppField) => boolean = () => true): AppIssue[] {
  return APP_RULES.filter((rule) => rule.fields.every(usable)).flatMap((rule) => rule.check(app));
}

/** A whole number in a range, as both the schema and TcpApp check it. */
export interface IntRange {
  readonly min: number;
  readonly max: number;
}

/** The ranges of an app's numbers: the schema builds its checks from them, TcpApp checks its props against them. */
export const APP_RANGES = Object.freeze({
  port: { min: 1, max: 65535 },
  containers: { min: 1, max: 100 },
  maxConnections: { min: 0, max: MAX_CONNECTIONS },
  maxConnectionsPerIp: { min: 1, max: MAX_CONNECTIONS },
  loadBalancer: { min: 0, max: 49 },
  capacityBase: { min: 0, max: 100 },
  spotPercent: { min: 0, max: 100 },
} satisfies Record<string, IntRange>);

/** A number below its minimum, as the config file's issues word it. */
export function tooSmallProblem(minimum: number | bigint, got: string): string {
  return `must be at least ${minimum}, got ${got}`;
}

/** A number above its maximum, as the config file's issues word it. */
export function tooBigProblem(maximum: number | bigint, got: string): string {
  return `must be at most ${maximum}, got ${got}`;
}

/** The message of a number outside its range, or undefined when it is a whole number inside it (the config file's words). */
export function rangeProblem(range: IntRange, value: number): string | undefined {
  if (!Number.isInteger(value)) return `expected an integer, got ${value}`;
  if (value < range.min) return tooSmallProblem(range.min, String(value));
  if (value > range.max) return tooBigProblem(range.max, String(value));
  return undefined;
}

/** One value of a fixed list, as the schema's enums word it. */
export function oneOfProblem(allowed: readonly string[], value: unknown): string | undefined {
  if (typeof value === "string" && allowed.includes(value)) return undefined;
  return `expected one of ${allowed.join(", ")}, got ${String(value)}`;
}
