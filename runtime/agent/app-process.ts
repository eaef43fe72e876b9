import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { constants as osConstants } from "node:os";

/** The kernel's "this task is exiting" flag (include/linux/sched.h), shown in /proc/<pid>/stat. */
const PF_EXITING = 0x4;

/** Whether this system has a /proc to ask (a missing /proc/<pid> then means the process is gone). */
function existsProc(): boolean {
  try {
    readFileSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
}

/** How a child process ended, as a shell would report it. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal === null ? undefined : osConstants.signals[signal];
  return number === undefined ? 1 : 128 + number;
}

/**
 * The app in wrapper mode: spawned directly (no shell) with stdio inherited, so its logs
 * go where the agent's go. `exited` resolves with its exit code (128 + signal number if
 * a signal killed it; 127 if it could not be started).
 */
export class AppProcess {
  readonly exited: Promise<number>;
  readonly pid: number | undefined;
  private readonly child: ChildProcess;
  private running = true;
  private spawnError: NodeJS.ErrnoException | null = null;

  constructor(command: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command[0], command.slice(1), { env, stdio: "inherit" });
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => {
      // "on", not "once": a failed kill also reports here, and must not go unhandled.
      this.child.on("error", (error: NodeJS.ErrnoException) => {
        // Only a failed spawn reports here without an "exit" to follow.
        if (this.child.pid !== undefined || !this.running) return;
        this.spawnError = error;
        this.running = false;
        resolve(127);
      });
      this.child.once("exit", (code, signal) => {
        this.running = false;
        resolve(exitCodeOf(code, signal));
      });
    });
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Why the app could not be started, if it could not. */
  get startError(): NodeJS.ErrnoException | null {
    return this.spawnError;
  }

  /**
   * Whether the app is exiting or gone. Linux closes a dying process's sockets (the app's
   * connections end with a FIN) before its parent hears of the exit, so at that moment only
   * /proc tells: the process is a zombie, or already reaped, or its main thread carries
   * PF_EXITING (set before its files are closed). Where /proc cannot be read, false.
   */
  isExiting(): boolean {
    if (!this.running || this.pid === undefined) return true;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${this.pid}/stat`, "latin1");
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ENOENT" && existsProc();
    }
    // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold anything but ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    const flags = Number(fields[6]);
    return state === "Z" || state === "X" || (flags & PF_EXITING) !== 0;
  }

  /** Sends a signal if the app still runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }
}

/** A port that was free on `host` a moment ago (the OS picks it). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true once something accepts a TCP connection on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
    socket.once("timeout", () => finish(false));
  });
}

/**
 * Polls host:port with connects (10 ms apart at first, backing off to 250 ms) until one
 * is accepted (true), `timeoutMs` passes or `stop()` turns true (false).
 */
export async function waitUntilAccepting(host: string, port: number, timeoutMs: number, stop: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  while (!stop()) {
    if (await accepts(host, port)) return true;
    if (stop() || Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))));
    delay = Math.min(delay * 2, 250);
  }
  return false;
}
