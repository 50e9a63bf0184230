import { Lazy, Names, RemovalPolicy, Token, aws_cloudformation as cloudformation, aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DriftGuardMode, ImdsAccountDefaultsOptions } from './account-defaults-options';
import { ImdsAccountDefaults, ImdsAccountDefaultsProps } from './imds-account-defaults';
import { ImdsInstanceUpgrade } from './imds-instance-upgrade';
import { ImdsInstanceUpgradeOptions } from './instance-upgrade-options';
import { ImdsStackSetPermissionsBoundary } from './permissions-boundary';
import { validateAccountDefaultsOptions } from './private/account-defaults-validate';
import { EMBEDDED_STACK_ID, EmbeddedTemplate, EmbeddedTemplateOptions, TEMPLATE_BODY_MAX_BYTES, synthesizeEmbeddedTemplate } from './private/embedded-template';
import { DEFAULT_INTERVAL, instanceUpgradeConfig } from './private/instance-upgrade-config';
import { instanceUpgradeProps } from './private/instance-upgrade-props';
import { ACCOUNT_DEFAULTS_METRICS, DEFAULT_DRIFT_CHECK_INTERVAL, INSTANCE_UPGRADE_METRICS, MetricDefinition, buildMetric, definitionOf } from './private/metric-definitions';
import { DRIFT_REAPPLIED_METRIC } from './private/properties';
import {
  StackSetTargetConfig,
  validateAutoDeployment,
  validateKnownAtSynth,
  validateMemberEnv,
  validateMemberRemoval,
  validateOperationPreferences,
  validateSettingOverrides,
  validateStackSetBoundary,
  validateStackSetName,
} from './private/stack-set-validate';
import { SETTING_PROPS, failer, validateRemovalPolicy, validateRoleOptions, validateSettings, warnOnContradictions } from './private/validate';
import { ImdsSettings } from './settings';
import {
  ImdsManagementAccountResources,
  ImdsStackSetTarget,
  StackSetCallAs,
  StackSetConcurrencyMode,
  StackSetRegionConcurrency,
} from './stack-set-options';

/**
 * Properties for `ImdsAccountDefaultsStackSet`: the options of
 * `ImdsAccountDefaults`, which mean the same thing in every target account and
 * Region, the first deployment target, and the StackSet's own props (its
 * removal policy, the member accounts' removal policy and permissions
 * boundary, how it rolls out).
 */
export interface ImdsAccountDefaultsStackSetProps extends ImdsAccountDefaultsOptions {
  /**
   * Where the first stack instances go: `ImdsStackSetTarget.fromOrganizationalUnits(...)`
   * or `ImdsStackSetTarget.fromAccounts(...)`. More with `addStackInstances`.
   */
  readonly target: ImdsStackSetTarget;

  /**
   * What happens to the StackSet itself when it leaves the stack (the construct
   * removed, or the stack deleted), or is replaced (`stackSetName` changed).
   *
   * - `RemovalPolicy.DESTROY`: CloudFormation deletes the StackSet, which first
   *   deletes every stack instance; each member stack's delete then does what
   *   `memberRemovalPolicy` and `settingsOnDelete` say.
   * - `RemovalPolicy.RETAIN` (or `RETAIN_ON_UPDATE_OR_DELETE`): the StackSet and
   *   its stack instances stay, no longer managed by this stack.
   *
   * `RemovalPolicy.SNAPSHOT` is refused: a StackSet has no snapshot.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * What happens to the settings of a member account (an account and Region)
   * when its stack instance is deleted: the StackSet deleted, a target or Region
   * removed, or (without `retainStacksOnAccountRemoval`) the account leaving the
   * targets. The removal policy of the custom resource in every stack instance,
   * and in the management account's stack (`addManagementAccount`).
   *
   * - `RemovalPolicy.DESTROY`: every setting the custom resource manages is
   *   reset to no preference, or restored (see `settingsOnDelete`).
   * - `RemovalPolicy.RETAIN` (or `RETAIN_ON_UPDATE_OR_DELETE`): the settings stay
   *   as they are.
   *
   * `RemovalPolicy.SNAPSHOT` is refused: a custom resource has no snapshot.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly memberRemovalPolicy?: RemovalPolicy;

  /**
   * The permissions boundary of the functions' IAM roles in every member account
   * (and in the management account's stack): a customer managed policy that
   * every member account holds under the same name
   * (`ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary')`),
   * or an AWS managed policy
   * (`ImdsStackSetPermissionsBoundary.fromAwsManagedPolicyName('PowerUserAccess')`).
   *
   * @default - no permissions boundary
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundary?: ImdsStackSetPermissionsBoundary;

  /**
   * Also roll out `ImdsInstanceUpgrade`, with these options, in every stack
   * instance: each target account and Region gets its own upgrade function,
   * schedule and role (with this StackSet's `logRetention`,
   * `permissionsBoundary` and `rolePath`). The options must be values, not
   * tokens. `addManagementAccount` adds it to the management account too.
   *
   * @default - no instance upgrade
   */
  readonly instanceUpgrade?: ImdsInstanceUpgradeOptions;

  /**
   * The name of the StackSet. Changing it replaces the StackSet, which deletes
   * and recreates every stack instance.
   *
   * @default - a name derived from the construct path
   */
  readonly stackSetName?: string;

  /**
   * The description of the StackSet.
   *
   * @default 'EC2 account-level instance metadata defaults (cdk-imds-account-defaults)'
   */
  readonly description?: string;

  /**
   * Whether the StackSet is managed from the management account or from a
   * delegated administrator account. The stack holding this construct must be
   * deployed to that account.
   *
   * @default StackSetCallAs.SELF
   */
  readonly callAs?: StackSetCallAs;

  /**
   * Deploy to accounts that join a target OU later, and remove the stack
   * instance from accounts that leave it.
   *
   * @default true
   */
  readonly autoDeployment?: boolean;

  /**
   * Keep the stack of an account that leaves the targets (moved out of a target
   * OU, or out of the organization). Only with `autoDeployment`.
   *
   * When `true`, the stack instance is removed from the StackSet but its stack
   * stays in the account, as a stack of its own: the settings stay as they are,
   * and the function, its drift guard and its claim stay with it (delete that
   * stack to let the settings go). When `false`, CloudFormation deletes the stack,
   * which resets the settings it manages (or restores them, see
   * `settingsOnDelete`) unless `memberRemovalPolicy` retains them.
   *
   * Defaults to `true`, unlike CloudFormation's own default: an account that
   * leaves the targets, perhaps only moving between OUs, should not start
   * allowing IMDSv1 on its new instances because of it.
   *
   * @default true
   */
  readonly retainStacksOnAccountRemoval?: boolean;

  /**
   * Whether operations deploy to all Regions at once or one after another.
   * Operation preferences do not apply to auto-deployments.
   *
   * @default StackSetRegionConcurrency.PARALLEL
   */
  readonly regionConcurrency?: StackSetRegionConcurrency;

  /**
   * The maximum percentage of accounts, per Region, deployed to at the same
   * time (1 to 100). Not with `maxConcurrentCount`.
   *
   * @default 25
   */
  readonly maxConcurrentPercentage?: number;

  /**
   * The maximum number of accounts, per Region, deployed to at the same time.
   * Not with `maxConcurrentPercentage`.
   *
   * @default - `maxConcurrentPercentage`
   */
  readonly maxConcurrentCount?: number;

  /**
   * The percentage of accounts, per Region, that may fail before the operation
   * stops in that Region (0 to 100). Not with `failureToleranceCount`.
   *
   * @default 10
   */
  readonly failureTolerancePercentage?: number;

  /**
   * The number of accounts, per Region, that may fail before the operation
   * stops in that Region. Not with `failureTolerancePercentage`.
   *
   * @default - `failureTolerancePercentage`
   */
  readonly failureToleranceCount?: number;

  /**
   * How the failure tolerance affects concurrency.
   *
   * @default StackSetConcurrencyMode.SOFT_FAILURE_TOLERANCE
   */
  readonly concurrencyMode?: StackSetConcurrencyMode;
}

const DEFAULT_DESCRIPTION = 'EC2 account-level instance metadata defaults (cdk-imds-account-defaults)';
// Short: the embedded template has a size budget (test/targets.test.ts).
const EMBEDDED_DESCRIPTION = 'EC2 account-level IMDS defaults of the account and Region (cdk-imds-account-defaults)';
const DEFAULT_MAX_CONCURRENT_PERCENTAGE = 25;
const DEFAULT_FAILURE_TOLERANCE_PERCENTAGE = 10;
/** Organization-wide rollouts meet accounts a declarative policy governs: succeed there (ImdsAccountDefaultsOptions). */
const DEFAULT_SKIP_IF_MANAGED_BY_DECLARATIVE_POLICY = true;
/** The StackSet's own removal policy. */
const DEFAULT_REMOVAL_POLICY = RemovalPolicy.DESTROY;
/** The member accounts' custom resources' removal policy. */
const DEFAULT_MEMBER_REMOVAL_POLICY = RemovalPolicy.DESTROY;

/**
 * Every option of `ImdsAccountDefaultsOptions`, each key present (its value may
 * be undefined): an option added there and not copied here fails the compile.
 */
type EveryOption = { [K in keyof Required<ImdsAccountDefaultsOptions>]: ImdsAccountDefaultsOptions[K] };

/** One group of stack instances: a target and the settings it overrides. */
interface InstanceGroup {
  readonly target: StackSetTargetConfig;
  readonly overrides?: ImdsSettings;
}

/**
 * Rolls the `ImdsAccountDefaults` template out to the accounts of organizational
 * units, in several Regions, as a service-managed `AWS::CloudFormation::StackSet`
 * (its `node.defaultChild`).
 *
 * Deploy the stack that holds it to the organization's management account, or to
 * a delegated administrator for StackSets (`callAs: StackSetCallAs.DELEGATED_ADMIN`).
 * Trusted access between CloudFormation StackSets and AWS Organizations must be on.
 *
 * The template is the one `ImdsAccountDefaults` synthesizes, synthesized on its
 * own (no assets, no bootstrap version check: the handler is inline) and
 * embedded as `TemplateBody`. Every setting given is a parameter of that
 * template, whose value is the StackSet's and which `addStackInstances` can
 * override for a group of stack instances. It creates an unnamed IAM role, so
 * the StackSet has the `CAPABILITY_IAM` capability. Its functions carry their
 * plain, readable code when the template stays within 40,960 bytes (80 % of
 * TemplateBody's 51,200) that way; otherwise (with `instanceUpgrade`,
 * typically) they carry the same code brotli-compressed, behind a short loader
 * whose first line says how to read it. Either way each function's
 * `Description` names the library version and the SHA-256 of the code it carries.
 *
 * Limits:
 * - StackSets never deploy to the management account: give it its own stack with
 *   `addManagementAccount`.
 * - Operation preferences do not apply to auto-deployments.
 * - A StackSet operation can succeed in some accounts and fail in others (each
 *   stack instance rolls back on its own).
 * - Aspects of the app (`PermissionsBoundary.of`, `Tags.of`, cdk-nag packs, ...)
 *   never reach the embedded template, which is synthesized on its own when the
 *   construct is created: `permissionsBoundary` and `rolePath` set the role's
 *   boundary and path there. Tags do reach the stack instances another way:
 *   `Tags.of` tags the StackSet, and CloudFormation gives a StackSet's tags to
 *   its stacks, which propagate them to the resources that support tags.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-stackset.html
 */
export class ImdsAccountDefaultsStackSet extends Construct {
  /** The StackSet's id (`Fn::GetAtt StackSetId`). */
  public readonly stackSetId: string;
  /** The StackSet's name. */
  public readonly stackSetName: string;
  /** The embedded template, as minified JSON: exactly what `TemplateBody` holds. */
  public readonly templateBody: string;

  /** What the embedded template was synthesized from, the code form chosen included (read by test/nag3/check.js). */
  private readonly embeddedTemplateOptions: EmbeddedTemplateOptions;
  /** The props of every member account's ImdsAccountDefaults, and of the management account's. */
  private readonly memberProps: ImdsAccountDefaultsProps;
  private readonly instanceUpgrade?: ImdsInstanceUpgradeOptions;
  /** The settings that are parameters of the embedded template: the ones a group may override. */
  private readonly parameterKeys: ReadonlySet<keyof ImdsSettings>;
  private readonly instanceGroups: InstanceGroup[] = [];

  constructor(scope: Construct, id: string, props: ImdsAccountDefaultsStackSetProps) {
    super(scope, id);
    const fail: (message: string) => never = failer(this);

    // Validation first: nothing is created until every prop has been checked.
    const options = everyOption(props);
    validateSettings(this, options);
    validateAccountDefaultsOptions(this, options);
    validateKnownAtSynth(this, options);
    const target = this.bindTarget(props.target);
    validateOperationPreferences(this, props);
    validateAutoDeployment(this, props);
    validateStackSetName(this, props.stackSetName);
    validateRemovalPolicy(this, 'removalPolicy', props.removalPolicy);
    validateRemovalPolicy(this, 'memberRemovalPolicy', props.memberRemovalPolicy);
    validateMemberRemoval(this, props.settingsOnDelete, props.memberRemovalPolicy);
    validateRoleOptions(this, { rolePath: props.rolePath });
    validateStackSetBoundary(this, props.permissionsBoundary);
    if (props.instanceUpgrade !== undefined) {
      instanceUpgradeConfig(this, props.instanceUpgrade, 'instanceUpgrade.');
    }
    warnOnContradictions(this, options);

    this.memberProps = {
      ...options,
      removalPolicy: props.memberRemovalPolicy ?? DEFAULT_MEMBER_REMOVAL_POLICY,
      permissionsBoundary: props.permissionsBoundary?._forAccount(),
    };
    this.parameterKeys = new Set(SETTING_PROPS.filter(({ prop }) => options[prop] !== undefined).map(({ prop }) => prop));
    this.instanceUpgrade = props.instanceUpgrade;

    // The ImdsAccountDefaults of the embedded template checks the options again; its errors name this construct.
    const template = this.embedTemplate({
      description: EMBEDDED_DESCRIPTION,
      accountDefaults: this.memberProps,
      instanceUpgrade: this.instanceUpgrade,
    });
    this.embeddedTemplateOptions = {
      description: EMBEDDED_DESCRIPTION,
      accountDefaults: this.memberProps,
      instanceUpgrade: this.instanceUpgrade,
      codeForm: template.codeForm,
    };
    if (template.bytes > TEMPLATE_BODY_MAX_BYTES) {
      fail(`the ${this.instanceUpgrade ? 'ImdsAccountDefaults and ImdsInstanceUpgrade' : 'ImdsAccountDefaults'} template is ${template.bytes} bytes as minified JSON (${this.embeddedTemplateOptions.codeForm} code), over the ${TEMPLATE_BODY_MAX_BYTES}-byte limit of a StackSet's TemplateBody; the handler bundle has grown too large to inline`);
    }
    this.templateBody = template.body;

    this.stackSetName = props.stackSetName ?? defaultStackSetName(this);
    const autoDeployment = props.autoDeployment ?? true;
    const regionConcurrency = props.regionConcurrency ?? StackSetRegionConcurrency.PARALLEL;
    const stackSet = new cloudformation.CfnStackSet(this, 'Resource', {
      stackSetName: this.stackSetName,
      description: props.description ?? DEFAULT_DESCRIPTION,
      permissionModel: 'SERVICE_MANAGED',
      callAs: props.callAs ?? StackSetCallAs.SELF,
      autoDeployment: {
        enabled: autoDeployment,
        // CloudFormation takes RetainStacksOnAccountRemoval only with Enabled: true.
        // Retained by default: an account that leaves the targets keeps its settings (see the prop).
        ...(autoDeployment ? { retainStacksOnAccountRemoval: props.retainStacksOnAccountRemoval ?? true } : {}),
      },
      // The template creates unnamed IAM roles (the functions').
      capabilities: ['CAPABILITY_IAM'],
      operationPreferences: {
        regionConcurrencyType: regionConcurrency,
        ...(regionConcurrency === StackSetRegionConcurrency.SEQUENTIAL
          ? { regionOrder: Lazy.list({ produce: () => this.regionOrder() }) }
          : {}),
        ...(props.maxConcurrentCount !== undefined
          ? { maxConcurrentCount: props.maxConcurrentCount }
          : { maxConcurrentPercentage: props.maxConcurrentPercentage ?? DEFAULT_MAX_CONCURRENT_PERCENTAGE }),
        ...(props.failureToleranceCount !== undefined
          ? { failureToleranceCount: props.failureToleranceCount }
          : { failureTolerancePercentage: props.failureTolerancePercentage ?? DEFAULT_FAILURE_TOLERANCE_PERCENTAGE }),
        concurrencyMode: props.concurrencyMode ?? StackSetConcurrencyMode.SOFT_FAILURE_TOLERANCE,
      },
      parameters: template.parameters.map(({ key, value }) => ({ parameterKey: key, parameterValue: value })),
      stackInstancesGroup: Lazy.any({ produce: () => this.instanceGroups.map((group) => this.renderGroup(group)) }),
      templateBody: template.body,
    });
    stackSet.applyRemovalPolicy(props.removalPolicy ?? DEFAULT_REMOVAL_POLICY);
    this.stackSetId = stackSet.attrStackSetId;

    this.instanceGroups.push({ target });
  }

  /**
   * Deploys the StackSet to more organizational units or accounts, or to other
   * Regions, optionally with other values for some of the settings given to the
   * StackSet (stack instance parameter overrides).
   *
   * Accounts that join these OUs later (auto-deployment) get the StackSet's
   * values, not the overrides: for a set of OUs that must always have other
   * values, prefer a StackSet of its own.
   *
   * @param target where the stack instances go
   * @param settingOverrides values for these stack instances that differ from the
   *   StackSet's; only settings given to the StackSet can be overridden
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stackinstances-override.html
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStackInstances.html
   */
  public addStackInstances(target: ImdsStackSetTarget, settingOverrides?: ImdsSettings): void {
    const config = this.bindTarget(target);
    if (settingOverrides !== undefined) {
      validateSettingOverrides(this, settingOverrides, this.parameterKeys);
      warnOnContradictions(this, { ...this.memberProps, ...settingOverrides });
    }
    this.instanceGroups.push({ target: config, overrides: settingOverrides });
  }

  /**
   * Gives the organization's management account, which StackSets never deploy
   * to, the same as every member account: an `ImdsAccountDefaults` with this
   * StackSet's options and their StackSet defaults (the StackSet's values, not
   * overrides, as values, not parameters; `skipIfManagedByDeclarativePolicy`
   * true unless given; `memberRemovalPolicy` as its removal policy) at `<scope>/ImdsAccountDefaults`,
   * and, with `instanceUpgrade`, an `ImdsInstanceUpgrade` at
   * `<scope>/ImdsInstanceUpgrade`, both with this StackSet's log retention,
   * permissions boundary and role path.
   *
   * @param scope a construct in a stack deployed to the management account (one stack per Region)
   */
  public addManagementAccount(scope: Construct): ImdsManagementAccountResources {
    const accountDefaults = new ImdsAccountDefaults(scope, 'ImdsAccountDefaults', this.memberProps);
    const instanceUpgrade = this.instanceUpgrade !== undefined
      ? new ImdsInstanceUpgrade(scope, 'ImdsInstanceUpgrade', instanceUpgradeProps(this.instanceUpgrade, this.memberProps))
      : undefined;
    return { accountDefaults, instanceUpgrade };
  }

  /**
   * One of the metrics a member account's functions publish, for the given
   * account and Region (for example on a dashboard or an alarm of a monitoring
   * account that receives the members' metrics): in the namespace
   * `CdkImdsAccountDefaults`, without dimensions, with its statistic and a
   * period of this StackSet's `driftCheckInterval` (drift guard metrics) or
   * `instanceUpgrade.interval` (`ImdsInstanceUpgrade` metrics). Throws for a
   * metric of a feature this StackSet does not roll out.
   *
   * @param metricName the metric's name, e.g. `ImdsMetrics.DRIFT_DETECTED`
   * @param memberAccount the member account's id (the metric's `account`)
   * @param memberRegion the member account's Region (the metric's `region`)
   * @param props options that override the defaults (period, statistic, label, ...; not the account or Region)
   */
  public metricForMember(metricName: string, memberAccount: string, memberRegion: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const fail: (message: string) => never = failer(this);
    validateMemberEnv(this, memberAccount, memberRegion);
    const published: MetricDefinition[] = [...ACCOUNT_DEFAULTS_METRICS,
      ...INSTANCE_UPGRADE_METRICS.filter((d) => !ACCOUNT_DEFAULTS_METRICS.includes(d))];
    const definition = definitionOf(metricName, `[${this.node.path}] metricForMember`, published);
    const options = { ...props, account: memberAccount, region: memberRegion };
    const { driftGuard, driftCheckInterval } = this.memberProps;
    switch (definition.source) {
      case 'drift-guard':
        if (driftGuard === undefined) {
          fail(`metricForMember: ${definition.name} is published only by the drift guard, which this StackSet does not roll out: set driftGuard (DriftGuardMode.REAPPLY or DriftGuardMode.REPORT_ONLY) to publish it`);
        }
        if (definition.name === DRIFT_REAPPLIED_METRIC && driftGuard !== DriftGuardMode.REAPPLY) {
          fail(`metricForMember: ${definition.name} is published only by a drift guard in DriftGuardMode.REAPPLY; this StackSet's is ${driftGuard}, which changes nothing: use DriftDetected`);
        }
        return buildMetric(definition, driftCheckInterval ?? DEFAULT_DRIFT_CHECK_INTERVAL, options);
      case 'instance-upgrade':
        if (this.instanceUpgrade === undefined) {
          fail(`metricForMember: ${definition.name} is published only by ImdsInstanceUpgrade, which this StackSet does not roll out: set instanceUpgrade to publish it`);
        }
        return buildMetric(definition, this.instanceUpgrade.interval ?? DEFAULT_INTERVAL, options);
      default:
        return buildMetric(definition, undefined, options);
    }
  }

  /** Checks a target (JavaScript may pass anything) and binds it, errors naming this construct. */
  private bindTarget(target: ImdsStackSetTarget | undefined): StackSetTargetConfig {
    const fail: (message: string) => never = failer(this);
    if (target === undefined || target === null || typeof (target as Partial<ImdsStackSetTarget>)._bind !== 'function') {
      fail(`target must be an ImdsStackSetTarget: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds, regions }) or ImdsStackSetTarget.fromAccounts({ accountIds, organizationalUnitIds, regions }) (organizationalUnitIds, regions, accountIds and accountFilter are no longer props of their own); got ${target === undefined ? 'nothing' : JSON.stringify(target)}`);
    }
    return target._bind(this, 'target.');
  }

  /** Synthesizes the embedded template; errors name this construct. */
  private embedTemplate(options: EmbeddedTemplateOptions): EmbeddedTemplate {
    try {
      return synthesizeEmbeddedTemplate(options);
    } catch (err) {
      // The message of a construct of the embedded tree starts with its own path there: drop it, this path is the one to know.
      const message = (err as Error).message.replace(new RegExp(`^\\[${EMBEDDED_STACK_ID}/[^\\]]*\\] `), '');
      throw new Error(`[${this.node.path}] cannot synthesize the ImdsAccountDefaults template for the StackSet: ${message}`);
    }
  }

  /** The Regions of every group, in the order first given (SEQUENTIAL's RegionOrder); token lists are left out. */
  private regionOrder(): string[] {
    const order: string[] = [];
    for (const { target } of this.instanceGroups) {
      if (Token.isUnresolved(target.regions)) {
        continue;
      }
      for (const region of target.regions) {
        if (!order.includes(region)) {
          order.push(region);
        }
      }
    }
    return order;
  }

  private renderGroup({ target, overrides }: InstanceGroup): cloudformation.CfnStackSet.StackInstancesProperty {
    return {
      deploymentTargets: {
        organizationalUnitIds: target.organizationalUnitIds,
        ...(target.accountIds !== undefined ? { accounts: target.accountIds, accountFilterType: target.accountFilterType } : {}),
      },
      regions: target.regions,
      parameterOverrides: overrides !== undefined
        ? SETTING_PROPS
          .filter(({ prop }) => overrides[prop] !== undefined)
          .map(({ prop, key }) => ({ parameterKey: key, parameterValue: String(overrides[prop]) }))
        : undefined,
    };
  }
}

/** The member accounts' options: the copy, each option named (see EveryOption), with the StackSet's defaults. */
function everyOption(props: ImdsAccountDefaultsStackSetProps): EveryOption {
  return {
    httpTokens: props.httpTokens,
    httpTokensEnforced: props.httpTokensEnforced,
    httpPutResponseHopLimit: props.httpPutResponseHopLimit,
    httpEndpoint: props.httpEndpoint,
    instanceMetadataTags: props.instanceMetadataTags,
    settingsOnDelete: props.settingsOnDelete,
    skipIfManagedByDeclarativePolicy: props.skipIfManagedByDeclarativePolicy ?? DEFAULT_SKIP_IF_MANAGED_BY_DECLARATIVE_POLICY,
    readinessCheck: props.readinessCheck,
    logRetention: props.logRetention,
    rolePath: props.rolePath,
    driftGuard: props.driftGuard,
    driftCheckInterval: props.driftCheckInterval,
  };
}

/** A StackSet name from the construct path: unique in the app, starting with a letter. */
function defaultStackSetName(scope: Construct): string {
  const name = Names.uniqueResourceName(scope, { maxLength: 120 });
  return /^[a-zA-Z]/.test(name) ? name : `ImdsDefaults${name}`.slice(0, 128);
}
