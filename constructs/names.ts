import { createHash } from "node:crypto";

/** Longest name AWS accepts for a load balancer or a target group. */
export const MAX_LB_NAME = 32;

/**
 * A resource name from its parts, joined with hyphens, that fits `max` characters.
 * When the joined name is too long it becomes a prefix of it plus a 6-character hash of
 * the whole, so two long names that share a prefix still differ, and the same inputs
 * always give the same name (renaming a load balancer or target group replaces it).
 */
export function fitName(parts: readonly string[], max: number = MAX_LB_NAME): string {
  const full = parts.join("-");
  if (full.length <= max) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 6);
  const prefix = full.slice(0, max - hash.length - 1).replace(/-+$/, "");
  return `${prefix}-${hash}`;
}

/** Name of the project's n-th network load balancer (0-based): `acme-nlb`, `acme-nlb-2`, ... */
export function loadBalancerName(project: string, index: number): string {
  return fitName(index === 0 ? [project, "nlb"] : [project, "nlb", String(index + 1)]);
}

/** Terraform output id that carries an app's TCP_URL: `tcp_url_<app, - as _>`. */
export function tcpUrlOutputId(app: string): string {
  return `tcp_url_${app.replace(/-/g, "_")}`;
}

/** Terraform output id that lists the Elastic IPs of the n-th NLB: `static_ips_nlb`, `static_ips_nlb_2`, … */
export function staticIpsOutputId(index: number): string {
  return index === 0 ? "static_ips_nlb" : `static_ips_nlb_${index + 1}`;
}
