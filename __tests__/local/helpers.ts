import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import mqtt, { type MqttClient } from "mqtt";
import type { ResolvedApp } from "../../config";
import { freePort } from "../helpers/net";

/** Shared by the local-mode tests and the rolling-restart measurement. */

export const REPO = path.resolve(__dirname, "../..");
export const EXAMPLE = path.join(REPO, "examples/mqtt");

/** An app as the config resolves it, for tests that run the supervisor without a config file: one container, tcp-1k. */
export function localApp(app: Pick<ResolvedApp, "name" | "command" | "deploy"> & Partial<ResolvedApp>): ResolvedApp {
  return {
    image: `local/${app.name}:dev`,
    workdir: os.tmpdir(),
    plan: { name: "tcp-1k", packetsPerSecond: 1000 },
    containers: 1,
    port: 1,
    cpu: 256,
    memory: 512,
    env: {},
    secrets: {},
    allowedCidrs: ["0.0.0.0/0"],
    loadBalancer: 0,
    ...app,
  };
}

/** Rejects after `ms` with `what` in the message; the timer never keeps the process alive. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export { freePort };

/**
 * `deploy:` overrides for tests that are not about health check timing: the longest health
 * check timeout below the 10 s interval, so that a /healthz answer slowed by a loaded machine
 * has 900 ms at --time-scale 0.1 rather than 500 before it counts as a failed check (two in a
 * row take a target out of the rotation). An agent that stops answering still fails them.
 */
export const PATIENT_HEALTH_CHECKS = Object.freeze({ healthCheckTimeoutSeconds: 9 });

/** A temp folder with a config for the example broker (or another command). */
export function writeConfig(options: {
  port: number;
  containers: number;
  env?: Record<string, string>;
  command?: string;
  plan?: string;
  /** The app's `deploy:` overrides. */
  deploy?: Record<string, number | boolean>;
}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-local-"));
  const app: Record<string, unknown> = {
    image: "local/mqtt:dev",
    plan: options.plan ?? "tcp-1k",
    containers: options.containers,
    port: options.port,
    env: options.env ?? {},
  };
  if (options.deploy !== undefined) app.deploy = options.deploy;
  if (options.command === undefined) app.procfile = path.join(EXAMPLE, "Procfile");
  else app.command = options.command;
  const file = path.join(dir, "tcp-addon.json");
  fs.writeFileSync(file, JSON.stringify({ project: "local", region: "eu-west-1", apps: { mqtt: app } }, null, 2));
  return file;
}

export interface ReplicaLine {
  readonly name: string;
  readonly listen: number;
  readonly pid: number;
  readonly health: number;
}

/** `tcp-addon local` as a child process, with its output parsed as it comes. */
export class LocalRun {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  /** stdout and stderr lines together, in the order they were read. */
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = process.env) {
    // New targets are checked at once unless a test says otherwise (the modelled first-check delay
    // is aws-health-checks.test.ts's subject, and would add seconds to every start and deploy here).
    const firstCheck = args.includes("--first-check-delay") ? [] : ["--first-check-delay", "0"];
    this.child = spawn(process.execPath, ["--import", "tsx", path.join(REPO, "runtime/local/main.ts"), ...firstCheck, ...args], {
      cwd: REPO,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    readline.createInterface({ input: this.child.stdout! }).on("line", (line) => this.onLine(this.stdout, line));
    readline.createInterface({ input: this.child.stderr! }).on("line", (line) => this.onLine(this.stderr, line));
  }

  /**
   * Resolves with the first line (stdout or stderr) that matches, among the lines read
   * from index `after` of `lines` on, including those still to come.
   */
  waitForLine(pattern: RegExp, ms = 20_000, after = 0): Promise<string> {
    const test = (line: string) => pattern.test(line);
    const seen = this.lines.slice(after).find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return within(new Promise<string>((resolve) => this.waiters.push({ test, resolve })), ms, `a line matching ${pattern}\n${this.tail()}`);
  }

  /**
   * Waits for the app's ready line on stdout and for each of its `containers` replicas'
   * "ready on" lines on stderr (the two pipes are read independently), then returns TCP_URL.
   */
  async ready(containers = 1, ms = 45_000): Promise<string> {
    for (let i = 1; i <= containers; i += 1) await this.waitForLine(new RegExp(`\\.${i}#\\d+ \\| ready on`), ms);
    const line = await within(
      Promise.race([
        this.waitForLine(/TCP_URL=tcp:\/\/127\.0\.0\.1:\d+/, ms),
        this.exited.then(({ code }) => Promise.reject(new Error(`local mode exited with ${code} before ready\n${this.tail()}`))),
      ]),
      ms,
      "the ready line",
    );
    return /TCP_URL=(\S+)/.exec(line)![1];
  }

  /** The replicas that logged "ready on", latest per name. */
  replicas(): Map<string, ReplicaLine> {
    const found = new Map<string, ReplicaLine>();
    for (const line of this.stderr) {
      const m = /(\S+\.\d+)#\d+ \| ready on 127\.0\.0\.1:(\d+) \(pid (\d+), health port (\d+)\)/.exec(line);
      if (m) found.set(m[1], { name: m[1], listen: Number(m[2]), pid: Number(m[3]), health: Number(m[4]) });
    }
    return found;
  }

  /** Every process below this one, from /proc. */
  descendants(): number[] {
    return descendantsOf(this.child.pid!);
  }

  /** SIGTERM, then SIGKILL to whatever is left if it does not exit within `ms`. */
  async stop(ms = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const leftovers = this.descendants();
    this.child.kill("SIGTERM");
    try {
      await within(this.exited, ms, "local mode to exit");
    } finally {
      for (const pid of [this.child.pid!, ...leftovers]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone, as it should be
        }
      }
    }
  }

  tail(lines = 15): string {
    return [...this.stdout.map((l) => `out: ${l}`), ...this.stderr.map((l) => `err: ${l}`)].slice(-lines).join("\n");
  }

  private onLine(into: string[], line: string): void {
    into.push(line);
    this.lines.push(line);
    for (const waiter of [...this.waiters]) {
      if (waiter.test(line)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }
}

/** Parent pid of every process, from /proc/<pid>/stat. */
function parentMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // the command name may hold spaces and parentheses: the fields start after the last ")"
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  return children;
}

export function descendantsOf(pid: number): number[] {
  const children = parentMap();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Running processes whose command line contains `text`. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text) && isRunning(Number(entry))) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Whether a process still runs (a zombie, already dead and waiting to be reaped, does not). */
export function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** ESTABLISHED TCP connections whose local end is 127.0.0.1:<port>, from /proc/net/tcp. */
export function establishedTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return fs
    .readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[1] === `0100007F:${hexPort}` && f[3] === "01").length;
}

/** The lines of an `--events` file, parsed. */
export function readEvents(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Each task's states in order, from an `--events` file. */
export function statesByTask(file: string): Map<string, string[]> {
  const byTask = new Map<string, string[]>();
  for (const e of readEvents(file)) {
    if (typeof e.state !== "string") continue;
    const task = String(e.task);
    byTask.set(task, [...(byTask.get(task) ?? []), e.state]);
  }
  return byTask;
}

/** A connected mqtt.js client (no reconnects unless asked). */
export async function connectMqtt(url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        client.once("connect", () => resolve());
        client.once("error", reject);
        client.once("close", () => reject(new Error(`connection to ${url} closed before CONNACK`)));
      }),
      10_000,
      `an MQTT connection to ${url}`,
    );
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

/** The next message on `topic` that a client receives. */
export function nextMessage(client: MqttClient, topic: string, ms = 10_000): Promise<string> {
  return within(
    new Promise<string>((resolve) => {
      const onMessage = (t: string, payload: Buffer) => {
        if (t !== topic) return;
        client.off("message", onMessage);
        resolve(payload.toString());
      };
      client.on("message", onMessage);
    }),
    ms,
    `a message on ${topic}`,
  );
}

/** A throwaway redis-server on a free loopback port. */
export class RedisServer {
  readonly port: number;
  private readonly child: ChildProcess;
  private constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.child = child;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const port = await freePort();
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines = readline.createInterface({ input: child.stdout! });
    await within(
      new Promise<void>((resolve, reject) => {
        lines.on("line", (line) => {
          if (/ready to accept connections/i.test(line)) resolve();
        });
        child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
        child.once("error", reject);
      }),
      10_000,
      "redis-server to start",
    );
    return new RedisServer(port, child);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.kill("SIGKILL");
    await exited;
  }
}
