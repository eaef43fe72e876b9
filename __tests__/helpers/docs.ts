import * as fs from "node:fs";
import * as path from "node:path";

/** The repository's user documentation: README.md and every Markdown page under docs/. */

export const REPO = path.resolve(__dirname, "../..");

export interface DocFile {
  /** Relative to the repository, e.g. `README.md`, `docs/verify.md`. */
  readonly file: string;
  readonly text: string;
}

/** README.md and docs/**\/*.md, in a stable order. */
export function docFiles(): DocFile[] {
  const files = ["README.md"];
  const walk = (dir: string): void => {
    if (!fs.existsSync(path.join(REPO, dir))) return;
    for (const entry of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".md")) files.push(rel);
    }
  };
  walk("docs");
  return files.map((file) => ({ file, text: fs.readFileSync(path.join(REPO, file), "utf8") }));
}

/**
 * The section under the first heading (any level) whose text is `title`, up to the next heading
 * of the same or a higher level, wherever it lives in the docs.
 * @throws Error when no page has it.
 */
export function docSection(title: string): DocFile {
  for (const doc of docFiles()) {
    const lines = doc.text.split("\n");
    const start = lines.findIndex((line) => /^#+ /.test(line) && line.replace(/^#+ /, "").trim() === title);
    if (start < 0) continue;
    const level = /^#+/.exec(lines[start]!)![0].length;
    let end = start + 1;
    let fenced = false;
    for (; end < lines.length; end++) {
      if (lines[end]!.startsWith("```")) fenced = !fenced;
      const heading = /^(#+) /.exec(lines[end]!);
      if (!fenced && heading !== null && heading[1]!.length <= level) break;
    }
    return { file: doc.file, text: lines.slice(start, end).join("\n") };
  }
  throw new Error(`no heading "${title}" in README.md or docs/`);
}

export interface CodeBlock {
  readonly lang: string;
  readonly text: string;
  /** The bold file name (**`stack.ts`**) on the paragraph just above the block, if any. */
  readonly file?: string;
}

/** The fenced code blocks of a Markdown text, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  for (const m of markdown.matchAll(/(?:^|\n)(?:\*\*`([^`]+)`\*\*[^\n]*\n+)?```([a-z]*)\n([\s\S]*?)```/g)) {
    blocks.push({ lang: m[2]!, text: m[3]!, ...(m[1] === undefined ? {} : { file: m[1] }) });
  }
  return blocks;
}

/** The commands of a `sh` block: one per line, without the trailing `# comment`, which is returned beside. */
export function shellLines(block: CodeBlock): { command: string; comment: string }[] {
  return block.text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
    .map((line) => {
      const at = line.search(/\s+# /);
      return at < 0 ? { command: line.trim(), comment: "" } : { command: line.slice(0, at).trim(), comment: line.slice(at).replace(/^\s+# /, "") };
    });
}
