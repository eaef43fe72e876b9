import { isRecord } from "../runtime/agent/errors";

/**
 * Turning `staticIps` on or off on a load balancer that exists replaces it: an NLB's subnets
 * become `subnet_mapping` blocks with Elastic IPs (or the other way), which the AWS provider
 * cannot change in place. The new NLB has a new DNS name (every TCP_URL on it changes unless
 * the app has a `domain:`) and, when turning them off, the Elastic IPs partners allow-listed
 * are released. This compares the config with the last synthesized stack and says so.
 */

/** What the previous synth declared: for each `aws_lb`, whether it used subnet_mapping. */
export function previousStaticIps(stackJson: unknown): Map<string, boolean> {
  const found = new Map<string, boolean>();
  const resources = isRecord(stackJson) && isRecord(stackJson.resource) ? stackJson.resource : {};
  const lbs = isRecord(resources.aws_lb) ? resources.aws_lb : {};
  for (const [id, lb] of Object.entries(lbs)) {
    if (!isRecord(lb)) continue;
    const name = typeof lb.name === "string" ? lb.name : id;
    found.set(name, Array.isArray(lb.subnet_mapping) && lb.subnet_mapping.length > 0);
  }
  return found;
}

/** One warning line per load balancer whose static-IP setting would change; empty when none. */
export function staticIpsChangeWarnings(staticIps: boolean, previous: Map<string, boolean>): string[] {
  const warnings: string[] = [];
  for (const [name, had] of previous) {
    if (had === staticIps) continue;
    warnings.push(
      staticIps
        ? `staticIps: true replaces load balancer ${name} (its subnets become subnet_mapping with Elastic IPs): it gets a new DNS name, so the TCP_URL of every app on it without a domain changes; deploy when clients can follow`
        : `staticIps: false replaces load balancer ${name} and releases its Elastic IPs, which partners may have allow-listed; keep staticIps: true unless that is intended`,
    );
  }
  return warnings;
}
