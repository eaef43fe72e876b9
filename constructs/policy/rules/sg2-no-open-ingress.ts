import { INGRESS_TYPES, ingressOf, opensAllPorts, portsOf, worldCidrs } from "../ingress";
import type { PolicyRule, Violation } from "../rule";

/**
 * TCP-SG2: no security group opens all ports, and none opens tasks to 0.0.0.0/0 or ::/0.
 * This is the floor under TCP-SG1: even with SG1 suppressed for a deliberate CIDR, tasks are
 * never open to the world and no group admits every port.
 */
export const NoOpenIngress: PolicyRule = {
  id: "TCP-SG2",
  name: "no-open-ingress",
  level: "error",
  explanation: "An ingress rule that admits every port, or the whole internet straight to the tasks, bypasses the NLB and the plan limit",
  fix: "admit only the ports in use (the listener port on the NLB group, 7000-7001 on task groups) and never 0.0.0.0/0 or ::/0 on a task group",
  mirrors: ["checkov CKV_AWS_277", "checkov CKV_AWS_260", "trivy AVD-AWS-0107"],
  resourceTypes: INGRESS_TYPES,
  check(resource, facts) {
    const violations: Violation[] = [];
    for (const e of ingressOf(resource)) {
      if (opensAllPorts(e)) {
        violations.push({ detail: `${e.label} opens ${portsOf(e)}` });
      }
      if (facts.isTaskSecurityGroup(e.securityGroup)) {
        for (const cidr of worldCidrs(e)) {
          violations.push({ detail: `${e.label} (${portsOf(e)}) opens a task security group to ${cidr}` });
        }
      }
    }
    return violations;
  },
};
