import { isRecord } from "../ground";

/**
 * Turning `staticIps` on or off on a load balancer that exists is not an in-place change: an NLB
 * takes an Elastic IP for an availability zone only when that zone's subnet is attached, so the
 * stack plans a new NLB (constructs/load-balancer.ts, `AddressMode`), with a new DNS name: every
 * TCP_URL on it without a `domain:` changes. Turning it off releases the addresses partners
 * allow-listed. This compares the config with the last synthesized stack and says so.
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
        ? `staticIps: true on load balancer ${name}, which exists without Elastic IPs: an NLB takes them only when its subnets are attached, so the plan replaces the NLB (new DNS name: the TCP_URL of every app on it without a domain changes); set it before an NLB's first deploy, or accept the replacement`
        : `staticIps: false on load balancer ${name} releases its Elastic IPs, which partners may have allow-listed; keep staticIps: true unless that is intended`,
    );
  }
  return warnings;
}
