import * as os from "node:os";
import { deployTimings, type ResolvedApp } from "../../config";
import { AppSupervisor } from "../../runtime/local/app-supervisor";
import { AGENT_BUNDLE } from "../../runtime/local/cli";
import { DeployClock, EventLog } from "../../runtime/local/deploy-clock";
import { within } from "./helpers";

/** The supervisor in this process, with the real agent bundle and real app processes. */

jest.setTimeout(60_000);

/** Accepts connections on $PORT for `seconds`, then closes its listener but keeps running. */
function listenFor(seconds: number): string {
  const script = `const s = require('net').createServer((c) => c.end()).listen(process.env.PORT, '127.0.0.1'); setTimeout(() => s.close(), ${seconds * 1000}); setInterval(() => {}, 1000)`;
  return `node -e "${script}"`;
}

function app(command: string): ResolvedApp {
  return {
    name: "flaky",
    image: "local/flaky:dev",
    command,
    workdir: os.tmpdir(),
    plan: { name: "tcp-1k", packetsPerSecond: 1000 },
    containers: 1,
    port: 1,
    cpu: 256,
    memory: 512,
    env: {},
    secrets: {},
    allowedCidrs: ["0.0.0.0/0"],
    loadBalancer: 0,
    deploy: deployTimings({ healthCheckGracePeriodSeconds: 10 }),
  };
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

let supervisor: AppSupervisor | undefined;

afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

describe("AppSupervisor", () => {
  it("takes a task whose app stops accepting out of the rotation once unhealthy and replaces it", async () => {
    const tap = new LogTap();
    const clock = new DeployClock(0.1);
    supervisor = new AppSupervisor(app(listenFor(4)), { agentPath: AGENT_BUNDLE, log: tap.log, clock, events: new EventLog(clock), port: 0 });
    await supervisor.start();
    const first = supervisor.replicas[0].pid;

    await tap.waitFor(/flaky\.1#1 \| unhealthy: out of the rotation/);
    const inRotationWhileUnhealthy = supervisor.balancer.backends.length;
    await tap.waitFor(/flaky\.1#1 \| unhealthy after its grace period: ECS starts a replacement/);
    await tap.waitFor(/flaky\.1 \| ready on/, 2);

    expect(inRotationWhileUnhealthy).toBe(0);
    expect(supervisor.replicas[0].pid).not.toBe(first);
  });
});
