import fc from "fast-check";
import { fitName, loadBalancerName, tcpUrlOutputId } from "../../constructs/names";

const project = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
const app = fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/);

describe("fitName", () => {
  it("keeps <project>-<app> as is when it fits 32 characters", () => {
    expect(fitName(["acme", "mqtt"])).toBe("acme-mqtt");
  });

  it("always fits 32 characters for any project and app name", () => {
    fc.assert(fc.property(project, app, (p, a) => expect(fitName([p, a]).length).toBeLessThanOrEqual(32)));
  });

  it("is stable: the same parts give the same name", () => {
    fc.assert(fc.property(project, app, (p, a) => expect(fitName([p, a])).toBe(fitName([p, a]))));
  });

  it("keeps two long names that share their first 25 characters apart", () => {
    const base = "a".repeat(30);
    expect(fitName(["acme", `${base}1`])).not.toBe(fitName(["acme", `${base}2`]));
  });

  it("never ends a shortened prefix with a hyphen before the hash", () => {
    const longProject = fc.stringMatching(/^[a-z][a-z0-9-]{10,11}$/);
    const longApp = fc.stringMatching(/^[a-z][a-z0-9-]{20,30}$/);
    fc.assert(fc.property(longProject, longApp, (p, a) => expect(fitName([p, a])).not.toMatch(/--[0-9a-f]{6}$/)));
  });
});

describe("loadBalancerName", () => {
  it("numbers the project's load balancers from the second one: acme-nlb, acme-nlb-2", () => {
    expect([0, 1, 49].map((i) => loadBalancerName({ project: "acme" }, i))).toEqual(["acme-nlb", "acme-nlb-2", "acme-nlb-50"]);
  });
});

describe("tcpUrlOutputId", () => {
  it("writes hyphens of the app name as underscores", () => {
    expect(tcpUrlOutputId("my-app-2")).toBe("tcp_url_my_app_2");
  });
});
