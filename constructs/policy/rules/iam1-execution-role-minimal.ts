import { describe } from "../facts";
import { ROLE_POLICY_TYPES, TASK_EXECUTION_POLICY, grantsOf, isWildcardResource } from "../iam";
import type { PolicyRule, Violation } from "../rule";

/**
 * What an execution role may do beyond the managed policy: read the app's secrets for ECS, and
 * decrypt them with their customer-managed KMS keys; each action only on ARNs of its own kind.
 */
const SECRET_READ_ACTIONS: Readonly<Record<string, { readonly kind: string; readonly arn: RegExp }>> = {
  "ssm:getparameters": { kind: "an SSM parameter", arn: /^arn:[^:]+:ssm:[^:]*:[^:]*:parameter\// },
  "ssm:getparameter": { kind: "an SSM parameter", arn: /^arn:[^:]+:ssm:[^:]*:[^:]*:parameter\// },
  "secretsmanager:getsecretvalue": { kind: "a Secrets Manager secret", arn: /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:/ },
  "kms:decrypt": { kind: "a KMS key", arn: /^arn:[^:]+:kms:[^:]*:[^:]*:key\// },
};

/**
 * TCP-IAM1: the task-execution role is minimal. It is used by
 * ECS itself (pull the image, write logs, read secrets), so it holds exactly the managed
 * AmazonECSTaskExecutionRolePolicy, plus at most an inline policy that reads the app's secrets
 * by exact ARN and decrypts with the exact KMS keys that encrypt them (`secretsKmsKeyArns`).
 */
export const ExecutionRoleMinimal: PolicyRule = {
  id: "TCP-IAM1",
  name: "execution-role-minimal",
  level: "error",
  explanation: "The task-execution role needs only AmazonECSTaskExecutionRolePolicy and read access to the app's own secrets",
  fix: "attach only arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy; grant secret reads (ssm:GetParameters, secretsmanager:GetSecretValue) on exact ARNs and kms:Decrypt on exact key ARNs (secretsKmsKeyArns); give app permissions to the task role",
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
        const extra = s.actions.filter((a) => !Object.prototype.hasOwnProperty.call(SECRET_READ_ACTIONS, a.toLowerCase()));
        if (extra.length > 0) violations.push({ detail: `${at} grants ${describe(extra)} to a task-execution role` });
        for (const action of s.actions) {
          const allowed = SECRET_READ_ACTIONS[action.toLowerCase()];
          if (allowed === undefined) continue;
          // A reference (`${...}`) is resolved only by Terraform: its kind cannot be read here.
          const foreign = s.resources.filter((r) => !r.includes("${") && !isWildcardResource(r) && !allowed.arn.test(r));
          if (foreign.length > 0) violations.push({ detail: `${at} grants ${action} on ${describe(foreign)}, which is not ${allowed.kind}` });
        }
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
