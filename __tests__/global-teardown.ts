import * as fs from "node:fs";

/** Removes the run's temporary folder (see global-setup.ts). */
export default async function globalTeardown(): Promise<void> {
  const scratch = process.env.TCP_ADDON_TEST_SCRATCH;
  if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
}
