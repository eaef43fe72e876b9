import * as fs from "node:fs";
import * as path from "node:path";
import { parseFlags } from "../../runtime/agent/flags";
import { isRaw } from "../../cli/command";
import { COMMANDS } from "../../cli/main";
import { parseLocalArgs } from "../../runtime/local/cli";
import { docFiles, REPO } from "../helpers/docs";
import { runProcess } from "../helpers/run";

/**
 * Every command the docs (README.md, docs/**\/*.md) show exists and takes the flags shown with it:
 * `npm run X` is a script of package.json, `tcp-addon X` (npx or the npm script that runs it) a
 * command of the CLI with those flags, and `tcp-addon-agent` lines parse as the agent parses them.
 */

const SCRIPTS = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

interface Shown {
  readonly where: string;
  /** The command line as shown, without a trailing `# comment`. */
  readonly text: string;
}

/** Code as the docs show it: each line of a fenced block and each inline `code` span. */
function shownCode(): Shown[] {
  const shown: Shown[] = [];
  for (const { file, text } of docFiles()) {
    const lines = text.split("\n");
    let fenced = false;
    lines.forEach((line, i) => {
      const where = `${file}:${i + 1}`;
      if (line.startsWith("```")) {
        fenced = !fenced;
        return;
      }
      if (fenced) shown.push({ where, text: line.replace(/\s+#.*$/, "") });
      else for (const m of line.matchAll(/`([^`]+)`/g)) shown.push({ where, text: m[1]! });
    });
  }
  return shown;
}

/** `tcp-addon <command> [args]` (not tcp-addon-agent, tcp-addon.yaml, tcp-addon/constructs). */
function cliInvocations(): { where: string; command: string; args: string[] }[] {
  const found: { where: string; command: string; args: string[] }[] = [];
  for (const { where, text } of shownCode()) {
    for (const m of text.matchAll(/(?:^|[\s(])(?:npx\s+)?tcp-addon\s+([a-z][\w-]*)([^|;&]*)/g)) found.push({ where, command: m[1]!, args: words(m[2]!) });
    for (const m of text.matchAll(/npm run ([\w:-]+)(?:\s+--\s+([^|;&]*))?/g)) {
      const bin = /bin\/tcp-addon\.js (\w+)/.exec(SCRIPTS[m[1]!] ?? "");
      if (bin !== null) found.push({ where, command: bin[1]!, args: words(m[2] ?? "") });
    }
  }
  return found;
}

/** The flags of a shown command line: `--x`, `--x=v`, `[--x V]`, `-o`; placeholders and values dropped. */
function words(text: string): string[] {
  return [...text.matchAll(/(?:^|[\s[])(--?[a-z][\w-]*)/g)].map((m) => m[1]!);
}

describe("commands shown in the docs", () => {
  it("every `npm run X` is a script of package.json", () => {
    const missing = shownCode().flatMap(({ where, text }) =>
      [...text.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!).filter((name) => !(name in SCRIPTS)).map((name) => `${where}: npm run ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it("every `tcp-addon X` is a command of the CLI, and every flag shown with it is one it accepts", () => {
    const invocations = cliInvocations();
    expect(invocations.length).toBeGreaterThan(10);
    const wrong: string[] = [];
    for (const { where, command, args } of invocations) {
      const entry = Object.prototype.hasOwnProperty.call(COMMANDS, command) ? COMMANDS[command] : undefined;
      if (entry === undefined) {
        wrong.push(`${where}: tcp-addon ${command}: no such command`);
        continue;
      }
      for (const flag of args) {
        if (flag === "--help" || flag === "-h") continue;
        if (isRaw(entry)) {
          // local parses its own flags: each shown one must parse (all of them take a value)
          try {
            parseLocalArgs([`${flag}=1`], {});
          } catch (err) {
            wrong.push(`${where}: tcp-addon ${command} ${flag}: ${(err as Error).message}`);
          }
        } else if (!entry.options.some((o) => `--${o.name}` === flag || `-${o.short}` === flag)) {
          wrong.push(`${where}: tcp-addon ${command} ${flag}: not a flag of ${command}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("every `tcp-addon-agent` or `dist/tcp-addon-agent.js` line parses as the agent parses its flags", () => {
    const lines = shownCode().flatMap(({ where, text }) => {
      const m = /(?:tcp-addon-agent|dist\/tcp-addon-agent\.js)\s+(--[^|;&`]*)$/.exec(text.trim());
      return m === null ? [] : [{ where, args: m[1]!.trim().split(/\s+/) }];
    });
    expect(lines.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const { where, args } of lines) {
      try {
        parseFlags(args, {});
      } catch (err) {
        wrong.push(`${where}: ${args.join(" ")}: ${(err as Error).message}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("says which commands the tcp-addon bin has, and each one it names is one (bench is an npm script only)", () => {
    const sentence = docFiles()
      .map((d) => /The package's `tcp-addon` bin has ([^.]+)\./.exec(d.text.replace(/\s+/g, " "))?.[1])
      .find((s) => s !== undefined);
    expect(sentence).toBeDefined();
    const named = [...sentence!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);
    expect(named.sort()).toEqual(Object.keys(COMMANDS).sort());
  });
});

describe("npm run build:agent", () => {
  it("prints its usage for `-- --help` and writes nothing", async () => {
    const bundle = path.join(REPO, "dist", "tcp-addon-agent.js");
    const before = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : undefined;
    const result = await runProcess("npm", ["run", "--silent", "build:agent", "--", "--help"], { cwd: REPO, timeoutMs: 120_000 });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: npm run build:agent/);
    expect(fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : undefined).toBe(before);
  });

  it("refuses an unknown flag in one line, exit 2, and writes nothing", async () => {
    const bundle = path.join(REPO, "dist", "tcp-addon-agent.js");
    const before = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : undefined;
    const result = await runProcess("npm", ["run", "--silent", "build:agent", "--", "--bogus"], { cwd: REPO, timeoutMs: 120_000 });
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")[0]).toMatch(/^build:agent: Unknown option '--bogus'/);
    expect(fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : undefined).toBe(before);
  });
});
