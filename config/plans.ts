import { PACKET_BYTES } from "../runtime/agent/contract";
import type { Plan } from "./schema";

/**
 * The plan catalogue. A plan is a packets-per-second budget per container and per direction;
 * the agent counts a packet as up to 1500 bytes of payload, so bandwidth = pps x 1500 B/s.
 */

export { PACKET_BYTES };

/** The plans every config has. User plans may add names, never redefine these. */
export const BUILT_IN_PLANS: Readonly<Record<string, Plan>> = Object.freeze({
  "tcp-1k": Object.freeze({ name: "tcp-1k", packetsPerSecond: 1_000 }),
  "tcp-5k": Object.freeze({ name: "tcp-5k", packetsPerSecond: 5_000 }),
  "tcp-20k": Object.freeze({ name: "tcp-20k", packetsPerSecond: 20_000 }),
  "tcp-100k": Object.freeze({ name: "tcp-100k", packetsPerSecond: 100_000 }),
});

export const DEFAULT_PLAN = "tcp-1k";

/** Bandwidth of a packets-per-second budget, in bytes per second (1000 pps = 1,500,000 B/s). */
export function bytesPerSecond(packetsPerSecond: number): number {
  return packetsPerSecond * PACKET_BYTES;
}

const UNITS = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"] as const;

/**
 * A rate in decimal units with at most 3 significant digits: 1_500_000 -> "1.5 MB/s",
 * 6_000_000 -> "6 MB/s", 150_000 -> "150 kB/s".
 */
export function formatRate(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec) || bytesPerSec < 0) throw new RangeError(`not a rate: ${bytesPerSec}`);
  let value = bytesPerSec;
  let unit = 0;
  while (unit < UNITS.length - 1 && Number(value.toPrecision(3)) >= 1000) {
    value /= 1000;
    unit += 1;
  }
  return `${Number(value.toPrecision(3))} ${UNITS[unit]}`;
}

/** Built-ins first, then the user's plans in file order. */
export function planCatalogue(userPlans: Readonly<Record<string, Omit<Plan, "name">>> = {}): Record<string, Plan> {
  const all: Record<string, Plan> = { ...BUILT_IN_PLANS };
  for (const [name, spec] of Object.entries(userPlans)) {
    if (Object.prototype.hasOwnProperty.call(BUILT_IN_PLANS, name)) continue;
    all[name] = spec.burst === undefined
      ? { name, packetsPerSecond: spec.packetsPerSecond }
      : { name, packetsPerSecond: spec.packetsPerSecond, burst: spec.burst };
  }
  return all;
}
