import * as fs from "node:fs";
import { isRecord, TcpAddonError } from "../ground";

/**
 * Reading TCP_URLs from the file that `cdktf deploy --outputs-file FILE` writes:
 * `{ "<stack>": { ... } }`. cdktf nests outputs under the ids of the constructs that declare
 * them (`{ "acme": { "mqtt": { "TcpUrl": "tcp://..." } } }`) when the stack records that
 * mapping, and otherwise keys them by Terraform output id (`tcp_url_mqtt`, possibly with a
 * construct-path prefix and a hash suffix). Both shapes are read.
 */

/** Construct id of an app's TCP_URL output inside its TcpApp construct. */
export const TCP_URL_CONSTRUCT_ID = "TcpUrl";

/** The outputs file is missing, unreadable or holds no TCP_URL. */
export class OutputsError extends TcpAddonError {
  constructor(issue: string) {
    super("TCP_ADDON_OUTPUTS_INVALID", issue);
  }
}

export type OutputsFile = Readonly<Record<string, unknown>>;

/** The Terraform output id of an app's TCP_URL: `tcp_url_<app with - as _>`. */
export function tcpUrlOutputId(app: string): string {
  return `tcp_url_${app.replace(/-/g, "_")}`;
}

export function readOutputsFile(file: string, label: string): OutputsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : String(err);
    throw new OutputsError(
      code === "ENOENT"
        ? `${label}: outputs file not found; run \`npx cdktf deploy --outputs-file ${label}\` first (or pass --outputs FILE)`
        : `${label}: cannot read the outputs file (${code})`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new OutputsError(`${label}: not valid JSON; write it again with \`npx cdktf deploy --outputs-file ${label}\``);
  }
  if (!isRecord(data)) {
    throw new OutputsError(`${label}: expected an object of stacks, as \`cdktf deploy --outputs-file\` writes`);
  }
  return data;
}

export interface TcpUrl {
  /** The stack (`<project>[-<environment>]`) whose outputs hold it. */
  readonly stack: string;
  readonly app: string;
  readonly url: string;
}

/**
 * Finds each app's TCP_URL in the stack named `expect.stack`. Without `expect` (no config
 * file), lists every TCP_URL output of every stack. Problems are one line each.
 */
export function findTcpUrls(
  outputs: OutputsFile,
  label: string,
  expect?: { readonly stack: string; readonly apps: readonly string[] },
): { readonly urls: readonly TcpUrl[]; readonly problems: readonly string[] } {
  if (expect === undefined) {
    const urls: TcpUrl[] = [];
    for (const [stack, stackOutputs] of Object.entries(outputs)) {
      for (const leaf of leaves(stackOutputs)) {
        const app = appOfLeaf(leaf.path);
        if (app !== undefined) urls.push({ stack, app, url: leaf.value });
      }
    }
    return {
      urls,
      problems: urls.length === 0 ? [`${label}: no TCP_URL outputs found; deploy with \`npx cdktf deploy --outputs-file ${label}\``] : [],
    };
  }

  const stack = outputs[expect.stack];
  if (!isRecord(stack)) {
    const found = Object.keys(outputs);
    return {
      urls: [],
      problems: [
        `${label}: no stack "${expect.stack}"${found.length > 0 ? ` (found: ${found.join(", ")})` : ""}; ` +
          `deploy it with \`npx cdktf deploy --outputs-file ${label}\``,
      ],
    };
  }
  const all = leaves(stack);
  const urls: TcpUrl[] = [];
  const problems: string[] = [];
  for (const app of expect.apps) {
    const leaf = all.find((l) => leafIsApp(l.path, app));
    if (leaf === undefined) {
      problems.push(`apps.${app}: no TCP_URL output in ${label} (stack "${expect.stack}"); deploy again to create it`);
    } else {
      urls.push({ stack: expect.stack, app, url: leaf.value });
    }
  }
  return { urls, problems };
}

interface Leaf {
  readonly path: readonly string[];
  readonly value: string;
}

/** String values with their key paths; `{ value: "..." }` (terraform output -json) counts as a value. */
function leaves(node: unknown, at: readonly string[] = [], depth = 0): Leaf[] {
  if (typeof node === "string") return [{ path: at, value: node }];
  if (!isRecord(node) || depth > 16) return [];
  if (typeof node.value === "string" && ("type" in node || "sensitive" in node)) return [{ path: at, value: node.value }];
  return Object.entries(node).flatMap(([key, child]) => leaves(child, [...at, key], depth + 1));
}

function leafIsApp(at: readonly string[], app: string): boolean {
  const last = at[at.length - 1];
  if (last === undefined) return false;
  if (last === TCP_URL_CONSTRUCT_ID && at[at.length - 2] === app) return true;
  const id = tcpUrlOutputId(app);
  return last === id || last.endsWith(`_${id}`) || new RegExp(`(^|_)${id}_[0-9A-F]{8}$`).test(last);
}

/** The app a leaf belongs to, from the leaf's path alone (app names never contain "_"). */
function appOfLeaf(at: readonly string[]): string | undefined {
  const last = at[at.length - 1];
  if (last === undefined) return undefined;
  if (last === TCP_URL_CONSTRUCT_ID && at.length >= 2) return at[at.length - 2];
  const match = /(?:^|_)tcp_url_([a-z0-9_]+?)(?:_[0-9A-F]{8})?$/.exec(last);
  return match?.[1]?.replace(/_/g, "-");
}

