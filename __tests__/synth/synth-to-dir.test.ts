import { Aspects, IAspect, TerraformOutput, TerraformStack } from "cdktf";
import type { IConstruct } from "constructs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { synthToDir } from "../../constructs/synth";
import { readTree } from "./tree";

class Refuse implements IAspect {
  visit(_node: IConstruct): void {
    throw new Error("policy: refused");
  }
}

describe("synthToDir", () => {
  let work: string;
  let target: string;

  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-synth-"));
    target = path.join(work, "cdktf.out");
  });

  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const oldOutput = () => {
    fs.mkdirSync(path.join(target, "stacks", "old"), { recursive: true });
    fs.writeFileSync(path.join(target, "marker"), "old output\n");
    fs.writeFileSync(path.join(target, "stacks", "old", "cdk.tf.json"), "{}\n");
    return readTree(target);
  };

  const simpleStack = (app: Parameters<Parameters<typeof synthToDir>[1]>[0]) => {
    const stack = new TerraformStack(app, "demo");
    new TerraformOutput(stack, "greeting", { value: "hello" });
    return stack;
  };

  it("writes the manifest and stacks/<id>/cdk.tf.json", () => {
    synthToDir(target, simpleStack);
    const tf = JSON.parse(fs.readFileSync(path.join(target, "stacks", "demo", "cdk.tf.json"), "utf8"));
    expect(tf.output.greeting.value).toBe("hello");
    expect(fs.existsSync(path.join(target, "manifest.json"))).toBe(true);
  });

  it("replaces an existing output as a whole", () => {
    oldOutput();
    synthToDir(target, simpleStack);
    expect(Object.keys(readTree(target)).sort()).toEqual(["manifest.json", path.join("stacks", "demo", "cdk.tf.json")]);
  });

  it("leaves the old output byte for byte when building the stacks throws", () => {
    const before = oldOutput();
    expect(() =>
      synthToDir(target, () => {
        throw new Error("bad stack");
      }),
    ).toThrow("bad stack");
    expect(readTree(target)).toEqual(before);
  });

  it("leaves the old output byte for byte when an Aspect throws during synth", () => {
    const before = oldOutput();
    expect(() => synthToDir(target, (app) => Aspects.of(simpleStack(app)).add(new Refuse()))).toThrow(
      "policy: refused",
    );
    expect(readTree(target)).toEqual(before);
  });

  it("leaves no staging folder behind, after success or failure", () => {
    synthToDir(target, simpleStack);
    expect(() => synthToDir(target, (app) => Aspects.of(simpleStack(app)).add(new Refuse()))).toThrow();
    expect(fs.readdirSync(work)).toEqual(["cdktf.out"]);
  });

  it("creates no output folder when the first synth fails", () => {
    expect(() =>
      synthToDir(target, () => {
        throw new Error("bad stack");
      }),
    ).toThrow();
    expect(fs.readdirSync(work)).toEqual([]);
  });

  it("makes an ordinary, readable output folder (not mkdtemp's private one)", () => {
    synthToDir(target, simpleStack);
    expect(fs.statSync(target).mode & 0o777).toBe(0o755);
  });
});
