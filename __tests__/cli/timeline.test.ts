import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runProcess } from "../helpers/run";

/**
 * `tcp-addon timeline EVENTS -o FILE.png`, as the docs show it, through the bin (the renderer
 * loads vega as an ES module, which jest's module loader cannot): an --events file as a PNG.
 */

const BIN = path.resolve(__dirname, "../../bin/tcp-addon.js");

jest.setTimeout(60_000);

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-timeline-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(args: readonly string[]) {
  const result = await runProcess(process.execPath, [BIN, ...args], { cwd: dir, timeoutMs: 60_000 });
  const lines = (text: string) => text.split("\n").filter((l) => l !== "");
  return { code: result.code, out: lines(result.stdout), err: lines(result.stderr) };
}

describe("tcp-addon timeline", () => {
  it("draws an --events file as a PNG (Vega-Lite, resvg) and says where it wrote it", async () => {
    // given a deploy of one task, as local mode's --events writes it
    const events = [
      { t: 0, app: "mqtt", task: "mqtt.1#1", state: "initial" },
      { t: 20, app: "mqtt", task: "mqtt.1#1", state: "healthy" },
      { t: 60, app: "mqtt", task: "mqtt.1#2", state: "initial" },
      { t: 80, app: "mqtt", task: "mqtt.1#2", state: "healthy" },
      { t: 80, app: "mqtt", task: "mqtt.1#1", state: "draining" },
      { t: 230, app: "mqtt", task: "mqtt.1#1", state: "unused" },
      { t: 230, app: "mqtt", task: "mqtt.1#1", connection: "dropped", count: 10 },
    ];
    fs.writeFileSync(path.join(dir, "ev.jsonl"), events.map((e) => JSON.stringify(e)).join("\n"));

    // when
    const result = await cli(["timeline", "ev.jsonl", "-o", "deploy.png"]);

    // then a PNG of a plausible size
    expect(result).toEqual({ code: 0, out: ["wrote deploy.png"], err: [] });
    const png = fs.readFileSync(path.join(dir, "deploy.png"));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.readUInt32BE(16)).toBeGreaterThan(800); // width, from the IHDR chunk
    expect(png.length).toBeGreaterThan(10_000);
  });

  it("refuses a line that is not an event, naming the file and line, exit 1", async () => {
    fs.writeFileSync(path.join(dir, "ev.jsonl"), '{"t": 0, "app": "mqtt", "task": "mqtt.1#1", "state": "initial"}\nnot json\n');
    const result = await cli(["timeline", "ev.jsonl", "-o", "deploy.png"]);
    expect(result.code).toBe(1);
    expect(result.err).toEqual([expect.stringMatching(/ev\.jsonl:2: not a JSON line$/)]);
    expect(fs.existsSync(path.join(dir, "deploy.png"))).toBe(false);
  });
});
