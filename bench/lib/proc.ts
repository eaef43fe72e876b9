import { ChildProcess, execFileSync, spawn, SpawnOptions } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as readline from "node:readline";
import { freePort as freePortOn } from "../../runtime/agent/app-process";
import { TcpAddonError } from "../../runtime/agent/errors";

/** Raised when a peer process fails to start or a wait runs out of time. */
export class BenchError extends TcpAddonError {
  declare readonly code: "TCP_ADDON_BENCH_PEER_FAILED" | "TCP_ADDON_BENCH_TIMEOUT" | "TCP_ADDON_BENCH_TOOL_MISSING" | "TCP_ADDON_BENCH_BAD_ARGS";

  constructor(code: "PEER_FAILED" | "TIMEOUT" | "TOOL_MISSING" | "BAD_ARGS", message: string) {
    super(`TCP_ADDON_BENCH_${code}`, message);
  }
}

export const HOST = "127.0.0.1";

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Monotonic time in seconds. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port that was free a moment ago, for peers that cannot report the port they bound. */
export function freePort(): Promise<number> {
  return freePortOn(HOST);
}

/** Resolves once something accepts TCP connections on the port; bounded by `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000, alive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (alive && !alive()) throw new BenchError("PEER_FAILED", `process exited before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, HOST);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await delay(Math.min(200, 10 * (attempt + 1)));
  }
  throw new BenchError("TIMEOUT", `nothing listens on ${HOST}:${port} after ${timeoutMs} ms`);
}

/** Every peer still running, so that an interrupted bench leaves no process behind. */
const live = new Set<Peer>();

/** Kills every peer the bench started that is still running (by pid). */
export function killAllPeers(): void {
  for (const peer of live) {
    try {
      peer.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** A child process that the bench owns: its output tail is kept for error messages. */
export class Peer {
  readonly child: ChildProcess;
  private tail = "";
  private exited = false;
  readonly exit: Promise<number | null>;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ) {
    this.child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString("utf8")).slice(-2000);
    };
    this.child.stderr?.on("data", keep);
    live.add(this);
    this.exit = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exited = true;
        live.delete(this);
        resolve(code ?? (signal ? 128 : null));
      });
      this.child.once("error", (err) => {
        this.exited = true;
        live.delete(this);
        this.tail += err.message;
        resolve(null);
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new BenchError("PEER_FAILED", `${this.name} did not start: ${this.tail}`);
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** The last lines the process wrote to stderr, for error messages. */
  get stderrTail(): string {
    return this.tail.trim().split("\n").slice(-3).join(" | ");
  }

  /** SIGTERM, then SIGKILL after `graceMs`; safe to call twice. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exit;
    clearTimeout(timer);
  }
}

/** Resident set size of one process in bytes (VmRSS), or NaN when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Proportional set size in bytes (Pss in /proc/<pid>/smaps_rollup): resident memory with
 * each shared page divided among the processes that map it, so a tree's sum counts the
 * Node binary's pages once. NaN when the process is gone.
 */
export function pssBytes(pid: number): number {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const match = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLK_TCK;
}

/**
 * CPU time of a process from the scheduler's own accounting, summed over its threads
 * (`/proc/<pid>/task/<tid>/schedstat`, nanoseconds on a CPU: exact, where `/proc/<pid>/stat`
 * counts whole 10 ms ticks; threads that ended are not counted), and the wake-ups of its
 * main thread, the event loop: its voluntary context switches (each time it went to sleep
 * in epoll_wait, to be woken by a socket or a timer).
 */
export function schedstat(pid: number): { cpuSeconds: number; mainThreadWakes: number } {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended while we looked
    }
  }
  const status = fs.readFileSync(`/proc/${pid}/task/${pid}/status`, "utf8");
  const wakes = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return { cpuSeconds: ns / 1e9, mainThreadWakes: wakes };
}

/** The pid and every descendant of it, read from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Runs a command to completion and returns its output; throws with the stderr tail on failure. */
export function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], env: options.env ?? process.env });
}

/** Whether an executable is on the PATH. */
export function which(command: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a peer's stdout as JSON lines; `next(event)` resolves with the first line whose
 * `event` field matches, and rejects if the peer exits first or `timeoutMs` passes.
 */
export function jsonEvents(peer: Peer): (event: string, timeoutMs?: number) => Promise<Record<string, unknown>> {
  const pending: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  const wake = () => listeners.forEach((l) => l());
  // The child's exit can be reported before its last lines are read: it is over only
  // when it has exited and its stdout has ended.
  let ended = false;
  const lines = readline.createInterface({ input: peer.child.stdout! });
  lines.on("line", (line) => {
    try {
      pending.push(JSON.parse(line));
    } catch {
      return;
    }
    wake();
  });
  lines.once("close", () => {
    ended = true;
    wake();
  });
  void peer.exit.then(wake);
  return (event, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const index = pending.findIndex((p) => p.event === event);
        if (index >= 0) {
          done();
          resolve(pending.splice(index, 1)[0]);
        } else if (!peer.alive && ended) {
          done();
          reject(new BenchError("PEER_FAILED", `${peer.name} exited before "${event}": ${peer.stderrTail}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new BenchError("TIMEOUT", `${peer.name} sent no "${event}" in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
}

/** The open-files hard limit of processes started from here. */
export function hardNofile(): number {
  try {
    return Number(execFileSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

/**
 * `sh` arguments that raise the open-files limit to the hard limit, then exec the
 * command that follows (so the pid stays the command's own).
 */
export const RAISE_NOFILE = ["-c", 'ulimit -n "$(ulimit -Hn)"; exec "$@"', "sh"];

/** System calls per second of a process over a span, all threads. */
export interface SyscallRates {
  readonly syscalls: number;
  /** epoll_ctl: how often the event loop changed what it watches (a socket paused or resumed). */
  readonly epollCtl: number;
}

/**
 * Counts a process's system calls for `seconds` with `perf stat` on the kernel's syscall
 * tracepoints (counted in the kernel, no tracing: unlike strace it does not stop the process
 * on each call). Resolves undefined when perf is missing or may not read the tracepoints
 * (not root, or perf_event_paranoid), so the rows say "unavailable" instead.
 */
export function countSyscalls(pid: number, seconds: number): Promise<SyscallRates | undefined> {
  if (!which("perf")) return Promise.resolve(undefined);
  const events = ["raw_syscalls:sys_enter", "syscalls:sys_enter_epoll_ctl"];
  return new Promise((resolve) => {
    const child = spawn("perf", ["stat", "-x", ",", "-e", events.join(","), "-p", String(pid), "--", "sleep", String(seconds)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let out = "";
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.once("error", () => resolve(undefined));
    child.once("close", (code) => {
      // CSV lines: count,unit,event,...; "<not counted>" when the process made no call at all.
      // (perf's "running time" column is the time the task was on a CPU, not the span.)
      const rate = (event: string): number => {
        const count = out.split("\n").find((line) => line.split(",")[2] === event)?.split(",")[0];
        return count === "<not counted>" ? 0 : Number(count ?? Number.NaN) / seconds;
      };
      const syscalls = rate(events[0]);
      resolve(code === 0 && Number.isFinite(syscalls) ? { syscalls, epollCtl: rate(events[1]) } : undefined);
    });
  });
}
