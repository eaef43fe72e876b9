import { Testing } from "cdktf";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { secretResource, secretsPolicyDocument } from "../../constructs/platform";
import { INTERFACE_ENDPOINTS } from "../../constructs/network";
import { DEFAULT_IDLE_TIMEOUT_SECONDS } from "../../runtime/agent/contract";
import { appFixture, configFixture, containersOf, ref, resourceIn, resourcesOf, synthStack, unresolvedReferences, type TfJson } from "./fixtures";

/**
 * The declaration as AWS and Terraform document it (docs/aws-behaviours.md cites each source):
 * each test reads the synthesized JSON for the setting the documentation asks for.
 */

Testing.setupJest();

const ZONE = "Z0123456789ABC";
const DOMAIN = { name: "mqtt.example.com", hostedZoneId: ZONE };

function withDomain(name: string, port: number, allowedCidrs: string[]) {
  return appFixture(name, { port, allowedCidrs, networking: { clientIp: "off", maxConnections: 0, domain: { ...DOMAIN, name: `${name}.example.com` } } });
}

function dataOf(tf: TfJson, type: string): Record<string, Record<string, unknown>> {
  return tf.data?.[type] ?? {};
}

describe("the Terraform version the stack states", () => {
  // Terraform v1.10 upgrade guide, "S3 Native State Locking": "The S3 backend now supports S3 native
  // state locking as an opt-in, experimental feature"; an older Terraform cannot init use_lockfile.
  it("an S3 backend with use_lockfile requires Terraform 1.10 or later", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    const terraform = (tf as { terraform: { required_version: string; backend: { s3: Record<string, unknown> } } }).terraform;
    expect(terraform.backend.s3.use_lockfile).toBe(true);
    expect(terraform.required_version).toBe(">= 1.10.0");
  });

  // hashicorp/terraform#31757 added terraform_data (Terraform 1.4), which builds the agent image.
  it("a local backend requires Terraform 1.4 or later", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")], { state: { backend: "local", path: "/tmp/acme.tfstate" } }));
    expect((tf as { terraform: { required_version: string } }).terraform.required_version).toBe(">= 1.4.0");
  });
});

describe("dualstack DNS", () => {
  // Route 53 alias record values, record type for an ELB load balancer: "Select A — IPv4 address or AAAA — IPv6 address".
  it("a dualstack NLB with a domain gets an AAAA alias beside the A alias, both to the NLB", () => {
    const { json, tf } = synthStack(configFixture([withDomain("mqtt", 20003, ["0.0.0.0/0", "::/0"])]));
    const target = { name: ref(tf, "aws_lb", "Platform_LoadBalancer_", "dns_name"), zone_id: ref(tf, "aws_lb", "Platform_LoadBalancer_", "zone_id"), evaluate_target_health: true };
    expect(json).toHaveResourceWithProperties(Route53Record, { type: "A", name: "mqtt.example.com", zone_id: ZONE, alias: target });
    expect(json).toHaveResourceWithProperties(Route53Record, { type: "AAAA", name: "mqtt.example.com", zone_id: ZONE, alias: target });
  });

  it("an app declared before the app that makes its NLB dualstack gets its AAAA alias too", () => {
    const { tf } = synthStack(configFixture([withDomain("first", 20001, ["0.0.0.0/0"]), withDomain("second", 20002, ["::/0"])]));
    const records = Object.values(resourcesOf(tf, "aws_route53_record")).map((r) => `${String(r.name)} ${String(r.type)}`).sort();
    expect(records).toEqual(["first.example.com A", "first.example.com AAAA", "second.example.com A", "second.example.com AAAA"]);
  });

  it("an IPv4-only NLB with a domain gets the A alias only", () => {
    const { tf } = synthStack(configFixture([withDomain("mqtt", 20003, ["0.0.0.0/0"])]));
    expect(Object.values(resourcesOf(tf, "aws_route53_record")).map((r) => r.type)).toEqual(["A"]);
  });
});

describe("the NLB's TCP idle timeout", () => {
  // NLB docs, "Update the TCP idle timeout": "The default idle timeout value for TCP flows is 350 seconds."
  it("leaves the listener at the NLB's 350 s, and the agent keeps idle connections longer, so the NLB closes first", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(resourceIn(tf, "aws_lb_listener", "mqtt_").tcp_idle_timeout_seconds).toBeUndefined();
    expect(DEFAULT_IDLE_TIMEOUT_SECONDS).toBeGreaterThan(350);
  });
});

describe("awslogs delivery", () => {
  // ECS API reference, LogConfiguration: mode "non-blocking" ... max-buffer-size "Default value: 10m".
  it("both containers log in non-blocking mode with a 10m buffer", () => {
    const { json, tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(json).toHaveResource(EcsTaskDefinition);
    const options = containersOf(tf, "mqtt").map((c) => c.logConfiguration?.options);
    expect(options).toHaveLength(2);
    for (const o of options) expect(o).toMatchObject({ mode: "non-blocking", "max-buffer-size": "10m" });
  });
});

describe("secret ARN forms", () => {
  const BASE = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mqtt/db-password";

  // Secrets Manager user guide: "Using '??????' as a wildcard to match the 6 random characters assigned by Secrets Manager".
  it("a Secrets Manager ARN without its 6-character suffix is granted as <arn>-??????", () => {
    expect(secretResource(BASE)).toBe(`${BASE}-??????`);
  });

  it("a complete ARN is granted as given, and a JSON-key reference by its secret's ARN", () => {
    expect(secretResource(`${BASE}-AbC123`)).toBe(`${BASE}-AbC123`);
    const policy = JSON.parse(secretsPolicyDocument([`${BASE}-AbC123:password::`, `${BASE}2`]));
    expect(policy.Statement[0].Resource).toEqual([`${BASE}-AbC123`, `${BASE}2-??????`]);
  });

  it("the execution role's synthesized policy matches a suffix-less secret", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt", { secrets: { DB_PASSWORD: BASE } })]));
    const policy = JSON.parse(String(resourceIn(tf, "aws_iam_role_policy", "Platform_SecretsPolicy").policy));
    expect(policy.Statement).toEqual([{ Sid: "ReadSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: [`${BASE}-??????`] }]);
  });
});

describe("Fargate zones", () => {
  // Fargate docs, "Linux containers on AWS Fargate": "us-west-1 (`usw1-az1` & `usw1-az3` only)".
  it("in us-west-1 the created VPC's zones are only Fargate's, by zone ID, and each subnet is placed by zone ID", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")], { region: "us-west-1" }));
    const zones = Object.values(dataOf(tf, "aws_availability_zones"));
    expect(zones).toHaveLength(1);
    expect(zones[0].filter).toEqual([{ name: "zone-id", values: ["usw1-az1", "usw1-az3"] }]);
    const subnets = Object.values(resourcesOf(tf, "aws_subnet"));
    expect(subnets).toHaveLength(4);
    for (const s of subnets) {
      expect(String(s.availability_zone_id)).toMatch(/^\$\{element\(data\.aws_availability_zones\.\w+\.zone_ids, [01]\)\}$/);
      expect(s.availability_zone).toBeUndefined();
    }
  });

  it("in a region where Fargate runs in every zone the zones are not filtered", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")], { region: "eu-west-1" }));
    expect(Object.values(dataOf(tf, "aws_availability_zones"))[0].filter).toBeUndefined();
  });
});

describe("one NAT or one per zone", () => {
  it("natGateways one (the default): one NAT gateway and one private route table for both zones", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(Object.keys(resourcesOf(tf, "aws_nat_gateway"))).toHaveLength(1);
    const privateAssociations = Object.entries(resourcesOf(tf, "aws_route_table_association")).filter(([id]) => id.includes("Private"));
    expect(new Set(privateAssociations.map(([, a]) => a.route_table_id)).size).toBe(1);
  });

  it("natGateways perAz: a NAT gateway in each public subnet and each private subnet routed through its own zone's", () => {
    const { json, tf } = synthStack(configFixture([appFixture("mqtt")], { createdNetwork: { natGateways: "perAz" } }));
    expect(json).toHaveResourceWithProperties(NatGateway, { subnet_id: ref(tf, "aws_subnet", "Platform_Network_Public1_", "id") });
    expect(json).toHaveResourceWithProperties(NatGateway, { subnet_id: ref(tf, "aws_subnet", "Platform_Network_Public2_", "id") });
    for (const az of [1, 2]) {
      const association = resourceIn(tf, "aws_route_table_association", `Platform_Network_Private${az}Routes_`);
      expect(association.route_table_id).toBe(ref(tf, "aws_route_table", `Platform_Network_PrivateRouteTable${az}_`, "id"));
      const route = resourceIn(tf, "aws_route", `Platform_Network_PrivateDefaultRoute${az}_`);
      expect(route.nat_gateway_id).toBe(ref(tf, "aws_nat_gateway", `Platform_Network_Nat${az}_`, "id"));
    }
  });
});

describe("vpcEndpoints", () => {
  it("adds interface endpoints for ECR api and dkr, CloudWatch Logs, Secrets Manager and SSM in the private subnets, and the S3 gateway on the private route tables", () => {
    const { json, tf } = synthStack(configFixture([appFixture("mqtt")], { createdNetwork: { vpcEndpoints: true } }));
    const privateSubnets = [1, 2].map((az) => ref(tf, "aws_subnet", `Platform_Network_Private${az}_`, "id"));
    const group = ref(tf, "aws_security_group", "Platform_Network_EndpointsSecurityGroup_", "id");
    expect([...INTERFACE_ENDPOINTS]).toEqual(["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm"]);
    for (const service of INTERFACE_ENDPOINTS) {
      expect(json).toHaveResourceWithProperties(VpcEndpoint, {
        service_name: `com.amazonaws.eu-west-1.${service}`,
        vpc_endpoint_type: "Interface",
        private_dns_enabled: true,
        subnet_ids: privateSubnets,
        security_group_ids: [group],
      });
    }
    expect(json).toHaveResourceWithProperties(VpcEndpoint, {
      service_name: "com.amazonaws.eu-west-1.s3",
      vpc_endpoint_type: "Gateway",
      route_table_ids: [ref(tf, "aws_route_table", "Platform_Network_PrivateRouteTable1_", "id")],
    });
    const ingress = resourceIn(tf, "aws_vpc_security_group_ingress_rule", "Platform_Network_EndpointsFromVpc_");
    expect(ingress).toMatchObject({ cidr_ipv4: "10.0.0.0/16", from_port: 443, to_port: 443, ip_protocol: "tcp" });
    // Tasks start after the endpoints exist.
    const service = resourceIn(tf, "aws_ecs_service", "mqtt_");
    expect((service.depends_on as string[]).filter((d) => d.startsWith("aws_vpc_endpoint."))).toHaveLength(6);
    expect(unresolvedReferences(tf)).toEqual([]);
  });

  it("is off by default: no endpoint", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(resourcesOf(tf, "aws_vpc_endpoint")).toEqual({});
  });
});

describe("EIP subnet mappings", () => {
  it("the NLB is replaced when its address mode changes: replace_triggered_by its AddressMode record", () => {
    const on = synthStack(configFixture([appFixture("mqtt")], { staticIps: true })).tf;
    const off = synthStack(configFixture([appFixture("mqtt")])).tf;
    for (const [tf, mode] of [[on, "elastic-ips"], [off, "aws-assigned"]] as const) {
      const [id, record] = Object.entries(resourcesOf(tf, "terraform_data")).find(([key]) => key.startsWith("Platform_LoadBalancer_AddressMode_")) ?? [];
      expect(record?.input).toEqual({ addresses: mode });
      const lb = resourceIn(tf, "aws_lb", "Platform_LoadBalancer_");
      expect(lb.lifecycle).toEqual({ replace_triggered_by: [`terraform_data.${id}`] });
    }
  });
});

describe("route-table associations of an existing network", () => {
  it("reads each public subnet's explicit table, else the VPC's main table (association.main = true)", () => {
    const network = { vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a", "subnet-0b"], privateSubnetIds: ["subnet-0c", "subnet-0d"] };
    const { tf } = synthStack(configFixture([appFixture("mqtt")], { network }));
    const tables = dataOf(tf, "aws_route_table");
    const [mainId, main] = Object.entries(tables).find(([id]) => id.startsWith("Platform_Network_MainRouteTable_")) ?? [];
    expect(main).toMatchObject({ vpc_id: "vpc-0abc", filter: [{ name: "association.main", values: ["true"] }] });
    for (const [n, subnet] of [[1, "subnet-0a"], [2, "subnet-0b"]] as const) {
      const [explicitId, explicit] = Object.entries(dataOf(tf, "aws_route_tables")).find(([id]) => id.startsWith(`Platform_Network_Public${n}ExplicitRouteTables_`)) ?? [];
      expect(explicit).toMatchObject({ vpc_id: "vpc-0abc", filter: [{ name: "association.subnet-id", values: [subnet] }] });
      const table = Object.entries(tables).find(([id]) => id.startsWith(`Platform_Network_Public${n}RouteTable_`))?.[1];
      const ids = `data.aws_route_tables.${explicitId}.ids`;
      expect(table?.route_table_id).toBe(`\${length(${ids}) > 0 ? tolist(${ids})[0] : data.aws_route_table.${mainId}.id}`);
      expect(table?.subnet_id).toBeUndefined();
    }
  });
});
