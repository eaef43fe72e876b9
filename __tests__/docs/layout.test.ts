import * as fs from "node:fs";
import * as path from "node:path";
import { LAYERS } from "../architecture/layers";
import { REPO } from "../helpers/docs";

/** The floors drawn in docs/layout.md: `floor N  folder  -> what it may import`. */
function drawnFloors(): { floor: number; folder: string; imports: string[] }[] {
  const text = fs.readFileSync(path.join(REPO, "docs", "layout.md"), "utf8");
  return [...text.matchAll(/^floor (\d+)\s+(\S+)\s+->\s+(.*)$/gm)].map((m) => ({
    floor: Number(m[1]),
    folder: m[2].replace(/\/$/, ""),
    imports: m[3].startsWith("(") ? [] : m[3].split(/\s+/).map((f) => f.replace(/\/$/, "")),
  }));
}

describe("the layout drawn in docs/layout.md", () => {
  it("has one line per layer of the layering test, on the same floor, importing the same folders", () => {
    const drawn = drawnFloors().map((d) => ({ ...d, imports: [...d.imports].sort() }));
    const tested = LAYERS.map((l) => ({ floor: l.floor, folder: l.folder, imports: [...l.folders].sort() }));
    const byFolder = (a: { folder: string }, b: { folder: string }) => a.folder.localeCompare(b.folder);
    expect(drawn.sort(byFolder)).toEqual(tested.sort(byFolder));
  });

  it("draws the floors from the top down", () => {
    const floors = drawnFloors().map((d) => d.floor);
    expect(floors.length).toBeGreaterThan(0);
    expect(floors).toEqual([...floors].sort((a, b) => b - a));
  });

  it("names every layer's folder in the table under the drawing", () => {
    const text = fs.readFileSync(path.join(REPO, "docs", "layout.md"), "utf8");
    const rows = text.split("\n").filter((line) => line.startsWith("| `"));
    const named = rows.map((row) => /^\| `([^`]+)`/.exec(row)![1].replace(/\/$/, ""));
    expect(named.sort()).toEqual(LAYERS.map((l) => l.folder).sort());
  });
});
