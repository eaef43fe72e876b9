/**
 * One side of the kernel-shaper reference, run inside a network namespace made by the
 * bench (`ip netns exec NS node shaper-worker.ts '<json>'`):
 * - sink: listens, waits for the connections, measures their rate, prints one JSON line;
 * - source: opens the connections and writes as fast as they take it until killed.
 */
import { once } from "node:events";
import { Meter, sinkServer, sources } from "./load";
import { measureRate } from "./rate";

interface SinkJob {
  readonly mode: "sink";
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  readonly pps: number;
  readonly warmupSeconds: number;
  readonly windows: number;
  readonly sampleMs: number;
}

interface SourceJob {
  readonly mode: "source";
  readonly host: string;
  readonly port: number;
  readonly connections: number;
}

async function main(job: SinkJob | SourceJob): Promise<void> {
  if (job.mode === "source") {
    const load = await sources(job.port, job.connections, job.host);
    process.stdout.write(JSON.stringify({ event: "ready" }) + "\n");
    process.once("SIGTERM", () => {
      load.stop();
      process.exit(0);
    });
    return;
  }
  const meter = new Meter();
  const sink = sinkServer(meter);
  sink.server.listen({ port: job.port, host: job.host, backlog: 1024 });
  await once(sink.server, "listening");
  process.stdout.write(JSON.stringify({ event: "ready" }) + "\n");
  await sink.waitConnections(job.connections);
  const result = await measureRate(meter, { ...job, warmup: job.warmupSeconds });
  process.stdout.write(JSON.stringify({ event: "result", result }) + "\n");
  await sink.close();
  process.exit(0);
}

main(JSON.parse(process.argv[2])).catch((err: Error) => {
  process.stderr.write(`shaper-worker: ${err.message}\n`);
  process.exit(1);
});
