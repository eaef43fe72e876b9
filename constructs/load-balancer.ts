import { Construct } from "constructs";
import { ITerraformDependable } from "cdktf";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { ConstructError } from "./errors";
import { loadBalancerName } from "./names";

/** AWS limit: listeners per network load balancer (not adjustable). */
export const MAX_LISTENERS_PER_NLB = 50;

export interface TcpLoadBalancerProps {
  readonly project: string;
  /** The project's environment, when it has one: `<project>-<environment>-nlb-<hash>`. */
  readonly environment?: string;
  /** 0-based position among the project's load balancers; gives the name `<project>-nlb[-n]`. */
  readonly index: number;
  readonly vpcId: string;
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
}

/**
 * One internet-facing network load balancer in the public subnets with its own security group.
 * The group starts with no rules: each app adds ingress on its listener port from its allowed
 * CIDRs and egress to its own task security group, so one app's openness never extends to
 * another's. Holds at most 50 listeners; `reserveListener` enforces that and unique ports.
 */
export class TcpLoadBalancer extends Construct {
  readonly loadBalancer: Lb;
  readonly securityGroup: SecurityGroup;
  readonly index: number;
  private readonly ports = new Map<number, string>();

  constructor(scope: Construct, id: string, props: TcpLoadBalancerProps) {
    super(scope, id);
    const deletionProtection = props.deletionProtection ?? false;
    const crossZone = props.crossZone ?? true;
    const name = loadBalancerName({ project: props.project, environment: props.environment }, props.index);

    this.index = props.index;
    this.securityGroup = new SecurityGroup(this, "SecurityGroup", {
      name,
      description: `tcp-addon ${name}: public listeners in, agent traffic and health checks out`,
      vpcId: props.vpcId,
      tags: { Name: name },
    });
    this.loadBalancer = new Lb(this, "Nlb", {
      name,
      loadBalancerType: "network",
      internal: false,
      subnets: props.publicSubnetIds,
      securityGroups: [this.securityGroup.id],
      enableCrossZoneLoadBalancing: crossZone,
      enableDeletionProtection: deletionProtection,
      dependsOn: props.dependsOn,
    });
  }

  /** Public DNS name: the host part of every TCP_URL on this load balancer. */
  get dnsName(): string {
    return this.loadBalancer.dnsName;
  }

  /** Claims a listener slot for `app` on `port`; throws past 50 listeners or on a port already taken. */
  reserveListener(app: string, port: number): void {
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
    this.ports.set(port, app);
  }

  /** Number of listeners reserved so far. */
  get listenerCount(): number {
    return this.ports.size;
  }
}
