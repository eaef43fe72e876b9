import { DEFAULT_DEPLOY_TIMINGS, type ResolvedApp } from "../../config";
import { backoffDelay } from "../../runtime/local/app-supervisor";
import { readyLine } from "../../runtime/local/platform";
import { localApp } from "./helpers";

const app: ResolvedApp = localApp({
  name: "mqtt",
  command: "node server.js",
  workdir: "/srv/mqtt",
  containers: 2,
  port: 20003,
  deploy: DEFAULT_DEPLOY_TIMINGS,
});

describe("readyLine", () => {
  it("names the app, its TCP_URL, its containers and its plan's bandwidth per container", () => {
    expect(readyLine(app, "tcp://127.0.0.1:20003")).toBe(
      "mqtt  TCP_URL=tcp://127.0.0.1:20003  containers=2  plan=tcp-1k (1000 pps = 1.5 MB/s per container)",
    );
  });
});

describe("backoffDelay", () => {
  it("doubles from the first delay with each crash", () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, 250, 10_000))).toEqual([250, 500, 1000, 2000]);
  });

  it("never waits longer than the cap", () => {
    expect(backoffDelay(50, 250, 10_000)).toBe(10_000);
  });
});
