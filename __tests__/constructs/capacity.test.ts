import { Testing } from "cdktf";
import { EcsClusterCapacityProviders } from "@cdktf/provider-aws/lib/ecs-cluster-capacity-providers";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { capacityProviderStrategy } from "../../constructs/tcp-app";
import { appFixture, configFixture, resourceIn, resourcesOf, synthStack } from "./fixtures";

/**
 * Fargate Spot and Arm per app. ECS: "You must associate a capacity provider with a cluster before
 * you associate it with the capacity provider strategy" (best practices guide, "Amazon ECS clusters
 * for Fargate"); a service with a capacity provider strategy has no launch type (CreateService:
 * "If a capacityProviderStrategy is specified, the launchType parameter must be omitted").
 */

Testing.setupJest();

const { json, tf } = synthStack(
  configFixture([
    appFixture("plain", { port: 20001 }),
    appFixture("batch", { port: 20002, capacity: { spotPercent: 100, base: 0 } }),
    appFixture("mixed", { port: 20003, containers: 4, capacity: { spotPercent: 70, base: 1 } }),
    appFixture("graviton", { port: 20004, architecture: "arm64" }),
  ]),
);

describe("capacity", () => {
  it("an on-demand app keeps launch type FARGATE and no strategy (existing services are not replaced)", () => {
    const service = resourceIn(tf, "aws_ecs_service", "plain_");
    expect(service.launch_type).toBe("FARGATE");
    expect(service.capacity_provider_strategy).toBeUndefined();
  });

  it("spot: every task on FARGATE_SPOT, no launch type", () => {
    const service = resourceIn(tf, "aws_ecs_service", "batch_");
    expect(service.launch_type).toBeUndefined();
    expect(service.capacity_provider_strategy).toEqual([{ capacity_provider: "FARGATE_SPOT", weight: 100 }]);
  });

  it("{ spot: 70%, base: 1 }: one task on FARGATE first, then 30/70 by weight", () => {
    expect(json).toHaveResourceWithProperties(EcsService, {
      name: "mixed",
      capacity_provider_strategy: [
        { capacity_provider: "FARGATE", base: 1, weight: 30 },
        { capacity_provider: "FARGATE_SPOT", weight: 70 },
      ],
    });
  });

  it("the cluster gets FARGATE and FARGATE_SPOT once, and the Spot services wait for it", () => {
    expect(json).toHaveResourceWithProperties(EcsClusterCapacityProviders, { capacity_providers: ["FARGATE", "FARGATE_SPOT"] });
    expect(Object.keys(resourcesOf(tf, "aws_ecs_cluster_capacity_providers"))).toHaveLength(1);
    const [id] = Object.keys(resourcesOf(tf, "aws_ecs_cluster_capacity_providers"));
    expect(resourceIn(tf, "aws_ecs_service", "batch_").depends_on).toContain(`aws_ecs_cluster_capacity_providers.${id}`);
    expect(resourceIn(tf, "aws_ecs_service", "plain_").depends_on).not.toContain(`aws_ecs_cluster_capacity_providers.${id}`);
  });

  it("a stack with no Spot app declares no capacity providers", () => {
    const { tf: plain } = synthStack(configFixture([appFixture("plain", { port: 20001 })]));
    expect(resourcesOf(plain, "aws_ecs_cluster_capacity_providers")).toEqual({});
  });

  it.each([
    [{ spotPercent: 0, base: 2 }, [{ capacityProvider: "FARGATE", weight: 100, base: 2 }]],
    [{ spotPercent: 100, base: 2 }, [{ capacityProvider: "FARGATE", weight: 0, base: 2 }, { capacityProvider: "FARGATE_SPOT", weight: 100 }]],
  ])("strategy of %p leaves out a provider with no weight and no base", (capacity, strategy) => {
    expect(capacityProviderStrategy(capacity)).toEqual(strategy);
  });
});

describe("architecture", () => {
  it("arm64 tasks run on ARM64; the others on X86_64", () => {
    expect(json).toHaveResourceWithProperties(EcsTaskDefinition, { family: "acme-graviton", runtime_platform: { cpu_architecture: "ARM64", operating_system_family: "LINUX" } });
    expect(json).toHaveResourceWithProperties(EcsTaskDefinition, { family: "acme-plain", runtime_platform: { cpu_architecture: "X86_64", operating_system_family: "LINUX" } });
  });

  it("an arm64 app with an agent image built for amd64 only is refused at synth, naming the fix", () => {
    const config = configFixture([appFixture("graviton", { port: 20004, architecture: "arm64" })], { agentImage: undefined });
    expect(() => synthStack(config, { agentBuild: { platform: "linux/amd64" } })).toThrow(/graviton\.architecture: arm64 tasks need an agent image built for linux\/arm64; the platform builds linux\/amd64/);
  });
});
