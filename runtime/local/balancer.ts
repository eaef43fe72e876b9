import * as net from "node:net";
import * as tls from "node:tls";
import { encodeProxyV2 } from "../agent/proxy-protocol";
import { abortSocket, listenOrFail } from "../agent/sockets";
import { LocalError } from "./errors";
import { earlierRunHolding } from "./port-owner";

/** A replica the balancer may send connections to. */
export interface Backend {
  /** Unique for the balancer's life, e.g. "mqtt.1#3" (replica name and generation). */
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface BalancerOptions {
  /** Port to listen on. */
  readonly port: number;
  /** Address to listen on. @default "127.0.0.1" (local mode never listens beyond loopback) */
  readonly host?: string;
  /**
   * How long a connection that arrives while no replica is ready waits for one before it
   * is closed. @default 10 s
   */
  readonly waitForBackendMs?: number;
  /** How long one connect to a replica may take before the client is reset. @default 2 s */
  readonly connectTimeoutMs?: number;
  /**
   * A connection with no traffic either way for this long is closed, as an AWS NLB does.
   * @default 350 s (the NLB's default TCP idle timeout)
   */
  readonly idleTimeoutMs?: number;
  /** Where to report dropped connections. @default nothing is reported */
  readonly log?: (line: string) => void;
  /**
   * Called for each connection a backend refused (the client is reset, as an NLB passes the
   * target's refusal on) and for connections dropped by a reset or by a backend that went
   * away without a clean end. @default nothing is reported
   */
  readonly report?: (backendId: string, mark: "refused" | "dropped", count: number) => void;
  /**
   * Terminate TLS with this key and certificate, as an NLB TLS listener does; the replicas
   * still get plain TCP. @default plain TCP
   */
  readonly tls?: { readonly key: string; readonly cert: string };
  /**
   * Send a PROXY protocol v2 header (the client's and the listener's addresses) before the
   * client's bytes on every connection to a replica, as an NLB target group with
   * `proxy_protocol_v2` does. @default false
   */
  readonly proxyProtocol?: boolean;
}

interface Pending {
  readonly client: net.Socket;
  readonly deadline: number;
  readonly tried: Set<string>;
  timer?: NodeJS.Timeout;
}

/**
 * The data plane of an NLB: each new connection goes to the next backend in the rotation
 * (round robin) and stays with it for its whole life. Removing a backend from the rotation
 * never touches its open connections; `reset()` resets them (connection termination).
 *
 * A backend that refuses a connection gets the client reset, as an NLB passes a target's
 * refusal on: a refusal is never hidden. A connection that arrives while the rotation is
 * empty waits (up to `waitForBackendMs`) for a backend instead of being refused.
 */
export class Balancer {
  readonly host: string;
  private readonly requestedPort: number;
  private readonly waitForBackendMs: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly log: (line: string) => void;
  private readonly report: NonNullable<BalancerOptions["report"]>;
  private readonly server: net.Server;
  private readonly proxyProtocol: boolean;
  /** TLS: raw sockets whose handshake is not done yet. */
  private readonly handshaking = new Set<net.Socket>();
  private rotation: Backend[] = [];
  private next = 0;
  private readonly waiting = new Set<Pending>();
  /** Open client sockets, with the backend each one is piped to (undefined while connecting). */
  private readonly open = new Map<net.Socket, Backend | undefined>();
  /** The backend side of each piped client socket. */
  private readonly upstreams = new Map<net.Socket, net.Socket>();
  /** Client sockets being reset on purpose: not reported again as dropped. */
  private readonly resetting = new WeakSet<net.Socket>();
  private closed = false;

  constructor(options: BalancerOptions) {
    this.host = options.host ?? "127.0.0.1";
    this.requestedPort = options.port;
    this.waitForBackendMs = options.waitForBackendMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 350_000;
    this.log = options.log ?? (() => undefined);
    this.report = options.report ?? (() => undefined);
    this.proxyProtocol = options.proxyProtocol ?? false;
    const tlsOptions = options.tls;
    if (tlsOptions === undefined) {
      this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => this.accept(client));
    } else {
      // TLS needs the socket flowing for its handshake; the decrypted stream is paused at once.
      this.server = tls.createServer({ key: tlsOptions.key, cert: tlsOptions.cert, allowHalfOpen: true }, (client) => {
        client.pause();
        this.accept(client);
      });
      this.server.on("tlsClientError", (err: Error & { code?: string }, socket: tls.TLSSocket) => {
        this.log(`a TLS handshake failed: ${err.code ?? err.message}`);
        socket.destroy();
      });
      // Half-open is allowed for the streams, but a client that leaves during the handshake
      // (for example because it does not trust the certificate) must not hold its socket open.
      this.server.on("connection", (raw: net.Socket) => {
        this.handshaking.add(raw);
        raw.once("close", () => this.handshaking.delete(raw));
        raw.once("end", () => {
          if (this.handshaking.has(raw)) raw.destroy();
        });
      });
      this.server.on("secureConnection", (client: tls.TLSSocket) => {
        const raw = (client as tls.TLSSocket & { _parent?: unknown })._parent;
        if (raw instanceof net.Socket) this.handshaking.delete(raw);
      });
    }
  }

  /** `tls` when it terminates TLS, else `tcp`: TCP_URL's scheme. */
  get scheme(): "tls" | "tcp" {
    return this.server instanceof tls.Server ? "tls" : "tcp";
  }

  /** Starts listening; resolves with the port. Fails with TCP_ADDON_LOCAL_PORT_UNAVAILABLE. */
  listen(): Promise<number> {
    return listenOrFail(this.server, this.requestedPort, this.host, (err) => {
      const earlier = err.code === "EADDRINUSE" ? earlierRunHolding(this.requestedPort) : undefined;
      const why = earlier !== undefined ? `is ${earlier}` : err.code === "EADDRINUSE" ? "is already in use" : `cannot be used (${err.code ?? err.message})`;
      return new LocalError("TCP_ADDON_LOCAL_PORT_UNAVAILABLE", `${this.host}:${this.requestedPort} ${why}`);
    });
  }

  /** The port it listens on (the requested one, or the kernel's pick for 0). */
  get port(): number {
    const address = this.server.address();
    return address !== null && typeof address === "object" ? address.port : this.requestedPort;
  }

  /** Backends in the rotation, in order. */
  get backends(): readonly Backend[] {
    return [...this.rotation];
  }

  /** Puts a replica in the rotation; connections waiting for one go to it at once. */
  add(backend: Backend): void {
    if (this.closed || this.rotation.some((b) => b.id === backend.id)) return;
    this.rotation.push(backend);
    for (const pending of [...this.waiting]) {
      this.waiting.delete(pending);
      clearTimeout(pending.timer);
      this.dispatch(pending);
    }
  }

  /** Takes a replica out of the rotation. Its open connections are left alone. */
  remove(backendId: string): void {
    const index = this.rotation.findIndex((b) => b.id === backendId);
    if (index === -1) return;
    this.rotation.splice(index, 1);
    if (index < this.next) this.next -= 1;
  }

  /** How many open connections are piped to a backend. */
  connectionsTo(backendId: string): number {
    let count = 0;
    for (const backend of this.open.values()) if (backend?.id === backendId) count += 1;
    return count;
  }

  /**
   * Resets every open connection to a backend, both ways (an NLB's connection termination).
   * Returns how many there were.
   */
  reset(backendId: string): number {
    let count = 0;
    for (const [client, backend] of this.open) {
      if (backend?.id !== backendId) continue;
      count += 1;
      this.resetting.add(client);
      this.upstreams.get(client)?.resetAndDestroy();
      abortSocket(client);
    }
    this.report(backendId, "dropped", count);
    return count;
  }

  /** Open client connections, piped or still looking for a replica. */
  get connectionCount(): number {
    return this.open.size;
  }

  /** Stops listening and closes every connection. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.rotation = [];
      for (const pending of this.waiting) clearTimeout(pending.timer);
      this.waiting.clear();
      for (const client of this.open.keys()) client.destroy();
      for (const raw of this.handshaking) raw.destroy();
    }
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.closed) {
      client.destroy();
      return;
    }
    const pending: Pending = { client, deadline: Date.now() + this.waitForBackendMs, tried: new Set() };
    this.open.set(client, undefined);
    client.setNoDelay(true);
    client.on("error", () => client.destroy());
    client.once("close", () => {
      this.open.delete(client);
      clearTimeout(pending.timer);
      this.waiting.delete(pending);
    });
    this.dispatch(pending);
  }

  /** The next backend in round-robin order that this connection has not tried yet. */
  private pick(tried: ReadonlySet<string>): Backend | undefined {
    for (let i = 0; i < this.rotation.length; i += 1) {
      const backend = this.rotation[(this.next + i) % this.rotation.length];
      if (!tried.has(backend.id)) {
        this.next = (this.next + i + 1) % this.rotation.length;
        return backend;
      }
    }
    return undefined;
  }

  private dispatch(pending: Pending): void {
    const { client } = pending;
    if (client.destroyed || this.closed) return;
    const backend = this.pick(pending.tried);
    if (backend === undefined) {
      this.wait(pending);
      return;
    }
    pending.tried.add(backend.id);
    const upstream = net.connect({ host: backend.host, port: backend.port, allowHalfOpen: true });
    upstream.setTimeout(this.connectTimeoutMs);
    const onClientGone = () => upstream.destroy();
    const giveUp = () => {
      client.off("close", onClientGone);
      upstream.destroy();
      if (client.destroyed) return;
      this.log(`${backend.id} refused a connection: the client is reset`);
      this.report(backend.id, "refused", 1);
      abortSocket(client);
    };
    upstream.once("timeout", giveUp);
    upstream.once("error", giveUp);
    client.once("close", onClientGone);
    upstream.once("connect", () => {
      upstream.off("timeout", giveUp);
      upstream.off("error", giveUp);
      client.off("close", onClientGone);
      this.pipe(client, upstream, backend);
    });
  }

  /**
   * Every backend in the rotation was tried: wait for one to be added, and try the
   * rotation again every 100 ms, until the connection's deadline.
   */
  private wait(pending: Pending): void {
    const left = pending.deadline - Date.now();
    if (left <= 0) {
      this.log(`closed a connection to ${this.host}:${this.port}: no ready replica within ${this.waitForBackendMs / 1000} s`);
      pending.client.destroy();
      return;
    }
    pending.tried.clear();
    pending.timer = setTimeout(() => {
      this.waiting.delete(pending);
      this.dispatch(pending);
    }, this.rotation.length > 0 ? Math.min(left, 100) : left);
    this.waiting.add(pending);
  }

  /**
   * Pipes both ways with backpressure. A clean end is passed on by pipe() and the other side
   * finishes on its own; a side that goes without a clean end (an error, a reset) resets the
   * other, so a cut stream never reaches a peer as a FIN.
   */
  private pipe(client: net.Socket, upstream: net.Socket, backend: Backend): void {
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    this.open.set(client, backend);
    this.upstreams.set(client, upstream);
    upstream.setNoDelay(true);
    upstream.setTimeout(0);
    client.setTimeout(this.idleTimeoutMs, () => {
      abortSocket(upstream);
      abortSocket(client);
    });
    const upstreamGone = () => {
      if (upstream.readableEnded && upstream.writableFinished && !upstream.errored) return;
      if (!client.destroyed && !this.resetting.has(client)) {
        this.report(backend.id, "dropped", 1);
        abortSocket(client);
      }
      upstream.destroy();
    };
    const clientGone = () => {
      if (client.readableEnded && client.writableFinished && !client.errored) return;
      abortSocket(upstream);
      client.destroy();
    };
    upstream.on("error", upstreamGone);
    client.on("error", clientGone);
    upstream.once("close", upstreamGone);
    client.once("close", () => {
      this.upstreams.delete(client);
      clientGone();
    });
    if (this.proxyProtocol) upstream.write(proxyHeaderFor(client));
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** The PROXY v2 header an NLB would send for this client: its address, then the listener's. */
function proxyHeaderFor(client: net.Socket): Buffer {
  return encodeProxyV2({
    kind: "proxy",
    source: { address: client.remoteAddress ?? "0.0.0.0", port: client.remotePort ?? 0 },
    destination: { address: client.localAddress ?? "0.0.0.0", port: client.localPort ?? 0 },
  });
}
