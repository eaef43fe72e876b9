/**
 * The one error pattern of tcp-addon. Every error a caller may branch on is a `TcpAddonError`:
 * a stable `code` with the `TCP_ADDON_` prefix, and `issues`, one line each, that an entry point
 * prints one per line. It lives here, in the agent's folder, because the agent imports nothing
 * from outside it; config, constructs, policy, local mode and the CLI extend it too.
 */
export class TcpAddonError extends Error {
  readonly code: string;
  /** One line per problem, meant for a person; `message` is the first with a count of the rest. */
  readonly issues: readonly string[];

  constructor(code: `TCP_ADDON_${string}`, issues: string | readonly string[]) {
    const lines = (typeof issues === "string" ? [issues] : issues).map(oneLine);
    const first = lines[0] ?? code;
    super(lines.length > 1 ? `${first} (and ${lines.length - 1} more)` : first);
    this.name = new.target.name;
    this.code = code;
    this.issues = lines.length > 0 ? lines : [first];
  }
}

/** Collapses any line breaks so that an issue always prints as exactly one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n\u2028\u2029]+\s*/g, " ").trim();
}

/** The message of anything thrown, on one line; also for errors from another realm (which fail `instanceof Error`). */
export function messageOf(err: unknown): string {
  const message = typeof err === "object" && err !== null && "message" in err && typeof err.message === "string" ? err.message : String(err);
  return oneLine(message);
}

/** The lines an entry point prints for anything thrown: a TcpAddonError's issues, else its message. */
export function issuesOf(err: unknown): readonly string[] {
  return err instanceof TcpAddonError ? err.issues : [messageOf(err)];
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A flag or environment variable is missing, unknown or out of range. The CLI exits 2. */
export class FlagError extends TcpAddonError {
  constructor(message: string) {
    super("TCP_ADDON_AGENT_FLAG", message);
  }
}

/** The listen or health port could not be bound. The CLI exits 1. */
export class ListenError extends TcpAddonError {
  readonly port: number;

  constructor(what: string, host: string, port: number, cause: NodeJS.ErrnoException) {
    super("TCP_ADDON_AGENT_LISTEN", `cannot listen on ${host}:${port} for ${what}: ${cause.code ?? cause.message}`);
    this.port = port;
  }
}

/** The app did not accept connections on its port within the start timeout. */
export class AppStartTimeoutError extends TcpAddonError {
  constructor(port: number, seconds: number) {
    super("TCP_ADDON_AGENT_APP_START_TIMEOUT", `the app did not accept connections on port ${port} within ${seconds} s`);
  }
}
