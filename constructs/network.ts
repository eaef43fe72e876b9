import { Construct } from "constructs";
import { Fn, ITerraformDependable } from "cdktf";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsRouteTable } from "@cdktf/provider-aws/lib/data-aws-route-table";
import { DataAwsRouteTables } from "@cdktf/provider-aws/lib/data-aws-route-tables";
import { DataAwsSubnet } from "@cdktf/provider-aws/lib/data-aws-subnet";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { fargateZoneIds } from "../config/fargate-zones";
import type { NetworkSpec } from "../config/schema";
import { ConstructError } from "./errors";

/** Number of availability zones the created VPC spans. */
export const NETWORK_AZS = 2;

/**
 * The interface endpoints `vpcEndpoints` adds, by service: what a task needs before its app runs
 * (ECS task execution IAM role docs list them for private subnets without NAT: ECR's API and
 * Docker registry, CloudWatch Logs, Secrets Manager and SSM for secrets); S3, where ECR keeps
 * image layers, is a gateway endpoint on the private route tables.
 */
export const INTERFACE_ENDPOINTS = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm"] as const;

/** Props of {@link TcpNetwork}. */
export interface TcpNetworkProps {
  /** Resource-name prefix, used in the `Name` tags. */
  readonly project: string;
  /**
   * An existing VPC to adopt: the NLB goes in its public subnets, the tasks in its private ones.
   * @default a new VPC over 2 availability zones with public and private subnets
   */
  readonly existing?: NetworkSpec;
  /**
   * IPv4 range of the created VPC, a /16 to /20.
   * @default "10.0.0.0/16"
   */
  readonly cidrBlock?: string;
  /**
   * NAT gateways of the created VPC: 1 (one shared, the cheaper choice) or 2 (one per zone, so
   * losing a zone does not cut the other zone's tasks off the internet and ECR).
   * @default 1
   */
  readonly natGateways?: number;
  /**
   * IPv6 for the load balancers (a dualstack NLB needs it in its public subnets): the created
   * VPC gets an Amazon-provided /56 and each public subnet a /64 routed to the internet gateway;
   * an existing network's public subnets are checked for an IPv6 block at plan time.
   * @default false
   */
  readonly ipv6?: boolean;
  /**
   * Region of the created VPC, when known at synth: in regions where Fargate runs only in some
   * zones (config/fargate-zones.ts), the subnets go in those zones only.
   * @default any zone of the region
   */
  readonly region?: string;
  /**
   * Private endpoints in the created VPC, so image pulls, logs and secrets do not go through NAT:
   * interface endpoints for ECR (api, dkr), CloudWatch Logs, Secrets Manager and SSM in the
   * private subnets, and an S3 gateway endpoint on the private route tables.
   * @default false: all of it through the NAT gateway(s)
   */
  readonly vpcEndpoints?: boolean;
}

/**
 * Where the load balancers and the tasks live. Either adopts given ids, or declares a VPC over
 * two zones from the `aws_availability_zones` data source: two public subnets (the NLB, the NAT
 * gateway; no public IPs on launch), two private subnets (the tasks, which reach ECR, CloudWatch
 * and the internet through NAT), an internet gateway, route tables, and the VPC's default
 * security group stripped of its rules so nothing uses it by accident.
 */
export class TcpNetwork extends Construct {
  /** The VPC, created or existing. */
  readonly vpcId: string;
  /** Public subnets, for the NLBs. */
  readonly publicSubnetIds: string[];
  /** Private subnets, for the tasks. */
  readonly privateSubnetIds: string[];
  /** The created VPC; undefined when an existing one was adopted. */
  readonly vpc?: Vpc;
  /** The internet gateway of a created VPC; undefined with an existing one. */
  readonly internetGateway?: InternetGateway;
  /** The NAT gateways of a created VPC; empty with an existing one. */
  readonly natGateways: NatGateway[] = [];
  /** The created VPC's endpoints (`vpcEndpoints`), by service name suffix; empty otherwise. */
  readonly endpoints: VpcEndpoint[] = [];
  /** What must exist before an internet-facing load balancer can be created in the public subnets. */
  readonly internetReady: ITerraformDependable[] = [];
  /** What must exist before tasks in the private subnets can pull images and ship logs. */
  readonly egressReady: ITerraformDependable[] = [];
  /** True when the public subnets carry IPv6 (see `ipv6`). */
  readonly ipv6: boolean;
  /**
   * Known at synth, changes exactly when the VPC does: the adopted VPC's id, or the created
   * VPC's IPv4 range (the only input that replaces it). Names that must differ in another VPC
   * are derived from it.
   */
  readonly vpcIdentity: string;

  constructor(scope: Construct, id: string, props: TcpNetworkProps) {
    super(scope, id);
    const cidrBlock = props.cidrBlock ?? "10.0.0.0/16";
    const natCount = props.natGateways ?? 1;
    this.ipv6 = props.ipv6 ?? false;
    this.vpcIdentity = props.existing ? props.existing.vpcId : `created:${cidrBlock}`;

    if (props.existing) {
      this.vpcId = props.existing.vpcId;
      this.publicSubnetIds = [...props.existing.publicSubnetIds];
      this.privateSubnetIds = [...props.existing.privateSubnetIds];
      this.checkExisting(props.existing);
      return;
    }
    if (natCount !== 1 && natCount !== NETWORK_AZS) {
      throw new ConstructError(
        "TCP_ADDON_INVALID_PROPS",
        `natGateways: expected 1 or ${NETWORK_AZS}, got ${natCount}; private tasks need NAT to reach ECR`,
      );
    }
    const tag = (name: string) => ({ Name: `${props.project}-${name}` });

    const fargateZones = props.region === undefined ? undefined : fargateZoneIds(props.region);
    const zones = new DataAwsAvailabilityZones(this, "Zones", {
      state: "available",
      ...(fargateZones === undefined ? {} : { filter: [{ name: "zone-id", values: [...fargateZones] }] }),
    });
    const vpc = new Vpc(this, "Vpc", {
      cidrBlock,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      ...(this.ipv6 ? { assignGeneratedIpv6CidrBlock: true } : {}),
      tags: tag("vpc"),
    });
    new DefaultSecurityGroup(this, "DefaultSecurityGroup", { vpcId: vpc.id, tags: tag("default-unused") });
    const igw = new InternetGateway(this, "InternetGateway", { vpcId: vpc.id, tags: tag("igw") });

    const publicTable = new RouteTable(this, "PublicRouteTable", { vpcId: vpc.id, tags: tag("public") });
    const internetRoute = new Route(this, "PublicDefaultRoute", {
      routeTableId: publicTable.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: igw.id,
    });
    if (this.ipv6) {
      this.internetReady.push(
        new Route(this, "PublicDefaultRouteIpv6", {
          routeTableId: publicTable.id,
          destinationIpv6CidrBlock: "::/0",
          gatewayId: igw.id,
        }),
      );
    }

    const { publicSubnets, privateSubnets } = this.subnets(vpc, zones, parseCidr(cidrBlock), publicTable, tag);
    const { privateRoutes, privateTables } = this.natEgress(natCount, vpc, igw, internetRoute, publicSubnets, privateSubnets, tag);
    if (props.vpcEndpoints === true) {
      if (props.region === undefined) {
        throw new ConstructError("TCP_ADDON_INVALID_PROPS", "vpcEndpoints: needs the region (TcpNetworkProps.region) to name the endpoint services");
      }
      this.privateEndpoints(props.region, cidrBlock, vpc, privateSubnets, privateTables, tag);
    }

    this.vpc = vpc;
    this.internetGateway = igw;
    this.vpcId = vpc.id;
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.internetReady.push(igw, internetRoute);
    this.egressReady.push(...privateRoutes, ...this.endpoints);
  }

  /**
   * Interface endpoints in the private subnets (private DNS on, so the usual service names resolve
   * to them), reachable on 443 from inside the VPC only, and the S3 gateway endpoint on the
   * private route tables.
   */
  private privateEndpoints(
    region: string,
    cidrBlock: string,
    vpc: Vpc,
    privateSubnets: readonly Subnet[],
    privateTables: readonly RouteTable[],
    tag: (name: string) => Record<string, string>,
  ): void {
    const group = new SecurityGroup(this, "EndpointsSecurityGroup", {
      namePrefix: `${tag("endpoints").Name}-`,
      description: "tcp-addon VPC endpoints: HTTPS from inside the VPC",
      vpcId: vpc.id,
      tags: tag("endpoints"),
      lifecycle: { createBeforeDestroy: true },
    });
    new VpcSecurityGroupIngressRule(this, "EndpointsFromVpc", {
      securityGroupId: group.id,
      cidrIpv4: cidrBlock,
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      description: "HTTPS to the VPC endpoints from the VPC's own range",
    });
    for (const service of INTERFACE_ENDPOINTS) {
      this.endpoints.push(
        new VpcEndpoint(this, `Endpoint-${service.replace(".", "-")}`, {
          vpcId: vpc.id,
          serviceName: `com.amazonaws.${region}.${service}`,
          vpcEndpointType: "Interface",
          privateDnsEnabled: true,
          subnetIds: privateSubnets.map((s) => s.id),
          securityGroupIds: [group.id],
          tags: tag(`endpoint-${service}`),
        }),
      );
    }
    this.endpoints.push(
      new VpcEndpoint(this, "Endpoint-s3", {
        vpcId: vpc.id,
        serviceName: `com.amazonaws.${region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: privateTables.map((t) => t.id),
        tags: tag("endpoint-s3"),
      }),
    );
  }

  /** A public and a private subnet in each of the first two zones (by zone ID, Fargate's zones only): 16 equal blocks of the VPC range, 0-1 public, 8-9 private; the rest is left for growth. */
  private subnets(
    vpc: Vpc,
    zones: DataAwsAvailabilityZones,
    base: ReturnType<typeof parseCidr>,
    publicTable: RouteTable,
    tag: (name: string) => Record<string, string>,
  ): { publicSubnets: Subnet[]; privateSubnets: Subnet[] } {
    const publicSubnets: Subnet[] = [];
    const privateSubnets: Subnet[] = [];
    for (let az = 0; az < NETWORK_AZS; az++) {
      const zone = Fn.element(zones.zoneIds, az);
      const pub = new Subnet(this, `Public${az + 1}`, {
        vpcId: vpc.id,
        availabilityZoneId: zone,
        cidrBlock: subdivide(base, 4, az),
        ...(this.ipv6 ? { ipv6CidrBlock: Fn.cidrsubnet(vpc.ipv6CidrBlock, 8, az) } : {}),
        mapPublicIpOnLaunch: false,
        tags: tag(`public-${az + 1}`),
      });
      new RouteTableAssociation(this, `Public${az + 1}Routes`, { subnetId: pub.id, routeTableId: publicTable.id });
      publicSubnets.push(pub);
      privateSubnets.push(
        new Subnet(this, `Private${az + 1}`, {
          vpcId: vpc.id,
          availabilityZoneId: zone,
          cidrBlock: subdivide(base, 4, 8 + az),
          mapPublicIpOnLaunch: false,
          tags: tag(`private-${az + 1}`),
        }),
      );
    }
    return { publicSubnets, privateSubnets };
  }

  /**
   * NAT gateways in the public subnets and the private subnets' default routes through them:
   * with one gateway both private subnets share its table; with one per zone, each has its own.
   */
  private natEgress(
    natCount: number,
    vpc: Vpc,
    igw: InternetGateway,
    internetRoute: Route,
    publicSubnets: readonly Subnet[],
    privateSubnets: readonly Subnet[],
    tag: (name: string) => Record<string, string>,
  ): { privateRoutes: Route[]; privateTables: RouteTable[] } {
    const privateRoutes: Route[] = [];
    const privateTables: RouteTable[] = [];
    for (let n = 0; n < natCount; n++) {
      const eip = new Eip(this, `NatAddress${n + 1}`, { domain: "vpc", tags: tag(`nat-${n + 1}`), dependsOn: [igw] });
      const nat = new NatGateway(this, `Nat${n + 1}`, {
        allocationId: eip.allocationId,
        subnetId: publicSubnets[n].id,
        tags: tag(`nat-${n + 1}`),
        dependsOn: [internetRoute],
      });
      this.natGateways.push(nat);
      const table = new RouteTable(this, `PrivateRouteTable${n + 1}`, { vpcId: vpc.id, tags: tag(`private-${n + 1}`) });
      privateTables.push(table);
      privateRoutes.push(
        new Route(this, `PrivateDefaultRoute${n + 1}`, {
          routeTableId: table.id,
          destinationCidrBlock: "0.0.0.0/0",
          natGatewayId: nat.id,
        }),
      );
      const served = natCount === 1 ? privateSubnets : [privateSubnets[n]];
      served.forEach((subnet) => {
        const az = privateSubnets.indexOf(subnet) + 1;
        new RouteTableAssociation(this, `Private${az}Routes`, { subnetId: subnet.id, routeTableId: table.id });
      });
    }
    return { privateRoutes, privateTables };
  }

  /**
   * Plan-time checks of an adopted network, as data sources with Terraform conditions, so a
   * wrong id fails `terraform plan` with the fix instead of failing halfway through an apply:
   * every subnet in `vpcId`, the public ones in at least two zones with a default route to an
   * internet gateway (and an IPv6 block when `ipv6`). A subnet's routes are those of the table
   * explicitly associated with it, else the VPC's main table (EC2 API reference,
   * DescribeRouteTables: "If a subnet is not explicitly associated with any route table, it is
   * implicitly associated with the main route table. This command does not return the subnet ID
   * for implicit associations."): a lookup by subnet matches explicit associations only, so the
   * explicit ones are listed (`aws_route_tables`, empty when there is none) and the main table
   * (`association.main = true`) is the fallback. These data sources call AWS: an offline plan
   * (`tcp-addon verify`) leaves them out.
   */
  private checkExisting(existing: NetworkSpec): void {
    const inVpc = (key: string, id: string) => ({
      condition: `\${self.vpc_id == "${existing.vpcId}"}`,
      errorMessage: `network.${key}: ${id} is in \${self.vpc_id}, not in network.vpcId ${existing.vpcId}; list subnets of ${existing.vpcId} or fix vpcId`,
    });
    const publicSubnets = existing.publicSubnetIds.map(
      (id, i) =>
        new DataAwsSubnet(this, `Public${i + 1}`, {
          id,
          lifecycle: {
            postcondition: [
              inVpc("publicSubnetIds", id),
              ...(this.ipv6
                ? [
                    {
                      condition: '\${self.ipv6_cidr_block != ""}',
                      errorMessage: `network.publicSubnetIds: ${id} has no IPv6 block, which the dualstack load balancer (an app allows IPv6 clients) needs; associate an IPv6 CIDR block with the VPC and the subnet, or allow only IPv4 CIDRs`,
                    },
                  ]
                : []),
            ],
          },
        }),
    );
    const mainTable = new DataAwsRouteTable(this, "MainRouteTable", {
      vpcId: existing.vpcId,
      filter: [{ name: "association.main", values: ["true"] }],
    });
    existing.publicSubnetIds.forEach((id, i) => {
      const explicit = new DataAwsRouteTables(this, `Public${i + 1}ExplicitRouteTables`, {
        vpcId: existing.vpcId,
        filter: [{ name: "association.subnet-id", values: [id] }],
      });
      const explicitIds = `data.${explicit.terraformResourceType}.${explicit.friendlyUniqueId}.ids`;
      const mainId = `data.${mainTable.terraformResourceType}.${mainTable.friendlyUniqueId}.id`;
      new DataAwsRouteTable(this, `Public${i + 1}RouteTable`, {
        routeTableId: `\${length(${explicitIds}) > 0 ? tolist(${explicitIds})[0] : ${mainId}}`,
        lifecycle: {
          postcondition: [
            {
              condition: '\${anytrue([for r in self.routes : r.cidr_block == "0.0.0.0/0" && startswith(coalesce(r.gateway_id, "-"), "igw-")])}',
              errorMessage: `network.publicSubnetIds: ${id} has no route 0.0.0.0/0 to an internet gateway (its route table is \${self.id}), so an internet-facing load balancer there is unreachable; add the route or list public subnets`,
            },
          ],
        },
      });
    });
    existing.privateSubnetIds.forEach((id, i) => new DataAwsSubnet(this, `Private${i + 1}`, { id, lifecycle: { postcondition: [inVpc("privateSubnetIds", id)] } }));
    // Written as plain references: the condition is one Terraform expression.
    const zones = publicSubnets.map((s) => `data.${s.terraformResourceType}.${s.friendlyUniqueId}.availability_zone`);
    new DataAwsVpc(this, "Vpc", {
      id: existing.vpcId,
      lifecycle: {
        precondition: [
          {
            condition: `\${length(distinct([${zones.join(", ")}])) >= 2}`,
            errorMessage: `network.publicSubnetIds: the load balancer's subnets are all in one availability zone; list public subnets of ${existing.vpcId} in at least two zones`,
          },
        ],
      },
    });
  }
}

interface Ipv4Block {
  readonly address: number;
  readonly prefix: number;
}

function parseCidr(cidr: string): Ipv4Block {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match ? match.slice(1, 5).map(Number) : [];
  const prefix = match ? Number(match[5]) : NaN;
  if (!match || octets.some((o) => o > 255) || prefix < 16 || prefix > 20) {
    throw new ConstructError(
      "TCP_ADDON_INVALID_PROPS",
      `cidrBlock: expected an IPv4 range from /16 to /20 like "10.0.0.0/16", got "${cidr}"`,
    );
  }
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  return { address: address - (address % size), prefix };
}

/** The `index`-th block of `base` split into 2^newBits equal blocks (Terraform's cidrsubnet). */
function subdivide(base: Ipv4Block, newBits: number, index: number): string {
  const prefix = base.prefix + newBits;
  const address = base.address + index * 2 ** (32 - prefix);
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256);
  return `${octets.join(".")}/${prefix}`;
}
