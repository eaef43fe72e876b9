import * as http from "node:http";
import * as net from "node:net";
import { abortSocket, listenOrFail } from "./sockets";
import { HEALTH_MAX_CONNECTIONS, HEALTH_REQUEST_DEADLINE_SECONDS } from "./contract";
import { type DescriptorBudget, processDescriptors } from "./descriptors";
import { ListenError, messageOf } from "./errors";
import { type Logger, RateLimitedLog } from "./log";
import { readProxyHeader, type HeaderOutcome } from "./proxy-header-reader";
import { PROXY_V2_SIGNATURE } from "./proxy-protocol";

/** What the health server asks the agent. */
export interface HealthSource {
  /** null when healthy, else the reason given with the 503. */
  unhealthyReason(): Promise<string | null>;
  /** The Prometheus text for /metrics. */
  metrics(): string;
}

export interface HealthServerOptions {
  /**
   * Accept an optional PROXY v2 header (LOCAL or PROXY) before the request: on when the agent
   * reads PROXY v2, because an NLB target group with `proxy_protocol_v2` sends its header on its
   * health-check connections too ("After you enable proxy protocol, the proxy protocol header is
   * also included in health check connections from the load balancer", ELB docs, Target groups
   * for your Network Load Balancers > Proxy protocol > Health check connections). A request
   * without a header is still answered. @default false
   */
  readonly proxyProtocol?: boolean;
  /** How long a PROXY v2 header may take once its first byte arrived. @default the request deadline */
  readonly proxyHeaderTimeoutMs?: number;
  /** Connections held at once; past it a new one is reset. @default HEALTH_MAX_CONNECTIONS */
  readonly maxConnections?: number;
  /** Time a connection has to deliver a request, from accept and after each answer. @default HEALTH_REQUEST_DEADLINE_SECONDS */
  readonly requestDeadlineMs?: number;
  /** The process's descriptors. @default processDescriptors() */
  readonly descriptors?: DescriptorBudget;
  readonly logger?: Logger;
}

/** What came before the request on a health connection (counted once per connection, PROXY v2 on). */
export type HealthHeaderOutcome = "none" | "proxy" | "local" | "invalid" | "timeout" | "closed";
export const HEALTH_HEADER_OUTCOMES: readonly HealthHeaderOutcome[] = ["none", "proxy", "local", "invalid", "timeout", "closed"];

/** Why the health server reset a connection (or, idle after an answer, closed it). */
export type HealthRefusal = "max_connections" | "descriptors" | "deadline";
export const HEALTH_REFUSALS: readonly HealthRefusal[] = ["max_connections", "descriptors", "deadline"];

/** The health port's counts, for /metrics. */
export interface HealthCounters {
  /** Null when the health port reads no PROXY v2 header. */
  readonly headers: ReadonlyMap<HealthHeaderOutcome, number> | null;
  readonly refused: ReadonlyMap<HealthRefusal, number>;
  readonly open: number;
}

/** One health connection: its deadline, and the bytes it had read when it was last answered. */
interface HealthConnection {
  timer?: NodeJS.Timeout;
  /** Set once its first request arrived. */
  answeredBytes?: number;
  /** Reset or closed by the server (its end is counted as that, not as a client's close). */
  ended?: boolean;
}

/** Refusals are logged at most once per this period, with the count since the last line. */
const REFUSAL_LOG_MS = 1000;

/**
 * `GET /healthz`: 200 `ok`, or 503 with the reason (`draining`, `upstream down`).
 * `GET /metrics`: Prometheus text. Anything else: 404.
 *
 * The port takes at most `maxConnections` at once and gives each one `requestDeadlineMs` to send
 * its request; a connection past the cap, one that would eat the descriptors kept free for
 * clients, or one silent (or still sending) at its deadline is reset and counted, so idle or
 * hostile connections to this port can neither hold it nor starve the client listener. With
 * `proxyProtocol`, a PROXY v2 header may come first (read by the agent's one parser); a
 * malformed or late one is reset and counted.
 */
export class HealthServer {
  private readonly front: net.Server;
  private readonly http: http.Server;
  private readonly connections = new Map<net.Socket, HealthConnection>();
  private readonly headers = new Map<HealthHeaderOutcome, number>();
  private readonly refused = new Map<HealthRefusal, number>();
  private readonly maxConnections: number;
  private readonly deadlineMs: number;
  private readonly descriptors: DescriptorBudget;
  /** One `health-refused` line per second at most (wall clock). */
  private readonly refusalLog: RateLimitedLog | undefined;

  constructor(
    private readonly source: HealthSource,
    private readonly onError: (error: Error) => void,
    private readonly options: HealthServerOptions = {},
  ) {
    this.maxConnections = options.maxConnections ?? HEALTH_MAX_CONNECTIONS;
    this.deadlineMs = options.requestDeadlineMs ?? HEALTH_REQUEST_DEADLINE_SECONDS * 1000;
    this.descriptors = options.descriptors ?? processDescriptors();
    this.refusalLog = options.logger && new RateLimitedLog(options.logger, () => Date.now(), REFUSAL_LOG_MS);
    this.http = http.createServer((req, res) => this.handle(req, res));
    // The server's own timers stay behind the deadline, which decides first.
    this.http.keepAliveTimeout = this.deadlineMs + 1000;
    this.http.headersTimeout = this.deadlineMs + 1000;
    this.http.requestTimeout = this.deadlineMs + 2000;
    this.front = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  async listen(port: number, host: string): Promise<number> {
    const bound = await listenOrFail(this.front, port, host, (error) => new ListenError("health checks", host, port, error));
    this.front.on("error", (error) => this.onError(error));
    return bound;
  }

  close(): void {
    this.front.close();
    for (const socket of [...this.connections.keys()]) socket.destroy();
  }

  get counters(): HealthCounters {
    const headers = this.options.proxyProtocol === true ? new Map(HEALTH_HEADER_OUTCOMES.map((o) => [o, this.headers.get(o) ?? 0] as const)) : null;
    return { headers, refused: new Map(HEALTH_REFUSALS.map((r) => [r, this.refused.get(r) ?? 0] as const)), open: this.connections.size };
  }

  private accept(socket: net.Socket): void {
    socket.on("error", () => undefined);
    if (this.connections.size >= this.maxConnections) return this.refuse(socket, "max_connections");
    // Its own descriptor is open already: it may stay only if the headroom is still free.
    if (!this.descriptors.admits(0)) return this.refuse(socket, "descriptors");
    const connection: HealthConnection = {};
    this.connections.set(socket, connection);
    this.descriptors.hold(1);
    socket.once("close", () => {
      clearTimeout(connection.timer);
      this.connections.delete(socket);
      this.descriptors.hold(-1);
    });
    this.arm(socket, connection);
    if (this.options.proxyProtocol === true) this.readOptionalHeader(socket, connection);
    else this.serve(socket);
  }

  /**
   * The first byte decides: the signature's first byte starts a PROXY v2 header, anything else
   * is the request itself. A header is read whole by `readProxyHeader`, which leaves the bytes
   * after it (the request) at the front of the socket.
   */
  private readOptionalHeader(socket: net.Socket, connection: HealthConnection): void {
    const onClose = (): void => {
      if (connection.ended !== true) this.countHeader("closed");
    };
    socket.once("close", onClose);
    socket.once("data", (first: Buffer) => {
      socket.off("close", onClose);
      socket.pause();
      socket.unshift(first);
      if (first[0] !== PROXY_V2_SIGNATURE[0]) {
        this.countHeader("none");
        this.serve(socket);
        return;
      }
      const timeoutMs = Math.min(this.options.proxyHeaderTimeoutMs ?? this.deadlineMs, this.deadlineMs);
      clearTimeout(connection.timer); // the header's own deadline decides meanwhile
      readProxyHeader(socket, { timeoutMs }, (outcome) => this.afterHeader(socket, connection, outcome));
    });
    socket.resume();
  }

  private afterHeader(socket: net.Socket, connection: HealthConnection, outcome: HeaderOutcome): void {
    this.countHeader(outcome.kind);
    if (outcome.kind === "proxy" || outcome.kind === "local") {
      this.arm(socket, connection);
      this.serve(socket);
    } else if (outcome.kind === "closed") {
      socket.destroy();
    } else {
      this.logRefusal(outcome.kind === "invalid" ? `PROXY v2 header: ${outcome.reason}` : "PROXY v2 header too slow", socket);
      abortSocket(socket);
    }
  }

  /** Hands the socket, paused with the request at its front, to the HTTP server. */
  private serve(socket: net.Socket): void {
    this.http.emit("connection", socket);
    socket.resume();
  }

  /**
   * The connection has the deadline to deliver its next request. Silent at the deadline after
   * an answer, it is closed (an idle keep-alive connection); otherwise it is reset and counted.
   */
  private arm(socket: net.Socket, connection: HealthConnection): void {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(() => {
      if (socket.destroyed) return;
      connection.ended = true;
      if (connection.answeredBytes !== undefined && socket.bytesRead === connection.answeredBytes) {
        socket.destroy();
        return;
      }
      this.refuse(socket, "deadline");
    }, this.deadlineMs);
    connection.timer.unref();
  }

  private refuse(socket: net.Socket, cause: HealthRefusal): void {
    this.refused.set(cause, (this.refused.get(cause) ?? 0) + 1);
    this.logRefusal(cause === "deadline" ? `no request within ${this.deadlineMs} ms` : cause, socket);
    abortSocket(socket);
  }

  private countHeader(outcome: HealthHeaderOutcome): void {
    this.headers.set(outcome, (this.headers.get(outcome) ?? 0) + 1);
  }

  /** One `health-refused` line per second at most, with the count since the last one. */
  private logRefusal(reason: string, socket: net.Socket): void {
    this.refusalLog?.warn("health-refused", "health-refused", { peer: socket.remoteAddress ?? null, reason });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    const connection = this.connections.get(socket);
    if (connection !== undefined) {
      clearTimeout(connection.timer);
      res.once("finish", () => {
        connection.answeredBytes = socket.bytesRead;
        this.arm(socket, connection);
      });
    }
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      reply(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
    } else if (path === "/healthz") {
      this.source.unhealthyReason().then(
        (reason) => (reason === null ? reply(res, 200, "ok\n") : reply(res, 503, `${reason}\n`)),
        (error: unknown) => reply(res, 503, `${messageOf(error)}\n`),
      );
    } else if (path === "/metrics") {
      reply(res, 200, this.source.metrics(), { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    } else {
      reply(res, 404, "not found\n");
    }
  }
}

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
