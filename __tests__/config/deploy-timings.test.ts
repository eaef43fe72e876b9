import {
  DEFAULT_DEPLOY_TIMINGS,
  deployTimings,
  DeployTimingsError,
  FARGATE_MAX_STOP_TIMEOUT,
  timingProblems,
  type DeployTimings,
} from "../../config/deploy-timings";

function problemsOf(overrides: Parameters<typeof deployTimings>[0]): readonly string[] {
  try {
    deployTimings(overrides);
  } catch (err) {
    if (err instanceof DeployTimingsError) return err.issues;
    throw err;
  }
  return [];
}

describe("the default deploy timings", () => {
  const t: DeployTimings = DEFAULT_DEPLOY_TIMINGS;

  it("keep every invariant", () => {
    expect(timingProblems(t)).toEqual([]);
  });

  it("stop a container within Fargate's 120 s", () => {
    expect(t.stopTimeoutSeconds).toBeLessThanOrEqual(FARGATE_MAX_STOP_TIMEOUT);
  });

  it("end the agent's drain before its SIGKILL", () => {
    expect(t.agentDrainSeconds).toBeLessThan(t.stopTimeoutSeconds);
  });

  it("reset old flows only after the NLB stopped sending new ones (the delay outlasts the propagation)", () => {
    expect(t.deregistrationDelaySeconds).toBeGreaterThan(t.propagationSeconds);
  });

  it("keep an unhealthy target's clients instead of resetting them", () => {
    expect(t.unhealthyConnectionTermination).toBe(false);
    expect(t.unhealthyDrainingIntervalSeconds).toBeGreaterThan(0);
  });

  it("time a health check out before the next one starts", () => {
    expect(t.healthCheckTimeoutSeconds).toBeLessThan(t.healthCheckIntervalSeconds);
  });
});

describe("deployTimings(overrides)", () => {
  it("derives the containers' stopTimeout from the drain", () => {
    expect(deployTimings({ agentDrainSeconds: 40 }).stopTimeoutSeconds).toBe(50);
  });

  it("keeps the defaults for keys that are not given or undefined", () => {
    expect(deployTimings({ agentDrainSeconds: undefined })).toEqual(DEFAULT_DEPLOY_TIMINGS);
  });

  it.each([
    ["a drain whose stopTimeout passes Fargate's 120 s", { agentDrainSeconds: 111 }, "agentDrainSeconds"],
    ["a deregistration delay that does not outlast the propagation", { deregistrationDelaySeconds: 120 }, "deregistrationDelaySeconds"],
    ["a health check interval the NLB refuses", { healthCheckIntervalSeconds: 4 }, "healthCheckIntervalSeconds"],
    ["a timeout as long as the interval", { healthCheckTimeoutSeconds: 10 }, "healthCheckTimeoutSeconds"],
    ["a threshold of 1", { healthyThreshold: 1 }, "healthyThreshold"],
    ["a draining interval with unhealthy termination on", { unhealthyConnectionTermination: true }, "unhealthyDrainingIntervalSeconds"],
  ])("refuses %s, naming the field and the fix in one line", (_what, overrides, field) => {
    const problems = problemsOf(overrides);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.some((p) => p.startsWith(`${field}: `))).toBe(true);
    for (const p of problems) expect(p).not.toMatch(/\n/);
  });

  it("throws a TcpAddonError with a stable code", () => {
    expect(() => deployTimings({ healthyThreshold: 11 })).toThrow(expect.objectContaining({ code: "TCP_ADDON_DEPLOY_TIMINGS" }));
  });
});
