import * as fs from "node:fs";
import * as path from "node:path";

/**
 * docs/aws-behaviours.md is the cited catalogue of what AWS and Terraform do and how the
 * declaration and local mode follow it. Each row needs a source (a link or an issue, and a quoted
 * sentence) and tests named as `__tests__/path/file.test.ts` › "exact test name"; this test fails
 * on a row without a source or a reference to a test that does not exist, and lists each one.
 */

const ROOT = path.resolve(__dirname, "../..");
const CATALOGUE = path.join(ROOT, "docs", "aws-behaviours.md");
const [START, END] = ["<!-- catalogue:start -->", "<!-- catalogue:end -->"];
const COLUMNS = ["behaviour", "source", "declaration", "local mode", "tests"];

interface Row {
  readonly behaviour: string;
  readonly source: string;
  readonly declaration: string;
  readonly localMode: string;
  readonly tests: readonly { readonly file: string; readonly name: string }[];
}

/** The table between the markers, one Row per line after the header and its rule. */
function catalogue(text: string): { header: string[]; rows: Row[] } {
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`docs/aws-behaviours.md: no table between ${START} and ${END}`);
  const lines = text.slice(from + START.length, to).split("\n").filter((l) => l.startsWith("|"));
  const cells = (line: string) => line.slice(1, line.endsWith("|") ? -1 : undefined).split(" | ").map((c) => c.trim());
  const [header, , ...body] = lines.map(cells);
  const rows = body.map(([behaviour, source, declaration, localMode, tests]) => ({
    behaviour,
    source: source ?? "",
    declaration: declaration ?? "",
    localMode: localMode ?? "",
    tests: [...(tests ?? "").matchAll(/`(__tests__\/[^`]+\.test\.ts)` › "([^"]+)"/g)].map((m) => ({ file: m[1], name: m[2] })),
  }));
  return { header, rows };
}

/** A link or an issue reference (owner/repo#123), and a quoted sentence. */
function hasSource(source: string): boolean {
  const where = /https:\/\/\S+/.test(source) || /\b[\w.-]+\/[\w.-]+#\d+\b/.test(source);
  const quote = /"[^"]{12,}"|“[^”]{12,}”/.test(source);
  return where && quote;
}

/** Every test reference whose file is missing or does not contain the test name, as one line each. */
export function missingReferences(rows: readonly Row[], root = ROOT): string[] {
  const missing: string[] = [];
  const sources = new Map<string, string | undefined>();
  for (const row of rows) {
    for (const { file, name } of row.tests) {
      if (!sources.has(file)) {
        const full = path.join(root, file);
        sources.set(file, fs.existsSync(full) ? fs.readFileSync(full, "utf8") : undefined);
      }
      const text = sources.get(file);
      if (text === undefined) missing.push(`${file} › "${name}" (row "${row.behaviour}"): no such file`);
      else if (!text.includes(`"${name}"`) && !text.includes(`'${name}'`) && !text.includes(`\`${name}\``)) {
        missing.push(`${file} › "${name}" (row "${row.behaviour}"): no test of that name in the file`);
      }
    }
  }
  return missing;
}

/** A test name that exists in __tests__/architecture/layering.test.ts (the probe's positive case). */
const LAYERING_TEST = /it\("([^"]+)"/.exec(fs.readFileSync(path.join(ROOT, "__tests__/architecture/layering.test.ts"), "utf8"))?.[1] ?? "";

describe("docs/aws-behaviours.md", () => {
  const { header, rows } = catalogue(fs.readFileSync(CATALOGUE, "utf8"));

  it("has the catalogue's columns and at least the rows the declaration relies on", () => {
    expect(header).toEqual(COLUMNS);
    const behaviours = rows.map((r) => r.behaviour.toLowerCase()).join("\n");
    for (const topic of [
      "proxy v2 on health checks",
      "first check",
      "fail-open",
      "propagation lag",
      "deregistration delay and connection termination",
      "unhealthy targets' connections",
      "350 s tcp idle timeout",
      "client ip preservation",
      "cross-zone",
      "sigterm, stoptimeout, sigkill",
      "circuit breaker",
      "120 s stoptimeout",
      "awslogs modes",
      "terraform version s3 locking needs",
      "route-table associations",
      "dualstack dns",
      "eip subnet mappings",
      "fargate zones",
      "secret arn forms",
      "one nat or one per zone",
    ]) {
      expect(behaviours).toContain(topic);
    }
  });

  it("gives every row a source with a link or an issue and the quoted sentence", () => {
    expect(rows.filter((r) => !hasSource(r.source)).map((r) => r.behaviour)).toEqual([]);
  });

  it("fills every row's declaration, local mode and tests", () => {
    const empty = rows.filter((r) => r.declaration === "" || r.localMode === "" || r.tests.length === 0).map((r) => r.behaviour);
    expect(empty).toEqual([]);
  });

  it("names only tests that exist, each in its file", () => {
    expect(missingReferences(rows)).toEqual([]);
  });

  it("reports a reference to a missing file and to a missing test name, one line each", () => {
    const row: Row = {
      behaviour: "probe",
      source: "",
      declaration: "",
      localMode: "",
      tests: [
        { file: "__tests__/architecture/layering.test.ts", name: LAYERING_TEST },
        { file: "__tests__/architecture/layering.test.ts", name: "a test that is not there" },
        { file: "__tests__/nowhere/gone.test.ts", name: "anything" },
      ],
    };
    expect(missingReferences([row])).toEqual([
      '__tests__/architecture/layering.test.ts › "a test that is not there" (row "probe"): no test of that name in the file',
      '__tests__/nowhere/gone.test.ts › "anything" (row "probe"): no such file',
    ]);
  });
});
