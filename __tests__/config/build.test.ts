import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { AppSchema, ConfigError, loadConfig } from "../../config";

/** `build: <folder>` instead of `image:`: exactly one of the two, and a folder with a Dockerfile. */

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-build-"));
  fs.mkdirSync(path.join(dir, "app"));
  fs.writeFileSync(path.join(dir, "app", "Procfile"), "tcp: node server.js\n");
  fs.writeFileSync(path.join(dir, "app", "Dockerfile"), "FROM node:22-alpine\n");
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(mqtt: Record<string, unknown>): string {
  const file = path.join(dir, "tcp-addon.yaml");
  fs.writeFileSync(file, stringify({ project: "acme", region: "eu-west-1", apps: { mqtt: { procfile: "app/Procfile", ...mqtt } } }));
  return file;
}

function issuesOf(file: string): readonly string[] {
  try {
    loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

it("resolves `build:` to the folder, relative to the config file's folder, with no image", () => {
  const app = loadConfig(write({ build: "app" })).apps[0];
  expect(app.build).toBe(path.join(dir, "app"));
  expect(app.image).toBeUndefined();
});

it("keeps `image:` apps as they were, with no build", () => {
  const app = loadConfig(write({ image: "x/mqtt:1" })).apps[0];
  expect(app.image).toBe("x/mqtt:1");
  expect(app.build).toBeUndefined();
});

it("refuses both image and build, on the build line", () => {
  expect(issuesOf(write({ image: "x/mqtt:1", build: "app" }))).toEqual([
    expect.stringMatching(/tcp-addon\.yaml:\d+: apps\.mqtt\.build: set either `image:` or `build:`, not both; remove one$/),
  ]);
});

it("refuses an app with neither", () => {
  expect(issuesOf(write({}))).toEqual([
    expect.stringMatching(/: apps\.mqtt\.image: no image; set `image:` \(a container image reference\) or `build:` \(a folder with a Dockerfile\)$/),
  ]);
});

it("names a missing folder and what it is relative to", () => {
  expect(issuesOf(write({ build: "ap" }))).toEqual([
    expect.stringMatching(/: apps\.mqtt\.build: folder not found at .*ap; fix the path \(relative to the config file's folder\) or set `image:` to a prebuilt image$/),
  ]);
});

it("names a folder without a Dockerfile", () => {
  fs.rmSync(path.join(dir, "app", "Dockerfile"));
  expect(issuesOf(write({ build: "app" }))).toEqual([
    expect.stringMatching(/: apps\.mqtt\.build: no Dockerfile in .*app; add one \(examples\/mqtt\/Dockerfile is a small one\) or set `image:` to a prebuilt image$/),
  ]);
});

it("refuses a file where a folder is expected", () => {
  expect(issuesOf(write({ build: "app/Procfile" }))).toEqual([
    expect.stringMatching(/: apps\.mqtt\.build: .*Procfile is a file; name the folder that holds the app's Dockerfile$/),
  ]);
});

it("runs a `command:` locally in the build folder, where the image's files are", () => {
  const file = path.join(dir, "tcp-addon.yaml");
  fs.writeFileSync(file, stringify({ project: "acme", region: "eu-west-1", apps: { mqtt: { build: "app", command: "node server.js" } } }));
  expect(loadConfig(file).apps[0].workdir).toBe(path.join(dir, "app"));
});

it("describes the key in one line for the generated reference", () => {
  expect(AppSchema.shape.build.description).toMatch(/^A folder with a Dockerfile .*; exactly one of image and build\.$/);
});

it("resolves the example config as shipped to examples/mqtt", () => {
  const root = path.resolve(__dirname, "../..");
  const app = loadConfig(path.join(root, "tcp-addon.yaml")).apps.find((a) => a.name === "mqtt");
  expect(app?.build).toBe(path.join(root, "examples", "mqtt"));
  expect(app?.workdir).toBe(path.join(root, "examples", "mqtt"));
});
