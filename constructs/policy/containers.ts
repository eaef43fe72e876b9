import { AGENT_CONTAINER } from "../container-definitions";
import type { ContainerDefinition } from "./facts";

/** The agent containers of a task definition (normally one). */
export function agentContainers(containers: readonly ContainerDefinition[]): ContainerDefinition[] {
  return containers.filter((c) => c.name === AGENT_CONTAINER);
}

/** `container "app"` or `container #2` for messages. */
export function containerLabel(c: ContainerDefinition, index: number): string {
  return typeof c.name === "string" ? `container "${c.name}"` : `container #${index + 1}`;
}
