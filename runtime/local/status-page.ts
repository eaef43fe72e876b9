import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { LocalError } from "./errors";

/**
 * Local mode's status page: every app, its tasks with their lifecycle state, and each task's
 * live connections and packets per second against the plan, read from each agent's /metrics.
 * `GET /` is the page (it polls `/status.json` every second and redraws in place), `GET
 * /status.json` the data. Listens on 127.0.0.1 only.
 */

/** One task as its supervisor knows it. */
export interface StatusTaskSource {
  readonly id: string;
  /** 1-based slot ("mqtt.1"). */
  readonly slot: number;
  readonly pid?: number;
  /** The agent's health port (/metrics); undefined until its agent is up. */
  readonly healthPort?: number;
  /** The target's state (initial, healthy, unhealthy, draining, unused) or the task's (starting, stopping). */
  readonly state: string;
}

/** One app as the status page reads it. */
export interface StatusAppSource {
  readonly name: string;
  readonly plan: { readonly name: string; readonly packetsPerSecond: number };
  readonly tcpUrl: string;
  /** The desired task count. */
  readonly containers: number;
  /** The tasks now. */
  tasks(): readonly StatusTaskSource[];
}

/** One task on the page. Totals are the agent's counters; rates are over the last sample interval. */
export interface TaskView {
  readonly id: string;
  readonly slot: number;
  readonly pid: number | null;
  readonly state: string;
  /** Whether the last scrape of /metrics worked. */
  readonly scraped: boolean;
  readonly connections: number | null;
  readonly connectionsTotal: number | null;
  readonly packetsIn: number | null;
  readonly packetsOut: number | null;
  readonly ppsIn: number | null;
  readonly ppsOut: number | null;
  /** The agent's limit, packets/s per direction (0 = none). */
  readonly ppsLimit: number | null;
  /** The busier direction's rate over the limit, percent. */
  readonly planPercent: number | null;
}

export interface AppView {
  readonly name: string;
  readonly plan: string;
  readonly pps: number;
  readonly tcpUrl: string;
  readonly containers: number;
  readonly tasks: readonly TaskView[];
}

export interface StatusView {
  /** Milliseconds since the epoch of the sample. */
  readonly time: number;
  /** Samples taken since the page started. */
  readonly sample: number;
  readonly apps: readonly AppView[];
}

export interface StatusPageOptions {
  /** @default 0: any free port */
  readonly port?: number;
  /** Milliseconds between two scrapes of every agent. @default 1000 */
  readonly sampleMs?: number;
  /** Milliseconds a scrape may take. @default 800 */
  readonly scrapeTimeoutMs?: number;
}

const HOST = "127.0.0.1";

interface Counters {
  readonly healthPort: number;
  readonly at: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
}

/** The status page server and its sampler. */
export class StatusPage {
  private readonly server: http.Server;
  private readonly sampleMs: number;
  private readonly scrapeTimeoutMs: number;
  private readonly previous = new Map<string, Counters>();
  private view: StatusView = { time: Date.now(), sample: 0, apps: [] };
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;
  private closed = false;

  constructor(private readonly apps: () => readonly StatusAppSource[], private readonly options: StatusPageOptions = {}) {
    this.sampleMs = options.sampleMs ?? 1000;
    this.scrapeTimeoutMs = options.scrapeTimeoutMs ?? 800;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  /** Binds 127.0.0.1:<port>, takes a first sample and samples every `sampleMs`; resolves with the port. */
  async listen(): Promise<number> {
    const port = this.options.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", (err: NodeJS.ErrnoException) =>
        reject(new LocalError("TCP_ADDON_LOCAL_PORT_UNAVAILABLE", `status page: cannot listen on ${HOST}:${port} (${err.code ?? err.message}); pick another --status-port`)),
      );
      this.server.listen({ port, host: HOST }, resolve);
    });
    await this.sample();
    const tick = () => {
      if (this.closed) return;
      this.sampling = this.sample().finally(() => {
        this.timer = setTimeout(tick, this.sampleMs);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(tick, this.sampleMs);
    this.timer.unref();
    return (this.server.address() as AddressInfo).port;
  }

  /** The last sample. */
  get status(): StatusView {
    return this.view;
  }

  /** Scrapes every task's agent now and computes the rates since its previous scrape. */
  async sample(): Promise<void> {
    const apps = await Promise.all(
      this.apps().map(async (app): Promise<AppView> => ({
        name: app.name,
        plan: app.plan.name,
        pps: app.plan.packetsPerSecond,
        tcpUrl: app.tcpUrl,
        containers: app.containers,
        tasks: await Promise.all(app.tasks().map((task) => this.taskView(task))),
      })),
    );
    const live = new Set(apps.flatMap((a) => a.tasks.map((t) => t.id)));
    for (const id of this.previous.keys()) if (!live.has(id)) this.previous.delete(id);
    this.view = { time: Date.now(), sample: this.view.sample + 1, apps };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.sampling;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async taskView(task: StatusTaskSource): Promise<TaskView> {
    const base = { id: task.id, slot: task.slot, pid: task.pid ?? null, state: task.state };
    const empty = { scraped: false, connections: null, connectionsTotal: null, packetsIn: null, packetsOut: null, ppsIn: null, ppsOut: null, ppsLimit: null, planPercent: null };
    if (task.healthPort === undefined) return { ...base, ...empty };
    let samples: Map<string, number>;
    try {
      samples = parsePrometheus(await this.scrape(task.healthPort));
    } catch {
      return { ...base, ...empty };
    }
    const at = performance.now();
    const packetsIn = samples.get('tcp_addon_packets_total{direction="in"}') ?? 0;
    const packetsOut = samples.get('tcp_addon_packets_total{direction="out"}') ?? 0;
    const ppsLimit = samples.get("tcp_addon_pps_limit") ?? 0;
    // A task's agent restarted on another port starts its counters again: no rate from the old one.
    const last = this.previous.get(task.id);
    const before = last?.healthPort === task.healthPort ? last : undefined;
    this.previous.set(task.id, { healthPort: task.healthPort, at, packetsIn, packetsOut });
    const seconds = before === undefined ? 0 : (at - before.at) / 1000;
    const rate = (now: number, then: number | undefined) => (then === undefined || seconds <= 0 ? null : round1((now - then) / seconds));
    const ppsIn = rate(packetsIn, before?.packetsIn);
    const ppsOut = rate(packetsOut, before?.packetsOut);
    return {
      ...base,
      scraped: true,
      connections: samples.get("tcp_addon_connections_active") ?? 0,
      connectionsTotal: samples.get("tcp_addon_connections_total") ?? 0,
      packetsIn,
      packetsOut,
      ppsIn,
      ppsOut,
      ppsLimit,
      planPercent: ppsLimit > 0 && ppsIn !== null && ppsOut !== null ? round1((100 * Math.max(ppsIn, ppsOut)) / ppsLimit) : null,
    };
  }

  private scrape(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: HOST, port, path: "/metrics", agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (text: string) => (body += text));
        res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on("error", reject);
      });
      req.setTimeout(this.scrapeTimeoutMs, () => req.destroy(new Error("timeout")));
      req.on("error", reject);
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body), "x-content-type-options": "nosniff" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain; charset=utf-8", "method not allowed\n");
    if (path === "/") return send(200, "text/html; charset=utf-8", pageHtml(this.view));
    if (path === "/status.json") return send(200, "application/json; charset=utf-8", JSON.stringify(this.view));
    send(404, "text/plain; charset=utf-8", "not found\n");
  }
}

/** Prometheus text to `name{labels}` -> value (comments skipped). */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const value = Number(line.slice(space + 1));
    if (space > 0 && Number.isFinite(value)) samples.set(line.slice(0, space), value);
  }
  return samples;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * The page with the last sample in it: the script draws that sample as the page loads (no blank
 * page until the first /status.json answer), then redraws from /status.json every second.
 * `<` is escaped in the embedded JSON, so no value can close the script element.
 */
export function pageHtml(view: StatusView): string {
  const json = JSON.stringify(view).replace(/</g, "\\u003c");
  return PAGE.replace(INITIAL_STATUS, `<script id="initial-status" type="application/json">${json}</script>`);
}

const INITIAL_STATUS = "<!-- initial status -->";

/** The page: plain HTML, CSS and a script that draws the embedded sample, then redraws from /status.json every second. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tcp-addon local</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2430; background: #f7f8fa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #5b6577; margin-bottom: 18px; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; }
  h2 { font-size: 16px; margin: 0 0 2px; }
  .sub { color: #5b6577; margin-bottom: 10px; font-family: ui-monospace, monospace; font-size: 12px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: 5px 8px; border-bottom: 1px solid #eef0f4; white-space: nowrap; }
  th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
  th { color: #5b6577; font-weight: 600; font-size: 12px; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e8ebf0; }
  .state.healthy { background: #d7f5df; color: #11632b; }
  .state.initial, .state.starting { background: #e1ecff; color: #1b4fa8; }
  .state.draining, .state.stopping, .state.unused { background: #fff1d6; color: #8a5a00; }
  .state.unhealthy { background: #ffe0e0; color: #a11a1a; }
  .bar { position: relative; width: 140px; height: 10px; background: #eef0f4; border-radius: 5px; display: inline-block; vertical-align: middle; margin-left: 6px; }
  .bar > i { position: absolute; left: 0; top: 0; bottom: 0; background: #3b82f6; border-radius: 5px; }
  .bar.full > i { background: #dc2626; }
</style>
</head>
<body>
<h1>tcp-addon local</h1>
<div class="meta">updated <span id="updated">never</span> · sample <span id="sample">0</span> · refreshes every second</div>
<div id="apps"></div>
${INITIAL_STATUS}
<script>
"use strict";
const fmt = (v, unit) => v === null || v === undefined ? "–" : String(v) + (unit || "");
function cell(row, text, field, cls) {
  const td = document.createElement("td");
  if (field) td.dataset.field = field;
  if (cls) { const span = document.createElement("span"); span.className = cls; span.textContent = text; td.appendChild(span); }
  else td.textContent = text;
  row.appendChild(td);
  return td;
}
function render(status) {
  document.getElementById("updated").textContent = new Date(status.time).toLocaleTimeString();
  document.getElementById("sample").textContent = String(status.sample);
  const root = document.getElementById("apps");
  root.replaceChildren();
  for (const app of status.apps) {
    const section = document.createElement("section");
    section.dataset.app = app.name;
    const h2 = document.createElement("h2");
    h2.textContent = app.name;
    const sub = document.createElement("div");
    sub.className = "sub";
    const serving = app.tasks.filter((t) => t.state === "healthy").length;
    sub.textContent = app.tcpUrl + "  ·  plan " + app.plan + " (" + app.pps + " pps per task, each way)  ·  " + serving + "/" + app.containers + " tasks healthy";
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const h of ["task", "state", "connections", "packets/s in", "packets/s out", "plan used", "packets in", "packets out", "pid"]) {
      const th = document.createElement("th"); th.textContent = h; head.appendChild(th);
    }
    const body = table.createTBody();
    for (const t of app.tasks) {
      const row = body.insertRow();
      row.dataset.task = t.id;
      cell(row, t.id, "id");
      cell(row, t.state, "state", "state " + t.state);
      cell(row, fmt(t.connections), "connections");
      cell(row, fmt(t.ppsIn), "ppsIn");
      cell(row, fmt(t.ppsOut), "ppsOut");
      const plan = cell(row, fmt(t.planPercent, " %"), "planPercent");
      const bar = document.createElement("span");
      bar.className = "bar" + (t.planPercent >= 90 ? " full" : "");
      const fill = document.createElement("i");
      fill.style.width = Math.min(100, t.planPercent || 0) + "%";
      bar.appendChild(fill);
      plan.appendChild(bar);
      cell(row, fmt(t.packetsIn), "packetsIn");
      cell(row, fmt(t.packetsOut), "packetsOut");
      cell(row, fmt(t.pid), "pid");
    }
    section.append(h2, sub, table);
    root.appendChild(section);
  }
}
async function refresh() {
  try {
    const res = await fetch("/status.json", { cache: "no-store" });
    if (res.ok) render(await res.json());
  } catch (e) {
    document.getElementById("updated").textContent = "local mode is not answering";
  }
  setTimeout(refresh, 1000);
}
render(JSON.parse(document.getElementById("initial-status").textContent));
setTimeout(refresh, 1000);
</script>
</body>
</html>
`;
