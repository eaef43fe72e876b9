import type { PolicyRule } from "../rule";
import { LISTENER_TYPES, LOAD_BALANCER_TYPES } from "./lb-common";

/** Listeners one NLB can hold; AWS does not raise it. */
export const MAX_LISTENERS_PER_NLB = 50;

/**
 * TCP-LB5: no load balancer carries more than 50 listeners. `terraform apply` would fail
 * half-way through creating them; the product spreads apps over several NLBs instead.
 */
export const ListenerCapacity: PolicyRule = {
  id: "TCP-LB5",
  name: "listener-capacity",
  level: "error",
  explanation: `An NLB holds at most ${MAX_LISTENERS_PER_NLB} listeners, a limit AWS does not raise`,
  fix: "place the extra apps on another NLB (loadBalancer: N in the config)",
  mirrors: [],
  resourceTypes: LOAD_BALANCER_TYPES,
  check(resource, facts) {
    const listeners = facts
      .ofType(...LISTENER_TYPES)
      .filter((l) => facts.referenced(l.attrs.load_balancer_arn)?.address === resource.address).length;
    if (listeners <= MAX_LISTENERS_PER_NLB) return [];
    return [{ detail: `${listeners} listeners on one load balancer (limit ${MAX_LISTENERS_PER_NLB})` }];
  },
};
