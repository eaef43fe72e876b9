import * as fs from "node:fs";
import * as path from "node:path";

/** The repository's root. */
export const REPO = path.resolve(__dirname, "..", "..");

/** One Markdown page of the documentation: its name from the root, its path and its text. */
export interface DocPage {
  readonly name: string;
  readonly file: string;
  readonly text: string;
}

/** README.md, CHANGELOG.md and every Markdown file under docs/, in a stable order. */
export function docPages(): DocPage[] {
  const files = [path.join(REPO, "README.md"), path.join(REPO, "CHANGELOG.md")];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".md")) files.push(full);
    }
  };
  walk(path.join(REPO, "docs"));
  return files.map((file) => ({ name: path.relative(REPO, file), file, text: fs.readFileSync(file, "utf8") }));
}
