#!/usr/bin/env node
"use strict";
// The `tcp-addon` command. Runs the compiled CLI (lib/, from `npm run build`, which `npm ci`
// and `npm pack` run through `prepare`) when it is at least as new as the TypeScript sources;
// in a clone whose sources changed since the last build, runs the sources through tsx instead,
// so an edit is never hidden by a stale build. An installed package has no sources: lib/ it is.
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const compiled = path.join(root, "lib", "cli", "main.js");
const SOURCE_DIRS = ["config", "constructs", "runtime", "cli", "ground"];

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** True when some .ts file of the sources is newer than `built` (stops at the first one). */
function newerSource(dir, built) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && newerSource(full, built)) return true;
    } else if (entry.name.endsWith(".ts") && mtime(full) > built) {
      return true;
    }
  }
  return false;
}

function compiledIsCurrent() {
  const built = mtime(compiled);
  if (built < 0) return false;
  if (!fs.existsSync(path.join(root, "constructs", "index.ts"))) return true; // installed: no sources
  if (mtime(path.join(root, "main.ts")) > built) return false;
  return !SOURCE_DIRS.some((dir) => newerSource(path.join(root, dir), built));
}

let cli;
if (compiledIsCurrent()) {
  cli = require(compiled);
} else {
  require("tsx/cjs");
  cli = require("../cli/main.ts");
}

cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`tcp-addon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
