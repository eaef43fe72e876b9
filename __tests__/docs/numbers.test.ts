import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { synthConfig as benchConfig } from "../../bench/cases/synth";
import { describeSynth, synth } from "../../main";
import { main, type CliIo } from "../../cli/main";
import { docFiles, REPO } from "../helpers/docs";
import { terraformAvailability } from "../provider/second-apply";

/**
 * Every count of resources the docs (README.md, docs/**\/*.md) print is what a synth or the real
 * provider's plan gives today: each claim is found by its pattern wherever it lives, and any other
 * "N resources" or "plan N to add" in the docs fails the last test until it gets a pattern here.
 */

const EXAMPLE = path.join(REPO, "tcp-addon.yaml");
const FIXTURES = path.join(REPO, "__tests__", "provider", "fixtures", "valid");

interface Found {
  readonly file: string;
  readonly line: number;
  readonly match: RegExpMatchArray;
}

function find(pattern: RegExp): Found[] {
  const found: Found[] = [];
  for (const { file, text } of docFiles()) {
    for (const match of text.matchAll(new RegExp(pattern.source, "g"))) {
      found.push({ file, line: text.slice(0, match.index).split("\n").length, match });
    }
  }
  return found;
}

const number = (text: string) => Number(text.replace(/,/g, ""));
const where = (f: Found) => `${f.file}:${f.line}`;
/** The claim as one line (prose wraps it anywhere). */
const shown = (f: Found) => f.match[0].replace(/\s+/g, " ");

/** What each kind of claim looks like in the docs. */
const CLAIMS = {
  /** `wrote cdktf.out/stacks/acme/cdk.tf.json: 1 app, 1 stack, 43 resources`: synth of the example. */
  synthLine: /wrote cdktf\.out\/stacks\/[a-z0-9-]+\/cdk\.tf\.json: \d+ apps?, \d+ stacks?, \d+ resources?/,
  /** `acme: plan 43 to add, 0 to change, 0 to destroy`: verify of the example. */
  verifyLine: /([a-z][a-z0-9-]*): plan (\d+) to add, (\d+) to change, (\d+) to destroy/,
  /** `120 apps (3 NLBs, 1838 resources)`, across a line break too: the fixture __tests__/provider/fixtures/valid/apps-120.yaml. */
  fixture: /(\d+)\s+apps\s+\((\d+)\s+NLBs,\s+([\d,]+)\s+resources\)/,
  /** `100 apps (1534 resources with alarms and dashboards)`: the bench's synth config of that size. */
  bench: /(\d+)\s+apps\s+\(([\d,]+)\s+resources\s+with\s+alarms\s+and\s+dashboards\)/,
};

const work = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-doc-numbers-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface StackCounts {
  readonly line: string;
  readonly resources: number;
  readonly loadBalancers: number;
}

async function synthCounts(configFile: string): Promise<StackCounts> {
  const outdir = fs.mkdtempSync(path.join(work, "out-"));
  const summary = await synth(configFile, outdir);
  let loadBalancers = 0;
  for (const file of summary.stackFiles) {
    const tf = JSON.parse(fs.readFileSync(path.join(outdir, file), "utf8")) as { resource?: Record<string, Record<string, unknown>> };
    loadBalancers += Object.keys(tf.resource?.aws_lb ?? {}).length;
  }
  // The line as `npm run synth` prints it from the repository root.
  return { line: describeSynth({ ...summary, outdir: "cdktf.out" }), resources: summary.resources, loadBalancers };
}

jest.setTimeout(5 * 60_000);
// synth's notices (the local state file) are not what these tests read
beforeAll(() => jest.spyOn(console, "error").mockImplementation(() => undefined));

describe("counts in the docs", () => {
  it("the synth line shown is what `npm run synth` prints for tcp-addon.yaml", async () => {
    const found = find(CLAIMS.synthLine);
    expect(found.length).toBeGreaterThan(0);
    const { line } = await synthCounts(EXAMPLE);
    for (const f of found) expect(`${where(f)}: ${shown(f)}`).toBe(`${where(f)}: ${line}`);
  });

  it("each 'N apps (K NLBs, M resources)' is what the fixture apps-N.yaml synthesizes", async () => {
    const found = find(CLAIMS.fixture);
    expect(found.length).toBeGreaterThan(0);
    for (const f of found) {
      const fixture = path.join(FIXTURES, `apps-${f.match[1]}.yaml`);
      expect(fs.existsSync(fixture)).toBe(true);
      const counts = await synthCounts(fixture);
      expect(`${where(f)}: ${shown(f)}`).toBe(`${where(f)}: ${f.match[1]} apps (${counts.loadBalancers} NLBs, ${counts.resources} resources)`);
    }
  });

  it("each 'N apps (M resources with alarms and dashboards)' is what the bench's N-app synth config synthesizes", async () => {
    for (const f of find(CLAIMS.bench)) {
      const file = path.join(work, `bench-${f.match[1]}.json`);
      fs.writeFileSync(file, JSON.stringify(benchConfig(number(f.match[1]!))));
      const counts = await synthCounts(file);
      expect(`${where(f)}: ${shown(f)}`).toBe(`${where(f)}: ${f.match[1]} apps (${counts.resources} resources with alarms and dashboards)`);
    }
  });

  const terraform = terraformAvailability();
  (terraform.run ? it : it.skip)("the verify line shown is what `npm run verify` plans for tcp-addon.yaml with the real provider", async () => {
    const found = find(CLAIMS.verifyLine);
    expect(found.length).toBeGreaterThan(0);
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), env: process.env, cwd: REPO };
    expect(await main(["verify", "--config", EXAMPLE], io)).toBe(0);
    expect(err).toEqual([]);
    const planned = CLAIMS.verifyLine.exec(out[0] ?? "");
    expect(planned).not.toBeNull();
    // a plan from no state adds every resource the synth declares
    expect(number(planned![2]!)).toBe((await synthCounts(EXAMPLE)).resources);
    for (const f of found) expect(`${where(f)}: ${f.match.slice(1).join(" ")}`).toBe(`${where(f)}: ${planned!.slice(1).join(" ")}`);
  });

  it("has no other count of resources or planned changes than the ones checked above", () => {
    const spans = Object.values(CLAIMS).flatMap((claim) => find(claim).map((f) => ({ file: f.file, from: f.match.index!, to: f.match.index! + f.match[0].length })));
    const unchecked = find(/\b\d[\d,]*\s+resources\b|\bplan\s+\d+\s+to\s+add\b/).filter(
      (f) => !spans.some((s) => s.file === f.file && s.from <= f.match.index! && f.match.index! + f.match[0].length <= s.to),
    );
    expect(unchecked.map((f) => `${where(f)}: ${f.match[0]}`)).toEqual([]);
  });
});
