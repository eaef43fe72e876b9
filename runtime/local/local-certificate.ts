import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generate } from "selfsigned";

/**
 * The certificate local mode terminates TLS with: self-signed, for 127.0.0.1 and localhost,
 * valid 30 days. It is kept in a file and reused while it has more than a day left, so a client
 * told to trust it once (`NODE_EXTRA_CA_CERTS=<certFile>` for Node, `--cafile` for mosquitto and
 * openssl) keeps working across runs. On AWS the ACM certificate is publicly trusted instead.
 */
export interface LocalCertificate {
  readonly key: string;
  readonly cert: string;
  /** Where the certificate (PEM) is, for clients to trust. */
  readonly certFile: string;
}

const VALID_DAYS = 30;
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

/** The folder local mode keeps its certificate in, per user. */
export function defaultCertificateDir(): string {
  return path.join(os.tmpdir(), `tcp-addon-local-${os.userInfo().uid}`);
}

/** Reads the kept certificate, or makes (and keeps) a new one when it is missing or nearly expired. */
export async function localCertificate(dir: string = defaultCertificateDir(), now: Date = new Date()): Promise<LocalCertificate> {
  const certFile = path.join(dir, "127.0.0.1.crt");
  const keyFile = path.join(dir, "127.0.0.1.key");
  const kept = readKept(certFile, keyFile, now);
  if (kept !== undefined) return kept;
  const pems = await generate([{ name: "commonName", value: "127.0.0.1" }], {
    keyType: "ec",
    curve: "P-256",
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + VALID_DAYS * 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }] },
    ],
  });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, certFile };
}

function readKept(certFile: string, keyFile: string, now: Date): LocalCertificate | undefined {
  try {
    const cert = fs.readFileSync(certFile, "utf8");
    const key = fs.readFileSync(keyFile, "utf8");
    const x509 = new crypto.X509Certificate(cert);
    const left = new Date(x509.validTo).getTime() - now.getTime();
    if (left < RENEW_BEFORE_MS || !x509.checkPrivateKey(crypto.createPrivateKey(key)) || x509.checkIP("127.0.0.1") === undefined) return undefined;
    return { key, cert, certFile };
  } catch {
    return undefined;
  }
}
