import { block, isTrue } from "../facts";
import type { PolicyRule } from "../rule";

/** TCP-ECS1: tasks get no public IP; they sit in private subnets behind the NLB. */
export const NoPublicIp: PolicyRule = {
  id: "TCP-ECS1",
  name: "no-public-ip",
  level: "error",
  explanation: "A task with a public IP is reachable without the NLB and its plan limit",
  fix: "set network_configuration.assign_public_ip = false and run tasks in private subnets (outbound through NAT)",
  mirrors: ["checkov CKV_AWS_333"],
  resourceTypes: ["aws_ecs_service"],
  check(resource) {
    const network = block(resource.attrs.network_configuration);
    if (network && isTrue(network.assign_public_ip)) {
      return [{ detail: "network_configuration.assign_public_ip is true" }];
    }
    return [];
  },
};
