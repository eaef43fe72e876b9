/**
 * Errors the agent raises where a caller may branch on them. The `code` is stable;
 * the message is one line meant for a person.
 */
export class AgentError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A flag or environment variable is missing, unknown or out of range. The CLI exits 2. */
export class FlagError extends AgentError {
  constructor(message: string) {
    super("ERR_AGENT_FLAG", message);
  }
}

/** The listen or health port could not be bound. The CLI exits 1. */
export class ListenError extends AgentError {
  readonly port: number;

  constructor(what: string, host: string, port: number, cause: NodeJS.ErrnoException) {
    super("ERR_AGENT_LISTEN", `cannot listen on ${host}:${port} for ${what}: ${cause.code ?? cause.message}`);
    this.port = port;
  }
}

/** The app did not accept connections on its port within the start timeout. */
export class AppStartTimeoutError extends AgentError {
  constructor(port: number, seconds: number) {
    super("ERR_AGENT_APP_START_TIMEOUT", `the app did not accept connections on port ${port} within ${seconds} s`);
  }
}
