import Ajv from "ajv";
import * as fs from "node:fs";
import * as path from "node:path";
import type { z } from "zod";
import { readConfigFile } from "../../config/file";
import { CONFIG_JSON_SCHEMA_PATH, configJsonSchema } from "../../config/json-schema";
import { AddonConfigSchema } from "../../config/schema";

/**
 * The JSON Schema of tcp-addon.yaml (schema/tcp-addon.schema.json) says what the zod schema says,
 * checked with a standard validator (ajv, draft-07): every valid config of the repository passes
 * both; every invalid fixture that zod refuses for a structural reason (an unknown key, a wrong
 * type, a value out of range or off its pattern) fails the JSON Schema too; and so does every
 * structural mutation of the valid configs, while a mutation zod accepts passes the JSON Schema.
 * Rules that span several keys (zod's refinements, `# rule:` fixtures) are left to validate.
 *
 * draft-07 because the YAML language server reads it in full: "Supports JSON Schema 7 and below"
 * (https://www.npmjs.com/package/yaml-language-server; drafts 2019-09 and 2020-12 came only in its
 * 1.20.0). A relative `$schema=` in the modeline is resolved from the YAML file's folder
 * (redhat-developer/yaml-language-server#499, "Support relative path in inline schema comment").
 */

const REPO = path.resolve(__dirname, "..", "..");
const INVALID = path.join(__dirname, "fixtures", "invalid");
const schema = configJsonSchema();
const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(schema);

/** Every config of the repository that is meant to be valid: the example, `fixtures/valid/`, and each tcp-addon.yaml. */
function validConfigs(): string[] {
  const found = [path.join(REPO, "tcp-addon.yaml")];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules") walk(full);
      } else if (/\.(ya?ml|json)$/.test(entry.name) && (full.includes(`${path.sep}fixtures${path.sep}valid${path.sep}`) || entry.name === "tcp-addon.yaml")) {
        found.push(full);
      }
    }
  };
  walk(path.join(REPO, "__tests__"));
  walk(path.join(REPO, "examples"));
  return found;
}

const parsed = (file: string): unknown => readConfigFile(file).raw;
const rel = (file: string) => path.relative(REPO, file);

/** True when at least one of zod's issues is about shape (key, type, range, pattern), not a rule. */
function structural(issues: readonly z.core.$ZodIssue[]): boolean {
  return issues.some((issue) => issue.code !== "custom");
}

function ajvErrors(): string {
  return ajv.errorsText(validate.errors, { separator: "; " });
}

describe("the JSON Schema of tcp-addon.yaml", () => {
  it("is the file the package ships, and compiles in ajv's strict mode", () => {
    expect(JSON.parse(fs.readFileSync(path.join(REPO, CONFIG_JSON_SCHEMA_PATH), "utf8"))).toEqual(schema);
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { files: string[] };
    expect(manifest.files).toContain(CONFIG_JSON_SCHEMA_PATH);
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
  });

  it("names the schema on the example config's first line", () => {
    const first = fs.readFileSync(path.join(REPO, "tcp-addon.yaml"), "utf8").split("\n")[0];
    expect(first).toBe(`# yaml-language-server: $schema=${CONFIG_JSON_SCHEMA_PATH}`);
  });

  it("describes every key, at every depth", () => {
    const undescribed: string[] = [];
    const walk = (node: Record<string, unknown>, at: string) => {
      const properties = node.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [key, child] of Object.entries(properties ?? {})) {
        if (typeof child.description !== "string" || child.description.length === 0) undescribed.push(`${at}${key}`);
        walk(child, `${at}${key}.`);
      }
      const more = [node.additionalProperties, node.items, ...((node.anyOf as unknown[]) ?? [])];
      for (const next of more) if (typeof next === "object" && next !== null) walk(next as Record<string, unknown>, at);
    };
    walk(schema, "");
    expect(undescribed).toEqual([]);
  });

  const valid = validConfigs();

  it("finds the valid configs (the example and fixtures/valid)", () => {
    expect(valid.map(rel)).toEqual(expect.arrayContaining(["tcp-addon.yaml"]));
    expect(valid.filter((f) => f.includes("fixtures")).length).toBeGreaterThanOrEqual(3);
  });

  it.each(valid.map((f) => [rel(f), f]))("accepts %s, as zod does", (_name, file) => {
    const raw = parsed(file);
    expect(AddonConfigSchema.safeParse(raw).error?.issues ?? []).toEqual([]);
    expect(validate(raw) ? "" : ajvErrors()).toBe("");
  });

  const invalid = fs.readdirSync(INVALID).filter((f) => f.endsWith(".yaml")).sort();

  it.each(invalid)("judges fixtures/invalid/%s as its first line says", (name) => {
    const file = path.join(INVALID, name);
    const kind = /^# (structural|rule): /.exec(fs.readFileSync(file, "utf8"))?.[1];
    expect(kind).toBeDefined();
    const raw = parsed(file);
    const result = AddonConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    const issues = result.error?.issues ?? [];
    expect(structural(issues) ? "structural" : "rule").toBe(kind);
    if (kind === "structural") expect(validate(raw)).toBe(false);
  });

  it("has invalid fixtures of both kinds", () => {
    const kinds = invalid.map((name) => /^# (structural|rule): /.exec(fs.readFileSync(path.join(INVALID, name), "utf8"))?.[1]);
    expect(kinds.filter((k) => k === "structural").length).toBeGreaterThanOrEqual(10);
    expect(kinds.filter((k) => k === "rule").length).toBeGreaterThanOrEqual(5);
  });

  it("agrees with zod on every mutation of the valid configs: an added key, a wrong type, a value out of range, a key removed", () => {
    const disagreements: string[] = [];
    let structuralCount = 0;
    for (const file of valid) {
      for (const { label, value } of mutations(parsed(file))) {
        const zod = AddonConfigSchema.safeParse(value);
        const json = validate(value);
        if (zod.success && !json) disagreements.push(`${rel(file)}: ${label}: zod accepts, the JSON Schema refuses (${ajvErrors()})`);
        if (!zod.success && structural(zod.error.issues)) {
          structuralCount++;
          if (json) disagreements.push(`${rel(file)}: ${label}: zod refuses (${zod.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}), the JSON Schema accepts`);
        }
      }
    }
    expect(disagreements).toEqual([]);
    expect(structuralCount).toBeGreaterThan(100);
  });
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Small changes to a valid config, one at a time: at every object an unknown key; at every key
 * its removal; at every value a value of another type; at every number 0, -1, 1.5 and a huge one;
 * at every string an empty one and one with spaces and capitals. Paths that differ only by an
 * app's or plan's name are mutated once.
 */
function mutations(config: unknown): { label: string; value: unknown }[] {
  const out: { label: string; value: unknown }[] = [];
  const seen = new Set<string>();
  const visit = (node: Json, at: (string | number)[]) => {
    const shape = at.map((k, i) => (i > 0 && ["apps", "plans", "env", "secrets"].includes(String(at[i - 1])) ? "<name>" : typeof k === "number" ? "[]" : k)).join(".");
    if (seen.has(shape)) return;
    seen.add(shape);
    const replace = (label: string, value: Json) => out.push({ label: `${at.join(".") || "(root)"}: ${label}`, value: setAt(config as Json, at, value) });
    if (Array.isArray(node)) {
      replace("an object instead of a list", { a: 1 });
      replace("an empty list", []);
      node.forEach((child, i) => visit(child, [...at, i]));
    } else if (node !== null && typeof node === "object") {
      replace("an unknown key added", { ...node, unknownKey: 1 });
      replace("a list instead of an object", [1]);
      for (const key of Object.keys(node)) {
        const { [key]: _removed, ...rest } = node;
        replace(`${key} removed`, rest);
        visit(node[key]!, [...at, key]);
      }
    } else if (typeof node === "number") {
      for (const n of [0, -1, 1.5, 1e12]) replace(`${n}`, n);
      replace("a string instead of a number", "12");
    } else if (typeof node === "string") {
      replace("an empty string", "");
      replace("spaces and capitals", "Not Valid Here");
      replace("a number instead of a string", 7);
    } else if (typeof node === "boolean") {
      replace("a string instead of a boolean", "yes");
    }
  };
  visit(config as Json, []);
  return out;
}

function setAt(root: Json, at: readonly (string | number)[], value: Json): Json {
  if (at.length === 0) return value;
  const [head, ...rest] = at;
  if (Array.isArray(root)) return root.map((child, i) => (i === head ? setAt(child, rest, value) : child));
  const object = root as { [key: string]: Json };
  return { ...object, [head as string]: setAt(object[head as string]!, rest, value) };
}
