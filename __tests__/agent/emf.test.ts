import { AGENT_METRICS, METRIC_DIMENSIONS, METRICS_NAMESPACE } from "../../runtime/agent/contract";
import { EmfEmitter, emfOptions, emfRecord, ZERO_TOTALS, type EmfTotals } from "../../runtime/agent/emf";
import { FlagError } from "../../runtime/agent/errors";
import { DirectionCounters, type MetricsSnapshot } from "../../runtime/agent/metrics";
import { emfViolations } from "./emf-spec";

const DIMS = { project: "acme", app: "mqtt" };
const NS = 1_000_000_000;

function totals(overrides: Partial<EmfTotals>): EmfTotals {
  return { ...ZERO_TOTALS, ...overrides };
}

describe("emfRecord", () => {
  const record = emfRecord(DIMS, {
    previous: totals({ packetsIn: 100, packetsOut: 10, bytesIn: 150_000, bytesOut: 900, connections: 3, throttledSecondsIn: 1 }),
    current: totals({ packetsIn: 54_100, packetsOut: 610, bytesIn: 81_150_000, bytesOut: 9900, connections: 8, throttledSecondsIn: 13.5 }),
    activeConnections: 4,
    ppsLimit: 1000,
    elapsedSeconds: 60,
    timestampMs: 1_780_000_000_000,
  });

  it("is valid Embedded Metric Format", () => {
    expect(emfViolations(JSON.parse(JSON.stringify(record)))).toEqual([]);
  });

  it("writes counters as deltas over the interval and gauges as values", () => {
    expect(record).toMatchObject({
      PacketsIn: 54_000,
      PacketsOut: 600,
      BytesIn: 81_000_000,
      BytesOut: 9000,
      NewConnections: 5,
      ActiveConnections: 4,
      ThrottledSecondsIn: 12.5,
      ThrottledSecondsOut: 0,
      RefusedConnections: 0,
    });
  });

  it("writes plan utilisation as the busier direction's packets over the packets allowed, in percent", () => {
    // 54000 packets in 60 s at 1000 pps = 90 %
    expect(record.PlanUtilization).toBe(90);
  });

  it("names every metric of the contract, with its unit, in the TcpAddon namespace by project and app", () => {
    const directive = (record._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] })
      .CloudWatchMetrics[0];
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([[METRIC_DIMENSIONS.project, METRIC_DIMENSIONS.app]]);
    expect(directive.Metrics).toEqual(Object.values(AGENT_METRICS).map((m) => ({ Name: m.name, Unit: m.unit })));
    expect(record).toMatchObject({ Project: "acme", App: "mqtt" });
  });

  it("adds a per-task dimension set when a task is given", () => {
    const withTask = emfRecord({ ...DIMS, task: "abc123" }, { previous: ZERO_TOTALS, current: ZERO_TOTALS, activeConnections: 0, ppsLimit: 0, elapsedSeconds: 60, timestampMs: 1_780_000_000_000 });
    expect(emfViolations(withTask)).toEqual([]);
    expect((withTask._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0].Dimensions).toEqual([
      ["Project", "App"],
      ["Project", "App", "Task"],
    ]);
    expect(withTask.Task).toBe("abc123");
  });

  it("writes no plan utilisation without a limit", () => {
    const unlimited = emfRecord(DIMS, { previous: ZERO_TOTALS, current: totals({ packetsIn: 5 }), activeConnections: 0, ppsLimit: 0, elapsedSeconds: 60, timestampMs: 1_780_000_000_000 });
    expect(unlimited).not.toHaveProperty("PlanUtilization");
    expect(JSON.stringify(unlimited._aws)).not.toContain("PlanUtilization");
  });
});

describe("EmfEmitter on a fake clock", () => {
  function fakeAgent() {
    let now = 0;
    const timers: { callback: () => void; at: number }[] = [];
    const snapshot: MetricsSnapshot = {
      in: new DirectionCounters(),
      out: new DirectionCounters(),
      throttledSecondsIn: 0,
      throttledSecondsOut: 0,
      connectionsActive: 0,
      connectionsTotal: 0,
      acceptErrors: new Map(),
      upstreamErrors: new Map(),
      ppsLimit: 100,
      upstreamUp: true,
      draining: false,
    };
    const lines: Record<string, unknown>[] = [];
    const emitter = new EmfEmitter(
      { dimensions: DIMS, intervalSeconds: 60 },
      {
        read: () => snapshot,
        write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
        clock: () => now,
        wallClock: () => 1_780_000_000_000 + now / 1e6,
        timers: {
          setTimeout: (callback, ms) => timers.push({ callback, at: now + ms * 1e6 }) - 1,
          clearTimeout: (handle) => timers.splice(handle as number, 1),
        },
      },
    );
    const advance = (seconds: number) => {
      now += seconds * NS;
      const due = timers.findIndex((t) => t.at <= now);
      if (due >= 0) timers.splice(due, 1)[0].callback();
    };
    return { emitter, snapshot, lines, advance, pending: () => timers.length };
  }

  it("writes one line per interval with the deltas since the previous line", () => {
    const { emitter, snapshot, lines, advance } = fakeAgent();
    snapshot.in.packets = 7; // before start: not counted
    emitter.start();
    snapshot.in.packets += 3000;
    snapshot.connectionsTotal = 2;
    advance(60);
    snapshot.in.packets += 600;
    advance(60);

    expect(lines.map((l) => [l.PacketsIn, l.NewConnections, l.PlanUtilization])).toEqual([
      [3000, 2, 50],
      [600, 0, 10],
    ]);
    expect(lines[1]._aws).toMatchObject({ Timestamp: 1_780_000_120_000 });
  });

  it("flushes the partial interval on stop, once, and leaves no timer", () => {
    const { emitter, snapshot, lines, advance, pending } = fakeAgent();
    emitter.start();
    advance(60);
    snapshot.out.packets = 150;
    advance(30);
    emitter.stop();
    emitter.stop();

    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ PacketsOut: 150, intervalSeconds: 30, PlanUtilization: 5 });
    expect(pending()).toBe(0);
  });
});

describe("emfOptions", () => {
  it("is off when TCP_ADDON_EMF is unset or off", () => {
    expect(emfOptions({})).toBeNull();
    expect(emfOptions({ TCP_ADDON_EMF: "off", TCP_ADDON_APP: "x" })).toBeNull();
  });

  it("reads the dimensions and the interval", () => {
    expect(emfOptions({ TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "acme", TCP_ADDON_APP: "mqtt", TCP_ADDON_TASK: "t-1", TCP_ADDON_EMF_INTERVAL: "0.5" })).toEqual({
      dimensions: { project: "acme", app: "mqtt", task: "t-1" },
      intervalSeconds: 0.5,
    });
    expect(emfOptions({ TCP_ADDON_EMF: "on", TCP_ADDON_PROJECT: "acme", TCP_ADDON_APP: "mqtt" })?.intervalSeconds).toBe(60);
  });

  it.each([
    [{ TCP_ADDON_EMF: "maybe" }, /TCP_ADDON_EMF must be on or off/],
    [{ TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "acme" }, /set TCP_ADDON_APP/],
    [{ TCP_ADDON_EMF: "1", TCP_ADDON_APP: "mqtt" }, /set TCP_ADDON_PROJECT/],
    [{ TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "acme", TCP_ADDON_APP: "mqtt", TCP_ADDON_EMF_INTERVAL: "0" }, /TCP_ADDON_EMF_INTERVAL must be/],
    [{ TCP_ADDON_EMF: "1", TCP_ADDON_PROJECT: "acme", TCP_ADDON_APP: "a\nb" }, /TCP_ADDON_APP must be/],
  ])("refuses %j with a one-line flag error", (env, message) => {
    const attempt = () => emfOptions(env);
    expect(attempt).toThrow(FlagError);
    expect(attempt).toThrow(message);
  });
});
