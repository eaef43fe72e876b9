import fc from "fast-check";
import { NS_PER_MS, NS_PER_SECOND } from "../../runtime/agent/clock";
import { pieceLimit } from "../../runtime/agent/limiter";
import { packetsFor, TokenBucket } from "../../runtime/agent/token-bucket";

/** A clock that only moves when the test says so. */
function fakeClock(): { now: () => number; advance: (ns: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ns) => (t += ns) };
}

describe("packetsFor", () => {
  it("charges ceil(n / 1500) packets for a chunk of n bytes", () => {
    expect([0, 1, 1499, 1500, 1501, 3000, 3001, 65536].map(packetsFor)).toEqual([0, 1, 1, 1, 2, 2, 3, 44]);
  });
});

describe("TokenBucket on a fake clock", () => {
  it("starts full, with burst tokens", () => {
    const clock = fakeClock();
    expect(new TokenBucket(1000, 250, clock.now).available()).toBe(250);
  });

  it("grants exactly burst + rate × seconds to a greedy taker over 10 s", () => {
    // given a 1000 pps bucket with a burst of 1000, polled every millisecond
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 1000, clock.now);
    let granted = 0;
    // when everything available is taken at each poll for 10 s
    for (let ms = 0; ms <= 10_000; ms++) {
      const n = bucket.available();
      bucket.take(n);
      granted += n;
      clock.advance(NS_PER_MS);
    }
    // then exactly the burst plus 10 s of rate went through
    expect(granted).toBe(1000 + 1000 * 10);
  });

  it("grants exactly floor(rate × elapsed) after the burst, for any rate and polling pattern", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.array(fc.integer({ min: 1, max: 50 * NS_PER_MS }), { minLength: 1, maxLength: 200 }),
        (rate, steps) => {
          // a burst large enough that the greedy taker never lets it fill up
          const burst = Math.ceil((rate * 50) / 1000) + 1;
          const clock = fakeClock();
          const bucket = new TokenBucket(rate, burst, clock.now);
          let granted = bucket.available();
          bucket.take(granted);
          let elapsed = 0;
          for (const step of steps) {
            clock.advance(step);
            elapsed += step;
            const n = bucket.available();
            bucket.take(n);
            granted += n;
          }
          expect(granted - burst).toBe(Math.floor((rate * elapsed) / NS_PER_SECOND));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("stays exact at the largest rate and burst", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10_000_000, 9_000_000, clock.now);
    bucket.take(9_000_000);
    clock.advance(NS_PER_SECOND / 2 + 1);
    // 5,000,000.01 packets accrued: 5,000,000 whole ones
    expect(bucket.available()).toBe(5_000_000);
  });

  it("never holds more than the burst, however long it idles", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(100_000, 500, clock.now);
    bucket.take(500);
    clock.advance(3600 * NS_PER_SECOND);
    expect(bucket.available()).toBe(500);
  });

  it("tells exactly how long until n tokens are available", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(300, 10, clock.now);
    bucket.take(10);
    // 3 packets at 300 pps take 10 ms
    expect(bucket.delayFor(3)).toBe(10 * NS_PER_MS);
    clock.advance(10 * NS_PER_MS);
    expect(bucket.available()).toBe(3);
  });

  it("refuses to take more than it holds", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 5, clock.now);
    expect(() => bucket.take(6)).toThrow(RangeError);
  });

  it("rejects a zero rate", () => {
    expect(() => new TokenBucket(0, 1, fakeClock().now)).toThrow(RangeError);
  });
});

describe("pieceLimit", () => {
  it("keeps one piece at 100 pps to a single packet (less than one tick's tokens), so 1-second windows stay accurate", () => {
    expect(pieceLimit(100, 100)).toBe(1);
  });

  it("sizes a piece at what one tick brings (1/125 s of the rate), so a piece never waits for more than one tick", () => {
    expect(pieceLimit(2000, 2000)).toBe(16);
    expect(pieceLimit(1000, 1000)).toBe(8);
    expect(pieceLimit(5000, 5000)).toBe(40);
  });

  it("never lets a piece cost more than the burst", () => {
    expect(pieceLimit(100_000, 3)).toBe(3);
  });

  it("caps a piece at 44 packets (one 64 kB read) at high rates", () => {
    expect(pieceLimit(1_000_000, 1_000_000)).toBe(44);
  });
});
