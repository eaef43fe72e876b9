import { createHash } from "node:crypto";
import * as net from "node:net";
import { HOST, random, receiveHash, Resources, sendRandom } from "./helpers";

/**
 * The app-side sockets read into buffers the agent reuses (`net.connect`'s `onread`): one
 * buffer shared by every app-side socket, and a connection's own while it streams. A byte
 * overwritten by a later read before the client's socket took it would change what the
 * client receives. So: several connections at once (they share the buffer), large transfers
 * both ways, and clients and an app that read slowly (the agent's writes then stay pending,
 * the case where Node still points into the buffer), at every built-in plan's rate and with
 * no limit; every byte checked by SHA-256.
 */

const resources = new Resources();
afterEach(() => resources.closeAll());

const CONNECTIONS = 4;

/**
 * Writes `total` pseudo-random bytes in writes of 1 byte to 4 kB, one per event-loop turn,
 * so the agent's reads of it are small (they go through the shared buffer), then ends the
 * socket. Resolves with the SHA-256 of what was sent.
 */
function sendInSmallWrites(socket: net.Socket, total: number, seed: number): Promise<string> {
  const next = random(seed);
  const hash = createHash("sha256");
  let sent = 0;
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    const step = (): void => {
      if (sent === total) {
        socket.end(() => resolve(hash.digest("hex")));
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(total - sent, 1 + Math.floor(next() * 4096)));
      for (let i = 0; i < chunk.length; i++) chunk[i] = Math.floor(next() * 256);
      hash.update(chunk);
      sent += chunk.length;
      if (socket.write(chunk)) setImmediate(step);
      else socket.once("drain", step);
    };
    step();
  });
}

describe.each([
  ["no limit", 0],
  ["tcp-1k", 1_000],
  ["tcp-5k", 5_000],
  ["tcp-20k", 20_000],
  ["tcp-100k", 100_000],
])("app-side read buffers (%s)", (_name, pps) => {
  it(`delivers every byte both ways intact on ${CONNECTIONS} connections at once with slow readers`, async () => {
    // given an app that sends its own stream and reads slowly
    const sockets: net.Socket[] = [];
    const arrived: Array<(socket: net.Socket) => void> = [];
    const { port: appPort } = await resources.server(
      (socket) => {
        const waiter = arrived.shift();
        if (waiter) waiter(socket);
        else sockets.push(socket);
      },
      { allowHalfOpen: true },
    );
    const nextAppSocket = (): Promise<net.Socket> => {
      const socket = sockets.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => arrived.push(resolve));
    };
    const limit = pps > 0 ? ["--pps", String(pps)] : [];
    const { ready } = await resources.startAgent(["--listen", "0", "--host", HOST, "--upstream", `${HOST}:${appPort}`, ...limit]);
    // about 2 s of the plan after its 1-s burst, per direction over all connections; 16 MB each unlimited
    const size = pps > 0 ? Math.min(16 << 20, Math.floor((pps * 1500 * 3) / CONNECTIONS)) : 16 << 20;

    // when every connection sends `size` bytes each way at once (half the apps in small writes)
    const transfers = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const client = await resources.connect(ready.listen, { allowHalfOpen: true });
      const app = await nextAppSocket();
      transfers.push(
        Promise.all([
          sendRandom(client, size, 10 + i),
          receiveHash(app, 20 + i),
          i % 2 === 0 ? sendRandom(app, size, 30 + i) : sendInSmallWrites(app, Math.min(size, 4 << 20), 30 + i),
          receiveHash(client, 40 + i),
        ]),
      );
    }
    const results = await Promise.all(transfers);

    // then each side received exactly what the other sent
    results.forEach(([sentIn, receivedIn, sentOut, receivedOut], i) => {
      expect(receivedIn).toEqual({ hash: sentIn, bytes: size });
      expect(receivedOut).toEqual({ hash: sentOut, bytes: i % 2 === 0 ? size : Math.min(size, 4 << 20) });
    });
  }, 60_000);
});
