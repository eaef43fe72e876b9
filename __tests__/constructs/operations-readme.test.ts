import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_DEPLOY_TIMINGS, scaleInCooldownSeconds } from "../../config/deploy-timings";
import { ALARM_SETTINGS } from "../../constructs/alarms";
import { SCALING_DEFAULTS } from "../../constructs/scaling";
import { AGENT_ENV, AGENT_METRICS } from "../../runtime/agent/contract";

/** The "Operations" page (docs/operations.md) says what the code does. */

const section = fs.readFileSync(path.resolve(__dirname, "..", "..", "docs", "operations.md"), "utf8");

it("is the operations page", () => {
  expect(section.startsWith("# Operations: metrics, alarms, scaling, dashboard\n")).toBe(true);
});

it("lists every metric the agent writes, with its unit", () => {
  for (const m of Object.values(AGENT_METRICS)) expect(section).toMatch(new RegExp(`\`${m.name}\`[^|]*\\| ${m.unit} \\|`));
});

it("names every variable of the emitter", () => {
  const { emf, emfInterval, project, app, task } = AGENT_ENV;
  for (const name of [emf, emfInterval, project, app, task]) expect(section).toContain(`\`${name}`);
});

it("gives the alarms' thresholds and the scaling numbers the constructs use", () => {
  const a = ALARM_SETTINGS;
  expect(section).toContain(`UnHealthyHostCount\` of the app's target group > 0 for ${a.unhealthyTargetsMinutes} minutes`);
  expect(section).toContain(`RunningTaskCount > 0 for ${a.tasksBelowDesiredMinutes} minutes`);
  expect(section).toContain(`> ${a.planUtilizationPercent} % for ${a.planUtilizationMinutes} minutes`);
  expect(section).toContain(`> ${a.targetResetsPerMinute} a minute in ${a.targetResetsMinutes} of ${a.targetResetsWindowMinutes} minutes`);
  expect(section).toContain(`\`PlanUtilization\` at ${SCALING_DEFAULTS.planUtilizationTarget} %`);
  expect(section).toContain(`\`ECSServiceAverageCPUUtilization\` at ${SCALING_DEFAULTS.cpuTarget} %`);
  const t = DEFAULT_DEPLOY_TIMINGS;
  expect(section).toContain(`(${t.deregistrationDelaySeconds + t.stopTimeoutSeconds} s with the defaults)`);
  expect(scaleInCooldownSeconds(t)).toBe(300);
});
