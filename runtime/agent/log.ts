export type LogLevel = "info" | "warn" | "error";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where log lines go: one JSON object per line. */
export interface LogSink {
  write(line: string): unknown;
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

  /** Writes a line that is already JSON (the EMF metrics line), as one write. */
  line(text: string): void {
    this.sink.write(text);
  }

  private log(level: LogLevel, event: string, fields: LogFields): void {
    const record = { time: new Date().toISOString(), level, event, ...fields };
    this.sink.write(JSON.stringify(record) + "\n");
  }
}
