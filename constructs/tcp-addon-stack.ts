import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { appNetworking, type ResolvedApp, type ResolvedConfig } from "../config/schema";
import { TcpApp } from "./tcp-app";
import { TcpPlatform, TcpPlatformProps } from "./platform";
import { applyPolicy, TcpAddonPolicyOptions } from "./policy";

export interface TcpAddonStackProps {
  /** A whole, validated config: from `loadConfig(file)` or written in TypeScript. */
  readonly config: ResolvedConfig;
  /**
   * Settings of the shared platform that the config file does not carry.
   * @default the TcpPlatform defaults (30-day logs, one NAT gateway, no deletion protection)
   */
  readonly platform?: Omit<TcpPlatformProps, "project" | "network" | "agentImage">;
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
    this.platform = new TcpPlatform(this, "Platform", {
      ...props.platform,
      project: config.project,
      network: config.network,
      agentImage: config.agentImage,
      staticIps: config.staticIps ?? false,
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
          ...networkingProps(app),
        }),
    );
    if (props.policy !== false) applyPolicy(this, props.policy);
  }
}

/** An app's resolved networking settings as TcpApp props. */
function networkingProps(app: ResolvedApp) {
  const n = appNetworking(app);
  return {
    clientIp: n.clientIp,
    tls: n.tls,
    domain: n.domain,
    maxConnections: n.maxConnections,
    maxConnectionsPerIp: n.maxConnectionsPerIp,
  };
}
