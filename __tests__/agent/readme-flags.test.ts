import * as fs from "node:fs";
import * as path from "node:path";
import { FLAGS, USAGE } from "../../runtime/agent/flags";

/** runtime/agent/README.md's flag table, held to the flag table the agent parses, so neither can go stale alone. */

const README = fs.readFileSync(path.resolve(__dirname, "../../runtime/agent/README.md"), "utf8");

/** The rows of the table under "## Flags": [flag cell, variable cell]. */
function flagRows(): Array<{ flag: string; variable: string }> {
  const section = README.slice(README.indexOf("## Flags"), README.indexOf("\n## ", README.indexOf("## Flags") + 1));
  return section
    .split("\n")
    .filter((line) => line.startsWith("| `-"))
    .map((line) => {
      const [flag, variable] = line.split("|").slice(1, 3).map((cell) => cell.trim());
      return { flag: /`(--?[a-z-]+)/.exec(flag)![1], variable: variable.replace(/`/g, "") };
    });
}

describe("runtime/agent/README.md's flags", () => {
  it("lists every flag the agent reads, with its variable", () => {
    const rows = new Map(flagRows().map((r) => [r.flag, r.variable]));
    for (const [flag, spec] of Object.entries(FLAGS)) expect([flag, rows.get(flag)]).toEqual([flag, spec.env]);
  });

  it("lists no flag the agent does not read", () => {
    const known = new Set([...Object.keys(FLAGS), "-h"]);
    expect(flagRows().map((r) => r.flag).filter((flag) => !known.has(flag))).toEqual([]);
  });

  it("and so does the usage text", () => {
    for (const [flag, spec] of Object.entries(FLAGS)) {
      expect(USAGE).toContain(flag);
      expect(USAGE).toContain(spec.env);
    }
  });
});
