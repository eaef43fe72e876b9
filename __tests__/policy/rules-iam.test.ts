import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { compliantStack, findingsOf } from "./helpers";

const policy = (statement: Record<string, unknown>) => JSON.stringify({ Version: "2012-10-17", Statement: [statement] });
const DB_PARAMETER = "arn:aws:ssm:eu-west-1:123456789012:parameter/mqtt/db";
const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

describe("TCP-IAM1 execution-role-minimal", () => {
  it("keeps an execution role with only AmazonECSTaskExecutionRolePolicy", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-IAM1")).toEqual([]);
  });

  it("keeps an inline policy that reads the app's secrets by exact ARN", () => {
    const { stack, executionRole } = compliantStack();
    new IamRolePolicy(stack, "ReadSecrets", {
      role: executionRole.name,
      policy: policy({ Effect: "Allow", Action: "ssm:GetParameters", Resource: [DB_PARAMETER] }),
    });
    expect(findingsOf(stack, "TCP-IAM1")).toEqual([]);
  });

  it("flags another managed policy attached to the execution role", () => {
    const { stack, executionRole } = compliantStack();
    new IamRolePolicyAttachment(stack, "S3ReadOnly", {
      role: executionRole.name,
      policyArn: "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    });
    const findings = findingsOf(stack, "TCP-IAM1");
    expect(findings.map((f) => [f.path, f.detail])).toEqual([
      ["test/S3ReadOnly", expect.stringContaining("AmazonS3ReadOnlyAccess")],
    ]);
  });

  it("flags an inline policy that grants the execution role more than secret reads", () => {
    const { stack, executionRole } = compliantStack();
    new IamRolePolicy(stack, "Extra", {
      role: executionRole.name,
      policy: policy({ Effect: "Allow", Action: ["ssm:GetParameters", "s3:PutObject"], Resource: [DB_PARAMETER] }),
    });
    expect(findingsOf(stack, "TCP-IAM1").map((f) => f.detail)).toEqual([expect.stringContaining("s3:PutObject")]);
  });

  it("keeps kms:Decrypt on the exact customer-managed key that encrypts the secrets", () => {
    const { stack, executionRole } = compliantStack();
    new IamRolePolicy(stack, "Decrypt", {
      role: executionRole.name,
      policy: policy({ Effect: "Allow", Action: "kms:Decrypt", Resource: [KMS_KEY] }),
    });
    expect(findingsOf(stack, "TCP-IAM1")).toEqual([]);
  });

  it("flags kms:Decrypt on every key", () => {
    const { stack, executionRole } = compliantStack();
    new IamRolePolicy(stack, "DecryptAll", {
      role: executionRole.name,
      policy: policy({ Effect: "Allow", Action: "kms:Decrypt", Resource: "*" }),
    });
    expect(findingsOf(stack, "TCP-IAM1").map((f) => f.detail)).toEqual([expect.stringContaining("instead of exact ARNs")]);
  });

  it("flags kms:Decrypt granted on something that is not a KMS key", () => {
    const { stack, executionRole } = compliantStack();
    new IamRolePolicy(stack, "DecryptParameter", {
      role: executionRole.name,
      policy: policy({ Effect: "Allow", Action: ["ssm:GetParameters", "kms:Decrypt"], Resource: [DB_PARAMETER] }),
    });
    expect(findingsOf(stack, "TCP-IAM1").map((f) => f.detail)).toEqual([
      expect.stringMatching(/grants kms:Decrypt on .*parameter\/mqtt\/db.*, which is not a KMS key/),
    ]);
  });

  it("flags secret reads on every resource", () => {
    const { stack, executionRole } = compliantStack();
    new IamRolePolicy(stack, "AllSecrets", {
      role: executionRole.name,
      policy: policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }),
    });
    expect(findingsOf(stack, "TCP-IAM1").map((f) => f.path)).toEqual(["test/AllSecrets"]);
  });
});

describe("TCP-IAM2 task-role-no-wildcards", () => {
  it("keeps a task role with no permissions", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-IAM2")).toEqual([]);
  });

  it("keeps an exact action on an exact resource", () => {
    const { stack, taskRole } = compliantStack();
    new IamRolePolicy(stack, "ReadConfig", {
      role: taskRole.name,
      policy: policy({ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::acme-config/mqtt.json" }),
    });
    expect(findingsOf(stack, "TCP-IAM2")).toEqual([]);
  });

  it("flags a wildcard action in an inline policy", () => {
    const { stack, taskRole } = compliantStack();
    new IamRolePolicy(stack, "S3Star", {
      role: taskRole.name,
      policy: policy({ Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::acme-config/*" }),
    });
    const findings = findingsOf(stack, "TCP-IAM2");
    expect(findings.map((f) => [f.path, f.detail])).toEqual([["test/S3Star", expect.stringContaining('"s3:*"')]]);
  });

  it("flags a wildcard resource in a policy document data source", () => {
    const { stack, taskRole } = compliantStack();
    const doc = new DataAwsIamPolicyDocument(stack, "Doc", {
      statement: [{ actions: ["sqs:SendMessage"], resources: ["*"] }],
    });
    new IamRolePolicy(stack, "Queue", { role: taskRole.name, policy: doc.json });
    const findings = findingsOf(stack, "TCP-IAM2");
    expect(findings.map((f) => [f.path, f.detail])).toEqual([["test/Queue", expect.stringContaining('wildcard resource "*"')]]);
  });

  it("flags a wildcard in a customer managed policy attached to the task role", () => {
    const { stack, taskRole } = compliantStack();
    const admin = new IamPolicy(stack, "Admin", { name: "admin", policy: policy({ Effect: "Allow", Action: "*", Resource: "*" }) });
    new IamRolePolicyAttachment(stack, "AttachAdmin", { role: taskRole.name, policyArn: admin.arn });
    const findings = findingsOf(stack, "TCP-IAM2");
    expect(findings.map((f) => f.path)).toEqual(["test/AttachAdmin", "test/AttachAdmin"]);
  });

  it("flags an AWS managed policy attached to the task role", () => {
    const { stack, taskRole } = compliantStack();
    new IamRolePolicyAttachment(stack, "PowerUser", {
      role: taskRole.name,
      policyArn: "arn:aws:iam::aws:policy/PowerUserAccess",
    });
    expect(findingsOf(stack, "TCP-IAM2").map((f) => f.path)).toEqual(["test/PowerUser"]);
  });

  it("flags a NotAction allow in an inline policy on the role itself", () => {
    const { stack, taskRole } = compliantStack();
    taskRole.putInlinePolicy([
      { name: "almost-admin", policy: policy({ Effect: "Allow", NotAction: "iam:*", Resource: "arn:aws:s3:::x" }) },
    ]);
    expect(findingsOf(stack, "TCP-IAM2").map((f) => f.detail)).toEqual([expect.stringContaining("NotAction")]);
  });

  it("ignores wildcards in Deny statements", () => {
    const { stack, taskRole } = compliantStack();
    new IamRolePolicy(stack, "DenyAll", {
      role: taskRole.name,
      policy: policy({ Effect: "Deny", Action: "*", Resource: "*" }),
    });
    expect(findingsOf(stack, "TCP-IAM2")).toEqual([]);
  });
});

describe("TCP-IAM3 separate-task-and-execution-roles", () => {
  it("keeps a task definition whose task role differs from its execution role", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-IAM3")).toEqual([]);
  });

  it("flags a task definition that runs the app with the execution role", () => {
    const { stack, taskDefinition, executionRole } = compliantStack();
    taskDefinition.taskRoleArn = executionRole.arn;
    expect(findingsOf(stack, "TCP-IAM3").map((f) => f.path)).toEqual(["test/TaskDefinition"]);
  });
});
