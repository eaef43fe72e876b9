import * as path from "node:path";
import { displayPath, readConfigFile } from "./file";
import { resolveParsed } from "./resolve";
import type { ResolvedConfig } from "./schema";

export { CONFIG_ENV, DEFAULT_CONFIG_FILE, configPath } from "./file";

/**
 * Reading a config: find the file and parse it (file.ts), check the schema and the rules that
 * span fields, apps or files (resolve.ts), word every problem as `file:line: path: problem; fix`
 * (issues.ts). All problems are thrown at once as one ConfigError.
 */

/**
 * Reads, parses and resolves a config file. `.json` is read as JSON; `.yaml`, `.yml` and any
 * other name as YAML. Paths inside the file are relative to the file's folder.
 * @throws ConfigError (code NOT_FOUND, UNREADABLE or INVALID) with one line per problem.
 */
export function loadConfig(file: string): ResolvedConfig {
  const absolute = path.resolve(file);
  const { raw, label, locate } = readConfigFile(absolute);
  return resolveParsed(raw, { baseDir: path.dirname(absolute), source: absolute, label, locate });
}

/**
 * Resolves an already-parsed config (for example built in TypeScript). Only Procfiles are
 * read from disk, relative to `baseDir`. `source` labels the issues and fills `source`.
 * @throws ConfigError with one line per problem.
 */
export function resolveConfig(raw: unknown, baseDir: string, source?: string): ResolvedConfig {
  const absolute = source === undefined ? undefined : path.resolve(source);
  return resolveParsed(raw, {
    baseDir: path.resolve(baseDir),
    ...(absolute === undefined ? {} : { source: absolute, label: displayPath(absolute) }),
    locate: () => undefined,
  });
}
