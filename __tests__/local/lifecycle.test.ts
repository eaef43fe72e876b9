import { once } from "node:events";
import * as net from "node:net";
import * as path from "node:path";
import type { MqttClient } from "mqtt";
import { connectMqtt, EXAMPLE, freePort, isRunning, LocalRun, processesMentioning, within, writeConfig } from "./helpers";

/** Starting, stopping and failing: exit codes, error lines and leftover processes. */

jest.setTimeout(60_000);

let run: LocalRun | undefined;
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await run?.stop();
  run = undefined;
});

describe("tcp-addon local lifecycle", () => {
  it("stops every replica on SIGTERM, exits 0 and leaves no process behind", async () => {
    const config = writeConfig({ port: await freePort(), containers: 2 });
    run = new LocalRun(["--config", config, "--drain-seconds", "5"]);
    const url = await run.ready(2);
    const c = await connectMqtt(url);
    clients.push(c);
    c.on("error", () => undefined);
    const children = run.descendants();

    run.child.kill("SIGTERM");
    const { code } = await within(run.exited, 20_000, "local mode to exit");

    expect(children.length).toBeGreaterThanOrEqual(4); // two agents, two brokers
    expect(code).toBe(0);
    expect(children.filter(isRunning)).toEqual([]);
  });

  it("stops on SIGINT the way it does on SIGTERM", async () => {
    const config = writeConfig({ port: await freePort(), containers: 1 });
    run = new LocalRun(["--config", config]);
    await run.ready(1);
    const children = run.descendants();

    run.child.kill("SIGINT");
    const { code } = await within(run.exited, 20_000, "local mode to exit");

    expect(code).toBe(0);
    expect(children.filter(isRunning)).toEqual([]);
  });

  it("fails with one line naming the app, the command and its last output when the command exits at once", async () => {
    const marker = `crash-${process.pid}-${Date.now()}`;
    const command = `node -e "console.error('cannot open database'); process.exit(3)" ${marker}`;
    const config = writeConfig({ port: await freePort(), containers: 2, command });
    run = new LocalRun(["--config", config]);

    const { code } = await within(run.exited, 30_000, "local mode to give up");
    const last = run.stderr[run.stderr.length - 1];

    expect(code).toBe(1);
    expect(last).toMatch(/^tcp-addon local: mqtt: .*exited before it was ready 3 times in a row/);
    expect(last).toContain("process.exit(3)");
    expect(last).toContain("last output: cannot open database");
    expect(run.stdout).toEqual([]);
    expect(processesMentioning(marker)).toEqual([]);
  });

  it("names the app and the fix when its port is in use", async () => {
    const holder = net.createServer().listen(0, "127.0.0.1");
    await once(holder, "listening");
    const port = (holder.address() as net.AddressInfo).port;
    try {
      run = new LocalRun(["--config", writeConfig({ port, containers: 1 })]);
      const { code } = await within(run.exited, 20_000, "local mode to exit");

      expect(code).toBe(1);
      expect(run.stderr[run.stderr.length - 1]).toBe(
        `tcp-addon local: mqtt: 127.0.0.1:${port} is already in use; set apps.mqtt.port to a free port`,
      );
    } finally {
      holder.close();
    }
  });

  it("rejects an --only name that the config lacks with one line and exit 1", async () => {
    const config = writeConfig({ port: await freePort(), containers: 1 });
    run = new LocalRun(["--config", config, "--only", "mqtt,redis"]);

    const { code } = await within(run.exited, 20_000, "local mode to exit");

    expect(code).toBe(1);
    expect(run.stderr).toEqual(['tcp-addon local: --only: no app named "redis" in the config; its apps: mqtt']);
  });

  it("prints each config problem on its own line and exits 1", async () => {
    run = new LocalRun(["--config", path.join(EXAMPLE, "no-such-config.yaml")]);

    const { code } = await within(run.exited, 20_000, "local mode to exit");

    expect(code).toBe(1);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toContain("config file not found");
  });

  it("rejects an unknown flag with exit 2", async () => {
    run = new LocalRun(["--replicas", "3"]);

    const { code } = await within(run.exited, 20_000, "local mode to exit");

    expect(code).toBe(2);
    expect(run.stderr[0]).toMatch(/^tcp-addon local: .*--replicas/);
  });
});
