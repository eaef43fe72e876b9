import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import { isRecord, messageOf } from "../ground";
import { ConfigError } from "./errors";
import type { Locate } from "./issues";

/**
 * Finding and reading a config file: `$TCP_ADDON_CONFIG` or `tcp-addon.yaml`, YAML or JSON,
 * with a locator that maps a path in the data back to its line for the issues.
 */

export const CONFIG_ENV = "TCP_ADDON_CONFIG";
/** The config file read when neither `--config` nor `TCP_ADDON_CONFIG` names one, in the current folder. */
export const DEFAULT_CONFIG_FILE = "tcp-addon.yaml";

/** The config file to read: `$TCP_ADDON_CONFIG`, else `tcp-addon.yaml`, resolved against `cwd`. */
export function configPath(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromEnv = env[CONFIG_ENV]?.trim();
  return path.resolve(cwd, fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_CONFIG_FILE);
}

/** A config file's data, the label its issues start with, and where each path sits in it. */
export interface ConfigFile {
  readonly raw: unknown;
  readonly label: string;
  readonly locate: Locate;
}

/**
 * Reads and parses a config file: `.json` as JSON, anything else as YAML.
 * @throws ConfigError (code NOT_FOUND or UNREADABLE) with one line per problem.
 */
export function readConfigFile(absolute: string): ConfigFile {
  const label = displayPath(absolute);
  const text = readConfigText(absolute, label);
  return { label, ...parseConfigText(text, label, path.extname(absolute).toLowerCase() === ".json") };
}

/** A path relative to the working folder when it lies inside it, else absolute. */
export function displayPath(absolute: string): string {
  const relative = path.relative(process.cwd(), absolute);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : absolute;
}

/** The `code` of a Node system error (ENOENT, EACCES, ...). */
export function errnoCode(err: unknown): string | undefined {
  return isRecord(err) && typeof err.code === "string" ? err.code : undefined;
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
      [`${label}: cannot read the YAML (${messageOf(err)}); simplify anchors and aliases`],
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
