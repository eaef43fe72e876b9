import mqtt, { type MqttClient } from "mqtt";
import { connectMqtt, freePort, LocalRun, within, writeConfig } from "./helpers";

/** Rolling restarts (SIGHUP) and crashed replicas, with real mqtt.js clients. */

jest.setTimeout(90_000);

let run: LocalRun | undefined;
const clients: MqttClient[] = [];

async function startLocal(containers: number): Promise<string> {
  const config = writeConfig({ port: await freePort(), containers });
  run = new LocalRun(["--config", config, "--drain-seconds", "1"]);
  return run.ready(containers);
}

/** Opens one fresh connection after another until `until` settles; counts how each ended. */
async function connectionLoop(url: string, until: Promise<unknown>): Promise<{ ok: number; failed: string[] }> {
  let done = false;
  void until.finally(() => (done = true));
  const result = { ok: 0, failed: [] as string[] };
  for (let i = 0; i < 2_000 && !done; i += 1) {
    try {
      const c = await connectMqtt(url);
      result.ok += 1;
      c.end(true);
    } catch (err) {
      result.failed.push((err as Error).message);
    }
  }
  return result;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await run?.stop();
  run = undefined;
});

describe("tcp-addon local restarts", () => {
  it("refuses no new connection during a SIGHUP rolling restart", async () => {
    const url = await startLocal(2);
    const restartDone = run!.waitForLine(/mqtt \| deploy done/, 60_000);

    const loop = connectionLoop(url, restartDone);
    run!.child.kill("SIGHUP");
    await restartDone;
    const { ok, failed } = await loop;

    expect(failed).toEqual([]);
    expect(ok).toBeGreaterThan(5);
  });

  it("drops the old replicas' clients during a rolling restart and they reconnect within seconds", async () => {
    const url = await startLocal(2);
    const gaps: number[] = [];
    const reconnects = new Map<MqttClient, number>();
    const droppedAt = new Map<MqttClient, number>();
    for (let i = 0; i < 10; i += 1) {
      // the sample client's settings, with a shorter retry period
      const c = mqtt.connect(url, { clientId: `restart-${i}`, clean: false, reconnectPeriod: 250, connectTimeout: 5_000 });
      clients.push(c);
      reconnects.set(c, 0);
      c.on("error", () => undefined);
      c.on("close", () => {
        if (!droppedAt.has(c)) droppedAt.set(c, Date.now());
      });
      c.on("connect", () => {
        const since = droppedAt.get(c);
        droppedAt.delete(c);
        if (since === undefined) return;
        gaps.push(Date.now() - since);
        reconnects.set(c, reconnects.get(c)! + 1);
      });
    }
    await within(Promise.all(clients.map((c) => (c.connected ? undefined : new Promise((r) => c.once("connect", r))))), 10_000, "10 clients");

    run!.child.kill("SIGHUP");
    await run!.waitForLine(/mqtt \| deploy done/, 60_000);
    // The log line and each client's socket are separate channels: a client may learn of its
    // drop only after the line is read, while `connected` is still true. A QoS 1 round trip
    // settles it: the old replicas are gone by now, so a client still on one gets its PUBACK
    // only after it has reconnected (mqtt.js sends the message again on the new connection),
    // and its "connect" event comes right after.
    await within(
      Promise.all(
        clients.map(async (c) => {
          await c.publishAsync(`restart/${c.options.clientId}`, "after the restart", { qos: 1 });
          if (droppedAt.has(c)) await new Promise((r) => c.once("connect", r));
        }),
      ),
      10_000,
      "a round trip from every client after the restart",
    );

    expect(clients.filter((c) => reconnects.get(c) === 0).map((c) => c.options.clientId)).toEqual([]);
    // "within a second or two": generous enough for a loaded machine
    expect(Math.max(...gaps)).toBeLessThan(3_000);
  });

  it("keeps the app reachable while a killed replica restarts", async () => {
    const url = await startLocal(2);
    const victim = run!.replicas().get("mqtt.1")!;
    const linesBefore = run!.lines.length;

    process.kill(victim.pid, "SIGKILL");
    await run!.waitForLine(/mqtt\.1#\d+ \| exited on SIGKILL/, 10_000, linesBefore);
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const c = await connectMqtt(url).catch((err: Error) => err);
      outcomes.push(c instanceof Error ? c.message : "served");
      if (!(c instanceof Error)) c.end(true);
    }

    expect(outcomes).toEqual(["served", "served", "served", "served", "served", "served"]);
  });

  it("restarts a killed replica and puts it back in the rotation", async () => {
    await startLocal(2);
    const victim = run!.replicas().get("mqtt.1")!;
    const linesBefore = run!.lines.length;

    process.kill(victim.pid, "SIGKILL");
    await run!.waitForLine(/mqtt\.1#\d+ \| exited on SIGKILL: out of the rotation, restarting/, 10_000, linesBefore);
    await run!.waitForLine(/mqtt\.1#\d+ \| ready on/, 20_000, linesBefore);

    expect(run!.replicas().get("mqtt.1")!.pid).not.toBe(victim.pid);
  });
});
