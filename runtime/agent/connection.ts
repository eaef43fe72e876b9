import * as net from "node:net";
import { PACKET_BYTES } from "./contract";
import type { Limiter, Waiter } from "./limiter";
import type { DirectionCounters } from "./metrics";
import { packetsFor } from "./token-bucket";

/** Stream buffer size for every socket the agent opens: one kernel read's worth. */
export const SOCKET_BUFFER_BYTES = 64 * 1024;

/** The most one socket read returns in Node (libuv's read buffer): a read this long was cut short. */
const FULL_READ_BYTES = 64 * 1024;

/** Where connections are forwarded. */
export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
}

/** What a connection needs from the forwarder that owns it. */
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
  /** Whether the upstream's process is exiting: its end of stream is then a cut (see ForwarderOptions). */
  upstreamExiting(): boolean;
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
  // Once the FIN is on its way (ended, nothing left to write), libuv refuses a reset and the
  // socket would stay open: a plain close is all there is (and resets if bytes are unread).
  if (socket.pending || socket.connecting || (socket.writableEnded && socket.writableLength === 0)) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * Whether a socket whose end of stream was just reported actually received a reset. libuv
 * reports a reset that arrives right behind the last bytes as an end of stream (a short read,
 * then the hang-up). While the agent has not ended its own side, the kernel's state tells
 * them apart: after a FIN the socket is still connected (CLOSE_WAIT) and has a peer; after
 * a reset it is closed and `getpeername` fails. Node keeps no public call for this, so the
 * handle's own `getpeername` (the one behind `remoteAddress`) is used, and without it the
 * end counts as a FIN.
 */
function resetBehindEnd(socket: net.Socket): boolean {
  if (socket.writableEnded) return false;
  const handle = (socket as unknown as { _handle?: { getpeername?: (out: object) => number } | null })._handle;
  if (handle === null || handle === undefined || typeof handle.getpeername !== "function") return false;
  return handle.getpeername({}) !== 0;
}

/** What a pump tells its connection, and asks it. */
interface PumpOwner {
  /** Bytes arrived in a direction the agent itself has ended, or the source was reset: cut. */
  broken(): void;
  /** Whether an end of stream from the source is a cut all the same (its process is exiting). */
  sourceExiting(): boolean;
}

/**
 * Moves bytes from one socket to the other, in order, with backpressure: the source is
 * paused while the destination's buffer is full or while the limiter holds bytes back.
 * At most one socket read (plus what a turn gathers from the source's buffer) is held at
 * a time, so memory stays bounded.
 */
class Pump implements Waiter {
  queued = false;
  private held: Buffer | null = null;
  private blocked = false;
  /** The source's end of stream was confirmed: a FIN, not a reset libuv reported as one. */
  private sourceEnded = false;
  private stopped = false;
  /** True while `release` pulls bytes out of the source's buffer with `read()`. */
  private gathering = false;
  /** The agent ended the destination itself (drain): bytes arriving after that are undeliverable. */
  private endedByAgent = false;
  /**
   * Bytes of the last packet already paid for but not filled (0-1499). A read that fills
   * Node's whole read buffer (64 KiB) ends where the buffer did, not where the sender's
   * bytes do, so the bytes right behind it complete its last packet instead of paying for
   * a new one: a bulk stream pays 1 packet per 1500 bytes, not 44 per 65536 (which fell
   * 0.7 % short of the plan). Any shorter read pays its last packet whole, as before.
   */
  private credit = 0;

  constructor(
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly limiter: Limiter | null,
    private readonly counters: DirectionCounters,
    private readonly owner: PumpOwner,
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

  /** Bytes read from the source that the destination has not taken yet. */
  get bytesInFlight(): number {
    return (this.held?.length ?? 0) + this.source.readableLength + this.dest.writableLength;
  }

  /** Ends the destination now (FIN), as if the source had; any later byte from the source is a cut. */
  endDestination(): void {
    if (this.stopped || this.endedByAgent || this.dest.writableEnded) return;
    this.endedByAgent = true;
    this.dest.end();
  }

  get wantsTokens(): boolean {
    return this.held !== null && !this.blocked && !this.stopped;
  }

  /** What the held bytes and those already read behind them would cost. */
  get packetsWanted(): number {
    return this.held === null ? 0 : this.costOf(this.held.length + this.source.readableLength);
  }

  /** Packets that `bytes` more bytes cost, after the credit. */
  private costOf(bytes: number): number {
    return packetsFor(Math.max(0, bytes - this.credit));
  }

  /**
   * One turn: forwards up to `packets` packets' worth. The turn first tops the held bytes up
   * from those already read behind them, so a connection gets its whole piece whatever the
   * size of its chunks, and a piece ends in a partial packet only when nothing more is there
   * (a throttled stream pays for full packets).
   */
  release(packets: number): number {
    if (this.held === null) return 0;
    const want = this.credit + packets * PACKET_BYTES;
    // One byte more than the piece tells whether bytes remain behind it.
    this.gather(want + 1);
    const held = this.held;
    const n = Math.min(held.length, want);
    const spent = this.costOf(n);
    if (n === held.length) {
      this.held = null;
      this.forward(held, spent, false);
    } else {
      this.held = held.subarray(n);
      this.forward(held.subarray(0, n), spent, false);
    }
    if (this.held === null) {
      if (this.sourceEnded) this.dest.end();
      else if (!this.blocked) this.source.resume();
    }
    return spent;
  }

  /** Pulls bytes already read from the source into `held` until it holds `bytes` or none are left. */
  private gather(bytes: number): void {
    this.gathering = true;
    try {
      for (;;) {
        const missing = bytes - (this.held?.length ?? 0);
        const available = this.source.readableLength;
        if (missing <= 0 || available === 0) break;
        // read() hands the bytes to onData, which appends them while gathering.
        if (this.source.read(Math.min(missing, available)) === null) break;
      }
    } finally {
      this.gathering = false;
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.stopped) return;
    if (this.gathering) {
      this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
      return;
    }
    if (this.endedByAgent) {
      this.owner.broken();
      return;
    }
    const limiter = this.limiter;
    if (limiter === null) {
      this.forward(chunk, packetsFor(chunk.length), false);
      return;
    }
    if (this.held === null && !this.blocked) {
      const cost = this.costOf(chunk.length);
      if (limiter.tryPass(cost)) {
        this.forward(chunk, cost, chunk.length >= FULL_READ_BYTES);
        return;
      }
    }
    // A chunk in flight when the source paused joins the held bytes: appended, never reordered.
    this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
    this.source.pause();
    if (!this.blocked) limiter.enqueue(this);
  };

  /**
   * Writes `chunk`, which cost `packets`. `continues`: the bytes behind it follow at once and
   * complete its last packet (see `credit`); else that packet is paid whole.
   */
  private forward(chunk: Buffer, packets: number, continues: boolean): void {
    this.credit = continues ? this.credit + packets * PACKET_BYTES - chunk.length : 0;
    this.counters.packets += packets;
    this.counters.bytes += chunk.length;
    if (!this.dest.write(chunk)) {
      this.blocked = true;
      this.source.pause();
    }
  }

  private readonly onDrain = (): void => {
    if (this.stopped || !this.blocked) return;
    this.blocked = false;
    if (this.held !== null) this.limiter?.enqueue(this);
    else if (!this.sourceEnded) this.source.resume();
  };

  /**
   * End of stream from the source: passed on as a FIN only if it was one (see `resetBehindEnd`)
   * and not the kernel closing the sockets of an app that died (its bytes stop short).
   */
  private readonly onEnd = (): void => {
    if (this.stopped) return;
    if (resetBehindEnd(this.source) || this.owner.sourceExiting()) {
      this.owner.broken();
      return;
    }
    this.confirmEnd();
  };

  private confirmEnd(): void {
    if (this.stopped) return;
    this.sourceEnded = true;
    // Half-close: the other side gets our FIN once every byte before it is written.
    if (this.held === null && this.source.readableLength === 0) this.dest.end();
  }
}

/**
 * One client connection piped to its own upstream connection for its whole life.
 *
 * - half-close travels both ways (a confirmed FIN on one side ends the other's writable side);
 * - an error or reset on one side aborts the other with a reset;
 * - an upstream that refuses closes the client at once, with a reset;
 * - idle for `idleTimeoutMs`: closed, with a FIN when no bytes are in flight, else a reset;
 * - `cut()` (drain deadline, app gone, lifeline lost) resets both sides.
 */
export class Connection {
  private readonly upstream: net.Socket;
  private inbound: Pump | null = null;
  private outbound: Pump | null = null;
  private connected = false;
  private openSockets = 2;
  private finished = false;
  /** Set by `drainWhenQuiet`: a quiet spell this long ends the connection toward the app. */
  private drainQuietMs: number | null = null;

  /**
   * @param headerToApp bytes written to the app before any of the client's (a PROXY v2 header
   *   with `proxy-v2-to-app`), so the app reads exactly that header first.
   */
  constructor(
    private readonly client: net.Socket,
    private readonly ctx: ConnectionContext,
    private readonly headerToApp?: Buffer,
  ) {
    client.on("error", this.onClientError);
    client.on("close", this.onSocketClose);
    client.on("timeout", this.onQuiet);
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

  /** Resets both sockets now: the agent cuts the connection. Safe to call twice. */
  cut(): void {
    this.stopPumps();
    abortSocket(this.client);
    abortSocket(this.upstream);
  }

  /**
   * During a drain: once neither socket has moved a byte for `quietMs` and nothing is in
   * flight, the agent sends the app a FIN (as if the client had closed), and the app's own
   * end of stream then travels to the client. A client byte after that is a cut.
   */
  drainWhenQuiet(quietMs: number): void {
    this.drainQuietMs = quietMs;
    this.client.setTimeout(quietMs);
    if (this.connected) this.upstream.setTimeout(quietMs);
  }

  private get bytesInFlight(): number {
    return (this.inbound?.bytesInFlight ?? 0) + (this.outbound?.bytesInFlight ?? 0);
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    this.ctx.upstreamResult(true);
    if (this.client.destroyed) {
      this.upstream.destroy();
      return;
    }
    this.upstream.setTimeout(this.drainQuietMs ?? this.ctx.idleTimeoutMs);
    this.client.setNoDelay(true);
    if (this.headerToApp !== undefined) this.upstream.write(this.headerToApp);
    const broken = (): void => this.cut();
    const fromClient: PumpOwner = { broken, sourceExiting: () => false };
    const fromApp: PumpOwner = { broken, sourceExiting: () => this.ctx.upstreamExiting() };
    this.inbound = new Pump(this.client, this.upstream, this.ctx.limiterIn, this.ctx.countersIn, fromClient);
    this.outbound = new Pump(this.upstream, this.client, this.ctx.limiterOut, this.ctx.countersOut, fromApp);
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
      this.onQuiet();
      return;
    }
    const error: NodeJS.ErrnoException = new Error(`connect timed out after ${this.ctx.connectTimeoutMs} ms`);
    error.code = "ETIMEDOUT";
    this.ctx.upstreamResult(false, error);
    this.stopPumps();
    this.upstream.destroy();
    abortSocket(this.client);
  };

  /** A socket saw no traffic for its timeout: the idle timeout, or a quiet spell in a drain. */
  private readonly onQuiet = (): void => {
    if (this.drainQuietMs !== null) {
      if (this.connected && this.bytesInFlight === 0) this.inbound?.endDestination();
      return;
    }
    if (this.bytesInFlight > 0) {
      this.cut();
      return;
    }
    // Nothing in flight either way: a plain close (FIN) loses nothing.
    this.stopPumps();
    this.client.destroy();
    this.upstream.destroy();
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
