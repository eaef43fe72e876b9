import fc from "fast-check";
import { placeApps, resolveConfig, RESERVED_INBOUND_RULES, type PlacementInput } from "../../config";
import { ConfigError } from "../../config/errors";

/** Security group rules counted when apps are placed on NLBs, and the config keys of issue 12. */

const TWO = ["203.0.113.0/24", "198.51.100.0/24"];
const apps = (n: number, allowedCidrs?: string[], prefix = "app"): PlacementInput[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, port: 20000 + i, allowedCidrs }));

function rulesPerNlb(input: readonly PlacementInput[]): { ipv4: number; ipv6: number }[] {
  const out: { ipv4: number; ipv6: number }[] = [];
  const lbOf = new Map(placeApps(input).placements.map((p) => [p.name, p.loadBalancer]));
  for (const app of input) {
    const lb = lbOf.get(app.name) ?? 0;
    out[lb] ??= { ipv4: RESERVED_INBOUND_RULES, ipv6: RESERVED_INBOUND_RULES };
    for (const cidr of app.allowedCidrs ?? ["0.0.0.0/0"]) out[lb][cidr.includes(":") ? "ipv6" : "ipv4"] += 1;
  }
  return out;
}

describe("placement counts security group rules", () => {
  it("moves on to the next NLB before a group passes 60 inbound rules (50 apps x 2 CIDRs)", () => {
    const placed = placeApps(apps(50, TWO));
    expect(placed.issues).toEqual([]);
    expect(rulesPerNlb(apps(50, TWO))).toEqual([{ ipv4: 59, ipv6: 1 }, { ipv4: 43, ipv6: 1 }]);
  });

  it("still puts 50 one-CIDR apps on one NLB (51 rules)", () => {
    expect(new Set(placeApps(apps(50)).placements.map((p) => p.loadBalancer))).toEqual(new Set([0]));
  });

  it("counts IPv4 and IPv6 separately", () => {
    const dual = apps(40, ["0.0.0.0/0", "::/0"]);
    expect(rulesPerNlb(dual)).toEqual([{ ipv4: 41, ipv6: 41 }]);
  });

  it("never lets a group pass the quota, and never moves an app when others are appended", () => {
    const cidrs = fc.array(fc.constantFrom("203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32", "192.0.2.0/24"), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.array(cidrs, { minLength: 1, maxLength: 120 }), fc.integer({ min: 0, max: 20 }), (lists, extra) => {
        const input = lists.map((allowedCidrs, i) => ({ name: `a-${i}`, port: 20000 + i, allowedCidrs }));
        for (const lb of rulesPerNlb(input)) {
          if (lb === undefined) continue;
          expect(lb.ipv4).toBeLessThanOrEqual(60);
          expect(lb.ipv6).toBeLessThanOrEqual(60);
        }
        const before = placeApps(input).placements;
        const more = [...input, ...apps(extra, ["0.0.0.0/0"], "z")];
        expect(placeApps(more).placements.slice(0, input.length)).toEqual(before);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses apps pinned past the quota, saying how to raise it", () => {
    const pinned = apps(30, TWO).map((a) => ({ ...a, loadBalancer: 0 }));
    const { issues } = placeApps(pinned);
    expect(issues).toEqual([
      {
        app: "app-29",
        field: "loadBalancer",
        message: expect.stringMatching(/need 61 IPv4 inbound rules .* over the quota of 60; .*L-0EA8095F.*quotas\.rulesPerSecurityGroup/),
      },
    ]);
  });

  it("accepts them once the raised quota is in the config", () => {
    const pinned = apps(30, TWO).map((a) => ({ ...a, loadBalancer: 0 }));
    expect(placeApps(pinned, { rulesPerSecurityGroup: 61 }).issues).toEqual([]);
  });

  it("refuses an app with more CIDRs than one group holds", () => {
    const cidrs = Array.from({ length: 60 }, (_, i) => `10.${i}.0.0/16`);
    expect(placeApps([{ name: "wide", allowedCidrs: cidrs }]).issues).toEqual([
      { app: "wide", field: "allowedCidrs", message: expect.stringContaining("merge them into fewer, wider blocks") },
    ]);
  });
});

describe("config keys", () => {
  const base = (extra: Record<string, unknown> = {}, app: Record<string, unknown> = {}) => ({
    project: "acme",
    region: "eu-west-1",
    ...extra,
    apps: { mqtt: { image: "x:1", command: "node s.js", ...app } },
  });
  const issues = (raw: unknown): readonly string[] => {
    try {
      resolveConfig(raw, "/tmp");
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.issues;
      throw err;
    }
  };
  const KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  const SECRET = { DB: "arn:aws:ssm:eu-west-1:123456789012:parameter/db" };

  it("leave an existing config resolved as before (no new keys in the result)", () => {
    const config = resolveConfig(base(), "/tmp");
    expect(config).not.toHaveProperty("secretsKmsKeyArns");
    expect(config).not.toHaveProperty("rulesPerSecurityGroup");
    expect(config.apps[0].waitForSteadyState).toBe(true);
  });

  it("take KMS key ARNs for the secrets", () => {
    expect(resolveConfig(base({ secretsKmsKeyArns: [KEY] }, { secrets: SECRET }), "/tmp").secretsKmsKeyArns).toEqual([KEY]);
  });

  it("refuse a KMS key ARN that is not one, in one line", () => {
    expect(issues(base({ secretsKmsKeyArns: ["alias/mine"] }, { secrets: SECRET }))).toEqual([
      expect.stringMatching(/^secretsKmsKeyArns\.0: expected a KMS key ARN like/),
    ]);
  });

  it("refuse KMS keys when no app has secrets to decrypt", () => {
    expect(issues(base({ secretsKmsKeyArns: [KEY] }))).toEqual([
      expect.stringMatching(/^secretsKmsKeyArns: no app has `secrets:`/),
    ]);
  });

  it("take a raised rules quota, and refuse a quota out of range", () => {
    expect(resolveConfig(base({ quotas: { rulesPerSecurityGroup: 200 } }), "/tmp").rulesPerSecurityGroup).toBe(200);
    expect(issues(base({ quotas: { rulesPerSecurityGroup: 5000 } }))).toEqual([expect.stringMatching(/^quotas\.rulesPerSecurityGroup: /)]);
    expect(issues(base({ quotas: { rules: 61 } }))).toEqual(["quotas.rules: unknown key \"rules\""]);
  });

  it("take waitForSteadyState: false per app", () => {
    expect(resolveConfig(base({}, { waitForSteadyState: false }), "/tmp").apps[0].waitForSteadyState).toBe(false);
    expect(issues(base({}, { waitForSteadyState: "no" }))).toEqual([expect.stringMatching(/^apps\.mqtt\.waitForSteadyState: /)]);
  });
});
