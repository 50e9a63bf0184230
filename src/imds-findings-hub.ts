import {
  Annotations,
  ArnFormat,
  Aws,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  aws_cloudwatch as cloudwatch,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_logs as logs,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { ImdsFindingType, ImdsFindings } from './findings';
import { suppressImdsFindingsHubFindings } from './private/nag';
import { ACCOUNT_ID, REGION } from './private/organizations';
import { failer, validateRemovalPolicy, validateRoleOptions } from './private/validate';

/**
 * Properties for `ImdsFindingsHub`.
 */
export interface ImdsFindingsHubProps {
  /**
   * The id of your AWS Organizations organization (`o-` and 10 to 32 lowercase
   * letters or digits). The bus admits `events:PutEvents` only from principals of
   * this organization (`aws:PrincipalOrgID`).
   *
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
   */
  readonly organizationId: string;

  /**
   * The IAM path of the library's roles in the member accounts: the `rolePath`
   * given to `ImdsAccountDefaultsStackSet` (or to `ImdsAccountDefaults`,
   * `ImdsInstanceUpgrade` and `ImdsReadinessReport`). With it, the bus admits
   * `PutEvents` only from roles under that path (`ArnLike` on `aws:PrincipalArn`
   * with `arn:<partition>:iam::*:role<rolePath>*`), so a user or a role
   * elsewhere in the organization cannot put forged findings here, even with
   * `events:PutEvents` on `*` in its own account. Keep the path for the library's
   * roles alone: whoever may create a role under it may put findings.
   *
   * It must start and end with `/` and not hold the wildcards `*` or `?`.
   * Without it, every principal of the organization may put events with the
   * library's source (a warning says so at synth).
   *
   * @default - any principal of the organization (a synth warning)
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
   */
  readonly rolePath?: string;

  /**
   * The name of the event bus: letters, digits, `.`, `-` and `_`, at most 200
   * characters, not `default` nor starting with `aws.`. The log group
   * (`/aws/events/<name>`), the topic it creates (`<name>-alerts`), the
   * dashboard and the log resource policy are named after it. The member side
   * needs the bus's ARN as a literal: `ImdsFindingsHub.eventBusArnOf(account, region, name)`.
   *
   * @default ImdsFindingsHub.DEFAULT_EVENT_BUS_NAME ('cdk-imds-findings')
   */
  readonly eventBusName?: string;

  /**
   * How long the log group keeps the findings (every event of the library's
   * source that reaches the bus). Drift and upgrades are followed over months,
   * and the dashboard's queries read this log group.
   *
   * @default logs.RetentionDays.TWO_YEARS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A customer managed KMS key, in the stack's Region, that encrypts the log
   * group. Its key policy gets a statement for CloudWatch Logs of this Region,
   * for this log group only (an imported key must allow that already).
   *
   * @default - CloudWatch Logs' own encryption at rest
   * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
   */
  readonly logGroupEncryptionKey?: kms.IKey;

  /**
   * What happens to the log group (the organization's record of findings)
   * when it leaves the stack. `RemovalPolicy.SNAPSHOT` is refused. A retained
   * log group keeps its name: deploying the hub again with the same
   * `eventBusName` then fails until the old group is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * The SNS topic that gets the findings that need a human (see the class
   * documentation). The hub adds a statement to its policy that lets
   * EventBridge publish from the hub's rules only (`aws:SourceArn`); an imported
   * topic (`Topic.fromTopicArn`) keeps its policy as it is, and a topic
   * encrypted with a customer managed key needs a key policy that lets
   * `events.amazonaws.com` use the key (`kms:Decrypt`, `kms:GenerateDataKey`).
   *
   * @default - a topic named `<eventBusName>-alerts`, encrypted with a KMS key
   *   of its own (rotation on), that accepts only TLS
   */
  readonly topic?: sns.ITopic;

  /**
   * Whether metric filters on the log group publish the findings' counts as
   * CloudWatch metrics (namespace `ImdsFindingsHub.METRIC_NAMESPACE`,
   * dimensions `Account` and `Region`), for the dashboard's graphs and your
   * alarms (`metricDrifts(account, region)`, ...). Each metric is a custom
   * metric per account and Region that reports (billed in months it has data).
   * Without them the dashboard shows the Logs Insights widgets only.
   *
   * @default true
   */
  readonly publishMetrics?: boolean;
}

/** One metric the hub's metric filters publish: the events it counts and how. */
interface HubMetric {
  readonly name: string;
  /** The detail type whose events it counts. */
  readonly type: ImdsFindingType;
  /** The field (a contract field of that detail type) whose value is published. */
  readonly value: string;
  readonly statistic: string;
}

/** The default name of the hub's event bus. */
const DEFAULT_EVENT_BUS_NAME = 'cdk-imds-findings';
/** The namespace of the metrics the hub's metric filters publish. */
const METRIC_NAMESPACE = 'CdkImdsAccountDefaults/Findings';
/** The findings arrive from daily runs mostly: the metrics' period, the graphs' too. */
const METRIC_PERIOD = Duration.days(1);
/** An organization's organization id (Organizations API reference). */
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
/**
 * A custom bus name (EventBridge allows `[/.\-_A-Za-z0-9]{1,256}`, `/` only for partner
 * buses); at most 200 characters so the names derived from it stay within their limits.
 */
const EVENT_BUS_NAME = /^[.\-_A-Za-z0-9]{1,200}$/;

/**
 * Where each metric comes from. The envelope's `account` is set by EventBridge
 * from the caller's credentials (a member cannot choose it); the Region is the
 * detail's (`detail.region`, written by the member's function): the functions put
 * to the hub through the hub's Region, so the envelope's `region` is the hub's.
 */
const DIMENSIONS = { Account: '$.account', Region: '$.detail.region' };

const METRICS = {
  /** Instances that allow IMDSv1 (`HttpTokens: optional`), per readiness report. */
  InstancesAllowingImdsv1: {
    name: 'InstancesAllowingImdsv1', type: ImdsFindingType.READINESS_REPORT, value: '$.detail.counts.InstancesAllowingImdsv1Count', statistic: 'Maximum',
  },
  /** Instances that made IMDSv1 calls in the lookback window, per instance upgrade run. */
  InstancesUsingImdsv1: {
    name: 'InstancesUsingImdsv1', type: ImdsFindingType.UPGRADE_RUN, value: '$.detail.counts.InUse', statistic: 'Maximum',
  },
  /** IMDSv1 calls refused by instances the upgrade switched. */
  RejectedImdsv1Calls: {
    name: 'RejectedImdsv1Calls', type: ImdsFindingType.REJECTED_CALLS, value: '$.detail.counts.rejectedCalls', statistic: 'Sum',
  },
  /** Fields found different from the template's by the drift guard. */
  Drifts: { name: 'Drifts', type: ImdsFindingType.DRIFT_DETECTED, value: '$.detail.counts.drifts', statistic: 'Sum' },
  /** Instances switched to IMDSv2 by the instance upgrade. */
  InstancesUpgraded: { name: 'InstancesUpgraded', type: ImdsFindingType.UPGRADE_RUN, value: '$.detail.counts.Upgraded', statistic: 'Sum' },
  /** Instances whose upgrade failed. */
  UpgradeFailures: { name: 'UpgradeFailures', type: ImdsFindingType.UPGRADE_RUN, value: '$.detail.counts.Failed', statistic: 'Sum' },
  /** Inputs that did not hold up (security warnings), as counted by the function. */
  SecurityWarnings: { name: 'SecurityWarnings', type: ImdsFindingType.SECURITY_WARNING, value: '$.detail.count', statistic: 'Sum' },
} satisfies Record<string, HubMetric>;

/** 1 while the account default `HttpTokensEnforced` was last seen `enabled`, else 0 (two filters). */
const ENFORCEMENT_METRIC = 'EnforcementEnabled';

/**
 * A JSON filter pattern over the events of one detail type (hyphenated selectors are
 * valid there) that carry `value`: the field a metric publishes is named in the pattern,
 * as CloudWatch Logs asks of a metric value taken from the event.
 */
function typePattern(type: string, value: string): string {
  return `{ ($.source = "${ImdsFindings.SOURCE}") && ($.detail-type = "${type}") && (${value} >= 0) }`;
}

/** Logs Insights: the events of one detail type. */
function typeFilter(type: ImdsFindingType): string {
  return `filter source = "${ImdsFindings.SOURCE}" and \`detail-type\` = "${type}"`;
}

/**
 * The central side of the library's findings, for the security or management
 * account: an Amazon EventBridge event bus that the library's functions in every
 * member account put their findings to (`centralEventBusArn`), a CloudWatch Logs
 * group that keeps every finding, an SNS topic for the findings that need a
 * human, and a CloudWatch dashboard of the whole organization.
 *
 * - The bus admits `events:PutEvents` only from principals of `organizationId`
 *   (`aws:PrincipalOrgID`), only with the library's source (`events:source`), and,
 *   with `rolePath`, only from the library's roles.
 * - A rule sends every event of the library's source to the log group (the log
 *   group's resource policy lets EventBridge write to it from that rule only).
 * - Rules send to the topic: drift found (`IMDS Drift Detected`), enforcement
 *   turned off (`IMDS Defaults Changed` where `previous.HttpTokensEnforced` was
 *   `enabled` and `found.HttpTokensEnforced` is not), rejected IMDSv1 calls
 *   (`IMDS Rejected Calls`), upgrade failures (`IMDS Instance Upgrade Run` with
 *   `counts.Failed` above 0) and security warnings (`IMDS Security Warning`).
 * - Metric filters publish the findings' counts per account and Region
 *   (`publishMetrics`), and the dashboard shows, per account and Region, the
 *   enforcement state, instances that allow IMDSv1, IMDSv1 use, drift and
 *   upgrades over time, from Logs Insights queries and those metrics.
 *
 * The envelope's `account` of each event is set by EventBridge from the
 * credentials of the caller: it is what the dashboard and the metrics group by.
 * Everything in `detail` (its `account` and `region` too) is written by the
 * member's function, so it is only as trustworthy as the principals the bus
 * admits: give `rolePath`.
 *
 * No custom resource, no Lambda function and no file asset: plain CloudFormation.
 *
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
 */
export class ImdsFindingsHub extends Construct {
  /** The default name of the event bus. */
  public static readonly DEFAULT_EVENT_BUS_NAME = DEFAULT_EVENT_BUS_NAME;
  /** The namespace of the metrics the hub's metric filters publish (dimensions `Account` and `Region`). */
  public static readonly METRIC_NAMESPACE = METRIC_NAMESPACE;

  /**
   * The ARN of a hub's event bus, as a literal string, for the member side
   * (`centralEventBusArn` of the StackSet and the other constructs), which is
   * deployed in other accounts and so cannot take a reference to the hub's stack.
   * The partition is the Region's.
   *
   * @param account the account of the hub's stack (12 digits)
   * @param region the Region of the hub's stack, e.g. `eu-west-1`
   * @param eventBusName the hub's `eventBusName`; `ImdsFindingsHub.DEFAULT_EVENT_BUS_NAME` by default
   */
  public static eventBusArnOf(account: string, region: string, eventBusName?: string): string {
    const name = eventBusName ?? DEFAULT_EVENT_BUS_NAME;
    const fail = (message: string): never => {
      throw new Error(`ImdsFindingsHub.eventBusArnOf: ${message}`);
    };
    if (typeof account !== 'string' || Token.isUnresolved(account) || !ACCOUNT_ID.test(account)) {
      fail(`account must be a 12-digit account id, known at synth (the member side needs a literal ARN); got ${JSON.stringify(account)}`);
    }
    if (typeof region !== 'string' || Token.isUnresolved(region) || !REGION.test(region)) {
      fail(`region must be a Region name such as "eu-west-1", known at synth; got ${JSON.stringify(region)}`);
    }
    checkEventBusName(fail, name, 'eventBusName');
    const partition = RegionInfo.get(region).partition ?? 'aws';
    return `arn:${partition}:events:${region}:${account}:event-bus/${name}`;
  }

  /** The event bus the members put their findings to. */
  public readonly eventBus: events.EventBus;
  /** The bus's ARN (a reference; for the member side, `ImdsFindingsHub.eventBusArnOf`). */
  public readonly eventBusArn: string;
  /** The log group that keeps every finding (`/aws/events/<eventBusName>`). */
  public readonly logGroup: logs.LogGroup;
  /** The topic that gets the findings that need a human: the one given, or the hub's own. */
  public readonly topic: sns.ITopic;
  /** The KMS key of the hub's own topic; undefined when `topic` is given. */
  public readonly topicKey?: kms.IKey;
  /** The organization's dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** The rule that sends every finding to the log group. */
  public readonly logRule: events.Rule;
  /** The rule that sends drift findings (`IMDS Drift Detected`) to the topic. */
  public readonly driftRule: events.Rule;
  /** The rule that sends enforcement turned off (`IMDS Defaults Changed`) to the topic. */
  public readonly enforcementOffRule: events.Rule;
  /** The rule that sends rejected IMDSv1 calls (`IMDS Rejected Calls`) to the topic. */
  public readonly rejectedCallsRule: events.Rule;
  /** The rule that sends instance upgrade runs with failures (`IMDS Instance Upgrade Run`) to the topic. */
  public readonly upgradeFailuresRule: events.Rule;
  /** The rule that sends security warnings (`IMDS Security Warning`) to the topic. */
  public readonly securityWarningRule: events.Rule;
  /** The metric filters on the log group (none with `publishMetrics: false`). */
  public readonly metricFilters: logs.MetricFilter[];

  private readonly publishMetrics: boolean;

  constructor(scope: Construct, id: string, props: ImdsFindingsHubProps) {
    super(scope, id);
    const fail = failer(this);

    // Validation first: nothing is created until every prop has been checked.
    const organizationId = props?.organizationId;
    if (organizationId === undefined || organizationId === null) {
      fail('organizationId is required: the id of your AWS Organizations organization (o-…), whose principals the bus admits');
    }
    if (!Token.isUnresolved(organizationId) && (typeof organizationId !== 'string' || !ORGANIZATION_ID.test(organizationId))) {
      fail(`organizationId must be an organization id, "o-" and 10 to 32 lowercase letters or digits (e.g. "o-a1b2c3d4e5"); got ${JSON.stringify(organizationId)}`);
    }
    const rolePath = props.rolePath;
    validateRoleOptions(this, { rolePath });
    if (rolePath !== undefined && !Token.isUnresolved(rolePath) && /[*?]/.test(rolePath)) {
      fail(`rolePath must not hold the wildcards * or ?, which would widen the principals the bus admits (ArnLike); got ${JSON.stringify(rolePath)}`);
    }
    const eventBusName = props.eventBusName ?? DEFAULT_EVENT_BUS_NAME;
    if (!Token.isUnresolved(eventBusName)) {
      checkEventBusName(fail, eventBusName, 'eventBusName');
    }
    validateRemovalPolicy(this, 'removalPolicy', props.removalPolicy);
    if (props.publishMetrics !== undefined && typeof props.publishMetrics !== 'boolean') {
      fail(`publishMetrics must be true or false, known at synth time; got ${JSON.stringify(props.publishMetrics)}`);
    }
    if (rolePath === undefined) {
      Annotations.of(this).addWarningV2('cdk-imds-account-defaults:findingsHubWithoutRolePath',
        'rolePath is not set: every principal of the organization may put events with the library\'s source to the hub\'s bus, so anyone with events:PutEvents in a member account can forge findings. Give the library\'s roles a path of their own (rolePath on the StackSet) and set the same rolePath here.');
    }
    this.publishMetrics = props.publishMetrics ?? true;
    const stack = Stack.of(this);
    // Names derived from the bus name (topics and dashboards take no ".").
    const plainName = Token.isUnresolved(eventBusName) ? eventBusName : eventBusName.replace(/\./g, '-');

    // --- the bus and who may put to it ---
    this.eventBus = new events.EventBus(this, 'EventBus', { eventBusName });
    this.eventBusArn = this.eventBus.eventBusArn;
    this.eventBus.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'OrganizationPutsImdsFindings',
      principals: [new iam.AnyPrincipal()],
      actions: ['events:PutEvents'],
      resources: [this.eventBus.eventBusArn],
      conditions: {
        StringEquals: { 'aws:PrincipalOrgID': organizationId, 'events:source': ImdsFindings.SOURCE },
        // A role session's aws:PrincipalArn is its role's ARN (users and root do not match).
        ...(rolePath !== undefined ? { ArnLike: { 'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::*:role${rolePath}*` } } : {}),
      },
    }));

    // --- every finding to the log group ---
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/events/${eventBusName}`,
      retention: props.logRetention ?? logs.RetentionDays.TWO_YEARS,
      encryptionKey: props.logGroupEncryptionKey,
      removalPolicy,
    });
    if (props.logGroupEncryptionKey !== undefined) {
      props.logGroupEncryptionKey.addToResourcePolicy(new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnEquals: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs', resource: 'log-group', resourceName: `/aws/events/${eventBusName}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }));
    }
    this.logRule = new events.Rule(this, 'LogRule', {
      eventBus: this.eventBus,
      description: 'Every IMDS finding of the organization to the hub\'s log group (cdk-imds-account-defaults)',
      eventPattern: { source: [ImdsFindings.SOURCE] },
    });
    // The target's ARN is the log group's without the trailing ":*" (EventBridge's form).
    const logGroupTargetArn = stack.formatArn({
      service: 'logs', resource: 'log-group', resourceName: this.logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.logRule.addTarget({ bind: () => ({ arn: logGroupTargetArn }) });
    // aws-cdk-lib's CloudWatchLogGroup target installs its policy through a custom resource
    // (a Lambda function and a file asset): this one is plain CloudFormation instead.
    // EventBridge writes through the log group's resource policy (never a role): it creates
    // the stream, and puts the events from this rule only. As in AWS's own sample
    // (serverless-patterns, eventbridge-cloudwatch), aws:SourceArn conditions PutLogEvents
    // only: CreateLogStream carries no rule ARN. An account has at most 10 such policies per Region.
    const writers = [new iam.ServicePrincipal('events.amazonaws.com'), new iam.ServicePrincipal('delivery.logs.amazonaws.com')];
    const logPolicy = new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: 'EventBridgeCreatesStreams',
          principals: writers,
          actions: ['logs:CreateLogStream'],
          resources: [this.logGroup.logGroupArn],
        }),
        new iam.PolicyStatement({
          sid: 'EventBridgePutsFindings',
          principals: writers,
          actions: ['logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
          conditions: { ArnEquals: { 'aws:SourceArn': this.logRule.ruleArn } },
        }),
      ],
    });
    // The policy names the rule, so it is created after it: EventBridge retries the first deliveries until then.
    new logs.CfnResourcePolicy(this, 'LogGroupPolicy', {
      policyName: `${eventBusName}-findings-to-logs`,
      policyDocument: stack.toJsonString(logPolicy.toJSON()),
    });

    // --- the findings that need a human, to the topic ---
    if (props.topic !== undefined) {
      this.topic = props.topic;
    } else {
      const topicName = `${plainName}-alerts`;
      const key = new kms.Key(this, 'TopicKey', {
        description: `Encrypts the IMDS findings topic ${topicName} (cdk-imds-account-defaults)`,
        enableKeyRotation: true,
        // The topic goes with the stack; its messages are delivered, not stored.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // SNS encrypts with the publisher's permission: EventBridge, for this topic only (SNS's encryption context).
      key.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'EventBridgePublishesToTheTopic',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:EncryptionContext:aws:sns:topicArn': stack.formatArn({ service: 'sns', resource: topicName }) } },
      }));
      this.topicKey = key;
      this.topic = new sns.Topic(this, 'Topic', {
        topicName,
        displayName: 'IMDS findings that need a human (cdk-imds-account-defaults)',
        masterKey: key,
        enforceSSL: true,
      });
    }
    const toTopic = (ruleId: string, description: string, type: ImdsFindingType, detail?: Record<string, unknown>): events.Rule => {
      const rule = new events.Rule(this, ruleId, {
        eventBus: this.eventBus,
        description: `${description} (cdk-imds-account-defaults)`,
        eventPattern: { source: [ImdsFindings.SOURCE], detailType: [type], ...(detail !== undefined ? { detail } : {}) },
      });
      rule.addTarget({ bind: () => ({ arn: this.topic.topicArn }) });
      return rule;
    };
    this.driftRule = toTopic('DriftRule', 'IMDS drift found', ImdsFindingType.DRIFT_DETECTED);
    this.enforcementOffRule = toTopic('EnforcementOffRule', 'IMDSv2 enforcement turned off', ImdsFindingType.DEFAULTS_CHANGED, {
      // Only a change that succeeded has `found`; EC2 leaves out a field with no preference.
      outcome: ['SUCCESS'],
      previous: { HttpTokensEnforced: ['enabled'] },
      $or: [
        { found: { HttpTokensEnforced: [{ 'anything-but': 'enabled' }] } },
        { found: { HttpTokensEnforced: [{ exists: false }] } },
      ],
    });
    this.rejectedCallsRule = toTopic('RejectedCallsRule', 'IMDSv1 calls rejected', ImdsFindingType.REJECTED_CALLS);
    this.upgradeFailuresRule = toTopic('UpgradeFailuresRule', 'IMDSv2 instance upgrades failed', ImdsFindingType.UPGRADE_RUN, {
      counts: { Failed: [{ numeric: ['>', 0] }] },
    });
    this.securityWarningRule = toTopic('SecurityWarningRule', 'IMDS security warnings', ImdsFindingType.SECURITY_WARNING);
    const topicRules = [this.driftRule, this.enforcementOffRule, this.rejectedCallsRule, this.upgradeFailuresRule, this.securityWarningRule];
    // Not aws-cdk-lib's SnsTopic target: it lets every EventBridge rule of every account
    // publish (no condition). This statement admits the hub's rules only.
    const { statementAdded } = this.topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'ImdsFindingsHubRulesPublish',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      conditions: { ArnEquals: { 'aws:SourceArn': topicRules.map((r) => r.ruleArn) } },
    }));
    if (!statementAdded) {
      Annotations.of(this).addInfo(`topic ${this.topic.node.path} is imported: its policy must let events.amazonaws.com publish (sns:Publish) from the hub's rules, and a customer managed key of the topic must let events.amazonaws.com use it (kms:Decrypt, kms:GenerateDataKey)`);
    }

    // --- metrics and the dashboard ---
    this.metricFilters = this.publishMetrics ? this.createMetricFilters() : [];
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: plainName,
      start: '-P14D',
      widgets: this.dashboardRows([this.logRule, ...topicRules]),
    });

    suppressImdsFindingsHubFindings({ logGroup: this.logGroup, rules: [this.logRule, ...topicRules] });
  }

  /**
   * One of the metrics the hub's metric filters publish, for one account and
   * Region (its dimensions), by name: `InstancesAllowingImdsv1`,
   * `InstancesUsingImdsv1`, `RejectedImdsv1Calls`, `Drifts`, `InstancesUpgraded`,
   * `UpgradeFailures`, `SecurityWarnings` or `EnforcementEnabled`, in
   * `ImdsFindingsHub.METRIC_NAMESPACE`, with a period of 1 day and the metric's
   * statistic (`Sum` for events, `Maximum` for per-run counts and `EnforcementEnabled`).
   * A metric exists only for accounts and Regions that have reported.
   *
   * @param metricName the metric's name
   * @param memberAccount the member account (the events' envelope `account`): the `Account` dimension
   * @param memberRegion the member Region (the findings' `detail.region`): the `Region` dimension
   * @param props options that override the defaults (period, statistic, label, ...)
   */
  public metric(metricName: string, memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const fail = failer(this);
    if (!this.publishMetrics) {
      fail(`metric ${metricName}: publishMetrics is false, so the hub publishes no metrics; set publishMetrics: true, or query the log group`);
    }
    const definition = Object.values(METRICS).find((m) => m.name === metricName);
    if (definition === undefined && metricName !== ENFORCEMENT_METRIC) {
      fail(`metric name must be one of ${[...Object.values(METRICS).map((m) => m.name), ENFORCEMENT_METRIC].join(', ')}; got ${JSON.stringify(metricName)}`);
    }
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName,
      statistic: definition?.statistic ?? 'Maximum',
      period: METRIC_PERIOD,
      unit: cloudwatch.Unit.COUNT,
      ...props,
      dimensionsMap: { ...props?.dimensionsMap, Account: memberAccount, Region: memberRegion },
    });
  }

  /**
   * 1 when the account default `HttpTokensEnforced` was last seen `enabled` in that
   * account and Region (any finding that carries `found` settings), else 0
   * (`EnforcementEnabled`, `Maximum` per day: use `Minimum` to see a day it was off).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricEnforcementEnabled(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ENFORCEMENT_METRIC, memberAccount, memberRegion, props);
  }

  /**
   * Instances that allow IMDSv1, per readiness report (`InstancesAllowingImdsv1`, `Maximum` per day).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricInstancesAllowingImdsv1(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.InstancesAllowingImdsv1.name, memberAccount, memberRegion, props);
  }

  /**
   * Instances that made IMDSv1 calls in the instance upgrade's lookback window, per run
   * (`InstancesUsingImdsv1`, `Maximum` per day).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricInstancesUsingImdsv1(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.InstancesUsingImdsv1.name, memberAccount, memberRegion, props);
  }

  /**
   * IMDSv1 calls refused by instances the upgrade switched (`RejectedImdsv1Calls`, `Sum` per day).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricRejectedImdsv1Calls(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.RejectedImdsv1Calls.name, memberAccount, memberRegion, props);
  }

  /**
   * Fields the drift guard found different from the template's (`Drifts`, `Sum` per day).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricDrifts(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.Drifts.name, memberAccount, memberRegion, props);
  }

  /**
   * Instances the instance upgrade switched to IMDSv2 (`InstancesUpgraded`, `Sum` per day).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricInstancesUpgraded(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.InstancesUpgraded.name, memberAccount, memberRegion, props);
  }

  /**
   * Instances whose upgrade failed (`UpgradeFailures`, `Sum` per day).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricUpgradeFailures(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.UpgradeFailures.name, memberAccount, memberRegion, props);
  }

  /**
   * Security warnings: inputs that did not hold up, as the functions count them (`SecurityWarnings`, `Sum` per day).
   *
   * @param memberAccount the member account (the `Account` dimension)
   * @param memberRegion the member Region (the `Region` dimension)
   * @param props options that override the defaults
   */
  public metricSecurityWarnings(memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.SecurityWarnings.name, memberAccount, memberRegion, props);
  }

  /** The metric filters: one per metric, two for `EnforcementEnabled` (1 and 0). */
  private createMetricFilters(): logs.MetricFilter[] {
    const filter = (id: string, metricName: string, pattern: string, metricValue: string) => new logs.MetricFilter(this, id, {
      logGroup: this.logGroup,
      filterPattern: logs.FilterPattern.literal(pattern),
      metricNamespace: METRIC_NAMESPACE,
      metricName,
      metricValue,
      dimensions: DIMENSIONS,
      unit: cloudwatch.Unit.COUNT,
    });
    // Every finding that carries the settings EC2 showed (`found`, which always has ManagedBy;
    // a field with no preference is absent).
    const found = `($.source = "${ImdsFindings.SOURCE}") && (($.detail.found.ManagedBy = "account") || ($.detail.found.ManagedBy = "declarative-policy"))`;
    return [
      ...Object.values(METRICS).map((m: HubMetric) => filter(`${m.name}Filter`, m.name, typePattern(m.type, m.value), m.value)),
      filter('EnforcementEnabledFilter', ENFORCEMENT_METRIC, `{ ${found} && ($.detail.found.HttpTokensEnforced = "enabled") }`, '1'),
      filter('EnforcementNotEnabledFilter', ENFORCEMENT_METRIC,
        `{ ${found} && (($.detail.found.HttpTokensEnforced NOT EXISTS) || ($.detail.found.HttpTokensEnforced = "disabled")) }`, '0'),
    ];
  }

  /** A graph of one metric, one line per account and Region (SEARCH over its dimensions). */
  private searchGraph(title: string, names: string[], statistic?: string): cloudwatch.GraphWidget {
    const statisticOf = (name: string) => statistic ?? Object.values(METRICS).find((m) => m.name === name)?.statistic ?? 'Maximum';
    return new cloudwatch.GraphWidget({
      title,
      width: 12,
      height: 6,
      left: names.map((name) => new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRIC_NAMESPACE},Account,Region} MetricName="${name}"', '${statisticOf(name)}', ${METRIC_PERIOD.toSeconds()})`,
        usingMetrics: {},
        period: METRIC_PERIOD,
        label: names.length > 1 ? name : '',
      })),
    });
  }

  /** A Logs Insights widget over the hub's log group. */
  private query(title: string, lines: string[], view = cloudwatch.LogQueryVisualizationType.TABLE): cloudwatch.LogQueryWidget {
    return new cloudwatch.LogQueryWidget({
      title,
      logGroupNames: [this.logGroup.logGroupName],
      queryString: lines.join('\n| '),
      view,
      width: 12,
      height: 6,
    });
  }

  /** The dashboard, a row at a time: per account and Region, from the log group and (with publishMetrics) the metrics. */
  private dashboardRows(rules: events.Rule[]): cloudwatch.IWidget[][] {
    const by = 'by account, detail.region';
    const rows: cloudwatch.IWidget[][] = [
      [new cloudwatch.TextWidget({
        markdown: [
          '# IMDS findings of the organization (cdk-imds-account-defaults)',
          `Every finding is in the log group \`${this.logGroup.logGroupName}\`. **account** is the event's own account, set by EventBridge from the caller's credentials; **detail.region** is the member Region, written by the member's function. Tables show the latest finding in the dashboard's time range.`,
        ].join('\n\n'),
        width: 24,
        height: 2,
      })],
      [
        this.query('Enforcement state (latest found settings, per account and Region)', [
          `filter source = "${ImdsFindings.SOURCE}" and ispresent(detail.found.ManagedBy)`,
          // EC2 leaves out a field with no preference.
          'fields coalesce(detail.found.HttpTokensEnforced, "no-preference") as enforced, coalesce(detail.found.HttpTokens, "no-preference") as tokens',
          `stats latest(enforced) as HttpTokensEnforced, latest(tokens) as HttpTokens, latest(detail.found.ManagedBy) as ManagedBy, max(@timestamp) as lastSeen ${by}`,
          'sort HttpTokensEnforced asc, account asc',
        ]),
        this.query('Allowing IMDSv1 (latest readiness report)', [
          typeFilter(ImdsFindingType.READINESS_REPORT),
          'stats latest(detail.result) as result, latest(detail.counts.InstancesAllowingImdsv1Count) as instances, '
            + 'latest(detail.counts.LaunchTemplatesAllowingImdsv1Count) as launchTemplates, latest(detail.counts.LaunchConfigurationsAllowingImdsv1Count) as launchConfigurations, '
            + `latest(detail.counts.AutoScalingGroupsAllowingImdsv1Count) as autoScalingGroups, max(@timestamp) as lastReport ${by}`,
          'sort instances desc',
        ]),
      ],
      [
        this.query('IMDSv1 use (latest instance upgrade run)', [
          typeFilter(ImdsFindingType.UPGRADE_RUN),
          `stats latest(detail.counts.InUse) as instancesUsingImdsv1, latest(detail.counts.Candidates) as candidates, latest(detail.mode) as mode, max(@timestamp) as lastRun ${by}`,
          'sort instancesUsingImdsv1 desc',
        ]),
        this.query('Rejected IMDSv1 calls', [
          typeFilter(ImdsFindingType.REJECTED_CALLS),
          `stats sum(detail.counts.rejectedCalls) as rejectedCalls, max(detail.counts.instances) as instances, sum(detail.counts.restored) as restored, max(@timestamp) as last ${by}`,
          'sort rejectedCalls desc',
        ]),
      ],
    ];
    if (this.publishMetrics) {
      rows.push(
        [
          this.searchGraph('Instances allowing IMDSv1 (readiness reports)', [METRICS.InstancesAllowingImdsv1.name]),
          this.searchGraph('IMDSv1 calls: instances using IMDSv1, rejected calls', [METRICS.InstancesUsingImdsv1.name, METRICS.RejectedImdsv1Calls.name]),
        ],
        [
          this.searchGraph('Drift over time (fields found changed)', [METRICS.Drifts.name]),
          this.searchGraph('Upgrades over time (instances switched, failed)', [METRICS.InstancesUpgraded.name, METRICS.UpgradeFailures.name]),
        ],
        [
          this.searchGraph('Enforcement enabled (1) or not (0)', [ENFORCEMENT_METRIC], 'Minimum'),
          this.searchGraph('Security warnings', [METRICS.SecurityWarnings.name]),
        ],
      );
    }
    rows.push(
      [
        this.query('Drift over time', [
          typeFilter(ImdsFindingType.DRIFT_DETECTED),
          'stats sum(detail.counts.drifts) as drifts, sum(detail.counts.reapplied) as reapplied by bin(1d)',
        ], cloudwatch.LogQueryVisualizationType.BAR),
        this.query('Upgrades over time', [
          typeFilter(ImdsFindingType.UPGRADE_RUN),
          'stats sum(detail.counts.Upgraded) as upgraded, sum(detail.counts.Failed) as failed by bin(1d)',
        ], cloudwatch.LogQueryVisualizationType.BAR),
      ],
      [
        this.query('Latest drifts', [
          typeFilter(ImdsFindingType.DRIFT_DETECTED),
          'fields @timestamp, account, detail.region, detail.trigger, detail.mode, detail.counts.drifts, detail.counts.reapplied, detail.changedBy',
          'sort @timestamp desc',
          'limit 100',
        ]),
        this.query('Latest upgrade runs', [
          typeFilter(ImdsFindingType.UPGRADE_RUN),
          'fields @timestamp, account, detail.region, detail.mode, detail.trigger, detail.counts.Upgraded, detail.counts.Failed, detail.counts.InUse, detail.stoppedEarly',
          'sort @timestamp desc',
          'limit 100',
        ]),
      ],
      [
        this.query('Changes of the account defaults', [
          typeFilter(ImdsFindingType.DEFAULTS_CHANGED),
          'fields @timestamp, account, detail.region, detail.requestType, detail.outcome, detail.action, detail.previous.HttpTokensEnforced, detail.found.HttpTokensEnforced',
          'sort @timestamp desc',
          'limit 100',
        ]),
        this.query('Security warnings', [
          typeFilter(ImdsFindingType.SECURITY_WARNING),
          'fields @timestamp, account, detail.region, detail.warning, detail.count, detail.resource.function',
          'sort @timestamp desc',
          'limit 100',
        ]),
      ],
      [
        new cloudwatch.GraphWidget({
          title: 'Deliveries that failed (the hub\'s rules: log group, topic)',
          width: 24,
          height: 4,
          left: rules.map((rule) => new cloudwatch.Metric({
            namespace: 'AWS/Events',
            metricName: 'FailedInvocations',
            dimensionsMap: { RuleName: rule.ruleName },
            statistic: 'Sum',
            period: Duration.hours(1),
            label: rule.node.id,
          })),
        }),
      ],
    );
    return rows;
  }
}

/** Checks an event bus name (`prop` names it in the error). */
function checkEventBusName(fail: (message: string) => never, name: string, prop: string): void {
  if (typeof name !== 'string' || !EVENT_BUS_NAME.test(name)) {
    fail(`${prop} must be 1 to 200 letters, digits, ".", "-" or "_"; got ${JSON.stringify(name)}`);
  }
  if (name === 'default' || name.startsWith('aws.')) {
    fail(`${prop} must not be "default" (the account's own bus) nor start with "aws." (reserved); got ${JSON.stringify(name)}`);
  }
}
