import { IConstruct } from "constructs";
import { App, Manifest, TerraformStack } from "cdktf";
import * as path from "node:path";

/**
 * Paths in the synthesized JSON are written relative to the folder Terraform runs in, the
 * stack's output folder (`<outdir>/stacks/<stack id>`), so a stack synthesized in one checkout
 * (a CI runner) deploys from another and the JSON holds no path of the machine.
 */

/** The folder cdktf writes the stack of `scope` to, and where `cdktf deploy` runs Terraform. */
export function stackOutputDir(scope: IConstruct): string {
  return path.resolve(App.of(scope).outdir, Manifest.stacksFolder, TerraformStack.of(scope).node.id);
}

/** `target` (absolute, or relative to the working folder) relative to the stack's output folder, with `/`. */
export function relativeToStack(scope: IConstruct, target: string): string {
  const relative = path.relative(stackOutputDir(scope), path.resolve(target));
  return relative === "" ? "." : relative.split(path.sep).join("/");
}
