import { type Clock, NS_PER_MS, NS_PER_SECOND } from "./clock";
import { AGENT_ENV, AGENT_METRICS, DEFAULT_EMF_INTERVAL_SECONDS, METRIC_DIMENSIONS, METRICS_NAMESPACE } from "./contract";
import { FlagError } from "./errors";
import type { MetricsSnapshot } from "./metrics";
import { realTimers, type Timers } from "./timers";

/**
 * The agent's metrics as CloudWatch Embedded Metric Format: one JSON object per line on stdout,
 * which the awslogs driver ships to CloudWatch Logs, where the metrics are extracted. No SDK and
 * no IAM permission beyond the execution role's log writes.
 *
 * Counters are written as their delta over the interval (CloudWatch sums the datapoints of a
 * period), gauges as their value at the end of it. Each line has one directive in the namespace
 * `TcpAddon` with the dimension set [Project, App] (and [Project, App, Task] when a task id is
 * given): the app-wide set is what alarms and scaling read, whatever tasks come and go.
 */

/** The dimension values of every line. */
export interface EmfDimensions {
  readonly project: string;
  readonly app: string;
  /** A task id or replica name; omitted = no per-task dimension set. */
  readonly task?: string;
}

/** What the emitter runs with, read from the environment by `emfOptions`. */
export interface EmfOptions {
  readonly dimensions: EmfDimensions;
  readonly intervalSeconds: number;
}

/** The cumulative counters one line is the delta of. */
export interface EmfTotals {
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly throttledSecondsIn: number;
  readonly throttledSecondsOut: number;
  readonly connections: number;
  readonly refused: number;
}

/** One interval: totals at its start and end, the gauges at its end, its length. */
export interface EmfInterval {
  readonly previous: EmfTotals;
  readonly current: EmfTotals;
  readonly activeConnections: number;
  /** Packets per second per direction; 0 = unlimited (then no plan utilisation is written). */
  readonly ppsLimit: number;
  readonly elapsedSeconds: number;
  /** Milliseconds since the epoch, the `_aws.Timestamp`. */
  readonly timestampMs: number;
}

/** The all-zero totals an emitter starts from. */
export const ZERO_TOTALS: EmfTotals = Object.freeze({
  packetsIn: 0,
  packetsOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  throttledSecondsIn: 0,
  throttledSecondsOut: 0,
  connections: 0,
  refused: 0,
});

/** The totals of a /metrics snapshot; `refused` is 0 until the agent has connection limits. */
export function totalsOf(snapshot: MetricsSnapshot & { readonly connectionsRefused?: number }): EmfTotals {
  return {
    packetsIn: snapshot.in.packets,
    packetsOut: snapshot.out.packets,
    bytesIn: snapshot.in.bytes,
    bytesOut: snapshot.out.bytes,
    throttledSecondsIn: snapshot.throttledSecondsIn,
    throttledSecondsOut: snapshot.throttledSecondsOut,
    connections: snapshot.connectionsTotal,
    refused: snapshot.connectionsRefused ?? 0,
  };
}

/** The EMF object of one interval (pure). */
export function emfRecord(dimensions: EmfDimensions, interval: EmfInterval): Record<string, unknown> {
  const { previous: p, current: c, elapsedSeconds } = interval;
  const M = AGENT_METRICS;
  const values: Record<string, number> = {
    [M.activeConnections.name]: interval.activeConnections,
    [M.newConnections.name]: c.connections - p.connections,
    [M.packetsIn.name]: c.packetsIn - p.packetsIn,
    [M.packetsOut.name]: c.packetsOut - p.packetsOut,
    [M.bytesIn.name]: c.bytesIn - p.bytesIn,
    [M.bytesOut.name]: c.bytesOut - p.bytesOut,
    [M.throttledSecondsIn.name]: round(c.throttledSecondsIn - p.throttledSecondsIn, 6),
    [M.throttledSecondsOut.name]: round(c.throttledSecondsOut - p.throttledSecondsOut, 6),
    [M.refusedConnections.name]: c.refused - p.refused,
  };
  if (interval.ppsLimit > 0 && elapsedSeconds > 0) {
    const busier = Math.max(c.packetsIn - p.packetsIn, c.packetsOut - p.packetsOut);
    values[M.planUtilization.name] = round((100 * busier) / (interval.ppsLimit * elapsedSeconds), 2);
  }
  const metrics = Object.values(M)
    .filter((m) => m.name in values)
    .map((m) => ({ Name: m.name, Unit: m.unit }));
  const D = METRIC_DIMENSIONS;
  const dimensionSets: string[][] = [[D.project, D.app]];
  if (dimensions.task !== undefined) dimensionSets.push([D.project, D.app, D.task]);
  return {
    _aws: {
      Timestamp: interval.timestampMs,
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: dimensionSets, Metrics: metrics }],
    },
    level: "info",
    event: "metrics",
    intervalSeconds: round(elapsedSeconds, 6),
    [D.project]: dimensions.project,
    [D.app]: dimensions.app,
    ...(dimensions.task !== undefined ? { [D.task]: dimensions.task } : {}),
    ...values,
  };
}

/** The EMF line of one interval: `emfRecord` as one JSON line. */
export function emfLine(dimensions: EmfDimensions, interval: EmfInterval): string {
  return JSON.stringify(emfRecord(dimensions, interval)) + "\n";
}

export interface EmfEmitterDeps {
  /** Reads the agent's counters now. */
  readonly read: () => MetricsSnapshot;
  /** Writes one line (stdout in the agent). */
  readonly write: (line: string) => void;
  /** Monotonic nanoseconds: the interval's length. */
  readonly clock: Clock;
  /** Milliseconds since the epoch: the line's timestamp. */
  readonly wallClock?: () => number;
  readonly timers?: Timers;
}

/**
 * Writes one EMF line every interval, the deltas since the previous line. `stop()` writes the
 * last, partial interval, so a task that stops loses no counts. The timer is unref'ed.
 */
export class EmfEmitter {
  private previous: EmfTotals = ZERO_TOTALS;
  private since: number;
  private timer: unknown = null;
  private readonly timers: Timers;
  private readonly wallClock: () => number;

  constructor(private readonly options: EmfOptions, private readonly deps: EmfEmitterDeps) {
    this.timers = deps.timers ?? realTimers;
    this.wallClock = deps.wallClock ?? Date.now;
    this.since = deps.clock();
  }

  /** Starts counting from the current totals and schedules the first line one interval from now. */
  start(): void {
    this.previous = totalsOf(this.deps.read());
    this.since = this.deps.clock();
    this.schedule();
  }

  /** Writes the line of the interval that ends now and starts the next one. */
  tick(): void {
    const snapshot = this.deps.read();
    const now = this.deps.clock();
    const current = totalsOf(snapshot);
    this.deps.write(
      emfLine(this.options.dimensions, {
        previous: this.previous,
        current,
        activeConnections: snapshot.connectionsActive,
        ppsLimit: snapshot.ppsLimit,
        elapsedSeconds: (now - this.since) / NS_PER_SECOND,
        timestampMs: this.wallClock(),
      }),
    );
    this.previous = current;
    this.since = now;
  }

  /** Stops the timer; with `flush` (the default) writes the partial interval first. Safe to call twice. */
  stop(flush = true): void {
    if (this.timer === null) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (flush && this.deps.clock() > this.since) this.tick();
  }

  private schedule(): void {
    this.timer = this.timers.setTimeout(() => {
      this.tick();
      this.schedule();
    }, Math.round((this.options.intervalSeconds * NS_PER_SECOND) / NS_PER_MS));
  }
}

const ON = new Set(["1", "on", "true", "yes"]);
const OFF = new Set(["", "0", "off", "false", "no"]);
/** CloudWatch's limit on a dimension value. */
const MAX_DIMENSION_VALUE = 1024;

/**
 * The emitter's settings from the environment (AGENT_ENV.emf and the dimensions); null when TCP_ADDON_EMF is off or unset.
 * @throws FlagError (exit 2) on a value it cannot read, or when the project or app is missing.
 */
export function emfOptions(env: NodeJS.ProcessEnv): EmfOptions | null {
  const switchValue = (env[AGENT_ENV.emf] ?? "").trim().toLowerCase();
  if (OFF.has(switchValue)) return null;
  if (!ON.has(switchValue)) {
    throw new FlagError(`${AGENT_ENV.emf} must be on or off (1/0, true/false), got "${env[AGENT_ENV.emf]}"`);
  }
  const optional = (name: string): string | undefined => {
    const value = env[name];
    if (value === undefined || value === "") return undefined;
    if (value.length > MAX_DIMENSION_VALUE || /[\u0000-\u001f]/.test(value) || value.trim() !== value) {
      throw new FlagError(`${name} must be 1-${MAX_DIMENSION_VALUE} printable characters without surrounding spaces`);
    }
    return value;
  };
  const required = (name: string): string => {
    const value = optional(name);
    if (value === undefined) throw new FlagError(`${AGENT_ENV.emf} is on: set ${name} (a metric dimension)`);
    return value;
  };
  const project = required(AGENT_ENV.project);
  const app = required(AGENT_ENV.app);
  const task = optional(AGENT_ENV.task);
  const rawInterval = env[AGENT_ENV.emfInterval];
  let intervalSeconds = DEFAULT_EMF_INTERVAL_SECONDS;
  if (rawInterval !== undefined && rawInterval !== "") {
    intervalSeconds = /^\d+(\.\d+)?$/.test(rawInterval) ? Number(rawInterval) : NaN;
    if (!(intervalSeconds >= 0.1 && intervalSeconds <= 3600)) {
      throw new FlagError(`${AGENT_ENV.emfInterval} must be a number of seconds from 0.1 to 3600, got "${rawInterval}"`);
    }
  }
  return { dimensions: { project, app, ...(task === undefined ? {} : { task }) }, intervalSeconds };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
