import { describe } from "../facts";
import { ROLE_POLICY_TYPES, TASK_EXECUTION_POLICY, grantsOf, isWildcardResource } from "../iam";
import type { PolicyRule, Violation } from "../rule";

/** What an execution role may do beyond the managed policy: read the app's secrets for ECS. */
const SECRET_READ_ACTIONS = ["ssm:getparameters", "ssm:getparameter", "secretsmanager:getsecretvalue", "kms:decrypt"];

/**
 * TCP-IAM1: the task-execution role is minimal. It is used by
 * ECS itself (pull the image, write logs, read secrets), so it holds exactly the managed
 * AmazonECSTaskExecutionRolePolicy, plus at most an inline policy that reads the app's secrets
 * by exact ARN.
 */
export const ExecutionRoleMinimal: PolicyRule = {
  id: "TCP-IAM1",
  name: "execution-role-minimal",
  level: "error",
  explanation: "The task-execution role needs only AmazonECSTaskExecutionRolePolicy and read access to the app's own secrets",
  fix: "attach only arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy; grant secret reads (ssm:GetParameters, secretsmanager:GetSecretValue) on exact ARNs; give app permissions to the task role",
  mirrors: [],
  resourceTypes: ROLE_POLICY_TYPES,
  check(resource, facts) {
    const violations: Violation[] = [];
    const executionRoles = facts.executionRoles();
    for (const grant of grantsOf(resource, facts)) {
      if (!grant.roles.some((r) => executionRoles.has(r))) continue;
      if (grant.kind === "managed") {
        if (typeof grant.policyArn !== "string" || !TASK_EXECUTION_POLICY.test(grant.policyArn)) {
          violations.push({ detail: `${grant.label} attaches ${describe(grant.policyArn)} to a task-execution role` });
        }
        continue;
      }
      if ("unreadable" in grant.document) {
        violations.push({ detail: `${grant.label} on a task-execution role cannot be checked: ${grant.document.unreadable}` });
        continue;
      }
      grant.document.statements.forEach((s, i) => {
        if (s.effect !== "Allow") return;
        const at = `${grant.label} statement ${i + 1}`;
        const extra = s.actions.filter((a) => !SECRET_READ_ACTIONS.includes(a.toLowerCase()));
        if (extra.length > 0) violations.push({ detail: `${at} grants ${describe(extra)} to a task-execution role` });
        if (s.notActions.length > 0) violations.push({ detail: `${at} uses NotAction on a task-execution role` });
        const wide = s.resources.filter(isWildcardResource);
        if (wide.length > 0 || s.notResources.length > 0) {
          violations.push({ detail: `${at} reads secrets on ${describe(wide.length > 0 ? wide : "NotResource")} instead of exact ARNs` });
        }
      });
    }
    return violations;
  },
};
