import * as fs from "node:fs";
import * as path from "node:path";
import { generatedFiles } from "../../scripts/docs/generated";
import { REPO } from "./pages";

/** The pages and the schema written from the code are the ones checked in (`npm run docs:generate` writes them). */
describe.each(Object.entries(generatedFiles()))("%s", (file, text) => {
  it("is up to date with the code; run `npm run docs:generate`", () => {
    const target = path.join(REPO, file);
    expect(fs.existsSync(target)).toBe(true);
    expect(fs.readFileSync(target, "utf8")).toBe(text);
  });
});
