import * as fs from "node:fs";
import * as path from "node:path";
import { isRecord } from "../runtime/agent/errors";
import { appBuildProblem } from "./build";
import { DEFAULT_DEPLOY_TIMINGS, deployTimings, DeployTimingsError, type DeployOverrides, type DeployTimings } from "./deploy-timings";
import { ConfigError, ProcfileError } from "./errors";
import { displayPath, errnoCode } from "./file";
import { formatIssues, type Issue, type Locate, zodIssue } from "./issues";
import { planCatalogue, planSizeProblem } from "./plans";
import { placeApps } from "./ports";
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
export function resolveParsed(raw: unknown, { baseDir, source, label, locate }: ConfigOrigin): ResolvedConfig {
  const issues: Issue[] = [];
  const parsed = AddonConfigSchema.safeParse(raw);
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap((i) => zodIssue(i, raw)));

  // Cross-field rules run on every part that parsed, so that one broken app does not hide
  // another app's problems.
  const rawRoot = isRecord(raw) ? raw : {};
  const userPlans = AddonConfigSchema.shape.plans.safeParse(rawRoot.plans);
  const catalogue = planCatalogue(userPlans.success ? userPlans.data : {});
  const tolerated = new Set([...Object.keys(catalogue), ...Object.keys(isRecord(rawRoot.plans) ? rawRoot.plans : {})]);

  // Per app, each field is read on its own: a rule runs when the fields it needs are valid.
  const fields = AppSchema.shape;
  const candidates: { name: string; port?: number; loadBalancer?: number; allowedCidrs?: string[]; placeable: boolean }[] = [];
  const commands = new Map<string, { command: string; workdir: string }>();
  const resolvedTimings = new Map<string, DeployTimings>();
  for (const [name, value] of Object.entries(isRecord(rawRoot.apps) ? rawRoot.apps : {})) {
    if (!APP_NAME.test(name) || !isRecord(value)) continue;
    const at = ["apps", name];
    const plan = fields.plan.safeParse(value.plan);
    const port = fields.port.safeParse(value.port);
    const loadBalancer = fields.loadBalancer.safeParse(value.loadBalancer);
    const allowedCidrs = fields.allowedCidrs.safeParse(value.allowedCidrs);
    candidates.push({
      name,
      port: port.success ? port.data : undefined,
      loadBalancer: loadBalancer.success ? loadBalancer.data : undefined,
      allowedCidrs: allowedCidrs.success ? allowedCidrs.data : undefined,
      placeable: port.success && loadBalancer.success && allowedCidrs.success,
    });
    if (plan.success && !tolerated.has(plan.data)) {
      issues.push({
        path: [...at, "plan"],
        message: `unknown plan "${plan.data}"; known: ${Object.keys(catalogue).join(", ")}`,
      });
    }
    const deploy = fields.deploy.safeParse(value.deploy);
    const capacity = fields.capacity.safeParse(value.capacity);
    if (deploy.success) {
      const timings = appTimings(capacity.success && spotPercent(capacity.data) > 0 ? withSpotDrain(deploy.data) : deploy.data);
      if ("problems" in timings) issues.push(...timings.problems.map((p) => ({ path: [...at, "deploy", ...p.path], message: p.message })));
      else resolvedTimings.set(name, timings.timings);
    }
    const build = fields.build.safeParse(value.build);
    const buildDir = build.success && build.data !== undefined ? path.resolve(baseDir, build.data) : undefined;
    const buildProblem = buildDir === undefined ? undefined : appBuildProblem(buildDir, "the config file's folder");
    if (buildProblem !== undefined) issues.push({ path: [...at, "build"], message: buildProblem });
    const command = fields.command.safeParse(value.command);
    const procfile = fields.procfile.safeParse(value.procfile);
    if (command.success && command.data !== undefined) {
      // A `command:` runs where the image's files are: the build folder, else the config's.
      commands.set(name, { command: command.data, workdir: buildDir ?? baseDir });
    } else if (command.success && procfile.success && procfile.data !== undefined) {
      const found = readTcpCommand(path.resolve(baseDir, procfile.data));
      if ("problem" in found) issues.push({ path: [...at, "procfile"], message: found.problem });
      else commands.set(name, found);
    }
  }

  const placeable = candidates.filter((c) => c.placeable);
  const quotas = AddonConfigSchema.shape.quotas.safeParse(rawRoot.quotas);
  const placement = placeApps(
    placeable.map(({ name, port, loadBalancer, allowedCidrs }) => ({ name, port, loadBalancer, allowedCidrs })),
    quotas.success ? quotas.data : {},
  );
  for (const issue of placement.issues) issues.push({ path: ["apps", issue.app, issue.field], message: issue.message });
  const kmsKeys = AddonConfigSchema.shape.secretsKmsKeyArns.safeParse(rawRoot.secretsKmsKeyArns);
  const anySecrets = Object.values(isRecord(rawRoot.apps) ? rawRoot.apps : {}).some(
    (app) => isRecord(app) && isRecord(app.secrets) && Object.keys(app.secrets).length > 0,
  );
  if (kmsKeys.success && kmsKeys.data.length > 0 && !anySecrets) {
    issues.push({
      path: ["secretsKmsKeyArns"],
      message: "no app has `secrets:`, so no key needs to be decrypted with; remove `secretsKmsKeyArns:` or add the secrets it protects",
    });
  }

  if (issues.length > 0 || !parsed.success) {
    throw new ConfigError(formatIssues(issues, label, locate));
  }

  const config = parsed.data;
  const placements = new Map(placement.placements.map((p) => [p.name, p]));
  const resolvedApps: ResolvedApp[] = Object.entries(config.apps).map(([name, spec]) => {
    const place = placements.get(name);
    const plan: Plan | undefined = catalogue[spec.plan];
    const run = commands.get(name);
    const deploy = resolvedTimings.get(name);
    if (place === undefined || plan === undefined || run === undefined || deploy === undefined) {
      throw new Error(`internal: app "${name}" passed validation without a plan, command or placement`);
    }
    return {
      name,
      ...(spec.build === undefined ? { image: spec.image } : { build: path.resolve(baseDir, spec.build) }),
      command: run.command,
      workdir: run.workdir,
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
      deploy,
      networking: networkingOf(spec, plan),
      waitForSteadyState: spec.waitForSteadyState,
      // Omitted when on-demand and x86_64, so the apps of existing configs resolve as they did.
      ...(spec.capacity === "on-demand" ? {} : { capacity: appCapacity(spec.capacity) }),
      ...(spec.architecture === "x86_64" ? {} : { architecture: spec.architecture }),
    };
  });

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
    apps: resolvedApps,
    ...alarmTopic(config.alarms),
    ...(source === undefined ? {} : { source }),
    warnings: formatIssues([...sizeIssues(resolvedApps), ...spotDrainIssues(resolvedApps)], label, locate),
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
