import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { applyPolicy, TcpApp, TcpPlatform } from "tcp-addon/constructs";

/** Your own stack: your provider, your existing VPC, one TCP app on the shared platform. */
export class ShopStack extends TerraformStack {
  readonly broker: TcpApp;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "eu-west-1" });
    const platform = new TcpPlatform(this, "Tcp", {
      project: "shop",
      network: {
        vpcId: "vpc-0abc",
        publicSubnetIds: ["subnet-0a", "subnet-0b"],
        privateSubnetIds: ["subnet-0c", "subnet-0d"],
      },
    });
    this.broker = new TcpApp(this, "broker", {
      platform,
      image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/broker:1",
      command: "node broker.js",
      port: 1883,
      plan: { name: "broker-10k", packetsPerSecond: 10000 },
      deploy: { deregistrationDelaySeconds: 180 },
    });
    this.broker.listener.tcpIdleTimeoutSeconds = 1200; // public fields: tune without forking
    applyPolicy(this); // the security policy TcpAddonStack applies
  }
}
