import type { AppSpec } from "./schema";

/**
 * Public ports and NLB placement.
 *
 * Derived ports: FNV-1a (32-bit) over the app name's UTF-8 bytes, mapped into
 * DERIVED_PORT_MIN..DERIVED_PORT_MAX (10000-32767: below the Linux ephemeral range, which
 * starts at 32768, so a local balancer never races outgoing connections for its port).
 * This function and its range are part of the product's contract: changing either moves every deployed TCP_URL that relies on it.
 * Ports outside the range stay free for explicit `port:` values.
 *
 * Placement: an NLB holds at most 50 listeners (an AWS limit). Apps with `loadBalancer: N`
 * go to NLB N. The others fill NLB 0, 1, 2... in file order, first fit, skipping full ones.
 * Appending unpinned apps never moves an existing app. Removing an unpinned app from the
 * middle of the file, or adding a pinned app to an NLB that unpinned apps had filled, can move
 * later unpinned apps to another NLB (their TCP_URL host changes); pinning them with
 * `loadBalancer: N` prevents that.
 */

export const DERIVED_PORT_MIN = 10000;
export const DERIVED_PORT_MAX = 32767;
export const LISTENERS_PER_LOAD_BALANCER = 50;

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of the UTF-8 bytes of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

/** The stable public port of an app without an explicit `port:`. */
export function derivePort(appName: string): number {
  return DERIVED_PORT_MIN + (fnv1a32(appName) % (DERIVED_PORT_MAX - DERIVED_PORT_MIN + 1));
}

/** What placement needs from an app. */
export interface PlacementInput {
  readonly name: string;
  readonly port?: AppSpec["port"];
  readonly loadBalancer?: AppSpec["loadBalancer"];
}

export interface Placement {
  readonly name: string;
  readonly port: number;
  readonly portDerived: boolean;
  readonly loadBalancer: number;
}

/** A placement problem with the app it belongs to (for the issue's path). */
export interface PlacementIssue {
  readonly app: string;
  readonly field: "port" | "loadBalancer";
  readonly message: string;
}

/**
 * Chooses each app's port and NLB, in the input's order. Returns every problem found:
 * more than 50 apps pinned to one NLB, or two apps on the same port of the same NLB.
 */
export function placeApps(apps: readonly PlacementInput[]): {
  readonly placements: readonly Placement[];
  readonly issues: readonly PlacementIssue[];
} {
  const issues: PlacementIssue[] = [];
  const load = new Map<number, number>();
  const lbOf = new Map<string, number>();

  for (const app of apps) {
    if (app.loadBalancer === undefined) continue;
    const count = (load.get(app.loadBalancer) ?? 0) + 1;
    load.set(app.loadBalancer, count);
    lbOf.set(app.name, app.loadBalancer);
    if (count === LISTENERS_PER_LOAD_BALANCER + 1) {
      issues.push({
        app: app.name,
        field: "loadBalancer",
        message:
          `more than ${LISTENERS_PER_LOAD_BALANCER} apps are pinned to load balancer ${app.loadBalancer} ` +
          `(an NLB holds at most ${LISTENERS_PER_LOAD_BALANCER} listeners); pin this app to another load balancer`,
      });
    }
  }

  let next = 0;
  for (const app of apps) {
    if (app.loadBalancer !== undefined) continue;
    while ((load.get(next) ?? 0) >= LISTENERS_PER_LOAD_BALANCER) next += 1;
    load.set(next, (load.get(next) ?? 0) + 1);
    lbOf.set(app.name, next);
  }

  const placements: Placement[] = apps.map((app) => ({
    name: app.name,
    port: app.port ?? derivePort(app.name),
    portDerived: app.port === undefined,
    loadBalancer: lbOf.get(app.name) ?? 0,
  }));

  const owner = new Map<string, Placement>();
  for (const p of placements) {
    const key = `${p.loadBalancer}:${p.port}`;
    const first = owner.get(key);
    if (first === undefined) {
      owner.set(key, p);
      continue;
    }
    const how = (x: Placement): string => (x.portDerived ? "derived from its name" : "set explicitly");
    issues.push({
      app: p.name,
      field: "port",
      message:
        `port ${p.port} (${how(p)}) is already used by app "${first.name}" (${how(first)}) ` +
        `on load balancer ${p.loadBalancer}; set \`port:\` on "${p.name}" or "${first.name}" to a free port`,
    });
  }

  return { placements, issues };
}
