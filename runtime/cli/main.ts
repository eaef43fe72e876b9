import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import {
  BUILT_IN_PLANS,
  bytesPerSecond,
  ConfigError,
  configPath,
  formatRate,
  loadConfig,
  planTaskSize,
  type Plan,
  type ResolvedConfig,
} from "../../config";
import { previousStaticIps, staticIpsChangeWarnings } from "../../config/static-ips";
import { issuesOf, messageOf, TcpAddonError } from "../agent/errors";
import type * as LocalCli from "../local/cli";
import { stackName } from "../../config/state";
import type * as SynthMain from "../../main";
import type * as Verify from "../verify/verify";
import { findTcpUrls, OutputsError, readOutputsFile, type TcpUrl } from "./outputs";

/**
 * The `tcp-addon` command line: validate, synth, plans, urls, local.
 * Exit codes: 0 ok, 1 invalid config or missing file, 2 usage error.
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const DEFAULT_OUTPUTS_FILE = "cdktf-outputs.json";

export const USAGE = `Usage: tcp-addon <command> [options]

Commands:
  validate [--config FILE]                 check the config; one line per problem, exit 1 if any
  synth [--config FILE]                    write the Terraform JSON to $CDKTF_OUTDIR, else cdktf.out
  plans [--containers N] [--config FILE]   packets/s and bandwidth per container and for N containers
  urls [--outputs FILE] [--config FILE]    each app's TCP_URL from \`cdktf deploy --outputs-file FILE\`
                                           (default ${DEFAULT_OUTPUTS_FILE})
  local [--config FILE] [--only APP]       run every app on this machine (tcp-addon local --help)
  timeline EVENTS -o FILE.png              draw a deploy from \`local --events EVENTS\` as a PNG
  verify [--config FILE] [--keep]          synth, then terraform validate and an offline plan with the real
                                           AWS provider (exit 2 when terraform or the provider is missing)
  cost [--config FILE] [--traffic PERCENT] monthly AWS estimate per app and in total, offline (cost --help)
  help                                     show this text

The config file is --config, else $TCP_ADDON_CONFIG, else tcp-addon.yaml in the current folder.
Exit codes: 0 ok, 1 invalid config or missing file, 2 usage error.`;

/** Where the CLI writes and what it reads from its surroundings; tests pass their own. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** A wrong command line: printed as one line followed by the usage, exit code 2. */
export class UsageError extends TcpAddonError {
  constructor(message: string) {
    super("TCP_ADDON_USAGE", message);
  }
}

type Command = (args: string[], io: CliIo) => Promise<number> | number;

const COMMANDS: Readonly<Record<string, Command>> = {
  validate,
  synth,
  plans,
  urls,
  local,
  timeline,
  verify,
  cost: (args, io) => (require("./cost") as typeof import("./cost")).cost(args, io),
  help: (_args, io) => {
    io.out(USAGE);
    return EXIT_OK;
  },
};

/** Runs the CLI on `argv` (the arguments after the program name) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) throw new UsageError("missing command");
    if (command === "--help" || command === "-h") return COMMANDS.help([], io);
    const run = Object.prototype.hasOwnProperty.call(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (run === undefined) throw new UsageError(`unknown command "${command}"`);
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      io.err(`tcp-addon: ${messageOf(err)}`);
      io.err(USAGE);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError || err instanceof OutputsError) {
      for (const issue of err.issues) io.err(issue);
      return EXIT_FAILURE;
    }
    for (const issue of issuesOf(err)) io.err(`tcp-addon: ${issue}`);
    return EXIT_FAILURE;
  }
}

function validate(args: string[], io: CliIo): number {
  const { values } = parse(args, { config: { type: "string" } });
  if (values.help === true) return help(io, "validate [--config FILE]");
  const config = loadConfig(configFile(values.config, io));
  for (const warning of config.warnings) io.err(`warning: ${warning}`);
  for (const warning of staticIpsWarnings(stackName(config), config.staticIps ?? false, io)) io.err(`warning: ${warning}`);
  const names = config.apps.map((a) => a.name).join(", ");
  io.out(`ok: ${config.apps.length} app${config.apps.length === 1 ? "" : "s"} (${names})`);
  return EXIT_OK;
}

/** `npm run synth`: main.ts's synth, loaded on demand (it loads cdktf and the constructs). */
async function synth(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { config: { type: "string" } });
  if (values.help === true) return help(io, "synth [--config FILE]");
  // require, as for local: main.ts sits above runtime/ in the layers and is needed only here.
  const { synth: run, describeSynth } = require("../../main") as typeof SynthMain;
  const summary = await run(configFile(values.config, io), path.resolve(io.cwd, io.env.CDKTF_OUTDIR || "cdktf.out"));
  io.out(describeSynth({ ...summary, outdir: relative(summary.outdir, io) }));
  return EXIT_OK;
}

/**
 * Warnings when `staticIps` differs from what the last synth (`$CDKTF_OUTDIR` or `cdktf.out`)
 * declared: changing it replaces the load balancers. Nothing when there is no previous synth.
 */
function staticIpsWarnings(stack: string, staticIps: boolean, io: CliIo): string[] {
  const stackFile = path.resolve(io.cwd, io.env.CDKTF_OUTDIR || "cdktf.out", "stacks", stack, "cdk.tf.json");
  let previous: unknown;
  try {
    previous = JSON.parse(fs.readFileSync(stackFile, "utf8"));
  } catch {
    return [];
  }
  return staticIpsChangeWarnings(staticIps, previousStaticIps(previous));
}

function plans(args: string[], io: CliIo): number {
  const { values } = parse(args, { containers: { type: "string" }, config: { type: "string" } });
  if (values.help === true) return help(io, "plans [--containers N] [--config FILE]");
  const containers = positiveInteger(values.containers ?? "1", "--containers");

  let catalogue: Record<string, Plan> = { ...BUILT_IN_PLANS };
  let region = "us-east-1";
  const file = configFile(values.config, io);
  try {
    const config = loadConfig(file);
    catalogue = { ...config.plans };
    region = config.region;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // An explicit --config must be right; the default file is optional here.
    if (values.config !== undefined) throw err;
    if (err.code !== "TCP_ADDON_CONFIG_NOT_FOUND") {
      io.err(`note: ${relative(file, io)} has problems (run tcp-addon validate); showing the built-in plans only`);
    }
  }

  const header = [
    "plan",
    "packets/s",
    "per container",
    `total (${containers} container${containers === 1 ? "" : "s"})`,
    "task size (cpu/memory)",
    `per container a month (${region})`,
  ];
  const { planMonthlyCell } = require("./cost") as typeof import("./cost");
  const rows = Object.values(catalogue).map((plan) => {
    const size = planTaskSize(plan.packetsPerSecond);
    return [
      plan.name,
      plan.packetsPerSecond.toLocaleString("en-US"),
      formatRate(bytesPerSecond(plan.packetsPerSecond)),
      formatRate(bytesPerSecond(plan.packetsPerSecond) * containers),
      size === undefined ? "not measured" : `${size.cpu}/${size.memory}`,
      planMonthlyCell(size, region),
    ];
  });
  for (const line of table([header, ...rows], [false, true, false, false, false, true])) io.out(line);
  io.out("A packet is up to 1500 bytes; each container gets its plan's budget in each direction.");
  io.out(
    "Task size: the smallest Fargate cpu/memory at which the agent carries the plan at full rate both ways " +
      "and leaves at least half the task's CPU to the app (measured; validate warns below it).",
  );
  io.out("Per container a month: one task of that size (app + agent) on Fargate x86, on-demand, 730 hours; tcp-addon cost prices a whole config.");
  return EXIT_OK;
}

function urls(args: string[], io: CliIo): number {
  const { values } = parse(args, { outputs: { type: "string" }, config: { type: "string" } });
  if (values.help === true) return help(io, "urls [--outputs FILE] [--config FILE]");
  const outputsFile = path.resolve(io.cwd, values.outputs ?? DEFAULT_OUTPUTS_FILE);

  let config: ResolvedConfig | undefined;
  try {
    config = loadConfig(configFile(values.config, io));
  } catch (err) {
    // Without a config file (and none asked for), list whatever TCP_URLs the outputs hold.
    if (!(err instanceof ConfigError) || err.code !== "TCP_ADDON_CONFIG_NOT_FOUND" || values.config !== undefined) throw err;
  }

  const outputs = readOutputsFile(outputsFile, relative(outputsFile, io));
  const found = findTcpUrls(outputs, relative(outputsFile, io), config && {
    stack: stackName(config),
    apps: config.apps.map((a) => a.name),
  });
  // Without a config, outputs of several stacks (environments) are told apart by the stack's name.
  const stacks = new Set(found.urls.map((u) => u.stack));
  const label = (u: TcpUrl) => (stacks.size > 1 ? `${u.stack}/${u.app}` : u.app);
  for (const line of table(found.urls.map((u) => [label(u), u.url]), [false, false])) io.out(line);
  for (const problem of found.problems) io.err(problem);
  return found.problems.length === 0 ? EXIT_OK : EXIT_FAILURE;
}

/** Local mode lives in runtime/local/cli.ts; loaded on demand so the other commands stay light. */
async function local(args: string[]): Promise<number> {
  // require, not import(): under `require("tsx/cjs")` (bin/tcp-addon.js) only CommonJS loading
  // understands TypeScript files.
  const { main: runLocal } = require("../local/cli") as typeof LocalCli;
  return runLocal(args);
}

/** `timeline ev.jsonl -o deploy.png`: a deploy from `local --events` as a picture (runtime/cli/timeline.ts). */
async function timeline(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  if (values.help === true) return help(io, "timeline EVENTS -o FILE.png");
  if (positionals.length !== 1 || values.output === undefined) throw new UsageError("timeline expects one events file and -o FILE.png");
  const { renderTimeline } = require("./timeline") as typeof import("./timeline");
  await renderTimeline(path.resolve(io.cwd, positionals[0]), path.resolve(io.cwd, values.output));
  io.out(`wrote ${relative(path.resolve(io.cwd, values.output), io)}`);
  return EXIT_OK;
}

/** runtime/verify, loaded on demand like local mode. */
async function verify(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string" }, keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) return help(io, "verify [--config FILE] [--keep]");
  const { verify: run } = require("../verify/verify") as typeof Verify;
  return run({ configFile: configFile(values.config, io), out: io.out, err: io.err, env: io.env, keep: values.keep });
}

function parse<T extends Record<string, { type: "string" }>>(args: string[], options: T) {
  return parseArgs({
    args,
    options: { ...options, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
}

function help(io: CliIo, synopsis: string): number {
  io.out(`Usage: tcp-addon ${synopsis}`);
  io.out("");
  io.out(USAGE);
  return EXIT_OK;
}

function configFile(flag: string | undefined, io: CliIo): string {
  return flag === undefined ? configPath(io.env, io.cwd) : path.resolve(io.cwd, flag);
}

function positiveInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 100_000) {
    throw new UsageError(`${flag} expects a whole number from 1 to 100000, got "${text}"`);
  }
  return Number(text);
}

/** Left-aligned columns (right-aligned where asked), two spaces apart, no trailing blanks. */
export function table(rows: readonly (readonly string[])[], alignRight: readonly boolean[]): string[] {
  const widths = alignRight.map((_, col) => Math.max(0, ...rows.map((row) => (row[col] ?? "").length)));
  return rows.map((row) =>
    row
      .map((cell, col) => (alignRight[col] === true ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

function relative(file: string, io: CliIo): string {
  const rel = path.relative(io.cwd, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

/** node:util parseArgs errors, recognised by code (they may come from another realm, e.g. under jest). */
function isParseArgsError(err: unknown): err is { code: string; message: string } {
  return (
    typeof err === "object" &&
    err !== null &&
    "code" in err &&
    typeof err.code === "string" &&
    err.code.startsWith("ERR_PARSE_ARGS_") &&
    "message" in err &&
    typeof err.message === "string"
  );
}

function processIo(): CliIo {
  endQuietlyOnBrokenPipe();
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * A reader that leaves early (`tcp-addon plans | head -1`) closes stdout: the writes that follow
 * fail with EPIPE, which Node raises as an uncaught error with a stack trace. The output is
 * simply no longer wanted: drop it and let the command finish (a long-running `local` keeps
 * running, so its processes are still stopped by its own signal handling).
 */
let brokenPipeHandled = false;
function endQuietlyOnBrokenPipe(): void {
  if (brokenPipeHandled) return;
  brokenPipeHandled = true;
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") return;
    process.stderr.write(`tcp-addon: stdout: ${messageOf(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`tcp-addon: ${messageOf(err)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
