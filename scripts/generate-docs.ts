import * as fs from "node:fs";
import * as path from "node:path";
import { generatedFiles } from "./docs/generated";

/** `npm run docs:generate`: writes every generated page and schema (scripts/docs/generated.ts). */
const ROOT = path.resolve(__dirname, "..");
for (const [file, text] of Object.entries(generatedFiles())) {
  const target = path.join(ROOT, file);
  const before = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : undefined;
  if (before === text) continue;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, text);
  console.log(`wrote ${file}`);
}
