import { checkContainers } from "../containers";
import { describe } from "../facts";
import type { PolicyRule } from "../rule";

/** `root`, `0`, `0:0`, `root:wheel`: every form of "the container runs as root". */
function isRoot(user: string): boolean {
  const name = user.split(":")[0]!.trim();
  return name === "" || name === "0" || name === "root";
}

/** TCP-ECS2: the agent runs as a non-root user. */
export const AgentNonRoot: PolicyRule = {
  id: "TCP-ECS2",
  name: "agent-non-root",
  level: "error",
  explanation: "The agent faces the internet; a compromise should not hold root inside the task",
  fix: 'set "user" on the tcp-agent container to a non-root uid, e.g. "1000"',
  mirrors: ["AWS Config ecs-task-definition-nonroot-user"],
  resourceTypes: ["aws_ecs_task_definition"],
  check(resource, facts) {
    return checkContainers(resource, facts, "the agent", (agent) => {
      if (typeof agent.user !== "string") {
        return [{ detail: "the tcp-agent container sets no user, so it runs as the image's default (root)" }];
      }
      return isRoot(agent.user) ? [{ detail: `the tcp-agent container runs as user ${describe(agent.user)}` }] : [];
    });
  },
};
