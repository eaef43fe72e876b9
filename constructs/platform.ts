import { Construct } from "constructs";
import { Lazy } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { EcsClusterCapacityProviders } from "@cdktf/provider-aws/lib/ecs-cluster-capacity-providers";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import type { AlarmTopicSpec, NetworkSpec } from "../config/schema";
import { TcpAlarmTopic } from "./alarm-topic";
import type { Deployment } from "../config/state";
import { TcpAgentImage, TcpAgentImageProps } from "./agent-image";
import { ConstructError } from "./errors";
import { TcpLoadBalancer } from "./load-balancer";
import { deploymentLabel, MAX_NAME, platformName } from "./names";
import { TcpNetwork } from "./network";

/** AWS's default quota of load balancers per region. */
export const MAX_LOAD_BALANCERS = 50;

/** Props of {@link TcpPlatform}: what the apps of one project share. */
export interface TcpPlatformProps {
  /** Resource-name prefix, 1-12 lowercase letters, digits or hyphens. */
  readonly project: string;
  /**
   * The deployment (staging, prod) this platform is: part of every resource name, so two
   * environments of one project in one account never share a resource.
   * @default none: names are `<project>-...` as they always were
   */
  readonly environment?: string;
  /**
   * An existing VPC and subnets to use.
   * @default a new VPC over 2 availability zones (see TcpNetwork)
   */
  readonly network?: NetworkSpec;
  /**
   * NAT gateways of the created VPC (1 or 2); ignored when `network` is given.
   * @default 1
   */
  readonly natGateways?: number;
  /**
   * VPC endpoints in the created VPC (see TcpNetworkProps.vpcEndpoints); ignored when `network` is given.
   * @default false
   */
  readonly vpcEndpoints?: boolean;
  /**
   * A prebuilt agent image for every task.
   * @default built from this repository and pushed to a stack-owned ECR repository
   */
  readonly agentImage?: string;
  /**
   * How the agent image is built when `agentImage` is not given.
   * @default see TcpAgentImageProps
   */
  readonly agentBuild?: Omit<TcpAgentImageProps, "project" | "region">;
  /**
   * Days CloudWatch keeps the containers' logs.
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * KMS key ARN that encrypts the log group.
   * @default CloudWatch's own encryption
   */
  readonly logKmsKeyArn?: string;
  /**
   * Deletion protection on every network load balancer.
   * @default false (see TcpLoadBalancerProps.deletionProtection)
   */
  readonly deletionProtection?: boolean;
  /**
   * One Elastic IP per AZ on every network load balancer (see TcpLoadBalancerProps.staticIps).
   * @default false
   */
  readonly staticIps?: boolean;
  /**
   * Where the apps' alarms notify: an email address (a new SNS topic) or an existing topic's ARN.
   * @default no notification: the alarms show in the CloudWatch console
   */
  readonly alarms?: AlarmTopicSpec;
  /**
   * Region the stack's provider deploys to, for the containers' `awslogs-region`.
   * @default read from the provider with the `aws_region` data source's `name` (present in
   * hashicorp/aws 5 and 6)
   */
  readonly region?: string;
  /**
   * IPv6 in the public subnets, so load balancers can be dualstack for apps that allow IPv6
   * clients (see TcpNetworkProps.ipv6).
   * @default false
   */
  readonly ipv6?: boolean;
  /**
   * Customer-managed KMS keys that encrypt the apps' secrets; the execution role may
   * `kms:Decrypt` with exactly these (and only when some app has secrets).
   * @default none: secrets under AWS managed keys need no grant
   */
  readonly secretsKmsKeyArns?: readonly string[];
  /**
   * Inbound rules per security group per IP family (the account's quota), counted on each NLB's group.
   * @default 60
   */
  readonly rulesPerSecurityGroup?: number;
}

/**
 * What the services and task definitions point at is created before it is destroyed; only a new
 * project name replaces these, and it is in their names, so the two never collide.
 */
const CREATE_FIRST = { createBeforeDestroy: true };

/** Trust policy of task roles: ECS tasks of this account only. */
function tasksAssumeRolePolicy(account: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": account } },
      },
    ],
  });
}

/**
 * Everything the project's apps share: the network, an ECS cluster with Container Insights,
 * the network load balancers (created on first use, one per 50 listeners), the agent image, a
 * log group with retention and the task-execution role. It declares no provider, so it fits in
 * a stack that already has one; `TcpAddonStack` is the ready-made stack around it.
 */
export class TcpPlatform extends Construct {
  /** The project: the prefix of every resource name. */
  readonly project: string;
  /** The project and environment that every resource name is made of (see names.ts). */
  readonly deployment: Deployment;
  /** The VPC and subnets, created or existing. */
  readonly network: TcpNetwork;
  /** The ECS cluster of every app's service (Container Insights on). */
  readonly cluster: EcsCluster;
  /** The cluster's name, known at synth (the dashboard writes it as a literal). */
  readonly clusterName: string;
  /** The CloudWatch log group of every container. */
  readonly logGroup: CloudwatchLogGroup;
  /** Pulls images and writes logs for every task; reads exactly the apps' secrets, nothing else. */
  readonly executionRole: IamRole;
  /** The stack-owned agent image; undefined when `agentImage` was given. */
  readonly agentImage?: TcpAgentImage;
  /** Image reference the `tcp-agent` containers run. */
  readonly agentImageUri: string;
  /** Region the provider deploys to (a token), for `awslogs-region`. */
  readonly region: string;
  /** The AWS partition (`aws`, `aws-cn`, `aws-us-gov`), for ARNs. */
  readonly partition: string;
  /** Trust policy of task roles: ECS tasks of this account only. */
  readonly tasksAssumeRolePolicy: string;
  /** CPU architecture of every task, matching the agent image ("X86_64" or "ARM64"). */
  readonly cpuArchitecture: string;
  /** The SNS topic every app's alarms notify; undefined without `alarms`. */
  readonly alarmTopic?: TcpAlarmTopic;
  /** FARGATE and FARGATE_SPOT attached to the cluster; declared when the first app asks for them. */
  private capacityProviders?: EcsClusterCapacityProviders;
  private readonly lbs: TcpLoadBalancer[] = [];
  private readonly secretArns = new Set<string>();
  private secretsPolicy?: IamRolePolicy;
  private readonly deletionProtection: boolean;
  private readonly staticIps: boolean;
  private readonly secretsKmsKeyArns: readonly string[];
  private readonly rulesPerSecurityGroup?: number;

  constructor(scope: Construct, id: string, props: TcpPlatformProps) {
    super(scope, id);
    this.deletionProtection = props.deletionProtection ?? false;
    this.staticIps = props.staticIps ?? false;
    this.project = props.project;
    this.deployment = { project: props.project, ...(props.environment === undefined ? {} : { environment: props.environment }) };
    this.secretsKmsKeyArns = props.secretsKmsKeyArns ?? [];
    this.rulesPerSecurityGroup = props.rulesPerSecurityGroup;

    // `region` exists only in hashicorp/aws 6, `name` in both (deprecated in 6): read the
    // provider only when the region was not given.
    this.region = props.region ?? new DataAwsRegion(this, "Region").name;
    this.partition = new DataAwsPartition(this, "Partition").partition;
    const account = new DataAwsCallerIdentity(this, "Account").accountId;

    this.network = this.declareNetwork(props);
    this.clusterName = platformName(this.deployment, "tcp-addon", MAX_NAME);
    this.cluster = this.ecsCluster();
    this.logGroup = this.containerLogs(props);
    this.cpuArchitecture = props.agentBuild?.platform === "linux/arm64" ? "ARM64" : "X86_64";
    this.tasksAssumeRolePolicy = tasksAssumeRolePolicy(account);
    this.executionRole = this.taskExecutionRole();
    this.alarmTopic = props.alarms === undefined ? undefined : this.alarmTopicOf(props.alarms);
    [this.agentImage, this.agentImageUri] = this.agentImageOf(props);
  }

  /** The VPC and subnets: an existing one, or one created over two zones. */
  private declareNetwork(props: TcpPlatformProps): TcpNetwork {
    return new TcpNetwork(this, "Network", {
      project: deploymentLabel(this.deployment),
      existing: props.network,
      natGateways: props.natGateways,
      vpcEndpoints: props.vpcEndpoints,
      region: props.region,
      ipv6: props.ipv6,
    });
  }

  /** The cluster of every app's service, with Container Insights. */
  private ecsCluster(): EcsCluster {
    return new EcsCluster(this, "Cluster", {
      name: this.clusterName,
      setting: [{ name: "containerInsights", value: "enabled" }],
      lifecycle: CREATE_FIRST,
    });
  }

  /** The log group of every container, `/tcp-addon/<project>[/<environment>]`. */
  private containerLogs(props: TcpPlatformProps): CloudwatchLogGroup {
    return new CloudwatchLogGroup(this, "Logs", {
      name: props.environment === undefined ? `/tcp-addon/${props.project}` : `/tcp-addon/${props.project}/${props.environment}`,
      retentionInDays: props.logRetentionDays ?? 30,
      kmsKeyId: props.logKmsKeyArn,
      lifecycle: CREATE_FIRST,
    });
  }

  /** The role ECS uses to pull images and write logs (AWS's managed policy); secret reads are granted per app. */
  private taskExecutionRole(): IamRole {
    const label = deploymentLabel(this.deployment);
    const role = new IamRole(this, "ExecutionRole", {
      namePrefix: `${label}-tcp-exec-`,
      description: `tcp-addon ${label}: ECS pulls images, writes logs and reads the apps' secrets`,
      assumeRolePolicy: this.tasksAssumeRolePolicy,
      lifecycle: CREATE_FIRST,
    });
    new IamRolePolicyAttachment(this, "ExecutionPolicy", {
      role: role.name,
      policyArn: `arn:${this.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`,
    });
    return role;
  }

  private alarmTopicOf(notify: NonNullable<TcpPlatformProps["alarms"]>): TcpAlarmTopic {
    return new TcpAlarmTopic(this, "AlarmTopic", { notify, name: platformName(this.deployment, "tcp-addon-alarms", MAX_NAME) });
  }

  /** The given agent image, or one built from runtime/ and pushed to a stack-owned repository. */
  private agentImageOf(props: TcpPlatformProps): [TcpAgentImage | undefined, string] {
    if (props.agentImage !== undefined) return [undefined, props.agentImage];
    const built = new TcpAgentImage(this, "AgentImage", {
      ...props.agentBuild,
      project: props.project,
      environment: props.environment,
      region: this.region,
    });
    return [built, built.imageUri];
  }

  /**
   * Attaches the FARGATE and FARGATE_SPOT capacity providers to the cluster (once), for services
   * with a capacity provider strategy: ECS refuses a strategy that names a provider the cluster
   * does not have ("You must associate a capacity provider with a cluster before you associate it
   * with the capacity provider strategy", ECS best practices guide, "Amazon ECS clusters for
   * Fargate"). No default strategy: services with a launch type are unaffected.
   */
  fargateCapacityProviders(): EcsClusterCapacityProviders {
    this.capacityProviders ??= new EcsClusterCapacityProviders(this, "CapacityProviders", {
      clusterName: this.cluster.name,
      capacityProviders: ["FARGATE", "FARGATE_SPOT"],
    });
    return this.capacityProviders;
  }

  /** The load balancers created so far, by index. */
  get loadBalancers(): readonly TcpLoadBalancer[] {
    return this.lbs.filter((lb) => lb !== undefined);
  }

  /** The `index`-th load balancer (0-based), created on first use with a stable id and name. */
  loadBalancer(index: number): TcpLoadBalancer {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_LOAD_BALANCERS) {
      throw new ConstructError(
        "TCP_ADDON_INVALID_PROPS",
        `loadBalancer: expected an index from 0 to ${MAX_LOAD_BALANCERS - 1}, got ${index}`,
      );
    }
    const existing = this.lbs[index];
    if (existing) return existing;
    const lb = new TcpLoadBalancer(this, index === 0 ? "LoadBalancer" : `LoadBalancer${index + 1}`, {
      project: this.project,
      environment: this.deployment.environment,
      index,
      vpcId: this.network.vpcId,
      publicSubnetIds: this.network.publicSubnetIds,
      deletionProtection: this.deletionProtection,
      staticIps: this.staticIps,
      rulesPerSecurityGroup: this.rulesPerSecurityGroup,
      ipv6: this.network.ipv6,
      dependsOn: this.network.internetReady.length > 0 ? this.network.internetReady : undefined,
    });
    this.lbs[index] = lb;
    return lb;
  }

  /**
   * Lets the execution role read these SSM parameters / Secrets Manager secrets (and only
   * these), and decrypt with `secretsKmsKeyArns`. The inline policy is created on the first
   * call and lists every ARN granted by any app when the stack is synthesized.
   */
  grantSecrets(arns: readonly string[]): void {
    if (arns.length === 0) return;
    arns.forEach((arn) => this.secretArns.add(arn));
    this.secretsPolicy ??= new IamRolePolicy(this, "SecretsPolicy", {
      name: "read-app-secrets",
      role: this.executionRole.name,
      policy: Lazy.stringValue({ produce: () => secretsPolicyDocument([...this.secretArns], this.secretsKmsKeyArns) }),
    });
  }
}

/**
 * `ssm:GetParameters` on the SSM parameter ARNs, `secretsmanager:GetSecretValue` on the
 * secrets and `kms:Decrypt` on the customer-managed keys that encrypt them. A Secrets Manager
 * reference may carry `:json-key:version-stage:version-id` after the secret's ARN (ECS
 * syntax); IAM wants the secret's own ARN, its first 7 fields. A secret's ARN ends with a hyphen
 * and six random characters (Secrets Manager permissions reference: "Secrets Manager constructs
 * the last part of the secret ARN by appending a dash and six random alphanumeric characters at
 * the end of the secret name"); a reference without them (ECS accepts a partial ARN) is granted
 * as `<arn>-??????`, the pattern the Secrets Manager user guide gives for it ("Using '??????' as
 * a wildcard to match the 6 random characters assigned by Secrets Manager"), since IAM compares
 * the full ARN and the partial one would never match.
 */
export function secretsPolicyDocument(arns: readonly string[], kmsKeyArns: readonly string[] = []): string {
  const ssm = [...new Set(arns.filter((a) => a.split(":")[2] === "ssm"))].sort();
  const secrets = [
    ...new Set(arns.filter((a) => a.split(":")[2] === "secretsmanager").map((a) => secretResource(a.split(":").slice(0, 7).join(":")))),
  ].sort();
  const statements = [];
  if (ssm.length > 0) {
    statements.push({ Sid: "ReadParameters", Effect: "Allow", Action: "ssm:GetParameters", Resource: ssm });
  }
  if (secrets.length > 0) {
    statements.push({
      Sid: "ReadSecrets",
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: secrets,
    });
  }
  const keys = [...new Set(kmsKeyArns)].sort();
  if (keys.length > 0) {
    statements.push({ Sid: "DecryptSecrets", Effect: "Allow", Action: "kms:Decrypt", Resource: keys });
  }
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/** The random suffix Secrets Manager appends to a secret's name in its ARN. */
const SECRET_SUFFIX = /-[A-Za-z0-9]{6}$/;

/**
 * The IAM resource of a secret's ARN: as given when it ends in the six-character suffix, else the
 * ARN followed by `-??????`. A name that itself ends in a hyphen and six characters reads as a
 * complete ARN, as Secrets Manager reads it too.
 */
export function secretResource(secretArn: string): string {
  return SECRET_SUFFIX.test(secretArn) ? secretArn : `${secretArn}-??????`;
}
