import { agentContainers } from "../containers";
import { describe } from "../facts";
import type { PolicyRule, Violation } from "../rule";

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
    const read = facts.containers(resource);
    if ("unreadable" in read) return [{ detail: `cannot be checked: ${read.unreadable}` }];
    const violations: Violation[] = [];
    for (const agent of agentContainers(read.containers)) {
      if (typeof agent.user !== "string") {
        violations.push({ detail: `the tcp-agent container sets no user, so it runs as the image's default (root)` });
      } else if (isRoot(agent.user)) {
        violations.push({ detail: `the tcp-agent container runs as user ${describe(agent.user)}` });
      }
    }
    return violations;
  },
};
