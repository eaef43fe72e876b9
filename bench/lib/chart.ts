import type { RateResult } from "../cases/rate";
import type { RateMeasurement } from "./rate";
import type { ThroughputResult } from "../cases/throughput";

/**
 * The bench's chart: rate over time at each plan against its target (the agent both ways
 * and tc tbf, one connection), and the throughput bars. Drawn with Vega-Lite, rendered to
 * SVG by Vega with no browser, then to PNG by resvg.
 */

interface RatePoint {
  plan: string;
  series: string;
  t: number;
  pps: number;
  target: number;
}

/** Seconds of the warm-up (burst) shown before the measured span. */
const LEAD_SECONDS = 2;
/** Rates are drawn up to this multiple of the target, so the initial burst does not flatten the rest. */
const CLIP = 2;

/**
 * Averages a 100 ms timeline into `stepSeconds` buckets, with time counted from the start
 * of the measured span, keeping `LEAD_SECONDS` before it and clipping at `CLIP` x target.
 */
function resample(m: RateMeasurement, stepSeconds: number): { t: number; pps: number }[] {
  const buckets = new Map<number, { sum: number; n: number }>();
  for (const p of m.timeline) {
    const t = p.t - m.warmupSeconds;
    if (t < -LEAD_SECONDS) continue;
    const key = Math.ceil(t / stepSeconds - 1e-9) * stepSeconds;
    const b = buckets.get(key) ?? { sum: 0, n: 0 };
    b.sum += p.pps;
    b.n += 1;
    buckets.set(key, b);
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, b]) => ({ t: Number(t.toFixed(3)), pps: Math.min(b.sum / b.n, CLIP * m.targetPps) }));
}

const VEGA_LITE = "vega-lite";
const SERIES = ["agent, up", "agent, down", "tc tbf (kernel)"];

const planLabel = (pps: number) => `${pps.toLocaleString("en-US")} pps`;

export function chartSpec(rate: RateResult | undefined, throughput: ThroughputResult | undefined, title: string): object {
  const points: RatePoint[] = [];
  for (const c of rate?.agent ?? []) {
    if (c.connections !== 1) continue;
    for (const p of resample(c.measured, 0.25)) {
      points.push({ plan: planLabel(c.pps), series: `agent, ${c.direction}`, t: p.t, pps: p.pps, target: c.pps });
    }
  }
  for (const c of rate?.reference ?? []) {
    if (c.connections !== 1) continue;
    for (const p of resample(c.measured, 0.25)) {
      points.push({ plan: planLabel(c.pps), series: "tc tbf (kernel)", t: p.t, pps: p.pps, target: c.pps });
    }
  }
  const rates = [...new Set([...(rate?.agent ?? []), ...(rate?.reference ?? [])].map((c) => c.pps))].sort((a, b) => a - b);
  const planOrder = rates.map(planLabel);

  const bars = (throughput?.cells ?? []).map((c) => ({
    forwarder: c.forwarder,
    streams: `${c.streams} stream${c.streams > 1 ? "s" : ""}`,
    gbps: c.medianGBps,
  }));

  const panels: object[] = [];
  if (points.length > 0) {
    panels.push({
      title: {
        text: "Rate over time, 1 connection, 250 ms averages; dashed = plan target",
        subtitle: `time 0 = start of the measured span (the initial burst comes before it); drawn up to ${CLIP}x target`,
        fontSize: 13,
      },
      data: { values: points },
      facet: { column: { field: "plan", type: "nominal", sort: planOrder, title: null, header: { labelFontSize: 12 } } },
      spec: {
        width: 230,
        height: 200,
        layer: [
          {
            mark: { type: "line", strokeWidth: 1.5, interpolate: "step-before" },
            encoding: {
              x: { field: "t", type: "quantitative", title: "seconds from the measured span's start" },
              y: { field: "pps", type: "quantitative", title: "packets/s (bytes / 1500)" },
              color: {
                field: "series",
                type: "nominal",
                title: null,
                legend: { orient: "top", labelFontSize: 12, symbolStrokeWidth: 3 },
                scale: { domain: SERIES, range: ["#1f77b4", "#ff7f0e", "#7f7f7f"] },
              },
            },
          },
          {
            mark: { type: "rule", strokeDash: [6, 4], color: "black" },
            encoding: { y: { field: "target", type: "quantitative", aggregate: "max" } },
          },
        ],
      },
      resolve: { scale: { y: "independent" } },
    });
  }
  if (bars.length > 0) {
    panels.push({
      title: { text: "Throughput on loopback, Node load generator (median GB/s)", fontSize: 13 },
      data: { values: bars },
      width: 420,
      height: 220,
      layer: [
        {
          mark: "bar",
          encoding: {
            x: { field: "forwarder", type: "nominal", sort: ["direct", "haproxy", "socat", "agent"], title: null, axis: { labelAngle: 0 } },
            xOffset: { field: "streams" },
            y: { field: "gbps", type: "quantitative", title: "GB/s" },
            color: { field: "streams", type: "nominal", title: null, scale: { scheme: "tableau10" } },
          },
        },
        {
          mark: { type: "text", dy: -6, fontSize: 10 },
          encoding: {
            x: { field: "forwarder", type: "nominal", sort: ["direct", "haproxy", "socat", "agent"] },
            xOffset: { field: "streams" },
            y: { field: "gbps", type: "quantitative" },
            text: { field: "gbps", type: "quantitative", format: ".2f" },
          },
        },
      ],
    });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, fontSize: 15 },
    background: "white",
    padding: 12,
    vconcat: panels,
    resolve: { scale: { color: "independent" } },
    config: { font: "DejaVu Sans", view: { stroke: "#ddd" } },
  };
}

/** Renders a Vega-Lite spec to PNG bytes. */
export async function renderPng(spec: object): Promise<Buffer> {
  const vega = await import("vega");
  // vega-lite's types are published through package "exports" only, which this project's
  // module resolution does not read; its one function used here is typed by hand.
  const vegaLite = (await import(VEGA_LITE)) as { compile(spec: object): { spec: import("vega").Spec } };
  const { Resvg } = await import("@resvg/resvg-js");
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG(2);
  view.finalize();
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, background: "white" }).render();
  return png.asPng();
}
