import { PACKET_BYTES } from "../runtime/agent/contract";
import type { Plan } from "./schema";

/**
 * The plan catalogue. A plan is a packets-per-second budget per container and per direction;
 * the agent counts a packet as up to 1500 bytes of payload, so bandwidth = pps x 1500 B/s.
 */

export { PACKET_BYTES };

/** The plans every config has. User plans may add names, never redefine these. */
/**
 * Open connections per container by plan. The limit exists so that one client cannot take a
 * container down: an idle proxied connection costs the agent about 9 kB and two file
 * descriptors, so 10,000 cost about 90 MB of a 512 MiB task, and 30,000 stay inside Fargate's
 * default `nofile` limit of 65,535. Above what worked before: no existing setup is cut.
 */
export const PLAN_MAX_CONNECTIONS = Object.freeze({ "tcp-1k": 10_000, "tcp-5k": 10_000, "tcp-20k": 20_000, "tcp-100k": 30_000 });

export const BUILT_IN_PLANS: Readonly<Record<string, Plan>> = Object.freeze({
  "tcp-1k": Object.freeze({ name: "tcp-1k", packetsPerSecond: 1_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-1k"] }),
  "tcp-5k": Object.freeze({ name: "tcp-5k", packetsPerSecond: 5_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-5k"] }),
  "tcp-20k": Object.freeze({ name: "tcp-20k", packetsPerSecond: 20_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-20k"] }),
  "tcp-100k": Object.freeze({ name: "tcp-100k", packetsPerSecond: 100_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-100k"] }),
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
    all[name] = {
      name,
      packetsPerSecond: spec.packetsPerSecond,
      ...(spec.burst === undefined ? {} : { burst: spec.burst }),
      ...(spec.maxConnections === undefined ? {} : { maxConnections: spec.maxConnections }),
    };
  }
  return all;
}
