import * as path from "node:path";
import { parseArgs } from "node:util";
import { configPath } from "../config";
import { TcpAddonError } from "../ground";

/**
 * One `tcp-addon` command as a table row: what it does, its flags, positionals and environment
 * variables, and how it runs. The parser and the `--help` text are both made from the row, so a
 * command's help names exactly the flags it accepts. A new command is a `CliCommand` in its own
 * file and one line in `COMMANDS` (cli/main.ts).
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

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

export interface CliOption {
  /** The long name without dashes: `config` for `--config`. */
  readonly name: string;
  readonly short?: string;
  /** The value's placeholder (`FILE`); none = a switch. */
  readonly value?: string;
  /** The command refuses to run without it. */
  readonly required?: boolean;
  readonly description: string;
}

export interface CliEnvVar {
  readonly name: string;
  readonly description: string;
}

export interface CliPositional {
  readonly name: string;
  readonly description: string;
}

/** What a command's `run` gets: its flags (by long name) and positionals, parsed from its row. */
export interface CliArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

export interface CliCommand {
  /** One line in `tcp-addon --help`. */
  readonly summary: string;
  readonly positionals?: readonly CliPositional[];
  readonly options: readonly CliOption[];
  /** Every environment variable the command reads. */
  readonly env: readonly CliEnvVar[];
  /** Lines printed after the flags and variables (exit codes, notes). */
  readonly notes?: readonly string[];
  readonly run: (args: CliArgs, io: CliIo) => Promise<number> | number;
}

/**
 * A command that parses its own arguments and prints its own `--help` (local mode, whose flags
 * live with it in runtime/local/cli.ts); the row still lists them for `tcp-addon --help`.
 */
export interface CliRawCommand {
  readonly summary: string;
  readonly synopsis: string;
  readonly env: readonly CliEnvVar[];
  readonly raw: (args: readonly string[], io: CliIo) => Promise<number> | number;
}

export type CliEntry = CliCommand | CliRawCommand;

export function isRaw(entry: CliEntry): entry is CliRawCommand {
  return "raw" in entry;
}

/** `validate [--config FILE]`, `timeline EVENTS -o FILE.png`. */
export function synopsis(name: string, entry: CliEntry): string {
  if (isRaw(entry)) return `${name} ${entry.synopsis}`.trimEnd();
  const flag = (o: CliOption) => `${o.short !== undefined && o.required === true ? `-${o.short}` : `--${o.name}`}${o.value === undefined ? "" : ` ${o.value}`}`;
  const parts = [
    name,
    ...(entry.positionals ?? []).map((p) => p.name),
    ...entry.options.map((o) => (o.required === true ? flag(o) : `[${flag(o)}]`)),
  ];
  return parts.join(" ");
}

/** `tcp-addon <name> --help`: usage, what it does, each flag, each environment variable, notes. */
export function commandHelp(name: string, entry: CliCommand): string {
  const rows = (items: readonly (readonly [string, string])[]) => {
    const width = Math.max(...items.map(([left]) => left.length));
    return items.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
  };
  const flags: [string, string][] = entry.options.map((o) => [
    `${o.short === undefined ? "" : `-${o.short}, `}--${o.name}${o.value === undefined ? "" : ` ${o.value}`}`,
    o.description,
  ]);
  flags.push(["-h, --help", "this text"]);
  const lines = [`Usage: tcp-addon ${synopsis(name, entry)}`, "", `${entry.summary[0]!.toUpperCase()}${entry.summary.slice(1)}.`];
  if ((entry.positionals ?? []).length > 0) lines.push("", "Arguments:", ...rows((entry.positionals ?? []).map((p) => [p.name, p.description])));
  lines.push("", "Options:", ...rows(flags));
  lines.push("", "Environment:", ...(entry.env.length === 0 ? ["  none"] : rows(entry.env.map((v) => [v.name, v.description]))));
  if (entry.notes !== undefined) lines.push("", ...entry.notes);
  return lines.join("\n");
}

/** The command list of `tcp-addon --help`, one line each, aligned. */
export function commandList(commands: Readonly<Record<string, CliEntry>>): string[] {
  const entries = Object.entries(commands).map(([name, entry]) => [synopsis(name, entry), entry.summary] as const);
  const width = Math.max(...entries.map(([left]) => left.length));
  return entries.map(([left, summary]) => `  ${left.padEnd(width)}  ${summary}`);
}

/**
 * Parses `args` by the command's row (strict: an unknown flag or a stray argument is a usage
 * error). Returns undefined for `--help`.
 * @throws UsageError or node's ERR_PARSE_ARGS_* errors.
 */
export function parseCommand(name: string, entry: CliCommand, args: readonly string[]): CliArgs | undefined {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const o of entry.options) options[o.name] = { type: o.value === undefined ? "boolean" : "string", ...(o.short === undefined ? {} : { short: o.short }) };
  const expected = entry.positionals ?? [];
  const { values, positionals } = parseArgs({ args: [...args], options, strict: true, allowPositionals: expected.length > 0 });
  if (values.help === true) return undefined;
  if (positionals.length !== expected.length) {
    throw new UsageError(`${name} expects ${expected.map((p) => p.name).join(" ")}, got ${positionals.length} argument(s)`);
  }
  for (const o of entry.options) {
    if (o.required === true && values[o.name] === undefined) throw new UsageError(`${name} needs --${o.name}${o.value === undefined ? "" : ` ${o.value}`}`);
  }
  const flat: Record<string, string | boolean | undefined> = {};
  for (const [key, value] of Object.entries(values)) if (key !== "help") flat[key] = Array.isArray(value) ? value[value.length - 1] : value;
  return { values: flat, positionals };
}

/** A string flag's value (parseCommand made it a string or left it out). */
export function stringFlag(args: CliArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

/** The config file's flag and variable, shared by the commands that read a config. */
export const CONFIG_OPTION: CliOption = {
  name: "config",
  value: "FILE",
  description: "the config file (default: $TCP_ADDON_CONFIG, else tcp-addon.yaml in the current folder)",
};
export const CONFIG_ENV: CliEnvVar = { name: "TCP_ADDON_CONFIG", description: "the config file when --config is not given" };
export const OUTDIR_ENV: CliEnvVar = { name: "CDKTF_OUTDIR", description: "the synth output folder (default cdktf.out)" };

/** The config file: `--config`, else $TCP_ADDON_CONFIG, else tcp-addon.yaml in the current folder. */
export function configFile(flag: string | undefined, io: CliIo): string {
  return flag === undefined ? configPath(io.env, io.cwd) : path.resolve(io.cwd, flag);
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
