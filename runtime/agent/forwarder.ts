import * as net from "node:net";
import { type Clock, NS_PER_MS } from "./clock";
import { Connection, type ConnectionContext, SOCKET_BUFFER_BYTES, type UpstreamAddress } from "./connection";
import { ListenError, messageOf } from "./errors";
import { Limiter, Ticker } from "./limiter";
import type { Timers } from "./timers";
import { type Logger, RateLimitedLog } from "./log";
import { DirectionCounters, type MetricsSnapshot } from "./metrics";
import { UpstreamHealth } from "./upstream-health";
import { ConnectionLimits, type ConnectionSlot, LIMIT_REASONS } from "./connection-limits";
import { abortSocket, listenOrFail } from "./sockets";
import type { ClientIpMode } from "./contract";
import { readProxyHeader, type HeaderOutcome } from "./proxy-header-reader";
import { encodeProxyV2 } from "./proxy-protocol";

export interface ForwarderOptions {
  readonly upstream: UpstreamAddress;
  /** Packets per second per direction; 0 = unlimited. */
  readonly pps: number;
  /** Bucket size in packets (ignored when unlimited). */
  readonly burst: number;
  readonly idleTimeoutMs: number;
  /** During a drain, how long a connection must stay silent before it is closed with a FIN. */
  readonly drainQuietMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long an upstream connect may take before the client is closed. @default 5000 */
  readonly connectTimeoutMs?: number;
  readonly timers?: Timers;
  /** PROXY protocol v2 in front of every connection. @default "off" */
  readonly proxyProtocol?: ClientIpMode;
  /** How long a connection has to deliver its PROXY v2 header. @default 5000 */
  readonly proxyHeaderTimeoutMs?: number;
  /** Open connections at most; 0 = no limit. @default 0 */
  readonly maxConnections?: number;
  /** Open connections per client address at most (the PROXY header's source, else the socket's peer); 0 = no limit. @default 0 */
  readonly maxConnectionsPerIp?: number;
  /**
   * Wrapper mode: whether the app is on its way out. An end of stream from the app then is
   * the kernel closing a dead process's sockets, not the app's answer, and is passed on as a
   * reset. @default never
   */
  readonly upstreamExiting?: () => boolean;
}

/**
 * Connections lost to a failed accept, or to a connect to the app that failed for lack of file
 * descriptors, are logged at most once per this period, with the count since the last line.
 * (libuv handles EMFILE on accept itself when it can: it accepts and closes the pending
 * connections with a spare descriptor and reports nothing, so those clients are only seen
 * here when their connect to the app is what fails.)
 */
const FAILURE_LOG_MS = 1000;

/**
 * The TCP listener and its table of connections: every accepted client gets its own new
 * upstream connection. Owns the two limiters (one per direction, shared by all
 * connections) and their one timer, the traffic counters, the error counts and the upstream
 * health.
 */
export class Forwarder {
  readonly health: UpstreamHealth;
  /** The limiters' one timer (see `Ticker`). */
  readonly ticker: Ticker;
  readonly limiterIn: Limiter | null;
  readonly limiterOut: Limiter | null;
  readonly countersIn = new DirectionCounters();
  readonly countersOut = new DirectionCounters();
  /** Failed accepts by cause (an errno code such as EMFILE). */
  readonly acceptErrors = new Map<string, number>();
  /** Failed upstream connects by cause. */
  readonly upstreamErrors = new Map<string, number>();
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  /** Accepted sockets still sending their PROXY v2 header. */
  private readonly awaitingHeader = new Set<net.Socket>();
  /** Connection limits at accept. */
  readonly limits: ConnectionLimits;
  /** Connections reset for their PROXY v2 header, by cause. */
  readonly proxyHeaderErrors = new Map<string, number>();
  private proxyLocal = 0;
  /** One `proxy-header` line per second at most. */
  private readonly headerErrorLog: RateLimitedLog;
  private readonly context: ConnectionContext;
  private connectionsTotal = 0;
  private draining = false;
  /** Resolves the drain's wait early (second signal, lifeline lost). */
  private endDrainWait: (() => void) | null = null;
  private lastAcceptError: string | null = null;
  private lastFailureCode: string | null = null;
  private failuresUnlogged = 0;
  private failureLogTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ForwarderOptions) {
    const { pps, burst, clock, timers } = options;
    this.ticker = new Ticker(clock, timers);
    this.limiterIn = pps > 0 ? new Limiter(pps, burst, clock, this.ticker) : null;
    this.limiterOut = pps > 0 ? new Limiter(pps, burst, clock, this.ticker) : null;
    this.health = new UpstreamHealth(options.upstream, clock, options.logger);
    this.headerErrorLog = new RateLimitedLog(options.logger, clock, FAILURE_LOG_MS * NS_PER_MS);
    this.context = {
      upstream: options.upstream,
      limiterIn: this.limiterIn,
      limiterOut: this.limiterOut,
      countersIn: this.countersIn,
      countersOut: this.countersOut,
      idleTimeoutMs: options.idleTimeoutMs,
      connectTimeoutMs: Math.min(options.connectTimeoutMs ?? 5000, options.idleTimeoutMs),
      upstreamExiting: options.upstreamExiting ?? (() => false),
      upstreamResult: (ok, error) => this.upstreamResult(ok, error),
      closed: (connection) => {
        this.connections.delete(connection);
        connection.slot.release();
      },
    };
    this.limits = new ConnectionLimits({
      maxConnections: options.maxConnections ?? 0,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? 0,
      clock,
      logger: options.logger,
    });
    this.server = net.createServer(
      { allowHalfOpen: true, pauseOnConnect: true, noDelay: true, highWaterMark: SOCKET_BUFFER_BYTES },
      (socket) => this.accept(socket),
    );
  }

  /** Binds the listener; resolves with the port (useful with port 0). */
  async listen(port: number, host: string): Promise<number> {
    const bound = await listenOrFail(this.server, port, host, (error) => new ListenError("connections", host, port, error));
    this.server.on("error", this.onServerError);
    return bound;
  }

  get activeConnections(): number {
    return this.connections.size;
  }

  /**
   * The cause of the last accept if it failed (no accept has succeeded since): the listener
   * cannot take connections (EMFILE: the agent is out of file descriptors).
   */
  get acceptFailure(): string | null {
    return this.lastAcceptError;
  }

  /**
   * Drains for `ms`: the listener keeps accepting and every connection, old or new, keeps
   * forwarding; a connection silent for the quiet time is closed with a FIN (see
   * `Connection.drainWhenQuiet`). At the end of the window (or at `endDrainNow`) the
   * listener closes and every connection left is reset. Resolves with that number.
   */
  async drain(ms: number): Promise<number> {
    this.draining = true;
    for (const connection of this.connections) connection.drainWhenQuiet(this.options.drainQuietMs);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.endDrainWait = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endDrainWait = done;
    });
    const cut = this.connections.size;
    this.cutAll();
    return cut;
  }

  /** Ends a drain in progress at once, as if its time were up. */
  endDrainNow(): void {
    this.endDrainWait?.();
  }

  /** Closes the listener and resets every connection now. Safe to call twice. */
  cutAll(): void {
    if (this.server.listening) this.server.close();
    for (const connection of [...this.connections]) connection.cut();
    for (const socket of [...this.awaitingHeader]) abortSocket(socket);
    this.awaitingHeader.clear();
    this.limiterIn?.clear();
    this.limiterOut?.clear();
    if (this.failureLogTimer !== null) clearTimeout(this.failureLogTimer);
    this.failureLogTimer = null;
  }

  snapshot(draining: boolean): MetricsSnapshot {
    return {
      in: this.countersIn,
      out: this.countersOut,
      throttledSecondsIn: this.limiterIn?.throttledSeconds() ?? 0,
      throttledSecondsOut: this.limiterOut?.throttledSeconds() ?? 0,
      connectionsActive: this.connections.size,
      connectionsTotal: this.connectionsTotal,
      acceptErrors: this.acceptErrors,
      upstreamErrors: this.upstreamErrors,
      ppsLimit: this.options.pps,
      upstreamUp: this.health.up,
      draining,
      ...this.networkSnapshot(),
    };
  }

  /**
   * A new client: over a connection limit it is reset at once, before a byte reaches the app.
   * With PROXY protocol its header is read first (the per-address limit then counts the
   * header's source); a LOCAL header (the load balancer's own connection) is closed, and a
   * missing, invalid or late header resets the connection.
   */
  private accept(socket: net.Socket): void {
    this.connectionsTotal += 1;
    this.lastAcceptError = null;
    const mode = this.options.proxyProtocol ?? "off";
    const slot = this.limits.accept(socket.remoteAddress ?? "unknown", mode === "off");
    if (typeof slot === "string") {
      socket.on("error", () => undefined);
      abortSocket(socket);
      return;
    }
    if (mode === "off") {
      this.open(socket, slot);
      return;
    }
    socket.on("error", () => undefined);
    this.awaitingHeader.add(socket);
    readProxyHeader(socket, { timeoutMs: this.options.proxyHeaderTimeoutMs ?? 5000 }, (outcome) => {
      this.awaitingHeader.delete(socket);
      this.afterHeader(socket, slot, outcome, mode);
    });
  }

  private afterHeader(socket: net.Socket, slot: ConnectionSlot, outcome: HeaderOutcome, mode: ClientIpMode): void {
    if (outcome.kind === "proxy") {
      if (slot.identify(outcome.source.address) !== undefined) {
        abortSocket(socket);
        return;
      }
      const header = mode === "proxy-v2-to-app" ? encodeProxyV2({ kind: "proxy", source: outcome.source, destination: outcome.destination }) : undefined;
      this.open(socket, slot, header);
      return;
    }
    slot.release();
    if (outcome.kind === "local") {
      this.proxyLocal += 1;
      socket.destroy();
      return;
    }
    if (outcome.kind === "closed") {
      socket.destroy();
      return;
    }
    increment(this.proxyHeaderErrors, outcome.kind);
    this.logHeaderError(socket, outcome.kind === "invalid" ? outcome.reason : `no complete PROXY v2 header within ${this.options.proxyHeaderTimeoutMs ?? 5000} ms (${outcome.received} bytes)`);
    abortSocket(socket);
  }

  /** One `proxy-header` line per second at most, with the count since the last one. */
  private logHeaderError(socket: net.Socket, reason: string): void {
    this.headerErrorLog.warn("proxy-header", "proxy-header", { peer: socket.remoteAddress ?? null, reason });
  }

  private open(socket: net.Socket, slot: ConnectionSlot, headerToApp?: Buffer): void {
    const connection = new Connection(socket, this.context, slot, headerToApp);
    this.connections.add(connection);
    if (this.draining) connection.drainWhenQuiet(this.options.drainQuietMs);
  }

  /** The limits' and the PROXY header's counts, when they are on (so /metrics is unchanged without them). */
  private networkSnapshot() {
    const limited = this.limits.maxConnections > 0 || this.limits.maxConnectionsPerIp > 0;
    const proxied = (this.options.proxyProtocol ?? "off") !== "off";
    return {
      connectionsRefused: LIMIT_REASONS.reduce((sum, r) => sum + this.limits.rejectedTotal(r), 0),
      ...(limited
        ? {
            connectionsRefusedByLimit: new Map(LIMIT_REASONS.map((r) => [r, this.limits.rejectedTotal(r)] as const)),
            maxConnections: this.limits.maxConnections,
            maxConnectionsPerIp: this.limits.maxConnectionsPerIp,
          }
        : {}),
      ...(proxied ? { proxyHeaderErrors: new Map(["invalid", "timeout"].map((c) => [c, this.proxyHeaderErrors.get(c) ?? 0] as const)), proxyLocal: this.proxyLocal } : {}),
    };
  }

  private upstreamResult(ok: boolean, error?: NodeJS.ErrnoException): void {
    if (!ok) {
      const cause = causeOf(error);
      increment(this.upstreamErrors, cause);
      // Out of descriptors, the client was accepted but cannot be served: as bad as a failed accept.
      if (cause === "EMFILE" || cause === "ENFILE") this.noteFailure(cause);
    }
    this.health.observeConnect(ok, error);
  }

  /** A failed accept (EMFILE, ENFILE, ...): counted, and logged at most once per second. */
  private readonly onServerError = (error: NodeJS.ErrnoException): void => {
    if (error.syscall !== "accept") {
      this.options.logger.error("listener-error", { error: messageOf(error) });
      return;
    }
    const code = causeOf(error);
    increment(this.acceptErrors, code);
    this.lastAcceptError = code;
    this.noteFailure(code);
  };

  private noteFailure(code: string): void {
    this.lastFailureCode = code;
    this.failuresUnlogged += 1;
    if (this.failureLogTimer === null) this.logFailures();
  }

  /** One `accept-failed` line per second at most, with the connections lost since the last one. */
  private readonly logFailures = (): void => {
    this.failureLogTimer = null;
    if (this.failuresUnlogged === 0 || this.lastFailureCode === null) return;
    this.options.logger.warn("accept-failed", { error: this.lastFailureCode, count: this.failuresUnlogged });
    this.failuresUnlogged = 0;
    this.failureLogTimer = setTimeout(this.logFailures, FAILURE_LOG_MS);
    this.failureLogTimer.unref();
  };
}

function causeOf(error: NodeJS.ErrnoException | undefined): string {
  return error?.code ?? "unknown";
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
