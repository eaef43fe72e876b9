import { fargateZoneIds } from "../../config/fargate-zones";
import { isRecord } from "../../ground";

/**
 * A synthesized stack made plannable offline, as pure data: the provider gets the skip flags
 * that keep it from calling AWS, the data sources that would call AWS are replaced by values
 * from the config (zones, a placeholder account) or left out with the conditions that read
 * them, and the backend is dropped so no real state is read or written.
 */

/** The account id written where the stack would ask AWS who it is. */
export const PLACEHOLDER_ACCOUNT_ID = "123456789012";

/** Data sources that need no AWS call: they stay. */
const LOCAL_DATA_SOURCES = new Set(["aws_region", "aws_partition"]);

export type TfJson = Record<string, unknown>;

export interface OfflineStack {
  readonly json: TfJson;
  /** One line per check that cannot run offline, e.g. an existing network's plan-time conditions. */
  readonly skipped: readonly string[];
}

/** The zones an offline plan places subnets in: `<region>a`, `<region>b`, `<region>c`. */
export function offlineZones(region: string): string[] {
  return ["a", "b", "c"].map((z) => `${region}${z}`);
}

/** The zone IDs an offline plan places subnets in: Fargate's zones where the region limits them, else `euw1-az1`.. (placeholders). */
export function offlineZoneIds(region: string): string[] {
  return [...(fargateZoneIds(region) ?? offlineZones(region).map((_, i) => `euw1-az${i + 1}`))];
}

/**
 * `stack` (a cdk.tf.json, parsed) rewritten for `terraform plan -refresh=false` with fake keys.
 * References to the replaced data sources become HCL literals inside the same expressions.
 * `keepDataSources` keeps them all (for `terraform validate`, which reads none).
 */
export function offlineStack(
  stack: TfJson,
  { region, keepDataSources = false }: { region: string; keepDataSources?: boolean },
): OfflineStack {
  const json = structuredClone(stack);
  const skipped: string[] = [];
  const terraformBlock = isRecord(json.terraform) ? json.terraform : {};
  delete terraformBlock.backend;
  delete terraformBlock.cloud;

  const providers = isRecord(json.provider) ? json.provider : {};
  const aws = Array.isArray(providers.aws) ? providers.aws : [];
  providers.aws = (aws.length > 0 ? aws : [{ region }]).map((p: unknown) => ({
    ...(isRecord(p) ? p : {}),
    skip_credentials_validation: true,
    skip_requesting_account_id: true,
    skip_metadata_api_check: true,
    skip_region_validation: true,
    max_retries: 1,
  }));
  json.provider = providers;

  // `terraform validate` reads no data source: it can check every condition as written.
  if (keepDataSources) return { json, skipped };
  const data = isRecord(json.data) ? json.data : {};
  const literals = new Map<string, string>();
  const removed: string[] = [];
  for (const [type, blocks] of Object.entries(data)) {
    if (LOCAL_DATA_SOURCES.has(type) || !isRecord(blocks)) continue;
    for (const name of Object.keys(blocks)) {
      const ref = `data.${type}.${name}`;
      if (type === "aws_availability_zones") {
        literals.set(`${ref}.names`, `tolist(${JSON.stringify(offlineZones(region))})`);
        literals.set(`${ref}.zone_ids`, `tolist(${JSON.stringify(offlineZoneIds(region))})`);
      } else if (type === "aws_caller_identity") {
        literals.set(`${ref}.account_id`, JSON.stringify(PLACEHOLDER_ACCOUNT_ID));
      } else {
        skipped.push(`${metadataPath(blocks[name]) ?? ref} (${type}): read from AWS at plan time, not checked offline`);
      }
      removed.push(ref);
    }
    delete data[type];
  }
  if (Object.keys(data).length === 0) delete json.data;
  else json.data = data;

  const rewritten = rewriteStrings(json, (text) => replaceReferences(text, literals)) as TfJson;
  // What still names a removed data source (a condition that reads it) is dropped with it.
  dropConditionsOn(rewritten, removed);
  const leftover = removed.filter((ref) => JSON.stringify(rewritten).includes(`${ref}.`));
  for (const ref of leftover) skipped.push(`${ref} is still referenced after the offline rewrite; the plan will fail on it`);
  return { json: rewritten, skipped };
}

function replaceReferences(text: string, literals: ReadonlyMap<string, string>): string {
  if (!text.includes("data.")) return text;
  let out = text;
  for (const [ref, literal] of literals) out = out.split(ref).join(literal);
  return out;
}

function rewriteStrings(value: unknown, fn: (text: string) => string): unknown {
  if (typeof value === "string") return fn(value);
  if (Array.isArray(value)) return value.map((v) => rewriteStrings(v, fn));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteStrings(v, fn)]));
  return value;
}

/** Removes lifecycle pre/postconditions that mention any of `refs`, in resources and data sources. */
function dropConditionsOn(json: TfJson, refs: readonly string[]): void {
  if (refs.length === 0) return;
  for (const section of ["resource", "data"]) {
    const types = json[section];
    if (!isRecord(types)) continue;
    for (const blocks of Object.values(types)) {
      if (!isRecord(blocks)) continue;
      for (const block of Object.values(blocks)) {
        if (!isRecord(block) || !isRecord(block.lifecycle)) continue;
        for (const kind of ["precondition", "postcondition"]) {
          const list = block.lifecycle[kind];
          if (!Array.isArray(list)) continue;
          const kept = list.filter((c) => !refs.some((ref) => JSON.stringify(c).includes(`${ref}.`)));
          if (kept.length > 0) block.lifecycle[kind] = kept;
          else delete block.lifecycle[kind];
        }
      }
    }
  }
}

/** The construct path cdktf records in a block's `//` metadata. */
export function metadataPath(block: unknown): string | undefined {
  if (!isRecord(block) || !isRecord(block["//"]) || !isRecord(block["//"].metadata)) return undefined;
  const p = block["//"].metadata.path;
  return typeof p === "string" ? p : undefined;
}

/** The construct path of a Terraform address (`aws_lb.X`, `data.aws_subnet.Y[0]`, `module.m.aws_lb.X`). */
export function constructPathOf(json: TfJson, address: string): string | undefined {
  const parts = address.replace(/\[[^\]]*\]/g, "").split(".");
  const [section, type, name] = parts[0] === "data" ? ["data", parts[1], parts[2]] : ["resource", parts[0], parts[1]];
  const types = json[section];
  if (!isRecord(types) || type === undefined || name === undefined) return undefined;
  const blocks = types[type];
  return isRecord(blocks) ? metadataPath(blocks[name]) : undefined;
}

/**
 * For each line of `JSON.stringify(json, null, 2)`, the address of the block it is in, so a
 * diagnostic's line in the written file leads back to its construct path.
 */
export function addressesByLine(text: string): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let section: string | undefined;
  let type: string | undefined;
  let name: string | undefined;
  for (const line of text.split("\n")) {
    const key = /^( *)"([^"]+)": [{[]/.exec(line);
    if (key !== null) {
      const depth = key[1].length / 2;
      if (depth === 1) [section, type, name] = [key[2], undefined, undefined];
      else if (depth === 2) [type, name] = [key[2], undefined];
      else if (depth === 3) name = key[2];
    }
    const inBlock = (section === "resource" || section === "data") && type !== undefined && name !== undefined;
    out.push(inBlock ? `${section === "data" ? "data." : ""}${type}.${name}` : undefined);
  }
  return out;
}
