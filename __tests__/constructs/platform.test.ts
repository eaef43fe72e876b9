import { TerraformStack, Testing } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TcpAgentImage } from "../../constructs/agent-image";
import { stackOutputDir } from "../../constructs/stack-dir";
import type { TcpAddonStack } from "../../constructs/tcp-addon-stack";
import {
  appFixture,
  configFixture,
  containersOf,
  fakeAgentSources,
  ref,
  resourceIn,
  resourcesOf,
  synthStack,
  type TfJson,
} from "./fixtures";

Testing.setupJest();

const ONE_APP = configFixture([appFixture("mqtt", { port: 20003 })]);

describe("project resources", () => {
  let json: string;
  let tf: TfJson;

  beforeAll(() => {
    ({ json, tf } = synthStack(ONE_APP));
  });

  it("configures the AWS provider for the region with the project's default tag", () => {
    expect(json).toHaveProviderWithProperties(AwsProvider, {
      region: "eu-west-1",
      default_tags: [{ tags: { "tcp-addon:project": "acme" } }],
    });
  });

  it("creates a VPC when no network is given", () => {
    expect(Object.keys(resourcesOf(tf, "aws_vpc"))).toHaveLength(1);
  });

  it("takes the VPC's two zones from the aws_availability_zones data source", () => {
    expect(json).toHaveDataSourceWithProperties(DataAwsAvailabilityZones, { state: "available" });
    // By zone ID: names are shuffled per account, IDs are what the Fargate docs list (aws-documented.test.ts).
    const zones = Object.values(resourcesOf(tf, "aws_subnet")).map((s) => s.availability_zone_id);
    expect(new Set(zones).size).toBe(2);
    zones.forEach((zone) => expect(zone).toMatch(/^\$\{element\(data\.aws_availability_zones\.\w+\.zone_ids, [01]\)\}$/));
  });

  it("splits the VPC into 2 public and 2 private subnets, none assigning public IPs", () => {
    const subnets = Object.entries(resourcesOf(tf, "aws_subnet"));
    expect(subnets.map(([id]) => id.replace(/_[0-9A-F]{8}$/, "")).sort()).toEqual([
      "Platform_Network_Private1",
      "Platform_Network_Private2",
      "Platform_Network_Public1",
      "Platform_Network_Public2",
    ]);
    subnets.forEach(([, s]) => expect(s.map_public_ip_on_launch).toBe(false));
  });

  it("routes the public subnets to the internet gateway", () => {
    expect(resourceIn(tf, "aws_route", "Platform_Network_PublicDefaultRoute")).toMatchObject({
      destination_cidr_block: "0.0.0.0/0",
      gateway_id: ref(tf, "aws_internet_gateway", "Platform_Network_InternetGateway", "id"),
    });
  });

  it("routes the private subnets through one NAT gateway by default", () => {
    expect(Object.keys(resourcesOf(tf, "aws_nat_gateway"))).toHaveLength(1);
    expect(resourceIn(tf, "aws_route", "Platform_Network_PrivateDefaultRoute1")).toMatchObject({
      destination_cidr_block: "0.0.0.0/0",
      nat_gateway_id: ref(tf, "aws_nat_gateway", "Platform_Network_Nat1", "id"),
    });
  });

  it("creates the ECS cluster with Container Insights enabled", () => {
    expect(json).toHaveResourceWithProperties(EcsCluster, {
      name: "acme-tcp-addon",
      setting: [{ name: "containerInsights", value: "enabled" }],
    });
  });

  it("puts an internet-facing network load balancer with its own security group in the public subnets", () => {
    expect(json).toHaveResourceWithProperties(Lb, {
      name: "acme-nlb",
      load_balancer_type: "network",
      internal: false,
      subnets: [
        ref(tf, "aws_subnet", "Platform_Network_Public1", "id"),
        ref(tf, "aws_subnet", "Platform_Network_Public2", "id"),
      ],
      security_groups: [ref(tf, "aws_security_group", "Platform_LoadBalancer_SecurityGroup", "id")],
    });
  });

  it("turns cross-zone load balancing on and leaves deletion protection off by default", () => {
    expect(json).toHaveResourceWithProperties(Lb, {
      enable_cross_zone_load_balancing: true,
      enable_deletion_protection: false,
    });
  });

  it("gives every security group and rule a description", () => {
    const described = [
      ...Object.values(resourcesOf(tf, "aws_security_group")),
      ...Object.values(resourcesOf(tf, "aws_vpc_security_group_ingress_rule")),
      ...Object.values(resourcesOf(tf, "aws_vpc_security_group_egress_rule")),
    ].map((r) => r.description);
    expect(described.length).toBeGreaterThan(0);
    described.forEach((d) => expect(d).toEqual(expect.stringMatching(/\w{3,}/)));
  });

  it("gives the NLB's security group egress only to task security groups", () => {
    const nlbSg = ref(tf, "aws_security_group", "Platform_LoadBalancer_SecurityGroup", "id");
    const egress = Object.values(resourcesOf(tf, "aws_vpc_security_group_egress_rule")).filter(
      (r) => r.security_group_id === nlbSg,
    );
    expect(egress.length).toBeGreaterThan(0);
    egress.forEach((r) => {
      expect(r.referenced_security_group_id).toMatch(/^\$\{aws_security_group\.mqtt_SecurityGroup_\w+\.id\}$/);
      expect(r).not.toHaveProperty("cidr_ipv4");
    });
  });

  it("keeps logs in /tcp-addon/<project> for 30 days by default", () => {
    expect(json).toHaveResourceWithProperties(CloudwatchLogGroup, { name: "/tcp-addon/acme", retention_in_days: 30 });
  });

  it("lets ECS tasks of this account assume the execution role", () => {
    const role = resourceIn(tf, "aws_iam_role", "Platform_ExecutionRole");
    expect(JSON.parse(role.assume_role_policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "ecs-tasks.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: {
            StringEquals: { "aws:SourceAccount": expect.stringMatching(/^\$\{data\.aws_caller_identity\./) },
          },
        },
      ],
    });
  });

  it("attaches only the AWS managed AmazonECSTaskExecutionRolePolicy to the execution role", () => {
    const roleName = ref(tf, "aws_iam_role", "Platform_ExecutionRole", "name");
    const attachments = Object.values(resourcesOf(tf, "aws_iam_role_policy_attachment")).filter(
      (a) => a.role === roleName,
    );
    expect(attachments.map((a) => a.policy_arn)).toEqual([
      expect.stringMatching(
        /^arn:\$\{data\.aws_partition\.\w+\.partition\}:iam::aws:policy\/service-role\/AmazonECSTaskExecutionRolePolicy$/,
      ),
    ]);
  });

  it("adds no inline policy to the execution role when no app has secrets", () => {
    expect(resourcesOf(tf, "aws_iam_role_policy")).toEqual({});
  });
});

describe("platform options", () => {
  it("uses the given log retention", () => {
    const { json } = synthStack(ONE_APP, { logRetentionDays: 90 });
    expect(json).toHaveResourceWithProperties(CloudwatchLogGroup, { retention_in_days: 90 });
  });

  it("turns deletion protection on when asked", () => {
    const { json } = synthStack(ONE_APP, { deletionProtection: true });
    expect(json).toHaveResourceWithProperties(Lb, { enable_deletion_protection: true });
  });

  it("gives each private subnet its own NAT gateway when asked for two", () => {
    const { tf } = synthStack(ONE_APP, { natGateways: 2 });
    expect(Object.keys(resourcesOf(tf, "aws_nat_gateway"))).toHaveLength(2);
    const assoc = (az: number) => resourceIn(tf, "aws_route_table_association", `Platform_Network_Private${az}Routes`);
    expect(assoc(1).route_table_id).not.toEqual(assoc(2).route_table_id);
  });
});

describe("an existing network", () => {
  const network = {
    vpcId: "vpc-0abc",
    publicSubnetIds: ["subnet-0a", "subnet-0b"],
    privateSubnetIds: ["subnet-0c", "subnet-0d"],
  };
  let tf: TfJson;

  beforeAll(() => {
    ({ tf } = synthStack(configFixture([appFixture("mqtt")], { network })));
  });

  it("creates no VPC, subnet, gateway or route", () => {
    for (const type of ["aws_vpc", "aws_subnet", "aws_internet_gateway", "aws_nat_gateway", "aws_route"]) {
      expect(resourcesOf(tf, type)).toEqual({});
    }
  });

  it("puts the load balancer in the given public subnets", () => {
    expect(resourceIn(tf, "aws_lb", "Platform_LoadBalancer_").subnets).toEqual(network.publicSubnetIds);
  });

  it("puts the tasks in the given private subnets", () => {
    const config = resourceIn(tf, "aws_ecs_service", "mqtt_").network_configuration as { subnets: string[] };
    expect(config.subnets).toEqual(network.privateSubnetIds);
  });

  it("puts the security groups and target group in the given VPC", () => {
    expect(resourceIn(tf, "aws_security_group", "mqtt_").vpc_id).toBe("vpc-0abc");
    expect(resourceIn(tf, "aws_lb_target_group", "mqtt_").vpc_id).toBe("vpc-0abc");
  });
});

describe("a prebuilt agent image", () => {
  let tf: TfJson;

  beforeAll(() => {
    ({ tf } = synthStack(ONE_APP));
  });

  it("declares no ECR repository and no build", () => {
    expect(resourcesOf(tf, "aws_ecr_repository")).toEqual({});
    // The only terraform_data left is the load balancer's address mode (no image build).
    expect(Object.keys(resourcesOf(tf, "terraform_data"))).toEqual([expect.stringMatching(/^Platform_LoadBalancer_AddressMode_/)]);
  });

  it("runs the given image as the tcp-agent container", () => {
    expect(containersOf(tf, "mqtt").find((c) => c.name === "tcp-agent")?.image).toBe(ONE_APP.agentImage);
  });
});

describe("the agent image built by the stack", () => {
  const folders = [] as string[];
  const buildConfig = configFixture([appFixture("mqtt")], { agentImage: undefined });
  const synthWithSources = (dir: string) => synthStack(buildConfig, { agentBuild: { contextDir: dir } });
  const sources = (agentSource?: string) => {
    const dir = fakeAgentSources(agentSource);
    folders.push(dir);
    return dir;
  };
  /** The tag alone: the construct computes it when created, no synth needed. */
  const tagOf = (dir: string) =>
    new TcpAgentImage(new TerraformStack(Testing.app({ outdir: os.tmpdir() }), "tags"), "Image", {
      project: "acme",
      region: "eu-west-1",
      contextDir: dir,
    }).tag;
  const localExec = (tf: TfJson) =>
    (
      resourceIn(tf, "terraform_data", "Platform_AgentImage_Build") as {
        provisioner: { "local-exec": { command: string; working_dir: string; environment: Record<string, string> } }[];
      }
    ).provisioner[0]["local-exec"];

  let dir: string;
  let json: string;
  let tf: TfJson;
  let tag: string | undefined;
  let stackOf: TcpAddonStack;

  beforeAll(() => {
    dir = sources();
    let stack;
    ({ json, tf, stack } = synthWithSources(dir));
    stackOf = stack;
    tag = stack.platform.agentImage?.tag;
  });

  afterAll(() => folders.forEach((folder) => fs.rmSync(folder, { recursive: true, force: true })));

  it("declares the ECR repository <project>-tcp-agent with scan on push and immutable tags", () => {
    expect(json).toHaveResourceWithProperties(EcrRepository, {
      name: "acme-tcp-agent",
      image_tag_mutability: "IMMUTABLE",
      image_scanning_configuration: { scan_on_push: true },
    });
  });

  it("builds runtime/Dockerfile from the context folder, then pushes", () => {
    const exec = localExec(tf);
    // written relative to the stack's output folder (no absolute path in the JSON), and that is the context folder
    expect(path.isAbsolute(exec.working_dir)).toBe(false);
    expect(path.resolve(stackOutputDir(stackOf), exec.working_dir)).toBe(dir);
    const steps = exec.command.split("\n").flatMap((line) => /\bdocker (login|buildx build)\b/.exec(line)?.[0] ?? []);
    expect(steps).toEqual(["docker login", "docker buildx build"]);
    expect(exec.command).toContain('docker buildx build --platform "$IMAGE_PLATFORM" --provenance=false -f runtime/Dockerfile -t');
  });

  it("pushes one multi-arch manifest (amd64 and arm64) to the stack's repository under the sources' tag", () => {
    const exec = localExec(tf);
    expect(exec.command).toContain('-t "$REPOSITORY_URL:$IMAGE_TAG" --push .');
    expect(exec.environment).toMatchObject({ IMAGE_PLATFORM: "linux/amd64,linux/arm64" });
    expect(exec.environment).toMatchObject({
      REPOSITORY_URL: ref(tf, "aws_ecr_repository", "Platform_AgentImage_Repository", "repository_url"),
      IMAGE_TAG: tag,
    });
  });

  it("skips the push when the tag is already in the repository", () => {
    const firstSteps = localExec(tf).command.split("\n").slice(0, 2);
    expect(firstSteps[0]).toBe("set -e");
    expect(firstSteps[1]).toMatch(/^if aws ecr describe-images .*imageTag="\$IMAGE_TAG".* then .*exit 0; fi$/);
  });

  it("runs the pushed image, tagged with the sources' hash, in the tcp-agent container", () => {
    expect(tag).toMatch(/^src-[0-9a-f]{12}$/);
    expect(containersOf(tf, "mqtt").find((c) => c.name === "tcp-agent")?.image).toBe(
      `${ref(tf, "aws_ecr_repository", "Platform_AgentImage_Repository", "repository_url")}:${tag}`,
    );
  });

  it("creates the task definitions after the image build", () => {
    const buildId = Object.keys(resourcesOf(tf, "terraform_data"))[0];
    expect(resourceIn(tf, "aws_ecs_task_definition", "mqtt_").depends_on).toEqual([`terraform_data.${buildId}`]);
  });

  it("replaces the build step only when the tag changes", () => {
    expect(resourceIn(tf, "terraform_data", "Platform_AgentImage_Build").triggers_replace).toEqual({
      tag,
      repository: ref(tf, "aws_ecr_repository", "Platform_AgentImage_Repository", "repository_url"),
    });
  });

  it("gives the same tag to the same sources in another folder", () => {
    expect(tagOf(sources())).toBe(tag);
  });

  it("gives a new tag when an agent source file changes", () => {
    expect(tagOf(sources("export const version = 2;\n"))).not.toBe(tag);
  });

  it("gives a new tag when the Dockerfile's context filter changes", () => {
    const other = sources();
    fs.writeFileSync(path.join(other, "runtime", "Dockerfile.dockerignore"), "*\n");
    expect(tagOf(other)).not.toBe(tag);
  });

  it("fails with AGENT_SOURCES_MISSING when runtime/Dockerfile is absent", () => {
    const other = sources();
    fs.rmSync(path.join(other, "runtime", "Dockerfile"));
    expect(() => tagOf(other)).toThrow(expect.objectContaining({ code: "TCP_ADDON_AGENT_SOURCES_MISSING" }));
  });
});

describe("secrets", () => {
  const ssmArn = "arn:aws:ssm:eu-west-1:123456789012:parameter/mqtt/db-password";
  const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:game/token-AbCdEf";
  const apps = [
    appFixture("mqtt", { port: 20001, secrets: { DATABASE_PASSWORD: ssmArn } }),
    appFixture("game", { port: 20002, secrets: { TOKEN: `${secretArn}:token::` } }),
    appFixture("chat", { port: 20003 }),
  ];
  let json: string;
  let tf: TfJson;

  beforeAll(() => {
    ({ json, tf } = synthStack(configFixture(apps)));
  });

  it("passes each secret to the app container as an ECS secret with its ARN", () => {
    expect(containersOf(tf, "mqtt").find((c) => c.name === "app")?.secrets).toEqual([
      { name: "DATABASE_PASSWORD", valueFrom: ssmArn },
    ]);
  });

  it("never puts a secret's name in the plain environment", () => {
    for (const container of [...containersOf(tf, "mqtt"), ...containersOf(tf, "game")]) {
      const names = (container.environment ?? []).map((e) => e.name);
      expect(names).not.toContain("DATABASE_PASSWORD");
      expect(names).not.toContain("TOKEN");
    }
  });

  it("mentions secret ARNs only as valueFrom and in the execution role's policy", () => {
    const withoutSecretsAndPolicy = JSON.parse(json, (key, value) =>
      key === "secrets" || key === "aws_iam_role_policy" ? undefined : value,
    );
    const containerDefs = Object.values(resourcesOf(tf, "aws_ecs_task_definition")).map((td) =>
      JSON.stringify(JSON.parse(td.container_definitions as string, (k, v) => (k === "secrets" ? undefined : v))),
    );
    const elsewhere = JSON.stringify(withoutSecretsAndPolicy, (k, v) =>
      k === "container_definitions" ? undefined : v,
    );
    for (const text of [elsewhere, ...containerDefs]) {
      expect(text).not.toContain("parameter/mqtt/db-password");
      expect(text).not.toContain("secret:game/token");
    }
  });

  it("lets the execution role read exactly those secrets, each with its own action", () => {
    const policy = resourceIn(tf, "aws_iam_role_policy", "Platform_SecretsPolicy");
    expect(policy.role).toBe(ref(tf, "aws_iam_role", "Platform_ExecutionRole", "name"));
    expect(JSON.parse(policy.policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "ReadParameters", Effect: "Allow", Action: "ssm:GetParameters", Resource: [ssmArn] },
        { Sid: "ReadSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: [secretArn] },
      ],
    });
  });

  it("still attaches the managed execution policy alongside the inline one", () => {
    expect(json).toHaveResourceWithProperties(IamRolePolicyAttachment, {
      policy_arn: expect.stringContaining("AmazonECSTaskExecutionRolePolicy"),
    });
  });
});
