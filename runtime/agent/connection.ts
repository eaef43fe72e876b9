import * as net from "node:net";
import type { Limiter, Waiter } from "./limiter";
import type { DirectionCounters } from "./metrics";
import { PACKET_BYTES } from "./contract";
import { packetsFor } from "./token-bucket";

/** Stream buffer size for every socket the agent opens: one kernel read's worth. */
export const SOCKET_BUFFER_BYTES = 64 * 1024;

/** Where connections are forwarded. */
export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
}

/** What a connection needs from the proxy that owns it. */
export interface ConnectionContext {
  readonly upstream: UpstreamAddress;
  /** Client-to-app limiter, or null when unlimited. */
  readonly limiterIn: Limiter | null;
  /** App-to-client limiter, or null when unlimited. */
  readonly limiterOut: Limiter | null;
  readonly countersIn: DirectionCounters;
  readonly countersOut: DirectionCounters;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Called once per connection with the outcome of its upstream connect. */
  upstreamResult(ok: boolean, error?: NodeJS.ErrnoException): void;
  /** Called once, when both sockets are closed. */
  closed(connection: Connection): void;
}

/**
 * Closes a socket with a TCP reset, so that its peer sees an abort, never a clean end
 * of stream. Safe to call twice.
 */
export function abortSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.pending || socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * Moves bytes from one socket to the other, in order, with backpressure: the source is
 * paused while the destination's buffer is full or while the limiter holds bytes back.
 * At most one chunk (one socket read, plus a partial packet) is held at a time, so memory
 * stays bounded.
 */
class Pump implements Waiter {
  queued = false;
  private held: Buffer | null = null;
  private blocked = false;
  private sourceEnded = false;
  private stopped = false;
  /** A partial packet is held until the bytes already buffered behind it join it. */
  private toppingUp = false;

  constructor(
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly limiter: Limiter | null,
    private readonly counters: DirectionCounters,
  ) {}

  start(): void {
    this.source.on("data", this.onData);
    this.source.on("end", this.onEnd);
    this.dest.on("drain", this.onDrain);
    this.source.resume();
  }

  /** Forgets held bytes and ignores further events; the sockets are being destroyed. */
  stop(): void {
    this.stopped = true;
    this.held = null;
  }

  get wantsTokens(): boolean {
    return this.held !== null && !this.blocked && !this.stopped && !this.toppingUp;
  }

  get packetsWanted(): number {
    return this.held === null ? 0 : packetsFor(this.held.length);
  }

  release(packets: number): number {
    const held = this.held;
    if (held === null) return 0;
    let n = Math.min(held.length, packets * PACKET_BYTES);
    // Every piece costs whole packets. When this one would end in a partial packet while
    // more bytes already wait in the socket's buffer, it stops at the last whole packet
    // and the rest waits for those bytes, so a throttled stream pays for full packets.
    const partial = n % PACKET_BYTES;
    const topUp = n === held.length && partial !== 0 && this.source.readableLength > 0;
    if (topUp) n -= partial;
    if (n === 0) {
      // nothing but a partial packet: it waits for the buffered bytes, for free
    } else if (n === held.length) {
      this.held = null;
      this.forward(held);
    } else {
      this.held = held.subarray(n);
      this.forward(held.subarray(0, n));
    }
    if (topUp) {
      this.toppingUp = true;
      if (!this.blocked) this.source.resume();
    } else if (this.held === null) {
      if (this.sourceEnded) this.dest.end();
      else if (!this.blocked) this.source.resume();
    }
    return packetsFor(n);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.stopped) return;
    const limiter = this.limiter;
    if (limiter === null || (this.held === null && !this.blocked && limiter.tryPass(packetsFor(chunk.length)))) {
      this.forward(chunk);
      return;
    }
    // Bytes arrive while others are held only to top up a partial packet (or if a chunk
    // was in flight when the source paused): append them, never reorder.
    this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
    this.toppingUp = false;
    this.source.pause();
    if (!this.blocked) limiter.enqueue(this);
  };

  private forward(chunk: Buffer): void {
    this.counters.packets += packetsFor(chunk.length);
    this.counters.bytes += chunk.length;
    if (!this.dest.write(chunk)) {
      this.blocked = true;
      this.source.pause();
    }
  }

  private readonly onDrain = (): void => {
    if (this.stopped || !this.blocked) return;
    this.blocked = false;
    if (this.held !== null && !this.toppingUp) this.limiter?.enqueue(this);
    else if (!this.sourceEnded) this.source.resume();
  };

  private readonly onEnd = (): void => {
    if (this.stopped) return;
    this.sourceEnded = true;
    // Half-close: the other side gets our FIN once every byte before it is written.
    if (this.held === null) {
      this.dest.end();
    } else if (this.toppingUp) {
      // No more bytes will join the partial packet: send it as it is.
      this.toppingUp = false;
      if (!this.blocked) this.limiter?.enqueue(this);
    }
  };
}

/**
 * One client connection piped to its own upstream connection for its whole life.
 *
 * - half-close travels both ways (`end` on one side ends the other's writable side);
 * - an error or reset on one side aborts the other with a reset;
 * - an upstream that refuses closes the client at once;
 * - either socket idle for `idleTimeoutMs` closes both.
 */
export class Connection {
  private readonly upstream: net.Socket;
  private inbound: Pump | null = null;
  private outbound: Pump | null = null;
  private connected = false;
  private openSockets = 2;
  private finished = false;

  constructor(private readonly client: net.Socket, private readonly ctx: ConnectionContext) {
    client.on("error", this.onClientError);
    client.on("close", this.onSocketClose);
    client.on("timeout", this.onIdle);
    client.setTimeout(ctx.idleTimeoutMs);

    // highWaterMark is passed on to the stream (Node >= 18); @types/node does not list it.
    const connectOptions: net.TcpNetConnectOpts & { highWaterMark: number } = {
      host: ctx.upstream.host,
      port: ctx.upstream.port,
      allowHalfOpen: true,
      noDelay: true,
      highWaterMark: SOCKET_BUFFER_BYTES,
    };
    this.upstream = net.connect(connectOptions);
    this.upstream.on("connect", this.onConnect);
    this.upstream.on("error", this.onUpstreamError);
    this.upstream.on("close", this.onSocketClose);
    this.upstream.on("timeout", this.onUpstreamTimeout);
    this.upstream.setTimeout(ctx.connectTimeoutMs);
  }

  /** Closes both sockets now (idle timeout, end of drain, app gone). Safe to call twice. */
  close(): void {
    this.stopPumps();
    this.client.destroy();
    this.upstream.destroy();
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    this.ctx.upstreamResult(true);
    if (this.client.destroyed) {
      this.upstream.destroy();
      return;
    }
    this.upstream.setTimeout(this.ctx.idleTimeoutMs);
    this.client.setNoDelay(true);
    this.inbound = new Pump(this.client, this.upstream, this.ctx.limiterIn, this.ctx.countersIn);
    this.outbound = new Pump(this.upstream, this.client, this.ctx.limiterOut, this.ctx.countersOut);
    this.inbound.start();
    this.outbound.start();
  };

  private readonly onClientError = (): void => {
    this.stopPumps();
    abortSocket(this.upstream);
  };

  private readonly onUpstreamError = (error: NodeJS.ErrnoException): void => {
    if (!this.connected) this.ctx.upstreamResult(false, error);
    this.stopPumps();
    abortSocket(this.client);
  };

  private readonly onUpstreamTimeout = (): void => {
    if (this.connected) {
      this.onIdle();
      return;
    }
    const error: NodeJS.ErrnoException = new Error(`connect timed out after ${this.ctx.connectTimeoutMs} ms`);
    error.code = "ETIMEDOUT";
    this.ctx.upstreamResult(false, error);
    this.stopPumps();
    this.upstream.destroy();
    abortSocket(this.client);
  };

  private readonly onIdle = (): void => {
    this.close();
  };

  private readonly onSocketClose = (): void => {
    this.openSockets -= 1;
    if (this.openSockets > 0 || this.finished) return;
    this.finished = true;
    this.stopPumps();
    this.ctx.closed(this);
  };

  private stopPumps(): void {
    this.inbound?.stop();
    this.outbound?.stop();
  }
}
