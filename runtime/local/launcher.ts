import * as fs from "node:fs";
import * as tty from "node:tty";

/**
 * Who started local mode, and whether a SIGHUP is a terminal hangup or a deploy request.
 *
 * `npm run local` execs local mode (`exec node bin/tcp-addon.js local`), so its parent is npm;
 * `npx tcp-addon local` runs it under `sh -c`, so its parent is that shell and npm the
 * shell's parent. npm passes SIGINT and SIGTERM on to its child and nothing else
 * (@npmcli/run-script's signal-manager.js forwards `['SIGINT', 'SIGTERM']`): any other
 * signal that ends npm (SIGHUP when its terminal closes, SIGKILL) leaves local mode running
 * under pid 1. Node has no PR_SET_PDEATHSIG, so local mode polls its parent (`process.ppid`)
 * and, under npx, the shell's parent from /proc. Linux only; elsewhere nothing is watched.
 *
 * A SIGHUP is a hangup, not a deploy, when within `HANGUP_WINDOW_MS` the npm process that
 * started local mode is gone (a SIGHUP to the whole process group, or a closed terminal,
 * reaches npm too, and npm dies of it) or the controlling terminal that local mode started
 * with is gone (the kernel detaches a hung-up terminal from its session).
 */

/** How long after a SIGHUP local mode looks for npm's or the terminal's end before it deploys. */
export const HANGUP_WINDOW_MS = 1_000;

/** How often the launcher is polled. */
const POLL_MS = 100;

/** The processes that started local mode: npm, or npx's shell and its npm. */
export interface Launcher {
  /** Local mode's parent: npm, or the `sh -c` that npx started. */
  readonly parent: number;
  /** npm, when the parent is npx's shell. */
  readonly npm?: number;
}

/** npm (or npx's shell and npm) when one started this process, else undefined. */
export function findLauncher(): Launcher | undefined {
  const parent = process.ppid;
  const command = cmdline(parent);
  if (isNpm(command)) return { parent };
  if (!/^(\S*\/)?(sh|dash|bash) -c /.test(command)) return undefined;
  const npm = parentOf(parent);
  return npm !== undefined && isNpm(cmdline(npm)) ? { parent, npm } : undefined;
}

/** Whether every process of the launcher still runs and is still this process's ancestor. */
export function launcherAlive(launcher: Launcher): boolean {
  if (process.ppid !== launcher.parent) return false;
  return launcher.npm === undefined || parentOf(launcher.parent) === launcher.npm;
}

/** Calls `onGone` once when the launcher ends, whatever ended it. */
export function watchLauncher(launcher: Launcher, onGone: () => void): NodeJS.Timeout {
  const timer = setInterval(() => {
    if (launcherAlive(launcher)) return;
    clearInterval(timer);
    onGone();
  }, POLL_MS);
  timer.unref();
  return timer;
}

/** The controlling terminal's device number (0 = none), from /proc/self/stat; undefined off Linux. */
export function controllingTerminal(): number | undefined {
  const fields = statFields("self");
  return fields === undefined ? undefined : Number(fields[4]);
}

/** Why a SIGHUP is a hangup, or undefined when it is a deploy request. */
export type HangupCheck = () => string | undefined;

/**
 * The test a SIGHUP goes through: the launcher gone, or the terminal local mode started with
 * gone. Undefined when there is nothing to watch (no npm, no terminal): every SIGHUP deploys.
 */
export function hangupCheck(launcher: Launcher | undefined, terminalAtStart: number | undefined): HangupCheck | undefined {
  const terminal = terminalAtStart ?? 0;
  if (launcher === undefined && terminal === 0) return undefined;
  return () => {
    if (launcher !== undefined && !launcherAlive(launcher)) return "the npm process that started local mode is gone";
    if (terminal !== 0 && controllingTerminal() !== terminal) return "its terminal is gone";
    return undefined;
  };
}

/**
 * Resolves with the hangup's reason as soon as `check` finds one, or undefined after
 * `windowMs` (a deploy request).
 */
export function classifySighup(check: HangupCheck, windowMs = HANGUP_WINDOW_MS): Promise<string | undefined> {
  return new Promise((resolve) => {
    const deadline = Date.now() + windowMs;
    const look = () => {
      const reason = check();
      if (reason !== undefined || Date.now() >= deadline) resolve(reason);
      else setTimeout(look, Math.min(25, Math.max(1, deadline - Date.now())));
    };
    look();
  });
}

/** The controlling terminal and which of stdin, stdout and stderr are terminals, read at start. */
export interface TerminalAtStart {
  /** Device number; 0 = none, undefined off Linux. */
  readonly device: number | undefined;
  readonly fds: readonly number[];
}

export function terminalAtStart(): TerminalAtStart {
  return { device: controllingTerminal(), fds: [0, 1, 2].filter((fd) => tty.isatty(fd)) };
}

/**
 * Before exit: closes the descriptors that were terminals at start when the terminal hung up
 * since. Node 20 restores each one's terminal mode at exit and aborts when that fails on a
 * hung-up terminal (nodejs/node#51519, fixed by nodejs/node#58200 in later versions); it
 * skips a closed descriptor.
 */
export function releaseTerminal(start: TerminalAtStart): void {
  if (start.device === undefined || start.device === 0 || controllingTerminal() === start.device) return;
  for (const fd of start.fds) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
  }
}

function isNpm(command: string): boolean {
  return /^(\S*\/)?(npm|npx)( |$)/.test(command) || /^(\S*\/)?node \S*\/np[mx](-cli\.js)? /.test(command);
}

function cmdline(pid: number | undefined): string {
  if (pid === undefined) return "";
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
}

/** The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, tty_nr, ...]. */
function statFields(pid: number | "self"): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined || fields[0] === "Z" ? undefined : Number(fields[1]);
}
