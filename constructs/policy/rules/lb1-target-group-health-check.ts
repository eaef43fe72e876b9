import { block } from "../facts";
import type { PolicyRule } from "../rule";
import { TARGET_GROUP_TYPES } from "./lb-common";

/**
 * TCP-LB1: every target group declares its health check. The product's checks the agent's
 * /healthz on 7001, which turns 503 while the agent drains or the app is down, so the NLB
 * stops sending new connections to a task that cannot serve them.
 */
export const TargetGroupHealthCheck: PolicyRule = {
  id: "TCP-LB1",
  name: "target-group-health-check",
  level: "error",
  explanation: "Without a deliberate health check the NLB keeps routing to tasks that are draining or whose app is down",
  fix: 'declare health_check { enabled = true, protocol = "HTTP", port = "7001", path = "/healthz" } (the agent\'s health endpoint)',
  mirrors: ["checkov CKV_AWS_261"],
  resourceTypes: TARGET_GROUP_TYPES,
  check(resource) {
    const hc = block(resource.attrs.health_check);
    if (!hc) return [{ detail: "no health_check block: the NLB falls back to a bare TCP connect on the traffic port" }];
    if (hc.enabled === false || hc.enabled === "false") return [{ detail: "health_check.enabled is false" }];
    return [];
  },
};
