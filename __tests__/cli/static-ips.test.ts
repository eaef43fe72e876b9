import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main, type CliIo } from "../../cli/main";
import { previousStaticIps } from "../../config/static-ips";
import { appFixture, configFixture, synthStack } from "../constructs/fixtures";

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-static-ips-"));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function validate(config: Record<string, unknown>, previousStack?: string) {
  fs.writeFileSync(path.join(dir, "tcp-addon.yaml"), JSON.stringify(config));
  if (previousStack !== undefined) {
    fs.mkdirSync(path.join(dir, "cdktf.out", "stacks", "acme"), { recursive: true });
    fs.writeFileSync(path.join(dir, "cdktf.out", "stacks", "acme", "cdk.tf.json"), previousStack);
  }
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, cwd: dir };
  return { code: await main(["validate"], io), out, err };
}

const config = (staticIps: boolean) => ({ project: "acme", region: "eu-west-1", staticIps, apps: { mqtt: { image: "i", command: "node s.js" } } });

describe("tcp-addon validate and staticIps", () => {
  it("warns, with the reason, when staticIps is turned on for a load balancer the last synth declared without it", async () => {
    const { json } = synthStack(configFixture([appFixture("mqtt")]));
    const result = await validate(config(true), json);
    expect(result.code).toBe(0);
    expect(result.err).toEqual([expect.stringMatching(/^warning: staticIps: true on load balancer acme-nlb, which exists without Elastic IPs: .*the plan replaces the NLB.*new DNS name/)]);
  });

  it("warns that turning it off releases the allow-listed addresses", async () => {
    const { json } = synthStack(configFixture([appFixture("mqtt")], { staticIps: true }));
    expect(previousStaticIps(JSON.parse(json))).toEqual(new Map([["acme-nlb", true]]));
    const result = await validate(config(false), json);
    expect(result.err).toEqual([expect.stringContaining("releases its Elastic IPs")]);
  });

  it("says nothing when the setting is unchanged or there is no previous synth", async () => {
    const { json } = synthStack(configFixture([appFixture("mqtt")], { staticIps: true }));
    expect((await validate(config(true), json)).err).toEqual([]);
    fs.rmSync(path.join(dir, "cdktf.out"), { recursive: true });
    expect((await validate(config(true))).err).toEqual([]);
  });
});
