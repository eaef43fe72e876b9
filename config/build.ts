import * as fs from "node:fs";
import * as path from "node:path";
import { displayPath, errnoCode } from "./file";

/** The Dockerfile an app's `build:` folder must hold (the build runs `docker build -f Dockerfile .` there). */
export const APP_DOCKERFILE = "Dockerfile";

/**
 * What is wrong with an app's build folder, as one line with the fix, or undefined when it is a
 * folder with a Dockerfile. `where` says what the path is relative to, for the not-found case.
 */
export function appBuildProblem(folder: string, where = "the working folder"): string | undefined {
  const label = displayPath(folder);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(folder);
  } catch (err) {
    const code = errnoCode(err);
    return code === "ENOENT"
      ? `folder not found at ${label}; fix the path (relative to ${where}) or set \`image:\` to a prebuilt image`
      : `cannot read ${label} (${code ?? String(err)}); check the path and its permissions`;
  }
  if (!stat.isDirectory()) return `${label} is a file; name the folder that holds the app's Dockerfile`;
  if (!fs.existsSync(path.join(folder, APP_DOCKERFILE))) {
    return `no ${APP_DOCKERFILE} in ${label}; add one (examples/mqtt/Dockerfile is a small one) or set \`image:\` to a prebuilt image`;
  }
  return undefined;
}
