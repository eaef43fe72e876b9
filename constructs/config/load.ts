import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { ConfigError, ProcfileError, oneLine } from "./errors";
import { planCatalogue } from "./plans";
import { placeApps } from "./ports";
import { parseProcfile } from "./procfile";
import {
  AddonConfigSchema,
  AgentSchema,
  APP_NAME,
  AppSchema,
  NetworkSchema,
  PlanSchema,
  type Plan,
  type ResolvedApp,
  type ResolvedConfig,
} from "./schema";

/**
 * Reading a config: find the file, parse YAML or JSON, check the schema, then the rules that
 * span fields, apps or files (plans, Procfiles, ports, NLB placement). Every problem is
 * collected and thrown at once as a ConfigError whose issues read `file:line: path: problem; fix`.
 */

export const CONFIG_ENV = "TCP_ADDON_CONFIG";
export const DEFAULT_CONFIG_FILE = "tcp-addon.yaml";

/** A file that is not a Procfile at all would otherwise fill the terminal. */
const MAX_PROCFILE_ISSUES = 3;

type PathSegment = string | number;
type Locate = (at: readonly PathSegment[]) => number | undefined;

interface Issue {
  readonly path: readonly PathSegment[];
  readonly message: string;
}

/** The config file to read: `$TCP_ADDON_CONFIG`, else `tcp-addon.yaml`, resolved against `cwd`. */
export function configPath(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromEnv = env[CONFIG_ENV]?.trim();
  return path.resolve(cwd, fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_CONFIG_FILE);
}

/**
 * Reads, parses and resolves a config file. `.json` is read as JSON; `.yaml`, `.yml` and any
 * other name as YAML. Paths inside the file are relative to the file's folder.
 * @throws ConfigError (code NOT_FOUND, UNREADABLE or INVALID) with one line per problem.
 */
export function loadConfig(file: string): ResolvedConfig {
  const absolute = path.resolve(file);
  const label = displayPath(absolute);
  const text = readConfigText(absolute, label);
  const { raw, locate } = parseConfigText(text, label, path.extname(absolute).toLowerCase() === ".json");
  return resolve(raw, path.dirname(absolute), absolute, label, locate);
}

/**
 * Resolves an already-parsed config (for example built in TypeScript). Only Procfiles are
 * read from disk, relative to `baseDir`. `source` labels the issues and fills `source`.
 * @throws ConfigError with one line per problem.
 */
export function resolveConfig(raw: unknown, baseDir: string, source?: string): ResolvedConfig {
  const absolute = source === undefined ? undefined : path.resolve(source);
  const label = absolute === undefined ? undefined : displayPath(absolute);
  return resolve(raw, path.resolve(baseDir), absolute, label, () => undefined);
}

function readConfigText(absolute: string, label: string): string {
  try {
    return fs.readFileSync(absolute, "utf8");
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT") {
      throw new ConfigError(
        [`${label}: config file not found; create it (see tcp-addon.yaml in the repository) or set ${CONFIG_ENV} to its path`],
        "TCP_ADDON_CONFIG_NOT_FOUND",
      );
    }
    if (code === "EISDIR") {
      throw new ConfigError([`${label}: is a folder, not a config file; point ${CONFIG_ENV} at a .yaml or .json file`], "TCP_ADDON_CONFIG_UNREADABLE");
    }
    throw new ConfigError([`${label}: cannot read the config file (${code ?? String(err)}); check its permissions`], "TCP_ADDON_CONFIG_UNREADABLE");
  }
}

function parseConfigText(text: string, label: string, json: boolean): { raw: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const locate = documentLocator(doc, lineCounter);

  if (json) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      const message = messageOf(err);
      const position = /position (\d+)/.exec(message);
      const where = position === null ? "" : `:${lineCounter.linePos(Number(position[1])).line}`;
      throw new ConfigError(
        [`${label}${where}: JSON syntax error: ${message.replace(/\s*\(line \d+ column \d+\)/, "")}; fix the JSON or use YAML`],
        "TCP_ADDON_CONFIG_UNREADABLE",
      );
    }
    const duplicates = doc.errors.filter((e) => e.code === "DUPLICATE_KEY");
    if (duplicates.length > 0) throw new ConfigError(duplicates.map((e) => yamlIssue(label, e)), "TCP_ADDON_CONFIG_UNREADABLE");
    return { raw, locate };
  }

  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => yamlIssue(label, e)), "TCP_ADDON_CONFIG_UNREADABLE");
  try {
    return { raw: doc.toJS({ maxAliasCount: 100 }), locate };
  } catch (err) {
    throw new ConfigError(
      [`${label}: cannot read the YAML (${oneLine(messageOf(err))}); simplify anchors and aliases`],
      "TCP_ADDON_CONFIG_UNREADABLE",
    );
  }
}

function yamlIssue(label: string, err: { message: string; linePos?: [{ line: number; col: number }] | [{ line: number; col: number }, { line: number; col: number }] }): string {
  const first = (err.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
  const at = err.linePos?.[0];
  const where = at === undefined ? "" : `:${at.line}:${at.col}`;
  return `${label}${where}: YAML syntax error: ${first}; fix the indentation or quoting on that line`;
}

/** Maps a path in the data to the line of its key in the file, or its closest parent's. */
function documentLocator(doc: Document, lineCounter: LineCounter): Locate {
  const lineOf = (node: unknown): number | undefined =>
    isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  return (at) => {
    let node: unknown = doc.contents;
    let line = lineOf(node);
    for (const segment of at) {
      if (isMap(node)) {
        const pair = node.items.find((item) => String(isScalar(item.key) ? item.key.value : item.key) === String(segment));
        if (pair === undefined) break;
        line = lineOf(pair.key) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        const item: unknown = node.items[segment];
        if (item === undefined) break;
        line = lineOf(item) ?? line;
        node = item;
      } else {
        break;
      }
    }
    return line;
  };
}

function resolve(
  raw: unknown,
  baseDir: string,
  source: string | undefined,
  label: string | undefined,
  locate: Locate,
): ResolvedConfig {
  const issues: Issue[] = [];
  const parsed = AddonConfigSchema.safeParse(raw);
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap((i) => zodIssue(i, raw)));

  // Cross-field rules run on every part that parsed, so that one broken app does not hide
  // another app's problems.
  const rawRoot = isRecord(raw) ? raw : {};
  const userPlans = AddonConfigSchema.shape.plans.safeParse(rawRoot.plans);
  const catalogue = planCatalogue(userPlans.success ? userPlans.data : {});
  const tolerated = new Set([...Object.keys(catalogue), ...Object.keys(isRecord(rawRoot.plans) ? rawRoot.plans : {})]);

  // Per app, each field is read on its own: a rule runs when the fields it needs are valid.
  const fields = AppSchema.shape;
  const candidates: { name: string; port?: number; loadBalancer?: number; placeable: boolean }[] = [];
  const commands = new Map<string, { command: string; workdir: string }>();
  for (const [name, value] of Object.entries(isRecord(rawRoot.apps) ? rawRoot.apps : {})) {
    if (!APP_NAME.test(name) || !isRecord(value)) continue;
    const at = ["apps", name];
    const plan = fields.plan.safeParse(value.plan);
    const port = fields.port.safeParse(value.port);
    const loadBalancer = fields.loadBalancer.safeParse(value.loadBalancer);
    candidates.push({
      name,
      port: port.success ? port.data : undefined,
      loadBalancer: loadBalancer.success ? loadBalancer.data : undefined,
      placeable: port.success && loadBalancer.success,
    });
    if (plan.success && !tolerated.has(plan.data)) {
      issues.push({
        path: [...at, "plan"],
        message: `unknown plan "${plan.data}"; known: ${Object.keys(catalogue).join(", ")}`,
      });
    }
    const command = fields.command.safeParse(value.command);
    const procfile = fields.procfile.safeParse(value.procfile);
    if (command.success && command.data !== undefined) {
      commands.set(name, { command: command.data, workdir: baseDir });
    } else if (command.success && procfile.success && procfile.data !== undefined) {
      const found = readTcpCommand(path.resolve(baseDir, procfile.data));
      if ("problem" in found) issues.push({ path: [...at, "procfile"], message: found.problem });
      else commands.set(name, found);
    }
  }

  const placeable = candidates.filter((c) => c.placeable);
  const placement = placeApps(placeable.map(({ name, port, loadBalancer }) => ({ name, port, loadBalancer })));
  for (const issue of placement.issues) issues.push({ path: ["apps", issue.app, issue.field], message: issue.message });

  if (issues.length > 0 || !parsed.success) {
    throw new ConfigError(formatIssues(issues, label, locate));
  }

  const config = parsed.data;
  const placements = new Map(placement.placements.map((p) => [p.name, p]));
  const resolvedApps: ResolvedApp[] = Object.entries(config.apps).map(([name, spec]) => {
    const place = placements.get(name);
    const plan: Plan | undefined = catalogue[spec.plan];
    const run = commands.get(name);
    if (place === undefined || plan === undefined || run === undefined) {
      throw new Error(`internal: app "${name}" passed validation without a plan, command or placement`);
    }
    return {
      name,
      image: spec.image,
      command: run.command,
      workdir: run.workdir,
      plan,
      containers: spec.containers,
      port: place.port,
      cpu: spec.cpu,
      memory: spec.memory,
      env: spec.env,
      secrets: spec.secrets,
      allowedCidrs: spec.allowedCidrs,
      loadBalancer: place.loadBalancer,
    };
  });

  return {
    project: config.project,
    region: config.region,
    ...(config.network === undefined ? {} : { network: config.network }),
    ...(config.agent.image === undefined ? {} : { agentImage: config.agent.image }),
    plans: catalogue,
    apps: resolvedApps,
    ...(source === undefined ? {} : { source }),
  };
}

function readTcpCommand(procfile: string): { command: string; workdir: string } | { problem: string } {
  const label = displayPath(procfile);
  let text: string;
  try {
    text = fs.readFileSync(procfile, "utf8");
  } catch (err) {
    const code = errnoCode(err);
    return code === "ENOENT"
      ? { problem: `Procfile not found at ${label}; fix the path (relative to the config file's folder) or use \`command:\`` }
      : { problem: `cannot read ${label} (${code ?? String(err)}); check the path and its permissions` };
  }
  try {
    const processes = parseProcfile(text, label, { requireTcp: true });
    const command = processes.get("tcp");
    if (command === undefined) return { problem: `${label}: no "tcp" process; add a line like "tcp: node server.js"` };
    return { command, workdir: path.dirname(procfile) };
  } catch (err) {
    if (err instanceof ProcfileError) {
      const shown = err.issues.slice(0, MAX_PROCFILE_ISSUES).join("; ");
      const more = err.issues.length - MAX_PROCFILE_ISSUES;
      return { problem: more > 0 ? `${shown}; and ${more} more problem(s) in ${label}` : shown };
    }
    throw err;
  }
}

function formatIssues(issues: readonly Issue[], label: string | undefined, locate: Locate): string[] {
  const located = issues.map((issue, order) => ({ issue, order, line: locate(issue.path) }));
  located.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || a.order - b.order);
  const lines = located.map(({ issue, line }) => {
    const where = label === undefined ? "" : line === undefined ? `${label}: ` : `${label}:${line}: `;
    const at = issue.path.length === 0 ? (label === undefined ? "config: " : "") : `${issue.path.join(".")}: `;
    return oneLine(`${where}${at}${issue.message}`);
  });
  return [...new Set(lines)];
}

/** Turns one zod issue into issues that say what was wrong and how to fix it. */
function zodIssue(issue: z.core.$ZodIssue, raw: unknown): Issue[] {
  const at = issue.path.filter((p): p is PathSegment => typeof p !== "symbol");
  const got = valueAt(raw, at);
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeysAt(at);
      return issue.keys.map((key) => ({
        path: [...at, key],
        message: `unknown key "${key}"${known === undefined ? "" : `; expected one of: ${known.join(", ")}`}`,
      }));
    }
    case "invalid_key": {
      const kind = recordKind(at);
      const why = issue.issues[0]?.message ?? "invalid name";
      return [{ path: at, message: `invalid ${kind} ${JSON.stringify(at[at.length - 1])}; ${why}` }];
    }
    case "invalid_type": {
      const expected = issue.expected === "int" ? "an integer" : `${article(issue.expected)} ${issue.expected}`;
      if (at.length === 0) {
        return [{
          path: at,
          message: got === undefined || got === null
            ? "the file is empty; expected keys project, region and apps"
            : `expected a mapping with keys project, region and apps, got ${describe(got)}`,
        }];
      }
      if (got === undefined) return [{ path: at, message: `required; set it to ${expected}` }];
      return [{ path: at, message: `expected ${expected}, got ${describe(got)}` }];
    }
    case "too_small": {
      if (issue.origin === "array") {
        return [{ path: at, message: `must list at least ${issue.minimum === 1 ? "one item" : `${issue.minimum} items`}` }];
      }
      if (issue.origin === "string") return [{ path: at, message: "must not be empty" }];
      return [{ path: at, message: `must be at least ${issue.minimum}, got ${describe(got)}` }];
    }
    case "too_big": {
      if (issue.origin === "array") return [{ path: at, message: `must list at most ${issue.maximum} item(s)` }];
      if (issue.origin === "string") return [{ path: at, message: `must be at most ${issue.maximum} characters` }];
      return [{ path: at, message: `must be at most ${issue.maximum}, got ${describe(got)}` }];
    }
    case "invalid_format":
      return [{ path: at, message: typeof got === "string" ? `${issue.message}, got ${JSON.stringify(got)}` : issue.message }];
    default:
      return [{ path: at, message: issue.message }];
  }
}

function knownKeysAt(at: readonly PathSegment[]): string[] | undefined {
  const shape =
    at.length === 0
      ? AddonConfigSchema.shape
      : at.length === 1 && at[0] === "network"
        ? NetworkSchema.shape
        : at.length === 1 && at[0] === "agent"
          ? AgentSchema.shape
          : at.length === 2 && at[0] === "plans"
            ? PlanSchema.shape
            : at.length === 2 && at[0] === "apps"
              ? AppSchema.shape
              : undefined;
  return shape === undefined ? undefined : Object.keys(shape);
}

function recordKind(at: readonly PathSegment[]): string {
  const parent = at[at.length - 2];
  if (parent === "apps" && at.length === 2) return "app name";
  if (parent === "plans" && at.length === 2) return "plan name";
  if (parent === "env" || parent === "secrets") return "variable name";
  return "key";
}

function valueAt(raw: unknown, at: readonly PathSegment[]): unknown {
  let node = raw;
  for (const segment of at) {
    if (Array.isArray(node) && typeof segment === "number") node = node[segment];
    else if (isRecord(node)) node = node[String(segment)];
    else return undefined;
  }
  return node;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)} (a string)`;
  if (typeof value === "number") return String(value);
  return `${String(value)} (a ${typeof value})`;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errnoCode(err: unknown): string | undefined {
  return isRecord(err) && typeof err.code === "string" ? err.code : undefined;
}

/** A path relative to the working folder when it lies inside it, else absolute. */
function displayPath(absolute: string): string {
  const relative = path.relative(process.cwd(), absolute);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : absolute;
}

/** An error's message, also for errors from another realm (which fail `instanceof Error`). */
function messageOf(err: unknown): string {
  return typeof err === "object" && err !== null && "message" in err && typeof err.message === "string"
    ? err.message
    : String(err);
}
