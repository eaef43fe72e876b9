import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, configPath, loadConfig, type ResolvedApp } from "../../config";
import { PACKAGE_ROOT } from "../../config/package-root";
import { LocalError } from "./errors";
import { LocalPlatform } from "./platform";

export const USAGE = `usage: tcp-addon local [--config FILE] [--only APP[,APP...]] [--drain-seconds S]

Runs every app of the config on this machine: for each app, \`containers\` replicas (the
agent around the Procfile's tcp command, with the plan's packets-per-second limit) behind a
balancer on 127.0.0.1:<port>. Prints one line per app with its TCP_URL once it is ready.

  --config FILE       the config (default: $TCP_ADDON_CONFIG, else ./tcp-addon.yaml)
  --only APP          run only this app; repeat it or give a comma list
  --drain-seconds S   how long a stopping replica lets open connections finish (default 3)
  -h, --help          this text

Signals: SIGHUP restarts every replica, one at a time, without refusing a connection;
SIGINT (Ctrl-C) and SIGTERM stop everything and exit 0 (twice: kill at once).`;

/** Local mode drains for a few seconds, not the minutes an NLB waits: it is for development. */
export const DEFAULT_DRAIN_SECONDS = 3;

/** The agent bundle that local mode runs; built on first use when it is missing. */
export const AGENT_BUNDLE = path.join(PACKAGE_ROOT, "dist", "tcp-addon-agent.js");

interface LocalArgs {
  readonly config: string;
  readonly only: readonly string[];
  readonly drainSeconds: number;
  readonly help: boolean;
}

/** Parses `tcp-addon local` flags. @throws LocalError TCP_ADDON_LOCAL_USAGE */
export function parseLocalArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): LocalArgs {
  let values: { config?: string; only?: string[]; "drain-seconds"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string" },
        only: { type: "string", multiple: true },
        "drain-seconds": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new LocalError("TCP_ADDON_LOCAL_USAGE", (err as Error).message);
  }
  const drain = values["drain-seconds"] === undefined ? DEFAULT_DRAIN_SECONDS : Number(values["drain-seconds"]);
  if (!Number.isFinite(drain) || drain < 0 || drain > 3600) {
    throw new LocalError("TCP_ADDON_LOCAL_USAGE", `--drain-seconds: expected a number of seconds from 0 to 3600, got "${values["drain-seconds"]}"`);
  }
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
  return {
    config: values.config === undefined ? configPath(env) : path.resolve(values.config),
    only,
    drainSeconds: drain,
    help: values.help ?? false,
  };
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

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

/**
 * `tcp-addon local`: runs until SIGINT or SIGTERM (exit 0) or until an app cannot run
 * (exit 1). Ready lines go to stdout, everything else to stderr.
 */
export async function main(argv: string[]): Promise<number> {
  const fail = (message: string, code: number): number => {
    process.stderr.write(`tcp-addon local: ${message}\n`);
    return code;
  };
  let args: LocalArgs;
  let apps: readonly ResolvedApp[];
  try {
    args = parseLocalArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE + "\n");
      return 0;
    }
    apps = selectApps(loadConfig(args.config).apps, args.only);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.issues.map((issue) => `${issue}\n`).join(""));
      return 1;
    }
    if (err instanceof LocalError && err.code === "TCP_ADDON_LOCAL_UNKNOWN_APP") return fail(err.message, 1);
    if (err instanceof LocalError) return fail(`${err.message}\n${USAGE.split("\n")[0]}`, 2);
    throw err;
  }

  let outputGone = false;
  const log = (line: string) => {
    if (!outputGone) process.stderr.write(`${clock()} ${line}\n`);
  };
  let agentPath: string;
  try {
    agentPath = await ensureAgentBundle(log);
  } catch (err) {
    return fail(`cannot build the agent: ${(err as Error).message}`, 1);
  }

  const platform = new LocalPlatform(apps, {
    agentPath,
    drainSeconds: args.drainSeconds,
    log,
    ready: (line) => {
      if (!outputGone) process.stdout.write(`${line}\n`);
    },
  });

  return new Promise<number>((resolve) => {
    let exitCode: number | undefined;
    /** Stops everything, then prints `error` (if any) so that it is the last line. */
    const finish = (code: number, error?: Error) => {
      if (exitCode !== undefined) return;
      exitCode = code;
      platform.stop().then(() => {
        process.off("SIGINT", onStop);
        process.off("SIGTERM", onStop);
        process.off("SIGHUP", onRestart);
        process.stdout.off("error", onOutputGone);
        process.stderr.off("error", onOutputGone);
        if (error !== undefined && !outputGone) process.stderr.write(`tcp-addon local: ${error.message}\n`);
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
    const onRestart = () => {
      log("local | SIGHUP: rolling restart");
      void platform.restart();
    };
    process.on("SIGINT", onStop);
    process.on("SIGTERM", onStop);
    process.on("SIGHUP", onRestart);
    // A closed terminal or pipe: nobody is watching any more, so stop as on SIGTERM.
    const onOutputGone = () => {
      outputGone = true;
      finish(0);
    };
    process.stdout.on("error", onOutputGone);
    process.stderr.on("error", onOutputGone);
    log(`local | pid ${process.pid}: \`kill -HUP ${process.pid}\` restarts every replica, Ctrl-C stops`);
    const onFatal = (err: Error) => finish(1, err);
    platform.on("fatal", onFatal);
    platform.start().catch(onFatal);
  });
}
