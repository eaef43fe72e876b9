import * as fs from "node:fs";
import * as path from "node:path";
import { appResourceName, loadBalancerName } from "../../constructs/names";
import { configText, synthConfig } from "./synth";

/** The README's "Working as a team" section says what the code does. */

const README = fs.readFileSync(path.resolve(__dirname, "..", "..", "README.md"), "utf8");
const section = README.slice(README.indexOf("## Working as a team"), README.indexOf("## The runtime agent"));

describe('README "Working as a team"', () => {
  it("exists, before the agent's section", () => {
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
    expect(section).toContain("(examples/github-actions/README.md)");
    expect(fs.existsSync(path.resolve(__dirname, "..", "..", "examples", "github-actions", "deploy.yml"))).toBe(true);
  });
});
