import { EventEmitter } from "node:events";
import type { ResolvedApp } from "../../config";
import { Balancer } from "./balancer";
import { LocalError } from "./errors";
import { Replica, type ReplicaExit } from "./replica";

export interface AppSupervisorOptions {
  /** The agent bundle (dist/tcp-addon-agent.js). */
  readonly agentPath: string;
  /** How long a stopping replica lets its open connections finish. */
  readonly drainSeconds: number;
  /** Human-readable log lines. */
  readonly log: (line: string) => void;
  /** The environment the app's own `env` is laid over. @default process.env */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** Exits before ready, in a row, after which the app is given up. @default 3 */
  readonly crashLoopLimit?: number;
  /** First restart delay; it doubles on each crash. @default 250 ms */
  readonly backoffInitialMs?: number;
  /** Longest restart delay. @default 10 s */
  readonly backoffMaxMs?: number;
  /** A replica not ready within this time is killed and counts as a failed start. @default 30 s */
  readonly readyTimeoutMs?: number;
  /** How often a ready replica's /healthz is polled. @default 1 s */
  readonly healthIntervalMs?: number;
  /** A replica unhealthy this long is replaced, as ECS replaces an unhealthy task. @default 10 s */
  readonly unhealthyReplaceMs?: number;
  /** How long a connection waits for a ready replica before it is closed. @default 10 s */
  readonly waitForBackendMs?: number;
  /** Port for the balancer instead of the app's. @default the app's port */
  readonly port?: number;
}

/** What is running in one slot, for logs and tests. */
export interface ReplicaInfo {
  readonly name: string;
  readonly pid?: number;
  readonly listenPort?: number;
  readonly healthPort?: number;
  readonly ready: boolean;
}

interface Slot {
  /** 1-based, as in "mqtt.1". */
  readonly index: number;
  /** The replica that serves this slot (in the rotation once ready). */
  current?: Replica;
  /** Exits before ready, in a row. */
  startFailures: number;
  /** Crashes since the last stable run: the backoff exponent. */
  crashes: number;
  readyAt?: number;
  restartTimer?: NodeJS.Timeout;
  /** A rolling restart is bringing up this slot's replacement. */
  replacing: boolean;
}

/** A replica that stayed up this long resets its slot's backoff. */
const STABLE_AFTER_MS = 10_000;

/** Restart delay after `crashes` crashes: initial x 2^crashes, capped. */
export function backoffDelay(crashes: number, initialMs = 250, maxMs = 10_000): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(crashes, 30));
}

/**
 * Runs one app the way its ECS service would: `containers` replicas behind a balancer on
 * the app's port. Crashed replicas leave the rotation and come back with backoff; a
 * replica that keeps exiting before it is ready is a crash loop: the `fatal` event.
 */
export class AppSupervisor extends EventEmitter {
  readonly app: ResolvedApp;
  readonly balancer: Balancer;
  private readonly options: AppSupervisorOptions;
  private readonly slots: Slot[];
  /** Every replica with a live process: current ones, replacements starting, old ones draining. */
  private readonly live = new Set<Replica>();
  private generation = 0;
  private stopping = false;
  private allReady = false;
  private restarting?: Promise<void>;
  private restartAgain = false;

  constructor(app: ResolvedApp, options: AppSupervisorOptions) {
    super();
    this.app = app;
    this.options = options;
    this.balancer = new Balancer({
      port: options.port ?? app.port,
      waitForBackendMs: options.waitForBackendMs,
      log: (line) => options.log(`${app.name} | ${line}`),
    });
    this.slots = Array.from({ length: app.containers }, (_, i) => ({ index: i + 1, startFailures: 0, crashes: 0, replacing: false }));
  }

  /** `tcp://127.0.0.1:<port>`, the URL clients and replicas are given. */
  get tcpUrl(): string {
    return `tcp://${this.balancer.host}:${this.balancer.port}`;
  }

  /** What runs in each slot. */
  get replicas(): readonly ReplicaInfo[] {
    return this.slots.map((slot) => ({
      name: `${this.app.name}.${slot.index}`,
      pid: slot.current?.pid,
      listenPort: slot.current?.ports.listen,
      healthPort: slot.current?.ports.health,
      ready: slot.current?.isReady ?? false,
    }));
  }

  /**
   * Opens the balancer and starts every replica; resolves once all are ready. Rejects with
   * TCP_ADDON_LOCAL_PORT_UNAVAILABLE or TCP_ADDON_LOCAL_CRASH_LOOP.
   */
  async start(): Promise<void> {
    try {
      await this.balancer.listen();
    } catch (err) {
      if (!(err instanceof LocalError)) throw err;
      const fix = this.options.port === undefined ? `; set apps.${this.app.name}.port to a free port` : "";
      throw new LocalError(err.code, `${this.app.name}: ${err.message}${fix}`);
    }
    const outcome = new Promise<void>((resolve, reject) => {
      this.once("ready", resolve);
      this.once("fatal", reject);
    });
    for (const slot of this.slots) void this.launch(slot);
    await outcome;
  }

  /**
   * Replaces every replica, one at a time: the new one starts and becomes ready, joins the
   * rotation, then the old one leaves it, drains and stops. A restart asked for while one
   * runs is done once more after it.
   */
  rollingRestart(): Promise<void> {
    if (this.restarting) {
      this.restartAgain = true;
      return this.restarting;
    }
    this.restarting = (async () => {
      do {
        this.restartAgain = false;
        this.options.log(`${this.app.name} | rolling restart of ${this.slots.length} replica(s)`);
        for (const slot of this.slots) {
          if (this.stopping) return;
          await this.replace(slot);
        }
        if (!this.stopping) this.options.log(`${this.app.name} | rolling restart done`);
      } while (this.restartAgain && !this.stopping);
    })().finally(() => (this.restarting = undefined));
    return this.restarting;
  }

  /** Closes the balancer (and its connections), stops every replica and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    await this.balancer.close();
    await Promise.all([...this.live].map((replica) => replica.stop()));
  }

  /** SIGKILL to every replica's process group, for a second Ctrl-C. */
  kill(): void {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    for (const replica of this.live) replica.kill();
  }

  private createReplica(slot: Slot): Replica {
    this.generation += 1;
    const name = `${this.app.name}.${slot.index}`;
    const replica = new Replica({
      name,
      id: `${name}#${this.generation}`,
      agentPath: this.options.agentPath,
      command: this.app.command,
      cwd: this.app.workdir,
      env: { ...(this.options.baseEnv ?? process.env), ...this.app.env, TCP_URL: this.tcpUrl },
      packetsPerSecond: this.app.plan.packetsPerSecond,
      burst: this.app.plan.burst,
      drainSeconds: this.options.drainSeconds,
      readyTimeoutMs: this.options.readyTimeoutMs,
      healthIntervalMs: this.options.healthIntervalMs,
      log: this.options.log,
    });
    this.live.add(replica);
    let unhealthyTimer: NodeJS.Timeout | undefined;
    replica.on("exit", (exit: ReplicaExit) => {
      clearTimeout(unhealthyTimer);
      this.live.delete(replica);
      this.balancer.remove(replica.id);
      this.onExit(slot, replica, exit);
    });
    replica.on("unhealthy", (status: number) => {
      this.balancer.remove(replica.id);
      this.options.log(`${replica.name} | /healthz answers ${status || "nothing"}: out of the rotation until it recovers`);
      const replaceMs = this.options.unhealthyReplaceMs ?? 10_000;
      unhealthyTimer = setTimeout(() => {
        if (this.stopping || slot.current !== replica) return;
        this.options.log(`${replica.name} | still unhealthy after ${replaceMs / 1000} s: stopping it to start a new one`);
        void replica.stop();
      }, replaceMs);
    });
    replica.on("healthy", () => {
      clearTimeout(unhealthyTimer);
      if (this.stopping || slot.current !== replica || replica.backend === undefined) return;
      this.balancer.add(replica.backend);
      this.options.log(`${replica.name} | healthy again: back in the rotation`);
    });
    return replica;
  }

  /** Starts a replica in an empty slot (first start, or after a crash). */
  private async launch(slot: Slot): Promise<void> {
    slot.restartTimer = undefined;
    if (this.stopping) return;
    const replica = this.createReplica(slot);
    slot.current = replica;
    try {
      await replica.start();
    } catch {
      return; // the exit handler counts the failure and restarts it
    }
    if (this.stopping || slot.current !== replica) return;
    this.admit(slot, replica);
  }

  /** A ready replica joins the rotation. */
  private admit(slot: Slot, replica: Replica): void {
    slot.startFailures = 0;
    slot.readyAt = Date.now();
    this.balancer.add(replica.backend!);
    const { listen, health } = replica.ports;
    this.options.log(`${replica.name} | ready on 127.0.0.1:${listen} (pid ${replica.pid}, health port ${health})`);
    if (!this.allReady && this.slots.every((s) => s.current?.isReady)) {
      this.allReady = true;
      this.emit("ready");
    }
  }

  private onExit(slot: Slot, replica: Replica, exit: ReplicaExit): void {
    if (this.stopping || slot.current !== replica) return;
    slot.current = undefined;
    const how = exit.signal === null ? `with code ${exit.code}` : `on ${exit.signal}`;
    if (!exit.wasReady) {
      slot.startFailures += 1;
      const limit = this.options.crashLoopLimit ?? 3;
      if (slot.startFailures >= limit) {
        const last = replica.lastLine === "" ? "" : `; last output: ${replica.lastLine}`;
        const error = new LocalError(
          "TCP_ADDON_LOCAL_CRASH_LOOP",
          `${this.app.name}: \`${this.app.command}\` (in ${this.app.workdir}) exited before it was ready ${limit} times in a row (last ${how})${last}`,
        );
        this.stopping = true;
        this.emit("fatal", error);
        return;
      }
    } else if (slot.readyAt !== undefined && Date.now() - slot.readyAt >= STABLE_AFTER_MS) {
      slot.crashes = 0;
    }
    if (slot.replacing) {
      this.options.log(`${replica.name} | exited ${how} during the rolling restart; its replacement takes over`);
      return;
    }
    const delay = this.scheduleLaunch(slot);
    this.options.log(`${replica.name} | exited ${how}: out of the rotation, restarting in ${(delay / 1000).toFixed(2)} s`);
  }

  /** One step of a rolling restart. */
  private async replace(slot: Slot): Promise<void> {
    slot.replacing = true;
    clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
    const fresh = this.createReplica(slot);
    try {
      await fresh.start();
    } catch (err) {
      slot.replacing = false;
      if (this.stopping) return;
      this.options.log(`${fresh.name} | the new replica did not start (${(err as Error).message}); the old one keeps serving`);
      if (slot.current === undefined) this.scheduleLaunch(slot);
      return;
    }
    slot.replacing = false;
    if (this.stopping) {
      await fresh.stop();
      return;
    }
    const old = slot.current;
    slot.current = fresh;
    this.admit(slot, fresh);
    if (old === undefined) return;
    this.balancer.remove(old.id);
    const open = this.balancer.connectionsTo(old.id);
    this.options.log(`${old.name} | old replica (pid ${old.pid}) out of the rotation; draining ${open} connection(s) for up to ${this.options.drainSeconds} s`);
    await old.stop();
  }

  /** Starts the slot again after its backoff delay; returns the delay. */
  private scheduleLaunch(slot: Slot): number {
    const delay = backoffDelay(slot.crashes, this.options.backoffInitialMs, this.options.backoffMaxMs);
    slot.crashes += 1;
    slot.restartTimer = setTimeout(() => void this.launch(slot), delay);
    return delay;
  }
}
