import * as fs from "node:fs";
import { DESCRIPTOR_HEADROOM } from "./contract";

/**
 * The process's file descriptors against its open-files limit, so that an accept never meets
 * EMFILE. Out of descriptors, libuv accepts a pending connection with a spare descriptor and closes
 * it at once: the client sees a FIN with no bytes, and nothing is reported to the agent. So the
 * agent keeps `headroom` descriptors free instead: a connection that would eat into them is
 * accepted and reset on purpose (by its listener), counted and logged.
 *
 * The count is exact when it matters and cheap when it does not: holders report what they open
 * and close (`hold`), which moves an estimate from the last exact count (the entries of
 * /proc/self/fd); only an estimate near the limit is checked against a new exact count, at most
 * once per `RECOUNT_MS`. One process has one descriptor table, so there is one budget per
 * process (`processDescriptors()`). Where the limit or /proc cannot be read, every connection is
 * admitted, as before.
 */
export class DescriptorBudget {
  private counted = 0;
  private trackedAtCount = 0;
  private tracked = 0;
  private countedAt = -Infinity;

  constructor(
    /** The soft open-files limit; Infinity = unknown (no budget). */
    readonly limit: number,
    private readonly headroom: number = DESCRIPTOR_HEADROOM,
    private readonly countOpen: () => number | null = openDescriptors,
    private readonly now: () => number = Date.now,
  ) {}

  /** A holder opened (`n` > 0) or closed (`n` < 0) descriptors. */
  hold(n: number): void {
    this.tracked += n;
  }

  /** Whether `extra` more descriptors still leave the headroom free. */
  admits(extra: number): boolean {
    if (!Number.isFinite(this.limit)) return true;
    const estimate = (): number => this.counted + (this.tracked - this.trackedAtCount) + extra;
    const fits = (): boolean => estimate() + this.headroom <= this.limit;
    // Far from the limit the estimate is enough; near it, what nobody reports (a probe's connect,
    // the app's pipes) matters, so a new exact count decides.
    const margin = Math.max(4 * this.headroom, Math.floor(this.limit / 8));
    if (this.countedAt !== -Infinity && estimate() + margin <= this.limit) return true;
    if (this.now() - this.countedAt >= RECOUNT_MS) {
      const open = this.countOpen();
      this.countedAt = this.now();
      // No count (reading /proc needs a descriptor too): as full as it can be.
      this.counted = open ?? this.limit;
      this.trackedAtCount = this.tracked;
    }
    return fits();
  }
}

/** Exact counts near the limit are at most this often (a count reads one entry per descriptor). */
const RECOUNT_MS = 100;

/** Descriptors open in this process now, or null where /proc/self/fd cannot be read. */
export function openDescriptors(): number | null {
  try {
    // readdir opens one descriptor of its own, which is listed and is gone again afterwards.
    return fs.readdirSync("/proc/self/fd").length - 1;
  } catch {
    return null;
  }
}

/** The soft "Max open files" of this process (/proc/self/limits), or Infinity when unknown or unlimited. */
export function openFilesLimit(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = fs.readFileSync("/proc/self/limits", "utf8");
    } catch {
      return Infinity;
    }
  }
  const match = /^Max open files\s+(\S+)/m.exec(text);
  const soft = match === null ? NaN : Number(match[1]);
  return Number.isSafeInteger(soft) && soft > 0 ? soft : Infinity;
}

let shared: DescriptorBudget | null = null;

/** The process's budget, read once. */
export function processDescriptors(): DescriptorBudget {
  shared ??= new DescriptorBudget(openFilesLimit());
  return shared;
}
