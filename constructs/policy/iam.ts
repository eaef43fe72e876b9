import type { PolicyDocument, PolicyStatement, StackFacts } from "./facts";
import { describe, isRecord, list, strings } from "./facts";
import type { ResourceView } from "./rule";

/** Terraform types that give a role permissions. */
export const ROLE_POLICY_TYPES = [
  "aws_iam_role",
  "aws_iam_role_policy",
  "aws_iam_role_policy_attachment",
  "aws_iam_policy_attachment",
] as const;

/** A permission grant to one or more roles, whichever of the Terraform forms declares it. */
export type RoleGrant =
  | {
      readonly kind: "managed";
      readonly label: string;
      readonly roles: readonly string[];
      /** The policy ARN as written. */
      readonly policyArn: unknown;
    }
  | {
      readonly kind: "inline";
      readonly label: string;
      readonly roles: readonly string[];
      readonly document: PolicyDocument;
    };

/** The grants a resource declares, with the keys (`StackFacts.roleKey`) of the roles they go to. */
export function grantsOf(resource: ResourceView, facts: StackFacts): RoleGrant[] {
  const a = resource.attrs;
  const roleKeys = (values: readonly unknown[]) =>
    values.map((v) => facts.roleKey(v)).filter((k): k is string => k !== undefined);
  switch (resource.type) {
    case "aws_iam_role": {
      const self = [resource.address];
      const grants: RoleGrant[] = strings(a.managed_policy_arns).map((arn, i) => ({
        kind: "managed",
        label: `managed_policy_arns[${i}]`,
        roles: self,
        policyArn: arn,
      }));
      list(a.inline_policy).forEach((p, i) => {
        if (isRecord(p) && p.policy !== undefined) {
          grants.push({ kind: "inline", label: `inline_policy[${i}]`, roles: self, document: facts.policyDocument(p.policy) });
        }
      });
      return grants;
    }
    case "aws_iam_role_policy":
      return [{ kind: "inline", label: "policy", roles: roleKeys([a.role]), document: facts.policyDocument(a.policy) }];
    case "aws_iam_role_policy_attachment":
      return [{ kind: "managed", label: "policy_arn", roles: roleKeys([a.role]), policyArn: a.policy_arn }];
    case "aws_iam_policy_attachment":
      return [{ kind: "managed", label: "policy_arn", roles: roleKeys(list(a.roles)), policyArn: a.policy_arn }];
    default:
      return [];
  }
}

/** The partition of an ARN: `aws`, `aws-cn`, `aws-us-gov`, or a reference to `aws_partition`. */
const PARTITION = String.raw`(?:aws[a-z-]*|\$\{[^}]+\})`;

/** The AWS managed policy an ECS execution role needs, in any partition. */
export const TASK_EXECUTION_POLICY = new RegExp(
  `^arn:${PARTITION}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy$`,
);

/** An ARN of a policy that AWS manages (its content is not in the stack). */
export const AWS_MANAGED_POLICY = new RegExp(`^arn:${PARTITION}:iam::aws:policy/`);

/** True for `*`, `s3:*`, `s3:Get*`: any action pattern. */
export function isWildcardAction(action: string): boolean {
  return action.includes("*") || action.includes("?");
}

/** True for `*` and for an ARN whose resource part is `*` (`arn:aws:s3:::*`). */
export function isWildcardResource(resource: string): boolean {
  return resource === "*" || /^arn:[^:]*:[^:]*:[^:]*:[^:]*:\*$/.test(resource);
}

/** Wildcards granted by the Allow statements of a document, one line each. */
export function wildcardsIn(statements: readonly PolicyStatement[]): string[] {
  const found: string[] = [];
  statements.forEach((s, i) => {
    if (s.effect !== "Allow") return;
    const at = `statement ${i + 1}`;
    for (const action of s.actions.filter(isWildcardAction)) found.push(`${at} allows wildcard action ${describe(action)}`);
    if (s.notActions.length > 0) found.push(`${at} allows every action except ${describe(s.notActions)} (NotAction)`);
    for (const r of s.resources.filter(isWildcardResource)) found.push(`${at} applies to wildcard resource ${describe(r)}`);
    if (s.notResources.length > 0) found.push(`${at} applies to every resource except ${describe(s.notResources)} (NotResource)`);
  });
  return found;
}
