import * as fs from "node:fs";
import * as path from "node:path";
import * as semver from "semver";
import { docFiles, REPO } from "../helpers/docs";

/**
 * package.json `engines.node` promises only Node versions every locked package accepts, so
 * `npm ci` on a version inside the range prints no EBADENGINE warning. npm checks each package's
 * own `engines` against the running Node (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#engines:
 * "Unless the user has set the engine-strict config flag, this field is advisory only and will only
 * produce warnings when your package is installed as a dependency"); vega-lite 6.5.0 asked for
 * Node >=22, so the bench's charts use 6.4.3 (Node >=20).
 */


describe("engines", () => {
  it("the range package.json gives for Node is inside the engines of every package in the lock file", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { engines: { node: string } };
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as {
      packages: Record<string, { engines?: { node?: string } | string[] }>;
    };
    const ours = manifest.engines.node;
    expect(semver.validRange(ours)).not.toBeNull();
    const narrower = Object.entries(lock.packages).flatMap(([name, entry]) => {
      const theirs = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      return name !== "" && theirs !== undefined && !semver.subset(ours, theirs) ? [`${name}: ${theirs}`] : [];
    });
    expect(narrower).toEqual([]);
  });

  it("the docs state the same range wherever they name the Node versions", () => {
    const ours = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
    const stated = docFiles().flatMap((d) => [...d.text.matchAll(/Node `([^`]+)`/g)].map((m) => `${d.file}: ${m[1]}`));
    expect(stated.length).toBeGreaterThan(0);
    expect(stated.filter((s) => !s.endsWith(`: ${ours}`))).toEqual([]);
  });
});
