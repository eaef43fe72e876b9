import { checkContainers } from "../containers";
import { isTrue } from "../facts";
import type { PolicyRule } from "../rule";

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
    return checkContainers(resource, facts, "the agent", (agent) =>
      isTrue(agent.readonlyRootFilesystem)
        ? []
        : [{ detail: "the tcp-agent container's root filesystem is writable (readonlyRootFilesystem is not true)" }],
    );
  },
};
