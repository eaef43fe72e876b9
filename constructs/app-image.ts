import { Construct } from "constructs";
import * as path from "node:path";
import type { Deployment } from "../config/state";
import { appBuildProblem, APP_DOCKERFILE } from "../config/build";
import { ConstructError } from "./errors";
import { EcrImageBuild, type ImagePlatform, type ImageRetentionProps, MAX_ECR_NAME } from "./image-build";
import { appResourceName } from "./names";

export { APP_DOCKERFILE };

/**
 * What makes an app's image tag: every file of its folder except `node_modules` and dot-entries
 * (not in the image: the folder's `.dockerignore` should exclude them too), plus the
 * `.dockerignore` itself, which decides what the build sees.
 */
export const APP_SOURCE_PATHS: readonly string[] = [".", ".dockerignore"];

/** Props of {@link TcpAppImage}: the app, its folder and the architecture it is built for. */
export interface TcpAppImageProps extends ImageRetentionProps {
  /** The project and environment: the repository is `<project>[-<environment>]-<app>-app` (names.ts). */
  readonly deployment: Deployment;
  /** The app's name. */
  readonly app: string;
  /** Region of the registry, for `aws ecr get-login-password`. */
  readonly region: string;
  /** The build context: a folder with a `Dockerfile` (absolute, or relative to the working folder). */
  readonly folder: string;
  /**
   * CPU architecture the image is built for: the task's.
   * @default "linux/amd64"
   */
  readonly platform?: ImagePlatform;
}

/**
 * An app's image built from its folder (`build:` in the config) with `docker build -f Dockerfile .`
 * there, pushed to the app's own ECR repository the way the agent's image is (see EcrImageBuild):
 * tagged by a hash of the folder's content, so an unchanged app is not rebuilt.
 */
export class TcpAppImage extends EcrImageBuild {
  constructor(scope: Construct, id: string, props: TcpAppImageProps) {
    const folder = path.resolve(props.folder);
    const problem = appBuildProblem(folder);
    if (problem !== undefined) throw new ConstructError("TCP_ADDON_INVALID_PROPS", `${props.app}.build: ${problem}`);
    super(scope, id, {
      // The "-app" suffix keeps it apart from the agent's `<project>-tcp-agent`, whatever the app's name.
      repositoryName: appResourceName(props.deployment, props.app, "app", MAX_ECR_NAME),
      label: props.app,
      region: props.region,
      contextDir: folder,
      dockerfile: APP_DOCKERFILE,
      sourcePaths: APP_SOURCE_PATHS,
      platform: props.platform,
      forceDelete: props.forceDelete,
      keepImages: props.keepImages,
    });
  }
}
