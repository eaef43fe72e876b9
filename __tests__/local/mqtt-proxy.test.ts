import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";
import * as path from "node:path";
import { MqttClient } from "mqtt";
import { encodeProxyV2 } from "../../runtime/agent/proxy-protocol";
import { freePort } from "./helpers";

/** The MQTT sample reads the PROXY v2 header that the agent sends with `clientIp: proxy-v2-to-app`. */

jest.setTimeout(30_000);

const SERVER = path.resolve(__dirname, "../../examples/mqtt/server.js");
let broker: ChildProcess | undefined;
let output = "";
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  if (broker !== undefined && broker.exitCode === null) {
    broker.kill("SIGTERM");
    await once(broker, "exit");
  }
  broker = undefined;
});

async function startBroker(): Promise<number> {
  const port = await freePort();
  output = "";
  broker = spawn(process.execPath, [SERVER], { env: { ...process.env, PORT: String(port), REDIS_URL: "" }, stdio: ["ignore", "pipe", "pipe"] });
  broker.stdout!.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    broker!.stdout!.on("data", (text: string) => {
      output += text;
      if (output.includes("broker listening")) resolve();
    });
    broker!.once("exit", (code) => reject(new Error(`broker exited ${code}: ${output}`)));
  });
  return port;
}

/** An mqtt.js client whose connection starts with `preamble` (a PROXY header, or nothing). */
async function connect(port: number, clientId: string, preamble: Buffer): Promise<MqttClient> {
  const client = new MqttClient(
    () => {
      const socket = net.connect({ port, host: "127.0.0.1" });
      if (preamble.length > 0) socket.write(preamble);
      return socket;
    },
    { clientId, reconnectPeriod: 0, protocolVersion: 4 },
  );
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

async function logLine(pattern: RegExp): Promise<string> {
  for (let i = 0; i < 100; i += 1) {
    const line = output.split("\n").find((l) => pattern.test(l));
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no line matching ${pattern} in:\n${output}`);
}

describe("the MQTT sample and PROXY protocol v2", () => {
  it("logs the client's address from the header, and the MQTT session works behind it", async () => {
    const port = await startBroker();
    const header = encodeProxyV2({
      kind: "proxy",
      source: { address: "203.0.113.7", port: 51234 },
      destination: { address: "10.0.1.25", port: 1883 },
    });
    const client = await connect(port, "probe-proxy", header);
    expect(await logLine(/client probe-proxy connected/)).toContain("from 203.0.113.7:51234 (PROXY v2)");
    await client.subscribeAsync("t", { qos: 1 });
    const got = new Promise<string>((resolve) => client.once("message", (_t, payload: Buffer) => resolve(payload.toString())));
    await client.publishAsync("t", "through the header", { qos: 1 });
    expect(await got).toBe("through the header");
  });

  it("without a header, logs the socket's address", async () => {
    const port = await startBroker();
    await connect(port, "probe-plain", Buffer.alloc(0));
    expect(await logLine(/client probe-plain connected/)).toMatch(/from (::ffff:)?127\.0\.0\.1:\d+$/);
  });
});
