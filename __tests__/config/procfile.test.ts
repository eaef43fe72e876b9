import { parseProcfile, ProcfileError } from "../../config";

function problems(text: string, requireTcp = false): readonly string[] {
  try {
    parseProcfile(text, "Procfile", { requireTcp });
  } catch (err) {
    if (err instanceof ProcfileError) return err.issues;
    throw err;
  }
  return [];
}

describe("parseProcfile", () => {
  it("reads name: command lines in file order", () => {
    const processes = parseProcfile("web: npm start\ntcp: node server.js\n", "Procfile");
    expect([...processes]).toEqual([
      ["web", "npm start"],
      ["tcp", "node server.js"],
    ]);
  });

  it("ignores comments and blank lines", () => {
    const processes = parseProcfile("# the broker\n\n   \ntcp: node server.js\n  # indented comment\n", "Procfile");
    expect([...processes.keys()]).toEqual(["tcp"]);
  });

  it("accepts CRLF line ends without keeping the carriage return", () => {
    const processes = parseProcfile("web: npm start\r\ntcp: node server.js\r\n", "Procfile");
    expect(processes.get("tcp")).toBe("node server.js");
  });

  it("keeps colons and spacing inside the command", () => {
    const processes = parseProcfile("tcp: node server.js --listen 0.0.0.0:$PORT  --name=a:b", "Procfile");
    expect(processes.get("tcp")).toBe("node server.js --listen 0.0.0.0:$PORT  --name=a:b");
  });

  it("accepts names of letters, digits, underscores and hyphens", () => {
    const processes = parseProcfile("tcp_2-b: run\nTCP: run", "Procfile");
    expect([...processes.keys()]).toEqual(["tcp_2-b", "TCP"]);
  });

  it("reports a malformed line with file and line number", () => {
    expect(problems("web: npm start\nthis is not a process\n")).toEqual([
      expect.stringMatching(/^Procfile:2: malformed line "this is not a process"/),
    ]);
  });

  it("reports a name with characters outside [A-Za-z0-9_-] as malformed", () => {
    expect(problems("my.proc: run")).toEqual([expect.stringMatching(/^Procfile:1: malformed line/)]);
  });

  it("reports a duplicate name with both line numbers", () => {
    expect(problems("tcp: a\nweb: b\ntcp: c\n")).toEqual([
      'Procfile:3: duplicate process "tcp" (first on line 1); keep one',
    ]);
  });

  it("reports a process without a command", () => {
    expect(problems("tcp:   \n")).toEqual([expect.stringMatching(/^Procfile:1: process "tcp" has no command/)]);
  });

  it("reports a missing tcp entry when one is required", () => {
    expect(problems("web: npm start\n", true)).toEqual([
      'Procfile: no "tcp" process; add a line like "tcp: node server.js"',
    ]);
  });

  it("accepts a Procfile without tcp when none is required", () => {
    expect(problems("web: npm start\n", false)).toEqual([]);
  });

  it("collects every problem of the file, not just the first", () => {
    expect(problems("bad line\ntcp: a\ntcp: b\nalso bad\n")).toHaveLength(3);
  });

  it("throws an error with a stable code", () => {
    expect(() => parseProcfile("nonsense", "Procfile")).toThrow(
      expect.objectContaining({ code: "TCP_ADDON_PROCFILE_INVALID" }),
    );
  });
});
