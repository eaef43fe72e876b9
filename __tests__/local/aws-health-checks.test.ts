import * as http from "node:http";
import * as net from "node:net";
import { deployTimings, NLB_FIRST_HEALTH_CHECK_DELAY_SECONDS, type DeployTimings } from "../../config";
import { AppSupervisor } from "../../runtime/local/app-supervisor";
import { Balancer } from "../../runtime/local/balancer";
import { AGENT_BUNDLE, parseLocalArgs } from "../../runtime/local/cli";
import { DeployClock, EventLog } from "../../runtime/local/deploy-clock";
import { TargetGroup, type TargetState } from "../../runtime/local/target-group";
import { localApp, within } from "./helpers";

/**
 * Local mode's target group health-checks as the NLB does, row by row (docs/health-checks.md):
 * - PROXY v2 on health checks: "After you enable proxy protocol, the proxy protocol header is also
 *   included in health check connections from the load balancer." (ELB docs, Target groups for
 *   your Network Load Balancers > Proxy protocol > Health check connections,
 *   https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#health-check-connections)
 * - fail-open: "If all targets fail health checks at the same time in all enabled Availability
 *   Zones, the load balancer fails open." (ELB docs, Health checks for Network Load Balancer
 *   target groups, https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html)
 * - unhealthy targets' connections: "If a target becomes unhealthy, the load balancer sends a TCP
 *   RST for packets received on the client connections associated with the target, unless the
 *   unhealthy target triggers the load balancer to fail open." (same page)
 * - the first check of a new target: "It can take a few minutes for the registration process to
 *   complete and health checks to start." (same page); 70-120 s measured in aws/containers-roadmap#469.
 */

jest.setTimeout(60_000);

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A replica stand-in: a data port that answers its name and ends, and a /healthz whose status the test sets. */
async function fakeTarget(id: string): Promise<{ id: string; host: string; port: number; healthPort: number; setStatus: (status: number) => void; checks: number[] }> {
  let status = 200;
  const checks: number[] = [];
  const data = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.write(id);
  });
  const health = http.createServer((_req, res) => {
    checks.push(Date.now());
    res.writeHead(status).end();
  });
  for (const server of [data, health]) {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    }));
  }
  const port = (data.address() as net.AddressInfo).port;
  const healthPort = (health.address() as net.AddressInfo).port;
  return { id, host: "127.0.0.1", port, healthPort, setStatus: (s) => (status = s), checks };
}

async function group(timings: DeployTimings, clock: DeployClock, firstCheckDelaySeconds = 0): Promise<{ balancer: Balancer; targets: TargetGroup; lines: string[] }> {
  const lines: string[] = [];
  const balancer = new Balancer({ port: 0, waitForBackendMs: 2000 });
  await balancer.listen();
  const targets = new TargetGroup({ app: "t", timings, clock, lagSeconds: 0, balancer, events: new EventLog(clock), log: (l) => lines.push(l), firstCheckDelaySeconds });
  closers.push(() => balancer.close());
  closers.push(() => targets.close());
  return { balancer, targets, lines };
}

function until(targets: TargetGroup, id: string, state: TargetState): Promise<void> {
  if (targets.stateOf(id) === state) return Promise.resolve();
  return within(
    new Promise<void>((resolve) => {
      const on = (target: string, now: TargetState): void => {
        if (target !== id || now !== state) return;
        targets.off("state", on);
        resolve();
      };
      targets.on("state", on);
    }),
    20_000,
    `${id} ${state}`,
  );
}

/** The name the target behind the balancer answers with (one new connection). */
function whoAnswers(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setEncoding("utf8");
    socket.once("data", (text: string) => {
      socket.destroy();
      resolve(text);
    });
    socket.once("error", reject);
  });
}

/** Patient checks (a 450 ms timeout at this scale) so that a loaded machine does not fail them. */
const FAST = new DeployClock(0.05);

describe("local mode's health checks, as the NLB's", () => {
  it("a proxy-v2 app turns healthy while its health checks carry the PROXY v2 header", async () => {
    // given an app with clientIp: proxy-v2 (its target group has proxy_protocol_v2: the NLB puts
    // its header on the health checks too) and the agent reading PROXY v2 in front of it
    const clock = new DeployClock(0.1);
    const app = localApp({
      name: "pp",
      command: `node -e "require('net').createServer((c) => c.end()).listen(process.env.PORT, '127.0.0.1')"`,
      networking: { clientIp: "proxy-v2", maxConnections: 0 },
      deploy: deployTimings({ healthCheckTimeoutSeconds: 9 }),
    });
    const supervisor = new AppSupervisor(app, { agentPath: AGENT_BUNDLE, log: () => undefined, clock, events: new EventLog(clock), port: 0, crashLoopLimit: 1 });
    closers.push(() => supervisor.stop());

    // when it starts, then it turns healthy (start resolves once every task is healthy)
    await within(supervisor.start(), 40_000, "the proxy-v2 app to turn healthy");
    expect(supervisor.replicas[0].ready).toBe(true);

    // and the checks that made it healthy each began with the NLB's LOCAL header
    const metrics = await new Promise<string>((resolve, reject) => {
      http.get({ host: "127.0.0.1", port: supervisor.replicas[0].healthPort, path: "/metrics", agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (t: string) => (body += t)).on("end", () => resolve(body));
      }).on("error", reject);
    });
    const count = (outcome: string): number => Number(new RegExp(`^tcp_addon_health_proxy_headers_total\\{outcome="${outcome}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? NaN);
    expect(count("local")).toBeGreaterThanOrEqual(app.deploy.healthyThreshold);
    expect(count("none")).toBe(1); // this request, which sent none
  });

  it("every target unhealthy: the balancer fails open to all of them", async () => {
    // given two healthy targets
    const timings = deployTimings({ healthCheckTimeoutSeconds: 9 });
    const { balancer, targets } = await group(timings, FAST);
    const [a, b] = [await fakeTarget("a"), await fakeTarget("b")];
    targets.register(a);
    targets.register(b);
    await Promise.all([until(targets, "a", "healthy"), until(targets, "b", "healthy")]);
    expect(targets.failsOpen).toBe(false);

    // when both fail their checks
    a.setStatus(503);
    b.setStatus(503);
    await Promise.all([until(targets, "a", "unhealthy"), until(targets, "b", "unhealthy")]);

    // then new flows go to both, whatever their health (round robin)
    expect(targets.failsOpen).toBe(true);
    expect(balancer.backends.map((t) => t.id).sort()).toEqual(["a", "b"]);
    const answers = [await whoAnswers(balancer.port), await whoAnswers(balancer.port)];
    expect(answers.sort()).toEqual(["a", "b"]);

    // and once one is healthy again, only it gets new flows
    a.setStatus(200);
    await until(targets, "a", "healthy");
    expect(targets.failsOpen).toBe(false);
    expect(balancer.backends.map((t) => t.id)).toEqual(["a"]);
    expect([await whoAnswers(balancer.port), await whoAnswers(balancer.port)]).toEqual(["a", "a"]);
  });

  it("an unhealthy target's connections are reset, unless the group fails open", async () => {
    // given unhealthy connection termination on (the NLB's default for TCP) and two healthy targets
    const timings = deployTimings({ healthCheckTimeoutSeconds: 9, unhealthyConnectionTermination: true, unhealthyDrainingIntervalSeconds: 0 });
    const { balancer, targets } = await group(timings, FAST);
    const [a, b] = [await fakeTarget("a"), await fakeTarget("b")];
    targets.register(a);
    targets.register(b);
    await Promise.all([until(targets, "a", "healthy"), until(targets, "b", "healthy")]);
    const open = async (id: string): Promise<net.Socket> => {
      for (;;) {
        const socket = net.connect({ host: "127.0.0.1", port: balancer.port });
        socket.on("error", () => undefined);
        const name = await new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
        if (name === id) return socket;
        socket.destroy();
      }
    };
    const toA = await open("a");
    const toB = await open("b");
    const ended = (socket: net.Socket): Promise<string> =>
      new Promise((resolve) => {
        let code = "FIN";
        socket.once("error", (e: NodeJS.ErrnoException) => (code = e.code ?? "error"));
        socket.once("close", () => resolve(code));
      });
    const aEnded = ended(toA);

    // when a alone turns unhealthy, its connection is reset (b is healthy: no fail-open)
    a.setStatus(503);
    await until(targets, "a", "unhealthy");
    expect(await aEnded).toBe("ECONNRESET");

    // when b turns unhealthy too, the group fails open and b's connection is kept
    b.setStatus(503);
    await until(targets, "b", "unhealthy");
    expect(targets.failsOpen).toBe(true);
    expect(balancer.connectionsTo("b")).toBe(1);
    expect(toB.destroyed).toBe(false);
    toB.destroy();
  });

  it("a new target gets its first health check after the first-check delay", async () => {
    // given a target group whose new targets wait 40 AWS seconds (2 s here) for their first check
    const delaySeconds = 40;
    const { targets } = await group(deployTimings({ healthCheckTimeoutSeconds: 9 }), FAST, delaySeconds);
    const target = await fakeTarget("late");
    const states: TargetState[] = [];
    targets.on("state", (_id: string, state: TargetState) => states.push(state));

    // when it registers
    const registeredAt = Date.now();
    targets.register(target);
    await until(targets, "late", "healthy");

    // then it was checked no earlier than the delay, and stayed initial until its checks passed
    expect(target.checks[0] - registeredAt).toBeGreaterThanOrEqual(FAST.ms(delaySeconds) - 5);
    expect(states).toEqual(["initial", "healthy"]);

    // and `tcp-addon local` runs the delay users measured on AWS unless --first-check-delay shortens it
    expect(parseLocalArgs([]).firstCheckDelay).toBe(NLB_FIRST_HEALTH_CHECK_DELAY_SECONDS);
    expect(parseLocalArgs(["--first-check-delay", "0"]).firstCheckDelay).toBe(0);
  });
});
