import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";

/**
 * The layers, enforced on every import of every source file:
 *   runtime/agent (stands alone: node built-ins and its own folder; __tests__/agent/layering.test.ts)
 *   config        (zod, yaml, fastest-levenshtein, node; the agent's contract and errors)
 *   constructs    (cdktf, constructs, provider classes by path; config; the agent's contract and errors)
 *   runtime/local (node; config; the agent) — never the constructs or cdktf
 * Entry points (main.ts, runtime/cli, bin, bench) may use every layer.
 */

const ROOT = path.resolve(__dirname, "../..");
const BUILTINS = new Set(builtinModules);

interface Layer {
  readonly folder: string;
  readonly packages: readonly RegExp[];
  /** Folders (relative to the root) this layer may import from, besides its own. */
  readonly folders: readonly string[];
}

const AGENT_SHARED = ["runtime/agent/contract.ts", "runtime/agent/errors.ts"];

const LAYERS: readonly Layer[] = [
  { folder: "config", packages: [/^zod$/, /^yaml$/, /^fastest-levenshtein$/], folders: AGENT_SHARED },
  {
    folder: "constructs",
    packages: [/^cdktf$/, /^constructs$/, /^@cdktf\/provider-aws\/lib\/[a-z0-9-]+$/],
    folders: ["config", ...AGENT_SHARED],
  },
  { folder: "runtime/local", packages: [/^selfsigned$/], folders: ["config", "runtime/agent"] },
];

function sourceFiles(folder: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, folder), { withFileTypes: true })) {
    const rel = path.join(folder, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (entry.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** Every module a file names in import, export-from, import() and require(). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']/gms,
    /^\s*import\s+["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]);
  return found;
}

function isBuiltin(spec: string): boolean {
  return spec.startsWith("node:") || BUILTINS.has(spec);
}

function violations(layer: Layer): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(layer.folder)) {
    for (const spec of importsOf(file)) {
      if (isBuiltin(spec)) continue;
      if (spec.startsWith(".")) {
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
        const withTs = target.endsWith(".ts") ? target : `${target}.ts`;
        const inside = (folder: string) => target === folder || target.startsWith(`${folder}/`) || withTs === folder;
        if (inside(layer.folder) || layer.folders.some(inside)) continue;
        problems.push(`${file} imports ${target}`);
      } else if (!layer.packages.some((p) => p.test(spec))) {
        problems.push(`${file} imports package ${spec}`);
      }
    }
  }
  return problems;
}

describe("the import layering", () => {
  it.each(LAYERS.map((layer) => [layer.folder, layer] as const))("%s imports only what its layer allows", (_name, layer) => {
    expect(sourceFiles(layer.folder).length).toBeGreaterThan(0);
    expect(violations(layer)).toEqual([]);
  });

  it("finds an import that breaks a layer (the check itself works)", () => {
    const probe = path.join(ROOT, "config", "__layering_probe__.ts");
    fs.writeFileSync(probe, 'import { TcpApp } from "../constructs/tcp-app";\nexport const x = TcpApp;\n');
    try {
      expect(violations(LAYERS[0])).toEqual(["config/__layering_probe__.ts imports constructs/tcp-app"]);
    } finally {
      fs.rmSync(probe);
    }
  });
});
