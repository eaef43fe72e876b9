import { describe } from "../facts";
import { AWS_MANAGED_POLICY, ROLE_POLICY_TYPES, grantsOf, wildcardsIn } from "../iam";
import type { PolicyRule, Violation } from "../rule";

/**
 * TCP-IAM2: the task role (what the app's code may do in AWS) grants no wildcard action and no
 * wildcard resource. The product gives it no permission at all; anything a user adds must be
 * exact.
 */
export const TaskRoleNoWildcards: PolicyRule = {
  id: "TCP-IAM2",
  name: "task-role-no-wildcards",
  level: "error",
  explanation: "A wildcard in the task role hands a compromised app far more than it uses",
  fix: "grant exact actions (s3:GetObject, not s3:* or s3:Get*) on exact resource ARNs in an inline policy on the task role",
  mirrors: ["checkov CKV_AWS_62", "checkov CKV_AWS_63", "checkov CKV_AWS_290", "checkov CKV_AWS_355", "trivy AVD-AWS-0057"],
  resourceTypes: ROLE_POLICY_TYPES,
  check(resource, facts) {
    const violations: Violation[] = [];
    const taskRoles = facts.taskRoles();
    for (const grant of grantsOf(resource, facts)) {
      if (!grant.roles.some((r) => taskRoles.has(r))) continue;
      if (grant.kind === "managed") {
        const policy = facts.referenced(grant.policyArn);
        if (policy?.type === "aws_iam_policy") {
          const doc = facts.policyDocument(policy.attrs.policy);
          if ("unreadable" in doc) {
            violations.push({ detail: `${grant.label}: policy ${policy.path} cannot be checked: ${doc.unreadable}` });
          } else {
            for (const w of wildcardsIn(doc.statements)) violations.push({ detail: `${grant.label}: policy ${policy.path} ${w}` });
          }
        } else if (typeof grant.policyArn === "string" && AWS_MANAGED_POLICY.test(grant.policyArn)) {
          violations.push({
            detail: `${grant.label} attaches AWS managed policy ${describe(grant.policyArn)} to a task role; AWS managed policies grant wildcards`,
          });
        } else {
          violations.push({ detail: `${grant.label} attaches ${describe(grant.policyArn)}, which is not in this stack and cannot be checked` });
        }
        continue;
      }
      if ("unreadable" in grant.document) {
        violations.push({ detail: `${grant.label} cannot be checked: ${grant.document.unreadable}` });
        continue;
      }
      for (const w of wildcardsIn(grant.document.statements)) violations.push({ detail: `${grant.label} ${w}` });
    }
    return violations;
  },
};
