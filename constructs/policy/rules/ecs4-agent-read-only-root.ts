import { agentContainers } from "../containers";
import { isTrue } from "../facts";
import type { PolicyRule, Violation } from "../rule";

/** TCP-ECS4: the agent's root filesystem is read-only. */
export const AgentReadOnlyRoot: PolicyRule = {
  id: "TCP-ECS4",
  name: "agent-read-only-root-filesystem",
  level: "error",
  explanation: "The agent writes nothing to disk; a read-only root filesystem keeps an intruder from planting files",
  fix: 'set "readonlyRootFilesystem": true on the tcp-agent container',
  mirrors: ["checkov CKV_AWS_336"],
  resourceTypes: ["aws_ecs_task_definition"],
  check(resource, facts) {
    const read = facts.containers(resource);
    if ("unreadable" in read) return [{ detail: `cannot be checked: ${read.unreadable}` }];
    const violations: Violation[] = [];
    for (const agent of agentContainers(read.containers)) {
      if (!isTrue(agent.readonlyRootFilesystem)) {
        violations.push({ detail: "the tcp-agent container's root filesystem is writable (readonlyRootFilesystem is not true)" });
      }
    }
    return violations;
  },
};
