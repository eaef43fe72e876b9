import type { MqttClient } from "mqtt";
import { connectMqtt, establishedTo, freePort, LocalRun, nextMessage, RedisServer, writeConfig } from "./helpers";

/** The MQTT sample run by `tcp-addon local`, reached by real mqtt.js clients at TCP_URL. */

jest.setTimeout(60_000);

let run: LocalRun | undefined;
let redis: RedisServer | undefined;
const clients: MqttClient[] = [];

async function startLocal(options: { containers: number; env?: Record<string, string> }): Promise<string> {
  const config = writeConfig({ port: await freePort(), ...options });
  run = new LocalRun(["--config", config, "--drain-seconds", "1"]);
  return run.ready(options.containers);
}

async function client(url: string): Promise<MqttClient> {
  const c = await connectMqtt(url);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await run?.stop();
  run = undefined;
  await redis?.stop();
  redis = undefined;
});

describe("tcp-addon local with the MQTT sample", () => {
  it("delivers what one client publishes to another client subscribed through TCP_URL", async () => {
    const url = await startLocal({ containers: 1 });
    const subscriber = await client(url);
    await subscriber.subscribeAsync("sensors/temperature", { qos: 1 });
    const received = nextMessage(subscriber, "sensors/temperature");

    const publisher = await client(url);
    await publisher.publishAsync("sensors/temperature", "21.5", { qos: 1 });

    await expect(received).resolves.toBe("21.5");
  });

  it("passes a message between clients on different replicas when they share Redis", async () => {
    redis = await RedisServer.start();
    const url = await startLocal({ containers: 2, env: { REDIS_URL: redis.url } });
    const replicas = [...run!.replicas().values()];

    // round robin: two connections in a row land on the two replicas
    const subscriber = await client(url);
    await subscriber.subscribeAsync("chat/room", { qos: 1 });
    const received = nextMessage(subscriber, "chat/room");
    const publisher = await client(url);
    const perReplica = replicas.map((r) => establishedTo(r.listen));
    await publisher.publishAsync("chat/room", "across replicas", { qos: 1 });

    expect(perReplica).toEqual([1, 1]);
    await expect(received).resolves.toBe("across replicas");
  });

  it("spreads 20 connections over both replicas", async () => {
    const url = await startLocal({ containers: 2 });
    const replicas = [...run!.replicas().values()];

    for (let i = 0; i < 20; i += 1) await client(url);
    const perReplica = replicas.map((r) => establishedTo(r.listen));

    expect(perReplica).toHaveLength(2);
    expect(perReplica[0] + perReplica[1]).toBe(20);
    expect(Math.min(...perReplica)).toBeGreaterThanOrEqual(5);
  });
});
