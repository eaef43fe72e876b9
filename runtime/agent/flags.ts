import type { UpstreamAddress } from "./connection";
import { FlagError } from "./errors";
import { emfOptions, type EmfOptions } from "./emf";
import { AGENT_ENV, CLIENT_IP_MODES, type ClientIpMode, DEFAULT_DRAIN_SECONDS, DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_PROXY_HEADER_TIMEOUT_SECONDS, MAX_BURST, MAX_CONNECTIONS, MAX_PPS } from "./contract";

/** Everything the agent runs with, after flags and environment are read and checked. */
export interface AgentOptions {
  /** Port for client connections; 0 = let the OS pick. */
  readonly listen: number;
  /** Address the listener and the health server bind. */
  readonly host: string;
  /** Packets per second per direction; 0 = unlimited. */
  readonly pps: number;
  /** Bucket size in packets; defaults to one second's worth (= pps, at most 9,000,000); 0 when unlimited. */
  readonly burst: number;
  /** Port for /healthz and /metrics; null = no health server. */
  readonly healthPort: number | null;
  readonly drainSeconds: number;
  readonly idleTimeoutSeconds: number;
  /** Sidecar mode: the app that already runs. */
  readonly upstream: UpstreamAddress | null;
  /** Wrapper mode: the PORT given to the app; null = a free port on 127.0.0.1. */
  readonly appPort: number | null;
  /** Wrapper mode: the app's command and arguments, spawned without a shell. */
  readonly command: readonly string[] | null;
  /** Wrapper mode: how long the app may take to accept on its port. */
  readonly startTimeoutSeconds: number;
  /** CloudWatch EMF metrics on stdout (emf.ts, read from TCP_ADDON_EMF*); null or omitted = off. */
  readonly emf?: EmfOptions | null;
  /** A pipe inherited from the supervisor: its end of file means "stop now"; null = none. */
  readonly lifelineFd: number | null;
  /** PROXY protocol v2 in front of every connection: off, read it, or read it and send one to the app. @default "off" */
  readonly proxyProtocol?: ClientIpMode;
  /** Seconds a connection has to deliver its PROXY v2 header. */
  readonly proxyHeaderTimeoutSeconds?: number;
  /** Open connections at most; 0 = no limit. */
  readonly maxConnections?: number;
  /** Open connections per client address at most; 0 = no limit. */
  readonly maxConnectionsPerIp?: number;
}

export type ParsedFlags = { readonly help: true } | { readonly help: false; readonly options: AgentOptions };

export const USAGE = `Usage:
  tcp-addon-agent --listen PORT [options] --upstream HOST:PORT     sidecar mode: forward to a running app
  tcp-addon-agent --listen PORT [options] -- COMMAND [ARGS...]     wrapper mode: run the app, then forward to it

Options (each also read from the environment variable shown; flags win):
  --listen PORT          TCP_ADDON_LISTEN           port for client connections (0 = any free port)
  --host ADDR            TCP_ADDON_HOST             address to bind (default 0.0.0.0)
  --pps N                TCP_ADDON_PPS              packets/s per direction, a packet = up to 1500 bytes (default 0 = unlimited)
  --burst N              TCP_ADDON_BURST            bucket size in packets (default: one second's worth, = pps)
  --health-port PORT     TCP_ADDON_HEALTH_PORT      serve GET /healthz and GET /metrics on this port (default: off)
  --drain-seconds S      TCP_ADDON_DRAIN_SECONDS    on SIGTERM, time open connections get to finish (default 25)
  --idle-timeout S       TCP_ADDON_IDLE_TIMEOUT     close connections idle this long (default 360, above the NLB's 350)
  --upstream HOST:PORT   TCP_ADDON_UPSTREAM         sidecar mode: the app's address
  --app-port PORT        TCP_ADDON_APP_PORT         wrapper mode: PORT given to the app (default: a free port)
  --start-timeout S      TCP_ADDON_START_TIMEOUT    wrapper mode: time the app gets to accept on PORT (default 60)
  --lifeline-fd N        TCP_ADDON_LIFELINE_FD      an inherited pipe; when it reaches end of file (the supervisor died),
                                                    reset every connection, stop the app and exit (default: none)
  --proxy-protocol MODE  TCP_ADDON_PROXY_PROTOCOL   off, proxy-v2 (read the PROXY v2 header an NLB sends) or
                                                    proxy-v2-to-app (also send one to the app) (default off)
  --proxy-header-timeout S  TCP_ADDON_PROXY_HEADER_TIMEOUT  time a connection has to send its header (default 5)
  --max-connections N    TCP_ADDON_MAX_CONNECTIONS  open connections at most; past it a new one is reset (default 0 = no limit)
  --max-connections-per-ip N  TCP_ADDON_MAX_CONNECTIONS_PER_IP  the same per client address (default 0 = no limit)
  -h, --help                                        show this help

Wrapper mode passes PORT and TCP_URL (from the environment, else tcp://HOST:LISTEN) to the app,
and exits with its exit code. SIGTERM, SIGINT and SIGHUP drain, then the app gets SIGTERM
(SIGINT for SIGINT); a second signal cuts the drain short.
`;

/** A flag's text and where it came from (the flag or the environment variable), for messages. */
interface RawValue {
  readonly value: string;
  readonly source: string;
}

export interface FlagSpec {
  readonly env: string;
  readonly key: FlagKey;
}

export type FlagKey =
  | "listen"
  | "host"
  | "pps"
  | "burst"
  | "healthPort"
  | "drainSeconds"
  | "idleTimeout"
  | "upstream"
  | "appPort"
  | "startTimeout"
  | "lifelineFd"
  | "proxyProtocol"
  | "proxyHeaderTimeout"
  | "maxConnections"
  | "maxConnectionsPerIp";

/** Every flag the agent reads, with its environment variable (runtime/agent/README.md's table is tested against it). */
export const FLAGS: Readonly<Record<string, FlagSpec>> = {
  "--listen": { env: AGENT_ENV.listen, key: "listen" },
  "--host": { env: AGENT_ENV.host, key: "host" },
  "--pps": { env: AGENT_ENV.pps, key: "pps" },
  "--burst": { env: AGENT_ENV.burst, key: "burst" },
  "--health-port": { env: AGENT_ENV.healthPort, key: "healthPort" },
  "--drain-seconds": { env: AGENT_ENV.drainSeconds, key: "drainSeconds" },
  "--idle-timeout": { env: AGENT_ENV.idleTimeout, key: "idleTimeout" },
  "--upstream": { env: AGENT_ENV.upstream, key: "upstream" },
  "--app-port": { env: AGENT_ENV.appPort, key: "appPort" },
  "--start-timeout": { env: AGENT_ENV.startTimeout, key: "startTimeout" },
  "--lifeline-fd": { env: AGENT_ENV.lifelineFd, key: "lifelineFd" },
  "--proxy-protocol": { env: AGENT_ENV.proxyProtocol, key: "proxyProtocol" },
  "--proxy-header-timeout": { env: AGENT_ENV.proxyHeaderTimeout, key: "proxyHeaderTimeout" },
  "--max-connections": { env: AGENT_ENV.maxConnections, key: "maxConnections" },
  "--max-connections-per-ip": { env: AGENT_ENV.maxConnectionsPerIp, key: "maxConnectionsPerIp" },
};

/** Hosts through which an upstream on the agent's own port would reach the agent itself. */
const SELF_HOSTS = new Set(["localhost", "0.0.0.0", "::", "::1", "0:0:0:0:0:0:0:1"]);

/** Longest timer Node accepts, in seconds. */
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * Reads the agent's flags, falling back to environment variables. Throws `FlagError`
 * (code TCP_ADDON_AGENT_FLAG) with a one-line message on any problem.
 */
export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedFlags {
  const raw = environmentValues(env);
  const args = readArgv(argv, raw);
  if (args === "help") return { help: true };
  const options = { ...optionValues(raw), command: args.command };
  checkMode(raw, options);
  const emfSettings = emfOptions(env);
  return { help: false, options: { ...options, ...(emfSettings === null ? {} : { emf: emfSettings }) } };
}

/** The value of every FLAGS entry whose environment variable is set and not empty. */
function environmentValues(env: NodeJS.ProcessEnv): Map<FlagKey, RawValue> {
  const raw = new Map<FlagKey, RawValue>();
  for (const spec of Object.values(FLAGS)) {
    const value = env[spec.env];
    if (value !== undefined && value !== "") raw.set(spec.key, { value, source: spec.env });
  }
  return raw;
}

/** Reads `--flag value`, `--flag=value` and `-- COMMAND...` into `raw` (flags win over the environment). */
function readArgv(argv: readonly string[], raw: Map<FlagKey, RawValue>): "help" | { command: string[] | null } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      const command = argv.slice(i + 1);
      if (command.length === 0) throw new FlagError("-- must be followed by the app's command");
      return { command };
    }
    if (arg === "-h" || arg === "--help") return "help";
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const spec = FLAGS[name];
    if (spec === undefined) {
      throw new FlagError(arg.startsWith("-") ? `unknown flag ${name}` : `unexpected argument "${arg}" (put the app's command after --)`);
    }
    if (eq > 0 && name !== arg) {
      raw.set(spec.key, { value: arg.slice(eq + 1), source: name });
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next === "--") throw new FlagError(`${name} needs a value`);
    raw.set(spec.key, { value: next, source: name });
    i += 1;
  }
  return { command: null };
}

/** Every option but the command and EMF, each checked, with its default when not given. */
function optionValues(raw: ReadonlyMap<FlagKey, RawValue>): Omit<AgentOptions, "command" | "emf"> {
  const read = <T>(key: FlagKey, parse: (raw: RawValue) => T, fallback: T): T => {
    const value = raw.get(key);
    return value === undefined ? fallback : parse(value);
  };
  const listenRaw = raw.get("listen");
  if (listenRaw === undefined) throw new FlagError("--listen is required (or TCP_ADDON_LISTEN)");
  const listen = port(listenRaw);
  const host = read("host", text, "0.0.0.0");
  const pps = read("pps", (v) => integer(v, 0, MAX_PPS), 0);
  const burstRaw = raw.get("burst");
  if (burstRaw !== undefined && pps === 0) throw new FlagError(`${burstRaw.source} needs a packets-per-second limit (--pps)`);
  return {
    listen,
    host,
    pps,
    burst: read("burst", (v) => integer(v, 1, MAX_BURST), Math.min(pps, MAX_BURST)),
    healthPort: read<number | null>("healthPort", port, null),
    drainSeconds: read("drainSeconds", (v) => seconds(v, 0), DEFAULT_DRAIN_SECONDS),
    idleTimeoutSeconds: read("idleTimeout", (v) => seconds(v, 0.001), DEFAULT_IDLE_TIMEOUT_SECONDS),
    startTimeoutSeconds: read("startTimeout", (v) => seconds(v, 0.001), 60),
    upstream: read<UpstreamAddress | null>("upstream", address, null),
    appPort: read<number | null>("appPort", (v) => port(v, 1), null),
    lifelineFd: read<number | null>("lifelineFd", (v) => integer(v, 0, 2 ** 31 - 1), null),
    proxyProtocol: read<ClientIpMode>("proxyProtocol", clientIpMode, "off"),
    proxyHeaderTimeoutSeconds: read("proxyHeaderTimeout", (v) => seconds(v, 0.001), DEFAULT_PROXY_HEADER_TIMEOUT_SECONDS),
    maxConnections: read("maxConnections", (v) => integer(v, 0, MAX_CONNECTIONS), 0),
    maxConnectionsPerIp: read("maxConnectionsPerIp", (v) => integer(v, 0, MAX_CONNECTIONS), 0),
  };
}

/** Exactly one of sidecar mode (--upstream, not the agent itself) and wrapper mode (-- COMMAND, the only one with --app-port). */
function checkMode(raw: ReadonlyMap<FlagKey, RawValue>, options: Pick<AgentOptions, "upstream" | "command" | "listen" | "host">): void {
  const { upstream, command, listen, host } = options;
  const upstreamRaw = raw.get("upstream");
  const appPortRaw = raw.get("appPort");
  if (upstreamRaw !== undefined && command !== null) {
    throw new FlagError(`give either ${upstreamRaw.source} (sidecar mode) or -- COMMAND (wrapper mode), not both`);
  }
  if (upstream === null && command === null) {
    throw new FlagError("give --upstream HOST:PORT (sidecar mode) or -- COMMAND (wrapper mode)");
  }
  if (upstreamRaw !== undefined && upstream !== null && listen !== 0 && upstream.port === listen && reachesSelf(upstream.host, host)) {
    throw new FlagError(`${upstreamRaw.source} ${upstreamRaw.value} is the agent's own listen address (port ${listen}): it would forward to itself`);
  }
  if (appPortRaw !== undefined && command === null) {
    throw new FlagError(`${appPortRaw.source} only applies in wrapper mode (-- COMMAND)`);
  }
}

function clientIpMode({ value, source }: RawValue): ClientIpMode {
  const mode = CLIENT_IP_MODES.find((m) => m === value);
  if (mode === undefined) throw new FlagError(`${source} must be one of ${CLIENT_IP_MODES.join(", ")}, got "${value}"`);
  return mode;
}

/** Whether `upstreamHost` reaches the agent's own listener bound on `listenHost` (same port assumed). */
function reachesSelf(upstreamHost: string, listenHost: string): boolean {
  const upstream = upstreamHost.toLowerCase();
  const listen = listenHost.toLowerCase();
  if (upstream === listen) return true;
  const upstreamLocal = SELF_HOSTS.has(upstream) || upstream.startsWith("127.");
  // A listener on every address answers any local address; a loopback one answers "localhost".
  if (listen === "0.0.0.0" || listen === "::") return upstreamLocal;
  return upstream === "localhost" && (listen.startsWith("127.") || listen === "::1");
}

function text(raw: RawValue): string {
  if (raw.value.trim() === "") throw new FlagError(`${raw.source} must not be empty`);
  return raw.value;
}

function integer(raw: RawValue, min: number, max: number): number {
  const n = /^\d+$/.test(raw.value) ? Number(raw.value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new FlagError(`${raw.source} must be an integer from ${min} to ${max}, got "${raw.value}"`);
  }
  return n;
}

function port(raw: RawValue, min = 0): number {
  const n = /^\d+$/.test(raw.value) ? Number(raw.value) : NaN;
  if (!Number.isInteger(n) || n < min || n > 65535) {
    throw new FlagError(`${raw.source} must be a port from ${min} to 65535, got "${raw.value}"`);
  }
  return n;
}

function seconds(raw: RawValue, min: number): number {
  const n = /^\d+(\.\d+)?$/.test(raw.value) ? Number(raw.value) : NaN;
  if (!(n >= min && n <= MAX_SECONDS)) {
    throw new FlagError(`${raw.source} must be a number of seconds from ${min} to ${MAX_SECONDS}, got "${raw.value}"`);
  }
  return n;
}

function address(raw: RawValue): UpstreamAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(raw.value);
  const portNumber = match === null ? NaN : Number(match[3]);
  if (match === null || !(portNumber >= 1 && portNumber <= 65535)) {
    throw new FlagError(`${raw.source} must be HOST:PORT with a port from 1 to 65535, got "${raw.value}"`);
  }
  return { host: match[1] ?? match[2], port: portNumber };
}
