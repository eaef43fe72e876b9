import { latencyGoalMet, type LatencyResult } from "../cases/latency";
import { MEMORY_GOAL_KB, type MemoryResult } from "../cases/memory";
import { planRateMet, type PlansResult } from "../cases/plans";
import { rateGoalMet, type RateResult } from "../cases/rate";
import { synthGoalMet, type SynthResult } from "../cases/synth";
import type { ThroughputResult } from "../cases/throughput";
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

  const rated = r.rate?.agent.filter((c) => c.pps >= 1000) ?? [];
  const passed = rated.filter((c) => rateGoalMet(c.measured));
  const worstLongRun = Math.max(...rated.map((c) => Math.abs(c.measured.longRunRatio - 1)));
  const worstWindow = Math.max(...rated.map((c) => c.measured.worstWindowError));
  rows.push({
    section,
    measure: "agent rate at >= 1000 pps: long-run ±1%, every 1-s window ±5%",
    value: rated.length
      ? `${passed.length}/${rated.length} cases; worst long-run error ${fmt.pct(worstLongRun)}, worst window error ${fmt.pct(worstWindow)}`
      : "not measured",
    goal: "all cases",
    met: rated.length ? passed.length === rated.length : undefined,
  });

  const mem = r.memory?.cells.find((c) => c.forwarder === "agent");
  rows.push({
    section,
    measure: "agent RSS per idle proxied connection",
    value: mem ? `${fmt.kb(mem.perConnectionBytes)} (${mem.connections} connections)` : "not measured",
    goal: `<= ${MEMORY_GOAL_KB} KB`,
    met: mem ? mem.perConnectionBytes <= MEMORY_GOAL_KB * 1024 : undefined,
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
