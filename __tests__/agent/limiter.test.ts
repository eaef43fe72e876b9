import { NS_PER_MS, NS_PER_SECOND } from "../../runtime/agent/clock";
import { Limiter, Ticker, type Waiter } from "../../runtime/agent/limiter";
import type { Timers } from "../../runtime/agent/timers";
import { PACKET_BYTES } from "../../runtime/agent/contract";

/** A fake clock with fake timers: `advance` moves time and fires what fell due. */
class FakeTime implements Timers {
  t = 0;
  private pending: Array<{ at: number; callback: () => void }> = [];
  readonly now = (): number => this.t;

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { at: this.t + ms * NS_PER_MS, callback };
    this.pending.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((timer) => timer !== handle);
  }

  /** Moves time forward by `ns`, firing due timers in order. */
  advance(ns: number): void {
    const end = this.t + ns;
    for (;;) {
      const due = this.pending.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.pending = this.pending.filter((timer) => timer !== due);
      this.t = Math.max(this.t, due.at);
      due.callback();
    }
    this.t = end;
  }
}

/** A waiter with an endless supply of bytes that records what it was let through. */
class HungryWaiter implements Waiter {
  queued = false;
  servedInPass = 0;
  released = 0;
  readonly pieces: number[] = [];
  wantsTokens = true;
  packetsWanted = 1000;

  release(packets: number): number {
    this.released += packets;
    this.pieces.push(packets);
    return packets;
  }
}

/** A waiter holding `bytes` that arrived already: it forwards them and records each piece's bytes. */
class BacklogWaiter implements Waiter {
  queued = false;
  servedInPass = 0;
  readonly pieces: number[] = [];

  constructor(public bytes: number) {}

  get wantsTokens(): boolean {
    return this.bytes > 0;
  }

  get packetsWanted(): number {
    return Math.ceil(this.bytes / PACKET_BYTES);
  }

  release(packets: number): number {
    const n = Math.min(this.bytes, packets * PACKET_BYTES);
    this.bytes -= n;
    this.pieces.push(n);
    return Math.ceil(n / PACKET_BYTES);
  }
}

describe("Limiter on a fake clock", () => {
  it("lets exactly burst + rate × seconds through to a waiter that always has bytes", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 1000, time.now, new Ticker(time.now, time));
    const waiter = new HungryWaiter();
    limiter.enqueue(waiter);
    time.advance(10 * NS_PER_SECOND);
    expect(waiter.released).toBe(1000 + 10 * 1000);
  });

  it("serves waiting connections round robin, so 5 hungry waiters get equal shares", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 20, time.now, new Ticker(time.now, time));
    const waiters = Array.from({ length: 5 }, () => new HungryWaiter());
    for (const waiter of waiters) limiter.enqueue(waiter); // the first one spends the burst
    const before = waiters.map((w) => w.released);
    time.advance(10 * NS_PER_SECOND);
    const shares = waiters.map((w, i) => w.released - before[i]);
    expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(limiter.pieceLimit);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(10 * 1000);
  });

  it("shrinks the pieces when 50 wait, so each waits one short round for its next piece", () => {
    // given 50 hungry connections at 5000 pps (a full piece is 44 packets: 0.44 s for a round)
    const time = new FakeTime();
    const limiter = new Limiter(5000, 5000, time.now, new Ticker(time.now, time));
    const waiters = Array.from({ length: 50 }, () => new HungryWaiter());
    const turns = new Map<HungryWaiter, number[]>(waiters.map((w) => [w, []]));
    for (const waiter of waiters) {
      const release = waiter.release.bind(waiter);
      waiter.release = (packets) => (turns.get(waiter)!.push(time.t), release(packets));
      limiter.enqueue(waiter);
    }
    time.advance(NS_PER_SECOND); // the burst is spent
    const before = waiters.map((w) => w.released);

    time.advance(2 * NS_PER_SECOND);

    // then every connection gets its turn at least every 0.1 s, and the shares differ by one piece at most
    const gaps = waiters.flatMap((w) => turns.get(w)!.filter((t) => t > NS_PER_SECOND).map((t, i, all) => (i === 0 ? 0 : t - all[i - 1])));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(NS_PER_SECOND / 10);
    const shares = waiters.map((w, i) => w.released - before[i]);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(2 * 5000);
    expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(8);
  });

  it("keeps whole pieces for a few connections at a high rate (the writes stay few)", () => {
    const time = new FakeTime();
    const limiter = new Limiter(100_000, 100_000, time.now, new Ticker(time.now, time));
    const waiters = Array.from({ length: 8 }, () => new HungryWaiter());
    for (const waiter of waiters) limiter.enqueue(waiter);
    time.advance(2 * NS_PER_SECOND);
    const late = waiters.flatMap((w) => w.pieces.slice(-10));
    expect(new Set(late)).toEqual(new Set([limiter.pieceLimit]));
  });

  it("does not make a lone waiter's small piece wait for more tokens than it needs", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, new Ticker(time.now, time));
    limiter.enqueue(new HungryWaiter()); // spends the burst
    const small = new HungryWaiter();
    small.packetsWanted = 1;
    time.advance(50 * NS_PER_MS);
    limiter.clear();
    limiter.bucket.take(limiter.bucket.available());
    // one token accrues: a whole piece (8 packets) is far away, the small one's packet is there
    time.t += NS_PER_MS;
    limiter.enqueue(small);
    expect(small.released).toBe(1);
  });

  it("releases one packet at a time at 100 pps", () => {
    const time = new FakeTime();
    const limiter = new Limiter(100, 100, time.now, new Ticker(time.now, time));
    const waiter = new HungryWaiter();
    limiter.enqueue(waiter);
    time.advance(5 * NS_PER_SECOND);
    expect(new Set(waiter.pieces)).toEqual(new Set([1]));
  });

  it("lets a chunk pass at once when nobody waits and the bucket covers it", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, new Ticker(time.now, time));
    expect(limiter.tryPass(2)).toBe(true);
    expect(limiter.bucket.available()).toBe(98);
  });

  it("makes a chunk larger than one piece wait, to be split into pieces", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, new Ticker(time.now, time));
    expect(limiter.tryPass(limiter.pieceLimit + 1)).toBe(false);
  });

  it("makes a new chunk wait behind connections already waiting, even once tokens have accrued", () => {
    // given a waiter that emptied the bucket and waits for more
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, new Ticker(time.now, time));
    limiter.enqueue(new HungryWaiter());
    // when tokens accrue before the limiter's tick has served the waiter
    const left = limiter.bucket.available();
    time.t += 5 * NS_PER_MS;
    expect(limiter.bucket.available()).toBe(left + 5);
    // then a newcomer does not overtake it
    expect(limiter.tryPass(1)).toBe(false);
  });

  it("counts throttled time exactly: from the first wait until the queue empties", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 10, time.now, new Ticker(time.now, time));
    const waiter = new HungryWaiter();
    limiter.enqueue(waiter);
    time.advance(2 * NS_PER_SECOND);
    waiter.wantsTokens = false;
    time.advance(NS_PER_SECOND);
    expect(limiter.throttledSeconds()).toBeGreaterThanOrEqual(2);
    expect(limiter.throttledSeconds()).toBeLessThanOrEqual(2.01);
  });

  it("holds back bytes instead of dropping them: a waiter gets its whole backlog in time", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 10, time.now, new Ticker(time.now, time));
    const waiter = new BacklogWaiter(50_000 * PACKET_BYTES);
    limiter.enqueue(waiter);
    time.advance(49 * NS_PER_SECOND);
    expect(waiter.bytes).toBeGreaterThan(0);
    time.advance(NS_PER_SECOND);
    expect(waiter.bytes).toBe(0);
  });

  it("serves both directions from one timer, 125 ticks a second, only while something waits", () => {
    // given two limiters (the two directions) on one ticker, each with a hungry waiter
    const time = new FakeTime();
    let timersSet = 0;
    const setTimeout = time.setTimeout.bind(time);
    time.setTimeout = (callback, ms) => (timersSet++, setTimeout(callback, ms));
    const ticker = new Ticker(time.now, time);
    const up = new Limiter(1000, 1000, time.now, ticker);
    const down = new Limiter(1000, 1000, time.now, ticker);
    const waiters = [new HungryWaiter(), new HungryWaiter()];
    up.enqueue(waiters[0]);
    down.enqueue(waiters[1]);

    time.advance(2 * NS_PER_SECOND);

    // then one timer chain served both: 250 ticks in 2 s, and one timer set per tick (the next one pending)
    expect(ticker.ticks).toBe(250);
    expect(timersSet).toBe(ticker.ticks + 1);
    expect(waiters.map((w) => w.released)).toEqual([1000 + 2000, 1000 + 2000]);
    // and every tick released one tick's tokens in each direction (8 packets at 1000 pps)
    expect(new Set(waiters[0].pieces.slice(1))).toEqual(new Set([8]));

    // when neither direction has bytes waiting, the timer stops
    for (const waiter of waiters) waiter.wantsTokens = false;
    time.advance(NS_PER_SECOND);
    expect(ticker.running).toBe(false);
    const ticks = ticker.ticks;
    time.advance(NS_PER_SECOND);
    expect(ticker.ticks).toBe(ticks);
    expect(ticks).toBeLessThanOrEqual(251);
  });

  it("keeps every 1-second window within 1 % of the rate at 1000 pps, whatever the window's phase", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 1000, time.now, new Ticker(time.now, time));
    const waiter = new HungryWaiter();
    const at: Array<{ t: number; total: number }> = [];
    const release = waiter.release.bind(waiter);
    waiter.release = (packets) => {
      const spent = release(packets);
      at.push({ t: time.t, total: waiter.released });
      return spent;
    };
    limiter.enqueue(waiter);
    time.advance(12 * NS_PER_SECOND);
    const releasedBy = (t: number): number => at.filter((x) => x.t <= t).at(-1)?.total ?? 0;
    // windows opening every millisecond, after the burst is spent
    const errors: number[] = [];
    for (let start = 2 * NS_PER_SECOND; start < 10 * NS_PER_SECOND; start += NS_PER_MS) {
      errors.push(Math.abs(releasedBy(start + NS_PER_SECOND) - releasedBy(start) - 1000) / 1000);
    }
    expect(Math.max(...errors)).toBeLessThanOrEqual(0.01);
  });

  it("does not fire the ticks it missed at once when the event loop was held up", () => {
    const time = new FakeTime();
    const ticker = new Ticker(time.now, time);
    const limiter = new Limiter(1000, 1000, time.now, ticker);
    const waiter = new HungryWaiter();
    limiter.enqueue(waiter);
    time.advance(NS_PER_SECOND);
    const ticks = ticker.ticks;
    // a 100 ms stall: the next tick comes late, then the schedule restarts from it
    time.t += 100 * NS_PER_MS;
    time.advance(100 * NS_PER_MS);
    expect(ticker.ticks - ticks).toBeLessThanOrEqual(13);
    // and the bucket still grants exactly burst + rate x seconds (what the last tick left is in the bucket)
    expect(waiter.released + limiter.bucket.available()).toBe(1000 + 1200);
    expect(waiter.released).toBeGreaterThanOrEqual(1000 + 1200 - limiter.pieceLimit);
  });

  it("gives a waiter holding less than a full piece no second turn in the same tick (the bytes behind it are on their way)", () => {
    // given a lone connection at 5000 pps (pieces of 40 packets) whose stream buffer holds one
    // 64 KiB read: 43.7 packets' worth
    const time = new FakeTime();
    const limiter = new Limiter(5000, 5000, time.now, new Ticker(time.now, time));
    const waiter = new BacklogWaiter(65536);
    const pieces = waiter.pieces;

    // when it joins the queue with the whole burst in the bucket
    limiter.enqueue(waiter);

    // then it gets one full piece now, and its 5536-byte rest waits for the next tick
    expect(pieces).toEqual([60_000]);
    time.advance(8 * NS_PER_MS);
    expect(pieces).toEqual([60_000, 5536]);
  });
});
