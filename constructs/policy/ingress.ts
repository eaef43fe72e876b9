import type { StackFacts } from "./facts";
import { asNumber, isRecord, isTrue, list, strings } from "./facts";
import type { ResourceView } from "./rule";

/** Terraform types that can open a security group to traffic. */
export const INGRESS_TYPES = [
  "aws_security_group",
  "aws_vpc_security_group_ingress_rule",
  "aws_security_group_rule",
] as const;

/** One way into a security group, whichever of the three Terraform forms declares it. */
export interface IngressEntry {
  /** `ingress[0]` for an inline block, `rule` for a standalone rule resource. */
  readonly label: string;
  /** The security group it opens, as the value written in the config. */
  readonly securityGroup: unknown;
  readonly protocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly cidrs: readonly string[];
  /** Source security groups, as written (references or ids). */
  readonly sourceSecurityGroups: readonly unknown[];
  readonly prefixLists: readonly string[];
  readonly self: boolean;
  readonly description?: string;
}

/** The ingress entries a resource declares; empty for egress-only resources. */
export function ingressOf(resource: ResourceView): IngressEntry[] {
  const a = resource.attrs;
  switch (resource.type) {
    case "aws_security_group":
      return list(a.ingress)
        .filter(isRecord)
        .map((b, i) => ({
          label: `ingress[${i}]`,
          securityGroup: `\${${resource.address}.id}`,
          protocol: String(b.protocol ?? ""),
          fromPort: asNumber(b.from_port),
          toPort: asNumber(b.to_port),
          cidrs: [...strings(b.cidr_blocks), ...strings(b.ipv6_cidr_blocks)],
          sourceSecurityGroups: list(b.security_groups),
          prefixLists: strings(b.prefix_list_ids),
          self: isTrue(b.self),
          description: typeof b.description === "string" ? b.description : undefined,
        }));
    case "aws_vpc_security_group_ingress_rule":
      return [
        {
          label: "rule",
          securityGroup: a.security_group_id,
          protocol: String(a.ip_protocol ?? ""),
          fromPort: asNumber(a.from_port),
          toPort: asNumber(a.to_port),
          cidrs: [...strings(a.cidr_ipv4), ...strings(a.cidr_ipv6)],
          sourceSecurityGroups: a.referenced_security_group_id === undefined ? [] : [a.referenced_security_group_id],
          prefixLists: strings(a.prefix_list_id),
          self: false,
          description: typeof a.description === "string" ? a.description : undefined,
        },
      ];
    case "aws_security_group_rule":
      if (a.type !== "ingress") return [];
      return [
        {
          label: "rule",
          securityGroup: a.security_group_id,
          protocol: String(a.protocol ?? ""),
          fromPort: asNumber(a.from_port),
          toPort: asNumber(a.to_port),
          cidrs: [...strings(a.cidr_blocks), ...strings(a.ipv6_cidr_blocks)],
          sourceSecurityGroups: a.source_security_group_id === undefined ? [] : [a.source_security_group_id],
          prefixLists: strings(a.prefix_list_ids),
          self: isTrue(a.self),
          description: typeof a.description === "string" ? a.description : undefined,
        },
      ];
    default:
      return [];
  }
}

/** True when the entry opens every protocol, or every TCP/UDP port. */
export function opensAllPorts(e: IngressEntry): boolean {
  const protocol = e.protocol.toLowerCase();
  if (protocol === "-1" || protocol === "all") return true;
  if (e.fromPort === undefined || e.toPort === undefined) return false;
  return e.fromPort <= 1 && e.toPort >= 65535;
}

/** `tcp 7000-7001`, `all protocols`. */
export function portsOf(e: IngressEntry): string {
  const protocol = e.protocol.toLowerCase();
  if (protocol === "-1" || protocol === "all") return "all protocols and ports";
  const range = e.fromPort === e.toPort ? `${e.fromPort}` : `${e.fromPort}-${e.toPort}`;
  return `${protocol} ${range}`;
}

/** World-open CIDRs among the entry's sources. */
export function worldCidrs(e: IngressEntry): string[] {
  return e.cidrs.filter((c) => c === "0.0.0.0/0" || c === "::/0");
}

/** Entries of `resource` that open a task security group (one an ECS service uses). */
export function taskIngressOf(resource: ResourceView, facts: StackFacts): IngressEntry[] {
  return ingressOf(resource).filter((e) => facts.isTaskSecurityGroup(e.securityGroup));
}
