import * as net from "node:net";
import { type Clock, NS_PER_MS } from "./clock";
import type { UpstreamAddress } from "./connection";
import type { Logger } from "./log";

/**
 * Whether the app accepts connections, as last observed. Every real upstream connect
 * records its outcome; a health check that finds the last observation older than
 * `freshMs` (or none at all) probes with a connect of its own, so an idle agent only
 * touches the app when someone asks.
 */
export class UpstreamHealth {
  private state: boolean | null = null;
  private failure: string | null = null;
  private observedAt = 0;
  private probing: Promise<boolean> | null = null;

  constructor(
    private readonly upstream: UpstreamAddress,
    private readonly now: Clock,
    private readonly logger: Logger,
    private readonly freshMs = 1000,
    private readonly probeTimeoutMs = 1000,
  ) {}

  /** The last observation: true (accepted), false (refused or timed out), null (none yet). */
  get up(): boolean | null {
    return this.state;
  }

  /** Why the last connect failed (an errno code such as ECONNREFUSED or EMFILE), if it did. */
  get lastFailure(): string | null {
    return this.state === false ? this.failure : null;
  }

  /** Wrapper mode: the agent saw the app accept before it started listening. */
  markUp(): void {
    this.observeConnect(true);
  }

  /** Records the outcome of a connect to the app (a client's or a probe's), logging changes. */
  observeConnect(ok: boolean, error?: NodeJS.ErrnoException): void {
    this.failure = ok ? null : (error?.code ?? error?.message ?? "unknown");
    if (ok && this.state === false) {
      this.logger.info("upstream-up", { upstream: formatAddress(this.upstream) });
    } else if (!ok && this.state !== false) {
      this.logger.warn("upstream-down", { upstream: formatAddress(this.upstream), error: error?.code ?? error?.message ?? null });
    }
    this.state = ok;
    this.observedAt = this.now();
  }

  /** Whether the app accepts connections, probing if the last observation is stale. */
  check(): Promise<boolean> {
    const fresh = this.state !== null && this.now() - this.observedAt < this.freshMs * NS_PER_MS;
    if (fresh) return Promise.resolve(this.state === true);
    this.probing ??= this.probe().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  private probe(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: this.upstream.host, port: this.upstream.port });
      let done = false;
      const finish = (ok: boolean, error?: NodeJS.ErrnoException): void => {
        if (done) return;
        done = true;
        socket.destroy();
        this.observeConnect(ok, error);
        resolve(ok);
      };
      socket.setTimeout(this.probeTimeoutMs);
      socket.once("connect", () => finish(true));
      socket.once("error", (error: NodeJS.ErrnoException) => finish(false, error));
      socket.once("timeout", () => {
        const error: NodeJS.ErrnoException = new Error("probe timed out");
        error.code = "ETIMEDOUT";
        finish(false, error);
      });
    });
  }
}

/** "host:port", with brackets around IPv6 hosts. */
export function formatAddress(address: UpstreamAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
