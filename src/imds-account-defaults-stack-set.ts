import { Lazy, Names, Stack, Token, aws_cloudformation as cloudformation } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ImdsAccountDefaults, ImdsAccountDefaultsProps } from './imds-account-defaults';
import { ImdsInstanceUpgrade, ImdsInstanceUpgradeOptions } from './imds-instance-upgrade';
import { EmbeddedTemplate, EmbeddedTemplateOptions, TEMPLATE_BODY_MAX_BYTES, synthesizeEmbeddedTemplate } from './private/embedded-template';
import { instanceUpgradeConfig } from './private/instance-upgrade-options';
import { ACCOUNT, OU, ROOT, validateIdList, validateRegions } from './private/organizations';
import { SETTING_PROPS, failer, validateRoleOptions, validateSettings, warnOnContradictions } from './private/validate';
import { ImdsSettings } from './settings';

/**
 * Whether the StackSet is managed from the organization's management account
 * or from a delegated administrator account.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html
 */
export enum StackSetCallAs {
  /** The stack that holds the StackSet is deployed to the organization's management account. */
  SELF = 'SELF',
  /** The stack that holds the StackSet is deployed to a delegated administrator account for StackSets. */
  DELEGATED_ADMIN = 'DELEGATED_ADMIN',
}

/**
 * Whether a StackSet operation deploys to its Regions one after another or all at once.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudformation-stackset-operationpreferences.html
 */
export enum StackSetRegionConcurrency {
  /** All Regions at the same time. */
  PARALLEL = 'PARALLEL',
  /** One Region after another, in the order the Regions are given; a Region that exceeds the failure tolerance stops the operation. */
  SEQUENTIAL = 'SEQUENTIAL',
}

/**
 * How the failure tolerance of a StackSet operation affects its concurrency.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
 */
export enum StackSetConcurrencyMode {
  /**
   * Concurrency starts at the lower of the maximum concurrent accounts and the
   * failure tolerance + 1, and is lowered as accounts fail (CloudFormation's default).
   */
  STRICT_FAILURE_TOLERANCE = 'STRICT_FAILURE_TOLERANCE',
  /** Concurrency stays at the maximum concurrent accounts whatever the failures; the operation still stops once the failure tolerance is exceeded. */
  SOFT_FAILURE_TOLERANCE = 'SOFT_FAILURE_TOLERANCE',
}

/**
 * How the account ids of a deployment target combine with its organizational units.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/account-level-targets.html
 */
export enum StackSetAccountFilter {
  /** Only the given accounts, and only if they are in the given organizational units. */
  INTERSECTION = 'INTERSECTION',
  /** Every account of the given organizational units except the given accounts. */
  DIFFERENCE = 'DIFFERENCE',
}

/**
 * Where stack instances are created: accounts of organizational units, in Regions.
 */
export interface ImdsStackSetTargets {
  /**
   * The organizational units (`ou-…`) or the organization root (`r-…`) to deploy
   * to: a stack instance is created in every account in them, nested OUs
   * included, for every Region. The management account is never a target.
   *
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudformation-stackset-deploymenttargets.html
   */
  readonly organizationalUnitIds: string[];

  /**
   * The Regions to deploy to (a stack instance per target account and Region).
   *
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudformation-stackset-stackinstances.html
   */
  readonly regions: string[];

  /**
   * Account ids that narrow the organizational units down (see `accountFilter`).
   * With service-managed permissions, accounts are always selected through their
   * OUs: to target single accounts, give the root or their OUs and these ids.
   *
   * @default - every account of the organizational units
   */
  readonly accountIds?: string[];

  /**
   * How `accountIds` combine with `organizationalUnitIds`.
   *
   * @default StackSetAccountFilter.INTERSECTION when `accountIds` are given
   */
  readonly accountFilter?: StackSetAccountFilter;
}

/**
 * Options for `ImdsAccountDefaultsStackSet.addStackInstances`.
 */
export interface ImdsStackInstancesOptions extends ImdsStackSetTargets {
  /**
   * Values for these stack instances that differ from the StackSet's
   * (stack instance parameter overrides). Only settings given to the StackSet
   * can be overridden, and only with `settingsAsParameters: true`.
   *
   * Whether accounts that join these OUs later (auto-deployment) get the
   * overrides is not stated in the CloudFormation documentation we checked:
   * check their stack instances' parameters.
   *
   * @default - the StackSet's values
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stackinstances-override.html
   */
  readonly settingOverrides?: ImdsSettings;
}

/**
 * Properties for `ImdsAccountDefaultsStackSet`: the settings and options of
 * `ImdsAccountDefaults`, which apply in every target account and Region, the
 * first deployment targets, and how the StackSet rolls out.
 */
export interface ImdsAccountDefaultsStackSetProps extends ImdsAccountDefaultsProps, ImdsStackSetTargets {
  /**
   * Make each given setting a parameter of the embedded template, with the
   * given value as its default and as the StackSet's parameter value, so that
   * `addStackInstances` can give other values to some OUs or accounts.
   *
   * Which settings are managed stays fixed (the ones given here); only their
   * values vary. Synth-time validation covers the values given in code; a value
   * changed outside of it (console, CLI) is checked by CloudFormation against
   * the parameter's allowed values, and again by the handler, which fails the
   * stack instance with the reason and writes nothing.
   *
   * @default false
   */
  readonly settingsAsParameters?: boolean;

  /**
   * Also roll out `ImdsInstanceUpgrade`, with these options, in every stack
   * instance: each target account and Region gets its own upgrade function,
   * schedule and role (with this StackSet's `logRetention`,
   * `permissionsBoundaryPolicyName`, `permissionsBoundary` and `rolePath`).
   * The options must be values, not tokens. The management account needs its
   * own stacks: `addInstanceUpgrade`.
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
   * `settingsOnDelete`) unless `removalPolicy` is `RETAIN`.
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
const EMBEDDED_DESCRIPTION = 'EC2 account-level instance metadata defaults, one stack instance per account and Region (cdk-imds-account-defaults)';
const DEFAULT_MAX_CONCURRENT_PERCENTAGE = 25;
const DEFAULT_FAILURE_TOLERANCE_PERCENTAGE = 10;
/** StackSetName: a letter, then letters, digits and hyphens, at most 128 characters. */
const STACK_SET_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;

/**
 * Rolls the `ImdsAccountDefaults` template out to the accounts of organizational
 * units, in several Regions, as a service-managed `AWS::CloudFormation::StackSet`.
 *
 * Deploy the stack that holds it to the organization's management account, or to
 * a delegated administrator for StackSets (`callAs: StackSetCallAs.DELEGATED_ADMIN`).
 * Trusted access between CloudFormation StackSets and AWS Organizations must be on.
 *
 * The template is the one `ImdsAccountDefaults` synthesizes, synthesized on its
 * own (no assets, no bootstrap version check: the handler is inline) and
 * embedded as `TemplateBody`. It creates an unnamed IAM role, so the StackSet
 * has the `CAPABILITY_IAM` capability. Its functions carry their plain, readable
 * code when the template stays within 40,960 bytes (80 % of TemplateBody's
 * 51,200) that way; otherwise (with `instanceUpgrade`, typically) they carry the
 * same code brotli-compressed, behind a short loader whose first line says how to
 * read it. Either way each function's `Description` names the library version and
 * the SHA-256 of the code it carries.
 *
 * Limits:
 * - StackSets never deploy to the management account: give it its own stack with
 *   `addAccountDefaults`.
 * - Operation preferences do not apply to auto-deployments.
 * - A StackSet operation can succeed in some accounts and fail in others (each
 *   stack instance rolls back on its own).
 * - Aspects of the app (`PermissionsBoundary.of`, `Tags.of`, cdk-nag packs, ...)
 *   never reach the embedded template, which is synthesized on its own when the
 *   construct is created: `permissionsBoundaryPolicyName` and `rolePath` set the
 *   role's boundary and path there. Tags do reach the stack instances another
 *   way: `Tags.of` tags the StackSet, and CloudFormation gives a StackSet's tags
 *   to its stacks, which propagate them to the resources that support tags.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-stackset.html
 */
export class ImdsAccountDefaultsStackSet extends Construct {
  /** The `AWS::CloudFormation::StackSet` resource. */
  public readonly resource: cloudformation.CfnStackSet;
  /** The StackSet's id (`Fn::GetAtt StackSetId`). */
  public readonly stackSetId: string;
  /** The StackSet's name. */
  public readonly stackSetName: string;
  /** The embedded template, as minified JSON: exactly what `TemplateBody` holds. */
  public readonly templateBody: string;

  private readonly accountDefaultsProps: ImdsAccountDefaultsProps;
  /** What the embedded template was synthesized with, the code form chosen included (read by test/nag3/check.js). */
  private readonly embeddedTemplateOptions: EmbeddedTemplateOptions;
  private readonly instanceUpgrade?: ImdsInstanceUpgradeOptions;
  private readonly settingsAsParameters: boolean;
  private readonly parameterKeys: ReadonlySet<keyof ImdsSettings>;
  private readonly instanceGroups: cloudformation.CfnStackSet.StackInstancesProperty[] = [];
  private readonly regionOrder: string[] = [];

  constructor(scope: Construct, id: string, props: ImdsAccountDefaultsStackSetProps) {
    super(scope, id);
    const fail = failer(this);

    // Validation first: nothing is created until every prop has been checked.
    validateSettings(this, props);
    for (const { prop } of SETTING_PROPS) {
      if (props[prop] !== undefined && Token.isUnresolved(props[prop])) {
        fail(`${prop} is a token (${String(props[prop])}); the StackSet's template is synthesized on its own, so settings must be known at synth time. To vary values per OU or account, use settingsAsParameters and addStackInstances({ settingOverrides })`);
      }
    }
    validateTargets(this, props);
    validateOperationPreferences(this, props);
    if (props.retainStacksOnAccountRemoval !== undefined && props.autoDeployment === false) {
      fail(`retainStacksOnAccountRemoval applies only with autoDeployment; got retainStacksOnAccountRemoval: ${props.retainStacksOnAccountRemoval} with autoDeployment: false`);
    }
    if (props.stackSetName !== undefined && !Token.isUnresolved(props.stackSetName) && !STACK_SET_NAME.test(props.stackSetName)) {
      fail(`stackSetName must start with a letter and hold only letters, digits and hyphens, at most 128 characters; got ${JSON.stringify(props.stackSetName)}`);
    }
    validateRoleOptions(this, props);
    validateStackSetBoundary(this, props);
    if (props.instanceUpgrade !== undefined) {
      instanceUpgradeConfig(this, props.instanceUpgrade, 'instanceUpgrade.');
    }
    warnOnContradictions(this, props);

    this.settingsAsParameters = props.settingsAsParameters ?? false;
    this.accountDefaultsProps = {
      httpTokens: props.httpTokens,
      httpTokensEnforced: props.httpTokensEnforced,
      httpPutResponseHopLimit: props.httpPutResponseHopLimit,
      httpEndpoint: props.httpEndpoint,
      instanceMetadataTags: props.instanceMetadataTags,
      removalPolicy: props.removalPolicy,
      settingsOnDelete: props.settingsOnDelete,
      skipIfManagedByDeclarativePolicy: props.skipIfManagedByDeclarativePolicy,
      readinessCheck: props.readinessCheck,
      logRetention: props.logRetention,
      permissionsBoundary: props.permissionsBoundary,
      permissionsBoundaryPolicyName: props.permissionsBoundaryPolicyName,
      rolePath: props.rolePath,
      driftGuard: props.driftGuard,
      driftCheckInterval: props.driftCheckInterval,
    };
    const given = SETTING_PROPS.filter(({ prop }) => props[prop] !== undefined).map(({ prop }) => prop);
    this.parameterKeys = new Set(this.settingsAsParameters ? given : []);
    this.instanceUpgrade = props.instanceUpgrade;

    const template = this.embedTemplate();
    this.embeddedTemplateOptions = {
      description: EMBEDDED_DESCRIPTION,
      settingsAsParameters: this.settingsAsParameters,
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
    this.resource = new cloudformation.CfnStackSet(this, 'Resource', {
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
      // The template creates an unnamed IAM role (the handler's).
      capabilities: ['CAPABILITY_IAM'],
      operationPreferences: {
        regionConcurrencyType: regionConcurrency,
        ...(regionConcurrency === StackSetRegionConcurrency.SEQUENTIAL
          ? { regionOrder: Lazy.list({ produce: () => this.regionOrder }) }
          : {}),
        ...(props.maxConcurrentCount !== undefined
          ? { maxConcurrentCount: props.maxConcurrentCount }
          : { maxConcurrentPercentage: props.maxConcurrentPercentage ?? DEFAULT_MAX_CONCURRENT_PERCENTAGE }),
        ...(props.failureToleranceCount !== undefined
          ? { failureToleranceCount: props.failureToleranceCount }
          : { failureTolerancePercentage: props.failureTolerancePercentage ?? DEFAULT_FAILURE_TOLERANCE_PERCENTAGE }),
        concurrencyMode: props.concurrencyMode ?? StackSetConcurrencyMode.SOFT_FAILURE_TOLERANCE,
      },
      parameters: template.parameters.length > 0
        ? template.parameters.map(({ key, value }) => ({ parameterKey: key, parameterValue: value }))
        : undefined,
      stackInstancesGroup: Lazy.any({ produce: () => this.instanceGroups }),
      templateBody: template.body,
    });
    this.stackSetId = this.resource.attrStackSetId;

    this.pushInstances(props);
  }

  /**
   * Deploys the StackSet to more organizational units or accounts, or to other
   * Regions, optionally with other setting values (`settingOverrides`, which
   * needs `settingsAsParameters`).
   */
  public addStackInstances(options: ImdsStackInstancesOptions): void {
    const fail = failer(this);
    validateTargets(this, options);
    const overrides = options.settingOverrides;
    if (overrides !== undefined) {
      if (!this.settingsAsParameters) {
        fail('settingOverrides needs settingsAsParameters: true, so that the settings are parameters of the StackSet\'s template');
      }
      const given = SETTING_PROPS.filter(({ prop }) => overrides[prop] !== undefined);
      if (given.length === 0) {
        fail('settingOverrides is empty; give at least one setting, or leave settingOverrides out to use the StackSet\'s values');
      }
      for (const { prop } of given) {
        if (!this.parameterKeys.has(prop)) {
          fail(`settingOverrides.${prop} overrides a setting the StackSet does not manage; only ${[...this.parameterKeys].join(', ')} can be overridden (give ${prop} to the StackSet to make it a parameter)`);
        }
        if (Token.isUnresolved(overrides[prop])) {
          fail(`settingOverrides.${prop} is a token (${String(overrides[prop])}); give the value itself`);
        }
      }
      try {
        validateSettings(this, overrides);
      } catch (err) {
        fail(`settingOverrides: ${(err as Error).message.replace(`[${this.node.path}] `, '')}`);
      }
      warnOnContradictions(this, { ...this.accountDefaultsProps, ...overrides });
    }
    this.pushInstances(options);
  }

  /**
   * Adds an `ImdsAccountDefaults` with this StackSet's settings (the values given
   * to the StackSet, not overrides) to the given scope.
   *
   * StackSets never deploy to the organization's management account; use this
   * to give it the same defaults, with a stack per Region deployed to it.
   *
   * @param scope a construct in a stack deployed to the management account (one stack per Region)
   * @param id the construct id; 'ImdsAccountDefaults' when left out
   */
  public addAccountDefaults(scope: Construct, id?: string): ImdsAccountDefaults {
    return new ImdsAccountDefaults(scope, id ?? 'ImdsAccountDefaults', this.accountDefaultsProps);
  }

  /**
   * Adds an `ImdsInstanceUpgrade` with this StackSet's `instanceUpgrade` options
   * (and its log retention, permissions boundary and role path) to the given scope:
   * the StackSet never deploys to the management account.
   *
   * @param scope a construct in a stack deployed to the management account (one stack per Region)
   * @param id the construct id; 'ImdsInstanceUpgrade' when left out
   */
  public addInstanceUpgrade(scope: Construct, id?: string): ImdsInstanceUpgrade {
    if (this.instanceUpgrade === undefined) {
      failer(this)('addInstanceUpgrade needs the instanceUpgrade option, whose options it uses');
    }
    const { logRetention, permissionsBoundary, permissionsBoundaryPolicyName, rolePath } = this.accountDefaultsProps;
    return new ImdsInstanceUpgrade(scope, id ?? 'ImdsInstanceUpgrade', {
      ...this.instanceUpgrade, logRetention, permissionsBoundary, permissionsBoundaryPolicyName, rolePath,
    });
  }

  /** Synthesizes the ImdsAccountDefaults template on its own; errors name this construct. */
  private embedTemplate(): EmbeddedTemplate {
    try {
      return synthesizeEmbeddedTemplate(this.accountDefaultsProps, {
        description: EMBEDDED_DESCRIPTION,
        settingsAsParameters: this.settingsAsParameters,
        instanceUpgrade: this.instanceUpgrade,
      });
    } catch (err) {
      throw new Error(`[${this.node.path}] cannot synthesize the ImdsAccountDefaults template for the StackSet: ${(err as Error).message}`);
    }
  }

  private pushInstances(options: ImdsStackInstancesOptions): void {
    const accounts = options.accountIds;
    this.instanceGroups.push({
      deploymentTargets: {
        organizationalUnitIds: options.organizationalUnitIds,
        ...(accounts !== undefined
          ? { accounts, accountFilterType: options.accountFilter ?? StackSetAccountFilter.INTERSECTION }
          : {}),
      },
      regions: options.regions,
      parameterOverrides: options.settingOverrides !== undefined ? this.parameterOverrides(options.settingOverrides) : undefined,
    });
    if (!Token.isUnresolved(options.regions)) {
      for (const region of options.regions) {
        if (!this.regionOrder.includes(region)) {
          this.regionOrder.push(region);
        }
      }
    }
  }

  private parameterOverrides(overrides: ImdsSettings): cloudformation.CfnStackSet.ParameterProperty[] {
    return SETTING_PROPS
      .filter(({ prop }) => overrides[prop] !== undefined)
      .map(({ prop, key }) => ({ parameterKey: key, parameterValue: String(overrides[prop]) }));
  }
}

/** Checks the deployment targets and Regions of the StackSet or of one addStackInstances call. */
function validateTargets(scope: Construct, targets: ImdsStackSetTargets): void {
  const fail = failer(scope);
  if (targets.organizationalUnitIds === undefined) {
    fail('organizationalUnitIds is required: a service-managed StackSet deploys to the accounts of organizational units (give the root id r-… to target the whole organization)');
  }
  validateIdList(scope, 'organizationalUnitIds', targets.organizationalUnitIds, [OU, ROOT],
    'give at least one OU id (ou-…) or the root id (r-…) to deploy to');
  if (targets.regions === undefined) {
    fail('regions is required: give at least one Region to deploy to');
  }
  validateRegions(scope, 'regions', targets.regions);
  if (targets.accountIds !== undefined) {
    validateIdList(scope, 'accountIds', targets.accountIds, [ACCOUNT],
      'leave accountIds out to deploy to every account of the organizational units');
  } else if (targets.accountFilter !== undefined) {
    fail(`accountFilter (${targets.accountFilter}) needs accountIds to filter with`);
  }
}

/** An AWS managed policy's ARN: the same policy in every account. */
const AWS_MANAGED_POLICY_ARN = /^arn:aws[a-z-]*:iam::aws:policy\/.+$/;

/**
 * The template deploys to many accounts: a permissions boundary given as a
 * policy object must be an AWS managed policy, known at synth time. A policy of
 * one account (or a token, such as an ARN built from this stack's account)
 * would not resolve in the member accounts: that is what
 * `permissionsBoundaryPolicyName` is for.
 */
function validateStackSetBoundary(scope: Construct, props: ImdsAccountDefaultsStackSetProps): void {
  const boundary = props.permissionsBoundary;
  if (boundary === undefined) {
    return;
  }
  const arn = boundary.managedPolicyArn;
  if (!isAwsManagedPolicyArn(scope, arn)) {
    failer(scope)(`permissionsBoundary must be an AWS managed policy (arn:aws:iam::aws:policy/…) for a StackSet, whose template deploys to every target account; got ${Token.isUnresolved(arn) ? `a token (${arn})` : JSON.stringify(arn)}. For a customer managed policy that each member account holds, give permissionsBoundaryPolicyName (its name, e.g. "ImdsBoundary" or "boundaries/ImdsBoundary")`);
  }
}

/**
 * Whether `arn` names an AWS managed policy: as text, or as the join
 * `ManagedPolicy.fromAwsManagedPolicyName` makes, whose only token is the
 * partition (which resolves in every account's stack too).
 */
function isAwsManagedPolicyArn(scope: Construct, arn: string): boolean {
  const resolved = Stack.of(scope).resolve(arn);
  if (typeof resolved === 'string') {
    return AWS_MANAGED_POLICY_ARN.test(resolved);
  }
  const join = resolved?.['Fn::Join'];
  if (!Array.isArray(join) || join[0] !== '' || !Array.isArray(join[1])) {
    return false;
  }
  const parts: unknown[] = join[1];
  const text = parts.map((part) => typeof part === 'string' ? part : (part as { Ref?: string })?.Ref === 'AWS::Partition' ? 'aws' : undefined);
  return !text.includes(undefined) && AWS_MANAGED_POLICY_ARN.test(text.join(''));
}

/** Checks the operation preferences: ranges, and count or percentage, not both. */
function validateOperationPreferences(scope: Construct, props: ImdsAccountDefaultsStackSetProps): void {
  const fail = failer(scope);
  const check = (prop: keyof ImdsAccountDefaultsStackSetProps, min: number, max: number | undefined) => {
    const value = props[prop] as number | undefined;
    if (value === undefined || Token.isUnresolved(value)) {
      return;
    }
    if (!Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
      fail(`${prop} must be an integer ${max !== undefined ? `from ${min} to ${max}` : `of at least ${min}`}; got ${JSON.stringify(value)}`);
    }
  };
  if (props.maxConcurrentCount !== undefined && props.maxConcurrentPercentage !== undefined) {
    fail(`give maxConcurrentCount (${props.maxConcurrentCount}) or maxConcurrentPercentage (${props.maxConcurrentPercentage}), not both`);
  }
  if (props.failureToleranceCount !== undefined && props.failureTolerancePercentage !== undefined) {
    fail(`give failureToleranceCount (${props.failureToleranceCount}) or failureTolerancePercentage (${props.failureTolerancePercentage}), not both`);
  }
  check('maxConcurrentPercentage', 1, 100);
  check('maxConcurrentCount', 1, undefined);
  check('failureTolerancePercentage', 0, 100);
  check('failureToleranceCount', 0, undefined);
}

/** A StackSet name from the construct path: unique in the app, starting with a letter. */
function defaultStackSetName(scope: Construct): string {
  const name = Names.uniqueResourceName(scope, { maxLength: 120 });
  return /^[a-zA-Z]/.test(name) ? name : `ImdsDefaults${name}`.slice(0, 128);
}
