import * as fs from "node:fs";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../config/package-root";
import { LocalError } from "../runtime/local/errors";

/**
 * `tcp-addon timeline ev.jsonl -o deploy.png`: one deploy as a picture. Tasks are rows, each
 * target/task state a coloured span (AWS seconds on the x axis), and the connections the
 * modelled NLB refused or dropped are marks on their task's row. Drawn with the benchmarks'
 * chart stack (Vega-Lite -> SVG -> resvg).
 */

const STATES = ["initial", "healthy", "unhealthy", "draining", "unused", "stopping"] as const;
const COLOURS = ["#9ecae1", "#31a354", "#e6550d", "#fdae6b", "#bdbdbd", "#756bb1"];

interface Span {
  task: string;
  state: string;
  start: number;
  end: number;
}

interface Mark {
  task: string;
  t: number;
  kind: string;
  count: number;
}

/** Spans and marks from the lines of an `--events` file. @throws LocalError on a line that is not an event */
export function parseTimeline(text: string, file = "events"): { spans: Span[]; marks: Mark[]; end: number } {
  const spans: Span[] = [];
  const marks: Mark[] = [];
  const open = new Map<string, { state: string; start: number }>();
  let end = 0;
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new LocalError("TCP_ADDON_LOCAL_USAGE", `${file}:${i + 1}: not a JSON line`);
    }
    if (typeof e.deploy === "object" && typeof e.t === "number") return; // a deploy's outcome: no row
    if (typeof e.t !== "number" || typeof e.task !== "string" || typeof e.app !== "string") {
      throw new LocalError("TCP_ADDON_LOCAL_USAGE", `${file}:${i + 1}: expected {"t": number, "app", "task", "state" or "connection"}`);
    }
    const task = e.task;
    end = Math.max(end, e.t);
    if (typeof e.connection === "string") {
      marks.push({ task, t: e.t, kind: e.connection, count: typeof e.count === "number" ? e.count : 1 });
      return;
    }
    if (typeof e.state !== "string") return;
    const previous = open.get(task);
    if (previous !== undefined) spans.push({ task, state: previous.state, start: previous.start, end: e.t });
    if (e.state === "stopped") open.delete(task);
    else open.set(task, { state: e.state, start: e.t });
  });
  for (const [task, o] of open) spans.push({ task, state: o.state, start: o.start, end });
  return { spans, marks, end };
}

/** The Vega-Lite spec of a timeline. */
export function timelineSpec(text: string, title: string, file = "events"): object {
  const { spans, marks } = parseTimeline(text, file);
  const tasks = [...new Set(spans.map((s) => s.task))];
  const height = Math.max(60, tasks.length * 28);
  const y = { field: "task", type: "nominal", sort: tasks, title: null };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, fontSize: 15, subtitle: "rows: tasks; spans: NLB target and ECS task states; marks: connections refused or dropped (count)" },
    background: "white",
    padding: 12,
    width: 760,
    height,
    layer: [
      {
        data: { values: spans },
        mark: { type: "bar", height: 18 },
        encoding: {
          y,
          x: { field: "start", type: "quantitative", title: "AWS seconds since local mode started" },
          x2: { field: "end" },
          color: { field: "state", type: "nominal", title: null, scale: { domain: [...STATES], range: COLOURS }, legend: { orient: "top" } },
        },
      },
      {
        data: { values: marks },
        mark: { type: "point", filled: true, size: 90, color: "black" },
        encoding: { y, x: { field: "t", type: "quantitative" }, shape: { field: "kind", type: "nominal", title: null, scale: { domain: ["dropped", "refused"], range: ["triangle-down", "cross"] } } },
      },
      {
        data: { values: marks },
        mark: { type: "text", dy: -12, fontSize: 10 },
        encoding: { y, x: { field: "t", type: "quantitative" }, text: { field: "count" } },
      },
    ],
    config: { font: "DejaVu Sans", view: { stroke: "#ddd" } },
  };
}

/** Renders an `--events` file to a PNG file. */
export async function renderTimeline(eventsFile: string, pngFile: string): Promise<void> {
  let text: string;
  try {
    text = fs.readFileSync(eventsFile, "utf8");
  } catch (err) {
    throw new LocalError("TCP_ADDON_LOCAL_USAGE", `${eventsFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const name = eventsFile.split("/").pop();
  const spec = timelineSpec(text, `Deploy timeline (${name})`, name);
  fs.writeFileSync(pngFile, await chartRenderer().renderPng(spec));
}

/**
 * The benchmarks' renderer (bench/lib/chart.ts: vega, vega-lite and resvg, development
 * dependencies), found at run time so that the published library does not compile it in.
 */
function chartRenderer(): { renderPng(spec: object): Promise<Buffer> } {
  try {
    // The compiled CLI (lib/) reads the TypeScript source through tsx, as bin/tcp-addon.js does.
    require("tsx/cjs");
    return require(path.join(PACKAGE_ROOT, "bench", "lib", "chart.ts")) as { renderPng(spec: object): Promise<Buffer> };
  } catch (err) {
    throw new LocalError(
      "TCP_ADDON_LOCAL_USAGE",
      `timeline needs the chart renderer of a clone (bench/ and its development dependencies: npm ci): ${(err as Error).message}`,
    );
  }
}
