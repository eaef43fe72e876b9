import { Testing, TerraformStack } from "cdktf";
import { deployTimings, scaleInCooldownSeconds } from "../../config/deploy-timings";
import { ALARMS_ON } from "../../config/schema";
import { ALARM_SETTINGS } from "../../constructs/alarms";
import type { AppMetrics } from "../../constructs/app-metrics";
import { APPS_PER_DASHBOARD, dashboardBody, MAX_DASHBOARD_WIDGETS, TcpDashboard } from "../../constructs/dashboard";
import { TcpPlatform } from "../../constructs/platform";
import { checkPolicy } from "../../constructs/policy";
import { TcpApp } from "../../constructs/tcp-app";
import { AGENT_METRICS, METRIC_DIMENSIONS, METRICS_NAMESPACE } from "../../runtime/agent/contract";
import { emfRecord, ZERO_TOTALS } from "../../runtime/agent/emf";
import { appFixture, configFixture, containersOf, envOf, ref, resourceIn, resourcesOf, synthStack, type TfJson, unresolvedReferences } from "./fixtures";

Testing.setupJest();

const TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:pager";
const MQTT = appFixture("mqtt", { port: 20003, containers: 2 });
const GAME = appFixture("game", {
  port: 30000,
  plan: { name: "tcp-5k", packetsPerSecond: 5000 },
  containers: 2,
  scaling: { min: 2, max: 8 },
});

/** Every metric name in the TcpAddon namespace that a piece of the declaration reads. */
const AGENT_METRIC_NAMES = new Set<string>(Object.values(AGENT_METRICS).map((m) => m.name));

function alarmsOf(tf: TfJson, app: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(resourcesOf(tf, "aws_cloudwatch_metric_alarm")).filter(([id]) => id.startsWith(`${app}_`)));
}

function alarmNamed(tf: TfJson, name: string): Record<string, unknown> {
  const found = Object.values(resourcesOf(tf, "aws_cloudwatch_metric_alarm")).filter((a) => a.alarm_name === name);
  if (found.length !== 1) throw new Error(`expected one alarm ${name}, found ${found.length}`);
  return found[0];
}

function dashboardOf(tf: TfJson): { widgets: { properties: { title: string; metrics: unknown[][]; annotations?: { horizontal: { value: number; label: string }[] } } }[] } {
  const dashboards = Object.values(resourcesOf(tf, "aws_cloudwatch_dashboard"));
  expect(dashboards).toHaveLength(1);
  return JSON.parse(dashboards[0].dashboard_body as string);
}

describe("a project with alarms to an email, a fixed app and a scaling app", () => {
  let tf: TfJson;
  let json: string;
  let stackReport: ReturnType<typeof checkPolicy>;

  beforeAll(() => {
    const synth = synthStack(configFixture([MQTT, GAME], { alarmTopic: { email: "ops@example.com" } }));
    ({ tf, json } = synth);
    stackReport = checkPolicy(synth.stack);
  });

  it("references only resources it declares", () => {
    expect(unresolvedReferences(tf)).toEqual([]);
  });

  it("keeps the security policy: no error finding, no new warning, no IAM resource added", () => {
    expect(stackReport.findings.filter((f) => f.level === "error")).toEqual([]);
    // the same apps with neither alarms, scaling nor metrics
    const bare = synthStack(configFixture([MQTT, { ...GAME, scaling: undefined }]));
    expect(stackReport.findings.map((f) => f.ruleId)).toEqual(checkPolicy(bare.stack).findings.map((f) => f.ruleId));
    for (const type of ["aws_iam_role", "aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_iam_policy"]) {
      expect(resourcesOf(tf, type)).toEqual(resourcesOf(bare.tf, type));
    }
    expect(json).not.toMatch(/\\"(Action|Resource)\\":\s*\\"\*\\"/);
  });

  it("creates an SNS topic with the email subscribed", () => {
    expect(Object.values(resourcesOf(tf, "aws_sns_topic"))).toEqual([expect.objectContaining({ name: "acme-tcp-addon-alarms" })]);
    const topic = ref(tf, "aws_sns_topic", "Platform_AlarmTopic_", "arn");
    expect(Object.values(resourcesOf(tf, "aws_sns_topic_subscription"))).toEqual([
      expect.objectContaining({ protocol: "email", endpoint: "ops@example.com", topic_arn: topic }),
    ]);
  });

  it.each(["mqtt", "game"])("%s: four alarms, each notifying the topic on ALARM and OK, quiet without data", (app) => {
    const alarms = Object.values(alarmsOf(tf, app));
    expect(alarms.map((a) => a.alarm_name).sort()).toEqual(
      [`acme-${app}-plan-utilization`, `acme-${app}-target-resets`, `acme-${app}-tasks-below-desired`, `acme-${app}-unhealthy-targets`],
    );
    const topic = ref(tf, "aws_sns_topic", "Platform_AlarmTopic_", "arn");
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({ alarm_actions: [topic], ok_actions: [topic], treat_missing_data: "notBreaching" });
      expect(alarm.alarm_description).toEqual(expect.stringContaining(app));
    }
  });

  it("unhealthy targets: UnHealthyHostCount of the app's target group above 0 for 2 minutes", () => {
    expect(alarmNamed(tf, "acme-mqtt-unhealthy-targets")).toMatchObject({
      namespace: "AWS/NetworkELB",
      metric_name: "UnHealthyHostCount",
      dimensions: {
        TargetGroup: ref(tf, "aws_lb_target_group", "mqtt_", "arn_suffix"),
        LoadBalancer: ref(tf, "aws_lb", "Platform_LoadBalancer_", "arn_suffix"),
      },
      statistic: "Maximum",
      period: 60,
      evaluation_periods: 2,
      datapoints_to_alarm: 2,
      threshold: 0,
      comparison_operator: "GreaterThanThreshold",
    });
  });

  it("tasks below desired: DesiredTaskCount - RunningTaskCount of the service above 0 for 5 minutes", () => {
    const alarm = alarmNamed(tf, "acme-mqtt-tasks-below-desired");
    const dims = { ClusterName: ref(tf, "aws_ecs_cluster", "Platform_Cluster_", "name"), ServiceName: ref(tf, "aws_ecs_service", "mqtt_", "name") };
    expect(alarm).toMatchObject({ threshold: 0, comparison_operator: "GreaterThanThreshold", evaluation_periods: 5, datapoints_to_alarm: 5 });
    expect(alarm.metric_query).toEqual([
      expect.objectContaining({ id: "running", return_data: false, metric: expect.objectContaining({ namespace: "ECS/ContainerInsights", metric_name: "RunningTaskCount", dimensions: dims }) }),
      expect.objectContaining({ id: "desired", return_data: false, metric: expect.objectContaining({ namespace: "ECS/ContainerInsights", metric_name: "DesiredTaskCount", dimensions: dims }) }),
      expect.objectContaining({ id: "missing", expression: "desired - running", return_data: true }),
    ]);
  });

  it("plan utilisation: the agent's average PlanUtilization above 90 % for 5 minutes says: bigger plan or more containers", () => {
    const alarm = alarmNamed(tf, "acme-mqtt-plan-utilization");
    expect(alarm).toMatchObject({
      namespace: METRICS_NAMESPACE,
      metric_name: AGENT_METRICS.planUtilization.name,
      dimensions: { [METRIC_DIMENSIONS.project]: "acme", [METRIC_DIMENSIONS.app]: "mqtt" },
      statistic: "Average",
      unit: "Percent",
      threshold: 90,
      evaluation_periods: 5,
      datapoints_to_alarm: 5,
    });
    expect(alarm.alarm_description).toContain("needs a bigger plan or more containers");
  });

  it("target resets: TCP_Target_Reset_Count above 100 a minute in 3 of 5 minutes", () => {
    expect(alarmNamed(tf, "acme-mqtt-target-resets")).toMatchObject({
      namespace: "AWS/NetworkELB",
      metric_name: "TCP_Target_Reset_Count",
      dimensions: { TargetGroup: ref(tf, "aws_lb_target_group", "mqtt_", "arn_suffix") },
      statistic: "Sum",
      threshold: ALARM_SETTINGS.targetResetsPerMinute,
      evaluation_periods: 5,
      datapoints_to_alarm: 3,
    });
  });

  it("the agent of each app writes its metrics by project and app", () => {
    for (const app of ["mqtt", "game"]) {
      const agent = containersOf(tf, app).find((c) => c.name === "tcp-agent")!;
      expect(envOf(agent)).toMatchObject({ TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "acme", TCP_ADDON_APP: app });
    }
  });

  it("a fixed app has no scaling and keeps desired_count under Terraform", () => {
    const service = resourceIn(tf, "aws_ecs_service", "mqtt_");
    expect(service.desired_count).toBe(2);
    expect(service).not.toHaveProperty("lifecycle");
    expect(Object.keys(resourcesOf(tf, "aws_appautoscaling_target")).filter((id) => id.startsWith("mqtt_"))).toEqual([]);
  });

  it("a scaling app starts at min and its service ignores desired_count drift", () => {
    const service = resourceIn(tf, "aws_ecs_service", "game_");
    expect(service.desired_count).toBe(2);
    expect(service.lifecycle).toEqual({ ignore_changes: ["desired_count"] });
  });

  it("a scaling app's target spans min to max on the service's desired count", () => {
    const cluster = ref(tf, "aws_ecs_cluster", "Platform_Cluster_", "name");
    const service = ref(tf, "aws_ecs_service", "game_", "name");
    expect(resourceIn(tf, "aws_appautoscaling_target", "game_")).toEqual(
      expect.objectContaining({
        service_namespace: "ecs",
        scalable_dimension: "ecs:service:DesiredCount",
        resource_id: `service/${cluster}/${service}`,
        min_capacity: 2,
        max_capacity: 8,
      }),
    );
  });

  it("a scaling app tracks the agent's PlanUtilization and CPU, scaling in no faster than a task leaves", () => {
    const policies = Object.entries(resourcesOf(tf, "aws_appautoscaling_policy")).filter(([id]) => id.startsWith("game_")).map(([, p]) => p);
    expect(policies).toHaveLength(2);
    const target = `\${${"aws_appautoscaling_target"}.${Object.keys(resourcesOf(tf, "aws_appautoscaling_target"))[0]}.resource_id}`;
    const cooldown = scaleInCooldownSeconds(GAME.deploy);
    expect(cooldown).toBeGreaterThanOrEqual(GAME.deploy.deregistrationDelaySeconds + GAME.deploy.stopTimeoutSeconds);
    const plan = policies.find((p) => p.name === "acme-game-plan-utilization")!;
    expect(plan).toMatchObject({
      policy_type: "TargetTrackingScaling",
      resource_id: target,
      target_tracking_scaling_policy_configuration: {
        target_value: 70,
        scale_in_cooldown: cooldown,
        customized_metric_specification: {
          namespace: METRICS_NAMESPACE,
          metric_name: AGENT_METRICS.planUtilization.name,
          statistic: "Average",
          unit: "Percent",
          dimensions: [
            { name: "Project", value: "acme" },
            { name: "App", value: "game" },
          ],
        },
      },
    });
    const cpu = policies.find((p) => p.name === "acme-game-cpu")!;
    expect(cpu).toMatchObject({
      policy_type: "TargetTrackingScaling",
      target_tracking_scaling_policy_configuration: {
        target_value: 70,
        scale_in_cooldown: cooldown,
        predefined_metric_specification: { predefined_metric_type: "ECSServiceAverageCPUUtilization" },
      },
    });
    // never below min: target tracking only scales in when every policy allows it, within the target's range
    expect(plan.target_tracking_scaling_policy_configuration).not.toHaveProperty("disable_scale_in", true);
  });

  it("the dashboard is valid JSON with a row of connections, packets against the plan, throttling and tasks per app", () => {
    const body = dashboardOf(tf);
    expect(body.widgets.map((w) => w.properties.title)).toEqual([
      "mqtt: connections",
      "mqtt: packets/s, all tasks, against the plan",
      "mqtt: held back by the plan",
      "mqtt: tasks",
      "game: connections",
      "game: packets/s, all tasks, against the plan",
      "game: held back by the plan",
      "game: tasks",
    ]);
    // the plan's line: pps x containers (fixed) or x max (scaling), and pps x running tasks
    expect(body.widgets[1].properties.annotations!.horizontal).toEqual([{ label: "plan: 1000 pps x 2 containers", value: 2000 }]);
    expect(body.widgets[5].properties.annotations!.horizontal).toEqual([{ label: "plan at most: 5000 pps x 8 containers", value: 40000 }]);
    expect(body.widgets[5].properties.metrics).toContainEqual([{ expression: "running * 5000", label: "plan: 5000 pps x running tasks", id: "plan" }]);
  });

  it("names only metrics the agent emits, in the dashboard, the alarms and the scaling policy", () => {
    const named: string[] = [];
    for (const widget of dashboardOf(tf).widgets) {
      for (const entry of widget.properties.metrics) if (entry[0] === METRICS_NAMESPACE) named.push(entry[1] as string);
    }
    for (const alarm of Object.values(resourcesOf(tf, "aws_cloudwatch_metric_alarm"))) {
      if (alarm.namespace === METRICS_NAMESPACE) named.push(alarm.metric_name as string);
    }
    for (const policy of Object.values(resourcesOf(tf, "aws_appautoscaling_policy"))) {
      const spec = (policy.target_tracking_scaling_policy_configuration as { customized_metric_specification?: { namespace: string; metric_name: string } })
        .customized_metric_specification;
      if (spec?.namespace === METRICS_NAMESPACE) named.push(spec.metric_name);
    }
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((n) => !AGENT_METRIC_NAMES.has(n))).toEqual([]);
    // and the agent writes every one of them in each EMF line (with a limit)
    const line = emfRecord({ project: "acme", app: "mqtt" }, { previous: ZERO_TOTALS, current: ZERO_TOTALS, activeConnections: 0, ppsLimit: 1000, elapsedSeconds: 60, timestampMs: 1_780_000_000_000 });
    for (const name of new Set(named)) expect(typeof line[name]).toBe("number");
  });
});

describe("switches and topics", () => {
  it("an existing topic ARN gets the notifications and no topic is created", () => {
    const { tf } = synthStack(configFixture([MQTT], { alarmTopic: { topicArn: TOPIC_ARN } }));
    expect(resourcesOf(tf, "aws_sns_topic")).toEqual({});
    for (const alarm of Object.values(alarmsOf(tf, "mqtt"))) expect(alarm).toMatchObject({ alarm_actions: [TOPIC_ARN], ok_actions: [TOPIC_ARN] });
  });

  it("without a topic the alarms exist with no actions", () => {
    const { tf } = synthStack(configFixture([MQTT]));
    const alarms = Object.values(alarmsOf(tf, "mqtt"));
    expect(alarms).toHaveLength(4);
    for (const alarm of alarms) expect(alarm).not.toHaveProperty("alarm_actions");
  });

  it("each alarm switched off is not declared", () => {
    const app = appFixture("mqtt", { port: 20003, alarms: { ...ALARMS_ON, targetResets: false, tasksBelowDesired: false } });
    const { tf } = synthStack(configFixture([app]));
    expect(Object.values(alarmsOf(tf, "mqtt")).map((a) => a.alarm_name).sort()).toEqual(["acme-mqtt-plan-utilization", "acme-mqtt-unhealthy-targets"]);
  });

  it("the scale-in cooldown grows with a long deregistration delay", () => {
    const deploy = deployTimings({ deregistrationDelaySeconds: 600 });
    const app = appFixture("game", { port: 30000, containers: 1, scaling: { min: 1, max: 3 }, deploy });
    const { tf } = synthStack(configFixture([app]));
    for (const policy of Object.values(resourcesOf(tf, "aws_appautoscaling_policy"))) {
      expect(policy.target_tracking_scaling_policy_configuration).toMatchObject({ scale_in_cooldown: 600 + deploy.stopTimeoutSeconds });
    }
  });
});

describe("the dashboard across many apps", () => {
  function metricsOf(i: number): AppMetrics {
    return {
      app: `app-${i}`,
      project: "acme",
      pps: 1000,
      minContainers: 1,
      maxContainers: 1,
      targetGroup: `targetgroup/app-${i}/0123`,
      loadBalancer: "net/acme-nlb/4567",
      clusterName: "acme-tcp-addon",
      serviceName: `app-${i}`,
      agentMetrics: true,
    };
  }

  it("stays within CloudWatch's 500 widgets by splitting into more dashboards", () => {
    const stack = new TerraformStack(Testing.app(), "dash");
    const apps = Array.from({ length: APPS_PER_DASHBOARD + 5 }, (_, i) => metricsOf(i + 1));
    new TcpDashboard(stack, "Dashboard", { name: "acme-tcp-addon", region: "eu-west-1", apps });
    const tf = JSON.parse(Testing.synth(stack)) as TfJson;
    const dashboards = Object.values(resourcesOf(tf, "aws_cloudwatch_dashboard"));
    expect(dashboards.map((d) => d.dashboard_name)).toEqual(["acme-tcp-addon", "acme-tcp-addon-2"]);
    const counts = dashboards.map((d) => (JSON.parse(d.dashboard_body as string) as { widgets: unknown[] }).widgets.length);
    expect(counts).toEqual([APPS_PER_DASHBOARD * 4, 5 * 4]);
    for (const count of counts) expect(count).toBeLessThanOrEqual(MAX_DASHBOARD_WIDGETS);
  });

  it("lays each app's row below the previous one, inside the 24-column grid", () => {
    const { widgets } = dashboardBody("eu-west-1", [metricsOf(1), metricsOf(2)]);
    expect(widgets.map((w) => [w.x, w.y])).toEqual([
      [0, 0], [6, 0], [12, 0], [18, 0],
      [0, 6], [6, 6], [12, 6], [18, 6],
    ]);
    for (const w of widgets) expect((w.x as number) + (w.width as number)).toBeLessThanOrEqual(24);
  });
});

describe("with the agent's metrics off", () => {
  it("declares no alarm or policy on them and does not turn them on in the agent", () => {
    const stack = new TerraformStack(Testing.app(), "acme");
    const platform = new TcpPlatform(stack, "Platform", { project: "acme", agentImage: "img:1" });
    new TcpApp(stack, "mqtt", { platform, image: "img:1", command: "node s.js", port: 20003, scaling: { min: 1, max: 4 }, agentMetrics: false });
    const tf = JSON.parse(Testing.synth(stack)) as TfJson;
    const alarms = Object.values(resourcesOf(tf, "aws_cloudwatch_metric_alarm")).map((a) => a.alarm_name);
    expect(alarms.sort()).toEqual(["acme-mqtt-target-resets", "acme-mqtt-tasks-below-desired", "acme-mqtt-unhealthy-targets"]);
    const policies = Object.values(resourcesOf(tf, "aws_appautoscaling_policy")).map((p) => p.name);
    expect(policies).toEqual(["acme-mqtt-cpu"]);
    expect(envOf(containersOf(tf, "mqtt").find((c) => c.name === "tcp-agent")!)).not.toHaveProperty("TCP_ADDON_EMF");
  });
});
