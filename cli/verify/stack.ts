import * as fs from "node:fs";
import * as path from "node:path";
import { isRecord, oneLine, TcpAddonError } from "../../ground";
import { addressesByLine, constructPathOf, offlineStack, type TfJson } from "./offline";
import { terraform, TerraformUnavailableError, type TerraformSetup } from "./terraform";

/**
 * One synthesized stack in a folder of its own, planned by the real provider: init (from the
 * mirror or the registry), validate, `plan -refresh=false`. The folder is the caller's; the
 * stack's own backend is removed, so the only state is `terraform.tfstate` in that folder.
 */

/** The file name the stack is written under, as cdktf names it (diagnostics quote it). */
export const STACK_FILE = "cdk.tf.json";

export interface PlanCounts {
  readonly add: number;
  readonly change: number;
  readonly remove: number;
}

/** What terraform said, as one line: the diagnostic's summary, its detail's first sentence, and the construct path. */
export class TerraformCheckError extends TcpAddonError {
  declare readonly code: "TCP_ADDON_TERRAFORM_CHECK";

  constructor(
    readonly step: "init" | "validate" | "plan" | "show",
    readonly line: string,
  ) {
    super("TCP_ADDON_TERRAFORM_CHECK", `terraform ${step}: ${line}`);
  }
}

export class StackWorkspace {
  private constructor(
    readonly dir: string,
    readonly setup: TerraformSetup,
    /** The stack as written for the offline plan. */
    readonly json: TfJson,
    /** Checks the offline rewrite had to leave out, one line each. */
    readonly skipped: readonly string[],
    private lines: (string | undefined)[],
  ) {}

  /**
   * Writes `stack` (a parsed cdk.tf.json) made offline for `region` into `dir`; with
   * `keepDataSources`, as written (for validate, which reads no data source).
   */
  static create(dir: string, setup: TerraformSetup, stack: TfJson, region: string, keepDataSources = false): StackWorkspace {
    fs.mkdirSync(dir, { recursive: true });
    const { json, skipped } = offlineStack(stack, { region, keepDataSources });
    const text = `${JSON.stringify(json, null, 2)}\n`;
    fs.writeFileSync(path.join(dir, STACK_FILE), text);
    return new StackWorkspace(dir, setup, json, skipped, addressesByLine(text));
  }

  /** Replaces the stack (same folder, same state): the second apply of a changed config. */
  rewrite(stack: TfJson, region: string): StackWorkspace {
    return StackWorkspace.create(this.dir, this.setup, stack, region);
  }

  /** @throws TerraformUnavailableError when the provider cannot be installed; TerraformCheckError otherwise. */
  async init(): Promise<void> {
    const result = await terraform(this.setup, ["init", "-input=false", "-backend=false", "-no-color"], this.dir);
    if (result.code === 0) return;
    const line = firstError(result.stderr) ?? firstError(result.stdout) ?? `exit ${result.code}`;
    if (/provider|registry/i.test(line) && /(install|query|download|registry|mirror|connect)/i.test(line)) {
      throw new TerraformUnavailableError(`the hashicorp/aws provider cannot be had (${this.setup.providerSource}): ${line}`);
    }
    throw new TerraformCheckError("init", line);
  }

  async validate(): Promise<void> {
    const result = await terraform(this.setup, ["validate", "-json", "-no-color"], this.dir);
    const report = parseJson(result.stdout);
    const diagnostics = isRecord(report) && Array.isArray(report.diagnostics) ? report.diagnostics : [];
    const error = diagnostics.find((d) => isRecord(d) && d.severity === "error");
    if (error !== undefined) throw new TerraformCheckError("validate", this.describe(error));
    if (result.code !== 0) throw new TerraformCheckError("validate", firstError(result.stderr) ?? `exit ${result.code}`);
  }

  /** `terraform plan -refresh=false` into `plan.bin`; the counts of its change summary. */
  async plan(): Promise<PlanCounts> {
    const result = await terraform(
      this.setup,
      ["plan", "-refresh=false", "-input=false", "-lock=false", "-json", "-no-color", "-out=plan.bin"],
      this.dir,
    );
    let counts: PlanCounts | undefined;
    let error: unknown;
    for (const line of result.stdout.split("\n")) {
      const message = parseJson(line);
      if (!isRecord(message)) continue;
      if (message.type === "diagnostic" && isRecord(message.diagnostic) && message.diagnostic.severity === "error") {
        error ??= message.diagnostic;
      }
      if (message.type === "change_summary" && isRecord(message.changes)) {
        const c = message.changes;
        counts = { add: Number(c.add ?? 0), change: Number(c.change ?? 0), remove: Number(c.remove ?? 0) };
      }
    }
    if (error !== undefined) throw new TerraformCheckError("plan", this.describe(error));
    if (result.code !== 0 || counts === undefined) {
      throw new TerraformCheckError("plan", firstError(result.stderr) ?? `exit ${result.code} without a change summary`);
    }
    return counts;
  }

  /** The saved plan as `terraform show -json` prints it. */
  async showPlan(): Promise<Record<string, unknown>> {
    const result = await terraform(this.setup, ["show", "-json", "-no-color", "plan.bin"], this.dir);
    const plan = parseJson(result.stdout);
    if (result.code !== 0 || !isRecord(plan)) throw new TerraformCheckError("show", firstError(result.stderr) ?? `exit ${result.code}`);
    return plan;
  }

  /** `terraform providers schema -json`. */
  async providerSchemas(): Promise<Record<string, unknown>> {
    const result = await terraform(this.setup, ["providers", "schema", "-json"], this.dir);
    const schemas = parseJson(result.stdout);
    if (result.code !== 0 || !isRecord(schemas)) throw new TerraformCheckError("show", firstError(result.stderr) ?? `exit ${result.code}`);
    return schemas;
  }

  /** A diagnostic as one line, with the construct path of the block it is about when it can be found. */
  describe(diagnostic: unknown): string {
    if (!isRecord(diagnostic)) return String(diagnostic);
    const summary = typeof diagnostic.summary === "string" ? diagnostic.summary : "error";
    const detail = typeof diagnostic.detail === "string" ? firstSentence(diagnostic.detail) : "";
    let address = typeof diagnostic.address === "string" ? diagnostic.address : undefined;
    const range = isRecord(diagnostic.range) ? diagnostic.range : undefined;
    if (address === undefined && range !== undefined && isRecord(range.start) && typeof range.start.line === "number") {
      address = this.lines[range.start.line - 1];
    }
    const where = address === undefined ? undefined : (constructPathOf(this.json, address) ?? address);
    return oneLine(`${summary}${detail === "" ? "" : `: ${detail}`}${where === undefined ? "" : ` (at ${where})`}`);
  }
}

/** The first `Error: …` of terraform's human output, without the box drawing, on one line. */
export function firstError(text: string): string | undefined {
  // Blank lines (and the box's frame) stay as "": they end a paragraph.
  const lines = text.split("\n").map((l) => l.replace(/^[\s│╷╵]+/u, "").trim());
  const at = lines.findIndex((l) => l.startsWith("Error: "));
  if (at < 0) return undefined;
  // The detail: the first paragraph after the summary that is not the source location (`on
  // main.tf line 3:` and the quoted lines), whole: terraform wraps a sentence over several lines
  // and often puts the cause after a colon, on the next one.
  const paragraphs: string[][] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.startsWith("Error: ")) break;
    if (line === "") {
      if (paragraphs.length > 0 && paragraphs[paragraphs.length - 1].length > 0) paragraphs.push([]);
      continue;
    }
    if (paragraphs.length === 0) paragraphs.push([]);
    paragraphs[paragraphs.length - 1].push(line);
  }
  const detail = paragraphs.find((p) => p.length > 0 && !p[0].startsWith("on ") && !/^\d+:/.test(p[0]));
  return oneLine(`${lines[at].slice("Error: ".length)}${detail === undefined ? "" : `: ${detail.join(" ")}`}`);
}

function firstSentence(text: string): string {
  const flat = oneLine(text);
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
