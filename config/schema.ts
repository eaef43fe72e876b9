import { z } from "zod";
import { CLIENT_IP_MODES, isRecord, MAX_BURST, MAX_CONNECTIONS, MAX_PPS, type ClientIpMode } from "../ground";
import type { DeployTimings } from "./deploy-timings";
import { APP_RANGES, appIssues, secretInEnv, type AppField, type IntRange, tlsCertificateIssues } from "./app-rules";
import { BUILT_IN_PLANS, DEFAULT_PLAN } from "./plans";

/**
 * The config file's schema: the single source of the types that the constructs, the CLI
 * and local mode share. Shape checks live here; rules that need the file system (the
 * Procfile) or more than one app (ports, listener capacity) live in `resolve.ts`.
 */

/** The one place an app's defaults live: the schema fills them in the file, TcpApp in TypeScript. */
export const APP_DEFAULTS = Object.freeze({
  plan: DEFAULT_PLAN,
  containers: 1,
  cpu: 256,
  memory: 512,
  allowedCidrs: Object.freeze(["0.0.0.0/0"]) as readonly string[],
  loadBalancer: 0,
  clientIp: "off" as ClientIpMode,
  waitForSteadyState: true,
});

/** AWS's default quota of inbound rules per security group, counted per IP family (Service Quotas L-0EA8095F). */
export const DEFAULT_RULES_PER_SECURITY_GROUP = 60;

/** What a project or environment name may be: 1-12 lowercase letters, digits or hyphens, starting with a letter. */
export const PROJECT_NAME = /^[a-z][a-z0-9-]{0,11}$/;
/** What an app name may be: 1-31 lowercase letters, digits or hyphens, starting with a letter. */
export const APP_NAME = /^[a-z][a-z0-9-]{0,30}$/;
/** What a plan name may be: 1-31 lowercase letters, digits or hyphens, starting with a letter. */
export const PLAN_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:(ssm|secretsmanager):[a-z0-9-]+:\d{12}:(parameter\/|secret:).+$/;
const IPV4_CIDR = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(3[0-2]|[12]?\d)$/;
const IPV6_CIDR = /^[0-9a-fA-F:]+:[0-9a-fA-F:]*\/(12[0-8]|1[01]\d|[1-9]?\d)$/;

export { certificateCovers, RESERVED_ENV } from "./app-rules";

/** A whole number in one of the ranges TcpApp checks too (app-rules.ts). */
function wholeNumberIn(range: IntRange) {
  return z.number().int().min(range.min).max(range.max);
}

/** One entry of `plans:`: a plan of your own. */
export const PlanSchema = z.strictObject({
  /** Packets per second per container, each direction. */
  packetsPerSecond: z.number().int().positive().max(MAX_PPS).describe("Packets per second per container, each direction (a packet is up to 1500 bytes of payload)."),
  /** Token-bucket size in packets. Defaults to one second's worth (the agent's default). */
  burst: z.number().int().positive().max(MAX_BURST).optional().describe("Token-bucket size in packets: what a quiet connection may send at once. Omitted: one second's worth."),
  /** Open connections per container; 0 = no limit. Defaults per built-in plan (plans.ts). */
  maxConnections: z.number().int().min(0).max(MAX_CONNECTIONS).optional().describe("Open connections per container on this plan; 0 = no limit. Omitted: no limit."),
});
/** A plan as written under `plans:`. */
export type PlanSpec = z.infer<typeof PlanSchema>;

const subnetIds = z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'expected a subnet id like "subnet-0abc"')).min(1);

/** NAT gateways of the created VPC: one shared (cheaper), or one per zone (a zone's loss cuts off only that zone). */
export const NAT_GATEWAY_MODES = ["one", "perAz"] as const;

/**
 * `network:` either adopts an existing VPC (`vpcId` with its public and private subnets) or, without
 * `vpcId`, configures the VPC the stack creates (`natGateways`, `vpcEndpoints`).
 */
/** `network:`: an existing VPC and its subnets, or how the created VPC is built. */
export const NetworkSchema = z
  .strictObject({
    vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, 'expected a VPC id like "vpc-0abc"').optional().describe("Id of an existing VPC to adopt. Omitted: the stack creates a VPC over 2 zones."),
    publicSubnetIds: subnetIds.optional().describe("Public subnets of the VPC, for the NLB (one per availability zone); required with vpcId."),
    privateSubnetIds: subnetIds.optional().describe("Private subnets of the VPC, for the tasks (they get no public IP); required with vpcId."),
    natGateways: z
      .enum(NAT_GATEWAY_MODES)
      .optional()
      .describe("NAT gateways of the created VPC: one (default, shared by both zones) or perAz (one per zone, so a zone's loss cuts off only that zone)"),
    vpcEndpoints: z
      .boolean()
      .optional()
      .describe("private endpoints in the created VPC for ECR (api, dkr), CloudWatch Logs, Secrets Manager, SSM (interface) and S3 (gateway), so tasks start without NAT"),
  })
  .superRefine(
    (network, ctx) => {
      if (network.vpcId !== undefined) {
        for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
          if (network[key] === undefined) {
            ctx.addIssue({ code: "custom", path: [key], message: `required with vpcId; list the ${key === "publicSubnetIds" ? "public (load balancer)" : "private (task)"} subnets of ${network.vpcId}` });
          }
        }
        for (const key of ["natGateways", "vpcEndpoints"] as const) {
          if (network[key] !== undefined) {
            ctx.addIssue({ code: "custom", path: [key], message: "configures the VPC the stack creates, not an existing one; remove it, or remove vpcId to create the VPC" });
          }
        }
      } else {
        for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
          if (network[key] !== undefined) {
            ctx.addIssue({ code: "custom", path: [key], message: "needs vpcId, the VPC these subnets are in; add vpcId, or remove the subnets to let the stack create the VPC" });
          }
        }
      }
    },
    { when: (payload) => isRecord(payload.value) },
  );

/** An existing VPC the stack adopts: the NLB in its public subnets, the tasks in its private ones. */
export interface NetworkSpec {
  /** Id of the VPC. */
  readonly vpcId: string;
  /** Its public subnets, for the NLB (one per availability zone). */
  readonly publicSubnetIds: readonly string[];
  /** Its private subnets, for the tasks. */
  readonly privateSubnetIds: readonly string[];
}

/** How the stack builds the VPC it creates (`network:` without `vpcId`). */
export interface CreatedNetworkSpec {
  /** @default "one" */
  readonly natGateways?: (typeof NAT_GATEWAY_MODES)[number];
  /** @default false */
  readonly vpcEndpoints?: boolean;
}

/** `agent:`: the runtime agent's image. */
export const AgentSchema = z.strictObject({
  /** A prebuilt agent image. Omitted: built from runtime/ and pushed to a stack-owned ECR repo. */
  image: z.string().min(1).optional().describe("A prebuilt agent image. Omitted: built from runtime/Dockerfile and pushed to an ECR repository of the stack."),
});

/** S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** An object key Terraform's S3 backend accepts: no leading or trailing "/", no empty segment. */
const S3_KEY = /^[^/]+(\/[^/]+)*$/;
const DYNAMODB_TABLE = /^[A-Za-z0-9_.-]{3,255}$/;

/** Terraform state in S3: encrypted, locked with an S3 lock file (and a DynamoDB table only when named). */
export const S3StateSchema = z.strictObject({
  bucket: z.string().regex(S3_BUCKET, "expected an S3 bucket name (3-63 lowercase letters, digits, dots or hyphens)").describe("S3 bucket that holds the state."),
  region: z.string().regex(REGION, 'expected the bucket\'s AWS region like "eu-west-1"').describe("AWS region of the bucket."),
  /** Omitted: `tcp-addon/<project>/<environment or "default">.tfstate`. */
  key: z
    .string()
    .max(1024)
    .regex(S3_KEY, 'expected an object key like "tcp-addon/acme/prod.tfstate" (no leading or trailing "/")')
    .optional()
    .describe("Object key of the state. Omitted: tcp-addon/<project>/<environment or \"default\">.tfstate."),
  /**
   * A DynamoDB lock taken as well as the S3 lock file (Terraform acquires both), while a state moves
   * off DynamoDB locking: runs of an older configuration of the same state that lock only in the
   * table still exclude this one. It does not help Terraform < 1.10, which cannot `init` this backend.
   */
  dynamodbTable: z
    .string()
    .regex(DYNAMODB_TABLE, "expected a DynamoDB table name (3-255 letters, digits, _ . -)")
    .optional()
    .describe("A DynamoDB lock taken as well as the S3 lock file, while moving a state off DynamoDB locking (every run needs Terraform 1.10 or later)"),
});

/** Terraform state in a local file, at a path relative to the config file's folder. */
export const LocalStateSchema = z.strictObject({
  path: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(p), {
      error: "must be relative to the config file's folder (an absolute path would tie the stack to this machine)",
    })
    .refine((p) => !p.endsWith("/"), { error: 'expected a file name like "state/acme.tfstate", not a folder' })
    .describe("Path of the state file, relative to the config file's folder."),
});

/** Where Terraform keeps the stack's state: exactly one of `s3:` or `local:`. */
export const StateSchema = z
  .strictObject({ s3: S3StateSchema.optional().describe("State in S3, encrypted, locked with an S3 lock file."), local: LocalStateSchema.optional().describe("State in a local file.") })
  .superRefine(
    (state, ctx) => {
      const set = (["s3", "local"] as const).filter((k) => state[k] !== undefined);
      // An unknown key (a typo of s3 or local) already says what is wrong.
      const typo = ctx.issues.some((issue) => issue.code === "unrecognized_keys");
      if (set.length !== 1 && !(set.length === 0 && typo)) {
        ctx.addIssue({
          code: "custom",
          path: set.length === 0 ? [] : ["local"],
          message:
            set.length === 0
              ? "expected `s3: { bucket, region }` or `local: { path }`"
              : "set either `s3:` or `local:`, not both; remove one",
        });
      }
    },
    { when: (payload) => isRecord(payload.value) },
  );

const seconds = z.number().int().min(0);

/** Per-app overrides of the deploy timings; the ranges and invariants are checked by deployTimings(). */
export const DeploySchema = z.strictObject({
  deregistrationDelaySeconds: seconds.optional().describe("Seconds a deregistered target keeps its connections before the NLB resets them; outlasts propagationSeconds."),
  healthCheckIntervalSeconds: seconds.optional().describe("Seconds between two health checks of a target by the NLB."),
  healthCheckTimeoutSeconds: seconds.optional().describe("Seconds a health check may take; below the interval."),
  healthyThreshold: z.number().int().optional().describe("Health checks in a row that make a target healthy."),
  unhealthyThreshold: z.number().int().optional().describe("Failed health checks in a row that make a target unhealthy."),
  healthCheckGracePeriodSeconds: seconds.optional().describe("Seconds ECS ignores the health checks of a new task."),
  agentDrainSeconds: seconds.optional().describe("Seconds the agent keeps serving after SIGTERM; the containers' stopTimeout is this + 10, at most Fargate's 120."),
  unhealthyConnectionTermination: z.boolean().optional().describe("Whether the NLB resets the connections of an unhealthy target."),
  unhealthyDrainingIntervalSeconds: seconds.optional().describe("Seconds an unhealthy target keeps its connections while ECS replaces it."),
  propagationSeconds: seconds.optional().describe("Seconds during which new flows still reach a deregistered target (AWS's propagation)."),
});

/** A DNS name as Route 53 and ACM take it: labels of letters, digits and hyphens; ACM also allows a leading `*.`. */
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const HOSTED_ZONE_ID = /^Z[A-Z0-9]{1,31}$/;
const CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/;
/** The ALPN policies an NLB TLS listener accepts. */
export const ALPN_POLICIES = ["HTTP1Only", "HTTP2Only", "HTTP2Optional", "HTTP2Preferred", "None"] as const;

const dnsName = z.string().regex(DNS_NAME, "expected a lowercase DNS name like mqtt.example.com");
const hostedZoneId = z.string().regex(HOSTED_ZONE_ID, 'expected a Route 53 hosted zone id like "Z0123456789ABCDEFGHIJ"');

/**
 * TLS at the NLB: either an existing ACM certificate, or a new one for `domain`, validated by
 * DNS in `hostedZoneId`. The target stays plain TCP to the agent.
 */
export const TlsSchema = z
  .strictObject({
    certificateArn: z.string().regex(CERTIFICATE_ARN, "expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)").optional().describe("An existing ACM certificate; not with domain and hostedZoneId."),
    domain: dnsName.optional().describe("Name of a new ACM certificate, validated by DNS in hostedZoneId; a wildcard (*.example.com) is allowed."),
    hostedZoneId: hostedZoneId.optional().describe("Route 53 hosted zone in which the new certificate is validated."),
    /** ALPN policy of the listener. @default none (no ALPN negotiation) */
    alpn: z.enum(ALPN_POLICIES).optional().describe("ALPN policy of the TLS listener. Omitted: no ALPN negotiation."),
  })
  .superRefine(
    (tls, ctx) => {
      for (const issue of tlsCertificateIssues(tls)) ctx.addIssue({ code: "custom", path: [...issue.path], message: issue.message });
    },
    { when: (payload) => isRecord(payload.value) },
  );
/** TLS at the NLB, as written under an app's `tls:`. */
export type TlsSpec = z.infer<typeof TlsSchema>;

/** A Route 53 alias record for the app's NLB; TCP_URL then uses this name. */
export const DomainSchema = z.strictObject({
  name: dnsName.refine((n) => !n.startsWith("*."), "an alias record needs a plain name, not a wildcard").describe("The DNS name clients connect to (lowercase, no wildcard)."),
  hostedZoneId: hostedZoneId.describe("Route 53 hosted zone that holds the name."),
});
/** A Route 53 alias for an app, as written under its `domain:`. */
export type DomainSpec = z.infer<typeof DomainSchema>;

const containerCount = wholeNumberIn(APP_RANGES.containers);

/** `containers: { min, max }`: ECS scales the service between them (target tracking on plan utilisation and CPU). */
export const ContainerRangeSchema = z
  .strictObject({ min: containerCount.describe("Fewest tasks; the service starts with this many, and local mode runs this many."), max: containerCount.describe("Most tasks; at least min.") })
  .refine((r) => r.min <= r.max, { error: "min must not be above max", path: ["min"] });

/** The alarms of an app, each on unless switched off (constructs/alarms.ts says what each watches). */
export const AlarmSwitchesSchema = z.strictObject({
  unhealthyTargets: z.boolean().optional().describe("The unhealthy-targets alarm: a task fails its health checks. Omitted: on."),
  tasksBelowDesired: z.boolean().optional().describe("The tasks-below-desired alarm: tasks fail to start or keep stopping. Omitted: on."),
  planUtilization: z.boolean().optional().describe("The plan-utilization alarm: traffic is held back by the plan (a bigger plan or more containers is needed). Omitted: on."),
  targetResets: z.boolean().optional().describe("The target-resets alarm: the tasks reset many connections. Omitted: on."),
});
/** Alarm switches as written; an omitted switch follows the project's, then on. */
export type AlarmSwitchesSpec = z.infer<typeof AlarmSwitchesSchema>;

/** Every alarm, resolved: the app's switch, else the project's, else on. */
export interface AlarmSwitches {
  /** A task fails its health checks. */
  readonly unhealthyTargets: boolean;
  /** Fewer tasks run than desired. */
  readonly tasksBelowDesired: boolean;
  /** Traffic is held back by the plan. */
  readonly planUtilization: boolean;
  /** The tasks reset many connections. */
  readonly targetResets: boolean;
}
/** Every alarm on: what an app gets when neither it nor the project switches one off. */
export const ALARMS_ON: AlarmSwitches = Object.freeze({ unhealthyTargets: true, tasksBelowDesired: true, planUtilization: true, targetResets: true });

const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Project-wide alarms: where they notify (a new topic with an email subscription, or an existing topic), and default switches. */
export const ProjectAlarmsSchema = AlarmSwitchesSchema.extend({
  email: z.string().regex(EMAIL, 'expected an email address like "ops@example.com"').optional().describe("An address subscribed to a new SNS topic that the alarms notify (AWS mails a confirmation link); not with topicArn."),
  topicArn: z.string().regex(SNS_TOPIC_ARN, "expected an SNS topic ARN like arn:aws:sns:eu-west-1:123456789012:alerts").optional().describe("An existing SNS topic that the alarms notify; not with email."),
}).refine((a) => a.email === undefined || a.topicArn === undefined, {
  error: "set either `email:` (a new topic) or `topicArn:` (an existing topic), not both",
  path: ["topicArn"],
});

/** Where alarms notify: a topic the stack creates with this email subscribed, or an existing topic. */
export type AlarmTopicSpec = { readonly email: string } | { readonly topicArn: string };

/**
 * Where an app's tasks run: Fargate, Fargate Spot (a discounted rate, interrupted with a
 * two-minute warning), or a mix: `{ spot: 70%, base: 1 }` keeps `base` tasks on Fargate and
 * puts `spot` percent of the rest on Fargate Spot (an ECS capacity provider strategy).
 */
export const CAPACITY_KINDS = ["on-demand", "spot"] as const;

/** A Spot share: `"70%"` or `70`. */
export const SpotPercentSchema = z
  .preprocess(
    (value) => (typeof value === "string" && /^\d+(\.\d+)?%$/.test(value) ? Number(value.slice(0, -1)) : value),
    z.number({ error: 'expected a percentage like "70%"' }).int('expected a whole percentage like "70%"').min(0, "expected 0% to 100%").max(100, "expected 0% to 100%"),
  )
  .describe("Share of the tasks above `base` that run on Fargate Spot, 0-100 (\"70%\" or 70)");

/** `capacity:` of an app: `on-demand`, `spot`, or `{ spot, base }` (see CAPACITY_KINDS). */
export const CapacitySchema = z
  .union([
    z.enum(CAPACITY_KINDS, { error: 'expected on-demand, spot, or { spot: "70%", base: 1 }' }),
    z.strictObject({
      spot: SpotPercentSchema,
      base: wholeNumberIn(APP_RANGES.capacityBase).default(0).describe("Tasks that always run on Fargate (on-demand) before any is put on Spot"),
    }),
  ])
  .describe("Fargate capacity: on-demand (default), spot, or { spot: N%, base: M } for a mix with M on-demand tasks first");
/** An app's `capacity:` as written. */
export type CapacitySpec = z.infer<typeof CapacitySchema>;

/** CPU architectures of Fargate Linux tasks. */
export const ARCHITECTURES = ["x86_64", "arm64"] as const;
/** `architecture:` of an app: x86_64 or arm64 (Graviton). */
export type Architecture = (typeof ARCHITECTURES)[number];

const envName = z.string().regex(ENV_NAME, "expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");

/** One entry of `apps:`: an app as written in the config file. */
export const AppSchema = z.strictObject({
  image: z.string().min(1, "expected a container image reference").optional().describe("Container image of the app; exactly one of image and build."),
  build: z
    .string()
    .min(1, "expected a folder with a Dockerfile")
    .optional()
    .describe("A folder with a Dockerfile (relative to the config file's folder) built and pushed to the app's own ECR repository on deploy; exactly one of image and build."),
  procfile: z.string().min(1).optional().describe("A Procfile, relative to the config file, whose tcp: line is the command; exactly one of procfile and command."),
  command: z.string().min(1).optional().describe("The command to run (with /bin/sh -c); exactly one of procfile and command."),
  plan: z.string().min(1).default(APP_DEFAULTS.plan).describe("The app's plan: a built-in plan or one of plans."),
  /** A number: that many tasks, always. `{ min, max }`: scaled between them. */
  containers: z.union([containerCount, ContainerRangeSchema]).default(APP_DEFAULTS.containers).describe("Tasks: a number runs that many, always; { min, max } scales between them."),
  port: wholeNumberIn(APP_RANGES.port).optional().describe("Public port of the app's listener and TCP_URL. Omitted: derived from the app name, in 10000-32767."),
  cpu: z.number().int().default(APP_DEFAULTS.cpu).describe("Fargate task CPU units; with memory, a valid Fargate pair."),
  memory: z.number().int().default(APP_DEFAULTS.memory).describe("Fargate task memory in MiB; with cpu, a valid Fargate pair."),
  env: z.record(envName, z.string()).default({}).describe("Environment variables of the app; not PORT or TCP_URL, and no secrets."),
  secrets: z
    .record(envName, z.string().regex(SECRET_ARN, "expected an SSM parameter or Secrets Manager ARN"))
    .default({})
    .describe("Environment variables that ECS injects from these SSM Parameter Store or Secrets Manager ARNs."),
  allowedCidrs: z
    .array(
      z.string().refine((c) => IPV4_CIDR.test(c) || IPV6_CIDR.test(c), {
        error: (issue) => `expected a CIDR block like 203.0.113.0/24, got ${JSON.stringify(issue.input)}`,
      }),
    )
    .min(1)
    .default(() => [...APP_DEFAULTS.allowedCidrs])
    .describe("CIDR blocks (IPv4 or IPv6) that may connect to the app's public port."),
  /** Pins the app to one of the project's NLBs (0-based). Omitted: placed automatically. */
  loadBalancer: wholeNumberIn(APP_RANGES.loadBalancer).optional().describe("Pins the app to the project's NLB number N (0-based). Omitted: placed automatically, 50 listeners per NLB."),
  /** Deploy timings (deploy-timings.ts); each omitted key keeps its default. */
  deploy: DeploySchema.default({}).describe("Deploy timings; each omitted key keeps its default."),
  /** How the app learns the client's address: off, proxy-v2 (the agent reads it), proxy-v2-to-app (and passes it on). */
  clientIp: z.enum(CLIENT_IP_MODES).default(APP_DEFAULTS.clientIp).describe("How the app learns the client's address: off; proxy-v2 (the agent reads PROXY v2); proxy-v2-to-app (the agent also sends it to the app)."),
  /** TLS at the NLB. Omitted: a plain TCP listener. */
  tls: TlsSchema.optional().describe("TLS at the NLB: certificateArn, or domain with hostedZoneId. Omitted: a plain TCP listener."),
  /** A custom name for TCP_URL: a Route 53 alias record to the app's NLB. */
  domain: DomainSchema.optional().describe("A Route 53 alias record to the app's NLB; TCP_URL then uses this name."),
  /** Open connections per container; overrides the plan's; 0 = no limit. */
  maxConnections: wholeNumberIn(APP_RANGES.maxConnections).optional().describe("Open connections per container; 0 = no limit. Omitted: the plan's."),
  /** Open connections per client address per container; needs `clientIp`. Omitted: no limit. */
  maxConnectionsPerIp: wholeNumberIn(APP_RANGES.maxConnectionsPerIp).optional().describe("Open connections per client address per container, at most maxConnections; needs clientIp other than off. Omitted: no limit."),
  /** `terraform apply` waits until the service's rollout is done (and fails when it fails). */
  waitForSteadyState: z.boolean().default(APP_DEFAULTS.waitForSteadyState).describe("Whether cdktf deploy waits for the service's rollout and fails when it fails."),
  /** Switches for this app's alarms; omitted keys follow the project's `alarms:`, then on. */
  alarms: AlarmSwitchesSchema.optional().describe("Switches for this app's alarms; an omitted key follows the project's alarms, then on."),
  capacity: CapacitySchema.default("on-demand"),
  architecture: z
    .enum(ARCHITECTURES)
    .default("x86_64")
    .describe("CPU architecture of the app's tasks (runtime_platform); arm64 is Graviton, the agent image is built for both"),
}).superRefine(
  (app, ctx) => {
    // Runs even when some fields failed, so one typo does not hide the other problems; each
    // rule only looks at fields that parsed.
    const broken = new Set(ctx.issues.map((issue) => issue.path?.[0]));
    const ok = (...fields: string[]): boolean => fields.every((f) => !broken.has(f));
    if (ok("procfile", "command")) {
      if (app.procfile !== undefined && app.command !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["command"],
          message: "set either `procfile:` or `command:`, not both; remove one",
        });
      } else if (app.procfile === undefined && app.command === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["procfile"],
          message: "no command to run; set `procfile:` (a Procfile with a `tcp:` line) or `command:`",
        });
      }
    }
    const facts = { ...app, spotPercent: ok("capacity") ? spotPercent(app.capacity) : undefined };
    const issues = [...appIssues(facts, (field: AppField) => ok(field)), ...(ok("env") ? secretInEnv(app) : [])];
    for (const issue of issues) {
      ctx.addIssue({ code: "custom", path: [...issue.path], message: issue.message });
    }
  },
  { when: (payload) => isRecord(payload.value) },
);
/** An app as written under `apps:`, after the schema's defaults. */
export type AppSpec = z.infer<typeof AppSchema>;

/** The share (0-100) of an app's tasks above its base that run on Fargate Spot. */
export function spotPercent(capacity: CapacitySpec): number {
  if (capacity === "on-demand") return 0;
  if (capacity === "spot") return 100;
  return capacity.spot;
}

/** An app's capacity, resolved: `spotPercent` of the tasks above `base` run on Fargate Spot. */
export interface AppCapacity {
  /** Share of the tasks above `base` on Fargate Spot, 0-100. */
  readonly spotPercent: number;
  /** Tasks that always run on Fargate (on-demand) first. */
  readonly base: number;
}

/** The capacity spec as numbers: on-demand is { 0, 0 }, spot { 100, 0 }. */
export function appCapacity(capacity: CapacitySpec): AppCapacity {
  return { spotPercent: spotPercent(capacity), base: typeof capacity === "object" ? capacity.base : 0 };
}

/** The whole config file (`tcp-addon.yaml`); every object is strict. Its JSON Schema is shipped as `schema/tcp-addon.schema.json`. */
export const AddonConfigSchema = z.strictObject({
  project: z.string().regex(PROJECT_NAME, "expected 1-12 lowercase letters, digits or hyphens, starting with a letter").describe("Prefix of every resource name, and the stack's name."),
  /** One deployment of the project (staging, prod): its own stack, state key and resource names. */
  environment: z
    .string()
    .regex(PROJECT_NAME, "expected 1-12 lowercase letters, digits or hyphens, starting with a letter")
    .optional()
    .describe("One deployment of the project (staging, prod): the stack becomes <project>-<environment>, with its own state key and resource names."),
  region: z.string().regex(REGION, 'expected an AWS region like "eu-west-1"').describe("AWS region of the stack."),
  network: NetworkSchema.optional().describe("An existing VPC and its subnets. Omitted: a new VPC over 2 availability zones."),
  plans: z
    .record(z.string().regex(PLAN_NAME, "expected a plan name of lowercase letters, digits or hyphens"), PlanSchema)
    .superRefine(
      (plans, ctx) => {
        for (const name of Object.keys(plans)) {
          if (Object.prototype.hasOwnProperty.call(BUILT_IN_PLANS, name)) {
            ctx.addIssue({
              code: "custom",
              path: [name],
              message: `"${name}" is a built-in plan and cannot be redefined; give your plan another name`,
            });
          }
        }
      },
      { when: (payload) => isRecord(payload.value) },
    )
    .default({})
    .describe("Plans of your own, by name, beside the built-in ones (tcp-1k, tcp-5k, tcp-20k, tcp-100k), which cannot be redefined."),
  agent: AgentSchema.default({}).describe("The runtime agent's image."),
  /**
   * One Elastic IP per availability zone on every NLB (`subnet_mapping`), for allow-lists.
   * Set it before an NLB's first deploy (config/static-ips.ts): `tcp-addon validate` warns on a change.
   */
  staticIps: z.boolean().default(false).describe("One Elastic IP per availability zone on every NLB, for allow-lists; set it before an NLB's first deploy."),
  /** Where alarms notify and which are on by default; omitted = every alarm on, no notification. */
  alarms: ProjectAlarmsSchema.optional().describe("Where the alarms notify, and which alarms every app gets. Omitted: every alarm on, no notification."),
  /** Omitted: a local state file next to the config file (fine for a first try, not for a team). */
  state: StateSchema.optional().describe("Where Terraform keeps the stack's state: s3 or local. Omitted: terraform.<stack>.tfstate next to the config file."),
  /** Customer-managed KMS keys that encrypt the apps' secrets: the execution role may decrypt with exactly these. */
  secretsKmsKeyArns: z
    .array(z.string().regex(KMS_KEY_ARN, 'expected a KMS key ARN like "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-..."'))
    .default([])
    .describe("Customer-managed KMS keys that encrypt the apps' secrets; the execution role may decrypt with exactly these."),
  /** Account quotas the declaration is counted against, when yours were raised. */
  quotas: z
    .strictObject({
      /** Inbound rules per security group per IP family; placement keeps each NLB group within it. */
      rulesPerSecurityGroup: z.number().int().min(2).max(1000).default(DEFAULT_RULES_PER_SECURITY_GROUP).describe("Inbound rules per security group per IP family; placement keeps each NLB's security group within it."),
    })
    .default({ rulesPerSecurityGroup: DEFAULT_RULES_PER_SECURITY_GROUP })
    .describe("AWS quotas raised on your account, which placement counts against."),
  apps: z
    .record(
      z.string().regex(APP_NAME, "expected 1-31 lowercase letters, digits or hyphens, starting with a letter"),
      AppSchema,
    )
    .refine((apps) => Object.keys(apps).length > 0, "expected at least one app")
    .describe("The apps, by name (1-31 lowercase letters, digits or hyphens): a listener, a target group and a Fargate service each."),
});
/** The config file as written, after defaults. */
export type AddonConfig = z.infer<typeof AddonConfigSchema>;

/** A plan with its name, as the constructs and the agent use it. */
export interface Plan {
  /** The plan's name: a built-in one or a key of `plans:`. */
  readonly name: string;
  /** Packets per second per container, each direction. */
  readonly packetsPerSecond: number;
  /** Bucket size in packets; undefined = the agent's default (one second's worth). */
  readonly burst?: number;
  /** Open connections per container; undefined or 0 = no limit. */
  readonly maxConnections?: number;
}

/** An app's production-networking settings, resolved (each omitted key off). */
export interface AppNetworking {
  /** How the app learns the client's address (PROXY protocol v2 or not). */
  readonly clientIp: ClientIpMode;
  /** TLS at the NLB; undefined = a plain TCP listener. */
  readonly tls?: TlsSpec;
  /** A Route 53 alias whose name TCP_URL uses; undefined = the NLB's DNS name. */
  readonly domain?: DomainSpec;
  /** The plan's, or the app's override; 0 = no limit. */
  readonly maxConnections: number;
  /** Undefined = no per-address limit. */
  readonly maxConnectionsPerIp?: number;
}

/** One app after every rule has passed: the command is known, the port and the NLB chosen. */
export interface ResolvedApp {
  /** The app's name (its key under `apps:`). */
  readonly name: string;
  /** A prebuilt image; undefined when the app is built from `build`. */
  readonly image?: string;
  /** Absolute path of the folder the app's image is built from (its Dockerfile); undefined with `image`. */
  readonly build?: string;
  /** The Procfile's `tcp:` command, or `command:` from the config. */
  readonly command: string;
  /** Folder the command runs in locally (the Procfile's folder, or the config's). */
  readonly workdir: string;
  /** The app's plan, resolved. */
  readonly plan: Plan;
  /** Tasks to run (with `scaling`, the minimum). */
  readonly containers: number;
  /** `containers: { min, max }`: the service scales between them; `containers` is then `min`. Undefined = fixed. */
  readonly scaling?: { readonly min: number; readonly max: number };
  /** Which alarms this app gets; undefined = all (ALARMS_ON). */
  readonly alarms?: AlarmSwitches;
  /** Public port: the NLB listener's in AWS, the balancer's on 127.0.0.1 locally. */
  readonly port: number;
  /** Fargate task CPU units. */
  readonly cpu: number;
  /** Fargate task memory in MiB. */
  readonly memory: number;
  /** Environment variables of the app. */
  readonly env: Readonly<Record<string, string>>;
  /** Variables ECS injects from SSM Parameter Store or Secrets Manager, by ARN. */
  readonly secrets: Readonly<Record<string, string>>;
  /** CIDR blocks that may connect to the app's port. */
  readonly allowedCidrs: readonly string[];
  /** Index of the project NLB that carries this app's listener. */
  readonly loadBalancer: number;
  /** Deploy timings: the defaults with the app's `deploy:` overrides, invariants checked. */
  readonly deploy: DeployTimings;
  /** Client IPs, TLS, custom domain and connection limits; omitted = all off, the plan's connection limit. */
  readonly networking?: AppNetworking;
  /** `terraform apply` waits for the service's rollout; omitted = true. */
  readonly waitForSteadyState?: boolean;
  /** Fargate or Fargate Spot, or a mix; omitted = on-demand (the service's launch type is FARGATE). */
  readonly capacity?: AppCapacity;
  /** CPU architecture of the tasks; omitted = x86_64. */
  readonly architecture?: Architecture;
}

/**
 * Where the stack's Terraform state lives. `s3`: encrypted, with S3 lock files; `local`: an
 * absolute path here, written into the stack relative to its output folder.
 */
export type StateSpec =
  | {
      readonly backend: "s3";
      readonly bucket: string;
      readonly region: string;
      readonly key: string;
      readonly dynamodbTable?: string;
    }
  | { readonly backend: "local"; readonly path: string };

/** A whole config after every rule has passed. */
export interface ResolvedConfig {
  /** Prefix of every resource name. */
  readonly project: string;
  /** The deployment this config describes (staging, prod); part of the stack, state and resource names. */
  readonly environment?: string;
  /** AWS region of the stack. */
  readonly region: string;
  /** An existing VPC to adopt; undefined = the stack creates one. */
  readonly network?: NetworkSpec;
  /** How the created VPC is built (only without `network`); undefined = one NAT gateway, no endpoints. */
  readonly createdNetwork?: CreatedNetworkSpec;
  /** A prebuilt agent image; undefined = built from runtime/Dockerfile. */
  readonly agentImage?: string;
  /** One Elastic IP per AZ on every NLB. @default false */
  readonly staticIps?: boolean;
  /** Every plan, built-in and the config's, by name. */
  readonly plans: Readonly<Record<string, Plan>>;
  /** KMS keys the execution role may decrypt the apps' secrets with; omitted = none. */
  readonly secretsKmsKeyArns?: readonly string[];
  /** Inbound rules per security group per IP family; omitted = AWS's default, 60. */
  readonly rulesPerSecurityGroup?: number;
  /** In the file's order. */
  readonly apps: readonly ResolvedApp[];
  /** Absolute path of the file it came from, when it came from one. */
  readonly source?: string;
  /**
   * Advice that does not stop a synth, one line each (`file:line: path: problem; fix`): an app's
   * cpu below its plan's task size. Entry points print them to stderr.
   */
  readonly warnings: readonly string[];
  /** Where alarms notify; undefined = they only show in the console. */
  readonly alarmTopic?: AlarmTopicSpec;
  /** The config's `state:`; undefined = a local file next to the config (see TcpAddonStack). */
  readonly state?: StateSpec;
}

/** An app's networking settings with every default applied: what the constructs and local mode use. */
export function appNetworking(app: Pick<ResolvedApp, "plan" | "networking">): AppNetworking {
  return app.networking ?? networkingOf({}, app.plan);
}

/** The networking settings as written (config file or TcpApp props), with their defaults: the one place they are built. */
export function networkingOf(
  spec: { readonly clientIp?: ClientIpMode; readonly tls?: TlsSpec; readonly domain?: DomainSpec; readonly maxConnections?: number; readonly maxConnectionsPerIp?: number },
  plan: Pick<Plan, "maxConnections">,
): AppNetworking {
  return {
    clientIp: spec.clientIp ?? APP_DEFAULTS.clientIp,
    ...(spec.tls === undefined ? {} : { tls: spec.tls }),
    ...(spec.domain === undefined ? {} : { domain: spec.domain }),
    maxConnections: spec.maxConnections ?? plan.maxConnections ?? 0,
    ...(spec.maxConnectionsPerIp === undefined ? {} : { maxConnectionsPerIp: spec.maxConnectionsPerIp }),
  };
}

/** `tls://` when the listener terminates TLS, else `tcp://`: the scheme of TCP_URL. */
export function tcpUrlScheme(networking: Pick<AppNetworking, "tls">): "tls" | "tcp" {
  return networking.tls === undefined ? "tcp" : "tls";
}
