import { Construct } from "constructs";
import { ITerraformDependable, TerraformOutput } from "cdktf";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { inboundRules, RESERVED_INBOUND_RULES, RULES_QUOTA_FIX } from "../config/ports";
import { DEFAULT_RULES_PER_SECURITY_GROUP } from "../config/schema";
import { ConstructError } from "./errors";
import { TerraformData } from "./terraform-data";
import { loadBalancerName, staticIpsOutputId } from "./names";

/** AWS limit: listeners per network load balancer (not adjustable). */
export const MAX_LISTENERS_PER_NLB = 50;

/** Props of {@link TcpLoadBalancer}. */
export interface TcpLoadBalancerProps {
  /** The project: the prefix of the load balancer's name. */
  readonly project: string;
  /** The project's environment, when it has one: `<project>-<environment>-nlb-<hash>`. */
  readonly environment?: string;
  /** 0-based position among the project's load balancers; gives the name `<project>-nlb[-n]`. */
  readonly index: number;
  /** The VPC of the load balancer's security group. */
  readonly vpcId: string;
  /** Public subnets the NLB spans, one per availability zone. */
  readonly publicSubnetIds: string[];
  /**
   * Refuse deletion through the API (`terraform destroy` then fails until it is turned off).
   * The DNS name is every app's TCP_URL: a replaced NLB means new URLs for all its apps.
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * Spread each connection over targets in every zone, not only the zone it entered by.
   * Off, a zone with fewer running tasks would get the same share of connections as the others.
   * @default true
   */
  readonly crossZone?: boolean;
  /** Created before the load balancer (an internet-facing NLB needs the VPC's internet gateway). */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * One Elastic IP per public subnet (one per AZ) through `subnet_mapping`, output as
   * `static_ips_nlb[_n]`, for partners' allow-lists. The addresses belong to the load balancer,
   * not to an app: adding or removing apps never changes them. Set it before the NLB's first
   * deploy: an NLB takes Elastic IPs only when its subnets are attached (see config/static-ips.ts).
   * @default false: AWS picks the addresses, which can change
   */
  readonly staticIps?: boolean;
  /**
   * Inbound rules the security group may hold per IP family (the account's quota).
   * @default 60, AWS's default quota
   */
  readonly rulesPerSecurityGroup?: number;
  /**
   * The public subnets carry IPv6, so the load balancer can turn dualstack when an app allows
   * IPv6 clients.
   * @default false: an IPv6 CIDR in an app's allowedCidrs is refused
   */
  readonly ipv6?: boolean;
}

/**
 * One internet-facing network load balancer in the public subnets with its own security group.
 * The group starts with no rules: each app adds ingress on its listener port from its allowed
 * CIDRs and egress to its own task security group, so one app's openness never extends to
 * another's. Holds at most 50 listeners; `reserveListener` enforces that and unique ports.
 */
export class TcpLoadBalancer extends Construct {
  /** The network load balancer. */
  readonly loadBalancer: Lb;
  /** The NLB's security group: one inbound rule per app CIDR and port, plus ICMP. */
  readonly securityGroup: SecurityGroup;
  /** Which of the project's NLBs this is, from 0. */
  readonly index: number;
  /** The Elastic IPs, one per public subnet, when `staticIps` is on; else empty. */
  readonly elasticIps: readonly Eip[];
  /** The output listing the Elastic IPs' public addresses, when `staticIps` is on. */
  readonly staticIpsOutput?: TerraformOutput;
  /**
   * Records how the load balancer gets its addresses ("elastic-ips" or "aws-assigned"); a change of
   * it replaces the load balancer (`replace_triggered_by`), see the constructor.
   */
  readonly addressMode: TerraformData;
  /** "ipv4", or "dualstack" once an app on it allows IPv6 clients. */
  ipAddressType: "ipv4" | "dualstack" = "ipv4";
  private readonly ports = new Map<number, string>();
  private readonly dualstackListeners: (() => void)[] = [];
  private readonly rules = { ipv4: RESERVED_INBOUND_RULES, ipv6: RESERVED_INBOUND_RULES };
  private readonly rulesPerSecurityGroup: number;
  private readonly ipv6Capable: boolean;

  constructor(scope: Construct, id: string, props: TcpLoadBalancerProps) {
    super(scope, id);
    const deletionProtection = props.deletionProtection ?? false;
    const crossZone = props.crossZone ?? true;
    const staticIps = props.staticIps ?? false;
    const name = loadBalancerName({ project: props.project, environment: props.environment }, props.index);

    this.index = props.index;
    this.rulesPerSecurityGroup = props.rulesPerSecurityGroup ?? DEFAULT_RULES_PER_SECURITY_GROUP;
    this.ipv6Capable = props.ipv6 ?? false;
    // Names are unique per VPC, and the group is replaced only when the VPC changes: no collision.
    this.securityGroup = new SecurityGroup(this, "SecurityGroup", {
      name,
      description: `tcp-addon ${name}: public listeners in, agent traffic and health checks out`,
      vpcId: props.vpcId,
      tags: { Name: name },
      lifecycle: { createBeforeDestroy: true },
    });
    // Path MTU discovery: routers on the way tell the NLB's clients to send smaller packets with
    // ICMP "fragmentation needed" (type 3, code 4); without this rule large segments are lost.
    new VpcSecurityGroupIngressRule(this, "PathMtuDiscovery", {
      securityGroupId: this.securityGroup.id,
      cidrIpv4: "0.0.0.0/0",
      ipProtocol: "icmp",
      fromPort: 3,
      toPort: 4,
      description: "path MTU discovery: ICMP fragmentation needed (type 3, code 4)",
    });
    this.elasticIps = staticIps ? this.elasticIpsFor(name, props.publicSubnetIds) : [];
    // An NLB takes its Elastic IPs (subnet_mapping) only when a subnet is attached, so turning
    // `staticIps` on or off for an NLB that exists needs a new NLB; the provider would plan it as an
    // in-place update that fails at apply. A change of this value plans the replacement instead
    // (Terraform's terraform_data docs: "You can use terraform_data's behavior of planning an action
    // each time input changes to indirectly use a plain value to trigger replacement"). The first
    // plan that adds this resource creates it, which triggers nothing.
    this.addressMode = new TerraformData(this, "AddressMode", { input: { addresses: staticIps ? "elastic-ips" : "aws-assigned" } });
    this.loadBalancer = new Lb(this, "Nlb", {
      name,
      loadBalancerType: "network",
      internal: false,
      ...(staticIps
        ? { subnetMapping: props.publicSubnetIds.map((subnetId, i) => ({ subnetId, allocationId: this.elasticIps[i].allocationId })) }
        : { subnets: props.publicSubnetIds }),
      securityGroups: [this.securityGroup.id],
      enableCrossZoneLoadBalancing: crossZone,
      enableDeletionProtection: deletionProtection,
      dependsOn: props.dependsOn,
    });
    // A bare address: Terraform's JSON syntax refuses the "${...}" form cdktf writes for replaceTriggeredBy.
    this.loadBalancer.addOverride("lifecycle.replace_triggered_by", [`${this.addressMode.terraformResourceType}.${this.addressMode.friendlyUniqueId}`]);
    if (staticIps) {
      this.staticIpsOutput = new TerraformOutput(this, "StaticIps", {
        value: this.elasticIps.map((eip) => eip.publicIp),
        description: `Elastic IPs of ${name}, one per availability zone: the addresses to allow-list`,
      });
      this.staticIpsOutput.overrideLogicalId(staticIpsOutputId(props.index));
    }
  }

  /** One Elastic IP per public subnet; ids `StaticIp1`, `StaticIp2`, … by subnet order. */
  private elasticIpsFor(name: string, subnetIds: readonly string[]): Eip[] {
    return subnetIds.map(
      (_, i) => new Eip(this, `StaticIp${i + 1}`, { domain: "vpc", tags: { Name: `${name}-${i + 1}`, "tcp-addon:nlb": name } }),
    );
  }

  /** Public DNS name: the host part of every TCP_URL on this load balancer. */
  get dnsName(): string {
    return this.loadBalancer.dnsName;
  }

  /**
   * Claims a listener slot for `app` on `port` and inbound rules for its CIDRs; throws past 50
   * listeners, past the rules quota or on a port already taken. An IPv6 CIDR makes the load
   * balancer dualstack.
   */
  reserveListener(app: string, port: number, allowedCidrs: readonly string[] = ["0.0.0.0/0"]): void {
    const holder = this.ports.get(port);
    if (holder !== undefined) {
      throw new ConstructError(
        "TCP_ADDON_PORT_TAKEN",
        `${app}: port ${port} is already the listener of ${holder} on ${this.node.path}; choose another port`,
      );
    }
    if (this.ports.size >= MAX_LISTENERS_PER_NLB) {
      throw new ConstructError(
        "TCP_ADDON_LISTENER_LIMIT",
        `${app}: load balancer ${this.index} already has ${MAX_LISTENERS_PER_NLB} listeners (the AWS limit); place the app on another one`,
      );
    }
    const adds = inboundRules(allowedCidrs);
    for (const family of ["ipv4", "ipv6"] as const) {
      if (this.rules[family] + adds[family] > this.rulesPerSecurityGroup) {
        throw new ConstructError(
          "TCP_ADDON_RULE_LIMIT",
          `${app}: ${family === "ipv4" ? "IPv4" : "IPv6"} inbound rules on ${this.node.path}'s security group would reach ` +
            `${this.rules[family] + adds[family]}, over the quota of ${this.rulesPerSecurityGroup}; place the app on another load balancer, use fewer allowedCidrs, or ${RULES_QUOTA_FIX}`,
        );
      }
    }
    if (adds.ipv6 > 0) this.enableDualstack(app);
    this.rules.ipv4 += adds.ipv4;
    this.rules.ipv6 += adds.ipv6;
    this.ports.set(port, app);
  }

  /** Inbound rules counted on the security group so far, per IP family (ICMP included). */
  get inboundRuleCount(): { readonly ipv4: number; readonly ipv6: number } {
    return { ...this.rules };
  }

  /** IPv6 clients reach only a dualstack load balancer; ICMPv6 "packet too big" keeps path MTU discovery working. */
  private enableDualstack(app: string): void {
    if (this.ipAddressType === "dualstack") return;
    if (!this.ipv6Capable) {
      throw new ConstructError(
        "TCP_ADDON_INVALID_PROPS",
        `${app}: allowedCidrs has an IPv6 block, but the load balancer's subnets have no IPv6; set \`ipv6: true\` on TcpPlatform (TcpAddonStack does it when any app allows IPv6) or allow only IPv4 CIDRs`,
      );
    }
    this.ipAddressType = "dualstack";
    this.loadBalancer.ipAddressType = "dualstack";
    this.dualstackListeners.splice(0).forEach((listener) => listener());
    new VpcSecurityGroupIngressRule(this, "PathMtuDiscoveryIpv6", {
      securityGroupId: this.securityGroup.id,
      cidrIpv6: "::/0",
      ipProtocol: "icmpv6",
      fromPort: 2,
      toPort: 0,
      description: "path MTU discovery: ICMPv6 packet too big (type 2)",
    });
  }

  /**
   * Runs `listener` once the load balancer is dualstack: now if it is, else when an app placed on
   * it later allows IPv6 clients (an app's AAAA record waits for that).
   */
  whenDualstack(listener: () => void): void {
    if (this.ipAddressType === "dualstack") listener();
    else this.dualstackListeners.push(listener);
  }

  /** Number of listeners reserved so far. */
  get listenerCount(): number {
    return this.ports.size;
  }
}
