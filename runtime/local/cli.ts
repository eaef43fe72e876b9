import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { appNetworking, ConfigError, configPath, deployTimings, loadConfig, NLB_FIRST_HEALTH_CHECK_DELAY_SECONDS, type ResolvedApp } from "../../config";
import { PACKAGE_ROOT } from "../../config/package-root";
import { AGENT_BUNDLE as AGENT_BUNDLE_FILE } from "../agent/contract";
import { issuesOf } from "../agent/errors";
import { DeployClock, EventLog } from "./deploy-clock";
import { LocalError } from "./errors";
import { classifySighup, findLauncher, hangupCheck, type HangupCheck, releaseTerminal, terminalAtStart, watchLauncher } from "./launcher";
import { localCertificate, type LocalCertificate } from "./local-certificate";
import { LocalPlatform } from "./platform";
import { StatusPage } from "./status-page";

export const USAGE = `usage: tcp-addon local [--config FILE] [--only APP[,APP...]] [--time-scale X] [--nlb-lag S] [--first-check-delay S] [--events FILE] [--drain-seconds S] [--status-port PORT]

Runs every app of the config on this machine the way ECS and the NLB run it: for each app,
\`containers\` tasks (the agent around the Procfile's tcp command, with the plan's
packets-per-second limit) behind a balancer on 127.0.0.1:<port> that models the NLB target
group, with the app's deploy timings (config/deploy-timings.ts, the numbers synth writes).
Prints one line per app with its TCP_URL once its tasks are healthy.

  --config FILE       the config (default: $TCP_ADDON_CONFIG, else ./tcp-addon.yaml)
  --only APP          run only this app; repeat it or give a comma list
  --time-scale X      real seconds per AWS second (default 0.1: a 60 s delay runs in 6 s; 1 = real time)
  --nlb-lag S         AWS seconds during which a deregistered target still gets new flows
                      (default: each app's deploy.propagationSeconds, 120)
  --first-check-delay S  AWS seconds from a new target's registration to its first health check
                      (default ${NLB_FIRST_HEALTH_CHECK_DELAY_SECONDS}, the shortest delay users report on AWS; 0 = at once)
  --events FILE       write one JSON line per target and task state change:
                      {"t": AWS seconds since start, "app", "task", "state"}
  --drain-seconds S   AWS seconds the agent drains on SIGTERM, for every app
                      (default: each app's deploy.agentDrainSeconds; the stopTimeout follows)
  --status-port PORT  the status page on http://127.0.0.1:PORT/ (default 0: any free port, printed
                      at start; each task's state, connections and packets/s against the plan)
  -h, --help          this text

Signals: SIGHUP deploys every app (ECS rolling deployment, minimum 100 %, maximum 200 %),
unless npm or the terminal goes within a second of it (a hangup: then it stops);
SIGUSR2 interrupts one task as Fargate Spot does (SIGTERM now, a replacement starts; the first
app with Spot capacity, else the first app); SIGINT (Ctrl-C) and SIGTERM stop everything and
exit 0 (twice: kill at once). Local mode also stops when the npm process that started it goes,
whatever the signal.`;

/** Real seconds per AWS second unless --time-scale says otherwise. */
export const DEFAULT_TIME_SCALE = 0.1;

/** The agent bundle that local mode runs; built on first use when it is missing. */
export const AGENT_BUNDLE = path.join(PACKAGE_ROOT, AGENT_BUNDLE_FILE);

interface LocalArgs {
  readonly config: string;
  readonly only: readonly string[];
  readonly timeScale: number;
  /** AWS seconds; undefined = each app's propagationSeconds. */
  readonly nlbLag?: number;
  /** AWS seconds from a target's registration to its first health check. */
  readonly firstCheckDelay: number;
  readonly events?: string;
  /** AWS seconds; undefined = each app's agentDrainSeconds. */
  readonly drainSeconds?: number;
  /** The status page's port; 0 = any free port. */
  readonly statusPort: number;
  readonly help: boolean;
}

/** Parses `tcp-addon local` flags. @throws LocalError TCP_ADDON_LOCAL_USAGE */
export function parseLocalArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): LocalArgs {
  let values: {
    config?: string;
    only?: string[];
    "drain-seconds"?: string;
    "time-scale"?: string;
    "nlb-lag"?: string;
    "first-check-delay"?: string;
    events?: string;
    "status-port"?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string" },
        only: { type: "string", multiple: true },
        "drain-seconds": { type: "string" },
        "time-scale": { type: "string" },
        "nlb-lag": { type: "string" },
        "first-check-delay": { type: "string" },
        events: { type: "string" },
        "status-port": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new LocalError("TCP_ADDON_LOCAL_USAGE", (err as Error).message);
  }
  const number = (flag: string, text: string | undefined, min: number, max: number, what: string): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
      throw new LocalError("TCP_ADDON_LOCAL_USAGE", `--${flag}: expected ${what}, got "${text}"`);
    }
    return value;
  };
  const timeScale = number("time-scale", values["time-scale"], 0, 10, "a factor above 0 and at most 10 (1 = real time)") ?? DEFAULT_TIME_SCALE;
  if (timeScale === 0) throw new LocalError("TCP_ADDON_LOCAL_USAGE", `--time-scale: expected a factor above 0 and at most 10 (1 = real time), got "${values["time-scale"]}"`);
  const drainSeconds = number("drain-seconds", values["drain-seconds"], 0, 3600, "a whole number of AWS seconds from 0 to 110");
  if (drainSeconds !== undefined && !Number.isInteger(drainSeconds)) {
    throw new LocalError("TCP_ADDON_LOCAL_USAGE", `--drain-seconds: expected a whole number of AWS seconds from 0 to 110, got "${values["drain-seconds"]}"`);
  }
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
  return {
    config: values.config === undefined ? configPath(env) : path.resolve(values.config),
    only,
    timeScale,
    nlbLag: number("nlb-lag", values["nlb-lag"], 0, 3600, "AWS seconds from 0 to 3600"),
    firstCheckDelay: number("first-check-delay", values["first-check-delay"], 0, 3600, "AWS seconds from 0 to 3600") ?? NLB_FIRST_HEALTH_CHECK_DELAY_SECONDS,
    events: values.events === undefined ? undefined : path.resolve(values.events),
    drainSeconds,
    statusPort: statusPort(values["status-port"]),
    help: values.help ?? false,
  };
}

function statusPort(text: string | undefined): number {
  if (text === undefined) return 0;
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new LocalError("TCP_ADDON_LOCAL_USAGE", `--status-port: expected a port from 0 to 65535, got "${text}"`);
  return port;
}

/**
 * Every app with its agent drain set to `drainSeconds` (AWS seconds); the stopTimeout follows,
 * and every invariant of the deploy timings is checked again. @throws LocalError TCP_ADDON_LOCAL_USAGE
 */
export function withDrainSeconds(apps: readonly ResolvedApp[], drainSeconds: number | undefined): readonly ResolvedApp[] {
  if (drainSeconds === undefined) return apps;
  return apps.map((app) => {
    const { stopTimeoutSeconds: _derived, ...overrides } = app.deploy;
    try {
      return { ...app, deploy: deployTimings({ ...overrides, agentDrainSeconds: drainSeconds }) };
    } catch (err) {
      throw new LocalError("TCP_ADDON_LOCAL_USAGE", `--drain-seconds: ${app.name}: ${issuesOf(err).join("; ")}`);
    }
  });
}

/** `a 60 s delay runs in 6 s`, for the line local mode prints at start. */
export function timeScaleLine(scale: number, delaySeconds: number): string {
  const real = Number((delaySeconds * scale).toFixed(3));
  const speed = scale === 1 ? "real time" : scale < 1 ? `AWS timings run ${Number((1 / scale).toFixed(2))}x faster` : `AWS timings run ${scale}x slower`;
  return `time scale ${scale}: ${speed} (a ${delaySeconds} s delay runs in ${real} s)${scale === 1 ? "" : "; --time-scale 1 is real time"}`;
}

/** The apps `--only` names, in the config's order. @throws LocalError TCP_ADDON_LOCAL_UNKNOWN_APP */
export function selectApps(apps: readonly ResolvedApp[], only: readonly string[]): readonly ResolvedApp[] {
  if (only.length === 0) return apps;
  const known = apps.map((app) => app.name);
  const unknown = only.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new LocalError("TCP_ADDON_LOCAL_UNKNOWN_APP", `--only: no app named ${unknown.map((n) => `"${n}"`).join(", ")} in the config; its apps: ${known.join(", ")}`);
  }
  return apps.filter((app) => only.includes(app.name));
}

/** The agent bundle's path, built first if it is missing. */
export async function ensureAgentBundle(log: (line: string) => void, file: string = AGENT_BUNDLE): Promise<string> {
  if (fs.existsSync(file)) return file;
  log(`local | building the agent into ${path.relative(process.cwd(), file)}`);
  const { buildAgent } = await import("../agent/build");
  return buildAgent(file);
}

/**
 * A SIGHUP: a deploy, unless npm or the terminal goes within the hangup window (a closed
 * terminal or a SIGHUP to the whole group reaches npm too): then `onHangup`.
 */
async function onSighup(platform: LocalPlatform, hangup: HangupCheck | undefined, onHangup: (reason: string) => void, log: (line: string) => void): Promise<void> {
  const reason = hangup === undefined ? undefined : await classifySighup(hangup);
  if (reason !== undefined) return onHangup(reason);
  log("local | SIGHUP: deploying every app");
  await platform.deploy();
}

function timeOfDay(): string {
  return new Date().toISOString().slice(11, 19);
}

/** Where local mode writes: stderr for logs, stdout for ready lines; both stop once the reader is gone. */
interface Output {
  gone: boolean;
  readonly log: (line: string) => void;
  readonly ready: (line: string) => void;
}

function processOutput(): Output {
  const output: Output = {
    gone: false,
    log: (line) => {
      if (!output.gone) process.stderr.write(`${timeOfDay()} ${line}\n`);
    },
    ready: (line) => {
      if (!output.gone) process.stdout.write(`${line}\n`);
    },
  };
  return output;
}

function fail(message: string, code: number): number {
  process.stderr.write(`tcp-addon local: ${message}\n`);
  return code;
}

/**
 * `tcp-addon local`: runs until SIGINT or SIGTERM (exit 0) or until an app cannot run
 * (exit 1). Ready lines go to stdout, everything else to stderr.
 */
export async function main(argv: string[]): Promise<number> {
  const inputs = readInputs(argv);
  if (typeof inputs === "number") return inputs;
  const { args, apps } = inputs;
  const output = processOutput();
  const log = output.log;
  let agentPath: string;
  try {
    agentPath = await ensureAgentBundle(log);
  } catch (err) {
    return fail(`cannot build the agent: ${(err as Error).message}`, 1);
  }

  const clock = new DeployClock(args.timeScale);
  let events: EventLog;
  try {
    events = new EventLog(clock, args.events);
  } catch (err) {
    return fail(`--events: cannot write ${args.events}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
  }
  logTimings(log, args, apps);
  if (args.events !== undefined) log(`local | events to ${args.events} (t = AWS seconds since ${clock.epoch.toISOString()})`);
  let certificate: LocalCertificate | undefined;
  if (apps.some((app) => appNetworking(app).tls !== undefined)) {
    certificate = await localCertificate();
    log(`local | TLS is terminated with a self-signed certificate for 127.0.0.1: trust ${certificate.certFile} (NODE_EXTRA_CA_CERTS=${certificate.certFile} for Node clients)`);
  }
  const platform = new LocalPlatform(apps, {
    agentPath,
    ...(certificate === undefined ? {} : { tls: certificate }),
    clock,
    events,
    lagSeconds: args.nlbLag,
    firstCheckDelaySeconds: args.firstCheckDelay,
    log,
    ready: output.ready,
  });
  const statusPage = statusPageOf(platform, args.statusPort);
  try {
    log(`local | status page: http://127.0.0.1:${await statusPage.listen()}/`);
  } catch (err) {
    await statusPage.close();
    return fail((err as Error).message, 1);
  }
  return runUntilStopped(platform, statusPage, events, output);
}

/** The flags and the apps to run, or the exit code when there is nothing to run (help, a bad flag or config). */
function readInputs(argv: string[]): { args: LocalArgs; apps: readonly ResolvedApp[] } | number {
  try {
    const args = parseLocalArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE + "\n");
      return 0;
    }
    return { args, apps: withDrainSeconds(selectApps(loadConfig(args.config).apps, args.only), args.drainSeconds) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.issues.map((issue) => `${issue}\n`).join(""));
      return 1;
    }
    if (err instanceof LocalError && err.code === "TCP_ADDON_LOCAL_UNKNOWN_APP") return fail(err.message, 1);
    if (err instanceof LocalError) return fail(`${err.message}\n${USAGE.split("\n")[0]}`, 2);
    throw err;
  }
}

/** One line for the time scale, then one per app with every deploy timing local mode runs. */
function logTimings(log: (line: string) => void, args: LocalArgs, apps: readonly ResolvedApp[]): void {
  log(`local | ${timeScaleLine(args.timeScale, apps[0]?.deploy.deregistrationDelaySeconds ?? 60)}`);
  for (const app of apps) {
    const t = app.deploy;
    log(
      `${app.name} | deploy timings (AWS s): checks every ${t.healthCheckIntervalSeconds}, timeout ${t.healthCheckTimeoutSeconds}, healthy after ${t.healthyThreshold}, unhealthy after ${t.unhealthyThreshold}; ` +
        `grace ${t.healthCheckGracePeriodSeconds}; deregistration delay ${t.deregistrationDelaySeconds}; NLB lag ${args.nlbLag ?? t.propagationSeconds}; agent drain ${t.agentDrainSeconds}; stopTimeout ${t.stopTimeoutSeconds}; ` +
        `unhealthy termination ${t.unhealthyConnectionTermination ? "on" : "off"}, unhealthy draining ${t.unhealthyDrainingIntervalSeconds}; first check ${args.firstCheckDelay} after registration`,
    );
  }
}

/** The status page, reading each app's tasks from its supervisor. */
function statusPageOf(platform: LocalPlatform, port: number): StatusPage {
  return new StatusPage(
    () =>
      platform.supervisors.map((supervisor) => ({
        name: supervisor.app.name,
        plan: supervisor.app.plan,
        tcpUrl: supervisor.tcpUrl,
        containers: supervisor.app.containers,
        tasks: () => supervisor.taskStates,
      })),
    { port },
  );
}

/** SIGUSR2: one task gets a Fargate Spot interruption; what happened, in one line. */
function spotInterruption(platform: LocalPlatform): string {
  const task = platform.interruptSpot();
  return task === undefined ? "no task is serving yet; nothing interrupted" : `Spot interruption of ${task}`;
}

/**
 * Starts the platform and serves until SIGINT or SIGTERM (a second one kills at once), the npm
 * process that started it goes away (whatever the signal), its output is closed, or an app
 * cannot run. SIGHUP deploys, unless it is a hangup (see launcher.ts): then it stops.
 */
function runUntilStopped(platform: LocalPlatform, statusPage: StatusPage, events: EventLog, output: Output): Promise<number> {
  const log = output.log;
  return new Promise<number>((resolve) => {
    let exitCode: number | undefined;
    /** Stops everything, then prints `error` (if any) so that it is the last line. */
    const finish = (code: number, error?: Error) => {
      if (exitCode !== undefined) return;
      exitCode = code;
      Promise.all([platform.stop(), statusPage.close()]).then(() => {
        events.close();
        process.off("SIGINT", onStop);
        process.off("SIGTERM", onStop);
        process.off("SIGHUP", onRestart);
        process.off("SIGUSR2", onSpotInterruption);
        clearInterval(launcher);
        process.stdout.off("error", onOutputGone);
        process.stderr.off("error", onOutputGone);
        if (error !== undefined && !output.gone) process.stderr.write(`tcp-addon local: ${error.message}\n`);
        releaseTerminal(terminal);
        resolve(code);
      });
    };
    const onStop = (signal: NodeJS.Signals) => {
      if (exitCode !== undefined) {
        log(`local | ${signal} again: killing every replica`);
        platform.kill();
        return;
      }
      log(`local | ${signal}: stopping every replica`);
      finish(0);
    };
    const onRestart = () => void onSighup(platform, hangup, (reason) => {
      log(`local | SIGHUP and ${reason}: a hangup, not a deploy; stopping every replica`);
      finish(0);
    }, log);
    process.on("SIGINT", onStop);
    process.on("SIGTERM", onStop);
    process.on("SIGHUP", onRestart);
    const onSpotInterruption = () => log(`local | SIGUSR2: ${spotInterruption(platform)}`);
    process.on("SIGUSR2", onSpotInterruption);
    const started = findLauncher();
    const terminal = terminalAtStart();
    const hangup = hangupCheck(started, terminal.device);
    const launcher = started && watchLauncher(started, () => {
      log("local | the npm process that started local mode is gone: stopping every replica");
      finish(0);
    });
    // A closed terminal or pipe: nobody is watching any more, so stop as on SIGTERM.
    const onOutputGone = () => {
      output.gone = true;
      finish(0);
    };
    process.stdout.on("error", onOutputGone);
    process.stderr.on("error", onOutputGone);
    log(`local | pid ${process.pid}: \`kill -HUP ${process.pid}\` deploys every app, Ctrl-C stops`);
    const onFatal = (err: Error) => finish(1, err);
    platform.on("fatal", onFatal);
    platform.start().catch(onFatal);
  });
}
