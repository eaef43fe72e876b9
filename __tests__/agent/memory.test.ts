import type * as net from "node:net";
import { HOST, Resources, delay, httpGet, metric, rssBytes } from "./helpers";

const resources = new Resources();
afterEach(() => resources.closeAll());

const MB = 1024 * 1024;
const TOTAL = 200 * MB;
/** What the agent may add to its resident memory, whatever the peers do. */
const RSS_BOUND = 32 * MB;

/**
 * Polls `sample` every 50 ms until `stalled` says nothing moved over the last 10 polls;
 * bounded at 400 polls (20 s).
 */
async function untilStalled(sample: () => Promise<number>): Promise<void> {
  const seen: number[] = [];
  for (let i = 0; i < 400; i++) {
    seen.push(await sample());
    if (seen.length > 10 && seen[seen.length - 1] === seen[seen.length - 11]) return;
    await delay(50);
  }
  throw new Error("the transfer never stalled");
}

describe.each([
  ["unlimited", []],
  ["limited to 100000 pps", ["--pps", "100000"]],
])("memory (%s)", (_name, flags) => {
  it("stays within a fixed bound while an app sends 200 MB at a client that never reads, and no byte is lost", async () => {
    // given an app that writes 200 MB at once to whoever connects
    const payload = Buffer.alloc(TOTAL, 0x5a);
    let appSocket: net.Socket | null = null;
    const { port } = await resources.server((socket) => {
      appSocket = socket;
      socket.end(payload);
    });
    const { agent, ready } = await resources.startAgent([
      ...["--listen", "0", "--host", HOST, "--health-port", "0"],
      ...["--upstream", `${HOST}:${port}`, ...flags],
    ]);
    const baseline = rssBytes(agent.pid);

    // when a client connects and never reads
    const client = await resources.connect(ready.listen);
    client.pause();
    let peak = baseline;
    const forwarded = async (): Promise<number> => {
      peak = Math.max(peak, rssBytes(agent.pid));
      const { body } = await httpGet(ready.healthPort!, "/metrics");
      return metric(body, 'tcp_addon_bytes_total{direction="out"}');
    };
    await untilStalled(forwarded);

    // then the agent holds back the stream instead of buffering it
    expect(appSocket).not.toBeNull();
    expect(await forwarded()).toBeLessThan(TOTAL / 4);
    expect(peak - baseline).toBeLessThan(RSS_BOUND);

    // and once the client reads, all 200 MB arrive
    let received = 0;
    const done = new Promise<void>((resolve) => client.on("end", resolve));
    client.on("data", (chunk: Buffer) => (received += chunk.length));
    client.resume();
    await done;
    expect(received).toBe(TOTAL);
  });
});
