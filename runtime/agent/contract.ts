/**
 * The agent's contract: every fact that the declaration, the config, local mode, the bench
 * and the agent itself must agree on. It imports nothing, so anything may read it and the
 * agent bundle stays free of cdktf and zod.
 */

/** Payload bytes in one packet: a chunk of n bytes costs ceil(n / 1500) packets (the seed's plans). */
export const PACKET_BYTES = 1500;

/**
 * How often the limiter's one timer fires while bytes wait (both directions, every
 * connection: one timer per agent). Each tick refills both buckets from the clock and
 * serves both queues; a tick releases at most what accrued since the last one, so what
 * a 1-second window counts can differ from the plan by about the tokens of one tick
 * period at the window's edges: 1 / ticks-per-second of the rate. Every 1-s window within
 * 1 % therefore needs at least 100 ticks a second; 125 (8 ms, a whole number of
 * milliseconds, as Node's timers count, and a whole number of ticks per second) leaves
 * 0.2 % for a tick that fires late. Measured with a one-timer forwarder at full rate:
 * 125/s kept every window within 0.81 %; 50/s was off by 1.8 %, 20/s by 5 %. More ticks
 * cost more: a wake of a Node timer costs about 44 µs, the larger part of the agent's CPU
 * at tcp-1k when each direction had its own timer (234 wakes/s where 125 suffice).
 */
export const LIMITER_TICKS_PER_SECOND = 125;

/** One tick period in milliseconds (8). */
export const LIMITER_TICK_MS = 1000 / LIMITER_TICKS_PER_SECOND;

/** The largest rate the agent accepts, in packets per second (15 GB/s). */
export const MAX_PPS = 10_000_000;

/** The largest burst, in packets: `burst × 10^9` must stay an exact integer in a double. */
export const MAX_BURST = 9_000_000;

/** Inside each task (awsvpc): the agent's TCP listener, the target group's port. */
export const AGENT_PORT = 7000;

/** Inside each task: the agent's `/healthz` and `/metrics`, the target group's health check port. */
export const AGENT_HEALTH_PORT = 7001;

/** Inside each task: the app's `$PORT`, which the agent forwards to on 127.0.0.1. */
export const APP_PORT = 5000;

/**
 * Seconds the agent drains on SIGTERM when nothing says otherwise (a bare `tcp-addon-agent`).
 * The declaration and local mode always pass their own value from the deploy timings.
 */
export const DEFAULT_DRAIN_SECONDS = 25;

/** Seconds an idle connection is kept: above the NLB's 350 s TCP idle timeout, so the NLB closes first. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 360;

/** The environment variables the agent reads (one per flag, then the EMF emitter's); the declaration writes them. */
export const AGENT_ENV = {
  listen: "TCP_ADDON_LISTEN",
  host: "TCP_ADDON_HOST",
  pps: "TCP_ADDON_PPS",
  burst: "TCP_ADDON_BURST",
  healthPort: "TCP_ADDON_HEALTH_PORT",
  drainSeconds: "TCP_ADDON_DRAIN_SECONDS",
  idleTimeout: "TCP_ADDON_IDLE_TIMEOUT",
  upstream: "TCP_ADDON_UPSTREAM",
  appPort: "TCP_ADDON_APP_PORT",
  startTimeout: "TCP_ADDON_START_TIMEOUT",
  lifelineFd: "TCP_ADDON_LIFELINE_FD",
  proxyProtocol: "TCP_ADDON_PROXY_PROTOCOL",
  proxyHeaderTimeout: "TCP_ADDON_PROXY_HEADER_TIMEOUT",
  maxConnections: "TCP_ADDON_MAX_CONNECTIONS",
  maxConnectionsPerIp: "TCP_ADDON_MAX_CONNECTIONS_PER_IP",
  /** The EMF emitter (emf.ts): "1"/"on"/"true" writes the metrics; "0"/"off"/"false" or unset does not. */
  emf: "TCP_ADDON_EMF",
  /** Seconds between two EMF lines. */
  emfInterval: "TCP_ADDON_EMF_INTERVAL",
  /** The Project dimension of the metrics. */
  project: "TCP_ADDON_PROJECT",
  /** The App dimension of the metrics. */
  app: "TCP_ADDON_APP",
  /** Optional Task dimension (a task id or replica name); unset = project and app only. */
  task: "TCP_ADDON_TASK",
} as const;

/**
 * Seconds a connection must stay silent during a drain before the agent closes it with a FIN
 * (toward the app first, as if the client had closed; the app's own FIN then reaches the client).
 */
export const DRAIN_QUIET_SECONDS = 1;

/** After its lifeline reaches end of file, how long the agent's app gets between SIGTERM and SIGKILL. */
export const LIFELINE_KILL_GRACE_SECONDS = 1;

/** The variables the platform gives the app; a config may not set them. */
export const APP_ENV = { port: "PORT", tcpUrl: "TCP_URL" } as const;

/** Where `npm run build:agent` writes the one-file agent bundle, relative to the package root. */
export const AGENT_BUNDLE = "dist/tcp-addon-agent.js";

/**
 * How the agent learns the client's address (the config's `clientIp`): `off` = the socket's
 * peer; `proxy-v2` = a PROXY protocol v2 header in front of every connection (the NLB's
 * `proxy_protocol_v2`); `proxy-v2-to-app` = the same, and the agent sends a PROXY v2 header
 * to the app before the client's bytes (as HAProxy's `send-proxy-v2` does).
 */
export const CLIENT_IP_MODES = ["off", "proxy-v2", "proxy-v2-to-app"] as const;
export type ClientIpMode = (typeof CLIENT_IP_MODES)[number];

/** Largest PROXY v2 header the agent accepts: 16 fixed bytes, 36 of IPv6 addresses, and room for TLVs. */
export const PROXY_V2_MAX_HEADER_BYTES = 4096;

/** Seconds a connection has to deliver its whole PROXY v2 header; then it is reset (HAProxy's `timeout client` role). */
export const DEFAULT_PROXY_HEADER_TIMEOUT_SECONDS = 5;

/** The largest connection limit the config accepts per container (each connection holds two sockets). */
export const MAX_CONNECTIONS = 1_000_000;

/**
 * CloudWatch Embedded Metric Format (runtime/agent/emf.ts): the agent writes one JSON line per
 * interval to stdout, the awslogs driver ships it, CloudWatch extracts the metrics. The
 * declaration's alarms, scaling policy and dashboard read the names below, so they can only name
 * metrics the agent emits.
 */
export const METRICS_NAMESPACE = "TcpAddon";

/** Dimension names of every agent metric: always [project, app]; [project, app, task] when a task id is given. */
export const METRIC_DIMENSIONS = { project: "Project", app: "App", task: "Task" } as const;

/** A CloudWatch unit the agent uses. */
export type MetricUnit = "Count" | "Bytes" | "Seconds" | "Percent";

/** How a metric is aggregated: a counter is the delta over the interval (CloudWatch sums them), a gauge the value now. */
export type MetricKind = "counter" | "gauge";

export interface AgentMetric {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly kind: MetricKind;
  readonly description: string;
}

/** Every metric the agent emits, by key; the EMF line carries exactly these (plan utilisation only with a limit). */
export const AGENT_METRICS = {
  activeConnections: { name: "ActiveConnections", unit: "Count", kind: "gauge", description: "client connections open at the end of the interval" },
  newConnections: { name: "NewConnections", unit: "Count", kind: "counter", description: "client connections accepted during the interval" },
  packetsIn: { name: "PacketsIn", unit: "Count", kind: "counter", description: "packets forwarded client to app (a chunk of n bytes counts ceil(n/1500))" },
  packetsOut: { name: "PacketsOut", unit: "Count", kind: "counter", description: "packets forwarded app to client" },
  bytesIn: { name: "BytesIn", unit: "Bytes", kind: "counter", description: "bytes forwarded client to app" },
  bytesOut: { name: "BytesOut", unit: "Bytes", kind: "counter", description: "bytes forwarded app to client" },
  throttledSecondsIn: { name: "ThrottledSecondsIn", unit: "Seconds", kind: "counter", description: "seconds client-to-app traffic was held back by the plan" },
  throttledSecondsOut: { name: "ThrottledSecondsOut", unit: "Seconds", kind: "counter", description: "seconds app-to-client traffic was held back by the plan" },
  planUtilization: { name: "PlanUtilization", unit: "Percent", kind: "gauge", description: "packets forwarded / packets the plan allowed in the interval, the busier direction, in percent" },
  refusedConnections: { name: "RefusedConnections", unit: "Count", kind: "counter", description: "connections refused by connection limits during the interval (0: no such limit yet)" },
} as const satisfies Record<string, AgentMetric>;

/** Seconds between two EMF lines unless TCP_ADDON_EMF_INTERVAL says otherwise (CloudWatch's standard resolution). */
export const DEFAULT_EMF_INTERVAL_SECONDS = 60;


/**
 * Connections the health port holds at once; past it a new one is reset at accept. The NLB's
 * checks (one connection per check, closed after it) and a metrics scraper need a few; the cap
 * keeps idle or hostile connections to the health port from taking the descriptors the client
 * connections need.
 */
export const HEALTH_MAX_CONNECTIONS = 32;

/**
 * Seconds a health-port connection has to deliver a request (from accept, and again after each
 * answer); then it is reset (before its first request) or closed (idle after an answer). The NLB's
 * HTTP check times out at 2-120 s (the declaration's is 5), and it sends its request at once.
 */
export const HEALTH_REQUEST_DEADLINE_SECONDS = 3;

/**
 * Descriptors the agent keeps free below its open-files limit: a client connection that would
 * eat into them is accepted and reset at once (`tcp_addon_connections_refused_total{limit="descriptors"}`),
 * so an accept never meets EMFILE, which libuv answers with a silent FIN.
 */
export const DESCRIPTOR_HEADROOM = 8;

/**
 * Bytes of log lines the agent keeps queued for a stdout that does not take them (a stalled log
 * driver); past it, lines are dropped and counted (`tcp_addon_log_lines_dropped_total`), never
 * waited for: a blocked stdout must not stop the event loop that forwards every connection.
 */
export const LOG_BACKLOG_BYTES = 64 * 1024;
