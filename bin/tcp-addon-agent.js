#!/usr/bin/env node
"use strict";
// The `tcp-addon-agent` command. Runs the single-file bundle (dist/tcp-addon-agent.js,
// from `npm run build:agent`) when it is at least as new as the sources, else the
// TypeScript sources through tsx, so a fresh clone works without a build step. An installed
// package always runs the bundle (tsx is not among its dependencies).
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const bundle = path.join(root, "dist", "tcp-addon-agent.js");
const sources = path.join(root, "runtime", "agent");

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function bundleIsCurrent() {
  const built = mtime(bundle);
  if (built < 0) return false;
  // An installed package (no constructs/ sources: not a clone) runs its bundle; npm does not keep
  // the packed files' times, so the agent's sources may look newer than the bundle there.
  if (!fs.existsSync(path.join(root, "constructs", "index.ts"))) return true;
  let names;
  try {
    names = fs.readdirSync(sources);
  } catch {
    return true; // installed without sources: the bundle is all there is
  }
  return names.filter((name) => name.endsWith(".ts")).every((name) => mtime(path.join(sources, name)) <= built);
}

let agent;
if (bundleIsCurrent()) {
  agent = require(bundle);
} else {
  require("tsx/cjs");
  agent = require("../runtime/agent/main.ts");
}

agent.main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`tcp-addon-agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
