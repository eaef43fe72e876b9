import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { findProviderMirror } from "../../cli/verify/terraform";

/** The real Terraform and the offline provider mirror, when this machine has both. */
export interface TerraformHere {
  readonly bin: string;
  /** A CLI config that installs providers from the filesystem mirror only. */
  readonly cliConfig: string;
}

/** Finds `terraform` on the PATH and the provider mirror (`registry.terraform.io` within 3 levels of /). */
export function findTerraform(): TerraformHere | undefined {
  const which = spawnSync("sh", ["-c", "command -v terraform"], { encoding: "utf8" });
  const bin = which.stdout.trim();
  if (which.status !== 0 || bin === "") return undefined;
  // The mirror verify itself would use: one home for how a mirror is found.
  const mirror = findProviderMirror();
  if (mirror === undefined) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-tfrc-"));
  const cliConfig = path.join(dir, "terraform.rc");
  fs.writeFileSync(cliConfig, `provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(mirror)}\n  }\n}\n`);
  return { bin, cliConfig };
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs terraform in `cwd` with the mirror-only CLI config, fake credentials and no checkpoint calls. */
export function terraform(tf: TerraformHere, cwd: string, args: readonly string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(tf.bin, [...args], {
      cwd,
      env: {
        PATH: process.env.PATH,
        HOME: cwd,
        TF_CLI_CONFIG_FILE: tf.cliConfig,
        TF_IN_AUTOMATION: "1",
        CHECKPOINT_DISABLE: "1",
        AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY: "fake-secret-for-loopback-tests",
        AWS_EC2_METADATA_DISABLED: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One request as the fake S3 saw it. */
export interface S3Request {
  readonly method: string;
  /** `/<bucket>/<key>` (path-style), decoded, without the query. */
  readonly path: string;
  readonly encryption?: string;
  readonly ifNoneMatch?: string;
}

/**
 * Just enough of S3 on 127.0.0.1 for Terraform's S3 backend: list, head, get, put (honouring
 * `If-None-Match: *`, which S3 lock files rely on) and delete, on one in-memory bucket.
 */
export class FakeS3 {
  readonly requests: S3Request[] = [];
  readonly objects = new Map<string, Buffer>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://s3");
      const key = decodeURIComponent(url.pathname);
      const method = req.method ?? "GET";
      this.requests.push({
        method,
        path: key,
        ...(req.headers["x-amz-server-side-encryption"] === undefined ? {} : { encryption: String(req.headers["x-amz-server-side-encryption"]) }),
        ...(req.headers["if-none-match"] === undefined ? {} : { ifNoneMatch: String(req.headers["if-none-match"]) }),
      });
      if (method === "GET" && url.searchParams.get("list-type") === "2") {
        res.writeHead(200, { "content-type": "application/xml" });
        res.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>');
      } else if (method === "PUT") {
        if (req.headers["if-none-match"] === "*" && this.objects.has(key)) {
          res.writeHead(412, { "content-type": "application/xml" });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>exists</Message></Error>');
          return;
        }
        this.objects.set(key, Buffer.concat(chunks));
        res.writeHead(200, { etag: '"0"' });
        res.end();
      } else if (method === "DELETE") {
        this.objects.delete(key);
        res.writeHead(204);
        res.end();
      } else if ((method === "GET" || method === "HEAD") && this.objects.has(key)) {
        const body = this.objects.get(key) ?? Buffer.alloc(0);
        res.writeHead(200, { "content-length": body.length, etag: '"0"', "content-type": "application/octet-stream" });
        res.end(method === "GET" ? body : undefined);
      } else {
        res.writeHead(404, { "content-type": "application/xml" });
        res.end(method === "HEAD" ? undefined : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>');
      }
    });
  }
}

/** `-backend-config` file that points the S3 backend at the fake S3 with fake credentials, skipping AWS account checks. */
export function fakeS3BackendConfig(dir: string, endpoint: string): string {
  const file = path.join(dir, "fake-s3.tfbackend");
  fs.writeFileSync(
    file,
    [
      `endpoints = { s3 = ${JSON.stringify(endpoint)} }`,
      "use_path_style = true",
      "skip_credentials_validation = true",
      "skip_requesting_account_id = true",
      "skip_metadata_api_check = true",
      "skip_region_validation = true",
      "",
    ].join("\n"),
  );
  return file;
}
