import type { DeployTimings } from "../config/deploy-timings";
import { appNetworking, type AppNetworking, type Plan, type ResolvedApp } from "../config/schema";
import { AGENT_ENV, AGENT_HEALTH_PORT, AGENT_PORT, APP_ENV, APP_PORT } from "../ground";

/**
 * The two containers of every app's task, as typed objects. Pure: no cdktf, tokens are plain
 * strings inside the values; TcpApp writes the result with `JSON.stringify` as
 * `container_definitions`, so tests and reviewers can read it.
 */

/** Container names in every task definition. */
export const APP_CONTAINER = "app";
/** Name of the agent's container in every task definition. */
export const AGENT_CONTAINER = "tcp-agent";
/** Non-root uid the agent container runs as. */
export const AGENT_UID = "1000";

/** The fields of an ECS container definition that tcp-addon writes. */
export interface ContainerDefinition {
  /** Container name (`app` or `tcp-agent`). */
  readonly name: string;
  /** Image reference. */
  readonly image: string;
  /** Whether the task stops when this container stops. */
  readonly essential: boolean;
  /** The command, as ECS runs it (`/bin/sh -c <command>` for the app). */
  readonly command?: readonly string[];
  /** The uid the container runs as; undefined = the image's. */
  readonly user?: string;
  /** Whether the root filesystem is read-only. */
  readonly readonlyRootFilesystem?: boolean;
  /** Whether the container is privileged (never, for tcp-addon's). */
  readonly privileged?: boolean;
  /** Ports the container listens on. */
  readonly portMappings?: readonly { readonly containerPort: number; readonly protocol: "tcp" }[];
  /** Environment variables, in plain text. */
  readonly environment: readonly { readonly name: string; readonly value: string }[];
  /** Variables ECS injects from SSM Parameter Store or Secrets Manager. */
  readonly secrets?: readonly { readonly name: string; readonly valueFrom: string }[];
  /** Containers this one starts after (and stops before). */
  readonly dependsOn?: readonly { readonly containerName: string; readonly condition: "START" }[];
  /** Seconds between SIGTERM and SIGKILL. */
  readonly stopTimeout: number;
  /** Where the container's output goes: CloudWatch Logs. */
  readonly logConfiguration: {
    readonly logDriver: "awslogs";
    readonly options: Readonly<Record<"awslogs-group" | "awslogs-region" | "awslogs-stream-prefix" | "mode" | "max-buffer-size", string>>;
  };
}

/**
 * How the awslogs driver delivers each container's stdout and stderr: `non-blocking`, through a
 * buffer of `max-buffer-size`, written out rather than left to the account setting. In blocking
 * mode a CloudWatch Logs stall blocks the container's writes; Node writes to a pipe
 * synchronously, so the agent's event loop, and every connection it forwards, would stop. A full
 * buffer drops log lines instead. ECS API reference, LogConfiguration, `mode`: "If you don't
 * specify the mode option or configure the account setting, Amazon ECS will default to the
 * non-blocking mode" (since June 25, 2025; blocking before), and `max-buffer-size`: "Default
 * value: 10m ... When the buffer fills up, further logs cannot be stored. Logs that cannot be
 * stored are lost." 10 MiB per container, the documented default, stated so that neither an
 * account setting nor an older default (1m) changes it.
 */
export const LOG_DELIVERY = Object.freeze({ mode: "non-blocking", maxBufferSize: "10m" });

/** What an app's containers are made of: the app as resolved (name, command, env, secrets, plan, deploy timings) and its image. */
export type ContainerApp = Pick<ResolvedApp, "name" | "command" | "env" | "secrets" | "plan" | "deploy" | "networking"> & {
  /** The prebuilt image, or the one built from the app's folder. */
  readonly image: string;
};

/** Where the app's containers run: its TCP_URL, the agent image, the log group and region. */
export interface ContainerSurroundings {
  /** The app's TCP_URL. */
  readonly tcpUrl: string;
  /** The agent's image reference. */
  readonly agentImage: string;
  /** The CloudWatch log group of both containers. */
  readonly logGroup: string;
  /** AWS region of the log group. */
  readonly region: string;
  /** The agent's `Project` metric dimension; undefined = the agent writes no CloudWatch metrics. */
  readonly metricsProject?: string;
}

/**
 * The `app` container runs the `tcp` command with PORT and TCP_URL; the `tcp-agent` sidecar
 * listens on the agent port, enforces the plan and forwards to the app on 127.0.0.1. The agent
 * depends on the app, so ECS stops the agent first: it drains while the app still serves.
 */
export function containerDefinitions(app: ContainerApp, around: ContainerSurroundings): ContainerDefinition[] {
  const logConfiguration = {
    logDriver: "awslogs",
    options: {
      "awslogs-group": around.logGroup,
      "awslogs-region": around.region,
      "awslogs-stream-prefix": app.name,
      mode: LOG_DELIVERY.mode,
      "max-buffer-size": LOG_DELIVERY.maxBufferSize,
    },
  } as const;
  const stopTimeout = app.deploy.stopTimeoutSeconds;
  const secrets = Object.entries(app.secrets).map(([name, valueFrom]) => ({ name, valueFrom }));
  const appContainer: ContainerDefinition = {
    name: APP_CONTAINER,
    image: app.image,
    essential: true,
    command: ["/bin/sh", "-c", app.command],
    environment: envList({ [APP_ENV.port]: String(APP_PORT), [APP_ENV.tcpUrl]: around.tcpUrl, ...app.env }),
    ...(secrets.length > 0 ? { secrets } : {}),
    stopTimeout,
    logConfiguration,
  };
  const agent: ContainerDefinition = {
    name: AGENT_CONTAINER,
    image: around.agentImage,
    essential: true,
    user: AGENT_UID,
    readonlyRootFilesystem: true,
    privileged: false,
    portMappings: [
      { containerPort: AGENT_PORT, protocol: "tcp" },
      { containerPort: AGENT_HEALTH_PORT, protocol: "tcp" },
    ],
    environment: envList({
      ...agentEnvironment(app.plan, app.deploy, around.metricsProject === undefined ? undefined : { project: around.metricsProject, app: app.name }),
      ...agentNetworkEnvironment(appNetworking(app)),
    }),
    dependsOn: [{ containerName: APP_CONTAINER, condition: "START" }],
    stopTimeout,
    logConfiguration,
  };
  return [appContainer, agent];
}

/** PROXY protocol and connection limits for the agent; empty when all are off (the task definition stays as before). */
export function agentNetworkEnvironment(n: AppNetworking): Record<string, string> {
  return {
    ...(n.clientIp === "off" ? {} : { [AGENT_ENV.proxyProtocol]: n.clientIp }),
    ...(n.maxConnections > 0 ? { [AGENT_ENV.maxConnections]: String(n.maxConnections) } : {}),
    ...(n.maxConnectionsPerIp !== undefined ? { [AGENT_ENV.maxConnectionsPerIp]: String(n.maxConnectionsPerIp) } : {}),
  };
}

/** The agent's settings in a task, by the variable names of its contract; with `metrics`, its EMF lines by project and app. */
export function agentEnvironment(plan: Plan, timings: DeployTimings, metrics?: { project: string; app: string }): Record<string, string> {
  return {
    [AGENT_ENV.listen]: String(AGENT_PORT),
    [AGENT_ENV.healthPort]: String(AGENT_HEALTH_PORT),
    [AGENT_ENV.pps]: String(plan.packetsPerSecond),
    ...(plan.burst !== undefined ? { [AGENT_ENV.burst]: String(plan.burst) } : {}),
    [AGENT_ENV.upstream]: `127.0.0.1:${APP_PORT}`,
    [AGENT_ENV.drainSeconds]: String(timings.agentDrainSeconds),
    ...(metrics === undefined ? {} : { [AGENT_ENV.emf]: "1", [AGENT_ENV.project]: metrics.project, [AGENT_ENV.app]: metrics.app }),
  };
}

function envList(vars: Readonly<Record<string, string>>): { name: string; value: string }[] {
  return Object.entries(vars).map(([name, value]) => ({ name, value }));
}
