import { isRecord, list } from "../facts";
import type { PolicyRule } from "../rule";

/** TCP-ECS6: the ECS cluster has Container Insights on (per-task CPU, memory and network metrics). */
export const ContainerInsights: PolicyRule = {
  id: "TCP-ECS6",
  name: "container-insights",
  level: "error",
  explanation: "Without Container Insights a throttled or crashing task leaves no per-task metrics to investigate",
  fix: 'add setting { name = "containerInsights", value = "enabled" } (or "enhanced") to the cluster',
  mirrors: ["checkov CKV_AWS_65", "trivy AVD-AWS-0034"],
  resourceTypes: ["aws_ecs_cluster"],
  check(resource) {
    const setting = list(resource.attrs.setting).find((s) => isRecord(s) && s.name === "containerInsights");
    const value = isRecord(setting) ? setting.value : undefined;
    if (value === "enabled" || value === "enhanced") return [];
    return [{ detail: value === undefined ? "Container Insights is not set (off by default)" : `containerInsights is "${String(value)}"` }];
  },
};
