import { containerLabel } from "../containers";
import { isRecord, isUnknown, list } from "../facts";
import type { PolicyRule, Violation } from "../rule";

/** Names that say "this is a credential": DATABASE_PASSWORD, API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY... */
const SECRET_NAME =
  /(^|_)(PASSWORD|PASSWD|PASSPHRASE|SECRET|SECRETS|TOKEN|API_?KEY|APIKEY|PRIVATE_?KEY|ACCESS_?KEY(_ID)?|SECRET_?KEY|CREDENTIALS?|AUTH_?KEY|CLIENT_?SECRET|SIGNING_?KEY|ENCRYPTION_?KEY|SESSION_?KEY)($|_)/i;

/** Names that point at a secret rather than hold one: DB_PASSWORD_FILE, API_KEY_ARN. */
const SECRET_POINTER = /_(FILE|PATH|ARN|PARAM|PARAMETER|NAME)$/i;

/** True when an environment variable's name says it holds a credential (the config loader may reuse it). */
export function looksLikeSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !SECRET_POINTER.test(name);
}

/** Values that are credentials whatever their name. */
const SECRET_VALUES: readonly [RegExp, string][] = [
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key"],
  [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password in it"],
  [/\b(ghp|gho|ghs|ghu|github_pat|glpat|xox[abpr])[-_][A-Za-z0-9_-]{10,}/, "an access token"],
];

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
    const read = facts.containers(resource);
    if ("unreadable" in read) return [{ detail: `cannot be checked: ${read.unreadable}` }];
    const violations: Violation[] = [];
    read.containers.forEach((c, i) => {
      for (const entry of list(c.environment)) {
        if (!isRecord(entry) || typeof entry.name !== "string") continue;
        const value = typeof entry.value === "string" ? entry.value : "";
        if (looksLikeSecretName(entry.name)) {
          violations.push({ detail: `${containerLabel(c, i)} has environment variable ${entry.name}, which looks like a secret` });
          continue;
        }
        if (isUnknown(value)) continue; // a Terraform reference (an address, a DNS name) is not a literal secret
        const hit = SECRET_VALUES.find(([pattern]) => pattern.test(value));
        if (hit) {
          violations.push({ detail: `${containerLabel(c, i)} environment variable ${entry.name} holds ${hit[1]}` });
        }
      }
    });
    return violations;
  },
};
