/**
 * A checker for CloudWatch Embedded Metric Format objects, written from the specification
 * (docs.aws.amazon.com, "Specification: Embedded metric format"): a root `_aws` with an integer
 * `Timestamp` in ms since the epoch and `CloudWatchMetrics`, an array of directives, each with a
 * `Namespace` (1-1024 chars), `Dimensions` (an array of dimension sets, each at most 30 names,
 * each name a string member of the root) and `Metrics` (at most 100, each a `Name` that is a
 * number member of the root and an optional `Unit` from CloudWatch's list).
 * Returns one line per violation; empty when the object is valid EMF.
 */
export const CLOUDWATCH_UNITS = new Set([
  "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
  "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
  "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
  "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
]);

export function emfViolations(value: unknown): string[] {
  const problems: string[] = [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) return ["root is not an object"];
  const root = value as Record<string, unknown>;
  const aws = root._aws as Record<string, unknown> | undefined;
  if (typeof aws !== "object" || aws === null) return ["no _aws object"];
  if (!Number.isInteger(aws.Timestamp) || (aws.Timestamp as number) < 1e12) problems.push("_aws.Timestamp is not an integer of ms since the epoch");
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) return [...problems, "_aws.CloudWatchMetrics is not a non-empty array"];
  directives.forEach((d: Record<string, unknown>, i) => {
    const at = `CloudWatchMetrics[${i}]`;
    if (typeof d.Namespace !== "string" || d.Namespace.length < 1 || d.Namespace.length > 1024) problems.push(`${at}.Namespace is not 1-1024 characters`);
    if (!Array.isArray(d.Dimensions)) problems.push(`${at}.Dimensions is not an array`);
    else
      d.Dimensions.forEach((set: unknown, j) => {
        if (!Array.isArray(set)) {
          problems.push(`${at}.Dimensions[${j}] is not an array`);
          return;
        }
        if (set.length > 30) problems.push(`${at}.Dimensions[${j}] has more than 30 dimensions`);
        for (const name of set) {
          if (typeof name !== "string" || typeof root[name] !== "string") problems.push(`${at}: dimension ${String(name)} has no string member`);
        }
      });
    if (!Array.isArray(d.Metrics) || d.Metrics.length === 0 || d.Metrics.length > 100) problems.push(`${at}.Metrics is not 1-100 metrics`);
    else
      d.Metrics.forEach((m: Record<string, unknown>) => {
        if (typeof m.Name !== "string" || m.Name.length < 1 || m.Name.length > 1024) problems.push(`${at}: a metric Name is not 1-1024 characters`);
        else if (typeof root[m.Name] !== "number" || !Number.isFinite(root[m.Name])) problems.push(`${at}: metric ${m.Name} has no number member`);
        if (m.Unit !== undefined && !CLOUDWATCH_UNITS.has(m.Unit as string)) problems.push(`${at}: metric ${String(m.Name)} has unit ${String(m.Unit)}`);
      });
  });
  return problems;
}
