import { type Clock, NS_PER_SECOND } from "./clock";

import { MAX_BURST, MAX_PPS, PACKET_BYTES } from "./contract";

/** Packets a chunk of `bytes` bytes costs. */
export function packetsFor(bytes: number): number {
  return Math.ceil(bytes / PACKET_BYTES);
}

/**
 * A token bucket counted in packets. It refills at `rate` packets per second up to
 * `burst` packets and starts full.
 *
 * Tokens are kept as `packets × 10^9` in an integer-valued double, refilled by
 * `elapsed nanoseconds × rate`: every step is an exact integer operation, so the bucket
 * grants exactly `burst + rate × seconds` packets, with no drift, however it is polled.
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  private readonly capacity: number;
  private credit: number;
  private last: number;

  constructor(rate: number, burst: number, private readonly now: Clock) {
    if (!Number.isInteger(rate) || rate < 1 || rate > MAX_PPS) {
      throw new RangeError(`rate must be an integer from 1 to ${MAX_PPS}, got ${rate}`);
    }
    if (!Number.isInteger(burst) || burst < 1 || burst > MAX_BURST) {
      throw new RangeError(`burst must be an integer from 1 to ${MAX_BURST}, got ${burst}`);
    }
    this.rate = rate;
    this.burst = burst;
    this.capacity = burst * NS_PER_SECOND;
    this.credit = this.capacity;
    this.last = now();
  }

  /** Whole packets that may be spent now. */
  available(): number {
    this.refill();
    const whole = Math.floor(this.credit / NS_PER_SECOND);
    // The division rounds; correct it so that `whole` never exceeds the credit.
    return whole * NS_PER_SECOND > this.credit ? whole - 1 : whole;
  }

  /** Spends `packets` tokens; the caller checked `available()` first. */
  take(packets: number): void {
    this.refill();
    const cost = packets * NS_PER_SECOND;
    if (packets < 0 || cost > this.credit) {
      throw new RangeError(`cannot take ${packets} packets from a bucket holding ${this.credit / NS_PER_SECOND}`);
    }
    this.credit -= cost;
  }

  /** Nanoseconds until `packets` tokens are available (0 if they are now). */
  delayFor(packets: number): number {
    this.refill();
    const missing = Math.min(packets, this.burst) * NS_PER_SECOND - this.credit;
    return missing <= 0 ? 0 : Math.ceil(missing / this.rate);
  }

  private refill(): void {
    const now = this.now();
    const elapsed = now - this.last;
    if (elapsed <= 0) return;
    this.last = now;
    // Rounding is monotonic, so an inexact sum past the capacity still clamps to it exactly.
    this.credit = Math.min(this.capacity, this.credit + elapsed * this.rate);
  }
}
