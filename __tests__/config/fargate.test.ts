import { FARGATE_MEMORY_BY_CPU, fargatePairProblem } from "../../config";

describe("Fargate cpu/memory pairs", () => {
  it.each([
    [256, 512],
    [256, 2048],
    [512, 3072],
    [1024, 8192],
    [2048, 16384],
    [4096, 30720],
    [8192, 61440],
    [16384, 122880],
  ])("accepts cpu %i with memory %i", (cpu, memory) => {
    expect(fargatePairProblem(cpu, memory)).toBeUndefined();
  });

  it.each([
    [256, 768],
    [256, 4096],
    [512, 512],
    [8192, 17408],
    [16384, 36864],
  ])("rejects cpu %i with memory %i", (cpu, memory) => {
    expect(fargatePairProblem(cpu, memory)?.field).toBe("memory");
  });

  it("lists the valid memory sizes for the given cpu", () => {
    expect(fargatePairProblem(256, 768)?.message).toBe(
      "768 MiB is not a valid memory size with cpu 256; use one of 512, 1024, 2048",
    );
  });

  it("lists the valid cpu sizes when the cpu itself is wrong", () => {
    expect(fargatePairProblem(300, 512)).toEqual({
      field: "cpu",
      message: "300 is not a Fargate cpu size; use one of 256, 512, 1024, 2048, 4096, 8192, 16384",
    });
  });

  it("knows 23 memory sizes for 4 vCPU (8 GiB to 30 GiB in 1 GiB steps)", () => {
    expect(FARGATE_MEMORY_BY_CPU.get(4096)).toHaveLength(23);
  });
});
