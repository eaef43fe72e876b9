import type { StateSpec } from "./schema";

/**
 * The Terraform CLI a synthesized stack needs, written into it as `required_version`, so an older
 * Terraform stops at `init` with its own "Unsupported Terraform Core version" instead of failing
 * halfway. One place for the README, the stack and the messages.
 *
 * - 1.4: the built-in `terraform_data` resource builds the agent image (Terraform 1.4 added it:
 *   hashicorp/terraform#31757, "New terraform_data managed resource to replace null_resource");
 *   the conditions of an existing network (`precondition`/`postcondition`, 1.2; `startswith`,
 *   1.3) fit inside it.
 * - 1.10: the S3 backend's `use_lockfile` (S3 native state locking), which Terraform 1.10 added as
 *   experimental and 1.11 made generally available (Terraform's v1.10 upgrade guide, "S3 Native
 *   State Locking": "The S3 backend now supports S3 native state locking as an opt-in,
 *   experimental feature"). An older Terraform does not know the argument and cannot `init`.
 */
export const TERRAFORM_MIN_VERSION = "1.4.0";
export const TERRAFORM_S3_LOCKFILE_VERSION = "1.10.0";

/** `required_version` of a stack with this state: 1.10 or later with S3 lock files, else 1.4 or later. */
export function requiredTerraformVersion(state: Pick<StateSpec, "backend">): string {
  return `>= ${state.backend === "s3" ? TERRAFORM_S3_LOCKFILE_VERSION : TERRAFORM_MIN_VERSION}`;
}
