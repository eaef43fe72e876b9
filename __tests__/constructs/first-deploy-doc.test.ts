import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { usage } from "../../cli/main";
import { synthConfig } from "../provider/second-apply";
import type { TfJson } from "./fixtures";

/**
 * docs/first-deploy.md against the example it deploys: the commands it shows exist, the resource
 * count `npm run synth` prints, and the hourly cost table (what is billed by the hour, how many of
 * each the example declares, and the arithmetic of each month and the total).
 */

const ROOT = path.resolve(__dirname, "../..");
const guide = fs.readFileSync(path.join(ROOT, "docs", "first-deploy.md"), "utf8");
const HOURS_PER_MONTH = 730;

const cents = (dollars: number) => Math.round(dollars * 100 + 1e-9);
const dollars = (text: string) => Number(text.replace(/[$*]/g, ""));

/** The rows of the table after the `hourly-costs` marker: item, count, per hour, per month. */
function hourlyCostRows(): { item: string; count: number; perHour: number; perMonth: number }[] {
  const lines = guide.split("\n");
  const start = lines.findIndex((l) => l.startsWith("<!-- hourly-costs"));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 3)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((cell) => cell.trim()));
  }
  return rows.map(([item, count, perHour, perMonth]) => ({ item, count: Number(count), perHour: dollars(perHour), perMonth: dollars(perMonth) }));
}

const all = (tf: TfJson, type: string) => Object.values(tf.resource?.[type] ?? {});

/** Every `npm run X`, `npx tcp-addon X` and `npx cdktf X` in the guide's shell blocks. */
function commandsShown(): { tool: "npm run" | "npx tcp-addon" | "npx cdktf"; name: string }[] {
  const blocks = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((block) =>
    [...block.matchAll(/\b(npm run|npx tcp-addon|npx cdktf) ([a-z:-]+)/g)].map((m) => ({ tool: m[1] as "npm run" | "npx tcp-addon" | "npx cdktf", name: m[2] })),
  );
}

describe("docs/first-deploy.md", () => {
  let tf: TfJson;

  beforeAll(() => {
    tf = synthConfig(parse(fs.readFileSync(path.join(ROOT, "tcp-addon.yaml"), "utf8")), ROOT).json;
  });

  it("shows only commands that exist: npm scripts, tcp-addon commands, and cdktf's deploy and destroy", () => {
    const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const shown = commandsShown();
    expect(shown.map((c) => `${c.tool} ${c.name}`)).toEqual(
      expect.arrayContaining(["npm run synth", "npm run validate", "npx cdktf deploy", "npx tcp-addon urls", "npx cdktf destroy"]),
    );
    for (const { tool, name } of shown) {
      if (tool === "npm run") expect(Object.keys(scripts)).toContain(name);
      if (tool === "npx tcp-addon") expect(usage()).toMatch(new RegExp(`^  ${name} `, "m"));
      if (tool === "npx cdktf") expect(["deploy", "destroy", "synth"]).toContain(name);
    }
  });

  /**
   * The teardown table's "deleted" rows rest on what the stack sets. ECR: "If the repository isn't
   * empty, you must either delete the contents of the repository or use the force option to delete
   * the repository and have Amazon ECR delete all of its contents on your behalf"
   * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DeleteRepository.html), which
   * the provider's `force_delete` sets. A log group without `skip_destroy` and a load balancer
   * without deletion protection are deleted by `terraform destroy`.
   */
  it("tears down what the guide says it deletes: repositories with their images, the log group, the load balancer", () => {
    expect(guide).toContain("deleted **with their images** (`force_delete = true`)");
    const repositories = all(tf, "aws_ecr_repository");
    expect(repositories.map((r) => r.name).sort()).toEqual(["acme-mqtt-app", "acme-tcp-agent"]);
    for (const repository of repositories) expect(repository.force_delete).toBe(true);
    for (const group of all(tf, "aws_cloudwatch_log_group")) expect(group.skip_destroy).toBeUndefined();
    for (const lb of all(tf, "aws_lb")) expect(lb.enable_deletion_protection).toBe(false);
  });

  it("quotes the resource count the example synthesizes to", () => {
    const count = Object.values(tf.resource ?? {}).reduce((n, byId) => n + Object.keys(byId).length, 0);
    expect(guide).toContain(`wrote cdktf.out/stacks/acme/cdk.tf.json: 1 app, 1 stack, ${count} resources`);
  });

  it("counts what the example bills by the hour as the synth declares it", () => {
    const rows = hourlyCostRows();
    const row = (prefix: string) => rows.find((r) => r.item.startsWith(prefix));
    const nlbs = all(tf, "aws_lb");
    // An internet-facing NLB has a public IPv4 address in each of its subnets (Elastic IPs with subnet_mapping, counted as aws_eip).
    const nlbAddresses = nlbs.reduce((n, lb) => n + (lb.internal === false && lb.subnet_mapping === undefined ? (lb.subnets as unknown[]).length : 0), 0);
    expect(row("Network Load Balancer")?.count).toBe(nlbs.length);
    expect(row("NAT gateway")?.count).toBe(all(tf, "aws_nat_gateway").length);
    expect(row("public IPv4 addresses")?.count).toBe(all(tf, "aws_eip").length + nlbAddresses);
    expect(row("Fargate task")?.count).toBe(all(tf, "aws_ecs_service").reduce((n, s) => n + (s.desired_count as number), 0));
  });

  it("prices the Fargate task from its size and the per-vCPU and per-GB rates the page states", () => {
    const [, vcpu, gb] = /\$([\d.]+) per vCPU-hour and \$([\d.]+) per GB-hour/.exec(guide) ?? [];
    const task = all(tf, "aws_ecs_task_definition")[0];
    const perHour = (Number(task.cpu) / 1024) * Number(vcpu) + (Number(task.memory) / 1024) * Number(gb);
    expect(hourlyCostRows().find((r) => r.item.startsWith("Fargate task"))?.perHour).toBeCloseTo(perHour, 9);
  });

  it("adds up: each month is count x price x 730 h, and the total their sum", () => {
    const rows = hourlyCostRows();
    const items = rows.filter((r) => !r.item.includes("total"));
    expect(items).toHaveLength(4);
    for (const r of items) expect(cents(r.perMonth)).toBe(cents(r.count * r.perHour * HOURS_PER_MONTH));
    const total = rows.find((r) => r.item.includes("total"));
    expect(cents(total?.perMonth ?? NaN)).toBe(cents(items.reduce((sum, r) => sum + r.count * r.perHour * HOURS_PER_MONTH, 0)));
  });
});
