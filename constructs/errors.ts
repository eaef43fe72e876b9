import { TcpAddonError } from "../ground";

/** Stable codes for the errors the constructs throw; callers branch on these, not on messages. */
export type ConstructErrorCode =
  | "TCP_ADDON_INVALID_PROPS"
  | "TCP_ADDON_LISTENER_LIMIT"
  | "TCP_ADDON_PORT_TAKEN"
  | "TCP_ADDON_RULE_LIMIT"
  | "TCP_ADDON_AGENT_SOURCES_MISSING";

/** A construct was given props it cannot declare. The message is one line: what, expected, fix. */
export class ConstructError extends TcpAddonError {
  /** Which kind of problem; see the codes of {@link ConstructErrorCode}. */
  declare readonly code: ConstructErrorCode;

  constructor(code: ConstructErrorCode, message: string) {
    super(code, message);
  }
}
