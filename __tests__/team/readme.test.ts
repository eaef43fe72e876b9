import * as fs from "node:fs";
import * as path from "node:path";
import { appResourceName, loadBalancerName } from "../../constructs/names";
import { configText, synthConfig } from "./synth";

/** The "Working as a team" page (docs/team.md) says what the code does. */

const section = fs.readFileSync(path.resolve(__dirname, "..", "..", "docs", "team.md"), "utf8");

describe('docs/team.md "Working as a team"', () => {
  it("exists", () => {
    expect(section.startsWith("# Working as a team\n")).toBe(true);
    expect(section.length).toBeGreaterThan(1000);
  });

  it("shows the backend block that synth writes for its state: example", () => {
    const shown = /```json\n"backend": (\{.*\})\n```/.exec(section);
    expect(shown).not.toBeNull();
    const { tf, dir } = synthConfig(configText("environment: prod\nstate:\n  s3: { bucket: acme-tf-state, region: eu-west-1 }"));
    fs.rmSync(dir, { recursive: true, force: true });
    expect(JSON.parse(shown?.[1] ?? "null")).toEqual(tf.terraform.backend);
  });

  it("gives example names that names.ts makes", () => {
    expect(section).toContain(`\`${loadBalancerName({ project: "acme", environment: "prod" }, 0)}\``);
    expect(section).toContain(`\`${appResourceName({ project: "acme", environment: "prod" }, "mqtt")}\``);
  });

  it("links the CI example that exists", () => {
    expect(section).toContain("(../examples/github-actions/README.md)");
    expect(fs.existsSync(path.resolve(__dirname, "..", "..", "examples", "github-actions", "deploy.yml"))).toBe(true);
  });
});
