import { type Clock, NS_PER_MS, NS_PER_SECOND } from "./clock";
import { LIMITER_TICK_MS, LIMITER_TICKS_PER_SECOND } from "./contract";
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
  /** Set by the limiter: the serve pass that last gave the waiter a turn (0: none yet). */
  servedInPass: number;
  /** Forwards held bytes worth at most `packets` packets; returns the packets spent (0 if it held none). */
  release(packets: number): number;
}

/**
 * A forwarded piece costs at most what one tick brings (at least one packet; see
 * `pieceLimit`): a piece never waits for the tokens of more than one tick, so pieces do not
 * bunch and a 1-second window stays within one tick's share of the rate (see
 * LIMITER_TICKS_PER_SECOND); and at most this many packets (66 kB, one socket read).
 */
const PIECE_MAX_PACKETS = 44;
/**
 * With many connections waiting, a turn's piece shrinks so that a round of the queue takes
 * about this long: a connection waits that long for its next piece, not 50 × 40 packets
 * (0.4 s at 5000 pps; at 1/12 s it gets 8 packets every 80 ms). A few connections keep whole
 * pieces (8 at 5000 pps: 40 packets, a round of 64 ms), so the writes stay few: each piece is
 * a socket write, and at 1/20 s the 8 connections of the bench's tcp-5k case got 31 packets
 * a turn, 30 % more writes than whole pieces.
 */
const ROUND_FRACTION_OF_SECOND = 1 / 12;
/** ...but a piece never shrinks below this (12 kB), so writes stay large enough to cost little. */
const SHARE_MIN_PACKETS = 8;

const TICK_NS = LIMITER_TICK_MS * NS_PER_MS;

/** The most packets one forwarded piece may cost at `rate` packets/s with `burst`. */
export function pieceLimit(rate: number, burst: number): number {
  const byTick = Math.ceil(rate / LIMITER_TICKS_PER_SECOND);
  return Math.max(1, Math.min(byTick, PIECE_MAX_PACKETS, burst));
}

/**
 * The agent's one limiter timer: while any limiter holds a waiting connection it fires
 * LIMITER_TICKS_PER_SECOND times a second and serves every limiter (both directions) in
 * the same callback; once no connection waits it stops. One timer for the whole agent, not
 * one per direction or per connection: a timer's wake is the main cost of a throttled
 * direction, and two timers not in step woke the agent almost twice as often as needed.
 *
 * The ticks keep to a schedule (the n-th at start + n × 8 ms), so a tick that fires late
 * does not push the later ones back; one more than a period late, the schedule restarts
 * from now instead of firing the missed ticks at once.
 */
export class Ticker {
  private readonly limiters: Limiter[] = [];
  private timer: unknown = null;
  private ticking = false;
  private due = 0;
  /** Ticks fired since the agent started. */
  ticks = 0;

  constructor(
    private readonly now: Clock,
    private readonly timers: Timers = realTimers,
  ) {}

  /** True while the timer is set. */
  get running(): boolean {
    return this.timer !== null;
  }

  /** Serves `limiter` at every tick from now on. */
  add(limiter: Limiter): void {
    this.limiters.push(limiter);
  }

  /** Starts the ticks unless they run (a limiter has connections waiting). */
  start(): void {
    if (this.timer !== null || this.ticking) return;
    this.due = this.now() + TICK_NS;
    this.timer = this.timers.setTimeout(this.tick, LIMITER_TICK_MS);
  }

  /** Stops the ticks if no limiter has a connection waiting. */
  stopIfIdle(): void {
    if (this.timer === null || this.limiters.some((limiter) => limiter.waiting > 0)) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly tick = (): void => {
    this.timer = null;
    this.ticks += 1;
    this.ticking = true;
    let waiting = false;
    try {
      for (const limiter of this.limiters) {
        limiter.serve();
        if (limiter.waiting > 0) waiting = true;
      }
    } finally {
      this.ticking = false;
    }
    if (!waiting) return;
    const now = this.now();
    this.due += TICK_NS;
    if (this.due <= now) this.due = now + TICK_NS;
    this.timer = this.timers.setTimeout(this.tick, Math.max(1, Math.round((this.due - now) / NS_PER_MS)));
  };
}

/**
 * One direction's share of the container's budget: a token bucket and a FIFO of the
 * connections waiting for it, served round robin, one piece of equal size per turn
 * (`pieceLimit` packets, smaller when many wait, see `ROUND_FRACTION_OF_SECOND`; less if
 * the connection holds less), so every waiting connection gets the same share of packets.
 *
 * A chunk passes straight through when nobody is waiting, it fits in one piece and the
 * bucket covers it; otherwise its connection joins the back of the queue, and the agent's
 * `Ticker` serves the queue at every tick with what the bucket holds by then.
 */
export class Limiter {
  readonly bucket: TokenBucket;
  /** Packets one forwarded piece may cost at most. */
  readonly pieceLimit: number;
  /** Packets a round of the queue should cost at most (see ROUND_FRACTION_OF_SECOND). */
  private readonly roundPackets: number;
  private queue: Waiter[] = [];
  private head = 0;
  private serving = false;
  private passes = 0;
  private throttledNs = 0;
  private throttledSince = -1;
  /**
   * The last serve pass ended with tokens to spare: every waiter left in the queue had had its
   * turn and held less than a piece, not the bucket ran short. Bytes arriving for a waiter
   * then need not wait for the next tick (see `arrived`).
   */
  private spare = false;

  constructor(
    rate: number,
    burst: number,
    private readonly now: Clock,
    private readonly ticker: Ticker,
  ) {
    this.bucket = new TokenBucket(rate, burst, now);
    this.pieceLimit = pieceLimit(rate, burst);
    this.roundPackets = rate * ROUND_FRACTION_OF_SECOND;
    ticker.add(this);
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

  /** Puts a waiter at the back of the queue (once) and serves what the bucket allows now. */
  enqueue(waiter: Waiter): void {
    if (waiter.queued) return;
    waiter.queued = true;
    if (this.waiting === 0) this.throttledSince = this.now();
    this.queue.push(waiter);
    this.serve();
  }

  /**
   * Bytes arrived for a waiter in the queue. If the last pass had tokens to spare, the queue
   * is served now, in its order; else the next tick serves it. (Waiting for the tick after a
   * spare pass held a lone bulk connection to about one stream buffer per tick: 30 % of
   * 100000 pps. Serving at every arrival instead cost a pass per socket read at tcp-20k.)
   */
  arrived(): void {
    if (this.spare) this.serve();
  }

  /** Drops every waiter (the limiter stays usable); the ticks stop if nothing else waits. */
  clear(): void {
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].queued = false;
    this.queue = [];
    this.head = 0;
    this.endThrottle();
    this.ticker.stopIfIdle();
  }

  /**
   * Serves the queue round robin while the bucket covers the head's piece; with connections
   * still waiting, makes sure the ticks run. Called at enqueue and at every tick.
   *
   * A waiter that holds less than a full piece and already had a turn in this pass waits for
   * the next one: what it holds is the rest of a read a turn cut into, and the bytes behind
   * it are still on their way from the kernel (Node reads again once a turn took bytes), so
   * serving it now would pay a partial packet a moment before the bytes that fill it arrive.
   */
  serve(): void {
    if (this.serving) return;
    this.serving = true;
    const pass = ++this.passes;
    let deferred = 0;
    let short = false;
    try {
      while (this.waiting > deferred) {
        const waiter = this.queue[this.head];
        if (!waiter.wantsTokens) {
          this.dequeue().queued = false;
          continue;
        }
        const share = this.share();
        const piece = Math.min(waiter.packetsWanted, share);
        if (piece < share && waiter.servedInPass === pass) {
          const later = this.dequeue(); // (dequeue may replace the array: push onto the new one)
          this.queue.push(later);
          deferred += 1;
          continue;
        }
        if (this.bucket.available() < piece) {
          short = true;
          break;
        }
        waiter.servedInPass = pass;
        this.dequeue();
        const spent = waiter.release(piece);
        this.bucket.take(spent);
        if (waiter.wantsTokens) this.queue.push(waiter);
        else waiter.queued = false;
      }
    } finally {
      this.serving = false;
    }
    this.spare = !short;
    if (this.waiting > 0) this.ticker.start();
    else this.endThrottle();
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

  private endThrottle(): void {
    if (this.throttledSince < 0) return;
    this.throttledNs += this.now() - this.throttledSince;
    this.throttledSince = -1;
  }
}
