import * as net from "node:net";
import {
  type AgentProcess,
  HOST,
  type ReadyLine,
  Resources,
  closed,
  firstError,
  httpGet,
  metric,
  readAll,
  receiveHash,
  sendRandom,
  unusedPort,
} from "./helpers";

const resources = new Resources();
afterEach(() => resources.closeAll());

/** An upstream that hands each accepted socket to the test, in order. */
async function upstream(options: net.ServerOpts = {}): Promise<{ port: number; next: () => Promise<net.Socket> }> {
  const queue: net.Socket[] = [];
  const waiting: Array<(socket: net.Socket) => void> = [];
  const { port } = await resources.server((socket) => {
    const resolve = waiting.shift();
    if (resolve !== undefined) resolve(socket);
    else queue.push(socket);
  }, options);
  return {
    port,
    next: () => {
      const socket = queue.shift();
      return socket !== undefined ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

function sidecar(upstreamPort: number, extra: string[] = []): Promise<{ agent: AgentProcess; ready: ReadyLine }> {
  return resources.startAgent(["--listen", "0", "--host", HOST, "--upstream", `${HOST}:${upstreamPort}`, ...extra]);
}

describe.each([
  ["unlimited", []],
  ["limited to 60000 pps", ["--pps", "60000"]],
])("forwarding (%s)", (_name, flags) => {
  it("delivers 24 MB each way intact and in order, in random chunk sizes, both directions at once", async () => {
    const app = await upstream({ allowHalfOpen: true });
    const { ready } = await sidecar(app.port, flags);
    const size = 24 * 1024 * 1024;

    const client = await resources.connect(ready.listen, { allowHalfOpen: true });
    const server = await app.next();
    const [sentIn, receivedIn, sentOut, receivedOut] = await Promise.all([
      sendRandom(client, size, 1),
      receiveHash(server),
      sendRandom(server, size, 2),
      receiveHash(client),
    ]);

    expect(receivedIn).toEqual({ hash: sentIn, bytes: size });
    expect(receivedOut).toEqual({ hash: sentOut, bytes: size });
  });
});

describe("forwarding", () => {
  it("serves 400 connections at once, each getting its own bytes back", async () => {
    // 400 keeps the test process and the agent under 1024 open files each
    const echo = await upstream({ allowHalfOpen: true });
    const { ready } = await sidecar(echo.port);
    const serving = (async () => {
      for (let i = 0; i < 400; i++) {
        const socket = await echo.next();
        socket.pipe(socket);
      }
    })();

    const answers = await Promise.all(
      Array.from({ length: 400 }, async (_, i) => {
        const client = await resources.connect(ready.listen, { allowHalfOpen: true });
        const answer = readAll(client);
        client.end(`connection ${i}`);
        return (await answer).toString();
      }),
    );
    await serving;

    expect(answers).toEqual(Array.from({ length: 400 }, (_, i) => `connection ${i}`));
  });

  it("passes a client's half-close to the app, and the app can still answer", async () => {
    const app = await upstream({ allowHalfOpen: true });
    const { ready } = await sidecar(app.port);
    const client = await resources.connect(ready.listen, { allowHalfOpen: true });
    const server = await app.next();

    // when the client sends a request and half-closes
    client.end("request");
    const request = await readAll(server);
    // then the app sees the end of the request and its answer still reaches the client
    server.end(`answer to ${request.toString()}`);
    expect((await readAll(client)).toString()).toBe("answer to request");
  });

  it("passes an app's half-close to the client, and the client can still send", async () => {
    const app = await upstream({ allowHalfOpen: true });
    const { ready } = await sidecar(app.port);
    const client = await resources.connect(ready.listen, { allowHalfOpen: true });
    const server = await app.next();

    server.end("greeting");
    expect((await readAll(client)).toString()).toBe("greeting");
    client.end("still here");
    expect((await readAll(server)).toString()).toBe("still here");
  });

  it("resets the app's connection when the client resets", async () => {
    const app = await upstream();
    const { ready } = await sidecar(app.port);
    const client = await resources.connect(ready.listen);
    const server = await app.next();
    const error = firstError(server);

    client.resetAndDestroy();

    expect((await error).code).toBe("ECONNRESET");
  });

  it("resets the client's connection when the app resets", async () => {
    const app = await upstream();
    const { ready } = await sidecar(app.port);
    const client = await resources.connect(ready.listen);
    const server = await app.next();
    const error = firstError(client);

    server.resetAndDestroy();

    expect((await error).code).toBe("ECONNRESET");
  });

  it("closes a client at once, with a reset, when the app refuses the connection", async () => {
    const { ready } = await sidecar(await unusedPort());
    // the reset may beat the client's own view of the handshake, so watch the raw socket
    const result = await closed(resources.dial(ready.listen));
    expect(result.error?.code).toBe("ECONNRESET");
  });

  it("reports 503 on /healthz after the app refused a connection", async () => {
    const { ready } = await sidecar(await unusedPort(), ["--health-port", "0"]);
    await closed(resources.dial(ready.listen));
    const health = await httpGet(ready.healthPort!, "/healthz");
    expect(health).toMatchObject({ status: 503, body: "upstream down\n" });
  });

  it("reports 200 ok on /healthz while the app accepts", async () => {
    const app = await upstream();
    const { ready } = await sidecar(app.port, ["--health-port", "0"]);
    const health = await httpGet(ready.healthPort!, "/healthz");
    expect(health).toMatchObject({ status: 200, body: "ok\n" });
  });

  it("turns /healthz back to 200 once a connection to the app succeeds again", async () => {
    // given an agent whose app is down
    const port = await unusedPort();
    const { ready } = await sidecar(port, ["--health-port", "0"]);
    expect((await httpGet(ready.healthPort!, "/healthz")).status).toBe(503);

    // when the app comes up and a client's bytes make the round trip through the agent
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(port, HOST, resolve));
    try {
      const client = await resources.connect(ready.listen);
      client.write("x");
      await new Promise<void>((resolve) => client.once("data", () => resolve()));

      // then health follows that success
      expect(await httpGet(ready.healthPort!, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
    } finally {
      echo.close();
    }
  });

  it("reports traffic, connections and the limit on /metrics in Prometheus text", async () => {
    const app = await upstream();
    const { ready } = await sidecar(app.port, ["--health-port", "0", "--pps", "5000"]);
    const client = await resources.connect(ready.listen);
    const server = await app.next();

    // 4000 bytes in, 10 bytes out, then the client closes
    const received = readAll(server);
    client.end(Buffer.alloc(4000, 1));
    await received;
    const { body, contentType, status } = await httpGet(ready.healthPort!, "/metrics");

    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metric(body, 'tcp_addon_bytes_total{direction="in"}')).toBe(4000);
    expect(metric(body, 'tcp_addon_packets_total{direction="in"}')).toBeGreaterThanOrEqual(3);
    expect(metric(body, 'tcp_addon_bytes_total{direction="out"}')).toBe(0);
    expect(metric(body, "tcp_addon_connections_total")).toBe(1);
    expect(metric(body, "tcp_addon_pps_limit")).toBe(5000);
    expect(metric(body, 'tcp_addon_throttled_seconds_total{direction="in"}')).toBe(0);
    for (const name of [
      "tcp_addon_packets_total counter",
      "tcp_addon_bytes_total counter",
      "tcp_addon_throttled_seconds_total counter",
      "tcp_addon_connections_active gauge",
      "tcp_addon_connections_total counter",
      "tcp_addon_pps_limit gauge",
    ]) {
      expect(body).toContain(`# TYPE ${name}\n`);
    }
  });

  it("counts open connections on /metrics", async () => {
    const app = await upstream();
    const { ready } = await sidecar(app.port, ["--health-port", "0"]);
    await resources.connect(ready.listen);
    await resources.connect(ready.listen);
    await app.next();
    await app.next();
    const { body } = await httpGet(ready.healthPort!, "/metrics");
    expect(metric(body, "tcp_addon_connections_active")).toBe(2);
  });

  it("answers 404 for paths other than /healthz and /metrics", async () => {
    const app = await upstream();
    const { ready } = await sidecar(app.port, ["--health-port", "0"]);
    expect((await httpGet(ready.healthPort!, "/")).status).toBe(404);
  });

  it("closes connections idle for longer than --idle-timeout", async () => {
    const app = await upstream();
    const { ready } = await sidecar(app.port, ["--idle-timeout", "0.3"]);
    const client = await resources.connect(ready.listen);
    const server = await app.next();
    const [clientClosed, serverClosed] = await Promise.all([closed(client), closed(server)]);
    expect(clientClosed.error).toBeNull();
    expect(serverClosed.error).toBeNull();
  });

  it("exits 1 with one clear line when the listen port is taken", async () => {
    const app = await upstream();
    const agent = resources.spawnAgent(["--listen", String(app.port), "--host", HOST, "--upstream", `${HOST}:${await unusedPort()}`]);
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    expect(agent.lines).toHaveLength(1);
    expect(agent.lines[0]).toMatchObject({ level: "error", event: "listen-failed", code: "TCP_ADDON_AGENT_LISTEN" });
    expect(agent.lines[0].error).toBe(`cannot listen on ${HOST}:${app.port} for connections: EADDRINUSE`);
  });
});

describe("sidecar mode on SIGTERM", () => {
  it("turns /healthz to 503 at once and keeps accepting: a connection opened after SIGTERM is served", async () => {
    const echo = await upstream();
    const { agent, ready } = await sidecar(echo.port, ["--health-port", "0", "--drain-seconds", "5"]);
    void echo.next().then((socket) => socket.pipe(socket));

    agent.signal("SIGTERM");
    await agent.waitForEvent("drain-start");

    expect(await httpGet(ready.healthPort!, "/healthz")).toMatchObject({ status: 503, body: "draining\n" });
    const late = await resources.connect(ready.listen);
    late.write("after SIGTERM");
    const answer = await new Promise<string>((resolve) => late.once("data", (chunk: Buffer) => resolve(chunk.toString())));
    expect(answer).toBe("after SIGTERM");
  });

  it("closes a quiet connection with a FIN toward the app during the drain, and the app's FIN reaches the client", async () => {
    const app = await upstream();
    const { agent, ready } = await sidecar(app.port, ["--drain-seconds", "20"]);
    const client = await resources.connect(ready.listen);
    const server = await app.next();
    const clientEnd = closed(client);

    agent.signal("SIGTERM");
    // then the app reads an end of stream (as if the client had closed); it closes in turn
    await readAll(server);
    server.end();
    expect((await clientEnd).error).toBeNull();
  });

  it("keeps the listener open for the whole window, then exits 0", async () => {
    const app = await upstream();
    const { agent, ready } = await sidecar(app.port, ["--drain-seconds", "3"]);
    const client = await resources.connect(ready.listen);
    const server = await app.next();

    agent.signal("SIGTERM");
    await agent.waitForEvent("drain-start");
    server.end();
    client.end();
    // a flow that arrives during the window is accepted (it reaches the app); still busy at its
    // end (a byte every 200 ms, never quiet for the 1 s that earns a FIN), it is reset
    const late = await resources.connect(ready.listen);
    const ticker = setInterval(() => late.write("."), 200);
    const lateClosed = closed(late).finally(() => clearInterval(ticker));
    await app.next();

    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    expect((await lateClosed).error?.code).toBe("ECONNRESET");
    expect(agent.lines.find((l) => l.event === "drain-end")).toMatchObject({ closed: 1 });
  });
});

describe("SIGHUP", () => {
  it("drains like SIGTERM in sidecar mode, and says so in the log", async () => {
    const app = await upstream();
    const { agent } = await sidecar(app.port, ["--drain-seconds", "0.2"]);
    agent.signal("SIGHUP");
    expect(await agent.waitForEvent("drain-start")).toMatchObject({ signal: "SIGHUP" });
    expect((await agent.exited).code).toBe(0);
  });
});
