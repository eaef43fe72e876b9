import { BUILT_IN_PLANS, bytesPerSecond, formatRate, planCatalogue } from "../../config";

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
