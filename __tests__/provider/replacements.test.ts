import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Change, dependentsOf, SecondApply, synthConfig, terraformAvailability } from "./second-apply";

/**
 * What each config change replaces, by the real hashicorp/aws provider: the base config is
 * planned, "applied" into a state (second-apply.ts), then each change is planned against it.
 * The table these results make is "What a change replaces" in docs/verify.md; this test fails
 * when that copy differs (UPDATE_README=1 rewrites it).
 */

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BASE: Raw = {
  project: "acme",
  region: "eu-west-1",
  apps: {
    mqtt: {
      image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mqtt:1.0",
      command: "node server.js",
      env: { LOG_LEVEL: "info" },
      allowedCidrs: ["203.0.113.0/24", "198.51.100.0/24"],
    },
    chat: { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/chat:1.0", command: "node chat.js" },
    feed: { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/feed:1.0", command: "node feed.js" },
  },
};

interface Scenario {
  readonly change: string;
  readonly edit: (c: Raw) => void;
  /** The change moves some app's TCP_URL (host or port) on purpose. */
  readonly movesTcpUrl?: boolean;
  /** Construct paths (without the project) the change may destroy or replace. */
  readonly mayDestroy: RegExp;
}

const NOTHING = /^$/;
const mqtt = (c: Raw): Raw => c.apps.mqtt;

const SCENARIOS: readonly Scenario[] = [
  { change: "`plan` tcp-1k → tcp-5k", edit: (c) => (mqtt(c).plan = "tcp-5k"), mayDestroy: /^mqtt\/TaskDefinition$/ },
  { change: "`containers` 1 → 3", edit: (c) => (mqtt(c).containers = 3), mayDestroy: NOTHING },
  { change: "`cpu`/`memory` 256/512 → 512/1024", edit: (c) => Object.assign(mqtt(c), { cpu: 512, memory: 1024 }), mayDestroy: /^mqtt\/TaskDefinition$/ },
  { change: "`env`: a variable added", edit: (c) => (mqtt(c).env.FEATURE = "on"), mayDestroy: /^mqtt\/TaskDefinition$/ },
  { change: "`image`: a new tag", edit: (c) => (mqtt(c).image = mqtt(c).image.replace(":1.0", ":1.1")), mayDestroy: /^mqtt\/TaskDefinition$/ },
  { change: "`allowedCidrs`: an IPv4 block added", edit: (c) => mqtt(c).allowedCidrs.push("192.0.2.0/24"), mayDestroy: NOTHING },
  { change: "`allowedCidrs`: a block removed", edit: (c) => mqtt(c).allowedCidrs.pop(), mayDestroy: /^mqtt\/PublicIngress2$/ },
  { change: "`allowedCidrs`: an IPv6 block added (NLB turns dualstack)", edit: (c) => mqtt(c).allowedCidrs.push("2001:db8::/32"), mayDestroy: NOTHING },
  {
    change: "`port`: set explicitly (TCP_URL port moves)",
    edit: (c) => (mqtt(c).port = 1883),
    movesTcpUrl: true,
    mayDestroy: /^mqtt\/(TaskDefinition|PublicIngress\d+)$/,
  },
  { change: "`deploy.agentDrainSeconds` 15 → 20", edit: (c) => (mqtt(c).deploy = { agentDrainSeconds: 20 }), mayDestroy: /^mqtt\/TaskDefinition$/ },
  { change: "`deploy.deregistrationDelaySeconds` 150 → 180", edit: (c) => (mqtt(c).deploy = { deregistrationDelaySeconds: 180 }), mayDestroy: NOTHING },
  {
    change: "an app appended",
    edit: (c) => (c.apps.news = { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/news:1.0", command: "node news.js" }),
    mayDestroy: NOTHING,
  },
  { change: "an app removed from the middle", edit: (c) => delete c.apps.chat, mayDestroy: /^chat\// },
  {
    change: "`network`: the created VPC → an existing VPC",
    edit: (c) =>
      (c.network = { vpcId: "vpc-0b0b0b0b", publicSubnetIds: ["subnet-0a1", "subnet-0a2"], privateSubnetIds: ["subnet-0b1", "subnet-0b2"] }),
    movesTcpUrl: true,
    // Everything in the old VPC goes; what lives outside any VPC stays.
    mayDestroy: /^(Platform\/(Network|LoadBalancer)\/|[a-z]+\/(SecurityGroup|TargetGroup|Listener|TasksFromNlb|TasksOutbound|NlbToTasks|PublicIngress\d+|TaskDefinition)$)/,
  },
  { change: "`clientIp` off → proxy-v2", edit: (c) => (mqtt(c).clientIp = "proxy-v2"), mayDestroy: /^mqtt\/TaskDefinition$/ },
  { change: "`maxConnections` plan's → 500", edit: (c) => (mqtt(c).maxConnections = 500), mayDestroy: /^mqtt\/TaskDefinition$/ },
  {
    change: "`tls`: an existing certificate (TCP_URL scheme moves to tls://)",
    edit: (c) => (mqtt(c).tls = { certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789" }),
    movesTcpUrl: true,
    mayDestroy: /^mqtt\/TaskDefinition$/,
  },
  {
    change: "`domain` added (TCP_URL host moves to the name)",
    edit: (c) => (mqtt(c).domain = { name: "mqtt.example.com", hostedZoneId: "Z0123456789ABC" }),
    movesTcpUrl: true,
    mayDestroy: /^mqtt\/TaskDefinition$/,
  },
  {
    // An NLB takes Elastic IPs only when its subnets are attached: the plan replaces it, its listeners,
    // and the task definitions that carry its DNS name in TCP_URL.
    change: "`staticIps` false → true (a new NLB; see Production networking)",
    edit: (c) => (c.staticIps = true),
    movesTcpUrl: true,
    mayDestroy: /^(Platform\/LoadBalancer\/Nlb|[a-z]+\/(Listener|TaskDefinition))$/,
  },
  // Launch type FARGATE -> a capacity provider strategy: what the provider does with the service
  // (updated in place or replaced) is what this row records; the cluster gains FARGATE_SPOT.
  { change: "`capacity` on-demand → { spot: 70%, base: 1 }", edit: (c) => (mqtt(c).capacity = { spot: "70%", base: 1 }), mayDestroy: /^mqtt\/(Service|TaskDefinition)$/ },
  { change: "`architecture` x86_64 → arm64", edit: (c) => (mqtt(c).architecture = "arm64"), mayDestroy: /^mqtt\/TaskDefinition$/ },
  { change: "`project` renamed", edit: (c) => (c.project = "acme2"), movesTcpUrl: true, mayDestroy: /.*/ },
];

/**
 * Replaced while something depends on them, yet not created first, on purpose:
 * - aws_lb: its name is in every TCP_URL host on it; it is replaced only by changes that move
 *   those URLs anyway (another VPC, a renamed project), and a same-named NLB cannot exist twice.
 * - aws_lb_listener: bound to its NLB, so replaced only with it (created first, it would make the
 *   NLB be created first too, under the same name).
 * - aws_ecs_task_definition: a replacement is a new revision of the family. Created first, it
 *   would make everything it refers to be created first too, the NLB included (its DNS name is
 *   in TCP_URL), whose name would then collide.
 * - aws_ecs_service: its name is unique in its cluster and ECS refuses a second service of that
 *   name, so it is replaced only with its cluster (a renamed project, whose URLs move anyway);
 *   its alarms and scaling target follow it.
 */
const NOT_CREATED_FIRST = new Set(["aws_lb", "aws_lb_listener", "aws_ecs_task_definition", "aws_ecs_service"]);

/** Plans run side by side, two at a time (each is a provider process). */
const CONCURRENT_PLANS = 2;

const availability = terraformAvailability();
const maybe = availability.run ? describe : describe.skip;
jest.setTimeout(20 * 60 * 1000);

maybe("a second apply with the real AWS provider", () => {
  let work: string;
  let base: SecondApply;
  const planned = new Map<Scenario, { changes: Change[]; json: Record<string, unknown> }>();

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-second-apply-"));
    base = await SecondApply.create(work, synthConfig(BASE, work));
    const queue = [...SCENARIOS];
    const worker = async () => {
      for (let scenario = queue.shift(); scenario !== undefined; scenario = queue.shift()) {
        const raw: Raw = structuredClone(BASE);
        scenario.edit(raw);
        const changed = synthConfig(raw, work);
        planned.set(scenario, { changes: await base.plan(changed), json: changed.json });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT_PLANS }, worker));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it("builds a state the base config plans as no change", () => {
    expect(base.rounds).toBeLessThanOrEqual(8);
  });

  describe.each(SCENARIOS.map((s) => [s.change, s] as const))("%s", (_name, scenario) => {
    let changes: Change[];
    let changedJson: Record<string, unknown>;

    beforeAll(() => {
      const result = planned.get(scenario);
      if (result === undefined) throw new Error(`no plan for ${scenario.change}`);
      ({ changes, json: changedJson } = result);
    });

    it("changes something", () => {
      expect(changes.length).toBeGreaterThan(0);
    });

    if (scenario.movesTcpUrl !== true) {
      it("replaces no load balancer or listener (TCP_URL stays)", () => {
        const moved = changes.filter(
          (c) => (c.type === "aws_lb" || c.type === "aws_lb_listener") && c.actions.includes("delete") && c.actions.includes("create"),
        );
        expect(moved.map((c) => c.path)).toEqual([]);
      });
    }

    it("destroys only what the change asks for", () => {
      const destroyed = changes.filter((c) => c.actions.includes("delete")).map((c) => c.path);
      expect(destroyed.filter((p) => !scenario.mayDestroy.test(p))).toEqual([]);
    });

    it("creates a replacement before destroying what others depend on, under a name that cannot collide", () => {
      const replaced = changes.filter((c) => c.actions.includes("create") && c.actions.includes("delete"));
      const destroyedFirst = replaced.filter(
        (c) => c.actions[0] !== "create" && !NOT_CREATED_FIRST.has(c.type) && dependentsOf(changedJson, c.address).length > 0,
      );
      // Created first, whatever the type (Terraform also creates first what such a resource refers to).
      const colliding = replaced.filter((c) => c.actions[0] === "create" && !nameCannotCollide(c));
      const unsafe = [...destroyedFirst, ...colliding]
        .map((c) => `${c.path} ${c.actions.join("-")} name ${c.nameBefore} -> ${c.nameAfterUnknown ? "(known after apply)" : c.nameAfter}`);
      expect(unsafe).toEqual([]);
    });
  });

  it("matches the table of what a change replaces in docs/verify.md", () => {
    const table = replacementTable(SCENARIOS.map((scenario) => ({ scenario, changes: planned.get(scenario)?.changes ?? [] })));
    fs.writeFileSync(path.join(work, "replacements.md"), table);
    const readmePath = path.resolve(__dirname, "../../docs/verify.md");
    const readme = fs.readFileSync(readmePath, "utf8");
    const [start, end] = ["<!-- replacements:start -->\n", "<!-- replacements:end -->"];
    const from = readme.indexOf(start);
    const to = readme.indexOf(end);
    expect(from).toBeGreaterThan(-1);
    expect(to).toBeGreaterThan(from);
    if (process.env.UPDATE_README === "1") {
      fs.writeFileSync(readmePath, readme.slice(0, from + start.length) + table + readme.slice(to));
      return;
    }
    expect(readme.slice(from + start.length, to)).toBe(table);
  });
});

/**
 * A replacement cannot collide with the resource it replaces when its name changes (or is
 * only known after apply, derived from what changed), or when names are unique per VPC (security
 * groups) and the VPC changes, or when it has no name.
 */
function nameCannotCollide(c: Change): boolean {
  if (c.nameBefore === undefined) return true;
  if (c.nameAfterUnknown) return true;
  if (c.nameAfter !== c.nameBefore) return true;
  return c.type === "aws_security_group" && c.replacePaths.includes("vpc_id");
}

/** The markdown table: one row per change, resources by construct path (`*` = every app). */
export function replacementTable(results: readonly { scenario: Scenario; changes: Change[] }[]): string {
  const apps = Object.keys(BASE.apps);
  const show = (changes: Change[]) => compress(changes.map((c) => c.path), apps);
  const rows = results.map(({ scenario, changes }) => {
    const replaced = changes.filter((c) => c.actions.includes("create") && c.actions.includes("delete"));
    const cell = (list: string[]) => (list.length === 0 ? "–" : list.join(", "));
    const replacedCells = compress(
      replaced.map((c) => `${c.path}${c.actions[0] === "create" ? "" : " (destroyed first)"}`),
      apps,
    );
    return [
      scenario.change,
      scenario.movesTcpUrl === true ? "moves" : "stays",
      cell(replacedCells),
      cell(show(changes.filter((c) => c.actions.join() === "update"))),
      cell(show(changes.filter((c) => c.actions.join() === "create"))),
      cell(show(changes.filter((c) => c.actions.join() === "delete"))),
    ];
  });
  const header = ["change (to app `mqtt` unless said)", "TCP_URL", "replaced", "updated in place", "created", "destroyed"];
  return [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n") + "\n";
}

/** Sorted paths, with `<app>/x` written once as `*\/x` when every app of the base config has it. */
function compress(paths: readonly string[], apps: readonly string[]): string[] {
  const set = new Set(paths);
  const out = new Set<string>();
  for (const p of [...set].sort()) {
    const [head, ...rest] = p.split("/");
    const tail = rest.join("/");
    if (apps.includes(head) && apps.every((a) => set.has(`${a}/${tail}`))) out.add(`*/${tail}`);
    else out.add(p);
  }
  return [...out].map((p) => `\`${p}\``);
}
