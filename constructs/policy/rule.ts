import type { IConstruct } from "constructs";
import type { StackFacts } from "./facts";

/**
 * How a finding is treated: an `error` stops synth, a `warning` is printed and recorded
 * as a cdktf warning annotation on the resource.
 */
export type PolicyLevel = "error" | "warning";

/**
 * One Terraform resource or data source as the policy sees it: its synthesized attributes,
 * with every token resolved (`${aws_lb.Nlb.dns_name}` style references stay as strings),
 * exactly what `cdktf synth` writes and what checkov or trivy would read.
 */
export interface ResourceView {
  /** Terraform type, e.g. `aws_security_group`. */
  readonly type: string;
  /** The logical id in the Terraform JSON. */
  readonly logicalId: string;
  /** `aws_security_group.Mqtt_TaskSg_1A2B3C4D`, or `data.aws_iam_policy_document.X` for a data source. */
  readonly address: string;
  /** Construct path, e.g. `acme/mqtt/TaskSecurityGroup`. */
  readonly path: string;
  /** The construct that declares it (suppressions are read from it and its scopes). */
  readonly construct: IConstruct;
  /** True for a data source (`data.` address). */
  readonly isDataSource: boolean;
  /** Synthesized attributes, snake_case, tokens resolved, `//` metadata removed. */
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** What a rule found wrong with one resource: one line each, without the rule id or path. */
export interface Violation {
  /** What is wrong, e.g. `ingress from 0.0.0.0/0 on ports 7000-7000`. */
  readonly detail: string;
  /** How to fix this case, when it differs from the rule's general `fix`. */
  readonly fix?: string;
}

/**
 * A policy rule, in the style of cdk-nag: an id, a level, an explanation, the fix, the
 * scanner rules it mirrors, and a check over one resource at a time. The check may look at
 * the rest of the stack through `facts` (which security groups belong to tasks, which role
 * is a task's execution role, ...).
 */
export interface PolicyRule {
  /** Stable id, used in messages and in `suppress(construct, id, reason)`: `TCP-SG1`. */
  readonly id: string;
  /** Short kebab-case name: `task-ingress-from-nlb-only`. */
  readonly name: string;
  /** What a finding of this rule does: `error` stops synth, `warning` is printed. */
  readonly level: PolicyLevel;
  /** Why the rule exists, one sentence. */
  readonly explanation: string;
  /** The general fix, one sentence. */
  readonly fix: string;
  /** Scanner rules it mirrors (`checkov CKV_AWS_333`, `trivy AVD-AWS-0036`); empty when none does. */
  readonly mirrors: readonly string[];
  /** Terraform types it inspects. */
  readonly resourceTypes: readonly string[];
  /** What is wrong with one resource; empty when nothing is. */
  check(resource: ResourceView, facts: StackFacts): readonly Violation[];
}
