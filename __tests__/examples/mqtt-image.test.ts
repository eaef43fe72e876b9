import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { MqttClient } from "mqtt";
import { parseProcfile } from "../../config/procfile";
import { runProcess } from "../helpers/run";
import { connectMqtt, freePort, nextMessage } from "../local/helpers";

/**
 * What examples/mqtt/Dockerfile puts in the image, without Docker: exactly the files its COPY
 * lines name, installed with `npm ci --omit=dev` on the folder's own lock file in a folder
 * outside the repository (no root workspace, no root lock), then the Procfile's `tcp:` command
 * run as ECS runs it (`/bin/sh -c`), reached by a real MQTT client, and stopped the way the
 * image's `tini -g` stops it: SIGTERM to the command's whole process group. (Alpine's busybox sh
 * execs a single command, so in the image node is tini's child; Debian's dash, the /bin/sh here,
 * keeps a shell in between, which the group signal reaches as well.)
 */

const EXAMPLE = path.resolve(__dirname, "../../examples/mqtt");
const dockerfile = fs.readFileSync(path.join(EXAMPLE, "Dockerfile"), "utf8");
/** Sources of the Dockerfile's `COPY <src>... <dest>` lines (none of them `--from` a stage). */
const copied = dockerfile
  .split("\n")
  .filter((line) => /^COPY\s/.test(line))
  .flatMap((line) => line.trim().split(/\s+/).slice(1, -1));

jest.setTimeout(300_000);

describe("the MQTT sample's image contents", () => {
  let dir: string;
  let broker: ChildProcess | undefined;
  let client: MqttClient | undefined;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-mqtt-image-"));
    for (const file of copied) fs.copyFileSync(path.join(EXAMPLE, file), path.join(dir, file));
  });

  afterAll(() => {
    client?.end(true);
    if (broker?.pid !== undefined) {
      try {
        process.kill(-broker.pid, "SIGKILL");
      } catch {
        // the group is gone already
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("copies its own package.json and lock file and the scripts, each let through by the .dockerignore", () => {
    expect(copied.sort()).toEqual(["client.js", "package-lock.json", "package.json", "server.js"]);
    const allowed = fs
      .readFileSync(path.join(EXAMPLE, ".dockerignore"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("!"))
      .map((line) => line.slice(1).trim());
    expect(allowed.sort()).toEqual(copied.sort());
  });

  it("installs with `npm ci --omit=dev` on the folder's own lock file", async () => {
    const install = await runProcess("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: dir, timeoutMs: 240_000 });
    expect({ code: install.code, stderr: install.stderr }).toMatchObject({ code: 0 });
    for (const dep of Object.keys((JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { dependencies: object }).dependencies)) {
      expect(fs.existsSync(path.join(dir, "node_modules", dep, "package.json"))).toBe(true);
    }
  });

  it("runs the Procfile's tcp command there: a client publishes and receives, SIGTERM to the group closes the broker", async () => {
    const command = parseProcfile(fs.readFileSync(path.join(EXAMPLE, "Procfile"), "utf8"), "Procfile").get("tcp");
    expect(command).toBe("node server.js");
    const port = await freePort();
    broker = spawn("/bin/sh", ["-c", command ?? ""], {
      cwd: dir,
      env: { PATH: process.env.PATH, PORT: String(port), TCP_URL: `tcp://127.0.0.1:${port}` },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, as tini's child is: the SIGTERM below goes to the whole group.
      detached: true,
    });
    let output = "";
    broker.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    broker.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const check = () => (output.includes("broker listening") ? resolve() : undefined);
      broker?.stdout?.on("data", check);
      broker?.once("exit", (code) => reject(new Error(`broker exited with ${code}: ${output}`)));
    });

    client = await connectMqtt(`mqtt://127.0.0.1:${port}`);
    await client.subscribeAsync("image/test", { qos: 1 });
    const received = nextMessage(client, "image/test");
    await client.publishAsync("image/test", "hello from the image", { qos: 1 });
    expect(await received).toBe("hello from the image");

    // The pipes close when every process holding them (the shell and node) has exited.
    const closed = Promise.all([once(broker.stdout as NodeJS.ReadableStream, "close"), once(broker.stderr as NodeJS.ReadableStream, "close")]);
    const connected = client;
    const clientClosed = new Promise<void>((resolve) => connected.once("close", () => resolve()));
    process.kill(-(broker.pid as number), "SIGTERM");
    await Promise.all([closed, clientClosed]);
    expect(output).toContain("mqtt: SIGTERM: closing the listener and 1 client connection(s)");
    expect(output).not.toMatch(/error/i);
  });
});
