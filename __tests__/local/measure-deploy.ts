/**
 * Measures one SIGHUP deploy under load (not part of `npm test`):
 *
 *   npx tsx __tests__/local/measure-deploy.ts [--containers 2] [--time-scale 0.1] [--nlb-lag S] [--clients 20] [--events FILE]
 *
 * Starts `tcp-addon local` with the echo fixture, connects N long-lived clients that reconnect
 * at once when dropped, opens 50 new connections a second (16 kB echoed each) through the
 * whole deploy, and prints the deploy's duration, the new connections refused or failed, the
 * clients dropped, the longest reconnect gap and the propagation lag used.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConnectionLoop, ECHO_APP, SteadyClient } from "./deploy-load";
import { freePort, LocalRun, readEvents, within, writeConfig } from "./helpers";

async function measure(containers: number, timeScale: string, lag: string | undefined, clientCount: number, events: string): Promise<void> {
  const port = await freePort();
  const args = ["--config", writeConfig({ port, containers, command: `node ${ECHO_APP}` }), "--time-scale", timeScale, "--events", events];
  if (lag !== undefined) args.push("--nlb-lag", lag);
  const run = new LocalRun(args);
  const clients: SteadyClient[] = [];
  let loop: ConnectionLoop | undefined;
  try {
    await run.ready(containers, 600_000);
    for (let i = 0; i < clientCount; i += 1) clients.push(new SteadyClient(port));
    await within(Promise.all(clients.map((c) => c.whenConnected())), 30_000, "the clients to connect");
    loop = new ConnectionLoop(port, 50);
    const before = run.lines.length;
    const started = Date.now();
    run.child.kill("SIGHUP");
    await run.waitForLine(/\| deploy (done|rolled back)/, 1_200_000, before);
    const seconds = (Date.now() - started) / 1000;
    const results = await loop.stop();
    loop = undefined;
    await within(Promise.all(clients.map((c) => c.whenConnected())), 30_000, "every client to reconnect");
    const lagLine = run.lines.find((l) => /NLB lag/.test(l)) ?? "";
    const lagUsed = /NLB lag (\d+)/.exec(lagLine)?.[1];
    const failures = loop === undefined ? results.filter((r) => r.kind !== "ok") : [];
    const byKind = failures.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.kind]: (acc[r.kind] ?? 0) + 1 }), {});
    const refusedByNlb = readEvents(events).filter((e) => e.connection === "refused").reduce((n, e) => n + Number(e.count), 0);
    const gaps = clients.flatMap((c) => c.gaps);
    console.log(
      JSON.stringify({
        containers,
        timeScale: Number(timeScale),
        lagAwsSeconds: Number(lagUsed),
        deploySeconds: Number(seconds.toFixed(1)),
        deployAwsSeconds: Math.round(seconds / Number(timeScale)),
        newConnections: results.length,
        newConnectionsFailed: byKind,
        refusedByNlb,
        clients: clientCount,
        clientsDropped: clients.filter((c) => c.drops > 0).length,
        maxDropsPerClient: Math.max(...clients.map((c) => c.drops)),
        failedReconnectAttempts: clients.reduce((n, c) => n + c.failedAttempts, 0),
        longestReconnectGapMs: gaps.length === 0 ? 0 : Math.max(...gaps),
        events,
      }),
    );
  } finally {
    await loop?.stop();
    for (const c of clients) c.close();
    await run.stop(120_000);
  }
}

const { values } = parseArgs({
  options: {
    containers: { type: "string", default: "2" },
    "time-scale": { type: "string", default: "0.1" },
    "nlb-lag": { type: "string" },
    clients: { type: "string", default: "20" },
    events: { type: "string" },
  },
});
const events = values.events ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-measure-")), "events.jsonl");
measure(Number(values.containers), values["time-scale"]!, values["nlb-lag"], Number(values.clients), path.resolve(events)).then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
