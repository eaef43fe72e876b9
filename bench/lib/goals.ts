import type { LatencyResult } from "../cases/latency";
import type { MemoryResult } from "../cases/memory";
import type { PlansResult } from "../cases/plans";
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

  const ratios = r.throughput?.ratios.filter((x) => x.agentOverHaproxy !== undefined) ?? [];
  rows.push({
    section,
    measure: "agent throughput >= HAProxy's",
    value: ratios.length
      ? ratios.map((x) => `${fmt.ratio(x.agentOverHaproxy!)} at ${x.streams} stream${x.streams > 1 ? "s" : ""}`).join(", ")
      : "not measured",
    goal: "ratio >= 1.00",
    met: ratios.length ? ratios.every((x) => x.agentOverHaproxy! >= 1) : undefined,
  });

  const agentLatency = r.latency?.cells.find((c) => c.forwarder === "agent");
  rows.push({
    section,
    measure: "agent added p99 latency (64 B round trip)",
    value: agentLatency ? fmt.us(agentLatency.addedP99us) : "not measured",
    goal: "<= 150 µs",
    met: agentLatency ? agentLatency.addedP99us <= 150 : undefined,
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
    goal: "<= 12 KB",
    met: mem ? mem.perConnectionBytes <= 12 * 1024 : undefined,
  });

  const synth100 = r.synth?.cells.find((c) => c.apps === 100);
  rows.push({
    section,
    measure: "npm run synth, 100 apps",
    value: synth100
      ? `${synth100.medianWallSeconds.toFixed(2)} s, ${fmt.mb(synth100.medianPeakTreePssBytes)} (PSS of npm, tsx and the synth)`
      : "not measured",
    goal: "< 2 s and < 250 MB",
    met: synth100 ? synthGoalMet(synth100) : undefined,
  });
  return rows;
}
