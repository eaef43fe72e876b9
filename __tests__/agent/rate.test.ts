import { spawn } from "node:child_process";
import { once } from "node:events";
import * as path from "node:path";
import * as readline from "node:readline";
import { HOST, Resources, delay, httpGet, metric } from "./helpers";

const resources = new Resources();
afterEach(() => resources.closeAll());

const PACKET = 1500;

/**
 * A fixture script in a process of its own, so that a busy test process neither starves the
 * writers nor skews what the app counts. It exits when its stdin closes (at cleanup).
 */
async function fixture(script: string, args: string[]): Promise<(request?: string) => Promise<unknown>> {
  const child = spawn(process.execPath, [path.join(__dirname, "fixtures", script), ...args], { stdio: ["pipe", "pipe", "inherit"] });
  resources.onClose(async () => {
    child.stdin.end();
    if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
  });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<unknown> => {
    const { value } = await lines.next();
    if (typeof value !== "string") throw new Error(`${script} ended early (exit ${child.exitCode})`);
    return JSON.parse(value);
  };
  return async (request?: string) => {
    if (request !== undefined) child.stdin.write(`${request}\n`);
    return next();
  };
}

/**
 * Clients (fixtures/writers.js) that keep `queued` bytes waiting in writes of `write` bytes
 * each; resolves once every one of them has bytes waiting (its kernel buffers are full).
 */
async function writers(port: number, spec: Array<{ write: number; queued: number }>): Promise<void> {
  const next = await fixture("writers.js", [String(port), JSON.stringify(spec)]);
  await next(); // connected
  await next(); // full
}

/** A client that writes full packets as fast as backpressure allows. */
const FLOOD = { write: 64 * PACKET, queued: 64 * PACKET };

describe("the packets-per-second limit on a real clock", () => {
  it("holds a flooding client to 1000 pps (within 10%) over 3 s once the burst is spent", async () => {
    // given an agent at 1000 pps (burst 1000 packets) and an app that counts what it receives
    const app = await countingApp();
    const { ready } = await resources.startAgent(["--listen", "0", "--host", HOST, "--pps", "1000", "--upstream", `${HOST}:${app.port}`]);

    // when a client floods it (and the first second's burst is spent)
    await writers(ready.listen, [FLOOD]);
    await delay(1500);
    const before = await app.counts();
    await delay(3000);
    const { bytes, seconds } = between(before, await app.counts());

    // then the app receives 1000 packets/s
    const rate = bytes[0] / PACKET / seconds;
    expect(rate).toBeGreaterThanOrEqual(900);
    expect(rate).toBeLessThanOrEqual(1100);
  });

  it("shares the budget fairly between 50 flooding connections", async () => {
    // given an agent at 2000 pps and an app that counts bytes per connection
    const app = await countingApp();
    const { ready } = await resources.startAgent([
      ...["--listen", "0", "--host", HOST, "--pps", "2000"],
      ...["--upstream", `${HOST}:${app.port}`],
    ]);

    // when 50 clients flood it at once (and the first second's burst is spent)
    await writers(ready.listen, Array.from({ length: 50 }, () => FLOOD));
    await delay(1500);
    const before = await app.counts();
    await delay(2000);
    const { bytes, seconds } = between(before, await app.counts());
    const shares = bytes.map((count) => count / PACKET);

    // then every connection gets close to 1/50 of the budget, and the total stays at the limit
    expect(shares).toHaveLength(50);
    const total = shares.reduce((a, b) => a + b, 0);
    expect(total / seconds).toBeGreaterThanOrEqual(1800);
    expect(total / seconds).toBeLessThanOrEqual(2200);
    const fair = total / 50;
    expect(Math.min(...shares)).toBeGreaterThanOrEqual(fair * 0.7);
    expect(Math.max(...shares)).toBeLessThanOrEqual(fair * 1.3);
  });

  it("charges a throttled stream for full packets: about 1500 bytes per packet, not ceil(64 kB / 1500)", async () => {
    const { port } = await resources.server((socket) => socket.resume());
    const { ready } = await resources.startAgent([
      ...["--listen", "0", "--host", HOST, "--health-port", "0", "--pps", "5000", "--burst", "100"],
      ...["--upstream", `${HOST}:${port}`],
    ]);
    await writers(ready.listen, [FLOOD]);
    await delay(1500);

    const { body } = await httpGet(ready.healthPort!, "/metrics");
    const bytes = metric(body, 'tcp_addon_bytes_total{direction="in"}');
    const packets = metric(body, 'tcp_addon_packets_total{direction="in"}');
    // 64 kB reads charged whole would give 65536 / 44 = 1489.5 bytes per packet
    expect(bytes / packets).toBeGreaterThanOrEqual(1495);
    expect(bytes / packets).toBeLessThanOrEqual(1500);
  });

  it("charges an app's stream to a client at 10000 pps for full packets: a turn that empties a full stream buffer (65536 bytes) does not pay 44 whole packets (66000)", async () => {
    // given an app (a process of its own) that writes 64 KiB chunks as fast as the agent takes them
    const next = await fixture("flooding-app.js", []);
    const { port } = (await next()) as { port: number };
    const { ready } = await resources.startAgent([
      ...["--listen", "0", "--host", HOST, "--health-port", "0", "--pps", "10000"],
      ...["--upstream", `${HOST}:${port}`],
    ]);
    const client = await resources.connect(ready.listen);
    client.resume();

    // when the agent holds it to the plan (its burst of one second's packets spent) for 2 s
    const counts = async (): Promise<{ bytes: number; packets: number }> => {
      const { body } = await httpGet(ready.healthPort!, "/metrics");
      return { bytes: metric(body, 'tcp_addon_bytes_total{direction="out"}'), packets: metric(body, 'tcp_addon_packets_total{direction="out"}') };
    };
    await delay(1500);
    const before = await counts();
    await delay(2000);
    const after = await counts();

    // then every turn's last packet is full (the bytes behind it completed it): 1500 bytes per
    // packet, where paying each turn whole gives 65536 / 44 = 1489.5
    const packets = after.packets - before.packets;
    const bytes = after.bytes - before.bytes;
    expect(packets).toBeGreaterThan(10_000);
    expect(bytes / packets).toBeGreaterThanOrEqual(1497);
    // At most one packet's unfilled bytes (1499) more: the window may open right after a turn
    // whose last packet was paid before it and filled within it (1500.03 to 1500.07 seen beside
    // stress-ng --cpu 2, where a bound of exactly 1500 failed 3 runs of 3).
    expect(bytes).toBeLessThanOrEqual(packets * 1500 + 1499);
  });

  it("charges a stream that never waits 1500 bytes per packet: the next read completes a full read's last packet", async () => {
    // given an agent whose bucket cannot run dry during the test (every read passes at once), in
    // front of an app that reads in spells (so bytes pile up and the agent's reads fill its buffer)
    const { port } = await resources.server((socket) => {
      const spell = setInterval(() => {
        socket.resume();
        setTimeout(() => socket.pause(), 5);
      }, 20);
      socket.once("close", () => clearInterval(spell));
    });
    const { ready } = await resources.startAgent([
      ...["--listen", "0", "--host", HOST, "--health-port", "0", "--pps", "10000000"],
      ...["--upstream", `${HOST}:${port}`],
    ]);

    // when a client floods it, until 10 full reads' worth went through
    await writers(ready.listen, [FLOOD]);
    let body = "";
    for (let i = 0; i < 100; i++) {
      body = (await httpGet(ready.healthPort!, "/metrics")).body;
      if (metric(body, 'tcp_addon_bytes_total{direction="in"}') > 10 * 65536) break;
      await delay(50);
    }

    // then the packets counted are the bytes / 1500, not one partial packet per 64 KiB read
    const bytes = metric(body, 'tcp_addon_bytes_total{direction="in"}');
    const packets = metric(body, 'tcp_addon_packets_total{direction="in"}');
    expect(bytes).toBeGreaterThan(10 * 65536);
    // read by read, 65536-byte reads would give 65536 / 44 = 1489.5 bytes per packet
    expect(bytes / packets).toBeGreaterThanOrEqual(1498);
    expect(bytes / packets).toBeLessThanOrEqual(1500);
  });
});

describe("the rate tests' clients (fixtures/writers.js)", () => {
  it("top up every connection round robin: a connection whose kernel buffer takes every write does not hold the others up", async () => {
    // given a server that reads two connections as fast as they come (their kernel buffers
    // never fill, so a top-up that wrote until one refused a write never ended)
    const received = [0, 0];
    let accepted = 0;
    let both: () => void = () => undefined;
    const bothHaveOneMegabyte = new Promise<void>((resolve) => (both = resolve));
    const { port } = await resources.server((socket) => {
      const index = accepted++; // writers.js connects one after the other
      socket.on("data", (chunk: Buffer) => {
        received[index] += chunk.length;
        if (received.every((bytes) => bytes >= 1 << 20)) both();
      });
    });

    // when writers.js keeps 8 kB queued on each in 100-byte writes
    const next = await fixture("writers.js", [String(port), JSON.stringify([{ write: 100, queued: 8192 }, { write: 100, queued: 8192 }])]);
    await next(); // connected

    // then both get their bytes (the second one got none while the first took them all)
    await bothHaveOneMegabyte;
    expect(Math.min(...received)).toBeGreaterThanOrEqual(1 << 20);
  });
});

/** What the counting app saw by a moment of its own clock. */
interface Counts {
  ms: number;
  counts: number[];
}

/** The app (fixtures/counting-app.js); `counts()` asks it for the bytes per connection so far. */
async function countingApp(): Promise<{ port: number; counts: () => Promise<Counts> }> {
  const next = await fixture("counting-app.js", []);
  const { port } = (await next()) as { port: number };
  return { port, counts: async () => (await next("counts")) as Counts };
}

/** Bytes per connection between two counts, and the seconds between them. */
function between(before: Counts, after: Counts): { bytes: number[]; seconds: number } {
  return { bytes: after.counts.map((count, i) => count - (before.counts[i] ?? 0)), seconds: (after.ms - before.ms) / 1000 };
}

function jain(shares: number[]): number {
  const sum = shares.reduce((a, b) => a + b, 0);
  return (sum * sum) / (shares.length * shares.reduce((a, b) => a + b * b, 0));
}

/**
 * 50 clients first fill their kernel buffers (100-byte writes take a while on a loaded machine:
 * over 30 s with a busy loop beside the test run), then are measured: the time to fill is not
 * what these tests are about, so they get room for it.
 */
const FILL_ROOM_MS = 120_000;

/** Once every client has bytes waiting, the measured windows open after this warm-up... */
const WARM_UP_MS = 1500;
/** ...and each lasts this long. */
const WINDOW_MS = 2000;

/**
 * Clients that each keep about `queued` bytes waiting in writes of `write` bytes, through an
 * agent at `pps`; after the warm-up, the bytes per connection the app receives in each of
 * `windows` 2-s windows back to back. (Beside other work a window used to show a connection at
 * 0: the clients' process had fallen behind, not the agent; see fixtures/writers.js.)
 */
async function shareWindows(pps: number, spec: Array<{ write: number; queued: number }>, windows: number): Promise<number[][]> {
  const app = await countingApp();
  const { ready } = await resources.startAgent(["--listen", "0", "--host", HOST, "--pps", String(pps), "--upstream", `${HOST}:${app.port}`]);
  await writers(ready.listen, spec);
  await delay(WARM_UP_MS);
  let before = await app.counts();
  const shares: number[][] = [];
  for (let i = 0; i < windows; i++) {
    await delay(WINDOW_MS);
    const after = await app.counts();
    shares.push(between(before, after).bytes);
    before = after;
  }
  return shares;
}

/** Jain's index and the smallest share over the mean (1 = every connection got the same). */
function fairness(shares: number[]): { jain: number; worst: number } {
  const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
  return { jain: jain(shares), worst: Math.min(...shares) / mean };
}

describe("fairness whatever the write sizes", () => {
  it.each([1000, 5000])(
    "gives 50 clients writing 100 bytes at a time equal shares at %i pps in every one of four 2-s windows after a 1.5-s warm-up: Jain >= 0.98, no connection under 70 % of the mean",
    async (pps) => {
      const windows = await shareWindows(pps, Array.from({ length: 50 }, () => ({ write: 100, queued: 8192 })), 4);
      const measured = windows.map((shares, i) => ({ window: i + 1, connections: shares.length, ...fairness(shares) }));
      // every window, each with its numbers when it fails
      expect(measured.filter((w) => w.connections !== 50 || w.jain < 0.98 || w.worst < 0.7)).toEqual([]);
    },
    FILL_ROOM_MS,
  );

  it("gives a 1 MB writer no more than 49 writers of 1 kB each at 2000 pps", async () => {
    const [shares] = await shareWindows(2000, [{ write: 1 << 20, queued: 1 << 20 }, ...Array.from({ length: 49 }, () => ({ write: 1000, queued: 8192 }))], 1);
    const fair = shares.reduce((a, b) => a + b, 0) / shares.length;
    expect(jain(shares)).toBeGreaterThanOrEqual(0.98);
    expect(Math.min(...shares)).toBeGreaterThanOrEqual(fair * 0.7);
    expect(shares[0]).toBeLessThanOrEqual(fair * 1.3);
  }, FILL_ROOM_MS);
});
