import { Testing } from "cdktf";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { DEFAULT_DEPLOY_TIMINGS } from "../../config/deploy-timings";
import type { ResolvedApp } from "../../config/schema";
import { AGENT_HEALTH_PORT, AGENT_PORT, APP_PORT } from "../../constructs/tcp-app";
import {
  appFixture,
  configFixture,
  containersOf,
  envOf,
  ref,
  resourceIn,
  resourcesOf,
  synthStack,
  type TfJson,
} from "./fixtures";

Testing.setupJest();

const MQTT = appFixture("mqtt", { port: 20003 });
const GAME = appFixture("game", {
  plan: { name: "tcp-50k", packetsPerSecond: 50_000, burst: 100_000 },
  containers: 3,
  port: 30000,
  cpu: 512,
  memory: 1024,
  env: {},
  allowedCidrs: ["203.0.113.0/24", "2001:db8::/32"],
});
const CHAT = appFixture("chat", { plan: { name: "tcp-5k", packetsPerSecond: 5000 }, containers: 1, port: 40000 });

describe.each([
  ["1 app", [MQTT]],
  ["3 apps", [MQTT, GAME, CHAT]],
])("per-app resources with %s", (_label, apps: ResolvedApp[]) => {
  let json: string;
  let tf: TfJson;
  const nlbDns = () => ref(tf, "aws_lb", "Platform_LoadBalancer_", "dns_name");
  const tcpUrl = (app: ResolvedApp) => `tcp://${nlbDns()}:${app.port}`;

  beforeAll(() => {
    ({ json, tf } = synthStack(configFixture(apps)));
  });

  it("declares one listener, target group, task definition, service, SSM parameter and output per app", () => {
    for (const type of [
      "aws_lb_listener",
      "aws_lb_target_group",
      "aws_ecs_task_definition",
      "aws_ecs_service",
      "aws_ssm_parameter",
    ]) {
      expect(Object.keys(resourcesOf(tf, type))).toHaveLength(apps.length);
    }
    expect(Object.keys(tf.output ?? {})).toHaveLength(apps.length);
  });

  it("share one cluster, load balancer, log group and execution role", () => {
    for (const type of ["aws_ecs_cluster", "aws_lb", "aws_cloudwatch_log_group", "aws_vpc"]) {
      expect(Object.keys(resourcesOf(tf, type))).toHaveLength(1);
    }
    const roles = Object.keys(resourcesOf(tf, "aws_iam_role"));
    expect(roles.filter((id) => id.startsWith("Platform_"))).toHaveLength(1);
    expect(roles).toHaveLength(1 + apps.length);
  });

  it.each(apps.map((a) => [a.name, a]))(
    "%s: a TCP listener on the app's port forwards to its target group",
    (name, app) => {
      expect(json).toHaveResourceWithProperties(LbListener, {
        load_balancer_arn: ref(tf, "aws_lb", "Platform_LoadBalancer_", "arn"),
        port: app.port,
        protocol: "TCP",
        default_action: [{ type: "forward", target_group_arn: ref(tf, "aws_lb_target_group", `${name}_`, "arn") }],
      });
    },
  );

  it.each(apps.map((a) => [a.name, a]))("%s: the target group sends TCP to task IPs on the agent port", (name) => {
    expect(resourceIn(tf, "aws_lb_target_group", `${name}_`)).toMatchObject({
      protocol: "TCP",
      port: AGENT_PORT,
      target_type: "ip",
      vpc_id: ref(tf, "aws_vpc", "Platform_Network_Vpc", "id"),
    });
  });

  it.each(apps.map((a) => [a.name, a]))("%s: the target group health-checks the agent's /healthz over HTTP", (name) => {
    expect(resourceIn(tf, "aws_lb_target_group", `${name}_`).health_check).toEqual({
      enabled: true,
      protocol: "HTTP",
      port: String(AGENT_HEALTH_PORT),
      path: "/healthz",
      matcher: "200",
      interval: 10,
      timeout: 5,
      healthy_threshold: 2,
      unhealthy_threshold: 2,
    });
  });

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the target group waits the deploy timings' delay on deregistration, then closes the old connections; unhealthy targets keep theirs",
    (name) => {
      const group = Object.values(resourcesOf(tf, "aws_lb_target_group")).find((g) => String(g.name).startsWith(`acme-${name}-`));
      expect(group?.name).toMatch(new RegExp(`^acme-${name}-[0-9a-f]{4}$`)); // suffix: a hash of the VPC (aws-limits.test.ts)
      expect(json).toHaveResourceWithProperties(LbTargetGroup, {
        name: group?.name,
        deregistration_delay: String(DEFAULT_DEPLOY_TIMINGS.deregistrationDelaySeconds),
        connection_termination: true,
        target_health_state: [
          {
            enable_unhealthy_connection_termination: false,
            unhealthy_draining_interval: DEFAULT_DEPLOY_TIMINGS.unhealthyDrainingIntervalSeconds,
          },
        ],
      });
    },
  );

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the task definition is Fargate, awsvpc, sized from the app",
    (name, app) => {
      expect(json).toHaveResourceWithProperties(EcsTaskDefinition, {
        family: `acme-${name}`,
        requires_compatibilities: ["FARGATE"],
        network_mode: "awsvpc",
        cpu: String(app.cpu),
        memory: String(app.memory),
      });
    },
  );

  it.each(apps.map((a) => [a.name, a]))("%s: the task role is the app's own, not the execution role", (name) => {
    const td = resourceIn(tf, "aws_ecs_task_definition", `${name}_`);
    expect(td.execution_role_arn).toBe(ref(tf, "aws_iam_role", "Platform_ExecutionRole", "arn"));
    expect(td.task_role_arn).toBe(ref(tf, "aws_iam_role", `${name}_TaskRole`, "arn"));
  });

  it.each(apps.map((a) => [a.name, a]))("%s: the task role has no policies", (name) => {
    const roleName = ref(tf, "aws_iam_role", `${name}_TaskRole`, "name");
    const roleId = ref(tf, "aws_iam_role", `${name}_TaskRole`, "id");
    const attached = [
      ...Object.values(resourcesOf(tf, "aws_iam_role_policy_attachment")),
      ...Object.values(resourcesOf(tf, "aws_iam_role_policy")),
    ].filter((p) => p.role === roleName || p.role === roleId);
    expect(attached).toEqual([]);
  });

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the app container runs the Procfile command with PORT, TCP_URL and the app's env",
    (name, app) => {
      const appContainer = containersOf(tf, name).find((c) => c.name === "app");
      expect(appContainer).toMatchObject({
        image: app.image,
        essential: true,
        command: ["/bin/sh", "-c", app.command],
      });
      expect(envOf(appContainer!)).toEqual({ PORT: String(APP_PORT), TCP_URL: tcpUrl(app), ...app.env });
    },
  );

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the agent container carries the plan's limit and its ports",
    (name, app) => {
      const agent = containersOf(tf, name).find((c) => c.name === "tcp-agent");
      expect(envOf(agent!)).toEqual({
        TCP_ADDON_LISTEN: String(AGENT_PORT),
        TCP_ADDON_HEALTH_PORT: String(AGENT_HEALTH_PORT),
        TCP_ADDON_PPS: String(app.plan.packetsPerSecond),
        ...(app.plan.burst !== undefined ? { TCP_ADDON_BURST: String(app.plan.burst) } : {}),
        TCP_ADDON_UPSTREAM: `127.0.0.1:${APP_PORT}`,
        TCP_ADDON_DRAIN_SECONDS: "15",
        TCP_ADDON_EMF: "1",
        TCP_ADDON_PROJECT: "acme",
        TCP_ADDON_APP: app.name,
      });
      expect(agent!.portMappings).toEqual([
        { containerPort: AGENT_PORT, protocol: "tcp" },
        { containerPort: AGENT_HEALTH_PORT, protocol: "tcp" },
      ]);
    },
  );

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the agent container is essential, non-root, read-only, unprivileged",
    (name) => {
      const agent = containersOf(tf, name).find((c) => c.name === "tcp-agent");
      expect(agent).toMatchObject({ essential: true, user: "1000", readonlyRootFilesystem: true, privileged: false });
    },
  );

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the agent starts after the app, so ECS stops it first and the app serves through the drain",
    (name) => {
      const agent = containersOf(tf, name).find((c) => c.name === "tcp-agent");
      expect(agent?.dependsOn).toEqual([{ containerName: "app", condition: "START" }]);
    },
  );

  it.each(apps.map((a) => [a.name, a]))(
    "%s: both containers stop after the drain and within Fargate's 120 s",
    (name) => {
      for (const container of containersOf(tf, name)) {
        expect(container.stopTimeout).toBeGreaterThan(15);
        expect(container.stopTimeout).toBeLessThanOrEqual(120);
      }
    },
  );

  it.each(apps.map((a) => [a.name, a]))("%s: both containers log to the project log group", (name) => {
    for (const container of containersOf(tf, name)) {
      expect(container.logConfiguration).toEqual({
        logDriver: "awslogs",
        options: {
          "awslogs-group": ref(tf, "aws_cloudwatch_log_group", "Platform_Logs", "name"),
          "awslogs-region": "eu-west-1",
          "awslogs-stream-prefix": name,
          mode: "non-blocking",
          "max-buffer-size": "10m",
        },
      });
    }
  });

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the service runs `containers` tasks and deploys 100/200 with rollback",
    (name, app) => {
      expect(json).toHaveResourceWithProperties(EcsService, {
        name,
        launch_type: "FARGATE",
        cluster: ref(tf, "aws_ecs_cluster", "Platform_Cluster", "arn"),
        task_definition: ref(tf, "aws_ecs_task_definition", `${name}_`, "arn"),
        desired_count: app.containers,
        deployment_minimum_healthy_percent: 100,
        deployment_maximum_percent: 200,
        deployment_circuit_breaker: { enable: true, rollback: true },
        propagate_tags: "SERVICE",
      });
    },
  );

  it.each(apps.map((a) => [a.name, a]))("%s: the service's tasks are in private subnets with no public IP", (name) => {
    expect(resourceIn(tf, "aws_ecs_service", `${name}_`).network_configuration).toEqual({
      subnets: [
        ref(tf, "aws_subnet", "Platform_Network_Private1", "id"),
        ref(tf, "aws_subnet", "Platform_Network_Private2", "id"),
      ],
      security_groups: [ref(tf, "aws_security_group", `${name}_SecurityGroup`, "id")],
      assign_public_ip: false,
    });
  });

  it.each(apps.map((a) => [a.name, a]))("%s: the service registers the tcp-agent container's port 7000", (name) => {
    const service = resourceIn(tf, "aws_ecs_service", `${name}_`);
    expect(service.load_balancer).toEqual([
      {
        target_group_arn: ref(tf, "aws_lb_target_group", `${name}_`, "arn"),
        container_name: "tcp-agent",
        container_port: AGENT_PORT,
      },
    ]);
    expect(service.health_check_grace_period_seconds).toBe(60);
  });

  it.each(apps.map((a) => [a.name, a]))("%s: the service is created after its listener", (name) => {
    const listenerId = Object.keys(resourcesOf(tf, "aws_lb_listener")).find((id) => id.startsWith(`${name}_`));
    expect(resourceIn(tf, "aws_ecs_service", `${name}_`).depends_on).toContain(`aws_lb_listener.${listenerId}`);
  });

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the task security group admits only the NLB's group, on 7000-7001",
    (name) => {
      const taskSg = ref(tf, "aws_security_group", `${name}_SecurityGroup`, "id");
      const ingress = Object.values(resourcesOf(tf, "aws_vpc_security_group_ingress_rule")).filter(
        (r) => r.security_group_id === taskSg,
      );
      expect(ingress).toEqual([
        expect.objectContaining({
          referenced_security_group_id: ref(tf, "aws_security_group", "Platform_LoadBalancer_SecurityGroup", "id"),
          ip_protocol: "tcp",
          from_port: AGENT_PORT,
          to_port: AGENT_HEALTH_PORT,
        }),
      ]);
    },
  );

  it.each(apps.map((a) => [a.name, a]))(
    "%s: the NLB's group admits the app's allowedCidrs on its port only",
    (name, app) => {
      const nlbSg = ref(tf, "aws_security_group", "Platform_LoadBalancer_SecurityGroup", "id");
      const rules = Object.entries(resourcesOf(tf, "aws_vpc_security_group_ingress_rule"))
        .filter(([id, r]) => id.startsWith(`${name}_`) && r.security_group_id === nlbSg)
        .map(([, r]) => ({
          cidr: r.cidr_ipv4 ?? r.cidr_ipv6,
          from: r.from_port,
          to: r.to_port,
          protocol: r.ip_protocol,
        }));
      expect(rules).toEqual(app.allowedCidrs.map((cidr) => ({ cidr, from: app.port, to: app.port, protocol: "tcp" })));
    },
  );

  it.each(apps.map((a) => [a.name, a]))("%s: the NLB's group may reach the app's tasks on 7000-7001", (name) => {
    expect(resourceIn(tf, "aws_vpc_security_group_egress_rule", `${name}_NlbToTasks`)).toMatchObject({
      security_group_id: ref(tf, "aws_security_group", "Platform_LoadBalancer_SecurityGroup", "id"),
      referenced_security_group_id: ref(tf, "aws_security_group", `${name}_SecurityGroup`, "id"),
      ip_protocol: "tcp",
      from_port: AGENT_PORT,
      to_port: AGENT_HEALTH_PORT,
    });
  });

  it.each(apps.map((a) => [a.name, a]))(
    "%s: TCP_URL is an SSM String parameter under /<project>/<app>/",
    (name, app) => {
      expect(json).toHaveResourceWithProperties(SsmParameter, {
        name: `/acme/${name}/TCP_URL`,
        type: "String",
        value: tcpUrl(app),
      });
    },
  );

  it.each(apps.map((a) => [a.name, a]))("%s: TCP_URL is the Terraform output tcp_url_<app>, described", (name, app) => {
    expect(tf.output?.[`tcp_url_${name}`]).toEqual({ value: tcpUrl(app), description: `TCP_URL of app ${name}` });
  });
});
