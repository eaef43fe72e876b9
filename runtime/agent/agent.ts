import { AppProcess, freePort, waitUntilAccepting } from "./app-process";
import { type Clock } from "./clock";
import type { UpstreamAddress } from "./connection";
import { EmfEmitter } from "./emf";
import { APP_ENV, DRAIN_QUIET_SECONDS, LIFELINE_KILL_GRACE_SECONDS } from "./contract";
import { AppStartTimeoutError, messageOf, TcpAddonError } from "./errors";
import type { AgentOptions } from "./flags";
import { Forwarder } from "./forwarder";
import { HealthServer } from "./health-server";
import { type Lifeline, watchLifeline } from "./lifeline";
import type { Logger } from "./log";
import { type MetricsSnapshot, renderMetrics } from "./metrics";
import { stopWithGrace } from "./processes";
import { formatAddress } from "./upstream-health";
import { LIMIT_REASONS } from "./connection-limits";

export interface AgentDeps {
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
}

/** Where the app is reached in wrapper mode: it was given PORT and listens on this machine. */
const APP_HOST = "127.0.0.1";
/** After a failed start, how long the app gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 10_000;
/** The exit code after the lifeline was lost (the supervisor that would read it is gone). */
const LIFELINE_EXIT_CODE = 1;

/** The signals that stop the agent. SIGHUP (its terminal or session went away) drains like SIGTERM. */
const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];
/** Why the agent stops: a signal (drain first), or its lifeline reached end of file (stop now). */
type StopReason = StopSignal | "lifeline";

/**
 * Runs the agent until it should exit; resolves with the exit code. Wrapper mode runs
 * the app and passes its exit code on; sidecar mode exits 0 after a drain. A port
 * that cannot be bound gives 1, and so does a lost lifeline.
 */
export async function runAgent(options: AgentOptions, deps: AgentDeps): Promise<number> {
  const agent = new Agent(options, deps);
  try {
    return await agent.run();
  } finally {
    agent.dispose();
  }
}

class Agent {
  private readonly logger: Logger;
  private readonly stopped: Promise<StopReason>;
  private stopReason: StopReason | null = null;
  private resolveStop: (reason: StopReason) => void = () => {};
  private forwarder: Forwarder | null = null;
  private healthServer: HealthServer | null = null;
  private emf: EmfEmitter | null = null;
  private lifeline: Lifeline | null = null;
  private draining = false;

  constructor(private readonly options: AgentOptions, private readonly deps: AgentDeps) {
    this.logger = deps.logger;
    this.stopped = new Promise((resolve) => {
      this.resolveStop = resolve;
    });
    for (const signal of STOP_SIGNALS) process.on(signal, this.onSignal);
    if (options.lifelineFd !== null) this.lifeline = watchLifeline(options.lifelineFd, this.onLifelineLost);
  }

  run(): Promise<number> {
    const { command, upstream } = this.options;
    if (command !== null) return this.runWrapper(command);
    if (upstream !== null) return this.runSidecar(upstream);
    throw new Error("either an upstream or a command is required");
  }

  dispose(): void {
    for (const signal of STOP_SIGNALS) process.off(signal, this.onSignal);
    this.lifeline?.close();
    this.emf?.stop();
    this.forwarder?.cutAll();
    this.healthServer?.close();
  }

  /** First signal: drain. A second one while draining: reset what is left now. */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    const stop = STOP_SIGNALS.find((s) => s === signal) ?? "SIGTERM";
    if (this.stopReason === null) {
      this.stopReason = stop;
      this.resolveStop(stop);
    } else if (this.draining) {
      this.logger.warn("drain-cut-short", { signal });
      this.forwarder?.endDrainNow();
    }
  };

  /** The supervisor is gone: no drain, every connection is reset, the app is stopped. */
  private readonly onLifelineLost = (why: string): void => {
    this.logger.warn("lifeline-lost", { fd: this.options.lifelineFd, why });
    this.stopReason = "lifeline";
    this.resolveStop("lifeline");
    this.forwarder?.endDrainNow();
    this.forwarder?.cutAll();
  };

  private async runSidecar(upstream: UpstreamAddress): Promise<number> {
    const forwarder = await this.start(upstream, this.options.listen, upstream.port, null);
    if (forwarder === null) return 1;
    const reason = await this.stopped;
    if (reason !== "lifeline") await this.drain(forwarder, reason);
    const code = this.stopReason === "lifeline" ? LIFELINE_EXIT_CODE : 0;
    this.logger.info("exit", { code });
    return code;
  }

  private async runWrapper(command: readonly string[]): Promise<number> {
    const { host } = this.options;
    const { env } = this.deps;
    const appPort = this.options.appPort ?? (await freePort(APP_HOST));
    // TCP_URL must be known before the app starts, so a listen port of 0 is chosen now.
    const presetUrl = presetTcpUrl(env);
    const listen = this.options.listen === 0 && presetUrl === null ? await freePort(host) : this.options.listen;
    const tcpUrl = presetUrl ?? `tcp://${host}:${listen}`;

    const app = new AppProcess(command, { ...env, [APP_ENV.port]: String(appPort), [APP_ENV.tcpUrl]: tcpUrl });
    this.logger.info("app-start", { command: command.join(" "), pid: app.pid ?? null, port: appPort });

    const stopWaiting = (): boolean => !app.isRunning || this.stopReason !== null;
    const ready = await Promise.race([
      waitUntilAccepting(APP_HOST, appPort, this.options.startTimeoutSeconds * 1000, stopWaiting).then((ok) =>
        ok ? "ready" : !app.isRunning ? "exited" : this.stopReason !== null ? "interrupted" : "timeout",
      ),
      app.exited.then(() => "exited" as const),
      this.stopped.then(() => "interrupted" as const),
    ]);
    if (ready !== "ready") return this.abortStart(app, ready, appPort);

    const forwarder = await this.start({ host: APP_HOST, port: appPort }, listen, appPort, tcpUrl, app);
    if (forwarder === null) {
      await this.stopApp(app, "SIGTERM", KILL_GRACE_MS);
      return 1;
    }

    const outcome = await Promise.race([this.stopped, app.exited.then(() => "exited" as const)]);
    if (outcome === "exited") return this.appExited(app);
    if (outcome !== "lifeline") {
      const drained = await Promise.race([
        this.drain(forwarder, outcome).then(() => "drained" as const),
        app.exited.then(() => "exited" as const),
      ]);
      if (drained === "exited") return this.appExited(app);
    }
    return this.stopAppAndExit(app);
  }

  /** After the drain (or at once, lifeline lost): the app gets its signal, the agent passes its code on. */
  private async stopAppAndExit(app: AppProcess): Promise<number> {
    const reason = this.stopReason ?? "SIGTERM";
    const signal = reason === "SIGINT" ? "SIGINT" : "SIGTERM";
    this.logger.info("app-stop", { signal, pid: app.pid ?? null });
    if (reason === "lifeline") {
      await this.stopApp(app, signal, LIFELINE_KILL_GRACE_SECONDS * 1000);
      this.logger.info("exit", { code: LIFELINE_EXIT_CODE });
      return LIFELINE_EXIT_CODE;
    }
    const code = await this.stopApp(app, signal, null);
    this.logger.info("exit", { code });
    return code;
  }

  /** Binds the listener and the health server, then prints the one `ready` line. */
  private async start(
    upstream: UpstreamAddress,
    listen: number,
    appPort: number,
    tcpUrl: string | null,
    app: AppProcess | null = null,
  ): Promise<Forwarder | null> {
    const { options, deps } = this;
    const forwarder = new Forwarder({
      upstream,
      pps: options.pps,
      burst: options.burst,
      idleTimeoutMs: Math.round(options.idleTimeoutSeconds * 1000),
      drainQuietMs: DRAIN_QUIET_SECONDS * 1000,
      clock: deps.clock,
      logger: this.logger,
      proxyProtocol: options.proxyProtocol ?? "off",
      proxyHeaderTimeoutMs: Math.round((options.proxyHeaderTimeoutSeconds ?? 5) * 1000),
      maxConnections: options.maxConnections ?? 0,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? 0,
      upstreamExiting: app === null ? undefined : () => app.isExiting(),
    });
    this.forwarder = forwarder;
    if (options.command !== null) forwarder.health.markUp();
    try {
      const port = await forwarder.listen(listen, options.host);
      let healthPort: number | null = null;
      if (options.healthPort !== null) {
        this.healthServer = new HealthServer(
          {
            unhealthyReason: () => this.unhealthyReason(forwarder),
            metrics: () => renderMetrics(this.metricsSnapshot(forwarder)),
          },
          (error) => this.logger.error("health-server-error", { error: messageOf(error) }),
          {
            // The NLB sends its PROXY v2 header on health-check connections too (see HealthServerOptions).
            proxyProtocol: (options.proxyProtocol ?? "off") !== "off",
            proxyHeaderTimeoutMs: Math.round((options.proxyHeaderTimeoutSeconds ?? 5) * 1000),
            logger: this.logger,
          },
        );
        healthPort = await this.healthServer.listen(options.healthPort, options.host);
      }
      if (this.stopReason === "lifeline") forwarder.cutAll();
      this.logger.info("ready", {
        listen: port,
        healthPort,
        appPort,
        upstream: formatAddress(upstream),
        tcpUrl: tcpUrl ?? presetTcpUrl(deps.env) ?? `tcp://${options.host}:${port}`,
        pps: options.pps,
        burst: options.burst,
        mode: options.command === null ? "sidecar" : "wrapper",
      });
      if (options.emf) {
        this.emf = new EmfEmitter(options.emf, { read: () => forwarder.snapshot(this.draining), write: (line) => this.logger.line(line), clock: deps.clock });
        this.emf.start();
      }
      return forwarder;
    } catch (error) {
      if (!(error instanceof TcpAddonError)) throw error;
      this.logger.error("listen-failed", { code: error.code, error: error.message });
      return null;
    }
  }

  /** What /metrics shows: the forwarder's counts, every limit's refusals, the health port's and the log's. */
  private metricsSnapshot(forwarder: Forwarder): MetricsSnapshot {
    const snapshot = forwarder.snapshot(this.draining);
    return {
      ...snapshot,
      connectionsRefusedByLimit: new Map(LIMIT_REASONS.map((r) => [r, forwarder.limits.rejectedTotal(r)] as const)),
      ...(this.healthServer === null ? {} : { health: this.healthServer.counters }),
      logLinesDropped: this.logger.droppedLines,
    };
  }

  /** null when healthy; else the reason /healthz gives, naming the cause when it is not the app. */
  private async unhealthyReason(forwarder: Forwarder): Promise<string | null> {
    if (this.draining || this.stopReason !== null) return "draining";
    const acceptError = forwarder.acceptFailure;
    if (acceptError !== null) return `cannot accept connections: ${describeErrno(acceptError)}`;
    if (await forwarder.health.check()) return null;
    const failure = forwarder.health.lastFailure;
    return failure === "EMFILE" || failure === "ENFILE" ? `cannot connect to the app: ${describeErrno(failure)}` : "upstream down";
  }

  /**
   * /healthz turns 503 at once; the listener keeps accepting and forwarding for the whole
   * window, quiet connections are closed with a FIN, and what is left at the end is reset.
   */
  private async drain(forwarder: Forwarder, signal: StopSignal): Promise<void> {
    this.draining = true;
    this.logger.info("drain-start", { signal, connections: forwarder.activeConnections, drainSeconds: this.options.drainSeconds });
    const cut = await forwarder.drain(Math.round(this.options.drainSeconds * 1000));
    this.logger.info("drain-end", { closed: cut });
    this.healthServer?.close();
  }

  private async appExited(app: AppProcess): Promise<number> {
    const code = await app.exited;
    this.logger.error("app-exit", { code, pid: app.pid ?? null, connections: this.forwarder?.activeConnections ?? 0 });
    this.forwarder?.cutAll();
    this.healthServer?.close();
    this.logger.info("exit", { code });
    return code;
  }

  private async abortStart(app: AppProcess, why: "exited" | "interrupted" | "timeout", port: number): Promise<number> {
    if (why === "exited") {
      const code = await app.exited;
      const startError = app.startError;
      this.logger.error("app-exit-before-ready", {
        code,
        pid: app.pid ?? null,
        error: startError === null ? null : `cannot start ${this.options.command?.[0]}: ${startError.code ?? startError.message}`,
      });
      const exitCode = code === 0 ? 1 : code;
      this.logger.info("exit", { code: exitCode });
      return exitCode;
    }
    if (why === "interrupted") return this.stopAppAndExit(app);
    const error = new AppStartTimeoutError(port, this.options.startTimeoutSeconds);
    this.logger.error("app-start-timeout", { code: error.code, error: error.message });
    await this.stopApp(app, "SIGTERM", KILL_GRACE_MS);
    this.logger.info("exit", { code: 1 });
    return 1;
  }

  /** Sends the app a signal and waits for it; with a grace, SIGKILL follows after it. */
  private async stopApp(app: AppProcess, signal: "SIGTERM" | "SIGINT", killAfterMs: number | null): Promise<number> {
    if (killAfterMs !== null) return stopWithGrace(app.exited, () => app.signal(signal), () => app.signal("SIGKILL"), killAfterMs);
    app.signal(signal);
    return app.exited;
  }
}

function presetTcpUrl(env: NodeJS.ProcessEnv): string | null {
  const url = env[APP_ENV.tcpUrl];
  return url === undefined || url === "" ? null : url;
}

/** An errno code with what it means, for the causes a health check should name. */
function describeErrno(code: string): string {
  if (code === "EMFILE") return "EMFILE (the agent is out of file descriptors)";
  if (code === "ENFILE") return "ENFILE (the system is out of file descriptors)";
  return code;
}
