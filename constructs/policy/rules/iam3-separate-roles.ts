import type { PolicyRule } from "../rule";

/** TCP-IAM3: a task definition's execution role and task role are different roles. */
export const SeparateTaskAndExecutionRoles: PolicyRule = {
  id: "TCP-IAM3",
  name: "separate-task-and-execution-roles",
  level: "error",
  explanation: "When the app runs with the execution role it can read every secret and image that ECS can",
  fix: "give the task definition its own task role (task_role_arn) distinct from execution_role_arn",
  mirrors: ["checkov CKV_AWS_249"],
  resourceTypes: ["aws_ecs_task_definition"],
  check(resource, facts) {
    const execution = facts.roleKey(resource.attrs.execution_role_arn);
    const task = facts.roleKey(resource.attrs.task_role_arn);
    if (execution !== undefined && execution === task) {
      return [{ detail: "task_role_arn and execution_role_arn name the same role" }];
    }
    return [];
  },
};
