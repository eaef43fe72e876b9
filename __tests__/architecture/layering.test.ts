import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { specifiers } from "../helpers/imports";
import { BESIDE, inside, type Layer, LAYERS, layerOf, NOT_SOURCES } from "./layers";

/**
 * The layers (layers.ts), enforced on every import of every source file, floor by floor:
 *   0 runtime/agent  stands alone: node built-ins and its own folder (__tests__/agent/layering.test.ts)
 *   1 ground         the agent's contract and errors, re-exported for every other layer
 *   2 config         zod, yaml, fastest-levenshtein, node; ground
 *   3 constructs     cdktf, constructs, provider classes by path; config, ground
 *   3 runtime/local  node, selfsigned; config, ground, the agent — never the constructs or cdktf
 *   4 main.ts        the cdktf app: read the config, build the stacks, synth
 *   5 cli            the tcp-addon command (verify and timeline too): every floor below
 * bench/, scripts/, examples/, bin/ and __tests__/ sit beside the floors and may use all of them.
 */

const ROOT = path.resolve(__dirname, "../..");
const BUILTINS = new Set(builtinModules);

function sourceFiles(folder: string): string[] {
  if (folder.endsWith(".ts")) return [folder];
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, folder), { withFileTypes: true })) {
    const rel = path.join(folder, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (entry.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

function isBuiltin(spec: string): boolean {
  return spec.startsWith("node:") || BUILTINS.has(spec);
}

function violations(layer: Layer): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(layer.folder)) {
    for (const spec of specifiers(fs.readFileSync(path.join(ROOT, file), "utf8"))) {
      if (isBuiltin(spec)) continue;
      if (spec.startsWith(".")) {
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
        if (inside(target, layer.folder) || layer.folders.some((folder) => inside(target, folder))) continue;
        problems.push(`${file} imports ${target}`);
      } else if (!layer.packages.some((p) => p.test(spec))) {
        problems.push(`${file} imports package ${spec}`);
      }
    }
  }
  return problems;
}

/** Every folder below the root that holds TypeScript sources, outside the folders beside the floors. */
function sourceFolders(dir = ""): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory() && !NOT_SOURCES.has(entry.name) && !BESIDE.includes(rel)) found.push(...sourceFolders(rel));
    else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) found.push(dir === "" ? rel : dir);
  }
  return [...new Set(found)];
}

describe("the import layering", () => {
  it.each(LAYERS.map((layer) => [layer.folder, layer] as const))("%s imports only what its layer allows", (_name, layer) => {
    expect(sourceFiles(layer.folder).length).toBeGreaterThan(0);
    expect(violations(layer)).toEqual([]);
  });

  it("puts every folder with sources on a floor, or beside the floors", () => {
    expect(sourceFolders().filter((folder) => layerOf(folder) === undefined)).toEqual([]);
  });

  it("lets each layer import only from lower floors", () => {
    const upward = LAYERS.flatMap((layer) =>
      layer.folders.filter((folder) => (layerOf(folder)?.floor ?? Infinity) >= layer.floor).map((folder) => `${layer.folder} -> ${folder}`),
    );
    expect(upward).toEqual([]);
  });

  it("finds an import that breaks a layer (the check itself works)", () => {
    const probe = path.join(ROOT, "config", "__layering_probe__.ts");
    fs.writeFileSync(probe, 'import { TcpApp } from "../constructs/tcp-app";\nexport const x = TcpApp;\n');
    try {
      expect(violations(LAYERS.find((l) => l.folder === "config")!)).toEqual(["config/__layering_probe__.ts imports constructs/tcp-app"]);
    } finally {
      fs.rmSync(probe);
    }
  });

  it("finds a file of config that reaches into the agent past ground/", () => {
    const probe = path.join(ROOT, "config", "__layering_probe__.ts");
    fs.writeFileSync(probe, 'export { MAX_PPS } from "../runtime/agent/contract";\n');
    try {
      expect(violations(LAYERS.find((l) => l.folder === "config")!)).toEqual(["config/__layering_probe__.ts imports runtime/agent/contract"]);
    } finally {
      fs.rmSync(probe);
    }
  });
});
