import { DEFAULT_DEPLOY_TIMINGS } from "../../config/deploy-timings";
import { CONFIG_JSON_SCHEMA_PATH } from "../../config/json-schema";

/**
 * docs/config-reference.md, written from the config's JSON Schema (itself made from the zod
 * schema): one table per object of the file, one row per key with its type, default, limits and
 * the `.describe()` line of config/schema.ts.
 */

/** The part of a JSON Schema (draft-07, as zod writes it) that the reference reads. */
export interface JsonSchema {
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: JsonSchema | boolean;
  readonly propertyNames?: JsonSchema;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
}

/** Defaults that the config applies after the schema (resolve.ts, deploy-timings.ts), by key path. */
const DEFAULTS_AFTER_SCHEMA: Readonly<Record<string, unknown>> = Object.fromEntries(
  Object.entries(DEFAULT_DEPLOY_TIMINGS)
    .filter(([key]) => key !== "stopTimeoutSeconds")
    .map(([key, value]) => [`apps.<name>.deploy.${key}`, value]),
);

/** zod's bounds of a plain integer: no limit a reader needs to see. */
const SAFE = Number.MAX_SAFE_INTEGER;

interface Section {
  readonly path: string;
  readonly schema: JsonSchema;
}

const code = (text: string) => `\`${text.replace(/\|/g, "\\|")}\``;
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/</g, "\\<").replace(/\n/g, " ");

/** The object form of a key's schema (itself, a map's value, or the object member of a union). */
function objectOf(schema: JsonSchema): JsonSchema | undefined {
  if (schema.properties !== undefined) return schema;
  return schema.anyOf?.find((s) => s.properties !== undefined);
}

/** A map (`apps`, `plans`, `env`): an object whose keys are names and whose values share one schema. */
function mapValue(schema: JsonSchema): JsonSchema | undefined {
  return schema.properties === undefined && typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
}

function typeOf(schema: JsonSchema): string {
  if (schema.anyOf !== undefined) return schema.anyOf.map(typeOf).join(" or ");
  if (schema.enum !== undefined) return "string";
  const value = mapValue(schema);
  if (value !== undefined) return `map of name → ${typeOf(value)}`;
  if (schema.type === "array") return `list of ${schema.items === undefined ? "values" : typeOf(schema.items)}`;
  return schema.type ?? "any";
}

function limitsOf(schema: JsonSchema): string[] {
  const limits: string[] = [];
  if (schema.anyOf !== undefined) return schema.anyOf.flatMap(limitsOf);
  if (schema.enum !== undefined) limits.push(`one of ${schema.enum.map((v) => code(String(v))).join(", ")}`);
  // An integer above an exclusive minimum starts one higher: `> 0` reads as 1–max.
  const step = schema.type === "integer" ? 1 : undefined;
  const exclusiveLow = schema.exclusiveMinimum !== undefined && step !== undefined ? schema.exclusiveMinimum + step : undefined;
  const low = schema.minimum !== undefined && schema.minimum > -SAFE ? `${schema.minimum}` : exclusiveLow === undefined ? undefined : `${exclusiveLow}`;
  const high = schema.maximum !== undefined && schema.maximum < SAFE ? `${schema.maximum}` : undefined;
  if (low !== undefined && high !== undefined) limits.push(`${low}–${high}`);
  else if (low !== undefined) limits.push(`≥ ${low}`);
  else if (high !== undefined) limits.push(`≤ ${high}`);
  if (schema.exclusiveMinimum !== undefined && exclusiveLow === undefined) limits.push(`> ${schema.exclusiveMinimum}`);
  if (schema.exclusiveMaximum !== undefined) limits.push(`< ${schema.exclusiveMaximum}`);
  if (schema.minLength !== undefined && schema.minLength > 1) limits.push(`at least ${schema.minLength} characters`);
  if (schema.minLength === 1) limits.push("not empty");
  if (schema.maxLength !== undefined) limits.push(`at most ${schema.maxLength} characters`);
  if (schema.minItems !== undefined) limits.push(`at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}`);
  if (schema.maxItems !== undefined) limits.push(`at most ${schema.maxItems} items`);
  if (schema.pattern !== undefined) limits.push(code(schema.pattern));
  if (schema.propertyNames?.pattern !== undefined) limits.push(`names ${code(schema.propertyNames.pattern)}`);
  if (schema.items !== undefined && schema.type === "array") limits.push(...limitsOf(schema.items).map((l) => `each ${l}`));
  return limits;
}

function defaultOf(path: string, schema: JsonSchema, required: boolean): string {
  if (required) return "required";
  const value = schema.default !== undefined ? schema.default : DEFAULTS_AFTER_SCHEMA[path];
  return value === undefined ? "–" : code(JSON.stringify(value));
}

/** Every object of the file that gets a table of its own, parents before children. */
function sections(path: string, schema: JsonSchema): Section[] {
  const found: Section[] = [];
  const object = objectOf(schema);
  const value = mapValue(schema);
  if (object !== undefined) {
    found.push({ path, schema: object });
    for (const [key, child] of Object.entries(object.properties ?? {})) found.push(...sections(path === "" ? key : `${path}.${key}`, child));
  } else if (value !== undefined && objectOf(value) !== undefined) {
    found.push(...sections(`${path}.<name>`, value));
  }
  return found;
}

const anchor = (path: string) => path.toLowerCase().replace(/[^a-z0-9 _-]/g, "").replace(/ /g, "-");
const title = (path: string) => (path === "" ? "Top level" : `\`${path}\``);

function table(section: Section, tabled: ReadonlySet<string>): string[] {
  const rows = ["| key | type | default | limits | meaning |", "| --- | --- | --- | --- | --- |"];
  const required = new Set(section.schema.required ?? []);
  for (const [key, child] of Object.entries(section.schema.properties ?? {})) {
    const path = section.path === "" ? key : `${section.path}.${key}`;
    const nested = [path, `${path}.<name>`].find((p) => tabled.has(p));
    const name = nested === undefined ? code(key) : `[${code(key)}](#${anchor(`${nested}`)})`;
    const limits = limitsOf(child);
    rows.push(`| ${name} | ${cell(typeOf(child))} | ${defaultOf(path, child, required.has(key))} | ${limits.length === 0 ? "–" : limits.join("; ")} | ${cell(child.description ?? "")} |`);
  }
  return rows;
}

/** The whole page, from the JSON Schema that `configJsonSchema()` returns. */
export function configReferenceMarkdown(schema: JsonSchema): string {
  const all = sections("", schema);
  const tabled = new Set(all.map((s) => s.path));
  const out = [
    "# Configuration reference",
    "",
    "<!-- Generated from config/schema.ts by `npm run docs:generate`; edit the schema's `.describe()` lines, not this page. -->",
    "",
    "Every key of `tcp-addon.yaml`, from the config schema itself. A default marked `required` has",
    "none: the key must be set. A key that is left out takes its default; `–` means it stays unset",
    "(the meaning says what that does). Every object is strict: an unknown key is an error. How the",
    "keys work together, with examples: [The config file](configuration.md).",
    "",
    "## In your editor",
    "",
    `The package ships the same rules as a JSON Schema, \`${CONFIG_JSON_SCHEMA_PATH}\`. With the YAML`,
    "language server (VS Code's YAML extension, and editors that use the server), a first line",
    "naming it gives completion, hover text and checks while you type:",
    "",
    "```yaml",
    `# yaml-language-server: $schema=node_modules/tcp-addon/${CONFIG_JSON_SCHEMA_PATH}`,
    "project: acme",
    "```",
    "",
    `(In a clone of tcp-addon: \`$schema=${CONFIG_JSON_SCHEMA_PATH}\`, as in the example [tcp-addon.yaml](../tcp-addon.yaml).)`,
    "",
    "The JSON Schema holds every key, type, default, range and pattern below. The rules that span",
    "several keys are checked by `tcp-addon validate` (and synth, and local mode) only: exactly one of",
    "`procfile` and `command`; `cpu` and `memory` as a Fargate pair; `PORT` and `TCP_URL` not in `env`",
    "or `secrets`, and no name in both; no secret-looking value in `env`; `maxConnectionsPerIp` at most",
    "`maxConnections` and only with `clientIp`; `tls` with `certificateArn` or `domain` and",
    "`hostedZoneId`, a certificate that covers `domain.name`, and a plain `domain.name`; `containers.min`",
    "at most `max`; one of `state.s3` and `state.local`, a relative `state.local.path`; `alarms.email`",
    "or `alarms.topicArn`, not both; no user plan named like a built-in one; `allowedCidrs` entries",
    "that are CIDR blocks; at least one app; each app's plan known and its Procfile readable; ports and",
    "load balancers across apps; and the ranges and order of the `deploy` timings. The errors these",
    "give are in [Errors](errors.md).",
    "",
  ];
  for (const section of all) {
    out.push(`## ${title(section.path)}`, "", ...table(section, tabled), "");
  }
  return `${out.join("\n").trimEnd()}\n`;
}
