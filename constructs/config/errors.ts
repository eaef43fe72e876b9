/**
 * Errors raised while reading a config file. Every problem is one line, `path: problem; fix`,
 * so the entry point can print `issues` one per line and exit non-zero.
 */

export type ConfigErrorCode =
  /** The file parsed but breaks the schema or a cross-field rule. */
  | "TCP_ADDON_CONFIG_INVALID"
  /** The file does not exist. */
  | "TCP_ADDON_CONFIG_NOT_FOUND"
  /** The file exists but could not be read or is not valid YAML / JSON. */
  | "TCP_ADDON_CONFIG_UNREADABLE";

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** One line per problem, each starting with the file (when known) and the dotted path. */
  readonly issues: readonly string[];

  constructor(issues: readonly string[], code: ConfigErrorCode = "TCP_ADDON_CONFIG_INVALID") {
    const first = issues[0] ?? "invalid config";
    super(issues.length > 1 ? `${first} (and ${issues.length - 1} more)` : first);
    this.name = "ConfigError";
    this.code = code;
    this.issues = issues.map(oneLine);
  }
}

/** A Procfile that cannot be used: each issue is `file:line: problem`. */
export class ProcfileError extends Error {
  readonly code = "TCP_ADDON_PROCFILE_INVALID";
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    const first = issues[0] ?? "invalid Procfile";
    super(issues.length > 1 ? `${first} (and ${issues.length - 1} more)` : first);
    this.name = "ProcfileError";
    this.issues = issues.map(oneLine);
  }
}

/** Collapses any line breaks so that an issue always prints as exactly one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
