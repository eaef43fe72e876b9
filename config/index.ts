/** The config API: schema and types, loader, Procfile parser, plans, ports, Fargate sizes, secret detection. */
export * from "./schema";
export * from "./errors";
export * from "./load";
export * from "./plans";
export * from "./ports";
export * from "./procfile";
export * from "./fargate";
export * from "./secrets";
export * from "./deploy-timings";
export * from "./state";
export { CLIENT_IP_MODES, type ClientIpMode } from "../ground";
