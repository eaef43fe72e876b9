import * as http from "node:http";
import * as net from "node:net";
import { parsePrometheus, type StatusView } from "../../runtime/local/status-page";
import { freePort, LocalRun, within, writeConfig } from "./helpers";

/** `tcp-addon local` serves its status page on the port it prints, over its real tasks. */

jest.setTimeout(90_000);

let run: LocalRun | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await run?.stop();
  run = undefined;
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (t: string) => (body += t));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** Polls /status.json (bounded) until `ok` holds; returns that status. */
async function statusWhere(port: number, ok: (s: StatusView) => boolean, what: string): Promise<StatusView> {
  let last: StatusView | undefined;
  for (let i = 0; i < 100; i++) {
    last = JSON.parse((await get(port, "/status.json")).body) as StatusView;
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`status never showed ${what}: ${JSON.stringify(last)}`);
}

it("prints the status page's address and shows every task healthy with its agent's connections", async () => {
  const config = writeConfig({ port: await freePort(), containers: 2 });
  run = new LocalRun(["--config", config, "--drain-seconds", "1"]);
  const line = await run.waitForLine(/status page: http:\/\/127\.0\.0\.1:\d+\//);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
  const url = await run.ready(2);

  const page = await get(port, "/");
  expect(page.status).toBe(200);
  expect(page.body).toContain("<title>tcp-addon local</title>");

  const healthy = await statusWhere(port, (s) => s.apps[0]?.tasks.filter((t) => t.state === "healthy" && t.scraped).length === 2, "two healthy tasks");
  expect(healthy.apps[0]).toMatchObject({ name: "mqtt", plan: "tcp-1k", pps: 1000, tcpUrl: url, containers: 2 });
  expect(healthy.apps[0].tasks.map((t) => t.ppsLimit)).toEqual([1000, 1000]);

  // a client connects through the local balancer: one task shows it, as its agent's /metrics do
  const [host, tcpPort] = url.replace("tcp://", "").split(":");
  const socket = net.connect({ host, port: Number(tcpPort) });
  sockets.push(socket);
  await within(new Promise((resolve) => socket.once("connect", resolve)), 5000, "the client to connect");
  const shown = await statusWhere(port, (s) => s.apps[0].tasks.reduce((n, t) => n + (t.connections ?? 0), 0) === 1, "one connection");
  const replicas = [...run.replicas().values()];
  const active = await Promise.all(replicas.map(async (r) => parsePrometheus((await get(r.health, "/metrics")).body).get("tcp_addon_connections_active")));
  expect(active.reduce((a, b) => (a ?? 0) + (b ?? 0), 0)).toBe(1);
  const byPid = new Map(shown.apps[0].tasks.map((t) => [t.pid, t.connections]));
  replicas.forEach((r, i) => expect(byPid.get(r.pid)).toBe(active[i]));
});

it("refuses a bad --status-port with one line and exit 2", async () => {
  run = new LocalRun(["--config", writeConfig({ port: await freePort(), containers: 1 }), "--status-port", "http"]);
  const { code } = await run.exited;
  expect(code).toBe(2);
  expect(run.stderr[0]).toBe('tcp-addon local: --status-port: expected a port from 0 to 65535, got "http"');
});
