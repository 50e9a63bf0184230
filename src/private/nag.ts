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
import { CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { UPGRADE_CLAIM_PATH } from './properties';

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
export interface ValidationsApi {
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
 *
 * A log group with a KMS key (`logGroupEncryptionKey`) has no `CloudWatchLogGroupEncrypted`
 * finding: such suppressions are left out there, whoever asks for them (no stale entry).
 */
export function addNagSuppressions(scope: IConstruct, given: NagSuppression[]): void {
  const resource = l1Of(scope);
  const suppressions = resource.cfnResourceType === 'AWS::Logs::LogGroup' && hasKmsKey(resource)
    ? given.filter(({ id }) => !id.endsWith('-CloudWatchLogGroupEncrypted'))
    : given;
  if (suppressions.length === 0) {
    return;
  }
  if (compactStacks.has(Stack.of(resource))) {
    resource.addMetadata(COMPACT_NAG_METADATA, compactNagMetadata([...nagSuppressionsOf(resource), ...suppressions]));
  } else {
    const existing: unknown[] = resource.getMetadata(NAG_METADATA)?.rules_to_suppress ?? [];
    resource.addMetadata(NAG_METADATA, {
      rules_to_suppress: [
        ...existing,
        ...suppressions.map(({ id, reason, appliesTo }) => ({ id, reason, ...(appliesTo ? { applies_to: appliesTo } : {}) })),
      ],
    });
  }

  acknowledgeForNag3(resource, suppressions);
}

/**
 * The metadata key of the compact form of the accepted cdk-nag findings, which only the
 * StackSet's embedded template carries (a template with a size limit, read by cdk-nag only
 * through `CfnInclude` and `ImdsNagAcknowledgements.ofIncludedTemplate`, which expands it
 * into `cdk_nag` metadata): one entry per rule and reason, the packs that share them joined
 * by `/`: `[["HIPAA.Security/NIST.800.53.R5-LambdaDLQ", "<reason>"], ["AwsSolutions-IAM5", "<reason>", ["Resource::*"]]]`.
 * Every reason stays on its resource, readable.
 */
export const COMPACT_NAG_METADATA = 'imds_nag';

/** The stacks whose resources carry the compact form (a WeakSet: nothing leaks across apps). */
const compactStacks = new WeakSet<Stack>();

/** Makes the resources of `stack` record their accepted findings in the compact form (COMPACT_NAG_METADATA). */
export function useCompactNagMetadata(stack: Stack): void {
  compactStacks.add(stack);
}

/** The compact form of `suppressions` (see COMPACT_NAG_METADATA), in their order. */
export function compactNagMetadata(suppressions: NagSuppression[]): unknown[] {
  const entries = new Map<string, { packs: string[]; rule: string; reason: string; appliesTo?: string[] }>();
  for (const { id, reason, appliesTo } of suppressions) {
    const dash = id.indexOf('-');
    const [pack, rule] = [id.slice(0, dash), id.slice(dash + 1)];
    const key = JSON.stringify([rule, reason, appliesTo ?? null]);
    const entry = entries.get(key) ?? { packs: [], rule, reason, appliesTo };
    entries.set(key, entry);
    if (!entry.packs.includes(pack)) {
      entry.packs.push(pack);
    }
  }
  return [...entries.values()].map(({ packs, rule, reason, appliesTo }) =>
    [`${packs.join('/')}-${rule}`, reason, ...(appliesTo !== undefined ? [appliesTo] : [])]);
}

/**
 * Records the accepted findings as aws-cdk-lib acknowledgements (cdk-nag 3), one per
 * finding, where the consumer's aws-cdk-lib has `Validations`; returns how many.
 *
 * aws-cdk-lib 2.257 to 2.268 refuse an id with more than one `::` (`InvalidValidationId`:
 * they read `::` as the separator of a prefix), which every finding id naming a pseudo
 * parameter has (`Resource::arn:<AWS::Partition>:…`). Such an id is skipped there, so that
 * synth still succeeds (those releases cannot record it at all); any other error is thrown.
 * `api` is for tests; by default the consumer's aws-cdk-lib.
 */
export function acknowledgeForNag3(
  resource: CfnResource,
  suppressions: NagSuppression[],
  api: ValidationsApi | undefined = validationsApi(),
): number {
  const validations = api?.of(resource);
  if (typeof validations?.acknowledge !== 'function') {
    return 0;
  }
  let count = 0;
  for (const { id, reason, appliesTo } of suppressions) {
    for (const findingId of appliesTo ?? [undefined]) {
      try {
        validations.acknowledge({ id: findingId === undefined ? id : `${id}[${findingId}]`, reason });
        count++;
      } catch (err) {
        if ((err as Error | undefined)?.name !== 'InvalidValidationId') {
          throw err;
        }
      }
    }
  }
  return count;
}

/**
 * The accepted findings recorded on a resource, as a template carries them: its
 * `cdk_nag` metadata (cdk-nag 2's form) and its compact form (COMPACT_NAG_METADATA), expanded.
 */
export function nagSuppressionsOf(resource: CfnResource): NagSuppression[] {
  const rules: unknown = resource.getMetadata(NAG_METADATA)?.rules_to_suppress;
  const compact: unknown = resource.getMetadata(COMPACT_NAG_METADATA);
  const expanded = (Array.isArray(compact) ? compact : [])
    .filter((e): e is [string, string, unknown?] => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' && e[0].includes('-'))
    .flatMap(([ids, reason, appliesTo]) => {
      const dash = ids.indexOf('-');
      return ids.slice(0, dash).split('/').map((pack) => ({ id: `${pack}-${ids.slice(dash + 1)}`, reason, applies_to: appliesTo }));
    });
  return [...(Array.isArray(rules) ? rules : []), ...expanded]
    .filter((r): r is { id: string; reason: string; applies_to?: unknown } => typeof r?.id === 'string' && typeof r?.reason === 'string')
    .map(({ id, reason, applies_to: appliesTo }) => ({
      id,
      reason,
      ...(Array.isArray(appliesTo) ? { appliesTo: appliesTo.filter((a): a is string => typeof a === 'string') } : {}),
    }));
}

/**
 * An IAM5 acknowledgement of one wildcard resource, only where the policy behind
 * `policy` grants on it (statements that depend on options, such as the instance
 * upgrade's claims in `UPGRADE` mode only, leave no stale entry). The resource is
 * compared as written (an ARN from `formatArn` is the same string each time).
 */
export function wildcardResource(policy: IConstruct, arn: string, reason: string): NagSuppression[] {
  const document = (policy as unknown as { document?: { toJSON(): any } }).document?.toJSON();
  const statements: any[] = document?.Statement ?? [];
  const granted = statements.some((st) => st.Effect === 'Allow' && ([] as unknown[]).concat(st.Resource ?? []).includes(arn));
  return granted ? [{ id: 'AwsSolutions-IAM5', reason, appliesTo: [resourceFindingId(policy, arn)] }] : [];
}

/**
 * cdk-nag's finding id for an IAM resource (`Resource::<flattened>`), the way its
 * rules flatten a resolved CloudFormation value: `Ref` gives `<Name>`, `Fn::GetAtt`
 * `<Name.Attribute>`, `Fn::Join` the joined parts. So the id of an ARN made with
 * `formatArn` is right for both kinds of stack: environment-agnostic
 * (`arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*`) and with
 * a concrete account and Region (`arn:<AWS::Partition>:ec2:us-east-1:111111111111:instance/*`).
 */
export function resourceFindingId(scope: IConstruct, arn: string): string {
  return `Resource::${flattenCfn(Stack.of(scope).resolve(arn))}`;
}

function flattenCfn(node: unknown): string {
  if (node === undefined) {
    return '';
  }
  if (typeof node === 'string') {
    return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  }
  const fn = node as Record<string, any>;
  if (fn['Fn::Join']) {
    const [delimiter, items] = fn['Fn::Join'] as [string, unknown[]];
    return items.map(flattenCfn).join(delimiter);
  }
  if (fn['Fn::Sub']) {
    return flattenCfn(fn['Fn::Sub']);
  }
  if (fn['Fn::GetAtt']) {
    const [resource, attribute] = fn['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenCfn(resource)}.${flattenCfn(attribute)}>`;
  }
  if (fn['Fn::ImportValue']) {
    return flattenCfn(fn['Fn::ImportValue']);
  }
  if (fn.Ref) {
    return `<${flattenCfn(fn.Ref)}>`;
  }
  return JSON.stringify(node);
}

/** One accepted checkov check on one resource: its id and why (short: the template carries it). */
export interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

/** The metadata key checkov reads (`Metadata.checkov.skip`, a list of `{ id, comment }`). */
const CHECKOV_METADATA = 'checkov';

/** Records accepted checkov checks on the L1 resource behind `scope`, keeping those already there. */
export function addCheckovSkips(scope: IConstruct, skips: CheckovSkip[]): void {
  const resource = l1Of(scope);
  const existing: unknown[] = resource.getMetadata(CHECKOV_METADATA)?.skip ?? [];
  resource.addMetadata(CHECKOV_METADATA, { skip: [...existing, ...skips.map(({ id, comment }) => ({ id, comment }))] });
}

/** Whether the log group behind `scope` has a KMS key of the user's (`logGroupEncryptionKey`). */
function hasKmsKey(logGroup: IConstruct): boolean {
  return (l1Of(logGroup) as unknown as { kmsKeyId?: string }).kmsKeyId !== undefined;
}

/** The reason both functions' log groups may do without a customer managed key (when none is given). */
const LOG_GROUP_KEY_REASON = 'No secrets logged; encrypted by default';

/**
 * What checkov reports on both functions and their log groups that the design
 * accepts (the same reasons as the cdk-nag rules they mirror), and, without
 * `logGroupEncryptionKey`, the log group's CloudWatch Logs encryption.
 */
function skipFunctionChecks(handler: IConstruct, logGroup: IConstruct, dlqReason: string): void {
  addCheckovSkips(handler, [
    { id: 'CKV_AWS_115', comment: 'Reserving fails in low-limit accounts' },
    { id: 'CKV_AWS_116', comment: dlqReason },
    { id: 'CKV_AWS_117', comment: 'Calls AWS endpoints only' },
    // The environment holds names and settings (no secrets); Lambda encrypts it at rest.
    { id: 'CKV_AWS_173', comment: 'No secrets in environment' },
  ]);
  if (!hasKmsKey(logGroup)) {
    addCheckovSkips(logGroup, [{ id: 'CKV_AWS_158', comment: LOG_GROUP_KEY_REASON }]);
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

/** A function of the library, its invocation settings and log group, and the reasons that differ between functions. */
export interface FunctionNagScope {
  readonly handler: IConstruct;
  /** The function's asynchronous invocation settings (`AWS::Lambda::EventInvokeConfig`). */
  readonly eventInvokeConfig: IConstruct;
  readonly logGroup: IConstruct;
  /** Why no dead-letter queue or failure destination is needed (who gets each outcome). */
  readonly outcomeReason: string;
  /** Why no X-Ray tracing is needed. */
  readonly tracingReason: string;
}

/**
 * What every function of the library accepts, for cdk-nag (both majors) and checkov:
 * no reserved concurrency (Lambda keeps 100 of the account's concurrency unreserved:
 * where the limit is lower, as in new accounts, any reservation fails, and StackSets
 * reach such accounts), no DLQ or failure destination (`outcomeReason`), no VPC (it
 * calls AWS endpoints only), no tracing (`tracingReason`), no secrets in its
 * environment, and, without `logGroupEncryptionKey`, CloudWatch Logs' own encryption.
 * With a key, nothing is recorded for the log group (no stale suppression).
 */
export function acceptFunctionFindings({ handler, eventInvokeConfig, logGroup, outcomeReason, tracingReason }: FunctionNagScope): void {
  addNagSuppressions(handler, [
    ...inPacks([HIPAA, NIST_R5], 'LambdaConcurrency', 'Reserving fails in low-limit accounts'),
    ...inPacks([HIPAA, NIST_R5, SERVERLESS], 'LambdaDLQ', outcomeReason),
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'LambdaInsideVPC', 'Calls only AWS endpoints; no VPC resources'),
    ...inPacks([SERVERLESS], 'LambdaTracing', tracingReason),
  ]);
  addNagSuppressions(eventInvokeConfig, [
    ...inPacks([SERVERLESS], 'LambdaAsyncFailureDestination', outcomeReason),
  ]);
  if (!hasKmsKey(logGroup)) {
    addNagSuppressions(logGroup, [
      // The handlers never log the ResponseURL; CloudWatch Logs encrypts at rest by default.
      ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'CloudWatchLogGroupEncrypted', LOG_GROUP_KEY_REASON),
    ]);
  }
  skipFunctionChecks(handler, logGroup, outcomeReason);
}

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
    ...wildcardResource(policy, Stack.of(policy).formatArn({ service: 'cloudformation', resource: 'stack', resourceName: '*' }),
      'Read-only check of the stacks that hold claims'),
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'IAMNoInlinePolicy', 'Separate so Delete runs before it is removed'),
  ]);
  // A DLQ keeps nothing useful: CloudFormation records the result (retries are off, see the
  // construct), and the presigned response URL of a failed event expires. It runs a few times
  // per stack lifetime: its log group holds what tracing would show.
  acceptFunctionFindings({
    handler,
    eventInvokeConfig,
    logGroup,
    outcomeReason: 'CloudFormation gets every outcome',
    tracingReason: 'Runs a few times per stack; its logs suffice',
  });
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
    ...wildcardResource(policy, Stack.of(policy).formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
      'Any instance here, only to require IMDSv2, never excluded'),
    // The per-interval claims that cap upgrades across overlapping runs: one parameter per
    // interval, named at run time, under the library's own path for them.
    ...wildcardResource(policy, Stack.of(policy).formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${UPGRADE_CLAIM_PATH.slice(1)}/*` }),
      'Run claims, under their own parameter path only'),
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'IAMNoInlinePolicy', 'Separate so the deploy run has it'),
  ]);
  acceptFunctionFindings({
    handler,
    eventInvokeConfig,
    logGroup,
    outcomeReason: 'Each run logs its outcome; next run retries',
    tracingReason: 'Runs on a schedule; its summary log suffices',
  });
  addNagSuppressions(rule, [
    // A scheduled event EventBridge could not deliver is worth nothing later: the next one runs.
    ...inPacks([SERVERLESS], 'EventBusDLQ', 'A missed scheduled run is made up by the next'),
  ]);
}

/** The parts of `ImdsReadinessReport` that cdk-nag reports on. */
export interface ImdsReadinessReportNagScope {
  readonly policy: IConstruct;
  readonly handler: IConstruct;
  /** The function's asynchronous invocation settings (`AWS::Lambda::EventInvokeConfig`). */
  readonly eventInvokeConfig: IConstruct;
  readonly logGroup: IConstruct;
}

/**
 * The findings the `ImdsReadinessReport` design accepts, each with its reason
 * (its schedule, when it has one, is the construct's: `addNagSuppressions` there).
 */
export function suppressImdsReadinessReportFindings({ policy, handler, eventInvokeConfig, logGroup }: ImdsReadinessReportNagScope): void {
  addNagSuppressions(policy, [
    // Describe*, GetInstanceMetadataDefaults and PutMetricData support no resource-level permissions;
    // conditions limit them to the stack's Region and the library's metric namespace.
    { id: 'AwsSolutions-IAM5', reason: 'Read-only Describe and metric actions have no ARNs; one Region', appliesTo: ['Resource::*'] },
    ...inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'IAMNoInlinePolicy', 'Separate so Delete runs before it is removed'),
  ]);
  acceptFunctionFindings({
    handler,
    eventInvokeConfig,
    logGroup,
    outcomeReason: 'CloudFormation or the next run gets every outcome',
    tracingReason: 'Runs daily; its one log line suffices',
  });
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

/** The parts of `ImdsFindingsHub` that cdk-nag and checkov report on. */
export interface ImdsFindingsHubNagScope {
  /** The log group that keeps every finding. */
  readonly logGroup: IConstruct;
  /** The hub's rules (`AWS::Events::Rule`): to the log group and to the topic. */
  readonly rules: IConstruct[];
}

/**
 * The findings the `ImdsFindingsHub` design accepts, each with its reason:
 * - its rules' targets have no dead-letter queue: EventBridge retries each delivery
 *   for 24 hours (185 attempts); what fails for good is a permission or a deleted
 *   target, which the dashboard's FailedInvocations graph shows for every rule; and
 *   the log group already holds every finding the topic rules get (a DLQ would be a
 *   second, unread copy, with a key and an alarm of its own);
 * - without `logGroupEncryptionKey`, the log group uses CloudWatch Logs' own
 *   encryption (findings hold settings, counts and ids, no secrets).
 */
export function suppressImdsFindingsHubFindings({ logGroup, rules }: ImdsFindingsHubNagScope): void {
  for (const rule of rules) {
    addNagSuppressions(rule, inPacks([SERVERLESS], 'EventBusDLQ', 'Retried 24 h; failures on the dashboard; all in the log'));
  }
  if (!hasKmsKey(logGroup)) {
    addNagSuppressions(logGroup, inPacks([HIPAA, NIST_R4, NIST_R5, PCI], 'CloudWatchLogGroupEncrypted', 'Findings hold no secrets; encrypted by default'));
    addCheckovSkips(logGroup, [{ id: 'CKV_AWS_158', comment: 'Findings hold no secrets; encrypted by default' }]);
  }
}
