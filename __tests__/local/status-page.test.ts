import * as fs from "node:fs";
import type * as net from "node:net";
import * as path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { parsePrometheus, StatusPage, type StatusAppSource } from "../../runtime/local/status-page";
import { httpGet, Resources } from "../agent/helpers";

/**
 * The status page in headless Chromium, over two real agents (the shipped bundle) under real
 * load: what the page shows is checked against each agent's own /metrics.
 */

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = path.resolve(__dirname, "../../test-output/status-page.png");
const PPS = 1000;
const PACKET = 1500;

const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) {
  if (process.env.CI === "true") throw new Error(`chromium not found at ${CHROMIUM} (CI=true): .ci/run installs it`);
  console.log("skipped: chromium not found");
}
const describeWithChromium = hasChromium ? describe : describe.skip;

const resources = new Resources();
let browser: Browser | undefined;
let page: StatusPage | undefined;

afterAll(async () => {
  await browser?.close();
  await page?.close();
  await resources.closeAll();
});

/** An app that counts what each connection sends and answers 1500 bytes once. */
async function countingApp(): Promise<{ port: number; received: () => number }> {
  let total = 0;
  const { port } = await resources.server((socket: net.Socket) => {
    let answered = false;
    socket.on("data", (chunk: Buffer) => {
      total += chunk.length;
      if (!answered) socket.write(Buffer.alloc(PACKET, 7));
      answered = true;
    });
  });
  return { port, received: () => total };
}

async function metricsOf(healthPort: number): Promise<Map<string, number>> {
  return parsePrometheus((await httpGet(healthPort, "/metrics")).body);
}

describeWithChromium("the local status page", () => {
  jest.setTimeout(60_000);

  it("shows each task's state, connections and packets per second against the plan, as its agent's /metrics say, refreshed in place", async () => {
    // given two real agents at 1000 pps in front of one counting app
    const app = await countingApp();
    const agents = await Promise.all(
      [1, 2].map(() => resources.startAgent(["--listen", "0", "--health-port", "0", "--pps", String(PPS), "--upstream", `127.0.0.1:${app.port}`])),
    );
    const [one, two] = agents.map((a) => a.ready);
    const source: StatusAppSource = {
      name: "mqtt",
      plan: { name: "tcp-1k", packetsPerSecond: PPS },
      tcpUrl: "tcp://127.0.0.1:20003",
      containers: 2,
      tasks: () => [
        { id: "mqtt.1#1", slot: 1, pid: agents[0].agent.pid, healthPort: one.healthPort!, state: "healthy" },
        { id: "mqtt.2#1", slot: 2, pid: agents[1].agent.pid, healthPort: two.healthPort!, state: "draining" },
      ],
    };
    page = new StatusPage(() => [source], { sampleMs: 250 });
    const port = await page.listen();

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    const tab = await browser.newPage({ viewport: { width: 1100, height: 420 } });
    await tab.goto(`http://127.0.0.1:${port}/`);
    // (page functions are strings: this test compiles without the DOM's types)
    await tab.evaluate("window.loadedOnce = 1");
    const cell = (task: string, field: string) => tab.locator(`tr[data-task="${task}"] td[data-field="${field}"]`);

    // when task 1 gets a flood of 6000 packets (4 s past its burst) on one connection and an idle one,
    // and task 2 one connection that sends 3 packets
    const flood = await resources.connect(one.listen);
    const idle = await resources.connect(one.listen);
    const small = await resources.connect(two.listen);
    const floodBytes = 6000 * PACKET;
    flood.write(Buffer.alloc(floodBytes, 1));
    small.write(Buffer.alloc(3 * PACKET, 2));
    void idle;

    // then, while it lasts and once the burst is spent (the first sample can hold the bucket's
    // one second's worth on top of the rate), the page shows task 1 near its plan's 1000 packets/s
    const shown = (task: string, field: string) => `document.querySelector('tr[data-task="${task}"] td[data-field="${field}"]')?.textContent`;
    // (the rate the page function tested is the one checked: a later sample may differ)
    const nearPlan = `(() => { const rate = Number(${shown("mqtt.1#1", "ppsIn")}); return rate >= 600 && rate <= ${PPS * 1.3} ? rate : null; })()`;
    const nearPlanShown = await tab.waitForFunction(nearPlan, undefined, { timeout: 15_000, polling: 100 });
    const shownRate = Number(await nearPlanShown.jsonValue());
    expect(shownRate).toBeGreaterThanOrEqual(600);
    expect(shownRate).toBeLessThanOrEqual(PPS * 1.3);
    expect(await cell("mqtt.1#1", "planPercent").textContent()).toMatch(/^\d+(\.\d)? %$/);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await tab.screenshot({ path: SCREENSHOT, fullPage: true });

    // and once the flood is through, the totals and connections match each agent's /metrics
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const check = () => (app.received() >= floodBytes + 3 * PACKET ? resolve() : Date.now() > deadline ? reject(new Error("flood not through")) : setTimeout(check, 50));
      check();
    });
    const [m1, m2] = await Promise.all([metricsOf(one.healthPort!), metricsOf(two.healthPort!)]);
    const expected = {
      "mqtt.1#1": { packetsIn: m1.get('tcp_addon_packets_total{direction="in"}'), packetsOut: m1.get('tcp_addon_packets_total{direction="out"}'), connections: m1.get("tcp_addon_connections_active") },
      "mqtt.2#1": { packetsIn: m2.get('tcp_addon_packets_total{direction="in"}'), packetsOut: m2.get('tcp_addon_packets_total{direction="out"}'), connections: m2.get("tcp_addon_connections_active") },
    };
    // (a read of n bytes costs ceil(n/1500) packets, so 9 MB in reads of any size is at least 6000)
    expect(expected["mqtt.1#1"]).toEqual({ packetsIn: expect.any(Number), packetsOut: 1, connections: 2 });
    expect(expected["mqtt.1#1"].packetsIn).toBeGreaterThanOrEqual(6000);
    expect(expected["mqtt.2#1"]).toEqual({ packetsIn: 3, packetsOut: 1, connections: 1 });
    const matches = Object.entries(expected).flatMap(([task, values]) =>
      Object.entries(values).map(([field, value]) => `${shown(task, field)} === ${JSON.stringify(String(value))}`),
    );
    await tab.waitForFunction(matches.join(" && "), undefined, { timeout: 10_000, polling: 100 });
    await tab.waitForFunction(`${shown("mqtt.1#1", "ppsIn")} === "0"`, undefined, { timeout: 10_000, polling: 100 });
    expect(await cell("mqtt.1#1", "state").textContent()).toBe("healthy");
    expect(await cell("mqtt.2#1", "state").textContent()).toBe("draining");
    expect(await tab.locator('section[data-app="mqtt"] .sub').textContent()).toContain("plan tcp-1k (1000 pps per task, each way)  ·  1/2 tasks healthy");
    expect(await cell("mqtt.1#1", "pid").textContent()).toBe(String(agents[0].agent.pid));

    // without a reload: the script's state survived, and the sample number kept growing
    expect(await tab.evaluate("window.loadedOnce")).toBe(1);
    expect(Number(await tab.locator("#sample").textContent())).toBeGreaterThan(5);

    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(5000);
    console.log(`status page screenshot: ${path.relative(process.cwd(), SCREENSHOT)}`);
  });
});

describeWithChromium("the local status page's first paint", () => {
  jest.setTimeout(60_000);

  it("shows every app and task from the HTML alone, before and without any /status.json answer", async () => {
    // given a page whose tasks have no agent to scrape (states only), and a browser that never gets /status.json
    const status = new StatusPage(() => [
      {
        name: "mqtt",
        plan: { name: "tcp-1k", packetsPerSecond: 1000 },
        tcpUrl: "tcp://127.0.0.1:20003",
        containers: 2,
        tasks: () => [
          { id: "mqtt.1#1", slot: 1, healthPort: 9, state: "healthy" },
          { id: "mqtt.2#2", slot: 2, healthPort: 9, state: "initial" },
        ],
      },
    ], { sampleMs: 600_000 }); // one sample for the whole test: a second one would race the page load
    const port = await status.listen();
    const firstBrowser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    try {
      const tab = await firstBrowser.newPage();
      const fetches: string[] = [];
      await tab.route("**/status.json", (route) => {
        fetches.push(route.request().url());
        return route.abort();
      });
      // when the page has loaded (its inline script has run), with no JSON answered
      await tab.goto(`http://127.0.0.1:${port}/`, { waitUntil: "load" });
      // then both tasks and their states are drawn, from the sample embedded in the HTML
      const states = await tab.locator("tr[data-task] td[data-field=state]").allTextContents();
      expect(states).toEqual(["healthy", "initial"]);
      expect(await tab.locator('section[data-app="mqtt"] .sub').textContent()).toContain("tcp://127.0.0.1:20003");
      expect(await tab.locator("#sample").textContent()).toBe("1");
      expect(fetches).toEqual([]);
    } finally {
      await firstBrowser.close();
      await status.close();
    }
  });
});

describe("the status page without a browser", () => {
  it("embeds the last sample in the HTML, with < escaped so no value can end the script", async () => {
    const status = new StatusPage(() => [
      { name: "a", plan: { name: "</script><b>", packetsPerSecond: 1000 }, tcpUrl: "tcp://127.0.0.1:1", containers: 1, tasks: () => [] },
    ]);
    const port = await status.listen();
    try {
      const html = (await httpGet(port, "/")).body;
      const embedded = /<script id="initial-status" type="application\/json">([^<]*)<\/script>/.exec(html);
      expect(embedded).not.toBeNull();
      expect(JSON.parse(embedded![1]!)).toMatchObject({ sample: 1, apps: [{ name: "a", plan: "</script><b>" }] });
    } finally {
      await status.close();
    }
  });


  it("answers 404 elsewhere, refuses other methods, and says why when its port is taken", async () => {
    const first = new StatusPage(() => []);
    const port = await first.listen();
    try {
      expect((await httpGet(port, "/nope")).status).toBe(404);
      const json = JSON.parse((await httpGet(port, "/status.json")).body);
      expect(json).toMatchObject({ sample: 1, apps: [] });
      const second = new StatusPage(() => [], { port });
      await expect(second.listen()).rejects.toMatchObject({ code: "TCP_ADDON_LOCAL_PORT_UNAVAILABLE", message: expect.stringContaining(`127.0.0.1:${port} (EADDRINUSE)`) });
      await second.close();
    } finally {
      await first.close();
    }
  });

  it("shows a task whose agent does not answer with its state and no numbers", async () => {
    const status = new StatusPage(() => [
      { name: "a", plan: { name: "tcp-1k", packetsPerSecond: 1000 }, tcpUrl: "tcp://127.0.0.1:1", containers: 1, tasks: () => [{ id: "a.1#1", slot: 1, healthPort: 9, state: "starting" }] },
    ]);
    await status.listen();
    try {
      expect(status.status.apps[0].tasks[0]).toMatchObject({ id: "a.1#1", state: "starting", scraped: false, connections: null, ppsIn: null });
    } finally {
      await status.close();
    }
  });
});
