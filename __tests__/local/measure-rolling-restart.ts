/**
 * Measures a SIGHUP rolling restart of the MQTT sample under load (not part of `npm test`):
 *
 *   npx tsx __tests__/local/measure-rolling-restart.ts [--clients 200] [--containers 2] [--drain-seconds 3]
 *
 * Starts `tcp-addon local` with a Redis-backed broker, connects N clients with the sample
 * client's reconnect settings (examples/mqtt/client.js), opens fresh connections in a loop
 * during the restart, and prints refused / failed new connections, dropped clients and the
 * longest gap between a client's drop and its reconnection.
 */
import { parseArgs } from "node:util";
import mqtt, { type MqttClient } from "mqtt";
import { connectMqtt, freePort, LocalRun, RedisServer, within, writeConfig } from "./helpers";

async function measure(clientCount: number, containers: number, drainSeconds: number): Promise<void> {
  const redis = await RedisServer.start();
  const run = new LocalRun(["--config", writeConfig({ port: await freePort(), containers, env: { REDIS_URL: redis.url } }), "--drain-seconds", String(drainSeconds)]);
  const clients: MqttClient[] = [];
  try {
    const url = await run.ready(containers, 60_000);
    const gaps: number[] = [];
    const droppedAt = new Map<MqttClient, number>();
    const dropped = new Set<MqttClient>();
    for (let i = 0; i < clientCount; i += 1) {
      const client = mqtt.connect(url, {
        clientId: `measure-${process.pid}-${i}`,
        clean: false,
        reconnectPeriod: 500 + Math.floor(Math.random() * 1000),
        connectTimeout: 5_000,
        keepalive: 30,
      });
      clients.push(client);
      client.on("error", () => undefined);
      client.on("close", () => {
        if (!droppedAt.has(client)) droppedAt.set(client, Date.now());
      });
      client.on("connect", () => {
        const since = droppedAt.get(client);
        droppedAt.delete(client);
        if (since === undefined) return;
        gaps.push(Date.now() - since);
        dropped.add(client);
      });
    }
    const allConnected = () => Promise.all(clients.map((c) => (c.connected ? undefined : new Promise((r) => c.once("connect", r)))));
    await within(allConnected(), 60_000, `${clientCount} clients to connect`);
    gaps.length = 0;
    dropped.clear();

    const restartDone = run.waitForLine(/\| rolling restart done/, 300_000);
    let restarting = true;
    void restartDone.finally(() => (restarting = false));
    const fresh = { ok: 0, refused: 0, failed: 0 };
    const loop = (async () => {
      while (restarting) {
        try {
          (await connectMqtt(url)).end(true);
          fresh.ok += 1;
        } catch (err) {
          if (/ECONNREFUSED/.test((err as Error).message)) fresh.refused += 1;
          else fresh.failed += 1;
        }
      }
    })();
    const started = Date.now();
    run.child.kill("SIGHUP");
    await restartDone;
    const restartMs = Date.now() - started;
    await loop;
    await within(allConnected(), 60_000, "every client to reconnect");

    gaps.sort((a, b) => a - b);
    const pick = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] ?? 0;
    console.log(`rolling restart of ${containers} replicas with ${clientCount} connected clients (drain ${drainSeconds} s): ${(restartMs / 1000).toFixed(1)} s`);
    console.log(`new connections during the restart: ${fresh.ok} served, ${fresh.refused} refused, ${fresh.failed} failed otherwise`);
    console.log(`clients dropped and reconnected: ${dropped.size}/${clientCount} (${gaps.length} reconnections)`);
    console.log(`reconnect gap: median ${pick(0.5)} ms, p95 ${pick(0.95)} ms, longest ${gaps[gaps.length - 1] ?? 0} ms`);
  } finally {
    for (const client of clients) client.end(true);
    await run.stop(30_000);
    await redis.stop();
  }
}

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "200" },
    containers: { type: "string", default: "2" },
    "drain-seconds": { type: "string", default: "3" },
  },
});
measure(Number(values.clients), Number(values.containers), Number(values["drain-seconds"])).then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
