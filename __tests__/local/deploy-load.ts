import { randomBytes } from "node:crypto";
import * as net from "node:net";
import * as path from "node:path";

/**
 * Client load for deploy tests and measurements, against the echo fixture
 * (fixtures/echo-app.js: each connection gets the app's pid and a newline, then an echo).
 */

export const ECHO_APP = path.join(__dirname, "fixtures/echo-app.js");

/** How one short transfer ended. */
export type TransferKind = "ok" | "corrupt" | "refused" | "reset-at-connect" | "cut" | "timeout";

export interface TransferResult {
  readonly kind: TransferKind;
  /** The app process that answered (from its first line), when it did. */
  readonly pid?: number;
  readonly startedAt: number;
}

/** Connects, sends `bytes` random bytes and expects the pid line plus the same bytes back. */
export function transfer(port: number, bytes = 16_384, timeoutMs = 15_000): Promise<TransferResult> {
  const startedAt = Date.now();
  const payload = randomBytes(bytes);
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let pid: number | undefined;
    let done = false;
    const finish = (kind: TransferKind) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ kind, pid, startedAt });
    };
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(payload));
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (pid === undefined) {
        const newline = received.indexOf(10);
        if (newline < 0) return;
        pid = Number(received.subarray(0, newline).toString());
        received = received.subarray(newline + 1);
      }
      if (received.length < bytes) return;
      finish(received.subarray(0, bytes).equals(payload) && received.length === bytes ? "ok" : "corrupt");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") finish("refused");
      else finish(pid === undefined && received.length === 0 ? "reset-at-connect" : "cut");
    });
    // A clean end before every byte came back: a cut stream that looks complete.
    socket.on("close", () => finish("cut"));
  });
}

/** New connections at a steady rate until stopped, each one a short transfer. */
export class ConnectionLoop {
  readonly results: TransferResult[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;

  constructor(port: number, perSecond = 50, bytes = 16_384) {
    this.timer = setInterval(() => {
      const running = transfer(port, bytes).then((result) => {
        this.results.push(result);
        this.inFlight.delete(running);
      });
      this.inFlight.add(running);
    }, 1000 / perSecond);
  }

  /** Stops opening connections and waits for those under way. */
  async stop(): Promise<TransferResult[]> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
    return this.results;
  }

  /** Results other than intact transfers, by kind. */
  failures(): Partial<Record<TransferKind, number>> {
    const counts: Partial<Record<TransferKind, number>> = {};
    for (const r of this.results) if (r.kind !== "ok") counts[r.kind] = (counts[r.kind] ?? 0) + 1;
    return counts;
  }
}

/**
 * A long-lived client: stays connected, sends a small ping every 200 ms, and reconnects at
 * once (after `retryMs`) whenever its connection is dropped, as a client must.
 */
export class SteadyClient {
  drops = 0;
  /** Connection attempts that were refused or reset before the app answered. */
  failedAttempts = 0;
  readonly gaps: number[] = [];
  pid?: number;
  private socket?: net.Socket;
  private droppedAt?: number;
  private pinger?: NodeJS.Timeout;
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly port: number, private readonly retryMs = 100) {
    this.connect();
  }

  get connected(): boolean {
    return this.pid !== undefined;
  }

  /** Resolves once the client is connected and the app has answered. */
  whenConnected(): Promise<void> {
    return this.connected ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pinger);
    this.socket?.destroy();
  }

  private connect(): void {
    if (this.closed) return;
    let answered = false;
    let buffered = "";
    const socket = net.connect({ host: "127.0.0.1", port: this.port });
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      if (answered) return;
      buffered += chunk.toString("latin1");
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      answered = true;
      this.pid = Number(buffered.slice(0, newline));
      if (this.droppedAt !== undefined) this.gaps.push(Date.now() - this.droppedAt);
      this.droppedAt = undefined;
      for (const resolve of this.waiters.splice(0)) resolve();
      this.pinger = setInterval(() => socket.write("ping\n"), 200);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearInterval(this.pinger);
      if (this.closed) return;
      if (answered) {
        this.drops += 1;
        this.pid = undefined;
        this.droppedAt = Date.now();
      } else {
        this.failedAttempts += 1;
      }
      setTimeout(() => this.connect(), this.retryMs);
    });
  }
}
