import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";
import * as path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { EXAMPLE, freePort, LocalRun, RedisServer, within, writeConfig } from "./helpers";

/**
 * The MQTT sample through two local deploys: 20 subscribers with persistent sessions
 * (clean=false, QoS 1) that reconnect on their own, and a publisher at 50 messages a second.
 * Each deploy resets every old connection once; each subscriber resumes its session on a new
 * replica (the replicas share sessions through Redis).
 *
 * "The first packet sent from the Server to the Client MUST be a CONNACK Packet" (MQTT 3.1.1,
 * [MQTT-3.2.0-1]). aedes 1.2.0 subscribes a resumed session again before its CONNACK, and with
 * Redis a message published meanwhile went out first: mosquitto's clients stop with "A network
 * protocol error occurred" (libmosquitto refuses a PUBLISH before CONNACK), and miss every
 * later message. mqtt.js accepts it, so its subscribers check the first packet of each
 * connection; mosquitto_sub subscribers show the loss itself.
 *
 * A session that resumes also gets some messages twice (from its queue and live), and
 * acknowledges both: aedes-persistence-redis took a message off twice for that session, deleted
 * it while other sessions still owed it, and they never got it (1 to 41 messages for 3 to 5 of
 * 15 subscribers in each run here); server.js takes each message off once per session.
 */

jest.setTimeout(240_000);

const TOPIC = "deploy/seq";
const RATE = 50;
const MQTT_JS_SUBSCRIBERS = 10;
const hasMosquitto = spawnSync("mosquitto_sub", ["--help"]).error === undefined;
if (!hasMosquitto && process.env.CI === "true") throw new Error("mosquitto_sub (mosquitto-clients) is required under CI=true");
if (!hasMosquitto) process.stdout.write("mqtt-resume.test.ts: mosquitto_sub is missing here: only the mqtt.js subscribers run\n");
const MOSQUITTO_SUBSCRIBERS = hasMosquitto ? 10 : 0;

let run: LocalRun | undefined;
let redis: RedisServer | undefined;
const clients: MqttClient[] = [];
const processes: ChildProcess[] = [];
const servers: net.Server[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  for (const p of processes.splice(0)) p.kill("SIGKILL");
  for (const server of servers.splice(0)) server.close();
  await run?.stop();
  run = undefined;
  await redis?.stop();
  redis = undefined;
});

/** An mqtt.js subscriber with a persistent session: the messages it got and each connection's first packet. */
function mqttJsSubscriber(url: string, id: string) {
  const received = new Set<number>();
  const firstPackets: string[] = [];
  let first = true;
  const client = mqtt.connect(url, { clientId: id, clean: false, reconnectPeriod: 500 + Math.floor(Math.random() * 1000), connectTimeout: 5_000 });
  clients.push(client);
  client.on("error", () => undefined);
  client.on("packetsend", (packet) => {
    if (packet.cmd === "connect") first = true;
  });
  client.on("packetreceive", (packet) => {
    if (first) firstPackets.push(packet.cmd);
    first = false;
  });
  client.on("message", (_topic, payload) => received.add(Number(payload.toString())));
  const subscribed = within(
    new Promise<void>((resolve) => client.once("connect", () => client.subscribe(TOPIC, { qos: 1 }, () => resolve()))),
    20_000,
    `${id} to subscribe`,
  );
  return { id, received, firstPackets, subscribed };
}

/** mosquitto_sub with a persistent session (-c), QoS 1; it reconnects by itself and exits on a protocol error. */
function mosquittoSubscriber(port: number, id: string) {
  const received = new Set<number>();
  let stderr = "";
  // stdbuf -oL: line-buffered stdout, so that its debug lines (SUBACK) arrive as they happen
  const child = spawn("stdbuf", ["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", String(port), "-t", TOPIC, "-q", "1", "-c", "-i", id, "-d"], { stdio: ["ignore", "pipe", "pipe"] });
  processes.push(child);
  let buffered = "";
  let subscribedResolve!: () => void;
  const subscribed = within(new Promise<void>((resolve) => (subscribedResolve = resolve)), 20_000, `${id} to subscribe`);
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      if (/^\d+$/.test(line)) received.add(Number(line));
      if (/received SUBACK/.test(line)) subscribedResolve();
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exit = { code: null as number | null };
  child.once("exit", (code) => (exit.code = code));
  return { id, received, subscribed, exit, stderr: () => stderr };
}

describe("the MQTT sample through two local deploys", () => {
  it("sends CONNACK first on every resumed session and loses no QoS 1 message to 20 reconnecting subscribers", async () => {
    // given: two replicas sharing Redis, 20 persistent subscribers, a publisher at 50/s
    redis = await RedisServer.start();
    const port = await freePort();
    run = new LocalRun(["--config", writeConfig({ port, containers: 2, env: { REDIS_URL: redis.url } }), "--drain-seconds", "1"]);
    const url = await run.ready(2, 60_000);
    const viaJs = Array.from({ length: MQTT_JS_SUBSCRIBERS }, (_, i) => mqttJsSubscriber(url, `js-${i}-${process.pid}`));
    const viaMosquitto = Array.from({ length: MOSQUITTO_SUBSCRIBERS }, (_, i) => mosquittoSubscriber(port, `mosq-${i}-${process.pid}`));
    await Promise.all([...viaJs, ...viaMosquitto].map((s) => s.subscribed));
    const publisher = mqtt.connect(url, { clientId: `pub-${process.pid}`, clean: true, reconnectPeriod: 500 });
    clients.push(publisher);
    publisher.on("error", () => undefined);
    const acked = new Set<number>();
    let next = 1;
    const ticker = setInterval(() => {
      const n = next++;
      publisher.publish(TOPIC, String(n), { qos: 1 }, (err) => {
        if (err === undefined || err === null) acked.add(n);
      });
    }, 1000 / RATE);

    // when: two deploys, one after the other
    try {
      for (let deploy = 0; deploy < 2; deploy += 1) {
        const before = run.lines.length;
        run.child.kill("SIGHUP");
        await run.waitForLine(/mqtt \| deploy done/, 120_000, before);
      }
    } finally {
      clearInterval(ticker);
    }
    const everyone = [...viaJs, ...viaMosquitto];
    const missing = (s: { received: Set<number> }) => [...acked].filter((n) => !s.received.has(n));
    const deadline = Date.now() + 30_000;
    while (everyone.some((s) => missing(s).length > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));

    // then: every connection began with CONNACK; every subscriber has every acknowledged message
    const gaps = (s: { received: Set<number> }) => missing(s).slice(0, 12).join(" ");
    expect(acked.size).toBeGreaterThan(RATE * 20);
    expect(viaJs.every((s) => s.firstPackets.length >= 2)).toBe(true); // each reconnected at least once
    expect({
      publishBeforeConnack: viaJs.filter((s) => s.firstPackets.some((cmd) => cmd !== "connack")).map((s) => `${s.id}: ${s.firstPackets.join(",")}`),
      mosquittoExited: viaMosquitto.filter((s) => s.exit.code !== null).map((s) => `${s.id} exited ${s.exit.code}: ${s.stderr().trim().split("\n").slice(-2).join(" | ")}`),
      missing: everyone.filter((s) => missing(s).length > 0).map((s) => `${s.id}: ${missing(s).length} of ${acked.size} (${gaps(s)})`),
    }).toEqual({ publishBeforeConnack: [], mosquittoExited: [], missing: [] });
  });
});

/** How long the link to Redis holds each chunk. */
const link = { ms: 30 };

/**
 * A TCP proxy to `port` that holds every chunk `link.ms` before passing it on, in order: a slow
 * network to Redis. Each direction is one queue drained by one timer, so a chunk never leaves
 * before the chunks that came before it. A timer per chunk did not keep that order: "Node.js makes
 * no guarantees about the exact timing of when callbacks will fire, nor of their ordering"
 * (https://nodejs.org/api/timers.html#settimeoutcallback-delay-args), and a delay computed after
 * the clock had moved on a millisecond (29 ms instead of 30) fired before the chunk ahead of it
 * (in 29 of 42 runs beside a CPU hog). Redis' replies then reached the wrong commands, and a
 * resume got no CONNACK: aedes-persistence-redis failed to decode a reply meant for another
 * command, and the broker closed that connection or exited.
 */
async function slowProxy(port: number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    const delayed = (from: net.Socket, to: net.Socket) => {
      const queue: { due: number; chunk: Buffer }[] = [];
      let timer: NodeJS.Timeout | undefined;
      const flush = () => {
        while (queue.length > 0 && queue[0].due <= Date.now()) to.write(queue.shift()!.chunk);
        timer = queue.length > 0 ? setTimeout(flush, queue[0].due - Date.now()) : undefined;
      };
      from.on("data", (chunk: Buffer) => {
        queue.push({ due: Date.now() + link.ms, chunk });
        timer ??= setTimeout(flush, link.ms);
      });
    };
    delayed(client, upstream);
    delayed(upstream, client);
    const end = () => (client.destroy(), upstream.destroy());
    for (const socket of [client, upstream]) socket.on("error", end).on("close", end);
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as net.AddressInfo).port;
}

/** The sample's broker alone, with Redis 30 ms away each way; its URL. */
async function brokerOverSlowRedis(): Promise<string> {
  link.ms = 30;
  redis = await RedisServer.start();
  const port = await freePort();
  const broker = spawn(process.execPath, [path.join(EXAMPLE, "server.js")], {
    env: { ...process.env, PORT: String(port), REDIS_URL: `redis://127.0.0.1:${await slowProxy(redis.port)}` },
    stdio: ["ignore", "pipe", "inherit"],
  });
  processes.push(broker);
  let out = "";
  await within(new Promise<void>((resolve) => broker.stdout!.setEncoding("utf8").on("data", (t: string) => (out += t).includes("broker listening") && resolve())), 20_000, "the broker");
  return `tcp://127.0.0.1:${port}`;
}

describe("the MQTT sample resuming a persistent session over a slow link to Redis", () => {
  it("writes CONNACK before any message on each of 15 resumes while messages flow at 200/s", async () => {
    // given: the broker alone, Redis 30 ms away each way, a subscriber's persistent session
    const url = await brokerOverSlowRedis();
    const id = `resume-${process.pid}`;
    const first = mqtt.connect(url, { clientId: id, clean: false, reconnectPeriod: 0 });
    clients.push(first);
    await within(new Promise<void>((resolve) => first.once("connect", () => first.subscribe(TOPIC, { qos: 1 }, () => resolve()))), 20_000, "the first subscription");
    first.end(true);
    const publisher = mqtt.connect(url, { clientId: `pub-${process.pid}`, clean: true });
    clients.push(publisher);
    await within(new Promise<void>((resolve) => publisher.once("connect", () => resolve())), 20_000, "the publisher");
    let n = 0;
    const ticker = setInterval(() => publisher.publish(TOPIC, String(++n), { qos: 1 }), 5);

    // when: the subscriber resumes its session 15 times
    const firstPackets: string[] = [];
    try {
      for (let i = 0; i < 15; i += 1) {
        const client = mqtt.connect(url, { clientId: id, clean: false, reconnectPeriod: 0 });
        clients.push(client);
        client.on("error", () => undefined);
        const packet = await within(new Promise<string>((resolve) => client.once("packetreceive", (p) => resolve(p.cmd))), 20_000, "the first packet");
        firstPackets.push(packet);
        client.end(true);
      }
    } finally {
      clearInterval(ticker);
    }

    // then
    expect(n).toBeGreaterThan(0);
    expect(firstPackets).toEqual(firstPackets.map(() => "connack"));
  });
});
