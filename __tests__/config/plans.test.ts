import {
  BUILT_IN_PLANS,
  bytesPerSecond,
  formatRate,
  PLAN_AGENT_CORES,
  PLAN_SIZES,
  planCatalogue,
  planSizeProblem,
  planTaskSize,
  taskSizeFor,
} from "../../config";

describe("plans", () => {
  it("turns 1000 packets/s into 1,500,000 bytes/s", () => {
    expect(bytesPerSecond(1000)).toBe(1_500_000);
  });

  it("prints 1000 pps as 1.5 MB/s per container and 6 MB/s for 4 containers", () => {
    expect(formatRate(bytesPerSecond(1000))).toBe("1.5 MB/s");
    expect(formatRate(bytesPerSecond(1000) * 4)).toBe("6 MB/s");
  });

  it("has the four built-in plans with their packet rates", () => {
    expect(Object.values(BUILT_IN_PLANS).map((p) => [p.name, p.packetsPerSecond])).toEqual([
      ["tcp-1k", 1000],
      ["tcp-5k", 5000],
      ["tcp-20k", 20000],
      ["tcp-100k", 100000],
    ]);
  });

  it("matches the bandwidth column of the design's plan table", () => {
    expect(Object.values(BUILT_IN_PLANS).map((p) => formatRate(bytesPerSecond(p.packetsPerSecond)))).toEqual([
      "1.5 MB/s",
      "7.5 MB/s",
      "30 MB/s",
      "150 MB/s",
    ]);
  });

  it("uses decimal units below and above megabytes", () => {
    expect(formatRate(150_000)).toBe("150 kB/s");
    expect(formatRate(1500)).toBe("1.5 kB/s");
    expect(formatRate(600)).toBe("600 B/s");
    expect(formatRate(1_500_000_000)).toBe("1.5 GB/s");
  });

  it("moves to the next unit when rounding reaches 1000", () => {
    expect(formatRate(999_999)).toBe("1 MB/s");
  });

  it("rejects a negative rate", () => {
    expect(() => formatRate(-1)).toThrow(RangeError);
  });

  it("lists user plans after the built-ins, with their burst", () => {
    const catalogue = planCatalogue({ "tcp-50k": { packetsPerSecond: 50000, burst: 100 } });
    expect(Object.keys(catalogue)).toEqual(["tcp-1k", "tcp-5k", "tcp-20k", "tcp-100k", "tcp-50k"]);
    expect(catalogue["tcp-50k"]).toEqual({ name: "tcp-50k", packetsPerSecond: 50000, burst: 100 });
  });
});

describe("plan task sizes", () => {
  it("picks the smallest Fargate cpu at which the agent, with the margin, uses at most half the task", () => {
    // 0.08 cores x 1.5 = 0.12 <= half of 0.25 vCPU
    expect(taskSizeFor(0.08)).toEqual({ cpu: 256, memory: 512 });
    // 0.09 x 1.5 = 0.135 > 0.125: the next size
    expect(taskSizeFor(0.09)).toEqual({ cpu: 512, memory: 1024 });
    expect(taskSizeFor(0.33)).toEqual({ cpu: 1024, memory: 2048 });
    expect(taskSizeFor(0.34)).toEqual({ cpu: 2048, memory: 4096 });
  });

  it("has no size when even the largest Fargate task is too small", () => {
    expect(taskSizeFor(6)).toBeUndefined();
  });

  it("records, for every built-in plan, the size that its measured agent CPU asks for", () => {
    for (const name of Object.keys(BUILT_IN_PLANS)) {
      expect([name, PLAN_SIZES[name]]).toEqual([name, taskSizeFor(PLAN_AGENT_CORES[name])]);
    }
  });

  it("never sizes a larger plan below a smaller one", () => {
    const cpus = Object.keys(BUILT_IN_PLANS).map((name) => PLAN_SIZES[name].cpu);
    expect(cpus).toEqual([...cpus].sort((a, b) => a - b));
  });

  it("sizes a user plan as the smallest built-in plan at or above its rate, and none above the largest", () => {
    expect(planTaskSize(50_000)).toEqual(PLAN_SIZES["tcp-100k"]);
    expect(planTaskSize(1_000)).toEqual(PLAN_SIZES["tcp-1k"]);
    expect(planTaskSize(100)).toEqual(PLAN_SIZES["tcp-1k"]);
    expect(planTaskSize(100_001)).toBeUndefined();
  });

  it("words a cpu below the plan's size with the fix, and says nothing at the size", () => {
    const plan = BUILT_IN_PLANS["tcp-100k"];
    const size = PLAN_SIZES["tcp-100k"];
    expect(planSizeProblem(plan, size.cpu / 2)).toBe(
      `${size.cpu / 2} cpu units leave the app less than half the task when the agent carries plan tcp-100k ` +
        `at its full rate both ways; set cpu: ${size.cpu} and memory: ${size.memory} or more (the smallest size measured to fit)`,
    );
    expect(planSizeProblem(plan, size.cpu)).toBeUndefined();
  });
});
