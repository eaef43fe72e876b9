import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { AgentProcess, BUNDLE, HOST, agentEnv, delay } from "./helpers";

const APP = path.join(__dirname, "fixtures", "app.js");

/**
 * A supervisor: spawns the agent with a pipe on fd 3 as its lifeline (and its own stdout),
 * prints the agent's pid, then does nothing. It never writes to the pipe.
 */
const SUPERVISOR = `
const { spawn } = require("node:child_process");
const [bundle, ...args] = process.argv.slice(1);
const agent = spawn(process.execPath, [bundle, "--lifeline-fd", "3", ...args], { stdio: ["ignore", "inherit", "inherit", "pipe"] });
process.stdout.write("supervisor: agent " + agent.pid + "\\n");
setInterval(() => {}, 1000);
`;

/** Whether a process still runs (a zombie waiting for its parent's wait() counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
});

describe("the lifeline (--lifeline-fd)", () => {
  it("stops the agent and its app within 2 s of its supervisor's kill -9", async () => {
    // given a supervisor running the agent in wrapper mode around an app
    const child = spawn(process.execPath, ["-e", SUPERVISOR, BUNDLE, "--listen", "0", "--host", HOST, "--", process.execPath, APP], {
      env: agentEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const supervisor = new AgentProcess(child);
    await supervisor.waitForOutput("supervisor: agent");
    const agentPid = Number(/agent (\d+)/.exec(supervisor.otherLines.find((l) => l.startsWith("supervisor:"))!)![1]);
    const appPid = Number((await supervisor.waitForEvent("app-start")).pid);
    started.push(agentPid, appPid, child.pid!);
    await supervisor.waitForEvent("ready");

    // when the supervisor is killed with SIGKILL (it can run no handler)
    process.kill(child.pid!, "SIGKILL");

    // then within 2 s neither the agent nor its app is left
    for (let i = 0; i < 40 && (running(agentPid) || running(appPid)); i++) await delay(50);
    expect({ agent: running(agentPid), app: running(appPid) }).toEqual({ agent: false, app: false });
    expect(await supervisor.waitForEvent("lifeline-lost")).toMatchObject({ level: "warn", fd: 3 });
  });
});
