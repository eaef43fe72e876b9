import * as fs from "node:fs";
import * as path from "node:path";
import MarkdownIt from "markdown-it";
import { runProcess } from "../helpers/run";
import { type DocPage, docPages, REPO } from "./pages";

/**
 * Every relative link in README.md, CHANGELOG.md and docs/ leads somewhere (the file exists; a #anchor is a
 * heading of the target), and every command the pages show (`npm run X`, `npx tcp-addon X`,
 * `tcp-addon X` in code) is a script of package.json or a command of the CLI's help.
 */

const markdown = new MarkdownIt({ html: true });
const pages = docPages();

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

const anchorsByFile = new Map<string, Set<string>>();

/** The anchors a Markdown file offers: its headings' slugs and any HTML id or name. */
function anchorsOf(file: string): Set<string> {
  const known = anchorsByFile.get(file);
  if (known !== undefined) return known;
  const text = fs.readFileSync(file, "utf8");
  const anchors = new Set<string>();
  const tokens = markdown.parse(text, {});
  tokens.forEach((token, i) => {
    if (token.type !== "heading_open") return;
    const words = (tokens[i + 1]?.children ?? []).filter((c) => c.type === "text" || c.type === "code_inline").map((c) => c.content);
    const base = slug(words.join(""));
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  });
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  anchorsByFile.set(file, anchors);
  return anchors;
}

/** Every link and image target of a page, with its line. */
function linksOf(page: DocPage): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  let line = 1;
  for (const block of markdown.parse(page.text, {})) {
    if (block.map) line = block.map[0] + 1; // a table's cells carry no lines: their row's
    for (const token of block.children ?? []) {
      const target = token.type === "link_open" ? token.attrGet("href") : token.type === "image" ? token.attrGet("src") : null;
      if (target !== null) found.push({ target: String(target), line });
    }
  }
  return found;
}

/** The word after `npm run`, `npx tcp-addon` or `tcp-addon` in every code span and code block. */
function commandsOf(page: DocPage): { runner: "npm run" | "tcp-addon"; name: string; line: number }[] {
  const found: { runner: "npm run" | "tcp-addon"; name: string; line: number }[] = [];
  const scan = (code: string, line: number) => {
    for (const m of code.matchAll(/(?<![\w/.-])(npm run|(?:npx )?tcp-addon)\s+([a-z][\w:-]*)/g)) {
      found.push({ runner: m[1] === "npm run" ? "npm run" : "tcp-addon", name: m[2]!, line });
    }
  };
  let line = 1;
  for (const block of markdown.parse(page.text, {})) {
    if (block.map) line = block.map[0] + 1;
    // A block's lines are commands each: a word at the end of one line does not run into the next.
    if (block.type === "fence" || block.type === "code_block") block.content.split("\n").forEach((text, i) => scan(text, line + 1 + i));
    for (const token of block.children ?? []) if (token.type === "code_inline") scan(token.content, line);
  }
  return found;
}

function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target);
}

describe("the documentation's links", () => {
  it("reads README.md and at least the topic pages", () => {
    const names = pages.map((p) => p.name);
    expect(names).toContain("README.md");
    for (const topic of ["configuration", "constructs", "local-mode", "deploys", "networking", "operations", "team", "verify", "agent", "performance", "security", "scalingo", "layout"]) {
      expect(names).toContain(`docs/${topic}.md`);
    }
  });

  it("has no relative link to a missing file or a missing heading", () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const { target, line } of linksOf(page)) {
        if (isExternal(target)) continue;
        const [file, anchor] = target.split("#", 2) as [string, string | undefined];
        const resolved = file === "" ? page.file : path.resolve(path.dirname(page.file), decodeURIComponent(file));
        if (!fs.existsSync(resolved)) {
          broken.push(`${page.name}:${line}: ${target}: no such file`);
        } else if (anchor !== undefined && anchor !== "" && resolved.endsWith(".md") && !anchorsOf(resolved).has(anchor)) {
          broken.push(`${page.name}:${line}: ${target}: no heading #${anchor} in ${path.relative(REPO, resolved)}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("finds a broken link and a broken anchor (the check can fail)", () => {
    const page: DocPage = { name: "docs/x.md", file: path.join(REPO, "docs", "x.md"), text: "[a](missing.md) [b](team.md#no-such-heading) [c](team.md#one-config-per-environment)\n" };
    const targets = linksOf(page).map((l) => l.target);
    expect(targets).toEqual(["missing.md", "team.md#no-such-heading", "team.md#one-config-per-environment"]);
    expect(fs.existsSync(path.join(REPO, "docs", "missing.md"))).toBe(false);
    const teamAnchors = anchorsOf(path.join(REPO, "docs", "team.md"));
    expect(teamAnchors.has("no-such-heading")).toBe(false);
    expect(teamAnchors.has("one-config-per-environment")).toBe(true);
  });
});

describe("the documentation's commands", () => {
  const scripts = Object.keys((JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);
  let cliCommands: string[] = [];

  beforeAll(async () => {
    const help = await runProcess(process.execPath, [path.join(REPO, "bin", "tcp-addon.js"), "--help"], { cwd: REPO, timeoutMs: 30_000 });
    expect(help.code).toBe(0);
    const list = help.stdout.slice(help.stdout.indexOf("Commands:"));
    cliCommands = [...list.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!);
  }, 40_000);

  it("reads the CLI's commands from its help", () => {
    expect(cliCommands).toEqual(expect.arrayContaining(["validate", "synth", "local", "verify", "timeline"]));
  });

  it("shows only npm scripts that package.json has and CLI commands that the help lists", () => {
    const unknown: string[] = [];
    let seen = 0;
    for (const page of pages) {
      for (const { runner, name, line } of commandsOf(page)) {
        seen++;
        const known = runner === "npm run" ? scripts.includes(name) : cliCommands.includes(name);
        if (!known) unknown.push(`${page.name}:${line}: \`${runner} ${name}\` is not ${runner === "npm run" ? "a script in package.json" : "a command in `tcp-addon --help`"}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(seen).toBeGreaterThan(20);
  });

  it("finds a command that does not exist (the check can fail)", () => {
    const page: DocPage = { name: "x.md", file: path.join(REPO, "x.md"), text: "`npm run\nsynth` and\n\n```sh\nnpx tcp-addon deploy --now\ntcp-addon-agent --listen 0\n```\n" };
    expect(commandsOf(page).map((c) => `${c.runner} ${c.name}`)).toEqual(["npm run synth", "tcp-addon deploy"]);
    expect(cliCommands).not.toContain("deploy");
  });
});
