import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TcpAddonStack } from "../../constructs/tcp-addon-stack";
import { synthToDir, withoutTokenStacks } from "../../constructs/synth";
import { appsFixture, configFixture } from "../constructs/fixtures";
import { readTree } from "./tree";

describe("withoutTokenStacks", () => {
  let work: string;
  beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-stacks-"))));
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const config = configFixture(appsFixture(3));
  const synth = (dir: string) => synthToDir(dir, (app) => new TcpAddonStack(app, "acme", { config }));

  it("writes exactly what a synth with token stacks writes", () => {
    synth(path.join(work, "with"));
    withoutTokenStacks(() => synth(path.join(work, "without")));

    expect(readTree(path.join(work, "without"))).toEqual(readTree(path.join(work, "with")));
  });

  it("restores stack capture afterwards, also when the work throws", () => {
    const capture = Error.captureStackTrace;
    expect(() =>
      withoutTokenStacks(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");

    expect(Error.captureStackTrace).toBe(capture);
    const probe: { stack?: string } = {};
    Error.captureStackTrace(probe);
    expect(probe.stack).toContain("token-stacks.test");
  });
});
