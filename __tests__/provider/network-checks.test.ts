import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isRecord } from "../../runtime/agent/errors";
import { metadataPath, type TfJson } from "../../cli/verify/offline";
import { StackWorkspace } from "../../cli/verify/stack";
import { terraform, terraformSetup } from "../../cli/verify/terraform";
import { synthConfig, terraformAvailability } from "./second-apply";

/**
 * The plan-time checks of an existing `network:`, evaluated by Terraform itself: `terraform test`
 * with a mock AWS provider (Terraform 1.7+) feeds the data sources the values a real account
 * would return, and each broken network must fail exactly the condition that names its fix.
 */

const NETWORK = {
  project: "beta",
  region: "us-east-1",
  network: { vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a", "subnet-0b"], privateSubnetIds: ["subnet-0c", "subnet-0d"] },
  agent: { image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/tcp-agent:1.0" },
  apps: {
    web: { image: "web:1", command: "node s.js", allowedCidrs: ["0.0.0.0/0", "::/0"] },
  },
};

/** `data.<type>.<name>` of the data source whose construct path ends with `suffix`. */
function dataAddress(json: TfJson, type: string, suffix: string): string {
  const blocks = isRecord(json.data) && isRecord(json.data[type]) ? json.data[type] : {};
  const name = Object.keys(blocks).find((n) => metadataPath(blocks[n])?.endsWith(suffix));
  if (name === undefined) throw new Error(`no data.${type} at */${suffix}`);
  return `data.${type}.${name}`;
}

const availability = terraformAvailability();
const maybe = availability.run ? describe : describe.skip;
jest.setTimeout(5 * 60 * 1000);

maybe("an existing network, checked by terraform at plan time", () => {
  let dir: string;
  let workspace: StackWorkspace;
  let a: (type: string, suffix: string) => string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-network-checks-"));
    const { json, region } = synthConfig(NETWORK, dir);
    workspace = StackWorkspace.create(path.join(dir, "stack"), terraformSetup(dir), json, region, true);
    await workspace.init();
    a = (type, suffix) => dataAddress(json, type, suffix);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Writes the test file: mocked AWS answers for a good network, then `runs` (HCL). */
  async function terraformTest(runs: string): Promise<{ code: number; output: string }> {
    const file = `
mock_provider "aws" {
  mock_data "aws_subnet" {
    defaults = { vpc_id = "vpc-0abc", availability_zone = "us-east-1a", ipv6_cidr_block = "2001:db8::/64" }
  }
  mock_data "aws_route_table" {
    defaults = { id = "rtb-0public", routes = [{ cidr_block = "0.0.0.0/0", gateway_id = "igw-0abc" }] }
  }
  mock_data "aws_route_tables" {
    defaults = { ids = ["rtb-0public"] }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

override_data {
  target = ${a("aws_subnet", "Network/Public2")}
  values = { vpc_id = "vpc-0abc", availability_zone = "us-east-1b", ipv6_cidr_block = "2001:db8:1::/64" }
}
${runs}`;
    fs.readdirSync(workspace.dir).filter((f) => f.endsWith(".tftest.hcl")).forEach((f) => fs.rmSync(path.join(workspace.dir, f)));
    fs.writeFileSync(path.join(workspace.dir, "network.tftest.hcl"), file);
    const result = await terraform(workspace.setup, ["test", "-no-color"], workspace.dir);
    return { code: result.code, output: result.stdout + result.stderr };
  }

  const failing = (name: string, target: string, values: string, failed: string) => `
run "${name}" {
  command = plan
  override_data {
    target = ${target}
    values = ${values}
  }
  expect_failures = [${failed}]
}`;

  it("passes a network that is right, and fails each broken one on the condition that names it", async () => {
    const privateSubnet = a("aws_subnet", "Network/Private1");
    const publicSubnet = a("aws_subnet", "Network/Public1");
    const publicRoutes = a("aws_route_table", "Network/Public1RouteTable");
    const secondZone = a("aws_subnet", "Network/Public2");
    const { code, output } = await terraformTest(
      [
        `run "right" {\n  command = plan\n}`,
        failing("private_subnet_in_another_vpc", privateSubnet, '{ vpc_id = "vpc-0other" }', privateSubnet),
        failing("public_subnet_in_another_vpc", publicSubnet, '{ vpc_id = "vpc-0other", availability_zone = "us-east-1a", ipv6_cidr_block = "2001:db8::/64" }', publicSubnet),
        failing("public_subnets_in_one_zone", secondZone, '{ vpc_id = "vpc-0abc", availability_zone = "us-east-1a", ipv6_cidr_block = "2001:db8:1::/64" }', a("aws_vpc", "Network/Vpc")),
        failing("public_subnet_routed_through_nat", publicRoutes, '{ id = "rtb-0private", routes = [{ cidr_block = "0.0.0.0/0", gateway_id = "", nat_gateway_id = "nat-0abc" }] }', publicRoutes),
        failing("public_subnet_without_ipv6_for_a_dualstack_nlb", publicSubnet, '{ vpc_id = "vpc-0abc", availability_zone = "us-east-1a", ipv6_cidr_block = "" }', publicSubnet),
      ].join("\n"),
    );
    expect(output).toContain("Success! 6 passed, 0 failed.");
    expect(code).toBe(0);
  });

  // EC2 API reference, DescribeRouteTables: "If a subnet is not explicitly associated with any route
  // table, it is implicitly associated with the main route table. This command does not return the
  // subnet ID for implicit associations." The default VPC and many hand-made ones are laid out so.
  it("plans public subnets on their own route table, and on the VPC's main table alone, and checks the table each one uses", async () => {
    const explicit = [1, 2].map((n) => a("aws_route_tables", `Network/Public${n}ExplicitRouteTables`));
    const tables = [1, 2].map((n) => a("aws_route_table", `Network/Public${n}RouteTable`));
    const main = a("aws_route_table", "Network/MainRouteTable");
    const idsOf = (ids: (string | undefined)[]) =>
      explicit.map((target, i) => `  override_data {\n    target = ${target}\n    values = { ids = [${ids[i] === undefined ? "" : `"${ids[i]}"`}] }\n  }`).join("\n");
    const usesTable = (ids: string[]) =>
      tables.map((t, i) => `  assert {\n    condition     = ${t}.route_table_id == "${ids[i]}"\n    error_message = "public subnet ${i + 1} reads ${"$"}{${t}.route_table_id}, not ${ids[i]}"\n  }`).join("\n");
    const mainTable = `  override_data {\n    target = ${main}\n    values = { id = "rtb-0main", routes = [{ cidr_block = "0.0.0.0/0", gateway_id = "igw-0abc" }] }\n  }`;
    const { code, output } = await terraformTest(
      [
        `run "explicit_associations" {\n  command = plan\n${mainTable}\n${idsOf(["rtb-0a", "rtb-0b"])}\n${usesTable(["rtb-0a", "rtb-0b"])}\n}`,
        `run "main_table_only" {\n  command = plan\n${mainTable}\n${idsOf([undefined, undefined])}\n${usesTable(["rtb-0main", "rtb-0main"])}\n}`,
        `run "one_explicit_one_main" {\n  command = plan\n${mainTable}\n${idsOf(["rtb-0a", undefined])}\n${usesTable(["rtb-0a", "rtb-0main"])}\n}`,
        `run "main_table_without_internet_route" {\n  command = plan\n${idsOf([undefined, undefined])}\n  override_data {\n    target = ${tables[0]}\n    values = { id = "rtb-0main", routes = [{ cidr_block = "0.0.0.0/0", gateway_id = "", nat_gateway_id = "nat-0abc" }] }\n  }\n  expect_failures = [${tables[0]}]\n}`,
      ].join("\n"),
    );
    expect(output).toContain("Success! 4 passed, 0 failed.");
    expect(code).toBe(0);
  });

  it("says what to fix, with the values AWS returned", async () => {
    const privateSubnet = a("aws_subnet", "Network/Private1");
    const { code, output } = await terraformTest(
      `run "private_subnet_in_another_vpc" {\n  command = plan\n  override_data {\n    target = ${privateSubnet}\n    values = { vpc_id = "vpc-0other" }\n  }\n}`,
    );
    expect(code).toBe(1);
    expect(output.replace(/\s+/g, " ")).toContain(
      "network.privateSubnetIds: subnet-0c is in vpc-0other, not in network.vpcId vpc-0abc; list subnets of vpc-0abc or fix vpcId",
    );
  });
});
