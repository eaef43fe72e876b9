import { PACKET_BYTES } from "../ground";
import { FARGATE_CPU_VALUES, FARGATE_MEMORY_BY_CPU } from "./fargate";
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

/** The plans that always exist, by name: tcp-1k, tcp-5k, tcp-20k and tcp-100k packets per second. */
export const BUILT_IN_PLANS: Readonly<Record<string, Plan>> = Object.freeze({
  "tcp-1k": Object.freeze({ name: "tcp-1k", packetsPerSecond: 1_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-1k"] }),
  "tcp-5k": Object.freeze({ name: "tcp-5k", packetsPerSecond: 5_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-5k"] }),
  "tcp-20k": Object.freeze({ name: "tcp-20k", packetsPerSecond: 20_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-20k"] }),
  "tcp-100k": Object.freeze({ name: "tcp-100k", packetsPerSecond: 100_000, maxConnections: PLAN_MAX_CONNECTIONS["tcp-100k"] }),
});

/** The plan of an app that names none. */
export const DEFAULT_PLAN = "tcp-1k";

/** A Fargate task size: cpu in units (1024 = 1 vCPU), memory in MiB. */
export interface TaskSize {
  /** CPU units (1024 = 1 vCPU). */
  readonly cpu: number;
  /** Memory in MiB. */
  readonly memory: number;
}

/**
 * How a plan's task size follows from the agent's measured CPU at the plan's full rate in
 * both directions: the agent, times `margin`, may use at most `agentShare` of the task's
 * cpu, so that at least half is left for the app. The margin covers run-to-run noise and a
 * Fargate vCPU slower than the core the bench ran on.
 */
export const SIZING = Object.freeze({ agentShare: 0.5, margin: 1.5 });

/**
 * The smallest Fargate size at which an agent using `agentCores` cores (CPU-seconds per
 * second) leaves the app its share, with the smallest memory Fargate pairs with that cpu;
 * undefined if no Fargate size is large enough.
 */
export function taskSizeFor(agentCores: number): TaskSize | undefined {
  const needed = (agentCores * SIZING.margin) / SIZING.agentShare;
  const cpu = FARGATE_CPU_VALUES.find((units) => units / 1024 >= needed);
  if (cpu === undefined) return undefined;
  const memory = FARGATE_MEMORY_BY_CPU.get(cpu)?.[0];
  return memory === undefined ? undefined : { cpu, memory };
}

/**
 * The agent's CPU (cores: CPU-seconds per second, all threads) at each built-in plan's full
 * rate in both directions with 8 connections, in steady state: the median of three runs in
 * the full `npm run bench` of 2026-12-07 at 16:15 (commit 67b7089; each run a fresh agent,
 * warmed up until its CPU per second settled, then measured for 10 s; at tcp-1k, 5k and 20k
 * with the one-timer reference running beside it). These are inputs of the sizing, not a
 * claim about today's agent: the bench's plans case prints a fresh run's figures and sizes
 * beside them, and docs/performance.md holds the latest measurement.
 */
export const PLAN_AGENT_CORES: Readonly<Record<string, number>> = Object.freeze({
  "tcp-1k": 0.0187,
  "tcp-5k": 0.0337,
  "tcp-20k": 0.0653,
  "tcp-100k": 0.2469,
});

/**
 * The smallest task size for each built-in plan, `taskSizeFor(PLAN_AGENT_CORES[plan])` (a
 * test keeps the two in step): what `validate` and synth compare an app's cpu with, and what
 * `tcp-addon plans` prints. The agent's RSS at full rate stayed under 130 MB, far below the
 * smallest memory Fargate pairs with each cpu.
 */
export const PLAN_SIZES: Readonly<Record<string, TaskSize>> = Object.freeze({
  "tcp-1k": Object.freeze({ cpu: 256, memory: 512 }),
  "tcp-5k": Object.freeze({ cpu: 256, memory: 512 }),
  "tcp-20k": Object.freeze({ cpu: 256, memory: 512 }),
  "tcp-100k": Object.freeze({ cpu: 1024, memory: 2048 }),
});

/**
 * The smallest task size for a plan of `packetsPerSecond`: that of the smallest built-in
 * plan at or above that rate (a user plan between two built-ins gets the larger one's
 * size); undefined above the largest built-in plan, which nothing measured.
 */
export function planTaskSize(packetsPerSecond: number): TaskSize | undefined {
  const covering = Object.values(BUILT_IN_PLANS)
    .filter((plan) => plan.packetsPerSecond >= packetsPerSecond)
    .sort((a, b) => a.packetsPerSecond - b.packetsPerSecond)[0];
  return covering === undefined ? undefined : PLAN_SIZES[covering.name];
}

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

/**
 * Why `cpu` is too small for the agent to deliver `plan` at full rate both ways with half
 * the task left for the app, with the fix; undefined when it is large enough or the plan
 * has no measured size.
 */
export function planSizeProblem(plan: Plan, cpu: number): string | undefined {
  const size = planTaskSize(plan.packetsPerSecond);
  if (size === undefined || cpu >= size.cpu) return undefined;
  return (
    `${cpu} cpu units leave the app less than half the task when the agent carries plan ${plan.name} ` +
    `at its full rate both ways; set cpu: ${size.cpu} and memory: ${size.memory} or more (the smallest size measured to fit)`
  );
}
