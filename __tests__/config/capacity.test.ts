import { resolveConfig } from "../../config";
import { issuesOf } from "./helpers";
import { AppSchema, CapacitySchema } from "../../config/schema";

/** `capacity:` (Fargate, Fargate Spot or a mix) and `architecture:` (x86_64 or arm64) per app. */

function config(app: Record<string, unknown> = {}): Record<string, unknown> {
  return { project: "acme", region: "eu-west-1", apps: { mqtt: { image: "img:1", command: "node server.js", ...app } } };
}


const app = (overrides: Record<string, unknown>) => resolveConfig(config(overrides), "/srv").apps[0];

describe("capacity", () => {
  it("is on-demand by default, and then not written into the resolved app (existing configs resolve unchanged)", () => {
    expect(app({}).capacity).toBeUndefined();
    expect(app({ capacity: "on-demand" }).capacity).toBeUndefined();
  });

  it("spot puts every task on Fargate Spot", () => {
    expect(app({ capacity: "spot" }).capacity).toEqual({ spotPercent: 100, base: 0 });
  });

  it.each([["70%"], [70]])("a mix takes the Spot share as %p, and an on-demand base", (spot) => {
    expect(app({ capacity: { spot, base: 2 } }).capacity).toEqual({ spotPercent: 70, base: 2 });
    expect(app({ capacity: { spot } }).capacity).toEqual({ spotPercent: 70, base: 0 });
  });

  it.each([
    [{ spot: "170%" }, /apps\.mqtt\.capacity/],
    [{ spot: 50, bse: 1 }, /apps\.mqtt\.capacity/],
    ["cheap", /apps\.mqtt\.capacity/],
  ])("%p is one clear error", (capacity, path) => {
    const issues = issuesOf(config({ capacity }));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.join("\n")).toMatch(path);
  });

  it("a Spot app drains until the health checks have taken an interrupted task out of the rotation (2 x 10 s + 5 s)", () => {
    expect(app({ capacity: "spot" }).deploy).toMatchObject({ agentDrainSeconds: 25, stopTimeoutSeconds: 35 });
    expect(app({}).deploy).toMatchObject({ agentDrainSeconds: 15 });
  });

  it("a Spot app with a shorter drain set by hand is warned, with the fix", () => {
    const resolved = resolveConfig(config({ capacity: "spot", deploy: { agentDrainSeconds: 10 } }), "/srv");
    expect(resolved.warnings).toEqual([
      "apps.mqtt.deploy.agentDrainSeconds: 10 s of drain end before the NLB's health checks take an interrupted Spot task out of the rotation (25 s), so new flows may be refused; set deploy.agentDrainSeconds: 25 or more",
    ]);
  });
});

describe("architecture", () => {
  it("is x86_64 by default (not written), arm64 when asked", () => {
    expect(app({}).architecture).toBeUndefined();
    expect(app({ architecture: "arm64" }).architecture).toBe("arm64");
  });

  it("Fargate Spot with arm64 is an error naming both fixes", () => {
    // ECS docs, "AWS Fargate capacity providers": "Linux tasks with the ARM64 architecture don't
    // support the Fargate Spot capacity provider."
    expect(issuesOf(config({ architecture: "arm64", capacity: { spot: "50%" } }))).toEqual([
      "apps.mqtt.capacity: Fargate Spot runs x86_64 tasks only; set `architecture: x86_64` or `capacity: on-demand`",
    ]);
  });

  it("an unknown architecture is one error", () => {
    expect(issuesOf(config({ architecture: "aarch64" })).join("\n")).toMatch(/apps\.mqtt\.architecture/);
  });
});

describe("the schema describes the new keys", () => {
  it.each([
    ["capacity", CapacitySchema.description],
    ["architecture", AppSchema.shape.architecture.description],
  ])("%s has a one-line description", (_key, description) => {
    expect(description).toMatch(/^[^\n]{10,200}$/);
  });
});
