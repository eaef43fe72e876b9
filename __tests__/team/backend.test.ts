import * as fs from "node:fs";
import * as path from "node:path";
import { configText, synthConfig, type Synthesized } from "./synth";

/** Where Terraform keeps state, exactly as each `state:` form writes it into the stack. */

const made: string[] = [];
const synth = (...args: Parameters<typeof synthConfig>): Synthesized => {
  const result = synthConfig(...args);
  made.push(result.dir);
  return result;
};
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

describe("state: { s3: ... }", () => {
  it("writes an encrypted, lock-file-locked S3 backend keyed tcp-addon/<project>/<environment>.tfstate", () => {
    const { tf } = synth(configText("environment: prod\nstate: { s3: { bucket: acme-tf-state, region: eu-central-1 } }"));
    expect(tf.terraform.backend).toEqual({
      s3: {
        bucket: "acme-tf-state",
        key: "tcp-addon/acme/prod.tfstate",
        region: "eu-central-1",
        encrypt: true,
        use_lockfile: true,
      },
    });
  });

  it("keys a project without an environment tcp-addon/<project>/default.tfstate", () => {
    const { tf } = synth(configText("state: { s3: { bucket: acme-tf-state, region: eu-west-1 } }"));
    expect(tf.terraform.backend.s3.key).toBe("tcp-addon/acme/default.tfstate");
  });

  it("takes an explicit key, and adds dynamodb_table only when dynamodbTable is given", () => {
    const { tf } = synth(
      configText("state: { s3: { bucket: acme-tf-state, region: eu-west-1, key: infra/tcp.tfstate, dynamodbTable: tf-locks } }"),
    );
    expect(tf.terraform.backend).toEqual({
      s3: {
        bucket: "acme-tf-state",
        key: "infra/tcp.tfstate",
        region: "eu-west-1",
        encrypt: true,
        use_lockfile: true,
        dynamodb_table: "tf-locks",
      },
    });
  });
});

describe("state: { local: { path } }", () => {
  it("writes the path relative to the stack's folder, pointing at the file relative to the config", () => {
    // given envs/staging.yaml whose state is envs/state/staging.tfstate
    const { tf, stackDir, dir } = synth(configText("environment: staging\nstate: { local: { path: state/staging.tfstate } }"), {
      configFile: "envs/staging.yaml",
    });
    // then the JSON says "../../../envs/state/staging.tfstate", which from cdktf.out/stacks/acme-staging is that file
    expect(tf.terraform.backend).toEqual({ local: { path: "../../../envs/state/staging.tfstate" } });
    expect(path.resolve(stackDir, tf.terraform.backend.local.path)).toBe(path.join(dir, "envs", "state", "staging.tfstate"));
  });
});

describe("no state:", () => {
  it("keeps terraform.<stack>.tfstate next to the config file, written relative to the stack's folder", () => {
    const { tf, stackDir, dir } = synth(configText("environment: dev"));
    expect(tf.terraform.backend).toEqual({ local: { path: "../../../terraform.acme-dev.tfstate" } });
    expect(path.resolve(stackDir, tf.terraform.backend.local.path)).toBe(path.join(dir, "terraform.acme-dev.tfstate"));
  });

  it("is overridden by TcpAddonStack's state prop", () => {
    const { tf } = synth(configText(""), {
      state: { backend: "s3", bucket: "from-props", region: "us-east-1", key: "k/acme.tfstate" },
    });
    expect(tf.terraform.backend).toEqual({
      s3: { bucket: "from-props", key: "k/acme.tfstate", region: "us-east-1", encrypt: true, use_lockfile: true },
    });
  });
});
