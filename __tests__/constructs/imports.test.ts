import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const SOURCE_DIRS = ["constructs", "runtime", "bench", "bin", "__tests__"];

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sourceFiles(full);
    return /\.(ts|js|mjs|cjs)$/.test(entry.name) ? [full] : [];
  });
}

describe("provider imports", () => {
  it("never load the @cdktf/provider-aws package index (seconds and hundreds of MB per synth)", () => {
    const files = [path.join(ROOT, "main.ts"), ...SOURCE_DIRS.flatMap((d) => sourceFiles(path.join(ROOT, d)))];
    const offenders = files.filter((file) => /(?:\bfrom\s+|\b(?:require|import)\s*\(\s*)["']@cdktf\/provider-aws["']/.test(fs.readFileSync(file, "utf8")));
    expect(files.length).toBeGreaterThan(10);
    expect(offenders.map((f) => path.relative(ROOT, f))).toEqual([]);
  });
});
