import "cdktf/lib/testing/adapters/jest"; // Load types for expect matchers
import { Testing } from "cdktf";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { ShopStack } from "../stack";

describe("ShopStack", () => {
  const synthesized = Testing.synth(new ShopStack(Testing.app(), "shop"));

  it("listens on port 1883 with the idle timeout set on the listener", () => {
    expect(synthesized).toHaveResourceWithProperties(LbListener, { port: 1883, protocol: "TCP", tcp_idle_timeout_seconds: 1200 });
  });

  it("keeps a deregistering target 180 s, then closes its connections", () => {
    expect(synthesized).toHaveResourceWithProperties(LbTargetGroup, { deregistration_delay: "180", connection_termination: true });
  });

  it("runs the tasks in the existing private subnets, without public IPs", () => {
    expect(synthesized).toHaveResourceWithProperties(EcsService, {
      network_configuration: expect.objectContaining({ subnets: ["subnet-0c", "subnet-0d"], assign_public_ip: false }),
    });
  });
});
