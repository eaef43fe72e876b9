/**
 * `npx tsx bench/proxy.ts [--quick]`: the agent with PROXY protocol v2 on versus off, in one
 * run: added latency (64-byte round trips), throughput (one stream of 64 KiB writes) and new
 * connections per second (connect, header, one round trip, close). Each mode is the bundled
 * agent with no packet limit in front of the same in-process echo server; modes are visited in
 * alternation and each number is the median over the visits, so the ratios compare like with
 * like. Nothing asserts a time; the table is printed.
 */
import * as net from "node:net";
import { once } from "node:events";
import { buildAgent } from "../runtime/agent/build";
import { encodeProxyV2 } from "../runtime/agent/proxy-protocol";
import { startAgent, type AgentProcess } from "./lib/peers";

const HOST = "127.0.0.1";
const quick = process.argv.includes("--quick");
const VISITS = quick ? 3 : 5;
const ROUNDS = quick ? 2000 : 10_000;
const STREAM_SECONDS = quick ? 1 : 2;
const CONNECTIONS = quick ? 300 : 1000;
const HEADER = encodeProxyV2({ kind: "proxy", source: { address: "203.0.113.7", port: 51234 }, destination: { address: "10.0.1.25", port: 20003 } });

type Mode = "direct" | "off" | "proxy-v2" | "proxy-v2-to-app";

async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  server.listen(0, HOST);
  await once(server, "listening");
  return server;
}

async function open(port: number, mode: Mode): Promise<net.Socket> {
  const socket = net.connect({ host: HOST, port, noDelay: true });
  await once(socket, "connect");
  if (mode === "proxy-v2" || mode === "proxy-v2-to-app") socket.write(HEADER);
  return socket;
}

/** The app echoes what it gets; with proxy-v2-to-app it first gets (and echoes) the agent's header. */
function skipEcho(mode: Mode): number {
  return mode === "proxy-v2-to-app" ? HEADER.length : 0;
}

async function roundTrips(port: number, mode: Mode, rounds: number): Promise<number[]> {
  const socket = await open(port, mode);
  const times: number[] = [];
  let skip = skipEcho(mode);
  const message = Buffer.alloc(64, 7);
  await new Promise<void>((resolve) => {
    let got = 0;
    let started = process.hrtime.bigint();
    socket.on("data", (chunk: Buffer) => {
      const useful = Math.max(0, chunk.length - skip);
      skip = Math.max(0, skip - chunk.length);
      got += useful;
      if (got < 64) return;
      got -= 64;
      times.push(Number(process.hrtime.bigint() - started) / 1000);
      if (times.length === rounds) return resolve();
      started = process.hrtime.bigint();
      socket.write(message);
    });
    socket.write(message);
  });
  socket.destroy();
  return times.slice(Math.floor(rounds / 10)); // the first tenth warms up
}

async function stream(port: number, mode: Mode, seconds: number): Promise<number> {
  const socket = await open(port, mode);
  let received = 0;
  socket.on("data", (c: Buffer) => (received += c.length));
  const chunk = Buffer.alloc(64 * 1024, 1);
  const end = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  while (Date.now() < end) {
    if (!socket.write(chunk)) await once(socket, "drain");
  }
  const secondsTaken = Number(process.hrtime.bigint() - start) / 1e9;
  socket.destroy();
  return received / secondsTaken;
}

async function connectionsPerSecond(port: number, mode: Mode, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += 1) {
    const socket = await open(port, mode);
    let skip = skipEcho(mode) + 1;
    await new Promise<void>((resolve) => {
      socket.on("data", (c: Buffer) => {
        skip -= c.length;
        if (skip <= 0) resolve();
      });
      socket.write("x");
    });
    socket.destroy();
  }
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main(): Promise<void> {
  const bundle = await buildAgent();
  const server = await echoServer();
  const appPort = (server.address() as net.AddressInfo).port;
  const agents = new Map<Mode, AgentProcess>();
  for (const mode of ["off", "proxy-v2", "proxy-v2-to-app"] as const) {
    agents.set(mode, await startAgent({ bundle, upstreamPort: appPort, pps: 0, name: `agent ${mode}`, env: { TCP_ADDON_PROXY_PROTOCOL: mode } }));
  }
  const modes: Mode[] = ["direct", "off", "proxy-v2", "proxy-v2-to-app"];
  const portOf = (m: Mode) => (m === "direct" ? appPort : agents.get(m)!.port);
  const lat = new Map<Mode, { p50: number[]; p99: number[] }>(modes.map((m) => [m, { p50: [], p99: [] }]));
  const thr = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  const cps = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  for (let v = 0; v < VISITS; v += 1) {
    for (const m of modes) {
      const t = await roundTrips(portOf(m), m === "direct" ? "off" : m, ROUNDS);
      lat.get(m)!.p50.push(pct(t, 50));
      lat.get(m)!.p99.push(pct(t, 99));
      thr.get(m)!.push(await stream(portOf(m), m === "direct" ? "off" : m, STREAM_SECONDS));
      cps.get(m)!.push(await connectionsPerSecond(portOf(m), m === "direct" ? "off" : m, CONNECTIONS));
    }
  }
  for (const a of agents.values()) await a.stop();
  server.close();
  const direct = { p50: median(lat.get("direct")!.p50), p99: median(lat.get("direct")!.p99) };
  const off = { thr: median(thr.get("off")!), cps: median(cps.get("off")!) };
  console.log(`PROXY v2 bench (${quick ? "quick" : "full"}): ${VISITS} visits; ${ROUNDS} round trips, ${STREAM_SECONDS} s stream, ${CONNECTIONS} connections per visit`);
  console.log("| mode | p50 µs (+ vs direct) | p99 µs (+ vs direct) | throughput MB/s (× agent off) | new connections/s (× agent off) |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const m of modes) {
    const p50 = median(lat.get(m)!.p50);
    const p99 = median(lat.get(m)!.p99);
    const t = median(thr.get(m)!);
    const c = median(cps.get(m)!);
    console.log(
      `| ${m === "direct" ? "direct (no agent)" : `agent, ${m}`} | ${p50.toFixed(0)} (+${(p50 - direct.p50).toFixed(0)}) | ${p99.toFixed(0)} (+${(p99 - direct.p99).toFixed(0)}) | ${(t / 1e6).toFixed(0)} (${(t / off.thr).toFixed(2)}×) | ${c.toFixed(0)} (${(c / off.cps).toFixed(2)}×) |`,
    );
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
