import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ListenError, messageOf } from "./errors";

/** What the health server asks the agent. */
export interface HealthSource {
  /** null when healthy, else the reason given with the 503. */
  unhealthyReason(): Promise<string | null>;
  /** The Prometheus text for /metrics. */
  metrics(): string;
}

/**
 * `GET /healthz`: 200 `ok`, or 503 with the reason (`draining`, `upstream down`).
 * `GET /metrics`: Prometheus text. Anything else: 404.
 */
export class HealthServer {
  private readonly server: http.Server;

  constructor(private readonly source: HealthSource, private readonly onError: (error: Error) => void) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10000;
    this.server.requestTimeout = 10000;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => reject(new ListenError("health checks", host, port, error));
      this.server.once("error", onError);
      this.server.listen({ port, host }, () => {
        this.server.off("error", onError);
        this.server.on("error", (error) => this.onError(error));
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      reply(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
    } else if (path === "/healthz") {
      this.source.unhealthyReason().then(
        (reason) => (reason === null ? reply(res, 200, "ok\n") : reply(res, 503, `${reason}\n`)),
        (error: unknown) => reply(res, 503, `${messageOf(error)}\n`),
      );
    } else if (path === "/metrics") {
      reply(res, 200, this.source.metrics(), { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    } else {
      reply(res, 404, "not found\n");
    }
  }
}

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
