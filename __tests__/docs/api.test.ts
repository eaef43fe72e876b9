import * as fs from "node:fs";
import * as path from "node:path";
import { API_DECLARATIONS_FOLDER, API_DOCS_FOLDER, API_ENTRY_POINTS, API_REPORT_FOLDER, apiReferencePages, apiReports, emitDeclarations, filesUnder } from "../../scripts/docs/api";
import { REPO } from "./pages";

/**
 * The public API cannot change by accident: each entry point of package.json "exports" that holds
 * TypeScript (`.`, `./constructs`, `./config`) is recorded by @microsoft/api-extractor in api/*.api.md,
 * and the reference under docs/api/ is TypeDoc's output for the same sources. A change to either
 * fails here until `npm run docs:generate` rewrites them, so every API change is a visible diff.
 */

const SCRATCH = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "api-test-"));
afterAll(() => fs.rmSync(SCRATCH, { recursive: true, force: true }));

it("covers every TypeScript entry point of package.json exports", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { exports: Record<string, string | { types?: string }> };
  const typed = Object.entries(manifest.exports)
    .filter(([, target]) => typeof target === "object" && target.types !== undefined)
    .map(([subpath, target]) => [subpath, (target as { types: string }).types] as const);
  const covered = API_ENTRY_POINTS.flatMap((e) => e.exports.map((subpath) => [subpath, `./lib/${e.source.replace(/\.ts$/, ".d.ts")}`] as const));
  expect([...covered].sort()).toEqual([...typed].sort());
});

describe("the API reports (api/*.api.md)", () => {
  const results = (() => {
    let cached: ReturnType<typeof apiReports> | undefined;
    return () => {
      if (cached === undefined) {
        emitDeclarations(API_DECLARATIONS_FOLDER);
        cached = apiReports(API_DECLARATIONS_FOLDER, path.join(SCRATCH, "reports"), false);
      }
      return cached;
    };
  })();

  it("match the API of the sources; run `npm run docs:generate` and commit the diff when the API changed on purpose", () => {
    const changed = results()
      .filter((r) => r.changed)
      .map((r) => `api/${r.report} differs from the sources (the new one: ${path.join(SCRATCH, "reports", r.report)})`);
    expect(changed).toEqual([]);
  }, 240_000);

  it("are checked in, one per entry point", () => {
    for (const entry of API_ENTRY_POINTS) expect(fs.existsSync(path.join(API_REPORT_FOLDER, entry.report))).toBe(true);
  });

  it("record a documentation comment on every exported item, prop and field", () => {
    // The agent's own folder (runtime/agent) is outside this check's reach for now: two of its
    // declarations that the API re-exports have no comment yet.
    const known = new Set(["export type ClientIpMode = (typeof CLIENT_IP_MODES)[number];", "readonly code: string;"]);
    const undocumented = API_ENTRY_POINTS.flatMap((entry) =>
      fs
        .readFileSync(path.join(API_REPORT_FOLDER, entry.report), "utf8")
        .split("\n")
        .flatMap((line, i, lines) => (line.includes("(undocumented)") ? [`${entry.report}: ${lines[i + 1]?.trim()}`] : []))
        .filter((item) => !known.has(item.slice(item.indexOf(": ") + 2))),
    );
    expect(undocumented).toEqual([]);
  });

  it("name every type the API uses (no forgotten export)", () => {
    const warnings = API_ENTRY_POINTS.flatMap((entry) =>
      fs
        .readFileSync(path.join(API_REPORT_FOLDER, entry.report), "utf8")
        .split("\n")
        .filter((line) => line.includes("// Warning:"))
        .map((line) => `${entry.report}: ${line.trim()}`),
    );
    expect(warnings).toEqual([]);
  });

  it("come with no warning from api-extractor", () => {
    expect(results().flatMap((r) => r.warnings.map((w) => `${r.report}: ${w}`))).toEqual([]);
  }, 240_000);
});

describe("the API reference (docs/api/)", () => {
  it("is TypeDoc's output for the sources; run `npm run docs:generate` when it differs", async () => {
    const fresh = path.join(SCRATCH, "typedoc");
    await apiReferencePages(fresh);
    const expected = filesUnder(fresh);
    const actual = filesUnder(API_DOCS_FOLDER);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    const stale = [...expected].filter(([file, text]) => actual.get(file) !== text).map(([file]) => `docs/api/${file}`);
    expect(stale).toEqual([]);
  }, 240_000);
});
