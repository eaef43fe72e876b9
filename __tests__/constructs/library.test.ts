import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TcpApp, TcpAppProps, TcpPlatform, ConstructError } from "../../constructs";
import { AGENT_IMAGE, containersOf, envOf, resourceIn, type TfJson } from "./fixtures";

Testing.setupJest();

/** A user's own stack: their provider, the platform, and whatever apps `build` adds. */
function userStack(build: (platform: TcpPlatform, stack: TerraformStack) => void): TfJson {
  const json = Testing.synthScope((scope) => {
    new AwsProvider(scope, "aws", { region: "us-east-1" });
    const platform = new TcpPlatform(scope, "Tcp", { project: "shop", agentImage: AGENT_IMAGE });
    build(platform, scope as TerraformStack);
  });
  return JSON.parse(json) as TfJson;
}

const minimal = (platform: TcpPlatform): TcpAppProps => ({
  platform,
  image: "example/broker:2",
  command: "node broker.js",
  port: 1883,
});

/** Expects `fn` to throw a ConstructError with `code`; returns its message. */
function constructError(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConstructError);
    expect((err as ConstructError).code).toBe(code);
    return (err as Error).message;
  }
  throw new Error("expected a ConstructError");
}

describe("constructs used without a config file", () => {
  it("declare an app in a stack that brings its own provider", () => {
    const tf = userStack((platform, stack) => new TcpApp(stack, "broker", minimal(platform)));
    expect(resourceIn(tf, "aws_lb_listener", "broker_")).toMatchObject({ port: 1883, protocol: "TCP" });
  });

  it("name the app after its construct id when no name is given", () => {
    const tf = userStack((platform, stack) => new TcpApp(stack, "broker", minimal(platform)));
    expect(resourceIn(tf, "aws_ecs_service", "broker_").name).toBe("broker");
  });

  it("default to the tcp-1k plan, one task of 256 CPU / 512 MiB, open to the IPv4 internet", () => {
    const tf = userStack((platform, stack) => new TcpApp(stack, "broker", minimal(platform)));
    const agent = containersOf(tf, "broker").find((c) => c.name === "tcp-agent")!;
    expect(envOf(agent).TCP_ADDON_PPS).toBe("1000");
    expect(resourceIn(tf, "aws_ecs_service", "broker_").desired_count).toBe(1);
    expect(resourceIn(tf, "aws_ecs_task_definition", "broker_")).toMatchObject({ cpu: "256", memory: "512" });
    expect(resourceIn(tf, "aws_vpc_security_group_ingress_rule", "broker_PublicIngress1").cidr_ipv4).toBe("0.0.0.0/0");
  });

  it("expose what they create, so a user can tune a resource without forking", () => {
    const tf = userStack((platform, stack) => {
      const app = new TcpApp(stack, "broker", minimal(platform));
      app.targetGroup.deregistrationDelay = "120";
      app.listener.tcpIdleTimeoutSeconds = 1200;
    });
    expect(resourceIn(tf, "aws_lb_target_group", "broker_").deregistration_delay).toBe("120");
    expect(resourceIn(tf, "aws_lb_listener", "broker_").tcp_idle_timeout_seconds).toBe(1200);
  });

  it("use the drain time given for the agent and the containers' stop timeout", () => {
    const tf = userStack((platform, stack) => new TcpApp(stack, "broker", { ...minimal(platform), deploy: { agentDrainSeconds: 100, deregistrationDelaySeconds: 180 } }));
    const [app, agent] = containersOf(tf, "broker");
    expect(envOf(agent).TCP_ADDON_DRAIN_SECONDS).toBe("100");
    expect([app.stopTimeout, agent.stopTimeout]).toEqual([110, 110]);
  });

  it("create a load balancer only when an app is placed on it", () => {
    const tf = userStack((platform, stack) => new TcpApp(stack, "broker", { ...minimal(platform), loadBalancer: 2 }));
    expect(Object.values(tf.resource?.aws_lb ?? {}).map((lb) => lb.name)).toEqual(["shop-nlb-3"]);
  });
});

describe("construct validation", () => {
  it("refuses a 51st listener on one load balancer with LISTENER_LIMIT", () => {
    const message = constructError(
      () =>
        userStack((platform, stack) => {
          for (let i = 0; i <= 50; i++) new TcpApp(stack, `app-${i}`, { ...minimal(platform), port: 20000 + i });
        }),
      "TCP_ADDON_LISTENER_LIMIT",
    );
    expect(message).toContain("app-50");
  });

  it("refuses two apps on one port of one load balancer with PORT_TAKEN", () => {
    constructError(
      () =>
        userStack((platform, stack) => {
          new TcpApp(stack, "one", minimal(platform));
          new TcpApp(stack, "two", minimal(platform));
        }),
      "TCP_ADDON_PORT_TAKEN",
    );
  });

  it("allows the same port on two different load balancers", () => {
    const tf = userStack((platform, stack) => {
      new TcpApp(stack, "one", minimal(platform));
      new TcpApp(stack, "two", { ...minimal(platform), loadBalancer: 1 });
    });
    expect(Object.keys(tf.resource?.aws_lb_listener ?? {})).toHaveLength(2);
  });

  it.each([
    ["an app name with capitals", { name: "Broker" }, "Broker"],
    ["a port out of range", { port: 70000 }, "port"],
    ["zero containers", { containers: 0 }, "containers"],
    ["a cpu/memory pair Fargate refuses", { cpu: 256, memory: 4096 }, "memory"],
    ["PORT set in env", { env: { PORT: "80" } }, "PORT"],
    ["TCP_URL set as a secret", { secrets: { TCP_URL: "arn:aws:ssm:us-east-1:123456789012:parameter/x" } }, "TCP_URL"],
    ["no allowed CIDR", { allowedCidrs: [] }, "allowedCidrs"],
    ["a drain longer than Fargate's stop timeout allows", { deploy: { agentDrainSeconds: 111 } }, "agentDrainSeconds"],
    ["a deregistration delay past the NLB's 3600 s", { deploy: { deregistrationDelaySeconds: 3601 } }, "deregistrationDelaySeconds"],
    ["a deregistration delay shorter than the NLB's propagation", { deploy: { deregistrationDelaySeconds: 10 } }, "deregistrationDelaySeconds"],
  ] as [string, Partial<TcpAppProps>, string][])(
    "refuses %s with INVALID_PROPS naming the field",
    (_what, props, field) => {
      const message = constructError(
        () => userStack((platform, stack) => new TcpApp(stack, "broker", { ...minimal(platform), ...props })),
        "TCP_ADDON_INVALID_PROPS",
      );
      expect(message).toContain(field);
      expect(message).not.toContain("\n");
    },
  );

  it("refuses a load balancer index past the regional quota with INVALID_PROPS", () => {
    constructError(() => userStack((platform) => platform.loadBalancer(50)), "TCP_ADDON_INVALID_PROPS");
  });

  it("refuses three NAT gateways with INVALID_PROPS", () => {
    constructError(
      () =>
        Testing.synthScope(
          (scope) => new TcpPlatform(scope, "Tcp", { project: "shop", agentImage: AGENT_IMAGE, natGateways: 3 }),
        ),
      "TCP_ADDON_INVALID_PROPS",
    );
  });
});
