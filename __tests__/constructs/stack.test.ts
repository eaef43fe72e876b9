import { Testing } from "cdktf";
import { MAX_LISTENERS_PER_NLB } from "../../constructs/load-balancer";
import {
  appFixture,
  appsFixture,
  configFixture,
  containersOf,
  envOf,
  expressionsIn,
  fakeAgentSources,
  resourcesOf,
  synthStack,
  unresolvedReferences,
  type TfJson,
} from "./fixtures";
import * as fs from "node:fs";

Testing.setupJest();

describe("references", () => {
  it("resolve to declared resources and data sources in a 3-app stack that builds its agent image", () => {
    const dir = fakeAgentSources();
    try {
      const config = configFixture(
        [
          appFixture("mqtt", { port: 20001, secrets: { PW: "arn:aws:ssm:eu-west-1:123456789012:parameter/pw" } }),
          appFixture("game", { port: 20002 }),
          appFixture("chat", { port: 20003 }),
        ],
        { agentImage: undefined },
      );
      const { tf } = synthStack(config, { agentBuild: { contextDir: dir } });
      expect(unresolvedReferences(tf)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("are checked: a reference to an undeclared resource is reported", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    const broken: TfJson = { ...tf, output: { x: { value: "${aws_lb.Nowhere_12345678.dns_name}" } } };
    expect(unresolvedReferences(broken)).toEqual(["aws_lb.Nowhere_12345678"]);
  });

  it("inside container_definitions are found too", () => {
    const { tf } = synthStack(configFixture([appFixture("mqtt")]));
    const td = Object.values(resourcesOf(tf, "aws_ecs_task_definition"))[0];
    expect(expressionsIn(td.container_definitions as string)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^aws_lb\.Platform_LoadBalancer_Nlb_\w+\.dns_name$/)]),
    );
  });
});

describe("task security groups", () => {
  it("never admit 0.0.0.0/0 or ::/0, even when every app is open to the world", () => {
    const apps = [
      appFixture("mqtt", { port: 20001, allowedCidrs: ["0.0.0.0/0", "::/0"] }),
      appFixture("game", { port: 20002, allowedCidrs: ["0.0.0.0/0"] }),
    ];
    const { tf } = synthStack(configFixture(apps));
    const taskGroups = Object.keys(resourcesOf(tf, "aws_security_group"))
      .filter((id) => !id.startsWith("Platform_"))
      .map((id) => `\${aws_security_group.${id}.id}`);
    const ingress = Object.values(resourcesOf(tf, "aws_vpc_security_group_ingress_rule")).filter((r) =>
      taskGroups.includes(r.security_group_id as string),
    );
    expect(ingress).toHaveLength(apps.length);
    ingress.forEach((rule) => {
      expect(rule).not.toHaveProperty("cidr_ipv4");
      expect(rule).not.toHaveProperty("cidr_ipv6");
      expect(rule.referenced_security_group_id).toMatch(/^\$\{aws_security_group\.Platform_LoadBalancer_/);
    });
  });
});

describe("adding an app", () => {
  let before: TfJson;
  let after: TfJson;

  beforeAll(() => {
    const apps = [appFixture("mqtt", { port: 20001 }), appFixture("game", { port: 20002 })];
    before = synthStack(configFixture(apps)).tf;
    after = synthStack(configFixture([...apps, appFixture("chat", { port: 20003 })])).tf;
  });

  it("leaves the other apps' TCP_URL outputs unchanged", () => {
    expect(after.output?.tcp_url_mqtt).toEqual(before.output?.tcp_url_mqtt);
    expect(after.output?.tcp_url_game).toEqual(before.output?.tcp_url_game);
  });

  it("leaves the other apps' listeners unchanged, ids and ports", () => {
    expect(resourcesOf(after, "aws_lb_listener")).toEqual(
      expect.objectContaining(resourcesOf(before, "aws_lb_listener")),
    );
  });

  it("leaves the other apps' TCP_URL in their containers unchanged", () => {
    for (const name of ["mqtt", "game"]) {
      const url = (tf: TfJson) => envOf(containersOf(tf, name).find((c) => c.name === "app")!).TCP_URL;
      expect(url(after)).toBe(url(before));
    }
  });
});

describe("60 apps", () => {
  let tf: TfJson;

  beforeAll(() => {
    ({ tf } = synthStack(configFixture(appsFixture(60))));
  });

  it("synthesize onto two load balancers", () => {
    const names = Object.values(resourcesOf(tf, "aws_lb")).map((lb) => lb.name as string);
    expect(names.sort()).toEqual(["acme-nlb", "acme-nlb-2"]);
  });

  it("put no more than 50 listeners on any load balancer", () => {
    const perLb = new Map<unknown, number>();
    Object.values(resourcesOf(tf, "aws_lb_listener")).forEach((l) =>
      perLb.set(l.load_balancer_arn, (perLb.get(l.load_balancer_arn) ?? 0) + 1),
    );
    expect([...perLb.values()].sort()).toEqual([10, 50]);
    [...perLb.values()].forEach((n) => expect(n).toBeLessThanOrEqual(MAX_LISTENERS_PER_NLB));
  });

  it("give each load balancer its own security group", () => {
    const groups = Object.values(resourcesOf(tf, "aws_lb")).map((lb) => lb.security_groups);
    expect(new Set(groups.map((g) => JSON.stringify(g))).size).toBe(2);
  });

  it("give apps on the second load balancer a TCP_URL on its DNS name", () => {
    const second = Object.keys(resourcesOf(tf, "aws_lb")).find((id) => id.startsWith("Platform_LoadBalancer2_"));
    expect(tf.output?.["tcp_url_app-51".replace(/-/g, "_")]?.value).toBe(`tcp://\${aws_lb.${second}.dns_name}:20051`);
  });
});

describe("names", () => {
  it("of load balancers and target groups fit 32 characters with the longest project and app names", () => {
    const longApp = "a".repeat(31);
    const apps = [
      appFixture(longApp),
      appFixture(`${"a".repeat(30)}b`),
      ...appsFixture(55).map((a) => appFixture(`${a.name}-${"x".repeat(20)}`)),
    ].map((a, i) => ({ ...a, port: 20001 + i, loadBalancer: Math.floor(i / 50) }));
    const { tf } = synthStack(configFixture(apps, { project: "p".repeat(12) }));
    const names = [
      ...Object.values(resourcesOf(tf, "aws_lb")),
      ...Object.values(resourcesOf(tf, "aws_lb_target_group")),
    ].map((r) => r.name as string);
    expect(names).toHaveLength(2 + apps.length);
    names.forEach((name) => expect(name.length).toBeLessThanOrEqual(32));
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("the synthesized stack", () => {
  it("matches the reviewed snapshot for one app", () => {
    const { json } = synthStack(configFixture([appFixture("mqtt", { port: 20003 })]));
    expect(JSON.parse(json)).toMatchSnapshot();
  });
});
