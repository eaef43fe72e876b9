import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deployTimings, type ResolvedApp } from "../../config";
import { AppSupervisor } from "../../runtime/local/app-supervisor";
import { AGENT_BUNDLE } from "../../runtime/local/cli";
import { DeployClock, EventLog } from "../../runtime/local/deploy-clock";
import { localApp, within } from "./helpers";

/** The supervisor in this process, with the real agent bundle and real app processes. */

jest.setTimeout(60_000);

/**
 * The health check grace period, in AWS seconds: 6 s at the test's time scale, room for an
 * agent and its app to start on a loaded machine (a task whose agent is not up by then is
 * abandoned and its slot gets another).
 */
const GRACE_SECONDS = 60;

/**
 * Accepts connections on $PORT until the file `stop-$PORT` appears in `markers`; then it closes
 * its listener but keeps running (a task that replaces it gets another PORT and keeps listening).
 */
function listenUntil(markers: string): string {
  const script =
    `const fs = require('fs'); const m = '${markers}/stop-' + process.env.PORT; const s = require('net').createServer((c) => c.end()).listen(process.env.PORT, '127.0.0.1'); ` +
    `const poll = setInterval(() => { if (fs.existsSync(m)) { s.close(); clearInterval(poll); } }, 50); ` +
    `setInterval(() => {}, 1000)`;
  return `node -e "${script}"`;
}

/**
 * Makes the app of the slot's first task stop accepting. Its peer keeps serving, so the group
 * does not fail open (with no healthy target the NLB keeps routing to an unhealthy one:
 * aws-health-checks.test.ts).
 */
function stopAccepting(tap: LogTap, markers: string, replica: string): void {
  const started = tap.lines.map((line) => new RegExp(`^${replica.replace(".", "\\.")}#\\d+ \\| agent app-start .* port=(\\d+)$`).exec(line)).find((m) => m !== null);
  if (started === undefined) throw new Error(`no app-start line for ${replica}`);
  fs.writeFileSync(path.join(markers, `stop-${started[1]}`), "");
}

function app(command: string, graceSeconds = GRACE_SECONDS): ResolvedApp {
  return localApp({
    name: "flaky",
    command,
    // the longest health check timeout below the 10 s interval, 900 ms here rather than 500, for
    // /healthz answers slowed by a loaded machine; an app that stops accepting fails checks at once
    deploy: deployTimings({ healthCheckGracePeriodSeconds: graceSeconds, healthCheckTimeoutSeconds: 9 }),
    containers: 2,
  });
}

/** Log lines as they come, with a wait for the n-th one that matches. */
class LogTap {
  readonly lines: string[] = [];
  private readonly waiters: { pattern: RegExp; count: number; resolve: () => void }[] = [];

  readonly log = (line: string): void => {
    this.lines.push(line);
    for (const waiter of [...this.waiters]) {
      if (this.matches(waiter.pattern) >= waiter.count) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  waitFor(pattern: RegExp, count = 1, ms = 20_000): Promise<void> {
    if (this.matches(pattern) >= count) return Promise.resolve();
    const seen = new Promise<void>((resolve) => this.waiters.push({ pattern, count, resolve }));
    return within(seen, ms, `${count} log line(s) matching ${pattern}\n${this.lines.slice(-10).join("\n")}`);
  }

  private matches(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length;
  }
}

/** Resolves once the slot's task is healthy (a slow check may have marked it unhealthy meanwhile). */
async function untilHealthy(s: AppSupervisor, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!s.replicas[0].ready) {
    if (Date.now() > deadline) throw new Error(`the task was not healthy within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let supervisor: AppSupervisor | undefined;

afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

describe("AppSupervisor", () => {
  it("prefixes every log line with its task, so an old and a new task of one slot are told apart during a deploy", async () => {
    // given one task whose app prints a line as it starts, and short deploy timings
    const tap = new LogTap();
    const clock = new DeployClock(0.1);
    const hello = `node -e "console.log('hello from ' + process.pid); require('net').createServer((c) => c.end()).listen(process.env.PORT, '127.0.0.1')"`;
    const short = { ...app(hello), containers: 1, deploy: deployTimings({ healthCheckTimeoutSeconds: 9, propagationSeconds: 10, deregistrationDelaySeconds: 20 }) };
    supervisor = new AppSupervisor(short, { agentPath: AGENT_BUNDLE, log: tap.log, clock, events: new EventLog(clock), port: 0 });
    await supervisor.start();

    // when it is deployed (SIGHUP in local mode)
    expect(await supervisor.deploy()).toBe("done");

    // then the first task's lines and its replacement's carry their own ids, both in slot 1
    const helloLines = tap.lines.filter((line) => / \| hello from \d+$/.test(line));
    expect(helloLines.map((line) => line.split(" | ")[0])).toEqual(["flaky.1#1", "flaky.1#2"]);
    expect(tap.lines.filter((line) => line.startsWith("flaky.1 |"))).toEqual([]);
    const ready = tap.lines.filter((line) => / \| ready on /.test(line)).map((line) => line.split(" | ")[0]);
    expect(ready).toEqual(["flaky.1#1", "flaky.1#2"]);
  });

  it("takes a task whose app stops accepting out of the rotation once unhealthy and replaces it", async () => {
    const tap = new LogTap();
    const clock = new DeployClock(0.1);
    const markers = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-flaky-"));
    supervisor = new AppSupervisor(app(listenUntil(markers)), { agentPath: AGENT_BUNDLE, log: tap.log, clock, events: new EventLog(clock), port: 0 });
    await supervisor.start();
    const first = supervisor.replicas[0].pid;

    // The grace period started when the task was launched, before start() resolved: once it is
    // over (ECS ignores an unhealthy target before), and with the target healthy, the app stops accepting.
    await new Promise((resolve) => setTimeout(resolve, clock.ms(GRACE_SECONDS)));
    await untilHealthy(supervisor);
    const unhealthy = /flaky\.1#1 \| unhealthy: out of the rotation/;
    const seenBefore = tap.lines.filter((line) => unhealthy.test(line)).length;
    stopAccepting(tap, markers, "flaky.1");

    await tap.waitFor(unhealthy, seenBefore + 1);
    const inRotationWhileUnhealthy = supervisor.balancer.backends.filter((b) => b.id === "flaky.1#1").length;
    await tap.waitFor(/flaky\.1#1 \| unhealthy after its grace period: ECS starts a replacement/);
    await tap.waitFor(/flaky\.1#\d+ \| ready on/, 2);

    expect(inRotationWhileUnhealthy).toBe(0);
    expect(supervisor.replicas[0].pid).not.toBe(first);
  });

  it("replaces a task that turned unhealthy within its grace period once the period ends", async () => {
    const tap = new LogTap();
    const clock = new DeployClock(0.1);
    const markers = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-flaky-"));
    // (a grace period of 12 s here: the task must start, turn healthy and fail two checks within it)
    const grace = 120;
    supervisor = new AppSupervisor(app(listenUntil(markers), grace), { agentPath: AGENT_BUNDLE, log: tap.log, clock, events: new EventLog(clock), port: 0 });
    const started = Date.now();
    await supervisor.start();
    const first = supervisor.replicas[0].pid;

    // given a task that was healthy and stops accepting while its grace period still runs
    await untilHealthy(supervisor);
    stopAccepting(tap, markers, "flaky.1");
    await tap.waitFor(/flaky\.1#1 \| unhealthy: out of the rotation/);
    const graceLeft = clock.ms(grace) - (Date.now() - started);
    expect(graceLeft).toBeGreaterThan(0); // (else the test proves nothing: start was too slow)

    // then it is replaced once the grace period is over (ECS judges it then), not left unhealthy
    await tap.waitFor(/flaky\.1#1 \| unhealthy after its grace period: ECS starts a replacement/);
    await tap.waitFor(/flaky\.1#\d+ \| ready on/, 2);
    expect(supervisor.replicas[0].pid).not.toBe(first);
  });
});
