import type { IConstruct } from "constructs";
import { Annotations, App, Aspects, type IAspect } from "cdktf";
import { PolicyError, PolicyViolationError } from "./errors";
import { StackFacts } from "./facts";
import type { PolicyFinding, PolicyReport, SuppressedFinding } from "./finding";
import { formatFinding } from "./finding";
import type { PolicyRule } from "./rule";
import { RULES } from "./rules";
import { findSuppression, suppressionsOn } from "./suppress";

const WARNING_METADATA = "@cdktf/warn";

/** Options of {@link TcpAddonPolicy} and {@link applyPolicy}. */
export interface TcpAddonPolicyOptions {
  /**
   * The rules to enforce.
   * @default every built-in rule (`RULES`)
   */
  readonly rules?: readonly PolicyRule[];
  /**
   * Called once for each new warning-level finding (a repeated synth of the same tree does not
   * repeat it). Warnings are also recorded as cdktf warning annotations, which `cdktf synth`
   * prints.
   * @default writes the finding, one line, to stderr
   */
  readonly onWarning?: (finding: PolicyFinding) => void;
}

/**
 * The product's security policy as a cdktf Aspect, in the style of cdk-nag: each rule in
 * `rules/` checks one kind of resource in its synthesized form (what checkov and trivy would
 * read), and a finding names the rule, the construct path and the fix.
 *
 * cdktf visits every construct under the scope the Aspect was added to, parents first; the
 * policy checks the whole scope when the last of them is visited, so it sees the tree after
 * every construct, and every Aspect that ran before it, has shaped it. (An Aspect added after
 * the policy that changes the very last construct of the scope runs too late to be seen; add
 * such Aspects before `applyPolicy`.) Cross-resource rules read the whole stack: which security
 * groups hold tasks, which role a task definition executes with.
 *
 * Error-level findings throw a `PolicyViolationError` from `app.synth()` and `Testing.synth()`
 * (no `runValidations` needed) before the stack's JSON is written; warnings are printed and
 * recorded as cdktf annotations. `suppress(construct, ruleId, reason)` accepts one on purpose.
 */
export class TcpAddonPolicy implements IAspect {
  /** The rules this policy enforces. */
  public readonly rules: readonly PolicyRule[];
  private readonly onWarning: (finding: PolicyFinding) => void;
  /** The scope of the visit in progress: the first construct visited. */
  private passRoot?: IConstruct;
  private report?: PolicyReport;

  public constructor(options: TcpAddonPolicyOptions = {}) {
    this.rules = options.rules ?? RULES;
    const ids = new Set<string>();
    for (const rule of this.rules) {
      if (ids.has(rule.id)) throw new PolicyError("TCP_ADDON_POLICY_DUPLICATE_RULE", `two rules share the id ${rule.id}`);
      ids.add(rule.id);
    }
    this.onWarning = options.onWarning ?? ((f) => process.stderr.write(`warning: ${formatFinding(f)}\n`));
  }

  /** What the last check found (also when it threw), or undefined before the first synth. */
  public get lastReport(): PolicyReport | undefined {
    return this.report;
  }

  /** Called by cdktf for every construct; checks the stack once, at its root. */
  public visit(node: IConstruct): void {
    const root = this.passRoot;
    if (root === undefined || node === root || !node.node.scopes.includes(root)) {
      this.passRoot = node; // a new synth (or a new scope) starts here
    }
    if (isLastInPreorder(node, this.passRoot!)) {
      const scope = this.passRoot!;
      this.passRoot = undefined;
      this.enforce(scope);
    }
  }

  /** Checks every resource under `scope` against the rules; throws nothing for findings. */
  public check(scope: IConstruct): PolicyReport {
    const known = new Set(this.rules.map((r) => r.id));
    for (const node of scope.node.findAll()) {
      for (const s of suppressionsOn(node)) {
        if (!known.has(s.ruleId)) {
          throw new PolicyError(
            "TCP_ADDON_POLICY_UNKNOWN_RULE",
            `suppression on ${node.node.path} names unknown rule "${s.ruleId}"; known rules: ${[...known].join(", ")}`,
          );
        }
      }
    }
    const facts = StackFacts.collect(scope);
    const inScope = facts.resources.filter((r) => !r.isDataSource && r.construct.node.scopes.includes(scope));
    const findings: PolicyFinding[] = [];
    const suppressed: SuppressedFinding[] = [];
    for (const resource of inScope) {
      for (const rule of this.rules) {
        if (!rule.resourceTypes.includes(resource.type)) continue;
        const violations = rule.check(resource, facts);
        if (violations.length === 0) continue;
        const suppression = findSuppression(resource.construct, rule.id);
        for (const v of violations) {
          const finding: PolicyFinding = {
            ruleId: rule.id,
            ruleName: rule.name,
            level: rule.level,
            path: resource.path,
            address: resource.address,
            detail: v.detail,
            fix: v.fix ?? rule.fix,
            mirrors: rule.mirrors,
          };
          if (suppression) suppressed.push({ ...finding, reason: suppression.reason, suppressedAt: suppression.at });
          else findings.push(finding);
        }
      }
    }
    return { findings, suppressed, resourcesChecked: inScope.length };
  }

  private enforce(scope: IConstruct): void {
    const report = this.check(scope);
    this.report = report;
    const nodes = new Map(scope.node.findAll().map((n) => [n.node.path, n]));
    for (const f of report.findings) {
      if (f.level !== "warning") continue;
      const node = nodes.get(f.path);
      const message = formatFinding(f);
      if (!node || node.node.metadata.some((m) => m.type === WARNING_METADATA && m.data === message)) continue;
      Annotations.of(node).addWarning(message);
      this.onWarning(f);
    }
    const errors = report.findings.filter((f) => f.level === "error");
    if (errors.length > 0) throw new PolicyViolationError(errors);
  }
}

/**
 * Adds the product's security policy to `scope` (a stack, or a construct inside one) and
 * returns it. Adding it twice to the same scope returns the first one.
 */
export function applyPolicy(scope: IConstruct, options: TcpAddonPolicyOptions = {}): TcpAddonPolicy {
  if (App.isApp(scope)) {
    throw new PolicyError(
      "TCP_ADDON_POLICY_BAD_SCOPE",
      "applyPolicy: cdktf runs aspects per stack, not on the App; apply the policy to each TerraformStack",
    );
  }
  const existing = Aspects.of(scope).all.find((a): a is TcpAddonPolicy => a instanceof TcpAddonPolicy);
  if (existing) return existing;
  const policy = new TcpAddonPolicy(options);
  Aspects.of(scope).add(policy);
  return policy;
}

/** Runs the policy over `scope` now and returns what it found, without throwing for findings. */
export function checkPolicy(scope: IConstruct, options: TcpAddonPolicyOptions = {}): PolicyReport {
  return new TcpAddonPolicy(options).check(scope);
}

/**
 * True when `node` is the last construct of `root`'s subtree in cdktf's aspect order (parents
 * before children, children in the order they were added): it has no children, and it and
 * each of its scopes up to `root` is its parent's last child.
 */
function isLastInPreorder(node: IConstruct, root: IConstruct): boolean {
  if (node.node.children.length > 0) return false;
  let current = node;
  while (current !== root) {
    const parent = current.node.scope;
    if (!parent) return false;
    const siblings = parent.node.children;
    if (siblings[siblings.length - 1] !== current) return false;
    current = parent;
  }
  return true;
}
