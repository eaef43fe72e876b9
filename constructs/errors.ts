/** Stable codes for the errors the constructs throw; callers branch on these, not on messages. */
export type ConstructErrorCode = "INVALID_PROPS" | "LISTENER_LIMIT" | "PORT_TAKEN" | "AGENT_SOURCES_MISSING";

/** A construct was given props it cannot declare. The message is one line: what, expected, fix. */
export class ConstructError extends Error {
  override readonly name = "ConstructError";
  constructor(readonly code: ConstructErrorCode, message: string) {
    super(message);
  }
}
