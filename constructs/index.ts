export * from "./tcp-addon-stack";
export * from "./platform";
export * from "./network";
export * from "./load-balancer";
export * from "./agent-image";
export * from "./tcp-app";
export { containerDefinitions, agentEnvironment, type ContainerApp, type ContainerDefinition, type ContainerSurroundings } from "./container-definitions";
export * from "./names";
export * from "./errors";
export * from "./synth";
export * from "./policy";
// The config API (schema and types, loader, plans, ports): build a ResolvedConfig from a file or in TypeScript.
export * from "../config";
export * from "./terraform-data";
export * from "./app-metrics";
export * from "./alarms";
export * from "./alarm-topic";
export * from "./scaling";
export * from "./dashboard";
