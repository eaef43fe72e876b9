import { type Clock, NS_PER_MS, NS_PER_SECOND } from "./clock";
import { TokenBucket } from "./token-bucket";
import { realTimers, type Timers } from "./timers";

/** One direction of one connection, holding bytes back until the limiter lets them through. */
export interface Waiter {
  /** True while the waiter holds bytes it can write now. */
  readonly wantsTokens: boolean;
  /** Packets the bytes it could forward now would cost in total. */
  readonly packetsWanted: number;
  /** Set by the limiter while the waiter is in its queue. */
  queued: boolean;
  /** Forwards held bytes worth at most `packets` packets; returns the packets spent (0 if it held none). */
  release(packets: number): number;
}

/**
 * A forwarded piece costs at most this fraction of a second of the rate (at least one
 * packet): small enough that a 1-second window is off by at most 1 % (1 packet at 100
 * pps), large enough that a throttled direction wakes at most about 100 times a second.
 * Each wake is a timer and a socket write, the agent's main cost at low rates: at 1/500 s
 * a tcp-1k plan both ways cost about twice the CPU (the bench's plans case).
 */
const PIECE_FRACTION_OF_SECOND = 1 / 100;
/** ...and at most this many packets (66 kB, the size of one socket read). */
const PIECE_MAX_PACKETS = 44;
/**
 * With many connections waiting, a turn's piece shrinks so that a round of the queue takes
 * about this long: a connection waits that long for its next piece, not 50 × 44 packets
 * (0.44 s at 5000 pps). A few connections keep larger pieces (8 at 5000 pps: 31 packets;
 * at 100000 pps whole ones), so the writes stay few: at 1/50 s, 8 connections at 5000 pps
 * cost the agent 0.150 cores instead of 0.115 (the bench's plans case, tcp-5k).
 */
const ROUND_FRACTION_OF_SECOND = 1 / 20;
/** ...but a piece never shrinks below this (12 kB), so writes stay large enough to cost little. */
const SHARE_MIN_PACKETS = 8;

/** The most packets one forwarded piece may cost at `rate` packets/s with `burst`. */
export function pieceLimit(rate: number, burst: number): number {
  const byRate = Math.ceil(rate * PIECE_FRACTION_OF_SECOND);
  return Math.max(1, Math.min(byRate, PIECE_MAX_PACKETS, burst));
}

/**
 * One direction's share of the container's budget: a token bucket and a FIFO of the
 * connections waiting for it, served round robin, one piece of equal size per turn
 * (`pieceLimit` packets, smaller when many wait, see `ROUND_FRACTION_OF_SECOND`; less if
 * the connection holds less), so every waiting connection gets the same share of packets.
 *
 * A chunk passes straight through when nobody is waiting, it fits in one piece and the
 * bucket covers it; otherwise its connection joins the back of the queue. When the head
 * of the queue cannot have its piece, one timer wakes the limiter once it can.
 */
export class Limiter {
  readonly bucket: TokenBucket;
  /** Packets one forwarded piece may cost at most. */
  readonly pieceLimit: number;
  /** Packets a round of the queue should cost at most (see ROUND_FRACTION_OF_SECOND). */
  private readonly roundPackets: number;
  private queue: Waiter[] = [];
  private head = 0;
  private timer: unknown = null;
  private running = false;
  private throttledNs = 0;
  private throttledSince = -1;

  constructor(rate: number, burst: number, private readonly now: Clock, private readonly timers: Timers = realTimers) {
    this.bucket = new TokenBucket(rate, burst, now);
    this.pieceLimit = pieceLimit(rate, burst);
    this.roundPackets = rate * ROUND_FRACTION_OF_SECOND;
  }

  /** Connections waiting for tokens. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Seconds during which at least one connection was held back. */
  throttledSeconds(): number {
    const ongoing = this.throttledSince >= 0 ? this.now() - this.throttledSince : 0;
    return (this.throttledNs + ongoing) / NS_PER_SECOND;
  }

  /**
   * Takes `packets` tokens if a chunk of that cost may pass at once: nobody is waiting,
   * the chunk fits in one piece and the bucket covers it.
   */
  tryPass(packets: number): boolean {
    if (this.waiting > 0 || packets > this.pieceLimit) return false;
    if (this.bucket.available() < packets) return false;
    this.bucket.take(packets);
    return true;
  }

  /** Puts a waiter at the back of the queue (once) and serves what the bucket allows. */
  enqueue(waiter: Waiter): void {
    if (waiter.queued) return;
    waiter.queued = true;
    if (this.waiting === 0) this.throttledSince = this.now();
    this.queue.push(waiter);
    this.serve();
  }

  /** Drops every waiter and the timer (the limiter stays usable). */
  clear(): void {
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].queued = false;
    this.queue = [];
    this.head = 0;
    this.stopTimer();
    this.endThrottle();
  }

  private serve(): void {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting > 0) {
        const waiter = this.queue[this.head];
        if (!waiter.wantsTokens) {
          this.dequeue().queued = false;
          continue;
        }
        const share = this.share();
        const piece = Math.min(waiter.packetsWanted, share);
        if (this.bucket.available() < piece) {
          // Woken once as many whole pieces as fit in a piece limit are there: no more wakes than before.
          this.sleepUntil(piece * Math.max(1, Math.min(this.waiting, Math.floor(this.pieceLimit / piece))));
          return;
        }
        this.dequeue();
        const spent = waiter.release(piece);
        this.bucket.take(spent);
        if (waiter.wantsTokens) this.queue.push(waiter);
        else waiter.queued = false;
      }
      this.stopTimer();
      this.endThrottle();
    } finally {
      this.running = false;
    }
  }

  /** The packets one turn may release while `waiting` connections wait. */
  private share(): number {
    const floor = Math.min(SHARE_MIN_PACKETS, this.pieceLimit);
    return Math.max(floor, Math.min(this.pieceLimit, Math.floor(this.roundPackets / this.waiting)));
  }

  private dequeue(): Waiter {
    const waiter = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return waiter;
  }

  private sleepUntil(packets: number): void {
    if (this.timer !== null) return;
    const ms = Math.max(1, Math.ceil(this.bucket.delayFor(packets) / NS_PER_MS));
    this.timer = this.timers.setTimeout(this.wake, ms);
  }

  private readonly wake = (): void => {
    this.timer = null;
    this.serve();
  };

  private stopTimer(): void {
    if (this.timer === null) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private endThrottle(): void {
    if (this.throttledSince < 0) return;
    this.throttledNs += this.now() - this.throttledSince;
    this.throttledSince = -1;
  }
}
