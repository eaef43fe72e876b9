import { ProcfileError } from "./errors";

/**
 * A Procfile: one `name: command` per line, as Heroku and Scalingo read it. Lines that are
 * blank or start with `#` are ignored; CRLF line ends are accepted.
 */

const LINE = /^([A-Za-z0-9_-]+):\s*(.*)$/;

/** Options of {@link parseProcfile}. */
export interface ParseProcfileOptions {
  /** Report a missing `tcp:` entry as an error. */
  readonly requireTcp?: boolean;
}

/**
 * Parses Procfile text into name -> command, in file order. `file` only labels the errors.
 * Throws ProcfileError listing every malformed line and duplicate name (`file:line: ...`).
 */
export function parseProcfile(text: string, file: string, options: ParseProcfileOptions = {}): Map<string, string> {
  const processes = new Map<string, string>();
  const firstLine = new Map<string, number>();
  const issues: string[] = [];

  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = LINE.exec(line);
    if (match === null) {
      issues.push(
        `${file}:${lineNo}: malformed line ${JSON.stringify(truncate(line))}; ` +
          `expected "name: command" with a name of letters, digits, "_" or "-"`,
      );
      return;
    }
    const name = match[1];
    const command = match[2];
    const seen = firstLine.get(name);
    if (seen !== undefined) {
      issues.push(`${file}:${lineNo}: duplicate process "${name}" (first on line ${seen}); keep one`);
      return;
    }
    firstLine.set(name, lineNo);
    if (command.trim() === "") {
      issues.push(`${file}:${lineNo}: process "${name}" has no command; write "${name}: <command>"`);
      return;
    }
    processes.set(name, command.trim());
  });

  if (options.requireTcp === true && !firstLine.has("tcp")) {
    issues.push(`${file}: no "tcp" process; add a line like "tcp: node server.js"`);
  }
  if (issues.length > 0) throw new ProcfileError(issues);
  return processes;
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
