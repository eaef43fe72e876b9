import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SecurityGroupRule } from "@cdktf/provider-aws/lib/security-group-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { compliantStack, findingsOf, synthReport } from "./helpers";

describe("the compliant reference stack", () => {
  it("has no finding of any rule", () => {
    const { stack } = compliantStack();
    expect(synthReport(stack).findings).toEqual([]);
  });
});

describe("TCP-SG1 task-ingress-from-nlb-only", () => {
  it("keeps a task security group that admits only the NLB's security group", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-SG1")).toEqual([]);
  });

  it("flags a task ingress rule from a CIDR, on that rule's path", () => {
    const { stack, taskSecurityGroup } = compliantStack();
    new VpcSecurityGroupIngressRule(stack, "FromVpc", {
      securityGroupId: taskSecurityGroup.id,
      description: "health checker",
      ipProtocol: "tcp",
      fromPort: 7001,
      toPort: 7001,
      cidrIpv4: "10.0.0.0/16",
    });
    const findings = findingsOf(stack, "TCP-SG1");
    expect(findings.map((f) => f.path)).toEqual(["test/FromVpc"]);
    expect(findings[0]!.detail).toContain("10.0.0.0/16");
  });

  it("flags a task ingress from a security group that no load balancer uses", () => {
    const { stack, taskSecurityGroup } = compliantStack();
    const bastion = new SecurityGroup(stack, "Bastion", { name: "bastion", description: "ssh hosts" });
    new SecurityGroupRule(stack, "FromBastion", {
      type: "ingress",
      securityGroupId: taskSecurityGroup.id,
      sourceSecurityGroupId: bastion.id,
      protocol: "tcp",
      fromPort: 7000,
      toPort: 7000,
      description: "debugging",
    });
    expect(findingsOf(stack, "TCP-SG1").map((f) => f.path)).toEqual(["test/FromBastion"]);
  });

  it("flags an inline ingress block of a task security group", () => {
    const { stack, taskSecurityGroup } = compliantStack();
    taskSecurityGroup.putIngress([
      { description: "office", protocol: "tcp", fromPort: 7000, toPort: 7000, cidrBlocks: ["203.0.113.0/24"] },
    ]);
    const findings = findingsOf(stack, "TCP-SG1");
    expect(findings.map((f) => [f.path, f.detail])).toEqual([
      ["test/TaskSecurityGroup", expect.stringContaining("203.0.113.0/24")],
    ]);
  });

  it("flags a service that leaves its tasks in the default security group", () => {
    const { stack, service } = compliantStack();
    service.putNetworkConfiguration({ subnets: ["subnet-0ccc"], assignPublicIp: false });
    expect(findingsOf(stack, "TCP-SG1").map((f) => f.path)).toEqual(["test/Service"]);
  });

  it("does not look at ingress into the NLB's own security group", () => {
    const { stack, nlbSecurityGroup } = compliantStack();
    new VpcSecurityGroupIngressRule(stack, "MorePublic", {
      securityGroupId: nlbSecurityGroup.id,
      description: "second listener",
      ipProtocol: "tcp",
      fromPort: 20004,
      toPort: 20004,
      cidrIpv4: "198.51.100.0/24",
    });
    expect(findingsOf(stack, "TCP-SG1")).toEqual([]);
  });
});

describe("TCP-SG2 no-open-ingress", () => {
  it("keeps a task group open to the NLB on two ports and an NLB group open to the world on one", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-SG2")).toEqual([]);
  });

  it("flags 0.0.0.0/0 into a task security group", () => {
    const { stack, taskSecurityGroup } = compliantStack();
    new VpcSecurityGroupIngressRule(stack, "World", {
      securityGroupId: taskSecurityGroup.id,
      description: "oops",
      ipProtocol: "tcp",
      fromPort: 5000,
      toPort: 5000,
      cidrIpv4: "0.0.0.0/0",
    });
    const findings = findingsOf(stack, "TCP-SG2");
    expect(findings.map((f) => f.path)).toEqual(["test/World"]);
    expect(findings[0]!.detail).toContain("0.0.0.0/0");
  });

  it("flags ::/0 into a task security group", () => {
    const { stack, taskSecurityGroup } = compliantStack();
    new VpcSecurityGroupIngressRule(stack, "World6", {
      securityGroupId: taskSecurityGroup.id,
      description: "oops",
      ipProtocol: "tcp",
      fromPort: 7000,
      toPort: 7000,
      cidrIpv6: "::/0",
    });
    expect(findingsOf(stack, "TCP-SG2").map((f) => f.path)).toEqual(["test/World6"]);
  });

  it("flags a rule that opens every protocol, even on the NLB's group", () => {
    const { stack, nlbSecurityGroup } = compliantStack();
    new VpcSecurityGroupIngressRule(stack, "Everything", {
      securityGroupId: nlbSecurityGroup.id,
      description: "all traffic",
      ipProtocol: "-1",
      cidrIpv4: "198.51.100.0/24",
    });
    const findings = findingsOf(stack, "TCP-SG2");
    expect(findings.map((f) => [f.path, f.detail])).toEqual([["test/Everything", expect.stringContaining("all protocols")]]);
  });

  it("flags a port range 0-65535 from the NLB into the tasks", () => {
    const { stack, tasksFromNlb } = compliantStack();
    tasksFromNlb.fromPort = 0;
    tasksFromNlb.toPort = 65535;
    expect(findingsOf(stack, "TCP-SG2").map((f) => f.path)).toEqual(["test/TasksFromNlb"]);
  });
});

describe("TCP-SG3 security-group-descriptions (warning)", () => {
  it("keeps groups and rules that all carry descriptions", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-SG3")).toEqual([]);
  });

  it("warns about a security group rule without a description", () => {
    const { stack, nlbSecurityGroup } = compliantStack();
    new VpcSecurityGroupIngressRule(stack, "Undescribed", {
      securityGroupId: nlbSecurityGroup.id,
      ipProtocol: "tcp",
      fromPort: 20004,
      toPort: 20004,
      cidrIpv4: "198.51.100.0/24",
    });
    const findings = findingsOf(stack, "TCP-SG3");
    expect(findings.map((f) => [f.path, f.level])).toEqual([["test/Undescribed", "warning"]]);
  });

  it("warns about a security group left with Terraform's placeholder description", () => {
    const { stack } = compliantStack();
    new SecurityGroup(stack, "Placeholder", { name: "x", description: "Managed by Terraform" });
    expect(findingsOf(stack, "TCP-SG3").map((f) => f.path)).toEqual(["test/Placeholder"]);
  });
});

describe("TCP-ECS1 no-public-ip", () => {
  it("keeps a service with assign_public_ip false", () => {
    const { stack } = compliantStack();
    expect(findingsOf(stack, "TCP-ECS1")).toEqual([]);
  });

  it("flags a service that assigns public IPs to its tasks", () => {
    const { stack, service } = compliantStack();
    service.networkConfiguration.assignPublicIp = true;
    expect(findingsOf(stack, "TCP-ECS1").map((f) => f.path)).toEqual(["test/Service"]);
  });
});
