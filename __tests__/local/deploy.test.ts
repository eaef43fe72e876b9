import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConnectionLoop, ECHO_APP, SteadyClient, transfer } from "./deploy-load";
import { freePort, LocalRun, PATIENT_HEALTH_CHECKS, readEvents, statesByTask, within, writeConfig } from "./helpers";

/**
 * Deploys (SIGHUP) as ECS and the NLB run them, at --time-scale 0.1 with the default timings
 * (but for the longer health check timeout of PATIENT_HEALTH_CHECKS) and the default
 * propagation lag (120 AWS seconds), with real processes and sockets.
 */

jest.setTimeout(120_000);

let run: LocalRun | undefined;
let loop: ConnectionLoop | undefined;
const steady: SteadyClient[] = [];

afterEach(async () => {
  await loop?.stop();
  loop = undefined;
  for (const c of steady.splice(0)) c.close();
  await run?.stop();
  run = undefined;
});

function tempFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-deploy-")), name);
}

/** Resolves once `count` lines matching `pattern` were read after index `after`; returns when. */
async function nthLine(r: LocalRun, pattern: RegExp, count: number, after: number, ms = 60_000): Promise<number> {
  let from = after;
  for (let i = 0; i < count; i += 1) {
    const line = await r.waitForLine(pattern, ms, from);
    from = r.lines.indexOf(line, from) + 1;
  }
  return Date.now();
}

/** The pids the app processes were given, from the agents' app-start lines so far. */
function appPids(r: LocalRun): Set<number> {
  return new Set(r.stderr.flatMap((line) => /agent app-start .* pid=(\d+)/.exec(line)?.[1] ?? []).map(Number));
}

describe.each([2, 4])("a deploy of %i containers under load", (containers) => {
  it("refuses nothing, drops each old client once, keeps finished transfers intact and serves late flows on draining targets", async () => {
    // given: the app behind local mode, 10 long-lived clients and 50 new connections a second
    const port = await freePort();
    const events = tempFile("events.jsonl");
    run = new LocalRun(["--config", writeConfig({ port, containers, command: `node ${ECHO_APP}`, deploy: PATIENT_HEALTH_CHECKS }), "--events", events]);
    await run.ready(containers, 30_000);
    for (let i = 0; i < 10; i += 1) steady.push(new SteadyClient(port));
    await within(Promise.all(steady.map((c) => c.whenConnected())), 10_000, "10 steady clients");
    const oldPids = appPids(run);
    loop = new ConnectionLoop(port, 50);

    // when: a deploy
    const before = run.lines.length;
    run.child.kill("SIGHUP");
    const allDeregistered = await nthLine(run, /\| deregistered \(pid/, containers, before);
    await run.waitForLine(/mqtt \| deploy done/, 90_000, before);
    const results = await loop.stop();
    loop = undefined;
    await within(Promise.all(steady.map((c) => c.whenConnected())), 10_000, "every steady client to reconnect");

    // then: no new connection failed in any way, and every finished transfer was intact
    const failures = results.filter((r) => r.kind !== "ok").map((r) => r.kind);
    expect(failures).toEqual([]);
    expect(results.length).toBeGreaterThan(200);
    expect(readEvents(events).filter((e) => e.connection === "refused")).toEqual([]);
    // new flows still landed on the old (draining) tasks after they were all deregistered, and were served
    const late = results.filter((r) => r.startedAt > allDeregistered && oldPids.has(r.pid ?? -1));
    expect(late.length).toBeGreaterThan(0);
    // each long-lived client was dropped once (its task's flows reset after the delay) and is back, on a new task
    expect(steady.map((c) => c.drops)).toEqual(steady.map(() => 1));
    expect(steady.map((c) => c.failedAttempts)).toEqual(steady.map(() => 0));
    expect(steady.filter((c) => oldPids.has(c.pid ?? -1))).toEqual([]);
    // every old task went through the NLB and ECS states in order
    const byTask = statesByTask(events);
    const oldTasks = [...byTask.entries()].filter(([, states]) => states.includes("draining"));
    expect(oldTasks).toHaveLength(containers);
    for (const [, states] of oldTasks) expect(states).toEqual(["initial", "healthy", "draining", "unused", "stopping", "stopped"]);
  });
});

describe("health checks and failed deploys", () => {
  it("keeps the clients of a target whose /healthz stalls past two checks", async () => {
    const port = await freePort();
    const events = tempFile("events.jsonl");
    run = new LocalRun(["--config", writeConfig({ port, containers: 2, command: `node ${ECHO_APP}`, deploy: PATIENT_HEALTH_CHECKS }), "--events", events]);
    await run.ready(2, 30_000);
    const clients = Array.from({ length: 6 }, () => new SteadyClient(port));
    steady.push(...clients);
    await within(Promise.all(clients.map((c) => c.whenConnected())), 10_000, "6 clients");
    const victim = run.replicas().get("mqtt.1")!;
    const onVictim = clients.filter((c) => appPidOfAgent(victim.pid) === c.pid);

    // when: its agent stalls (SIGSTOP) until the NLB marks the target unhealthy, then resumes
    const before = run.lines.length;
    process.kill(victim.pid, "SIGSTOP");
    try {
      await run.waitForLine(/mqtt\.1#1 \| unhealthy: out of the rotation; its \d+ connection\(s\) are kept/, 20_000, before);
    } finally {
      process.kill(victim.pid, "SIGCONT");
    }
    const echoed = await Promise.all(onVictim.map((c) => c.whenConnected()));

    // then: its clients were never dropped and still get answers through it
    expect(onVictim.length).toBeGreaterThan(0);
    expect(echoed).toHaveLength(onVictim.length);
    expect(clients.map((c) => c.drops)).toEqual(clients.map(() => 0));
    expect(statesByTask(events).get("mqtt.1#1")).toContain("unhealthy");
    expect(readEvents(events).filter((e) => e.connection !== undefined)).toEqual([]);
    // and new connections are still served by the other task
    expect((await transfer(port)).kind).toBe("ok");
  });

  it("rolls back a deploy whose new tasks never turn healthy; the old tasks keep serving", async () => {
    const port = await freePort();
    const events = tempFile("events.jsonl");
    const marker = tempFile("broken-release");
    // The default grace period (60 AWS s, 6 s here) gives the first tasks' agents room to start on
    // a loaded machine; each new task, which never listens, fails when its own grace period ends.
    run = new LocalRun([
      "--config",
      writeConfig({ port, containers: 2, command: `node ${ECHO_APP} --hang-if ${marker}`, deploy: { ...PATIENT_HEALTH_CHECKS, healthCheckGracePeriodSeconds: 60 } }),
      "--events",
      events,
    ]);
    await run.ready(2, 30_000);
    const oldPids = appPids(run);
    const clients = Array.from({ length: 4 }, () => new SteadyClient(port));
    steady.push(...clients);
    await within(Promise.all(clients.map((c) => c.whenConnected())), 10_000, "4 clients");

    // when: the next release never listens, and a deploy starts
    fs.writeFileSync(marker, "");
    const before = run.lines.length;
    run.child.kill("SIGHUP");
    await run.waitForLine(/mqtt \| deploy rolled back after 3 failed task\(s\); 2 task\(s\) keep serving/, 90_000, before);
    const after = await Promise.all(Array.from({ length: 10 }, () => transfer(port)));

    // then: the old tasks were never deregistered, their clients never dropped, and they serve new connections
    const byTask = statesByTask(events);
    expect(byTask.get("mqtt.1#1")).toEqual(["initial", "healthy"]);
    expect(byTask.get("mqtt.2#2")).toEqual(["initial", "healthy"]);
    expect(clients.map((c) => c.drops)).toEqual([0, 0, 0, 0]);
    expect(after.map((r) => r.kind)).toEqual(after.map(() => "ok"));
    expect(after.filter((r) => !oldPids.has(r.pid ?? -1))).toEqual([]);
  });
});

describe("the deploy circuit breaker on a release that turns healthy, then crashes", () => {
  // ECS counts a new task that fails after it turned healthy: "When a health check fails for the
  // task, the deployment circuit breaker increases the failure count by one" (ECS developer
  // guide, "How the Amazon ECS deployment circuit breaker detects failures"); a stopped task is
  // a failed one. A task that turns healthy sets the count back to 0: "When set to true, a task
  // that reaches a healthy state resets the failure count to 0. ... The default is true." (ECS
  // API reference, DeploymentCircuitBreaker.resetOnHealthyTask). Threshold: "a minimum threshold
  // of 3 and a maximum threshold of 200 ... 0.5 * desired task count" (ServiceDeploymentCircuitBreaker).
  it("counts the new tasks that exit after turning healthy, rolls back to the old tasks still draining, and says so", async () => {
    // given: two old tasks, and a release whose tasks turn healthy and exit once told to
    const port = await freePort();
    const events = tempFile("events.jsonl");
    const marker = tempFile("crashing-release");
    // 300 AWS s of deregistration delay (30 s here): the old tasks still drain when the new ones crash.
    const deploy = { ...PATIENT_HEALTH_CHECKS, deregistrationDelaySeconds: 300 };
    run = new LocalRun(["--config", writeConfig({ port, containers: 2, command: `node ${ECHO_APP} --crash-if ${marker}`, deploy }), "--events", events]);
    await run.ready(2, 30_000);
    const oldPids = appPids(run);
    fs.writeFileSync(marker, "");
    const before = run.lines.length;
    run.child.kill("SIGHUP");
    await nthLine(run, /\| deregistered \(pid/, 2, before); // both new tasks are healthy, both old ones drain

    // when: the new release's tasks crash, and so does each one started after them
    fs.writeFileSync(marker, "crash");
    await run.waitForLine(/mqtt \| deploy rolled back after 3 failed task\(s\); 2 task\(s\) keep serving/, 60_000, before);
    const after = await Promise.all(Array.from({ length: 6 }, () => transfer(port)));
    const healthyAgain = async () => {
      while ([...statesByTask(events).entries()].filter(([task, states]) => /#[12]$/.test(task) && states.at(-1) === "healthy").length < 2) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await within(healthyAgain(), 20_000, "both old targets to turn healthy again");

    // then: two failures after turning healthy and one before, the old tasks serve again
    const lines = readEvents(events);
    const failures = lines.filter((e) => typeof e.failure === "string").map((e) => [e.failure, e.breaker]);
    expect(failures).toEqual([
      ["exited with code 3 after turning healthy", "1/3"],
      ["exited with code 3 after turning healthy", "2/3"],
      ["did not turn healthy (exited before it was ready)", "3/3"],
    ]);
    expect(lines.filter((e) => e.deploy !== undefined).map((e) => e.deploy)).toEqual([
      { outcome: "rolled back", breaker: "3/3", failedBeforeHealthy: 1, failedAfterHealthy: 2 },
    ]);
    const byTask = statesByTask(events);
    expect(byTask.get("mqtt.1#1")).toEqual(["initial", "healthy", "draining", "initial", "healthy"]);
    expect(byTask.get("mqtt.2#2")).toEqual(["initial", "healthy", "draining", "initial", "healthy"]);
    expect(after.map((r) => r.kind)).toEqual(after.map(() => "ok"));
    expect(after.filter((r) => !oldPids.has(r.pid ?? -1))).toEqual([]);
  });
});

/** The app process under an agent (its child). */
function appPidOfAgent(agentPid: number): number | undefined {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === agentPid) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}
