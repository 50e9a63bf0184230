import {
  Aws,
  CustomResource,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  aws_cloudwatch as cloudwatch,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ImdsInstanceUpgradeOptions } from './instance-upgrade-options';
import { ImdsPermissionsBoundary } from './permissions-boundary';
import {
  ASYNC_INVOKE, HANDLER_RUNTIME, Placement, findingsEnvironment, findingsStatement, handlerLogGroup, handlerRole, metricsStatement,
  onePerAccountAndRegion, onePerStack, setServiceTimeout,
} from './private/function-parts';
import { inlineFunctionCode } from './private/inline-code';
import { instanceUpgradeConfig } from './private/instance-upgrade-config';
import { INSTANCE_UPGRADE_METRICS, buildMetric, definitionOf } from './private/metric-definitions';
import { suppressImdsInstanceUpgradeFindings } from './private/nag';
import {
  FINDINGS_NOT_PUT_METRIC, UNCONFIRMED_EVENT_METRIC, UPGRADE_CLAIM_PATH, UPGRADE_DEFAULTS, UPGRADE_ENV, UPGRADE_METRIC_NAMES,
  UPGRADE_RECORD_TAGS, UPGRADE_RESOURCE_TYPE,
  UpgradeAttributeKey,
} from './private/properties';
import { validateCentralEventBusArn, validateRoleOptions } from './private/validate';

/**
 * Properties for `ImdsInstanceUpgrade`: the options, plus the function's log
 * retention and the options of its IAM role.
 */
export interface ImdsInstanceUpgradeProps extends ImdsInstanceUpgradeOptions {
  /**
   * How long the function's logs (one summary per run, with the instance ids) are kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The permissions boundary of the function's IAM role:
   * `ImdsPermissionsBoundary.fromManagedPolicy(policy)`, or
   * `ImdsPermissionsBoundary.fromPolicyName(name)` for a customer managed policy
   * of the account the template deploys to.
   *
   * @default - no permissions boundary (unless an aspect such as `PermissionsBoundary.of(scope)` sets one)
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundary?: ImdsPermissionsBoundary;

  /**
   * The IAM path of the function's role (`/` or `/<path>/`).
   *
   * @default '/'
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names
   */
  readonly rolePath?: string;

  /**
   * A customer managed KMS key, in the stack's Region, that encrypts the
   * function's log group. The key policy of a key defined in your app gets the
   * statement CloudWatch Logs needs (`logs.<region>.amazonaws.com` may use it for
   * this account's log groups); an imported key's policy must allow that already.
   *
   * @default - CloudWatch Logs' own encryption at rest (nothing secret is logged)
   * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
   */
  readonly logGroupEncryptionKey?: kms.IKey;

  /**
   * The ARN of a central Amazon EventBridge event bus (`ImdsFindingsHub`'s, or
   * your own), possibly in another account and Region, that the function puts its
   * findings to as events, besides this account's default bus (which always
   * gets them). The function's role may put events there, and to the default bus,
   * with the library's source only; the bus's own policy must admit this account.
   * `ImdsFindingsHub.eventBusArnOf(...)` gives the ARN of a hub's bus.
   *
   * @default - findings go to this account's default event bus only
   * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
   */
  readonly centralEventBusArn?: string;
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
 * CloudWatch metrics (namespace `CdkImdsAccountDefaults`; `metricInstancesInUse()`
 * and the other `metric*()` methods build them, with the period of the configured
 * interval). Deleting it changes no instance.
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

  /**
   * The number of instances that allowed IMDSv1 (`HttpTokens: optional`) in the
   * run on the last deployment that created or changed this construct
   * (`Fn::GetAtt`; the metric `InstancesAllowingImdsv1` has every run's).
   */
  public readonly instancesAllowingImdsv1Count: number;

  /**
   * Of those, the number of instances safe to upgrade, in the run on the last
   * deployment: what `UPGRADE` changes, before the per-run cap.
   */
  public readonly instancesEligibleCount: number;

  /**
   * The number of instances upgraded by the run on the last deployment: always 0,
   * since runs on deployment only report (only scheduled runs switch; see
   * `metricInstancesUpgraded()`). Kept for templates that read it.
   */
  public readonly instancesUpgradedCount: number;

  /**
   * Of the upgraded instances, the number not yet seen `applied` when the run on
   * the last deployment ended: always 0, since runs on deployment only report.
   * Kept for templates that read it.
   */
  public readonly instancesPendingCount: number;

  /**
   * The number of instances left alone by the run on the last deployment because
   * they made IMDSv1 calls in the lookback window.
   */
  public readonly instancesInUseCount: number;

  /**
   * The number of instances left alone by the run on the last deployment because
   * they carry the exclusion tag.
   */
  public readonly instancesExcludedCount: number;

  /**
   * The number of instances without `MetadataNoToken` datapoints in the lookback
   * window, in the run on the last deployment (left alone unless `upgradeWithoutMetrics`).
   */
  public readonly instancesUnknownCount: number;

  /**
   * The number of instances whose usage could not be read or whose upgrade EC2
   * refused, in the run on the last deployment.
   */
  public readonly instancesFailedCount: number;

  /**
   * The number of instances left alone by the run on the last deployment because
   * their `MetadataNoToken` datapoints, all zero, cover less running time than
   * `minimumObservedTime`.
   */
  public readonly instancesWithTooLittleDataCount: number;

  /** The custom resource (`Custom::ImdsInstanceUpgrade`) that runs the function on deploy. */
  public readonly customResource: CustomResource;

  /** The Lambda function that looks at the instances and upgrades them. */
  public readonly handler: lambda.IFunction;

  /** The function's IAM role. */
  public readonly role: iam.IRole;

  /** The function's log group: one summary line per run (for subscription filters, metric filters). */
  public readonly logGroup: logs.ILogGroup;

  /** The EventBridge rule that runs the function on a schedule (`interval`). */
  public readonly schedule: events.IRule;

  /** The period of the instance metrics: the configured interval, one run per period. */
  private readonly interval: Duration;

  constructor(scope: Construct, id: string, props: ImdsInstanceUpgradeProps = {}) {
    super(scope, id);
    Object.defineProperty(this, IS_IMDS_INSTANCE_UPGRADE, { value: true });

    const config = instanceUpgradeConfig(this, props);
    validateRoleOptions(this, props);
    validateCentralEventBusArn(this, props.centralEventBusArn);
    this.interval = config.interval;
    onePerStack(this, PLACEMENT);
    this.node.addValidation({ validate: () => onePerAccountAndRegion(this, PLACEMENT) });

    const stack = Stack.of(this);
    const logGroup = handlerLogGroup(this, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.logGroupEncryptionKey,
    });
    this.logGroup = logGroup;

    const role = handlerRole(this, 'Upgrades EC2 instances to IMDSv2 where safe (cdk-imds-account-defaults)', props);
    this.role = role;

    const instanceArns = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    // Only what UPGRADE needs: the record tags, the interval's claim and (RESTORE_OPTIONAL) the put-back.
    const upgradeStatements = config.mode !== 'UPGRADE' ? [] : [
      new iam.PolicyStatement({
        // The record of what it did, on the instance (lambda/instance-upgrade/records.ts): only its own tag keys.
        // Anyone else allowed ec2:CreateTags can write these keys too; the README says how to lock them down (an SCP).
        actions: ['ec2:CreateTags'],
        resources: [instanceArns],
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': Object.values(UPGRADE_RECORD_TAGS) } },
      }),
      new iam.PolicyStatement({
        // One parameter per interval under its own path, created at most once (the cap across overlapping runs).
        actions: ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameter'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${UPGRADE_CLAIM_PATH.slice(1)}/*` })],
      }),
      ...(config.rejectedCallsAction !== 'RESTORE_OPTIONAL' ? [] : [new iam.PolicyStatement({
        // The put-back: only to optional, only on instances carrying its record of a switch (the handler checks the record first).
        actions: ['ec2:ModifyInstanceMetadataOptions'],
        resources: [instanceArns],
        conditions: {
          StringEquals: { 'ec2:Attribute/HttpTokens': 'optional' },
          Null: { [`aws:ResourceTag/${UPGRADE_RECORD_TAGS.UPGRADED_AT}`]: 'false' },
        },
      })]),
    ];

    // A policy of its own, which the custom resource depends on: the run on deploy has its permissions.
    const policy = new iam.Policy(this, 'Policy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          // DescribeInstances, GetMetricData and the Auto Scaling reads (which groups launch instances allowing IMDSv1;
          // read-only) support no resource-level permissions: only in the stack's own Region, whose instances this
          // function works on.
          actions: [
            'autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeLaunchConfigurations',
            'cloudwatch:GetMetricData', 'ec2:DescribeInstances', 'ec2:DescribeLaunchTemplateVersions',
          ],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:RequestedRegion': Aws.REGION } },
        }),
        new iam.PolicyStatement({
          // Only instances of this account and Region, only to require IMDSv2 (EC2 User Guide,
          // example policies, "Work with instance metadata"), never one with the exclusion tag.
          actions: ['ec2:ModifyInstanceMetadataOptions'],
          resources: [instanceArns],
          // With inclusionTagKey, only on instances carrying that tag.
          conditions: {
            StringEquals: { 'ec2:Attribute/HttpTokens': 'required' },
            Null: {
              [`aws:ResourceTag/${config.exclusionTagKey}`]: 'true',
              ...(config.inclusionTagKey === undefined ? {} : { [`aws:ResourceTag/${config.inclusionTagKey}`]: 'false' }),
            },
          },
        }),
        ...upgradeStatements,
        // The run's counts and security warnings, in the library's namespace only.
        metricsStatement(),
        // Its findings, as events.
        findingsStatement(this, props.centralEventBusArn),
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
        [UPGRADE_ENV.MIN_OBSERVED_SECONDS]: Token.isUnresolved(config.minimumObservedSeconds)
          ? Token.asString(config.minimumObservedSeconds) : String(config.minimumObservedSeconds),
        ...(config.inclusionTagKey === undefined ? {} : { [UPGRADE_ENV.INCLUSION_TAG_KEY]: config.inclusionTagKey }),
        [UPGRADE_ENV.INTERVAL_SECONDS]: String(config.interval.toSeconds()),
        ...(config.rejectedCallsAction === UPGRADE_DEFAULTS.rejectedCallsAction
          ? {} : { [UPGRADE_ENV.REJECTED_CALLS_ACTION]: config.rejectedCallsAction }),
        ...findingsEnvironment(props.centralEventBusArn),
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

    this.customResource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: UPGRADE_RESOURCE_TYPE,
      // The configuration again: changing it sends an Update, which runs the function once.
      properties: {
        Mode: config.mode,
        LookbackSeconds: config.lookbackSeconds,
        ExclusionTagKey: config.exclusionTagKey,
        UpgradeWithoutMetrics: config.upgradeWithoutMetrics,
        MaxUpgradesPerRun: config.maxUpgradesPerRun,
        MinimumObservedSeconds: config.minimumObservedSeconds,
        ...(config.inclusionTagKey === undefined ? {} : { InclusionTagKey: config.inclusionTagKey }),
        ...(config.rejectedCallsAction === UPGRADE_DEFAULTS.rejectedCallsAction ? {} : { RejectedCallsAction: config.rejectedCallsAction }),
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudFormation's own property, set so that every aws-cdk-lib we support writes it without a warning.
    setServiceTimeout(this.customResource, SERVICE_TIMEOUT_SECONDS);
    this.customResource.node.addDependency(policy);

    // The Data keys keep their names: templates already deployed read them with Fn::GetAtt.
    const count = (key: UpgradeAttributeKey) => Token.asNumber(this.customResource.getAtt(key));
    this.instancesAllowingImdsv1Count = count('Candidates');
    this.instancesEligibleCount = count('Eligible');
    this.instancesUpgradedCount = count('Upgraded');
    this.instancesPendingCount = count('Pending');
    this.instancesInUseCount = count('InUse');
    this.instancesExcludedCount = count('Excluded');
    this.instancesUnknownCount = count('Unknown');
    this.instancesFailedCount = count('Failed');
    this.instancesWithTooLittleDataCount = count('TooLittleData');

    suppressImdsInstanceUpgradeFindings({
      policy,
      handler: fn,
      eventInvokeConfig: fn.node.findChild('EventInvokeConfig'),
      logGroup,
      rule: this.schedule,
    });
  }

  /**
   * One of the metrics this construct's function publishes, by name: the
   * instance counts (`ImdsMetrics.INSTANCES_ALLOWING_IMDSV1`, `INSTANCES_UPGRADED`,
   * `INSTANCES_IN_USE`, `INSTANCES_EXCLUDED`, `INSTANCES_UNKNOWN`,
   * `INSTANCES_FAILED`, `INSTANCES_WITH_TOO_LITTLE_DATA`,
   * `INSTANCES_WITH_REJECTED_IMDSV1_CALLS`, `INSTANCES_RESTORED_TO_OPTIONAL`,
   * `INSTANCES_RESTORE_REFUSED`, `AUTO_SCALING_GROUPS_ALLOWING_IMDSV1`; statistic `Maximum`, period the configured `interval`)
   * or `ImdsMetrics.UNCONFIRMED_EVENTS` (statistic `Sum`, period 5 minutes), in
   * the namespace `CdkImdsAccountDefaults`, without dimensions. Another name
   * throws. `props` overrides any of these (a `period` or `statistic` of your own).
   *
   * @param metricName the metric's name, e.g. `ImdsMetrics.INSTANCES_IN_USE`
   * @param props the metric's options
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const definition = definitionOf(metricName, `[${this.node.path}] metric`, INSTANCE_UPGRADE_METRICS);
    return buildMetric(definition, definition.source === 'instance-upgrade' ? this.interval : undefined, props);
  }

  /**
   * The instances that allow IMDSv1 (`HttpTokens: optional`), whatever their
   * category, as each run counts them: `InstancesAllowingImdsv1`, statistic
   * `Maximum` over a period of the configured `interval` (one run per period).
   * Alarm on it to see when the account and Region are ready for
   * `httpTokensEnforced`.
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesAllowingImdsv1(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesAllowingImdsv1', props);
  }

  /**
   * The instances each run upgraded (always 0 in `REPORT_ONLY`):
   * `InstancesUpgraded`, statistic `Maximum` over a period of the configured
   * `interval` (one run per period).
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesUpgraded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesUpgraded', props);
  }

  /**
   * The instances left alone because they made IMDSv1 calls in the lookback
   * window (software on them still uses IMDSv1): `InstancesInUse`, statistic
   * `Maximum` over a period of the configured `interval` (one run per period).
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesInUse(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesInUse', props);
  }

  /**
   * The instances left alone because they carry the exclusion tag:
   * `InstancesExcluded`, statistic `Maximum` over a period of the configured
   * `interval` (one run per period).
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesExcluded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesExcluded', props);
  }

  /**
   * The instances without `MetadataNoToken` datapoints in the lookback window,
   * whose IMDSv1 use is unknown (left alone unless `upgradeWithoutMetrics`):
   * `InstancesUnknown`, statistic `Maximum` over a period of the configured
   * `interval` (one run per period).
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesUnknown(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesUnknown', props);
  }

  /**
   * The instances whose usage could not be read or whose upgrade EC2 refused
   * (the run's summary log line gives each error code): `InstancesFailed`,
   * statistic `Maximum` over a period of the configured `interval` (one run per
   * period).
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesFailed', props);
  }

  /**
   * The instances left alone because their `MetadataNoToken` datapoints, all
   * zero, cover less running time than `minimumObservedTime` (launched recently,
   * stopped most of the window; the summary log line gives each one's hours
   * observed): `InstancesWithTooLittleData`, statistic `Maximum` over a period
   * of the configured `interval` (one run per period).
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesWithTooLittleData(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesWithTooLittleData', props);
  }

  /**
   * The instances this construct switched that refused IMDSv1 calls since
   * (`MetadataNoTokenRejected` above 0 after the recorded switch, within the
   * lookback window; each with an `IMDSv1 calls refused since the upgrade` log
   * line): `InstancesWithRejectedImdsv1Calls`, statistic `Maximum` over a period
   * of the configured `interval` (one run per period). Any datapoint above 0 is
   * worth an alarm: software on those instances is broken.
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesWithRejectedImdsv1Calls(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesWithRejectedImdsv1Calls', props);
  }

  /**
   * The instances each run put back to `HttpTokens: optional`
   * (`RejectedCallsAction.RESTORE_OPTIONAL`): `InstancesRestoredToOptional`,
   * statistic `Maximum` over a period of the configured `interval`.
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesRestoredToOptional(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesRestoredToOptional', props);
  }

  /**
   * The instances whose put-back to `optional` EC2 refused in a run because
   * `HttpTokensEnforced` is on (recorded on the instance, not tried again):
   * `InstancesRestoreRefused`, statistic `Maximum` over a period of the
   * configured `interval`.
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricInstancesRestoreRefused(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('InstancesRestoreRefused', props);
  }

  /**
   * The Auto Scaling groups whose launch template version or launch
   * configuration still launches instances that allow IMDSv1 (their instances
   * come back allowing it whenever the group replaces them; each group gets an
   * `Auto Scaling group launches instances that allow IMDSv1` log line):
   * `AutoScalingGroupsAllowingImdsv1`, statistic `Maximum` over a period of the
   * configured `interval`. Nothing is ever changed on a group.
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricAutoScalingGroupsAllowingImdsv1(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instanceMetric('AutoScalingGroupsAllowingImdsv1', props);
  }

  /**
   * Security warnings: custom resource events that CloudFormation did not
   * confirm, so the function changed nothing (each with a `security warning`
   * log line): `UnconfirmedEvents`, statistic `Sum` over 5 minutes. Any
   * datapoint is worth an alarm.
   *
   * @param props the metric's options (period, statistic, ...)
   */
  public metricUnconfirmedEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(UNCONFIRMED_EVENT_METRIC, props);
  }

  /**
   * Findings (EventBridge events) the function could not put, to its account's
   * default bus or to `centralEventBusArn`, after its retries (`FindingsNotPut`,
   * `Sum` per 5 minutes; its log says which bus and why). Shared by every function
   * of the library in an account and Region.
   *
   * @param props options that override the defaults
   */
  public metricFindingsNotPut(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FINDINGS_NOT_PUT_METRIC, props);
  }

  /** An instance metric, by a name the handler puts (a renamed one fails the compile). */
  private instanceMetric(metricName: keyof typeof UPGRADE_METRIC_NAMES, props: cloudwatch.MetricOptions | undefined): cloudwatch.Metric {
    return this.metric(metricName, props);
  }
}

/** It works on every instance of its account and Region: two would both work on them. */
const PLACEMENT: Placement = {
  isKind: (c) => ImdsInstanceUpgrade.isImdsInstanceUpgrade(c),
  sameStack: (other, stackName) => `a stack can hold only one ImdsInstanceUpgrade, because it works on every instance of the account and Region; ${other} already does in stack ${stackName}`,
  sameAccountAndRegion: (other, stackName, env) => `ImdsInstanceUpgrade ${other} (stack ${stackName}) also targets account and Region ${env}; only one ImdsInstanceUpgrade may work on the instances of an account and Region`,
};
