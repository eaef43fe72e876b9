import { NS_PER_MS, NS_PER_SECOND } from "../../runtime/agent/clock";
import { Limiter, type Waiter } from "../../runtime/agent/limiter";
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

describe("Limiter on a fake clock", () => {
  it("lets exactly burst + rate × seconds through to a waiter that always has bytes", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 1000, time.now, time);
    const waiter = new HungryWaiter();
    limiter.enqueue(waiter);
    time.advance(10 * NS_PER_SECOND);
    expect(waiter.released).toBe(1000 + 10 * 1000);
  });

  it("serves waiting connections round robin, so 5 hungry waiters get equal shares", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 20, time.now, time);
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
    const limiter = new Limiter(5000, 5000, time.now, time);
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
    const limiter = new Limiter(100_000, 100_000, time.now, time);
    const waiters = Array.from({ length: 8 }, () => new HungryWaiter());
    for (const waiter of waiters) limiter.enqueue(waiter);
    time.advance(2 * NS_PER_SECOND);
    const late = waiters.flatMap((w) => w.pieces.slice(-10));
    expect(new Set(late)).toEqual(new Set([limiter.pieceLimit]));
  });

  it("does not make a lone waiter's small piece wait for more tokens than it needs", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, time);
    limiter.enqueue(new HungryWaiter()); // spends the burst
    const small = new HungryWaiter();
    small.packetsWanted = 1;
    time.advance(50 * NS_PER_MS);
    limiter.clear();
    limiter.bucket.take(limiter.bucket.available());
    limiter.enqueue(small);
    time.advance(NS_PER_MS);
    expect(small.released).toBe(1);
  });

  it("releases one packet at a time at 100 pps", () => {
    const time = new FakeTime();
    const limiter = new Limiter(100, 100, time.now, time);
    const waiter = new HungryWaiter();
    limiter.enqueue(waiter);
    time.advance(5 * NS_PER_SECOND);
    expect(new Set(waiter.pieces)).toEqual(new Set([1]));
  });

  it("lets a chunk pass at once when nobody waits and the bucket covers it", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, time);
    expect(limiter.tryPass(2)).toBe(true);
    expect(limiter.bucket.available()).toBe(98);
  });

  it("makes a chunk larger than one piece wait, to be split into pieces", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, time);
    expect(limiter.tryPass(limiter.pieceLimit + 1)).toBe(false);
  });

  it("makes a new chunk wait behind connections already waiting, even once tokens have accrued", () => {
    // given a waiter that emptied the bucket and waits for more
    const time = new FakeTime();
    const limiter = new Limiter(1000, 100, time.now, time);
    limiter.enqueue(new HungryWaiter());
    // when tokens accrue before the limiter's timer has served the waiter
    time.t += 5 * NS_PER_MS;
    expect(limiter.bucket.available()).toBe(5);
    // then a newcomer does not overtake it
    expect(limiter.tryPass(1)).toBe(false);
  });

  it("counts throttled time exactly: from the first wait until the queue empties", () => {
    const time = new FakeTime();
    const limiter = new Limiter(1000, 10, time.now, time);
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
    const limiter = new Limiter(1000, 10, time.now, time);
    let held = 50_000 * PACKET_BYTES;
    const waiter: Waiter = {
      queued: false,
      get wantsTokens() {
        return held > 0;
      },
      get packetsWanted() {
        return Math.ceil(held / PACKET_BYTES);
      },
      release(packets) {
        const bytes = Math.min(held, packets * PACKET_BYTES);
        held -= bytes;
        return Math.ceil(bytes / PACKET_BYTES);
      },
    };
    limiter.enqueue(waiter);
    time.advance(49 * NS_PER_SECOND);
    expect(held).toBeGreaterThan(0);
    time.advance(NS_PER_SECOND);
    expect(held).toBe(0);
  });
});
