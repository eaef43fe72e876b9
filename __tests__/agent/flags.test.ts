import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FlagError } from "../../runtime/agent/errors";
import { type AgentOptions, parseFlags } from "../../runtime/agent/flags";
import { BUNDLE, Resources, agentEnv } from "./helpers";

function options(argv: string[], env: NodeJS.ProcessEnv = {}): AgentOptions {
  const parsed = parseFlags(argv, env);
  if (parsed.help) throw new Error("expected options, got --help");
  return parsed.options;
}

function flagError(argv: string[], env: NodeJS.ProcessEnv = {}): FlagError {
  try {
    parseFlags(argv, env);
  } catch (error) {
    if (error instanceof FlagError) return error;
    throw error;
  }
  throw new Error(`expected a FlagError for ${argv.join(" ")}`);
}

describe("parseFlags", () => {
  it("applies the documented defaults", () => {
    expect(options(["--listen", "9000", "--upstream", "127.0.0.1:8080"])).toEqual({
      listen: 9000,
      host: "0.0.0.0",
      pps: 0,
      burst: 0,
      healthPort: null,
      drainSeconds: 25,
      idleTimeoutSeconds: 360,
      upstream: { host: "127.0.0.1", port: 8080 },
      appPort: null,
      command: null,
      startTimeoutSeconds: 60,
      lifelineFd: null,
      proxyProtocol: "off",
      proxyHeaderTimeoutSeconds: 5,
      maxConnections: 0,
      maxConnectionsPerIp: 0,
    });
  });

  it("reads the PROXY protocol mode and the connection limits from flags or their variables", () => {
    const env = { TCP_ADDON_PROXY_PROTOCOL: "proxy-v2-to-app", TCP_ADDON_MAX_CONNECTIONS_PER_IP: "7" };
    const parsed = parseFlags(["--listen", "9000", "--upstream", "127.0.0.1:8080", "--max-connections", "100"], env);
    expect(parsed).toMatchObject({ options: { proxyProtocol: "proxy-v2-to-app", maxConnections: 100, maxConnectionsPerIp: 7 } });
  });

  it.each([
    [["--proxy-protocol", "v1"], '--proxy-protocol must be one of off, proxy-v2, proxy-v2-to-app, got "v1"'],
    [["--max-connections", "-1"], "--max-connections"],
    [["--proxy-header-timeout", "0"], "--proxy-header-timeout"],
  ])("refuses %j with one line", (extra, message) => {
    expect(flagError(["--listen", "9000", "--upstream", "127.0.0.1:8080", ...extra]).message).toContain(message);
  });

  it.each([
    ["127.0.0.1", "127.0.0.1:9000"],
    ["0.0.0.0", "127.0.0.1:9000"],
    ["0.0.0.0", "localhost:9000"],
    ["127.0.0.1", "localhost:9000"],
    ["0.0.0.0", "0.0.0.0:9000"],
    ["::", "[::1]:9000"],
  ])("refuses an upstream that is the agent's own listener (--host %s, --upstream %s)", (host, upstream) => {
    const error = flagError(["--listen", "9000", "--host", host, "--upstream", upstream]);
    expect(error.code).toBe("TCP_ADDON_AGENT_FLAG");
    expect(error.message).toContain("the agent's own listen address");
  });

  it.each([
    ["127.0.0.1", "127.0.0.1:9001"],
    ["127.0.0.1", "10.0.0.5:9000"],
    ["127.0.0.1", "127.0.0.2:9000"],
  ])("accepts an upstream that is not the agent's own listener (--host %s, --upstream %s)", (host, upstream) => {
    expect(options(["--listen", "9000", "--host", host, "--upstream", upstream]).upstream).not.toBeNull();
  });

  it("reads the lifeline fd from --lifeline-fd or TCP_ADDON_LIFELINE_FD", () => {
    expect(options(["--listen", "0", "--lifeline-fd", "3", "--upstream", "127.0.0.1:1"]).lifelineFd).toBe(3);
    expect(options(["--listen", "0", "--upstream", "127.0.0.1:1"], { TCP_ADDON_LIFELINE_FD: "4" }).lifelineFd).toBe(4);
  });

  it("defaults the burst to one second's worth of packets", () => {
    expect(options(["--listen", "0", "--pps", "5000", "--upstream", "127.0.0.1:1"]).burst).toBe(5000);
  });

  it("caps the default burst at 9,000,000 packets for the largest rates", () => {
    expect(options(["--listen", "0", "--pps", "10000000", "--upstream", "127.0.0.1:1"]).burst).toBe(9_000_000);
  });

  it("reads every setting from its environment variable", () => {
    const parsed = options([], {
      TCP_ADDON_LISTEN: "7000",
      TCP_ADDON_HOST: "127.0.0.1",
      TCP_ADDON_PPS: "1000",
      TCP_ADDON_BURST: "50",
      TCP_ADDON_HEALTH_PORT: "7001",
      TCP_ADDON_DRAIN_SECONDS: "2.5",
      TCP_ADDON_IDLE_TIMEOUT: "600",
      TCP_ADDON_UPSTREAM: "127.0.0.1:8080",
    });
    expect(parsed).toMatchObject({
      listen: 7000,
      host: "127.0.0.1",
      pps: 1000,
      burst: 50,
      healthPort: 7001,
      drainSeconds: 2.5,
      idleTimeoutSeconds: 600,
      upstream: { host: "127.0.0.1", port: 8080 },
    });
  });

  it("lets a flag win over its environment variable", () => {
    expect(options(["--pps=200"], { TCP_ADDON_LISTEN: "1", TCP_ADDON_PPS: "100", TCP_ADDON_UPSTREAM: "h:1" }).pps).toBe(200);
  });

  it("takes everything after -- as the app's command, flags included", () => {
    expect(options(["--listen", "0", "--", "node", "server.js", "--port", "1"]).command).toEqual(["node", "server.js", "--port", "1"]);
  });

  it("reads a bracketed IPv6 upstream", () => {
    expect(options(["--listen", "0", "--upstream", "[::1]:8080"]).upstream).toEqual({ host: "::1", port: 8080 });
  });

  it("returns help for --help, whatever else is given", () => {
    expect(parseFlags(["--pps", "x", "--help"], {})).toEqual({ help: true });
  });

  it.each([
    [["--upstream", "127.0.0.1:1"], /--listen is required/],
    [["--listen", "0"], /--upstream HOST:PORT .* or -- COMMAND/],
    [["--listen", "0", "--upstream", "h:1", "--", "app"], /not both/],
    [["--listen", "0", "--"], /-- must be followed/],
    [["--listen", "70000", "--upstream", "h:1"], /--listen must be a port/],
    [["--listen", "0", "--pps", "-5", "--upstream", "h:1"], /--pps must be an integer/],
    [["--listen", "0", "--pps", "1.5", "--upstream", "h:1"], /--pps must be an integer/],
    [["--listen", "0", "--burst", "10", "--upstream", "h:1"], /--burst needs a packets-per-second limit/],
    [["--listen", "0", "--pps", "10", "--burst", "0", "--upstream", "h:1"], /--burst must be an integer from 1/],
    [["--listen", "0", "--idle-timeout", "0", "--upstream", "h:1"], /--idle-timeout must be a number of seconds/],
    [["--listen", "0", "--upstream", "nohostport"], /--upstream must be HOST:PORT/],
    [["--listen", "0", "--upstream", "h:1", "--app-port", "9"], /only applies in wrapper mode/],
    [["--listen", "0", "--app-port", "0", "--", "app"], /--app-port must be a port from 1/],
    [["--listen", "0", "--frobnicate", "--upstream", "h:1"], /unknown flag --frobnicate/],
    [["--listen", "0", "stray", "--upstream", "h:1"], /unexpected argument "stray"/],
    [["--listen"], /--listen needs a value/],
  ])("rejects %j with a FlagError", (argv, message) => {
    const error = flagError(argv);
    expect(error.code).toBe("TCP_ADDON_AGENT_FLAG");
    expect(error.message).toMatch(message);
  });

  it("names the environment variable when its value is bad", () => {
    expect(flagError([], { TCP_ADDON_LISTEN: "abc" }).message).toMatch(/^TCP_ADDON_LISTEN must be a port/);
  });
});

describe("the tcp-addon-agent command", () => {
  const resources = new Resources();
  afterEach(() => resources.closeAll());

  it("exits 2 on a bad flag, with one error line on stderr followed by the usage", async () => {
    const agent = resources.spawnAgent(["--listen", "0", "--pps", "lots", "--upstream", "127.0.0.1:1"]);
    const exit = await agent.exited;
    expect(exit.code).toBe(2);
    const [first, second, third] = agent.stderr.split("\n");
    expect(first).toBe('tcp-addon-agent: --pps must be an integer from 0 to 10000000, got "lots"');
    expect(second).toBe("");
    expect(third).toBe("Usage:");
    expect(agent.lines).toEqual([]);
  });

  it("exits 2 with one line when --upstream is its own listen address", async () => {
    const agent = resources.spawnAgent(["--listen", "47001", "--host", "127.0.0.1", "--upstream", "127.0.0.1:47001"]);
    expect((await agent.exited).code).toBe(2);
    expect(agent.stderr.split("\n")[0]).toBe(
      "tcp-addon-agent: --upstream 127.0.0.1:47001 is the agent's own listen address (port 47001): it would forward to itself",
    );
    expect(agent.lines).toEqual([]);
  });

  it("exits 2 when the lifeline fd is not an open pipe", async () => {
    const agent = resources.spawnAgent(["--listen", "0", "--lifeline-fd", "77", "--upstream", "127.0.0.1:1"]);
    expect((await agent.exited).code).toBe(2);
    expect(agent.stderr.split("\n")[0]).toBe("tcp-addon-agent: --lifeline-fd 77 is not an open file descriptor (EBADF)");
  });

  it("runs from a folder with no node_modules: --help prints the usage and exits 0", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-agent-"));
    try {
      const copy = path.join(dir, "tcp-addon-agent.js");
      fs.copyFileSync(BUNDLE, copy);
      const agent = resources.spawnAgent(["--help"], { cwd: dir, bundle: copy, env: agentEnv({ NODE_PATH: "" }) });
      const exit = await agent.exited;
      expect(exit.code).toBe(0);
      expect(agent.otherLines[0]).toBe("Usage:");
      expect(agent.stderr).toBe("");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
