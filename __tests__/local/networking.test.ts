import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { MqttClient } from "mqtt";
import { localCertificate } from "../../runtime/local/local-certificate";
import { connectMqtt, freePort, LocalRun } from "./helpers";

/**
 * `tcp-addon local` with production networking on: the MQTT sample behind the local balancer's
 * PROXY v2 header and TLS, reached by real mqtt.js clients at TCP_URL.
 */

jest.setTimeout(60_000);

const EXAMPLE = path.resolve(__dirname, "../../examples/mqtt");
let run: LocalRun | undefined;
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await run?.stop();
  run = undefined;
});

async function startLocal(app: Record<string, unknown>): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-local-net-"));
  const file = path.join(dir, "tcp-addon.json");
  const mqtt = { image: "local/mqtt:dev", procfile: path.join(EXAMPLE, "Procfile"), port: await freePort(), ...app };
  fs.writeFileSync(file, JSON.stringify({ project: "local", region: "eu-west-1", apps: { mqtt } }));
  run = new LocalRun(["--config", file, "--drain-seconds", "1"]);
  const line = await run.waitForLine(/TCP_URL=(tcp|tls):\/\/127\.0\.0\.1:\d+/, 30_000);
  return /TCP_URL=(\S+)/.exec(line)![1];
}

async function roundTrip(url: string, options: Parameters<typeof connectMqtt>[1] = {}): Promise<string> {
  const client = await connectMqtt(url, { clientId: "net-probe", ...options });
  clients.push(client);
  await client.subscribeAsync("net/t", { qos: 1 });
  const got = new Promise<string>((resolve) => client.once("message", (_t, payload: Buffer) => resolve(payload.toString())));
  await client.publishAsync("net/t", "hello", { qos: 1 });
  return got;
}

describe("tcp-addon local with production networking", () => {
  it("with clientIp: proxy-v2-to-app, the MQTT sample logs the client's address, 127.0.0.1, from the PROXY v2 header", async () => {
    const url = await startLocal({ clientIp: "proxy-v2-to-app" });
    expect(url).toMatch(/^tcp:\/\//);
    expect(await roundTrip(url)).toBe("hello");
    const line = await run!.waitForLine(/client net-probe connected from/);
    expect(line).toMatch(/from 127\.0\.0\.1:\d+ \(PROXY v2\)/);
  });

  it("with tls:, TCP_URL is tls:// and a real TLS client that trusts the local certificate gets through", async () => {
    const url = await startLocal({ clientIp: "proxy-v2-to-app", tls: { domain: "mqtt.example.com", hostedZoneId: "Z0123456789ABC" } });
    expect(url).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    const certLine = await run!.waitForLine(/self-signed certificate for 127\.0\.0\.1: trust (\S+)/);
    const certFile = /trust (\S+)/.exec(certLine)![1];
    expect(fs.readFileSync(certFile, "utf8")).toBe((await localCertificate()).cert);
    expect(await roundTrip(url, { ca: fs.readFileSync(certFile) })).toBe("hello");
    expect(await run!.waitForLine(/client net-probe connected from/)).toMatch(/from 127\.0\.0\.1:\d+ \(PROXY v2\)/);
  });
});
