import {
  Aws,
  CustomResource,
  Duration,
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
import { ImdsPermissionsBoundary } from './permissions-boundary';
import {
  ASYNC_INVOKE, HANDLER_RUNTIME, Placement, findingsEnvironment, findingsStatement, handlerLogGroup, handlerRole, metricsStatement,
  onePerAccountAndRegion, onePerStack, setServiceTimeout,
} from './private/function-parts';
import { inlineFunctionCode } from './private/inline-code';
import { DEFAULT_REPORT_INTERVAL, READINESS_REPORT_METRICS, buildMetric, definitionOf } from './private/metric-definitions';
import { addNagSuppressions, suppressImdsReadinessReportFindings } from './private/nag';
import {
  REPORT_METRIC_NAMES, REPORT_REFRESH_PROPERTY, REPORT_RESOURCE_TYPE, REPORT_RESULT_ATTRIBUTE,
  FINDINGS_NOT_PUT_METRIC, ReportCountAttributeKey, ReportDefaultsAttributeKey, UNCONFIRMED_EVENT_METRIC,
} from './private/properties';
import { validateReadinessReportOptions } from './private/readiness-report-validate';
import { validateCentralEventBusArn, validateRoleOptions } from './private/validate';

// The enum values below are answered by the handler and compared in users' templates: frozen (test/api.test.ts).

/**
 * What `ImdsReadinessReport` found: the value of its `result` attribute (and of
 * the `ReadinessResult` output of each StackSet member). Compare the attribute
 * with these values (in a `CfnCondition` or an output).
 */
export enum ReadinessReportResult {
  /**
   * Every listing finished, and no launch template (`$Default` or `$Latest`),
   * launch configuration or Auto Scaling group launches with `HttpTokens:
   * optional`: enforcing IMDSv2 (with `httpTokens: REQUIRED`) stops no launch.
   */
  READY = 'READY',
  /**
   * A launch template, a launch configuration, or the version an Auto Scaling
   * group launches sets `HttpTokens` to `optional`: with enforcement those
   * launches fail. The counts say how many of each (at least that many when a
   * listing did not finish).
   */
  WOULD_STOP_LAUNCHES = 'WOULD_STOP_LAUNCHES',
  /**
   * Nothing found that would stop launches, but a listing did not finish
   * (access denied, throttling, the time ran out), a group's launch template
   * could not be read, or the account's defaults could not be read: the
   * report cannot show that enforcing is safe. The function's log says which.
   */
  INCOMPLETE = 'INCOMPLETE',
}

/**
 * Options for `ImdsReadinessReport` that mean the same in every account (the
 * StackSet's `readinessReport` takes them; the log retention, permissions
 * boundary and role path come from the StackSet).
 */
export interface ImdsReadinessReportOptions {
  /**
   * How often the report runs again after deployment, to keep its metrics
   * current (an EventBridge schedule, whole minutes, at least 1 hour). The
   * attributes and outputs keep the values of the last create or update.
   *
   * One day by default: a move to IMDSv2 is followed over days and weeks, the
   * listing reads every launch template, configuration, group and instance
   * (Describe calls that share the account's API rate with other tools), and
   * a daily value lines up with `ImdsInstanceUpgrade`'s daily runs on a dashboard.
   *
   * @default Duration.days(1)
   */
  readonly interval?: Duration;

  /**
   * Whether the report runs on a schedule (`interval`) as well as on each
   * create and update. Without the schedule, the metrics are put only when the
   * stack deploys a change to the report.
   *
   * @default true
   */
  readonly scheduledRuns?: boolean;

  /**
   * Any text: changing it runs the report again at the next deployment, so
   * that the attributes (and the outputs of a StackSet's member stacks) show
   * the fleet as it is then. CloudFormation sends the custom resource an
   * update only when one of its properties changes; without a change, the
   * attributes keep the values of the last create or update (the scheduled
   * runs keep the metrics current). For example the date of the review.
   *
   * @default - none: the report runs on create, and on an update that changes it
   */
  readonly refreshKey?: string;
}

/** Properties for `ImdsReadinessReport`. */
export interface ImdsReadinessReportProps extends ImdsReadinessReportOptions {
  /**
   * How long the function's logs are kept (each run writes one line naming what allows IMDSv1).
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The IAM path of the function's role (`/` or `/<path>/`).
   *
   * @default '/'
   */
  readonly rolePath?: string;

  /**
   * The permissions boundary of the function's IAM role:
   * `ImdsPermissionsBoundary.fromManagedPolicy(policy)` or
   * `ImdsPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary')`.
   *
   * @default - no permissions boundary
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundary?: ImdsPermissionsBoundary;

  /**
   * A customer managed KMS key, in the stack's Region, that encrypts the function's log group.
   *
   * @default - CloudWatch Logs' own encryption at rest
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

/** The report lists for up to 40 s; the answer and the metrics need the rest. */
const HANDLER_TIMEOUT = Duration.seconds(60);
/** Enough for a page of 1,000 instances and the groups' answers at once. */
const HANDLER_MEMORY_MB = 256;
/** How long CloudFormation waits for an answer (seconds): five times the function's timeout, room for a queued invocation. */
const SERVICE_TIMEOUT_SECONDS = 300;
const HANDLER_PURPOSE = 'reports what enforcing IMDSv2 would stop (read-only)';

/**
 * What the report reads (none supports resource-level permissions: Service
 * Authorization Reference; limited to the stack's Region by a condition).
 */
const READINESS_REPORT_ACTIONS = [
  'ec2:GetInstanceMetadataDefaults',
  'ec2:DescribeLaunchTemplateVersions',
  'ec2:DescribeInstances',
  'autoscaling:DescribeLaunchConfigurations',
  'autoscaling:DescribeAutoScalingGroups',
];

const IS_IMDS_READINESS_REPORT = Symbol.for('cdk-imds-account-defaults.ImdsReadinessReport');

/**
 * The dry run of enforcing IMDSv2: lists, in the account and Region the stack
 * is deployed to, what allows IMDSv1 and whether enforcement
 * (`HttpTokensEnforced`) would stop launches, and changes nothing.
 *
 * A custom resource (`Custom::ImdsReadinessReport`) backed by its own function
 * with a read-only role (no `Modify*` action at all). On create and update, and
 * on a schedule (`interval`), it lists launch templates whose `$Default` or
 * `$Latest` version, Auto Scaling launch configurations, Auto Scaling groups
 * (the version or configuration each launches, mixed instances policies
 * included) and instances that allow IMDSv1 (`HttpTokens: optional`), and
 * reads the account's current defaults (`GetInstanceMetadataDefaults`). The
 * result (`result`, a `ReadinessReportResult` value) and the counts are
 * attributes; each run also puts them as metrics (`metricWouldStopLaunches()`,
 * ...). Delete does nothing to AWS. Its code is inline (a bundle of its own,
 * shipped in the package): the template needs no assets.
 *
 * A source without `HttpTokens` takes the account default at launch; the
 * result assumes the move to enforcement sets `httpTokens: REQUIRED` with it (as
 * the quick start does), so such sources are not counted.
 *
 * At most one per stack, and one per concrete account and Region in an app:
 * its metrics have no dimensions.
 */
export class ImdsReadinessReport extends Construct {
  /** Whether the given object is an `ImdsReadinessReport`. */
  public static isImdsReadinessReport(x: any): x is ImdsReadinessReport {
    return x !== null && typeof x === 'object' && IS_IMDS_READINESS_REPORT in x;
  }

  /** What the last create or update found: a `ReadinessReportResult` value (`READY`, `WOULD_STOP_LAUNCHES`, `INCOMPLETE`). */
  public readonly result: string;
  /** Launch templates whose `$Default` or `$Latest` version sets `HttpTokens` to `optional` (a lower bound when a listing did not finish). */
  public readonly launchTemplatesAllowingImdsv1Count: number;
  /** Auto Scaling launch configurations that set `HttpTokens` to `optional`. */
  public readonly launchConfigurationsAllowingImdsv1Count: number;
  /** Auto Scaling groups whose launch template version (as the group names it), override or configuration sets `HttpTokens` to `optional`. */
  public readonly autoScalingGroupsAllowingImdsv1Count: number;
  /** Instances (pending, running, stopping, stopped) that allow IMDSv1; they keep running under enforcement. */
  public readonly instancesAllowingImdsv1Count: number;
  /** The account's `HttpTokens` default when the report ran (`no-preference` when unset, `unknown` when unreadable). */
  public readonly currentHttpTokens: string;
  /** The account's `HttpTokensEnforced` default when the report ran (`no-preference` when unset, `unknown` when unreadable). */
  public readonly currentHttpTokensEnforced: string;
  /** Who manages the defaults: `account`, or `declarative-policy` when an AWS Organizations policy does (`unknown` when unreadable). */
  public readonly managedBy: string;

  /** The custom resource (`Custom::ImdsReadinessReport`). */
  public readonly customResource: CustomResource;
  /** The report's function. */
  public readonly handler: lambda.IFunction;
  /** The function's role: read-only. */
  public readonly role: iam.IRole;
  /** The function's log group: one `readiness report` line per run, naming what allows IMDSv1. */
  public readonly logGroup: logs.ILogGroup;
  /** The schedule; undefined with `scheduledRuns: false`. */
  public readonly scheduleRule?: events.IRule;

  private readonly interval: Duration;

  constructor(scope: Construct, id: string, props: ImdsReadinessReportProps = {}) {
    super(scope, id);
    Object.defineProperty(this, IS_IMDS_READINESS_REPORT, { value: true });

    validateReadinessReportOptions(this, props);
    validateRoleOptions(this, props);
    validateCentralEventBusArn(this, props.centralEventBusArn);
    onePerStack(this, PLACEMENT);
    this.node.addValidation({ validate: () => onePerAccountAndRegion(this, PLACEMENT) });

    const logGroup = handlerLogGroup(this, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.logGroupEncryptionKey,
    });
    const role = handlerRole(this, 'Read-only IMDSv2 readiness report (cdk-imds-account-defaults)', props);
    // A policy of its own, which the custom resource depends on: Delete still has it.
    const policy = new iam.Policy(this, 'Policy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: READINESS_REPORT_ACTIONS,
          resources: ['*'],
          conditions: { StringEquals: { 'aws:RequestedRegion': Aws.REGION } },
        }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
        // The confirmation of each event with CloudFormation: its own stack only.
        new iam.PolicyStatement({
          actions: ['cloudformation:DescribeStackResource'],
          resources: [Aws.STACK_ID],
        }),
        // Its metrics and the security warning (unconfirmed events).
        metricsStatement(),
        // Its findings, as events.
        findingsStatement(this, props.centralEventBusArn),
      ],
    });

    const { code, description } = inlineFunctionCode(this, 'readiness-report', HANDLER_PURPOSE);
    const fn = new lambda.Function(this, 'Handler', {
      description,
      runtime: HANDLER_RUNTIME,
      handler: 'index.handler',
      code,
      timeout: HANDLER_TIMEOUT,
      memorySize: HANDLER_MEMORY_MB,
      role,
      logGroup,
      ...ASYNC_INVOKE,
      ...(props.centralEventBusArn !== undefined ? { environment: findingsEnvironment(props.centralEventBusArn) } : {}),
    });
    this.handler = fn;
    this.role = role;
    this.logGroup = logGroup;

    this.customResource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: REPORT_RESOURCE_TYPE,
      // Read by nobody: a new value makes CloudFormation send an Update, which reports again.
      properties: props.refreshKey !== undefined ? { [REPORT_REFRESH_PROPERTY]: props.refreshKey } : undefined,
    });
    setServiceTimeout(this.customResource, SERVICE_TIMEOUT_SECONDS);
    this.customResource.node.addDependency(policy);

    this.interval = props.interval ?? DEFAULT_REPORT_INTERVAL;
    if (props.scheduledRuns ?? true) {
      const rule = new events.Rule(this, 'Schedule', { schedule: events.Schedule.rate(this.interval), targets: [new targets.LambdaFunction(fn)] });
      // Runs after the custom resource's first report, and stops before its Delete.
      rule.node.addDependency(this.customResource);
      addNagSuppressions(rule, [{ id: 'Serverless-EventBusDLQ', reason: 'A missed scheduled run is made up by the next' }]);
      this.scheduleRule = rule;
    }

    this.result = this.customResource.getAttString(REPORT_RESULT_ATTRIBUTE);
    const count = (key: ReportCountAttributeKey) => Token.asNumber(this.customResource.getAtt(key));
    this.launchTemplatesAllowingImdsv1Count = count('LaunchTemplatesAllowingImdsv1Count');
    this.launchConfigurationsAllowingImdsv1Count = count('LaunchConfigurationsAllowingImdsv1Count');
    this.autoScalingGroupsAllowingImdsv1Count = count('AutoScalingGroupsAllowingImdsv1Count');
    this.instancesAllowingImdsv1Count = count('InstancesAllowingImdsv1Count');
    const att = (key: ReportDefaultsAttributeKey) => this.customResource.getAttString(key);
    this.currentHttpTokens = att('HttpTokens');
    this.currentHttpTokensEnforced = att('HttpTokensEnforced');
    this.managedBy = att('ManagedBy');

    suppressImdsReadinessReportFindings({ policy, handler: fn, eventInvokeConfig: fn.node.findChild('EventInvokeConfig'), logGroup });
  }

  /**
   * One of the metrics this construct's function publishes, by name (one of
   * `ImdsMetrics.READINESS_*`, or `UNCONFIRMED_EVENTS`), in the namespace
   * `CdkImdsAccountDefaults` without dimensions; the report's with the
   * statistic `Maximum` and a period of `interval`.
   *
   * @param metricName the metric's name
   * @param props options that override the defaults (period, statistic, label, ...)
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const definition = definitionOf(metricName, `[${this.node.path}] metric`, READINESS_REPORT_METRICS);
    if (definition.name === UNCONFIRMED_EVENT_METRIC || definition.source === 'findings') {
      return buildMetric(definition, undefined, props);
    }
    if (this.interval.isUnresolved() && props?.period === undefined) {
      throw new Error(`[${this.node.path}] ${definition.name}: interval is a token (${this.interval.toString()}), and a metric's period must be known at synth; give the period: metric(name, { period })`);
    }
    return buildMetric(definition, this.interval, props);
  }

  /**
   * 1 when the last run found that enforcing would stop launches
   * (`WOULD_STOP_LAUNCHES`), else 0 (`ReadinessWouldStopLaunches`, `Maximum` per `interval`).
   *
   * @param props options that override the defaults
   */
  public metricWouldStopLaunches(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(REPORT_METRIC_NAMES.WouldStopLaunches, props);
  }

  /**
   * 1 when a listing of the last run did not finish (the counts are a lower
   * bound), else 0 (`ReadinessIncomplete`, `Maximum` per `interval`).
   *
   * @param props options that override the defaults
   */
  public metricIncomplete(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(REPORT_METRIC_NAMES.Incomplete, props);
  }

  /**
   * Launch templates whose `$Default` or `$Latest` version allows IMDSv1
   * (`ReadinessLaunchTemplatesAllowingImdsv1`, `Maximum` per `interval`).
   *
   * @param props options that override the defaults
   */
  public metricLaunchTemplatesAllowingImdsv1(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(REPORT_METRIC_NAMES.LaunchTemplatesAllowingImdsv1Count, props);
  }

  /**
   * Launch configurations that allow IMDSv1
   * (`ReadinessLaunchConfigurationsAllowingImdsv1`, `Maximum` per `interval`).
   *
   * @param props options that override the defaults
   */
  public metricLaunchConfigurationsAllowingImdsv1(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(REPORT_METRIC_NAMES.LaunchConfigurationsAllowingImdsv1Count, props);
  }

  /**
   * Auto Scaling groups that launch from a template version or configuration
   * allowing IMDSv1 (`ReadinessAutoScalingGroupsAllowingImdsv1`, `Maximum` per `interval`).
   *
   * @param props options that override the defaults
   */
  public metricAutoScalingGroupsAllowingImdsv1(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(REPORT_METRIC_NAMES.AutoScalingGroupsAllowingImdsv1Count, props);
  }

  /**
   * Instances that allow IMDSv1 (`ReadinessInstancesAllowingImdsv1`, `Maximum` per `interval`).
   *
   * @param props options that override the defaults
   */
  public metricInstancesAllowingImdsv1(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(REPORT_METRIC_NAMES.InstancesAllowingImdsv1Count, props);
  }

  /**
   * Custom resource events that CloudFormation did not confirm (`UnconfirmedEvents`,
   * `Sum` per 5 minutes). Shared by every function of the library in the account and Region.
   *
   * @param props options that override the defaults
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
}

const PLACEMENT: Placement = {
  isKind: (c) => ImdsReadinessReport.isImdsReadinessReport(c),
  sameStack: (other, stackName) => `a stack can hold only one ImdsReadinessReport, because it reports on the whole account and Region and its metrics have no dimensions; ${other} already does in stack ${stackName}`,
  sameAccountAndRegion: (other, stackName, env) => `ImdsReadinessReport ${other} (stack ${stackName}) also reports on account and Region ${env}; its metrics have no dimensions, so only one ImdsReadinessReport may target them`,
};

