import { isRecord, list } from "../facts";
import { ingressOf } from "../ingress";
import type { PolicyRule, Violation } from "../rule";

/** A description the reader can use: set, not blank, not Terraform's placeholder. */
function described(value: unknown): boolean {
  return typeof value === "string" && value.trim() !== "" && value !== "Managed by Terraform";
}

/**
 * TCP-SG3: every security group and every rule says what it is for, so that an audit of the
 * account (not just of this code) can tell the NLB's group from a task's.
 */
export const SecurityGroupDescriptions: PolicyRule = {
  id: "TCP-SG3",
  name: "security-group-descriptions",
  level: "warning",
  explanation: "Security groups and rules without a description cannot be audited from the AWS console",
  fix: "set description on the security group and on each of its rules",
  mirrors: ["checkov CKV_AWS_23", "trivy AVD-AWS-0099", "trivy AVD-AWS-0124"],
  resourceTypes: [
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
  ],
  check(resource) {
    const violations: Violation[] = [];
    if (resource.type === "aws_security_group") {
      if (!described(resource.attrs.description)) violations.push({ detail: "the security group has no description" });
      for (const e of ingressOf(resource)) {
        if (!described(e.description)) violations.push({ detail: `${e.label} has no description` });
      }
      list(resource.attrs.egress).forEach((b, i) => {
        if (isRecord(b) && !described(b.description)) violations.push({ detail: `egress[${i}] has no description` });
      });
      return violations;
    }
    if (!described(resource.attrs.description)) violations.push({ detail: "the rule has no description" });
    return violations;
  },
};
