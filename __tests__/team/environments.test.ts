import fc from "fast-check";
import * as fs from "node:fs";
import { ConfigError } from "../../config/errors";
import { resolveConfig } from "../../config/load";
import { stackName } from "../../config/state";
import { appResourceName, fitName, loadBalancerName, platformName } from "../../constructs/names";
import { findTcpUrls } from "../../cli/outputs";
import { configText, synthConfig, type Synthesized } from "./synth";

const made: string[] = [];
const synth = (text: string): Synthesized => {
  const result = synthConfig(text);
  made.push(result.dir);
  return result;
};
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/**
 * Every `name`, `name_prefix` and `family` in the stack (what AWS keeps unique), SSM paths and log
 * groups included. ECS service names are unique per cluster only (`mqtt` in each environment's
 * cluster): they are left out, and the clusters are among the names compared.
 */
function namesOf(tf: Synthesized["tf"]): string[] {
  const names: string[] = [];
  for (const [type, resources] of Object.entries(tf.resource as Record<string, Record<string, Record<string, unknown>>>)) {
    if (type === "aws_ecs_service") continue;
    for (const resource of Object.values(resources)) {
      for (const attr of ["name", "name_prefix", "family"]) {
        const value = resource[attr];
        if (typeof value === "string") names.push(value);
      }
    }
  }
  return names;
}

describe("two environments of one project", () => {
  const staging = () => synth(configText("environment: staging\nstate: { s3: { bucket: acme-tf-state, region: eu-west-1 } }", { apps: ["mqtt", "game"] }));
  const prod = () => synth(configText("environment: prod\nstate: { s3: { bucket: acme-tf-state, region: eu-west-1 } }", { apps: ["mqtt", "game"] }));

  it("are two stacks, acme-staging and acme-prod", () => {
    expect([staging().stack, prod().stack]).toEqual(["acme-staging", "acme-prod"]);
  });

  it("never share a state key", () => {
    expect(staging().tf.terraform.backend.s3.key).toBe("tcp-addon/acme/staging.tfstate");
    expect(prod().tf.terraform.backend.s3.key).toBe("tcp-addon/acme/prod.tfstate");
  });

  it("never share a resource name", () => {
    const a = namesOf(staging().tf);
    const b = namesOf(prod().tf);
    expect(a.length).toBeGreaterThan(10);
    expect(a.filter((name) => b.includes(name))).toEqual([]);
  });

  it("publish TCP_URL under /<project>/<environment>/<app>/TCP_URL", () => {
    const params = Object.values(prod().tf.resource.aws_ssm_parameter as Record<string, { name: string }>).map((p) => p.name);
    expect(params.sort()).toEqual(["/acme/prod/game/TCP_URL", "/acme/prod/mqtt/TCP_URL"]);
  });

  it("tag every resource with the environment", () => {
    expect(prod().tf.provider.aws[0].default_tags[0].tags).toEqual({ "tcp-addon:project": "acme", "tcp-addon:environment": "prod" });
  });
});

describe("a project without an environment", () => {
  it("keeps the names it always had (the target group's ends in a hash of its VPC, so a replacement never shares its name)", () => {
    const { tf, stack } = synth(configText(""));
    expect(stack).toBe("acme");
    expect(namesOf(tf).sort()).toEqual(
      ["/acme/mqtt/TCP_URL", "/tcp-addon/acme", "acme-mqtt", "acme-mqtt-2d66", "acme-mqtt-tasks", "acme-nlb", "acme-nlb", "acme-tcp-addon", "acme-tcp-exec-"].sort(),
    );
  });
});

describe("environment:", () => {
  it("follows the project name's rules, one line with the fix", () => {
    const raw = { project: "acme", region: "eu-west-1", environment: "Prod_1", apps: { mqtt: { image: "x", command: "y" } } };
    expect(() => resolveConfig(raw, "/")).toThrow(ConfigError);
    try {
      resolveConfig(raw, "/");
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        'environment: expected 1-12 lowercase letters, digits or hyphens, starting with a letter, got "Prod_1"',
      ]);
    }
  });
});

describe("names across projects and environments (issue 12)", () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
  const appName = fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/);
  const deployment = fc.record({ project: name, environment: fc.option(name, { nil: undefined }) });

  it('keeps project "acme" + app "mqtt-x" apart from project "acme-mqtt" + app "x"', () => {
    expect(appResourceName({ project: "acme" }, "mqtt-x")).toBe("acme-mqtt-x");
    expect(appResourceName({ project: "acme-mqtt" }, "x")).toMatch(/^acme-mqtt-x-[0-9a-f]{6}$/);
  });

  it('keeps project "acme" in environment "prod" apart from project "acme-prod"', () => {
    expect(loadBalancerName({ project: "acme", environment: "prod" }, 0)).not.toBe(loadBalancerName({ project: "acme-prod" }, 0));
    expect(platformName({ project: "acme", environment: "prod" }, "tcp-addon")).not.toBe(platformName({ project: "acme-prod" }, "tcp-addon"));
    expect(appResourceName({ project: "acme", environment: "prod" }, "x")).not.toBe(appResourceName({ project: "acme-prod" }, "x"));
  });

  it("gives two different (project, environment, app) tuples two different names, within 32 characters", () => {
    fc.assert(
      fc.property(deployment, appName, deployment, appName, (d1, a1, d2, a2) => {
        fc.pre(d1.project !== d2.project || d1.environment !== d2.environment || a1 !== a2);
        const n1 = appResourceName(d1, a1);
        expect(n1.length).toBeLessThanOrEqual(32);
        expect(n1).not.toBe(appResourceName(d2, a2));
      }),
      { numRuns: 5000 },
    );
  });

  it("gives two different deployments different load balancer names", () => {
    fc.assert(
      fc.property(deployment, deployment, fc.nat(49), (d1, d2, i) => {
        fc.pre(d1.project !== d2.project || d1.environment !== d2.environment);
        expect(loadBalancerName(d1, i)).not.toBe(loadBalancerName(d2, i));
        expect(loadBalancerName(d1, i).length).toBeLessThanOrEqual(32);
      }),
      { numRuns: 5000 },
    );
  });

  it("hashed names of one prefix still differ (the hash covers the whole tuple)", () => {
    const long = { project: "aaaaaaaaaaaa", environment: "bbbbbbbbbbbb" };
    expect(appResourceName(long, "c".repeat(31))).not.toBe(appResourceName(long, `${"c".repeat(30)}d`));
    expect(fitName(["acme", "mqtt"])).toBe("acme-mqtt");
  });
});

describe("tcp-addon urls with an environment", () => {
  it("reads the outputs of stack <project>-<environment>", () => {
    const outputs = {
      "acme-staging": { mqtt: { TcpUrl: "tcp://staging.example:20001" } },
      "acme-prod": { mqtt: { TcpUrl: "tcp://prod.example:20001" } },
    };
    const stack = stackName({ project: "acme", environment: "prod" });
    expect(findTcpUrls(outputs, "cdktf-outputs.json", { stack, apps: ["mqtt"] })).toEqual({
      urls: [{ stack: "acme-prod", app: "mqtt", url: "tcp://prod.example:20001" }],
      problems: [],
    });
  });
});
