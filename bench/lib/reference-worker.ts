/**
 * Minimal forwarders the bench holds the agent against, each one Node process:
 *
 * - `pipe UPSTREAM_PORT`: a plain Node pipe, `client.pipe(app)` and `app.pipe(client)`, no limit.
 * - `one-timer UPSTREAM_PORT PPS`: the same traffic held to PPS packets/s per direction (a
 *   packet is up to 1500 bytes) with one shared timer at 125 ticks/s for both directions:
 *   each tick refills both buckets, then serves each direction's connections round robin, one
 *   piece of at most 1/125 s of the rate (at most 44 packets) per turn, each piece a `read(n)`
 *   of the paused source written at once. The timer starts at the first piece that has to wait
 *   and stops when both queues are empty. Burst: one second's worth. No PROXY protocol, no
 *   drain, no metrics, no stream-end checks: the floor a Node forwarder with this limiter
 *   design can reach.
 *
 * Prints `{"event":"ready","listen":PORT}` once listening.
 */
import * as net from "node:net";

const PACKET = 1500;
const TICKS_PER_SECOND = 125;
const TICK_MS = 1000 / TICKS_PER_SECOND;
const MAX_PIECE_PACKETS = 44;
const HOST = "127.0.0.1";

interface Direction {
  tokens: number;
  last: number;
  readonly queue: net.Socket[];
}

function main(mode: string, upstreamPort: number, pps: number): void {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: mode !== "pipe" }, (client) => {
    const app = net.connect({ host: HOST, port: upstreamPort, allowHalfOpen: true, noDelay: true });
    client.on("error", () => app.destroy());
    app.on("error", () => client.destroy());
    if (mode === "pipe") {
      client.pipe(app);
      app.pipe(client);
      return;
    }
    app.once("connect", () => {
      limited(client, app, up);
      limited(app, client, down);
    });
  });
  const piece = Math.min(MAX_PIECE_PACKETS, Math.max(1, Math.ceil(pps / TICKS_PER_SECOND))) * PACKET;
  const up: Direction = { tokens: pps, last: performance.now(), queue: [] };
  const down: Direction = { tokens: pps, last: performance.now(), queue: [] };
  let timer: NodeJS.Timeout | null = null;

  const refill = (d: Direction): void => {
    const t = performance.now();
    d.tokens = Math.min(pps, d.tokens + ((t - d.last) / 1000) * pps);
    d.last = t;
  };
  /** Serves one direction's queue round robin while its bucket covers the next piece. */
  const serve = (d: Direction): void => {
    refill(d);
    while (d.queue.length > 0) {
      const source = d.queue[0];
      const bytes = Math.min(piece, source.readableLength);
      const cost = Math.ceil(bytes / PACKET);
      if (bytes === 0 || source.destroyed) {
        d.queue.shift();
        continue;
      }
      if (d.tokens < cost) break;
      d.tokens -= cost;
      d.queue.shift();
      (source as net.Socket & { peer: net.Socket }).peer.write(source.read(bytes) as Buffer);
      if (source.readableLength > 0) d.queue.push(source);
      else source.read(0);
    }
  };
  const tick = (): void => {
    timer = null;
    serve(up);
    serve(down);
    if (up.queue.length > 0 || down.queue.length > 0) timer = setTimeout(tick, TICK_MS);
  };
  const limited = (source: net.Socket, dest: net.Socket, d: Direction): void => {
    (source as net.Socket & { peer: net.Socket }).peer = dest;
    source.on("end", () => dest.end());
    source.on("readable", () => {
      if (d.queue.includes(source) || source.readableLength === 0) return;
      d.queue.push(source);
      serve(d);
      if (timer === null && d.queue.length > 0) timer = setTimeout(tick, TICK_MS);
    });
  };
  server.listen(0, HOST, () => {
    process.stdout.write(JSON.stringify({ event: "ready", listen: (server.address() as net.AddressInfo).port }) + "\n");
  });
  process.once("SIGTERM", () => process.exit(0));
}

const [mode, port, pps] = process.argv.slice(2);
if ((mode !== "pipe" && mode !== "one-timer") || !Number(port) || (mode === "one-timer" && !Number(pps))) {
  process.stderr.write("usage: reference-worker pipe UPSTREAM_PORT | one-timer UPSTREAM_PORT PPS\n");
  process.exit(2);
}
main(mode, Number(port), Number(pps));
