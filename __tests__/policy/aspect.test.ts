import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Construct } from "constructs";
import { App, Aspects, type IAspect, Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import {
  applyPolicy,
  checkPolicy,
  PolicyError,
  PolicyViolationError,
  RULES,
  suppress,
  type PolicyFinding,
} from "../../constructs/policy";
import { compliantStack, synthError, synthReport } from "./helpers";

let tmp: string | undefined;
afterEach(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

/** A stack with two log groups that keep logs forever: two TCP-LOG1 findings. */
function twoForeverLogGroups(): { stack: TerraformStack; a: CloudwatchLogGroup; b: CloudwatchLogGroup } {
  const stack = new TerraformStack(Testing.app(), "test");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  const a = new CloudwatchLogGroup(stack, "A", { name: "/a" });
  const b = new CloudwatchLogGroup(stack, "B", { name: "/b" });
  return { stack, a, b };
}

describe("a violation", () => {
  it("stops app.synth() before the stack's Terraform JSON is written", () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "policy-"));
    const app = new App({ outdir: tmp });
    const stack = new TerraformStack(app, "acme");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    new EcsCluster(stack, "Cluster", { name: "acme" });
    applyPolicy(stack);
    expect(() => app.synth()).toThrow(PolicyViolationError);
    expect(fs.existsSync(path.join(tmp, "stacks", "acme", "cdk.tf.json"))).toBe(false);
  });

  it("names the rule, the construct path and the fix in the error message", () => {
    const { stack, service } = compliantStack();
    service.networkConfiguration.assignPublicIp = true;
    const err = synthError(stack);
    expect(err).toBeInstanceOf(PolicyViolationError);
    expect((err as Error).message).toMatch(
      /\[TCP-ECS1\] test\/Service: network_configuration\.assign_public_ip is true\. Fix: set network_configuration\.assign_public_ip = false/,
    );
  });

  it("carries a stable code and one single-line issue per finding", () => {
    const { stack } = twoForeverLogGroups();
    const err = synthError(stack) as PolicyViolationError;
    expect(err.code).toBe("TCP_ADDON_POLICY_VIOLATION");
    expect(err.issues).toHaveLength(2);
    for (const issue of err.issues) expect(issue).not.toMatch(/[\r\n]/);
  });

  it("is reported with every other violation of the stack at once", () => {
    const { stack, service, cluster } = compliantStack();
    service.networkConfiguration.assignPublicIp = true;
    cluster.putSetting([{ name: "containerInsights", value: "disabled" }]);
    const err = synthError(stack) as PolicyViolationError;
    expect(err.findings.map((f) => f.ruleId).sort()).toEqual(["TCP-ECS1", "TCP-ECS6"]);
  });

  it("is found in a change made through an escape hatch (addOverride)", () => {
    const { stack, service } = compliantStack();
    service.addOverride("network_configuration.assign_public_ip", true);
    expect(synthReport(stack).findings.map((f) => f.ruleId)).toEqual(["TCP-ECS1"]);
  });

  it("is found in a change made by an Aspect that runs before the policy", () => {
    const { stack } = compliantStack();
    const openUp: IAspect = {
      visit: (node) => {
        if (node instanceof EcsCluster) node.putSetting([{ name: "containerInsights", value: "disabled" }]);
      },
    };
    Aspects.of(stack).add(openUp);
    expect(synthReport(stack).findings.map((f) => f.ruleId)).toEqual(["TCP-ECS6"]);
  });
});

describe("a warning", () => {
  it("does not stop synth", () => {
    const { stack, nlbSecurityGroup } = compliantStack();
    nlbSecurityGroup.description = "";
    applyPolicy(stack, { onWarning: () => undefined });
    expect(() => Testing.synth(stack)).not.toThrow();
  });

  it("is recorded as a cdktf warning annotation on the resource", () => {
    const { stack, nlbSecurityGroup } = compliantStack();
    nlbSecurityGroup.description = "";
    synthReport(stack);
    const warnings = nlbSecurityGroup.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => m.data);
    expect(warnings).toEqual([expect.stringContaining("[TCP-SG3 warning] test/NlbSecurityGroup")]);
  });

  it("is handed to onWarning once, however many times the stack is synthesized", () => {
    const { stack, nlbSecurityGroup } = compliantStack();
    nlbSecurityGroup.description = "";
    const seen: PolicyFinding[] = [];
    applyPolicy(stack, { onWarning: (f) => seen.push(f) });
    Testing.synth(stack);
    Testing.synth(stack);
    expect(seen.map((f) => f.ruleId)).toEqual(["TCP-SG3"]);
  });
});

describe("suppress()", () => {
  it("with a reason silences exactly one finding", () => {
    const { stack, a } = twoForeverLogGroups();
    suppress(a, "TCP-LOG1", "audit log, kept forever by law");
    const report = synthReport(stack);
    expect(report.findings.map((f) => [f.ruleId, f.path])).toEqual([["TCP-LOG1", "test/B"]]);
    expect(report.suppressed.map((f) => [f.ruleId, f.path, f.reason])).toEqual([
      ["TCP-LOG1", "test/A", "audit log, kept forever by law"],
    ]);
  });

  it("lets synth through when it covers the only violation", () => {
    const { stack, a, b } = twoForeverLogGroups();
    suppress(a, "TCP-LOG1", "audit log");
    suppress(b, "TCP-LOG1", "audit log");
    expect(synthError(stack)).toBeUndefined();
  });

  it("silences only the rule it names on that resource", () => {
    const { stack, taskSecurityGroup } = compliantStack();
    const world = new VpcSecurityGroupIngressRule(stack, "World", {
      securityGroupId: taskSecurityGroup.id,
      description: "direct",
      ipProtocol: "tcp",
      fromPort: 7000,
      toPort: 7000,
      cidrIpv4: "0.0.0.0/0",
    });
    suppress(world, "TCP-SG1", "direct path for the load test");
    expect(synthReport(stack).findings.map((f) => [f.ruleId, f.path])).toEqual([["TCP-SG2", "test/World"]]);
  });

  it("on a scope covers the resources beneath it", () => {
    const stack = new TerraformStack(Testing.app(), "test");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const legacy = new Construct(stack, "Legacy");
    new CloudwatchLogGroup(legacy, "One", { name: "/one" });
    new CloudwatchLogGroup(legacy, "Two", { name: "/two" });
    suppress(legacy, "TCP-LOG1", "legacy groups, retention managed outside Terraform");
    const report = synthReport(stack);
    expect(report.findings).toEqual([]);
    expect(report.suppressed.map((f) => f.suppressedAt)).toEqual(["test/Legacy", "test/Legacy"]);
  });

  it("refuses an empty reason", () => {
    const { a } = twoForeverLogGroups();
    expect(() => suppress(a, "TCP-LOG1", "")).toThrow(expect.objectContaining({ code: "TCP_ADDON_POLICY_BAD_SUPPRESSION" }));
  });

  it("refuses a reason that is only whitespace", () => {
    const { a } = twoForeverLogGroups();
    expect(() => suppress(a, "TCP-LOG1", " \n\t")).toThrow(PolicyError);
  });

  it("naming a rule that does not exist fails synth", () => {
    const { stack, a } = twoForeverLogGroups();
    suppress(a, "TCP-LOG9", "typo");
    const err = synthError(stack);
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe("TCP_ADDON_POLICY_UNKNOWN_RULE");
  });
});

describe("applyPolicy()", () => {
  it("refuses an App, where cdktf never runs aspects", () => {
    expect(() => applyPolicy(Testing.app())).toThrow(expect.objectContaining({ code: "TCP_ADDON_POLICY_BAD_SCOPE" }));
  });

  it("applied twice to a scope returns the same policy", () => {
    const { stack } = compliantStack();
    expect(applyPolicy(stack)).toBe(applyPolicy(stack));
  });

  it("on a construct inside a stack checks only that construct's resources", () => {
    const stack = new TerraformStack(Testing.app(), "test");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    new CloudwatchLogGroup(stack, "Outside", { name: "/outside" });
    const mine = new Construct(stack, "Mine");
    new CloudwatchLogGroup(mine, "Inside", { name: "/inside" });
    applyPolicy(mine, { onWarning: () => undefined });
    let thrown: unknown;
    try {
      Testing.synth(stack);
    } catch (err) {
      thrown = err;
    }
    expect((thrown as PolicyViolationError).findings.map((f) => f.path)).toEqual(["test/Mine/Inside"]);
  });
});

describe("the rule catalogue", () => {
  it("gives every rule a unique id", () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("gives every rule an explanation and a fix", () => {
    const incomplete = RULES.filter((r) => r.explanation.trim() === "" || r.fix.trim() === "").map((r) => r.id);
    expect(incomplete).toEqual([]);
  });

  it("checkPolicy reports without throwing", () => {
    const { stack } = twoForeverLogGroups();
    expect(checkPolicy(stack).findings.map((f) => f.path)).toEqual(["test/A", "test/B"]);
  });
});
