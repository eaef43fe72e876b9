import * as fs from "node:fs";
import * as path from "node:path";
import { resolveConfig } from "../../config/load";
import { CostError, defaultAssumptions, estimateCost, loadPrices, PRICE_KEYS, regionPrices, taskSplit, type CostEstimate } from "../../config/cost";
import type { ResolvedConfig } from "../../config/schema";
import { costReport } from "../../cli/cost";
import { synthStack, type TfJson } from "../constructs/fixtures";

/**
 * The estimate against figures computed by hand for two configs. Every expected figure is the
 * quantity times the eu-west-1 price it names (prices/aws-prices.json, regions.eu-west-1.prices).
 * GB of traffic: plan bytes/s x share x tasks x 730 h x 3600 s / 2^30.
 */

const ROOT = path.resolve(__dirname, "../..");
const DOC = path.join(ROOT, "docs/cost.md");
const HOURS = 730;
const SECONDS = HOURS * 3600; // 2,628,000
const GIB = 2 ** 30;
/** One direction of one tcp-1k container at 25 %: 1,500,000 B/s x 0.25 x 2,628,000 s / 2^30 = 917.818 GB. */
const TCP_1K_GB = (1_500_000 * 0.25 * SECONDS) / GIB;
/** The one-app total, as docs/cost.md shows it. */
const TOTAL_ONE_APP = "201.64";
const image = (name: string) => `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${name}:1.0`;

/** One app, every default: tcp-1k, 1 container of 256/512, the VPC created (1 NAT), the agent image built. */
const ONE_APP = { project: "one", region: "eu-west-1", apps: { mqtt: { image: image("mqtt"), command: "node server.js" } } };

/** Three apps on one NLB with Elastic IPs, a NAT gateway per zone (2), alarms mailed, Spot and Arm. */
const THREE_APPS = {
  project: "three",
  region: "eu-west-1",
  staticIps: true,
  alarms: { email: "ops@example.com" },
  apps: {
    batch: { image: image("batch"), command: "node batch.js", containers: 2, capacity: "spot" },
    mqtt: { image: image("mqtt"), command: "node server.js", containers: 3, capacity: { spot: "50%", base: 1 } },
    arm: {
      image: image("arm"),
      command: "node arm.js",
      containers: 2,
      plan: "tcp-5k",
      cpu: 512,
      memory: 1024,
      architecture: "arm64",
      alarms: { tasksBelowDesired: false },
    },
  },
};
/** `network.natGateways: perAz` is not a config key yet: the per-zone NAT case is the estimator's `natGateways` parameter. */
const PER_AZ_NAT = { natGateways: 2 };

function resolved(raw: unknown): ResolvedConfig {
  return resolveConfig(raw, ROOT);
}
const prices = regionPrices(loadPrices(), "eu-west-1");
const lineOf = (e: CostEstimate, scope: string, item: RegExp) => {
  const found = e.lines.filter((l) => l.scope === scope && item.test(l.item));
  if (found.length !== 1) throw new Error(`expected one ${scope} line matching ${item}, found ${found.length}`);
  return found[0].monthly;
};

describe("the cost estimate of one default app (eu-west-1)", () => {
  const estimate = estimateCost(resolved(ONE_APP), prices);
  const expected: [string, RegExp, number][] = [
    ["project", /^Network Load Balancer hours/, 730 * 0.0252], // nlbHour
    ["project", /^NLB public IPv4/, 2 * 730 * 0.005], // publicIpv4Hour, one address per zone
    ["project", /^NAT gateway hours/, 730 * 0.048], // natHour
    ["project", /^NAT public IPv4/, 730 * 0.005], // publicIpv4Hour
    ["project", /^CloudWatch dashboards/, 1 * 3.0], // dashboardMonth
    ["project", /^Container Insights, cluster/, 10 * 0.3], // customMetricMonth
    ["project", /^ECR storage/, 10 * 2 * 0.06 * 0.1], // ecrStorageGbMonth: 10 images x 2 architectures x 0.06 GB
    ["mqtt", /^Fargate vCPU/, 0.25 * 730 * 0.04048], // fargateVcpuHour
    ["mqtt", /^Fargate memory/, 0.5 * 730 * 0.004445], // fargateGbHour
    ["mqtt", /^NLB capacity units/, 2 * TCP_1K_GB * 0.006], // nlcuHour: 1,835.6 GB both ways
    ["mqtt", /^Data transfer out/, TCP_1K_GB * 0.09], // dataTransferOutGb
    ["mqtt", /^Cross-zone traffic/, 2 * (2 * TCP_1K_GB / 2) * 0.01], // interZoneGb: half the bytes of both ways cross a zone, billed out and in
    ["mqtt", /^NAT data/, 1 * 0.048], // natGb: 1 GB per task
    ["mqtt", /^CloudWatch alarms/, 5 * 0.1], // alarmMetricMonth: 4 alarms, tasks-below-desired reads 2 metrics
    ["mqtt", /^Container Insights, service/, 21 * 0.3], // customMetricMonth
    ["mqtt", /^Agent metrics/, 10 * 0.3], // customMetricMonth: the agent's 10 EMF metrics
    ["mqtt", /^Log ingestion/, 0.5 * 0.57], // logIngestGb
    ["mqtt", /^Log storage/, 0.5 * 0.03], // logStorageGbMonth
    ["mqtt", /^SSM parameter/, 1 * 0], // ssmStandardParameterMonth
  ];

  it.each(expected)("%s: %s", (scope, item, usd) => {
    expect(lineOf(estimate, scope, item)).toBeCloseTo(usd, 6);
  });

  it("prices nothing else, and the total is the sum", () => {
    expect(estimate.lines).toHaveLength(expected.length);
    expect(estimate.total).toBeCloseTo(expected.reduce((s, [, , usd]) => s + usd, 0), 6);
    expect(estimate.total.toFixed(2)).toBe(TOTAL_ONE_APP);
  });
});

describe("the cost estimate of three apps with static IPs, a NAT per zone, alarms and Spot (eu-west-1)", () => {
  const estimate = estimateCost(resolved(THREE_APPS), prices, defaultAssumptions(resolved(THREE_APPS), PER_AZ_NAT));
  const expected: [string, RegExp, number][] = [
    ["project", /^Network Load Balancer hours/, 730 * 0.0252], // nlbHour: the three apps share NLB 0
    ["project", /^NLB public IPv4/, 2 * 730 * 0.005], // publicIpv4Hour: the two Elastic IPs of staticIps
    ["project", /^NAT gateway hours/, 2 * 730 * 0.048], // natHour: one per zone
    ["project", /^NAT public IPv4/, 2 * 730 * 0.005], // publicIpv4Hour
    ["project", /^CloudWatch dashboards/, 3.0], // dashboardMonth
    ["project", /^Container Insights, cluster/, 10 * 0.3], // customMetricMonth
    ["project", /^ECR storage/, 1.2 * 0.1], // ecrStorageGbMonth
    // batch: 2 tasks all on Spot
    ["batch", /^Fargate Spot vCPU/, 2 * 0.25 * 730 * 0.01334053], // fargateSpotVcpuHour
    ["batch", /^Fargate Spot memory/, 2 * 0.5 * 730 * 0.00146489], // fargateSpotGbHour
    ["batch", /^NLB capacity units/, 2 * 2 * TCP_1K_GB * 0.006], // nlcuHour
    ["batch", /^Data transfer out/, 2 * TCP_1K_GB * 0.09], // dataTransferOutGb
    ["batch", /^Cross-zone traffic/, 2 * (2 * 2 * TCP_1K_GB / 2) * 0.01], // interZoneGb: half the bytes of both ways cross a zone, billed out and in
    ["batch", /^NAT data/, 2 * 0.048], // natGb
    ["batch", /^CloudWatch alarms/, 5 * 0.1], // alarmMetricMonth
    ["batch", /^Container Insights, service/, 21 * 0.3], // customMetricMonth
    ["batch", /^Agent metrics/, 10 * 0.3], // customMetricMonth
    ["batch", /^Log ingestion/, 2 * 0.5 * 0.57], // logIngestGb
    ["batch", /^Log storage/, 2 * 0.5 * 0.03], // logStorageGbMonth
    ["batch", /^SSM parameter/, 0], // ssmStandardParameterMonth
    // mqtt: 3 tasks, base 1 on-demand, then half of the other 2 on Spot: 2 on-demand, 1 Spot
    ["mqtt", /^Fargate vCPU/, 2 * 0.25 * 730 * 0.04048], // fargateVcpuHour
    ["mqtt", /^Fargate memory/, 2 * 0.5 * 730 * 0.004445], // fargateGbHour
    ["mqtt", /^Fargate Spot vCPU/, 1 * 0.25 * 730 * 0.01334053], // fargateSpotVcpuHour
    ["mqtt", /^Fargate Spot memory/, 1 * 0.5 * 730 * 0.00146489], // fargateSpotGbHour
    ["mqtt", /^NLB capacity units/, 3 * 2 * TCP_1K_GB * 0.006], // nlcuHour
    ["mqtt", /^Data transfer out/, 3 * TCP_1K_GB * 0.09], // dataTransferOutGb
    ["mqtt", /^Cross-zone traffic/, 2 * (2 * 3 * TCP_1K_GB / 2) * 0.01], // interZoneGb: half the bytes of both ways cross a zone, billed out and in
    ["mqtt", /^NAT data/, 3 * 0.048], // natGb
    ["mqtt", /^CloudWatch alarms/, 5 * 0.1], // alarmMetricMonth
    ["mqtt", /^Container Insights, service/, 21 * 0.3], // customMetricMonth
    ["mqtt", /^Agent metrics/, 10 * 0.3], // customMetricMonth
    ["mqtt", /^Log ingestion/, 3 * 0.5 * 0.57], // logIngestGb
    ["mqtt", /^Log storage/, 3 * 0.5 * 0.03], // logStorageGbMonth
    ["mqtt", /^SSM parameter/, 0], // ssmStandardParameterMonth
    // arm: 2 tasks of 512/1024 on Graviton, tcp-5k (7.5 MB/s), no tasks-below-desired alarm
    ["arm", /^Fargate Arm vCPU/, 2 * 0.5 * 730 * 0.03238], // fargateArmVcpuHour
    ["arm", /^Fargate Arm memory/, 2 * 1 * 730 * 0.00356], // fargateArmGbHour
    ["arm", /^NLB capacity units/, 2 * 2 * 5 * TCP_1K_GB * 0.006], // nlcuHour: tcp-5k is 5 x tcp-1k
    ["arm", /^Data transfer out/, 2 * 5 * TCP_1K_GB * 0.09], // dataTransferOutGb
    ["arm", /^Cross-zone traffic/, 2 * (2 * 2 * 5 * TCP_1K_GB / 2) * 0.01], // interZoneGb: half the bytes of both ways cross a zone, billed out and in
    ["arm", /^NAT data/, 2 * 0.048], // natGb
    ["arm", /^CloudWatch alarms/, 3 * 0.1], // alarmMetricMonth: three one-metric alarms
    ["arm", /^Container Insights, service/, 21 * 0.3], // customMetricMonth
    ["arm", /^Agent metrics/, 10 * 0.3], // customMetricMonth
    ["arm", /^Log ingestion/, 2 * 0.5 * 0.57], // logIngestGb
    ["arm", /^Log storage/, 2 * 0.5 * 0.03], // logStorageGbMonth
    ["arm", /^SSM parameter/, 0], // ssmStandardParameterMonth
  ];

  it.each(expected)("%s: %s", (scope, item, usd) => {
    expect(lineOf(estimate, scope, item)).toBeCloseTo(usd, 6);
  });

  it("prices nothing else; per app and in total the lines add up", () => {
    expect(estimate.lines).toHaveLength(expected.length);
    for (const app of ["batch", "mqtt", "arm"]) {
      expect(estimate.perApp[app]).toBeCloseTo(expected.filter(([s]) => s === app).reduce((s, [, , usd]) => s + usd, 0), 6);
    }
    expect(estimate.total).toBeCloseTo(expected.reduce((s, [, , usd]) => s + usd, 0), 6);
  });

  it("Spot and Arm cost less than the same tasks on x86 on-demand", () => {
    const onDemand = estimateCost(resolved({ ...THREE_APPS, apps: { ...THREE_APPS.apps, batch: { ...THREE_APPS.apps.batch, capacity: "on-demand" }, arm: { ...THREE_APPS.apps.arm, architecture: "x86_64" } } }), prices);
    const fargate = (e: CostEstimate, app: string) => e.lines.filter((l) => l.scope === app && /Fargate/.test(l.item)).reduce((s, l) => s + l.monthly, 0);
    expect(fargate(estimate, "batch")).toBeLessThan(0.4 * fargate(onDemand, "batch"));
    expect(fargate(estimate, "arm")).toBeLessThan(0.85 * fargate(onDemand, "arm"));
  });
});

describe("what the estimate counts is what the stack declares", () => {
  /** Every resource type the stack may declare: priced by the estimate, or free. */
  const PRICED = ["aws_lb", "aws_nat_gateway", "aws_eip", "aws_cloudwatch_metric_alarm", "aws_cloudwatch_dashboard", "aws_ecs_cluster", "aws_ecs_service", "aws_ecs_task_definition", "aws_ecr_repository", "aws_cloudwatch_log_group", "aws_ssm_parameter", "aws_lb_listener"];
  // No charge of their own (IAM, networking plumbing, the SNS topic's email deliveries under the free 1,000, terraform_data).
  const FREE = [
    "aws_vpc", "aws_subnet", "aws_internet_gateway", "aws_route_table", "aws_route", "aws_route_table_association", "aws_default_security_group", "aws_security_group",
    "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule", "aws_iam_role", "aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_lb_target_group",
    "aws_ecr_lifecycle_policy", "aws_ecs_cluster_capacity_providers", "aws_sns_topic", "aws_sns_topic_subscription", "terraform_data",
  ];
  const config = resolved(THREE_APPS);
  const { tf } = synthStack({ ...config, state: { backend: "s3", bucket: "b-tf-state", region: "eu-west-1", key: "k" } }, { natGateways: 2 });
  const estimate = estimateCost(config, prices, defaultAssumptions(config, PER_AZ_NAT));
  const resources = (type: string) => Object.values((tf as TfJson).resource?.[type] ?? {});
  const quantity = (scope: string, item: RegExp) => estimate.lines.filter((l) => l.scope === scope && item.test(l.item)).reduce((s, l) => s + l.quantity, 0);

  it("every resource type in the synthesized stack is priced or known to be free", () => {
    const unknown = Object.keys(tf.resource ?? {}).filter((t) => !PRICED.includes(t) && !FREE.includes(t));
    expect(unknown).toEqual([]);
  });

  it("NLBs, NAT gateways and public IPv4 addresses (NAT and static IPs) as declared", () => {
    expect(quantity("project", /^Network Load Balancer hours/)).toBe(resources("aws_lb").length * HOURS);
    // the cross-zone traffic lines hold because every NLB balances across zones
    expect(resources("aws_lb").map((lb) => lb.enable_cross_zone_load_balancing)).toEqual([true]);
    expect(quantity("project", /^NAT gateway hours/)).toBe(resources("aws_nat_gateway").length * HOURS);
    expect(quantity("project", /public IPv4/)).toBe(resources("aws_eip").length * HOURS);
  });

  it("alarm metrics, dashboards and the ECR repository as declared", () => {
    const alarmMetrics = resources("aws_cloudwatch_metric_alarm").reduce<number>((n, a) => {
      const queries = (a.metric_query as { metric?: unknown }[] | undefined) ?? [];
      return n + (queries.length === 0 ? 1 : queries.filter((q) => q.metric !== undefined).length);
    }, 0);
    expect(estimate.lines.filter((l) => /^CloudWatch alarms/.test(l.item)).reduce((s, l) => s + l.quantity, 0)).toBe(alarmMetrics);
    expect(quantity("project", /^CloudWatch dashboards/)).toBe(resources("aws_cloudwatch_dashboard").length);
    expect(resources("aws_ecr_repository")).toHaveLength(1);
    expect(resources("aws_ecs_cluster")[0]).toMatchObject({ setting: [{ name: "containerInsights", value: "enabled" }] });
  });

  it("each service's tasks, capacity and task size as declared", () => {
    for (const app of config.apps) {
      const [service] = Object.entries((tf as TfJson).resource?.aws_ecs_service ?? {}).filter(([id]) => id.startsWith(`${app.name}_`)).map(([, s]) => s);
      const [task] = Object.entries((tf as TfJson).resource?.aws_ecs_task_definition ?? {}).filter(([id]) => id.startsWith(`${app.name}_`)).map(([, t]) => t);
      expect(service.desired_count).toBe(app.containers);
      expect([task.cpu, task.memory]).toEqual([String(app.cpu), String(app.memory)]);
      expect((task.runtime_platform as { cpu_architecture: string }).cpu_architecture).toBe(app.architecture === "arm64" ? "ARM64" : "X86_64");
      const strategy = (service.capacity_provider_strategy as { capacity_provider: string; weight: number; base?: number }[] | undefined) ?? [];
      const spotWeight = strategy.find((s) => s.capacity_provider === "FARGATE_SPOT")?.weight ?? 0;
      const base = strategy.find((s) => s.capacity_provider === "FARGATE")?.base ?? 0;
      const total = strategy.reduce((s, p) => s + p.weight, 0) || 1;
      const spot = ((app.containers - Math.min(base, app.containers)) * spotWeight) / total;
      expect(taskSplit(app.containers, app.capacity).spot).toBeCloseTo(spot, 9);
    }
  });
});

describe("prices", () => {
  it("a region without prices is one clear error", () => {
    expect(() => regionPrices(loadPrices(), "ap-south-2")).toThrow(CostError);
    expect(() => regionPrices(loadPrices(), "ap-south-2")).toThrow(/^no prices for region ap-south-2 in prices\/aws-prices.json; regions with prices: us-east-1, eu-west-1$/);
  });

  it("every region the docs and examples use has every price, each dated with its source page", () => {
    const file = loadPrices();
    for (const region of ["us-east-1", "eu-west-1"]) {
      for (const key of PRICE_KEYS) {
        expect(file.regions[region]?.prices[key]).toMatchObject({ source: expect.stringMatching(/^https:\/\/aws\.amazon\.com\//), checked: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
      }
    }
    // The file lists exactly the prices it could not confirm.
    const unconfirmed = Object.entries(file.regions).flatMap(([r, v]) => Object.entries(v.prices).filter(([, p]) => p.status === "unconfirmed").map(([k]) => `${r}:${k}`));
    expect([...file.unconfirmed].sort()).toEqual(unconfirmed.sort());
  });
});

describe("docs/cost.md", () => {
  /** The two configs' breakdowns, as `tcp-addon cost` prints them; UPDATE_DOCS=1 rewrites them. */
  const blocks: Record<string, string> = {
    "one-app": costReport(estimateCost(resolved(ONE_APP), prices)).join("\n"),
    "three-apps": costReport(estimateCost(resolved(THREE_APPS), prices, defaultAssumptions(resolved(THREE_APPS), PER_AZ_NAT))).join("\n"),
  };

  it("shows each breakdown exactly as the estimate computes it today", () => {
    let doc = fs.readFileSync(DOC, "utf8");
    for (const [name, text] of Object.entries(blocks)) {
      const pattern = new RegExp(`(<!-- cost:${name}:start -->\\n\`\`\`text\\n)[\\s\\S]*?(\\n\`\`\`\\n<!-- cost:${name}:end -->)`);
      expect(doc).toMatch(pattern);
      doc = doc.replace(pattern, (_m, open: string, close: string) => `${open}${text}${close}`);
    }
    if (process.env.UPDATE_DOCS === "1") fs.writeFileSync(DOC, doc);
    expect(fs.readFileSync(DOC, "utf8")).toBe(doc);
  });
});
