import { loadConfig } from "../../config";
import { containersOf, envOf, resourceIn, synthStack } from "../constructs/fixtures";
import { freePort, LocalRun, writeConfig } from "./helpers";

/** Local mode runs exactly the deploy timings that synth writes into cdk.tf.json. */

jest.setTimeout(60_000);

let run: LocalRun | undefined;
afterEach(async () => {
  await run?.stop();
  run = undefined;
});

/** Numbers from local mode's "deploy timings (AWS s)" line. */
function parseTimingsLine(line: string): Record<string, number | boolean> {
  const n = (pattern: RegExp) => Number(pattern.exec(line)![1]);
  return {
    healthCheckIntervalSeconds: n(/checks every (\d+)/),
    healthCheckTimeoutSeconds: n(/timeout (\d+)/),
    healthyThreshold: n(/healthy after (\d+)/),
    unhealthyThreshold: n(/unhealthy after (\d+)/),
    healthCheckGracePeriodSeconds: n(/grace (\d+)/),
    deregistrationDelaySeconds: n(/deregistration delay (\d+)/),
    agentDrainSeconds: n(/agent drain (\d+)/),
    stopTimeoutSeconds: n(/stopTimeout (\d+)/),
    unhealthyConnectionTermination: /unhealthy termination on/.test(line),
    unhealthyDrainingIntervalSeconds: n(/unhealthy draining (\d+)/),
  };
}

describe.each([
  ["the defaults", undefined],
  ["per-app overrides", { deregistrationDelaySeconds: 90, healthCheckIntervalSeconds: 15, healthCheckTimeoutSeconds: 6, healthyThreshold: 3, unhealthyThreshold: 4, healthCheckGracePeriodSeconds: 120, agentDrainSeconds: 20, unhealthyDrainingIntervalSeconds: 200, propagationSeconds: 50 }],
])("with %s", (_name, deploy) => {
  it("local mode and the synthesized declaration agree on every deploy timing", async () => {
    const file = writeConfig({ port: await freePort(), containers: 1, command: "node -e 0", deploy });
    const config = loadConfig(file);
    const { tf } = synthStack({ ...config, agentImage: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tcp-agent:1.0" });
    const targetGroup = resourceIn(tf, "aws_lb_target_group", "mqtt_") as Record<string, any>;
    const service = resourceIn(tf, "aws_ecs_service", "mqtt_") as Record<string, any>;
    const containers = containersOf(tf, "mqtt");
    const agent = containers.find((c) => envOf(c).TCP_ADDON_DRAIN_SECONDS !== undefined)!;
    const healthCheck = targetGroup.health_check;
    const healthState = [targetGroup.target_health_state].flat()[0];
    const synthesized = {
      healthCheckIntervalSeconds: healthCheck.interval,
      healthCheckTimeoutSeconds: healthCheck.timeout,
      healthyThreshold: healthCheck.healthy_threshold,
      unhealthyThreshold: healthCheck.unhealthy_threshold,
      healthCheckGracePeriodSeconds: service.health_check_grace_period_seconds,
      deregistrationDelaySeconds: Number(targetGroup.deregistration_delay),
      agentDrainSeconds: Number(envOf(agent).TCP_ADDON_DRAIN_SECONDS),
      stopTimeoutSeconds: agent.stopTimeout,
      unhealthyConnectionTermination: healthState.enable_unhealthy_connection_termination,
      unhealthyDrainingIntervalSeconds: healthState.unhealthy_draining_interval,
    };

    run = new LocalRun(["--config", file]);
    const line = await run.waitForLine(/mqtt \| deploy timings \(AWS s\)/);
    const lag = Number(/NLB lag (\d+)/.exec(line)![1]);

    expect(parseTimingsLine(line)).toEqual(synthesized);
    expect(lag).toBe(config.apps[0].deploy.propagationSeconds);
    expect(lag).toBeLessThanOrEqual(synthesized.deregistrationDelaySeconds);
  });
});
