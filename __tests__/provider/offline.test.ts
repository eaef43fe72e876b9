import { addressesByLine, constructPathOf, offlineStack, PLACEHOLDER_ACCOUNT_ID } from "../../cli/verify/offline";
import { firstError } from "../../cli/verify/stack";
import { findProviderMirror, findTerraform } from "../../cli/verify/terraform";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const meta = (p: string) => ({ "//": { metadata: { path: p } } });

function stack(): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return {
    terraform: { backend: { local: { path: "/real/terraform.acme.tfstate" } }, required_providers: { aws: { source: "hashicorp/aws", version: ">= 5.100.0, < 7.0.0" } } },
    provider: { aws: [{ region: "eu-west-1" }] },
    data: {
      aws_availability_zones: { Zones: { ...meta("acme/Platform/Network/Zones"), state: "available" } },
      aws_caller_identity: { Account: meta("acme/Platform/Account") },
      aws_partition: { Partition: meta("acme/Platform/Partition") },
      aws_subnet: {
        Public1: { ...meta("acme/Platform/Network/Public1"), id: "subnet-0a", lifecycle: { postcondition: [{ condition: "${self.vpc_id == \"vpc-0\"}", error_message: "x" }] } },
      },
      aws_vpc: {
        Vpc: { ...meta("acme/Platform/Network/Vpc"), id: "vpc-0", lifecycle: { precondition: [{ condition: "${length(distinct([data.aws_subnet.Public1.availability_zone])) >= 2}", error_message: "y" }] } },
      },
    },
    resource: {
      aws_subnet: { Public: { ...meta("acme/Platform/Network/Public1"), availability_zone: "${element(data.aws_availability_zones.Zones.names, 0)}" } },
      aws_iam_role: { Exec: { ...meta("acme/Platform/ExecutionRole"), assume_role_policy: "{\"aws:SourceAccount\":\"${data.aws_caller_identity.Account.account_id}\"}" } },
    },
  };
}

describe("offlineStack", () => {
  it("drops the backend, so no real state is read or written", () => {
    const { json } = offlineStack(stack(), { region: "eu-west-1" });
    expect(json.terraform).not.toHaveProperty("backend");
  });

  it("gives the provider the flags that keep it from calling AWS", () => {
    const { json } = offlineStack(stack(), { region: "eu-west-1" });
    expect((json.provider as any).aws[0]).toMatchObject({ // eslint-disable-line @typescript-eslint/no-explicit-any
      region: "eu-west-1",
      skip_credentials_validation: true,
      skip_requesting_account_id: true,
      skip_metadata_api_check: true,
      skip_region_validation: true,
    });
  });

  it("replaces zones and the account by literals in the same expressions", () => {
    const { json } = offlineStack(stack(), { region: "us-east-2" });
    const r = json.resource as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(r.aws_subnet.Public.availability_zone).toBe('${element(tolist(["us-east-2a","us-east-2b","us-east-2c"]), 0)}');
    expect(r.aws_iam_role.Exec.assume_role_policy).toContain(`"${PLACEHOLDER_ACCOUNT_ID}"`);
    expect(JSON.stringify(json)).not.toMatch(/aws_availability_zones|aws_caller_identity/);
  });

  it("keeps the data sources that need no AWS call", () => {
    const { json } = offlineStack(stack(), { region: "eu-west-1" });
    expect(json.data).toHaveProperty("aws_partition");
  });

  it("leaves out the network checks that read AWS, with the conditions on them, and says so", () => {
    const { json, skipped } = offlineStack(stack(), { region: "eu-west-1" });
    expect(json.data).not.toHaveProperty("aws_subnet");
    expect(json.data).not.toHaveProperty("aws_vpc");
    expect(skipped).toEqual([
      "acme/Platform/Network/Public1 (aws_subnet): read from AWS at plan time, not checked offline",
      "acme/Platform/Network/Vpc (aws_vpc): read from AWS at plan time, not checked offline",
    ]);
  });

  it("does not change the stack it was given", () => {
    const given = stack();
    const before = JSON.stringify(given);
    offlineStack(given, { region: "eu-west-1" });
    expect(JSON.stringify(given)).toBe(before);
  });
});

describe("construct paths of diagnostics", () => {
  it("finds a block's construct path from its address", () => {
    expect(constructPathOf(stack(), "aws_iam_role.Exec")).toBe("acme/Platform/ExecutionRole");
    expect(constructPathOf(stack(), "data.aws_vpc.Vpc")).toBe("acme/Platform/Network/Vpc");
    expect(constructPathOf(stack(), "aws_iam_role.Missing")).toBeUndefined();
  });

  it("finds the block a line of the written file is in", () => {
    const text = JSON.stringify(stack(), null, 2);
    const lines = addressesByLine(text);
    const at = text.split("\n").findIndex((l) => l.includes("assume_role_policy"));
    expect(lines[at]).toBe("aws_iam_role.Exec");
    expect(lines[0]).toBeUndefined();
  });

  it("reads terraform's first error as one line, without the box drawing, with its whole first paragraph of detail", () => {
    // (terraform 1.11's words for a registry it cannot reach: the cause comes after the colon, on the next lines)
    const stderr =
      "\n╷\n│ Error: Failed to query available provider packages\n│ \n│ Could not retrieve the list of available versions for provider hashicorp/aws:\n" +
      "│ could not connect to registry.terraform.io: failed to request discovery\n│ document: dial tcp: lookup registry.terraform.io: no such host\n│ \n" +
      "│ To see which modules are currently depending on hashicorp/aws and what\n│ versions are specified, run the following command:\n│     terraform providers\n╵\n";
    expect(firstError(stderr)).toBe(
      "Failed to query available provider packages: Could not retrieve the list of available versions for provider hashicorp/aws: " +
        "could not connect to registry.terraform.io: failed to request discovery document: dial tcp: lookup registry.terraform.io: no such host",
    );
    expect(firstError("all good")).toBeUndefined();
  });

  it("skips the source location paragraph to the detail that follows it", () => {
    const stderr = "Error: Unsupported argument\n\n  on cdk.tf.json line 12, in resource \"aws_lb\" \"x\":\n  12: \"bogus\": 1\n\nAn argument named \"bogus\" is not expected here.\n";
    expect(firstError(stderr)).toBe('Unsupported argument: An argument named "bogus" is not expected here.');
  });
});

describe("finding terraform and the provider mirror", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-find-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("finds a mirror three levels down, as find / -maxdepth 3 would", () => {
    fs.mkdirSync(path.join(dir, "opt", "plugins", "registry.terraform.io", "hashicorp", "aws"), { recursive: true });
    expect(findProviderMirror({}, dir)).toBe(path.join(dir, "opt", "plugins"));
  });

  it("passes over a registry.terraform.io folder that holds no hashicorp/aws (a scratch mirror in /tmp)", () => {
    fs.mkdirSync(path.join(dir, "a", "registry.terraform.io"), { recursive: true });
    fs.mkdirSync(path.join(dir, "opt", "plugins", "registry.terraform.io", "hashicorp", "aws"), { recursive: true });
    expect(findProviderMirror({}, dir)).toBe(path.join(dir, "opt", "plugins"));
  });

  it("does not look deeper than three levels", () => {
    fs.mkdirSync(path.join(dir, "a", "b", "c", "registry.terraform.io", "hashicorp", "aws"), { recursive: true });
    expect(findProviderMirror({}, dir)).toBeUndefined();
  });

  it("takes the mirror from TCP_ADDON_PROVIDER_MIRROR (the folder or its registry.terraform.io)", () => {
    fs.mkdirSync(path.join(dir, "registry.terraform.io"));
    expect(findProviderMirror({ TCP_ADDON_PROVIDER_MIRROR: dir }, "/nonexistent")).toBe(dir);
    expect(findProviderMirror({ TCP_ADDON_PROVIDER_MIRROR: path.join(dir, "registry.terraform.io") }, "/nonexistent")).toBe(dir);
    expect(() => findProviderMirror({ TCP_ADDON_PROVIDER_MIRROR: path.join(dir, "none") }, "/nonexistent")).toThrow(
      `TCP_ADDON_PROVIDER_MIRROR ${JSON.stringify(path.join(dir, "none"))} is not a folder`,
    );
  });

  it("finds terraform on the PATH or at TCP_ADDON_TERRAFORM, and nothing elsewhere", () => {
    const bin = path.join(dir, "terraform");
    fs.writeFileSync(bin, "#!/bin/sh\n", { mode: 0o755 });
    expect(findTerraform({ PATH: `/nonexistent${path.delimiter}${dir}` })).toBe(bin);
    expect(findTerraform({ PATH: "/nonexistent" })).toBeUndefined();
    expect(findTerraform({ TCP_ADDON_TERRAFORM: bin, PATH: "" })).toBe(bin);
    expect(findTerraform({ TCP_ADDON_TERRAFORM: path.join(dir, "missing"), PATH: dir })).toBeUndefined();
  });
});
