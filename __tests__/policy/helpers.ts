import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import {
  applyPolicy,
  PolicyViolationError,
  type PolicyFinding,
  type PolicyReport,
  type TcpAddonPolicyOptions,
} from "../../constructs/policy";

export const EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

const ASSUME_ECS_TASKS = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Principal: { Service: "ecs-tasks.amazonaws.com" } }],
});

/** A container definition as the product writes it for the agent: non-root, read-only, not privileged. */
export function agentContainer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "tcp-agent",
    image: "public.ecr.aws/acme/tcp-agent:1",
    essential: true,
    user: "1000",
    readonlyRootFilesystem: true,
    privileged: false,
    portMappings: [{ containerPort: 7000, protocol: "tcp" }, { containerPort: 7001, protocol: "tcp" }],
    environment: [
      { name: "TCP_ADDON_LISTEN", value: "7000" },
      { name: "TCP_ADDON_PPS", value: "1000" },
    ],
    ...overrides,
  };
}

/** The app container: the user's image, PORT and the user's env. */
export function appContainer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "app",
    image: "public.ecr.aws/acme/mqtt:1",
    essential: true,
    command: ["/bin/sh", "-c", "node server.js"],
    environment: [
      { name: "PORT", value: "5000" },
      { name: "LOG_LEVEL", value: "info" },
    ],
    secrets: [{ name: "DATABASE_PASSWORD", valueFrom: "arn:aws:ssm:eu-west-1:123456789012:parameter/mqtt/db" }],
    ...overrides,
  };
}

export interface CompliantStack {
  readonly stack: TerraformStack;
  readonly nlbSecurityGroup: SecurityGroup;
  readonly loadBalancer: Lb;
  readonly targetGroup: LbTargetGroup;
  readonly listener: LbListener;
  readonly taskSecurityGroup: SecurityGroup;
  readonly tasksFromNlb: VpcSecurityGroupIngressRule;
  readonly cluster: EcsCluster;
  readonly logGroup: CloudwatchLogGroup;
  readonly executionRole: IamRole;
  readonly taskRole: IamRole;
  readonly taskDefinition: EcsTaskDefinition;
  readonly service: EcsService;
}

export interface CompliantStackOptions {
  /** The task definition's containers. @default [appContainer(), agentContainer()] */
  readonly containers?: readonly Record<string, unknown>[];
}

/**
 * The smallest stack shaped like the product's (NLB with a security group, TCP listener and
 * target group, a task security group open only to the NLB's, a Fargate service, roles, logs),
 * built from the provider classes directly and keeping every rule. Tests break one thing.
 */
export function compliantStack(options: CompliantStackOptions = {}): CompliantStack {
  const stack = new TerraformStack(Testing.app(), "test");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });

  const nlbSecurityGroup = new SecurityGroup(stack, "NlbSecurityGroup", {
    name: "acme-nlb",
    description: "NLB: public listener ports",
    vpcId: "vpc-0abc",
  });
  new VpcSecurityGroupIngressRule(stack, "PublicIngress", {
    securityGroupId: nlbSecurityGroup.id,
    description: "mqtt clients",
    ipProtocol: "tcp",
    fromPort: 20003,
    toPort: 20003,
    cidrIpv4: "0.0.0.0/0",
  });
  const loadBalancer = new Lb(stack, "Nlb", {
    name: "acme-nlb",
    loadBalancerType: "network",
    internal: false,
    subnets: ["subnet-0aaa", "subnet-0bbb"],
    securityGroups: [nlbSecurityGroup.id],
  });
  const targetGroup = new LbTargetGroup(stack, "TargetGroup", {
    name: "acme-mqtt",
    port: 7000,
    protocol: "TCP",
    targetType: "ip",
    vpcId: "vpc-0abc",
    deregistrationDelay: "60",
    connectionTermination: true,
    healthCheck: { enabled: true, protocol: "HTTP", port: "7001", path: "/healthz" },
  });
  const listener = new LbListener(stack, "Listener", {
    loadBalancerArn: loadBalancer.arn,
    port: 20003,
    protocol: "TCP",
    defaultAction: [{ type: "forward", targetGroupArn: targetGroup.arn }],
  });

  const taskSecurityGroup = new SecurityGroup(stack, "TaskSecurityGroup", {
    name: "acme-mqtt-tasks",
    description: "mqtt tasks: only from the NLB",
    vpcId: "vpc-0abc",
  });
  const tasksFromNlb = new VpcSecurityGroupIngressRule(stack, "TasksFromNlb", {
    securityGroupId: taskSecurityGroup.id,
    description: "agent and health ports from the NLB",
    ipProtocol: "tcp",
    fromPort: 7000,
    toPort: 7001,
    referencedSecurityGroupId: nlbSecurityGroup.id,
  });
  new VpcSecurityGroupEgressRule(stack, "TasksOutbound", {
    securityGroupId: taskSecurityGroup.id,
    description: "outbound through the NAT gateway",
    ipProtocol: "-1",
    cidrIpv4: "0.0.0.0/0",
  });

  const cluster = new EcsCluster(stack, "Cluster", {
    name: "acme",
    setting: [{ name: "containerInsights", value: "enabled" }],
  });
  const logGroup = new CloudwatchLogGroup(stack, "Logs", { name: "/tcp-addon/acme", retentionInDays: 30 });
  const executionRole = new IamRole(stack, "ExecutionRole", {
    name: "acme-task-execution",
    assumeRolePolicy: ASSUME_ECS_TASKS,
  });
  new IamRolePolicyAttachment(stack, "ExecutionPolicy", {
    role: executionRole.name,
    policyArn: EXECUTION_POLICY_ARN,
  });
  const taskRole = new IamRole(stack, "TaskRole", { name: "acme-mqtt-task", assumeRolePolicy: ASSUME_ECS_TASKS });
  const taskDefinition = new EcsTaskDefinition(stack, "TaskDefinition", {
    family: "acme-mqtt",
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: "256",
    memory: "512",
    executionRoleArn: executionRole.arn,
    taskRoleArn: taskRole.arn,
    containerDefinitions: JSON.stringify(options.containers ?? [appContainer(), agentContainer()]),
  });
  const service = new EcsService(stack, "Service", {
    name: "mqtt",
    cluster: cluster.id,
    taskDefinition: taskDefinition.arn,
    desiredCount: 2,
    launchType: "FARGATE",
    networkConfiguration: {
      subnets: ["subnet-0ccc", "subnet-0ddd"],
      securityGroups: [taskSecurityGroup.id],
      assignPublicIp: false,
    },
    loadBalancer: [{ targetGroupArn: targetGroup.arn, containerName: "tcp-agent", containerPort: 7000 }],
  });

  return {
    stack,
    nlbSecurityGroup,
    loadBalancer,
    targetGroup,
    listener,
    taskSecurityGroup,
    tasksFromNlb,
    cluster,
    logGroup,
    executionRole,
    taskRole,
    taskDefinition,
    service,
  };
}

/**
 * Applies the policy to `stack`, runs cdktf's test synth (which invokes aspects) and returns
 * the policy's report; a PolicyViolationError is expected and swallowed, anything else is not.
 */
export function synthReport(stack: TerraformStack, options: TcpAddonPolicyOptions = {}): PolicyReport {
  const policy = applyPolicy(stack, { onWarning: () => undefined, ...options });
  try {
    Testing.synth(stack);
  } catch (err) {
    if (!(err instanceof PolicyViolationError)) throw err;
  }
  const report = policy.lastReport;
  if (report === undefined) throw new Error("the policy did not run during synth");
  return report;
}

/** The findings of one rule after a synth of `stack`. */
export function findingsOf(stack: TerraformStack, ruleId: string): PolicyFinding[] {
  return synthReport(stack).findings.filter((f) => f.ruleId === ruleId);
}

/** The error synth throws for `stack` (with the policy applied), or undefined when it passes. */
export function synthError(stack: TerraformStack): unknown {
  applyPolicy(stack, { onWarning: () => undefined });
  try {
    Testing.synth(stack);
    return undefined;
  } catch (err) {
    return err;
  }
}
