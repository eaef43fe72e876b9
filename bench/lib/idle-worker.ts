/**
 * An upstream that accepts connections and holds them, in its own process so that its
 * sockets do not count against the bench's open-files limit. Prints `{"event":"ready","port":N}`,
 * then `{"event":"reached","count":N}` once `target` connections are open.
 */
import { once } from "node:events";
import { idleServer } from "./load";

async function main(target: number): Promise<void> {
  const server = idleServer();
  const port = await server.listen();
  process.stdout.write(JSON.stringify({ event: "ready", port }) + "\n");
  let reported = false;
  server.server.on("connection", () => {
    if (!reported && server.sockets.size >= target) {
      reported = true;
      process.stdout.write(JSON.stringify({ event: "reached", count: server.sockets.size }) + "\n");
    }
  });
  process.once("SIGTERM", () => {
    void server.close().then(() => process.exit(0));
  });
  await once(process, "beforeExit");
}

main(Number(process.argv[2])).catch((err: Error) => {
  process.stderr.write(`idle-worker: ${err.message}\n`);
  process.exit(1);
});
