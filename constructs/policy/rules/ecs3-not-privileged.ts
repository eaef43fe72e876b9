import { containerLabel } from "../containers";
import { isTrue } from "../facts";
import type { PolicyRule, Violation } from "../rule";

/** TCP-ECS3: no container of a task runs privileged. */
export const NotPrivileged: PolicyRule = {
  id: "TCP-ECS3",
  name: "not-privileged",
  level: "error",
  explanation: "A privileged container holds every capability of the host; nothing in this product needs it (Fargate refuses it)",
  fix: 'remove "privileged": true (or set it to false) on every container',
  mirrors: ["checkov CKV_AWS_334"],
  resourceTypes: ["aws_ecs_task_definition"],
  check(resource, facts) {
    const read = facts.containers(resource);
    if ("unreadable" in read) return [{ detail: `cannot be checked: ${read.unreadable}` }];
    const violations: Violation[] = [];
    read.containers.forEach((c, i) => {
      if (isTrue(c.privileged)) violations.push({ detail: `${containerLabel(c, i)} is privileged` });
    });
    return violations;
  },
};
