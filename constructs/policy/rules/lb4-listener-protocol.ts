import { describe } from "../facts";
import type { PolicyRule } from "../rule";
import { LISTENER_TYPES } from "./lb-common";

/**
 * TCP-LB4: NLB listeners speak TCP or TLS. The product forwards byte streams; UDP would bypass
 * the agent's packet accounting, and HTTP belongs on an Application Load Balancer.
 */
export const ListenerProtocol: PolicyRule = {
  id: "TCP-LB4",
  name: "listener-protocol-tcp-or-tls",
  level: "error",
  explanation: "The product carries TCP streams; any other listener protocol is either unsupported or unencrypted HTTP",
  fix: 'set protocol = "TCP" (or "TLS" with a certificate) on the listener',
  mirrors: ["checkov CKV_AWS_2", "trivy AVD-AWS-0054"],
  resourceTypes: LISTENER_TYPES,
  check(resource) {
    const protocol = resource.attrs.protocol;
    if (protocol === "TCP" || protocol === "TLS") return [];
    return [{ detail: `listener protocol is ${describe(protocol)}` }];
  },
};
