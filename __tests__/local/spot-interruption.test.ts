import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connectMqtt, freePort, LocalRun, readEvents, writeConfig } from "./helpers";

/**
 * A Fargate Spot interruption in local mode (SIGUSR2), with real processes and real sockets.
 * AWS: "A termination notice is a two-minute warning ... sent as a task state change event to
 * Amazon EventBridge and as a SIGTERM signal to the running task", containers are stopped after
 * their stopTimeout (at most 120 s), and "Tasks that run as FARGATE_SPOT might not be
 * deregistered from the load balancer's target group until they transition to a STOPPED state"
 * (AWS re:Post knowledge center, "How do I handle Spot termination notices in AWS Fargate Spot
 * tasks?"). So the agent's drain must outlast the health checks that take the task out of the
 * rotation: here 30 AWS seconds against 2 failed checks 10 s apart.
 */

jest.setTimeout(90_000);

let run: LocalRun | undefined;
afterEach(async () => {
  await run?.stop();
  run = undefined;
});

async function spotConfig(): Promise<{ config: string; events: string }> {
  const config = writeConfig({ port: await freePort(), containers: 2, deploy: { agentDrainSeconds: 30 } });
  const raw = JSON.parse(fs.readFileSync(config, "utf8"));
  raw.apps.mqtt.capacity = "spot";
  fs.writeFileSync(config, JSON.stringify(raw));
  return { config, events: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-spot-")), "events.jsonl") };
}

describe("tcp-addon local: a Fargate Spot interruption (SIGUSR2)", () => {
  it("SIGTERMs one task, which leaves the rotation and drains within two minutes while no new connection is refused", async () => {
    const { config, events } = await spotConfig();
    run = new LocalRun(["--config", config, "--events", events]);
    const url = await run.ready(2);

    // given clients connecting one after another, when one task is interrupted
    const from = run.lines.length;
    run.child.kill("SIGUSR2");
    const notice = await run.waitForLine(/Spot interruption of (mqtt\.\d#\d+)/, 10_000, from);
    const task = /Spot interruption of (mqtt\.\d#\d+)/.exec(notice)![1];
    const exited = run.waitForLine(new RegExp(`${task.replace(".", "\\.")} \\| agent exit code=0`), 30_000, from);
    let done = false;
    void exited.finally(() => (done = true));
    const failed: string[] = [];
    let ok = 0;
    while (!done) {
      try {
        (await connectMqtt(url)).end(true);
        ok += 1;
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
    await exited;
    await run.waitForLine(/\.\d#\d+ \| ready on/, 30_000, from); // the replacement

    // then no connection was refused, the task turned unhealthy (out of the rotation) before it
    // stopped, and it stopped well inside the two-minute warning (event times are AWS seconds)
    expect(failed).toEqual([]);
    expect(run.lines.filter((line) => /refused a connection/.test(line))).toEqual([]);
    expect(ok).toBeGreaterThan(5);
    // the task's last events are written once local mode has seen its processes exit
    const stoppedBy = Date.now() + 30_000;
    while (!readEvents(events).some((e) => e.task === task && e.state === "stopped") && Date.now() < stoppedBy) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const states = readEvents(events).filter((e) => e.task === task);
    const at = (state: string) => states.find((e) => e.state === state)?.t as number | undefined;
    expect(states.map((e) => e.state)).toEqual(["initial", "healthy", "stopping", "unhealthy", "unused", "stopped"]);
    expect(at("stopped")! - at("stopping")!).toBeLessThanOrEqual(120);
    expect(at("stopped")! - at("stopping")!).toBeGreaterThanOrEqual(30 - 1);
  });
});
