import { EventEmitter } from "node:events";
import type { DeployTimings } from "../../config";
import type { Backend, Balancer } from "./balancer";
import type { DeployClock, EventLog } from "./deploy-clock";
import { probeHealth } from "./nlb-health-check";

/** An NLB target's states, as `aws elbv2 describe-target-health` names them. */
export type TargetState = "initial" | "healthy" | "unhealthy" | "draining" | "unused";

/** A replica's agent, as registered: where flows go and where /healthz answers. */
export interface TargetAddress extends Backend {
  /** The agent's /healthz port. */
  readonly healthPort: number;
}

export interface TargetGroupOptions {
  /** The app's name, for events and logs. */
  readonly app: string;
  /** The app's deploy timings (the numbers synth writes into the target group). */
  readonly timings: DeployTimings;
  /** AWS seconds to real time. */
  readonly clock: DeployClock;
  /** AWS seconds during which a draining target still receives new flows. */
  readonly lagSeconds: number;
  /** The data plane: the flows. */
  readonly balancer: Balancer;
  readonly events: EventLog;
  readonly log: (line: string) => void;
  /**
   * The target group has `proxy_protocol_v2` (the app's `clientIp` is not `off`): its health
   * checks carry the NLB's PROXY v2 header too. @default false
   */
  readonly proxyProtocol?: boolean;
  /** AWS seconds from a target's registration to its first health check. @default 0 */
  readonly firstCheckDelaySeconds?: number;
}

interface Target {
  readonly address: TargetAddress;
  state: TargetState;
  passes: number;
  fails: number;
  checkTimer?: NodeJS.Timeout;
  timers: NodeJS.Timeout[];
  /** Resolves the promise `deregister()` returned, once the target is unused. */
  unused?: () => void;
}

/**
 * The control plane of an NLB target group, with the declared numbers:
 * - a registered target is `initial`; the group GETs its /healthz every interval (timeout as
 *   declared) and marks it `healthy` after `healthyThreshold` passes in a row, `unhealthy`
 *   after `unhealthyThreshold` failures in a row (and back after `healthyThreshold` passes);
 * - only healthy targets get new flows, except that a deregistered (`draining`) target keeps
 *   getting them for the propagation lag, as NLB nodes learn of the change late;
 * - `deregistrationDelaySeconds` after deregistration the target is `unused` and its flows
 *   are reset (`connection_termination`, which the declaration always turns on);
 * - an unhealthy target's flows are kept (`enable_unhealthy_connection_termination = false`)
 *   for `unhealthyDrainingIntervalSeconds`, then reset; or reset at once when it is true.
 * - the first check of a new target comes `firstCheckDelaySeconds` after its registration;
 * - with proxy protocol on, each check starts with the PROXY v2 header the NLB sends on its
 *   health-check connections (`NLB_HEALTH_CHECK_HEADER`);
 * - fail-open: while no registered target is healthy (every one `initial` or `unhealthy`), new
 *   flows go to all of them, whatever their health, and an unhealthy target's flows are not
 *   reset for its health;
 * Emits `state` (id, TargetState) after writing the event. Sources: docs/health-checks.md.
 */
export class TargetGroup extends EventEmitter {
  private readonly options: TargetGroupOptions;
  private readonly targets = new Map<string, Target>();
  private closed = false;
  /** Every registered target is unhealthy or initial: flows go to all of them. */
  private failingOpen = false;

  constructor(options: TargetGroupOptions) {
    super();
    this.options = options;
  }

  /** The target's state, or undefined once it is gone. */
  stateOf(id: string): TargetState | undefined {
    return this.targets.get(id)?.state;
  }

  /** Registers a target: `initial`, and health checks start. */
  register(address: TargetAddress): void {
    if (this.closed || this.targets.has(address.id)) return;
    const target: Target = { address, state: "initial", passes: 0, fails: 0, timers: [] };
    this.targets.set(address.id, target);
    this.setState(target, "initial");
    this.scheduleCheck(target, this.options.clock.ms(this.options.firstCheckDelaySeconds ?? 0));
  }

  /** Whether the group fails open now (no registered target is healthy). */
  get failsOpen(): boolean {
    return this.failingOpen;
  }

  /**
   * Deregisters a target: `draining` at once, out of the rotation after the lag, `unused`
   * after the deregistration delay, when its remaining flows are reset. Resolves then.
   */
  deregister(id: string): Promise<void> {
    const target = this.targets.get(id);
    if (target === undefined || target.state === "draining") return Promise.resolve();
    const { clock, timings, balancer } = this.options;
    this.stopChecks(target);
    for (const timer of target.timers.splice(0)) clearTimeout(timer);
    const wasRoutable = target.state === "healthy";
    this.setState(target, "draining");
    if (wasRoutable) {
      const lagMs = clock.ms(Math.min(this.options.lagSeconds, timings.deregistrationDelaySeconds));
      target.timers.push(setTimeout(() => balancer.remove(id), lagMs));
    } else {
      balancer.remove(id);
    }
    return new Promise<void>((resolve) => {
      target.unused = resolve;
      target.timers.push(
        setTimeout(() => this.finish(target, "connection termination after the deregistration delay"), clock.ms(timings.deregistrationDelaySeconds)),
      );
    });
  }

  /**
   * A draining target registered again (a deploy rolled back while its old task still runs):
   * `initial`, checked again from now; the promise `deregister()` returned resolves at once.
   * False when the target is not draining.
   */
  reinstate(id: string): boolean {
    const target = this.targets.get(id);
    if (target === undefined || target.state !== "draining") return false;
    for (const timer of target.timers.splice(0)) clearTimeout(timer);
    const unused = target.unused;
    target.unused = undefined;
    target.passes = 0;
    target.fails = 0;
    this.setState(target, "initial");
    this.scheduleCheck(target, 0);
    unused?.();
    return true;
  }

  /** A target whose task is gone (crashed, or a failed new task): `unused` now, flows reset. */
  remove(id: string): void {
    const target = this.targets.get(id);
    if (target !== undefined) this.finish(target, "its task is gone");
  }

  /** Stops every timer; targets are forgotten without events. */
  close(): void {
    this.closed = true;
    for (const target of this.targets.values()) {
      this.stopChecks(target);
      for (const timer of target.timers) clearTimeout(timer);
      target.unused?.();
    }
    this.targets.clear();
  }

  private finish(target: Target, why: string): void {
    const id = target.address.id;
    this.stopChecks(target);
    for (const timer of target.timers) clearTimeout(timer);
    this.options.balancer.remove(id);
    const reset = this.options.balancer.reset(id);
    if (reset > 0) this.options.log(`${id} | reset ${reset} connection(s): ${why}`);
    this.targets.delete(id);
    this.setState(target, "unused");
    target.unused?.();
  }

  private setState(target: Target, state: TargetState): void {
    target.state = state;
    this.options.events.state(this.options.app, target.address.id, state);
    this.updateFailOpen();
    this.emit("state", target.address.id, state);
  }

  /**
   * Fail-open, as the NLB does it: "If all targets fail health checks at the same time in all
   * enabled Availability Zones, the load balancer fails open. ... The effect of the fail-open is to
   * allow traffic to all targets in all enabled Availability Zones, regardless of their health
   * status" (ELB docs, Health checks for Network Load Balancer target groups). Targets still in
   * `initial` get flows too (aws/containers-roadmap#469: with no healthy target the NLB
   * "distributes connections to all targets in the target group", new ones in state "initial").
   * A deregistered (draining) target is not part of it.
   */
  private updateFailOpen(): void {
    const { balancer, log, app } = this.options;
    const registered = [...this.targets.values()].filter((t) => t.state === "initial" || t.state === "healthy" || t.state === "unhealthy");
    const failOpen = registered.length > 0 && registered.every((t) => t.state !== "healthy");
    if (failOpen) {
      if (!this.failingOpen) log(`${app} | no healthy target: the NLB fails open and routes new flows to all ${registered.length} registered target(s)`);
      for (const target of registered) balancer.add(target.address);
    } else if (this.failingOpen) {
      for (const target of registered) if (target.state !== "healthy") balancer.remove(target.address.id);
      if (registered.length > 0) log(`${app} | a target is healthy again: the fail-open ends`);
    }
    this.failingOpen = failOpen;
  }

  private stopChecks(target: Target): void {
    clearTimeout(target.checkTimer);
    target.checkTimer = undefined;
  }

  private scheduleCheck(target: Target, delayMs: number): void {
    target.checkTimer = setTimeout(() => {
      const { address } = target;
      const probe = {
        host: address.host,
        port: address.healthPort,
        proxyHeader: this.options.proxyProtocol ?? false,
        timeoutMs: this.options.clock.ms(this.options.timings.healthCheckTimeoutSeconds),
      };
      void probeHealth(probe).then((ok) => {
        if (this.closed || target.checkTimer === undefined) return;
        this.onCheck(target, ok);
        this.scheduleCheck(target, this.options.clock.ms(this.options.timings.healthCheckIntervalSeconds));
      });
    }, delayMs);
  }

  private onCheck(target: Target, ok: boolean): void {
    const { timings, balancer } = this.options;
    if (ok) {
      target.passes += 1;
      target.fails = 0;
    } else {
      target.fails += 1;
      target.passes = 0;
    }
    if (target.state !== "healthy" && target.passes >= timings.healthyThreshold) {
      for (const timer of target.timers.splice(0)) clearTimeout(timer);
      this.setState(target, "healthy");
      balancer.add(target.address);
    } else if (target.state !== "unhealthy" && target.fails >= timings.unhealthyThreshold) {
      const wasHealthy = target.state === "healthy";
      balancer.remove(target.address.id);
      this.setState(target, "unhealthy");
      if (wasHealthy) this.onUnhealthy(target);
    }
  }

  /** What the NLB does to the flows of a target that turned unhealthy. */
  private onUnhealthy(target: Target): void {
    const { timings, balancer, clock, log } = this.options;
    const id = target.address.id;
    const open = balancer.connectionsTo(id);
    // "If a target becomes unhealthy, the load balancer sends a TCP RST for packets received on the
    // client connections associated with the target, unless the unhealthy target triggers the load
    // balancer to fail open." (ELB docs, Health checks for Network Load Balancer target groups)
    if (this.failingOpen) {
      log(`${id} | unhealthy, but the group fails open: its ${open} connection(s) are kept and it still gets new flows`);
      return;
    }
    if (timings.unhealthyConnectionTermination) {
      const reset = balancer.reset(id);
      log(`${id} | unhealthy: reset ${reset} connection(s) (unhealthy connection termination is on)`);
      return;
    }
    log(`${id} | unhealthy: out of the rotation; its ${open} connection(s) are kept for up to ${timings.unhealthyDrainingIntervalSeconds} s`);
    target.timers.push(
      setTimeout(() => {
        if (target.state !== "unhealthy" || this.failingOpen) return;
        const reset = balancer.reset(id);
        log(`${id} | still unhealthy after ${timings.unhealthyDrainingIntervalSeconds} s: reset ${reset} connection(s)`);
      }, clock.ms(timings.unhealthyDrainingIntervalSeconds)),
    );
  }
}
