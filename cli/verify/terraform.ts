import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { TERRAFORM_MIN_VERSION } from "../../config/terraform-version";
import { TcpAddonError } from "../../ground";

/**
 * Running the real Terraform CLI and the real hashicorp/aws provider, offline where a
 * filesystem mirror of the provider can be found. Nothing here reads or writes real state:
 * every command runs in a folder the caller owns, with fake credentials.
 */

/** Terraform or the provider cannot be had here (not installed, no mirror and no registry). */
export class TerraformUnavailableError extends TcpAddonError {
  declare readonly code: "TCP_ADDON_TERRAFORM_UNAVAILABLE";

  constructor(message: string) {
    super("TCP_ADDON_TERRAFORM_UNAVAILABLE", message);
  }
}

/** $TCP_ADDON_PROVIDER_MIRROR names a folder that is not a provider mirror: a wrong setting, never a silent fallback. */
export class ProviderMirrorError extends TcpAddonError {
  declare readonly code: "TCP_ADDON_PROVIDER_MIRROR_INVALID";

  constructor(message: string) {
    super("TCP_ADDON_PROVIDER_MIRROR_INVALID", message);
  }
}

/** The folder name a provider mirror holds: `<mirror>/registry.terraform.io/hashicorp/aws/<version>/...`. */
export const REGISTRY_HOST = "registry.terraform.io";

/** Where the tools were found: the binary, and the CLI config that points `terraform init` at a mirror. */
export interface TerraformSetup {
  readonly terraform: string;
  /** A CLI config file (TF_CLI_CONFIG_FILE) for init; undefined = the public registry. */
  readonly cliConfig?: string;
  /** How the provider is obtained, for messages: "mirror /opt/…", "CLI config …" or "registry". */
  readonly providerSource: string;
}

/** `terraform` from $TCP_ADDON_TERRAFORM, else the first executable one on $PATH. */
export function findTerraform(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.TCP_ADDON_TERRAFORM;
  if (explicit !== undefined && explicit !== "") return isExecutable(explicit) ? explicit : undefined;
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, "terraform");
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The folder of a filesystem mirror of providers (it contains `registry.terraform.io/`):
 * $TCP_ADDON_PROVIDER_MIRROR, else the first `registry.terraform.io` folder at most three
 * levels below `/` that holds `hashicorp/aws` (as `find / -maxdepth 3 -type d -name
 * registry.terraform.io` would list it; an empty one, such as a test's scratch mirror, is passed over).
 * @throws ProviderMirrorError when $TCP_ADDON_PROVIDER_MIRROR holds no `registry.terraform.io` folder.
 */
export function findProviderMirror(env: NodeJS.ProcessEnv = process.env, root = "/"): string | undefined {
  const explicit = env.TCP_ADDON_PROVIDER_MIRROR;
  if (explicit !== undefined && explicit !== "") {
    if (path.basename(explicit) === REGISTRY_HOST && isDirectory(explicit)) return path.dirname(explicit);
    if (isDirectory(path.join(explicit, REGISTRY_HOST))) return explicit;
    const what = isDirectory(explicit) ? `holds no ${REGISTRY_HOST} folder` : "is not a folder";
    throw new ProviderMirrorError(
      `TCP_ADDON_PROVIDER_MIRROR ${JSON.stringify(explicit)} ${what}; point it at the folder that holds ${REGISTRY_HOST}/hashicorp/aws/<version>/, or unset it`,
    );
  }
  let level = [root];
  for (let depth = 1; depth <= 3; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      for (const entry of readDirs(dir)) {
        const full = path.join(dir, entry);
        if (entry === REGISTRY_HOST && isDirectory(path.join(full, "hashicorp", "aws"))) return dir;
        next.push(full);
      }
    }
    level = next;
  }
  return undefined;
}

/**
 * How `terraform init` gets the provider: a mirror ($TCP_ADDON_PROVIDER_MIRROR or found),
 * else an existing $TF_CLI_CONFIG_FILE, else the public registry. The CLI config for a mirror
 * is written into `workdir`.
 * @throws TerraformUnavailableError when there is no terraform binary; ProviderMirrorError for a wrong $TCP_ADDON_PROVIDER_MIRROR.
 */
export function terraformSetup(workdir: string, env: NodeJS.ProcessEnv = process.env): TerraformSetup {
  const mirror = findProviderMirror(env); // first: a wrong setting is an error whether or not terraform is here
  const terraform = findTerraform(env);
  if (terraform === undefined) {
    throw new TerraformUnavailableError(
      env.TCP_ADDON_TERRAFORM
        ? `terraform not found at $TCP_ADDON_TERRAFORM (${env.TCP_ADDON_TERRAFORM}); point it at the terraform binary`
        : `terraform not found on the PATH; install Terraform ${TERRAFORM_MIN_VERSION} or later (or set TCP_ADDON_TERRAFORM)`,
    );
  }
  if (mirror !== undefined) {
    const cliConfig = path.join(workdir, "terraform.tfrc");
    fs.writeFileSync(cliConfig, `provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(mirror)}\n  }\n}\n`);
    return { terraform, cliConfig, providerSource: `mirror ${mirror}` };
  }
  const given = env.TF_CLI_CONFIG_FILE;
  if (given !== undefined && given !== "" && fs.existsSync(given)) {
    return { terraform, cliConfig: given, providerSource: `CLI config ${given}` };
  }
  return { terraform, providerSource: "registry" };
}

/** The environment of every terraform command: fake keys, no profile, no metadata service, no checkpoint calls. */
export function offlineEnv(setup: TerraformSetup, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith("AWS_") || key.startsWith("TF_")) continue;
    clean[key] = value;
  }
  return {
    ...clean,
    ...(setup.cliConfig === undefined ? {} : { TF_CLI_CONFIG_FILE: setup.cliConfig }),
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Bounded in time: a terraform command that hangs (a provider trying to reach AWS) is killed. */
export const COMMAND_TIMEOUT_MS = 10 * 60 * 1000;

/** Runs `terraform <args>` in `cwd`; never throws for a non-zero exit (the caller reads it). */
export function terraform(setup: TerraformSetup, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      setup.terraform,
      [...args],
      { cwd, env: offlineEnv(setup, env), maxBuffer: 512 * 1024 * 1024, timeout: COMMAND_TIMEOUT_MS, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== "number") {
          if (err.killed) {
            resolve({ code: 124, stdout, stderr: `${stderr}\nterraform ${args[0]} timed out after ${COMMAND_TIMEOUT_MS / 1000} s` });
            return;
          }
          reject(new TerraformUnavailableError(`cannot run ${setup.terraform}: ${err.message}`));
          return;
        }
        resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr });
      },
    );
  });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Sub-folders of `dir` (not following links into `/proc`-like trees), sorted; none when unreadable. */
function readDirs(dir: string): string[] {
  if (dir === "/proc" || dir === "/sys" || dir === "/dev") return [];
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}
