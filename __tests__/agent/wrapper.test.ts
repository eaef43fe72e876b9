import type * as net from "node:net";
import * as path from "node:path";
import { HOST, Resources, agentEnv, closed, readAll, unusedPort } from "./helpers";

const resources = new Resources();
afterEach(() => resources.closeAll());

const APP = path.join(__dirname, "fixtures", "app.js");

function wrapper(flags: string[], appArgs: string[] = [], env: NodeJS.ProcessEnv = agentEnv()) {
  return resources.startAgent(["--listen", "0", "--host", HOST, ...flags, "--", process.execPath, APP, ...appArgs], { env });
}

/** A connection the app has answered through the agent (so the agent has accepted it). */
async function established(port: number): Promise<net.Socket> {
  const client = await resources.connect(port);
  client.write("ping\n");
  await new Promise<void>((resolve) => client.once("data", () => resolve()));
  return client;
}

async function ask(port: number, command: string): Promise<string> {
  const client = await resources.connect(port);
  client.write(`${command}\n`);
  return (await readAll(client)).toString();
}

describe("wrapper mode", () => {
  it("gives the app PORT and the TCP_URL from its own environment", async () => {
    const { ready } = await wrapper([], [], agentEnv({ TCP_URL: "tcp://mqtt.example.com:20003" }));
    const seen = JSON.parse(await ask(ready.listen, "env"));
    expect(seen).toEqual({ PORT: String(ready.appPort), TCP_URL: "tcp://mqtt.example.com:20003" });
    expect(ready.tcpUrl).toBe("tcp://mqtt.example.com:20003");
  });

  it("defaults TCP_URL to tcp://HOST:LISTEN when the environment has none", async () => {
    const { ready } = await wrapper([]);
    const seen = JSON.parse(await ask(ready.listen, "env"));
    expect(seen.TCP_URL).toBe(`tcp://${HOST}:${ready.listen}`);
  });

  it("gives the app the port from --app-port", async () => {
    const appPort = await unusedPort();
    const { ready } = await wrapper(["--app-port", String(appPort)]);
    expect(ready.appPort).toBe(appPort);
    expect(JSON.parse(await ask(ready.listen, "env")).PORT).toBe(String(appPort));
  });

  it("reports listen, app port, upstream and TCP_URL in one ready line", async () => {
    const { agent, ready } = await wrapper(["--pps", "1000", "--health-port", "0"]);
    expect(ready).toMatchObject({
      level: "info",
      upstream: `127.0.0.1:${ready.appPort}`,
      tcpUrl: `tcp://${HOST}:${ready.listen}`,
      pps: 1000,
      burst: 1000,
    });
    expect(ready.listen).toBeGreaterThan(0);
    expect(ready.healthPort).toBeGreaterThan(0);
    expect(agent.lines.filter((line) => line.event === "ready")).toHaveLength(1);
  });

  it("does not listen until the app accepts on its port", async () => {
    const listen = await unusedPort();
    const agent = resources.spawnAgent(
      ["--listen", String(listen), "--host", HOST, "--", process.execPath, APP, "--listen-after", "3000"],
      { env: agentEnv() },
    );
    await agent.waitForEvent("app-start");
    await expect(resources.connect(listen)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await agent.waitForEvent("ready");
    expect(JSON.parse(await ask(listen, "env")).PORT).toBeDefined();
  });

  it("exits with the app's code when the app crashes, resetting its connections", async () => {
    const { agent, ready } = await wrapper([]);
    const bystander = closed(await resources.connect(ready.listen));
    const crasher = await resources.connect(ready.listen);
    const crasherClosed = closed(crasher);
    crasher.write("exit 7\n");
    expect((await agent.exited).code).toBe(7);
    // the app's exit ended the crasher's stream too: a reset, never a clean end
    expect((await crasherClosed).error?.code).toBe("ECONNRESET");
    expect((await bystander).error?.code).toBe("ECONNRESET");
    expect(agent.lines.find((line) => line.event === "app-exit")).toMatchObject({ level: "error", code: 7 });
  });

  it("exits with 128 + the signal number when a signal kills the app", async () => {
    const { agent, ready } = await wrapper([]);
    const client = await resources.connect(ready.listen);
    const clientClosed = closed(client);
    client.write("kill\n");
    expect((await agent.exited).code).toBe(128 + 9);
    expect((await clientClosed).error?.code).toBe("ECONNRESET");
  });

  it("exits with the app's code when the app exits before it is ready", async () => {
    const agent = resources.spawnAgent(["--listen", "0", "--", process.execPath, APP, "--exit-now", "3"]);
    expect((await agent.exited).code).toBe(3);
    expect(agent.lines.find((line) => line.event === "app-exit-before-ready")).toMatchObject({ level: "error", code: 3 });
    expect(agent.lines.some((line) => line.event === "ready")).toBe(false);
  });

  it("exits 1 when the app exits with 0 before it is ready", async () => {
    const agent = resources.spawnAgent(["--listen", "0", "--", process.execPath, APP, "--exit-now", "0"]);
    expect((await agent.exited).code).toBe(1);
  });

  it("exits 127 with an error line when the command cannot be started", async () => {
    const agent = resources.spawnAgent(["--listen", "0", "--", "/nonexistent/app"]);
    expect((await agent.exited).code).toBe(127);
    expect(agent.lines.find((line) => line.event === "app-exit-before-ready")?.error).toBe("cannot start /nonexistent/app: ENOENT");
  });

  it("gives up with exit 1 when the app never accepts within --start-timeout", async () => {
    const agent = resources.spawnAgent(["--listen", "0", "--start-timeout", "0.5", "--", process.execPath, APP, "--listen-after", "60000"]);
    expect((await agent.exited).code).toBe(1);
    expect(agent.lines.find((line) => line.event === "app-start-timeout")).toMatchObject({ code: "TCP_ADDON_AGENT_APP_START_TIMEOUT" });
  });
});

describe("wrapper mode on SIGTERM", () => {
  it("lets a connection finish within the drain time, closes a quiet one with a FIN, then stops the app and exits with its code", async () => {
    // given an app that exits 42 on SIGTERM, and two connections open through the agent
    const { agent, ready } = await wrapper(["--drain-seconds", "4"], [], agentEnv({ APP_SIGTERM_CODE: "42" }));
    const quick = await established(ready.listen);
    const quiet = await established(ready.listen);
    const quietClosed = closed(quiet);

    // when the agent gets SIGTERM, and as the drain begins one connection asks for an answer in
    // 300 ms (asked at once: a test slower than the 1 s quiet time would otherwise see a FIN)
    agent.signal("SIGTERM");
    const quickAnswer = readAll(quick);
    quick.write("wait 300\n");
    await agent.waitForEvent("drain-start");

    // then the quick connection completes, the quiet one ends cleanly (the app closes on the
    // FIN the agent sends it), the app gets SIGTERM only after the drain, and its code is passed on
    expect((await quickAnswer).toString()).toBe("done");
    expect((await quietClosed).error).toBeNull();
    expect((await agent.exited).code).toBe(42);
    expect(agent.lines.find((line) => line.event === "drain-end")).toMatchObject({ closed: 0 });
    const drainEnd = agent.allLines.findIndex((line) => line.includes('"event":"drain-end"'));
    const appSigterm = agent.allLines.indexOf("app: SIGTERM");
    expect(drainEnd).toBeGreaterThanOrEqual(0);
    expect(appSigterm).toBeGreaterThan(drainEnd);
  });

  it("resets a connection still transferring at the end of the drain", async () => {
    const { agent, ready } = await wrapper(["--drain-seconds", "1", "--pps", "1000"]);
    const client = await resources.connect(ready.listen);
    const flowing = new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.on("data", () => {});
    const end = closed(client);
    client.write(`download ${100 * 1024 * 1024}\n`);
    // the download is under way (bytes in flight) when the agent is told to stop
    await flowing;

    agent.signal("SIGTERM");

    expect((await end).error?.code).toBe("ECONNRESET");
    expect(await agent.waitForEvent("drain-end")).toMatchObject({ closed: 1 });
  });

  it("resets a connection whose client is behind on reading at the end of the drain", async () => {
    // given a download under way whose client stops reading, so bytes wait for it in its socket.
    // On a busy machine a test's client falls behind like this, and Node then reports the reset
    // behind those bytes as an end of stream with no error: libuv's last read comes up short
    // beside the hang-up, and "Delivery of POLLHUP _and_ observing a partial read makes libuv
    // assume that the peer has terminated the stream" (https://github.com/libuv/libuv/issues/2319;
    // Node 20.20 has libuv 1.46.0, older than https://github.com/libuv/libuv/pull/4997, which
    // changed it in January 2026).
    // `closed` asks the kernel which end it was (see `resetBehindEnd`).
    const { agent, ready } = await wrapper(["--drain-seconds", "1", "--pps", "1000"]);
    const client = await resources.connect(ready.listen);
    const flowing = new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.write(`download ${100 * 1024 * 1024}\n`);
    await flowing;
    client.pause();
    const end = closed(client);

    // when the drain ends with the download still running, and only then the client reads
    agent.signal("SIGTERM");
    expect(await agent.waitForEvent("drain-end")).toMatchObject({ closed: 1 });
    client.resume();

    // then the client reads the bytes waiting for it, and the reset behind them
    expect((await end).error?.code).toBe("ECONNRESET");
  });

  it("on SIGHUP drains, then stops the app with SIGTERM and exits with its code, leaving no app behind", async () => {
    const { agent } = await wrapper(["--drain-seconds", "0.2"], [], agentEnv({ APP_SIGTERM_CODE: "5" }));
    const appPid = Number((await agent.waitForEvent("app-start")).pid);

    agent.signal("SIGHUP");

    expect((await agent.exited).code).toBe(5);
    expect(agent.lines.find((line) => line.event === "drain-start")).toMatchObject({ signal: "SIGHUP" });
    expect(agent.lines.find((line) => line.event === "app-stop")).toMatchObject({ signal: "SIGTERM" });
    expect(agent.otherLines).toContain("app: SIGTERM");
    expect(() => process.kill(appPid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("forwards SIGINT to the app and passes its exit code on", async () => {
    const { agent } = await wrapper([]);
    agent.signal("SIGINT");
    // the app has no SIGINT handler, so SIGINT kills it: 128 + 2
    expect((await agent.exited).code).toBe(130);
  });
});
