import { once } from "node:events";
import * as net from "node:net";
import { BenchError, HOST, now } from "./proc";

/** One preallocated buffer that every sender writes over and over. */
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/**
 * Counts received bytes: a running total, a total per connection, and a timeline of
 * the total sampled every `sampleMs`, each sample stamped with the real time it was taken.
 */
export class Meter {
  total = 0;
  readonly perConnection: number[] = [];
  readonly samples: { t: number; bytes: number }[] = [];
  private timer?: NodeJS.Timeout;

  /** Registers a new connection and returns the function that counts its bytes. */
  connection(): (n: number) => void {
    const index = this.perConnection.push(0) - 1;
    return (n) => {
      this.total += n;
      this.perConnection[index] += n;
    };
  }

  startSampling(sampleMs: number): void {
    this.stopSampling();
    this.samples.length = 0;
    this.samples.push({ t: now(), bytes: this.total });
    this.timer = setInterval(() => this.samples.push({ t: now(), bytes: this.total }), sampleMs);
  }

  stopSampling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** A listening server on 127.0.0.1 that tracks its open connections. */
export class Server {
  readonly server: net.Server;
  readonly sockets = new Set<net.Socket>();
  private idleWaiters: (() => void)[] = [];

  constructor(onConnection: (socket: net.Socket) => void) {
    this.server = net.createServer({ noDelay: true }, (socket) => {
      this.sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.once("close", () => {
        this.sockets.delete(socket);
        if (this.sockets.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
      });
      onConnection(socket);
    });
    this.server.maxConnections = 100_000;
  }

  async listen(): Promise<number> {
    this.server.listen({ port: 0, host: HOST, backlog: 4096 });
    await once(this.server, "listening");
    return this.port;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Resolves when no connection is open; rejects after `timeoutMs`. */
  waitIdle(timeoutMs = 10_000): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        reject(new BenchError("TIMEOUT", `${this.sockets.size} connections still open after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  /** Resolves once `count` connections are open; rejects after `timeoutMs`. */
  async waitConnections(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.sockets.size < count) {
      if (Date.now() > deadline) {
        throw new BenchError("TIMEOUT", `${this.sockets.size}/${count} connections reached the server in ${timeoutMs} ms`);
      }
      await once(this.server, "connection");
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (this.server.listening) {
      this.server.close();
      await once(this.server, "close");
    }
  }
}

/** A server that reads and counts everything it receives. */
export function sinkServer(meter: Meter): Server {
  return new Server((socket) => {
    const count = meter.connection();
    socket.on("data", (chunk: Buffer) => count(chunk.length));
  });
}

/** A server that writes as fast as the connection takes it, from accept until close. */
export function sourceServer(): Server {
  return new Server((socket) => {
    socket.resume();
    pump(socket);
  });
}

/**
 * A server that both sinks and pumps: it counts every byte it receives in `meter` and
 * writes as fast as each connection takes it, from accept until close.
 */
export function duplexServer(meter: Meter): Server {
  return new Server((socket) => {
    const count = meter.connection();
    socket.on("data", (chunk: Buffer) => count(chunk.length));
    pump(socket);
  });
}

/** A server that echoes every byte back. */
export function echoServer(): Server {
  return new Server((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => socket.write(chunk));
  });
}

/** A server that accepts connections and does nothing with them. */
export function idleServer(): Server {
  return new Server(() => undefined);
}

/** Writes the shared chunk until the socket pushes back, then again on `drain`. */
function pump(socket: net.Socket): void {
  const go = () => {
    while (!socket.destroyed && socket.write(CHUNK));
  };
  socket.on("drain", go);
  go();
}

/** Opens `count` connections to `port`; resolves when all are connected. */
export async function connectMany(
  port: number,
  count: number,
  host = HOST,
  concurrency = 256,
  timeoutMs = 60_000,
): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      if (Date.now() > deadline) throw new BenchError("TIMEOUT", `opened ${sockets.length}/${count} connections in ${timeoutMs} ms`);
      const socket = net.connect({ port, host, noDelay: true });
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      socket.on("error", () => socket.destroy());
      sockets.push(socket);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (err) {
    sockets.forEach((s) => s.destroy());
    throw err;
  }
  return sockets;
}

/** Connections that each write as fast as they can; `stop` destroys them. */
export async function sources(port: number, streams: number, host = HOST): Promise<{ stop(): void }> {
  const sockets = await connectMany(port, streams, host);
  for (const socket of sockets) {
    socket.resume();
    pump(socket);
  }
  return { stop: () => sockets.forEach((s) => s.destroy()) };
}

/**
 * Connections that each keep writing `size`-byte buffers (100 bytes: the small writers of the
 * fairness goal) for as long as the socket takes them, then again on `drain`; `stop` destroys them.
 */
export async function smallSources(port: number, streams: number, size: number): Promise<{ stop(): void }> {
  const sockets = await connectMany(port, streams);
  const small = Buffer.alloc(size, 0x5a);
  for (const socket of sockets) {
    socket.resume();
    const go = () => {
      while (!socket.destroyed && socket.write(small));
    };
    socket.on("drain", go);
    go();
  }
  return { stop: () => sockets.forEach((s) => s.destroy()) };
}

/** Connections whose received bytes are counted by `meter`; `stop` destroys them. */
export async function receivers(port: number, streams: number, meter: Meter): Promise<{ stop(): void }> {
  const sockets = await connectMany(port, streams);
  for (const socket of sockets) {
    const count = meter.connection();
    socket.on("data", (chunk: Buffer) => count(chunk.length));
  }
  return { stop: () => sockets.forEach((s) => s.destroy()) };
}

/**
 * Connections that each write as fast as they can and count what they receive in
 * `meter`; `stop` destroys them.
 */
export async function duplexClients(port: number, streams: number, meter: Meter): Promise<{ stop(): void }> {
  const sockets = await connectMany(port, streams);
  for (const socket of sockets) {
    const count = meter.connection();
    socket.on("data", (chunk: Buffer) => count(chunk.length));
    pump(socket);
  }
  return { stop: () => sockets.forEach((s) => s.destroy()) };
}

/**
 * Request/response round trips of `size` bytes over one connection, one at a time.
 * Returns each round trip's time in microseconds, `warmup` first ones dropped.
 */
export async function pingPong(port: number, rounds: number, size = 64, warmup = 200, timeoutMs = 60_000): Promise<Float64Array> {
  const [socket] = await connectMany(port, 1);
  socket.setNoDelay(true);
  const payload = Buffer.alloc(size, 0x61);
  const times = new Float64Array(rounds);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BenchError("TIMEOUT", `ping-pong did not finish in ${timeoutMs} ms`)), timeoutMs);
      let i = -warmup;
      let got = 0;
      let started = process.hrtime.bigint();
      const send = () => {
        got = 0;
        started = process.hrtime.bigint();
        socket.write(payload);
      };
      socket.on("data", (chunk: Buffer) => {
        got += chunk.length;
        if (got < size) return;
        if (got > size) {
          clearTimeout(timer);
          reject(new BenchError("PEER_FAILED", `echo returned ${got} bytes for ${size}`));
          return;
        }
        if (i >= 0) times[i] = Number(process.hrtime.bigint() - started) / 1000;
        i++;
        if (i >= rounds) {
          clearTimeout(timer);
          resolve();
        } else send();
      });
      socket.once("close", () => {
        clearTimeout(timer);
        reject(new BenchError("PEER_FAILED", "connection closed during ping-pong"));
      });
      send();
    });
  } finally {
    socket.destroy();
  }
  return times;
}
