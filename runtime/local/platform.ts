import { EventEmitter } from "node:events";
import { bytesPerSecond, formatRate, type ResolvedApp } from "../../config";
import { AppSupervisor, type AppSupervisorOptions } from "./app-supervisor";
import type { LocalError } from "./errors";

export type LocalPlatformOptions = Omit<AppSupervisorOptions, "port"> & {
  /** Where each app's ready line goes. */
  readonly ready: (line: string) => void;
};

/**
 * `mqtt  TCP_URL=tcp://127.0.0.1:20003  containers=2  plan=tcp-1k (1000 pps = 1.5 MB/s per container)`
 */
export function readyLine(app: ResolvedApp, tcpUrl: string): string {
  const pps = app.plan.packetsPerSecond;
  return `${app.name}  TCP_URL=${tcpUrl}  containers=${app.containers}  plan=${app.plan.name} (${pps} pps = ${formatRate(bytesPerSecond(pps))} per container)`;
}

/**
 * Every app of a config on this machine, each with its balancer, target group and tasks. Emits
 * `fatal` (a LocalError) when an app cannot run: the caller stops everything.
 */
export class LocalPlatform extends EventEmitter {
  readonly supervisors: readonly AppSupervisor[];
  private readonly options: LocalPlatformOptions;
  private started?: Promise<void>;
  private stopped?: Promise<void>;

  constructor(apps: readonly ResolvedApp[], options: LocalPlatformOptions) {
    super();
    this.options = options;
    this.supervisors = apps.map((app) => {
      const supervisor = new AppSupervisor(app, options);
      supervisor.on("fatal", (error: LocalError) => this.emit("fatal", error));
      return supervisor;
    });
  }

  /** Starts every app at once; each prints its ready line as soon as all its replicas are ready. */
  start(): Promise<void> {
    this.started ??= Promise.all(
      this.supervisors.map(async (supervisor) => {
        await supervisor.start();
        this.options.ready(readyLine(supervisor.app, supervisor.tcpUrl));
      }),
    ).then(() => undefined);
    return this.started;
  }

  /** An ECS rolling deployment of every app, all apps at once. */
  async deploy(): Promise<void> {
    if (this.started === undefined || this.stopped !== undefined) return;
    await this.started.catch(() => undefined);
    if (this.stopped !== undefined) return;
    await Promise.all(this.supervisors.map((supervisor) => supervisor.deploy()));
  }

  /**
   * A Fargate Spot interruption of one task (AppSupervisor.interruptSpot): of the first app with
   * Spot capacity, else of the first app. Returns the task's id, undefined when none serves.
   */
  interruptSpot(): string | undefined {
    const spot = this.supervisors.find((s) => (s.app.capacity?.spotPercent ?? 0) > 0);
    return (spot ?? this.supervisors[0])?.interruptSpot();
  }

  /** Stops every app and waits for every replica to exit. Safe to call twice. */
  stop(): Promise<void> {
    this.stopped ??= Promise.all(this.supervisors.map((supervisor) => supervisor.stop())).then(() => undefined);
    return this.stopped;
  }

  /** SIGKILL to everything still running. */
  kill(): void {
    for (const supervisor of this.supervisors) supervisor.kill();
  }
}
