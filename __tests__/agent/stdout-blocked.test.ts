import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { BUNDLE, HOST, Resources, agentEnv, delay, httpGet, metric, receiveHash, sendRandom, unusedPort } from "./helpers";

/**
 * A stalled log driver: the awslogs driver in `blocking` mode stops reading the container's stdout
 * when CloudWatch Logs stalls ("the default blocking mode ... application will be blocked", ECS
 * docs, LogConfiguration `mode`; the declaration sets `non-blocking`, the agent must not depend on
 * it). Here stdout is a real pipe (a FIFO, 64 KiB in the kernel) whose reader never reads.
 * Measured on Node 20 / Linux: a write to a full stdout pipe does not block the event loop, it is
 * queued in memory without any bound; the agent bounds that queue and drops (and counts) lines.
 */

jest.setTimeout(90_000);

const resources = new Resources();
const fds: number[] = [];
afterEach(async () => {
  await resources.closeAll();
  for (const fd of fds.splice(0)) fs.closeSync(fd);
});

/** A FIFO: its read end (opened, never read here until asked) and its write end for the child. */
function fifo(): { read: number; write: number } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-stdout-")), "stdout");
  execFileSync("mkfifo", [file]);
  const read = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const write = fs.openSync(file, fs.constants.O_WRONLY);
  fds.push(read);
  return { read, write };
}

/** Everything the FIFO holds now, without waiting. */
function drain(fd: number): string {
  const chunk = Buffer.alloc(65536);
  let text = "";
  for (;;) {
    try {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return text;
      text += chunk.subarray(0, n).toString("utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") return text;
      throw error;
    }
  }
}

/** Connects from `localAddress` and resolves when the agent closed the connection (any way). */
function refusedFrom(port: number, localAddress: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port, localAddress });
    socket.on("error", () => undefined);
    socket.once("close", () => resolve());
  });
}

async function metricsWhenUp(port: number): Promise<string> {
  for (let i = 0; i < 200; i += 1) {
    try {
      return (await httpGet(port, "/metrics")).body;
    } catch {
      await delay(50);
    }
  }
  throw new Error(`no /metrics on ${port}`);
}

/** Waits until /metrics shows `n` open client connections. */
async function activeConnections(port: number, n: number): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (metric(await metricsWhenUp(port), "tcp_addon_connections_active") === n) return;
    await delay(25);
  }
  throw new Error(`never ${n} open connections`);
}

describe("a stdout nobody reads", () => {
  it("keeps forwarding while nothing reads its stdout", async () => {
    // given the agent with its stdout on a pipe that nobody reads, one connection allowed
    const { port: app } = await resources.server((socket) => socket.pipe(socket));
    const [listen, health] = [await unusedPort(), await unusedPort()];
    const out = fifo();
    const child = spawn(
      process.execPath,
      [BUNDLE, "--listen", String(listen), "--host", HOST, "--health-port", String(health), "--max-connections", "1", "--upstream", `${HOST}:${app}`],
      { env: agentEnv(), stdio: ["ignore", out.write, "pipe"], detached: true },
    );
    const exited = new Promise((resolve) => child.once("close", resolve));
    resources.onClose(async () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
      await exited;
    });
    fs.closeSync(out.write);
    child.stderr!.resume();
    await metricsWhenUp(health);
    const client = await resources.connect(listen);

    // when it logs far more than the pipe and its backlog hold: one `connection-limit` line
    // (about 140 bytes) for each refused client, each from its own loopback address
    const refused = 2000;
    for (let batch = 0; batch < refused; batch += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => refusedFrom(listen, `127.0.${1 + Math.floor((batch + i) / 250)}.${1 + ((batch + i) % 250)}`)));
    }

    // then a stream still goes through intact, and what could not be written was dropped and counted
    const [sent, received] = await Promise.all([sendRandom(client, 1 << 20, 7), receiveHash(client)]);
    expect(received).toEqual({ hash: sent, bytes: 1 << 20 });
    const text = await metricsWhenUp(health);
    expect(metric(text, 'tcp_addon_connections_refused_total{limit="max_connections"}')).toBe(refused);
    const dropped = metric(text, "tcp_addon_log_lines_dropped_total");
    expect(dropped).toBeGreaterThan(0);

    // and once the pipe is read again, the next line is preceded by the count of those dropped
    // (a new client holds the one place, the stream's connection being closed, so one more is refused)
    const before = drain(out.read);
    expect(before.length).toBeGreaterThanOrEqual(60_000); // the pipe was full
    await activeConnections(health, 0);
    await resources.connect(listen);
    await activeConnections(health, 1);
    await refusedFrom(listen, "127.0.200.1");
    let after = "";
    for (let i = 0; i < 100 && !after.includes("log-lines-dropped"); i += 1) {
      await delay(20);
      after += drain(out.read);
    }
    const note = after.split("\n").find((line) => line.includes("log-lines-dropped"));
    expect(JSON.parse(note ?? "{}")).toMatchObject({ level: "warn", event: "log-lines-dropped", count: dropped });
  });
});
