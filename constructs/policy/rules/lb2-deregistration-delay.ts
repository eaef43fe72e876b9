import { asNumber, describe } from "../facts";
import type { PolicyRule } from "../rule";
import { TARGET_GROUP_TYPES } from "./lb-common";

/**
 * TCP-LB2: every target group sets its deregistration delay on purpose. AWS's default, 300 s,
 * holds every deploy and every scale-in for five minutes; too short a delay cuts connections
 * before new ones stop arriving. The product uses 150 s (config/deploy-timings.ts: new
 * connections keep arriving for about two minutes after deregistration starts).
 */
export const DeregistrationDelay: PolicyRule = {
  id: "TCP-LB2",
  name: "deliberate-deregistration-delay",
  level: "error",
  explanation: "The deregistration delay decides how long deploys take and how long old connections live; the default was chosen for nobody",
  fix: "set deregistration_delay explicitly (0-3600 seconds; the product uses 150)",
  mirrors: [],
  resourceTypes: TARGET_GROUP_TYPES,
  check(resource) {
    const raw = resource.attrs.deregistration_delay;
    if (raw === undefined) return [{ detail: "deregistration_delay is not set (AWS default: 300 s)" }];
    const seconds = asNumber(raw);
    if (seconds === undefined || seconds < 0 || seconds > 3600) {
      return [{ detail: `deregistration_delay ${describe(raw)} is not a number of seconds in 0-3600` }];
    }
    return [];
  },
};
