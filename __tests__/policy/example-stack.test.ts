import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Testing, TerraformStack } from "cdktf";
import { loadConfig, resolveConfig } from "../../config/load";
import type { ResolvedConfig } from "../../config/schema";
import { synthToDir } from "../../constructs/synth";
import { TcpAddonStack } from "../../constructs/tcp-addon-stack";
import { applyPolicy, PolicyViolationError, RULES, StackFacts, type PolicyReport } from "../../constructs/policy";
import { AGENT_IMAGE } from "../helpers/images";

const REPO = path.resolve(__dirname, "..", "..");
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-policy-"));
  scratch.push(dir);
  return dir;
}

/** A build context with a Dockerfile, so the default agent build (ECR repo + build step) is declared. */
function agentContext(): string {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, "runtime", "agent"), { recursive: true });
  fs.writeFileSync(path.join(dir, "runtime", "Dockerfile"), "FROM node:20-alpine\n");
  fs.writeFileSync(path.join(dir, "runtime", "agent", "main.ts"), "export {};\n");
  return dir;
}

function stackFor(config: ResolvedConfig): TcpAddonStack {
  return new TcpAddonStack(Testing.app(), config.project, {
    config,
    platform: { agentBuild: { contextDir: agentContext() } },
  });
}

function synthWithPolicy(stack: TerraformStack): PolicyReport {
  const policy = applyPolicy(stack, { onWarning: () => undefined });
  Testing.synth(stack);
  return policy.lastReport!;
}

function apps(count: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) out[`app-${i}`] = { image: "public.ecr.aws/acme/app:1", command: "node server.js", ...extra };
  return out;
}

describe("the example stack (tcp-addon.yaml)", () => {
  it("passes every rule with no warning and no suppression", () => {
    const report = synthWithPolicy(stackFor(loadConfig(path.join(REPO, "tcp-addon.yaml"))));
    expect(report.findings).toEqual([]);
    expect(report.suppressed).toEqual([]);
  });

  it("holds at least one resource that each rule inspects", () => {
    const stack = stackFor(loadConfig(path.join(REPO, "tcp-addon.yaml")));
    const types = new Set(StackFacts.collect(stack).resources.filter((r) => !r.isDataSource).map((r) => r.type));
    const idle = RULES.filter((rule) => !rule.resourceTypes.some((t) => types.has(t))).map((r) => r.id);
    expect(idle).toEqual([]);
  });
});

describe("other stacks the config can describe", () => {
  it("three apps with secrets, a given network and a prebuilt agent pass every rule", () => {
    const config = resolveConfig(
      {
        project: "shop",
        region: "eu-west-1",
        network: { vpcId: "vpc-0abc", publicSubnetIds: ["subnet-0a", "subnet-0b"], privateSubnetIds: ["subnet-0c", "subnet-0d"] },
        agent: { image: AGENT_IMAGE },
        apps: {
          mqtt: {
            image: "public.ecr.aws/acme/mqtt:1",
            command: "node server.js",
            plan: "tcp-5k",
            port: 1883,
            secrets: { DATABASE_PASSWORD: "arn:aws:ssm:eu-west-1:123456789012:parameter/mqtt/db" },
          },
          game: {
            image: "public.ecr.aws/acme/game:2",
            command: "./server",
            containers: 4,
            cpu: 1024,
            memory: 2048,
            secrets: { TOKEN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:game-token-AbCdEf" },
          },
          chat: { image: "public.ecr.aws/acme/chat:3", command: "node chat.js", allowedCidrs: ["203.0.113.0/24"] },
        },
      },
      REPO,
    );
    expect(synthWithPolicy(stackFor(config)).findings).toEqual([]);
  });

  it("fifty-one apps over two load balancers pass every rule", () => {
    const config = resolveConfig({ project: "big", region: "eu-west-1", agent: { image: "x/agent:1" }, apps: apps(51) }, REPO);
    expect(synthWithPolicy(stackFor(config)).findings).toEqual([]);
  });
});

describe("a policy violation during synth to cdktf.out", () => {
  it("leaves the previous cdktf.out exactly as it was", () => {
    const dir = tempDir();
    const out = path.join(dir, "cdktf.out");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "marker"), "previous synth\n");
    // The loader refuses such env itself; the policy guards stacks built without it.
    const clean = resolveConfig({ project: "acme", region: "eu-west-1", agent: { image: "x/agent:1" }, apps: apps(1) }, REPO);
    const config = { ...clean, apps: clean.apps.map((app) => ({ ...app, env: { DATABASE_PASSWORD: "hunter2" } })) };
    let thrown: unknown;
    try {
      synthToDir(out, (app) => applyPolicy(new TcpAddonStack(app, config.project, { config }), { onWarning: () => undefined }));
    } catch (err) {
      thrown = err;
    }
    expect((thrown as PolicyViolationError).issues).toEqual([
      expect.stringMatching(/^\[TCP-ECS5\] acme\/app-0\/TaskDefinition: container "app" has environment variable DATABASE_PASSWORD/),
    ]);
    expect(fs.readdirSync(dir)).toEqual(["cdktf.out"]);
    expect(fs.readdirSync(out)).toEqual(["marker"]);
    expect(fs.readFileSync(path.join(out, "marker"), "utf8")).toBe("previous synth\n");
  });
});
