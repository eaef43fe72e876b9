import { METRIC_DIMENSIONS } from "../ground";

/**
 * What the alarms, the scaling policies and the dashboard need to know about one app, in one
 * place (TcpApp's `metrics` field): the agent's dimension values, the NLB's and ECS's dimensions
 * (tokens until apply) and the plan's budget.
 */
export interface AppMetrics {
  /** The app's name. */
  readonly app: string;
  /** The agent's `Project` dimension: `<project>[-<environment>]`. */
  readonly project: string;
  /** Packets per second per container and direction, from the plan. */
  readonly pps: number;
  /** Tasks at least (the fixed count when not scaling). */
  readonly minContainers: number;
  /** Tasks at most (the fixed count when not scaling). */
  readonly maxContainers: number;
  /** `arn_suffix` of the app's target group: the NLB metrics' `TargetGroup` dimension. */
  readonly targetGroup: string;
  /** `arn_suffix` of the app's load balancer: the NLB metrics' `LoadBalancer` dimension. */
  readonly loadBalancer: string;
  /** The ECS cluster's name: Container Insights' `ClusterName`. */
  readonly clusterName: string;
  /** The ECS service's name: Container Insights' `ServiceName`. */
  readonly serviceName: string;
  /** Whether the agent writes its metrics (EMF); without them no alarm or policy may read them. */
  readonly agentMetrics: boolean;
}

/** The agent metrics' dimensions of one app (the app-wide set every agent writes). */
export function agentDimensions(m: AppMetrics): Record<string, string> {
  return { [METRIC_DIMENSIONS.project]: m.project, [METRIC_DIMENSIONS.app]: m.app };
}

/** AWS/NetworkELB's per-target-group dimensions. */
export function targetGroupDimensions(m: AppMetrics): Record<string, string> {
  return { TargetGroup: m.targetGroup, LoadBalancer: m.loadBalancer };
}

/** ECS/ContainerInsights' per-service dimensions. */
export function serviceDimensions(m: AppMetrics): Record<string, string> {
  return { ClusterName: m.clusterName, ServiceName: m.serviceName };
}
