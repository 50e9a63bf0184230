/**
 * The cdk-nag findings the design accepts, each with its reason, recorded the
 * way each cdk-nag major reads them, so the library depends on cdk-nag at no
 * time and users configure nothing:
 *
 * - cdk-nag 2 reads the `cdk_nag` metadata of each L1 resource
 *   (`rules_to_suppress`, with `applies_to` for a rule's single findings);
 * - cdk-nag 3 reads only aws-cdk-lib's acknowledgements,
 *   `Validations.of(scope).acknowledge({ id, reason })`, one per finding, the id
 *   `RuleId[FindingId]` for a rule's single findings (e.g. `AwsSolutions-IAM5[Resource::*]`).
 *   `Validations` exists only in newer aws-cdk-lib releases than our minimum
 *   (cdk-nag 3 needs 2.257 or later): it is looked up at run time, and the
 *   acknowledgements are recorded only where the consumer's aws-cdk-lib has it.
 *
 * Each entry names one rule and, where the rule reports findings (IAM
 * wildcards), the exact finding it accepts, never the whole rule. The v2
 * reasons end up in every user's template: keep them short, but true.
 *
 * Packs covered (test/nag.test.ts for cdk-nag 2, test/nag3.test.ts for cdk-nag 3):
 * AwsSolutions, HIPAA Security, NIST 800-53 rev 4 and rev 5, PCI DSS 3.2.1, Serverless.
 */
import * as cdk from 'aws-cdk-lib';
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

/** The metadata key cdk-nag 2 reads. */
const NAG_METADATA = 'cdk_nag';

/** The part of aws-cdk-lib's `Validations` (2.25x and later) used here. */
interface ValidationsApi {
  of(scope: IConstruct): { acknowledge?: (...rules: Array<{ id: string; reason: string }>) => void };
}

/** aws-cdk-lib's `Validations`, when the consumer's aws-cdk-lib has it (looked up, not imported: our minimum lacks it). */
function validationsApi(): ValidationsApi | undefined {
  const api = (cdk as unknown as { Validations?: ValidationsApi }).Validations;
  return api !== undefined && typeof api.of === 'function' ? api : undefined;
}

/** The L1 resource behind `scope`: the construct itself or its `defaultChild`. */
function l1Of(scope: IConstruct): CfnResource {
  const resource = CfnResource.isCfnResource(scope) ? scope : scope.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource)) {
    throw new Error(`[${scope.node.path}] cdk-nag suppressions need an L1 resource (CfnResource)`);
  }
  return resource;
}

/**
 * Records the accepted findings on the L1 resource behind `scope`: as `cdk_nag`
 * metadata (cdk-nag 2), keeping the suppressions already there, and, where
 * aws-cdk-lib has `Validations`, as one acknowledgement per finding (cdk-nag 3).
 */
export function addNagSuppressions(scope: IConstruct, suppressions: NagSuppression[]): void {
  const resource = l1Of(scope);
  const existing: unknown[] = resource.getMetadata(NAG_METADATA)?.rules_to_suppress ?? [];
  resource.addMetadata(NAG_METADATA, {
    rules_to_suppress: [
      ...existing,
      ...suppressions.map(({ id, reason, appliesTo }) => ({ id, reason, ...(appliesTo ? { applies_to: appliesTo } : {}) })),
    ],
  });

  const validations = validationsApi()?.of(resource);
  if (typeof validations?.acknowledge !== 'function') {
    return;
  }
  for (const { id, reason, appliesTo } of suppressions) {
    for (const findingId of appliesTo ?? [undefined]) {
      validations.acknowledge({ id: findingId === undefined ? id : `${id}[${findingId}]`, reason });
    }
  }
}

/** One rule, under the ids of every pack that has it (the packs name shared rules alike). */
function inPacks(packs: string[], rule: string, reason: string): NagSuppression[] {
  return packs.map((pack) => ({ id: `${pack}-${rule}`, reason }));
}

const HIPAA = 'HIPAA.Security';
const NIST_R4 = 'NIST.800.53.R4';
const NIST_R5 = 'NIST.800.53.R5';
const PCI = 'PCI.DSS.321';
const SERVERLESS = 'Serverless';

/** The parts of `ImdsAccountDefaults` that cdk-nag reports on. */
export interface ImdsAccountDefaultsNagScope {
  readonly policy: IConstruct;
  readonly handler: IConstruct;
  /** The handler's asynchronous invocation settings (`AWS::Lambda::EventInvokeConfig`). */
  readonly eventInvokeConfig: IConstruct;
  readonly logGroup: IConstruct;
  /** Whether the policy grants the readiness check's Describe actions too (`httpTokensEnforced` managed). */
  readonly readinessCheck?: boolean;
}

/**
 * The findings the `ImdsAccountDefaults` design accepts, each with its reason.
 */
export function suppressImdsAccountDefaultsFindings(
  { policy, handler, eventInvokeConfig, logGroup, readinessCheck }: ImdsAccountDefaultsNagScope,
): void {
  addNagSuppressions(policy, [
    // EC2 API reference: neither action supports resource-level permissions; nor do the
    // readiness check's ec2:DescribeLaunchTemplateVersions, ec2:DescribeInstances and
    // autoscaling:DescribeLaunchConfigurations (Service Authorization Reference: List, no
    // resource types), nor cloudwatch:PutMetricData. Conditions limit them: the stack's Region
    // (aws:RequestedRegion), the library's metric namespace (cloudwatch:namespace).
    // Claims need no entry: the policy names the claims path and the resource's own claim exactly.
    // The policy is separate from the role so the custom resource can depend on it.
    {
      id: 'AwsSolutions-IAM5',
      reason: readinessCheck ? 'EC2, readiness and metric actions have no ARNs; one Region' : 'EC2 IMDS defaults and metric actions have no ARNs; one Region',
      appliesTo: ['Resource::*'],
    },
    // Liveness and confirmation: DescribeStackResource on any stack of this account and Region.
    { id: 'AwsSolutions-IAM5', reason: 'Read-only check of the stacks that hold claims', appliesTo: ['Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*'] },
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'IAMNoInlinePolicy', 'Separate so Delete runs before it is removed'),
  ]);
  addNagSuppressions(handler, [
    // Lambda keeps 100 of the account's concurrency unreserved: where the limit is lower
    // (new accounts can have 10) any reservation fails, and StackSets reach such accounts.
    // A DLQ keeps nothing useful: CloudFormation records the result, and the presigned
    // response URL of a failed event expires. The function calls AWS endpoints only.
    // It runs a few times per stack lifetime: its log group holds what tracing would show.
    ...inPacks([HIPAA, NIST_R5], 'LambdaConcurrency', 'Reserving fails in low-limit accounts'),
    ...inPacks([HIPAA, NIST_R5, SERVERLESS], 'LambdaDLQ', 'CloudFormation gets every outcome'),
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'LambdaInsideVPC', 'Calls only AWS endpoints; no VPC resources'),
    ...inPacks([SERVERLESS], 'LambdaTracing', 'Runs a few times per stack; its logs suffice'),
  ]);
  addNagSuppressions(eventInvokeConfig, [
    // Same as the DLQ: CloudFormation records every outcome (retries are off, see the construct).
    ...inPacks([SERVERLESS], 'LambdaAsyncFailureDestination', 'CloudFormation gets every outcome'),
  ]);
  addNagSuppressions(logGroup, [
    // The handler never logs the ResponseURL; CloudWatch Logs encrypts at rest by default.
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'CloudWatchLogGroupEncrypted', 'No secrets logged; encrypted by default'),
  ]);
}

/** The parts of `ImdsInstanceUpgrade` that cdk-nag reports on. */
export interface ImdsInstanceUpgradeNagScope {
  readonly policy: IConstruct;
  readonly handler: IConstruct;
  /** The function's asynchronous invocation settings (`AWS::Lambda::EventInvokeConfig`). */
  readonly eventInvokeConfig: IConstruct;
  readonly logGroup: IConstruct;
  /** The schedule (`AWS::Events::Rule`). */
  readonly rule: IConstruct;
}

/**
 * The findings the `ImdsInstanceUpgrade` design accepts, each with its reason.
 */
export function suppressImdsInstanceUpgradeFindings({ policy, handler, eventInvokeConfig, logGroup, rule }: ImdsInstanceUpgradeNagScope): void {
  addNagSuppressions(policy, [
    // DescribeInstances, GetMetricData and PutMetricData have no resource ARNs; conditions limit
    // the first two to the stack's Region and PutMetricData to the library's namespace.
    { id: 'AwsSolutions-IAM5', reason: 'Describe and CloudWatch metric actions have no ARNs', appliesTo: ['Resource::*'] },
    // Which instances is decided at run time; the condition allows only HttpTokens=required,
    // never on an instance with the exclusion tag.
    { id: 'AwsSolutions-IAM5', reason: 'Any instance here, only to require IMDSv2, never excluded', appliesTo: ['Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*'] },
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'IAMNoInlinePolicy', 'Separate so the deploy run has it'),
  ]);
  addNagSuppressions(handler, [
    ...inPacks([HIPAA, NIST_R5], 'LambdaConcurrency', 'Reserving fails in low-limit accounts'),
    ...inPacks([HIPAA, NIST_R5, SERVERLESS], 'LambdaDLQ', 'Each run logs its outcome; next run retries'),
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'LambdaInsideVPC', 'Calls only AWS endpoints; no VPC resources'),
    ...inPacks([SERVERLESS], 'LambdaTracing', 'Runs on a schedule; its summary log suffices'),
  ]);
  addNagSuppressions(eventInvokeConfig, [
    ...inPacks([SERVERLESS], 'LambdaAsyncFailureDestination', 'Each run logs its outcome; next run retries'),
  ]);
  addNagSuppressions(logGroup, [
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'CloudWatchLogGroupEncrypted', 'No secrets logged; encrypted by default'),
  ]);
  addNagSuppressions(rule, [
    // A scheduled event EventBridge could not deliver is worth nothing later: the next one runs.
    ...inPacks([SERVERLESS], 'EventBusDLQ', 'A missed scheduled run is made up by the next'),
  ]);
}

/**
 * The drift guard's rules (`ImdsAccountDefaults` with `driftGuard`): their target,
 * the handler, has no dead-letter queue.
 */
export function suppressDriftGuardFindings(rules: IConstruct[]): void {
  for (const rule of rules) {
    // The next scheduled run checks again; a run that fails is in the function's Errors metric.
    addNagSuppressions(rule, inPacks([SERVERLESS], 'EventBusDLQ', 'The next scheduled run checks again'));
  }
}
