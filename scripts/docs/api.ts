import { Extractor, ExtractorConfig, type ExtractorMessage } from "@microsoft/api-extractor";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import * as ts from "typescript";

const execFileAsync = promisify(execFile);

/**
 * The library's public API, as its users import it: the report of each entry point of
 * package.json "exports" (@microsoft/api-extractor, checked in under api/) and the reference
 * pages under docs/api/ (TypeDoc with typedoc-plugin-markdown), both from the same sources.
 */

const ROOT = path.resolve(__dirname, "..", "..");

/** The entry points of package.json "exports" that hold TypeScript API, and where their report goes. */
export const API_ENTRY_POINTS = [
  { source: "constructs/index.ts", exports: [".", "./constructs"], report: "tcp-addon.api.md" },
  { source: "config/index.ts", exports: ["./config"], report: "tcp-addon-config.api.md" },
] as const;

/**
 * Where the declarations are written for api-extractor: a fixed folder inside the project (and
 * outside node_modules, which it reads as other packages), so a location a report quotes is the
 * same on every machine. Ignored by git.
 */
export const API_DECLARATIONS_FOLDER = path.join(ROOT, ".api-declarations");
/** The checked-in reports. */
export const API_REPORT_FOLDER = path.join(ROOT, "api");
/** The generated reference pages. */
export const API_DOCS_FOLDER = path.join(ROOT, "docs", "api");

/** Writes the declarations (.d.ts) of the entry points into `outDir`, as `npm run build` would. */
export function emitDeclarations(outDir: string): void {
  fs.rmSync(outDir, { recursive: true, force: true });
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, "tsconfig.build.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (parsed === undefined) throw new Error("tsconfig.build.json: cannot be read");
  const options: ts.CompilerOptions = { ...parsed.options, outDir, rootDir: ROOT, declaration: true, emitDeclarationOnly: true, noEmit: false, incremental: false };
  const program = ts.createProgram(API_ENTRY_POINTS.map((e) => path.join(ROOT, e.source)), options);
  const result = program.emit();
  const errors = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" }));
}

/** One entry point's run: whether its report changed, and the warnings api-extractor gave. */
export interface ApiReportResult {
  readonly report: string;
  readonly changed: boolean;
  readonly warnings: readonly string[];
}

/**
 * Runs api-extractor on each entry point's declarations in `dtsDir`. `update`: write the reports
 * into api/ (a local build); else compare, and write the new report into `tempDir` only.
 */
export function apiReports(dtsDir: string, tempDir: string, update: boolean): ApiReportResult[] {
  return API_ENTRY_POINTS.map((entry) => {
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: ROOT,
        mainEntryPointFilePath: path.join(dtsDir, entry.source.replace(/\.ts$/, ".d.ts")),
        compiler: { overrideTsconfig: { compilerOptions: { strict: true, skipLibCheck: true, module: "commonjs", moduleResolution: "node", types: ["node"] }, files: [path.join(dtsDir, entry.source.replace(/\.ts$/, ".d.ts"))] } },
        apiReport: { enabled: true, reportFolder: API_REPORT_FOLDER, reportTempFolder: tempDir, reportFileName: entry.report.replace(/\.api\.md$/, "") },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          // Documentation, not release stages: a missing doc comment is what this report watches.
          extractorMessageReporting: {
            default: { logLevel: "warning" as never, addToApiReportFile: true },
            "ae-missing-release-tag": { logLevel: "none" as never },
            // Marked "(undocumented)" in the report itself; the list of locations would only churn.
            "ae-undocumented": { logLevel: "warning" as never, addToApiReportFile: false },
          },
          // The sources use JSDoc tags (@default, @throws) that the TSDoc parser does not know.
          tsdocMessageReporting: { default: { logLevel: "none" as never } },
          compilerMessageReporting: { default: { logLevel: "warning" as never } },
        },
      },
      configObjectFullPath: undefined,
      packageJsonFullPath: path.join(ROOT, "package.json"),
    });
    const warnings: string[] = [];
    const result = Extractor.invoke(config, {
      localBuild: update,
      messageCallback: (message: ExtractorMessage) => {
        if (!String(message.messageId).startsWith("console-") && message.messageId !== "ae-undocumented") {
          if (message.logLevel === "warning" || message.logLevel === "error") warnings.push(message.formatMessageWithLocation(ROOT));
        }
        message.handled = true;
      },
    });
    return { report: entry.report, changed: result.apiReportChanged, warnings };
  });
}

/**
 * Writes the API reference pages (Markdown, one page per entry point) into `outDir` with TypeDoc's
 * command line and api/typedoc.json. A process of its own: TypeDoc is an ES module that its
 * Markdown plugin must share, which a CommonJS import here would load a second time.
 */
export async function apiReferencePages(outDir: string): Promise<void> {
  const typedoc = path.join(ROOT, "node_modules", "typedoc", "bin", "typedoc");
  const { stdout, stderr } = await execFileAsync(process.execPath, [typedoc, "--options", path.join(API_REPORT_FOLDER, "typedoc.json"), "--out", outDir], { cwd: ROOT });
  const problems = `${stdout}${stderr}`.trim();
  if (problems !== "") throw new Error(`typedoc: ${problems}`);
}

/** Every file under `dir`, by path relative to it, with its text. */
export function filesUnder(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else found.set(path.relative(dir, full), fs.readFileSync(full, "utf8"));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return found;
}
