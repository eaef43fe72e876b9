import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import * as readline from "node:readline";
import { AGENT_ENV } from "../agent/contract";
import { stopWithGrace } from "../agent/processes";
import type { TargetAddress } from "./target-group";
import { LocalError } from "./errors";

export interface ReplicaOptions {
  /** The app name and the slot, e.g. "mqtt.1", for messages about the slot. */
  readonly name: string;
  /** The task: unique, e.g. "mqtt.1#2"; the balancer's target and every log line's prefix. */
  readonly id: string;
  /** The agent bundle (dist/tcp-addon-agent.js). */
  readonly agentPath: string;
  /** The app's `tcp` command, run by /bin/sh. */
  readonly command: string;
  /** Folder the command runs in. */
  readonly cwd: string;
  /** The whole environment of the agent and the app (TCP_URL included). */
  readonly env: NodeJS.ProcessEnv;
  /** Packets per second per direction (the plan's). */
  readonly packetsPerSecond: number;
  /** Token-bucket size in packets. @default the agent's own default */
  readonly burst?: number;
  /** Real seconds the agent keeps serving after SIGTERM (`--drain-seconds`). */
  readonly drainSeconds: number;
  /** Real milliseconds from SIGTERM to SIGKILL (the container's stopTimeout). */
  readonly stopTimeoutMs: number;
  /** Human-readable log lines (agent logs, app output, lifecycle). */
  readonly log: (line: string) => void;
}

export interface ReplicaExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Whether the replica had become ready before it exited. */
  readonly wasReady: boolean;
}

type State = "created" | "starting" | "ready" | "stopping" | "exited";

/** The lifeline is the agent's fd 3, a pipe whose other end only local mode holds. */
const LIFELINE_FD = 3;

/**
 * One task of an app: the agent in wrapper mode around the app's `tcp` command.
 *
 * Ready means the agent printed its ready line: its ports are known and the app accepts
 * connections; the target group's health checks decide the rest. `exit` comes once,
 * whatever the cause.
 *
 * The agent runs in its own process group, so a terminal's Ctrl-C reaches only local
 * mode, which stops replicas in order; and whatever is left of a replica when its agent
 * exits (an app that ignored SIGTERM, its children) is killed with the group. Its fd 3 is
 * a lifeline: when local mode dies, even by SIGKILL, the agent reads end-of-file there.
 */
export class Replica extends EventEmitter {
  readonly name: string;
  readonly id: string;
  private readonly options: ReplicaOptions;
  private child?: ChildProcess;
  private state: State = "created";
  private listenPort?: number;
  private healthPort?: number;
  private lastStderr = "";
  private lastStdout = "";
  private lastAgentProblem = "";
  private becameReady = false;
  private exitInfo?: ReplicaExit;
  private readonly exited: Promise<ReplicaExit>;
  private resolveExited!: (exit: ReplicaExit) => void;

  constructor(options: ReplicaOptions) {
    super();
    this.options = options;
    this.name = options.name;
    this.id = options.id;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  /** The agent's process id (also its process group id), once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Where the target group reaches it, once ready. */
  get target(): TargetAddress | undefined {
    if (this.listenPort === undefined || this.healthPort === undefined) return undefined;
    return { id: this.id, host: "127.0.0.1", port: this.listenPort, healthPort: this.healthPort };
  }

  get isReady(): boolean {
    return this.state === "ready";
  }

  /**
   * What best explains a failure: the last line on stderr (the app's, which shares the
   * agent's), else the agent's last warning or error, else the app's last line on stdout.
   */
  get lastLine(): string {
    return this.lastStderr || this.lastAgentProblem || this.lastStdout;
  }

  /** The agent's ports, once it printed its ready line. */
  get ports(): { readonly listen?: number; readonly health?: number } {
    return { listen: this.listenPort, health: this.healthPort };
  }

  /**
   * Starts the agent and resolves once it printed its ready line. Rejects with
   * TCP_ADDON_LOCAL_EXITED_BEFORE_READY or TCP_ADDON_LOCAL_STOPPED.
   */
  start(): Promise<void> {
    if (this.state !== "created") throw new Error(`${this.name} was already started`);
    this.state = "starting";
    const o = this.options;
    const args = [
      o.agentPath,
      "--host", "127.0.0.1",
      "--listen", "0",
      "--health-port", "0",
      "--pps", String(o.packetsPerSecond),
      ...(o.burst === undefined ? [] : ["--burst", String(o.burst)]),
      "--drain-seconds", String(o.drainSeconds),
      "--", "/bin/sh", "-c", `exec ${o.command}`,
    ];
    const env = { ...o.env, [AGENT_ENV.lifelineFd]: String(LIFELINE_FD) };
    const child = spawn(process.execPath, args, { cwd: o.cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe", "pipe"] });
    this.child = child;
    // Local mode's end of the lifeline: never written, closed by the kernel when local mode dies.
    const lifeline = child.stdio[LIFELINE_FD] as import("node:net").Socket | null;
    lifeline?.on("error", () => undefined);
    lifeline?.unref?.();

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };

      readline.createInterface({ input: child.stdout! }).on("line", (line) => this.onStdout(line, settle));
      readline.createInterface({ input: child.stderr! }).on("line", (line) => this.onStderr(line));
      child.once("error", (err) => {
        // Only a failed spawn (cwd gone, no node) reports here without an exit to follow.
        if (child.pid !== undefined) return;
        this.keepLastStderr(err.message);
        this.onExit(null, null);
        settle(new LocalError("TCP_ADDON_LOCAL_EXITED_BEFORE_READY", `${this.name} could not start: ${err.message}`));
      });
      child.once("exit", (code, signal) => {
        const wasStarting = this.state === "starting";
        // Let the last lines of output arrive before the exit is reported: "close" comes
        // once the pipes are drained, unless something left in the group still holds them.
        const streamsClosed = new Promise<void>((resolve) => {
          child.once("close", () => resolve());
          setTimeout(resolve, 250).unref();
        });
        void streamsClosed.then(() => {
          this.onExit(code, signal);
          if (wasStarting) {
            const how = signal === null ? `with code ${code}` : `on ${signal}`;
            settle(new LocalError("TCP_ADDON_LOCAL_EXITED_BEFORE_READY", `${this.name} exited ${how} before it was ready${this.lastOutputSuffix()}`));
          } else {
            settle(new LocalError("TCP_ADDON_LOCAL_STOPPED", `${this.name} was stopped before it was ready`));
          }
        });
      });
    });
  }

  /**
   * SIGTERM to the agent, which drains and stops the app; SIGKILL to the whole group if
   * it is not gone after the stopTimeout. Resolves once it has exited.
   */
  async stop(): Promise<ReplicaExit> {
    if (this.exitInfo) return this.exitInfo;
    if (this.child?.pid === undefined) {
      this.onExit(null, null);
      return this.exited;
    }
    this.state = "stopping";
    return stopWithGrace(this.exited, () => this.signal("SIGTERM", false), () => this.kill(), this.options.stopTimeoutMs);
  }

  /** SIGKILL to the agent's whole process group. */
  kill(): void {
    if (this.state !== "exited") this.state = "stopping";
    this.signal("SIGKILL", true);
  }

  /** Resolves when the replica has exited (for any reason). */
  whenExited(): Promise<ReplicaExit> {
    return this.exited;
  }

  private signal(signal: NodeJS.Signals, group: boolean): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(group ? -pid : pid, signal);
    } catch {
      // already gone
    }
  }

  private onStdout(line: string, settle: (err?: Error) => void): void {
    const record = parseJson(line);
    if (record === undefined) {
      this.options.log(`${this.id} | ${line}`);
      if (line.trim() !== "") this.lastStdout = line.trim();
      return;
    }
    if (record.event === "ready" && this.state === "starting") {
      const listen = Number(record.listen);
      const health = Number(record.healthPort);
      if (!Number.isInteger(listen) || !Number.isInteger(health)) {
        this.options.log(`${this.id} | agent ready line without listen/healthPort: ${line}`);
        return;
      }
      this.listenPort = listen;
      this.healthPort = health;
      this.state = "ready";
      this.becameReady = true;
      settle();
      return;
    }
    this.options.log(`${this.id} | agent ${formatRecord(record)}`);
    if (record.level === "error" || record.level === "warn") this.lastAgentProblem = `agent: ${formatRecord(record)}`;
  }

  private onStderr(line: string): void {
    this.options.log(`${this.id} | ${line}`);
    this.keepLastStderr(line);
  }

  private keepLastStderr(line: string): void {
    const trimmed = line.trim();
    if (trimmed !== "") this.lastStderr = trimmed;
  }

  private lastOutputSuffix(): string {
    return this.lastLine === "" ? "" : `; last output: ${this.lastLine}`;
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitInfo) return;
    this.state = "exited";
    // Whatever the agent left behind in its group (the app, the app's children) goes too.
    this.signal("SIGKILL", true);
    this.exitInfo = { code, signal, wasReady: this.becameReady };
    this.resolveExited(this.exitInfo);
    this.emit("exit", this.exitInfo);
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `event key=value ...` from an agent log record, without its time stamp. */
function formatRecord(record: Record<string, unknown>): string {
  const { time: _time, level, event, ...fields } = record;
  const details = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  const prefix = level === "info" || level === undefined ? "" : `${String(level).toUpperCase()} `;
  return `${prefix}${String(event ?? "")}${details.length > 0 ? " " + details.join(" ") : ""}`;
}
