import * as fs from "node:fs";

/**
 * Local mode runs the AWS deploy timings sped up: one AWS second lasts `scale` real seconds
 * (0.1 by default: a 60 s deregistration delay runs in 6 s). Every timer of the modelled
 * NLB and ECS goes through `ms()`, and every event is stamped in AWS seconds since start.
 */
export class DeployClock {
  readonly scale: number;
  private readonly startedAt: number;

  private readonly now: () => number;

  constructor(scale: number, now: () => number = Date.now) {
    this.scale = scale;
    this.now = now;
    this.startedAt = now();
  }

  /** Real milliseconds for `awsSeconds` of the model. */
  ms(awsSeconds: number): number {
    return Math.round(awsSeconds * 1000 * this.scale);
  }

  /** AWS seconds since local mode started (real elapsed / scale), to the millisecond. */
  t(): number {
    return Number(((this.now() - this.startedAt) / 1000 / this.scale).toFixed(3));
  }

  /** Wall-clock time of t = 0. */
  get epoch(): Date {
    return new Date(this.startedAt);
  }
}

/** The states of `--events`: the NLB target's, then the ECS task's once it is stopped. */
export type DeployState = "initial" | "healthy" | "unhealthy" | "draining" | "unused" | "stopping" | "stopped";

/** Connections the modelled NLB refused (the target did not accept) or reset (dropped). */
export type ConnectionMark = "refused" | "dropped";

/** One line of `--events`. */
export type DeployEvent =
  | { readonly t: number; readonly app: string; readonly task: string; readonly state: DeployState }
  | { readonly t: number; readonly app: string; readonly task: string; readonly connection: ConnectionMark; readonly count: number }
  | { readonly t: number; readonly app: string; readonly task: string; readonly failure: string; readonly breaker: string }
  | { readonly t: number; readonly app: string; readonly deploy: DeployReport };

/** How a deploy ended, for `--events`: the circuit breaker's count and what the new tasks did. */
export interface DeployReport {
  readonly outcome: "done" | "rolled back";
  /** The breaker's count at the end, and its threshold: "3/3". */
  readonly breaker: string;
  /** New tasks that failed before they turned healthy. */
  readonly failedBeforeHealthy: number;
  /** New tasks that stopped, or turned unhealthy, after they had turned healthy. */
  readonly failedAfterHealthy: number;
}

/** Where target and task state changes go: `--events FILE` (one JSON object a line), or nowhere. */
export class EventLog {
  private fd: number | undefined;

  constructor(readonly clock: DeployClock, file?: string) {
    this.fd = file === undefined ? undefined : fs.openSync(file, "w");
  }

  state(app: string, task: string, state: DeployState): void {
    this.write({ t: this.clock.t(), app, task, state });
  }

  connections(app: string, task: string, connection: ConnectionMark, count: number): void {
    if (count > 0) this.write({ t: this.clock.t(), app, task, connection, count });
  }

  /** A new task of a deploy counted by the circuit breaker: why, and the count after it ("2/3"). */
  failure(app: string, task: string, failure: string, breaker: string): void {
    this.write({ t: this.clock.t(), app, task, failure, breaker });
  }

  /** How a deploy ended. */
  deploy(app: string, deploy: DeployReport): void {
    this.write({ t: this.clock.t(), app, deploy });
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private write(event: DeployEvent): void {
    // Synchronous and unbuffered: the file is complete even if local mode is killed.
    if (this.fd !== undefined) fs.writeSync(this.fd, JSON.stringify(event) + "\n");
  }
}
