import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resolveConfig } from "../../config/load";
import { synthToDir, withoutTokenStacks } from "../../constructs/synth";
import { TcpAddonStack } from "../../constructs/tcp-addon-stack";
import { isRecord } from "../../runtime/agent/errors";
import { metadataPath, PLACEHOLDER_ACCOUNT_ID, type TfJson } from "../../cli/verify/offline";
import { StackWorkspace, STACK_FILE } from "../../cli/verify/stack";
import { findTerraform, terraformSetup, type TerraformSetup } from "../../cli/verify/terraform";

/**
 * The second apply, with the real provider and no AWS: plan a config, build a state whose
 * resources hold the planned values (unknown ones filled with placeholders of their schema
 * type), plan the same config again until nothing changes, then plan a changed config against
 * that state and read what the provider would replace.
 */

const AWS = "registry.terraform.io/hashicorp/aws";
const BUILTIN = "terraform.io/builtin/terraform";
const PROVIDER_ADDR: Record<string, string> = {
  [AWS]: `provider["${AWS}"]`,
  [BUILTIN]: `provider["${BUILTIN}"]`,
};

/**
 * Whether these tests can run: terraform on the PATH. Without it they print one line and skip,
 * except under CI=true, where a missing terraform is a failure.
 */
export function terraformAvailability(): { readonly run: boolean; readonly reason?: string } {
  if (findTerraform() !== undefined) return { run: true };
  if (process.env.CI === "true") {
    throw new Error("terraform not found on the PATH, and CI=true: the provider checks must run in CI; install Terraform");
  }
  process.stdout.write("skipped: terraform not found\n");
  return { run: false, reason: "terraform not found" };
}

/** The synthesized stack of a config given as an object (Procfile paths relative to `baseDir`). */
export function synthConfig(raw: unknown, baseDir: string): { json: TfJson; region: string } {
  const config = resolveConfig(raw, baseDir);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-synth-"));
  try {
    withoutTokenStacks(() => synthToDir(out, (app) => new TcpAddonStack(app, config.project, { config })));
    const json = JSON.parse(fs.readFileSync(path.join(out, "stacks", config.project, STACK_FILE), "utf8")) as TfJson;
    return { json, region: config.region };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** One resource's planned change, as the table reports it. */
export interface Change {
  readonly address: string;
  readonly type: string;
  /** Construct path without the stack's name: `mqtt/TargetGroup`. */
  readonly path: string;
  readonly actions: readonly string[];
  /** Attribute paths that force the replacement. */
  readonly replacePaths: readonly string[];
  /** `name` before and after (undefined = none or unknown). */
  readonly nameBefore?: string;
  readonly nameAfter?: string;
  readonly nameAfterUnknown: boolean;
}

type Json = unknown;
type Schema = Record<string, unknown>;

/** A folder with the provider installed, a converged state for the base config, and a way to plan changes against it. */
export class SecondApply {
  private constructor(
    private readonly workspace: StackWorkspace,
    private readonly baseState: Record<string, unknown>,
    readonly baseJson: TfJson,
    /** Plans needed until the state matched the base config. */
    readonly rounds: number,
  ) {}

  static async create(dir: string, base: { json: TfJson; region: string }): Promise<SecondApply> {
    const setup: TerraformSetup = terraformSetup(dir);
    let workspace = StackWorkspace.create(path.join(dir, "stack"), setup, base.json, base.region);
    await workspace.init();
    await workspace.plan();
    const first = await workspace.showPlan();
    const schemaJson = await workspace.providerSchemas();
    const schemas = resourceSchemas(schemaJson);
    let state = stateFromPlan(first, schemas);
    let rounds = 1;
    for (; rounds <= 8; rounds++) {
      writeState(workspace.dir, state, rounds);
      workspace = workspace.rewrite(base.json, base.region);
      await workspace.plan();
      const plan = await workspace.showPlan();
      const pending = changesOf(plan, workspace.json);
      if (pending.length === 0) break;
      state = mergeKnown(state, plan, schemas);
    }
    if (rounds > 8) throw new Error("the state did not converge to the base config in 8 plans");
    return new SecondApply(workspace, state, base.json, rounds);
  }

  /**
   * Plans `changed` against the converged base state, in a folder of its own (so plans can run
   * side by side); every resource whose plan is not a no-op.
   */
  async plan(changed: { json: TfJson; region: string }): Promise<Change[]> {
    const dir = fs.mkdtempSync(`${this.workspace.dir}-change-`);
    try {
      fs.cpSync(path.join(this.workspace.dir, ".terraform"), path.join(dir, ".terraform"), { recursive: true, verbatimSymlinks: true });
      fs.copyFileSync(path.join(this.workspace.dir, ".terraform.lock.hcl"), path.join(dir, ".terraform.lock.hcl"));
      writeState(dir, this.baseState, 100);
      const workspace = StackWorkspace.create(dir, this.workspace.setup, changed.json, changed.region);
      await workspace.plan();
      return changesOf(await workspace.showPlan(), workspace.json, this.baseJson);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The resource schemas of both providers, by resource type. */
function resourceSchemas(json: Record<string, unknown>): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  const providers = isRecord(json.provider_schemas) ? json.provider_schemas : {};
  for (const [provider, schema] of Object.entries(providers)) {
    if (!isRecord(schema) || !isRecord(schema.resource_schemas)) continue;
    for (const [type, s] of Object.entries(schema.resource_schemas)) {
      if (isRecord(s)) out[type] = { ...s, provider };
    }
  }
  return out;
}

/** The state after applying `plan`: each managed resource holds its planned values, unknowns as placeholders. */
function stateFromPlan(plan: Record<string, unknown>, schemas: Record<string, Schema>): Record<string, unknown> {
  const resources: unknown[] = [];
  let n = 0;
  for (const rc of list(plan.resource_changes)) {
    if (!isRecord(rc) || rc.mode !== "managed" || !isRecord(rc.change)) continue;
    const type = String(rc.type);
    const schema = schemas[type];
    if (schema === undefined || !isRecord(schema.block)) throw new Error(`no schema for ${type}`);
    n += 1;
    const attributes =
      type === "terraform_data"
        ? terraformDataAttributes(rc.change.after, `${type}-${n}`)
        : fillBlock(schema.block, rc.change.after, rc.change.after_unknown, { type, n });
    resources.push({
      mode: "managed",
      type,
      name: rc.name,
      provider: PROVIDER_ADDR[String(schema.provider)] ?? `provider["${String(schema.provider)}"]`,
      instances: [{ schema_version: Number(schema.version ?? 0), attributes, sensitive_attributes: sensitivePaths(rc.change.after_sensitive) }],
    });
  }
  return { version: 4, terraform_version: "1.11.4", serial: 1, lineage: "5e1f0c4e-0000-4000-8000-000000000001", outputs: {}, resources };
}

/** The state's marks of sensitive values (without them, the next plan would "update" their sensitivity). */
function sensitivePaths(marks: Json, at: Json[] = []): Json[] {
  if (marks === true) return [at];
  const steps: Json[] = [];
  if (Array.isArray(marks)) marks.forEach((m, i) => steps.push(...sensitivePaths(m, [...at, { type: "index", value: { value: i, type: "number" } }])));
  else if (isRecord(marks)) for (const [k, m] of Object.entries(marks)) steps.push(...sensitivePaths(m, [...at, { type: "get_attr", value: k }]));
  return steps;
}

/** `terraform_data` values are dynamically typed: a state file records each with its type. */
function terraformDataAttributes(after: Json, id: string): Record<string, unknown> {
  const a = isRecord(after) ? after : {};
  const typed = (value: Json) =>
    isRecord(value)
      ? { value, type: ["object", Object.fromEntries(Object.keys(value).map((k) => [k, "string"]))] }
      : { value: null, type: "dynamic" };
  return { id, input: typed(a.input), output: typed(a.input), triggers_replace: typed(a.triggers_replace) };
}

interface Where {
  readonly type: string;
  readonly n: number;
}

/** Known values of `after`, unknown ones filled by the schema's type, nested blocks recursively. */
function fillBlock(block: Json, after: Json, unknown: Json, where: Where): Record<string, unknown> {
  const b = isRecord(block) ? block : {};
  const value = isRecord(after) ? after : {};
  const unk = isRecord(unknown) ? unknown : {};
  const out: Record<string, unknown> = {};
  for (const [name, attr] of Object.entries(isRecord(b.attributes) ? b.attributes : {})) {
    const known = value[name];
    if (unk[name] === true) {
      out[name] = placeholder(name, isRecord(attr) ? attr.type : "string", where);
    } else if (isRecord(unk[name]) || Array.isArray(unk[name])) {
      out[name] = fillUnknownParts(known, unk[name], isRecord(attr) ? attr.type : "string", name, where);
    } else {
      out[name] = known ?? null;
    }
  }
  for (const [name, nested] of Object.entries(isRecord(b.block_types) ? b.block_types : {})) {
    if (!isRecord(nested)) continue;
    const known = value[name];
    if (unk[name] === true || known === undefined || known === null) {
      out[name] = nested.nesting_mode === "single" || nested.nesting_mode === "group" ? null : nested.nesting_mode === "map" ? {} : [];
      continue;
    }
    const unkList = unk[name];
    if (Array.isArray(known)) {
      out[name] = known.map((item, i) => fillBlock(nested.block, item, Array.isArray(unkList) ? unkList[i] : undefined, where));
    } else {
      out[name] = fillBlock(nested.block, known, unkList, where);
    }
  }
  return out;
}

/** A collection or object attribute with some unknown parts. */
function fillUnknownParts(known: Json, unk: Json, type: Json, name: string, where: Where): Json {
  if (Array.isArray(known) && Array.isArray(unk)) {
    const elementType = Array.isArray(type) ? type[1] : "string";
    return known.map((v, i) => (unk[i] === true ? placeholder(name, elementType, where) : v));
  }
  if (isRecord(known) && isRecord(unk)) {
    const out: Record<string, unknown> = { ...known };
    for (const [k, u] of Object.entries(unk)) if (u === true) out[k] = placeholder(k, "string", where);
    return out;
  }
  return known ?? placeholder(name, type, where);
}

/** A value of the schema type that the provider's validators accept: ARNs look like ARNs, ids like ids. */
function placeholder(name: string, type: Json, { type: resourceType, n }: Where): Json {
  if (type === "number") return 0;
  if (type === "bool") return false;
  if (Array.isArray(type)) {
    if (type[0] === "list" || type[0] === "set") return [];
    if (type[0] === "map") return {};
    return null;
  }
  const service = resourceType.replace(/^aws_/, "").split("_")[0];
  if (name === "arn" || name.endsWith("_arn")) return `arn:aws:${service}:eu-west-1:${PLACEHOLDER_ACCOUNT_ID}:${resourceType}/placeholder-${n}`;
  if (name === "dns_name") return `placeholder-${n}.elb.eu-west-1.amazonaws.com`;
  if (name === "ipv6_cidr_block") return `2001:db8:${n.toString(16)}::/56`;
  if (name.endsWith("cidr_block")) return "10.255.0.0/16";
  if (name === "owner_id") return PLACEHOLDER_ACCOUNT_ID;
  if (name === "id") return `${service}-placeholder${String(n).padStart(4, "0")}`;
  return `placeholder-${name}-${n}`;
}

/** Copies the known planned values of every changed resource into the state, so the next plan agrees. */
function mergeKnown(state: Record<string, unknown>, plan: Record<string, unknown>, schemas: Record<string, Schema>): Record<string, unknown> {
  const byAddress = new Map<string, Record<string, unknown>>();
  for (const rc of list(plan.resource_changes)) {
    if (isRecord(rc) && rc.mode === "managed") byAddress.set(`${String(rc.type)}.${String(rc.name)}`, rc);
  }
  const resources = list(state.resources).map((r) => {
    if (!isRecord(r)) return r;
    const rc = byAddress.get(`${String(r.type)}.${String(r.name)}`);
    if (rc === undefined || !isRecord(rc.change) || list(rc.change.actions).join() === "no-op") return r;
    const instance = isRecord(list(r.instances)[0]) ? (list(r.instances)[0] as Record<string, unknown>) : {};
    const old = isRecord(instance.attributes) ? instance.attributes : {};
    const schema = schemas[String(r.type)];
    const merged =
      String(r.type) === "terraform_data"
        ? terraformDataAttributes(rc.change.after, String(old.id))
        : overlayKnown(old, fillBlock(schema?.block, rc.change.after, rc.change.after_unknown, { type: String(r.type), n: 9000 }), rc.change.after_unknown);
    return { ...r, instances: [{ ...instance, attributes: merged, sensitive_attributes: sensitivePaths(rc.change.after_sensitive) }] };
  });
  // Resources the plan would create (absent from the state) are added.
  const present = new Set(list(state.resources).map((r) => (isRecord(r) ? `${String(r.type)}.${String(r.name)}` : "")));
  const added = list(stateFromPlan(plan, schemas).resources).filter(
    (r) => isRecord(r) && !present.has(`${String(r.type)}.${String(r.name)}`),
  );
  return { ...state, resources: [...resources, ...added] };
}

/** The planned values, except that a value still unknown keeps what the state had. */
function overlayKnown(old: Record<string, unknown>, planned: Record<string, unknown>, unknown: Json): Record<string, unknown> {
  const unk = isRecord(unknown) ? unknown : {};
  const out: Record<string, unknown> = { ...planned };
  for (const [k, u] of Object.entries(unk)) if (u === true && old[k] !== undefined && old[k] !== null) out[k] = old[k];
  return out;
}

function writeState(dir: string, state: Record<string, unknown>, serial: number): void {
  fs.writeFileSync(path.join(dir, "terraform.tfstate"), JSON.stringify({ ...state, serial }, null, 1));
  fs.rmSync(path.join(dir, "terraform.tfstate.backup"), { force: true });
}

/** Every resource the plan would touch, with its construct path (from the new config, else the old one). */
function changesOf(plan: Record<string, unknown>, json: TfJson, before?: TfJson): Change[] {
  const changes: Change[] = [];
  for (const rc of list(plan.resource_changes)) {
    if (!isRecord(rc) || rc.mode !== "managed" || !isRecord(rc.change)) continue;
    const actions = list(rc.change.actions).map(String);
    if (actions.join() === "no-op") continue;
    const type = String(rc.type);
    const name = String(rc.name);
    const block = blockOf(json, type, name) ?? (before === undefined ? undefined : blockOf(before, type, name));
    const full = metadataPath(block) ?? `${type}.${name}`;
    const b = isRecord(rc.change.before) ? rc.change.before : {};
    const a = isRecord(rc.change.after) ? rc.change.after : {};
    const u = isRecord(rc.change.after_unknown) ? rc.change.after_unknown : {};
    changes.push({
      address: `${type}.${name}`,
      type,
      path: full.split("/").slice(1).join("/"),
      actions,
      replacePaths: list(rc.change.replace_paths ?? rc.replace_paths).map((p) => list(p).join(".")),
      nameBefore: typeof b.name === "string" ? b.name : undefined,
      nameAfter: typeof a.name === "string" ? a.name : undefined,
      nameAfterUnknown: u.name === true,
    });
  }
  return changes;
}

function blockOf(json: TfJson, type: string, name: string): unknown {
  const resources = isRecord(json.resource) ? json.resource : {};
  const blocks = resources[type];
  return isRecord(blocks) ? blocks[name] : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Addresses of the resources whose configuration refers to `address` (something depends on it). */
export function dependentsOf(json: TfJson, address: string): string[] {
  const found: string[] = [];
  const resources = isRecord(json.resource) ? json.resource : {};
  for (const [type, blocks] of Object.entries(resources)) {
    if (!isRecord(blocks)) continue;
    for (const [name, block] of Object.entries(blocks)) {
      if (`${type}.${name}` === address) continue;
      const text = JSON.stringify(block);
      if (text.includes(`${address}.`) || text.includes(`"${address}"`)) found.push(`${type}.${name}`);
    }
  }
  return found;
}
