import { CfnResource, cloudformation_include as cfn_inc } from 'aws-cdk-lib';
import { COMPACT_NAG_METADATA, acknowledgeForNag3, nagSuppressionsOf } from './private/nag';

/**
 * The library's accepted cdk-nag findings, for a template you read back
 * yourself: the StackSet's embedded template (`ImdsAccountDefaultsStackSet.templateBody`)
 * checked through `CfnInclude`.
 *
 * The constructs record their accepted findings in two forms: metadata on
 * each resource, with the reason (`cdk_nag`, which cdk-nag 2 reads, in your
 * stacks; in the StackSet's embedded template, which has a size limit, a
 * compact form, `imds_nag`, one entry per rule and reason for all the packs
 * that share them), and aws-cdk-lib acknowledgements
 * (`Validations.of(resource).acknowledge`, read by cdk-nag 3), which live in
 * the construct tree only. A template read back with `CfnInclude` keeps the
 * metadata and has lost the acknowledgements: this class turns the metadata
 * into what each cdk-nag reads.
 */
export class ImdsNagAcknowledgements {
  /**
   * Accepts every finding that the metadata of the included template's resources
   * accepts, finding by finding, with the library's reasons (exactly what the
   * library accepts on its own resources): for cdk-nag 3, as acknowledgements;
   * for cdk-nag 2, the compact form of the StackSet's embedded template is
   * written out as `cdk_nag` metadata on each included resource. Call it once,
   * after creating the `CfnInclude` and before synth, whichever cdk-nag you run.
   *
   * With an aws-cdk-lib without `Validations` (before 2.257) it records no
   * acknowledgement, and returns 0; the `cdk_nag` metadata is written all the same.
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
        const suppressions = nagSuppressionsOf(c);
        // cdk-nag 2 reads `cdk_nag` only: the compact form, written out (a template that has `cdk_nag` already keeps it).
        if (c.getMetadata(COMPACT_NAG_METADATA) !== undefined && c.getMetadata('cdk_nag') === undefined && suppressions.length > 0) {
          c.addMetadata('cdk_nag', {
            rules_to_suppress: suppressions.map(({ id, reason, appliesTo }) => ({ id, reason, ...(appliesTo ? { applies_to: appliesTo } : {}) })),
          });
        }
        count += acknowledgeForNag3(c, suppressions);
      }
    }
    return count;
  }

  private constructor() {}
}
