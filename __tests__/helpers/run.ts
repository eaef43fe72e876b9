import { execFile } from "node:child_process";

/** What a finished process left: its exit code (null when killed), stdout and stderr. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `file args` in `cwd` with `env` over the test's own environment (or `env` alone with
 * `replaceEnv`); killed after `timeoutMs`.
 */
export function runProcess(
  file: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number; replaceEnv?: boolean },
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      {
        cwd: options.cwd,
        env: options.replaceEnv === true ? options.env : { ...process.env, ...options.env },
        timeout: options.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
