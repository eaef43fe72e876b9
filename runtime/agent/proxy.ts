import * as net from "node:net";
import { type Clock } from "./clock";
import { Connection, type ConnectionContext, SOCKET_BUFFER_BYTES, type UpstreamAddress } from "./connection";
import { ListenError } from "./errors";
import { Limiter, type Timers } from "./limiter";
import type { Logger } from "./log";
import { DirectionCounters, type MetricsSnapshot } from "./metrics";
import { UpstreamHealth } from "./upstream-health";

export interface ProxyOptions {
  readonly upstream: UpstreamAddress;
  /** Packets per second per direction; 0 = unlimited. */
  readonly pps: number;
  /** Bucket size in packets (ignored when unlimited). */
  readonly burst: number;
  readonly idleTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long an upstream connect may take before the client is closed. @default 5000 */
  readonly connectTimeoutMs?: number;
  readonly timers?: Timers;
}

/**
 * The TCP listener: every accepted connection is piped to a new upstream connection.
 * Owns the two limiters (one per direction, shared by all connections), the traffic
 * counters and the upstream health.
 */
export class Proxy {
  readonly health: UpstreamHealth;
  readonly limiterIn: Limiter | null;
  readonly limiterOut: Limiter | null;
  readonly countersIn = new DirectionCounters();
  readonly countersOut = new DirectionCounters();
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly context: ConnectionContext;
  private connectionsTotal = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: ProxyOptions) {
    const { pps, burst, clock, timers } = options;
    this.limiterIn = pps > 0 ? new Limiter(pps, burst, clock, timers) : null;
    this.limiterOut = pps > 0 ? new Limiter(pps, burst, clock, timers) : null;
    this.health = new UpstreamHealth(options.upstream, clock, options.logger);
    this.context = {
      upstream: options.upstream,
      limiterIn: this.limiterIn,
      limiterOut: this.limiterOut,
      countersIn: this.countersIn,
      countersOut: this.countersOut,
      idleTimeoutMs: options.idleTimeoutMs,
      connectTimeoutMs: Math.min(options.connectTimeoutMs ?? 5000, options.idleTimeoutMs),
      upstreamResult: (ok, error) => this.health.record(ok, error),
      closed: (connection) => this.forget(connection),
    };
    this.server = net.createServer(
      { allowHalfOpen: true, pauseOnConnect: true, noDelay: true, highWaterMark: SOCKET_BUFFER_BYTES },
      (socket) => this.accept(socket),
    );
  }

  /** Binds the listener; resolves with the port (useful with port 0). */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => reject(new ListenError("connections", host, port, error));
      this.server.once("error", onError);
      this.server.listen({ port, host }, () => {
        this.server.off("error", onError);
        this.server.on("error", (error) => this.options.logger.error("listener-error", { error: error.message }));
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get activeConnections(): number {
    return this.connections.size;
  }

  /** Stops accepting; open connections carry on. */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
  }

  /**
   * Stops accepting, gives open connections up to `ms` to finish, then closes the rest.
   * Resolves with the number of connections that had to be closed.
   */
  async drain(ms: number): Promise<number> {
    this.stopAccepting();
    if (this.connections.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.idleWaiters.push(done);
      });
    }
    const cut = this.connections.size;
    this.closeAll();
    return cut;
  }

  /** Ends a drain in progress at once, as if its time were up. */
  endDrainNow(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Closes the listener and every connection now. */
  closeAll(): void {
    this.stopAccepting();
    for (const connection of [...this.connections]) connection.close();
    this.limiterIn?.clear();
    this.limiterOut?.clear();
  }

  snapshot(draining: boolean): MetricsSnapshot {
    return {
      in: this.countersIn,
      out: this.countersOut,
      throttledSecondsIn: this.limiterIn?.throttledSeconds() ?? 0,
      throttledSecondsOut: this.limiterOut?.throttledSeconds() ?? 0,
      connectionsActive: this.connections.size,
      connectionsTotal: this.connectionsTotal,
      ppsLimit: this.options.pps,
      upstreamUp: this.health.up,
      draining,
    };
  }

  private accept(socket: net.Socket): void {
    this.connectionsTotal += 1;
    this.connections.add(new Connection(socket, this.context));
  }

  private forget(connection: Connection): void {
    this.connections.delete(connection);
    if (this.connections.size === 0) this.endDrainNow();
  }
}
