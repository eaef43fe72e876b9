import { TcpAddonError } from "../agent/errors";

/**
 * Errors of local mode. Each has a stable `code` for callers that branch on it, and a
 * one-line message for the user.
 */

export type LocalErrorCode =
  /** The balancer could not listen on the app's port (in use, or not allowed). */
  | "TCP_ADDON_LOCAL_PORT_UNAVAILABLE"
  /** A replica exited before it became ready, too many times in a row. */
  | "TCP_ADDON_LOCAL_CRASH_LOOP"
  /** A replica exited before it became ready (one attempt). */
  | "TCP_ADDON_LOCAL_EXITED_BEFORE_READY"
  /** A replica did not become ready in time (one attempt). */
  | "TCP_ADDON_LOCAL_READY_TIMEOUT"
  /** The replica was asked to stop before it became ready. */
  | "TCP_ADDON_LOCAL_STOPPED"
  /** `--only` named an app that the config does not have. */
  | "TCP_ADDON_LOCAL_UNKNOWN_APP"
  /** A flag is unknown or its value is wrong. */
  | "TCP_ADDON_LOCAL_USAGE"
  /** An app has `tls:` and local mode has no certificate to terminate it with. */
  | "TCP_ADDON_LOCAL_NO_CERTIFICATE";

export class LocalError extends TcpAddonError {
  declare readonly code: LocalErrorCode;

  constructor(code: LocalErrorCode, message: string) {
    super(code, message);
  }
}
