import { TcpAddonError } from "../../ground";
import type { PolicyFinding } from "./finding";
import { formatFinding } from "./finding";

/** The codes a {@link PolicyError} carries. */
export type PolicyErrorCode =
  /** One or more error-level rules failed: synth stopped before anything was written. */
  | "TCP_ADDON_POLICY_VIOLATION"
  /** `suppress()` was called without a reason, or with a malformed rule id. */
  | "TCP_ADDON_POLICY_BAD_SUPPRESSION"
  /** A suppression names a rule that the policy does not have (a typo, most likely). */
  | "TCP_ADDON_POLICY_UNKNOWN_RULE"
  /** Two rules of one policy share an id. */
  | "TCP_ADDON_POLICY_DUPLICATE_RULE"
  /** The policy was applied where cdktf never runs aspects (an App). */
  | "TCP_ADDON_POLICY_BAD_SCOPE";

/** A misuse of the policy API; one line. */
export class PolicyError extends TcpAddonError {
  /** Which misuse or violation. */
  declare readonly code: PolicyErrorCode;

  constructor(code: PolicyErrorCode, message: string | readonly string[]) {
    super(code, message);
  }
}

/**
 * Thrown during synth (`app.synth()`, `Testing.synth()`) when error-level rules fail.
 * `issues` holds one line per finding (`[TCP-SG1] path: problem. Fix: ...`), like
 * `ConfigError.issues`, so an entry point prints them one per line.
 */
export class PolicyViolationError extends PolicyError {
  /** Every error-level finding that stopped synth. */
  readonly findings: readonly PolicyFinding[];

  constructor(findings: readonly PolicyFinding[]) {
    super("TCP_ADDON_POLICY_VIOLATION", findings.map(formatFinding));
    this.findings = findings;
  }
}
