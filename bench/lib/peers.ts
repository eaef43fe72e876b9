import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { BenchError, freePort, hardNofile, HOST, jsonEvents, Peer, RAISE_NOFILE, run, waitForPort, which } from "./proc";
import { workerScript } from "./workers";

/** A TCP forwarder under test: clients connect to `port`, bytes reach the upstream. */
export interface Forwarder {
  readonly name: string;
  readonly port: number;
  /** The forwarding process, when there is one (not for a direct connection). */
  readonly pid?: number;
  stop(): Promise<void>;
}

export interface ToolReport {
  readonly haproxy?: string;
  readonly socat?: string;
  readonly iperf3?: string;
  /** perf, which counts system calls in the plans case. */
  readonly perf?: string;
  /** What the bench installed itself. */
  readonly installed: readonly string[];
}

/** The tools the bench uses, and the Debian package of each. */
const TOOL_PACKAGES: Readonly<Record<string, string>> = { haproxy: "haproxy", socat: "socat", iperf3: "iperf3", perf: "linux-perf" };
const OPTIONAL_TOOLS = new Set(["iperf3", "perf"]);

/**
 * Finds HAProxy and socat (iperf3 and perf optional), installing the Debian packages that
 * are missing when running as root. A peer that stays missing is reported, and its rows say
 * so; the other cases still run.
 */
export function ensureTools(log: (line: string) => void): ToolReport {
  const installed: string[] = [];
  const missing = Object.keys(TOOL_PACKAGES).filter((bin) => !which(bin));
  if (missing.length > 0) {
    if (process.getuid?.() === 0 && which("apt-get")) {
      const packages = missing.map((bin) => TOOL_PACKAGES[bin]);
      log(`installing ${packages.join(", ")} with apt-get (Debian packages)`);
      const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
      const install = () => run("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { env });
      try {
        try {
          install();
        } catch {
          run("apt-get", ["update"], { env });
          install();
        }
        installed.push(...missing);
      } catch (err) {
        log(`apt-get failed: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    for (const bin of missing.filter((b) => !which(b))) {
      log(`${bin} not found${OPTIONAL_TOOLS.has(bin) ? " (optional)" : ""}; install it with: apt-get install -y ${TOOL_PACKAGES[bin]}`);
    }
  }
  const version = (bin: string, args: string[], pattern: RegExp): string | undefined => {
    if (!which(bin)) return undefined;
    try {
      const out = run(bin, args);
      return pattern.exec(out)?.[1] ?? out.split("\n")[0];
    } catch (err) {
      const out = String((err as { stdout?: string }).stdout ?? "");
      return pattern.exec(out)?.[1];
    }
  };
  return {
    haproxy: version("haproxy", ["-v"], /version (\S+)/),
    socat: version("socat", ["-V"], /socat version (\S+)/),
    iperf3: version("iperf3", ["--version"], /iperf (\S+)/),
    perf: version("perf", ["--version"], /perf version (\S+)/),
    installed,
  };
}

function requireTool(bin: string): void {
  if (!which(bin)) throw new BenchError("TOOL_MISSING", `${bin} not found; install it with: apt-get install -y ${bin}`);
}

/** A "forwarder" that is no forwarder at all: the baseline. */
export function direct(upstreamPort: number): Forwarder {
  return { name: "direct", port: upstreamPort, stop: async () => undefined };
}

/** HAProxy in TCP mode with one thread, the same footing as the single Node process of the agent. */
export async function startHaproxy(upstreamPort: number, threads = 1): Promise<Forwarder> {
  requireTool("haproxy");
  // Two sockets per proxied connection, within the open-files hard limit.
  const maxconn = Math.floor((hardNofile() - 100) / 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-bench-haproxy-"));
  const port = await freePort();
  const cfg = [
    "global",
    `  nbthread ${threads}`,
    `  maxconn ${maxconn}`,
    "defaults",
    "  mode tcp",
    `  maxconn ${maxconn}`,
    "  timeout connect 5s",
    "  timeout client 1h",
    "  timeout server 1h",
    "frontend bench",
    `  bind ${HOST}:${port}`,
    "  default_backend upstream",
    "backend upstream",
    `  server app ${HOST}:${upstreamPort}`,
    "",
  ].join("\n");
  const file = path.join(dir, "haproxy.cfg");
  fs.writeFileSync(file, cfg);
  const peer = new Peer("haproxy", "sh", [...RAISE_NOFILE, "haproxy", "-db", "-f", file]);
  try {
    await waitForPort(port, 10_000, () => peer.alive);
  } catch (err) {
    await peer.stop();
    throw new BenchError("PEER_FAILED", `haproxy did not start: ${peer.stderrTail || (err as Error).message}`);
  }
  return {
    name: "haproxy",
    port,
    // sh execs haproxy, so the pid is HAProxy's own.
    pid: peer.pid,
    stop: async () => {
      await peer.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** socat in fork mode: one process per connection, as socat is normally used as a relay. */
export async function startSocat(upstreamPort: number): Promise<Forwarder> {
  requireTool("socat");
  const port = await freePort();
  const peer = new Peer("socat", "socat", [
    `TCP-LISTEN:${port},bind=${HOST},reuseaddr,fork,backlog=1024`,
    `TCP:${HOST}:${upstreamPort}`,
  ]);
  try {
    await waitForPort(port, 10_000, () => peer.alive);
  } catch (err) {
    await peer.stop();
    throw new BenchError("PEER_FAILED", `socat did not start: ${peer.stderrTail || (err as Error).message}`);
  }
  return { name: "socat", port, pid: peer.pid, stop: () => peer.stop() };
}

/**
 * One of the bench's minimal Node forwarders (bench/lib/reference-worker.ts): `pipe`, a plain
 * Node pipe with no limit, or `one-timer`, the same held to `pps` per direction by one shared
 * 125/s timer.
 */
export async function startReference(kind: "pipe" | "one-timer", upstreamPort: number, pps = 0): Promise<Forwarder> {
  const script = await workerScript("reference-worker");
  const args = kind === "pipe" ? [script, kind, String(upstreamPort)] : [script, kind, String(upstreamPort), String(pps)];
  const name = kind === "pipe" ? "node pipe" : "one-timer reference";
  const peer = new Peer(name, process.execPath, args);
  const next = jsonEvents(peer);
  try {
    const ready = await next("ready", 10_000);
    return { name, port: ready.listen as number, pid: peer.pid, stop: () => peer.stop() };
  } catch (err) {
    await peer.stop();
    throw err;
  }
}

/** The agent as a running process with its health/metrics port. */
export interface AgentProcess extends Forwarder {
  readonly pid: number;
  readonly healthPort: number;
  metrics(): Promise<Map<string, number>>;
}

export interface AgentOptions {
  readonly bundle: string;
  readonly upstreamPort: number;
  /** Packets per second per direction; 0 = unlimited. */
  readonly pps: number;
  readonly burst?: number;
  readonly name?: string;
  /** Extra environment (TCP_ADDON_EMF and friends). @default the bench's own */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The agent's arguments in sidecar mode on the bench's loopback host, with ports the kernel picks.
 * Connections are closed before the agent is stopped, so nothing needs a long drain.
 */
export function agentSidecarArgs(bundle: string, pps: number, upstreamPort: number): string[] {
  return [bundle, "--host", HOST, "--listen", "0", "--health-port", "0", "--drain-seconds", "1", "--pps", String(pps), "--upstream", `${HOST}:${upstreamPort}`];
}

/** Starts the bundled agent in sidecar mode and waits for its `ready` line. */
export async function startAgent(options: AgentOptions): Promise<AgentProcess> {
  const args = [...RAISE_NOFILE, process.execPath, ...agentSidecarArgs(options.bundle, options.pps, options.upstreamPort)];
  if (options.burst !== undefined) args.push("--burst", String(options.burst));
  const peer = new Peer(options.name ?? "agent", "sh", args, options.env === undefined ? {} : { env: { ...process.env, ...options.env } });
  const next = jsonEvents(peer);
  let ready: Record<string, unknown>;
  try {
    ready = await next("ready", 10_000);
  } catch (err) {
    await peer.stop();
    throw err;
  }
  if (typeof ready.listen !== "number" || typeof ready.healthPort !== "number") {
    await peer.stop();
    throw new BenchError("PEER_FAILED", `agent ready line lacks listen/healthPort: ${JSON.stringify(ready)}`);
  }
  const { listen, healthPort } = ready as { listen: number; healthPort: number };
  return {
    name: options.name ?? "agent",
    port: listen,
    pid: peer.pid,
    healthPort,
    metrics: () => fetchMetrics(healthPort),
    stop: () => peer.stop(),
  };
}

/** Reads `/metrics` and returns each sample keyed by `name{labels}` as written. */
export function fetchMetrics(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path: "/metrics", timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(parsePrometheus(body)));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new BenchError("TIMEOUT", "GET /metrics timed out")));
    req.on("error", reject);
  });
}

/** Prometheus text format, samples only: `name{a="b"} 12` -> key `name{a="b"}`. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) out.set(match[1].replace(/\s+/g, ""), Number(match[2]));
  }
  return out;
}

/** The value of a metric whose key starts with `name` and contains every label given. */
export function metric(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = Number.NaN;
  for (const [key, value] of samples) {
    const bare = key.split("{")[0];
    if (bare !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) continue;
    total = Number.isNaN(total) ? value : total + value;
  }
  return total;
}

/** A forwarder that could not be started, and why; it shows as unavailable in the report. */
export interface SkippedForwarder {
  readonly forwarder: string;
  readonly reason: string;
}

/**
 * Starts every forwarder in front of `upstreamPort`: direct, HAProxy, socat, then `extra`
 * (the agent in its configurations). One that fails to start is skipped with its reason.
 */
export async function startForwarders(
  upstreamPort: number,
  extra: readonly [string, () => Promise<Forwarder>][],
  agentMissing: boolean,
): Promise<{ forwarders: Forwarder[]; skipped: SkippedForwarder[] }> {
  const forwarders: Forwarder[] = [direct(upstreamPort)];
  const skipped: SkippedForwarder[] = agentMissing ? [{ forwarder: "agent", reason: "agent bundle not available" }] : [];
  const starters: [string, () => Promise<Forwarder>][] = [
    ["haproxy", () => startHaproxy(upstreamPort, 1)],
    ["socat", () => startSocat(upstreamPort)],
    ...extra,
  ];
  for (const [name, start] of starters) {
    try {
      forwarders.push(await start());
    } catch (err) {
      skipped.push({ forwarder: name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { forwarders, skipped };
}
