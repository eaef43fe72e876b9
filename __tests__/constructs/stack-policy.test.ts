import { Testing } from "cdktf";
import { PolicyViolationError } from "../../constructs/policy";
import { TcpAddonStack } from "../../constructs/tcp-addon-stack";
import { appFixture, configFixture } from "./fixtures";

/** A config whose app carries a password in plain env: rule TCP-ECS5 refuses it. */
const leakyConfig = configFixture([appFixture("chat", { env: { DB_PASSWORD: "hunter2" } })]);

describe("TcpAddonStack and the security policy", () => {
  it("stops synth on an error-level finding by default", () => {
    const stack = new TcpAddonStack(Testing.app(), "acme", { config: leakyConfig });
    expect(() => Testing.synth(stack)).toThrow(PolicyViolationError);
  });

  it("names the rule and the resource path in the error", () => {
    const stack = new TcpAddonStack(Testing.app(), "acme", { config: leakyConfig });
    let issues: readonly string[] = [];
    try {
      Testing.synth(stack);
    } catch (err) {
      if (err instanceof PolicyViolationError) issues = err.issues;
    }
    expect(issues).toEqual([expect.stringMatching(/^\[TCP-ECS5\] acme\/chat\/TaskDefinition: .*DB_PASSWORD.*Fix: /)]);
  });

  it("synthesizes the same stack when the policy is turned off", () => {
    const stack = new TcpAddonStack(Testing.app(), "acme", { config: leakyConfig, policy: false });
    expect(JSON.parse(Testing.synth(stack))).toHaveProperty("resource.aws_ecs_task_definition");
  });
});
