import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LOCAL_STATE_NOTICE } from "../../config/state";

const REPO = path.resolve(__dirname, "..", "..");

describe("npm run synth where Terraform is not installed", () => {
  let work: string;
  beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-addon-noterraform-"))));
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  it("synthesizes the example, the agent's and the app's image builds included", () => {
    // given a PATH that holds node and nothing else (no terraform, no docker)
    const bin = path.join(work, "bin");
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, "node"));
    const out = path.join(work, "cdktf.out");

    // when
    const result = spawnSync(process.execPath, ["--import", "tsx", "main.ts"], {
      cwd: REPO,
      env: { PATH: bin, HOME: work, CDKTF_OUTDIR: out, TCP_ADDON_CONFIG: path.join(REPO, "tcp-addon.yaml") },
      encoding: "utf8",
      timeout: 60_000,
    });

    // then
    expect(result.stderr).toBe(`${LOCAL_STATE_NOTICE}\n`);
    expect(result.status).toBe(0);
    const tf = JSON.parse(fs.readFileSync(path.join(out, "stacks", "acme", "cdk.tf.json"), "utf8"));
    // The image builds (the other terraform_data is the load balancer's address mode).
    expect(Object.keys(tf.resource.terraform_data).filter((id) => /_Build_[0-9A-F]{8}$/.test(id)).map((id) => id.replace(/_[0-9A-F]{8}$/, "")).sort()).toEqual(["Platform_AgentImage_Build", "mqtt_Image_Build"]);
  });
});
