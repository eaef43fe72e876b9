import { Construct } from "constructs";
import { TerraformData } from "./terraform-data";
import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../config/package-root";
import { ConstructError } from "./errors";
import { platformName } from "./names";
import { relativeToStack } from "./stack-dir";

/** Longest ECR repository name. */
const MAX_ECR_NAME = 256;

/**
 * This package's root: where `runtime/Dockerfile` and the agent's sources live, in a clone and
 * inside `node_modules/tcp-addon` alike (the nearest package.json, not a fixed `..` from here).
 */
export { PACKAGE_ROOT };
/** The agent's Dockerfile, relative to the build context. */
export const DOCKERFILE = "runtime/Dockerfile";

/** Props of {@link TcpAgentImage}: where the agent image is built from and how its repository keeps images. */
export interface TcpAgentImageProps {
  /** Resource-name prefix: the repository is `<project>-tcp-agent`. */
  readonly project: string;
  /** The project's environment, when it has one: the repository is `<project>-<environment>-tcp-agent-<hash>`. */
  readonly environment?: string;
  /** Region of the registry, for `aws ecr get-login-password`. */
  readonly region: string;
  /**
   * Docker build context; the Dockerfile is `runtime/Dockerfile` inside it.
   * @default this package's root folder
   */
  readonly contextDir?: string;
  /**
   * Files and folders (relative to `contextDir`) whose content makes the image tag, so the tag
   * changes exactly when what goes into the image changes; missing ones are skipped.
   * @default ["runtime/Dockerfile", "runtime/Dockerfile.dockerignore", "runtime/agent"]
   */
  readonly sourcePaths?: readonly string[];
  /**
   * CPU architecture the image is built for; the task definitions run on the matching one.
   * @default "linux/amd64"
   */
  readonly platform?: "linux/amd64" | "linux/arm64";
  /**
   * Let `terraform destroy` delete the repository while it still holds images.
   * @default true: `cdktf destroy` removes the repository with its images (they are rebuilt
   * from this repository's sources)
   */
  readonly forceDelete?: boolean;
  /**
   * Agent images the repository keeps; older ones expire (an ECR lifecycle policy). A task
   * definition revision that a rollback may return to points at one of the recent images.
   * @default 10
   */
  readonly keepImages?: number;
}

/**
 * The agent's image, built from this repository and pushed to a stack-owned ECR repository
 * (scan on push, immutable tags). The build is a `terraform_data` resource (Terraform's
 * built-in provider, nothing to download) whose local-exec provisioner logs in to ECR, runs
 * `docker build -f runtime/Dockerfile` (a multi-stage build that bundles the agent itself) and
 * pushes. The tag is a content hash of the agent's sources, so synth is deterministic, an
 * unchanged agent is never rebuilt, and a changed one gets a new tag (which a new task
 * definition revision then points at). An existing tag is not pushed again (immutable tags
 * would refuse it). Needs `docker` and the `aws` CLI where `cdktf deploy` runs. `contextDir` is
 * written relative to the stack's output folder, so the stack deploys from any checkout that
 * keeps the same layout (`cdktf.out` inside it).
 */
export class TcpAgentImage extends Construct {
  /** The ECR repository the image is pushed to (`<project>-tcp-agent`; scan on push, immutable tags). */
  readonly repository: EcrRepository;
  /** Expires all but the last `keepImages` images. */
  readonly lifecyclePolicy: EcrLifecyclePolicy;
  /** The build step; task definitions depend on it so they never point at a missing image. */
  readonly build: TerraformData;
  /** Content hash of the agent's sources, used as the image tag. */
  readonly tag: string;
  /** `<repository url>:<tag>`, for container definitions. */
  readonly imageUri: string;

  constructor(scope: Construct, id: string, props: TcpAgentImageProps) {
    super(scope, id);
    const contextDir = props.contextDir ?? PACKAGE_ROOT;
    const sourcePaths = props.sourcePaths ?? [DOCKERFILE, `${DOCKERFILE}.dockerignore`, "runtime/agent"];
    const platform = props.platform ?? "linux/amd64";
    const forceDelete = props.forceDelete ?? true;
    const keepImages = props.keepImages ?? 10;
    if (!Number.isInteger(keepImages) || keepImages < 1 || keepImages > 1000) {
      throw new ConstructError("TCP_ADDON_INVALID_PROPS", `agent image: keepImages expects 1-1000 images, got ${keepImages}`);
    }

    const dockerfile = path.resolve(contextDir, DOCKERFILE);
    if (!fs.existsSync(dockerfile)) {
      throw new ConstructError(
        "TCP_ADDON_AGENT_SOURCES_MISSING",
        `agent image: ${dockerfile} not found; build from a checkout of tcp-addon or set agent.image to a prebuilt image`,
      );
    }
    this.tag = `src-${hashSources(contextDir, sourcePaths)}`;
    this.repository = new EcrRepository(this, "Repository", {
      name: platformName({ project: props.project, environment: props.environment }, "tcp-agent", MAX_ECR_NAME),
      imageTagMutability: "IMMUTABLE",
      imageScanningConfiguration: { scanOnPush: true },
      forceDelete,
      // Replaced only by a new project name (in its name): the new one is filled before the old goes.
      lifecycle: { createBeforeDestroy: true },
    });
    this.lifecyclePolicy = new EcrLifecyclePolicy(this, "Lifecycle", {
      repository: this.repository.name,
      policy: JSON.stringify({
        rules: [
          {
            rulePriority: 1,
            description: `keep the last ${keepImages} agent images`,
            selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keepImages },
            action: { type: "expire" },
          },
        ],
      }),
    });
    this.imageUri = `${this.repository.repositoryUrl}:${this.tag}`;
    this.build = new TerraformData(this, "Build", {
      triggersReplace: { tag: this.tag, repository: this.repository.repositoryUrl },
      lifecycle: { createBeforeDestroy: true },
      input: { image: this.imageUri },
      provisioners: [
        {
          type: "local-exec",
          // Relative to the stack's output folder (where Terraform runs): no path of this machine in the JSON.
          workingDir: relativeToStack(this, contextDir),
          interpreter: ["/bin/sh", "-c"],
          environment: {
            AWS_REGION: props.region,
            REPOSITORY_NAME: this.repository.name,
            REPOSITORY_URL: this.repository.repositoryUrl,
            IMAGE_TAG: this.tag,
            IMAGE_PLATFORM: platform,
          },
          // Shell variables are written $NAME (no braces): "${" would be Terraform interpolation.
          command: [
            "set -e",
            'if aws ecr describe-images --region "$AWS_REGION" --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$IMAGE_TAG" >/dev/null 2>&1; then echo "agent image $IMAGE_TAG already pushed"; exit 0; fi',
            'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$(echo "$REPOSITORY_URL" | cut -d/ -f1)"',
            `docker build --platform "$IMAGE_PLATFORM" -f ${DOCKERFILE} -t "$REPOSITORY_URL:$IMAGE_TAG" .`,
            'docker push "$REPOSITORY_URL:$IMAGE_TAG"',
          ].join("\n"),
        },
      ],
    });
  }
}

/** sha256 over the sorted relative paths and contents of every file under `paths` (missing ones skipped); 12 hex digits. */
export function hashSources(root: string, paths: readonly string[]): string {
  const files: string[] = [];
  for (const rel of paths) {
    const abs = path.resolve(root, rel);
    if (fs.existsSync(abs)) collectFiles(abs, files);
  }
  const hash = createHash("sha256");
  for (const file of [...new Set(files)].sort()) {
    hash.update(path.relative(root, file).split(path.sep).join("/")).update("\0");
    hash.update(fs.readFileSync(file)).update("\0");
  }
  return hash.digest("hex").slice(0, 12);
}

function collectFiles(abs: string, into: string[]): void {
  const stat = fs.statSync(abs);
  if (stat.isFile()) {
    into.push(abs);
    return;
  }
  if (!stat.isDirectory()) return;
  for (const entry of fs.readdirSync(abs)) {
    if (entry === "node_modules" || entry.startsWith(".")) continue;
    collectFiles(path.join(abs, entry), into);
  }
}
