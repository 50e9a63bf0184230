import {
  Annotations,
  Aws,
  CfnResource,
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
import { Construct, IConstruct } from 'constructs';
import { HANDLER_RUNTIME, Placement, handlerRole, onePerAccountAndRegion, onePerStack } from './private/function-parts';
import { inlineHandlerCode } from './private/inline-code';
import { suppressDriftGuardFindings, suppressImdsAccountDefaultsFindings } from './private/nag';
import {
  AttributeKey, CLAIMS_PATH, ImdsResourceProperties, OWNERSHIP_FORMAT, RESOURCE_TYPE,
  DRIFT_GUARD_ENV, DRIFT_LOGICAL_ID_ENV, DRIFT_STACK_ID_ENV, METRICS_NAMESPACE,
  READINESS_CHECK_PROPERTY, ReadinessAttributeKey,
} from './private/properties';
import { failer, toResourceProperties, validateRoleOptions, validateSettings, warnOnContradictions } from './private/validate';
import { ImdsSettings } from './settings';

/**
 * What the drift guard does when EC2's settings differ from the ones this
 * construct manages (see `ImdsAccountDefaultsProps.driftGuard`).
 */
export enum DriftGuard {
  /** Set each field that differs back to this construct's value, read it back, and report it. */
  REAPPLY = 'REAPPLY',
  /** Report each field that differs (log line and metric); change nothing. */
  REPORT_ONLY = 'REPORT_ONLY',
}

/**
 * What the readiness check does when enabling `httpTokensEnforced` would stop
 * launches: launch templates (their `$Default` or `$Latest` version) or Auto
 * Scaling launch configurations that set `HttpTokens` to `optional` (see
 * `ImdsAccountDefaultsProps.readinessCheck`).
 */
export enum ReadinessCheck {
  /** Fail the create or update, changing nothing, and name what would break. */
  BLOCK = 'BLOCK',
  /** Enforce anyway; report what would break in the log and the attributes. */
  REPORT_ONLY = 'REPORT_ONLY',
}

/**
 * Properties for `ImdsAccountDefaults`.
 */
export interface ImdsAccountDefaultsProps extends ImdsSettings {
  /**
   * What happens to the account settings when the resource leaves the stack.
   *
   * - `RemovalPolicy.DESTROY`: on delete, every setting this construct manages
   *   is reset to no preference; the other settings are left alone.
   * - `RemovalPolicy.RETAIN`: the settings stay as they are (the custom
   *   resource carries `DeletionPolicy` and `UpdateReplacePolicy` `Retain`).
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Succeed without changing anything when an AWS Organizations declarative
   * policy manages the instance metadata defaults of the account
   * (`GetInstanceMetadataDefaults` reports `ManagedBy: declarative-policy`).
   *
   * Meant for organization-wide rollouts (StackSets) where some accounts are
   * governed by a policy: the stack instance succeeds there and its `applied`
   * attribute is `false`. Left `false`, create, update and delete fail in such an
   * account with a reason that quotes the policy's exception message.
   *
   * @default false
   */
  readonly skipIfManagedByDeclarativePolicy?: boolean;

  /**
   * What to do when a create or update that enables `httpTokensEnforced` (it is
   * not enabled yet) finds, in the account and Region, launch templates whose
   * `$Default` or `$Latest` version, or Auto Scaling launch configurations, set
   * `HttpTokens` to `optional`: with enforcement, launches from them fail.
   *
   * - `ReadinessCheck.BLOCK`: the create or update fails, changing nothing, and
   *   its reason names the first few; it fails too when they cannot all be
   *   listed (access denied, or more than the check's 8 seconds).
   * - `ReadinessCheck.REPORT_ONLY`: enforcement is applied anyway.
   *
   * Either way the function's log names them, and the counts are the attributes
   * `launchTemplatesAllowingImdsv1`, `launchConfigurationsAllowingImdsv1` and
   * `instancesAllowingImdsv1` (instances that allow IMDSv1 keep running: they
   * never block). Meaningful only with `httpTokensEnforced`.
   *
   * @default ReadinessCheck.BLOCK
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html
   */
  readonly readinessCheck?: ReadinessCheck;

  /**
   * How long the handler's logs are kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The permissions boundary of the handler's IAM role, for organizations whose
   * service control policies refuse `iam:CreateRole` without one.
   *
   * A policy of the account the stack deploys to, or an AWS managed policy. For
   * `ImdsAccountDefaultsStackSet`, whose template deploys to many accounts, give
   * `permissionsBoundaryPolicyName` instead (only an AWS managed policy ARN is
   * accepted here). Not with `permissionsBoundaryPolicyName`.
   *
   * @default - no permissions boundary (unless an aspect such as `PermissionsBoundary.of(scope)` sets one)
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundary?: iam.IManagedPolicy;

  /**
   * The permissions boundary of the handler's IAM role, as the name of a
   * customer managed policy in the account the template deploys to, with its
   * path if it has one (`ImdsBoundary`, `boundaries/ImdsBoundary`). The role gets
   * `arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/<path/><name>`, which
   * resolves in each account: the form for `ImdsAccountDefaultsStackSet`, where
   * every member account holds a policy of that name. Not with `permissionsBoundary`.
   *
   * @default - no permissions boundary (unless an aspect such as `PermissionsBoundary.of(scope)` sets one)
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundaryPolicyName?: string;

  /**
   * The IAM path of the handler's role (`/` or `/<path>/`), for organizations
   * whose policies allow creating roles only under a given path.
   *
   * @default '/'
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names
   */
  readonly rolePath?: string;

  /**
   * Keep the settings true between deployments: the handler also runs on a
   * schedule (`driftCheckInterval`) and on CloudTrail's
   * `ModifyInstanceMetadataDefaults` events (where a trail records management
   * events), compares each field this construct manages with what EC2 reports,
   * and re-applies (`REAPPLY`) or only reports (`REPORT_ONLY`) each difference:
   * one log line per field, and the metrics `DriftDetected` and `DriftReapplied`
   * in the namespace `CdkImdsAccountDefaults`.
   *
   * @default - no drift guard: the settings are applied on create and update only
   */
  readonly driftGuard?: DriftGuard;

  /**
   * How often the drift guard checks the settings: whole minutes, 1 minute or
   * more. Only with `driftGuard`.
   *
   * @default Duration.hours(1)
   */
  readonly driftCheckInterval?: Duration;
}


/** How long the handler may run; it answers CloudFormation a few seconds before this. */
const HANDLER_TIMEOUT = Duration.seconds(30);

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
 * on create and update, reads them back to check they took effect, and resets
 * the settings it manages to no preference on delete.
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
   * The number of launch templates whose `$Default` or `$Latest` version sets
   * `HttpTokens` to `optional`, as the last create or update that enabled
   * `httpTokensEnforced` found them: `"3"`, `"3+"` when the listing did not finish
   * (at least 3), `"not-checked"` when the event did not enable enforcement.
   */
  public readonly launchTemplatesAllowingImdsv1: string;
  /** The same count for Auto Scaling launch configurations (see `launchTemplatesAllowingImdsv1`). */
  public readonly launchConfigurationsAllowingImdsv1: string;
  /**
   * The same count for instances (pending, running, stopping or stopped) that
   * allow IMDSv1; they keep running under enforcement (see `launchTemplatesAllowingImdsv1`).
   */
  public readonly instancesAllowingImdsv1: string;

  /** The custom resource (`Custom::ImdsAccountDefaults`). */
  public readonly resource: CustomResource;
  /** The Lambda function that handles the custom resource. */
  public readonly handler: lambda.IFunction;

  constructor(scope: Construct, id: string, props: ImdsAccountDefaultsProps) {
    super(scope, id);
    Object.defineProperty(this, IS_IMDS_ACCOUNT_DEFAULTS, { value: true });

    validateSettings(this, props);
    validateRoleOptions(this, props);
    validateDriftGuard(this, props);
    validateReadinessCheck(this, props);
    onePerStack(this, PLACEMENT);
    warnOnContradictions(this, props);
    this.node.addValidation({ validate: () => onePerAccountAndRegion(this, PLACEMENT) });

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      // The log group goes with the stack; a failed Delete keeps it (its dependants stay too).
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const role = handlerRole(this, 'Applies the EC2 account-level instance metadata defaults (cdk-imds-account-defaults)', props);

    // A policy of its own, which the custom resource depends on: CloudFormation
    // deletes the custom resource (and so resets the settings) before the permissions.
    const policy = new iam.Policy(this, 'Policy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          // None of these actions supports resource-level permissions. The readiness check's
          // only when the construct manages httpTokensEnforced (a token included).
          actions: [
            'ec2:GetInstanceMetadataDefaults',
            'ec2:ModifyInstanceMetadataDefaults',
            ...(props.httpTokensEnforced !== undefined ? READINESS_ACTIONS : []),
          ],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
        // Claims: one parameter per resource under the library's own path (README, "Ownership").
        new iam.PolicyStatement({
          actions: ['ssm:GetParametersByPath'],
          resources: [claimsArn(this, '')],
        }),
        new iam.PolicyStatement({
          actions: ['ssm:DeleteParameter', 'ssm:PutParameter'],
          resources: [claimsArn(this, '/*')],
        }),
        // Liveness of the other claims: read-only, this account's stacks in this Region.
        new iam.PolicyStatement({
          actions: ['cloudformation:DescribeStackResource'],
          resources: [Stack.of(this).formatArn({ service: 'cloudformation', resource: 'stack', resourceName: '*' })],
        }),
      ],
    });

    const fn = new lambda.Function(this, 'Handler', {
      description: 'cdk-imds-account-defaults: applies the EC2 account-level instance metadata defaults',
      runtime: HANDLER_RUNTIME,
      handler: 'index.handler',
      code: lambda.Code.fromInline(inlineHandlerCode('account-defaults')),
      timeout: HANDLER_TIMEOUT,
      memorySize: 128,
      role,
      logGroup,
      // CloudFormation invokes the function asynchronously: a Lambda retry after a hard
      // timeout would run an event again that may already have been answered.
      retryAttempts: 0,
    });
    this.handler = fn;

    const properties: ImdsResourceProperties = {
      ...toResourceProperties(props),
      ...(props.skipIfManagedByDeclarativePolicy ? { SkipIfManagedByDeclarativePolicy: true } : {}),
      // The default (BLOCK) is not written: the templates of existing users stay as they are.
      ...(props.readinessCheck !== undefined && props.readinessCheck !== ReadinessCheck.BLOCK
        ? { [READINESS_CHECK_PROPERTY]: props.readinessCheck } : {}),
      Ownership: OWNERSHIP_FORMAT,
      // CloudFormation's own property (aws-cdk-lib 2.168, our minimum, has no serviceTimeout prop for it).
      ServiceTimeout: SERVICE_TIMEOUT_SECONDS,
    };
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: RESOURCE_TYPE,
      properties,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.resource.node.addDependency(policy);
    if (props.driftGuard !== undefined) {
      this.addDriftGuard(fn, policy, props.driftGuard, props.driftCheckInterval ?? Duration.hours(1));
    }

    const att = (key: AttributeKey) => this.resource.getAttString(key);
    this.effectiveHttpTokens = att('HttpTokens');
    this.effectiveHttpTokensEnforced = att('HttpTokensEnforced');
    this.effectiveHttpPutResponseHopLimit = Token.asNumber(this.resource.getAtt('HttpPutResponseHopLimit'));
    this.effectiveHttpEndpoint = att('HttpEndpoint');
    this.effectiveInstanceMetadataTags = att('InstanceMetadataTags');
    this.managedBy = att('ManagedBy');
    this.applied = att('Applied');
    const readiness = (key: ReadinessAttributeKey) => this.resource.getAttString(key);
    this.launchTemplatesAllowingImdsv1 = readiness('LaunchTemplatesAllowingImdsv1');
    this.launchConfigurationsAllowingImdsv1 = readiness('LaunchConfigurationsAllowingImdsv1');
    this.instancesAllowingImdsv1 = readiness('InstancesAllowingImdsv1');

    // cdk-nag: the findings this design accepts, each with its reason (cdk_nag metadata, no run-time dependency).
    suppressImdsAccountDefaultsFindings({
      policy, handler: fn, eventInvokeConfig: fn.node.findChild('EventInvokeConfig'), logGroup, readinessCheck: props.httpTokensEnforced !== undefined,
    });
  }

  /**
   * The drift guard: the function learns its mode and its claim (StackId and the
   * custom resource's logical id, a string: no reference, no cycle) from its
   * environment; two rules invoke it (each through a permission scoped to the
   * rule's ARN), created after the custom resource and deleted before it.
   */
  private addDriftGuard(fn: lambda.Function, policy: iam.Policy, mode: DriftGuard, interval: Duration): void {
    fn.addEnvironment(DRIFT_GUARD_ENV, mode);
    fn.addEnvironment(DRIFT_STACK_ID_ENV, Aws.STACK_ID);
    fn.addEnvironment(DRIFT_LOGICAL_ID_ENV, (this.resource.node.defaultChild as CfnResource).logicalId);
    policy.addStatements(new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
    }));
    const target = new targets.LambdaFunction(fn);
    const rules = [
      new events.Rule(this, 'DriftSchedule', { schedule: events.Schedule.rate(interval), targets: [target] }),
      // CloudTrail's record of the call, where a trail records management events.
      new events.Rule(this, 'DriftTrail', {
        eventPattern: {
          source: ['aws.ec2'],
          detailType: ['AWS API Call via CloudTrail'],
          detail: { eventSource: ['ec2.amazonaws.com'], eventName: ['ModifyInstanceMetadataDefaults'] },
        },
        targets: [target],
      }),
    ];
    for (const rule of rules) {
      rule.node.addDependency(this.resource);
    }
    suppressDriftGuardFindings(rules);
  }
}

/** The setting is account- and Region-wide: two resources for one account and Region would fight over it. */
const PLACEMENT: Placement = {
  isKind: (c) => ImdsAccountDefaults.isImdsAccountDefaults(c),
  sameStack: (other, stackName) => `a stack can hold only one ImdsAccountDefaults, because the settings are account- and Region-wide; ${other} already manages them in stack ${stackName}`,
  sameAccountAndRegion: (other, stackName, env) => `ImdsAccountDefaults ${other} (stack ${stackName}) also targets account and Region ${env}; the settings are account- and Region-wide, so only one ImdsAccountDefaults may target them`,
};

/** Checks driftGuard and driftCheckInterval (whole minutes, 1 or more; only with driftGuard). */
function validateDriftGuard(scope: IConstruct, props: ImdsAccountDefaultsProps): void {
  const fail = failer(scope);
  const { driftGuard, driftCheckInterval: interval } = props;
  if (driftGuard !== undefined && !Object.values(DriftGuard).includes(driftGuard)) {
    fail(`driftGuard must be DriftGuard.REAPPLY or DriftGuard.REPORT_ONLY; got ${JSON.stringify(driftGuard)}`);
  }
  if (interval !== undefined && driftGuard === undefined) {
    fail(`driftCheckInterval applies only with driftGuard; got driftCheckInterval ${interval.toHumanString()} without driftGuard`);
  }
  if (interval !== undefined && !interval.isUnresolved() && (interval.toMilliseconds() < 60_000 || interval.toMilliseconds() % 60_000 !== 0)) {
    fail(`driftCheckInterval must be a whole number of minutes, 1 minute or more; got ${interval.toHumanString()}`);
  }
}

/** What the readiness check lists (no resource-level permissions: Service Authorization Reference, List actions). */
const READINESS_ACTIONS = ['ec2:DescribeLaunchTemplateVersions', 'ec2:DescribeInstances', 'autoscaling:DescribeLaunchConfigurations'];

/** Checks readinessCheck (a token is left to the handler) and warns when there is no enforcement for it to check. */
function validateReadinessCheck(scope: IConstruct, props: ImdsAccountDefaultsProps): void {
  const value = props.readinessCheck;
  if (value === undefined || Token.isUnresolved(value)) {
    return;
  }
  if (!Object.values(ReadinessCheck).includes(value)) {
    failer(scope)(`readinessCheck must be ReadinessCheck.BLOCK or ReadinessCheck.REPORT_ONLY; got ${JSON.stringify(value)}`);
  }
  if (props.httpTokensEnforced === undefined) {
    Annotations.of(scope).addWarningV2('cdk-imds-account-defaults:readinessCheckWithoutEnforcement',
      'readinessCheck has no effect without httpTokensEnforced: the check runs only when a create or update enables enforcement.');
  }
}

/** The ARN of the claims path (suffix '') or of the claims under it (suffix '/*'). */
function claimsArn(scope: IConstruct, suffix: string): string {
  return Stack.of(scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${CLAIMS_PATH.slice(1)}${suffix}` });
}
