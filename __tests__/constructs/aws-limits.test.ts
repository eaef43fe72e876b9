import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TcpPlatform } from "../../constructs/platform";
import { TcpApp } from "../../constructs/tcp-app";
import { AWS_PROVIDER_VERSIONS } from "../../constructs/tcp-addon-stack";
import { ConstructError } from "../../constructs/errors";
import {
  appFixture,
  configFixture,
  fakeAgentSources,
  resourceIn,
  resourcesOf,
  synthStack,
  unresolvedReferences,
  type TfJson,
} from "./fixtures";
import * as fs from "node:fs";

/** What the real AWS provider and AWS itself would reject or break, fixed in the declaration. */

const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const DB_PARAMETER = "arn:aws:ssm:eu-west-1:123456789012:parameter/mqtt/db";
const NETWORK = { vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a", "subnet-0b"], privateSubnetIds: ["subnet-0c", "subnet-0d"] };

function ingressOnNlb(tf: TfJson): Record<string, unknown>[] {
  return Object.values(resourcesOf(tf, "aws_vpc_security_group_ingress_rule")).filter((r) =>
    String(r.security_group_id).includes("aws_security_group.Platform_LoadBalancer"),
  );
}

describe("the provider versions", () => {
  it("accepts hashicorp/aws from 5.100.0 up to the last 6.x", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect((tf as Record<string, any>).terraform.required_providers.aws).toEqual({ source: "hashicorp/aws", version: AWS_PROVIDER_VERSIONS }); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(AWS_PROVIDER_VERSIONS).toBe(">= 5.100.0, < 7.0.0");
  });

  it("reads no attribute of aws_region that only 6.x has: the config's region is written", () => {
    const { json, tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(json).not.toMatch(/data\.aws_region\.[A-Za-z0-9_]+\.region/);
    expect(tf.data?.aws_region).toBeUndefined();
  });

  it("reads aws_region's name (in 5.x and 6.x) when a platform is built without a region", () => {
    const stack = new TerraformStack(Testing.app(), "test");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const platform = new TcpPlatform(stack, "Tcp", { project: "acme", agentImage: "x:1" });
    new TcpApp(stack, "mqtt", { platform, image: "x:1", command: "node s.js", port: 1883 });
    const json = Testing.synth(stack);
    expect(json).toMatch(/\$\{data\.aws_region\.Tcp_Region_[A-F0-9]+\.name\}/);
    expect(json).not.toMatch(/data\.aws_region\.[A-Za-z0-9_]+\.region\b/);
  });
});

describe("security group rules quota", () => {
  it("counts each NLB group's inbound rules per IP family and refuses one past the quota", () => {
    const apps = Array.from({ length: 30 }, (_, i) =>
      appFixture(`app-${i + 1}`, { port: 20001 + i, allowedCidrs: ["203.0.113.0/24", "198.51.100.0/24"] }),
    );
    expect(() => synthStack(configFixture(apps))).toThrow(
      expect.objectContaining({ code: "TCP_ADDON_RULE_LIMIT", message: expect.stringContaining("L-0EA8095F") }),
    );
  });

  it("fits 29 apps with two CIDRs (58 rules + ICMP) on one NLB", () => {
    const apps = Array.from({ length: 29 }, (_, i) =>
      appFixture(`app-${i + 1}`, { port: 20001 + i, allowedCidrs: ["203.0.113.0/24", "198.51.100.0/24"] }),
    );
    const { stack } = synthStack(configFixture(apps));
    expect(stack.platform.loadBalancers[0].inboundRuleCount).toEqual({ ipv4: 59, ipv6: 1 });
  });

  it("accepts more when the quota was raised", () => {
    const apps = Array.from({ length: 30 }, (_, i) =>
      appFixture(`app-${i + 1}`, { port: 20001 + i, allowedCidrs: ["203.0.113.0/24", "198.51.100.0/24"] }),
    );
    const { stack } = synthStack(configFixture(apps, { rulesPerSecurityGroup: 100 }));
    expect(stack.platform.loadBalancers[0].inboundRuleCount.ipv4).toBe(61);
  });
});

describe("path MTU discovery", () => {
  it("admits ICMP fragmentation needed (type 3, code 4) into the NLB group", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(ingressOnNlb(tf)).toContainEqual(
      expect.objectContaining({ ip_protocol: "icmp", from_port: 3, to_port: 4, cidr_ipv4: "0.0.0.0/0" }),
    );
  });
});

describe("IPv6 clients", () => {
  const dual = configFixture([
    appFixture("mqtt", { allowedCidrs: ["0.0.0.0/0", "::/0"] }),
    appFixture("chat", { port: 20001 }),
  ]);

  it("keep an IPv4-only NLB as it was", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(resourceIn(tf, "aws_lb", "Platform_LoadBalancer_")).not.toHaveProperty("ip_address_type");
    expect(resourceIn(tf, "aws_vpc", "Platform_")).not.toHaveProperty("assign_generated_ipv6_cidr_block");
  });

  it("make the NLB dualstack, with ICMPv6 packet too big and an IPv6 rule for the app", () => {
    const { tf } = synthStack(dual);
    expect(resourceIn(tf, "aws_lb", "Platform_LoadBalancer_")).toMatchObject({ ip_address_type: "dualstack" });
    expect(ingressOnNlb(tf)).toContainEqual(expect.objectContaining({ ip_protocol: "icmpv6", from_port: 2, to_port: 0, cidr_ipv6: "::/0" }));
    expect(ingressOnNlb(tf)).toContainEqual(expect.objectContaining({ cidr_ipv6: "::/0", from_port: 20000, to_port: 20000 }));
  });

  it("give the created VPC and its public subnets IPv6 routed to the internet gateway", () => {
    const { tf } = synthStack(dual);
    expect(resourceIn(tf, "aws_vpc", "Platform_")).toMatchObject({ assign_generated_ipv6_cidr_block: true });
    const subnets = Object.entries(resourcesOf(tf, "aws_subnet"));
    expect(subnets.filter(([id]) => id.includes("Public")).map(([, s]) => s.ipv6_cidr_block)).toEqual([
      expect.stringMatching(/^\$\{cidrsubnet\(aws_vpc\.\w+\.ipv6_cidr_block, 8, 0\)\}$/),
      expect.stringMatching(/^\$\{cidrsubnet\(aws_vpc\.\w+\.ipv6_cidr_block, 8, 1\)\}$/),
    ]);
    expect(Object.values(resourcesOf(tf, "aws_route"))).toContainEqual(expect.objectContaining({ destination_ipv6_cidr_block: "::/0" }));
    expect(unresolvedReferences(tf)).toEqual([]);
  });

  it("are refused on a platform whose subnets have no IPv6, with the fix", () => {
    const stack = new TerraformStack(Testing.app(), "test");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const platform = new TcpPlatform(stack, "Tcp", { project: "acme", agentImage: "x:1", region: "eu-west-1" });
    let n = 0;
    const build = () => new TcpApp(stack, `mqtt${++n}`, { platform, image: "x:1", command: "node s.js", port: 1883 + n, allowedCidrs: ["::/0"] });
    expect(build).toThrow(ConstructError);
    expect(build).toThrow(/set `ipv6: true` on TcpPlatform/);
  });

  it("check an existing network's public subnets for an IPv6 block at plan time", () => {
    const { tf } = synthStack(configFixture(dual.apps, { network: NETWORK }));
    const subnet = (tf.data as Record<string, any>).aws_subnet; // eslint-disable-line @typescript-eslint/no-explicit-any
    const publicOne = Object.entries(subnet).find(([id]) => id.includes("Public1"))?.[1] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(publicOne.lifecycle.postcondition).toContainEqual({
      condition: '${self.ipv6_cidr_block != ""}',
      error_message: expect.stringContaining("subnet-0a has no IPv6 block"),
    });
  });
});

describe("secrets under customer-managed KMS keys", () => {
  it("let the execution role kms:Decrypt with exactly those keys", () => {
    const app = appFixture("mqtt", { secrets: { DB_PASSWORD: DB_PARAMETER } });
    const { tf } = synthStack(configFixture([app], { secretsKmsKeyArns: [KMS_KEY] }));
    const policy = JSON.parse(String(resourceIn(tf, "aws_iam_role_policy", "Platform_").policy));
    expect(policy.Statement).toEqual([
      { Sid: "ReadParameters", Effect: "Allow", Action: "ssm:GetParameters", Resource: [DB_PARAMETER] },
      { Sid: "DecryptSecrets", Effect: "Allow", Action: "kms:Decrypt", Resource: [KMS_KEY] },
    ]);
  });

  it("grant no kms:Decrypt when no key is named", () => {
    const app = appFixture("mqtt", { secrets: { DB_PASSWORD: DB_PARAMETER } });
    const { json } = synthStack(configFixture([app]));
    expect(json).not.toContain("kms:Decrypt");
  });
});

describe("the agent's ECR repository", () => {
  let sources: string;
  beforeAll(() => (sources = fakeAgentSources()));
  afterAll(() => fs.rmSync(sources, { recursive: true, force: true }));

  it("is deleted with its images by cdktf destroy, and keeps the last 10 images", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")], { agentImage: undefined }), { agentBuild: { contextDir: sources } });
    expect(resourceIn(tf, "aws_ecr_repository", "Platform_")).toMatchObject({ force_delete: true });
    const lifecycle = resourceIn(tf, "aws_ecr_lifecycle_policy", "Platform_");
    expect(JSON.parse(String(lifecycle.policy)).rules).toEqual([
      expect.objectContaining({ selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 10 }, action: { type: "expire" } }),
    ]);
  });
});

describe("rollouts", () => {
  it("make terraform apply wait for the service's steady state by default", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    expect(resourceIn(tf, "aws_ecs_service", "mqtt_")).toMatchObject({ wait_for_steady_state: true });
  });

  it("can be left to run on their own", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt", { waitForSteadyState: false })]));
    expect(resourceIn(tf, "aws_ecs_service", "mqtt_")).toMatchObject({ wait_for_steady_state: false });
  });
});

describe("replacements that others depend on", () => {
  it("create the new target group first, under a name that ends with a hash of what replaces it", () => {
    const nameIn = (network?: typeof NETWORK) =>
      resourceIn(synthStack(configFixture([appFixture("mqtt")], network ? { network } : {})).tf, "aws_lb_target_group", "mqtt_");
    const created = nameIn();
    expect(created.lifecycle).toEqual({ create_before_destroy: true });
    expect(created.name).toMatch(/^acme-mqtt-[0-9a-f]{4}$/);
    const adopted = nameIn(NETWORK);
    const elsewhere = nameIn({ ...NETWORK, vpcId: "vpc-0def" });
    expect(new Set([created.name, adopted.name, elsewhere.name]).size).toBe(3);
    expect(nameIn(NETWORK).name).toBe(adopted.name);
  });

  it("create the new security groups first", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    for (const group of Object.values(resourcesOf(tf, "aws_security_group"))) {
      expect(group.lifecycle).toEqual({ create_before_destroy: true });
    }
  });
});

describe("an existing network", () => {
  it("is checked at plan time: subnets in the VPC, public ones routed to an internet gateway, in two zones", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")], { network: NETWORK }));
    const data = tf.data as Record<string, Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const subnets = Object.values(data.aws_subnet);
    expect(subnets).toHaveLength(4);
    for (const s of subnets) {
      expect(s.lifecycle.postcondition[0]).toEqual({
        condition: '${self.vpc_id == "vpc-0abc"}',
        error_message: expect.stringMatching(/^network\.(public|private)SubnetIds: subnet-0[a-d] is in \$\{self\.vpc_id\}, not in network\.vpcId vpc-0abc; /),
      });
    }
    // Each public subnet's table: its explicit association, else the VPC's main table (aws-documented.test.ts).
    const tables = Object.entries(data.aws_route_table).filter(([id]) => /^Platform_Network_Public\dRouteTable_/.test(id)).map(([, t]) => t);
    expect(Object.values(data.aws_route_tables).map((t) => t.filter[0].values[0])).toEqual(["subnet-0a", "subnet-0b"]);
    expect(tables).toHaveLength(2);
    expect(tables[0].lifecycle.postcondition[0].condition).toContain('startswith(coalesce(r.gateway_id, "-"), "igw-")');
    const vpc = Object.values(data.aws_vpc)[0];
    expect(vpc.lifecycle.precondition[0].condition).toMatch(/^\$\{length\(distinct\(\[data\.aws_subnet\.\w+\.availability_zone, data\.aws_subnet\.\w+\.availability_zone\]\)\) >= 2\}$/);
    expect(vpc.lifecycle.precondition[0].error_message).toContain("in at least two zones");
    // The expressions themselves are checked by `terraform validate` in __tests__/provider/verify.test.ts.
  });
});
