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
