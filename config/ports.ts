import { DEFAULT_RULES_PER_SECURITY_GROUP, type AppSpec } from "./schema";

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
 *
 * Security group rules: each NLB has one security group that holds every inbound rule of its
 * apps (one per allowed CIDR) plus RESERVED_INBOUND_RULES (ICMP "fragmentation needed" for path
 * MTU discovery), and AWS counts at most 60 inbound rules per group per IP family by default.
 * Placement counts them: an unpinned app that would push its NLB's group past the quota goes to
 * the next NLB, as it would past 50 listeners.
 */

export const DERIVED_PORT_MIN = 10000;
/** The highest port `derivePort` gives (below Linux's ephemeral range). */
export const DERIVED_PORT_MAX = 32767;
/** Listeners an NLB may hold: an AWS limit that cannot be raised. */
export const LISTENERS_PER_LOAD_BALANCER = 50;
/** Inbound rules per IP family that every NLB security group holds besides the apps' (ICMP for path MTU discovery). */
export const RESERVED_INBOUND_RULES = 1;

/** Where to raise the rules quota, for error messages. */
export const RULES_QUOTA_FIX =
  'raise "Inbound or outbound rules per security group" (Service Quotas, Amazon VPC, L-0EA8095F) and set `quotas.rulesPerSecurityGroup:` to the new value';

/** True for an IPv6 CIDR block. */
export function isIpv6Cidr(cidr: string): boolean {
  return cidr.includes(":");
}

/** Inbound rules an app adds to its NLB's security group, per IP family. */
export function inboundRules(allowedCidrs: readonly string[]): { readonly ipv4: number; readonly ipv6: number } {
  const ipv6 = allowedCidrs.filter(isIpv6Cidr).length;
  return { ipv4: allowedCidrs.length - ipv6, ipv6 };
}

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
  /** The app's name. */
  readonly name: string;
  /** The app's `port:`; undefined = derived from the name. */
  readonly port?: AppSpec["port"];
  /** The app's `loadBalancer:`; undefined = placed automatically. */
  readonly loadBalancer?: AppSpec["loadBalancer"];
  /** The app's allowed CIDRs (one NLB inbound rule each); omitted = one IPv4 rule. */
  readonly allowedCidrs?: readonly string[];
}

/** Where an app landed: its port and its load balancer. */
export interface Placement {
  /** The app's name. */
  readonly name: string;
  /** The listener port. */
  readonly port: number;
  /** True when the port was derived from the name rather than set. */
  readonly portDerived: boolean;
  /** Index of the project's NLB that holds the app's listener. */
  readonly loadBalancer: number;
}

/** A placement problem with the app it belongs to (for the issue's path). */
export interface PlacementIssue {
  /** The app the problem is about. */
  readonly app: string;
  /** The app's key the problem is about. */
  readonly field: "port" | "loadBalancer" | "allowedCidrs";
  /** The problem and its fix, one line. */
  readonly message: string;
}

/**
 * Chooses each app's port and NLB, in the input's order. Returns every problem found: more
 * than 50 apps pinned to one NLB, more inbound rules on one NLB's security group than the
 * quota allows, or two apps on the same port of the same NLB.
 */
export function placeApps(
  apps: readonly PlacementInput[],
  { rulesPerSecurityGroup = DEFAULT_RULES_PER_SECURITY_GROUP }: { rulesPerSecurityGroup?: number } = {},
): {
  readonly placements: readonly Placement[];
  readonly issues: readonly PlacementIssue[];
} {
  const loads = new LoadBalancerLoads(rulesPerSecurityGroup);
  const issues = [...apps.flatMap((app) => oversizedCidrIssue(app, loads)), ...placePinned(apps, loads)];
  placeUnpinned(apps, loads);
  const placements: Placement[] = apps.map((app) => ({
    name: app.name,
    port: app.port ?? derivePort(app.name),
    portDerived: app.port === undefined,
    loadBalancer: loads.loadBalancerOf(app.name) ?? 0,
  }));
  return { placements, issues: [...issues, ...portClashIssues(placements)] };
}

/** What one NLB carries: listeners, and inbound rules per IP family. */
interface Load {
  readonly listeners: number;
  readonly ipv4: number;
  readonly ipv6: number;
}

/** The listeners and security-group rules of each NLB as apps are added, against the rules quota. */
class LoadBalancerLoads {
  /** Inbound rules per IP family an NLB group has left for its apps. */
  readonly budget: number;
  private readonly loads = new Map<number, Load>();
  private readonly placed = new Map<string, number>();

  constructor(readonly rulesPerSecurityGroup: number) {
    this.budget = rulesPerSecurityGroup - RESERVED_INBOUND_RULES;
  }

  of(lb: number): Load {
    return this.loads.get(lb) ?? { listeners: 0, ipv4: 0, ipv6: 0 };
  }

  loadBalancerOf(app: string): number | undefined {
    return this.placed.get(app);
  }

  /** Puts `app` on `lb`; returns the NLB's load before and after. */
  add(lb: number, app: PlacementInput): { before: Load; after: Load } {
    const before = this.of(lb);
    const rules = rulesOf(app);
    const after = { listeners: before.listeners + 1, ipv4: before.ipv4 + rules.ipv4, ipv6: before.ipv6 + rules.ipv6 };
    this.loads.set(lb, after);
    this.placed.set(app.name, lb);
    return { before, after };
  }

  /** Whether `app` fits on `lb`: a free listener and room for its rules in both families. */
  fits(lb: number, app: PlacementInput): boolean {
    const now = this.of(lb);
    const rules = rulesOf(app);
    return now.listeners < LISTENERS_PER_LOAD_BALANCER && now.ipv4 + rules.ipv4 <= this.budget && now.ipv6 + rules.ipv6 <= this.budget;
  }

  /** Whether the app's own rules fit in one group at all. */
  canEverFit(app: PlacementInput): boolean {
    const rules = rulesOf(app);
    return rules.ipv4 <= this.budget && rules.ipv6 <= this.budget;
  }
}

function rulesOf(app: PlacementInput): { readonly ipv4: number; readonly ipv6: number } {
  return inboundRules(app.allowedCidrs ?? ["0.0.0.0/0"]);
}

/** An app with more CIDR blocks of one family than one security group holds. */
function oversizedCidrIssue(app: PlacementInput, loads: LoadBalancerLoads): PlacementIssue[] {
  const rules = rulesOf(app);
  const family = rules.ipv4 > loads.budget ? "IPv4" : rules.ipv6 > loads.budget ? "IPv6" : undefined;
  if (family === undefined) return [];
  return [{
    app: app.name,
    field: "allowedCidrs",
    message:
      `${Math.max(rules.ipv4, rules.ipv6)} ${family} CIDR blocks need more inbound rules than one security group holds ` +
      `(${loads.rulesPerSecurityGroup} per IP family, ${RESERVED_INBOUND_RULES} kept for ICMP); merge them into fewer, wider blocks, or ${RULES_QUOTA_FIX}`,
  }];
}

/** Apps with `loadBalancer: N` go to NLB N; the app that overfills an NLB is reported. */
function placePinned(apps: readonly PlacementInput[], loads: LoadBalancerLoads): PlacementIssue[] {
  const issues: PlacementIssue[] = [];
  for (const app of apps) {
    if (app.loadBalancer === undefined) continue;
    const { before, after } = loads.add(app.loadBalancer, app);
    if (after.listeners === LISTENERS_PER_LOAD_BALANCER + 1) {
      issues.push({
        app: app.name,
        field: "loadBalancer",
        message:
          `more than ${LISTENERS_PER_LOAD_BALANCER} apps are pinned to load balancer ${app.loadBalancer} ` +
          `(an NLB holds at most ${LISTENERS_PER_LOAD_BALANCER} listeners); pin this app to another load balancer`,
      });
    }
    for (const family of ["ipv4", "ipv6"] as const) {
      if (before[family] <= loads.budget && after[family] > loads.budget && rulesOf(app)[family] <= loads.budget) {
        issues.push({
          app: app.name,
          field: "loadBalancer",
          message:
            `the apps pinned to load balancer ${app.loadBalancer} need ${after[family] + RESERVED_INBOUND_RULES} ${family === "ipv4" ? "IPv4" : "IPv6"} ` +
            `inbound rules on its security group, over the quota of ${loads.rulesPerSecurityGroup}; pin this app to another load balancer, ` +
            `use fewer \`allowedCidrs\`, or ${RULES_QUOTA_FIX}`,
        });
      }
    }
  }
  return issues;
}

/** The other apps fill NLB 0, 1, 2... in order, first fit, skipping full ones. */
function placeUnpinned(apps: readonly PlacementInput[], loads: LoadBalancerLoads): void {
  let next = 0;
  for (const app of apps) {
    if (app.loadBalancer !== undefined) continue;
    // An app whose rules can never fit was reported above; it goes where it would otherwise land.
    const placeable = loads.canEverFit(app);
    while (placeable ? !loads.fits(next, app) : loads.of(next).listeners >= LISTENERS_PER_LOAD_BALANCER) next += 1;
    loads.add(next, app);
  }
}

/** Two apps on the same port of the same NLB: the second is reported. */
function portClashIssues(placements: readonly Placement[]): PlacementIssue[] {
  const issues: PlacementIssue[] = [];
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
  return issues;
}
