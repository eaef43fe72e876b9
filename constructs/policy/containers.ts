import { AGENT_CONTAINER } from "../container-definitions";
import type { ContainerDefinition, StackFacts } from "./facts";
import type { ResourceView, Violation } from "./rule";

/** `container "app"` or `container #2` for messages. */
export function containerLabel(c: ContainerDefinition, index: number): string {
  return typeof c.name === "string" ? `container "${c.name}"` : `container #${index + 1}`;
}

/**
 * Runs `check` on the containers of a task definition: every container, or only the agent's.
 * A definition that cannot be read is itself a violation (nothing is assumed about it).
 */
export function checkContainers(
  resource: ResourceView,
  facts: StackFacts,
  which: "every container" | "the agent",
  check: (container: ContainerDefinition, label: string) => Violation[],
): Violation[] {
  const read = facts.containers(resource);
  if ("unreadable" in read) return [{ detail: `cannot be checked: ${read.unreadable}` }];
  return read.containers.flatMap((c, i) => {
    if (which === "the agent" && c.name !== AGENT_CONTAINER) return [];
    return check(c, containerLabel(c, i));
  });
}
