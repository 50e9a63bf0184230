import { Lazy, Names, RemovalPolicy, Stack, Token, aws_cloudformation as cloudformation, aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DriftGuardMode, ImdsAccountDefaultsOptions } from './account-defaults-options';
import { ImdsAccountDefaults, ImdsAccountDefaultsProps } from './imds-account-defaults';
import { ImdsInstanceUpgrade } from './imds-instance-upgrade';
import { ImdsReadinessReport, ImdsReadinessReportOptions } from './imds-readiness-report';
import { ImdsInstanceUpgradeOptions } from './instance-upgrade-options';
import { ImdsStackSetPermissionsBoundary } from './permissions-boundary';
import { validateAccountDefaultsOptions } from './private/account-defaults-validate';
import {
  EMBEDDED_STACK_ID, EmbeddedTemplate, EmbeddedTemplateOptions, TEMPLATE_BODY_MAX_BYTES, readinessReportProps, synthesizeEmbeddedTemplate,
} from './private/embedded-template';
import { DEFAULT_INTERVAL, instanceUpgradeConfig } from './private/instance-upgrade-config';
import { instanceUpgradeProps } from './private/instance-upgrade-props';
import {
  ACCOUNT_DEFAULTS_METRICS, DEFAULT_DRIFT_CHECK_INTERVAL, DEFAULT_REPORT_INTERVAL, INSTANCE_UPGRADE_METRICS, MetricDefinition,
  READINESS_REPORT_METRICS, buildMetric, definitionOf,
} from './private/metric-definitions';
import { DRIFT_REAPPLIED_METRIC } from './private/properties';
import { validateReadinessReportOptions } from './private/readiness-report-validate';
import {
  StackSetTargetConfig,
  canaryRegionErrors,
  validateAutoDeployment,
  validateCanaryRegions,
  validateKnownAtSynth,
  validateMemberEnv,
  validateMemberRemoval,
  validateNewInstanceGroup,
  validateOperationPreferences,
  validateSettingOverrides,
  validateStackSetBoundary,
  validateStackSetContents,
  validateStackSetName,
  validateVariantTarget,
  warnOnNewInstanceGroup,
} from './private/stack-set-validate';
import { SETTING_PROPS, failer, validateCentralEventBusArn, validateRemovalPolicy, validateRoleOptions, validateSettings, warnOnContradictions } from './private/validate';
import { ImdsSettings } from './settings';
import {
  ImdsManagementAccountResources,
  ImdsStackSetTarget,
  ImdsStackSetVariantOptions,
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
   * - `RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE` (DeletionPolicy
   *   `RetainExceptOnCreate`), the default: the settings stay as they are when
   *   the stack instance is deleted. CloudFormation sends the custom resource no
   *   Delete, and its claim records `Retained`. On an update that changes the
   *   targets, CloudFormation deletes the stack instances no longer targeted
   *   before it creates the new ones, which can take hours across an
   *   organization: retained, an account keeps its settings in between. Only a
   *   stack instance whose own Create fails and rolls back deletes the custom
   *   resource, which puts back the values from before that Create: nothing is
   *   left half-applied.
   * - `RemovalPolicy.RETAIN`: the same, and a failed Create leaves whatever it
   *   applied (with a retained claim).
   * - `RemovalPolicy.DESTROY`: every setting the custom resource manages is
   *   reset to no preference, or restored (see `settingsOnDelete`), as soon as
   *   the stack instance goes: the explicit choice to let the settings go with it.
   *
   * `RemovalPolicy.SNAPSHOT` is refused: a custom resource has no snapshot.
   *
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
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
   * Also roll out the dry run, `ImdsReadinessReport`, with these options, in
   * every stack instance: each target account and Region gets its own
   * read-only report function, schedule and role (with this StackSet's
   * `logRetention`, `permissionsBoundary` and `rolePath`), and each member stack
   * has the report's outputs (`ReadinessResult`, `LaunchTemplatesAllowingImdsv1`,
   * `LaunchConfigurationsAllowingImdsv1`, `AutoScalingGroupsAllowingImdsv1`,
   * `InstancesAllowingImdsv1`, `CurrentHttpTokens`, `CurrentHttpTokensEnforced`,
   * `ManagedBy`). Without settings the StackSet changes no setting anywhere
   * (its members have no `ImdsAccountDefaults`): the dry run of an
   * organization. With settings or with `instanceUpgrade`, not with both: three
   * functions' inline code does not fit a TemplateBody (roll the dry run out as a
   * StackSet of its own then). `addManagementAccount` adds the report to the
   * management account too.
   *
   * @default - no readiness report
   */
  readonly readinessReport?: ImdsReadinessReportOptions;

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
   * stack to let the settings go). When `false`, CloudFormation deletes the stack:
   * the settings stay as they are (`memberRemovalPolicy` retains them by default),
   * or are reset or restored with `memberRemovalPolicy: RemovalPolicy.DESTROY`.
   *
   * Defaults to `true`, unlike CloudFormation's own default: an account that
   * leaves the targets, perhaps only moving between OUs, should not start
   * allowing IMDSv1 on its new instances because of it.
   *
   * @default true
   */
  readonly retainStacksOnAccountRemoval?: boolean;

  /**
   * Whether operations deploy to one Region after another or to all at once. One
   * after another (`SEQUENTIAL`), an operation goes to the `canaryRegions` first,
   * then to the other Regions in the order the targets first name them (the
   * StackSet's target, then each `addStackInstances`), and stops before the next
   * Region when a Region exceeds the failure tolerance. Operation preferences do
   * not apply to auto-deployments.
   *
   * @default StackSetRegionConcurrency.SEQUENTIAL
   */
  readonly regionConcurrency?: StackSetRegionConcurrency;

  /**
   * Regions an operation deploys to first, in this order, before the others
   * (`regionConcurrency` SEQUENTIAL: the Region order starts with them). Each must
   * be a Region some target names, which is checked when the app is synthesized.
   * Not with `StackSetRegionConcurrency.PARALLEL`, where they would change nothing.
   *
   * @default - no canary Regions: the Regions in the order the targets first name them
   */
  readonly canaryRegions?: string[];

  /**
   * The maximum percentage of accounts, per Region, deployed to at the same
   * time (1 to 100). Not with `maxConcurrentCount`. With
   * `StackSetConcurrencyMode.STRICT_FAILURE_TOLERANCE`, CloudFormation deploys to
   * at most the failure tolerance + 1 accounts at a time, whatever this says.
   *
   * @default - none: `maxConcurrentCount` applies
   */
  readonly maxConcurrentPercentage?: number;

  /**
   * The maximum number of accounts, per Region, deployed to at the same time.
   * Not with `maxConcurrentPercentage`. With the default failure tolerance (4
   * accounts) and `StackSetConcurrencyMode.STRICT_FAILURE_TOLERANCE`,
   * CloudFormation deploys to min(5, 4 + 1) = 5 accounts at a time, and lowers
   * that as accounts fail, so that no more than 5 fail in a Region.
   *
   * @default 5, unless `maxConcurrentPercentage` is given
   */
  readonly maxConcurrentCount?: number;

  /**
   * The percentage of accounts, per Region, that may fail before the operation
   * stops in that Region (0 to 100). Not with `failureToleranceCount`.
   *
   * @default - none: `failureToleranceCount` applies
   */
  readonly failureTolerancePercentage?: number;

  /**
   * The number of accounts, per Region, that may fail before the operation
   * stops in that Region. Not with `failureTolerancePercentage`.
   *
   * @default 4, unless `failureTolerancePercentage` is given
   */
  readonly failureToleranceCount?: number;

  /**
   * How the failure tolerance affects concurrency. `STRICT_FAILURE_TOLERANCE`
   * deploys to at most the failure tolerance + 1 accounts at a time and lowers
   * the concurrency as accounts fail; `SOFT_FAILURE_TOLERANCE` keeps the maximum
   * concurrency whatever the failures.
   *
   * @default StackSetConcurrencyMode.STRICT_FAILURE_TOLERANCE
   */
  readonly concurrencyMode?: StackSetConcurrencyMode;

  /**
   * Whether StackSets manages the execution of the StackSet's operations
   * (`ManagedExecution` `Active`): operations that do not conflict run at the same
   * time, and a conflicting one (an update of this stack while an
   * auto-deployment runs, for example) is queued and starts, in request order,
   * once the conflicting operations finish. `false` writes `Active: false`,
   * CloudFormation's own default: one operation at a time, and an operation
   * requested while another runs is refused (`OperationInProgressException`).
   * CloudFormation refuses to change this while operations run or are queued.
   *
   * @default true
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-cloudformation-stackset-managedexecution.html
   */
  readonly managedExecution?: boolean;
}

const DEFAULT_DESCRIPTION = 'EC2 account-level instance metadata defaults (cdk-imds-account-defaults)';
// Short: the embedded template has a size budget (test/targets.test.ts).
const EMBEDDED_DESCRIPTION = 'EC2 account-level IMDS defaults of the account and Region (cdk-imds-account-defaults)';
/** The embedded template's description when the StackSet manages no setting (readiness report, instance upgrade). */
const EMBEDDED_DESCRIPTION_WITHOUT_SETTINGS = 'IMDSv2 readiness and upgrade (cdk-imds-account-defaults)';
/** Cautious rollouts: with strict failure tolerance, min(5, 4 + 1) = 5 accounts at a time per Region, and no more than 5 fail in a Region. */
const DEFAULT_MAX_CONCURRENT_COUNT = 5;
const DEFAULT_FAILURE_TOLERANCE_COUNT = 4;
const DEFAULT_REGION_CONCURRENCY = StackSetRegionConcurrency.SEQUENTIAL;
const DEFAULT_CONCURRENCY_MODE = StackSetConcurrencyMode.STRICT_FAILURE_TOLERANCE;
const DEFAULT_MANAGED_EXECUTION = true;
/** Organization-wide rollouts meet accounts a declarative policy governs: succeed there (ImdsAccountDefaultsOptions). */
const DEFAULT_SKIP_IF_MANAGED_BY_DECLARATIVE_POLICY = true;
/** The StackSet's own removal policy. */
const DEFAULT_REMOVAL_POLICY = RemovalPolicy.DESTROY;
/**
 * The member accounts' custom resources' removal policy: a deleted stack instance keeps the
 * account's settings (DeletionPolicy RetainExceptOnCreate), but a stack instance whose Create
 * fails and rolls back puts back the values from before it, leaving nothing half-applied.
 */
const DEFAULT_MEMBER_REMOVAL_POLICY = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;

/**
 * Where `addVariant` passes the StackSets of the definition to the variant's
 * constructor (not a prop: it is not part of the API).
 */
const VARIANT_FAMILY: unique symbol = Symbol('ImdsAccountDefaultsStackSet.variantFamily');

/** The props a variant is constructed with: the original's, with the StackSets of the definition. */
interface VariantProps extends ImdsAccountDefaultsStackSetProps {
  readonly [VARIANT_FAMILY]?: ImdsAccountDefaultsStackSet[];
}

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
 * - On an update that changes the targets, CloudFormation deletes the stack
 *   instances no longer targeted before it creates the new ones: the accounts
 *   keep their settings in between because `memberRemovalPolicy` retains them
 *   (the default).
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
  private readonly readinessReport?: ImdsReadinessReportOptions;
  /** Whether the members have an ImdsAccountDefaults: the StackSet manages at least one setting. */
  private readonly withSettings: boolean;
  /** The settings that are parameters of the embedded template: the ones a group may override. */
  private readonly parameterKeys: ReadonlySet<keyof ImdsSettings>;
  private readonly instanceGroups: InstanceGroup[] = [];
  /** The props, for `addVariant`. */
  private readonly props: ImdsAccountDefaultsStackSetProps;
  /** The StackSets of this definition (this one, and those `addVariant` made from it or from them), shared by all. */
  private readonly variants: ImdsAccountDefaultsStackSet[];
  /** The management account, which StackSets never deploy to: this stack's account with callAs SELF, if known at synth. */
  private readonly managementAccount?: string;

  constructor(scope: Construct, id: string, props: ImdsAccountDefaultsStackSetProps) {
    super(scope, id);
    const fail: (message: string) => never = failer(this);
    const { [VARIANT_FAMILY]: variants, ...ownProps } = props as VariantProps;
    this.props = ownProps;
    this.variants = variants ?? [];
    const callAs = props.callAs ?? StackSetCallAs.SELF;
    const account = Stack.of(this).account;
    this.managementAccount = callAs === StackSetCallAs.SELF && !Token.isUnresolved(account) ? account : undefined;

    // Validation first: nothing is created until every prop has been checked.
    const options = everyOption(props);
    // Settings, the dry run or the instance upgrade: without settings, the members get no ImdsAccountDefaults.
    this.withSettings = validateStackSetContents(this, props);
    validateSettings(this, options, { required: false });
    validateAccountDefaultsOptions(this, options);
    validateKnownAtSynth(this, options);
    const target = this.bindTarget(props.target);
    this.validateGroup({ target });
    validateOperationPreferences(this, props);
    const regionConcurrency = props.regionConcurrency ?? DEFAULT_REGION_CONCURRENCY;
    validateCanaryRegions(this, props.canaryRegions, regionConcurrency);
    validateAutoDeployment(this, props);
    validateStackSetName(this, props.stackSetName);
    validateRemovalPolicy(this, 'removalPolicy', props.removalPolicy);
    validateRemovalPolicy(this, 'memberRemovalPolicy', props.memberRemovalPolicy);
    validateMemberRemoval(this, props.settingsOnDelete, props.memberRemovalPolicy);
    validateRoleOptions(this, { rolePath: props.rolePath });
    validateCentralEventBusArn(this, props.centralEventBusArn);
    validateStackSetBoundary(this, props.permissionsBoundary);
    if (props.instanceUpgrade !== undefined) {
      instanceUpgradeConfig(this, props.instanceUpgrade, 'instanceUpgrade.');
    }
    if (props.readinessReport !== undefined) {
      const { interval, scheduledRuns, refreshKey } = props.readinessReport;
      validateKnownAtSynth(this, { 'readinessReport.interval': interval, 'readinessReport.scheduledRuns': scheduledRuns, 'readinessReport.refreshKey': refreshKey });
      validateReadinessReportOptions(this, props.readinessReport, 'readinessReport.');
    }
    warnOnContradictions(this, options);

    this.memberProps = {
      ...options,
      removalPolicy: props.memberRemovalPolicy ?? DEFAULT_MEMBER_REMOVAL_POLICY,
      permissionsBoundary: props.permissionsBoundary?._forAccount(),
    };
    this.parameterKeys = new Set(SETTING_PROPS.filter(({ prop }) => options[prop] !== undefined).map(({ prop }) => prop));
    this.instanceUpgrade = props.instanceUpgrade;
    this.readinessReport = props.readinessReport;

    // The constructs of the embedded template check the options again; their errors name this construct.
    const embedded: EmbeddedTemplateOptions = {
      description: this.withSettings ? EMBEDDED_DESCRIPTION : EMBEDDED_DESCRIPTION_WITHOUT_SETTINGS,
      accountDefaults: this.memberProps,
      instanceUpgrade: this.instanceUpgrade,
      ...(this.readinessReport !== undefined ? { readinessReport: this.readinessReport } : {}),
      ...(this.withSettings ? {} : { withoutAccountDefaults: true }),
    };
    const template = this.embedTemplate(embedded);
    this.embeddedTemplateOptions = { ...embedded, codeForm: template.codeForm };
    if (template.bytes > TEMPLATE_BODY_MAX_BYTES) {
      const rolledOut = [this.withSettings ? 'ImdsAccountDefaults' : undefined, this.instanceUpgrade ? 'ImdsInstanceUpgrade' : undefined, this.readinessReport ? 'ImdsReadinessReport' : undefined]
        .filter((x) => x !== undefined).join(' and ');
      fail(`the ${rolledOut} template is ${template.bytes} bytes as minified JSON (${this.embeddedTemplateOptions.codeForm} code), over the ${TEMPLATE_BODY_MAX_BYTES}-byte limit of a StackSet's TemplateBody; the handler bundle has grown too large to inline`);
    }
    this.templateBody = template.body;

    this.stackSetName = props.stackSetName ?? defaultStackSetName(this);
    const autoDeployment = props.autoDeployment ?? true;
    const canaryRegions = props.canaryRegions ?? [];
    const stackSet = new cloudformation.CfnStackSet(this, 'Resource', {
      stackSetName: this.stackSetName,
      description: props.description ?? DEFAULT_DESCRIPTION,
      permissionModel: 'SERVICE_MANAGED',
      callAs,
      autoDeployment: {
        enabled: autoDeployment,
        // CloudFormation takes RetainStacksOnAccountRemoval only with Enabled: true.
        // Retained by default: an account that leaves the targets keeps its settings (see the prop).
        ...(autoDeployment ? { retainStacksOnAccountRemoval: props.retainStacksOnAccountRemoval ?? true } : {}),
      },
      // The template creates unnamed IAM roles (the functions').
      capabilities: ['CAPABILITY_IAM'],
      // Operation preferences: they do not apply to auto-deployments.
      operationPreferences: {
        regionConcurrencyType: regionConcurrency,
        ...(regionConcurrency === StackSetRegionConcurrency.SEQUENTIAL
          ? { regionOrder: Lazy.list({ produce: () => this.regionOrder(canaryRegions) }) }
          : {}),
        ...(props.maxConcurrentPercentage !== undefined
          ? { maxConcurrentPercentage: props.maxConcurrentPercentage }
          : { maxConcurrentCount: props.maxConcurrentCount ?? DEFAULT_MAX_CONCURRENT_COUNT }),
        ...(props.failureTolerancePercentage !== undefined
          ? { failureTolerancePercentage: props.failureTolerancePercentage }
          : { failureToleranceCount: props.failureToleranceCount ?? DEFAULT_FAILURE_TOLERANCE_COUNT }),
        concurrencyMode: props.concurrencyMode ?? DEFAULT_CONCURRENCY_MODE,
      },
      // Typed `any` in the L1: written as CloudFormation spells it.
      managedExecution: { Active: props.managedExecution ?? DEFAULT_MANAGED_EXECUTION },
      // None without settings (a StackSet of the readiness report or the instance upgrade only).
      parameters: template.parameters.length > 0
        ? template.parameters.map(({ key, value }) => ({ parameterKey: key, parameterValue: value }))
        : undefined,
      stackInstancesGroup: Lazy.any({ produce: () => this.instanceGroups.map((group) => this.renderGroup(group)) }),
      templateBody: template.body,
    });
    stackSet.applyRemovalPolicy(props.removalPolicy ?? DEFAULT_REMOVAL_POLICY);
    this.stackSetId = stackSet.attrStackSetId;

    // Each canary Region must be one the StackSet deploys to: known once every group has been added.
    this.node.addValidation({ validate: () => canaryRegionErrors(canaryRegions, this.instanceGroups) });
    this.addGroup({ target });
    this.variants.push(this);
  }

  /**
   * Deploys the StackSet to more organizational units or accounts, or to other
   * Regions, optionally with other values for some of the settings given to the
   * StackSet (stack instance parameter overrides).
   *
   * Accounts that join these OUs later (auto-deployment) get the StackSet's
   * values, not the overrides: for a set of OUs that must always have other
   * values, prefer a StackSet of its own (`addVariant`).
   *
   * Checked against the groups before it, as CloudFormation would refuse them at
   * deploy: the same OU (or root) and Region in two groups is an error, and so is
   * the same OU in two groups, either of them with overrides (even equal ones:
   * the provider compares parameter sets by identity), once any group has an
   * account filter. The root in one group and
   * an OU with other values in another, in a shared Region, is a warning: which
   * values that OU's accounts get is undefined. (An OU and its parent OU cannot be
   * told apart at synth: the OU tree is not known.) The management account among
   * the accounts given, with callAs SELF, is a warning: StackSets never deploy
   * to it. An OU of another StackSet of the same definition (`addVariant`) is an
   * error.
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
    }
    const group: InstanceGroup = { target: config, overrides: settingOverrides };
    this.validateGroup(group);
    if (settingOverrides !== undefined) {
      warnOnContradictions(this, { ...this.memberProps, ...settingOverrides });
    }
    this.addGroup(group);
  }

  /**
   * Another StackSet of the same definition, for accounts that need other values
   * (one StackSet per set of values): accounts that join an OU later get the
   * StackSet's values, never a group's overrides, so a set of OUs that must keep
   * other values needs a StackSet of its own. The variant is made in the same
   * scope as this StackSet, with id `id`, and every prop of this StackSet
   * (its settings and options, removal policies, boundary, instance upgrade,
   * operation preferences, ...) except those of `options`: its `target`, its
   * `settingValues`, its name, its description and its canary Regions (by default
   * the original's that its target names). This StackSet's
   * `addStackInstances` groups are not carried over.
   *
   * The StackSets of one definition (this one, its variants, and theirs) may not
   * share an OU id, and none may target the root while another exists: two
   * StackSets would deploy two ImdsAccountDefaults to the same accounts. This is
   * checked for every group added to any of them, as it is added.
   *
   * @param id the variant's construct id, in this StackSet's scope
   * @param options the variant's target, values and name
   */
  public addVariant(id: string, options: ImdsStackSetVariantOptions): ImdsAccountDefaultsStackSet {
    const { target, settingValues, stackSetName, description, canaryRegions } = options ?? {};
    if (settingValues !== undefined) {
      validateSettingOverrides(this, settingValues, this.parameterKeys, 'settingValues');
    }
    // Only the values given: a key given as undefined does not take the original's value away.
    const values = Object.fromEntries(SETTING_PROPS
      .filter(({ prop }) => settingValues?.[prop] !== undefined)
      .map(({ prop }) => [prop, settingValues![prop]]));
    const props: VariantProps = {
      ...this.props,
      ...values,
      target,
      stackSetName,
      description: description ?? this.props.description,
      canaryRegions: canaryRegions ?? this.variantCanaryRegions(target),
      [VARIANT_FAMILY]: this.variants,
    };
    // Its scope is this StackSet's: the variant is a sibling (Construct's scope is never undefined below the root).
    return new ImdsAccountDefaultsStackSet(this.node.scope as Construct, id, props);
  }

  /** The original's canary Regions that a variant's target names (none: undefined, the variant's own default). */
  private variantCanaryRegions(target: ImdsStackSetTarget | undefined): string[] | undefined {
    const canaries = this.props.canaryRegions;
    if (canaries === undefined || target === undefined || Token.isUnresolved(canaries)) {
      return canaries;
    }
    // The target's Regions, checked by the variant's constructor (errors name the variant's path).
    let regions: readonly string[];
    try {
      regions = target._bind(this, 'target.').regions;
    } catch {
      return canaries;
    }
    const kept = canaries.filter((region) => regions.includes(region));
    return kept.length > 0 ? kept : undefined;
  }

  /**
   * Gives the organization's management account, which StackSets never deploy
   * to, the same as every member account: an `ImdsAccountDefaults` with this
   * StackSet's options and their StackSet defaults (the StackSet's values, not
   * overrides, as values, not parameters; `skipIfManagedByDeclarativePolicy`
   * true unless given; `memberRemovalPolicy`, RETAIN_ON_UPDATE_OR_DELETE unless
   * given, as its removal policy) at `<scope>/ImdsAccountDefaults`,
   * (none when the StackSet manages no setting),
   * with `instanceUpgrade`, an `ImdsInstanceUpgrade` at
   * `<scope>/ImdsInstanceUpgrade`, and with `readinessReport`, an
   * `ImdsReadinessReport` at `<scope>/ImdsReadinessReport`, each with this
   * StackSet's log retention, permissions boundary and role path.
   *
   * @param scope a construct in a stack deployed to the management account (one stack per Region)
   */
  public addManagementAccount(scope: Construct): ImdsManagementAccountResources {
    const accountDefaults = this.withSettings ? new ImdsAccountDefaults(scope, 'ImdsAccountDefaults', this.memberProps) : undefined;
    const instanceUpgrade = this.instanceUpgrade !== undefined
      ? new ImdsInstanceUpgrade(scope, 'ImdsInstanceUpgrade', instanceUpgradeProps(this.instanceUpgrade, this.memberProps))
      : undefined;
    const readinessReport = this.readinessReport !== undefined
      ? new ImdsReadinessReport(scope, 'ImdsReadinessReport', readinessReportProps(this.readinessReport, this.memberProps))
      : undefined;
    return { accountDefaults, instanceUpgrade, readinessReport };
  }

  /**
   * One of the metrics a member account's functions publish, for the given
   * account and Region (for example on a dashboard or an alarm of a monitoring
   * account that receives the members' metrics): in the namespace
   * `CdkImdsAccountDefaults`, without dimensions, with its statistic and a
   * period of this StackSet's `driftCheckInterval` (drift guard metrics),
   * `instanceUpgrade.interval` (`ImdsInstanceUpgrade` metrics) or
   * `readinessReport.interval` (`ImdsReadinessReport` metrics). Throws for a
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
      ...INSTANCE_UPGRADE_METRICS.filter((d) => !ACCOUNT_DEFAULTS_METRICS.includes(d)),
      ...READINESS_REPORT_METRICS.filter((d) => !ACCOUNT_DEFAULTS_METRICS.includes(d))];
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
      case 'readiness-report':
        if (this.readinessReport === undefined) {
          fail(`metricForMember: ${definition.name} is published only by ImdsReadinessReport, which this StackSet does not roll out: set readinessReport to publish it`);
        }
        return buildMetric(definition, this.readinessReport.interval ?? DEFAULT_REPORT_INTERVAL, options);
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

  /**
   * Checks a group against the groups before it and against the other StackSets
   * of this definition, errors naming this construct; warns about what CloudFormation
   * deploys, but not as meant.
   */
  private validateGroup(group: InstanceGroup): void {
    validateNewInstanceGroup(this, this.instanceGroups, group);
    validateVariantTarget(this, group.target, this.variants
      .filter((variant) => variant !== this)
      .map((variant) => ({ path: variant.node.path, groups: variant.instanceGroups })));
  }

  /** Adds a group that has been checked, with the warnings it deserves. */
  private addGroup(group: InstanceGroup): void {
    warnOnNewInstanceGroup(this, this.instanceGroups, group, this.managementAccount);
    this.instanceGroups.push(group);
  }

  /**
   * SEQUENTIAL's RegionOrder: the canary Regions, then the Regions of every group
   * in the order first given; token lists are left out.
   */
  private regionOrder(canaryRegions: readonly string[]): string[] {
    const order: string[] = [...canaryRegions];
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
    centralEventBusArn: props.centralEventBusArn,
  };
}

/** A StackSet name from the construct path: unique in the app, starting with a letter. */
function defaultStackSetName(scope: Construct): string {
  const name = Names.uniqueResourceName(scope, { maxLength: 120 });
  return /^[a-zA-Z]/.test(name) ? name : `ImdsDefaults${name}`.slice(0, 128);
}
