import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { fargatePairProblem } from "../config/fargate";
import { BUILT_IN_PLANS, DEFAULT_PLAN } from "../config/plans";
import { APP_NAME, RESERVED_ENV, type Plan } from "../config/schema";
import { ConstructError } from "./errors";
import type { TcpLoadBalancer } from "./load-balancer";
import { fitName, tcpUrlOutputId } from "./names";
import type { TcpPlatform } from "./platform";

/** Inside each task (awsvpc): the agent's TCP listener, the target group's port. */
export const AGENT_PORT = 7000;
/** Inside each task: the agent's `/healthz` and `/metrics`, the target group's health check port. */
export const AGENT_HEALTH_PORT = 7001;
/** Inside each task: the app's `$PORT`, which the agent forwards to on 127.0.0.1. */
export const APP_PORT = 5000;
/** Container names in every task definition. */
export const APP_CONTAINER = "app";
export const AGENT_CONTAINER = "tcp-agent";
/** Non-root uid the agent container runs as. */
export const AGENT_UID = "1000";
/** Fargate's ceiling on a container's stopTimeout (SIGTERM to SIGKILL), in seconds. */
export const FARGATE_MAX_STOP_TIMEOUT = 120;

export interface TcpAppProps {
  /** The shared cluster, network, load balancers, role and logs. */
  readonly platform: TcpPlatform;
  /**
   * App name: 1-31 lowercase letters, digits or hyphens, starting with a letter.
   * @default the construct id
   */
  readonly name?: string;
  /** Container image of the app. */
  readonly image: string;
  /** The `tcp` process's command, run as `/bin/sh -c <command>`; it must listen on `$PORT`. */
  readonly command: string;
  /**
   * Packets per second per container (each direction), enforced by the agent.
   * @default the built-in tcp-1k plan: 1000 pps, 1.5 MB/s per container
   */
  readonly plan?: Plan;
  /** Public port of the NLB listener; it is part of TCP_URL. */
  readonly port: number;
  /**
   * Running tasks (`desired_count`).
   * @default 1
   */
  readonly containers?: number;
  /**
   * Fargate CPU units of the task (a valid Fargate pair with `memory`).
   * @default 256
   */
  readonly cpu?: number;
  /**
   * Fargate memory of the task in MiB.
   * @default 512
   */
  readonly memory?: number;
  /**
   * Extra environment of the app container (PORT and TCP_URL are set by the platform).
   * @default no extra variables
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Environment variables ECS fills from SSM parameter or Secrets Manager ARNs at start; the
   * values never appear in the declaration.
   * @default no secrets
   */
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * Client ranges admitted on the public port, by the load balancer's security group.
   * @default ["0.0.0.0/0"]: the whole IPv4 internet
   */
  readonly allowedCidrs?: readonly string[];
  /**
   * Which of the project's load balancers (0-based) carries the listener; at most 50 apps each.
   * @default 0
   */
  readonly loadBalancer?: number;
  /**
   * Seconds the NLB keeps a deregistering task's connections before closing them. New
   * connections can still reach a deregistering target for 30-40 s, so less than that
   * refuses clients during a deploy; more only delays deploys.
   * @default 60
   */
  readonly deregistrationDelaySeconds?: number;
  /**
   * Seconds the agent lets open connections finish after SIGTERM (the containers' stopTimeout
   * is this plus 10, at most 120 on Fargate).
   * @default 15
   */
  readonly drainSeconds?: number;
  /**
   * Seconds after a task starts during which failed load balancer health checks are ignored.
   * @default 60
   */
  readonly healthCheckGracePeriodSeconds?: number;
}

/**
 * One app's `tcp` process on the internet: a TCP listener on its port, a TCP target group of
 * task IPs health-checked on the agent's `/healthz`, a Fargate task definition (the app and
 * the `tcp-agent` sidecar that enforces the plan's packets per second), an ECS service that
 * deploys 100/200 with a rolling circuit breaker, a task security group that admits only the
 * load balancer's security group, and TCP_URL as an SSM parameter and a Terraform output.
 *
 * Traffic: client -> NLB :port -> agent :7000 (token bucket) -> app 127.0.0.1:5000.
 * Deploys: ECS starts new tasks, waits for them to pass health checks, then deregisters an old
 * task; the NLB stops sending it new connections, closes the remaining ones when the
 * deregistration delay ends (`connection_termination`: the seed drops old connections and
 * clients reconnect), then ECS sends SIGTERM and the agent drains and exits.
 */
export class TcpApp extends Construct {
  readonly name: string;
  /** `tcp://<NLB DNS name>:<port>`; never changes when other apps are added or removed. */
  readonly tcpUrl: string;
  readonly loadBalancer: TcpLoadBalancer;
  readonly listener: LbListener;
  readonly targetGroup: LbTargetGroup;
  readonly securityGroup: SecurityGroup;
  /** The app's own role inside its containers: no policies; attach what the app needs. */
  readonly taskRole: IamRole;
  readonly taskDefinition: EcsTaskDefinition;
  readonly service: EcsService;
  readonly parameter: SsmParameter;
  readonly output: TerraformOutput;

  constructor(scope: Construct, id: string, props: TcpAppProps) {
    super(scope, id);
    const name = props.name ?? id;
    const plan = props.plan ?? BUILT_IN_PLANS[DEFAULT_PLAN];
    const containers = props.containers ?? 1;
    const cpu = props.cpu ?? 256;
    const memory = props.memory ?? 512;
    const env = props.env ?? {};
    const secrets = props.secrets ?? {};
    const allowedCidrs = props.allowedCidrs ?? ["0.0.0.0/0"];
    const lbIndex = props.loadBalancer ?? 0;
    const deregistrationDelay = props.deregistrationDelaySeconds ?? 60;
    const drainSeconds = props.drainSeconds ?? 15;
    const gracePeriod = props.healthCheckGracePeriodSeconds ?? 60;
    validate(name, props.port, containers, cpu, memory, env, secrets, allowedCidrs, drainSeconds, deregistrationDelay);

    const platform = props.platform;
    const project = platform.project;
    const appTags = { "tcp-addon:app": name };
    this.name = name;
    this.loadBalancer = platform.loadBalancer(lbIndex);
    this.loadBalancer.reserveListener(name, props.port);
    this.tcpUrl = `tcp://${this.loadBalancer.dnsName}:${props.port}`;
    const nlbSecurityGroupId = this.loadBalancer.securityGroup.id;

    // Security groups: the public port is open on the NLB only; the tasks admit nothing but the NLB.
    this.securityGroup = new SecurityGroup(this, "SecurityGroup", {
      name: `${project}-${name}-tasks`,
      description: `tcp-addon ${project}/${name} tasks: agent ports from the load balancer only`,
      vpcId: platform.network.vpcId,
      tags: { ...appTags, Name: `${project}-${name}-tasks` },
    });
    // Each attribute read makes a new cdktf token (with a captured stack trace): read once.
    const taskSecurityGroupId = this.securityGroup.id;
    new VpcSecurityGroupIngressRule(this, "TasksFromNlb", {
      securityGroupId: taskSecurityGroupId,
      referencedSecurityGroupId: nlbSecurityGroupId,
      ipProtocol: "tcp",
      fromPort: AGENT_PORT,
      toPort: AGENT_HEALTH_PORT,
      description: `${name}: agent traffic (${AGENT_PORT}) and health checks (${AGENT_HEALTH_PORT}) from the NLB`,
    });
    // Open egress: the app may call databases, APIs or brokers on the internet (through NAT),
    // and the tasks pull images from ECR and write to CloudWatch Logs.
    new VpcSecurityGroupEgressRule(this, "TasksOutbound", {
      securityGroupId: taskSecurityGroupId,
      cidrIpv4: "0.0.0.0/0",
      ipProtocol: "-1",
      description: `${name}: outbound from the app (internet through NAT, ECR, CloudWatch Logs)`,
    });
    allowedCidrs.forEach((cidr, i) => {
      new VpcSecurityGroupIngressRule(this, `PublicIngress${i + 1}`, {
        securityGroupId: nlbSecurityGroupId,
        ...(cidr.includes(":") ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
        ipProtocol: "tcp",
        fromPort: props.port,
        toPort: props.port,
        description: `${name}: clients from ${cidr} on TCP ${props.port}`,
      });
    });
    new VpcSecurityGroupEgressRule(this, "NlbToTasks", {
      securityGroupId: nlbSecurityGroupId,
      referencedSecurityGroupId: taskSecurityGroupId,
      ipProtocol: "tcp",
      fromPort: AGENT_PORT,
      toPort: AGENT_HEALTH_PORT,
      description: `${name}: NLB to the agent (traffic ${AGENT_PORT}, health ${AGENT_HEALTH_PORT})`,
    });

    this.targetGroup = new LbTargetGroup(this, "TargetGroup", {
      name: fitName([project, name]),
      protocol: "TCP",
      port: AGENT_PORT,
      targetType: "ip",
      vpcId: platform.network.vpcId,
      deregistrationDelay: String(deregistrationDelay),
      connectionTermination: true,
      // HTTP on the agent's health port: 200 while the app accepts connections and the agent is
      // not draining. 10 s x 2 checks: a task joins or leaves rotation within about 20 s.
      healthCheck: {
        enabled: true,
        protocol: "HTTP",
        port: String(AGENT_HEALTH_PORT),
        path: "/healthz",
        matcher: "200",
        interval: 10,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
      },
      tags: appTags,
    });
    const targetGroupArn = this.targetGroup.arn;
    this.listener = new LbListener(this, "Listener", {
      loadBalancerArn: this.loadBalancer.loadBalancer.arn,
      port: props.port,
      protocol: "TCP",
      defaultAction: [{ type: "forward", targetGroupArn }],
      tags: appTags,
    });

    const secretArns = Object.values(secrets);
    platform.grantSecrets(secretArns);
    this.taskRole = new IamRole(this, "TaskRole", {
      description: `tcp-addon ${project}/${name}: the app's own AWS permissions (none by default)`,
      assumeRolePolicy: platform.tasksAssumeRolePolicy,
      tags: appTags,
    });

    const logConfiguration = {
      logDriver: "awslogs",
      options: {
        "awslogs-group": platform.logGroup.name,
        "awslogs-region": platform.region,
        "awslogs-stream-prefix": name,
      },
    };
    const stopTimeout = drainSeconds + 10;
    const agentEnv: Record<string, string> = {
      TCP_ADDON_LISTEN: String(AGENT_PORT),
      TCP_ADDON_HEALTH_PORT: String(AGENT_HEALTH_PORT),
      TCP_ADDON_PPS: String(plan.packetsPerSecond),
      ...(plan.burst !== undefined ? { TCP_ADDON_BURST: String(plan.burst) } : {}),
      TCP_ADDON_UPSTREAM: `127.0.0.1:${APP_PORT}`,
      TCP_ADDON_DRAIN_SECONDS: String(drainSeconds),
    };
    const containerDefinitions = [
      {
        name: APP_CONTAINER,
        image: props.image,
        essential: true,
        command: ["/bin/sh", "-c", props.command],
        environment: toEnvList({ PORT: String(APP_PORT), TCP_URL: this.tcpUrl, ...env }),
        ...(secretArns.length > 0
          ? { secrets: Object.entries(secrets).map(([key, arn]) => ({ name: key, valueFrom: arn })) }
          : {}),
        stopTimeout,
        logConfiguration,
      },
      {
        name: AGENT_CONTAINER,
        image: platform.agentImageUri,
        essential: true,
        user: AGENT_UID,
        readonlyRootFilesystem: true,
        privileged: false,
        portMappings: [
          { containerPort: AGENT_PORT, protocol: "tcp" },
          { containerPort: AGENT_HEALTH_PORT, protocol: "tcp" },
        ],
        environment: toEnvList(agentEnv),
        // ECS stops containers in the reverse order of their dependencies: the agent gets SIGTERM
        // first and drains while the app still serves, then the app is stopped.
        dependsOn: [{ containerName: APP_CONTAINER, condition: "START" }],
        stopTimeout,
        logConfiguration,
      },
    ];
    this.taskDefinition = new EcsTaskDefinition(this, "TaskDefinition", {
      family: `${project}-${name}`,
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: String(cpu),
      memory: String(memory),
      runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: platform.cpuArchitecture },
      executionRoleArn: platform.executionRole.arn,
      taskRoleArn: this.taskRole.arn,
      containerDefinitions: JSON.stringify(containerDefinitions),
      dependsOn: platform.agentImage ? [platform.agentImage.build] : undefined,
      tags: appTags,
    });

    this.service = new EcsService(this, "Service", {
      name,
      cluster: platform.cluster.arn,
      taskDefinition: this.taskDefinition.arn,
      launchType: "FARGATE",
      desiredCount: containers,
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      networkConfiguration: {
        subnets: platform.network.privateSubnetIds,
        securityGroups: [taskSecurityGroupId],
        assignPublicIp: false,
      },
      loadBalancer: [{ targetGroupArn, containerName: AGENT_CONTAINER, containerPort: AGENT_PORT }],
      healthCheckGracePeriodSeconds: gracePeriod,
      propagateTags: "SERVICE",
      enableEcsManagedTags: true,
      // ECS refuses a target group that no load balancer uses yet; tasks need NAT to pull images.
      dependsOn: [this.listener, ...platform.network.egressReady],
      tags: appTags,
    });

    this.parameter = new SsmParameter(this, "TcpUrlParameter", {
      name: `/${project}/${name}/TCP_URL`,
      type: "String",
      value: this.tcpUrl,
      description: `TCP_URL of ${project}/${name}: where clients connect`,
      tags: appTags,
    });
    this.output = new TerraformOutput(this, "TcpUrl", {
      value: this.tcpUrl,
      description: `TCP_URL of app ${name}`,
    });
    this.output.overrideLogicalId(tcpUrlOutputId(name));
  }
}

function toEnvList(vars: Readonly<Record<string, string>>): { name: string; value: string }[] {
  return Object.entries(vars).map(([name, value]) => ({ name, value }));
}

function validate(
  name: string,
  port: number,
  containers: number,
  cpu: number,
  memory: number,
  env: Readonly<Record<string, string>>,
  secrets: Readonly<Record<string, string>>,
  allowedCidrs: readonly string[],
  drainSeconds: number,
  deregistrationDelay: number,
): void {
  const fail = (message: string) => {
    throw new ConstructError("TCP_ADDON_INVALID_PROPS", message);
  };
  if (!APP_NAME.test(name)) {
    fail(`app name "${name}": expected 1-31 lowercase letters, digits or hyphens, starting with a letter`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${name}.port: expected 1-65535, got ${port}`);
  if (!Number.isInteger(containers) || containers < 1) {
    fail(`${name}.containers: expected a whole number of at least 1, got ${containers}`);
  }
  const size = fargatePairProblem(cpu, memory);
  if (size) fail(`${name}.${size.field}: ${size.message}`);
  for (const key of RESERVED_ENV) {
    if (key in env || key in secrets) fail(`${name}.env.${key}: set by the platform; remove it`);
  }
  if (allowedCidrs.length === 0) fail(`${name}.allowedCidrs: expected at least one CIDR block`);
  const maxDrain = FARGATE_MAX_STOP_TIMEOUT - 10;
  if (!Number.isInteger(drainSeconds) || drainSeconds < 0 || drainSeconds > maxDrain) {
    fail(`${name}.drainSeconds: expected 0-${maxDrain} (Fargate stops containers after 120 s), got ${drainSeconds}`);
  }
  if (!Number.isInteger(deregistrationDelay) || deregistrationDelay < 0 || deregistrationDelay > 3600) {
    fail(`${name}.deregistrationDelaySeconds: expected 0-3600 (the NLB's range), got ${deregistrationDelay}`);
  }
}
