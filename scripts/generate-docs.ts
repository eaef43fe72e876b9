import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { API_DECLARATIONS_FOLDER, API_DOCS_FOLDER, apiReferencePages, apiReports, emitDeclarations } from "./docs/api";
import { generatedFiles } from "./docs/generated";

/**
 * `npm run docs:generate`: writes every page and schema made from the code (scripts/docs/generated.ts),
 * the API reports (api/*.api.md) and the API reference (docs/api/). Tests fail when any is stale.
 */
const ROOT = path.resolve(__dirname, "..");

async function main(): Promise<void> {
  for (const [file, text] of Object.entries(generatedFiles())) {
    const target = path.join(ROOT, file);
    if (fs.existsSync(target) && fs.readFileSync(target, "utf8") === text) continue;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
    console.log(`wrote ${file}`);
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-docs-"));
  try {
    emitDeclarations(API_DECLARATIONS_FOLDER);
    for (const report of apiReports(API_DECLARATIONS_FOLDER, scratch, true)) {
      for (const warning of report.warnings) console.error(`warning: ${report.report}: ${warning}`);
      if (report.changed) console.log(`wrote api/${report.report}`);
    }
    await apiReferencePages(API_DOCS_FOLDER);
    console.log(`wrote ${path.relative(ROOT, API_DOCS_FOLDER)}/`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`docs:generate: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
