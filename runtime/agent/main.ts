import { runAgent } from "./agent";
import { monotonicClock } from "./clock";
import { FlagError } from "./errors";
import { AGENT_ENV } from "./contract";
import { parseFlags, type ParsedFlags, USAGE } from "./flags";
import { checkLifelineFd } from "./lifeline";
import { BoundedSink, Logger } from "./log";

/**
 * The `tcp-addon-agent` command. Exits 2 on bad flags (one line on stderr, then the
 * usage), 1 if a port cannot be bound or the lifeline is lost, else with the app's code (wrapper mode) or 0
 * after a clean drain (sidecar mode).
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<never> {
  let parsed: ParsedFlags;
  try {
    parsed = parseFlags(argv, env);
    if (!parsed.help && parsed.options.lifelineFd !== null) {
      checkLifelineFd(parsed.options.lifelineFd, argv.some((arg) => arg.startsWith("--lifeline-fd")) ? "--lifeline-fd" : AGENT_ENV.lifelineFd);
    }
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    process.stderr.write(`tcp-addon-agent: ${error.message}\n\n${USAGE}`);
    return process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return process.exit(0);
  }
  // Logs are best effort: a reader that went away must not take the proxy down with it.
  process.stdout.on("error", () => {});
  const code = await runAgent(parsed.options, { logger: new Logger(new BoundedSink(process.stdout)), env, clock: monotonicClock });
  return process.exit(code);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: Error) => {
    process.stderr.write(`tcp-addon-agent: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}
