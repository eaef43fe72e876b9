import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { AgentProcess, BUNDLE, HOST, type ReadyLine, Resources, agentEnv, delay, httpGet, metric } from "./helpers";

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

/** How a client connection ended: it got its echo, was reset, or saw a FIN with no byte. */
type Outcome = "served" | "reset" | "fin-empty" | "other";

/** Connects, sends "ping" and keeps the connection open once echoed; resolves with what happened. */
function ping(port: number, keep: net.Socket[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    keep.push(socket);
    let got = "";
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    socket.on("data", (chunk: Buffer) => {
      got += chunk.toString();
      if (got === "ping") settle("served");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => settle(error.code === "ECONNRESET" ? "reset" : "other"));
    socket.on("close", () => settle(got === "" ? "fin-empty" : "other"));
    socket.on("connect", () => socket.write("ping"));
  });
}

/** Resolves with the error code a socket closed with ("FIN" for a clean close). */
function endOf(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let code = "FIN";
    socket.on("error", (error: NodeJS.ErrnoException) => (code = error.code ?? "error"));
    socket.once("close", () => resolve(code));
  });
}

describe("out of file descriptors", () => {
  it("with idle connections on the health port, every client is served or reset (never a FIN with no byte), and the resets are counted and logged", async () => {
    // given an agent limited to 64 file descriptors (about 21 of them its own at start)
    const { port } = await resources.server((socket) => socket.pipe(socket));
    const child = spawn(
      "prlimit",
      ["--nofile=64:64", process.execPath, BUNDLE, "--listen", "0", "--host", HOST, "--health-port", "0", "--upstream", `${HOST}:${port}`],
      { env: agentEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    const agent = new AgentProcess(child);
    agents.push(agent);
    const ready = (await agent.waitForEvent("ready")) as ReadyLine;
    const descriptors = (): number => fs.readdirSync(`/proc/${agent.pid}/fd`).length;
    const atStart = descriptors();

    // when 40 connections to the health port stay silent (its cap is HEALTH_MAX_CONNECTIONS = 32)
    const idle = Array.from({ length: 40 }, () => resources.dial(ready.healthPort!));
    const idleEnds = idle.map(endOf);
    for (let i = 0; i < 400 && descriptors() < atStart + 32; i += 1) await delay(5);
    // and 30 clients connect and keep their connections (each costs the agent two descriptors)
    const keep: net.Socket[] = [];
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 30; i += 1) outcomes.push(await ping(ready.listen, keep));

    // then each client was served or reset, none saw a FIN with no byte, and the resets came from the descriptor headroom
    const count = (o: Outcome): number => outcomes.filter((x) => x === o).length;
    expect(count("fin-empty") + count("other")).toBe(0);
    expect(count("served")).toBeGreaterThanOrEqual(1);
    expect(count("reset")).toBeGreaterThanOrEqual(1);

    // and the health port reset the 8 past its cap at once and the silent 32 at the request deadline
    expect(new Set(await Promise.all(idleEnds))).toEqual(new Set(["ECONNRESET"]));
    for (const socket of keep) socket.destroy();
    const { body } = await httpGet(ready.healthPort!, "/metrics");
    expect(metric(body, 'tcp_addon_health_connections_refused_total{cause="max_connections"}')).toBe(8);
    expect(metric(body, 'tcp_addon_health_connections_refused_total{cause="deadline"}')).toBe(32);
    expect(metric(body, 'tcp_addon_connections_refused_total{limit="descriptors"}')).toBe(count("reset"));
    expect(body).not.toMatch(/cause="EMFILE"/);
    expect(await agent.waitForEvent("connection-limit")).toMatchObject({ level: "warn", reason: "descriptors", limit: 64 });
  });
});
