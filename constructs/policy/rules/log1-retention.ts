import { asNumber, describe } from "../facts";
import type { PolicyRule } from "../rule";

/** The values CloudWatch Logs accepts for retention_in_days (0 = never expire). */
export const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/**
 * TCP-LOG1: every log group has a retention period. Logs kept forever cost money forever and
 * keep whatever an app once printed. checkov's CKV_AWS_338 asks for a year or more; this rule
 * asks for a deliberate, valid value (the product's default is 30 days).
 */
export const LogRetention: PolicyRule = {
  id: "TCP-LOG1",
  name: "log-retention",
  level: "error",
  explanation: "A log group without retention keeps every line forever",
  fix: `set retention_in_days to one of ${RETENTION_DAYS.join(", ")}`,
  mirrors: ["checkov CKV_AWS_66"],
  resourceTypes: ["aws_cloudwatch_log_group"],
  check(resource) {
    const raw = resource.attrs.retention_in_days;
    const days = asNumber(raw);
    if (raw === undefined || days === 0) return [{ detail: "retention_in_days is not set: logs never expire" }];
    if (days === undefined || !(RETENTION_DAYS as readonly number[]).includes(days)) {
      return [{ detail: `retention_in_days ${describe(raw)} is not a value CloudWatch Logs accepts` }];
    }
    return [];
  },
};
