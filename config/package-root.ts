import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The folder of the nearest package.json above `start`: this package's root, whether the code
 * runs from its TypeScript sources (a clone), from the compiled `lib/` (`npm run build`), or from
 * `node_modules/tcp-addon/lib/` in another project. `runtime/Dockerfile`, the agent's sources and
 * the agent bundle (`dist/`) are found from here, never from a fixed number of `..`.
 */
export function packageRootOf(start: string): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start);
  }
}

/** This package's root folder. */
export const PACKAGE_ROOT = packageRootOf(__dirname);
