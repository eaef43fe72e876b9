import { resolveConfig } from "../../config";
import { issuesOf } from "./helpers";

/** The config keys of issue 16: `containers: { min, max }` and `alarms:`. */

function config(app: Record<string, unknown> = {}, root: Record<string, unknown> = {}): Record<string, unknown> {
  return { project: "acme", region: "eu-west-1", ...root, apps: { mqtt: { image: "img:1", command: "node server.js", ...app } } };
}


describe("containers", () => {
  it("a plain number keeps the service fixed at that count", () => {
    const app = resolveConfig(config({ containers: 3 }), "/srv").apps[0];
    expect(app.containers).toBe(3);
    expect(app.scaling).toBeUndefined();
  });

  it("{ min, max } scales between them and starts at min", () => {
    const app = resolveConfig(config({ containers: { min: 2, max: 6 } }), "/srv").apps[0];
    expect(app.containers).toBe(2);
    expect(app.scaling).toEqual({ min: 2, max: 6 });
  });

  it.each([
    [{ min: 5, max: 2 }, /apps\.mqtt\.containers\.min: min must not be above max/],
    [{ min: 0, max: 2 }, /apps\.mqtt\.containers\.min: must be at least 1, got 0/],
    [{ min: 1, max: 101 }, /apps\.mqtt\.containers\.max: must be at most 100, got 101/],
    [{ min: 1 }, /apps\.mqtt\.containers\.max: required; set it to a number/],
    [{ min: 1, max: 2, desired: 3 }, /apps\.mqtt\.containers\.desired: unknown key "desired"; expected one of: min, max/],
    [[1, 2], /apps\.mqtt\.containers: expected a number of tasks or \{ min, max \}, got/],
  ])("refuses %j with one line", (containers, message) => {
    const issues = issuesOf(config({ containers }));
    expect(issues).toEqual([expect.stringMatching(message)]);
  });
});

describe("alarms", () => {
  it("are all on by default, with no topic", () => {
    const resolved = resolveConfig(config(), "/srv");
    expect(resolved.apps[0].alarms).toEqual({ unhealthyTargets: true, tasksBelowDesired: true, planUtilization: true, targetResets: true });
    expect(resolved.alarmTopic).toBeUndefined();
  });

  it("take the app's switch, then the project's, then on", () => {
    const resolved = resolveConfig(
      config({ alarms: { targetResets: true, planUtilization: false } }, { alarms: { targetResets: false, tasksBelowDesired: false } }),
      "/srv",
    );
    expect(resolved.apps[0].alarms).toEqual({ unhealthyTargets: true, tasksBelowDesired: false, planUtilization: false, targetResets: true });
  });

  it("notify an email through a new topic, or an existing topic", () => {
    expect(resolveConfig(config({}, { alarms: { email: "ops@example.com" } }), "/srv").alarmTopic).toEqual({ email: "ops@example.com" });
    const topicArn = "arn:aws:sns:eu-west-1:123456789012:alerts";
    expect(resolveConfig(config({}, { alarms: { topicArn } }), "/srv").alarmTopic).toEqual({ topicArn });
  });

  it.each([
    [{ alarms: { email: "ops" } }, {}, /^alarms\.email: expected an email address/],
    [{ alarms: { topicArn: "alerts" } }, {}, /^alarms\.topicArn: expected an SNS topic ARN/],
    [{ alarms: { email: "a@b.co", topicArn: "arn:aws:sns:eu-west-1:123456789012:alerts" } }, {}, /^alarms\.topicArn: set either `email:`/],
    [{ alarms: { unhealthy: false } }, {}, /^alarms\.unhealthy: unknown key "unhealthy"; did you mean "unhealthyTargets"\? expected one of: unhealthyTargets/],
    [{}, { alarms: { email: "ops@example.com" } }, /^apps\.mqtt\.alarms\.email: unknown key "email"; expected one of: unhealthyTargets, tasksBelowDesired, planUtilization, targetResets$/],
    [{}, { alarms: { planUtilization: "no" } }, /^apps\.mqtt\.alarms\.planUtilization: expected a boolean, got "no"/],
  ])("refuses %j / app %j with one line", (root, appAlarms, message) => {
    expect(issuesOf(config(appAlarms, root))).toEqual([expect.stringMatching(message)]);
  });
});
