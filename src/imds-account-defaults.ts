import {
  Aws,
  CfnResource,
  CustomResource,
  Duration,
  Fn,
  Lazy,
  RemovalPolicy,
  Stack,
  Token,
  Tokenization,
  aws_cloudwatch as cloudwatch,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { DriftGuardMode, ImdsAccountDefaultsOptions, ReadinessCheckMode, SettingsOnDelete } from './account-defaults-options';
import { ImdsEnforcementReadiness } from './imds-enforcement-readiness';
import { ImdsPermissionsBoundary } from './permissions-boundary';
import { validateAccountDefaultsOptions, validateSettingsOnDeleteWithRemovalPolicy } from './private/account-defaults-validate';
import {
  ASYNC_INVOKE, HANDLER_RUNTIME, Placement, findingsEnvironment, findingsStatement, handlerLogGroup, handlerRole, metricsStatement,
  onePerAccountAndRegion, onePerStack, setServiceTimeout,
} from './private/function-parts';
import { inlineFunctionCode } from './private/inline-code';
import { ACCOUNT_DEFAULTS_METRICS, DEFAULT_DRIFT_CHECK_INTERVAL, buildMetric, definitionOf } from './private/metric-definitions';
import { suppressDriftGuardFindings, suppressImdsAccountDefaultsFindings } from './private/nag';
import {
  AttributeKey, CLAIMS_PATH, ImdsResourceProperties, OWNERSHIP_FORMAT, RESOURCE_TYPE,
  DRIFT_GUARD_ENV, DRIFT_LOGICAL_ID_ENV, DRIFT_ROLE_NAME_ENV, DRIFT_SETTING_ENV_PREFIX, DRIFT_STACK_ID_ENV,
  ON_DELETE_PROPERTY, READINESS_CHECK_PROPERTY, READINESS_RESULT_ATTRIBUTE, RETAINED_PROPERTY, ReadinessCountAttributeKey,
  CLAIM_PROBLEM_METRIC, DRIFT_CHECK_SKIPPED_METRIC, DRIFT_DETECTED_METRIC, DRIFT_REAPPLIED_METRIC, FINDINGS_NOT_PUT_METRIC, UNCONFIRMED_EVENT_METRIC,
  claimParameterName,
} from './private/properties';
import {
  SETTING_PROPS, isRetained, toResourceProperties, validateCentralEventBusArn, validateRemovalPolicy, validateRoleOptions,
  validateSettings, warnOnContradictions,
} from './private/validate';

/**
 * Properties for `ImdsAccountDefaults`: the options, which mean the same thing in
 * every account, and what depends on this stack.
 */
export interface ImdsAccountDefaultsProps extends ImdsAccountDefaultsOptions {
  /**
   * What happens to the account settings when the resource leaves the stack.
   *
   * - `RemovalPolicy.DESTROY`: on delete, every setting this construct manages
   *   is reset to no preference, or restored (see `settingsOnDelete`); the other
   *   settings are left alone.
   * - `RemovalPolicy.RETAIN` (or `RETAIN_ON_UPDATE_OR_DELETE`): the settings stay
   *   as they are (the custom resource carries that `DeletionPolicy`, and the
   *   property `Retained: true`, which its claim records: another resource's
   *   delete does not reset a field that still holds this resource's value).
   *
   * `RemovalPolicy.SNAPSHOT` is refused: a custom resource has no snapshot.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * The permissions boundary of the handler's IAM role, for organizations whose
   * service control policies refuse `iam:CreateRole` without one:
   * `ImdsPermissionsBoundary.fromManagedPolicy(policy)` or
   * `ImdsPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary')`.
   *
   * @default - no permissions boundary (unless an aspect such as `PermissionsBoundary.of(scope)` sets one)
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundary?: ImdsPermissionsBoundary;

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
   * Add the `ImdsEnforcementReadiness` aspect to the app (or stage) of this
   * construct's stack, unless one is there already: at synth, it reports the
   * instances, launch templates and launch configurations of the app that
   * enforcement would break, as errors when `httpTokensEnforced` is `ENABLED`
   * and as warnings otherwise.
   *
   * @default false
   */
  readonly checkEnforcementReadiness?: boolean;
}

/** How long the handler may run; it answers CloudFormation a few seconds before this. */
const HANDLER_TIMEOUT = Duration.seconds(30);

/** What the function does, in its Description (after the library's name and version). */
const HANDLER_PURPOSE = 'applies the EC2 account-level instance metadata defaults';

/**
 * How long CloudFormation waits for an answer (the custom resource's
 * ServiceTimeout, in seconds): a handler that never answers fails the stack
 * within minutes instead of CloudFormation's default hour. Four times the
 * function's timeout leaves room for a queued asynchronous invocation.
 */
const SERVICE_TIMEOUT_SECONDS = 120;

const IS_IMDS_ACCOUNT_DEFAULTS = Symbol.for('cdk-imds-account-defaults.ImdsAccountDefaults');

/**
 * Sets the EC2 account-level instance metadata (IMDS) defaults of the account
 * and Region the stack is deployed to, for example to require IMDSv2 on every
 * new instance.
 *
 * It deploys one Lambda function whose code is inline in the template, so the
 * template is self-contained (no file assets, no bootstrap bucket) and can be
 * rolled out with CloudFormation StackSets. The function applies the settings
 * on create and update, reads them back to check they took effect, and on
 * delete resets the settings it manages to no preference (or restores their
 * earlier values: `settingsOnDelete`; a rollback always restores them). It acts
 * only on events that CloudFormation confirms, and only in its stack's Region.
 *
 * The setting is account- and Region-wide: at most one per stack, and at most
 * one per concrete account and Region in an app.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataDefaults.html
 */
export class ImdsAccountDefaults extends Construct {
  /**
   * Whether the given object is an `ImdsAccountDefaults`.
   */
  public static isImdsAccountDefaults(x: any): x is ImdsAccountDefaults {
    return x !== null && typeof x === 'object' && IS_IMDS_ACCOUNT_DEFAULTS in x;
  }

  /** The effective account-level `HttpTokens` after deployment (`no-preference` when unset). */
  public readonly effectiveHttpTokens: string;
  /** The effective account-level `HttpTokensEnforced` after deployment (`no-preference` when unset). */
  public readonly effectiveHttpTokensEnforced: string;
  /** The effective account-level `HttpPutResponseHopLimit` after deployment (-1 when unset). */
  public readonly effectiveHttpPutResponseHopLimit: number;
  /** The effective account-level `HttpEndpoint` after deployment (`no-preference` when unset). */
  public readonly effectiveHttpEndpoint: string;
  /** The effective account-level `InstanceMetadataTags` after deployment (`no-preference` when unset). */
  public readonly effectiveInstanceMetadataTags: string;
  /** Who manages the settings: `account`, or `declarative-policy` when an AWS Organizations policy does. */
  public readonly managedBy: string;
  /**
   * `"true"` when the last create or update applied the settings; `"false"` when it
   * skipped them because a declarative policy manages them (see `skipIfManagedByDeclarativePolicy`).
   */
  public readonly applied: string;
  /**
   * What the readiness check found on the last create or update (a
   * `ReadinessCheckResult` value): `NOT_CHECKED` when it did not enable
   * `httpTokensEnforced`, `COMPLETE` when every count is exact, `INCOMPLETE` when
   * the listing did not finish (the counts are a lower bound).
   */
  public readonly readinessCheckResult: string;
  /**
   * The number of launch templates whose `$Default` or `$Latest` version sets
   * `HttpTokens` to `optional`, as the last create or update that enabled
   * `httpTokensEnforced` found them (0 when `readinessCheckResult` is `NOT_CHECKED`;
   * at least this many when it is `INCOMPLETE`).
   */
  public readonly launchTemplatesAllowingImdsv1Count: number;
  /** The same count for Auto Scaling launch configurations (see `launchTemplatesAllowingImdsv1Count`). */
  public readonly launchConfigurationsAllowingImdsv1Count: number;
  /**
   * The same count for instances (pending, running, stopping or stopped) that
   * allow IMDSv1; they keep running under enforcement (see `launchTemplatesAllowingImdsv1Count`).
   */
  public readonly instancesAllowingImdsv1Count: number;

  /** The custom resource (`Custom::ImdsAccountDefaults`). */
  public readonly customResource: CustomResource;
  /** The Lambda function that handles the custom resource (and runs the drift guard). */
  public readonly handler: lambda.IFunction;
  /** The function's IAM role. */
  public readonly role: iam.IRole;
  /** The function's log group: one line per event, and the drift guard's findings (for subscription filters). */
  public readonly logGroup: logs.ILogGroup;
  /** The drift guard's schedule (`driftCheckInterval`); undefined without `driftGuard`. */
  public readonly driftScheduleRule?: events.IRule;
  /** The drift guard's rule on CloudTrail's `ModifyInstanceMetadataDefaults` events; undefined without `driftGuard`. */
  public readonly driftTrailRule?: events.IRule;

  private readonly driftGuard?: DriftGuardMode;
  private readonly driftCheckInterval: Duration;

  constructor(scope: Construct, id: string, props: ImdsAccountDefaultsProps) {
    super(scope, id);
    Object.defineProperty(this, IS_IMDS_ACCOUNT_DEFAULTS, { value: true });

    validateSettings(this, props);
    validateRoleOptions(this, props);
    validateCentralEventBusArn(this, props.centralEventBusArn);
    validateRemovalPolicy(this, 'removalPolicy', props.removalPolicy);
    validateAccountDefaultsOptions(this, props);
    validateSettingsOnDeleteWithRemovalPolicy(this, props.settingsOnDelete, props.removalPolicy);
    onePerStack(this, PLACEMENT);
    warnOnContradictions(this, props);
    this.node.addValidation({ validate: () => onePerAccountAndRegion(this, PLACEMENT) });
    if (props.checkEnforcementReadiness === true) {
      ImdsEnforcementReadiness._addToStageOf(this, props.httpTokensEnforced);
    }

    const logGroup = handlerLogGroup(this, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.logGroupEncryptionKey,
    });

    const role = handlerRole(this, 'Applies the EC2 account-level instance metadata defaults (cdk-imds-account-defaults)', props);

    // The custom resource's logical id, known once the tree is complete (a Lazy: the
    // policy and the environment name it before the resource is created).
    const resourceLogicalId = Lazy.string({ produce: () => (this.customResource.node.defaultChild as CfnResource).logicalId });

    // A policy of its own, which the custom resource depends on: CloudFormation
    // deletes the custom resource (and so resets the settings) before the permissions.
    const policy = new iam.Policy(this, 'Policy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          // None of these actions supports resource-level permissions. The readiness check's
          // only when the construct manages httpTokensEnforced (a token included). Only in the
          // stack's own Region: the settings are per Region, and this function manages one.
          actions: [
            'ec2:GetInstanceMetadataDefaults',
            'ec2:ModifyInstanceMetadataDefaults',
            ...(props.httpTokensEnforced !== undefined ? READINESS_ACTIONS : []),
          ],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:RequestedRegion': Aws.REGION } },
        }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
        // Claims: one parameter per resource under the library's own path (README, "Ownership").
        // Every claim is read; only this resource's own claim is written, deleted, and its history read
        // (the values before an Update took fields over count only if this function wrote them): its
        // name is <path>/<stack uuid>-<logical id> (claimParameterName), both known to the template.
        new iam.PolicyStatement({
          actions: ['ssm:GetParametersByPath'],
          resources: [claimsArn(this, CLAIMS_PATH)],
        }),
        new iam.PolicyStatement({
          actions: ['ssm:DeleteParameter', 'ssm:GetParameterHistory', 'ssm:PutParameter'],
          resources: [claimsArn(this, claimParameterName(Fn.select(2, Fn.split('/', Aws.STACK_ID)), resourceLogicalId))],
        }),
        // Read-only: the resources of this account's stacks in this Region (the liveness of the
        // claims, and the confirmation of each event with CloudFormation) ...
        new iam.PolicyStatement({
          actions: ['cloudformation:DescribeStackResource'],
          resources: [Stack.of(this).formatArn({ service: 'cloudformation', resource: 'stack', resourceName: '*' })],
        }),
        // ... and the status of its own stack (whether a Delete is part of a rollback).
        new iam.PolicyStatement({
          actions: ['cloudformation:DescribeStacks'],
          resources: [Aws.STACK_ID],
        }),
        // Security warnings (unconfirmed events, claim problems) and the drift guard's metrics.
        metricsStatement(),
        // Its findings, as events.
        findingsStatement(this, props.centralEventBusArn),
      ],
    });

    const { code, description } = inlineFunctionCode(this, 'account-defaults', HANDLER_PURPOSE);
    const fn = new lambda.Function(this, 'Handler', {
      description,
      runtime: HANDLER_RUNTIME,
      handler: 'index.handler',
      code,
      timeout: HANDLER_TIMEOUT,
      memorySize: 128,
      role,
      logGroup,
      ...ASYNC_INVOKE,
      environment: { [DRIFT_ROLE_NAME_ENV]: role.roleName, ...findingsEnvironment(props.centralEventBusArn) },
    });
    this.handler = fn;
    this.role = role;
    this.logGroup = logGroup;

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const properties: ImdsResourceProperties = {
      ...toResourceProperties(props),
      ...(props.skipIfManagedByDeclarativePolicy ? { SkipIfManagedByDeclarativePolicy: true } : {}),
      // The default (BLOCK) is not written: the templates of existing users stay as they are.
      ...(props.readinessCheck !== undefined && props.readinessCheck !== ReadinessCheckMode.BLOCK
        ? { [READINESS_CHECK_PROPERTY]: props.readinessCheck } : {}),
      // Likewise RESET, the default (a token is passed through for the handler to check).
      ...(props.settingsOnDelete !== undefined && props.settingsOnDelete !== SettingsOnDelete.RESET
        ? { [ON_DELETE_PROPERTY]: props.settingsOnDelete } : {}),
      // The claim of a retained resource says so: it keeps protecting its fields once its stack lets it go.
      ...(isRetained(removalPolicy) ? { [RETAINED_PROPERTY]: true } : {}),
      Ownership: OWNERSHIP_FORMAT,
    };
    this.customResource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: RESOURCE_TYPE,
      properties,
      removalPolicy,
    });
    // CloudFormation's own property, set so that every aws-cdk-lib we support writes it without a warning.
    setServiceTimeout(this.customResource, SERVICE_TIMEOUT_SECONDS);
    this.customResource.node.addDependency(policy);
    this.driftGuard = props.driftGuard;
    this.driftCheckInterval = props.driftCheckInterval ?? DEFAULT_DRIFT_CHECK_INTERVAL;
    if (props.driftGuard !== undefined) {
      [this.driftScheduleRule, this.driftTrailRule] = this.addDriftGuard(fn, props, resourceLogicalId);
    }

    const att = (key: AttributeKey) => this.customResource.getAttString(key);
    this.effectiveHttpTokens = att('HttpTokens');
    this.effectiveHttpTokensEnforced = att('HttpTokensEnforced');
    this.effectiveHttpPutResponseHopLimit = Token.asNumber(this.customResource.getAtt('HttpPutResponseHopLimit'));
    this.effectiveHttpEndpoint = att('HttpEndpoint');
    this.effectiveInstanceMetadataTags = att('InstanceMetadataTags');
    this.managedBy = att('ManagedBy');
    this.applied = att('Applied');
    this.readinessCheckResult = this.customResource.getAttString(READINESS_RESULT_ATTRIBUTE);
    const count = (key: ReadinessCountAttributeKey) => Token.asNumber(this.customResource.getAtt(key));
    this.launchTemplatesAllowingImdsv1Count = count('LaunchTemplatesAllowingImdsv1Count');
    this.launchConfigurationsAllowingImdsv1Count = count('LaunchConfigurationsAllowingImdsv1Count');
    this.instancesAllowingImdsv1Count = count('InstancesAllowingImdsv1Count');

    // cdk-nag: the findings this design accepts, each with its reason (cdk_nag metadata, no run-time dependency).
    suppressImdsAccountDefaultsFindings({
      policy, handler: fn, eventInvokeConfig: fn.node.findChild('EventInvokeConfig'), logGroup, readinessCheck: props.httpTokensEnforced !== undefined,
    });
  }

  /**
   * One of the metrics this construct's function publishes, by name (one of
   * `ImdsMetrics.DRIFT_DETECTED`, `DRIFT_REAPPLIED`, `DRIFT_CHECKS_SKIPPED`,
   * `UNCONFIRMED_EVENTS`, `CLAIM_PROBLEMS`), in the namespace
   * `CdkImdsAccountDefaults` without dimensions, with its statistic (`Sum`) and,
   * for the drift guard's, a period of `driftCheckInterval`. Throws for a metric
   * of a feature that is off.
   *
   * @param metricName the metric's name
   * @param props options that override the defaults (period, statistic, label, ...)
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const definition = definitionOf(metricName, `[${this.node.path}] metric`, ACCOUNT_DEFAULTS_METRICS);
    if (definition.source === 'drift-guard') {
      if (this.driftGuard === undefined) {
        throw new Error(`[${this.node.path}] ${definition.name} is published only by the drift guard, which is off: set driftGuard (DriftGuardMode.REAPPLY or DriftGuardMode.REPORT_ONLY) to publish it`);
      }
      if (definition.name === DRIFT_REAPPLIED_METRIC && this.driftGuard !== DriftGuardMode.REAPPLY) {
        throw new Error(`[${this.node.path}] ${definition.name} is published only by a drift guard in DriftGuardMode.REAPPLY; this one is ${this.driftGuard}, which changes nothing: alarm on DriftDetected`);
      }
      if (this.driftCheckInterval.isUnresolved() && props?.period === undefined) {
        throw new Error(`[${this.node.path}] ${definition.name}: driftCheckInterval is a token (${this.driftCheckInterval.toString()}), and a metric's period must be known at synth; give the period: metric${definition.name}({ period })`);
      }
      return buildMetric(definition, this.driftCheckInterval, props);
    }
    return buildMetric(definition, undefined, props);
  }

  /**
   * The number of fields the drift guard found different from this construct's
   * values (`DriftDetected`, `Sum` per `driftCheckInterval`). Only with `driftGuard`.
   *
   * @param props options that override the defaults
   */
  public metricDriftDetected(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRIFT_DETECTED_METRIC, props);
  }

  /**
   * The number of fields the drift guard set back and read back
   * (`DriftReapplied`, `Sum` per `driftCheckInterval`). Only with
   * `driftGuard: DriftGuardMode.REAPPLY`.
   *
   * @param props options that override the defaults
   */
  public metricDriftReapplied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRIFT_REAPPLIED_METRIC, props);
  }

  /**
   * The drift guard's runs that could not compare, whatever the reason
   * (`DriftChecksSkipped`, `Sum` per `driftCheckInterval`; its log line says
   * why). In an account a declarative policy governs, every run counts here.
   * Only with `driftGuard`.
   *
   * @param props options that override the defaults
   */
  public metricDriftChecksSkipped(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRIFT_CHECK_SKIPPED_METRIC, props);
  }

  /**
   * Custom resource events that CloudFormation did not confirm: someone invoked
   * a function of the library with a made-up or replayed event; nothing was
   * changed (`UnconfirmedEvents`, `Sum` per 5 minutes). Shared by every function
   * of the library in the account and Region.
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

  /**
   * Claims in Parameter Store that are malformed, foreign or missing where one
   * should be, and so were not trusted (`ClaimProblems`, `Sum` per 5 minutes).
   *
   * @param props options that override the defaults
   */
  public metricClaimProblems(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(CLAIM_PROBLEM_METRIC, props);
  }

  /**
   * The drift guard: the function learns from its environment its mode, its claim
   * (StackId and the custom resource's logical id, a string: no reference, no cycle),
   * the values to hold EC2 to (the template's, the same values or parameters as the
   * custom resource's properties: never read from Parameter Store); its role's name (to
   * recognise its own changes by their full assumed-role ARN) is set always; two rules invoke it
   * (each through a permission scoped to the rule's ARN), created after the custom
   * resource and deleted before it.
   */
  private addDriftGuard(fn: lambda.Function, props: ImdsAccountDefaultsProps, resourceLogicalId: string): [events.IRule, events.IRule] {
    fn.addEnvironment(DRIFT_GUARD_ENV, props.driftGuard!);
    fn.addEnvironment(DRIFT_STACK_ID_ENV, Aws.STACK_ID);
    fn.addEnvironment(DRIFT_LOGICAL_ID_ENV, resourceLogicalId);
    for (const { prop, key } of SETTING_PROPS) {
      const value = props[prop];
      if (value !== undefined) {
        fn.addEnvironment(`${DRIFT_SETTING_ENV_PREFIX}${key}`, typeof value === 'number' ? Tokenization.stringifyNumber(value) : value);
      }
    }
    const target = new targets.LambdaFunction(fn);
    const rules = [
      new events.Rule(this, 'DriftSchedule', { schedule: events.Schedule.rate(this.driftCheckInterval), targets: [target] }),
      // CloudTrail's record of a successful call (a failed one changed nothing), where a
      // trail records management events.
      new events.Rule(this, 'DriftTrail', {
        eventPattern: {
          source: ['aws.ec2'],
          detailType: ['AWS API Call via CloudTrail'],
          detail: {
            eventSource: ['ec2.amazonaws.com'],
            eventName: ['ModifyInstanceMetadataDefaults'],
            errorCode: [{ exists: false }],
          },
        },
        targets: [target],
      }),
    ];
    for (const rule of rules) {
      rule.node.addDependency(this.customResource);
    }
    suppressDriftGuardFindings(rules);
    return [rules[0], rules[1]];
  }
}

/** The setting is account- and Region-wide: two resources for one account and Region would fight over it. */
const PLACEMENT: Placement = {
  isKind: (c) => ImdsAccountDefaults.isImdsAccountDefaults(c),
  sameStack: (other, stackName) => `a stack can hold only one ImdsAccountDefaults, because the settings are account- and Region-wide; ${other} already manages them in stack ${stackName}`,
  sameAccountAndRegion: (other, stackName, env) => `ImdsAccountDefaults ${other} (stack ${stackName}) also targets account and Region ${env}; the settings are account- and Region-wide, so only one ImdsAccountDefaults may target them`,
};

/** What the readiness check lists (no resource-level permissions: Service Authorization Reference, List actions). */
const READINESS_ACTIONS = ['ec2:DescribeLaunchTemplateVersions', 'ec2:DescribeInstances', 'autoscaling:DescribeLaunchConfigurations'];

/** The ARN of a parameter, given its name (`/cdk-imds-account-defaults/claims/...`), in this account and Region. */
function claimsArn(scope: IConstruct, parameterName: string): string {
  return Stack.of(scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: parameterName.slice(1) });
}
