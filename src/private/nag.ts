/**
 * cdk-nag suppressions, written as the `cdk_nag` metadata that cdk-nag reads
 * from each L1 resource, so the library does not depend on cdk-nag at run time.
 *
 * Each suppression names one rule and, where the rule reports findings (IAM
 * wildcards), the exact finding it accepts (`applies_to`), never the whole rule.
 * The reasons end up in every user's template: keep them short, but true.
 *
 * The rule packs covered are AwsSolutions and NIST 800-53 rev 5 (see
 * test/nag.test.ts for why that second pack).
 */
import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** One accepted cdk-nag rule (or finding) on one resource. */
export interface NagSuppression {
  /** The rule id, for example `AwsSolutions-IAM5`. */
  readonly id: string;
  /** Why the finding is acceptable (cdk-nag requires 10 characters or more). */
  readonly reason: string;
  /** The findings accepted (for example `Resource::*`); all of the rule's findings when absent. */
  readonly appliesTo?: string[];
}

/** The metadata key cdk-nag reads. */
const NAG_METADATA = 'cdk_nag';

/**
 * Adds the suppressions to the L1 resource behind `scope` (the construct
 * itself or its `defaultChild`), keeping the suppressions already there.
 */
export function addNagSuppressions(scope: IConstruct, suppressions: NagSuppression[]): void {
  const resource = CfnResource.isCfnResource(scope) ? scope : scope.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource)) {
    throw new Error(`[${scope.node.path}] cdk-nag suppressions need an L1 resource (CfnResource)`);
  }
  const existing: unknown[] = resource.getMetadata(NAG_METADATA)?.rules_to_suppress ?? [];
  resource.addMetadata(NAG_METADATA, {
    rules_to_suppress: [
      ...existing,
      ...suppressions.map(({ id, reason, appliesTo }) => ({ id, reason, ...(appliesTo ? { applies_to: appliesTo } : {}) })),
    ],
  });
}

/** The parts of `ImdsAccountDefaults` that cdk-nag reports on. */
export interface ImdsAccountDefaultsNagScope {
  readonly policy: IConstruct;
  readonly handler: IConstruct;
  readonly logGroup: IConstruct;
}

/**
 * The findings the `ImdsAccountDefaults` design accepts, each with its reason.
 */
export function suppressImdsAccountDefaultsFindings({ policy, handler, logGroup }: ImdsAccountDefaultsNagScope): void {
  addNagSuppressions(policy, [
    // EC2 API reference: neither action supports resource-level permissions.
    // The policy is separate from the role so the custom resource can depend on it.
    { id: 'AwsSolutions-IAM5', reason: 'The EC2 IMDS defaults actions have no resource ARNs', appliesTo: ['Resource::*'] },
    // Claims: one parameter per resource, named at deploy time, under the library's fixed path.
    { id: 'AwsSolutions-IAM5', reason: 'One claim parameter per resource, under this library path', appliesTo: ['Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/cdk-imds-account-defaults/claims/*'] },
    // Liveness: DescribeStackResource on any stack of this account and Region that holds a claim.
    { id: 'AwsSolutions-IAM5', reason: 'Read-only check of the stacks that hold claims', appliesTo: ['Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*'] },
    { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: 'Separate so Delete runs before it is removed' },
  ]);
  addNagSuppressions(handler, [
    // Lambda keeps 100 of the account's concurrency unreserved: where the limit is lower
    // (new accounts can have 10) any reservation fails, and StackSets reach such accounts.
    // A DLQ keeps nothing useful: CloudFormation records the result, and the presigned
    // response URL of a failed event expires. The function calls AWS endpoints only.
    { id: 'NIST.800.53.R5-LambdaConcurrency', reason: 'Reserving fails in low-limit accounts' },
    { id: 'NIST.800.53.R5-LambdaDLQ', reason: 'CloudFormation gets every outcome' },
    { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: 'Calls only AWS endpoints; no VPC resources' },
  ]);
  addNagSuppressions(logGroup, [
    // The handler never logs the ResponseURL; CloudWatch Logs encrypts at rest by default.
    { id: 'NIST.800.53.R5-CloudWatchLogGroupEncrypted', reason: 'No secrets logged; encrypted by default' },
  ]);
}
