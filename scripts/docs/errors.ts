import * as fs from "node:fs";
import * as path from "node:path";

/**
 * docs/errors.md, written from the code: every `TcpAddonError` subclass and every code it can
 * carry, found in the sources (a `super("TCP_ADDON_…")` in the class, or a `…ErrorCode` union its
 * `code` is typed with), with where each code is used. What a code means and how to fix it is
 * worded below, once per code; a test fails when the sources and this table disagree.
 */

/** What a person who sees the code should know: what happened, and what to do. */
export interface ErrorHelp {
  readonly means: string;
  readonly fix: string;
}

export const ERROR_HELP: Readonly<Record<string, ErrorHelp>> = {
  TCP_ADDON_CONFIG_INVALID: {
    means: "The config file parsed, but breaks the schema or a rule that spans keys, apps or files (a Procfile, ports, load balancers). Each line is `file:line: path: problem; fix`.",
    fix: "Do what each line says; `npm run validate` lists every problem at once. Keys and limits: [Configuration reference](config-reference.md).",
  },
  TCP_ADDON_CONFIG_NOT_FOUND: {
    means: "There is no config file at the path used: `--config`, else `$TCP_ADDON_CONFIG`, else `tcp-addon.yaml` in the current folder.",
    fix: "Run the command in the folder of `tcp-addon.yaml`, or point `--config` or `TCP_ADDON_CONFIG` at the file.",
  },
  TCP_ADDON_CONFIG_UNREADABLE: {
    means: "The config file exists but cannot be used as a file: a folder, no read permission, YAML or JSON that does not parse, or a key written twice.",
    fix: "Fix the line the message names (YAML indentation, quotes, the duplicate key), or the file's permissions.",
  },
  TCP_ADDON_PROCFILE_INVALID: {
    means: "`parseProcfile()` found no `tcp:` line, a process type twice, or a line that is not `name: command`. From a config file's `procfile:` the same lines come as `TCP_ADDON_CONFIG_INVALID`.",
    fix: "Give the Procfile exactly one `tcp: <command>` line, or use `command:` in the config instead.",
  },
  TCP_ADDON_DEPLOY_TIMINGS: {
    means: "`deployTimings()` was given timings outside what AWS accepts, or in an order that would refuse connections during a deploy (a drain that outlasts the stop timeout, a delay shorter than the propagation, a health-check timeout not below its interval). From a config file the same lines come as `TCP_ADDON_CONFIG_INVALID`, from `TcpApp` as `TCP_ADDON_INVALID_PROPS`.",
    fix: "Change the timing the line names as it says, or remove it to keep the default; [Deploys](deploys.md#what-a-deploy-does-second-by-second) explains each one.",
  },
  TCP_ADDON_INVALID_PROPS: {
    means: "A construct (`TcpApp`, `TcpPlatform`, `TcpNetwork`, `TcpAgentImage`, scaling) was given props it cannot declare: out of range, missing or contradictory.",
    fix: "Change the prop the message names; each prop's meaning and limits are in the [API reference](api/README.md).",
  },
  TCP_ADDON_PORT_TAKEN: {
    means: "Two apps want the same listener port on one load balancer.",
    fix: "Set `port:` on one of them to a free port, or pin it to another load balancer with `loadBalancer:`.",
  },
  TCP_ADDON_LISTENER_LIMIT: {
    means: "A load balancer already has 50 listeners, the AWS limit, and an app was pinned to it.",
    fix: "Pin the app to another load balancer (`loadBalancer: N`), or leave it unpinned so placement picks one.",
  },
  TCP_ADDON_RULE_LIMIT: {
    means: "The apps pinned to one load balancer need more inbound rules in its security group than the quota (60 per IP family by default).",
    fix: "Pin an app to another load balancer, use fewer `allowedCidrs`, or raise the quota in Service Quotas and set `quotas.rulesPerSecurityGroup`.",
  },
  TCP_ADDON_AGENT_SOURCES_MISSING: {
    means: "The agent image is to be built from `runtime/Dockerfile`, and the Dockerfile or the agent's sources are not there.",
    fix: "Synth from a checkout of tcp-addon or an installed package (which ships them), or set `agent.image` (`agentImage` on `TcpPlatform`) to a prebuilt image.",
  },
  TCP_ADDON_POLICY_VIOLATION: {
    means: "The security policy found error-level problems in the stack; synth stopped before writing anything. Each line is `[rule] path: problem. Fix: …`.",
    fix: "Do the fix each line gives; to accept one finding on purpose, `suppress()` that rule on that resource with a reason ([Security policy](security.md)).",
  },
  TCP_ADDON_POLICY_BAD_SUPPRESSION: {
    means: "`suppress()` was called with a malformed rule id or without a reason.",
    fix: "Pass a rule id like `TCP-SG1` and a reason that says why the exception is safe.",
  },
  TCP_ADDON_POLICY_UNKNOWN_RULE: {
    means: "A suppression names a rule the policy does not have (most likely a typo).",
    fix: "Use one of the rule ids the message lists ([Security policy](security.md)).",
  },
  TCP_ADDON_POLICY_DUPLICATE_RULE: {
    means: "Two rules given to one policy share an id.",
    fix: "Give each custom rule its own id.",
  },
  TCP_ADDON_POLICY_BAD_SCOPE: {
    means: "`applyPolicy()` was called on the App; cdktf runs aspects per stack, so it would never run.",
    fix: "Call `applyPolicy(stack)` on each `TerraformStack`.",
  },
  TCP_ADDON_USAGE: {
    means: "The `tcp-addon` command line is wrong: an unknown command or flag, or a missing value. Exit code 2.",
    fix: "Run `npx tcp-addon --help` (or `<command> --help`) and correct the command line.",
  },
  TCP_ADDON_OUTPUTS_INVALID: {
    means: "`tcp-addon urls` found no usable outputs file: missing, not JSON, or without a `TCP_URL` output for the config's stack.",
    fix: "Deploy with `npx cdktf deploy --outputs-file cdktf-outputs.json` first, or pass the file with `--outputs FILE`.",
  },
  TCP_ADDON_TERRAFORM_UNAVAILABLE: {
    means: "`tcp-addon verify` cannot run Terraform with the hashicorp/aws provider here: no `terraform` binary, or no provider mirror and no registry. Exit code 2.",
    fix: "Install Terraform 1.4 or later (1.10 or later with `state: { s3 }`), and point `TCP_ADDON_PROVIDER_MIRROR` at a provider mirror or allow the registry ([Checking with the real provider](verify.md)).",
  },
  TCP_ADDON_PROVIDER_MIRROR_INVALID: {
    means: "`TCP_ADDON_PROVIDER_MIRROR` names a folder that holds no `registry.terraform.io` folder, so it is not a provider mirror; `tcp-addon verify` stops instead of falling back to the registry. Exit code 1.",
    fix: "Point `TCP_ADDON_PROVIDER_MIRROR` at the folder that holds `registry.terraform.io/` (the message names the path it read), or unset it ([Checking with the real provider](verify.md)).",
  },
  TCP_ADDON_TERRAFORM_CHECK: {
    means: "`terraform init`, `validate` or `plan` refused the synthesized stack; the line names the resource's construct path where Terraform gives one.",
    fix: "Read the Terraform message and the construct path; when the config is valid and this still happens, it is a bug of tcp-addon: please report it with the config.",
  },
  TCP_ADDON_LOCAL_USAGE: {
    means: "`tcp-addon local` or `tcp-addon timeline` was given a wrong flag or value, or an events file that is not JSON lines. Exit code 2.",
    fix: "Run `npx tcp-addon local --help` and correct the flag, or pass an events file written by `local --events`.",
  },
  TCP_ADDON_LOCAL_UNKNOWN_APP: {
    means: "`--only` names an app that the config does not have.",
    fix: "Use one of the app names the message lists.",
  },
  TCP_ADDON_LOCAL_PORT_UNAVAILABLE: {
    means: "Local mode cannot listen on an app's port (or the status page's): another process holds it, or it is not allowed.",
    fix: "Stop the process the message names (often an earlier local mode), set another `port:`, or pick another `--status-port`.",
  },
  TCP_ADDON_LOCAL_NO_CERTIFICATE: {
    means: "An app has `tls:` and local mode has no certificate to terminate TLS with.",
    fix: "Let local mode make its self-signed certificate (the default of `tcp-addon local`); when starting local mode from code, pass a certificate.",
  },
  TCP_ADDON_LOCAL_CRASH_LOOP: {
    means: "A replica failed to start three times in a row; local mode stopped. The line names the app, its command, its folder and its last output.",
    fix: "Run the command by hand in that folder with `PORT` set and fix what makes it exit; the app must listen on `$PORT`.",
  },
  TCP_ADDON_LOCAL_EXITED_BEFORE_READY: {
    means: "A replica exited (or could not be started) before it accepted connections; local mode retries with backoff.",
    fix: "Read the last output the line carries; the app must keep running and listen on `$PORT`.",
  },
  TCP_ADDON_LOCAL_READY_TIMEOUT: {
    means: "A replica did not become ready in time.",
    fix: "Make the app listen on `$PORT` sooner after it starts.",
  },
  TCP_ADDON_LOCAL_STOPPED: {
    means: "A replica was asked to stop before it became ready (local mode was stopping, or a deploy replaced it).",
    fix: "Nothing: it is reported so that a start that was cut short is not taken for a crash.",
  },
  TCP_ADDON_AGENT_FLAG: {
    means: "The agent was given a flag or environment variable that is missing, unknown or out of range. It prints the usage and exits 2.",
    fix: "Correct the flag or its `TCP_ADDON_*` variable ([runtime/agent/README.md](../runtime/agent/README.md)).",
  },
  TCP_ADDON_AGENT_LISTEN: {
    means: "The agent cannot listen on its port or its health port (in use, or not allowed). It exits 1.",
    fix: "Free the port or choose another with `--listen` / `--health-port`.",
  },
  TCP_ADDON_AGENT_APP_START_TIMEOUT: {
    means: "In wrapper mode, the app did not accept connections on `PORT` within the start timeout (60 s by default). The agent exits 1.",
    fix: "Make the app listen on `$PORT`, or give it longer with `--start-timeout` (`TCP_ADDON_START_TIMEOUT`).",
  },
};

/** One error class: its name, what it extends, the file it is declared in. */
export interface ErrorClass {
  readonly name: string;
  readonly base: string;
  readonly file: string;
}

/** One code, with the classes that carry it and the source files that use it. */
export interface ErrorCode {
  readonly code: string;
  readonly classes: readonly ErrorClass[];
  /** Files that use the code outside its declaration; empty = declared but never thrown. */
  readonly usedIn: readonly string[];
}

const SOURCE_FOLDERS = ["ground", "config", "constructs", "runtime", "cli"];
const CODE = /"(TCP_ADDON_[A-Z0-9_]+)"/g;

function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules") walk(full);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        out.push(full);
      }
    }
  };
  for (const folder of SOURCE_FOLDERS) walk(path.join(root, folder));
  out.push(path.join(root, "main.ts"));
  return out;
}

/** The text of a class body: from `{` after the heading to its matching `}`. */
function bodyAt(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open, i + 1);
  }
  return text.slice(open);
}

/**
 * Every error code of the sources: the `TcpAddonError` subclasses (transitively) and, for each,
 * the codes its constructor passes to `super` or its `code` is typed with (`…ErrorCode` unions).
 */
export function findErrorCodes(root: string): ErrorCode[] {
  const files = sourceFiles(root).map((file) => ({ file: path.relative(root, file), text: fs.readFileSync(file, "utf8") }));
  const unions = new Map<string, { codes: string[]; file: string; start: number; end: number }>();
  const classes: (ErrorClass & { body: string })[] = [];
  for (const { file, text } of files) {
    for (const m of text.matchAll(/export type (\w+ErrorCode)\s*=([\s\S]*?);/g)) {
      unions.set(m[1]!, { codes: [...m[2]!.matchAll(CODE)].map((c) => c[1]!), file, start: m.index, end: m.index + m[0].length });
    }
    for (const m of text.matchAll(/class (\w+) extends (\w+)\s*\{/g)) {
      classes.push({ name: m[1]!, base: m[2]!, file, body: bodyAt(text, m.index + m[0].length - 1) });
    }
  }
  const errorClasses = new Set(["TcpAddonError"]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of classes) if (errorClasses.has(c.base) && !errorClasses.has(c.name)) grew = errorClasses.add(c.name) !== undefined;
  }
  const byCode = new Map<string, ErrorClass[]>();
  const add = (code: string, c: ErrorClass) => byCode.set(code, [...(byCode.get(code) ?? []).filter((k) => k.name !== c.name), c]);
  for (const c of classes) {
    if (!errorClasses.has(c.name)) continue;
    const own: ErrorClass = { name: c.name, base: c.base, file: c.file };
    for (const m of c.body.matchAll(/super\(\s*"(TCP_ADDON_[A-Z0-9_]+)"/g)) add(m[1]!, own);
    for (const m of c.body.matchAll(/code: (\w+ErrorCode)\b/g)) for (const code of unions.get(m[1]!)?.codes ?? []) add(code, own);
  }
  return [...byCode.entries()]
    .map(([code, owners]) => {
      const usedIn = files
        .filter(({ file, text }) => {
          const declarations = [...unions.values()].filter((u) => u.file === file);
          const outside = declarations.reduce((t, u) => t.slice(0, u.start) + " ".repeat(u.end - u.start) + t.slice(u.end), text);
          return outside.replace(/declare readonly code: "[^"]+";/g, "").includes(`"${code}"`);
        })
        .map(({ file }) => file);
      return { code, classes: owners, usedIn };
    })
    .sort((a, b) => a.code.localeCompare(b.code));
}

const AREAS: readonly { title: string; folder: string; text: string }[] = [
  { title: "Config", folder: "config/", text: "Reading and checking `tcp-addon.yaml` (validate, synth, local mode, `loadConfig`)." },
  { title: "Constructs and synth", folder: "constructs/", text: "Building the stack, from the config or from your own code, and the security policy." },
  { title: "Command line and verify", folder: "cli/", text: "The `tcp-addon` command and `tcp-addon verify`." },
  { title: "Local mode", folder: "runtime/local/", text: "`tcp-addon local`." },
  { title: "The agent", folder: "runtime/agent/", text: "The `tcp-addon-agent` process next to every app." },
];

/** The area of a code: where its first class is declared (verify, in cli/verify/, sits with the command line). */
function areaOf(code: ErrorCode): string {
  const file = code.classes[0]?.file ?? "";
  const found = AREAS.find((a) => file.startsWith(a.folder));
  return found?.title ?? "Other";
}

/** The page, from the codes the sources hold and their help. Codes without help are listed as such. */
export function errorsMarkdown(codes: readonly ErrorCode[], help: Readonly<Record<string, ErrorHelp>> = ERROR_HELP): string {
  const out = [
    "# Errors",
    "",
    "<!-- Generated from the sources by `npm run docs:generate` (scripts/docs/errors.ts); edit ERROR_HELP there, not this page. -->",
    "",
    "Every error tcp-addon reports on purpose is a `TcpAddonError`: one line per problem (a command",
    "prints each on its own line and exits non-zero), and a stable `code` that code of your own can",
    "branch on (`err.code === \"TCP_ADDON_PORT_TAKEN\"`) instead of the wording. Codes are the value of",
    "`err.code` and never the name of an environment variable, though both start with `TCP_ADDON_`: the",
    "variables are listed with [the agent](agent.md) and in [runtime/agent/README.md](../runtime/agent/README.md).",
    "",
    `${codes.length} codes:`,
    "",
  ];
  for (const area of [...AREAS.map((a) => a.title), "Other"]) {
    const inArea = codes.filter((c) => areaOf(c) === area);
    if (inArea.length === 0) continue;
    const about = AREAS.find((a) => a.title === area)?.text;
    out.push(`## ${area}`, "", ...(about === undefined ? [] : [about, ""]));
    out.push("| code | class | what it means | fix |", "| --- | --- | --- | --- |");
    for (const c of inArea) {
      const h = help[c.code];
      const classes = c.classes.map((k) => `\`${k.name}\``).join(", ");
      const means = h === undefined ? "**not documented**" : h.means + (c.usedIn.length === 0 ? " (Declared; this version does not throw it.)" : "");
      out.push(`| \`${c.code}\` | ${classes} | ${means} | ${h?.fix ?? "–"} |`);
    }
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}
