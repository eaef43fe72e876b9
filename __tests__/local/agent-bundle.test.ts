import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureAgentBundle } from "../../runtime/local/cli";

jest.setTimeout(60_000);

let dir: string | undefined;

afterEach(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("ensureAgentBundle", () => {
  it("builds a runnable agent bundle when none exists", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-bundle-"));
    const file = path.join(dir, "tcp-addon-agent.js");
    const logged: string[] = [];

    await ensureAgentBundle((line) => logged.push(line), file);
    const help = spawnSync(process.execPath, [file, "--help"], { encoding: "utf8", timeout: 20_000 });

    expect(logged).toHaveLength(1);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("tcp-addon-agent");
  });

  it("uses an existing bundle as it is", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-bundle-"));
    const file = path.join(dir, "tcp-addon-agent.js");
    fs.writeFileSync(file, "// prebuilt\n");
    const logged: string[] = [];

    await ensureAgentBundle((line) => logged.push(line), file);

    expect(logged).toEqual([]);
    expect(fs.readFileSync(file, "utf8")).toBe("// prebuilt\n");
  });
});
