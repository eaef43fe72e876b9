import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { agentContainer, appContainer, compliantStack, findingsOf } from "./helpers";

describe("TCP-ECS2 agent-non-root", () => {
  it("keeps an agent that runs as uid 1000", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-ECS2")).toEqual([]);
  });

  it("keeps an agent that runs as uid:gid 1000:1000", () => {
    const { stack } = compliantStack({ containers: [appContainer(), agentContainer({ user: "1000:1000" })] });
    expect(findingsOf(stack, "TCP-ECS2")).toEqual([]);
  });

  it("flags an agent without a user (the image's default, root)", () => {
    const { stack } = compliantStack({ containers: [appContainer(), agentContainer({ user: undefined })] });
    const findings = findingsOf(stack, "TCP-ECS2");
    expect(findings.map((f) => f.path)).toEqual(["test/TaskDefinition"]);
    expect(findings[0]!.detail).toContain("sets no user");
  });

  it.each(["root", "0", "0:0", "root:root"])("flags an agent that runs as %s", (user) => {
    const { stack } = compliantStack({ containers: [appContainer(), agentContainer({ user })] });
    expect(findingsOf(stack, "TCP-ECS2").map((f) => f.path)).toEqual(["test/TaskDefinition"]);
  });

  it("leaves the user of the app container to the app", () => {
    const { stack } = compliantStack({ containers: [appContainer({ user: "root" }), agentContainer()] });
    expect(findingsOf(stack, "TCP-ECS2")).toEqual([]);
  });

  it("reports a container_definitions that is not literal JSON as unchecked", () => {
    const { stack, taskDefinition } = compliantStack();
    taskDefinition.addOverride("container_definitions", "${jsonencode(local.containers)}");
    const findings = findingsOf(stack, "TCP-ECS2");
    expect(findings.map((f) => f.detail)).toEqual([expect.stringContaining("cannot be checked")]);
  });
});

describe("TCP-ECS3 not-privileged", () => {
  it("keeps containers that are not privileged", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-ECS3")).toEqual([]);
  });

  it("flags a privileged app container", () => {
    const { stack } = compliantStack({ containers: [appContainer({ privileged: true }), agentContainer()] });
    const findings = findingsOf(stack, "TCP-ECS3");
    expect(findings.map((f) => f.detail)).toEqual(['container "app" is privileged']);
  });
});

describe("TCP-ECS4 agent-read-only-root-filesystem", () => {
  it("keeps an agent with a read-only root filesystem", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-ECS4")).toEqual([]);
  });

  it("flags an agent whose root filesystem is writable", () => {
    const { stack } = compliantStack({
      containers: [appContainer(), agentContainer({ readonlyRootFilesystem: false })],
    });
    expect(findingsOf(stack, "TCP-ECS4").map((f) => f.path)).toEqual(["test/TaskDefinition"]);
  });
});

describe("TCP-ECS5 no-plaintext-secrets", () => {
  const withEnv = (environment: { name: string; value: string }[]) =>
    compliantStack({ containers: [appContainer({ environment }), agentContainer()] });

  it("keeps ordinary settings and secrets passed as valueFrom references", () => {
    const { stack } = withEnv([
      { name: "LOG_LEVEL", value: "info" },
      { name: "DB_PASSWORD_FILE", value: "/run/secrets/db" },
      { name: "TCP_URL", value: "tcp://${aws_lb.Nlb.dns_name}:20003" },
    ]);
    expect(findingsOf(stack, "TCP-ECS5")).toEqual([]);
  });

  it.each(["DATABASE_PASSWORD", "API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "client_secret"])(
    "flags an environment variable named %s",
    (name) => {
      const { stack } = withEnv([{ name, value: "hunter2" }]);
      const findings = findingsOf(stack, "TCP-ECS5");
      expect(findings.map((f) => f.detail)).toEqual([expect.stringContaining(name)]);
    },
  );

  it("flags an AWS access key id in a value, whatever the name", () => {
    const { stack } = withEnv([{ name: "UPLOAD_ID", value: "AKIAIOSFODNN7EXAMPLE" }]);
    expect(findingsOf(stack, "TCP-ECS5").map((f) => f.detail)).toEqual([expect.stringContaining("AWS access key id")]);
  });

  it("flags a URL with a password in it", () => {
    const { stack } = withEnv([{ name: "REDIS_URL", value: "redis://default:s3cr3t@cache.internal:6379" }]);
    expect(findingsOf(stack, "TCP-ECS5").map((f) => f.detail)).toEqual([expect.stringContaining("password")]);
  });
});

describe("TCP-ECS6 container-insights", () => {
  it("keeps a cluster with Container Insights enabled", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-ECS6")).toEqual([]);
  });

  it("keeps a cluster with enhanced Container Insights", () => {
    const { stack, cluster } = compliantStack();
    cluster.putSetting([{ name: "containerInsights", value: "enhanced" }]);
    expect(findingsOf(stack, "TCP-ECS6")).toEqual([]);
  });

  it("flags a cluster that does not set Container Insights", () => {
    const { stack } = compliantStack();
    new EcsCluster(stack, "Plain", { name: "plain" });
    expect(findingsOf(stack, "TCP-ECS6").map((f) => f.path)).toEqual(["test/Plain"]);
  });

  it("flags a cluster with Container Insights disabled", () => {
    const { stack, cluster } = compliantStack();
    cluster.putSetting([{ name: "containerInsights", value: "disabled" }]);
    expect(findingsOf(stack, "TCP-ECS6").map((f) => f.detail)).toEqual(['containerInsights is "disabled"']);
  });
});
