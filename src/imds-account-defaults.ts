import {
  Annotations,
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
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { ASYNC_INVOKE, HANDLER_RUNTIME, Placement, handlerRole, metricsStatement, onePerAccountAndRegion, onePerStack } from './private/function-parts';
import { inlineFunctionCode } from './private/inline-code';
import { suppressDriftGuardFindings, suppressImdsAccountDefaultsFindings } from './private/nag';
import {
  AttributeKey, CLAIMS_PATH, ImdsResourceProperties, OWNERSHIP_FORMAT, RESOURCE_TYPE,
  DRIFT_GUARD_ENV, DRIFT_LOGICAL_ID_ENV, DRIFT_ROLE_NAME_ENV, DRIFT_SETTING_ENV_PREFIX, DRIFT_STACK_ID_ENV,
  ON_DELETE_PROPERTY, READINESS_CHECK_PROPERTY, RETAINED_PROPERTY, ReadinessAttributeKey,
  claimParameterName,
} from './private/properties';
import { SETTING_PROPS, failer, toResourceProperties, validateRoleOptions, validateSettings, warnOnContradictions } from './private/validate';
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
 * What a deliberate delete of `ImdsAccountDefaults` does with the fields it
 * manages (see `ImdsAccountDefaultsProps.settingsOnDelete`). A delete that is
 * part of a rollback always restores, whatever this says.
 */
export enum SettingsOnDelete {
  // The values are the handler's (ON_DELETE_VALUES in src/private/properties.ts): never renamed.
  /** Reset each managed field to no preference (`no-preference`, or -1 for the hop limit). */
  RESET = 'RESET',
  /**
   * Put back each managed field's value from before this resource's create, where
   * EC2 still holds the value this resource set (a field changed since is left alone).
   */
  RESTORE = 'RESTORE',
}

/**
 * Properties for `ImdsAccountDefaults`.
 */
export interface ImdsAccountDefaultsProps extends ImdsSettings {
  /**
   * What happens to the account settings when the resource leaves the stack.
   *
   * - `RemovalPolicy.DESTROY`: on delete, every setting this construct manages
   *   is reset to no preference, or restored (see `settingsOnDelete`); the other
   *   settings are left alone.
   * - `RemovalPolicy.RETAIN`: the settings stay as they are (the custom
   *   resource carries `DeletionPolicy` and `UpdateReplacePolicy` `Retain`, and
   *   the property `Retained: true`, which its claim records: another resource's
   *   delete does not reset a field that still holds this resource's value).
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * What a deliberate delete (the construct removed from the app, or the stack
   * deleted) does with the fields this construct manages.
   *
   * - `SettingsOnDelete.RESET`: reset it to no preference.
   * - `SettingsOnDelete.RESTORE`: put back the value it had before this
   *   resource's create (no preference if it had none, or if a later update
   *   added the field), but only where EC2 still holds the value this resource
   *   set; a field changed since is left alone.
   *
   * Either way, a field that another live `ImdsAccountDefaults` manages is left
   * alone. A delete that is part of a rollback (the create or update that added
   * this resource failed) always restores the values from before. Not with
   * `removalPolicy: RemovalPolicy.RETAIN`, whose resource CloudFormation never
   * deletes deliberately.
   *
   * @default SettingsOnDelete.RESET
   */
  readonly settingsOnDelete?: SettingsOnDelete;

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
   * events of successful calls, where a trail records management events),
   * compares each field this construct manages with the value the template gives
   * it (never a value read from Parameter Store), and re-applies (`REAPPLY`) or
   * only reports (`REPORT_ONLY`) each difference: one log line per field, and the
   * metrics `DriftDetected` and `DriftReapplied` in the namespace
   * `CdkImdsAccountDefaults` when a difference is found (`DriftChecksSkipped`
   * when a run could not compare).
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
    validateSettingsOnDelete(this, props);
    onePerStack(this, PLACEMENT);
    warnOnContradictions(this, props);
    this.node.addValidation({ validate: () => onePerAccountAndRegion(this, PLACEMENT) });

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      // The log group goes with the stack; a failed Delete keeps it (its dependants stay too).
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const role = handlerRole(this, 'Applies the EC2 account-level instance metadata defaults (cdk-imds-account-defaults)', props);

    // The custom resource's logical id, known once the tree is complete (a Lazy: the
    // policy and the environment name it before the resource is created).
    const resourceLogicalId = Lazy.string({ produce: () => (this.resource.node.defaultChild as CfnResource).logicalId });

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
      environment: { [DRIFT_ROLE_NAME_ENV]: role.roleName },
    });
    this.handler = fn;

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const properties: ImdsResourceProperties = {
      ...toResourceProperties(props),
      ...(props.skipIfManagedByDeclarativePolicy ? { SkipIfManagedByDeclarativePolicy: true } : {}),
      // The default (BLOCK) is not written: the templates of existing users stay as they are.
      ...(props.readinessCheck !== undefined && props.readinessCheck !== ReadinessCheck.BLOCK
        ? { [READINESS_CHECK_PROPERTY]: props.readinessCheck } : {}),
      // Likewise RESET, the default (a token is passed through for the handler to check).
      ...(props.settingsOnDelete !== undefined && props.settingsOnDelete !== SettingsOnDelete.RESET
        ? { [ON_DELETE_PROPERTY]: props.settingsOnDelete } : {}),
      // The claim of a retained resource says so: it keeps protecting its fields once its stack lets it go.
      ...(isRetained(removalPolicy) ? { [RETAINED_PROPERTY]: true } : {}),
      Ownership: OWNERSHIP_FORMAT,
      // CloudFormation's own property (aws-cdk-lib 2.168, our minimum, has no serviceTimeout prop for it).
      ServiceTimeout: SERVICE_TIMEOUT_SECONDS,
    };
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: RESOURCE_TYPE,
      properties,
      removalPolicy,
    });
    this.resource.node.addDependency(policy);
    if (props.driftGuard !== undefined) {
      this.addDriftGuard(fn, props, resourceLogicalId);
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
   * The drift guard: the function learns from its environment its mode, its claim
   * (StackId and the custom resource's logical id, a string: no reference, no cycle),
   * the values to hold EC2 to (the template's, the same values or parameters as the
   * custom resource's properties: never read from Parameter Store); its role's name (to
   * recognise its own changes by their full assumed-role ARN) is set always; two rules invoke it
   * (each through a permission scoped to the rule's ARN), created after the custom
   * resource and deleted before it.
   */
  private addDriftGuard(fn: lambda.Function, props: ImdsAccountDefaultsProps, resourceLogicalId: string): void {
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
      new events.Rule(this, 'DriftSchedule', { schedule: events.Schedule.rate(props.driftCheckInterval ?? Duration.hours(1)), targets: [target] }),
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

/** The ARN of a parameter, given its name (`/cdk-imds-account-defaults/claims/...`), in this account and Region. */
function claimsArn(scope: IConstruct, parameterName: string): string {
  return Stack.of(scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: parameterName.slice(1) });
}

/** Whether CloudFormation keeps the resource when it leaves the stack (DeletionPolicy Retain or RetainExceptOnCreate). */
function isRetained(policy: RemovalPolicy): boolean {
  return policy === RemovalPolicy.RETAIN || policy === RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
}

/** Checks settingsOnDelete (a token is left to the handler); not with a removal policy that retains. */
function validateSettingsOnDelete(scope: IConstruct, props: ImdsAccountDefaultsProps): void {
  const value = props.settingsOnDelete;
  if (value === undefined) {
    return;
  }
  const fail = failer(scope);
  if (!Token.isUnresolved(value) && !Object.values(SettingsOnDelete).includes(value)) {
    fail(`settingsOnDelete must be SettingsOnDelete.RESET or SettingsOnDelete.RESTORE; got ${JSON.stringify(value)}`);
  }
  if (props.removalPolicy !== undefined && isRetained(props.removalPolicy)) {
    fail(`settingsOnDelete applies only when CloudFormation may delete the resource; got settingsOnDelete ${Token.isUnresolved(value) ? String(value) : `SettingsOnDelete.${value}`} with removalPolicy ${removalPolicyName(props.removalPolicy)}: a retained resource is never deleted deliberately, and a delete that is part of a rollback always restores. Leave settingsOnDelete out, or use RemovalPolicy.DESTROY`);
  }
}

/** `RemovalPolicy.RETAIN`, as users write it. */
function removalPolicyName(policy: RemovalPolicy): string {
  const name = Object.entries(RemovalPolicy).find(([, v]) => v === policy)?.[0];
  return name !== undefined ? `RemovalPolicy.${name}` : JSON.stringify(policy);
}
