import { createHash } from "node:crypto";
import type { Deployment } from "../config/state";

/** Longest name AWS accepts for a load balancer or a target group. */
export const MAX_LB_NAME = 32;
/** Names with no tighter AWS limit (security groups, ECS clusters and task families: 255). */
export const MAX_NAME = 255;

/**
 * A resource name from its parts, joined with hyphens, that fits `max` characters.
 * When the joined name is too long it becomes a prefix of it plus a 6-character hash of
 * the whole, so two long names that share a prefix still differ, and the same inputs
 * always give the same name (renaming a load balancer or target group replaces it).
 */
export function fitName(parts: readonly string[], max: number = MAX_LB_NAME): string {
  const full = parts.join("-");
  if (full.length <= max) return full;
  return withHash(full, hashOf([full]), max);
}

/*
 * Names of two deployments must never meet. Project, environment and app names all allow
 * hyphens, so joining them with hyphens is ambiguous: project "acme" + app "mqtt-x" and project
 * "acme-mqtt" + app "x" both read "acme-mqtt-x", as do project "acme" in environment "prod" and
 * project "acme-prod". Names that are ambiguous get a 6-character hash of the tuple they come
 * from ((project, environment, parts), NUL-separated, so no two tuples hash the same input);
 * names that are not keep their readable form, so existing stacks keep their resources:
 *   - project-wide names with a fixed suffix (`acme-nlb`, `acme-tcp-addon`) are unambiguous
 *     without an environment: they change only when an environment is set;
 *   - per-app names (`acme-mqtt`) are unambiguous only when the project has no hyphen: they keep
 *     today's form exactly then, and carry the hash otherwise (or with an environment).
 * Two hashed names could only meet if their readable parts and their hashes both matched.
 */

/** A project-wide name: `<project>-<suffix>`; with an environment, `<project>-<environment>-<suffix>-<hash>`. */
export function platformName(deployment: Deployment, suffix: string, max: number = MAX_LB_NAME): string {
  if (deployment.environment === undefined) return fitName([deployment.project, suffix], max);
  return hashedName(deployment, [suffix], max);
}

/**
 * An app's name (target group, task security group, task family): `<project>-<app>[-<suffix>]`
 * for a project without hyphens and no environment, as always; otherwise
 * `<project>[-<environment>]-<app>[-<suffix>]-<hash>`.
 */
export function appResourceName(deployment: Deployment, app: string, suffix?: string, max: number = MAX_LB_NAME): string {
  const parts = suffix === undefined ? [app] : [app, suffix];
  if (deployment.environment === undefined && !deployment.project.includes("-")) {
    return fitName([deployment.project, ...parts], max);
  }
  return hashedName(deployment, parts, max);
}

/** The readable prefix of names that carry no hash (tags, descriptions, name prefixes): `<project>[-<environment>]`. */
export function deploymentLabel({ project, environment }: Deployment): string {
  return environment === undefined ? project : `${project}-${environment}`;
}

/** Name of the project's n-th network load balancer (0-based): `acme-nlb`, `acme-nlb-2`, ... */
export function loadBalancerName(deployment: Deployment, index: number): string {
  return platformName(deployment, index === 0 ? "nlb" : `nlb-${index + 1}`);
}

/** Terraform output id that carries an app's TCP_URL: `tcp_url_<app, - as _>`. */
export function tcpUrlOutputId(app: string): string {
  return `tcp_url_${app.replace(/-/g, "_")}`;
}

/** Terraform output id that lists the Elastic IPs of the n-th NLB: `static_ips_nlb`, `static_ips_nlb_2`, … */
export function staticIpsOutputId(index: number): string {
  return index === 0 ? "static_ips_nlb" : `static_ips_nlb_${index + 1}`;
}

function hashedName({ project, environment }: Deployment, parts: readonly string[], max: number): string {
  const readable = [project, ...(environment === undefined ? [] : [environment]), ...parts].join("-");
  return withHash(readable, hashOf([project, environment ?? "", ...parts]), max);
}

/** `<readable, cut to fit>-<hash>`, never with a hyphen before the hash's own. */
function withHash(readable: string, hash: string, max: number): string {
  const prefix = readable.slice(0, max - hash.length - 1).replace(/-+$/, "");
  return `${prefix}-${hash}`;
}

function hashOf(parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 6);
}
