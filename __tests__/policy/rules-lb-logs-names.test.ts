import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { compliantStack, findingsOf } from "./helpers";

describe("TCP-LOG1 log-retention", () => {
  it("keeps a log group with 30 days of retention", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-LOG1")).toEqual([]);
  });

  it("flags a log group without retention", () => {
    const { stack } = compliantStack();
    new CloudwatchLogGroup(stack, "Forever", { name: "/forever" });
    expect(findingsOf(stack, "TCP-LOG1").map((f) => f.path)).toEqual(["test/Forever"]);
  });

  it("flags a retention CloudWatch does not accept", () => {
    const { stack, logGroup } = compliantStack();
    logGroup.retentionInDays = 31;
    expect(findingsOf(stack, "TCP-LOG1").map((f) => f.detail)).toEqual([expect.stringContaining("31")]);
  });
});

describe("TCP-LB1 target-group-health-check", () => {
  it("keeps a target group with an HTTP health check on the agent's port", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-LB1")).toEqual([]);
  });

  it("flags a target group without a health_check block", () => {
    const { stack } = compliantStack();
    new LbTargetGroup(stack, "Bare", {
      name: "bare",
      port: 7000,
      protocol: "TCP",
      targetType: "ip",
      deregistrationDelay: "60",
      connectionTermination: true,
    });
    expect(findingsOf(stack, "TCP-LB1").map((f) => f.path)).toEqual(["test/Bare"]);
  });

  it("flags a disabled health check", () => {
    const { stack, targetGroup } = compliantStack();
    targetGroup.healthCheck.enabled = false;
    expect(findingsOf(stack, "TCP-LB1").map((f) => f.detail)).toEqual(["health_check.enabled is false"]);
  });
});

describe("TCP-LB2 deliberate-deregistration-delay", () => {
  it("keeps a target group with a 60 s deregistration delay", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-LB2")).toEqual([]);
  });

  it("flags a target group that leaves the delay at AWS's default", () => {
    const { stack, targetGroup } = compliantStack();
    targetGroup.resetDeregistrationDelay();
    expect(findingsOf(stack, "TCP-LB2").map((f) => f.detail)).toEqual([expect.stringContaining("not set")]);
  });

  it("flags a delay outside 0-3600 s", () => {
    const { stack, targetGroup } = compliantStack();
    targetGroup.deregistrationDelay = "7200";
    expect(findingsOf(stack, "TCP-LB2").map((f) => f.path)).toEqual(["test/TargetGroup"]);
  });
});

describe("TCP-LB3 connection-termination", () => {
  it("keeps a TCP target group that terminates connections after deregistration", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-LB3")).toEqual([]);
  });

  it("flags a TCP target group whose connections outlive deregistration", () => {
    const { stack, targetGroup } = compliantStack();
    targetGroup.addOverride("connection_termination", false);
    expect(findingsOf(stack, "TCP-LB3").map((f) => f.path)).toEqual(["test/TargetGroup"]);
  });
});

describe("TCP-LB4 listener-protocol-tcp-or-tls", () => {
  it("keeps a TCP listener", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-LB4")).toEqual([]);
  });

  it("keeps a TLS listener", () => {
    const { stack, listener } = compliantStack();
    listener.protocol = "TLS";
    expect(findingsOf(stack, "TCP-LB4")).toEqual([]);
  });

  it.each(["UDP", "TCP_UDP", "HTTP"])("flags a %s listener", (protocol) => {
    const { stack, listener } = compliantStack();
    listener.protocol = protocol;
    expect(findingsOf(stack, "TCP-LB4").map((f) => f.detail)).toEqual([`listener protocol is "${protocol}"`]);
  });
});

describe("TCP-LB5 listener-capacity", () => {
  const addListeners = (c: ReturnType<typeof compliantStack>, count: number) => {
    for (let i = 0; i < count; i++) {
      new LbListener(c.stack, `Extra${i}`, {
        loadBalancerArn: c.loadBalancer.arn,
        port: 30000 + i,
        protocol: "TCP",
        defaultAction: [{ type: "forward", targetGroupArn: c.targetGroup.arn }],
      });
    }
  };

  it("keeps an NLB with exactly 50 listeners", () => {
    const c = compliantStack();
    addListeners(c, 49);
    expect(findingsOf(c.stack, "TCP-LB5")).toEqual([]);
  });

  it("flags an NLB with 51 listeners", () => {
    const c = compliantStack();
    addListeners(c, 50);
    expect(findingsOf(c.stack, "TCP-LB5").map((f) => [f.path, f.detail])).toEqual([
      ["test/Nlb", expect.stringContaining("51 listeners")],
    ]);
  });
});

describe("TCP-NAME1 names-fit-aws-limits", () => {
  it("keeps names within every limit", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-NAME1")).toEqual([]);
  });

  it("flags a target group name of 33 characters", () => {
    const { stack, targetGroup } = compliantStack();
    targetGroup.name = "a".repeat(33);
    expect(findingsOf(stack, "TCP-NAME1").map((f) => [f.path, f.detail])).toEqual([
      ["test/TargetGroup", expect.stringContaining("33 characters (limit 32)")],
    ]);
  });

  it("flags a load balancer name with an underscore", () => {
    const { stack, loadBalancer } = compliantStack();
    loadBalancer.name = "acme_nlb";
    expect(findingsOf(stack, "TCP-NAME1").map((f) => f.path)).toEqual(["test/Nlb"]);
  });

  it("flags a load balancer name_prefix over 6 characters", () => {
    const { stack, loadBalancer } = compliantStack();
    loadBalancer.resetName();
    loadBalancer.namePrefix = "acme-nlb";
    expect(findingsOf(stack, "TCP-NAME1").map((f) => f.detail)).toEqual([expect.stringContaining("limit 6")]);
  });

  it("flags an IAM role name over 64 characters", () => {
    const { stack, taskRole } = compliantStack();
    taskRole.name = `acme-${"x".repeat(60)}`;
    expect(findingsOf(stack, "TCP-NAME1").map((f) => f.path)).toEqual(["test/TaskRole"]);
  });

  it("keeps an SSM parameter path like the product's TCP_URL parameter", () => {
    const { stack } = compliantStack();
    new SsmParameter(stack, "TcpUrl", { name: "/acme/mqtt/TCP_URL", type: "String", value: "tcp://x:1" });
    expect(findingsOf(stack, "TCP-NAME1")).toEqual([]);
  });

  it.each(["acme/mqtt/TCP_URL", "/aws/mqtt/TCP_URL", "ssm-mqtt"])("flags the SSM parameter name %s", (name) => {
    const { stack } = compliantStack();
    new SsmParameter(stack, "TcpUrl", { name, type: "String", value: "tcp://x:1" });
    expect(findingsOf(stack, "TCP-NAME1").map((f) => f.path)).toEqual(["test/TcpUrl"]);
  });

  it("skips a name that only Terraform can compute", () => {
    const { stack, targetGroup, cluster } = compliantStack();
    targetGroup.name = `${cluster.name}-averyveryverylongsuffix-for-this-group`;
    expect(findingsOf(stack, "TCP-NAME1")).toEqual([]);
  });
});
