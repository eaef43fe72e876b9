import { checkContainers } from "../containers";
import { isTrue } from "../facts";
import type { PolicyRule } from "../rule";

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
    return checkContainers(resource, facts, "every container", (c, label) => (isTrue(c.privileged) ? [{ detail: `${label} is privileged` }] : []));
  },
};
