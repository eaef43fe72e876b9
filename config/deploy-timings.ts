import { TcpAddonError } from "../ground";

/**
 * Every timing of a deploy that the declaration writes and local mode runs, in one place.
 * ECS and the NLB replace a task in this order (DESIGN.md, "The deploy lifecycle"):
 * register the new task (`initial`, `healthy` after `healthyThreshold` checks every
 * `healthCheckIntervalSeconds`), deregister the old one (`draining`; new flows can still land
 * on it for `propagationSeconds`), wait `deregistrationDelaySeconds`, reset what is left
 * (`connection_termination`), then SIGTERM the agent (it drains `agentDrainSeconds`, still
 * accepting), then the app; SIGKILL after each container's `stopTimeoutSeconds`.
 */
export interface DeployTimings {
  /**
   * Seconds a deregistering target keeps its flows before the NLB resets them and ECS sends
   * SIGTERM. It must outlast `propagationSeconds`, or a client that reconnects after the reset can
   * land on the old task again and be dropped twice.
   */
  readonly deregistrationDelaySeconds: number;
  /** Seconds between two NLB health checks of a target (NLB: 5-300). */
  readonly healthCheckIntervalSeconds: number;
  /** Seconds a health check may take before it counts as failed (NLB HTTP checks: 2-120, below the interval). */
  readonly healthCheckTimeoutSeconds: number;
  /** Consecutive passing checks that make a target `healthy` (NLB: 2-10). */
  readonly healthyThreshold: number;
  /** Consecutive failing checks that make a target `unhealthy` (NLB: 2-10). */
  readonly unhealthyThreshold: number;
  /** Seconds after a task starts during which ECS ignores failed load balancer health checks. */
  readonly healthCheckGracePeriodSeconds: number;
  /** Seconds the agent keeps serving (and accepting) after SIGTERM before it resets what is left. */
  readonly agentDrainSeconds: number;
  /** Seconds from SIGTERM to SIGKILL for each container (Fargate: at most 120). */
  readonly stopTimeoutSeconds: number;
  /** Whether the NLB resets the flows of a target that turns unhealthy. */
  readonly unhealthyConnectionTermination: boolean;
  /** Seconds an unhealthy target's flows are kept before they are reset (with termination off). */
  readonly unhealthyDrainingIntervalSeconds: number;
  /** Seconds during which new flows may still reach a target after its deregistration started. */
  readonly propagationSeconds: number;
}

/**
 * AWS seconds from a new target's registration to the NLB's first health check of it, as local
 * mode runs it (`tcp-addon local --first-check-delay S` shortens it; synth writes nothing for it:
 * AWS decides). AWS gives no number: "It can take a few minutes for the registration process to
 * complete and health checks to start." (ELB docs, Health checks for Network Load Balancer target
 * groups). Measured by users with ECS Fargate and ip targets: "sit idle in the NLB target group with
 * state "initial" for 70-120 seconds before the first health check comes in" (aws/containers-roadmap#469),
 * "The duration seems to be around 120 seconds" (awsdocs/elb-network-load-balancers-user-guide#11).
 * Local mode takes the shortest reported. The grace period does not need to cover it: ECS acts on
 * an `unhealthy` target only, and an unchecked one is `initial`.
 */
export const NLB_FIRST_HEALTH_CHECK_DELAY_SECONDS = 70;

/** Fargate's ceiling on a container's stopTimeout (SIGTERM to SIGKILL). */
export const FARGATE_MAX_STOP_TIMEOUT = 120;

/** Seconds between the end of the agent's drain and its SIGKILL: room to reset sockets and log. */
export const STOP_MARGIN_SECONDS = 10;

/**
 * The defaults, each with its reason and source.
 * - propagationSeconds 120: new flows keep reaching a deregistering NLB target for about two
 *   minutes whatever the deregistration delay (aws/containers-roadmap#470: "the effective minimum
 *   delay seems to be 120 seconds"; kubernetes-sigs/aws-load-balancer-controller#2366 and #3270:
 *   "deregistration takes at least 2 minutes regardless of the deregistration delay setting").
 * - deregistrationDelaySeconds 150: it outlasts the propagation by 30 s, so when the NLB resets
 *   the old flows (connection termination) no new flow lands on the old task any more, and a
 *   reconnecting client reaches a new task: it is dropped once, never twice. The agent's drain
 *   after it (still accepting) serves any straggler past the field reports. AWS's default of
 *   300 s would hold every deploy for five minutes.
 * - healthCheckIntervalSeconds 10, thresholds 2/2, timeout 5: the fastest the NLB allows for a
 *   new task to join (2 checks, about 20 s after its first check) while one slow answer is not
 *   enough to fail a task (AWS defaults for TCP target groups are 30 s, 5 and 2).
 * - healthCheckGracePeriodSeconds 60: AWS documents that a new NLB target can wait well over a
 *   minute for its first check; the grace keeps ECS from killing such a task meanwhile.
 * - agentDrainSeconds 15: by SIGTERM the NLB has reset the old flows, so the drain serves flows
 *   that still land late and lets idle ones close cleanly; then what is left is reset.
 * - stopTimeoutSeconds = drain + 10 = 25: under Fargate's 120 s ceiling and ECS's 30 s default.
 * - unhealthyConnectionTermination false, unhealthyDrainingIntervalSeconds 300: two slow /healthz
 *   answers must not drop every client of a task (the NLB's default for TCP is to reset them);
 *   the target goes `unhealthy.draining`, takes no new flows and keeps its old ones for up to
 *   5 minutes while ECS replaces the task (AWS NLB docs, "Unhealthy target connection termination").
 */
export const DEFAULT_DEPLOY_TIMINGS: DeployTimings = Object.freeze({
  deregistrationDelaySeconds: 150,
  healthCheckIntervalSeconds: 10,
  healthCheckTimeoutSeconds: 5,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  healthCheckGracePeriodSeconds: 60,
  agentDrainSeconds: 15,
  stopTimeoutSeconds: 15 + STOP_MARGIN_SECONDS,
  unhealthyConnectionTermination: false,
  unhealthyDrainingIntervalSeconds: 300,
  propagationSeconds: 120,
});

/** The overrides a config's `deploy:` block or TcpApp's `deploy` prop may give. */
export type DeployOverrides = Partial<Omit<DeployTimings, "stopTimeoutSeconds">>;

/** A set of timings that AWS would refuse, or that would refuse connections during a deploy. */
export class DeployTimingsError extends TcpAddonError {
  constructor(issues: readonly string[]) {
    super("TCP_ADDON_DEPLOY_TIMINGS", issues);
  }
}

/**
 * The timings of one app: the defaults with its overrides; the stopTimeout follows the drain.
 * @throws DeployTimingsError listing every broken invariant, each as `field: problem; fix`.
 */
export function deployTimings(overrides: DeployOverrides = {}): DeployTimings {
  const merged = { ...DEFAULT_DEPLOY_TIMINGS, ...definedOnly(overrides) };
  const timings: DeployTimings = { ...merged, stopTimeoutSeconds: merged.agentDrainSeconds + STOP_MARGIN_SECONDS };
  const issues = timingProblems(timings);
  if (issues.length > 0) throw new DeployTimingsError(issues);
  return Object.freeze(timings);
}

/** Every invariant the timings must keep, as `field: problem; fix` lines (empty when all hold). */
export function timingProblems(t: DeployTimings): string[] {
  const issues: string[] = [];
  const range = (field: keyof DeployTimings, min: number, max: number, why: string) => {
    const value = t[field] as number;
    if (!Number.isInteger(value) || value < min || value > max) issues.push(`${field}: expected ${min}-${max} (${why}), got ${value}`);
  };
  range("deregistrationDelaySeconds", 0, 3600, "the NLB's range");
  range("healthCheckIntervalSeconds", 5, 300, "the NLB's range");
  range("healthCheckTimeoutSeconds", 2, 120, "the NLB's range for HTTP checks");
  range("healthyThreshold", 2, 10, "the NLB's range");
  range("unhealthyThreshold", 2, 10, "the NLB's range");
  range("healthCheckGracePeriodSeconds", 0, 2_147_483_647, "ECS's range");
  range("agentDrainSeconds", 0, FARGATE_MAX_STOP_TIMEOUT - STOP_MARGIN_SECONDS, `its stopTimeout is drain + ${STOP_MARGIN_SECONDS} and Fargate allows at most ${FARGATE_MAX_STOP_TIMEOUT}`);
  range("unhealthyDrainingIntervalSeconds", 0, 360_000, "the NLB's range");
  range("propagationSeconds", 0, 3600, "an allowance in seconds");
  if (t.stopTimeoutSeconds > FARGATE_MAX_STOP_TIMEOUT) {
    issues.push(`stopTimeoutSeconds: ${t.stopTimeoutSeconds} is above Fargate's ${FARGATE_MAX_STOP_TIMEOUT}; shorten agentDrainSeconds`);
  }
  if (t.agentDrainSeconds >= t.stopTimeoutSeconds) {
    issues.push(`agentDrainSeconds: the drain (${t.agentDrainSeconds} s) must end before SIGKILL (${t.stopTimeoutSeconds} s)`);
  }
  if (t.healthCheckTimeoutSeconds >= t.healthCheckIntervalSeconds) {
    issues.push(`healthCheckTimeoutSeconds: must be below the interval (${t.healthCheckIntervalSeconds} s)`);
  }
  if (t.deregistrationDelaySeconds <= t.propagationSeconds) {
    issues.push(
      `deregistrationDelaySeconds: ${t.deregistrationDelaySeconds} s does not outlast the ${t.propagationSeconds} s during which new flows still reach a deregistering target; ` +
        `raise it above ${t.propagationSeconds} or clients that reconnect can land on the old task and be dropped twice`,
    );
  }
  if (t.unhealthyConnectionTermination && t.unhealthyDrainingIntervalSeconds !== 0) {
    issues.push("unhealthyDrainingIntervalSeconds: only applies when unhealthyConnectionTermination is false; set it to 0");
  }
  return issues;
}

/** Seconds from a task's first health check to `healthy`. */
export function secondsToHealthy(t: DeployTimings): number {
  return t.healthCheckIntervalSeconds * t.healthyThreshold;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Application Auto Scaling's default scale-in cooldown for ECS services, in seconds. */
export const DEFAULT_SCALE_IN_COOLDOWN_SECONDS = 300;

/**
 * Seconds target tracking waits after removing a task before it removes another: at least the
 * time a removed task takes to leave (deregistration delay, then its drain up to SIGKILL), so
 * scale-in never has two generations of leaving tasks at once, and at least AWS's default.
 */
export function scaleInCooldownSeconds(t: DeployTimings): number {
  return Math.max(DEFAULT_SCALE_IN_COOLDOWN_SECONDS, t.deregistrationDelaySeconds + t.stopTimeoutSeconds);
}
