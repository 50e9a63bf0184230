/**
 * The synth-time checks of ImdsAccountDefaultsStackSet and its targets. Every
 * error names the construct path, the prop and the value; tokens are left
 * alone where CloudFormation can take them, and refused where the value must
 * be known at synth (the embedded template is synthesized on its own).
 *
 * This module takes plain shapes, never the public types of the StackSet's
 * files, which import it (no import cycle).
 */
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { ACCOUNT, ACCOUNT_ID, OU, REGION, ROOT, validateIdList, validateRegions } from './organizations';
import { SETTING_PROPS, failer, isRetained, removalPolicyName, validatePolicyName, validateSettings } from './validate';
import { ImdsSettings } from '../settings';

/**
 * How the account ids of a deployment target combine with its OUs
 * (DeploymentTargets.AccountFilterType); no account ids means `NONE`, which is
 * not written.
 */
export type AccountFilterType = 'INTERSECTION' | 'DIFFERENCE' | 'UNION';

/** A target as the StackSet renders it (`ImdsStackSetTarget._bind`): one stack instance group without its overrides. */
export interface StackSetTargetConfig {
  /** The OUs or the root (a token: a list known at deploy time). */
  readonly organizationalUnitIds: string[];
  /** The Regions, in the order given (a token: a list known at deploy time). */
  readonly regions: string[];
  /** The account ids that `accountFilterType` combines with the OUs; undefined for every account of the OUs. */
  readonly accountIds?: string[];
  /** Set exactly when `accountIds` is. */
  readonly accountFilterType?: AccountFilterType;
}

/** The raw options of a target factory, as JavaScript may pass them (required lists may be missing). */
export interface RawTargetOptions {
  readonly organizationalUnitIds?: string[];
  readonly regions?: string[];
  readonly accountIds?: string[];
  readonly excludeAccountIds?: string[];
  readonly additionalAccountIds?: string[];
}

/**
 * Checks a target's lists and returns its configuration. `prefix` goes before
 * the option names in messages (`target.`); `factory` names the factory.
 */
export function bindTarget(scope: IConstruct, prefix: string, factory: 'fromOrganizationalUnits' | 'fromAccounts', options: RawTargetOptions): StackSetTargetConfig {
  const fail: (message: string) => never = failer(scope);
  const name = (option: string) => `${prefix}${option}`;
  const where = `ImdsStackSetTarget.${factory}`;

  const organizationalUnitIds = options.organizationalUnitIds;
  if (organizationalUnitIds === undefined) {
    fail(`${name('organizationalUnitIds')} is required (${where}): a service-managed StackSet deploys to the accounts of organizational units (give the root id r-… to target the whole organization)`);
  }
  validateIdList(scope, name('organizationalUnitIds'), organizationalUnitIds, [OU, ROOT],
    'give at least one OU id (ou-…) or the root id (r-…) to deploy to');
  const regions = options.regions;
  if (regions === undefined) {
    fail(`${name('regions')} is required (${where}): give at least one Region to deploy to`);
  }
  validateRegions(scope, name('regions'), regions);

  if (factory === 'fromAccounts') {
    const accountIds = options.accountIds;
    if (accountIds === undefined) {
      fail(`${name('accountIds')} is required (${where}); to deploy to every account of the OUs, use ImdsStackSetTarget.fromOrganizationalUnits`);
    }
    validateIdList(scope, name('accountIds'), accountIds, [ACCOUNT],
      'give at least one account id, or use ImdsStackSetTarget.fromOrganizationalUnits to deploy to every account of the OUs');
    return { organizationalUnitIds, regions, accountIds, accountFilterType: 'INTERSECTION' };
  }

  const { excludeAccountIds: exclude, additionalAccountIds: additional } = options;
  if (exclude !== undefined && additional !== undefined) {
    fail(`give ${name('excludeAccountIds')} or ${name('additionalAccountIds')}, not both: a deployment target has one account filter (DIFFERENCE or UNION); add a second target with addStackInstances for the other`);
  }
  if (exclude !== undefined) {
    validateIdList(scope, name('excludeAccountIds'), exclude, [ACCOUNT],
      'leave excludeAccountIds out to deploy to every account of the organizational units');
    return { organizationalUnitIds, regions, accountIds: exclude, accountFilterType: 'DIFFERENCE' };
  }
  if (additional !== undefined) {
    validateIdList(scope, name('additionalAccountIds'), additional, [ACCOUNT],
      'leave additionalAccountIds out to deploy to the accounts of the organizational units only');
    return { organizationalUnitIds, regions, accountIds: additional, accountFilterType: 'UNION' };
  }
  return { organizationalUnitIds, regions };
}

/** The operation preferences as the props give them. */
export interface OperationPreferenceProps {
  readonly maxConcurrentPercentage?: number;
  readonly maxConcurrentCount?: number;
  readonly failureTolerancePercentage?: number;
  readonly failureToleranceCount?: number;
}

/** Checks the operation preferences: ranges, and count or percentage, not both. */
export function validateOperationPreferences(scope: IConstruct, props: OperationPreferenceProps): void {
  const fail: (message: string) => never = failer(scope);
  const check = (prop: keyof OperationPreferenceProps, min: number, max: number | undefined) => {
    const value = props[prop];
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

/** StackSetName: a letter, then letters, digits and hyphens, at most 128 characters. */
const STACK_SET_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;

/** Checks stackSetName (a token is left to CloudFormation). */
export function validateStackSetName(scope: IConstruct, name: string | undefined): void {
  if (name !== undefined && !Token.isUnresolved(name) && !STACK_SET_NAME.test(name)) {
    failer(scope)(`stackSetName must start with a letter and hold only letters, digits and hyphens, at most 128 characters; got ${JSON.stringify(name)}`);
  }
}

/** Checks that retainStacksOnAccountRemoval comes with auto-deployment, which is what it applies to. */
export function validateAutoDeployment(
  scope: IConstruct, props: { readonly autoDeployment?: boolean; readonly retainStacksOnAccountRemoval?: boolean },
): void {
  if (props.retainStacksOnAccountRemoval !== undefined && props.autoDeployment === false) {
    failer(scope)(`retainStacksOnAccountRemoval applies only with autoDeployment; got retainStacksOnAccountRemoval: ${props.retainStacksOnAccountRemoval} with autoDeployment: false`);
  }
}

/** The names an `ImdsStackSetPermissionsBoundary` was made from (one of them is set). */
export interface StackSetBoundaryNames {
  readonly _policyName?: string;
  readonly _awsManagedPolicyName?: string;
}

/**
 * Checks the StackSet's permissions boundary: the name given to its factory
 * (an ARN is refused with a hint of its own: the member accounts need a name).
 */
export function validateStackSetBoundary(scope: IConstruct, boundary: StackSetBoundaryNames | undefined): void {
  if (boundary === undefined) {
    return;
  }
  const fail: (message: string) => never = failer(scope);
  const check = (factory: string, name: string | undefined, hint: string) => {
    if (name !== undefined && !Token.isUnresolved(name) && name.startsWith('arn:')) {
      fail(`permissionsBoundary: ImdsStackSetPermissionsBoundary.${factory} takes the policy's name, not its ARN (${hint}); got ${JSON.stringify(name)}`);
    }
    validatePolicyName(scope, `permissionsBoundary: ImdsStackSetPermissionsBoundary.${factory}`, name);
  };
  check('fromPolicyName', boundary._policyName,
    'each member account\'s role gets the policy of that name in its own account');
  check('fromAwsManagedPolicyName', boundary._awsManagedPolicyName,
    'e.g. "PowerUserAccess" or "service-role/AWSLambdaBasicExecutionRole"; the ARN is built with each account\'s partition');
}

/**
 * Checks that the options the member accounts get are known at synth: the
 * embedded template is synthesized on its own, and a token (a parameter or a
 * reference of the StackSet's stack) would mean nothing in it.
 */
export function validateKnownAtSynth(scope: IConstruct, options: Readonly<Record<string, unknown>>): void {
  const fail: (message: string) => never = failer(scope);
  const settings = new Set<string>(SETTING_PROPS.map(({ prop }) => prop));
  for (const [prop, value] of Object.entries(options)) {
    const unresolved = value instanceof Duration ? value.isUnresolved() : Token.isUnresolved(value);
    if (!unresolved) {
      continue;
    }
    const hint = settings.has(prop)
      ? 'To vary a setting per OU or account, give its value here and other values with addStackInstances(target, settingOverrides)'
      : 'Give the value itself';
    fail(`${prop} is a token (${String(value)}); the StackSet's template is synthesized on its own, so what the member accounts get must be known at synth time. ${hint}`);
  }
}

/**
 * settingsOnDelete says what a deliberate delete does: with a member removal
 * policy that retains, no such delete ever happens.
 */
export function validateMemberRemoval(scope: IConstruct, settingsOnDelete: string | undefined, memberRemovalPolicy: RemovalPolicy | undefined): void {
  if (settingsOnDelete !== undefined && memberRemovalPolicy !== undefined && isRetained(memberRemovalPolicy)) {
    failer(scope)(`settingsOnDelete applies only when CloudFormation may delete the member accounts' custom resources; got settingsOnDelete SettingsOnDelete.${settingsOnDelete} with memberRemovalPolicy ${removalPolicyName(memberRemovalPolicy)}: a retained resource is never deleted deliberately, and a delete that is part of a rollback always restores. Leave settingsOnDelete out, or use RemovalPolicy.DESTROY`);
  }
}

/**
 * Checks a stack instance group's setting overrides: not empty, only settings the
 * StackSet manages (its template's parameters), values known at synth and valid.
 */
export function validateSettingOverrides(scope: IConstruct, overrides: ImdsSettings, managed: ReadonlySet<keyof ImdsSettings>): void {
  const fail: (message: string) => never = failer(scope);
  const given = SETTING_PROPS.filter(({ prop }) => overrides[prop] !== undefined);
  if (given.length === 0) {
    fail('settingOverrides is empty; give at least one setting, or leave settingOverrides out to use the StackSet\'s values');
  }
  for (const { prop } of given) {
    if (!managed.has(prop)) {
      fail(`settingOverrides.${prop} overrides a setting the StackSet does not manage; only ${[...managed].join(', ')} can be overridden (give ${prop} to the StackSet to make it a parameter of its template)`);
    }
    if (Token.isUnresolved(overrides[prop])) {
      fail(`settingOverrides.${prop} is a token (${String(overrides[prop])}); give the value itself`);
    }
  }
  try {
    validateSettings(scope, overrides);
  } catch (err) {
    fail(`settingOverrides: ${(err as Error).message.replace(`[${scope.node.path}] `, '')}`);
  }
}

/** Checks the account and Region of a member account's metric (tokens are left alone). */
export function validateMemberEnv(scope: IConstruct, memberAccount: string, memberRegion: string): void {
  const fail: (message: string) => never = failer(scope);
  if (!Token.isUnresolved(memberAccount) && !ACCOUNT_ID.test(memberAccount)) {
    fail(`metricForMember: memberAccount must be a 12-digit account id; got ${JSON.stringify(memberAccount)}`);
  }
  if (!Token.isUnresolved(memberRegion) && !REGION.test(memberRegion)) {
    fail(`metricForMember: memberRegion must be a Region name such as "us-east-1"; got ${JSON.stringify(memberRegion)}`);
  }
}
