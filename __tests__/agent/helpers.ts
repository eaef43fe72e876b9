import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { AGENT_BUNDLE } from "../../runtime/agent/contract";
import { resetBehindEnd } from "../../runtime/agent/sockets";

/** The bundle jest's globalSetup builds: the tests run the agent exactly as it ships. */
export const BUNDLE = path.resolve(__dirname, "../..", AGENT_BUNDLE);
export const HOST = "127.0.0.1";

/** One parsed JSON log line of the agent. */
export interface LogLine {
  time: string;
  level: string;
  event: string;
  [field: string]: unknown;
}

export interface ReadyLine extends LogLine {
  listen: number;
  healthPort: number | null;
  appPort: number;
  upstream: string;
  tcpUrl: string;
  pps: number;
  burst: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running agent process with its parsed stdout. */
export class AgentProcess {
  readonly lines: LogLine[] = [];
  /** Lines on stdout that are not JSON (the app's own output in wrapper mode). */
  readonly otherLines: string[] = [];
  /** Every stdout line, in order. */
  readonly allLines: string[] = [];
  stderr = "";
  readonly exited: Promise<Exit>;
  private listeners: Array<() => void> = [];
  private done = false;

  constructor(readonly child: ChildProcess) {
    let buffered = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        this.addLine(line);
      }
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      this.stderr += text;
    });
    this.exited = new Promise((resolve) => {
      // "close" comes after the exit and after stdout delivered its last lines.
      child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
        this.done = true;
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first line with this event (already seen or yet to come). */
  waitForEvent(event: string, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitFor((line) => line.event === event, `event "${event}"`, timeoutMs);
  }

  /** Resolves with the first stdout line (JSON or not) that contains `text`. */
  waitForOutput(text: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => this.otherLines.some((line) => line.includes(text));
      if (check()) return resolve();
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`no output "${text}" within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      const listener = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve();
      };
      this.listeners.push(listener);
    });
  }

  waitFor(match: (line: LogLine) => boolean, what: string, timeoutMs: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const found = this.lines.find(match);
      if (found !== undefined) return resolve(found);
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`no ${what} within ${timeoutMs} ms; stderr: ${this.stderr}; lines: ${JSON.stringify(this.lines)}`));
      }, timeoutMs);
      const listener = (): void => {
        const line = this.lines.find(match);
        if (line === undefined && !this.done) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        if (line === undefined)
          reject(new Error(`agent exited before ${what}; stderr: ${this.stderr}; lines: ${JSON.stringify(this.lines)}`));
        else resolve(line);
      };
      this.listeners.push(listener);
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private addLine(line: string): void {
    this.allLines.push(line);
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === "object" && parsed !== null && "event" in parsed) this.lines.push(parsed as LogLine);
      else this.otherLines.push(line);
    } catch {
      this.otherLines.push(line);
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Collects everything a test opens, to close it in afterEach. */
export class Resources {
  private readonly agents: AgentProcess[] = [];
  private readonly servers: net.Server[] = [];
  private readonly sockets: net.Socket[] = [];
  private readonly cleanups: Array<() => Promise<void>> = [];

  /** Runs `cleanup` in closeAll (for what a test starts that is none of the kinds below). */
  onClose(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Spawns `node dist/tcp-addon-agent.js ARGS` (not yet waiting for anything). */
  spawnAgent(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; bundle?: string } = {}): AgentProcess {
    const child = spawn(process.execPath, [options.bundle ?? BUNDLE, ...args], {
      cwd: options.cwd,
      env: options.env ?? agentEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const agent = new AgentProcess(child);
    this.agents.push(agent);
    return agent;
  }

  /** Spawns the agent and waits for its `ready` line. */
  async startAgent(
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ): Promise<{ agent: AgentProcess; ready: ReadyLine }> {
    const agent = this.spawnAgent(args, options);
    const ready = (await agent.waitForEvent("ready")) as ReadyLine;
    return { agent, ready };
  }

  /** A TCP server on 127.0.0.1 with an OS-picked port. */
  async server(onConnection: (socket: net.Socket) => void, options: net.ServerOpts = {}): Promise<{ server: net.Server; port: number }> {
    const server = net.createServer(options, (socket) => {
      this.sockets.push(socket);
      socket.on("error", () => {});
      onConnection(socket);
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    return { server, port: (server.address() as net.AddressInfo).port };
  }

  /** A connected client socket. */
  connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: HOST, port, allowHalfOpen: options.allowHalfOpen ?? false });
      this.sockets.push(socket);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(socket);
      });
      socket.once("error", reject);
    });
  }

  /** A client socket, connecting (for tests where the agent may reset it before it connects). */
  dial(port: number): net.Socket {
    const socket = net.connect({ host: HOST, port });
    this.sockets.push(socket);
    return socket;
  }

  /** Closes every socket and server, kills every agent still running and waits for it. */
  async closeAll(): Promise<void> {
    for (const socket of this.sockets.splice(0)) socket.destroy();
    await Promise.all(this.cleanups.splice(0).map((cleanup) => cleanup()));
    await Promise.all(this.servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await Promise.all(
      this.agents.splice(0).map(async (agent) => {
        // The agent leads its own process group, so this also reaches an app it spawned.
        try {
          process.kill(-agent.pid, "SIGKILL");
        } catch {
          // the whole group is gone already
        }
        await agent.exited;
      }),
    );
  }
}

/** The test process's environment minus the agent's own variables. */
export function agentEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("TCP_ADDON_") && key !== "TCP_URL" && key !== "PORT") env[key] = value;
  }
  return { ...env, ...extra };
}

/** A port nothing listens on (bound by the OS a moment ago, then released). */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface HttpResult {
  status: number;
  body: string;
  contentType: string | undefined;
}

export function httpGet(port: number, urlPath: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path: urlPath, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (text: string) => (body += text));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, contentType: res.headers["content-type"] }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on("error", reject);
  });
}

/** Reads a socket to its end; resolves with everything it sent. */
export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("end", () => resolve(Buffer.concat(chunks)));
    socket.once("error", reject);
  });
}

/**
 * Resolves when the socket is closed, with whether it closed on an error (and which). A reset
 * that Node reports as an end of stream (libuv/libuv#2319; see `resetBehindEnd` in
 * runtime/agent/sockets.ts) counts as the ECONNRESET it is.
 */
export function closed(socket: net.Socket): Promise<{ error: NodeJS.ErrnoException | null }> {
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) return resolve({ error: null });
    let error: NodeJS.ErrnoException | null = null;
    socket.on("error", (e: NodeJS.ErrnoException) => (error = e));
    socket.once("end", () => {
      if (resetBehindEnd(socket)) error = Object.assign(new Error("reset behind the last bytes (Node reported an end of stream)"), { code: "ECONNRESET" });
    });
    socket.once("close", () => resolve({ error }));
  });
}

/** Resolves with the first error the socket emits (it must emit one). */
export function firstError(socket: net.Socket): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => socket.once("error", resolve));
}

/** A deterministic pseudo-random generator (xorshift32), so failures can be replayed. */
export function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/**
 * Writes `total` pseudo-random bytes in chunks of random sizes (1 byte to 64 kB),
 * honouring backpressure, then ends the socket. Resolves with the SHA-256 of what was sent.
 */
export function sendRandom(socket: net.Socket, total: number, seed: number): Promise<string> {
  const next = random(seed);
  const source = Buffer.alloc(1 << 20);
  for (let i = 0; i < source.length; i += 4) source.writeUInt32LE(Math.floor(next() * 0x1_0000_0000), i);
  const hash = createHash("sha256");
  let sent = 0;
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    const pump = (): void => {
      while (sent < total) {
        const size = Math.min(total - sent, 1 + Math.floor(next() * 65536));
        const offset = Math.floor(next() * (source.length - size));
        const chunk = source.subarray(offset, offset + size);
        hash.update(chunk);
        sent += size;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
      socket.end(() => resolve(hash.digest("hex")));
    };
    pump();
  });
}

/**
 * Reads a socket to its end; resolves with the SHA-256 and length of what arrived. With
 * `slowSeed`, a slow reader: after one chunk in twenty it stops reading for up to 100 ms.
 */
export function receiveHash(socket: net.Socket, slowSeed?: number): Promise<{ hash: string; bytes: number }> {
  const next = slowSeed === undefined ? null : random(slowSeed);
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    let bytes = 0;
    socket.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (next !== null && next() < 0.05) {
        socket.pause();
        setTimeout(() => socket.resume(), 1 + Math.floor(next() * 100));
      }
    });
    socket.once("end", () => resolve({ hash: hash.digest("hex"), bytes }));
    socket.once("error", reject);
  });
}

/** Resident memory of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** The value of one sample in Prometheus text, e.g. `tcp_addon_bytes_total{direction="in"}`. */
export function metric(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  if (line === undefined) throw new Error(`no sample ${sample} in:\n${text}`);
  return Number(line.slice(sample.length + 1));
}

export { delay } from "../helpers/net";
