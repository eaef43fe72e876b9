import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildAgent } from "../runtime/agent/build";

/**
 * The agent and local-mode tests run the real bundle, exactly as it ships. Every temporary
 * file of the run (the tests', cdktf's synth folders, terraform's, the browser's) goes under
 * one folder that the teardown removes: the workers inherit TMPDIR from here.
 */
export default async function globalSetup(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-test-"));
  process.env.TCP_ADDON_TEST_SCRATCH = scratch;
  process.env.TMPDIR = scratch;
  await buildAgent();
}
