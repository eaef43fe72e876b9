import type { ContainerDefinition } from "./facts";

/**
 * Name of the agent sidecar in every task definition the product declares (the same value as
 * `AGENT_CONTAINER` in constructs/tcp-app.ts; a test keeps the two equal).
 */
export const AGENT_CONTAINER_NAME = "tcp-agent";

/** The agent containers of a task definition (normally one). */
export function agentContainers(containers: readonly ContainerDefinition[]): ContainerDefinition[] {
  return containers.filter((c) => c.name === AGENT_CONTAINER_NAME);
}

/** `container "app"` or `container #2` for messages. */
export function containerLabel(c: ContainerDefinition, index: number): string {
  return typeof c.name === "string" ? `container "${c.name}"` : `container #${index + 1}`;
}
