import { Construct } from "constructs";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { ALARMS_ON, type AlarmSwitches } from "../config/schema";
import { AGENT_METRICS, METRICS_NAMESPACE } from "../ground";
import { agentDimensions, type AppMetrics, serviceDimensions, targetGroupDimensions } from "./app-metrics";

/**
 * The thresholds of every alarm, in one place (the table in docs/operations.md is written from them).
 * Periods are 60 s: the agent writes its metrics once a minute, the NLB and Container Insights
 * report per minute.
 */
export const ALARM_SETTINGS = Object.freeze({
  /** UnHealthyHostCount > 0 for this many consecutive minutes. */
  unhealthyTargetsMinutes: 2,
  /** RunningTaskCount below DesiredTaskCount for this many consecutive minutes (a deploy or a replacement takes a few). */
  tasksBelowDesiredMinutes: 5,
  /** PlanUtilization (average over the tasks) above this percent... */
  planUtilizationPercent: 90,
  /** ...for this many consecutive minutes. */
  planUtilizationMinutes: 5,
  /** TCP_Target_Reset_Count above this many resets a minute... */
  targetResetsPerMinute: 100,
  /** ...in this many of the last `targetResetsWindowMinutes` minutes. */
  targetResetsMinutes: 3,
  targetResetsWindowMinutes: 5,
});

/** Props of {@link TcpAppAlarms}. */
export interface TcpAppAlarmsProps {
  /** The app's metric dimensions (TcpApp's `metrics`). */
  readonly metrics: AppMetrics;
  /** Prefix of every alarm name: `<project>[-<environment>]-<app>`. */
  readonly namePrefix: string;
  /**
   * Which alarms to declare.
   * @default all of them (ALARMS_ON)
   */
  readonly switches?: AlarmSwitches;
  /**
   * SNS topic that gets the ALARM and OK notifications.
   * @default none: the alarms show in the CloudWatch console only
   */
  readonly topicArn?: string;
  /** Tags of every alarm. */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * One app's CloudWatch alarms: unhealthy targets, running tasks below desired, the plan nearly
 * used up, and target resets spiking. Missing data never alarms (an app with no traffic is fine).
 * The plan-utilisation alarm reads the agent's own metric; it is left out when the agent writes
 * no metrics.
 */
export class TcpAppAlarms extends Construct {
  /** The alarms declared, by switch name. */
  readonly alarms: Partial<Record<keyof AlarmSwitches, CloudwatchMetricAlarm>> = {};
  private readonly props: TcpAppAlarmsProps;

  constructor(scope: Construct, id: string, props: TcpAppAlarmsProps) {
    super(scope, id);
    this.props = props;
    const on = props.switches ?? ALARMS_ON;
    if (on.unhealthyTargets) this.alarms.unhealthyTargets = this.unhealthyTargets();
    if (on.tasksBelowDesired) this.alarms.tasksBelowDesired = this.tasksBelowDesired();
    if (on.planUtilization && props.metrics.agentMetrics) this.alarms.planUtilization = this.planUtilization();
    if (on.targetResets) this.alarms.targetResets = this.targetResets();
  }

  private unhealthyTargets(): CloudwatchMetricAlarm {
    const minutes = ALARM_SETTINGS.unhealthyTargetsMinutes;
    return this.alarm("UnhealthyTargets", "unhealthy-targets", {
      alarmDescription: `${this.props.metrics.app}: at least one task failed the NLB's health check (/healthz) for ${minutes} minutes; its clients keep their connections but it gets no new ones. Look at the task's logs; ECS replaces it.`,
      namespace: "AWS/NetworkELB",
      metricName: "UnHealthyHostCount",
      dimensions: targetGroupDimensions(this.props.metrics),
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: minutes,
      datapointsToAlarm: minutes,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
    });
  }

  private tasksBelowDesired(): CloudwatchMetricAlarm {
    const minutes = ALARM_SETTINGS.tasksBelowDesiredMinutes;
    const insight = (id: string, metricName: string) => ({
      id,
      metric: { namespace: "ECS/ContainerInsights", metricName, dimensions: serviceDimensions(this.props.metrics), period: 60, stat: "Average" },
      returnData: false,
    });
    return this.alarm("TasksBelowDesired", "tasks-below-desired", {
      alarmDescription: `${this.props.metrics.app}: fewer tasks run than the service wants, for ${minutes} minutes. Tasks fail to start or keep stopping: see the service's events and the stopped tasks' reasons.`,
      metricQuery: [
        insight("running", "RunningTaskCount"),
        insight("desired", "DesiredTaskCount"),
        { id: "missing", expression: "desired - running", label: "tasks missing", returnData: true },
      ],
      evaluationPeriods: minutes,
      datapointsToAlarm: minutes,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
    });
  }

  private planUtilization(): CloudwatchMetricAlarm {
    const { planUtilizationPercent: percent, planUtilizationMinutes: minutes } = ALARM_SETTINGS;
    return this.alarm("PlanUtilization", "plan-utilization", {
      alarmDescription: `${this.props.metrics.app}: the tasks used over ${percent} % of their plan's packets per second for ${minutes} minutes; traffic is being held back. This app needs a bigger plan or more containers.`,
      namespace: METRICS_NAMESPACE,
      metricName: AGENT_METRICS.planUtilization.name,
      dimensions: agentDimensions(this.props.metrics),
      statistic: "Average",
      unit: AGENT_METRICS.planUtilization.unit,
      period: 60,
      evaluationPeriods: minutes,
      datapointsToAlarm: minutes,
      threshold: percent,
      comparisonOperator: "GreaterThanThreshold",
    });
  }

  private targetResets(): CloudwatchMetricAlarm {
    const { targetResetsPerMinute: perMinute, targetResetsMinutes: minutes, targetResetsWindowMinutes: window } = ALARM_SETTINGS;
    return this.alarm("TargetResets", "target-resets", {
      alarmDescription: `${this.props.metrics.app}: the tasks reset over ${perMinute} connections a minute in ${minutes} of ${window} minutes. The app crashes or refuses connections, or the agent cuts them at the end of its drain: see the app's and the agent's logs.`,
      namespace: "AWS/NetworkELB",
      metricName: "TCP_Target_Reset_Count",
      dimensions: targetGroupDimensions(this.props.metrics),
      statistic: "Sum",
      period: 60,
      evaluationPeriods: window,
      datapointsToAlarm: minutes,
      threshold: perMinute,
      comparisonOperator: "GreaterThanThreshold",
    });
  }

  /** An alarm named `<prefix>-<suffix>`, notifying the topic on ALARM and OK, quiet on missing data. */
  private alarm(
    id: string,
    suffix: string,
    config: Omit<ConstructorParameters<typeof CloudwatchMetricAlarm>[2], "alarmName" | "treatMissingData" | "alarmActions" | "okActions" | "tags">,
  ): CloudwatchMetricAlarm {
    const actions = this.props.topicArn === undefined ? undefined : [this.props.topicArn];
    return new CloudwatchMetricAlarm(this, id, {
      ...config,
      alarmName: `${this.props.namePrefix}-${suffix}`,
      treatMissingData: "notBreaching",
      alarmActions: actions,
      okActions: actions,
      tags: this.props.tags,
    });
  }
}
