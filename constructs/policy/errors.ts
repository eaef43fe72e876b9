import type { PolicyFinding } from "./finding";
import { formatFinding } from "./finding";

export type PolicyErrorCode =
  /** One or more error-level rules failed: synth stopped before anything was written. */
  | "TCP_ADDON_POLICY_VIOLATION"
  /** `suppress()` was called without a reason, or with a malformed rule id. */
  | "TCP_ADDON_POLICY_BAD_SUPPRESSION"
  /** A suppression names a rule that the policy does not have (a typo, most likely). */
  | "TCP_ADDON_POLICY_UNKNOWN_RULE"
  /** The policy was applied where cdktf never runs aspects (an App). */
  | "TCP_ADDON_POLICY_BAD_SCOPE";

/** A misuse of the policy API; one line. */
export class PolicyError extends Error {
  override readonly name: string = "PolicyError";
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Thrown during synth (`app.synth()`, `Testing.synth()`) when error-level rules fail.
 * `issues` holds one line per finding (`[TCP-SG1] path: problem. Fix: ...`), like
 * `ConfigError.issues`, so an entry point prints them one per line.
 */
export class PolicyViolationError extends PolicyError {
  override readonly name = "PolicyViolationError";
  readonly findings: readonly PolicyFinding[];
  readonly issues: readonly string[];

  constructor(findings: readonly PolicyFinding[]) {
    const issues = findings.map(formatFinding);
    const noun = findings.length === 1 ? "violation" : "violations";
    super(
      "TCP_ADDON_POLICY_VIOLATION",
      [
        `security policy: ${findings.length} ${noun}, synth stopped`,
        ...issues.map((i) => `  ${i}`),
        `  (to accept one on purpose: suppress(construct, "<rule id>", "<reason>") from constructs/policy)`,
      ].join("\n"),
    );
    this.findings = findings;
    this.issues = issues;
  }
}
