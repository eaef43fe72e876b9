import * as net from "node:net";
import { PACKET_BYTES } from "./contract";
import { abortSocket, resetBehindEnd } from "./sockets";
import type { Limiter, Waiter } from "./limiter";
import type { DirectionCounters } from "./metrics";
import { packetsFor } from "./token-bucket";

/** Stream buffer size for every socket the agent opens: one kernel read's worth. */
export const SOCKET_BUFFER_BYTES = 64 * 1024;

/** The most one socket read returns in Node (libuv's read buffer): a read this long was cut short. */
const FULL_READ_BYTES = 64 * 1024;

/**
 * The app-side sockets read into buffers the agent keeps (`net.connect`'s `onread`) instead
 * of a fresh 64 KiB buffer per read: one buffer of this size shared by every app-side
 * socket, whose bytes are copied out before they go anywhere (a small copy: a read that
 * fills it moves the connection to a buffer of its own)...
 */
export const SHARED_READ_BYTES = 64 * 1024;
/**
 * ...and, while a connection streams (its last read filled the shared buffer), one buffer of
 * its own of this size, written from directly and reused while the client's socket takes
 * each read whole (see `Pump.fromApp`). A larger read is fewer system calls per byte: with a
 * reused 256 KiB buffer a Node pipe moved app to client 2.12 GB/s at 0.36 CPU-s per GB, where
 * a fresh buffer per read gave 1.1-1.2 GB/s at 0.87-0.90 (iperf3, one stream).
 *
 * Only without a limit: a throttled app side holds its bytes until their turn, so they would
 * be copied out of a reused buffer anyway; it reads as a stream, like the client side.
 */
export const OWN_READ_BYTES = 256 * 1024;

let sharedReadBuffer: Buffer | null = null;

/** The one buffer every app-side socket of this process reads into while its reads are small. */
function sharedAppBuffer(): Buffer {
  sharedReadBuffer ??= Buffer.allocUnsafe(SHARED_READ_BYTES);
  return sharedReadBuffer;
}

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

/** What a pump tells its connection, and asks it (the connection itself: no object per pump). */
interface PumpOwner {
  /** Bytes arrived in a direction the agent itself has ended, or the source was reset: cut. */
  broken(): void;
  /** Whether an end of stream from the app's socket is a cut all the same (its process is exiting). */
  appExiting(): boolean;
}

/**
 * Each forwarded socket carries the objects its events go to, and every listener below is one
 * function shared by all sockets (`this` is the socket that emitted), as Node's own net module
 * finds a handle's socket (`owner_symbol`). A closure per listener per connection cost about
 * 74 bytes each, 14 per connection: 1 KB of the 9.5 KB an idle connection held.
 */
const CONNECTION = Symbol("connection");
/** The pump that reads the socket. */
const READ_BY = Symbol("read by");
/** The pump that writes to the socket. */
const WRITTEN_BY = Symbol("written by");

interface ForwardedSocket extends net.Socket {
  [CONNECTION]: Connection;
  [READ_BY]: Pump;
  [WRITTEN_BY]: Pump;
}

function forwarded(socket: net.Socket): ForwardedSocket {
  return socket as ForwardedSocket;
}

function onSourceEnd(this: net.Socket): void {
  forwarded(this)[READ_BY].endOfSource();
}

function onSourceData(this: net.Socket, chunk: Buffer): void {
  forwarded(this)[READ_BY].dataRead(chunk);
}

function onSourceReadable(this: net.Socket): void {
  forwarded(this)[READ_BY].readable();
}

function onDestDrain(this: net.Socket): void {
  forwarded(this)[WRITTEN_BY].drained();
}

function onClientError(this: net.Socket): void {
  forwarded(this)[CONNECTION].clientFailed();
}

function onClientTimeout(this: net.Socket): void {
  forwarded(this)[CONNECTION].quiet();
}

function onUpstreamConnect(this: net.Socket): void {
  forwarded(this)[CONNECTION].upstreamConnected();
}

function onUpstreamError(this: net.Socket, error: NodeJS.ErrnoException): void {
  forwarded(this)[CONNECTION].upstreamFailed(error);
}

function onUpstreamTimeout(this: net.Socket): void {
  forwarded(this)[CONNECTION].upstreamQuiet();
}

function onSocketClose(this: net.Socket): void {
  forwarded(this)[CONNECTION].socketClosed();
}

/**
 * Moves bytes from one socket to the other, in order, with backpressure.
 *
 * With no limit, every read is written at once and the source stops reading while the
 * destination's buffer is full (a plain pipe); the app's socket then reads into the agent's
 * buffers (`fromApp`). With a limit, the source never flows: its bytes wait in its stream
 * buffer (up to SOCKET_BUFFER_BYTES, after which Node stops reading it), and each turn the
 * limiter gives writes one `read(n)` slice of them. So memory per direction stays bounded,
 * nothing is gathered into a new buffer, and no socket is paused and resumed per chunk.
 */
class Pump implements Waiter {
  queued = false;
  servedInPass = 0;
  /** The app-side socket stopped reading because the destination is full (reads into buffers only). */
  private readingStopped = false;
  /** The app-side socket's own read buffer while it streams; null: it reads into the shared one. */
  private ownBuffer: Buffer | null = null;
  /** The buffer the app-side socket reads into next. */
  private nextBuffer: Buffer | null = null;
  private blocked = false;
  /** The source's end of stream was confirmed: a FIN, not a reset libuv reported as one. */
  private sourceEnded = false;
  private stopped = false;
  /** The agent ended the destination itself (drain): bytes arriving after that are undeliverable. */
  private endedByAgent = false;
  /**
   * Bytes of the last packet already paid for but not filled (0-1499). A read that fills
   * its whole read buffer ends where the buffer did, not where the sender's bytes do, so the
   * bytes right behind it complete its last packet instead of paying for a new one: a bulk
   * stream pays 1 packet per 1500 bytes, not 44 per 65536 (which fell 0.7 % short of the
   * plan). Any shorter read pays its last packet whole, as before.
   */
  private credit = 0;

  /**
   * @param sourceIsApp the source is the app's socket (its end of stream may be a cut, see
   *   `PumpOwner.appExiting`).
   * @param readsIntoBuffers the source is the app's socket with no limit, which reads through
   *   `fromApp` into the agent's buffers; else the source is read as a stream.
   */
  constructor(
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly limiter: Limiter | null,
    private readonly counters: DirectionCounters,
    private readonly owner: PumpOwner,
    private readonly sourceIsApp: boolean,
    private readonly readsIntoBuffers: boolean,
  ) {
    forwarded(source)[READ_BY] = this;
    forwarded(dest)[WRITTEN_BY] = this;
  }

  start(): void {
    this.source.on("end", onSourceEnd);
    this.dest.on("drain", onDestDrain);
    if (this.readsIntoBuffers) return; // reading since the connect, through fromApp
    if (this.limiter === null) {
      this.source.on("data", onSourceData);
      this.source.resume();
    } else {
      // A 'readable' listener keeps the stream paused and starts its reads.
      this.source.on("readable", onSourceReadable);
    }
  }

  /** Forgets held bytes and ignores further events; the sockets are being destroyed. */
  stop(): void {
    this.stopped = true;
    this.ownBuffer = null;
  }

  /** Bytes read from the source that the destination has not taken yet. */
  get bytesInFlight(): number {
    return this.waitingBytes + this.dest.writableLength;
  }

  /** Ends the destination now (FIN), as if the source had; any later byte from the source is a cut. */
  endDestination(): void {
    if (this.stopped || this.endedByAgent || this.dest.writableEnded) return;
    this.endedByAgent = true;
    this.dest.end();
  }

  get wantsTokens(): boolean {
    return !this.blocked && !this.stopped && this.waitingBytes > 0;
  }

  /** What the bytes waiting would cost. */
  get packetsWanted(): number {
    return this.costOf(this.waitingBytes);
  }

  /** Bytes read and not yet written. */
  private get waitingBytes(): number {
    return this.source.readableLength;
  }

  /** Packets that `bytes` more bytes cost, after the credit. */
  private costOf(bytes: number): number {
    return packetsFor(Math.max(0, bytes - this.credit));
  }

  /**
   * One turn: forwards up to `packets` packets' worth of the bytes waiting, whatever the
   * size of the reads they came in (so a connection that writes 100 bytes at a time gets as
   * many packets per turn as one that writes 64 kB). A piece ends in a partial packet only
   * when nothing more is waiting (a throttled stream pays for full packets), and a piece
   * that empties a full stream buffer keeps its last packet's unfilled bytes as credit: Node
   * stopped reading because the buffer was full, so the bytes behind it are the sender's next
   * ones (paying a whole packet for 65536 bytes, 44 × 1500 = 66000, held a bulk stream at
   * 10000 pps to 0.993 of the plan).
   */
  release(packets: number): number {
    const waiting = this.waitingBytes;
    if (waiting === 0) return 0;
    const n = Math.min(waiting, this.credit + packets * PACKET_BYTES);
    const spent = this.costOf(n);
    this.count(n, spent, n < waiting || waiting >= SOCKET_BUFFER_BYTES);
    this.write(this.source.read(n) as Buffer);
    // Reading the last bytes exactly does not end the stream in Node: read(0) emits a pending 'end'.
    if (this.source.readableLength === 0) this.source.read(0);
    return spent;
  }

  /** A stream source with no limit (the client's socket): a pipe. */
  dataRead(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.endedByAgent) {
      this.owner.broken();
      return;
    }
    this.count(chunk.length, packetsFor(chunk.length), false);
    if (!this.write(chunk)) this.source.pause();
  }

  /** A stream source with a limit: bytes were read into its stream buffer. */
  readable(): void {
    if (this.stopped) return;
    const n = this.source.readableLength;
    if (n === 0) {
      this.source.read(0); // at the end of stream: lets Node emit 'end'
      return;
    }
    if (this.endedByAgent) {
      this.owner.broken();
      return;
    }
    if (this.blocked) return; // the drain takes them
    const limiter = this.limiter!;
    if (this.queued) {
      limiter.arrived();
      return;
    }
    const cost = this.costOf(n);
    if (limiter.tryPass(cost)) {
      this.count(n, cost, n >= FULL_READ_BYTES);
      this.write(this.source.read(n) as Buffer);
      return;
    }
    limiter.enqueue(this);
  }

  /**
   * The app's socket (no limit) read `nread` bytes into `buffer` (the shared buffer or the
   * connection's own). The shared buffer's bytes are copied before they leave this call: the
   * next read of any app-side socket overwrites them. The own buffer's are written from
   * directly, and the buffer is read into again only if the client's socket took them whole
   * (after `write` returns, its `writableLength` is 0: libuv's write completed in the call
   * and the kernel holds the bytes). Otherwise Node's pending write still points into the
   * buffer until it completes, so the connection's next read gets a new buffer and the old
   * one is left to that write. Returns false to stop reading (the client's socket is full).
   */
  fromApp(nread: number, buffer: Buffer): boolean {
    if (this.stopped) return false;
    if (this.endedByAgent) {
      this.owner.broken();
      return false;
    }
    const shared = buffer !== this.ownBuffer;
    const bytes = buffer.subarray(0, nread);
    this.count(nread, packetsFor(nread), false);
    const flowing = this.write(shared ? Buffer.from(bytes) : bytes);
    if (!shared && this.dest.writableLength > 0) this.ownBuffer = null;
    this.nextBuffer = nread >= SHARED_READ_BYTES ? (this.ownBuffer ??= Buffer.allocUnsafe(OWN_READ_BYTES)) : this.dropOwnBuffer();
    this.readingStopped = !flowing;
    return flowing;
  }

  /** The buffer the app's socket reads into next (`onread.buffer`, asked after every read). */
  appBuffer(): Buffer {
    const next = this.nextBuffer;
    this.nextBuffer = null;
    return next ?? sharedAppBuffer();
  }

  private dropOwnBuffer(): Buffer {
    this.ownBuffer = null;
    return sharedAppBuffer();
  }


  /** Counts `bytes` forwarded for `packets`; `continues`: the bytes behind them complete the last packet (see `credit`). */
  private count(bytes: number, packets: number, continues: boolean): void {
    this.credit = continues ? this.credit + packets * PACKET_BYTES - bytes : 0;
    this.counters.packets += packets;
    this.counters.bytes += bytes;
  }

  /** Writes to the destination; false (and blocked) when its buffer is full. */
  private write(chunk: Buffer): boolean {
    if (this.dest.write(chunk)) return true;
    this.blocked = true;
    return false;
  }

  drained(): void {
    if (this.stopped || !this.blocked) return;
    this.blocked = false;
    if (this.waitingBytes > 0) this.limiter?.enqueue(this);
    if (this.sourceEnded || this.limiter !== null) return;
    if (!this.readsIntoBuffers) this.source.resume();
    else if (this.readingStopped) {
      this.readingStopped = false;
      this.source.resume();
    }
  }

  /**
   * End of stream from the source: passed on as a FIN only if it was one (see `resetBehindEnd`)
   * and not the kernel closing the sockets of an app that died (its bytes stop short).
   */
  endOfSource(): void {
    if (this.stopped) return;
    if (resetBehindEnd(this.source) || (this.sourceIsApp && this.owner.appExiting())) {
      this.owner.broken();
      return;
    }
    this.sourceEnded = true;
    // Half-close: the other side gets our FIN once every byte before it is written.
    if (this.waitingBytes === 0) this.dest.end();
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
export class Connection implements PumpOwner {
  private readonly upstream: net.Socket;
  private inbound: Pump | null = null;
  private outbound: Pump | null = null;
  private connected = false;
  private openSockets = 2;
  private finished = false;
  /** Set by `drainWhenQuiet`: a quiet spell this long ends the connection toward the app. */
  private drainQuietMs: number | null = null;

  /**
   * @param slot the connection's place among the connection limits, given back when it closes.
   * @param headerToApp bytes written to the app before any of the client's (a PROXY v2 header
   *   with `proxy-v2-to-app`), so the app reads exactly that header first.
   */
  constructor(
    private readonly client: net.Socket,
    private readonly ctx: ConnectionContext,
    readonly slot: { release(): void },
    private readonly headerToApp?: Buffer,
  ) {
    forwarded(client)[CONNECTION] = this;
    client.on("error", onClientError);
    client.on("close", onSocketClose);
    client.on("timeout", onClientTimeout);
    client.setTimeout(ctx.idleTimeoutMs);

    // highWaterMark is passed on to the stream (Node >= 18); @types/node does not list it.
    const connectOptions: net.NetConnectOpts & { highWaterMark: number } = {
      host: ctx.upstream.host,
      port: ctx.upstream.port,
      allowHalfOpen: true,
      noDelay: true,
      highWaterMark: SOCKET_BUFFER_BYTES,
      // With no limit, reads into the agent's buffers (see OWN_READ_BYTES). Reads start once
      // 'connect' has been emitted, so the pump exists by the first one.
      ...(ctx.limiterOut === null
        ? {
            onread: {
              buffer: () => this.outbound?.appBuffer() ?? sharedAppBuffer(),
              callback: (nread: number, buffer: Uint8Array) => this.outbound?.fromApp(nread, buffer as Buffer) ?? false,
            },
          }
        : {}),
    };
    this.upstream = net.connect(connectOptions);
    forwarded(this.upstream)[CONNECTION] = this;
    this.upstream.on("connect", onUpstreamConnect);
    this.upstream.on("error", onUpstreamError);
    this.upstream.on("close", onSocketClose);
    this.upstream.on("timeout", onUpstreamTimeout);
    this.upstream.setTimeout(ctx.connectTimeoutMs);
  }

  /** A pump's source broke (see PumpOwner): cut. */
  broken(): void {
    this.cut();
  }

  appExiting(): boolean {
    return this.ctx.upstreamExiting();
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

  upstreamConnected(): void {
    this.connected = true;
    this.ctx.upstreamResult(true);
    if (this.client.destroyed) {
      this.upstream.destroy();
      return;
    }
    this.upstream.setTimeout(this.drainQuietMs ?? this.ctx.idleTimeoutMs);
    this.client.setNoDelay(true);
    if (this.headerToApp !== undefined) this.upstream.write(this.headerToApp);
    this.inbound = new Pump(this.client, this.upstream, this.ctx.limiterIn, this.ctx.countersIn, this, false, false);
    this.outbound = new Pump(this.upstream, this.client, this.ctx.limiterOut, this.ctx.countersOut, this, true, this.ctx.limiterOut === null);
    this.inbound.start();
    this.outbound.start();
  }

  clientFailed(): void {
    this.stopPumps();
    abortSocket(this.upstream);
  }

  upstreamFailed(error: NodeJS.ErrnoException): void {
    if (!this.connected) this.ctx.upstreamResult(false, error);
    this.stopPumps();
    abortSocket(this.client);
  }

  upstreamQuiet(): void {
    if (this.connected) {
      this.quiet();
      return;
    }
    const error: NodeJS.ErrnoException = new Error(`connect timed out after ${this.ctx.connectTimeoutMs} ms`);
    error.code = "ETIMEDOUT";
    this.ctx.upstreamResult(false, error);
    this.stopPumps();
    this.upstream.destroy();
    abortSocket(this.client);
  }

  /** A socket saw no traffic for its timeout: the idle timeout, or a quiet spell in a drain. */
  quiet(): void {
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
  }

  socketClosed(): void {
    this.openSockets -= 1;
    if (this.openSockets > 0 || this.finished) return;
    this.finished = true;
    this.stopPumps();
    this.ctx.closed(this);
  }

  private stopPumps(): void {
    this.inbound?.stop();
    this.outbound?.stop();
  }
}
