import { TerraformStack, Testing } from "cdktf";
import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../config/load";
import { APP_SOURCE_PATHS, TcpAppImage } from "../../constructs/app-image";
import { hashSources } from "../../constructs/image-build";
import { stackOutputDir } from "../../constructs/stack-dir";
import { TcpApp } from "../../constructs/tcp-app";
import { TcpPlatform } from "../../constructs/platform";
import { appFixture, configFixture, containersOf, ref, resourceIn, synthStack, type TfJson } from "./fixtures";
import { AGENT_IMAGE } from "../helpers/images";

/**
 * Apps built from source (`build: <folder>`): the example config as shipped builds
 * examples/mqtt/Dockerfile into the app's own ECR repository, tagged by the folder's content.
 */

Testing.setupJest();

const ROOT = path.resolve(__dirname, "../..");
const EXAMPLE = path.join(ROOT, "examples", "mqtt");

type LocalExec = { command: string; working_dir: string; environment: Record<string, string> };
const localExec = (tf: TfJson, prefix: string) =>
  (resourceIn(tf, "terraform_data", prefix) as { provisioner: { "local-exec": LocalExec }[] }).provisioner[0]["local-exec"];

/** A copy of examples/mqtt's sources (no node_modules) in a scratch folder. */
function copyOfExample(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-app-src-"));
  fs.cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => path.basename(src) !== "node_modules" });
  return dir;
}

/** The tag of an app image built from `folder`: the construct computes it when created, no synth needed. */
const tagOf = (folder: string) =>
  new TcpAppImage(new TerraformStack(Testing.app({ outdir: os.tmpdir() }), "tags"), "Image", {
    deployment: { project: "acme" },
    app: "mqtt",
    region: "eu-west-1",
    folder,
  }).tag;

describe("the example config, as shipped", () => {
  let json: string;
  let tf: TfJson;
  let outdir: string;

  beforeAll(() => {
    // The example's own file (build: examples/mqtt), with the agent prebuilt so the only build is the app's.
    const config = { ...loadConfig(path.join(ROOT, "tcp-addon.yaml")), agentImage: AGENT_IMAGE };
    const synth = synthStack(config);
    ({ json, tf } = synth);
    outdir = stackOutputDir(synth.stack);
  });

  it("declares the app's ECR repository <project>-<app>-app with scan on push and immutable tags", () => {
    expect(json).toHaveResourceWithProperties(EcrRepository, {
      name: "acme-mqtt-app",
      image_tag_mutability: "IMMUTABLE",
      image_scanning_configuration: { scan_on_push: true },
      force_delete: true,
    });
  });

  it("expires all but the last 10 images of the repository", () => {
    expect(json).toHaveResourceWithProperties(EcrLifecyclePolicy, {
      repository: ref(tf, "aws_ecr_repository", "mqtt_Image_Repository", "name"),
    });
    const policy = JSON.parse(resourceIn(tf, "aws_ecr_lifecycle_policy", "mqtt_Image_Lifecycle").policy as string) as {
      rules: { selection: { countType: string; countNumber: number }; action: { type: string } }[];
    };
    expect(policy.rules).toEqual([
      expect.objectContaining({ selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 10 }, action: { type: "expire" } }),
    ]);
  });

  it("builds examples/mqtt/Dockerfile there and pushes it under a tag made of the folder's content", () => {
    const exec = localExec(tf, "mqtt_Image_Build");
    expect(path.isAbsolute(exec.working_dir)).toBe(false);
    expect(path.resolve(outdir, exec.working_dir)).toBe(EXAMPLE);
    expect(exec.command).toContain('docker buildx build --platform "$IMAGE_PLATFORM" --provenance=false -f Dockerfile -t "$REPOSITORY_URL:$IMAGE_TAG" --push .');
    const tag = `src-${hashSources(EXAMPLE, APP_SOURCE_PATHS)}`;
    expect(exec.environment).toMatchObject({ IMAGE_TAG: tag, IMAGE_PLATFORM: "linux/amd64" });
    expect(resourceIn(tf, "terraform_data", "mqtt_Image_Build").triggers_replace).toEqual({
      tag,
      repository: ref(tf, "aws_ecr_repository", "mqtt_Image_Repository", "repository_url"),
    });
  });

  it("runs that image in the app container, and registers the task definition after the build", () => {
    const tag = `src-${hashSources(EXAMPLE, APP_SOURCE_PATHS)}`;
    const app = containersOf(tf, "mqtt").find((c) => c.name === "app");
    expect(app?.image).toBe(`${ref(tf, "aws_ecr_repository", "mqtt_Image_Repository", "repository_url")}:${tag}`);
    const buildId = Object.keys(tf.resource?.terraform_data ?? {}).find((id) => id.startsWith("mqtt_Image_Build"));
    expect(resourceIn(tf, "aws_ecs_task_definition", "mqtt_").depends_on).toEqual([`terraform_data.${buildId}`]);
  });
});

describe("an app's image tag", () => {
  const folders: string[] = [];
  const scratch = () => {
    const dir = copyOfExample();
    folders.push(dir);
    return dir;
  };
  afterAll(() => folders.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  it("stays the same when nothing changed, wherever the folder is", () => {
    expect(tagOf(scratch())).toBe(tagOf(EXAMPLE));
    expect(tagOf(EXAMPLE)).toBe(tagOf(EXAMPLE));
  });

  it.each([
    ["a source file", "server.js"],
    ["the Dockerfile", "Dockerfile"],
    ["the .dockerignore", ".dockerignore"],
    ["the lock file", "package-lock.json"],
  ])("changes when %s changes", (_what, file) => {
    const dir = scratch();
    const before = tagOf(dir);
    fs.appendFileSync(path.join(dir, file), "\n# changed\n");
    expect(tagOf(dir)).not.toBe(before);
  });

  it("ignores node_modules (the .dockerignore keeps it out of the build too)", () => {
    const dir = scratch();
    const before = tagOf(dir);
    fs.mkdirSync(path.join(dir, "node_modules", "x"), { recursive: true });
    fs.writeFileSync(path.join(dir, "node_modules", "x", "index.js"), "module.exports = 1;\n");
    expect(tagOf(dir)).toBe(before);
  });
});

describe("TcpApp with build", () => {
  const platformOf = () => {
    const stack = new TerraformStack(Testing.app({ outdir: os.tmpdir() }), "acme");
    return { stack, platform: new TcpPlatform(stack, "Platform", { project: "acme", agentImage: "x/agent:1", region: "eu-west-1" }) };
  };

  it("builds for the platform's architecture", () => {
    const config = configFixture([appFixture("mqtt", { image: undefined, build: EXAMPLE, port: 20003 })]);
    const { tf } = synthStack(config, { agentBuild: { platform: "linux/arm64" } });
    expect(localExec(tf, "mqtt_Image_Build").environment.IMAGE_PLATFORM).toBe("linux/arm64");
  });

  it("refuses both image and build, and neither", () => {
    const { stack, platform } = platformOf();
    expect(() => new TcpApp(stack, "both", { platform, image: "x:1", build: EXAMPLE, command: "node s.js", port: 1 })).toThrow(
      /^both\.build: set either `image:` or `build:`, not both; remove one$/,
    );
    expect(() => new TcpApp(stack, "neither", { platform, command: "node s.js", port: 2 })).toThrow(/^neither\.image: no image; set `image:`/);
  });

  it("refuses a folder without a Dockerfile with the code TCP_ADDON_INVALID_PROPS and one line", () => {
    const { stack, platform } = platformOf();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-no-dockerfile-"));
    try {
      let caught: unknown;
      try {
        new TcpApp(stack, "mqtt", { platform, build: empty, command: "node s.js", port: 1 });
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: "TCP_ADDON_INVALID_PROPS" });
      expect((caught as Error).message).toMatch(/^mqtt\.build: no Dockerfile in .+; add one \(examples\/mqtt\/Dockerfile is a small one\) or set `image:` to a prebuilt image$/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

/**
 * `docker build` of the example where a Docker engine answers. This machine has the docker client
 * and no engine: the test says so in one line and passes (also under CI=true: CI runners here
 * have no engine either, and the build needs Docker Hub).
 */
describe("docker build of examples/mqtt", () => {
  const engine = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
  const available = engine.status === 0 && engine.stdout.trim() !== "";
  if (!available) process.stdout.write("docker build: skipped: no Docker engine\n");
  const maybe = available ? it : it.skip;

  maybe(
    "builds an image that runs as uid 1000 with tini as its entry point",
    () => {
      const tag = `tcp-addon-mqtt-test:${tagOf(EXAMPLE)}`;
      const build = spawnSync("docker", ["build", "-q", "-t", tag, "."], { cwd: EXAMPLE, encoding: "utf8", timeout: 280_000 });
      expect({ status: build.status, stderr: build.stderr }).toMatchObject({ status: 0 });
      const inspect = spawnSync("docker", ["image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}}", tag], { encoding: "utf8" });
      expect(inspect.stdout.trim()).toBe('1000:1000 ["/sbin/tini","-g","--"]');
      spawnSync("docker", ["image", "rm", tag]);
    },
    300_000,
  );
});
