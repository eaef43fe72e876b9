/**
 * The sending end of a rate case, in its own process, so that the bench's process only reads
 * and counts: a late turn of the senders' event loop then cannot move bytes from one measured
 * window to the next. Started as `node load-worker.js '<json>'`:
 * - source-server: listens, writes as fast as each connection takes it, prints
 *   `{"event":"ready","port":N}`, then `{"event":"reached"}` once `connections` are open;
 * - sources: opens `connections` to `port` and writes as fast as they take it (buffers of
 *   `writeBytes` when given, else 64 KiB), prints `{"event":"ready"}`.
 * Runs until SIGTERM.
 */
import { smallSources, sourceServer, sources } from "./load";

interface SourceServerJob {
  readonly mode: "source-server";
  readonly connections: number;
}

interface SourcesJob {
  readonly mode: "sources";
  readonly port: number;
  readonly connections: number;
  readonly writeBytes?: number;
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + "\n");
}

async function main(job: SourceServerJob | SourcesJob): Promise<void> {
  if (job.mode === "source-server") {
    const server = sourceServer();
    emit({ event: "ready", port: await server.listen() });
    process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
    await server.waitConnections(job.connections, 60_000);
    emit({ event: "reached" });
    return;
  }
  const load = job.writeBytes ? await smallSources(job.port, job.connections, job.writeBytes) : await sources(job.port, job.connections);
  emit({ event: "ready" });
  process.once("SIGTERM", () => {
    load.stop();
    process.exit(0);
  });
}

main(JSON.parse(process.argv[2])).catch((err: Error) => {
  process.stderr.write(`load-worker: ${err.message}\n`);
  process.exit(1);
});
