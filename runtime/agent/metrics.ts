/** Traffic counters for one direction: "in" is client to app, "out" is app to client. */
export class DirectionCounters {
  packets = 0;
  bytes = 0;
}

/** What /metrics reports, read at scrape time. */
export interface MetricsSnapshot {
  in: DirectionCounters;
  out: DirectionCounters;
  throttledSecondsIn: number;
  throttledSecondsOut: number;
  connectionsActive: number;
  connectionsTotal: number;
  /** Failed accepts by cause (EMFILE, ENFILE, ...). */
  acceptErrors: ReadonlyMap<string, number>;
  /** Failed connects to the app by cause (ECONNREFUSED, ETIMEDOUT, EMFILE, ...). */
  upstreamErrors: ReadonlyMap<string, number>;
  ppsLimit: number;
  upstreamUp: boolean | null;
  draining: boolean;
  /** Connections refused by a connection limit, by limit. */
  connectionsRefusedByLimit?: ReadonlyMap<string, number>;
  /** Connections refused by a connection limit, all limits (EMF's RefusedConnections). */
  connectionsRefused?: number;
  /** Connections closed before reaching the app because of their PROXY v2 header, by cause (invalid, timeout). */
  proxyHeaderErrors?: ReadonlyMap<string, number>;
  /** PROXY v2 LOCAL connections (the load balancer's own, such as health checks): closed, never forwarded. */
  proxyLocal?: number;
  /** The connection limits; 0 = none. */
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  /** The health port: what came before each request (PROXY v2 on; else null), refusals by cause, connections open. */
  health?: {
    readonly headers: ReadonlyMap<string, number> | null;
    readonly refused: ReadonlyMap<string, number>;
    readonly open: number;
  };
  /** Log lines dropped because stdout did not take them (a stalled log driver). */
  logLinesDropped?: number;
}

/** Renders the snapshot in the Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(m: MetricsSnapshot): string {
  const lines: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string, samples: Array<[string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const byDirection = (inValue: number, outValue: number): Array<[string, number]> => [
    ['{direction="in"}', inValue],
    ['{direction="out"}', outValue],
  ];

  family(
    "tcp_addon_packets_total",
    "counter",
    "Packets forwarded (a chunk of n bytes counts ceil(n/1500)); in = client to app, out = app to client.",
    byDirection(m.in.packets, m.out.packets),
  );
  family(
    "tcp_addon_bytes_total",
    "counter",
    "Bytes forwarded; in = client to app, out = app to client.",
    byDirection(m.in.bytes, m.out.bytes),
  );
  family(
    "tcp_addon_throttled_seconds_total",
    "counter",
    "Seconds during which at least one connection was held back by the packets-per-second limit.",
    byDirection(round6(m.throttledSecondsIn), round6(m.throttledSecondsOut)),
  );
  family("tcp_addon_connections_active", "gauge", "Client connections open now.", [["", m.connectionsActive]]);
  family("tcp_addon_connections_total", "counter", "Client connections accepted since start.", [["", m.connectionsTotal]]);
  const byCause = (counts: ReadonlyMap<string, number>): Array<[string, number]> =>
    [...counts].map(([cause, n]) => [`{cause="${cause.replace(/[^A-Za-z0-9_]/g, "_")}"}`, n]);
  if (m.connectionsRefusedByLimit !== undefined) {
    family(
      "tcp_addon_connections_refused_total",
      "counter",
      "New connections reset at accept by a limit, by limit (max_connections, max_connections_per_ip, descriptors = the descriptors kept free below the open-files limit).",
      [...m.connectionsRefusedByLimit].map(([limit, n]) => [`{limit="${limit}"}`, n]),
    );
  }
  if (m.maxConnections !== undefined) {
    family("tcp_addon_max_connections", "gauge", "Open connections allowed; 0 = no limit.", [["", m.maxConnections ?? 0]]);
    family("tcp_addon_max_connections_per_ip", "gauge", "Open connections allowed per client address; 0 = no limit.", [["", m.maxConnectionsPerIp ?? 0]]);
  }
  if (m.proxyHeaderErrors !== undefined) {
    family("tcp_addon_proxy_header_errors_total", "counter", "Connections reset before reaching the app for their PROXY v2 header, by cause (invalid, timeout).", [
      ...m.proxyHeaderErrors,
    ].map(([cause, n]) => [`{cause="${cause}"}`, n]));
    family("tcp_addon_proxy_local_total", "counter", "PROXY v2 LOCAL connections (the load balancer's own): closed, never forwarded.", [["", m.proxyLocal ?? 0]]);
  }
  family("tcp_addon_accept_errors_total", "counter", "Connections the listener failed to accept, by cause (EMFILE = out of file descriptors).", byCause(m.acceptErrors));
  family("tcp_addon_upstream_errors_total", "counter", "Connections to the app that failed, by cause.", byCause(m.upstreamErrors));
  family("tcp_addon_pps_limit", "gauge", "Packets per second allowed per direction; 0 = unlimited.", [["", m.ppsLimit]]);
  family("tcp_addon_upstream_up", "gauge", "1 if the last connection to the app succeeded, 0 if it failed, -1 if none was tried yet.", [
    ["", m.upstreamUp === null ? -1 : m.upstreamUp ? 1 : 0],
  ]);
  family("tcp_addon_draining", "gauge", "1 while the agent drains before stopping.", [["", m.draining ? 1 : 0]]);
  if (m.health !== undefined) {
    if (m.health.headers !== null) {
      family(
        "tcp_addon_health_proxy_headers_total",
        "counter",
        "Health-port connections by what came before the request: none, a PROXY v2 proxy or local header, or an invalid, late (timeout) or closed one (reset).",
        [...m.health.headers].map(([outcome, n]) => [`{outcome="${outcome}"}`, n]),
      );
    }
    family(
      "tcp_addon_health_connections_refused_total",
      "counter",
      "Health-port connections reset by the agent, by cause (max_connections, descriptors, deadline = no request in time).",
      [...m.health.refused].map(([cause, n]) => [`{cause="${cause}"}`, n]),
    );
    family("tcp_addon_health_connections_active", "gauge", "Health-port connections open now.", [["", m.health.open]]);
  }
  if (m.logLinesDropped !== undefined) {
    family("tcp_addon_log_lines_dropped_total", "counter", "Log lines dropped because stdout did not take them in time (the backlog was full).", [["", m.logLinesDropped]]);
  }
  return lines.join("\n") + "\n";
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
