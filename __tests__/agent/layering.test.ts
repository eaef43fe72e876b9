import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { specifiers } from "../helpers/imports";

const AGENT = path.resolve(__dirname, "../../runtime/agent");

/**
 * The one file allowed a package: the build script, which bundles the agent and is not part of
 * the bundle (the test below proves nothing the bundle runs imports it).
 */
const BUILD_TOOL: Readonly<Record<string, readonly string[]>> = { "build.ts": ["esbuild"] };

function sources(): string[] {
  return fs
    .readdirSync(AGENT, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .sort();
}

/** Why a specifier is not allowed in `file`, or null if it is. */
function violation(file: string, specifier: string): string | null {
  if (specifier.startsWith("node:")) return builtinModules.includes(specifier.slice(5)) ? null : "unknown node: module";
  if (builtinModules.includes(specifier)) return null;
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    const target = path.resolve(AGENT, path.dirname(file), specifier);
    return target === AGENT || target.startsWith(AGENT + path.sep) ? null : "a path outside runtime/agent";
  }
  return (BUILD_TOOL[file] ?? []).includes(specifier) ? null : "a package";
}

describe("the agent's layering", () => {
  it("finds the import forms it checks (the parser itself works)", () => {
    const text = [
      'import * as net from "node:net";',
      'import type { X } from "./x";',
      'export { y } from "../y";',
      'import "./side-effect";',
      'const z = require("zod");',
      'const w = await import("cdktf");',
      'import {\n  a,\n  b,\n} from "./multi";',
    ].join("\n");
    expect(specifiers(text)).toEqual(expect.arrayContaining(["node:net", "./x", "../y", "./side-effect", "zod", "cdktf", "./multi"]));
  });

  it("imports only Node built-ins and files inside runtime/agent", () => {
    const found = sources().flatMap((file) =>
      specifiers(fs.readFileSync(path.join(AGENT, file), "utf8")).flatMap((specifier) => {
        const why = violation(file, specifier);
        return why === null ? [] : [`${file}: "${specifier}" is ${why}`];
      }),
    );
    expect(found).toEqual([]);
  });

  it("keeps the build script out of what the agent runs: no agent file imports it", () => {
    const importers = sources().filter((file) => file !== "build.ts" && specifiers(fs.readFileSync(path.join(AGENT, file), "utf8")).some((s) => /\/build$/.test(s)));
    expect(importers).toEqual([]);
  });

  it("keeps the contract free of imports", () => {
    expect(specifiers(fs.readFileSync(path.join(AGENT, "contract.ts"), "utf8"))).toEqual([]);
  });
});
