import type { PolicyRule } from "../rule";
import { TaskIngressFromNlbOnly } from "./sg1-task-ingress-from-nlb";
import { NoOpenIngress } from "./sg2-no-open-ingress";
import { SecurityGroupDescriptions } from "./sg3-descriptions";
import { NoPublicIp } from "./ecs1-no-public-ip";
import { AgentNonRoot } from "./ecs2-agent-non-root";
import { NotPrivileged } from "./ecs3-not-privileged";
import { AgentReadOnlyRoot } from "./ecs4-agent-read-only-root";
import { NoPlaintextSecrets } from "./ecs5-no-plaintext-secrets";
import { ContainerInsights } from "./ecs6-container-insights";
import { ExecutionRoleMinimal } from "./iam1-execution-role-minimal";
import { TaskRoleNoWildcards } from "./iam2-task-role-no-wildcards";
import { SeparateTaskAndExecutionRoles } from "./iam3-separate-roles";
import { LogRetention } from "./log1-retention";
import { TargetGroupHealthCheck } from "./lb1-target-group-health-check";
import { DeregistrationDelay } from "./lb2-deregistration-delay";
import { ConnectionTermination } from "./lb3-connection-termination";
import { ListenerProtocol } from "./lb4-listener-protocol";
import { ListenerCapacity } from "./lb5-listener-capacity";
import { NamesFitAwsLimits } from "./name1-aws-limits";

/** Every built-in rule, in the order findings are reported for one resource; find one by its `id`. */
export const RULES: readonly PolicyRule[] = [
  TaskIngressFromNlbOnly,
  NoOpenIngress,
  SecurityGroupDescriptions,
  NoPublicIp,
  AgentNonRoot,
  NotPrivileged,
  AgentReadOnlyRoot,
  NoPlaintextSecrets,
  ContainerInsights,
  ExecutionRoleMinimal,
  TaskRoleNoWildcards,
  SeparateTaskAndExecutionRoles,
  LogRetention,
  TargetGroupHealthCheck,
  DeregistrationDelay,
  ConnectionTermination,
  ListenerProtocol,
  ListenerCapacity,
  NamesFitAwsLimits,
];
