import * as path from "node:path";
import type { z } from "zod";
import type { StateSchema, StateSpec } from "./schema";

/**
 * Working as a team: the stack's name and where its Terraform state lives, from the project,
 * the optional environment and the config's `state:`. Pure; the constructs write the backend.
 */

/** The project and, when the config names one, its environment: what names and keys are made of. */
export interface Deployment {
  /** The config's `project:`. */
  readonly project: string;
  /** The config's `environment:`; undefined when it names none. */
  readonly environment?: string;
}

/** The stack (and `cdktf.out/stacks/<name>` folder): `<project>-<environment>`, or `<project>` without one. */
export function stackName({ project, environment }: Deployment): string {
  return environment === undefined ? project : `${project}-${environment}`;
}

/** The S3 object key when `state.s3.key` is omitted: `tcp-addon/<project>/<environment or "default">.tfstate`. */
export function defaultStateKey({ project, environment }: Deployment): string {
  return `tcp-addon/${project}/${environment ?? "default"}.tfstate`;
}

/** The state file when the config has no `state:`: `terraform.<stack>.tfstate` in `dir` (the config's folder). */
export function defaultLocalState(deployment: Deployment, dir: string): StateSpec {
  return { backend: "local", path: path.resolve(dir, `terraform.${stackName(deployment)}.tfstate`) };
}

/** Printed once at synth when the config has no `state:`. */
export const LOCAL_STATE_NOTICE =
  "tcp-addon: Terraform state is a local file next to the config (fine for a first try, not for a team); set `state: { s3: { bucket, region } }` to share it (docs/team.md)";

/** The parsed `state:` block as a StateSpec: the S3 key defaulted, a local path made absolute against `baseDir`. */
export function resolveState(state: z.infer<typeof StateSchema>, deployment: Deployment, baseDir: string): StateSpec {
  if (state.s3 !== undefined) {
    const { bucket, region, key, dynamodbTable } = state.s3;
    return {
      backend: "s3",
      bucket,
      region,
      key: key ?? defaultStateKey(deployment),
      ...(dynamodbTable === undefined ? {} : { dynamodbTable }),
    };
  }
  if (state.local !== undefined) return { backend: "local", path: path.resolve(baseDir, state.local.path) };
  throw new Error("internal: state passed validation without s3 or local");
}
