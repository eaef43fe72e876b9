import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_ENV } from "../../config/file";
import { AGENT_ENV } from "../../runtime/agent/contract";
import { ERROR_HELP, errorsMarkdown, findErrorCodes } from "../../scripts/docs/errors";
import { REPO } from "./pages";

/** docs/errors.md lists every error code of the sources, each with what it means and the fix, and no other. */

const codes = findErrorCodes(REPO);
const page = fs.readFileSync(path.join(REPO, "docs", "errors.md"), "utf8");
const listed = [...page.matchAll(/^\| `(TCP_ADDON_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);

it("finds the codes of every layer's errors, with the class that carries each", () => {
  const byCode = new Map(codes.map((c) => [c.code, c.classes.map((k) => k.name)]));
  expect(byCode.get("TCP_ADDON_CONFIG_INVALID")).toEqual(["ConfigError"]);
  expect(byCode.get("TCP_ADDON_PORT_TAKEN")).toEqual(["ConstructError"]);
  expect(byCode.get("TCP_ADDON_POLICY_VIOLATION")).toContain("PolicyViolationError");
  expect(byCode.get("TCP_ADDON_LOCAL_CRASH_LOOP")).toEqual(["LocalError"]);
  expect(byCode.get("TCP_ADDON_AGENT_FLAG")).toEqual(["FlagError"]);
  expect(byCode.get("TCP_ADDON_TERRAFORM_CHECK")).toEqual(["TerraformCheckError"]);
  expect(codes.length).toBeGreaterThanOrEqual(30);
});

it("lists on the page every code the sources have, and no code they do not have", () => {
  const inCode = codes.map((c) => c.code);
  expect({ missingFromPage: inCode.filter((c) => !listed.includes(c)), goneFromCode: listed.filter((c) => !inCode.includes(c)) }).toEqual({ missingFromPage: [], goneFromCode: [] });
});

it("has what it means and the fix for every code, and help only for codes that exist", () => {
  const inCode = codes.map((c) => c.code);
  expect(inCode.filter((c) => ERROR_HELP[c] === undefined)).toEqual([]);
  expect(Object.keys(ERROR_HELP).filter((c) => !inCode.includes(c))).toEqual([]);
  expect(page).not.toContain("**not documented**");
});

it("marks a code without help, so a new code cannot slip onto the page unexplained", () => {
  const text = errorsMarkdown([{ code: "TCP_ADDON_NEW_THING", classes: [{ name: "ConfigError", base: "TcpAddonError", file: "config/errors.ts" }], usedIn: ["config/x.ts"] }], {});
  expect(text).toContain("| `TCP_ADDON_NEW_THING` | `ConfigError` | **not documented** | – |");
});

it("uses no environment variable's name as an error code", () => {
  const variables = new Set<string>([CONFIG_ENV, ...Object.values(AGENT_ENV)]);
  expect(codes.map((c) => c.code).filter((c) => variables.has(c))).toEqual([]);
});
