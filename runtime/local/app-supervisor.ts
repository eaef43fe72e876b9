import { EventEmitter } from "node:events";
import { appNetworking, type AppNetworking, type DeployTimings, type ResolvedApp } from "../../config";
import { AGENT_ENV } from "../agent/contract";
import { Balancer } from "./balancer";
import type { DeployClock, EventLog } from "./deploy-clock";
import { LocalError } from "./errors";
import { Replica, type ReplicaExit } from "./replica";
import { TargetGroup, type TargetState } from "./target-group";

export interface AppSupervisorOptions {
  /** The agent bundle (dist/tcp-addon-agent.js). */
  readonly agentPath: string;
  /** Human-readable log lines. */
  readonly log: (line: string) => void;
  /** AWS seconds to real time (`--time-scale`). */
  readonly clock: DeployClock;
  /** Target and task state changes (`--events`). */
  readonly events: EventLog;
  /** AWS seconds during which a deregistered target still gets new flows. @default app.deploy.propagationSeconds */
  readonly lagSeconds?: number;
  /** The environment the app's own `env` is laid over. @default process.env */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** Failed starts in a row (outside a deploy) after which the app is given up. @default 3 */
  readonly crashLoopLimit?: number;
  /** First restart delay after a crash; it doubles on each crash. @default 250 ms */
  readonly backoffInitialMs?: number;
  /** Longest restart delay. @default 10 s */
  readonly backoffMaxMs?: number;
  /** How long a connection waits for a healthy target before it is closed. @default 10 s */
  readonly waitForBackendMs?: number;
  /** Port for the balancer instead of the app's. @default the app's port */
  readonly port?: number;
  /**
   * The key and certificate the balancer terminates TLS with, for apps with `tls:` (see
   * local-certificate.ts). Required when the app has `tls:`.
   */
  readonly tls?: { readonly key: string; readonly cert: string };
  /**
   * AWS seconds from a new target's registration to its first health check. `tcp-addon local`
   * passes NLB_FIRST_HEALTH_CHECK_DELAY_SECONDS unless `--first-check-delay` says otherwise.
   * @default 0
   */
  readonly firstCheckDelaySeconds?: number;
}

/** The agent's PROXY protocol and connection-limit settings, as its environment, for one app. */
export function agentNetworkEnv(n: AppNetworking): Record<string, string> {
  return {
    ...(n.clientIp === "off" ? {} : { [AGENT_ENV.proxyProtocol]: n.clientIp }),
    ...(n.maxConnections > 0 ? { [AGENT_ENV.maxConnections]: String(n.maxConnections) } : {}),
    ...(n.maxConnectionsPerIp !== undefined ? { [AGENT_ENV.maxConnectionsPerIp]: String(n.maxConnectionsPerIp) } : {}),
  };
}

/** What is running in one slot, for logs and tests. */
export interface ReplicaInfo {
  readonly name: string;
  readonly pid?: number;
  readonly listenPort?: number;
  readonly healthPort?: number;
  readonly ready: boolean;
}

/** One task as the status page shows it. */
export interface TaskStatus {
  readonly id: string;
  readonly slot: number;
  readonly pid?: number;
  readonly healthPort?: number;
  readonly state: TargetState | "starting" | "stopping";
}

/** How a deploy ended. */
export type DeployOutcome = "done" | "rolled back" | "stopped";

type TaskOutcome = { readonly healthy: true } | { readonly healthy: false; readonly why: string; readonly detail?: string };

/** One ECS task: a replica, its target, and where it stands. */
interface Task {
  readonly id: string;
  readonly slot: Slot;
  readonly replica: Replica;
  readonly outcome: Promise<TaskOutcome>;
  settle: (outcome: TaskOutcome) => void;
  settled: boolean;
  graceOver: boolean;
  everHealthy: boolean;
  /** Deregistered (deploy, replacement, failure): no longer the slot's task. */
  leaving: boolean;
  /** SIGTERM sent: resolves when the task has exited. */
  stopped?: Promise<void>;
  graceTimer?: NodeJS.Timeout;
}

interface Slot {
  /** 1-based, as in "mqtt.1". */
  readonly index: number;
  /** The task that serves this slot, once healthy. */
  current?: Task;
  /** Failed starts in a row, outside deploys. */
  startFailures: number;
  /** Crashes since the last stable run: the backoff exponent. */
  crashes: number;
  healthyAt?: number;
  restartTimer?: NodeJS.Timeout;
  /** A start or replacement is under way for this slot. */
  filling: boolean;
}

/** Why the new tasks of a deploy that rolled back are stopped. */
const ROLLED_BACK = "the deploy rolled back";

/** A task that stayed up this long resets its slot's backoff. */
const STABLE_AFTER_MS = 10_000;

/** Restart delay after `crashes` crashes: initial x 2^crashes, capped. */
export function backoffDelay(crashes: number, initialMs = 250, maxMs = 10_000): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(crashes, 30));
}

/**
 * ECS's deployment circuit breaker: failed tasks after which a deploy rolls back (half the
 * desired count, 3 to 200). "The deployment circuit breaker has a minimum threshold of 3 and a
 * maximum threshold of 200. and uses the values in the following formula to determine the
 * deployment failure. 0.5 * desired task count" (ECS API reference,
 * ServiceDeploymentCircuitBreaker.threshold).
 */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(desiredCount / 2)));
}

/**
 * One deploy's circuit breaker, counted as ECS counts (see docs/local-mode.md for the sources):
 * a new task that fails before it turns healthy counts one; so does one that stops, or fails
 * its health checks, after it turned healthy ("When a health check fails for the task, the
 * deployment circuit breaker increases the failure count by one", ECS developer guide); a new
 * task that turns healthy sets the count back to 0 (`resetOnHealthyTask`, "The default is
 * true", ECS API reference, DeploymentCircuitBreaker; the stack does not set it). It watches
 * until the deploy is over (the old tasks stopped).
 */
interface Rollout {
  readonly threshold: number;
  /** The count: failed new tasks since the last new task turned healthy. */
  failures: number;
  /** Every task this deploy started (replacements included). */
  readonly tasks: Set<Task>;
  /** The task each slot ran before the deploy, for a rollback while it still runs. */
  readonly previous: Map<Slot, Task>;
  failedBeforeHealthy: number;
  failedAfterHealthy: number;
  tripped: boolean;
  /** Resolves when the count reaches the threshold. */
  readonly trip: Promise<void>;
  readonly fire: () => void;
}

/**
 * Runs one app the way its ECS service and NLB target group would, with the app's deploy
 * timings sped up by the clock's scale:
 * - each task is a replica (the agent around the app); it is registered as a target when
 *   its agent is up, and serves once the target group's checks make it `healthy`;
 * - `deploy()` is an ECS rolling deployment at minimum 100 % / maximum 200 %: every new
 *   task starts at once; each one that turns healthy deregisters an old one, which drains
 *   for the deregistration delay, has its flows reset, gets SIGTERM (its agent drains) and
 *   SIGKILL after the stopTimeout. A new task that does not turn healthy (it exits, or is
 *   unhealthy once the grace period is over) counts toward the circuit breaker; at the
 *   threshold the deploy rolls back and the old tasks keep serving;
 * - a healthy task that turns unhealthy after its grace period is replaced the same way;
 *   a task that crashes is restarted with backoff; failing to start `crashLoopLimit` times
 *   in a row is the `fatal` event.
 */
export class AppSupervisor extends EventEmitter {
  readonly app: ResolvedApp;
  readonly balancer: Balancer;
  readonly targets: TargetGroup;
  /** Client IPs, TLS and connection limits, as on AWS. */
  readonly networking: AppNetworking;
  private readonly options: AppSupervisorOptions;
  private readonly timings: DeployTimings;
  private readonly slots: Slot[];
  /** Every task with a live process, by id. */
  private readonly tasks = new Map<string, Task>();
  private readonly retiring = new Set<Promise<void>>();
  private generation = 0;
  private stopping = false;
  private allReady = false;
  private deploying?: Promise<DeployOutcome>;
  private deployAgain = false;
  /** The circuit breaker of the deploy under way. */
  private rollout?: Rollout;

  constructor(app: ResolvedApp, options: AppSupervisorOptions) {
    super();
    this.app = app;
    this.options = options;
    this.timings = app.deploy;
    const log = (line: string) => options.log(`${app.name} | ${line}`);
    this.networking = appNetworking(app);
    if (this.networking.tls !== undefined && options.tls === undefined) {
      throw new LocalError("TCP_ADDON_LOCAL_NO_CERTIFICATE", `${app.name} has tls: but local mode was given no certificate to terminate it with`);
    }
    this.balancer = new Balancer({
      port: options.port ?? app.port,
      ...(this.networking.tls === undefined ? {} : { tls: options.tls }),
      proxyProtocol: this.networking.clientIp !== "off",
      waitForBackendMs: options.waitForBackendMs,
      log,
      report: (task, mark, count) => options.events.connections(app.name, task, mark, count),
    });
    this.targets = new TargetGroup({
      app: app.name,
      timings: this.timings,
      clock: options.clock,
      lagSeconds: options.lagSeconds ?? this.timings.propagationSeconds,
      balancer: this.balancer,
      events: options.events,
      log: options.log,
      // The NLB sends its PROXY v2 header on health checks too when the target group has proxy protocol on.
      proxyProtocol: this.networking.clientIp !== "off",
      firstCheckDelaySeconds: options.firstCheckDelaySeconds ?? 0,
    });
    this.targets.on("state", (id: string, state: TargetState) => this.onTargetState(id, state));
    this.slots = Array.from({ length: app.containers }, (_, i) => ({ index: i + 1, startFailures: 0, crashes: 0, filling: false }));
  }

  /** `tcp://127.0.0.1:<port>` (`tls://` when the app has `tls:`), the URL clients and replicas are given. */
  get tcpUrl(): string {
    return `${this.balancer.scheme}://${this.balancer.host}:${this.balancer.port}`;
  }

  /** What runs in each slot. */
  get replicas(): readonly ReplicaInfo[] {
    return this.slots.map((slot) => {
      const replica = slot.current?.replica;
      return {
        name: `${this.app.name}.${slot.index}`,
        pid: replica?.pid,
        listenPort: replica?.ports.listen,
        healthPort: replica?.ports.health,
        ready: slot.current !== undefined && this.targets.stateOf(slot.current.id) === "healthy",
      };
    });
  }

  /**
   * Every task with a live process, in start order, for the status page: its target's state
   * (`starting` before it is registered, `stopping` once SIGTERM went out) and its agent's
   * health port (/metrics).
   */
  get taskStates(): readonly TaskStatus[] {
    return [...this.tasks.values()].map((task) => ({
      id: task.id,
      slot: task.slot.index,
      pid: task.replica.pid,
      healthPort: task.replica.ports.health,
      state: task.stopped !== undefined ? "stopping" : (this.targets.stateOf(task.id) ?? "starting"),
    }));
  }

  /**
   * Opens the balancer and starts every task; resolves once all are healthy. Rejects with
   * TCP_ADDON_LOCAL_PORT_UNAVAILABLE or TCP_ADDON_LOCAL_CRASH_LOOP.
   */
  async start(): Promise<void> {
    try {
      await this.balancer.listen();
    } catch (err) {
      if (!(err instanceof LocalError)) throw err;
      const earlier = /earlier tcp-addon local/.test(err.message);
      const fix = this.options.port === undefined && !earlier ? `; set apps.${this.app.name}.port to a free port` : "";
      throw new LocalError(err.code, `${this.app.name}: ${err.message}${fix}`);
    }
    const outcome = new Promise<void>((resolve, reject) => {
      this.once("ready", resolve);
      this.once("fatal", reject);
    });
    for (const slot of this.slots) void this.fill(slot);
    await outcome;
  }

  /**
   * An ECS rolling deployment of every task (see the class comment). A deploy asked for
   * while one runs is done once more after it. Resolves with how the (last) one ended.
   */
  deploy(): Promise<DeployOutcome> {
    if (this.deploying) {
      this.deployAgain = true;
      return this.deploying;
    }
    this.deploying = (async () => {
      let outcome: DeployOutcome = "stopped";
      do {
        this.deployAgain = false;
        outcome = await this.deployOnce();
      } while (this.deployAgain && !this.stopping);
      return outcome;
    })().finally(() => (this.deploying = undefined));
    return this.deploying;
  }

  /** Closes the balancer (and its connections), stops every task and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    this.targets.close();
    await this.balancer.close();
    await Promise.all([...this.tasks.values()].map((task) => this.stopTask(task)));
  }

  /**
   * A Fargate Spot interruption of one serving task, as AWS does it: the task gets SIGTERM at
   * once (the two-minute warning; AWS re:Post, "How do I handle Spot termination notices in AWS
   * Fargate Spot tasks?": "The warning is sent as a task state change event to Amazon
   * EventBridge and as a SIGTERM signal to the running task"), SIGKILL after its stopTimeout
   * (at most 120 s); its target stays registered until the task is gone ("Tasks that run as
   * FARGATE_SPOT might not be deregistered from the load balancer's target group until they
   * transition to a STOPPED state"), so only the failing health checks take it out of the
   * rotation while its agent drains; ECS starts a replacement at once. Returns the task's id,
   * or undefined when no task is serving.
   */
  interruptSpot(): string | undefined {
    const slot = this.slots.find((s) => s.current !== undefined && !s.current.leaving && !s.filling);
    const task = slot?.current;
    if (slot === undefined || task === undefined || this.stopping) return undefined;
    task.leaving = true;
    slot.current = undefined;
    this.options.log(`${task.id} | Spot interruption: SIGTERM now (pid ${task.replica.pid}), killed after ${this.timings.stopTimeoutSeconds} s at most; a replacement starts`);
    void this.stopTask(task);
    void this.fill(slot);
    return task.id;
  }

  /** SIGKILL to every task's process group, for a second Ctrl-C. */
  kill(): void {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    for (const task of this.tasks.values()) task.replica.kill();
  }

  private async deployOnce(): Promise<DeployOutcome> {
    const { clock } = this.options;
    const started = Date.now();
    const rollout = this.startRollout();
    this.options.log(
      `${this.app.name} | deploy: ${this.slots.length} new task(s) at once (minimum healthy 100 %, maximum 200 %); circuit breaker after ${rollout.threshold} failed task(s) in a row`,
    );
    const replaced = Promise.all(
      this.slots.map(async (slot) => {
        while (!this.stopping && !rollout.tripped) {
          const task = this.launch(slot);
          const outcome = await task.outcome;
          if (this.stopping || rollout.tripped) return;
          if (outcome.healthy) {
            this.promote(slot, task);
            return;
          }
          this.countFailure(rollout, task, `did not turn healthy (${outcome.why})`, false);
        }
      }),
    );
    // The old tasks drain and stop; a new task that fails meanwhile still counts.
    await Promise.race([replaced.then(() => Promise.all([...this.retiring])), rollout.trip]);
    this.rollout = undefined;
    if (this.stopping) return "stopped";
    if (rollout.tripped) {
      this.rollBack(rollout);
      await Promise.all([...this.retiring]);
      return this.stopping ? "stopped" : "rolled back";
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const after = rollout.failedAfterHealthy === 0 ? "" : `; ${this.afterHealthyNote(rollout)}`;
    this.options.log(`${this.app.name} | deploy done in ${seconds} s (${((Date.now() - started) / 1000 / clock.scale).toFixed(0)} AWS seconds)${after}`);
    this.report(rollout, "done");
    return "done";
  }

  private startRollout(): Rollout {
    let fire!: () => void;
    const trip = new Promise<void>((resolve) => (fire = resolve));
    const rollout: Rollout = {
      threshold: circuitBreakerThreshold(this.slots.length),
      failures: 0,
      tasks: new Set(),
      previous: new Map(this.slots.flatMap((slot) => (slot.current === undefined ? [] : [[slot, slot.current] as const]))),
      failedBeforeHealthy: 0,
      failedAfterHealthy: 0,
      tripped: false,
      trip,
      fire,
    };
    this.rollout = rollout;
    return rollout;
  }

  /** A new task failed: one more on the breaker; at the threshold the deploy rolls back. */
  private countFailure(rollout: Rollout, task: Task, what: string, afterHealthy: boolean): void {
    if (rollout.tripped || !rollout.tasks.has(task)) return;
    rollout.failures += 1;
    if (afterHealthy) rollout.failedAfterHealthy += 1;
    else rollout.failedBeforeHealthy += 1;
    const breaker = `${rollout.failures}/${rollout.threshold}`;
    this.options.log(`${task.id} | ${what}; circuit breaker ${breaker}`);
    this.options.events.failure(this.app.name, task.id, what, breaker);
    if (rollout.failures < rollout.threshold) return;
    rollout.tripped = true;
    rollout.fire();
  }

  /**
   * ECS rolls back to the last deployment that completed. Local mode has no older release to
   * start (the files are the new ones): the old tasks that still run serve again (a draining
   * target is registered again), and the new ones stop.
   */
  private rollBack(rollout: Rollout): void {
    for (const task of rollout.tasks) void this.abandon(task, ROLLED_BACK);
    const gone: string[] = [];
    for (const slot of this.slots) {
      const old = rollout.previous.get(slot);
      if (old !== undefined && slot.current === old) continue; // never replaced
      if (old !== undefined && old.stopped === undefined && this.tasks.has(old.id) && this.targets.reinstate(old.id)) {
        old.leaving = false;
        slot.current = old;
        this.options.log(`${old.id} | registered again: the deploy rolled back`);
        continue;
      }
      slot.current = undefined;
      gone.push(`${this.app.name}.${slot.index}`);
      void this.fill(slot);
    }
    const serving = this.slots.filter((s) => s.current !== undefined).length;
    const kinds = `${rollout.failedAfterHealthy} stopped or turned unhealthy after turning healthy, ${rollout.failedBeforeHealthy} before`;
    const restarted = gone.length === 0 ? "" : `; ${gone.join(", ")} had no old task left and start(s) again from the current files`;
    this.options.log(`${this.app.name} | deploy rolled back after ${rollout.failures} failed task(s); ${serving} task(s) keep serving (${kinds})${restarted}`);
    this.report(rollout, "rolled back");
  }

  private afterHealthyNote(rollout: Rollout): string {
    return (
      `${rollout.failedAfterHealthy} new task(s) stopped or turned unhealthy after turning healthy; the circuit breaker counted each and went back to 0 ` +
      `whenever a new task turned healthy (ECS's resetOnHealthyTask default), ending at ${rollout.failures}/${rollout.threshold}`
    );
  }

  private report(rollout: Rollout, outcome: "done" | "rolled back"): void {
    this.options.events.deploy(this.app.name, {
      outcome,
      breaker: `${rollout.failures}/${rollout.threshold}`,
      failedBeforeHealthy: rollout.failedBeforeHealthy,
      failedAfterHealthy: rollout.failedAfterHealthy,
    });
  }

  private createTask(slot: Slot): Task {
    this.generation += 1;
    const name = `${this.app.name}.${slot.index}`;
    const { clock } = this.options;
    const replica = new Replica({
      name,
      id: `${name}#${this.generation}`,
      agentPath: this.options.agentPath,
      command: this.app.command,
      cwd: this.app.workdir,
      env: { ...(this.options.baseEnv ?? process.env), ...this.app.env, ...agentNetworkEnv(this.networking), TCP_URL: this.tcpUrl },
      packetsPerSecond: this.app.plan.packetsPerSecond,
      burst: this.app.plan.burst,
      drainSeconds: clock.ms(this.timings.agentDrainSeconds) / 1000,
      stopTimeoutMs: clock.ms(this.timings.stopTimeoutSeconds),
      log: this.options.log,
    });
    let settle!: (outcome: TaskOutcome) => void;
    const outcome = new Promise<TaskOutcome>((resolve) => (settle = resolve));
    const task: Task = { id: replica.id, slot, replica, outcome, settle, settled: false, graceOver: false, everHealthy: false, leaving: false };
    task.settle = (value) => {
      if (task.settled) return;
      task.settled = true;
      settle(value);
    };
    this.tasks.set(task.id, task);
    replica.on("exit", (exit: ReplicaExit) => this.onExit(task, exit));
    return task;
  }

  /** Starts a task: it registers when its agent is up; the grace period starts now. */
  private launch(slot: Slot): Task {
    const task = this.createTask(slot);
    this.rollout?.tasks.add(task);
    task.graceTimer = setTimeout(() => {
      task.graceOver = true;
      if (task.leaving) return;
      const state = this.targets.stateOf(task.id);
      // A task that was healthy, then turned unhealthy within its grace period, is judged now.
      if (task.everHealthy) {
        if (state === "unhealthy") this.onTargetState(task.id, state);
        return;
      }
      if (state === undefined) void this.abandon(task, `its agent was not up within the ${this.timings.healthCheckGracePeriodSeconds} s grace period`);
      else if (state === "unhealthy") void this.abandon(task, `unhealthy at the end of the ${this.timings.healthCheckGracePeriodSeconds} s grace period`);
    }, this.options.clock.ms(this.timings.healthCheckGracePeriodSeconds));
    task.replica.start().then(
      () => {
        if (this.stopping || task.leaving) return;
        this.targets.register(task.replica.target!);
      },
      () => undefined, // the exit handler settles it
    );
    return task;
  }

  /**
   * Keeps a slot filled outside deploys: starts tasks until one is healthy, with backoff
   * between failures; `crashLoopLimit` failures in a row is fatal.
   */
  private async fill(slot: Slot): Promise<void> {
    slot.restartTimer = undefined;
    if (this.stopping || slot.filling) return;
    slot.filling = true;
    try {
      while (!this.stopping) {
        if (slot.current !== undefined && this.targets.stateOf(slot.current.id) !== "unhealthy") return; // registered again by a rollback
        const task = this.launch(slot);
        const outcome = await task.outcome;
        if (this.stopping) return;
        if (outcome.healthy) {
          slot.startFailures = 0;
          this.promote(slot, task);
          this.checkAllReady();
          return;
        }
        if (outcome.why === ROLLED_BACK) return; // the slot's old task serves again, or rollBack fills it
        const rollout = this.rollout;
        if (rollout !== undefined) {
          this.countFailure(rollout, task, `did not turn healthy (${outcome.why})`, false);
          if (rollout.tripped) return;
        }
        slot.startFailures += 1;
        const limit = this.options.crashLoopLimit ?? 3;
        if (slot.startFailures >= limit) {
          const last = task.replica.lastLine === "" ? "" : `; last output: ${task.replica.lastLine}`;
          this.stopping = true;
          this.emit(
            "fatal",
            new LocalError(
              "TCP_ADDON_LOCAL_CRASH_LOOP",
              `${this.app.name}: \`${this.app.command}\` (in ${this.app.workdir}) ${outcome.why} ${limit} times in a row${outcome.detail === undefined ? "" : ` (${outcome.detail})`}${last}`,
            ),
          );
          return;
        }
        const delay = backoffDelay(slot.crashes, this.options.backoffInitialMs, this.options.backoffMaxMs);
        slot.crashes += 1;
        this.options.log(`${task.id} | ${outcome.why}${outcome.detail === undefined ? "" : ` (${outcome.detail})`}: starting another in ${(delay / 1000).toFixed(2)} s`);
        await new Promise<void>((resolve) => (slot.restartTimer = setTimeout(resolve, delay)));
      }
    } finally {
      slot.filling = false;
    }
  }

  /** A healthy task becomes the slot's; the one it replaces (if any) is retired. */
  private promote(slot: Slot, task: Task): void {
    const previous = slot.current;
    slot.current = task;
    slot.healthyAt = Date.now();
    if (previous !== undefined && previous !== task) this.retire(previous);
  }

  private checkAllReady(): void {
    if (this.allReady || !this.slots.every((s) => s.current !== undefined)) return;
    this.allReady = true;
    this.emit("ready");
  }

  /** Deregister, wait the delay (the NLB resets what is left), then SIGTERM and stopTimeout. */
  private retire(task: Task): void {
    if (task.leaving) return;
    task.leaving = true;
    clearTimeout(task.graceTimer);
    const open = this.balancer.connectionsTo(task.id);
    this.options.log(
      `${task.id} | deregistered (pid ${task.replica.pid}): ${open} connection(s) keep it for ${this.timings.deregistrationDelaySeconds} s; new flows may still land for ${this.options.lagSeconds ?? this.timings.propagationSeconds} s`,
    );
    const done = this.targets
      .deregister(task.id)
      .then(() => (task.leaving ? this.stopTask(task) : undefined)) // not leaving: registered again by a rollback
      .finally(() => this.retiring.delete(done));
    this.retiring.add(done);
  }

  /** A task that failed or is no longer wanted: its target goes now, then it is stopped. */
  private async abandon(task: Task, why: string): Promise<void> {
    if (task.leaving) return;
    task.leaving = true;
    clearTimeout(task.graceTimer);
    task.settle({ healthy: false, why });
    this.targets.remove(task.id);
    await this.stopTask(task);
  }

  /** SIGTERM to the agent (it drains, then stops the app); SIGKILL after the stopTimeout. */
  private stopTask(task: Task): Promise<void> {
    if (task.stopped === undefined && this.tasks.has(task.id)) {
      this.options.events.state(this.app.name, task.id, "stopping");
      task.stopped = task.replica.stop().then(() => undefined);
    }
    return task.stopped ?? Promise.resolve();
  }

  private onTargetState(id: string, state: TargetState): void {
    const task = this.tasks.get(id);
    if (task === undefined || this.stopping) return;
    if (state === "healthy") {
      if (!task.everHealthy) {
        task.everHealthy = true;
        const { listen, health } = task.replica.ports;
        this.options.log(`${task.id} | ready on 127.0.0.1:${listen} (pid ${task.replica.pid}, health port ${health})`);
        if (this.rollout?.tasks.has(task)) this.rollout.failures = 0; // resetOnHealthyTask
      }
      task.settle({ healthy: true });
      return;
    }
    if (state !== "unhealthy" || !task.graceOver || task.leaving) return;
    if (!task.everHealthy) {
      void this.abandon(task, "unhealthy after the grace period");
      return;
    }
    const slot = task.slot;
    if (this.rollout !== undefined && slot.current === task) this.countFailure(this.rollout, task, "unhealthy after turning healthy", true);
    if (slot.current === task && this.deploying === undefined && !slot.filling) {
      this.options.log(`${task.id} | unhealthy after its grace period: ECS starts a replacement, then retires it`);
      void this.fill(slot);
    }
  }

  private onExit(task: Task, exit: ReplicaExit): void {
    clearTimeout(task.graceTimer);
    this.tasks.delete(task.id);
    if (!this.stopping) this.targets.remove(task.id);
    this.options.events.state(this.app.name, task.id, "stopped");
    const how = exit.signal === null ? `with code ${exit.code}` : `on ${exit.signal}`;
    if (!task.everHealthy) {
      task.settle({ healthy: false, why: "exited before it was ready", detail: `last ${how}` });
      return;
    }
    const slot = task.slot;
    if (this.stopping || task.leaving || slot.current !== task) return;
    slot.current = undefined;
    if (slot.healthyAt !== undefined && Date.now() - slot.healthyAt >= STABLE_AFTER_MS) slot.crashes = 0;
    const delay = backoffDelay(slot.crashes, this.options.backoffInitialMs, this.options.backoffMaxMs);
    slot.crashes += 1;
    this.options.log(`${task.id} | exited ${how}: out of the rotation, restarting in ${(delay / 1000).toFixed(2)} s`);
    if (this.rollout !== undefined) this.countFailure(this.rollout, task, `exited ${how} after turning healthy`, true);
    slot.restartTimer = setTimeout(() => void this.fill(slot), delay);
  }
}
