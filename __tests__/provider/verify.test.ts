import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main, type CliIo } from "../../cli/main";
import { StackWorkspace, TerraformCheckError } from "../../cli/verify/stack";
import { terraformSetup } from "../../cli/verify/terraform";
import { synthConfig, terraformAvailability } from "./second-apply";

/** `tcp-addon verify` end to end: the real CLI, the real terraform and provider, offline. */

const ROOT = path.resolve(__dirname, "../..");
const FIXTURES = path.join(__dirname, "fixtures", "valid");

async function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd: ROOT };
  const code = await main(args, io);
  return { code, out, err };
}

const SUMMARY = /^(\w[\w-]*): plan (\d+) to add, 0 to change, 0 to destroy \(validate ok\) in \d+\.\d s$/;

describe("tcp-addon verify without terraform", () => {
  it("refuses an unknown flag with one line and the usage, exit 2", async () => {
    const { code, err } = await run(["verify", "--bogus"]);
    expect(code).toBe(2);
    expect(err[0]).toMatch(/^tcp-addon: Unknown option '--bogus'/);
    expect(err[1]).toContain("verify [--config FILE] [--keep]");
  });

  it("says so in one line and exits 2", async () => {
    const { code, out, err } = await run(["verify"], { ...process.env, TCP_ADDON_TERRAFORM: "/nonexistent/terraform" });
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual(["verify: skipped: terraform not found at $TCP_ADDON_TERRAFORM (/nonexistent/terraform); point it at the terraform binary"]);
  });

  it("names a TCP_ADDON_PROVIDER_MIRROR that holds no registry.terraform.io, whole, in one line, exit 1", async () => {
    // a path with a colon and a space in it: the message quotes it as it is
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-verify-mirror-"));
    const mirror = path.join(base, "plugins: old copy");
    fs.mkdirSync(path.join(mirror, "hashicorp"), { recursive: true });
    try {
      const { code, out, err } = await run(["verify"], { ...process.env, TCP_ADDON_PROVIDER_MIRROR: mirror });
      expect(out).toEqual([]);
      expect(err).toEqual([
        `tcp-addon: TCP_ADDON_PROVIDER_MIRROR ${JSON.stringify(mirror)} holds no registry.terraform.io folder; point it at the folder that holds registry.terraform.io/hashicorp/aws/<version>/, or unset it`,
      ]);
      expect(code).toBe(1);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it("stops at a bad config with its one-line error and exit 1, before any terraform", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-verify-bad-"));
    try {
      fs.writeFileSync(path.join(dir, "bad.yaml"), "project: acme\nregion: eu-west-1\nsecretsKmsKeyArns: [nope]\napps:\n  a: { image: x, command: y }\n");
      const { code, err } = await run(["verify", "--config", path.join(dir, "bad.yaml")], { ...process.env, TCP_ADDON_TERRAFORM: "/nonexistent/terraform" });
      expect(code).toBe(1);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(/bad\.yaml:3: secretsKmsKeyArns\.0: expected a KMS key ARN/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const availability = terraformAvailability();
const maybe = availability.run ? describe : describe.skip;
jest.setTimeout(5 * 60 * 1000);

maybe("tcp-addon verify with the real provider", () => {
  it("plans the example config and prints one summary line", async () => {
    const cdktfOut = path.join(ROOT, "cdktf.out");
    const before = fs.existsSync(cdktfOut) ? fs.statSync(cdktfOut).mtimeMs : undefined;
    const { code, out, err } = await run(["verify", "--config", path.join(ROOT, "tcp-addon.yaml")]);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    const [, stack, add] = SUMMARY.exec(out[0]) ?? [];
    expect(stack).toBe("acme");
    expect(Number(add)).toBeGreaterThan(30);
    // Never touches cdktf.out or a real state file.
    expect(fs.existsSync(cdktfOut) ? fs.statSync(cdktfOut).mtimeMs : undefined).toBe(before);
    expect(fs.existsSync(path.join(ROOT, "terraform.acme.tfstate"))).toBe(false);
  });

  it("plans an existing network, dualstack and KMS config, and names the checks it could not run offline", async () => {
    const { code, out, err } = await run(["verify", "--config", path.join(FIXTURES, "existing-network.yaml")]);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toMatch(SUMMARY);
    expect(out[1]).toBe(
      "beta: validated but not planned offline: 10 data source(s) under beta/Platform/Network read AWS at plan time (their conditions check an existing network)",
    );
  });

  it("reports the provider's error in one line with the construct path", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-verify-broken-"));
    try {
      const { json, region } = synthConfig({ project: "acme", region: "eu-west-1", apps: { mqtt: { image: "x:1", command: "node s.js" } } }, dir);
      const groups = (json.resource as Record<string, Record<string, Record<string, unknown>>>).aws_lb_target_group;
      for (const group of Object.values(groups)) group.protocol = "SCTP-NOT-A-PROTOCOL";
      const workspace = StackWorkspace.create(path.join(dir, "stack"), terraformSetup(dir), json, region);
      await workspace.init();
      const error: unknown = await workspace.validate().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(TerraformCheckError);
      const line = (error as TerraformCheckError).message;
      expect(line).toMatch(/^terraform validate: .*protocol.*\(at acme\/mqtt\/TargetGroup\)$/);
      expect(line).not.toContain("\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 2 in one line when the provider cannot be had", async () => {
    const mirror = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-empty-mirror-"));
    try {
      fs.mkdirSync(path.join(mirror, "registry.terraform.io"));
      const { code, err } = await run(["verify"], { ...process.env, TCP_ADDON_PROVIDER_MIRROR: mirror });
      expect(code).toBe(2);
      expect(err).toHaveLength(1);
      // the whole first paragraph of terraform's reason, past the colon that ends its first line
      expect(err[0]).toBe(
        `verify: skipped: the hashicorp/aws provider cannot be had (mirror ${mirror}): Failed to query available provider packages: ` +
          "Could not retrieve the list of available versions for provider hashicorp/aws: provider registry.terraform.io/hashicorp/aws was not found in any of the search locations",
      );
    } finally {
      fs.rmSync(mirror, { recursive: true, force: true });
    }
  });
});
