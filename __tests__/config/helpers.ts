import { ConfigError, resolveConfig } from "../../config";

/** The problems resolving `raw` reports, one line each; fails when it resolves. */
export function issuesOf(raw: unknown): readonly string[] {
  try {
    resolveConfig(raw, "/srv");
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("expected a ConfigError");
}
