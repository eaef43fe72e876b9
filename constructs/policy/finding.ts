import { oneLine } from "../../ground";
import type { PolicyLevel } from "./rule";

/** One rule failing on one resource. */
export interface PolicyFinding {
  /** The rule's id, e.g. `TCP-SG1`. */
  readonly ruleId: string;
  /** The rule's kebab-case name. */
  readonly ruleName: string;
  /** `error` stops synth; `warning` is printed. */
  readonly level: PolicyLevel;
  /** Construct path of the resource, e.g. `acme/mqtt/TaskSecurityGroup`. */
  readonly path: string;
  /** Terraform address, e.g. `aws_security_group.mqtt_TaskSecurityGroup_1A2B3C4D`. */
  readonly address: string;
  /** What is wrong, one line. */
  readonly detail: string;
  /** How to fix it, one line. */
  readonly fix: string;
  /** Scanner rules the rule mirrors (checkov, trivy). */
  readonly mirrors: readonly string[];
}

/** A finding that a suppression silenced, with the reason given. */
export interface SuppressedFinding extends PolicyFinding {
  /** Why the finding was accepted, as given to `suppress()`. */
  readonly reason: string;
  /** Path of the construct that carries the suppression (the resource or one of its scopes). */
  readonly suppressedAt: string;
}

/** What one evaluation of the policy found. */
export interface PolicyReport {
  /** Findings not suppressed, errors and warnings, in tree order. */
  readonly findings: readonly PolicyFinding[];
  /** Findings that suppressions silenced, with their reasons. */
  readonly suppressed: readonly SuppressedFinding[];
  /** How many resources and data sources the rules looked at. */
  readonly resourcesChecked: number;
}

/** `[TCP-SG1] acme/mqtt/TaskIngress: ingress from 0.0.0.0/0. Fix: ... (mirrors checkov CKV_AWS_260)` */
export function formatFinding(f: PolicyFinding): string {
  const mirrors = f.mirrors.length > 0 ? ` (mirrors ${f.mirrors.join(", ")})` : "";
  const level = f.level === "warning" ? " warning" : "";
  return oneLine(`[${f.ruleId}${level}] ${f.path}: ${sentence(f.detail)} Fix: ${sentence(f.fix)}${mirrors}`);
}

/** Ends a clause with exactly one period. */
function sentence(text: string): string {
  const t = text.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

