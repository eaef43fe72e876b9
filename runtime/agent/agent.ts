import { AppProcess, freePort, waitUntilAccepting } from "./app-process";
import { type Clock } from "./clock";
import type { UpstreamAddress } from "./connection";
import { EmfEmitter } from "./emf";
import { AppStartTimeoutError, TcpAddonError } from "./errors";
import type { AgentOptions } from "./flags";
import { HealthServer } from "./health-server";
import type { Logger } from "./log";
import { renderMetrics } from "./metrics";
import { Proxy } from "./proxy";
import { formatAddress } from "./upstream-health";

export interface AgentDeps {
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
}

/** Where the app is reached in wrapper mode: it was given PORT and listens on this machine. */
const APP_HOST = "127.0.0.1";
/** After a failed start, how long the app gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 10_000;

type StopSignal = "SIGTERM" | "SIGINT";

/**
 * Runs the agent until it should exit; resolves with the exit code. Wrapper mode runs
 * the app and passes its exit code on; sidecar mode exits 0 after a clean drain. A port
 * that cannot be bound gives 1.
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
  private readonly stopped: Promise<StopSignal>;
  private stopSignal: StopSignal | null = null;
  private resolveStop: (signal: StopSignal) => void = () => {};
  private proxy: Proxy | null = null;
  private healthServer: HealthServer | null = null;
  private emf: EmfEmitter | null = null;
  private draining = false;

  constructor(private readonly options: AgentOptions, private readonly deps: AgentDeps) {
    this.logger = deps.logger;
    this.stopped = new Promise((resolve) => {
      this.resolveStop = resolve;
    });
    process.on("SIGTERM", this.onSignal);
    process.on("SIGINT", this.onSignal);
  }

  run(): Promise<number> {
    const { command, upstream } = this.options;
    if (command !== null) return this.runWrapper(command);
    if (upstream !== null) return this.runSidecar(upstream);
    throw new Error("either an upstream or a command is required");
  }

  dispose(): void {
    process.off("SIGTERM", this.onSignal);
    process.off("SIGINT", this.onSignal);
    this.emf?.stop();
    this.proxy?.closeAll();
    this.healthServer?.close();
  }

  /** First signal: drain. A second one while draining: close what is left now. */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    const stop: StopSignal = signal === "SIGINT" ? "SIGINT" : "SIGTERM";
    if (this.stopSignal === null) {
      this.stopSignal = stop;
      this.resolveStop(stop);
    } else if (this.draining) {
      this.logger.warn("drain-cut-short", { signal });
      this.proxy?.endDrainNow();
    }
  };

  private async runSidecar(upstream: UpstreamAddress): Promise<number> {
    const proxy = await this.start(upstream, this.options.listen, upstream.port, null);
    if (proxy === null) return 1;
    const signal = await this.stopped;
    await this.drain(proxy, signal);
    this.logger.info("exit", { code: 0 });
    return 0;
  }

  private async runWrapper(command: readonly string[]): Promise<number> {
    const { host } = this.options;
    const { env } = this.deps;
    const appPort = this.options.appPort ?? (await freePort(APP_HOST));
    // TCP_URL must be known before the app starts, so a listen port of 0 is chosen now.
    const presetUrl = presetTcpUrl(env);
    const listen = this.options.listen === 0 && presetUrl === null ? await freePort(host) : this.options.listen;
    const tcpUrl = presetUrl ?? `tcp://${host}:${listen}`;

    const app = new AppProcess(command, { ...env, PORT: String(appPort), TCP_URL: tcpUrl });
    this.logger.info("app-start", { command: command.join(" "), pid: app.pid ?? null, port: appPort });

    const stopWaiting = (): boolean => !app.isRunning || this.stopSignal !== null;
    const ready = await Promise.race([
      waitUntilAccepting(APP_HOST, appPort, this.options.startTimeoutSeconds * 1000, stopWaiting).then((ok) =>
        ok ? "ready" : !app.isRunning ? "exited" : this.stopSignal !== null ? "interrupted" : "timeout",
      ),
      app.exited.then(() => "exited" as const),
      this.stopped.then(() => "interrupted" as const),
    ]);
    if (ready !== "ready") return this.abortStart(app, ready, appPort);

    const proxy = await this.start({ host: APP_HOST, port: appPort }, listen, appPort, tcpUrl);
    if (proxy === null) {
      await this.stopApp(app, "SIGTERM", true);
      return 1;
    }

    const outcome = await Promise.race([this.stopped, app.exited.then(() => "exited" as const)]);
    if (outcome === "exited") return this.appExited(app);

    const drained = await Promise.race([
      this.drain(proxy, outcome).then(() => "drained" as const),
      app.exited.then(() => "exited" as const),
    ]);
    if (drained === "exited") return this.appExited(app);
    this.logger.info("app-stop", { signal: outcome, pid: app.pid ?? null });
    const code = await this.stopApp(app, outcome, false);
    this.logger.info("exit", { code });
    return code;
  }

  /** Binds the listener and the health server, then prints the one `ready` line. */
  private async start(upstream: UpstreamAddress, listen: number, appPort: number, tcpUrl: string | null): Promise<Proxy | null> {
    const { options, deps } = this;
    const proxy = new Proxy({
      upstream,
      pps: options.pps,
      burst: options.burst,
      idleTimeoutMs: Math.round(options.idleTimeoutSeconds * 1000),
      clock: deps.clock,
      logger: this.logger,
    });
    this.proxy = proxy;
    if (options.command !== null) proxy.health.record(true);
    try {
      const port = await proxy.listen(listen, options.host);
      let healthPort: number | null = null;
      if (options.healthPort !== null) {
        this.healthServer = new HealthServer(
          {
            unhealthyReason: async () => {
              if (this.draining) return "draining";
              return (await proxy.health.check()) ? null : "upstream down";
            },
            metrics: () => renderMetrics(proxy.snapshot(this.draining)),
          },
          (error) => this.logger.error("health-server-error", { error: error.message }),
        );
        healthPort = await this.healthServer.listen(options.healthPort, options.host);
      }
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
        this.emf = new EmfEmitter(options.emf, { read: () => proxy.snapshot(this.draining), write: (line) => this.logger.line(line), clock: deps.clock });
        this.emf.start();
      }
      return proxy;
    } catch (error) {
      if (!(error instanceof TcpAddonError)) throw error;
      this.logger.error("listen-failed", { code: error.code, error: error.message });
      return null;
    }
  }

  /** /healthz turns 503, the listener closes, connections get the drain time, then are closed. */
  private async drain(proxy: Proxy, signal: StopSignal): Promise<void> {
    this.draining = true;
    this.logger.info("drain-start", { signal, connections: proxy.activeConnections, drainSeconds: this.options.drainSeconds });
    const closed = await proxy.drain(Math.round(this.options.drainSeconds * 1000));
    this.logger.info("drain-end", { closed });
    this.healthServer?.close();
  }

  private async appExited(app: AppProcess): Promise<number> {
    const code = await app.exited;
    this.logger.error("app-exit", { code, pid: app.pid ?? null, connections: this.proxy?.activeConnections ?? 0 });
    this.proxy?.closeAll();
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
    if (why === "interrupted") {
      const signal = this.stopSignal ?? "SIGTERM";
      const code = await this.stopApp(app, signal, false);
      this.logger.info("exit", { code });
      return code;
    }
    const error = new AppStartTimeoutError(port, this.options.startTimeoutSeconds);
    this.logger.error("app-start-timeout", { code: error.code, error: error.message });
    await this.stopApp(app, "SIGTERM", true);
    this.logger.info("exit", { code: 1 });
    return 1;
  }

  /** Sends the app a signal and waits for it; with `escalate`, SIGKILL follows after a grace. */
  private async stopApp(app: AppProcess, signal: StopSignal, escalate: boolean): Promise<number> {
    app.signal(signal);
    if (!escalate) return app.exited;
    const timer = setTimeout(() => app.signal("SIGKILL"), KILL_GRACE_MS);
    try {
      return await app.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function presetTcpUrl(env: NodeJS.ProcessEnv): string | null {
  const url = env.TCP_URL;
  return url === undefined || url === "" ? null : url;
}
