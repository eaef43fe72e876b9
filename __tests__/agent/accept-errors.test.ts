import { spawn } from "node:child_process";
import * as net from "node:net";
import { AgentProcess, BUNDLE, HOST, type ReadyLine, Resources, agentEnv, metric } from "./helpers";

const resources = new Resources();
const agents: AgentProcess[] = [];
afterEach(async () => {
  await resources.closeAll();
  for (const agent of agents.splice(0)) {
    try {
      process.kill(-agent.pid, "SIGKILL");
    } catch {
      // gone already
    }
    await agent.exited;
  }
});

/** One HTTP/1.1 GET on a connection opened earlier (the agent may have no descriptor left for a new one). */
function get(socket: net.Socket, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const headerEnd = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text);
      if (headerEnd < 0 || length === null || text.length < headerEnd + 4 + Number(length[1])) return;
      socket.off("data", onData);
      resolve({ status: Number(text.slice(9, 12)), body: text.slice(headerEnd + 4, headerEnd + 4 + Number(length[1])) });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: agent\r\n\r\n`);
  });
}

describe("accept failures", () => {
  it("logs and counts EMFILE, and /healthz names it", async () => {
    // given an agent limited to 64 file descriptors, and a health connection opened beforehand
    const { port } = await resources.server(() => {});
    const child = spawn(
      "prlimit",
      ["--nofile=64:64", process.execPath, BUNDLE, "--listen", "0", "--host", HOST, "--health-port", "0", "--upstream", `${HOST}:${port}`],
      { env: agentEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    const agent = new AgentProcess(child);
    agents.push(agent);
    const ready = (await agent.waitForEvent("ready")) as ReadyLine;
    const health = await resources.connect(ready.healthPort!);

    // when more clients connect than it has descriptors for (each takes two: once they run
    // out, a client is accepted but its connect to the app fails with EMFILE)
    for (let i = 0; i < 60; i++) resources.dial(ready.listen).on("error", () => {});

    // then one log line per second names the cause with a count, /healthz names it, /metrics counts it
    expect(await agent.waitForEvent("accept-failed")).toMatchObject({ level: "warn", error: "EMFILE" });
    const healthz = await get(health, "/healthz");
    expect(healthz.status).toBe(503);
    expect(healthz.body).toMatch(/^cannot (connect to the app|accept connections): EMFILE \(the agent is out of file descriptors\)\n$/);
    const { body } = await get(health, "/metrics");
    expect(metric(body, 'tcp_addon_upstream_errors_total{cause="EMFILE"}')).toBeGreaterThanOrEqual(1);
    expect(agent.lines.filter((line) => line.event === "accept-failed").length).toBeLessThanOrEqual(2);
  });
});
