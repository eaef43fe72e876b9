/**
 * The floors of the code, lowest first: each layer may import from its own folder, the packages
 * it names and the folders (or files) it names, all on lower floors. The layering test enforces
 * it on every import; docs/layout.md draws it, and a test checks the drawing against this table.
 */
export interface Layer {
  /** A folder (or a file) relative to the repository root. */
  readonly folder: string;
  /** 0 = the ground the others stand on; a layer imports only from lower floors. */
  readonly floor: number;
  readonly packages: readonly RegExp[];
  /** Folders or files (relative to the root) this layer may import from, besides its own. */
  readonly folders: readonly string[];
}

export const LAYERS: readonly Layer[] = [
  // Its own test (__tests__/agent/layering.test.ts) allows esbuild in build.ts alone, which the bundle never imports.
  { folder: "runtime/agent", floor: 0, packages: [/^esbuild$/], folders: [] },
  { folder: "ground", floor: 1, packages: [], folders: ["runtime/agent/contract.ts", "runtime/agent/errors.ts"] },
  { folder: "config", floor: 2, packages: [/^zod$/, /^yaml$/, /^fastest-levenshtein$/], folders: ["ground"] },
  {
    folder: "constructs",
    floor: 3,
    packages: [/^cdktf$/, /^constructs$/, /^@cdktf\/provider-aws\/lib\/[a-z0-9-]+$/],
    folders: ["config", "ground"],
  },
  { folder: "runtime/local", floor: 3, packages: [/^selfsigned$/], folders: ["config", "ground", "runtime/agent"] },
  { folder: "main.ts", floor: 4, packages: [/^cdktf$/], folders: ["constructs", "config", "ground"] },
  { folder: "cli", floor: 5, packages: [/^cdktf$/, /^tsx\/cjs$/], folders: ["main.ts", "constructs", "runtime/local", "config", "ground"] },
];

/** Folders beside the floors, which may use all of them: tests, benchmarks, the doc generators, examples, the bin wrappers. */
export const BESIDE = ["__tests__", "bench", "scripts", "examples", "bin"];

/** Built or installed output, never sources. */
export const NOT_SOURCES = new Set(["node_modules", "lib", "dist", "cdktf.out", ".api-declarations", ".git"]);

/** Whether `target` (a path relative to the root) is `folder` or inside it; a file matches with or without `.ts`. */
export function inside(target: string, folder: string): boolean {
  const withTs = target.endsWith(".ts") ? target : `${target}.ts`;
  return target === folder || withTs === folder || target.startsWith(`${folder}/`) || (folder.endsWith(".ts") && withTs === folder);
}

/** The layer a file or folder (relative to the root) belongs to. */
export function layerOf(target: string): Layer | undefined {
  return [...LAYERS].sort((a, b) => b.folder.length - a.folder.length).find((layer) => inside(target, layer.folder));
}
