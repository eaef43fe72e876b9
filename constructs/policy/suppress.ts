import type { IConstruct } from "constructs";
import { PolicyError } from "./errors";

/** Node metadata type under which suppressions are stored (visible in the construct tree). */
export const SUPPRESSION_METADATA = "tcp-addon:policy:suppress";

const RULE_ID = /^[A-Z][A-Z0-9]*-[A-Z0-9]+$/;

/** One accepted exception: rule `ruleId` does not apply to this construct, because `reason`. */
export interface Suppression {
  /** The rule that does not apply, e.g. `TCP-SG1`. */
  readonly ruleId: string;
  /** Why the exception is safe, for reviewers. */
  readonly reason: string;
}

/**
 * Accepts one rule's findings on one resource, on purpose, with a reason that reviewers can
 * read. Put it on the resource the finding names (`finding.path`); put on a scope (an app's
 * construct), it covers every resource under that scope.
 *
 * ```ts
 * suppress(app.taskSecurityGroup, "TCP-SG1", "health checker in 10.0.0.0/16 probes 7001 directly");
 * ```
 *
 * The suppression is stored in the construct's node metadata. An empty reason is refused;
 * a rule id that the policy does not know fails synth (typos do not silently suppress).
 */
export function suppress(construct: IConstruct, ruleId: string, reason: string): void {
  if (!RULE_ID.test(ruleId)) {
    throw new PolicyError(
      "TCP_ADDON_POLICY_BAD_SUPPRESSION",
      `suppress(${construct.node.path}): rule id ${JSON.stringify(ruleId)} is malformed; expected an id like "TCP-SG1"`,
    );
  }
  if (typeof reason !== "string" || reason.trim() === "") {
    throw new PolicyError(
      "TCP_ADDON_POLICY_BAD_SUPPRESSION",
      `suppress(${construct.node.path}, "${ruleId}"): a reason is required; say why this exception is safe`,
    );
  }
  const entry: Suppression = { ruleId, reason: reason.replace(/\s+/g, " ").trim() };
  construct.node.addMetadata(SUPPRESSION_METADATA, entry);
}

/** The suppressions declared on this construct itself (not its scopes). */
export function suppressionsOn(construct: IConstruct): Suppression[] {
  return construct.node.metadata
    .filter((m) => m.type === SUPPRESSION_METADATA)
    .map((m) => m.data as Suppression);
}

/**
 * The suppression of `ruleId` that covers `construct`, found on the construct or the nearest
 * scope above it, with the path where it was declared.
 */
export function findSuppression(
  construct: IConstruct,
  ruleId: string,
): (Suppression & { readonly at: string }) | undefined {
  for (const node of [...construct.node.scopes].reverse()) {
    const hit = suppressionsOn(node).find((s) => s.ruleId === ruleId);
    if (hit) return { ...hit, at: node.node.path };
  }
  return undefined;
}
