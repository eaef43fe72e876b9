#!/usr/bin/env node
"use strict";
// The `tcp-addon` command: runs the TypeScript CLI through tsx, so it works from a clone
// without a build step (`npx tcp-addon validate`).
require("tsx/cjs");
const { main } = require("../runtime/cli/main.ts");

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`tcp-addon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
