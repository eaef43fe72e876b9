/** One line of the printed table. */
export interface Row {
  readonly section: string;
  readonly measure: string;
  readonly value: string;
  /** The goal the issue names for this measurement, if any. */
  readonly goal?: string;
  /** Whether the goal is met; undefined when there is no goal or no measurement. */
  readonly met?: boolean;
}

/** Plain-text table with aligned columns, one row per measurement. */
export function formatTable(rows: readonly Row[]): string {
  const header = ["section", "measure", "value", "goal", "met"];
  const cells = rows.map((r) => [r.section, r.measure, r.value, r.goal ?? "", metText(r.met, r.goal)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** The same rows as a GitHub-flavoured Markdown table, for the README. */
export function formatMarkdown(rows: readonly Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    "| section | measure | value | goal | met |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${esc(r.section)} | ${esc(r.measure)} | ${esc(r.value)} | ${esc(r.goal ?? "")} | ${metText(r.met, r.goal)} |`),
  ].join("\n");
}

function metText(met: boolean | undefined, goal: string | undefined): string {
  if (goal === undefined) return "";
  if (met === undefined) return "n/a";
  return met ? "met" : "NOT MET";
}

/** Number formatting helpers shared by the cases. */
export const fmt = {
  gbps: (v: number) => `${v.toFixed(2)} GB/s`,
  ratio: (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "n/a"),
  pct: (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : "n/a"),
  us: (v: number) => `${v.toFixed(0)} µs`,
  ms: (v: number) => `${v.toFixed(0)} ms`,
  mb: (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`,
  kb: (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`,
};
