import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { createHash } from "node:crypto";
import { EcsService, type EcsServiceCapacityProviderStrategy } from "@cdktf/provider-aws/lib/ecs-service";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { deployTimings, DeployTimingsError, type DeployOverrides, type DeployTimings } from "../config/deploy-timings";
import { APP_RANGES, appIssues, oneOfProblem, rangeProblem, tlsCertificateIssues } from "../config/app-rules";
import { BUILT_IN_PLANS } from "../config/plans";
import {
  ALARMS_ON,
  type AlarmSwitches,
  APP_DEFAULTS,
  APP_NAME,
  ARCHITECTURES,
  appNetworking,
  type AppCapacity,
  type Architecture,
  networkingOf,
  tcpUrlScheme,
  type AppNetworking,
  type DomainSpec,
  type Plan,
  type ResolvedApp,
  type TlsSpec,
} from "../config/schema";
import { AGENT_HEALTH_PORT, AGENT_PORT, CLIENT_IP_MODES, type ClientIpMode } from "../ground";
import { TcpAppImage } from "./app-image";
import { AGENT_CONTAINER, containerDefinitions } from "./container-definitions";
import { TcpAppAlarms } from "./alarms";
import type { AppMetrics } from "./app-metrics";
import { ConstructError } from "./errors";
import type { TcpLoadBalancer } from "./load-balancer";
import { appResourceName, deploymentLabel, MAX_LB_NAME, MAX_NAME, tcpUrlOutputId } from "./names";
import type { TcpPlatform } from "./platform";
import type { TerraformData } from "./terraform-data";
import { TcpTlsCertificate } from "./tls-certificate";

/** The NLB security policy of TLS listeners: TLS 1.3 and 1.2 with forward secrecy only. */
export const TLS_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";
import { TcpAppScaling } from "./scaling";

export { AGENT_CONTAINER, AGENT_UID, APP_CONTAINER } from "./container-definitions";
export { AGENT_HEALTH_PORT, AGENT_PORT, APP_PORT } from "../ground";

/** Props of {@link TcpApp}: one app on a {@link TcpPlatform}. Every prop but `platform`, `image` and `command` has a default. */
export interface TcpAppProps {
  /** The shared cluster, network, load balancers, role and logs. */
  readonly platform: TcpPlatform;
  /**
   * App name: 1-31 lowercase letters, digits or hyphens, starting with a letter.
   * @default the construct id
   */
  readonly name?: string;
  /** Container image of the app; exactly one of `image` and `build`. */
  readonly image?: string;
  /**
   * A folder with a Dockerfile: the app's image is built from it and pushed to the app's own ECR
   * repository on deploy (TcpAppImage), tagged by its content; exactly one of `image` and `build`.
   * @default none: `image` names the app's image
   */
  readonly build?: string;
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
   * Running tasks (`desired_count`); with `scaling`, the count the service starts at.
   * @default 1, or `scaling.min`
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
   * Deploy timings: deregistration delay, health checks, grace period, the agent's drain, the
   * unhealthy-target behaviour. Each omitted key keeps its default (config/deploy-timings.ts);
   * the containers' stopTimeout follows the drain.
   * @default DEFAULT_DEPLOY_TIMINGS (60 s deregistration, checks every 10 s, 15 s drain)
   */
  readonly deploy?: DeployOverrides;
  /**
   * How the app learns its clients' addresses: `proxy-v2` turns on PROXY protocol v2 on the
   * target group and the agent reads it (logs, metrics, per-address limits); `proxy-v2-to-app`
   * also makes the agent send a PROXY v2 header to the app before the client's bytes.
   * @default "off": the agent and the app see the load balancer's address
   */
  readonly clientIp?: ClientIpMode;
  /**
   * TLS at the load balancer (policy ELBSecurityPolicy-TLS13-1-2-2021-06); the target stays
   * plain TCP to the agent, and TCP_URL starts with `tls://`. `certificateArn` uses an existing
   * ACM certificate; `domain` + `hostedZoneId` request one, validated by DNS in that zone.
   * @default a plain TCP listener
   */
  readonly tls?: TlsSpec;
  /**
   * A Route 53 alias record (A) `name` -> the app's NLB in `hostedZoneId`; TCP_URL uses `name`.
   * @default TCP_URL uses the NLB's DNS name
   */
  readonly domain?: DomainSpec;
  /**
   * Open connections per container; a new one past it is reset at once. 0 = no limit.
   * @default the plan's (10,000 for tcp-1k)
   */
  readonly maxConnections?: number;
  /**
   * Open connections per client address per container; needs `clientIp`.
   * @default no per-address limit
   */
  readonly maxConnectionsPerIp?: number;
  /**
   * `terraform apply` waits until the service has reached its desired count of healthy tasks
   * on the new task definition, so a failed rollout (rolled back by the circuit breaker) fails
   * the apply instead of passing silently.
   * @default true
   */
  readonly waitForSteadyState?: boolean;
  /**
   * Scale the service between `min` and `max` tasks: target tracking on the plan's packets (the
   * agent's PlanUtilization) and on CPU; the service then ignores `desired_count` drift.
   * @default no scaling: `containers` tasks, always
   */
  readonly scaling?: TcpAppScalingRange;
  /**
   * Which CloudWatch alarms to declare (constructs/alarms.ts); `false` for none. They notify the
   * platform's alarm topic, if it has one.
   * @default all four
   */
  readonly alarms?: AlarmSwitches | false;
  /**
   * Fargate Spot for some or all tasks: `spotPercent` of the tasks above `base` run on
   * FARGATE_SPOT (discounted, interrupted with a two-minute warning), the rest on FARGATE,
   * through a capacity provider strategy (the service then has no launch type).
   * @default every task on Fargate (launch type FARGATE)
   */
  readonly capacity?: AppCapacity;
  /**
   * CPU architecture of the tasks (`runtime_platform.cpu_architecture`); the app's image and the
   * agent image must run on it (the built agent image holds both).
   * @default the platform's (X86_64 unless the agent image is built for linux/arm64 only)
   */
  readonly architecture?: Architecture;
  /**
   * Whether the agent writes its metrics to CloudWatch (EMF lines in its log, once a minute).
   * Without them there is no plan-utilisation alarm or scaling policy.
   * @default true
   */
  readonly agentMetrics?: boolean;
}

/** `scaling` of TcpAppProps: the task range and, optionally, the targets. */
export interface TcpAppScalingRange {
  /** Fewest tasks; the service starts here. */
  readonly min: number;
  /** Most tasks. */
  readonly max: number;
  /** @default 70 (percent of the plan's packets per second, average task) */
  readonly planUtilizationTarget?: number;
  /** @default 70 (percent CPU, average task) */
  readonly cpuTarget?: number;
}

/** An app's props after the defaults, checked: what the loader resolves, but where it runs locally. */
type AppSettings = Omit<ResolvedApp, "workdir" | "waitForSteadyState" | "scaling" | "alarms" | "networking"> & {
  readonly waitForSteadyState: boolean;
  readonly agentMetrics: boolean;
  readonly scaling?: TcpAppScalingRange;
  readonly alarms: AlarmSwitches | false;
  readonly networking: AppNetworking;
};

/** How a resolved app reaches the constructor without being spelled out as props again. */
const RESOLVED = Symbol("resolved app");
interface ResolvedAppProps extends TcpAppProps {
  readonly [RESOLVED]: AppSettings;
}

/**
 * One app's `tcp` process on the internet: a TCP listener on its port, a TCP target group of
 * task IPs health-checked on the agent's `/healthz`, a Fargate task definition (the app and
 * the `tcp-agent` sidecar that enforces the plan's packets per second), an ECS service that
 * deploys 100/200 with a rolling circuit breaker, a task security group that admits only the
 * load balancer's security group, and TCP_URL as an SSM parameter and a Terraform output.
 *
 * Traffic: client -> NLB :port -> agent :7000 (token bucket) -> app 127.0.0.1:5000.
 * Deploys (config/deploy-timings.ts): ECS starts new tasks and waits for them to pass health
 * checks, then deregisters an old task; after the deregistration delay the NLB closes its
 * remaining connections (`connection_termination`: old connections are dropped and clients
 * reconnect), then ECS sends SIGTERM and the agent drains, still accepting late flows, and exits.
 */
export class TcpApp extends Construct {
  /** The app's name: resource names, the log stream prefix and the `tcp-addon:app` tag use it. */
  readonly name: string;
  /** `tcp://<NLB DNS name>:<port>`; never changes when other apps are added or removed. */
  readonly tcpUrl: string;
  /** The deploy timings this app was declared with (defaults and overrides). */
  readonly timings: DeployTimings;
  /** The project NLB that carries the listener (shared with up to 49 other apps). */
  readonly loadBalancer: TcpLoadBalancer;
  /** The TCP listener on the app's port; tune it (for example `tcpIdleTimeoutSeconds`) in place. */
  readonly listener: LbListener;
  /** The TCP target group of task IPs: health check, deregistration delay and termination live here. */
  readonly targetGroup: LbTargetGroup;
  /** The tasks' security group: admits only the NLB's group on the agent ports; add egress rules here. */
  readonly securityGroup: SecurityGroup;
  /** The app's own role inside its containers: no policies; attach what the app needs. */
  readonly taskRole: IamRole;
  /** The Fargate task definition (the `app` and `tcp-agent` containers); override fields with `addOverride`. */
  readonly taskDefinition: EcsTaskDefinition;
  /** The ECS service: desired count, deployment settings, network placement. */
  readonly service: EcsService;
  /** The SSM parameter `/<project>[/<environment>]/<app>/TCP_URL`, for other stacks and scripts to read. */
  readonly parameter: SsmParameter;
  /** The Terraform output `tcp_url_<app>` that `tcp-addon urls` reads. */
  readonly output: TerraformOutput;
  /** The client-IP mode, TLS, domain and connection limits this app was declared with. */
  readonly networking: AppNetworking;
  /** The ACM certificate requested for `tls.domain`, with its validation; undefined otherwise. */
  readonly certificate?: TcpTlsCertificate;
  /** The alias record (A) of `domain`; undefined without one. */
  readonly aliasRecord?: Route53Record;
  /**
   * The AAAA alias record of `domain`, once the app's load balancer is dualstack (any app on it
   * allows IPv6 clients); undefined otherwise.
   */
  aliasRecordIpv6?: Route53Record;
  /** The app's metric dimensions and plan budget, for alarms, scaling and the project's dashboard. */
  readonly metrics: AppMetrics;
  /** The app's CloudWatch alarms; undefined with `alarms: false`. */
  readonly alarms?: TcpAppAlarms;
  /** The service's auto scaling; undefined without `scaling`. */
  readonly scaling?: TcpAppScaling;
  /** The app's image built from `build` (its ECR repository and build step); undefined with `image`. */
  readonly appImage?: TcpAppImage;

  private readonly platform: TcpPlatform;
  private readonly tags: Readonly<Record<string, string>>;

  /**
   * The app of a loaded config (`loadConfig(...).apps[i]`) on `platform`, with the id `app.name`:
   * what TcpAddonStack declares for each app. The same rules check it as the props.
   * @param agentMetrics whether the agent writes its metrics to CloudWatch (default true)
   */
  static fromResolved(scope: Construct, platform: TcpPlatform, app: ResolvedApp, agentMetrics = true): TcpApp {
    const props: ResolvedAppProps = { platform, command: app.command, port: app.port, [RESOLVED]: resolvedSettings(app, agentMetrics) };
    return new TcpApp(scope, app.name, props);
  }

  constructor(scope: Construct, id: string, props: TcpAppProps) {
    super(scope, id);
    const app = RESOLVED in props ? (props as ResolvedAppProps)[RESOLVED] : settings(id, props);
    this.platform = props.platform;
    this.name = app.name;
    this.timings = app.deploy;
    this.networking = app.networking;
    this.tags = { "tcp-addon:app": app.name };
    this.loadBalancer = this.platform.loadBalancer(app.loadBalancer);
    this.loadBalancer.reserveListener(app.name, app.port, app.allowedCidrs);
    const host = this.networking.domain?.name ?? this.loadBalancer.dnsName;
    this.tcpUrl = `${tcpUrlScheme(this.networking)}://${host}:${app.port}`;

    this.securityGroup = this.taskSecurityGroup(app);
    this.targetGroup = this.tcpTargetGroup(app);
    this.certificate = this.requestCertificate(app);
    this.listener = this.tcpListener(app);
    this.aliasRecord = this.domainAlias();
    this.taskRole = this.appRole(app);
    this.appImage = this.buildImage(app);
    this.taskDefinition = this.fargateTask(app);
    this.service = this.ecsService(app);
    [this.parameter, this.output] = this.publishTcpUrl(app);
    this.metrics = this.appMetrics(app);
    this.alarms = app.alarms === false ? undefined : this.appAlarms(app.alarms);
    this.scaling = app.scaling === undefined ? undefined : this.autoScaling(app.scaling);
  }

  /**
   * The public port opens on the NLB's group only; the tasks' group admits nothing but the NLB,
   * on the agent's two ports. Task egress is open: the app may call the internet through NAT,
   * and the tasks pull images from ECR and write to CloudWatch Logs.
   */
  private taskSecurityGroup(app: AppSettings): SecurityGroup {
    const project = this.platform.project;
    const name = appResourceName(this.platform.deployment, app.name, "tasks", MAX_NAME);
    // Replaced only with a new VPC (names are unique per VPC) or a new name: created first, so
    // the service moves to the new group before the old one goes.
    const group = new SecurityGroup(this, "SecurityGroup", {
      name,
      description: `tcp-addon ${project}/${app.name} tasks: agent ports from the load balancer only`,
      vpcId: this.platform.network.vpcId,
      tags: { ...this.tags, Name: name },
      lifecycle: { createBeforeDestroy: true },
    });
    // Each attribute read makes a new cdktf token (with a captured stack trace): read once.
    const tasks = group.id;
    const nlb = this.loadBalancer.securityGroup.id;
    const agentPorts = { ipProtocol: "tcp", fromPort: AGENT_PORT, toPort: AGENT_HEALTH_PORT };
    new VpcSecurityGroupIngressRule(this, "TasksFromNlb", {
      securityGroupId: tasks,
      referencedSecurityGroupId: nlb,
      ...agentPorts,
      description: `${app.name}: agent traffic (${AGENT_PORT}) and health checks (${AGENT_HEALTH_PORT}) from the NLB`,
    });
    new VpcSecurityGroupEgressRule(this, "TasksOutbound", {
      securityGroupId: tasks,
      cidrIpv4: "0.0.0.0/0",
      ipProtocol: "-1",
      description: `${app.name}: outbound from the app (internet through NAT, ECR, CloudWatch Logs)`,
    });
    app.allowedCidrs.forEach((cidr, i) => {
      new VpcSecurityGroupIngressRule(this, `PublicIngress${i + 1}`, {
        securityGroupId: nlb,
        ...(cidr.includes(":") ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
        ipProtocol: "tcp",
        fromPort: app.port,
        toPort: app.port,
        description: `${app.name}: clients from ${cidr} on TCP ${app.port}`,
      });
    });
    new VpcSecurityGroupEgressRule(this, "NlbToTasks", {
      securityGroupId: nlb,
      referencedSecurityGroupId: tasks,
      ...agentPorts,
      description: `${app.name}: NLB to the agent (traffic ${AGENT_PORT}, health ${AGENT_HEALTH_PORT})`,
    });
    return group;
  }

  /**
   * Task IPs on the agent's port, health-checked over HTTP on its health port (200 while the app
   * accepts and the agent is not draining). Deregistration waits out the delay, then resets what
   * is left (the seed drops old connections); an unhealthy target keeps its clients.
   *
   * The listener always points at it, so a replacement (a new VPC) is created before the old one
   * is destroyed; names are unique per region, so the name ends with a hash of everything that
   * replaces it (the VPC, protocol, port, target type): a replacement always has a new name.
   */
  private tcpTargetGroup(app: AppSettings): LbTargetGroup {
    const t = app.deploy;
    // Replaced with a new VPC, port or protocol: created first, under a name that ends in a hash
    // of what replaces it, so the old and the new one never share a name.
    const replacedBy = [this.platform.network.vpcIdentity, "TCP", AGENT_PORT, "ip"].join("/");
    const suffix = createHash("sha256").update(replacedBy).digest("hex").slice(0, 4);
    return new LbTargetGroup(this, "TargetGroup", {
      name: `${appResourceName(this.platform.deployment, app.name, undefined, MAX_LB_NAME - suffix.length - 1)}-${suffix}`,
      protocol: "TCP",
      port: AGENT_PORT,
      targetType: "ip",
      vpcId: this.platform.network.vpcId,
      lifecycle: { createBeforeDestroy: true },
      deregistrationDelay: String(t.deregistrationDelaySeconds),
      connectionTermination: true,
      // The NLB puts a PROXY v2 header before every client's bytes; the agent reads and strips it.
      // Off, the attribute is left out (the provider's default is false), so older stacks synth unchanged.
      ...(this.networking.clientIp === "off" ? {} : { proxyProtocolV2: true }),
      healthCheck: {
        enabled: true,
        protocol: "HTTP",
        port: String(AGENT_HEALTH_PORT),
        path: "/healthz",
        matcher: "200",
        interval: t.healthCheckIntervalSeconds,
        timeout: t.healthCheckTimeoutSeconds,
        healthyThreshold: t.healthyThreshold,
        unhealthyThreshold: t.unhealthyThreshold,
      },
      targetHealthState: [
        {
          enableUnhealthyConnectionTermination: t.unhealthyConnectionTermination,
          ...(t.unhealthyConnectionTermination ? {} : { unhealthyDrainingInterval: t.unhealthyDrainingIntervalSeconds }),
        },
      ],
      tags: this.tags,
    });
  }

  /**
   * The app's port on the NLB: TCP, or TLS terminated at the NLB with a TLS 1.3/1.2 policy, the
   * given or requested certificate and the ALPN policy asked for; the target stays plain TCP.
   */
  private tcpListener(app: AppSettings): LbListener {
    const tls = this.networking.tls;
    const certificateArn = this.certificate?.certificateArn ?? tls?.certificateArn;
    return new LbListener(this, "Listener", {
      loadBalancerArn: this.loadBalancer.loadBalancer.arn,
      port: app.port,
      protocol: tls === undefined ? "TCP" : "TLS",
      ...(tls === undefined ? {} : { sslPolicy: TLS_SSL_POLICY, certificateArn }),
      ...(tls?.alpn === undefined ? {} : { alpnPolicy: tls.alpn }),
      defaultAction: [{ type: "forward", targetGroupArn: this.targetGroup.arn }],
      tags: this.tags,
    });
  }

  /** An ACM certificate for `tls.domain`, validated by DNS in its zone; none with `certificateArn`. */
  private requestCertificate(app: AppSettings): TcpTlsCertificate | undefined {
    const tls = this.networking.tls;
    if (tls?.domain === undefined || tls.hostedZoneId === undefined) return undefined;
    return new TcpTlsCertificate(this, "Certificate", { domain: tls.domain, hostedZoneId: tls.hostedZoneId, tags: { ...this.tags, Name: `${app.name}-${tls.domain}` } });
  }

  /**
   * `domain.name` as an alias (A) of the app's NLB, so TCP_URL can carry the name, and an AAAA
   * alias as well once the NLB is dualstack: an alias answers only for its own record type (Route
   * 53 Developer Guide, values for alias records, record type for an "ELB load balancer": "Select
   * A — IPv4 address or AAAA — IPv6 address"), so without it IPv6 clients of the name get no address.
   */
  private domainAlias(): Route53Record | undefined {
    const domain = this.networking.domain;
    if (domain === undefined) return undefined;
    const lb = this.loadBalancer.loadBalancer;
    const alias = (type: "A" | "AAAA") => ({
      zoneId: domain.hostedZoneId,
      name: domain.name,
      type,
      alias: { name: lb.dnsName, zoneId: lb.zoneId, evaluateTargetHealth: true },
    });
    this.loadBalancer.whenDualstack(() => {
      this.aliasRecordIpv6 = new Route53Record(this, "DomainAliasIpv6", alias("AAAA"));
    });
    return new Route53Record(this, "DomainAlias", alias("A"));
  }

  /** The app's own role, separate from the execution role; secret reads go to the execution role. */
  private appRole(app: AppSettings): IamRole {
    this.platform.grantSecrets(Object.values(app.secrets));
    return new IamRole(this, "TaskRole", {
      description: `tcp-addon ${this.platform.project}/${app.name}: the app's own AWS permissions (none by default)`,
      assumeRolePolicy: this.platform.tasksAssumeRolePolicy,
      tags: this.tags,
    });
  }

  /** The app's image from its `build` folder, for the app's architecture; none with `image`. */
  private buildImage(app: AppSettings): TcpAppImage | undefined {
    if (app.build === undefined) return undefined;
    const platform = this.platform;
    return new TcpAppImage(this, "Image", {
      deployment: platform.deployment,
      app: app.name,
      region: platform.region,
      folder: app.build,
      platform: this.cpuArchitecture(app) === "ARM64" ? "linux/arm64" : "linux/amd64",
    });
  }

  private fargateTask(app: AppSettings): EcsTaskDefinition {
    const platform = this.platform;
    const image = this.appImage?.imageUri ?? app.image;
    if (image === undefined) throw new Error(`internal: app "${app.name}" has neither an image nor a build folder`);
    const containers = containerDefinitions({ ...app, image, networking: this.networking }, {
      tcpUrl: this.tcpUrl,
      agentImage: platform.agentImageUri,
      logGroup: platform.logGroup.name,
      region: platform.region,
      metricsProject: app.agentMetrics ? deploymentLabel(platform.deployment) : undefined,
    });
    return new EcsTaskDefinition(this, "TaskDefinition", {
      family: appResourceName(platform.deployment, app.name, undefined, MAX_NAME),
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: String(app.cpu),
      memory: String(app.memory),
      runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: this.cpuArchitecture(app) },
      executionRoleArn: platform.executionRole.arn,
      taskRoleArn: this.taskRole.arn,
      containerDefinitions: JSON.stringify(containers),
      dependsOn: imageBuilds(platform.agentImage?.build, this.appImage?.build),
      tags: this.tags,
    });
  }

  /** ECS's name of the app's architecture; the built agent image must include it. */
  private cpuArchitecture(app: AppSettings): string {
    if (app.architecture === undefined) return this.platform.cpuArchitecture;
    const built = this.platform.agentImage?.platform;
    const docker = app.architecture === "arm64" ? "linux/arm64" : "linux/amd64";
    if (built !== undefined && !built.split(",").includes(docker)) {
      throw new ConstructError("TCP_ADDON_INVALID_PROPS", `${app.name}.architecture: ${app.architecture} tasks need an agent image built for ${docker}; the platform builds ${built}`);
    }
    return app.architecture === "arm64" ? "ARM64" : "X86_64";
  }

  /** Rolling deploys at 100/200 % with the circuit breaker rolling back, in the private subnets. */
  private ecsService(app: AppSettings): EcsService {
    const network = this.platform.network;
    // A service with a capacity provider strategy has no launch type (ECS CreateService: "If a
    // capacityProviderStrategy is specified, the launchType parameter must be omitted").
    const strategy = app.capacity === undefined ? undefined : capacityProviderStrategy(app.capacity);
    const providers = strategy === undefined ? [] : [this.platform.fargateCapacityProviders()];
    return new EcsService(this, "Service", {
      name: app.name,
      cluster: this.platform.cluster.arn,
      taskDefinition: this.taskDefinition.arn,
      ...(strategy === undefined ? { launchType: "FARGATE" } : { capacityProviderStrategy: strategy }),
      desiredCount: app.containers,
      // With scaling, Application Auto Scaling owns the count: an apply must not undo it.
      lifecycle: app.scaling === undefined ? undefined : { ignoreChanges: ["desired_count"] },
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      networkConfiguration: {
        subnets: network.privateSubnetIds,
        securityGroups: [this.securityGroup.id],
        assignPublicIp: false,
      },
      loadBalancer: [{ targetGroupArn: this.targetGroup.arn, containerName: AGENT_CONTAINER, containerPort: AGENT_PORT }],
      healthCheckGracePeriodSeconds: app.deploy.healthCheckGracePeriodSeconds,
      waitForSteadyState: app.waitForSteadyState,
      propagateTags: "SERVICE",
      enableEcsManagedTags: true,
      // ECS refuses a target group that no load balancer uses yet; tasks need NAT to pull images.
      dependsOn: [this.listener, ...network.egressReady, ...providers],
      tags: this.tags,
    });
  }

  /** The dimensions every alarm, policy and dashboard widget of this app reads (tokens until apply). */
  private appMetrics(app: AppSettings): AppMetrics {
    return {
      app: app.name,
      project: deploymentLabel(this.platform.deployment),
      pps: app.plan.packetsPerSecond,
      minContainers: app.scaling?.min ?? app.containers,
      maxContainers: app.scaling?.max ?? app.containers,
      targetGroup: this.targetGroup.arnSuffix,
      loadBalancer: this.loadBalancer.loadBalancer.arnSuffix,
      clusterName: this.platform.cluster.name,
      serviceName: this.service.name,
      agentMetrics: app.agentMetrics,
    };
  }

  /** Unhealthy targets, tasks below desired, the plan nearly used up, target resets; to the platform's topic. */
  private appAlarms(switches: AlarmSwitches): TcpAppAlarms {
    return new TcpAppAlarms(this, "Alarms", {
      metrics: this.metrics,
      namePrefix: `${deploymentLabel(this.platform.deployment)}-${this.name}`,
      switches,
      topicArn: this.platform.alarmTopic?.topicArn,
      tags: this.tags,
    });
  }

  /** Target tracking on the plan's packets and on CPU, between min and max; scale-in waits out a task's exit. */
  private autoScaling(range: TcpAppScalingRange): TcpAppScaling {
    return new TcpAppScaling(this, "Scaling", {
      metrics: this.metrics,
      timings: this.timings,
      namePrefix: `${deploymentLabel(this.platform.deployment)}-${this.name}`,
      planUtilizationTarget: range.planUtilizationTarget,
      cpuTarget: range.cpuTarget,
    });
  }

  /**
   * TCP_URL as the SSM parameter `/<project>[/<environment>]/<app>/TCP_URL` and the output
   * `tcp_url_<app>`. Slashes cannot appear in the names, so the path is never ambiguous.
   */
  private publishTcpUrl(app: AppSettings): [SsmParameter, TerraformOutput] {
    const { project, environment } = this.platform.deployment;
    const scope = environment === undefined ? project : `${project}/${environment}`;
    const parameter = new SsmParameter(this, "TcpUrlParameter", {
      name: `/${scope}/${app.name}/TCP_URL`,
      type: "String",
      value: this.tcpUrl,
      description: `TCP_URL of ${scope}/${app.name}: where clients connect`,
      tags: this.tags,
    });
    const output = new TerraformOutput(this, "TcpUrl", { value: this.tcpUrl, description: `TCP_URL of app ${app.name}` });
    output.overrideLogicalId(tcpUrlOutputId(app.name));
    return [parameter, output];
  }
}

/** The props with their defaults (scaling starts at its min) (APP_DEFAULTS, DEFAULT_DEPLOY_TIMINGS), validated. */
function settings(id: string, props: TcpAppProps): AppSettings {
  const plan = props.plan ?? BUILT_IN_PLANS[APP_DEFAULTS.plan];
  const app: Omit<AppSettings, "deploy"> = {
    name: props.name ?? id,
    image: props.image,
    build: props.build,
    command: props.command,
    plan,
    port: props.port,
    containers: props.containers ?? props.scaling?.min ?? APP_DEFAULTS.containers,
    scaling: props.scaling,
    alarms: props.alarms ?? ALARMS_ON,
    agentMetrics: props.agentMetrics ?? true,
    cpu: props.cpu ?? APP_DEFAULTS.cpu,
    memory: props.memory ?? APP_DEFAULTS.memory,
    env: props.env ?? {},
    secrets: props.secrets ?? {},
    allowedCidrs: props.allowedCidrs ?? APP_DEFAULTS.allowedCidrs,
    loadBalancer: props.loadBalancer ?? APP_DEFAULTS.loadBalancer,
    waitForSteadyState: props.waitForSteadyState ?? APP_DEFAULTS.waitForSteadyState,
    capacity: props.capacity,
    architecture: props.architecture,
    networking: networkingOf(props, plan),
  };
  validate(app, props.maxConnections);
  return { ...app, deploy: timingsOf(app.name, props.deploy) };
}

/** A resolved app (config/resolve.ts) as the construct's settings, checked by the same rules. */
function resolvedSettings(app: ResolvedApp, agentMetrics: boolean): AppSettings {
  const networking = appNetworking(app);
  const settings: AppSettings = {
    ...app,
    alarms: app.alarms ?? ALARMS_ON,
    waitForSteadyState: app.waitForSteadyState ?? APP_DEFAULTS.waitForSteadyState,
    agentMetrics,
    networking,
  };
  // The plan's limit is not the app's own: only a limit that differs from the plan's was set by the app.
  validate(settings, networking.maxConnections === (app.plan.maxConnections ?? 0) ? undefined : networking.maxConnections);
  return settings;
}

/**
 * The app rules of config/app-rules.ts on the settings, and the ranges the config schema checks
 * by type: the first problem is thrown as `<app>.<field>: problem; fix`, the words YAML uses.
 */
function validate(app: Omit<AppSettings, "deploy">, ownMaxConnections: number | undefined): void {
  const problem = firstProblem(app, ownMaxConnections);
  if (problem !== undefined) throw new ConstructError("TCP_ADDON_INVALID_PROPS", problem);
}

function firstProblem(app: Omit<AppSettings, "deploy">, ownMaxConnections: number | undefined): string | undefined {
  const { name, networking: n } = app;
  if (!APP_NAME.test(name)) return `app name "${name}": expected 1-31 lowercase letters, digits or hyphens, starting with a letter`;
  const checks: [string, string | undefined][] = [
    ["port", rangeProblem(APP_RANGES.port, app.port)],
    ["containers", rangeProblem(APP_RANGES.containers, app.containers)],
    ["allowedCidrs", app.allowedCidrs.length === 0 ? "expected at least one CIDR block" : undefined],
    ["clientIp", oneOfProblem(CLIENT_IP_MODES, n.clientIp)],
    ["maxConnections", rangeProblem(APP_RANGES.maxConnections, n.maxConnections)],
    ["maxConnectionsPerIp", n.maxConnectionsPerIp === undefined ? undefined : rangeProblem(APP_RANGES.maxConnectionsPerIp, n.maxConnectionsPerIp)],
    ["architecture", app.architecture === undefined ? undefined : oneOfProblem(ARCHITECTURES, app.architecture)],
    ["capacity.spotPercent", app.capacity === undefined ? undefined : rangeProblem(APP_RANGES.spotPercent, app.capacity.spotPercent)],
    ["capacity.base", app.capacity === undefined ? undefined : rangeProblem(APP_RANGES.capacityBase, app.capacity.base)],
    ...scalingProblems(app),
    ...(n.tls === undefined ? [] : tlsCertificateIssues(n.tls).map((i): [string, string] => [["tls", ...i.path].join("."), i.message])),
    ...appIssues({ ...app, ...n, maxConnections: ownMaxConnections, spotPercent: app.capacity?.spotPercent }).map((i): [string, string] => [i.path.join("."), i.message]),
  ];
  const found = checks.find(([, message]) => message !== undefined);
  return found === undefined ? undefined : `${name}.${found[0]}: ${found[1]}`;
}

/** The scaling range: whole numbers, 1 <= min <= max, and `containers` inside it. */
function scalingProblems(app: Pick<AppSettings, "scaling" | "containers">): [string, string | undefined][] {
  const range = app.scaling;
  if (range === undefined) return [];
  if (!Number.isInteger(range.min) || !Number.isInteger(range.max) || range.min < 1 || range.max < range.min) {
    return [["scaling", `expected whole numbers with 1 <= min <= max, got min ${range.min}, max ${range.max}`]];
  }
  if (app.containers < range.min || app.containers > range.max) {
    return [["containers", `${app.containers} is outside scaling's ${range.min}-${range.max}; drop containers (scaling starts at min)`]];
  }
  return [];
}

/**
 * The ECS capacity provider strategy of a capacity: `base` tasks on FARGATE first, then the rest
 * split by weight, FARGATE_SPOT's weight being the Spot percentage (ECS docs, "Capacity provider
 * strategies": the base is "the minimum number of tasks to run on the specified capacity
 * provider", the weight "the relative percentage of the total number of launched tasks"). A
 * provider with no weight and no base is left out.
 */
export function capacityProviderStrategy(capacity: AppCapacity): EcsServiceCapacityProviderStrategy[] {
  const onDemand: EcsServiceCapacityProviderStrategy = { capacityProvider: "FARGATE", weight: 100 - capacity.spotPercent, ...(capacity.base > 0 ? { base: capacity.base } : {}) };
  const spot: EcsServiceCapacityProviderStrategy = { capacityProvider: "FARGATE_SPOT", weight: capacity.spotPercent };
  return [onDemand, spot].filter((p) => (p.weight ?? 0) > 0 || (p.base ?? 0) > 0);
}

/** The build steps a task definition waits for, so it never points at an image not pushed yet; undefined when none. */
function imageBuilds(...builds: (TerraformData | undefined)[]): TerraformData[] | undefined {
  const steps = builds.filter((b): b is TerraformData => b !== undefined);
  return steps.length === 0 ? undefined : steps;
}

function timingsOf(name: string, overrides: DeployOverrides | undefined): DeployTimings {
  try {
    return deployTimings(overrides);
  } catch (err) {
    if (!(err instanceof DeployTimingsError)) throw err;
    throw new ConstructError("TCP_ADDON_INVALID_PROPS", `${name}.deploy.${err.issues[0]}`);
  }
}
