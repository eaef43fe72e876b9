import { describe, isUnknown } from "../facts";
import { containerLabel } from "../containers";
import type { PolicyRule, Violation } from "../rule";

/** One name attribute and the limits AWS puts on it. */
interface NameLimit {
  readonly attr: string;
  readonly max: number;
  readonly min?: number;
  readonly pattern: RegExp;
  /** The pattern in words, for the message. */
  readonly allowed: string;
  /** Further rules: return the problem, or undefined. */
  readonly extra?: (name: string) => string | undefined;
}

/** Terraform appends a 26-character unique suffix to a `name_prefix`. */
const SUFFIX = 26;

const LB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const LB_WORDS = "letters, digits and hyphens, not starting or ending with a hyphen";
const ECS_NAME = /^[A-Za-z0-9_-]+$/;
const ECS_WORDS = "letters, digits, hyphens and underscores";
const IAM_NAME = /^[\w+=,.@-]+$/;
const IAM_WORDS = "letters, digits and +=,.@_-";

const lbLimits: readonly NameLimit[] = [
  {
    attr: "name",
    max: 32,
    pattern: LB_NAME,
    allowed: LB_WORDS,
    extra: (n) => (n.toLowerCase().startsWith("internal-") ? 'must not start with "internal-"' : undefined),
  },
  { attr: "name_prefix", max: 6, pattern: /^[A-Za-z0-9-]+$/, allowed: "letters, digits and hyphens" },
];
const iam = (max: number): readonly NameLimit[] => [
  { attr: "name", max, pattern: IAM_NAME, allowed: IAM_WORDS },
  { attr: "name_prefix", max: max - SUFFIX, pattern: IAM_NAME, allowed: IAM_WORDS },
];

/** Name limits per Terraform type, from the AWS API references. */
export const NAME_LIMITS: Readonly<Record<string, readonly NameLimit[]>> = {
  aws_lb: lbLimits,
  aws_alb: lbLimits,
  aws_lb_target_group: lbLimits,
  aws_alb_target_group: lbLimits,
  aws_ecs_cluster: [{ attr: "name", max: 255, pattern: ECS_NAME, allowed: ECS_WORDS }],
  aws_ecs_service: [{ attr: "name", max: 255, pattern: ECS_NAME, allowed: ECS_WORDS }],
  aws_ecs_task_definition: [{ attr: "family", max: 255, pattern: ECS_NAME, allowed: ECS_WORDS }],
  aws_iam_role: iam(64),
  aws_iam_role_policy: iam(128),
  aws_iam_policy: iam(128),
  aws_security_group: [
    {
      attr: "name",
      max: 255,
      pattern: /^[\x20-\x7E]+$/,
      allowed: "printable ASCII",
      extra: (n) => (n.toLowerCase().startsWith("sg-") ? 'must not start with "sg-"' : undefined),
    },
    { attr: "name_prefix", max: 255 - SUFFIX, pattern: /^[\x20-\x7E]+$/, allowed: "printable ASCII" },
  ],
  aws_cloudwatch_log_group: [
    { attr: "name", max: 512, pattern: /^[.\-_/#A-Za-z0-9]+$/, allowed: "letters, digits and ._-/#" },
    { attr: "name_prefix", max: 512 - SUFFIX, pattern: /^[.\-_/#A-Za-z0-9]+$/, allowed: "letters, digits and ._-/#" },
  ],
  aws_ecr_repository: [
    {
      attr: "name",
      min: 2,
      max: 256,
      pattern: /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
      allowed: "lowercase letters, digits and ._-/ between them",
    },
  ],
  aws_ssm_parameter: [
    {
      attr: "name",
      max: 2048,
      pattern: /^[A-Za-z0-9_.\-/]+$/,
      allowed: "letters, digits and _.-/",
      extra: (n) => {
        if (n.split("/").filter((p) => p !== "").length > 15) return "has more than 15 levels";
        if (n.includes("/") && !n.startsWith("/")) return 'is a path, so it must start with "/"';
        // Reserved by AWS: "aws..."/"ssm..." names, and the /aws/ and /ssm/ hierarchies.
        if (/^(aws|ssm)/i.test(n) || /^\/(aws|ssm)(\/|$)/i.test(n)) return 'must not start with "aws" or "ssm"';
        return undefined;
      },
    },
  ],
};

/**
 * TCP-NAME1: every name fits the limits AWS enforces (load balancers and target groups: 32
 * characters). A name that does not fit passes `cdktf synth` and `terraform plan` and fails
 * half-way through `terraform apply`.
 */
export const NamesFitAwsLimits: PolicyRule = {
  id: "TCP-NAME1",
  name: "names-fit-aws-limits",
  level: "error",
  explanation: "AWS rejects names over its limits only at apply time, after other resources were created",
  fix: "shorten the name (a shorter project or app name, or a truncated prefix plus a short hash)",
  mirrors: [],
  resourceTypes: Object.keys(NAME_LIMITS),
  check(resource, facts) {
    const violations: Violation[] = [];
    for (const limit of NAME_LIMITS[resource.type] ?? []) {
      const value = resource.attrs[limit.attr];
      if (typeof value !== "string" || isUnknown(value)) continue; // decided at apply time
      const problem = nameProblem(value, limit);
      if (problem) violations.push({ detail: `${limit.attr} ${describe(value)} ${problem}` });
    }
    if (resource.type === "aws_ecs_task_definition") {
      const read = facts.containers(resource);
      if ("containers" in read) {
        read.containers.forEach((c, i) => {
          if (typeof c.name !== "string" || isUnknown(c.name)) return;
          const problem = nameProblem(c.name, { attr: "name", max: 255, pattern: ECS_NAME, allowed: ECS_WORDS });
          if (problem) violations.push({ detail: `${containerLabel(c, i)} name ${problem}` });
        });
      }
    }
    return violations;
  },
};

function nameProblem(value: string, limit: NameLimit): string | undefined {
  if (value.length > limit.max) return `is ${value.length} characters (limit ${limit.max})`;
  if (value.length < (limit.min ?? 1)) return `is shorter than ${limit.min ?? 1} characters`;
  if (!limit.pattern.test(value)) return `may only hold ${limit.allowed}`;
  return limit.extra?.(value);
}
