import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { synthConfig } from "../provider/second-apply";
import type { TfJson } from "./fixtures";

/**
 * docs/deployer-policy.json, the IAM policy docs/first-deploy.md gives the deployer, against what
 * the stack declares: every `aws_*` resource and data source type of the example, the valid
 * fixtures and one config with every feature on maps to an IAM service prefix, and the policy
 * allows actions of that service. A type the table does not know fails, so a construct that
 * starts declaring a new kind of resource also updates the policy.
 */

const ROOT = path.resolve(__dirname, "../..");
const FIXTURES = path.join(__dirname, "../provider/fixtures/valid");

/**
 * Terraform type (without `aws_`) -> the IAM service its API calls belong to; undefined for data
 * sources the provider answers without a call. First match wins, so route53 comes before route.
 */
const IAM_SERVICE: readonly (readonly [RegExp, string | undefined])[] = [
  [/^route53_/, "route53"],
  [/^(vpc|subnet|internet_gateway|nat_gateway|eip|route|route_table|default_security_group|security_group|availability_zones)(_|$)/, "ec2"],
  [/^lb(_|$)/, "elasticloadbalancing"],
  [/^ecs_/, "ecs"],
  [/^ecr_/, "ecr"],
  [/^cloudwatch_log_/, "logs"],
  [/^cloudwatch_/, "cloudwatch"],
  [/^iam_/, "iam"],
  [/^ssm_/, "ssm"],
  [/^sns_/, "sns"],
  [/^appautoscaling_/, "application-autoscaling"],
  [/^acm_/, "acm"],
  [/^caller_identity$/, "sts"],
  [/^(region|partition)$/, undefined],
];

/**
 * What the image build step (a local-exec of `aws ecr` and `docker push`) calls. "The following
 * IAM policy grants the required permissions for pushing an image": CompleteLayerUpload,
 * UploadLayerPart, InitiateLayerUpload, BatchCheckLayerAvailability, PutImage, BatchGetImage and
 * GetAuthorizationToken (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html);
 * DescribeImages for the step's "already pushed" check.
 */
const IMAGE_PUSH_ACTIONS = [
  "ecr:GetAuthorizationToken",
  "ecr:DescribeImages",
  "ecr:BatchCheckLayerAvailability",
  "ecr:InitiateLayerUpload",
  "ecr:UploadLayerPart",
  "ecr:CompleteLayerUpload",
  "ecr:PutImage",
  "ecr:BatchGetImage",
];

/** Every feature that declares its own kinds of resources, in one project. */
const EVERY_FEATURE = {
  project: "all",
  region: "eu-west-1",
  staticIps: true,
  alarms: { email: "ops@example.com" },
  apps: {
    mqtt: {
      build: "examples/mqtt",
      procfile: "examples/mqtt/Procfile",
      containers: { min: 1, max: 3 },
      allowedCidrs: ["0.0.0.0/0", "::/0"],
      clientIp: "proxy-v2",
      tls: { domain: "mqtt.example.com", hostedZoneId: "Z0123456789ABC" },
      domain: { name: "mqtt.example.com", hostedZoneId: "Z0123456789ABC" },
      secrets: { DB_PASSWORD: "arn:aws:ssm:eu-west-1:123456789012:parameter/mqtt/db-password" },
    },
  },
};

interface Statement {
  readonly Effect: "Allow" | "Deny";
  readonly Action: string | readonly string[];
}

const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "docs", "deployer-policy.json"), "utf8")) as {
  Version: string;
  Statement: Statement[];
};
const allowed = policy.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => (typeof s.Action === "string" ? [s.Action] : [...s.Action]));

/** Whether an allowed action (maybe `Describe*`) covers `action`. */
function allows(action: string): boolean {
  return allowed.some((a) => new RegExp(`^${a.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(action));
}

/** `aws_*` resource types and `data.aws_*` data source types of a synthesized stack. */
function typesOf(tf: TfJson): string[] {
  return [...Object.keys(tf.resource ?? {}), ...Object.keys(tf.data ?? {}).map((t) => `data.${t}`)].filter((t) => /^(data\.)?aws_/.test(t));
}

const yamlAt = (file: string): unknown => parse(fs.readFileSync(file, "utf8"));

describe("docs/deployer-policy.json", () => {
  let types: string[];

  beforeAll(() => {
    const configs: unknown[] = [
      yamlAt(path.join(ROOT, "tcp-addon.yaml")),
      ...fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml")).map((f) => yamlAt(path.join(FIXTURES, f))),
      EVERY_FEATURE,
    ];
    types = [...new Set(configs.flatMap((raw) => typesOf(synthConfig(raw, ROOT).json)))].sort();
  });

  it("is an IAM policy document", () => {
    expect(policy.Version).toBe("2012-10-17");
    expect(policy.Statement.length).toBeGreaterThan(0);
  });

  it("sees the kinds of resources the features declare (the synths cover them)", () => {
    expect(types).toEqual(
      expect.arrayContaining(["aws_ecr_repository", "aws_acm_certificate", "aws_route53_record", "aws_appautoscaling_policy", "aws_sns_topic", "aws_eip", "data.aws_vpc"]),
    );
  });

  it("maps every declared aws_* type to an IAM service in the table", () => {
    const unmapped = types.filter((t) => !IAM_SERVICE.some(([pattern]) => pattern.test(t.replace(/^(data\.)?aws_/, ""))));
    expect(unmapped).toEqual([]);
  });

  it("allows actions of the service behind every declared type", () => {
    const missing = types.flatMap((type) => {
      const service = IAM_SERVICE.find(([pattern]) => pattern.test(type.replace(/^(data\.)?aws_/, "")))?.[1];
      return service === undefined || allowed.some((a) => a.startsWith(`${service}:`)) ? [] : [`${type} (${service}:*)`];
    });
    expect(missing).toEqual([]);
  });

  it("allows what the image build step calls to push an image", () => {
    expect(IMAGE_PUSH_ACTIONS.filter((a) => !allows(a))).toEqual([]);
  });

  it("lets the deployer pass roles to ECS tasks only", () => {
    const passRole = policy.Statement.filter((s) => [s.Action].flat().includes("iam:PassRole"));
    expect(passRole).toEqual([expect.objectContaining({ Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } })]);
  });

  it("names no action twice and no whole-service wildcard", () => {
    expect(allowed.filter((a, i) => allowed.indexOf(a) !== i)).toEqual([]);
    expect(allowed.filter((a) => a === "*" || a.endsWith(":*"))).toEqual([]);
  });
});
