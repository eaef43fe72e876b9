import * as fs from "node:fs";
import * as path from "node:path";
import { isRecord } from "../ground";
import { appBuildProblem } from "./build";
import { DEFAULT_DEPLOY_TIMINGS, deployTimings, DeployTimingsError, type DeployOverrides, type DeployTimings } from "./deploy-timings";
import { ConfigError, ProcfileError } from "./errors";
import { displayPath, errnoCode } from "./file";
import { formatIssues, type Issue, type Locate, zodIssue } from "./issues";
import { planCatalogue, planSizeProblem } from "./plans";
import { type Placement, type PlacementInput, placeApps } from "./ports";
import { parseProcfile } from "./procfile";
import {
  type AddonConfig,
  AddonConfigSchema,
  ALARMS_ON,
  type AlarmSwitches,
  type AlarmSwitchesSpec,
  type AlarmTopicSpec,
  APP_NAME,
  appCapacity,
  AppSchema,
  type AppSpec,
  spotPercent,
  DEFAULT_RULES_PER_SECURITY_GROUP,
  networkingOf,
  type Plan,
  type ResolvedApp,
  type ResolvedConfig,
} from "./schema";
import { resolveState } from "./state";

/**
 * Resolving a parsed config: the schema, then the rules that span fields, apps or files (plans,
 * Procfiles, ports, NLB placement), into a ResolvedConfig. Every problem is collected and
 * thrown at once as a ConfigError.
 */

/** A file that is not a Procfile at all would otherwise fill the terminal. */
const MAX_PROCFILE_ISSUES = 3;

/** Where a config came from: its folder (Procfile paths are relative to it), file and label. */
export interface ConfigOrigin {
  readonly baseDir: string;
  readonly source?: string;
  readonly label?: string;
  readonly locate: Locate;
}

/** @throws ConfigError with one line per problem. */
export function resolveParsed(raw: unknown, origin: ConfigOrigin): ResolvedConfig {
  const parsed = AddonConfigSchema.safeParse(raw);
  const issues: Issue[] = parsed.success ? [] : parsed.error.issues.flatMap((i) => zodIssue(i, raw));
  // Cross-field rules run on every part that parsed, so that one broken app does not hide
  // another app's problems.
  const rawRoot = isRecord(raw) ? raw : {};
  const catalogue = planCatalogueOf(rawRoot);
  const apps = Object.entries(isRecord(rawRoot.apps) ? rawRoot.apps : {})
    .filter((entry): entry is [string, Record<string, unknown>] => APP_NAME.test(entry[0]) && isRecord(entry[1]))
    .map(([name, value]) => checkApp(name, value, catalogue, rawRoot, origin.baseDir));
  const placement = placeCandidates(apps, rawRoot);
  issues.push(...apps.flatMap((app) => app.issues), ...placement.issues, ...kmsKeyIssues(rawRoot));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(formatIssues(issues, origin.label, origin.locate));
  const checked = new Map(apps.map((app) => [app.name, app]));
  const placements = new Map(placement.placements.map((p) => [p.name, p]));
  const resolvedApps = Object.entries(parsed.data.apps).map(([name, spec]) =>
    resolveApp(name, spec, parsed.data, { catalogue, checked: checked.get(name), place: placements.get(name), baseDir: origin.baseDir }),
  );
  return resolvedConfig(parsed.data, catalogue, resolvedApps, origin);
}

/** Every plan by name: the built-in ones and the config's, as far as they parse. */
function planCatalogueOf(rawRoot: Record<string, unknown>): Readonly<Record<string, Plan>> {
  const userPlans = AddonConfigSchema.shape.plans.safeParse(rawRoot.plans);
  return planCatalogue(userPlans.success ? userPlans.data : {});
}

/** What the per-app rules found of one app: its problems, and what the app resolves to when there are none. */
interface CheckedApp {
  readonly name: string;
  readonly issues: readonly Issue[];
  /** What placement needs; undefined when a field it reads did not parse. */
  readonly placement?: PlacementInput;
  readonly run?: { readonly command: string; readonly workdir: string };
  readonly deploy?: DeployTimings;
}

/** The rules of one app that need more than its own fields: its plan, deploy timings, build folder and command. */
function checkApp(name: string, value: Record<string, unknown>, catalogue: Readonly<Record<string, Plan>>, rawRoot: Record<string, unknown>, baseDir: string): CheckedApp {
  // Per app, each field is read on its own: a rule runs when the fields it needs are valid.
  const fields = AppSchema.shape;
  const at = ["apps", name];
  const issues: Issue[] = [];
  const port = fields.port.safeParse(value.port);
  const loadBalancer = fields.loadBalancer.safeParse(value.loadBalancer);
  const allowedCidrs = fields.allowedCidrs.safeParse(value.allowedCidrs);
  const placement = port.success && loadBalancer.success && allowedCidrs.success
    ? { name, port: port.data, loadBalancer: loadBalancer.data, allowedCidrs: allowedCidrs.data }
    : undefined;
  const plan = fields.plan.safeParse(value.plan);
  const tolerated = new Set([...Object.keys(catalogue), ...Object.keys(isRecord(rawRoot.plans) ? rawRoot.plans : {})]);
  if (plan.success && !tolerated.has(plan.data)) {
    issues.push({ path: [...at, "plan"], message: `unknown plan "${plan.data}"; known: ${Object.keys(catalogue).join(", ")}` });
  }
  const deploy = checkTimings(value, at);
  const build = checkBuild(value, at, baseDir);
  const run = checkCommand(value, at, baseDir, build.dir);
  return { name, issues: [...issues, ...deploy.issues, ...build.issues, ...run.issues], placement, run: run.run, deploy: deploy.timings };
}

/** The app's deploy timings (a Spot app drains long enough by default), or their broken invariants. */
function checkTimings(value: Record<string, unknown>, at: readonly string[]): { timings?: DeployTimings; issues: Issue[] } {
  const deploy = AppSchema.shape.deploy.safeParse(value.deploy);
  const capacity = AppSchema.shape.capacity.safeParse(value.capacity);
  if (!deploy.success) return { issues: [] };
  const timings = appTimings(capacity.success && spotPercent(capacity.data) > 0 ? withSpotDrain(deploy.data) : deploy.data);
  if ("problems" in timings) return { issues: timings.problems.map((p) => ({ path: [...at, "deploy", ...p.path], message: p.message })) };
  return { timings: timings.timings, issues: [] };
}

/** The app's build folder, absolute, and whether it holds what a build needs. */
function checkBuild(value: Record<string, unknown>, at: readonly string[], baseDir: string): { dir?: string; issues: Issue[] } {
  const build = AppSchema.shape.build.safeParse(value.build);
  if (!build.success || build.data === undefined) return { issues: [] };
  const dir = path.resolve(baseDir, build.data);
  const problem = appBuildProblem(dir, "the config file's folder");
  return { dir, issues: problem === undefined ? [] : [{ path: [...at, "build"], message: problem }] };
}

/** The app's command: `command:` (run in the build folder, else the config's) or the Procfile's `tcp:` line. */
function checkCommand(value: Record<string, unknown>, at: readonly string[], baseDir: string, buildDir: string | undefined): { run?: { command: string; workdir: string }; issues: Issue[] } {
  const command = AppSchema.shape.command.safeParse(value.command);
  const procfile = AppSchema.shape.procfile.safeParse(value.procfile);
  // A `command:` runs where the image's files are: the build folder, else the config's.
  if (command.success && command.data !== undefined) return { run: { command: command.data, workdir: buildDir ?? baseDir }, issues: [] };
  if (!command.success || !procfile.success || procfile.data === undefined) return { issues: [] };
  const found = readTcpCommand(path.resolve(baseDir, procfile.data));
  return "problem" in found ? { issues: [{ path: [...at, "procfile"], message: found.problem }] } : { run: found, issues: [] };
}

/** Ports and NLBs of the apps whose placement fields parsed, with the problems as issues. */
function placeCandidates(apps: readonly CheckedApp[], rawRoot: Record<string, unknown>): { placements: readonly Placement[]; issues: Issue[] } {
  const quotas = AddonConfigSchema.shape.quotas.safeParse(rawRoot.quotas);
  const inputs = apps.flatMap((app) => (app.placement === undefined ? [] : [app.placement]));
  const placement = placeApps(inputs, quotas.success ? quotas.data : {});
  return { placements: placement.placements, issues: placement.issues.map((issue) => ({ path: ["apps", issue.app, issue.field], message: issue.message })) };
}

/** KMS keys for secrets when no app has secrets: nothing to decrypt. */
function kmsKeyIssues(rawRoot: Record<string, unknown>): Issue[] {
  const kmsKeys = AddonConfigSchema.shape.secretsKmsKeyArns.safeParse(rawRoot.secretsKmsKeyArns);
  const anySecrets = Object.values(isRecord(rawRoot.apps) ? rawRoot.apps : {}).some(
    (app) => isRecord(app) && isRecord(app.secrets) && Object.keys(app.secrets).length > 0,
  );
  if (!kmsKeys.success || kmsKeys.data.length === 0 || anySecrets) return [];
  return [{
    path: ["secretsKmsKeyArns"],
    message: "no app has `secrets:`, so no key needs to be decrypted with; remove `secretsKmsKeyArns:` or add the secrets it protects",
  }];
}

/** One app of a config that passed every rule. */
function resolveApp(
  name: string,
  spec: AppSpec,
  config: AddonConfig,
  found: { catalogue: Readonly<Record<string, Plan>>; checked?: CheckedApp; place?: Placement; baseDir: string },
): ResolvedApp {
  const plan: Plan | undefined = found.catalogue[spec.plan];
  const { place, checked } = found;
  if (place === undefined || plan === undefined || checked?.run === undefined || checked.deploy === undefined) {
    throw new Error(`internal: app "${name}" passed validation without a plan, command or placement`);
  }
  return {
    name,
    ...(spec.build === undefined ? { image: spec.image } : { build: path.resolve(found.baseDir, spec.build) }),
    command: checked.run.command,
    workdir: checked.run.workdir,
    plan,
    ...containerCount(spec.containers),
    alarms: alarmSwitches(spec.alarms, config.alarms),
    port: place.port,
    cpu: spec.cpu,
    memory: spec.memory,
    env: spec.env,
    secrets: spec.secrets,
    allowedCidrs: spec.allowedCidrs,
    loadBalancer: place.loadBalancer,
    deploy: checked.deploy,
    networking: networkingOf(spec, plan),
    waitForSteadyState: spec.waitForSteadyState,
    // Omitted when on-demand and x86_64, so the apps of existing configs resolve as they did.
    ...(spec.capacity === "on-demand" ? {} : { capacity: appCapacity(spec.capacity) }),
    ...(spec.architecture === "x86_64" ? {} : { architecture: spec.architecture }),
  };
}

/** The whole config, resolved; the warnings worded as issues. */
function resolvedConfig(config: AddonConfig, catalogue: Readonly<Record<string, Plan>>, apps: readonly ResolvedApp[], { baseDir, source, label, locate }: ConfigOrigin): ResolvedConfig {
  const deployment = { project: config.project, ...(config.environment === undefined ? {} : { environment: config.environment }) };
  return {
    ...deployment,
    region: config.region,
    ...networkOf(config.network),
    ...(config.agent.image === undefined ? {} : { agentImage: config.agent.image }),
    staticIps: config.staticIps,
    plans: catalogue,
    ...(config.secretsKmsKeyArns.length === 0 ? {} : { secretsKmsKeyArns: config.secretsKmsKeyArns }),
    ...(config.quotas.rulesPerSecurityGroup === DEFAULT_RULES_PER_SECURITY_GROUP
      ? {}
      : { rulesPerSecurityGroup: config.quotas.rulesPerSecurityGroup }),
    apps,
    ...alarmTopic(config.alarms),
    ...(source === undefined ? {} : { source }),
    warnings: formatIssues([...sizeIssues(apps), ...spotDrainIssues(apps)], label, locate),
    ...(config.state === undefined ? {} : { state: resolveState(config.state, deployment, baseDir) }),
  };
}

/** Apps whose cpu is below their plan's task size: a warning, since the limit still holds exactly. */
function sizeIssues(apps: readonly ResolvedApp[]): Issue[] {
  return apps.flatMap((app) => {
    const problem = planSizeProblem(app.plan, app.cpu);
    return problem === undefined ? [] : [{ path: ["apps", app.name, "cpu"], message: problem }];
  });
}

/**
 * Spot apps whose agent stops listening before the NLB's health checks can take the task out of
 * the rotation: a Fargate Spot task gets SIGTERM at once and "might not be deregistered from the
 * load balancer's target group until [it transitions] to a STOPPED state" (AWS re:Post, "How do I
 * handle Spot termination notices in AWS Fargate Spot tasks?"), so only the failing checks stop
 * new flows, after unhealthyThreshold x interval seconds.
 */
function spotDrainIssues(apps: readonly ResolvedApp[]): Issue[] {
  return apps.flatMap((app) => {
    const t = app.deploy;
    const detection = spotDetectionSeconds(t);
    if ((app.capacity?.spotPercent ?? 0) === 0 || t.agentDrainSeconds >= detection) return [];
    return [{
      path: ["apps", app.name, "deploy", "agentDrainSeconds"],
      message: `${t.agentDrainSeconds} s of drain end before the NLB's health checks take an interrupted Spot task out of the rotation (${detection} s), so new flows may be refused; set deploy.agentDrainSeconds: ${detection} or more`,
    }];
  });
}

/** Seconds until the NLB's checks find a draining task unhealthy: the failed checks, the last one timing out. */
function spotDetectionSeconds(t: Pick<DeployTimings, "unhealthyThreshold" | "healthCheckIntervalSeconds" | "healthCheckTimeoutSeconds">): number {
  return t.unhealthyThreshold * t.healthCheckIntervalSeconds + t.healthCheckTimeoutSeconds;
}

/**
 * A Spot app's drain, unless set: long enough for the health checks to take an interrupted task
 * out of the rotation (see spotDrainIssues), and never shorter than the default.
 */
function withSpotDrain(overrides: DeployOverrides): DeployOverrides {
  if (overrides.agentDrainSeconds !== undefined) return overrides;
  const merged = { ...DEFAULT_DEPLOY_TIMINGS, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  return { ...overrides, agentDrainSeconds: Math.max(merged.agentDrainSeconds, spotDetectionSeconds(merged)) };
}

/** A fixed count, or a range: `containers` is then its min and `scaling` the range. */
function containerCount(containers: number | { min: number; max: number }): Pick<ResolvedApp, "containers" | "scaling"> {
  if (typeof containers === "number") return { containers };
  return { containers: containers.min, scaling: { min: containers.min, max: containers.max } };
}

/** Each alarm: the app's switch, else the project's, else on. */
function alarmSwitches(app: AlarmSwitchesSpec | undefined, project: AlarmSwitchesSpec | undefined): AlarmSwitches {
  const pick = (key: keyof AlarmSwitches): boolean => app?.[key] ?? project?.[key] ?? ALARMS_ON[key];
  return {
    unhealthyTargets: pick("unhealthyTargets"),
    tasksBelowDesired: pick("tasksBelowDesired"),
    planUtilization: pick("planUtilization"),
    targetResets: pick("targetResets"),
  };
}

function alarmTopic(alarms: { email?: string; topicArn?: string } | undefined): { alarmTopic?: AlarmTopicSpec } {
  if (alarms?.email !== undefined) return { alarmTopic: { email: alarms.email } };
  if (alarms?.topicArn !== undefined) return { alarmTopic: { topicArn: alarms.topicArn } };
  return {};
}

function readTcpCommand(procfile: string): { command: string; workdir: string } | { problem: string } {
  const label = displayPath(procfile);
  let text: string;
  try {
    text = fs.readFileSync(procfile, "utf8");
  } catch (err) {
    const code = errnoCode(err);
    return code === "ENOENT"
      ? { problem: `Procfile not found at ${label}; fix the path (relative to the config file's folder) or use \`command:\`` }
      : { problem: `cannot read ${label} (${code ?? String(err)}); check the path and its permissions` };
  }
  try {
    const processes = parseProcfile(text, label, { requireTcp: true });
    const command = processes.get("tcp");
    if (command === undefined) return { problem: `${label}: no "tcp" process; add a line like "tcp: node server.js"` };
    return { command, workdir: path.dirname(procfile) };
  } catch (err) {
    if (err instanceof ProcfileError) {
      const shown = err.issues.slice(0, MAX_PROCFILE_ISSUES).join("; ");
      const more = err.issues.length - MAX_PROCFILE_ISSUES;
      return { problem: more > 0 ? `${shown}; and ${more} more problem(s) in ${label}` : shown };
    }
    throw err;
  }
}

/** An app's deploy timings, or its broken invariants as issues under `deploy.<field>`. */
function appTimings(overrides: Parameters<typeof deployTimings>[0]): { timings: DeployTimings } | { problems: Issue[] } {
  try {
    return { timings: deployTimings(overrides) };
  } catch (err) {
    if (!(err instanceof DeployTimingsError)) throw err;
    return {
      problems: err.issues.map((line) => {
        const colon = line.indexOf(": ");
        return { path: [line.slice(0, colon)], message: line.slice(colon + 2) };
      }),
    };
  }
}

/** `network:` as the stack takes it: an existing VPC (`network`), or how to build the created one (`createdNetwork`). */
function networkOf(network: AddonConfig["network"]): Pick<ResolvedConfig, "network" | "createdNetwork"> {
  if (network === undefined) return {};
  const { vpcId, publicSubnetIds, privateSubnetIds, natGateways, vpcEndpoints } = network;
  if (vpcId !== undefined && publicSubnetIds !== undefined && privateSubnetIds !== undefined) {
    return { network: { vpcId, publicSubnetIds, privateSubnetIds } };
  }
  const created = { ...(natGateways === undefined ? {} : { natGateways }), ...(vpcEndpoints === undefined ? {} : { vpcEndpoints }) };
  return Object.keys(created).length === 0 ? {} : { createdNetwork: created };
}
