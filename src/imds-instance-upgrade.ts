import {
  Aws,
  CustomResource,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ASYNC_INVOKE, HANDLER_RUNTIME, Placement, handlerRole, metricsStatement, onePerAccountAndRegion, onePerStack } from './private/function-parts';
import { inlineFunctionCode } from './private/inline-code';
import { instanceUpgradeConfig } from './private/instance-upgrade-options';
import { suppressImdsInstanceUpgradeFindings } from './private/nag';
import { UPGRADE_ENV, UPGRADE_RESOURCE_TYPE, UpgradeAttributeKey } from './private/properties';
import { validateRoleOptions } from './private/validate';

/**
 * What `ImdsInstanceUpgrade` does with the instances that allow IMDSv1.
 */
export enum InstanceUpgradeMode {
  /**
   * Change nothing: each run logs and counts the instances that allow IMDSv1,
   * and which of them would be upgraded.
   */
  REPORT_ONLY = 'REPORT_ONLY',
  /**
   * Require IMDSv2 (`ModifyInstanceMetadataOptions` with `HttpTokens: required`,
   * nothing else) on the instances that are safe to upgrade: no IMDSv1 call in
   * the lookback window, no exclusion tag.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html
   */
  UPGRADE = 'UPGRADE',
}

/**
 * What `ImdsInstanceUpgrade` does, and how often: the options that
 * `ImdsAccountDefaultsStackSet` can roll out with it (`instanceUpgrade`).
 */
export interface ImdsInstanceUpgradeOptions {
  /**
   * Report only, or upgrade the instances that are safe to upgrade.
   *
   * @default InstanceUpgradeMode.REPORT_ONLY
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html
   */
  readonly mode?: InstanceUpgradeMode;

  /**
   * The window over which an instance's IMDSv1 calls are counted (the sum of the
   * `AWS/EC2` metric `MetadataNoToken`): an instance with no IMDSv1 call in it is
   * safe to upgrade; one without any datapoint in it is unknown (see
   * `upgradeWithoutMetrics`). A whole number of hours, from 1 hour to 455 days
   * (CloudWatch keeps 1-hour datapoints for 455 days, 5-minute ones for 63 days
   * and 1-minute ones for 15 days; the function asks for one sum over the window).
   * Longer windows catch rarer IMDSv1 use (a monthly job).
   *
   * @default Duration.days(14)
   * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention
   */
  readonly lookback?: Duration;

  /**
   * How often the function runs (an EventBridge schedule, `rate(...)`), besides
   * once on every deployment that creates or changes the construct. Whole
   * minutes, at least 1 hour.
   *
   * @default Duration.days(1)
   * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html#eb-rate-expressions
   */
  readonly interval?: Duration;

  /**
   * The key of the tag that keeps an instance as it is: an instance carrying it,
   * whatever its value, is never changed (the function skips it, and the role's
   * policy refuses `ModifyInstanceMetadataOptions` on it). EC2 tag key rules: 1 to
   * 128 characters, letters, digits, spaces and `+ - = . _ : / @`, not starting
   * with `aws:`.
   *
   * @default 'imds-keep-v1'
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
   */
  readonly exclusionTagKey?: string;

  /**
   * Also upgrade the instances that have no `MetadataNoToken` datapoint in the
   * lookback window (stopped the whole window, or not reporting the metric),
   * whose IMDSv1 use is unknown. Left `false`, they are reported as unknown and
   * left alone.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html
   */
  readonly upgradeWithoutMetrics?: boolean;

  /**
   * The most instances one run modifies (1 to 1000); the others wait for the next
   * run. Keeps each run well inside the function's timeout, also when EC2
   * throttles.
   *
   * @default 100
   * @see https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
   */
  readonly maxUpgradesPerRun?: number;
}

/**
 * Properties for `ImdsInstanceUpgrade`.
 */
export interface ImdsInstanceUpgradeProps extends ImdsInstanceUpgradeOptions {
  /**
   * How long the function's logs (one summary per run, with the instance ids) are kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The permissions boundary of the function's IAM role. Not with `permissionsBoundaryPolicyName`.
   *
   * @default - no permissions boundary (unless an aspect such as `PermissionsBoundary.of(scope)` sets one)
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundary?: iam.IManagedPolicy;

  /**
   * The permissions boundary of the function's IAM role, as the name of a
   * customer managed policy in the account the template deploys to, with its
   * path if it has one (`ImdsBoundary`, `boundaries/ImdsBoundary`). Not with `permissionsBoundary`.
   *
   * @default - no permissions boundary (unless an aspect such as `PermissionsBoundary.of(scope)` sets one)
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundaryPolicyName?: string;

  /**
   * The IAM path of the function's role (`/` or `/<path>/`).
   *
   * @default '/'
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names
   */
  readonly rolePath?: string;
}

/**
 * How long a run may take. The per-run cap (at most 1000 Modify calls, which
 * EC2's mutating-call rate admits in a few minutes) and the handler's own
 * deadline (it stops and reports before this) keep a run inside it.
 */
const HANDLER_TIMEOUT = Duration.minutes(5);

/** How long CloudFormation waits for the run on deploy: twice the timeout, room for a queued asynchronous invocation. */
const SERVICE_TIMEOUT_SECONDS = 600;

/** What the function does, in its Description (after the library's name and version). */
const HANDLER_PURPOSE = 'upgrades EC2 instances to IMDSv2 where safe';

const IS_IMDS_INSTANCE_UPGRADE = Symbol.for('cdk-imds-account-defaults.ImdsInstanceUpgrade');

/**
 * Brings the running (and stopped) instances of the account and Region the stack
 * is deployed to from IMDSv1 to IMDSv2, only where that is safe: an instance
 * whose `HttpTokens` is `optional` is upgraded only if the `AWS/EC2` metric
 * `MetadataNoToken` shows no IMDSv1 call over the lookback window and it does not
 * carry the exclusion tag. By default it only reports.
 *
 * It deploys one Lambda function whose code is inline in the template (no file
 * assets, so the template deploys through StackSets too), run on a schedule
 * (daily by default) and once on every deployment that creates or changes it.
 * Each run logs one summary with the instance ids and puts the counts as
 * CloudWatch metrics (namespace `CdkImdsAccountDefaults`). Deleting it changes no
 * instance.
 *
 * It works on every instance of its account and Region: at most one per stack,
 * and at most one per concrete account and Region in an app.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-transition-to-version-2.html
 */
export class ImdsInstanceUpgrade extends Construct {
  /**
   * Whether the given object is an `ImdsInstanceUpgrade`.
   */
  public static isImdsInstanceUpgrade(x: any): x is ImdsInstanceUpgrade {
    return x !== null && typeof x === 'object' && IS_IMDS_INSTANCE_UPGRADE in x;
  }

  /** Instances that allowed IMDSv1 (`HttpTokens: optional`) in the run on the last deployment. */
  public readonly candidates: number;
  /** Of those, the ones safe to upgrade (what `UPGRADE` changes, before the per-run cap). */
  public readonly eligible: number;
  /** Instances upgraded by the run on the last deployment (always 0 in `REPORT_ONLY`). */
  public readonly upgraded: number;
  /** Of the upgraded ones, those not yet seen `applied` when the run ended. */
  public readonly pending: number;
  /** Instances left alone because they made IMDSv1 calls in the lookback window. */
  public readonly inUse: number;
  /** Instances left alone because they carry the exclusion tag. */
  public readonly excluded: number;
  /** Instances without `MetadataNoToken` datapoints in the lookback window. */
  public readonly unknown: number;
  /** Instances whose upgrade failed. */
  public readonly failed: number;

  /** The custom resource (`Custom::ImdsInstanceUpgrade`) that runs the function on deploy. */
  public readonly resource: CustomResource;
  /** The Lambda function that looks at the instances and upgrades them. */
  public readonly handler: lambda.IFunction;
  /** The EventBridge rule that runs the function on a schedule. */
  public readonly schedule: events.IRule;

  constructor(scope: Construct, id: string, props: ImdsInstanceUpgradeProps = {}) {
    super(scope, id);
    Object.defineProperty(this, IS_IMDS_INSTANCE_UPGRADE, { value: true });

    const config = instanceUpgradeConfig(this, props);
    validateRoleOptions(this, props);
    onePerStack(this, PLACEMENT);
    this.node.addValidation({ validate: () => onePerAccountAndRegion(this, PLACEMENT) });

    const stack = Stack.of(this);
    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const role = handlerRole(this, 'Upgrades EC2 instances to IMDSv2 where safe (cdk-imds-account-defaults)', props);

    // A policy of its own, which the custom resource depends on: the run on deploy has its permissions.
    const policy = new iam.Policy(this, 'Policy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          // DescribeInstances and GetMetricData support no resource-level permissions:
          // only in the stack's own Region, whose instances this function works on.
          actions: ['cloudwatch:GetMetricData', 'ec2:DescribeInstances'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:RequestedRegion': Aws.REGION } },
        }),
        new iam.PolicyStatement({
          // Only instances of this account and Region, only to require IMDSv2 (EC2 User Guide,
          // example policies, "Work with instance metadata"), never one with the exclusion tag.
          actions: ['ec2:ModifyInstanceMetadataOptions'],
          resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
          conditions: {
            StringEquals: { 'ec2:Attribute/HttpTokens': 'required' },
            Null: { [`aws:ResourceTag/${config.exclusionTagKey}`]: 'true' },
          },
        }),
        // The run's counts and security warnings, in the library's namespace only.
        metricsStatement(),
        // Read-only: its own custom resource in its own stack, to confirm each deploy-time event with CloudFormation.
        new iam.PolicyStatement({
          actions: ['cloudformation:DescribeStackResource'],
          resources: [Aws.STACK_ID],
        }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      ],
    });

    const { code, description } = inlineFunctionCode(this, 'instance-upgrade', HANDLER_PURPOSE);
    const fn = new lambda.Function(this, 'Handler', {
      description,
      runtime: HANDLER_RUNTIME,
      handler: 'index.handler',
      code,
      timeout: HANDLER_TIMEOUT,
      memorySize: 256,
      role,
      logGroup,
      // The whole configuration (the handler reads it on every trigger, schedule or deploy).
      environment: {
        [UPGRADE_ENV.MODE]: config.mode,
        [UPGRADE_ENV.LOOKBACK_SECONDS]: String(config.lookbackSeconds),
        [UPGRADE_ENV.EXCLUSION_TAG_KEY]: config.exclusionTagKey,
        [UPGRADE_ENV.WITHOUT_METRICS]: String(config.upgradeWithoutMetrics),
        [UPGRADE_ENV.MAX_PER_RUN]: String(config.maxUpgradesPerRun),
      },
      // Asynchronous invocations (CloudFormation, the schedule) are never run twice, nor late.
      ...ASYNC_INVOKE,
    });
    this.handler = fn;

    this.schedule = new events.Rule(this, 'Schedule', {
      schedule: events.Schedule.rate(config.interval),
      // The target adds the Lambda permission, limited to this rule.
      targets: [new targets.LambdaFunction(fn)],
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: UPGRADE_RESOURCE_TYPE,
      // The configuration again: changing it sends an Update, which runs the function once.
      properties: {
        Mode: config.mode,
        LookbackSeconds: config.lookbackSeconds,
        ExclusionTagKey: config.exclusionTagKey,
        UpgradeWithoutMetrics: config.upgradeWithoutMetrics,
        MaxUpgradesPerRun: config.maxUpgradesPerRun,
        // CloudFormation's own property (aws-cdk-lib 2.168, our minimum, has no serviceTimeout prop for it).
        ServiceTimeout: SERVICE_TIMEOUT_SECONDS,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.resource.node.addDependency(policy);

    const count = (key: UpgradeAttributeKey) => Token.asNumber(this.resource.getAtt(key));
    this.candidates = count('Candidates');
    this.eligible = count('Eligible');
    this.upgraded = count('Upgraded');
    this.pending = count('Pending');
    this.inUse = count('InUse');
    this.excluded = count('Excluded');
    this.unknown = count('Unknown');
    this.failed = count('Failed');

    suppressImdsInstanceUpgradeFindings({
      policy,
      handler: fn,
      eventInvokeConfig: fn.node.findChild('EventInvokeConfig'),
      logGroup,
      rule: this.schedule,
    });
  }
}

/** It works on every instance of its account and Region: two would both work on them. */
const PLACEMENT: Placement = {
  isKind: (c) => ImdsInstanceUpgrade.isImdsInstanceUpgrade(c),
  sameStack: (other, stackName) => `a stack can hold only one ImdsInstanceUpgrade, because it works on every instance of the account and Region; ${other} already does in stack ${stackName}`,
  sameAccountAndRegion: (other, stackName, env) => `ImdsInstanceUpgrade ${other} (stack ${stackName}) also targets account and Region ${env}; only one ImdsInstanceUpgrade may work on the instances of an account and Region`,
};
