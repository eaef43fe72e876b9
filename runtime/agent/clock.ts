import { performance } from "node:perf_hooks";

/**
 * A monotonic clock in whole nanoseconds. The agent takes it as a parameter so that the
 * token bucket and the limiter can be driven by a fake clock in tests.
 */
export type Clock = () => number;

export const NS_PER_SECOND = 1_000_000_000;
export const NS_PER_MS = 1_000_000;

/** Nanoseconds since the process started, as an integer (exact in a double for 104 days). */
export const monotonicClock: Clock = () => Math.round(performance.now() * NS_PER_MS);
