import * as fs from "node:fs";
import * as path from "node:path";
import { isRaw } from "../../cli/command";
import { COMMANDS } from "../../cli/main";
import { runProcess } from "../helpers/run";

/**
 * `tcp-addon <command> --help`, through the bin as a user runs it: every command prints its own
 * text (not the command list) with each flag it accepts and each environment variable it reads.
 */

const REPO = path.resolve(__dirname, "../..");
const BIN = path.join(REPO, "bin", "tcp-addon.js");

async function help(args: readonly string[]) {
  return runProcess(process.execPath, [BIN, ...args], { cwd: REPO, timeoutMs: 60_000 });
}

describe("tcp-addon <command> --help", () => {
  it.each(Object.keys(COMMANDS))("`%s --help` describes its own flags and environment variables, exit 0", async (name) => {
    const entry = COMMANDS[name]!;
    const result = await help([name, "--help"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^[Uu]sage: tcp-addon ${name}\\b`));
    if (name !== "help") expect(result.stdout).not.toContain("Commands:");
    for (const variable of entry.env) expect(result.stdout).toContain(variable.name);
    if (!isRaw(entry)) {
      for (const option of entry.options) expect(result.stdout).toContain(`--${option.name}`);
      expect(result.stdout).toContain("Environment:");
    }
  });

  it("`verify --help` names every variable cli/verify reads: the mirror, the terraform binary, the CLI config", async () => {
    const read = new Set<string>();
    for (const file of fs.readdirSync(path.join(REPO, "cli", "verify"))) {
      for (const m of fs.readFileSync(path.join(REPO, "cli", "verify", file), "utf8").matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!);
    }
    read.delete("PATH");
    expect([...read].sort()).toEqual(expect.arrayContaining(["TCP_ADDON_PROVIDER_MIRROR", "TCP_ADDON_TERRAFORM"]));
    const { stdout } = await help(["verify", "--help"]);
    for (const variable of read) expect(stdout).toContain(variable);
  });

  it("`help COMMAND` prints that command's text, and `--help` the list of every command", async () => {
    expect((await help(["help", "verify"])).stdout).toBe((await help(["verify", "--help"])).stdout);
    const list = await help(["--help"]);
    for (const name of Object.keys(COMMANDS)) expect(list.stdout).toMatch(new RegExp(`^  ${name}\\b`, "m"));
  });

  it("a wrong flag prints one line and that command's own text, exit 2", async () => {
    const result = await help(["urls", "--output", "x"]);
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")[0]).toMatch(/^tcp-addon: Unknown option '--output'/);
    expect(result.stderr).toContain("Usage: tcp-addon urls [--outputs FILE] [--config FILE]");
  });
});
