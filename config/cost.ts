import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { AGENT_METRICS } from "../ground";
import { TcpAddonError } from "../ground";
import { PACKAGE_ROOT } from "./package-root";
import { bytesPerSecond, type TaskSize } from "./plans";
import { ALARMS_ON, type AppCapacity, type Architecture, type ResolvedApp, type ResolvedConfig } from "./schema";

/**
 * The monthly estimate of what a config costs on AWS: every resource the stack declares that
 * AWS bills, priced from `prices/aws-prices.json` (shipped with the package, each price dated
 * and sourced). Pure arithmetic on a resolved config: no cdktf, no network. The counts below
 * follow what the constructs declare; `__tests__/config/cost.test.ts` synthesizes configs and
 * checks each count against the Terraform JSON, so the two cannot drift apart.
 */

/** The file the prices ship in, relative to the package root (listed in package.json "files"). */
export const PRICES_FILE = "prices/aws-prices.json";

const PriceSchema = z.strictObject({
  usd: z.number().min(0),
  unit: z.string(),
  usageType: z.string(),
  source: z.string().url(),
  checked: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  status: z.enum(["confirmed", "secondary", "unconfirmed"]),
  evidence: z.string(),
});
export type Price = z.infer<typeof PriceSchema>;

export const PRICE_KEYS = [
  "fargateVcpuHour",
  "fargateGbHour",
  "fargateArmVcpuHour",
  "fargateArmGbHour",
  "fargateSpotVcpuHour",
  "fargateSpotGbHour",
  "nlbHour",
  "nlcuHour",
  "natHour",
  "natGb",
  "publicIpv4Hour",
  "dataTransferOutGb",
  "interZoneGb",
  "alarmMetricMonth",
  "dashboardMonth",
  "customMetricMonth",
  "logIngestGb",
  "logStorageGbMonth",
  "ecrStorageGbMonth",
  "ssmStandardParameterMonth",
] as const;
export type PriceKey = (typeof PRICE_KEYS)[number];
export type RegionPrices = Readonly<Record<PriceKey, Price>>;

const PriceFileSchema = z.strictObject({
  description: z.string(),
  currency: z.literal("USD"),
  checked: z.string(),
  unconfirmed: z.array(z.string()),
  regions: z.record(
    z.string(),
    z.strictObject({
      offerFiles: z.record(z.string(), z.string().url()),
      prices: z.strictObject(Object.fromEntries(PRICE_KEYS.map((k) => [k, PriceSchema])) as Record<PriceKey, typeof PriceSchema>),
    }),
  ),
});
export type PriceFile = z.infer<typeof PriceFileSchema>;

/** A region the price file has no prices for, or a broken price file. */
export class CostError extends TcpAddonError {
  constructor(code: "TCP_ADDON_NO_PRICES" | "TCP_ADDON_BAD_PRICES", message: string) {
    super(code, message);
  }
}

/** Reads and checks the shipped price file (or another one, for tests). */
export function loadPrices(file = path.join(PACKAGE_ROOT, PRICES_FILE)): PriceFile {
  const parsed = PriceFileSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CostError("TCP_ADDON_BAD_PRICES", `${file}: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return parsed.data;
}

/** The prices of one region. @throws CostError naming the regions that have prices. */
export function regionPrices(prices: PriceFile, region: string): RegionPrices {
  const found = prices.regions[region]?.prices;
  if (found === undefined) {
    throw new CostError(
      "TCP_ADDON_NO_PRICES",
      `no prices for region ${region} in ${PRICES_FILE}; regions with prices: ${Object.keys(prices.regions).join(", ")}`,
    );
  }
  return found;
}

/** What the estimate assumes beyond the config; every one is printed with the estimate. */
export interface CostAssumptions {
  /** Hours in a month: AWS's calculator uses 730 (8,760 / 12). */
  readonly hoursPerMonth: number;
  /** Each container's traffic as a fraction of its plan's full rate, each direction (0-1). */
  readonly trafficShare: number;
  /** NAT gateways of the created VPC; 0 with an existing network (its NATs are not the stack's). */
  readonly natGateways: number;
  /** Availability zones of the created VPC (subnets of an existing one): one NLB address in each. */
  readonly zones: number;
  /** Bytes through NAT per task per month (image pulls, logs, the app's own calls out), GB. */
  readonly natGbPerTask: number;
  /** Logs the app and agent write per task per month, GB (ingested, then kept 30 days). */
  readonly logGbPerTask: number;
  /** Agent images the ECR repository keeps (its lifecycle policy) and each one's size per architecture, GB. */
  readonly ecrImages: number;
  readonly ecrImageGb: number;
}

export const DEFAULT_HOURS_PER_MONTH = 730;
export const DEFAULT_TRAFFIC_SHARE = 0.25;

/** The assumptions for a config, with the defaults the stack and this estimate use. */
export function defaultAssumptions(config: ResolvedConfig, overrides: Partial<CostAssumptions> = {}): CostAssumptions {
  const created = config.network === undefined;
  return {
    hoursPerMonth: DEFAULT_HOURS_PER_MONTH,
    trafficShare: DEFAULT_TRAFFIC_SHARE,
    // TcpNetwork: a created VPC spans 2 zones with 1 NAT gateway unless told otherwise.
    natGateways: created ? 1 : 0,
    zones: created ? 2 : (config.network?.publicSubnetIds.length ?? 2),
    natGbPerTask: 1,
    logGbPerTask: 0.5,
    // TcpAgentImage keeps 10 images (keepImages); the agent image is about 60 MB per architecture.
    ecrImages: 10,
    ecrImageGb: 0.06,
    ...overrides,
  };
}

/** One priced line: quantity x unit price = monthly USD. */
export interface CostLine {
  /** An app's name, or "project" for what the apps share. */
  readonly scope: string;
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly price: PriceKey;
  readonly unitPrice: number;
  readonly monthly: number;
}

export interface CostEstimate {
  readonly region: string;
  readonly assumptions: CostAssumptions;
  readonly lines: readonly CostLine[];
  /** Monthly USD per app (its own lines), and for the shared project lines. */
  readonly perApp: Readonly<Record<string, number>>;
  readonly project: number;
  readonly total: number;
}

/** Alarm metrics each alarm reads (constructs/alarms.ts): tasks-below-desired is desired - running. */
export const ALARM_METRICS = Object.freeze({ unhealthyTargets: 1, tasksBelowDesired: 2, planUtilization: 1, targetResets: 1 });
/** Apps per CloudWatch dashboard (constructs/dashboard.ts APPS_PER_DASHBOARD). */
export const APPS_PER_DASHBOARD = 25;
/**
 * Container Insights metrics (billed as custom metrics; ECS developer guide, "Container Insights"):
 * the list in the CloudWatch guide ("Amazon ECS Container Insights metrics") gives 10 by ClusterName
 * (CPU, memory, network, storage reserved/used, TaskCount, ServiceCount), 13 by ClusterName and
 * ServiceName (the same 8 resource metrics and the deployment and task counts), and 8 by
 * ClusterName and TaskDefinitionFamily. An approximation: the estimate prints it as one.
 */
export const CONTAINER_INSIGHTS_METRICS = Object.freeze({ perCluster: 10, perService: 13 + 8 });
/** The agent's EMF metrics, one set per app ([Project, App]), each a custom metric. */
export const AGENT_CUSTOM_METRICS = Object.keys(AGENT_METRICS).length;

const GB = 2 ** 30;

/** How many of `tasks` run on Fargate and how many on Fargate Spot: the base first, then by weight. */
export function taskSplit(tasks: number, capacity: AppCapacity | undefined): { onDemand: number; spot: number } {
  if (capacity === undefined) return { onDemand: tasks, spot: 0 };
  const base = Math.min(tasks, capacity.base);
  const spot = ((tasks - base) * capacity.spotPercent) / 100;
  return { onDemand: tasks - spot, spot };
}

/** Monthly USD of one task of `size` running all month at on-demand prices (what `plans` shows). */
export function taskMonthly(size: TaskSize, prices: RegionPrices, architecture: Architecture = "x86_64", hours = DEFAULT_HOURS_PER_MONTH): number {
  const arm = architecture === "arm64";
  const vcpu = arm ? prices.fargateArmVcpuHour : prices.fargateVcpuHour;
  const gb = arm ? prices.fargateArmGbHour : prices.fargateGbHour;
  return (size.cpu / 1024) * hours * vcpu.usd + (size.memory / 1024) * hours * gb.usd;
}

/** The estimate: project lines (NLBs, NAT, dashboards, Container Insights' cluster metrics, ECR) and each app's. */
export function estimateCost(config: ResolvedConfig, prices: RegionPrices, assumptions: CostAssumptions = defaultAssumptions(config)): CostEstimate {
  const lines: CostLine[] = [];
  const line = (scope: string, item: string, quantity: number, unit: string, price: PriceKey) => {
    if (quantity === 0) return;
    const unitPrice = prices[price].usd;
    lines.push({ scope, item, quantity, unit, price, unitPrice, monthly: quantity * unitPrice });
  };
  const h = assumptions.hoursPerMonth;
  const nlbs = new Set(config.apps.map((a) => a.loadBalancer)).size;

  line("project", "Network Load Balancer hours", nlbs * h, "NLB-hours", "nlbHour");
  // An internet-facing NLB holds a public IPv4 address in each zone (Elastic IPs with staticIps).
  line("project", `NLB public IPv4 addresses (${nlbs * assumptions.zones})`, nlbs * assumptions.zones * h, "IP-hours", "publicIpv4Hour");
  line("project", "NAT gateway hours", assumptions.natGateways * h, "NAT-hours", "natHour");
  line("project", `NAT public IPv4 addresses (${assumptions.natGateways})`, assumptions.natGateways * h, "IP-hours", "publicIpv4Hour");
  line("project", "CloudWatch dashboards", Math.ceil(config.apps.length / APPS_PER_DASHBOARD), "dashboards", "dashboardMonth");
  line("project", "Container Insights, cluster metrics", CONTAINER_INSIGHTS_METRICS.perCluster, "metrics", "customMetricMonth");
  if (config.agentImage === undefined) {
    // One manifest list holds an image per architecture (amd64 and arm64).
    line("project", "ECR storage (agent images)", assumptions.ecrImages * 2 * assumptions.ecrImageGb, "GB-months", "ecrStorageGbMonth");
  }
  for (const app of config.apps) appLines(app, assumptions, line);

  const perApp: Record<string, number> = {};
  for (const app of config.apps) perApp[app.name] = sum(lines.filter((l) => l.scope === app.name));
  const project = sum(lines.filter((l) => l.scope === "project"));
  return { region: config.region, assumptions, lines, perApp, project, total: sum(lines) };
}

type AddLine = (scope: string, item: string, quantity: number, unit: string, price: PriceKey) => void;

/** Fargate (on-demand or Spot, x86 or Arm), traffic through the NLB and out, NAT bytes, alarms, metrics, logs. */
function appLines(app: ResolvedApp, a: CostAssumptions, line: AddLine): void {
  const h = a.hoursPerMonth;
  const tasks = app.containers;
  const { onDemand, spot } = taskSplit(tasks, app.capacity);
  const vcpu = app.cpu / 1024;
  const gib = app.memory / 1024;
  const arm = app.architecture === "arm64";
  const size = `${app.cpu}/${app.memory}`;
  line(app.name, `Fargate${arm ? " Arm" : ""} vCPU (${fmt(onDemand)} x ${size}, app + agent)`, onDemand * vcpu * h, "vCPU-hours", arm ? "fargateArmVcpuHour" : "fargateVcpuHour");
  line(app.name, `Fargate${arm ? " Arm" : ""} memory (${fmt(onDemand)} x ${size})`, onDemand * gib * h, "GB-hours", arm ? "fargateArmGbHour" : "fargateGbHour");
  line(app.name, `Fargate Spot vCPU (${fmt(spot)} x ${size}, app + agent)`, spot * vcpu * h, "vCPU-hours", "fargateSpotVcpuHour");
  line(app.name, `Fargate Spot memory (${fmt(spot)} x ${size})`, spot * gib * h, "GB-hours", "fargateSpotGbHour");

  // Each direction at trafficShare of the plan; NLB capacity units count both, the internet only what leaves.
  const oneWayGb = (bytesPerSecond(app.plan.packetsPerSecond) * a.trafficShare * tasks * h * 3600) / GB;
  // For TCP and TLS listeners one NLCU is 1 GB processed in an hour (ELB pricing), the busiest
  // dimension at a plan's rates: NLCU-hours = GB processed.
  line(app.name, "NLB capacity units (bytes processed, both ways)", 2 * oneWayGb, "NLCU-hours", "nlcuHour");
  line(app.name, "Data transfer out to the internet", oneWayGb, "GB", "dataTransferOutGb");
  // Cross-zone load balancing is on (TcpLoadBalancer): with flows and tasks spread evenly, the
  // share (zones - 1) / zones of the bytes crosses a zone, billed leaving one and entering the other.
  const crossing = (2 * oneWayGb * (a.zones - 1)) / a.zones;
  line(app.name, "Cross-zone traffic, NLB to tasks (billed out and in)", 2 * crossing, "GB", "interZoneGb");
  line(app.name, "NAT data processed", a.natGateways > 0 ? tasks * a.natGbPerTask : 0, "GB", "natGb");

  const switches = app.alarms ?? ALARMS_ON;
  const alarmMetrics = (Object.keys(ALARM_METRICS) as (keyof typeof ALARM_METRICS)[]).reduce((n, k) => n + (switches[k] ? ALARM_METRICS[k] : 0), 0);
  line(app.name, "CloudWatch alarms (metrics read)", alarmMetrics, "alarm metrics", "alarmMetricMonth");
  line(app.name, "Container Insights, service metrics", CONTAINER_INSIGHTS_METRICS.perService, "metrics", "customMetricMonth");
  line(app.name, "Agent metrics (EMF)", AGENT_CUSTOM_METRICS, "metrics", "customMetricMonth");
  line(app.name, "Log ingestion", tasks * a.logGbPerTask, "GB", "logIngestGb");
  // 30-day retention: a month's logs are stored at any time.
  line(app.name, "Log storage (30 days)", tasks * a.logGbPerTask, "GB-months", "logStorageGbMonth");
  line(app.name, "SSM parameter TCP_URL (standard tier)", 1, "parameters", "ssmStandardParameterMonth");
}

function sum(lines: readonly CostLine[]): number {
  return lines.reduce((total, l) => total + l.monthly, 0);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** USD with cents: 1234.5 -> "$1,234.50". */
export function formatUsd(usd: number): string {
  return `$${usd.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
