import { Construct } from "constructs";
import { type IResolveContext, Lazy, Token } from "cdktf";
import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";
import { AGENT_METRICS, METRICS_NAMESPACE } from "../ground";
import { agentDimensions, type AppMetrics, serviceDimensions, targetGroupDimensions } from "./app-metrics";
import { ALARM_SETTINGS } from "./alarms";

/** Widgets per app: connections, packets/s against the plan, throttling and plan use, tasks. */
export const WIDGETS_PER_APP = 4;
/** CloudWatch allows 500 widgets per dashboard; a project with more apps gets more dashboards. */
export const MAX_DASHBOARD_WIDGETS = 500;
/** Apps per dashboard: 25 (100 widgets), well inside CloudWatch's 500; a page of 25 rows is what a person scrolls. */
export const APPS_PER_DASHBOARD = 25;

const WIDTH = 6;
const HEIGHT = 6;
const PERIOD = 60;

/** One entry of a widget's `metrics` array: [namespace, name, dim, value, ..., options] or [{ expression }]. */
type MetricEntry = (string | Record<string, unknown>)[];

/** Props of {@link TcpDashboard}. */
export interface TcpDashboardProps {
  /** Dashboard name (letters, digits, - and _); a second one for apps 26-50 gets `-2`, and so on. */
  readonly name: string;
  /** Region of the metrics (a token is fine). */
  readonly region: string;
  /** The apps, in order: one row of widgets each. */
  readonly apps: readonly AppMetrics[];
}

/**
 * The project's CloudWatch dashboard: one row per app with its connections, its packets per
 * second each way against the plan's line (pps x running tasks, and pps x the most containers
 * it may have), the time its traffic was held back with its plan utilisation, and its healthy,
 * unhealthy, running and desired tasks. At most 25 apps per dashboard (APPS_PER_DASHBOARD).
 */
export class TcpDashboard extends Construct {
  /** The dashboards, one per 25 apps. */
  readonly dashboards: readonly CloudwatchDashboard[];

  constructor(scope: Construct, id: string, props: TcpDashboardProps) {
    super(scope, id);
    const dashboards: CloudwatchDashboard[] = [];
    for (let i = 0; i * APPS_PER_DASHBOARD < props.apps.length; i++) {
      const apps = props.apps.slice(i * APPS_PER_DASHBOARD, (i + 1) * APPS_PER_DASHBOARD);
      dashboards.push(
        new CloudwatchDashboard(this, i === 0 ? "Dashboard" : `Dashboard${i + 1}`, {
          dashboardName: i === 0 ? props.name : `${props.name}-${i + 1}`,
          // The body's references (target groups, load balancers) are resolved one by one before
          // the JSON is written, so the body reaches cdktf holding Terraform interpolations and no
          // token: cdktf scans a string that holds tokens once per closing brace (75 kB and 2,000
          // braces per 25 apps, a quarter of a 100-app synth). The JSON is the same either way.
          dashboardBody: Lazy.stringValue({
            produce: (context) => JSON.stringify(resolveTokens(dashboardBody(props.region, apps), context)),
          }),
        }),
      );
    }
    this.dashboards = dashboards;
  }
}

/** `value` with each token in it resolved on its own (a leaf at a time: short strings, cheap to scan). */
function resolveTokens(value: unknown, context: IResolveContext): unknown {
  if (Token.isUnresolved(value)) return context.resolve(value);
  if (Array.isArray(value)) return value.map((item) => resolveTokens(item, context));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveTokens(item, context)]));
  }
  return value;
}

/** The dashboard's body (pure): `{ widgets }`, one row of WIDGETS_PER_APP per app. */
export function dashboardBody(region: string, apps: readonly AppMetrics[]): { widgets: Record<string, unknown>[] } {
  return {
    widgets: apps.flatMap((app, row) =>
      [connections(app), packets(app), throttling(app), tasks(app)].map((properties, column) => ({
        type: "metric",
        x: column * WIDTH,
        y: row * HEIGHT,
        width: WIDTH,
        height: HEIGHT,
        properties: { region, view: "timeSeries", stacked: false, period: PERIOD, ...properties },
      })),
    ),
  };
}

function connections(app: AppMetrics): Record<string, unknown> {
  return {
    title: `${app.app}: connections`,
    metrics: [
      agent(app, AGENT_METRICS.activeConnections.name, { stat: "Sum", label: "open" }),
      agent(app, AGENT_METRICS.newConnections.name, { stat: "Sum", label: "new per minute" }),
      agent(app, AGENT_METRICS.refusedConnections.name, { stat: "Sum", label: "refused per minute" }),
    ],
    yAxis: { left: { min: 0 } },
  };
}

function packets(app: AppMetrics): Record<string, unknown> {
  const fixed = app.minContainers === app.maxContainers;
  return {
    title: `${app.app}: packets/s, all tasks, against the plan`,
    metrics: [
      agent(app, AGENT_METRICS.packetsIn.name, { stat: "Sum", id: "pin", visible: false }),
      agent(app, AGENT_METRICS.packetsOut.name, { stat: "Sum", id: "pout", visible: false }),
      metric("ECS/ContainerInsights", "RunningTaskCount", serviceDimensions(app), { stat: "Average", id: "running", visible: false }),
      [{ expression: "pin / PERIOD(pin)", label: "in (client to app)", id: "ppsIn" }],
      [{ expression: "pout / PERIOD(pout)", label: "out (app to client)", id: "ppsOut" }],
      [{ expression: `running * ${app.pps}`, label: `plan: ${app.pps} pps x running tasks`, id: "plan" }],
    ],
    annotations: {
      horizontal: [{ label: `plan${fixed ? "" : " at most"}: ${app.pps} pps x ${app.maxContainers} containers`, value: app.pps * app.maxContainers }],
    },
    yAxis: { left: { min: 0, label: "packets/s" } },
  };
}

function throttling(app: AppMetrics): Record<string, unknown> {
  return {
    title: `${app.app}: held back by the plan`,
    metrics: [
      agent(app, AGENT_METRICS.throttledSecondsIn.name, { stat: "Sum", label: "seconds held back, in" }),
      agent(app, AGENT_METRICS.throttledSecondsOut.name, { stat: "Sum", label: "seconds held back, out" }),
      agent(app, AGENT_METRICS.planUtilization.name, { stat: "Average", label: "plan used % (average task)", yAxis: "right" }),
      agent(app, AGENT_METRICS.planUtilization.name, { stat: "Maximum", label: "plan used % (busiest task)", yAxis: "right" }),
    ],
    annotations: { horizontal: [{ label: "alarm", value: ALARM_SETTINGS.planUtilizationPercent, yAxis: "right" }] },
    yAxis: { left: { min: 0, label: "seconds per minute" }, right: { min: 0, label: "%" } },
  };
}

function tasks(app: AppMetrics): Record<string, unknown> {
  return {
    title: `${app.app}: tasks`,
    metrics: [
      metric("AWS/NetworkELB", "HealthyHostCount", targetGroupDimensions(app), { stat: "Minimum", label: "healthy targets" }),
      // "." repeats the entry above, position by position (CloudWatch's shorthand): the target
      // group and load balancer references are written once per app, not twice.
      sameAsAbove("UnHealthyHostCount", targetGroupDimensions(app), { stat: "Maximum", label: "unhealthy targets" }),
      metric("ECS/ContainerInsights", "RunningTaskCount", serviceDimensions(app), { stat: "Average", label: "running" }),
      metric("ECS/ContainerInsights", "DesiredTaskCount", serviceDimensions(app), { stat: "Average", label: "desired" }),
    ],
    yAxis: { left: { min: 0 } },
  };
}

function agent(app: AppMetrics, name: string, options: Record<string, unknown>): MetricEntry {
  return metric(METRICS_NAMESPACE, name, agentDimensions(app), options);
}

function sameAsAbove(name: string, dimensions: Record<string, string>, options: Record<string, unknown>): MetricEntry {
  return [".", name, ...Object.keys(dimensions).flatMap(() => [".", "."]), options];
}

function metric(namespace: string, name: string, dimensions: Record<string, string>, options: Record<string, unknown>): MetricEntry {
  return [namespace, name, ...Object.entries(dimensions).flat(), options];
}
