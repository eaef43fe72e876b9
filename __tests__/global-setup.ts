import { buildAgent } from "../runtime/agent/build";

/** The agent and local-mode tests run the real bundle, exactly as it ships. */
export default async function globalSetup(): Promise<void> {
  await buildAgent();
}
