import { spawn } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";
import * as path from "node:path";
import type { MqttClient } from "mqtt";
import { LIFELINE_KILL_GRACE_SECONDS } from "../../runtime/agent/contract";
import { connectMqtt, descendantsOf, EXAMPLE, freePort, isRunning, LocalRun, processesMentioning, REPO, within, writeConfig } from "./helpers";

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

  /**
   * The agents read end-of-file on their lifeline, send their app SIGTERM, SIGKILL after the
   * lifeline's kill grace, and exit; a few seconds on top of that grace for a loaded machine.
   */
  const AFTER_SIGKILL_MS = LIFELINE_KILL_GRACE_SECONDS * 1000 + 4_000;

  it(`leaves no agent or app process within ${AFTER_SIGKILL_MS / 1000} s when it is killed with SIGKILL`, async () => {
    const config = writeConfig({ port: await freePort(), containers: 2 });
    run = new LocalRun(["--config", config]);
    await run.ready(2);
    const children = run.descendants();

    // The agents' lifeline (fd 3, TCP_ADDON_LIFELINE_FD) reads end-of-file when local mode dies.
    run.child.kill("SIGKILL");
    await run.exited;
    const deadline = Date.now() + AFTER_SIGKILL_MS;
    while (children.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const left = children.filter(isRunning);
    for (const pid of left) process.kill(pid, "SIGKILL");

    expect(children.length).toBeGreaterThanOrEqual(4);
    expect(left).toEqual([]);
  });

  it("says in one line that an earlier local mode holds its port", async () => {
    const port = await freePort();
    const config = writeConfig({ port, containers: 1 });
    const first = new LocalRun(["--config", config]);
    try {
      await first.ready(1);
      run = new LocalRun(["--config", config]);
      const { code } = await within(run.exited, 20_000, "the second local mode to exit");

      expect(code).toBe(1);
      expect(run.stderr[run.stderr.length - 1]).toBe(
        `tcp-addon local: mqtt: 127.0.0.1:${port} is held by an earlier tcp-addon local that still runs (pid ${first.child.pid}); stop it with: kill ${first.child.pid}`,
      );
    } finally {
      await first.stop();
    }
  });

  it.each([
    ["SIGTERM", "npm run local"],
    ["SIGINT", "npm run local"],
    ["SIGTERM", "npx tcp-addon local"],
  ] as const)("stops everything on %s to the npm process of `%s`", async (signal, command) => {
    const config = writeConfig({ port: await freePort(), containers: 1 });
    const [program, ...args] = command.split(" ");
    // (new targets checked at once: the modelled first-check delay is not this test's subject)
    const npm = spawn(program, [...args, ...(program === "npm" ? ["--"] : []), "--config", config, "--first-check-delay", "0"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    const exited = once(npm, "exit");
    try {
      let err = "";
      npm.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
      await within(
        new Promise<void>((resolve) => npm.stderr!.on("data", () => /mqtt\.1#\d+ \| ready on/.test(err) && resolve())),
        60_000,
        `${command} to be ready`,
      );
      const children = descendantsOf(npm.pid!);

      npm.kill(signal);
      await within(exited, 20_000, `${command} to exit`);
      const deadline = Date.now() + 5_000;
      while (children.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

      expect(children.length).toBeGreaterThanOrEqual(3); // local mode, the agent, the broker
      expect(children.filter(isRunning)).toEqual([]);
    } finally {
      for (const pid of descendantsOf(npm.pid!)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      npm.kill("SIGKILL");
    }
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
