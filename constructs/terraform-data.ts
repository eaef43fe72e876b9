import { Construct } from "constructs";
import { anyToTerraform, hashMapper, TerraformMetaArguments, TerraformResource } from "cdktf";

/** Props of {@link TerraformData}: the arguments of Terraform's `terraform_data`. */
export interface TerraformDataProps extends TerraformMetaArguments {
  /** Values whose change replaces the resource (and so runs its provisioners again). */
  readonly triggersReplace?: Record<string, string>;
  /** Values stored in the state and exposed as `output`. */
  readonly input?: Record<string, string>;
}

/**
 * Terraform's built-in `terraform_data` resource (Terraform 1.4 or later; no provider download).
 * cdktf's own `DataResource` declares the same thing but runs `terraform version` on every synth
 * to check the 1.4 floor, which makes synth fail where Terraform is not installed (a laptop, a
 * scanner's CI job) and costs ~0.4 s; the floor is checked where it matters, at deploy time.
 */
export class TerraformData extends TerraformResource {
  private readonly props: TerraformDataProps;

  constructor(scope: Construct, id: string, props: TerraformDataProps) {
    super(scope, id, {
      terraformResourceType: "terraform_data",
      terraformGeneratorMetadata: { providerName: "terraform" },
      ...props,
    });
    this.props = props;
  }

  /** The resource's arguments as Terraform reads them. */
  protected synthesizeAttributes(): { [name: string]: unknown } {
    return {
      input: hashMapper(anyToTerraform)(this.props.input),
      triggers_replace: hashMapper(anyToTerraform)(this.props.triggersReplace),
    };
  }
}
