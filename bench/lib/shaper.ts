import { jsonEvents, Peer, run } from "./proc";
import { PACKET_BYTES, RateMeasurement } from "./rate";
import { workerScript } from "./workers";

/**
 * The Linux kernel's token-bucket filter (`tc qdisc ... tbf`) as a reference shaper.
 * Two network namespaces made by the bench, joined by a veth pair whose addresses exist
 * only inside them; the sender's end is shaped. Nothing is added to the host's network.
 */

const SENDER_ADDR = "10.77.0.1";
const RECEIVER_ADDR = "10.77.0.2";
const PORT = 5001;
/** A full TCP segment on the veth: 1448 bytes of payload (timestamps on) in a 1514-byte frame. */
const FRAME_PER_PAYLOAD = 1514 / 1448;

export interface ShaperJob {
  readonly pps: number;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly windows: number;
  readonly sampleMs: number;
}

export interface ShaperSettings {
  /** tbf rate in bytes/s of frames, set so that payload arrives at pps x 1500 bytes/s. */
  readonly rateBytesPerSecond: number;
  readonly burstBytes: number;
  readonly latencyMs: number;
}

/** The tbf settings used for a target in packets per second. */
export function shaperSettings(pps: number): ShaperSettings {
  const rate = Math.round(pps * PACKET_BYTES * FRAME_PER_PAYLOAD);
  // 10 ms of traffic, and never less than two full frames.
  return { rateBytesPerSecond: rate, burstBytes: Math.max(2 * 1514, Math.round(rate / 100)), latencyMs: 200 };
}

let sequence = 0;

/** Namespaces made and not yet deleted, so that an interrupted bench can remove them. */
const namespaces = new Set<string>();

/** Deletes every namespace the bench made that still exists. */
export function removeNamespaces(): void {
  for (const ns of namespaces) deleteNamespace(ns);
}

function deleteNamespace(ns: string): void {
  try {
    run("ip", ["netns", "del", ns]);
  } catch {
    // already gone
  }
  namespaces.delete(ns);
}

/** Whether the bench may make namespaces and qdiscs here; the reason when it may not. */
export function shaperAvailability(): { available: true } | { available: false; reason: string } {
  const name = `tcp-addon-bench-probe-${process.pid}`;
  try {
    run("ip", ["netns", "add", name]);
  } catch (err) {
    return { available: false, reason: `ip netns add refused: ${firstLine(err)}` };
  }
  try {
    run("ip", ["-n", name, "link", "set", "lo", "up"]);
    run("tc", ["-n", name, "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "1mbit", "burst", "32kb", "latency", "50ms"]);
    return { available: true };
  } catch (err) {
    return { available: false, reason: `tc qdisc add refused: ${firstLine(err)}` };
  } finally {
    try {
      run("ip", ["netns", "del", name]);
    } catch {
      // already gone
    }
  }
}

/** Runs one rate measurement through tbf at the byte rate of `job.pps` packets/s. */
export async function measureShaper(job: ShaperJob): Promise<RateMeasurement & { settings: ShaperSettings }> {
  const id = `${process.pid}-${sequence++}`;
  const sender = `tcp-addon-bench-s-${id}`;
  const receiver = `tcp-addon-bench-r-${id}`;
  const settings = shaperSettings(job.pps);
  const made: string[] = [];
  const peers: Peer[] = [];
  try {
    for (const ns of [sender, receiver]) {
      run("ip", ["netns", "add", ns]);
      made.push(ns);
      namespaces.add(ns);
      run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
    run("ip", ["-n", sender, "link", "add", "vs", "type", "veth", "peer", "name", "vr", "netns", receiver]);
    run("ip", ["-n", sender, "addr", "add", `${SENDER_ADDR}/30`, "dev", "vs"]);
    run("ip", ["-n", receiver, "addr", "add", `${RECEIVER_ADDR}/30`, "dev", "vr"]);
    run("ip", ["-n", sender, "link", "set", "vs", "up"]);
    run("ip", ["-n", receiver, "link", "set", "vr", "up"]);
    run("tc", [
      "-n",
      sender,
      "qdisc",
      "add",
      "dev",
      "vs",
      "root",
      "tbf",
      "rate",
      `${settings.rateBytesPerSecond * 8}bit`,
      "burst",
      String(settings.burstBytes),
      "latency",
      `${settings.latencyMs}ms`,
    ]);

    const script = await workerScript("shaper-worker");
    const sink = worker(script, receiver, { mode: "sink", host: RECEIVER_ADDR, port: PORT, ...job });
    peers.push(sink.peer);
    await sink.next("ready");
    const source = worker(script, sender, { mode: "source", host: RECEIVER_ADDR, port: PORT, connections: job.connections });
    peers.push(source.peer);
    const line = await sink.next("result");
    return { ...(line.result as RateMeasurement), settings };
  } finally {
    for (const peer of peers) await peer.stop();
    made.forEach(deleteNamespace);
  }
}

/** A worker process inside a namespace, with a way to wait for its next JSON event line. */
function worker(script: string, ns: string, job: object): { peer: Peer; next(event: string): Promise<Record<string, unknown>> } {
  const peer = new Peer(`shaper ${ns}`, "ip", ["netns", "exec", ns, process.execPath, script, JSON.stringify(job)]);
  return { peer, next: jsonEvents(peer) };
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return String(e.stderr || e.message || err).trim().split("\n")[0];
}
