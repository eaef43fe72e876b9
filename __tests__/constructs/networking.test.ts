import { Testing } from "cdktf";
import { AcmCertificate } from "@cdktf/provider-aws/lib/acm-certificate";
import { AcmCertificateValidation } from "@cdktf/provider-aws/lib/acm-certificate-validation";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { checkPolicy } from "../../constructs/policy";
import { TLS_SSL_POLICY } from "../../constructs/tcp-app";
import { appFixture, configFixture, containersOf, envOf, ref, resourceIn, resourcesOf, synthStack, unresolvedReferences, type TfJson } from "./fixtures";
import type { AppNetworking } from "../../config/schema";

Testing.setupJest();

const CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const ZONE = "Z0123456789ABC";

function withNetworking(networking: Partial<AppNetworking>, name = "mqtt", port = 20003) {
  return appFixture(name, { port, networking: { clientIp: "off", maxConnections: 0, ...networking } });
}

describe("clientIp", () => {
  it("proxy-v2 turns on proxy_protocol_v2 on the target group and tells the agent", () => {
    const { json, tf } = synthStack(configFixture([withNetworking({ clientIp: "proxy-v2" })]));
    expect(json).toHaveResourceWithProperties(LbTargetGroup, { proxy_protocol_v2: true, protocol: "TCP" });
    expect(envOf(containersOf(tf, "mqtt")[1])).toMatchObject({ TCP_ADDON_PROXY_PROTOCOL: "proxy-v2" });
  });

  it("proxy-v2-to-app reaches the agent as such", () => {
    const { tf } = synthStack(configFixture([withNetworking({ clientIp: "proxy-v2-to-app" })]));
    expect(envOf(containersOf(tf, "mqtt")[1]).TCP_ADDON_PROXY_PROTOCOL).toBe("proxy-v2-to-app");
  });

  it("off leaves the target group without PROXY protocol and the agent without the variable", () => {
    const { json, tf } = synthStack(configFixture([withNetworking({})]));
    expect(resourceIn(tf, "aws_lb_target_group", "mqtt_").proxy_protocol_v2).toBeUndefined();
    expect(json).toHaveResource(LbTargetGroup);
    expect(envOf(containersOf(tf, "mqtt")[1])).not.toHaveProperty("TCP_ADDON_PROXY_PROTOCOL");
  });
});

describe("tls", () => {
  it("with certificateArn: a TLS listener with the TLS 1.3 policy, the certificate and ALPN; TCP_URL says tls://", () => {
    const { json, tf } = synthStack(configFixture([withNetworking({ tls: { certificateArn: CERT, alpn: "HTTP2Optional" } })]));
    expect(json).toHaveResourceWithProperties(LbListener, {
      protocol: "TLS",
      ssl_policy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      certificate_arn: CERT,
      alpn_policy: "HTTP2Optional",
    });
    expect(TLS_SSL_POLICY).toBe("ELBSecurityPolicy-TLS13-1-2-2021-06");
    // The target stays plain TCP to the agent.
    expect(json).toHaveResourceWithProperties(LbTargetGroup, { protocol: "TCP", port: 7000 });
    expect(json).not.toHaveResource(AcmCertificate);
    const url = `tls://${ref(tf, "aws_lb", "Platform_LoadBalancer_", "dns_name")}:20003`;
    expect(tf.output?.tcp_url_mqtt.value).toBe(url);
    expect(envOf(containersOf(tf, "mqtt")[0]).TCP_URL).toBe(url);
  });

  it("with domain: an ACM certificate validated by DNS in the zone, and the listener waits for the validation", () => {
    const { json, tf } = synthStack(configFixture([withNetworking({ tls: { domain: "mqtt.example.com", hostedZoneId: ZONE } })]));
    expect(json).toHaveResourceWithProperties(AcmCertificate, { domain_name: "mqtt.example.com", validation_method: "DNS" });
    const cert = "aws_acm_certificate";
    const certId = Object.keys(resourcesOf(tf, cert))[0];
    expect(json).toHaveResourceWithProperties(Route53Record, {
      zone_id: ZONE,
      name: `\${tolist(${cert}.${certId}.domain_validation_options).0.resource_record_name}`,
      type: `\${tolist(${cert}.${certId}.domain_validation_options).0.resource_record_type}`,
      records: [`\${tolist(${cert}.${certId}.domain_validation_options).0.resource_record_value}`],
    });
    expect(json).toHaveResourceWithProperties(AcmCertificateValidation, {
      certificate_arn: ref(tf, cert, "mqtt_", "arn"),
      validation_record_fqdns: [ref(tf, "aws_route53_record", "mqtt_Certificate_ValidationRecord", "fqdn")],
    });
    expect(resourceIn(tf, "aws_lb_listener", "mqtt_")).toMatchObject({
      protocol: "TLS",
      certificate_arn: ref(tf, "aws_acm_certificate_validation", "mqtt_", "certificate_arn"),
    });
  });
});

describe("domain", () => {
  it("adds an alias record to the app's NLB and TCP_URL carries the name", () => {
    const { json, tf } = synthStack(configFixture([withNetworking({ domain: { name: "mqtt.example.com", hostedZoneId: ZONE } })]));
    expect(json).toHaveResourceWithProperties(Route53Record, {
      zone_id: ZONE,
      name: "mqtt.example.com",
      type: "A",
      alias: {
        name: ref(tf, "aws_lb", "Platform_LoadBalancer_", "dns_name"),
        zone_id: ref(tf, "aws_lb", "Platform_LoadBalancer_", "zone_id"),
        evaluate_target_health: true,
      },
    });
    expect(tf.output?.tcp_url_mqtt.value).toBe("tcp://mqtt.example.com:20003");
    expect(resourceIn(tf, "aws_ssm_parameter", "mqtt_").value).toBe("tcp://mqtt.example.com:20003");
  });

  it("with TLS on the same name, TCP_URL is tls://name:port", () => {
    const { tf } = synthStack(
      configFixture([
        withNetworking({ tls: { domain: "mqtt.example.com", hostedZoneId: ZONE }, domain: { name: "mqtt.example.com", hostedZoneId: ZONE } }),
      ]),
    );
    expect(tf.output?.tcp_url_mqtt.value).toBe("tls://mqtt.example.com:20003");
  });
});

/** The NLB's Elastic IPs (the NAT gateway has its own). */
function staticEips(tf: TfJson): string[] {
  return Object.keys(resourcesOf(tf, "aws_eip")).filter((id) => id.startsWith("Platform_LoadBalancer_StaticIp"));
}

describe("staticIps", () => {
  it("gives the NLB one Elastic IP per public subnet through subnet_mapping, and outputs them", () => {
    const { json, tf } = synthStack(configFixture([withNetworking({})], { staticIps: true }));
    const eips = staticEips(tf);
    expect(eips).toHaveLength(2);
    expect(json).toHaveResourceWithProperties(Eip, { domain: "vpc" });
    const lb = resourceIn(tf, "aws_lb", "Platform_LoadBalancer_");
    expect(lb.subnets).toBeUndefined();
    expect(lb.subnet_mapping).toEqual(
      eips.map((id, i) => ({
        subnet_id: `\${aws_subnet.${Object.keys(resourcesOf(tf, "aws_subnet")).filter((s) => s.includes("Public"))[i]}.id}`,
        allocation_id: `\${aws_eip.${id}.allocation_id}`,
      })),
    );
    expect(tf.output?.static_ips_nlb.value).toEqual(eips.map((id) => `\${aws_eip.${id}.public_ip}`));
  });

  it("keeps the same addresses when apps are added", () => {
    const one = synthStack(configFixture([withNetworking({})], { staticIps: true })).tf;
    const three = synthStack(
      configFixture([withNetworking({}), withNetworking({}, "game", 20004), withNetworking({}, "chat", 20005)], { staticIps: true }),
    ).tf;
    expect(staticEips(three)).toEqual(staticEips(one));
    expect(staticEips(three)).toHaveLength(2);
    expect(resourceIn(three, "aws_lb", "Platform_LoadBalancer_").subnet_mapping).toEqual(
      resourceIn(one, "aws_lb", "Platform_LoadBalancer_").subnet_mapping,
    );
  });

  it("off: no Elastic IP, the NLB takes subnets as before", () => {
    const { json, tf } = synthStack(configFixture([withNetworking({})]));
    expect(staticEips(tf)).toEqual([]);
    expect(json).toHaveResourceWithProperties(Lb, { subnets: expect.any(Array) });
    expect(tf.output?.static_ips_nlb).toBeUndefined();
  });
});

describe("connection limits", () => {
  it("reach the agent as TCP_ADDON_MAX_CONNECTIONS and TCP_ADDON_MAX_CONNECTIONS_PER_IP", () => {
    const { tf } = synthStack(configFixture([withNetworking({ clientIp: "proxy-v2", maxConnections: 500, maxConnectionsPerIp: 20 })]));
    expect(envOf(containersOf(tf, "mqtt")[1])).toMatchObject({
      TCP_ADDON_MAX_CONNECTIONS: "500",
      TCP_ADDON_MAX_CONNECTIONS_PER_IP: "20",
    });
  });

  it("take the plan's default when the app sets none", () => {
    const app = appFixture("mqtt", { plan: { name: "tcp-1k", packetsPerSecond: 1000, maxConnections: 10_000 } });
    const { tf } = synthStack(configFixture([app]));
    expect(envOf(containersOf(tf, "mqtt")[1]).TCP_ADDON_MAX_CONNECTIONS).toBe("10000");
  });
});

describe("with every option on", () => {
  it("the security policy still passes (TCP-LB4 accepts TLS) and every reference resolves", () => {
    const { stack, tf } = synthStack(
      configFixture(
        [
          withNetworking({
            clientIp: "proxy-v2-to-app",
            tls: { domain: "mqtt.example.com", hostedZoneId: ZONE, alpn: "None" },
            domain: { name: "mqtt.example.com", hostedZoneId: ZONE },
            maxConnections: 1000,
            maxConnectionsPerIp: 10,
          }),
        ],
        { staticIps: true },
      ),
    );
    expect(checkPolicy(stack).findings.filter((f) => f.level === "error")).toEqual([]);
    expect(Object.keys(resourcesOf(tf, "aws_route53_record"))).toHaveLength(2);
    expect(unresolvedReferences(tf)).toEqual([]);
  });
});
