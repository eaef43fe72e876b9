import { TcpAddonError } from "../ground";

export { oneLine, TcpAddonError } from "../ground";

/** The codes a {@link ConfigError} carries. */
export type ConfigErrorCode =
  /** The file parsed but breaks the schema or a cross-field rule. */
  | "TCP_ADDON_CONFIG_INVALID"
  /** The file does not exist. */
  | "TCP_ADDON_CONFIG_NOT_FOUND"
  /** The file exists but could not be read or is not valid YAML / JSON. */
  | "TCP_ADDON_CONFIG_UNREADABLE";

/** A config that cannot be used: each issue is `file:line: path: problem; fix`. */
export class ConfigError extends TcpAddonError {
  /** Which kind of problem: invalid content, a missing file, or a file that cannot be read. */
  declare readonly code: ConfigErrorCode;

  constructor(issues: readonly string[], code: ConfigErrorCode = "TCP_ADDON_CONFIG_INVALID") {
    super(code, issues.length > 0 ? issues : ["invalid config"]);
  }
}

/** A Procfile that cannot be used: each issue is `file:line: problem`. */
export class ProcfileError extends TcpAddonError {
  /** Always `TCP_ADDON_PROCFILE_INVALID`. */
  declare readonly code: "TCP_ADDON_PROCFILE_INVALID";

  constructor(issues: readonly string[]) {
    super("TCP_ADDON_PROCFILE_INVALID", issues.length > 0 ? issues : ["invalid Procfile"]);
  }
}
