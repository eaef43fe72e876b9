/**
 * The agent's contract: every fact that the declaration, the config, local mode, the bench
 * and the agent itself must agree on. It imports nothing, so anything may read it and the
 * agent bundle stays free of cdktf and zod.
 */

/** Payload bytes in one packet: a chunk of n bytes costs ceil(n / 1500) packets (the seed's plans). */
export const PACKET_BYTES = 1500;

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

/** The environment variables the agent reads, one per flag; the declaration writes them. */
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
} as const;

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

/** The environment variables of the production-networking settings (appended to AGENT_ENV's list). */
export const AGENT_NETWORK_ENV = {
  proxyProtocol: "TCP_ADDON_PROXY_PROTOCOL",
  proxyHeaderTimeout: "TCP_ADDON_PROXY_HEADER_TIMEOUT",
  maxConnections: "TCP_ADDON_MAX_CONNECTIONS",
  maxConnectionsPerIp: "TCP_ADDON_MAX_CONNECTIONS_PER_IP",
} as const;

/** The largest connection limit the config accepts per container (each connection holds two sockets). */
export const MAX_CONNECTIONS = 1_000_000;
