import { CfnResource, cloudformation_include as cfn_inc } from 'aws-cdk-lib';
import { acknowledgeForNag3, nagSuppressionsOf } from './private/nag';

/**
 * The library's accepted cdk-nag findings, for a template you read back
 * yourself: the StackSet's embedded template (`ImdsAccountDefaultsStackSet.templateBody`)
 * checked through `CfnInclude`.
 *
 * The constructs record their accepted findings in two forms: `cdk_nag`
 * metadata on each resource (read by cdk-nag 2, and carried into every
 * template, the embedded one included) and aws-cdk-lib acknowledgements
 * (`Validations.of(resource).acknowledge`, read by cdk-nag 3), which live in
 * the construct tree only. A template read back with `CfnInclude` keeps the
 * first and has lost the second: this class turns the one back into the other.
 */
export class ImdsNagAcknowledgements {
  /**
   * Acknowledges, for cdk-nag 3, every finding that the `cdk_nag` metadata of the
   * included template's resources accepts, finding by finding, with the
   * library's reasons (exactly what the library acknowledges on its own
   * resources). Call it once, after creating the `CfnInclude` and before synth.
   *
   * With cdk-nag 2, or an aws-cdk-lib without `Validations` (before 2.257), it
   * records nothing and is not needed: cdk-nag 2 reads the metadata itself.
   *
   * Only the template's own metadata is read: use it on templates this library
   * wrote (it acknowledges whatever suppressions a template carries).
   *
   * @param template the `CfnInclude` of the StackSet's embedded template
   * @returns how many acknowledgements were recorded (0 where aws-cdk-lib has no `Validations`)
   */
  public static ofIncludedTemplate(template: cfn_inc.CfnInclude): number {
    let count = 0;
    for (const c of template.node.findAll()) {
      if (CfnResource.isCfnResource(c)) {
        count += acknowledgeForNag3(c, nagSuppressionsOf(c));
      }
    }
    return count;
  }

  private constructor() {}
}
