import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../config/errors";
import { displayPath } from "../../config/file";
import { loadConfig } from "../../config/load";
import { configText } from "./synth";

/** Bad `state:` values: one line each, with the file, the line, the path and the fix. */

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-state-config-"))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function issuesFor(state: string): readonly string[] {
  const file = path.join(dir, "tcp-addon.yaml");
  fs.writeFileSync(file, configText(state));
  try {
    loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error(`accepted: ${state}`);
}

const CASES: [string, string, string][] = [
  ["state: s3", 'state: expected an object, got "s3" (a string)', "a string instead of a mapping"],
  ["state: {}", "state: expected `s3: { bucket, region }` or `local: { path }`", "an empty mapping"],
  ["state: { gcs: { bucket: b } }", 'state.gcs: unknown key "gcs"; expected one of: s3, local', "an unknown backend"],
  [
    "state: { s3: { bucket: abc, region: eu-west-1 }, local: { path: x.tfstate } }",
    "state.local: set either `s3:` or `local:`, not both; remove one",
    "both backends",
  ],
  ["state: { s3: { region: eu-west-1 } }", "state.s3.bucket: required; set it to a string", "no bucket"],
  ["state: { s3: { bucket: abc } }", "state.s3.region: required; set it to a string", "no region"],
  ["state: { s3: { bucket: My_Bucket, region: eu-west-1 } }", 'state.s3.bucket: expected an S3 bucket name (3-63 lowercase letters, digits, dots or hyphens), got "My_Bucket"', "a bad bucket name"],
  ["state: { s3: { bucket: abc, region: europe } }", 'state.s3.region: expected the bucket\'s AWS region like "eu-west-1", got "europe"', "a bad region"],
  ["state: { s3: { bucket: abc, region: eu-west-1, key: /abs.tfstate } }", 'state.s3.key: expected an object key like "tcp-addon/acme/prod.tfstate" (no leading or trailing "/"), got "/abs.tfstate"', "a key with a leading slash"],
  ["state: { s3: { bucket: abc, region: eu-west-1, dynamodbTable: 'a b' } }", 'state.s3.dynamodbTable: expected a DynamoDB table name (3-255 letters, digits, _ . -), got "a b"', "a bad table name"],
  ["state: { s3: { bucket: abc, region: eu-west-1, lock: true } }", 'state.s3.lock: unknown key "lock"; expected one of: bucket, region, key, dynamodbTable', "a typo"],
  ["state: { local: { path: /var/tf/acme.tfstate } }", "state.local.path: must be relative to the config file's folder (an absolute path would tie the stack to this machine)", "an absolute local path"],
  ["state: { local: { path: state/ } }", 'state.local.path: expected a file name like "state/acme.tfstate", not a folder', "a folder"],
  ["state: { local: {} }", "state.local.path: required; set it to a string", "no path"],
];

describe.each(CASES)("%s", (state, expected, what) => {
  it(`is refused in one line (${what})`, () => {
    const issues = issuesFor(state);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toBe(`${displayPath(path.join(dir, "tcp-addon.yaml"))}:3: ${expected}`);
  });
});

describe("a valid state:", () => {
  it("resolves a local path against the config file's folder", () => {
    const file = path.join(dir, "envs", "prod.yaml");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, configText("environment: prod\nstate: { local: { path: ../state/prod.tfstate } }"));
    expect(loadConfig(file).state).toEqual({ backend: "local", path: path.join(dir, "state", "prod.tfstate") });
  });

  it("fills the S3 key from the project and environment", () => {
    const file = path.join(dir, "s3.yaml");
    fs.writeFileSync(file, configText("environment: prod\nstate: { s3: { bucket: acme-tf-state, region: eu-west-1 } }"));
    expect(loadConfig(file).state).toEqual({ backend: "s3", bucket: "acme-tf-state", region: "eu-west-1", key: "tcp-addon/acme/prod.tfstate" });
  });
});
