import { Logger, RateLimitedLog } from "../../runtime/agent/log";

function setup() {
  let now = 0;
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ write: (line: string) => lines.push(JSON.parse(line)) });
  const log = new RateLimitedLog(logger, () => now, 1000);
  return { log, lines, advance: (ms: number) => (now += ms) };
}

describe("RateLimitedLog", () => {
  it("writes one line per key per interval, and the next line carries how many were held back", () => {
    // given
    const { log, lines, advance } = setup();
    // when
    log.warn("k", "proxy-header", { reason: "first" });
    advance(999);
    log.warn("k", "proxy-header", { reason: "held" });
    log.warn("k", "proxy-header", { reason: "held" });
    advance(1);
    log.warn("k", "proxy-header", { reason: "after" });
    // then
    expect(lines.map((l) => [l.event, l.level, l.reason, l.notLogged])).toEqual([
      ["proxy-header", "warn", "first", 0],
      ["proxy-header", "warn", "after", 2],
    ]);
  });

  it("limits each key on its own", () => {
    const { log, lines } = setup();
    log.warn("10.0.0.1", "connection-limit", { client: "10.0.0.1" });
    log.warn("10.0.0.2", "connection-limit", { client: "10.0.0.2" });
    log.warn("10.0.0.1", "connection-limit", { client: "10.0.0.1" });
    expect(lines.map((l) => l.client)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });
});
