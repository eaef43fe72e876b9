import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { isIpv6Cidr } from "../config/ports";
import type { ResolvedConfig } from "../config/schema";
import { TcpApp } from "./tcp-app";
import { TcpPlatform, TcpPlatformProps } from "./platform";
import { applyPolicy, TcpAddonPolicyOptions } from "./policy";

/**
 * The hashicorp/aws versions the declaration is written for: 5.100 (the offline mirror that
 * `tcp-addon verify` plans with) up to the last 6.x. It uses no attribute that exists in only
 * one of them. @cdktf/provider-aws would otherwise pin the exact 6.x it was generated from.
 */
export const AWS_PROVIDER_VERSIONS = ">= 5.100.0, < 7.0.0";

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
}

/**
 * One project: the AWS provider for the config's region, tagging everything
 * `tcp-addon:project=<project>`, the shared platform, and one TcpApp per app, in the file's order.
 * Each app is placed on the load balancer the config chose for it (`ResolvedApp.loadBalancer`),
 * so adding an app never moves another one. The security policy runs on every synth.
 */
export class TcpAddonStack extends TerraformStack {
  readonly platform: TcpPlatform;
  readonly apps: readonly TcpApp[];

  constructor(scope: Construct, id: string, props: TcpAddonStackProps) {
    super(scope, id);
    const { config } = props;
    new AwsProvider(this, "aws", {
      region: config.region,
      defaultTags: [{ tags: { "tcp-addon:project": config.project } }],
    });
    this.addOverride("terraform.required_providers.aws", { source: "hashicorp/aws", version: AWS_PROVIDER_VERSIONS });
    this.platform = new TcpPlatform(this, "Platform", {
      ...props.platform,
      project: config.project,
      region: config.region,
      network: config.network,
      agentImage: config.agentImage,
      ipv6: config.apps.some((app) => app.allowedCidrs.some(isIpv6Cidr)),
      secretsKmsKeyArns: config.secretsKmsKeyArns,
      rulesPerSecurityGroup: config.rulesPerSecurityGroup,
    });
    this.apps = config.apps.map(
      (app) =>
        new TcpApp(this, app.name, {
          platform: this.platform,
          name: app.name,
          image: app.image,
          command: app.command,
          plan: app.plan,
          port: app.port,
          containers: app.containers,
          cpu: app.cpu,
          memory: app.memory,
          env: app.env,
          secrets: app.secrets,
          allowedCidrs: app.allowedCidrs,
          loadBalancer: app.loadBalancer,
          deploy: app.deploy,
          waitForSteadyState: app.waitForSteadyState,
        }),
    );
    if (props.policy !== false) applyPolicy(this, props.policy);
  }
}
