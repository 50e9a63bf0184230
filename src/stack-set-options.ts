import { IConstruct } from 'constructs';
import { ImdsAccountDefaults } from './imds-account-defaults';
import { ImdsInstanceUpgrade } from './imds-instance-upgrade';
import { ImdsReadinessReport } from './imds-readiness-report';
import { StackSetTargetConfig, bindTarget } from './private/stack-set-validate';
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
 * Options for `ImdsStackSetTarget.fromOrganizationalUnits`: every account of
 * organizational units, optionally with some accounts left out or added.
 */
export interface ImdsOrganizationalUnitsTargetOptions {
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
   * Accounts of the organizational units to leave out (account filter
   * `DIFFERENCE`).
   *
   * There is no option for accounts besides those of the OUs (account filter
   * `UNION`): the StackSet resource provider's validation refuses `UNION`
   * ("UNION is not a valid AccountFilterType", its public source, Validator); add
   * them as another group instead (`addStackInstances` with `fromAccounts` and
   * their OUs).
   *
   * @default - no account is left out
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/account-level-targets.html
   */
  readonly excludeAccountIds?: string[];
}

/**
 * Options for `ImdsStackSetTarget.fromAccounts`: single accounts, selected
 * through the organizational units that hold them.
 */
export interface ImdsAccountsTargetOptions {
  /**
   * The accounts to deploy to (account filter `INTERSECTION`): only those of them
   * that are in `organizationalUnitIds` get a stack instance.
   *
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/account-level-targets.html
   */
  readonly accountIds: string[];

  /**
   * The organizational units (`ou-…`) or the root (`r-…`) that hold the accounts:
   * a service-managed StackSet always selects accounts through their OUs. The
   * root selects an account wherever it is.
   */
  readonly organizationalUnitIds: string[];

  /**
   * The Regions to deploy to (a stack instance per target account and Region).
   */
  readonly regions: string[];
}

/**
 * Where stack instances of `ImdsAccountDefaultsStackSet` are created: accounts
 * of organizational units, in Regions. Given to the StackSet's `target`, and to
 * `addStackInstances` for more groups of stack instances.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudformation-stackset-deploymenttargets.html
 */
export abstract class ImdsStackSetTarget {
  /**
   * Every account of the given organizational units (or of the whole
   * organization, given its root), optionally without some accounts
   * (`excludeAccountIds`).
   */
  public static fromOrganizationalUnits(options: ImdsOrganizationalUnitsTargetOptions): ImdsStackSetTarget {
    return new FactoryTarget('fromOrganizationalUnits', options);
  }

  /**
   * Single accounts, selected through the organizational units that hold them
   * (account filter `INTERSECTION`): give the root to select them wherever they are.
   *
   * The filter is always `INTERSECTION`, never CloudFormation's `NONE`, because
   * with an account filter a group deploys only to the accounts it names: the
   * other accounts of its OUs get no stack instance from it. Changing a group of
   * whole OUs into this one deletes the stack instances of every other account of
   * those OUs (their settings stay as they are while `memberRemovalPolicy`
   * retains them, the default). To deploy to every account of some OUs and to
   * single accounts elsewhere, give the StackSet both: a
   * `fromOrganizationalUnits` target, and `addStackInstances` with this one over
   * the other accounts' OUs.
   */
  public static fromAccounts(options: ImdsAccountsTargetOptions): ImdsStackSetTarget {
    return new FactoryTarget('fromAccounts', options);
  }

  /** @internal */
  protected constructor() {}

  /**
   * Checks the target (errors name `scope`'s path and the option, after
   * `prefix`) and returns it as one stack instance group's targets and Regions.
   * @internal
   */
  public abstract _bind(scope: IConstruct, prefix: string): StackSetTargetConfig;
}

class FactoryTarget extends ImdsStackSetTarget {
  constructor(
    private readonly factory: 'fromOrganizationalUnits' | 'fromAccounts',
    private readonly options: ImdsOrganizationalUnitsTargetOptions | ImdsAccountsTargetOptions,
  ) {
    super();
  }
  public _bind(scope: IConstruct, prefix: string): StackSetTargetConfig {
    // JavaScript callers may leave required options out (or pass nothing): bindTarget says which.
    return bindTarget(scope, prefix, this.factory, this.options ?? {});
  }
}

/**
 * What `ImdsAccountDefaultsStackSet.addManagementAccount` adds to the
 * management account's stack: the StackSet never deploys to that account.
 */
export interface ImdsManagementAccountResources {
  /**
   * The account's `ImdsAccountDefaults`, with the StackSet's options (id `ImdsAccountDefaults`).
   *
   * @default - none: the StackSet manages no setting (only `readinessReport` or `instanceUpgrade`)
   */
  readonly accountDefaults?: ImdsAccountDefaults;

  /**
   * The account's `ImdsInstanceUpgrade`, with the StackSet's `instanceUpgrade`
   * options (id `ImdsInstanceUpgrade`).
   *
   * @default - none: the StackSet has no `instanceUpgrade`
   */
  readonly instanceUpgrade?: ImdsInstanceUpgrade;

  /**
   * The account's `ImdsReadinessReport`, with the StackSet's `readinessReport`
   * options (id `ImdsReadinessReport`).
   *
   * @default - none: the StackSet has no `readinessReport`
   */
  readonly readinessReport?: ImdsReadinessReport;
}

/**
 * Options for `ImdsAccountDefaultsStackSet.addVariant`: what a variant has of its
 * own; every other prop is the original StackSet's.
 */
export interface ImdsStackSetVariantOptions {
  /**
   * Where the variant's first stack instances go (more with the variant's
   * `addStackInstances`). No OU of it may be a target of another StackSet of the
   * same definition, and the root only when no other StackSet of it exists.
   */
  readonly target: ImdsStackSetTarget;

  /**
   * Values that replace the original StackSet's, for settings it manages (a
   * setting it does not manage is an error): the variant's own values, which
   * accounts that join its OUs later get too.
   *
   * @default - the original StackSet's values
   */
  readonly settingValues?: ImdsSettings;

  /**
   * The name of the variant's StackSet. Changing it replaces that StackSet,
   * which deletes and recreates every stack instance.
   *
   * @default - a name derived from the variant's construct path
   */
  readonly stackSetName?: string;

  /**
   * The description of the variant's StackSet.
   *
   * @default - the original StackSet's description
   */
  readonly description?: string;

  /**
   * The variant's canary Regions, deployed first (each must be a Region the
   * variant targets).
   *
   * @default - the original StackSet's canary Regions that the variant's `target` names, in their order
   */
  readonly canaryRegions?: string[];
}
