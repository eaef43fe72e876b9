import * as net from "node:net";
import * as path from "node:path";
import { type AgentProcess, HOST, type ReadyLine, Resources, resetBehindEnd } from "./helpers";

const resources = new Resources();
afterEach(() => resources.closeAll());

const APP = path.join(__dirname, "fixtures", "app.js");
const MB = 1024 * 1024;

/** How a stream ended at the reader: a reset, or an end of stream (FIN) after some bytes. */
interface StreamEnd {
  bytes: number;
  /** "reset": an error (ECONNRESET); "fin": a clean end of stream. */
  how: "reset" | "fin";
  code: string | null;
}

/**
 * Reads a socket to its end. Node (libuv) reports a reset that arrives right behind the last
 * bytes as an end of stream, so an end is checked against the kernel's state (`resetBehindEnd`).
 */
function streamEnd(socket: net.Socket): Promise<StreamEnd> {
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    socket.on("data", (chunk: Buffer) => (bytes += chunk.length));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      resolve({ bytes, how: "reset", code: error.code ?? null });
    });
    socket.once("end", () => {
      if (done) return;
      done = true;
      const reset = resetBehindEnd(socket);
      resolve({ bytes, how: reset ? "reset" : "fin", code: reset ? "ECONNRESET" : null });
    });
  });
}

/** Writes `total` bytes (or forever) as fast as backpressure allows; stops on any error or close. */
function sendBytes(socket: net.Socket, total = Infinity): void {
  const chunk = Buffer.alloc(64 * 1024, 3);
  let sent = 0;
  socket.on("error", () => {});
  const pump = (): void => {
    while (!socket.destroyed && sent < total) {
      sent += chunk.length;
      if (!socket.write(chunk)) return void socket.once("drain", pump);
    }
    if (!socket.destroyed) socket.end();
  };
  pump();
}

function sidecar(upstreamPort: number, extra: string[]): Promise<{ agent: AgentProcess; ready: ReadyLine }> {
  return resources.startAgent(["--listen", "0", "--host", HOST, "--upstream", `${HOST}:${upstreamPort}`, ...extra]);
}

async function connectHalfOpen(port: number): Promise<net.Socket> {
  return resources.connect(port, { allowHalfOpen: true });
}

describe("a stream the agent cuts reaches the peer as a reset, never a FIN", () => {
  it("resets a 100 MB download still running at the drain deadline", async () => {
    // given a download of 100 MB held to 5000 pps (13 s), and a half-second drain (shorter than the 1 s a connection must be quiet to get a FIN)
    const { port } = await resources.server((socket) => sendBytes(socket, 100 * MB));
    const { agent, ready } = await sidecar(port, ["--pps", "5000", "--drain-seconds", "0.5"]);
    const client = await connectHalfOpen(ready.listen);
    const end = streamEnd(client);
    client.write("go");

    // when the agent is told to stop
    agent.signal("SIGTERM");

    // then the client sees a reset with part of the bytes, not an end of stream
    expect(await end).toMatchObject({ how: "reset", code: "ECONNRESET" });
    expect((await end).bytes).toBeLessThan(100 * MB);
  });

  it("resets a 100 MB upload toward the app still running at the drain deadline", async () => {
    // (the app's end of stream is wrapped in an object: a promise resolved with a promise would wait for it)
    let appSocket: (side: { end: Promise<StreamEnd> }) => void = () => {};
    const appSide = new Promise<{ end: Promise<StreamEnd> }>((resolve) => (appSocket = resolve));
    const { port } = await resources.server((socket) => appSocket({ end: streamEnd(socket) }), { allowHalfOpen: true });
    const { agent, ready } = await sidecar(port, ["--pps", "5000", "--drain-seconds", "0.5"]);
    sendBytes(await connectHalfOpen(ready.listen), 100 * MB);
    const { end } = await appSide;

    agent.signal("SIGTERM");

    expect(await end).toMatchObject({ how: "reset", code: "ECONNRESET" });
    expect((await end).bytes).toBeLessThan(100 * MB);
  });

  it("resets a download at once on a second SIGTERM during the drain", async () => {
    const { port } = await resources.server((socket) => sendBytes(socket, 100 * MB));
    const { agent, ready } = await sidecar(port, ["--pps", "5000", "--drain-seconds", "60"]);
    const client = await connectHalfOpen(ready.listen);
    const end = streamEnd(client);
    client.write("go");

    agent.signal("SIGTERM");
    await agent.waitForEvent("drain-start");
    agent.signal("SIGTERM");

    expect(await end).toMatchObject({ how: "reset", code: "ECONNRESET" });
    await agent.waitForEvent("drain-cut-short");
  });

  it("resets a download when the app is killed in wrapper mode", async () => {
    // given a client that asked for 100 MB and does not read yet, so the agent holds bytes
    const { agent, ready } = await resources.startAgent(["--listen", "0", "--host", HOST, "--", process.execPath, APP]);
    const client = await connectHalfOpen(ready.listen);
    client.pause();
    client.write(`download ${100 * MB}\n`);
    await new Promise<void>((resolve) => setImmediate(resolve));

    // when the app is killed, and the client then reads
    const killer = await resources.connect(ready.listen);
    killer.on("error", () => {});
    killer.write("kill\n");
    await agent.waitForEvent("app-exit");
    const end = streamEnd(client);
    client.resume();

    // then the client sees a reset, not a clean end of a truncated download
    expect(await end).toMatchObject({ how: "reset" });
    expect((await end).bytes).toBeLessThan(100 * MB);
  });

  it("resets an answer cut by the app's crash even when every byte it sent was already passed on", async () => {
    // given an app that sends 100 kB and dies: the kernel ends its socket with a FIN, before the agent hears of the exit
    const { agent, ready } = await resources.startAgent(["--listen", "0", "--host", HOST, "--", process.execPath, APP]);
    const client = await connectHalfOpen(ready.listen);
    const end = streamEnd(client);

    // when the client asks for it and reads it all
    client.write("crash 100000\n");

    // then the bytes arrive, and the end is a reset: the agent knew the app was exiting
    expect(await end).toMatchObject({ how: "reset", bytes: 100000 });
    await agent.waitForEvent("app-exit");
  });
});

describe("an app that replies and closes while the client is still sending", () => {
  const REPLY = MB;

  /** An app that answers the first bytes with 1 MB and closes at once (a reset: unread bytes). */
  async function replyAndClose(): Promise<number> {
    const reply = Buffer.alloc(REPLY, 9);
    const { port } = await resources.server((socket) => {
      socket.once("data", () => socket.write(reply, () => socket.destroy()));
    });
    return port;
  }

  /** 100 runs; counts the runs in which the client got fewer bytes than the reply and a FIN. */
  async function truncatedWithFin(port: number): Promise<{ truncatedWithFin: number; outcomes: Record<string, number> }> {
    const outcomes: Record<string, number> = {};
    let truncated = 0;
    for (let run = 0; run < 100; run++) {
      const client = await connectHalfOpen(port);
      const end = streamEnd(client);
      const chunk = Buffer.alloc(16 * 1024, 1);
      let ended = false;
      void end.then(() => (ended = true));
      const pump = (): void => {
        // a write that fails at once only marks the socket errored (it is destroyed on the next tick)
        while (!ended && !client.destroyed && !client.errored && client.write(chunk));
        if (!ended && !client.destroyed) client.once("drain", pump);
      };
      pump();
      const result = await end;
      client.destroy();
      const key = `${result.bytes === REPLY ? "complete" : "truncated"}+${result.how}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (result.how === "fin" && result.bytes < REPLY) truncated += 1;
    }
    return { truncatedWithFin: truncated, outcomes };
  }

  it("never ends in a truncated reply with a FIN on a direct connection (the reference)", async () => {
    const port = await replyAndClose();
    expect((await truncatedWithFin(port)).truncatedWithFin).toBe(0);
  });

  it.each([
    ["unlimited", []],
    ["at 20000 pps", ["--pps", "20000"]],
  ])("never ends in a truncated reply with a FIN through the agent (%s)", async (_name, flags) => {
    const port = await replyAndClose();
    const { ready } = await sidecar(port, flags);
    const { truncatedWithFin: count, outcomes } = await truncatedWithFin(ready.listen);
    expect({ count, outcomes }).toMatchObject({ count: 0 });
  });
});
