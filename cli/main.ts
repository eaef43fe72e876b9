import * as fs from "node:fs";
import * as path from "node:path";
import {
  BUILT_IN_PLANS,
  bytesPerSecond,
  ConfigError,
  formatRate,
  loadConfig,
  planTaskSize,
  type Plan,
  type ResolvedConfig,
} from "../config";
import { previousStaticIps, staticIpsChangeWarnings } from "../config/static-ips";
import { issuesOf, messageOf } from "../ground";
import type * as LocalCli from "../runtime/local/cli";
import { stackName } from "../config/state";
import type * as SynthMain from "../main";
import type * as Verify from "./verify/verify";
import {
  CONFIG_ENV,
  CONFIG_OPTION,
  configFile,
  commandHelp,
  commandList,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  isRaw,
  OUTDIR_ENV,
  parseCommand,
  stringFlag,
  table,
  UsageError,
  type CliArgs,
  type CliEntry,
  type CliEnvVar,
  type CliIo,
} from "./command";
import { cost } from "./cost";
import { findTcpUrls, OutputsError, readOutputsFile, type TcpUrl } from "./outputs";

/**
 * The `tcp-addon` command line: one row per command in COMMANDS (cli/command.ts makes
 * each command's parser and --help from its row). Exit codes: 0 ok, 1 invalid config or missing
 * file, 2 usage error.
 */

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, table, UsageError, type CliIo } from "./command";

export const DEFAULT_OUTPUTS_FILE = "cdktf-outputs.json";

const VERIFY_ENV: readonly CliEnvVar[] = [
  CONFIG_ENV,
  { name: "TCP_ADDON_PROVIDER_MIRROR", description: "a filesystem mirror of providers: the folder that holds registry.terraform.io/ (default: the first registry.terraform.io folder at most three levels below /)" },
  { name: "TCP_ADDON_TERRAFORM", description: "the terraform binary (default: terraform on the PATH)" },
  { name: "TF_CLI_CONFIG_FILE", description: "a Terraform CLI config for terraform init when no mirror is found (else the public registry)" },
];

/** Every command, in the order of `tcp-addon --help`. A new command is one line here. */
export const COMMANDS: Readonly<Record<string, CliEntry>> = {
  validate: {
    summary: "check the config; one line per problem, exit 1 if any",
    options: [CONFIG_OPTION],
    env: [CONFIG_ENV, { ...OUTDIR_ENV, description: "where the last synth is, for the staticIps warning (default cdktf.out)" }],
    run: validate,
  },
  synth: {
    summary: "write the Terraform JSON to $CDKTF_OUTDIR, else cdktf.out",
    options: [CONFIG_OPTION],
    env: [CONFIG_ENV, OUTDIR_ENV],
    run: synth,
  },
  plans: {
    summary: "packets/s and bandwidth per container and for N containers",
    options: [
      { name: "containers", value: "N", description: "the number of containers the total column is for (1 to 100000, default 1)" },
      { ...CONFIG_OPTION, description: `${CONFIG_OPTION.description}; its plans: are listed too, and a default file with problems is noted and skipped` },
    ],
    env: [CONFIG_ENV],
    run: plans,
  },
  urls: {
    summary: "each app's TCP_URL from `cdktf deploy --outputs-file FILE`",
    options: [
      { name: "outputs", value: "FILE", description: `the outputs file cdktf deploy wrote (default ${DEFAULT_OUTPUTS_FILE})` },
      { ...CONFIG_OPTION, description: `${CONFIG_OPTION.description}; without one, every TCP_URL in the outputs is listed` },
    ],
    env: [CONFIG_ENV],
    notes: ["Exit codes: 0 every app has its TCP_URL, 1 an app or the outputs file is missing."],
    run: urls,
  },
  local: {
    summary: "run every app on this machine with the AWS deploy lifecycle (tcp-addon local --help)",
    synopsis: "[--config FILE] [--only APP] ...",
    env: [CONFIG_ENV],
    raw: local,
  },
  timeline: {
    summary: "draw a deploy from `local --events EVENTS` as a PNG",
    positionals: [{ name: "EVENTS", description: "the file `tcp-addon local --events EVENTS` wrote" }],
    options: [{ name: "output", short: "o", value: "FILE.png", required: true, description: "the picture to write" }],
    env: [],
    run: timeline,
  },
  verify: {
    summary: "synth, then terraform validate and an offline plan with the real AWS provider",
    options: [CONFIG_OPTION, { name: "keep", description: "keep the temporary folder (the stacks and their terraform files) and print where it is" }],
    env: VERIFY_ENV,
    notes: [
      "Never writes cdktf.out or reads a real state: the plan runs on a copy of each stack without its backend, with fake keys.",
      "Exit codes: 0 every stack plans, 1 an error (one line each), 2 terraform or the provider cannot be had.",
    ],
    run: verify,
  },
  cost,
  help: {
    summary: "show this text, or a command's",
    synopsis: "[COMMAND]",
    env: [],
    raw: (args, io) => {
      const [name] = args;
      if (name === "--help" || name === "-h") {
        io.out("Usage: tcp-addon help [COMMAND]\n\nThe list of commands, or COMMAND's own text (tcp-addon COMMAND --help).\n\nEnvironment:\n  none");
        return EXIT_OK;
      }
      if (name === undefined) {
        io.out(usage());
        return EXIT_OK;
      }
      return main([name, "--help"], io);
    },
  },
};

/** `tcp-addon --help`: every command on one line, from COMMANDS. */
export function usage(): string {
  return [
    "Usage: tcp-addon <command> [options]",
    "",
    "Commands:",
    ...commandList(COMMANDS),
    "",
    "Each command's flags and environment variables: tcp-addon <command> --help.",
    "The config file is --config, else $TCP_ADDON_CONFIG, else tcp-addon.yaml in the current folder.",
    "Exit codes: 0 ok, 1 invalid config or missing file, 2 usage error.",
  ].join("\n");
}

/** Runs the CLI on `argv` (the arguments after the program name) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  const entry = command !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, command) ? COMMANDS[command] : undefined;
  try {
    if (command === undefined) throw new UsageError("missing command");
    if (command === "--help" || command === "-h") {
      io.out(usage());
      return EXIT_OK;
    }
    if (entry === undefined) throw new UsageError(`unknown command "${command}"`);
    if (isRaw(entry)) return await entry.raw(rest, io);
    const args = parseCommand(command, entry, rest);
    if (args === undefined) {
      io.out(commandHelp(command, entry));
      return EXIT_OK;
    }
    return await entry.run(args, io);
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      io.err(`tcp-addon: ${messageOf(err)}`);
      io.err(entry !== undefined && !isRaw(entry) ? commandHelp(command!, entry) : usage());
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

function validate(args: CliArgs, io: CliIo): number {
  const config = loadConfig(configFile(stringFlag(args, "config"), io));
  for (const warning of config.warnings) io.err(`warning: ${warning}`);
  for (const warning of staticIpsWarnings(stackName(config), config.staticIps ?? false, io)) io.err(`warning: ${warning}`);
  const names = config.apps.map((a) => a.name).join(", ");
  io.out(`ok: ${config.apps.length} app${config.apps.length === 1 ? "" : "s"} (${names})`);
  return EXIT_OK;
}

/** `npm run synth`: main.ts's synth, loaded on demand (it loads cdktf and the constructs). */
async function synth(args: CliArgs, io: CliIo): Promise<number> {
  // require, as for local: main.ts sits above runtime/ in the layers and is needed only here.
  const { synth: run, describeSynth } = require("../main") as typeof SynthMain;
  const summary = await run(configFile(stringFlag(args, "config"), io), path.resolve(io.cwd, io.env.CDKTF_OUTDIR || "cdktf.out"));
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

function plans(args: CliArgs, io: CliIo): number {
  const containers = positiveInteger(stringFlag(args, "containers") ?? "1", "--containers");
  const explicit = stringFlag(args, "config");

  let catalogue: Record<string, Plan> = { ...BUILT_IN_PLANS };
  let region = "us-east-1";
  const file = configFile(explicit, io);
  try {
    const config = loadConfig(file);
    catalogue = { ...config.plans };
    region = config.region;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // An explicit --config must be right; the default file is optional here.
    if (explicit !== undefined) throw err;
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

function urls(args: CliArgs, io: CliIo): number {
  const explicit = stringFlag(args, "config");
  const outputsFile = path.resolve(io.cwd, stringFlag(args, "outputs") ?? DEFAULT_OUTPUTS_FILE);

  let config: ResolvedConfig | undefined;
  try {
    config = loadConfig(configFile(explicit, io));
  } catch (err) {
    // Without a config file (and none asked for), list whatever TCP_URLs the outputs hold.
    if (!(err instanceof ConfigError) || err.code !== "TCP_ADDON_CONFIG_NOT_FOUND" || explicit !== undefined) throw err;
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
async function local(args: readonly string[]): Promise<number> {
  // require, not import(): under `require("tsx/cjs")` (bin/tcp-addon.js) only CommonJS loading
  // understands TypeScript files.
  const { main: runLocal } = require("../runtime/local/cli") as typeof LocalCli;
  return runLocal([...args]);
}

/** `timeline ev.jsonl -o deploy.png`: a deploy from `local --events` as a picture (cli/timeline.ts). */
async function timeline(args: CliArgs, io: CliIo): Promise<number> {
  const output = path.resolve(io.cwd, stringFlag(args, "output")!);
  const { renderTimeline } = require("./timeline") as typeof import("./timeline");
  await renderTimeline(path.resolve(io.cwd, args.positionals[0]!), output);
  io.out(`wrote ${relative(output, io)}`);
  return EXIT_OK;
}

/** cli/verify, loaded on demand like local mode. */
async function verify(args: CliArgs, io: CliIo): Promise<number> {
  const { verify: run } = require("./verify/verify") as typeof Verify;
  return run({ configFile: configFile(stringFlag(args, "config"), io), out: io.out, err: io.err, env: io.env, keep: args.values.keep === true });
}


function positiveInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 100_000) {
    throw new UsageError(`${flag} expects a whole number from 1 to 100000, got "${text}"`);
  }
  return Number(text);
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
