import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";
import { isRecord, oneLine } from "../ground";
import { tooBigProblem, tooSmallProblem } from "./app-rules";
import {
  AddonConfigSchema,
  AgentSchema,
  AlarmSwitchesSchema,
  ProjectAlarmsSchema,
  AppSchema,
  DeploySchema,
  LocalStateSchema,
  NetworkSchema,
  PlanSchema,
  S3StateSchema,
  StateSchema,
} from "./schema";

/**
 * Wording the issues: each problem becomes one line `file:line: path: problem; fix`, in file
 * order, with zod's issues rewritten to say what was wrong and what to write instead.
 */

export type PathSegment = string | number;

/** The line of the key at a path in the file, or of its closest parent; undefined without a file. */
export type Locate = (at: readonly PathSegment[]) => number | undefined;

export interface Issue {
  readonly path: readonly PathSegment[];
  readonly message: string;
}

/** One line per issue, sorted by line in the file, duplicates dropped. */
export function formatIssues(issues: readonly Issue[], label: string | undefined, locate: Locate): string[] {
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
export function zodIssue(issue: z.core.$ZodIssue, raw: unknown): Issue[] {
  const at = issue.path.filter((p): p is PathSegment => typeof p !== "symbol");
  const got = valueAt(raw, at);
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeysAt(at);
      return issue.keys.map((key) => {
        const meant = known === undefined ? undefined : meantKey(key, known);
        return {
          path: [...at, key],
          message: `unknown key "${key}"${meant === undefined ? "" : `; did you mean "${meant}"?`}${known === undefined ? "" : `${meant === undefined ? ";" : ""} expected one of: ${known.join(", ")}`}`,
        };
      });
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
      return [{ path: at, message: tooSmallProblem(issue.minimum, describe(got)) }];
    }
    case "too_big": {
      if (issue.origin === "array") return [{ path: at, message: `must list at most ${issue.maximum} item(s)` }];
      if (issue.origin === "string") return [{ path: at, message: `must be at most ${issue.maximum} characters` }];
      return [{ path: at, message: tooBigProblem(issue.maximum, describe(got)) }];
    }
    case "invalid_union": {
      // A value that may take two shapes (containers: a number or { min, max }): report the
      // problems of the shape the value has, else say which shapes are accepted.
      const branch = issue.errors.find((errors) => !errors.some((e) => e.code === "invalid_type" && e.path.length === 0));
      if (branch !== undefined) return branch.flatMap((e) => zodIssue({ ...e, path: [...at, ...e.path] } as z.core.$ZodIssue, raw));
      const shapes = at[at.length - 1] === "containers" ? "a number of tasks or { min, max }" : "one of the accepted shapes";
      return [{ path: at, message: got === undefined ? `required; set it to ${shapes}` : `expected ${shapes}, got ${describe(got)}` }];
    }
    case "invalid_format":
      return [{ path: at, message: typeof got === "string" ? `${issue.message}, got ${JSON.stringify(got)}` : issue.message }];
    default:
      return [{ path: at, message: issue.message }];
  }
}

/**
 * The known key a typo most likely meant: the closest by edit distance when it is within a third
 * of the typed key's length (at least 1), else one that contains it or that it contains, ignoring
 * case (`drainSeconds` for `agentDrainSeconds`); none when nothing is that close.
 */
export function meantKey(typed: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const best = closest(typed, [...known]);
  if (distance(typed, best) <= Math.max(1, Math.floor(typed.length / 3))) return best;
  const lower = typed.toLowerCase();
  if (lower.length < 5) return undefined;
  return known.find((k) => k.toLowerCase().includes(lower) || (k.length >= 5 && lower.includes(k.toLowerCase())));
}

/**
 * The strict objects of the schema, by where they sit in the file: a path pattern (`*` is any
 * name) and the object's shape, whose keys a typo is compared against.
 */
const KNOWN_KEYS: readonly { readonly at: readonly string[]; readonly shape: object }[] = [
  { at: [], shape: AddonConfigSchema.shape },
  { at: ["network"], shape: NetworkSchema.shape },
  { at: ["agent"], shape: AgentSchema.shape },
  { at: ["state"], shape: StateSchema.shape },
  { at: ["state", "s3"], shape: S3StateSchema.shape },
  { at: ["state", "local"], shape: LocalStateSchema.shape },
  { at: ["plans", "*"], shape: PlanSchema.shape },
  { at: ["apps", "*"], shape: AppSchema.shape },
  { at: ["apps", "*", "deploy"], shape: DeploySchema.shape },
  { at: ["apps", "*", "alarms"], shape: AlarmSwitchesSchema.shape },
  { at: ["apps", "*", "containers"], shape: { min: 0, max: 0 } },
  { at: ["alarms"], shape: ProjectAlarmsSchema.shape },
];

function knownKeysAt(at: readonly PathSegment[]): string[] | undefined {
  const entry = KNOWN_KEYS.find((k) => k.at.length === at.length && k.at.every((segment, i) => segment === "*" || segment === at[i]));
  return entry === undefined ? undefined : Object.keys(entry.shape);
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
