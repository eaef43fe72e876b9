import { Construct } from "constructs";
import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConstructError } from "./errors";
import { relativeToStack } from "./stack-dir";
import { TerraformData } from "./terraform-data";

/** Longest ECR repository name. */
export const MAX_ECR_NAME = 256;

/** Both Fargate Linux architectures in one image index (a multi-arch manifest). */
export const MULTI_ARCH = "linux/amd64,linux/arm64";

/** CPU architectures an image is built for: one, or both in one manifest list; task definitions run on the matching one. */
export type ImagePlatform = "linux/amd64" | "linux/arm64" | typeof MULTI_ARCH;

/** How an image is kept, for the props of the constructs that build one. */
export interface ImageRetentionProps {
  /**
   * Let `terraform destroy` delete the repository while it still holds images.
   * @default true: `cdktf destroy` removes the repository with its images (they are rebuilt
   * from the sources)
   */
  readonly forceDelete?: boolean;
  /**
   * Images the repository keeps; older ones expire (an ECR lifecycle policy). A task
   * definition revision that a rollback may return to points at one of the recent images.
   * @default 10
   */
  readonly keepImages?: number;
}

/** Props of {@link EcrImageBuild}: the repository, the build context and what makes the tag. */
export interface EcrImageBuildProps extends ImageRetentionProps {
  /** ECR repository name, unique in the account and region. */
  readonly repositoryName: string;
  /** What the image is, in the lifecycle rule and the build's log ("agent", "mqtt"). */
  readonly label: string;
  /** Region of the registry, for `aws ecr get-login-password`. */
  readonly region: string;
  /** Docker build context (absolute, or relative to the working folder). */
  readonly contextDir: string;
  /** The Dockerfile, relative to `contextDir`, with `/`. */
  readonly dockerfile: string;
  /**
   * Files and folders (relative to `contextDir`) whose content makes the image tag, so the tag
   * changes exactly when what goes into the image changes; missing ones are skipped.
   */
  readonly sourcePaths: readonly string[];
  /** @default "linux/amd64" */
  readonly platform?: ImagePlatform;
}

/**
 * An image built from local sources and pushed to a stack-owned ECR repository (scan on push,
 * immutable tags, a lifecycle policy). The build is a `terraform_data` resource (Terraform's
 * built-in provider, nothing to download) whose local-exec provisioner logs in to ECR, runs
 * `docker build` and pushes. The tag is a content hash of the sources, so synth is
 * deterministic, an unchanged image is never rebuilt, and a changed one gets a new tag (which a
 * new task definition revision then points at). An existing tag is not pushed again (immutable
 * tags would refuse it). Needs `docker` and the `aws` CLI where `cdktf deploy` runs.
 * `contextDir` is written relative to the stack's output folder, so the stack deploys from any
 * checkout that keeps the same layout (`cdktf.out` inside it).
 */
export class EcrImageBuild extends Construct {
  /** The ECR repository the image is pushed to (scan on push, immutable tags). */
  readonly repository: EcrRepository;
  /** Expires all but the last `keepImages` images. */
  readonly lifecyclePolicy: EcrLifecyclePolicy;
  /** The build step; task definitions depend on it so they never point at a missing image. */
  readonly build: TerraformData;
  /** Content hash of the sources, used as the image tag. */
  readonly tag: string;
  /** `<repository url>:<tag>`, for container definitions. */
  readonly imageUri: string;
  /** The `docker buildx --platform` value: the architectures the image runs on. */
  readonly platform: string;

  constructor(scope: Construct, id: string, props: EcrImageBuildProps) {
    super(scope, id);
    const platform = props.platform ?? "linux/amd64";
    this.platform = platform;
    const forceDelete = props.forceDelete ?? true;
    const keepImages = props.keepImages ?? 10;
    if (!Number.isInteger(keepImages) || keepImages < 1 || keepImages > 1000) {
      throw new ConstructError("TCP_ADDON_INVALID_PROPS", `${props.label} image: keepImages expects 1-1000 images, got ${keepImages}`);
    }
    this.tag = `src-${hashSources(props.contextDir, props.sourcePaths)}`;
    this.repository = new EcrRepository(this, "Repository", {
      name: props.repositoryName,
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
            description: `keep the last ${keepImages} ${props.label} images`,
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
          workingDir: relativeToStack(this, props.contextDir),
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
            `if aws ecr describe-images --region "$AWS_REGION" --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$IMAGE_TAG" >/dev/null 2>&1; then echo "${props.label} image $IMAGE_TAG already pushed"; exit 0; fi`,
            'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$(echo "$REPOSITORY_URL" | cut -d/ -f1)"',
            // buildx pushes one manifest list with an image per platform (Docker docs, "Multi-platform
            // builds"); a single platform pushes a plain image the same way.
            `docker buildx build --platform "$IMAGE_PLATFORM" --provenance=false -f ${props.dockerfile} -t "$REPOSITORY_URL:$IMAGE_TAG" --push .`,
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

/** Every file under `abs`, skipping `node_modules` and dot-entries inside folders (a file named directly is kept). */
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
