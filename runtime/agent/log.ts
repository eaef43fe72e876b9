import { LOG_BACKLOG_BYTES } from "./contract";

export type LogLevel = "info" | "warn" | "error";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where log lines go: one JSON object per line. */
export interface LogSink {
  write(line: string): unknown;
  /** Lines the sink dropped rather than wait for (a bounded sink); absent = it drops none. */
  readonly dropped?: number;
}

/** A stream's write side as the sink needs it: how much it still holds, and a write. */
export interface QueueingStream {
  readonly writableLength: number;
  write(text: string): unknown;
}

/**
 * Writes lines to a stream (stdout) and never lets them pile up: when the stream already holds
 * `backlogBytes` that its reader has not taken (a stalled log driver leaves stdout's pipe full,
 * and Node then keeps every further line in memory), a line is dropped and counted instead. The
 * first line written after a drop is preceded by a `log-lines-dropped` line with the count. No
 * write ever waits: the event loop that forwards every connection never stops for a log line.
 */
export class BoundedSink implements LogSink {
  private droppedTotal = 0;
  private droppedUnreported = 0;

  constructor(private readonly stream: QueueingStream, private readonly backlogBytes: number = LOG_BACKLOG_BYTES) {}

  get dropped(): number {
    return this.droppedTotal;
  }

  write(line: string): void {
    // Characters, not bytes: the bound is approximate for non-ASCII text, and costs no encoding.
    if (this.stream.writableLength + line.length > this.backlogBytes) {
      this.droppedTotal += 1;
      this.droppedUnreported += 1;
      return;
    }
    if (this.droppedUnreported > 0) {
      const note = { time: new Date().toISOString(), level: "warn", event: "log-lines-dropped", count: this.droppedUnreported };
      this.droppedUnreported = 0;
      this.stream.write(JSON.stringify(note) + "\n");
    }
    this.stream.write(line);
  }
}

/**
 * JSON lines: `time` (ISO 8601), `level`, `event`, then the details. One `write` per line,
 * so lines from the agent never interleave inside each other.
 */
export class Logger {
  constructor(private readonly sink: LogSink = process.stdout) {}

  info(event: string, fields: LogFields = {}): void {
    this.log("info", event, fields);
  }

  warn(event: string, fields: LogFields = {}): void {
    this.log("warn", event, fields);
  }

  error(event: string, fields: LogFields = {}): void {
    this.log("error", event, fields);
  }

  /** Lines the sink dropped (a stdout that does not take them), since start. */
  get droppedLines(): number {
    return this.sink.dropped ?? 0;
  }

  /** Writes a line that is already JSON (the EMF metrics line), as one write. */
  line(text: string): void {
    this.sink.write(text);
  }

  private log(level: LogLevel, event: string, fields: LogFields): void {
    const record = { time: new Date().toISOString(), level, event, ...fields };
    this.sink.write(JSON.stringify(record) + "\n");
  }
}

/** Keys a RateLimitedLog remembers before it forgets the ones not logged within the interval. */
const MAX_TRACKED_KEYS = 10_000;

/**
 * A `warn` line at most once per key per interval (a peer's address, or one key for a whole
 * event), so that a flood of the same failure costs a line a second, not a line each. A line
 * that goes out carries `notLogged`: how many for its key were held back since the one before.
 * Keys are kept in order of last log, so past MAX_TRACKED_KEYS the oldest ones are forgotten.
 * `now` and `interval` share one unit: the agent's clock in nanoseconds, or `Date.now` in ms.
 */
export class RateLimitedLog {
  /** Per key: when it was last logged, and how many were held back since. */
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly logger: Logger, private readonly now: () => number, private readonly interval: number) {}

  /** Logs `event` with `fields` and `notLogged`, unless `key` was logged within the interval. */
  warn(key: string, event: string, fields: LogFields): void {
    const now = this.now();
    const last = this.last.get(key);
    if (last !== undefined && now - last.at < this.interval) {
      last.suppressed += 1;
      return;
    }
    // Re-inserted so that the map stays in order of last log: the sweep stops at the first recent one.
    this.last.delete(key);
    this.last.set(key, { at: now, suppressed: 0 });
    this.sweep(now);
    this.logger.warn(event, { ...fields, notLogged: last?.suppressed ?? 0 });
  }

  private sweep(now: number): void {
    if (this.last.size <= MAX_TRACKED_KEYS) return;
    for (const [key, entry] of this.last) {
      if (now - entry.at < this.interval) break;
      this.last.delete(key);
    }
  }
}
