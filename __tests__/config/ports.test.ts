import fc from "fast-check";
import {
  DERIVED_PORT_MAX,
  DERIVED_PORT_MIN,
  derivePort,
  fnv1a32,
  LISTENERS_PER_LOAD_BALANCER,
  placeApps,
  type PlacementInput,
} from "../../config";

const names = (n: number, prefix = "app"): PlacementInput[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}` }));

function countPerLoadBalancer(apps: readonly PlacementInput[]): number[] {
  const counts: number[] = [];
  for (const p of placeApps(apps).placements) counts[p.loadBalancer] = (counts[p.loadBalancer] ?? 0) + 1;
  return counts;
}

describe("derivePort", () => {
  it("is FNV-1a 32-bit (published test vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("never changes for known names (deployed TCP_URLs depend on it)", () => {
    expect(derivePort("mqtt")).toBe(25707);
    expect(derivePort("a")).toBe(31964);
    expect(derivePort("web-chat")).toBe(23602);
    expect(derivePort("game-server")).toBe(22809);
  });

  it("stays within 10000-32767 for any name", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/), (name) => {
        const port = derivePort(name);
        expect(port).toBeGreaterThanOrEqual(DERIVED_PORT_MIN);
        expect(port).toBeLessThanOrEqual(DERIVED_PORT_MAX);
      }),
      { numRuns: 500 },
    );
  });
});

describe("placeApps: ports", () => {
  it("uses an explicit port instead of the derived one", () => {
    const { placements } = placeApps([{ name: "mqtt", port: 1883 }]);
    expect(placements[0]).toMatchObject({ port: 1883, portDerived: false });
  });

  it("derives the port of an app without one", () => {
    const { placements } = placeApps([{ name: "mqtt" }]);
    expect(placements[0]).toMatchObject({ port: 25707, portDerived: true });
  });

  it("reports two explicit ports on one load balancer, naming both apps and the fix", () => {
    const { issues } = placeApps([
      { name: "first", port: 20000 },
      { name: "second", port: 20000 },
    ]);
    expect(issues).toEqual([
      {
        app: "second",
        field: "port",
        message:
          'port 20000 (set explicitly) is already used by app "first" (set explicitly) on load balancer 0; ' +
          'set `port:` on "second" or "first" to a free port',
      },
    ]);
  });

  it("reports a collision of two derived ports (app-155 and app-340 hash to 19748)", () => {
    const { issues } = placeApps([
      { name: "app-155", loadBalancer: 0 },
      { name: "app-340", loadBalancer: 0 },
    ]);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toContain('port 19748 (derived from its name) is already used by app "app-155"');
  });

  it("reports an explicit port that hits another app's derived port", () => {
    const { issues } = placeApps([{ name: "mqtt" }, { name: "other", port: 25707 }]);
    expect(issues.map((i) => [i.app, i.field])).toEqual([["other", "port"]]);
  });

  it("allows the same port on different load balancers", () => {
    const { issues } = placeApps([
      { name: "one", port: 20000, loadBalancer: 0 },
      { name: "two", port: 20000, loadBalancer: 1 },
    ]);
    expect(issues).toEqual([]);
  });
});

describe("placeApps: load balancers", () => {
  it("puts 120 unpinned apps on three load balancers as 50, 50 and 20", () => {
    expect(countPerLoadBalancer(names(120))).toEqual([50, 50, 20]);
  });

  it("never moves an existing app when apps are appended", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 160 }), fc.integer({ min: 1, max: 60 }), (before, added) => {
        const old = placeApps(names(before)).placements;
        const now = placeApps(names(before + added)).placements.slice(0, before);
        expect(now).toEqual(old);
      }),
      { numRuns: 60 },
    );
  });

  it("puts a pinned app on its load balancer", () => {
    const { placements } = placeApps([{ name: "a" }, { name: "b", loadBalancer: 3 }]);
    expect(placements.map((p) => p.loadBalancer)).toEqual([0, 3]);
  });

  it("fills around pinned apps, skipping full load balancers", () => {
    const pinned = names(50, "pinned").map((a) => ({ ...a, loadBalancer: 0 }));
    const { placements } = placeApps([...pinned, ...names(3)]);
    expect(placements.slice(50).map((p) => p.loadBalancer)).toEqual([1, 1, 1]);
  });

  it(`reports more than ${LISTENERS_PER_LOAD_BALANCER} apps pinned to one load balancer`, () => {
    const pinned = names(51).map((a) => ({ ...a, loadBalancer: 2 }));
    const { issues } = placeApps(pinned);
    expect(issues.filter((i) => i.field === "loadBalancer").map((i) => i.app)).toEqual(["app-50"]);
  });

  it("never puts more than 50 apps on one load balancer", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), { maxLength: 200 }),
        (pins) => {
          const apps = pins.map((loadBalancer, i) => ({ name: `app-${i}`, loadBalancer }));
          const perPin = new Map<number, number>();
          for (const p of pins) if (p !== undefined) perPin.set(p, (perPin.get(p) ?? 0) + 1);
          fc.pre([...perPin.values()].every((n) => n <= LISTENERS_PER_LOAD_BALANCER));
          for (const count of countPerLoadBalancer(apps)) expect(count ?? 0).toBeLessThanOrEqual(LISTENERS_PER_LOAD_BALANCER);
        },
      ),
      { numRuns: 100 },
    );
  });
});
