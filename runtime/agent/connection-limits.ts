import { type Clock, NS_PER_MS } from "./clock";
import { type Logger, RateLimitedLog } from "./log";
import { type DescriptorBudget, processDescriptors } from "./descriptors";

/**
 * Connection limits at accept time, for one container: at most `maxConnections` open at once
 * and at most `maxConnectionsPerIp` from one client address (the PROXY v2 source on ECS, the
 * socket's peer otherwise). A connection over a limit is closed at once with a reset, before
 * any byte reaches the app (the caller does that); this class decides, counts and logs.
 *
 * Why a reset and not a FIN: the client may already have sent bytes that the app will never
 * see, and the design's rule is a reset wherever bytes may be missing; a reset also leaves
 * no TIME_WAIT behind on the agent's side, which matters when one client opens thousands.
 */

export type LimitReason = "max_connections" | "max_connections_per_ip" | "descriptors";
export const LIMIT_REASONS: readonly LimitReason[] = ["max_connections", "max_connections_per_ip", "descriptors"];

/** Descriptors one client connection holds: its own socket and its connection to the app. */
const DESCRIPTORS_PER_CONNECTION = 2;

export interface ConnectionLimitsOptions {
  /** Open connections per container; 0 = no limit. */
  readonly maxConnections: number;
  /** Open connections per client address; 0 = no limit. */
  readonly maxConnectionsPerIp: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** One log line per address per this many ms at most. @default 1000 */
  readonly logIntervalMs?: number;
  /**
   * The process's descriptors: a connection that would leave fewer than the headroom free is
   * refused (`descriptors`), so that the next accept still finds one. @default processDescriptors()
   */
  readonly descriptors?: DescriptorBudget;
}

/** A place among the open connections; `release` is safe to call twice. */
export interface ConnectionSlot {
  /**
   * Counts the slot against `address` once it is known (after the PROXY header). Returns the
   * limit it broke (the slot is then released), or undefined when the connection may go on.
   */
  identify(address: string): LimitReason | undefined;
  release(): void;
}

export class ConnectionLimits {
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly rejected: Record<LimitReason, number> = { max_connections: 0, max_connections_per_ip: 0, descriptors: 0 };
  /** One `connection-limit` line per address per interval. */
  private readonly rejections: RateLimitedLog;
  private readonly descriptors: DescriptorBudget;

  constructor(private readonly options: ConnectionLimitsOptions) {
    this.rejections = new RateLimitedLog(options.logger, options.clock, (options.logIntervalMs ?? 1000) * NS_PER_MS);
    this.descriptors = options.descriptors ?? processDescriptors();
  }

  /**
   * Takes a slot for a new connection from `address` (the socket's peer), or returns the limit
   * it broke. With `identifyNow` the address also counts per IP at once (no PROXY header).
   */
  accept(address: string, identifyNow: boolean): ConnectionSlot | LimitReason {
    const { maxConnections } = this.options;
    if (maxConnections > 0 && this.open >= maxConnections) return this.reject("max_connections", address, maxConnections);
    // The client's own descriptor is open already; its connection to the app would be one more.
    if (!this.descriptors.admits(DESCRIPTORS_PER_CONNECTION - 1)) return this.reject("descriptors", address, this.descriptors.limit);
    this.open += 1;
    this.descriptors.hold(DESCRIPTORS_PER_CONNECTION);
    let counted: string | undefined;
    let released = false;
    const slot: ConnectionSlot = {
      identify: (client) => {
        if (released || counted !== undefined) return undefined;
        const perIp = this.options.maxConnectionsPerIp;
        const current = this.perAddress.get(client) ?? 0;
        if (perIp > 0 && current >= perIp) {
          slot.release();
          return this.reject("max_connections_per_ip", client, perIp);
        }
        this.perAddress.set(client, current + 1);
        counted = client;
        return undefined;
      },
      release: () => {
        if (released) return;
        released = true;
        this.open -= 1;
        this.descriptors.hold(-DESCRIPTORS_PER_CONNECTION);
        if (counted === undefined) return;
        const left = (this.perAddress.get(counted) ?? 1) - 1;
        if (left === 0) this.perAddress.delete(counted);
        else this.perAddress.set(counted, left);
      },
    };
    if (identifyNow) {
      const broke = slot.identify(address);
      if (broke !== undefined) return broke;
    }
    return slot;
  }

  /** Connections refused by each limit since start. */
  rejectedTotal(reason: LimitReason): number {
    return this.rejected[reason];
  }

  /** Open connections from `address` (0 when none). */
  openFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  get openConnections(): number {
    return this.open;
  }

  get maxConnections(): number {
    return this.options.maxConnections;
  }

  get maxConnectionsPerIp(): number {
    return this.options.maxConnectionsPerIp;
  }

  private reject(reason: LimitReason, address: string, limit: number): LimitReason {
    this.rejected[reason] += 1;
    this.rejections.warn(address, "connection-limit", {
      client: address,
      reason,
      limit,
      open: reason === "max_connections_per_ip" ? this.openFrom(address) : this.open,
    });
    return reason;
  }
}
