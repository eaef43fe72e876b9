import { Construct } from "constructs";
import { AppautoscalingPolicy } from "@cdktf/provider-aws/lib/appautoscaling-policy";
import { AppautoscalingTarget } from "@cdktf/provider-aws/lib/appautoscaling-target";
import { type DeployTimings, scaleInCooldownSeconds } from "../config/deploy-timings";
import { AGENT_METRICS, METRIC_DIMENSIONS, METRICS_NAMESPACE } from "../ground";
import type { AppMetrics } from "./app-metrics";
import { ConstructError } from "./errors";

/** Target tracking defaults: the average task at this share of its plan's packets, or of its CPU. */
export const SCALING_DEFAULTS = Object.freeze({
  /** Percent of the plan's packets per second (the agent's PlanUtilization, averaged over tasks). */
  planUtilizationTarget: 70,
  /** Percent of the task's CPU (ECSServiceAverageCPUUtilization). */
  cpuTarget: 70,
  /** Seconds after a scale-out before the next: a new task takes about this long to be healthy. */
  scaleOutCooldownSeconds: 60,
});

/** Props of {@link TcpAppScaling}. */
export interface TcpAppScalingProps {
  /** The app's metric dimensions (TcpApp's `metrics`); min and max come from it. */
  readonly metrics: AppMetrics;
  /** The app's deploy timings: the scale-in cooldown covers a removed task's deregistration and stop. */
  readonly timings: DeployTimings;
  /** Prefix of the policies' names: `<project>[-<environment>]-<app>`. */
  readonly namePrefix: string;
  /**
   * PlanUtilization (percent) the tasks are kept at, on average.
   * @default 70
   */
  readonly planUtilizationTarget?: number;
  /**
   * Average CPU (percent) the tasks are kept at.
   * @default 70
   */
  readonly cpuTarget?: number;
}

/**
 * Application Auto Scaling of one app's ECS service between `minContainers` and
 * `maxContainers`, with two target-tracking policies: the plan's packets (the agent's
 * PlanUtilization: the one signal this product owns) and CPU. Target tracking scales out when
 * either is above its target and in only when both are below. Scale-in waits
 * `scaleInCooldownSeconds(timings)` between steps and never goes below the minimum. The service
 * ignores `desired_count` drift (TcpApp sets `lifecycle.ignore_changes`), so an apply never
 * undoes what scaling did.
 */
export class TcpAppScaling extends Construct {
  /** The Application Auto Scaling target: the service's desired count between min and max. */
  readonly target: AppautoscalingTarget;
  /** Target tracking on the agent's PlanUtilization; absent when the agent writes no metrics. */
  readonly planPolicy?: AppautoscalingPolicy;
  /** Target tracking on the service's average CPU. */
  readonly cpuPolicy: AppautoscalingPolicy;

  constructor(scope: Construct, id: string, props: TcpAppScalingProps) {
    super(scope, id);
    const m = props.metrics;
    const planTarget = props.planUtilizationTarget ?? SCALING_DEFAULTS.planUtilizationTarget;
    const cpuTarget = props.cpuTarget ?? SCALING_DEFAULTS.cpuTarget;
    checkTarget("planUtilizationTarget", planTarget);
    checkTarget("cpuTarget", cpuTarget);
    if (!(Number.isInteger(m.minContainers) && m.minContainers >= 1 && m.maxContainers >= m.minContainers)) {
      throw new ConstructError("TCP_ADDON_INVALID_PROPS", `${m.app}.containers: expected 1 <= min <= max, got min ${m.minContainers}, max ${m.maxContainers}`);
    }

    this.target = new AppautoscalingTarget(this, "Target", {
      serviceNamespace: "ecs",
      scalableDimension: "ecs:service:DesiredCount",
      resourceId: `service/${m.clusterName}/${m.serviceName}`,
      minCapacity: m.minContainers,
      maxCapacity: m.maxContainers,
    });
    const cooldowns = { scaleInCooldown: scaleInCooldownSeconds(props.timings), scaleOutCooldown: SCALING_DEFAULTS.scaleOutCooldownSeconds };
    if (m.agentMetrics) {
      this.planPolicy = this.policy("PlanPolicy", `${props.namePrefix}-plan-utilization`, {
        targetValue: planTarget,
        ...cooldowns,
        customizedMetricSpecification: {
          namespace: METRICS_NAMESPACE,
          metricName: AGENT_METRICS.planUtilization.name,
          statistic: "Average",
          unit: AGENT_METRICS.planUtilization.unit,
          dimensions: [
            { name: METRIC_DIMENSIONS.project, value: m.project },
            { name: METRIC_DIMENSIONS.app, value: m.app },
          ],
        },
      });
    }
    this.cpuPolicy = this.policy("CpuPolicy", `${props.namePrefix}-cpu`, {
      targetValue: cpuTarget,
      ...cooldowns,
      predefinedMetricSpecification: { predefinedMetricType: "ECSServiceAverageCPUUtilization" },
    });
  }

  private policy(
    id: string,
    name: string,
    config: NonNullable<ConstructorParameters<typeof AppautoscalingPolicy>[2]["targetTrackingScalingPolicyConfiguration"]>,
  ): AppautoscalingPolicy {
    return new AppautoscalingPolicy(this, id, {
      name,
      policyType: "TargetTrackingScaling",
      serviceNamespace: this.target.serviceNamespace,
      scalableDimension: this.target.scalableDimension,
      resourceId: this.target.resourceId,
      targetTrackingScalingPolicyConfiguration: config,
    });
  }
}

function checkTarget(field: string, value: number): void {
  if (!(value > 0 && value <= 100)) {
    throw new ConstructError("TCP_ADDON_INVALID_PROPS", `scaling.${field}: expected a percent above 0 and at most 100, got ${value}`);
  }
}
