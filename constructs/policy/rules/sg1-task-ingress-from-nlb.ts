import { block, describe, list } from "../facts";
import { INGRESS_TYPES, portsOf, taskIngressOf } from "../ingress";
import type { PolicyRule, Violation } from "../rule";

/**
 * TCP-SG1: a task security group admits traffic only from the NLB's security group.
 * Tasks are reachable through the load balancer and nothing else; a CIDR, a prefix list,
 * `self` or another security group as a source is a second way in.
 */
export const TaskIngressFromNlbOnly: PolicyRule = {
  id: "TCP-SG1",
  name: "task-ingress-from-nlb-only",
  level: "error",
  explanation: "Tasks must be reachable only through the Network Load Balancer",
  fix: "admit only the NLB's security group (referenced_security_group_id = the NLB security group) on the agent ports",
  mirrors: [],
  resourceTypes: [...INGRESS_TYPES, "aws_ecs_service"],
  check(resource, facts) {
    if (resource.type === "aws_ecs_service") {
      const network = block(resource.attrs.network_configuration);
      if (network && list(network.security_groups).length === 0) {
        return [
          {
            detail: "the service puts its tasks in the VPC's default security group (network_configuration.security_groups is empty)",
            fix: "give the service its own task security group that admits only the NLB's security group",
          },
        ];
      }
      return [];
    }
    const violations: Violation[] = [];
    for (const e of taskIngressOf(resource, facts)) {
      const where = `${e.label} (${portsOf(e)}) into task security group`;
      for (const cidr of e.cidrs) violations.push({ detail: `${where} admits CIDR ${cidr}` });
      for (const pl of e.prefixLists) violations.push({ detail: `${where} admits prefix list ${pl}` });
      if (e.self) violations.push({ detail: `${where} admits its own members (self)` });
      for (const sg of e.sourceSecurityGroups) {
        if (!facts.isLoadBalancerSecurityGroup(sg)) {
          violations.push({ detail: `${where} admits security group ${describe(sg)}, which no load balancer uses` });
        }
      }
    }
    return violations;
  },
};
