import { ConfigError, resolveConfig } from "../../config";
import { NetworkSchema } from "../../config/schema";

/** `network:` without `vpcId` configures the VPC the stack creates; with it, adopts an existing one. */

function config(network: unknown) {
  return { project: "acme", region: "eu-west-1", network, apps: { mqtt: { image: "mqtt:1", command: "node server.js" } } };
}

function issues(raw: unknown): readonly string[] {
  try {
    resolveConfig(raw, __dirname);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

const EXISTING = { vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a", "subnet-0b"], privateSubnetIds: ["subnet-0c", "subnet-0d"] };

describe("network: for the created VPC", () => {
  it("resolves natGateways and vpcEndpoints into createdNetwork, with no existing network", () => {
    const resolved = resolveConfig(config({ natGateways: "perAz", vpcEndpoints: true }), __dirname);
    expect(resolved.createdNetwork).toEqual({ natGateways: "perAz", vpcEndpoints: true });
    expect(resolved.network).toBeUndefined();
  });

  it("resolves an existing VPC as before, with no createdNetwork", () => {
    const resolved = resolveConfig(config(EXISTING), __dirname);
    expect(resolved.network).toEqual(EXISTING);
    expect(resolved.createdNetwork).toBeUndefined();
  });

  it("refuses natGateways beside vpcId in one line with the path and the fix", () => {
    expect(issues(config({ ...EXISTING, natGateways: "perAz" }))).toEqual([
      "network.natGateways: configures the VPC the stack creates, not an existing one; remove it, or remove vpcId to create the VPC",
    ]);
  });

  it("refuses subnets without vpcId, and vpcId without its subnets, each on its own line", () => {
    expect(issues(config({ publicSubnetIds: ["subnet-0a"] }))).toEqual([
      "network.publicSubnetIds: needs vpcId, the VPC these subnets are in; add vpcId, or remove the subnets to let the stack create the VPC",
    ]);
    expect(issues(config({ vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a"] }))).toEqual([
      "network.privateSubnetIds: required with vpcId; list the private (task) subnets of vpc-0abc",
    ]);
  });

  it("refuses an unknown natGateways mode, naming the path", () => {
    const lines = issues(config({ natGateways: "two" }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^network\.natGateways: .*"one".*"perAz"/);
  });

  it("describes both keys for the generated configuration reference", () => {
    const shape = NetworkSchema.shape;
    expect(shape.natGateways.description).toMatch(/^NAT gateways of the created VPC: one \(default/);
    expect(shape.vpcEndpoints.description).toMatch(/ECR \(api, dkr\), CloudWatch Logs, Secrets Manager, SSM \(interface\) and S3 \(gateway\)/);
  });
});
