import { isTrue } from "../facts";
import type { PolicyRule } from "../rule";
import { TARGET_GROUP_TYPES } from "./lb-common";

/**
 * TCP-LB3: TCP target groups close open connections when deregistration ends. Without it a
 * stopped task's connections hang until the client notices; the seed's contract is that old
 * connections are dropped and clients reconnect to a live task.
 */
export const ConnectionTermination: PolicyRule = {
  id: "TCP-LB3",
  name: "connection-termination",
  level: "error",
  explanation: "Connections to a deregistered task must be closed so that clients reconnect to a live one",
  fix: "set connection_termination = true on the target group",
  mirrors: [],
  resourceTypes: TARGET_GROUP_TYPES,
  check(resource) {
    const protocol = String(resource.attrs.protocol ?? "").toUpperCase();
    if (protocol === "HTTP" || protocol === "HTTPS" || protocol === "GENEVE") return []; // not a setting there
    if (isTrue(resource.attrs.connection_termination)) return [];
    return [{ detail: "connection_termination is not true: connections outlive the deregistration delay" }];
  },
};
