import { isRecord } from "../../ground";
import type { IConstruct } from "constructs";
import {
  DefaultTokenResolver,
  StringConcat,
  TerraformDataSource,
  TerraformResource,
  TerraformStack,
  Tokenization,
} from "cdktf";
import type { ResourceView } from "./rule";

const RESOLVER = new DefaultTokenResolver(new StringConcat());

/** `${aws_iam_role.Exec_1A2B.arn}` or `${data.aws_iam_policy_document.Doc.json}`: a whole-value reference. */
const REFERENCE = /^\$\{(data\.)?([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/;
const SECURITY_GROUP_TYPES = ["aws_security_group"];
const LOAD_BALANCER_TYPES = ["aws_lb", "aws_alb"];

/** One IAM policy statement, normalized from JSON or from an `aws_iam_policy_document`. */
export interface PolicyStatement {
  /** `Allow` or `Deny`. */
  readonly effect: "Allow" | "Deny";
  /** The statement's `Action`s. */
  readonly actions: readonly string[];
  /** The statement's `NotAction`s. */
  readonly notActions: readonly string[];
  /** The statement's `Resource`s. */
  readonly resources: readonly string[];
  /** The statement's `NotResource`s. */
  readonly notResources: readonly string[];
}

/** A policy document read from the stack, or why it could not be read. */
export type PolicyDocument =
  | { readonly statements: readonly PolicyStatement[] }
  | { readonly unreadable: string };

/** One entry of `container_definitions`, as ECS reads it (camelCase keys). */
export interface ContainerDefinition {
  /** Container name. */
  readonly name?: unknown;
  /** The uid or user the container runs as. */
  readonly user?: unknown;
  /** Whether the container is privileged. */
  readonly privileged?: unknown;
  /** Whether the root filesystem is read-only. */
  readonly readonlyRootFilesystem?: unknown;
  /** Environment variables, as written. */
  readonly environment?: unknown;
  /** Any other field of the definition. */
  readonly [key: string]: unknown;
}

/** The containers of a task definition, or why they could not be read. */
export type Containers =
  | { readonly containers: readonly ContainerDefinition[] }
  | { readonly unreadable: string };

/**
 * Everything a rule may need to know about the stack around one resource, read once from
 * the synthesized form of every resource and data source in the stack.
 */
export class StackFacts {
  /** Reads every Terraform resource and data source of the stack that holds `scope`. */
  public static collect(scope: IConstruct): StackFacts {
    const stack = TerraformStack.of(scope);
    const views: ResourceView[] = [];
    for (const node of stack.node.findAll()) {
      const isResource = TerraformResource.isTerraformResource(node);
      const isDataSource = !isResource && TerraformDataSource.isTerraformDataSource(node);
      if (!isResource && !isDataSource) continue;
      const element = node as TerraformResource | TerraformDataSource;
      const synthesized = Tokenization.resolve(element.toTerraform(), {
        scope: stack,
        preparing: false,
        resolver: RESOLVER,
      }) as Record<string, Record<string, Record<string, Record<string, unknown>>> | undefined>;
      const block = synthesized[isDataSource ? "data" : "resource"];
      const byId = block?.[element.terraformResourceType];
      if (!byId) continue; // a moved resource synthesizes no block
      const attrs = { ...byId[element.friendlyUniqueId] };
      delete attrs["//"];
      const address = `${isDataSource ? "data." : ""}${element.terraformResourceType}.${element.friendlyUniqueId}`;
      views.push({
        type: element.terraformResourceType,
        logicalId: element.friendlyUniqueId,
        address,
        path: node.node.path,
        construct: node,
        isDataSource,
        attrs,
      });
    }
    return new StackFacts(views);
  }

  /** Every resource and data source of the stack, in tree order. */
  public readonly resources: readonly ResourceView[];
  private readonly byAddressMap = new Map<string, ResourceView>();
  private readonly memo = new Map<string, unknown>();

  public constructor(resources: readonly ResourceView[]) {
    this.resources = resources;
    for (const r of resources) this.byAddressMap.set(r.address, r);
  }

  /** Managed resources (not data sources) of the given types. */
  public ofType(...types: readonly string[]): ResourceView[] {
    return this.resources.filter((r) => !r.isDataSource && types.includes(r.type));
  }

  /** The resource with this Terraform address, if the stack has one. */
  public byAddress(address: string): ResourceView | undefined {
    return this.byAddressMap.get(address);
  }

  /** The resource a whole-value reference like `${aws_lb.Nlb.arn}` points at, if it is in the stack. */
  public referenced(value: unknown): ResourceView | undefined {
    if (typeof value !== "string") return undefined;
    const m = REFERENCE.exec(value);
    if (!m) return undefined;
    return this.byAddress(`${m[1] ?? ""}${m[2]}.${m[3]}`);
  }

  /**
   * A key that is equal for two values naming the same thing: the address for a reference
   * to a resource of the stack, the literal string otherwise (an id like `sg-0abc`).
   */
  public key(value: unknown): string | undefined {
    if (typeof value !== "string" || value === "") return undefined;
    return this.referenced(value)?.address ?? value;
  }

  /** Keys of the security groups that ECS services put their tasks in. */
  public taskSecurityGroups(): ReadonlySet<string> {
    return this.memoized("taskSecurityGroups", () => {
      const keys = new Set<string>();
      for (const service of this.ofType("aws_ecs_service")) {
        for (const sg of list(block(service.attrs.network_configuration)?.security_groups)) {
          const k = this.key(sg);
          if (k) keys.add(k);
        }
      }
      return keys;
    });
  }

  /** Keys of the security groups attached to load balancers. */
  public loadBalancerSecurityGroups(): ReadonlySet<string> {
    return this.memoized("loadBalancerSecurityGroups", () => {
      const keys = new Set<string>();
      for (const lb of this.ofType(...LOAD_BALANCER_TYPES)) {
        for (const sg of list(lb.attrs.security_groups)) {
          const k = this.key(sg);
          if (k) keys.add(k);
        }
      }
      return keys;
    });
  }

  /** True when the security group named by `value` (a reference or an id) holds tasks. */
  public isTaskSecurityGroup(value: unknown): boolean {
    const k = this.key(value);
    return k !== undefined && this.taskSecurityGroups().has(k);
  }

  /** True when `sg` is a security group resource of the stack that holds tasks. */
  public isTaskSecurityGroupResource(sg: ResourceView): boolean {
    return SECURITY_GROUP_TYPES.includes(sg.type) && this.taskSecurityGroups().has(sg.address);
  }

  /** True when the security group named by `value` is attached to a load balancer. */
  public isLoadBalancerSecurityGroup(value: unknown): boolean {
    const k = this.key(value);
    return k !== undefined && this.loadBalancerSecurityGroups().has(k);
  }

  /**
   * A key for an IAM role named by a reference (`.arn`, `.name`, `.id`), an ARN or a name,
   * equal for all the ways of naming the same role.
   */
  public roleKey(value: unknown): string | undefined {
    const ref = this.referenced(value);
    if (ref) return ref.address;
    if (typeof value !== "string" || value === "") return undefined;
    const name = ROLE_ARN.exec(value)?.[1] ?? value;
    const declared = this.ofType("aws_iam_role").find((r) => r.attrs.name === name);
    return declared?.address ?? `role:${name}`;
  }

  /** Keys of the roles that task definitions use as execution role. */
  public executionRoles(): ReadonlySet<string> {
    return this.memoized("executionRoles", () => this.rolesOf("execution_role_arn"));
  }

  /** Keys of the roles that task definitions give their tasks. */
  public taskRoles(): ReadonlySet<string> {
    return this.memoized("taskRoles", () => this.rolesOf("task_role_arn"));
  }

  /**
   * Reads a policy document: a JSON string, a reference to an `aws_iam_policy_document`
   * data source (`.json`), or to an `aws_iam_policy` (`.policy`, `.arn`, `.id`).
   */
  public policyDocument(value: unknown): PolicyDocument {
    const ref = this.referenced(value);
    if (ref?.type === "aws_iam_policy_document" && ref.isDataSource) return this.documentFromData(ref);
    if (ref?.type === "aws_iam_policy" && !ref.isDataSource) return this.policyDocument(ref.attrs.policy);
    if (typeof value === "string" && value.trimStart().startsWith("{")) {
      try {
        return { statements: statementsFromJson(JSON.parse(value)) };
      } catch {
        return { unreadable: "the policy is not valid JSON" };
      }
    }
    return { unreadable: `the policy ${describe(value)} is not a JSON document or a policy in this stack` };
  }

  /** The containers of an `aws_ecs_task_definition`. */
  public containers(taskDefinition: ResourceView): Containers {
    return this.memoized(`containers:${taskDefinition.address}`, () => {
      const raw = taskDefinition.attrs.container_definitions;
      if (typeof raw !== "string") return { unreadable: "container_definitions is not set" };
      try {
        const parsed: unknown = JSON.parse(raw);
        if (!Array.isArray(parsed) || !parsed.every(isRecord)) {
          return { unreadable: "container_definitions is not a JSON array of objects" };
        }
        return { containers: parsed as ContainerDefinition[] };
      } catch {
        return {
          unreadable: "container_definitions is not literal JSON (build it with JSON.stringify, tokens only inside strings)",
        };
      }
    });
  }

  private rolesOf(attribute: string): Set<string> {
    const keys = new Set<string>();
    for (const td of this.ofType("aws_ecs_task_definition")) {
      const k = this.roleKey(td.attrs[attribute]);
      if (k) keys.add(k);
    }
    return keys;
  }

  private documentFromData(data: ResourceView): PolicyDocument {
    const statements: PolicyStatement[] = [];
    for (const s of list(data.attrs.statement)) {
      if (!isRecord(s)) continue;
      statements.push({
        effect: s.effect === "Deny" ? "Deny" : "Allow",
        actions: strings(s.actions),
        notActions: strings(s.not_actions),
        resources: strings(s.resources),
        notResources: strings(s.not_resources),
      });
    }
    for (const attr of ["source_policy_documents", "override_policy_documents"]) {
      for (const doc of list(data.attrs[attr])) {
        const inner = this.policyDocument(doc);
        if ("unreadable" in inner) return inner;
        statements.push(...inner.statements);
      }
    }
    return { statements };
  }

  private memoized<T>(key: string, compute: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, compute());
    return this.memo.get(key) as T;
  }
}

function statementsFromJson(doc: unknown): PolicyStatement[] {
  if (!isRecord(doc)) throw new Error("not an object");
  const raw = doc.Statement;
  const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return statements.filter(isRecord).map((s) => ({
    effect: s.Effect === "Deny" ? "Deny" : "Allow",
    actions: strings(s.Action),
    notActions: strings(s.NotAction),
    resources: strings(s.Resource),
    notResources: strings(s.NotResource),
  }));
}

/** A Terraform nested block: synthesized as an object, or as a one-element list. */
export function block(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) return isRecord(value[0]) ? value[0] : undefined;
  return isRecord(value) ? value : undefined;
}

/** A Terraform list attribute or repeated block; a missing value is an empty list. */
export function list(value: unknown): readonly unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** Strings of a list attribute, or of a single string. */
export function strings(value: unknown): string[] {
  return list(value).filter((v): v is string => typeof v === "string");
}

export { isRecord };

/** Terraform booleans may synthesize as `true` or `"true"`. */
export function isTrue(value: unknown): boolean {
  return value === true || value === "true";
}

/** Terraform numbers may synthesize as numbers or numeric strings; undefined when neither. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return Number(value);
  return undefined;
}

/** True when a string holds a Terraform expression that only `terraform apply` knows. */
export function isUnknown(value: unknown): boolean {
  return typeof value === "string" && value.includes("${");
}

/** A short printable form of an attribute value for messages. */
export function describe(value: unknown): string {
  if (value === undefined) return "(unset)";
  const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
