import { latencyGoalMet, type LatencyResult } from "../cases/latency";
import { MEMORY_BEFORE_KB, MEMORY_GOAL_KB, type MemoryResult } from "../cases/memory";
import { planRateMet, REFERENCE_CPU_MARGIN, REFERENCE_PLANS, referenceCpuMet, type PlansResult } from "../cases/plans";
import { JAIN_GOAL, rateGoalMet, SMALL_WRITE_BYTES, SMALL_WRITERS, type RateResult } from "../cases/rate";
import { synthGoalMet, type SynthResult } from "../cases/synth";
import { directionGoals, type ThroughputResult } from "../cases/throughput";
import { fmt, Row } from "./report";

export interface Results {
  throughput?: ThroughputResult;
  latency?: LatencyResult;
  rate?: RateResult;
  plans?: PlansResult;
  memory?: MemoryResult;
  synth?: SynthResult;
}

/** One row per goal the issue names, summarizing the measurements behind it. */
export function goalRows(r: Results): Row[] {
  const rows: Row[] = [];
  const section = "goals";

  const generators = [
    { name: "Node", ratios: r.throughput?.ratios ?? [] },
    { name: "iperf3", ratios: r.throughput?.iperf3?.ratios ?? [] },
  ];
  for (const { name, ratios: all } of generators) {
    const ratios = all.filter((x) => x.agentOverHaproxy !== undefined);
    rows.push({
      section,
      measure: `agent throughput >= HAProxy's (${name} load generator)`,
      value: ratios.length
        ? ratios.map((x) => `${fmt.ratio(x.agentOverHaproxy!)} at ${x.streams} stream${x.streams > 1 ? "s" : ""}`).join(", ")
        : "not measured",
      goal: "ratio >= 1.00",
      met: ratios.length ? ratios.every((x) => x.agentOverHaproxy! >= 1) : undefined,
    });
  }

  const agentLatency = r.latency?.cells.find((c) => c.forwarder === "agent");
  const haproxyLatency = r.latency?.cells.find((c) => c.forwarder === "haproxy");
  rows.push({
    section,
    measure: "agent added latency (64 B round trip) <= HAProxy's",
    value:
      agentLatency && haproxyLatency
        ? `p50 +${fmt.us(agentLatency.addedP50us)}, p99 +${fmt.us(agentLatency.addedP99us)} ` +
          `(HAProxy +${fmt.us(haproxyLatency.addedP50us)}, +${fmt.us(haproxyLatency.addedP99us)})`
        : "not measured",
    goal: "p50 and p99 <= HAProxy's",
    met: agentLatency && haproxyLatency ? latencyGoalMet(agentLatency, haproxyLatency) : undefined,
  });

  // CPU per GB with no limit: the duplex reference of the plans case when it ran, else the
  // one-way throughput runs.
  const duplexAgent = r.plans?.reference.find((x) => x.forwarder === "agent");
  const duplexHaproxy = r.plans?.reference.find((x) => x.forwarder === "haproxy");
  const cpu =
    duplexAgent && duplexHaproxy
      ? { agent: duplexAgent.cpuSecondsPerGB, haproxy: duplexHaproxy.cpuSecondsPerGB, how: "both ways, 8 conn" }
      : r.throughput?.agentCpuSecondsPerGB !== undefined && r.throughput.haproxyCpuSecondsPerGB !== undefined
        ? { agent: r.throughput.agentCpuSecondsPerGB, haproxy: r.throughput.haproxyCpuSecondsPerGB, how: "1 stream" }
        : undefined;
  rows.push({
    section,
    measure: "agent CPU-s per GB with no limit <= HAProxy's",
    value: cpu ? `${cpu.agent.toFixed(3)} vs ${cpu.haproxy.toFixed(3)} (${cpu.how})` : "not measured",
    goal: "<= HAProxy's",
    met: cpu ? cpu.agent <= cpu.haproxy : undefined,
  });

  const planCases = r.plans?.cases ?? [];
  rows.push({
    section,
    measure: "every built-in plan at full rate both ways: each way within 1%",
    value: planCases.length
      ? planCases.map((c) => `${c.plan} ${c.upRatio.toFixed(3)}/${c.downRatio.toFixed(3)}`).join(", ")
      : "not measured",
    goal: "all plans",
    met: planCases.length ? planCases.every(planRateMet) : undefined,
  });

  const steady = planCases.filter((c) => REFERENCE_PLANS.includes(c.plan));
  rows.push({
    section,
    measure: `steady-state CPU at ${REFERENCE_PLANS.join(", ")} within ${REFERENCE_CPU_MARGIN * 100} % of the one-timer reference forwarder (medians, same run)`,
    value: steady.length
      ? steady.map((c) => `${c.plan} ${c.agentCores.median.toFixed(4)} vs ${c.referenceCores?.median.toFixed(4) ?? "n/a"}`).join(", ")
      : "not measured",
    goal: `agent <= ${(1 + REFERENCE_CPU_MARGIN).toFixed(2)} x reference`,
    met: steady.length ? steady.every((c) => referenceCpuMet(c) === true) : undefined,
  });

  for (const g of directionGoals(r.throughput?.directions)) {
    rows.push({
      section,
      measure: `${g.direction === "down" ? "app to client" : "client to app"}, no limit, 1 stream (iperf3): agent GB/s >= and CPU-s per GB <= ${g.against}'s`,
      value: g.text,
      goal: `both at least ${g.against}'s`,
      met: g.met,
    });
  }

  const rated = r.rate?.agent.filter((c) => c.pps >= 1000 && c.writeBytes === undefined) ?? [];
  const passed = rated.filter((c) => rateGoalMet(c.measured));
  const worstLongRun = Math.max(...rated.map((c) => Math.abs(c.measured.longRunRatio - 1)));
  const worstWindow = Math.max(...rated.map((c) => c.measured.worstWindowError));
  rows.push({
    section,
    measure: "agent rate at >= 1000 pps: long-run ±1%, every 1-s window ±1%",
    value: rated.length
      ? `${passed.length}/${rated.length} cases; worst long-run error ${fmt.pct(worstLongRun)}, worst window error ${fmt.pct(worstWindow)}`
      : "not measured",
    goal: "all cases",
    met: rated.length ? passed.length === rated.length : undefined,
  });

  const small = r.rate?.agent.filter((c) => c.writeBytes !== undefined) ?? [];
  rows.push({
    section,
    measure: `Jain's index, ${SMALL_WRITERS} connections writing ${SMALL_WRITE_BYTES} bytes at a time`,
    value: small.length ? small.map((c) => `${c.measured.jain.toFixed(3)} at ${c.pps} pps`).join(", ") : "not measured",
    goal: `>= ${JAIN_GOAL}`,
    met: small.length ? small.every((c) => c.measured.jain >= JAIN_GOAL) : undefined,
  });

  const mem = r.memory?.cells.find((c) => c.forwarder === "agent");
  rows.push({
    section,
    measure: "agent RSS per idle proxied connection",
    value: mem ? `${fmt.kb(mem.perConnectionBytes)} (${mem.connections} connections)` : "not measured",
    goal: `<= ${MEMORY_GOAL_KB} KB`,
    met: mem ? mem.perConnectionBytes <= MEMORY_GOAL_KB * 1024 : undefined,
  });
  rows.push({
    section,
    measure: "agent RSS per idle proxied connection, not worse than before the reused read buffers",
    value: mem ? fmt.kb(mem.perConnectionBytes) : "not measured",
    goal: `<= ${MEMORY_BEFORE_KB} KB`,
    met: mem ? mem.perConnectionBytes <= MEMORY_BEFORE_KB * 1024 : undefined,
  });

  const synth100 = r.synth?.cells.find((c) => c.apps === 100);
  rows.push({
    section,
    measure: "npm run synth, 100 apps",
    value: synth100
      ? `${synth100.medianWallSeconds.toFixed(2)} s, ${fmt.mb(synth100.medianPeakTreePssBytes)} (PSS of npm, its shell and the synth)`
      : "not measured",
    goal: "< 2 s and < 250 MB",
    met: synth100 ? synthGoalMet(synth100) : undefined,
  });
  return rows;
}
