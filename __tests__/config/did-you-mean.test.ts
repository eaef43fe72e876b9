import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../config";
import { meantKey } from "../../config/issues";

/** A typo'd key gets the key it most likely meant (fastest-levenshtein), and only a close one. */

function problems(yaml: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-did-you-mean-"));
  try {
    fs.writeFileSync(path.join(dir, "tcp-addon.yaml"), yaml);
    loadConfig(path.join(dir, "tcp-addon.yaml"));
    return [];
  } catch (err) {
    return (err as { issues: string[] }).issues;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("did you mean", () => {
  it("names the key a typo meant, on the typo's line, before the keys it knows", () => {
    const lines = problems("project: acme\nregion: eu-west-1\napps:\n  mqtt:\n    image: x\n    command: node s.js\n    contaners: 2\n    alowedCidrs: [0.0.0.0/0]\n");
    expect(lines).toEqual([
      expect.stringMatching(/tcp-addon\.yaml:7: apps\.mqtt\.contaners: unknown key "contaners"; did you mean "containers"\? expected one of: image, /),
      expect.stringMatching(/tcp-addon\.yaml:8: apps\.mqtt\.alowedCidrs: unknown key "alowedCidrs"; did you mean "allowedCidrs"\? expected one of: /),
    ]);
  });

  it("works at the top level and in nested blocks", () => {
    expect(problems("project: acme\nregoin: eu-west-1\napps: {}\n")).toEqual(expect.arrayContaining([expect.stringMatching(/regoin: unknown key "regoin"; did you mean "region"\?/)]));
  });

  it("suggests nothing for a key that is close to none", () => {
    const [line] = problems("project: acme\nregion: eu-west-1\napps:\n  mqtt: { image: x, command: y, zzz: 1 }\n");
    expect(line).toMatch(/unknown key "zzz"; expected one of: /);
    expect(line).not.toContain("did you mean");
  });

  it.each([
    ["Containers", "containers"], // case
    ["contianers", "containers"], // swapped letters
    ["memroy", "memory"],
    ["drainSeconds", "agentDrainSeconds"], // a part of the key
  ])("%s -> %s", (typed, meant) => {
    expect(meantKey(typed, ["image", "containers", "memory", "agentDrainSeconds", "cpu"])).toBe(meant);
  });

  it.each(["cp", "x", "port2x", "secret-things"])("%s -> nothing", (typed) => {
    expect(meantKey(typed, ["image", "containers", "memory", "plan"])).toBeUndefined();
  });
});
