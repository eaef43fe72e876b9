import { ConfigError, resolveConfig } from "../../config";
import { certificateCovers, NetworkSchema } from "../../config/schema";

/** One app with a command (no Procfile); each test adds the networking keys it checks. */
function config(app: Record<string, unknown> = {}, root: Record<string, unknown> = {}) {
  return {
    project: "acme",
    region: "eu-west-1",
    ...root,
    apps: { mqtt: { image: "mqtt:1", command: "node server.js", ...app } },
  };
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

const CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";

describe("networking keys", () => {
  it("leaves an existing config as it was: no PROXY, no TLS, no domain, no static IPs, the plan's connection limit", () => {
    const resolved = resolveConfig(config(), __dirname);
    expect(resolved.staticIps).toBe(false);
    expect(resolved.apps[0].networking).toEqual({ clientIp: "off", maxConnections: 10_000 });
  });

  it("resolves every key when all are on", () => {
    const resolved = resolveConfig(
      config(
        {
          clientIp: "proxy-v2-to-app",
          tls: { domain: "mqtt.example.com", hostedZoneId: "Z0123456789ABC", alpn: "None" },
          domain: { name: "mqtt.example.com", hostedZoneId: "Z0123456789ABC" },
          maxConnections: 500,
          maxConnectionsPerIp: 20,
        },
        { staticIps: true },
      ),
      __dirname,
    );
    expect(resolved.staticIps).toBe(true);
    expect(resolved.apps[0].networking).toEqual({
      clientIp: "proxy-v2-to-app",
      tls: { domain: "mqtt.example.com", hostedZoneId: "Z0123456789ABC", alpn: "None" },
      domain: { name: "mqtt.example.com", hostedZoneId: "Z0123456789ABC" },
      maxConnections: 500,
      maxConnectionsPerIp: 20,
    });
  });

  it("takes the connection limit from a user plan, and 0 means no limit", () => {
    const resolved = resolveConfig(config({ plan: "big" }, { plans: { big: { packetsPerSecond: 50_000, maxConnections: 0 } } }), __dirname);
    expect(resolved.apps[0].networking?.maxConnections).toBe(0);
  });

  it.each([
    [{ clientIp: "proxy-v1" }, "apps.mqtt.clientIp"],
    [{ tls: {} }, "apps.mqtt.tls.domain: TLS needs a certificate"],
    [{ tls: { certificateArn: CERT, domain: "a.example.com", hostedZoneId: "Z1" } }, "apps.mqtt.tls.certificateArn: set either"],
    [{ tls: { certificateArn: "arn:aws:iam::1:role/x" } }, "apps.mqtt.tls.certificateArn: expected an ACM certificate ARN"],
    [{ tls: { certificateArn: CERT, alpn: "mqtt" } }, "apps.mqtt.tls.alpn"],
    [{ tls: { certificateArn: CERT, sni: true } }, "apps.mqtt.tls"],
    [{ domain: { name: "Not A Name", hostedZoneId: "Z1" } }, "apps.mqtt.domain.name: expected a lowercase DNS name"],
    [{ domain: { name: "*.example.com", hostedZoneId: "Z1" } }, "apps.mqtt.domain.name: an alias record needs a plain name"],
    [{ domain: { name: "a.example.com", hostedZoneId: "zone" } }, "apps.mqtt.domain.hostedZoneId"],
    [{ maxConnectionsPerIp: 10 }, "apps.mqtt.maxConnectionsPerIp: needs the client's address"],
    [{ clientIp: "proxy-v2", maxConnections: 5, maxConnectionsPerIp: 10 }, "apps.mqtt.maxConnectionsPerIp: 10 is above maxConnections"],
    [{ maxConnections: -1 }, "apps.mqtt.maxConnections"],
    [
      { tls: { domain: "other.example.com", hostedZoneId: "Z1" }, domain: { name: "mqtt.example.com", hostedZoneId: "Z1" } },
      "apps.mqtt.tls.domain: the certificate for other.example.com does not cover mqtt.example.com",
    ],
  ])("refuses %j with one line at its path", (app, expected) => {
    const lines = issues(config(app));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(expected);
  });

  it("refuses a staticIps that is not a boolean", () => {
    expect(issues(config({}, { staticIps: "yes" }))[0]).toContain("staticIps");
  });

  it("a wildcard certificate covers one level of names", () => {
    expect(certificateCovers("*.example.com", "mqtt.example.com")).toBe(true);
    expect(certificateCovers("*.example.com", "a.mqtt.example.com")).toBe(false);
    expect(certificateCovers("example.com", "mqtt.example.com")).toBe(false);
  });
});

/** `network:` without `vpcId` configures the VPC the stack creates; with it, adopts an existing one. */
const withNetwork = (network: unknown) => config({}, { network });
const EXISTING = { vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a", "subnet-0b"], privateSubnetIds: ["subnet-0c", "subnet-0d"] };

describe("network: for the created VPC", () => {
  it("resolves natGateways and vpcEndpoints into createdNetwork, with no existing network", () => {
    const resolved = resolveConfig(withNetwork({ natGateways: "perAz", vpcEndpoints: true }), __dirname);
    expect(resolved.createdNetwork).toEqual({ natGateways: "perAz", vpcEndpoints: true });
    expect(resolved.network).toBeUndefined();
  });

  it("resolves an existing VPC as before, with no createdNetwork", () => {
    const resolved = resolveConfig(withNetwork(EXISTING), __dirname);
    expect(resolved.network).toEqual(EXISTING);
    expect(resolved.createdNetwork).toBeUndefined();
  });

  it("refuses natGateways beside vpcId in one line with the path and the fix", () => {
    expect(issues(withNetwork({ ...EXISTING, natGateways: "perAz" }))).toEqual([
      "network.natGateways: configures the VPC the stack creates, not an existing one; remove it, or remove vpcId to create the VPC",
    ]);
  });

  it("refuses subnets without vpcId, and vpcId without its subnets, each on its own line", () => {
    expect(issues(withNetwork({ publicSubnetIds: ["subnet-0a"] }))).toEqual([
      "network.publicSubnetIds: needs vpcId, the VPC these subnets are in; add vpcId, or remove the subnets to let the stack create the VPC",
    ]);
    expect(issues(withNetwork({ vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a"] }))).toEqual([
      "network.privateSubnetIds: required with vpcId; list the private (task) subnets of vpc-0abc",
    ]);
  });

  it("refuses an unknown natGateways mode, naming the path", () => {
    const lines = issues(withNetwork({ natGateways: "two" }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^network\.natGateways: .*"one".*"perAz"/);
  });

  it("describes both keys for the generated configuration reference", () => {
    const shape = NetworkSchema.shape;
    expect(shape.natGateways.description).toMatch(/^NAT gateways of the created VPC: one \(default/);
    expect(shape.vpcEndpoints.description).toMatch(/ECR \(api, dkr\), CloudWatch Logs, Secrets Manager, SSM \(interface\) and S3 \(gateway\)/);
  });
});
