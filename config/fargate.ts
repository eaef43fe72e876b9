/**
 * Fargate task sizes: cpu in units (1024 = 1 vCPU), memory in MiB. Only these pairs start.
 * Source: the ECS task-definition documentation (Linux tasks).
 */

function steps(from: number, to: number, step: number): readonly number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

export const FARGATE_MEMORY_BY_CPU: ReadonlyMap<number, readonly number[]> = new Map([
  [256, [512, 1024, 2048]],
  [512, steps(1024, 4096, 1024)],
  [1024, steps(2048, 8192, 1024)],
  [2048, steps(4096, 16384, 1024)],
  [4096, steps(8192, 30720, 1024)],
  [8192, steps(16384, 61440, 4096)],
  [16384, steps(32768, 122880, 8192)],
]);

/** The cpu values Fargate accepts, smallest first. */
export const FARGATE_CPU_VALUES: readonly number[] = [...FARGATE_MEMORY_BY_CPU.keys()];

/** The problem with a cpu/memory pair, or undefined when Fargate accepts it. */
export function fargatePairProblem(
  cpu: number,
  memory: number,
): { readonly field: "cpu" | "memory"; readonly message: string } | undefined {
  const memories = FARGATE_MEMORY_BY_CPU.get(cpu);
  if (memories === undefined) {
    return {
      field: "cpu",
      message: `${cpu} is not a Fargate cpu size; use one of ${FARGATE_CPU_VALUES.join(", ")}`,
    };
  }
  if (!memories.includes(memory)) {
    return {
      field: "memory",
      message: `${memory} MiB is not a valid memory size with cpu ${cpu}; use one of ${memories.join(", ")}`,
    };
  }
  return undefined;
}
