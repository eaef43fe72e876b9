import { looksLikeSecretName, secretValueKind } from "../../../config/secrets";
import { checkContainers } from "../containers";
import { isRecord, isUnknown, list } from "../facts";
import type { PolicyRule, Violation } from "../rule";

/**
 * TCP-ECS5: no environment variable of a task definition holds a secret. Task definitions are
 * readable by anyone allowed `ecs:DescribeTaskDefinition` and sit in the Terraform state in
 * plain text; secrets belong in `secrets` (valueFrom an SSM parameter or Secrets Manager ARN).
 */
export const NoPlaintextSecrets: PolicyRule = {
  id: "TCP-ECS5",
  name: "no-plaintext-secrets",
  level: "error",
  explanation: "Environment values are stored in plain text in the task definition and the Terraform state",
  fix: "move the value to SSM Parameter Store or Secrets Manager and list it under the app's secrets (ECS injects it from valueFrom)",
  mirrors: ["trivy AVD-AWS-0036", "AWS Config ecs-no-environment-secrets"],
  resourceTypes: ["aws_ecs_task_definition"],
  check(resource, facts) {
    return checkContainers(resource, facts, "every container", (c, label) => {
      const violations: Violation[] = [];
      for (const entry of list(c.environment)) {
        if (!isRecord(entry) || typeof entry.name !== "string") continue;
        const value = typeof entry.value === "string" ? entry.value : "";
        if (looksLikeSecretName(entry.name)) {
          violations.push({ detail: `${label} has environment variable ${entry.name}, which looks like a secret` });
          continue;
        }
        if (isUnknown(value)) continue; // a Terraform reference (an address, a DNS name) is not a literal secret
        const kind = secretValueKind(value);
        if (kind !== undefined) {
          violations.push({ detail: `${label} environment variable ${entry.name} holds ${kind}` });
        }
      }
      return violations;
    });
  },
};
