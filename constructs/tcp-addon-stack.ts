import { Construct } from "constructs";
import { LocalBackend, S3Backend, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import * as path from "node:path";
import { isIpv6Cidr } from "../config/ports";
import type { ResolvedConfig, StateSpec } from "../config/schema";
import { defaultLocalState } from "../config/state";
import { requiredTerraformVersion } from "../config/terraform-version";
import { relativeToStack } from "./stack-dir";
import { TcpDashboard } from "./dashboard";
import { MAX_NAME, platformName } from "./names";
import { NETWORK_AZS } from "./network";
import { TcpApp } from "./tcp-app";
import { TcpPlatform, TcpPlatformProps } from "./platform";
import { applyPolicy, TcpAddonPolicyOptions } from "./policy";

/**
 * The hashicorp/aws versions the declaration is written for: 5.100 (the offline mirror that
 * `tcp-addon verify` plans with) up to the last 6.x. It uses no attribute that exists in only
 * one of them. @cdktf/provider-aws would otherwise pin the exact 6.x it was generated from.
 */
export const AWS_PROVIDER_VERSIONS = ">= 5.100.0, < 7.0.0";

/** Props of {@link TcpAddonStack}. */
export interface TcpAddonStackProps {
  /** A whole, validated config: from `loadConfig(file)` or written in TypeScript. */
  readonly config: ResolvedConfig;
  /**
   * Settings of the shared platform that the config file does not carry.
   * @default the TcpPlatform defaults (30-day logs, one NAT gateway, no deletion protection)
   */
  readonly platform?: Omit<
    TcpPlatformProps,
    "project" | "network" | "agentImage" | "region" | "ipv6" | "secretsKmsKeyArns" | "rulesPerSecurityGroup"
  >;
  /**
   * The security policy checked on every synth (constructs/policy): an error-level finding stops
   * synth before anything is written. `false` turns it off; `suppress()` accepts one finding.
   * @default every rule, warnings printed to stderr
   */
  readonly policy?: TcpAddonPolicyOptions | false;
  /**
   * Where Terraform keeps the stack's state; overrides the config's `state:`. S3 state is
   * encrypted and locked with an S3 lock file (`use_lockfile`), plus a DynamoDB lock when a table
   * is named; the stack then requires Terraform 1.10 or later (1.4 or later otherwise, see
   * config/terraform-version.ts). A local path is written relative to the stack's folder.
   * @default the config's `state:`, else `terraform.<stack id>.tfstate` in the config file's folder
   *   (the working folder for a config without a file)
   */
  readonly state?: StateSpec;
}

/**
 * One project: the AWS provider for the config's region, tagging everything
 * `tcp-addon:project=<project>`, the shared platform, and one TcpApp per app, in the file's order.
 * Each app is placed on the load balancer the config chose for it (`ResolvedApp.loadBalancer`),
 * so adding an app never moves another one. The security policy runs on every synth.
 */
export class TcpAddonStack extends TerraformStack {
  /** Where the state lives, as declared (a local path absolute here, relative in the JSON). */
  readonly state: StateSpec;
  /** The backend block written into the stack. */
  readonly backend: S3Backend | LocalBackend;
  /** What the apps share: network, cluster, load balancers, agent image, roles. */
  readonly platform: TcpPlatform;
  /** One TcpApp per app of the config, in file order. */
  readonly apps: readonly TcpApp[];
  /** The project's CloudWatch dashboard(s): a row per app. */
  readonly dashboard: TcpDashboard;

  constructor(scope: Construct, id: string, props: TcpAddonStackProps) {
    super(scope, id);
    const { config } = props;
    this.state =
      props.state ?? config.state ?? defaultLocalState(config, config.source === undefined ? process.cwd() : path.dirname(config.source));
    this.backend = this.declareState(this.state);
    new AwsProvider(this, "aws", {
      region: config.region,
      defaultTags: [
        {
          tags: {
            "tcp-addon:project": config.project,
            ...(config.environment === undefined ? {} : { "tcp-addon:environment": config.environment }),
          },
        },
      ],
    });
    this.addOverride("terraform.required_providers.aws", { source: "hashicorp/aws", version: AWS_PROVIDER_VERSIONS });
    this.addOverride("terraform.required_version", requiredTerraformVersion(this.state));
    this.platform = new TcpPlatform(this, "Platform", {
      ...props.platform,
      project: config.project,
      environment: config.environment,
      region: config.region,
      network: config.network,
      ...createdNetworkProps(config),
      agentImage: config.agentImage,
      staticIps: config.staticIps ?? false,
      ipv6: config.apps.some((app) => app.allowedCidrs.some(isIpv6Cidr)),
      secretsKmsKeyArns: config.secretsKmsKeyArns,
      rulesPerSecurityGroup: config.rulesPerSecurityGroup,
      alarms: config.alarmTopic,
    });
    this.apps = config.apps.map((app) => TcpApp.fromResolved(this, this.platform, app));
    this.dashboard = new TcpDashboard(this, "Dashboard", {
      name: platformName(this.platform.deployment, "tcp-addon", MAX_NAME),
      region: this.platform.region,
      // The names the dashboard shows are known at synth: written as literals, the body of 100 apps
      // carries 200 references instead of 1000 (cdktf scans the whole string once per reference).
      apps: this.apps.map((app) => ({ ...app.metrics, clusterName: this.platform.clusterName, serviceName: app.name })),
    });
    if (props.policy !== false) applyPolicy(this, props.policy);
  }

  /** The backend block: S3 encrypted and locked, or a local file relative to the stack's folder. */
  private declareState(state: StateSpec): S3Backend | LocalBackend {
    if (state.backend === "local") return new LocalBackend(this, { path: relativeToStack(this, state.path) });
    const backend = new S3Backend(this, {
      bucket: state.bucket,
      key: state.key,
      region: state.region,
      encrypt: true,
      dynamodbTable: state.dynamodbTable,
    });
    // S3 native locking (a .tflock object next to the state); cdktf 0.21 has no prop for it yet.
    backend.addOverride("use_lockfile", true);
    return backend;
  }
}

/** The config's `network:` without `vpcId` as platform props; empty when it sets nothing (the platform props then decide). */
function createdNetworkProps(config: ResolvedConfig): Pick<TcpPlatformProps, "natGateways" | "vpcEndpoints"> {
  const created = config.createdNetwork;
  return {
    ...(created?.natGateways === undefined ? {} : { natGateways: created.natGateways === "perAz" ? NETWORK_AZS : 1 }),
    ...(created?.vpcEndpoints === undefined ? {} : { vpcEndpoints: created.vpcEndpoints }),
  };
}
