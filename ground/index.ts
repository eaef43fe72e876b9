/**
 * The ground floor: what the config, the constructs, local mode and the command line share with
 * the agent. The files live in runtime/agent/, because the agent ships alone (its bundle may import
 * only Node built-ins and its own folder); every other layer takes them through this one module.
 * - `contract.ts`: the facts the declaration and the agent must agree on (env names, ports,
 *   packet size, ceilings, default drain).
 * - `errors.ts`: `TcpAddonError`, the one error base (a stable `TCP_ADDON_*` code, one-line
 *   issues), and the text helpers `oneLine`, `messageOf`, `issuesOf`, `isRecord`.
 */
export * from "../runtime/agent/contract";
export { isRecord, issuesOf, messageOf, oneLine, TcpAddonError } from "../runtime/agent/errors";
