import { Construct } from "constructs";
import * as fs from "node:fs";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../config/package-root";
import { ConstructError } from "./errors";
import { EcrImageBuild, type ImagePlatform, type ImageRetentionProps, MAX_ECR_NAME, MULTI_ARCH } from "./image-build";
import { platformName } from "./names";

export { hashSources } from "./image-build";

/**
 * This package's root: where `runtime/Dockerfile` and the agent's sources live, in a clone and
 * inside `node_modules/tcp-addon` alike (the nearest package.json, not a fixed `..` from here).
 */
export { PACKAGE_ROOT };
/** The agent's Dockerfile, relative to the build context. */
export const DOCKERFILE = "runtime/Dockerfile";
export { MULTI_ARCH };

/** Props of {@link TcpAgentImage}: where the agent image is built from and how its repository keeps images. */
export interface TcpAgentImageProps extends ImageRetentionProps {
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
   * CPU architectures the image is built for, one manifest list for both by default (apps pick
   * theirs with `architecture`); a single one builds faster where only it is used.
   * @default "linux/amd64,linux/arm64"
   */
  readonly platform?: ImagePlatform;
}

/**
 * The agent's image, built from this repository and pushed to a stack-owned ECR repository
 * (see EcrImageBuild): `docker build -f runtime/Dockerfile` is a multi-stage build that bundles
 * the agent itself, and the tag is a content hash of the agent's sources.
 */
export class TcpAgentImage extends EcrImageBuild {
  constructor(scope: Construct, id: string, props: TcpAgentImageProps) {
    const contextDir = props.contextDir ?? PACKAGE_ROOT;
    const dockerfile = path.resolve(contextDir, DOCKERFILE);
    if (!fs.existsSync(dockerfile)) {
      throw new ConstructError(
        "TCP_ADDON_AGENT_SOURCES_MISSING",
        `agent image: ${dockerfile} not found; build from a checkout of tcp-addon or set agent.image to a prebuilt image`,
      );
    }
    super(scope, id, {
      repositoryName: platformName({ project: props.project, environment: props.environment }, "tcp-agent", MAX_ECR_NAME),
      label: "agent",
      region: props.region,
      contextDir,
      dockerfile: DOCKERFILE,
      sourcePaths: props.sourcePaths ?? [DOCKERFILE, `${DOCKERFILE}.dockerignore`, "runtime/agent"],
      platform: props.platform ?? MULTI_ARCH,
      forceDelete: props.forceDelete,
      keepImages: props.keepImages,
    });
  }
}
