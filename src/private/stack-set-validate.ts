/**
 * The synth-time checks of ImdsAccountDefaultsStackSet and its targets. Every
 * error names the construct path, the prop and the value; tokens are left
 * alone where CloudFormation can take them, and refused where the value must
 * be known at synth (the embedded template is synthesized on its own).
 *
 * This module takes plain shapes, never the public types of the StackSet's
 * files, which import it (no import cycle).
 */
import { Annotations, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { ACCOUNT, ACCOUNT_ID, OU, REGION, ROOT, ROOT_ID, validateIdList, validateRegions } from './organizations';
import { SETTING_PROPS, failer, isRetained, removalPolicyName, validatePolicyName, validateSettings } from './validate';
import { ImdsSettings } from '../settings';

/**
 * How the account ids of a deployment target combine with its OUs
 * (DeploymentTargets.AccountFilterType); no account ids means `NONE`, which is
 * not written.
 */
export type AccountFilterType = 'INTERSECTION' | 'DIFFERENCE';

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
  /** Before the provider's refusal of UNION was found: refused with the reason (JavaScript callers may still pass it). */
  readonly additionalAccountIds?: unknown;
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

  if (options.additionalAccountIds !== undefined) {
    fail(`${name('additionalAccountIds')} is not an option: it would be the account filter UNION, which the StackSet resource provider refuses ("UNION is not a valid AccountFilterType"); add those accounts with addStackInstances(ImdsStackSetTarget.fromAccounts({ accountIds, organizationalUnitIds: <their OUs>, regions }))`);
  }
  const exclude = options.excludeAccountIds;
  if (exclude !== undefined) {
    validateIdList(scope, name('excludeAccountIds'), exclude, [ACCOUNT],
      'leave excludeAccountIds out to deploy to every account of the organizational units');
    return { organizationalUnitIds, regions, accountIds: exclude, accountFilterType: 'DIFFERENCE' };
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
 * policy that retains (the default), no such delete ever happens.
 */
export function validateMemberRemoval(scope: IConstruct, settingsOnDelete: string | undefined, memberRemovalPolicy: RemovalPolicy | undefined): void {
  if (settingsOnDelete === undefined) {
    return;
  }
  const fail: (message: string) => never = failer(scope);
  if (memberRemovalPolicy === undefined) {
    fail(`settingsOnDelete needs memberRemovalPolicy: RemovalPolicy.DESTROY; got settingsOnDelete SettingsOnDelete.${settingsOnDelete} without memberRemovalPolicy, whose default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE keeps the member accounts' settings when their stack instances are deleted (a retained resource is never deleted deliberately, and a delete that is part of a rollback always restores). Give memberRemovalPolicy: RemovalPolicy.DESTROY to reset or restore the settings on removal, or leave settingsOnDelete out`);
  }
  if (isRetained(memberRemovalPolicy)) {
    fail(`settingsOnDelete needs memberRemovalPolicy: RemovalPolicy.DESTROY; got settingsOnDelete SettingsOnDelete.${settingsOnDelete} with memberRemovalPolicy ${removalPolicyName(memberRemovalPolicy)}: a retained resource is never deleted deliberately, and a delete that is part of a rollback always restores. Leave settingsOnDelete out, or use RemovalPolicy.DESTROY`);
  }
}

/**
 * Checks setting values that replace the StackSet's (a stack instance group's
 * `settingOverrides`, a variant's `settingValues`; `what` names the argument):
 * not empty, only settings the StackSet manages (its template's parameters),
 * values known at synth and valid.
 */
export function validateSettingOverrides(
  scope: IConstruct, overrides: ImdsSettings, managed: ReadonlySet<keyof ImdsSettings>, what: 'settingOverrides' | 'settingValues' = 'settingOverrides',
): void {
  const fail: (message: string) => never = failer(scope);
  if (managed.size === 0) {
    fail(`${what}: this StackSet manages no setting (it rolls out only the readiness report or the instance upgrade), so its members have no ImdsAccountDefaults and nothing to override; leave ${what} out, or give the settings to the StackSet itself (then ${what} can override them)`);
  }
  const given = SETTING_PROPS.filter(({ prop }) => overrides[prop] !== undefined);
  if (given.length === 0) {
    fail(`${what} is empty; give at least one setting, or leave ${what} out to use the StackSet's values`);
  }
  for (const { prop } of given) {
    if (!managed.has(prop)) {
      fail(`${what}.${prop} overrides a setting the StackSet does not manage; only ${[...managed].join(', ')} can be overridden (give ${prop} to the StackSet to make it a parameter of its template)`);
    }
    if (Token.isUnresolved(overrides[prop])) {
      fail(`${what}.${prop} is a token (${String(overrides[prop])}); give the value itself`);
    }
  }
  try {
    validateSettings(scope, overrides);
  } catch (err) {
    fail(`${what}: ${(err as Error).message.replace(`[${scope.node.path}] `, '')}`);
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

/** A stack instance group as the checks across groups see it: its target and its setting overrides. */
export interface InstanceGroupShape {
  readonly target: StackSetTargetConfig;
  readonly overrides?: ImdsSettings;
}

/** The elements of a list known at synth: none of a token list, the others without their token elements. */
function knownElements(list: readonly string[]): string[] {
  return Token.isUnresolved(list) ? [] : list.filter((element) => !Token.isUnresolved(element));
}

/** How messages name the group at `index` of a StackSet's groups: the StackSet's target is the first. */
function groupName(index: number): string {
  return index === 0 ? 'stack instance group 1 (the target)' : `stack instance group ${index + 1} (addStackInstances)`;
}

/** A group's overrides as messages give them, in the order of SETTING_PROPS: equal texts, equal parameter sets. */
function describeOverrides(overrides: ImdsSettings | undefined): string {
  const given = SETTING_PROPS.filter(({ prop }) => overrides?.[prop] !== undefined);
  return given.length === 0 ? 'no overrides' : given.map(({ prop }) => `${prop}: ${overrides![prop]}`).join(', ');
}

/** Whether a group overrides any setting. */
function hasOverrides(overrides: ImdsSettings | undefined): boolean {
  return SETTING_PROPS.some(({ prop }) => overrides?.[prop] !== undefined);
}

/** The root id (r-…) a group targets, if any. */
function rootOf(group: InstanceGroupShape): string | undefined {
  return knownElements(group.target.organizationalUnitIds).find((id) => ROOT_ID.test(id));
}

/**
 * Checks a stack instance group against the StackSet's groups before it (values
 * known at synth; tokens are left out), as CloudFormation would refuse them at deploy:
 * - the same OU (or root) and Region in two groups;
 * - the same OU in two groups, either of them with overrides, while any group has
 *   an account filter (re-checked when the group added brings the first filter):
 *   the provider then keys parameter sets by OU across every Region and compares
 *   them by identity (findDeploymentParametersForOUs), so even equal overrides, or
 *   overrides in other Regions, are refused; only groups without overrides pass.
 */
export function validateNewInstanceGroup(scope: IConstruct, groups: readonly InstanceGroupShape[], added: InstanceGroupShape): void {
  const fail: (message: string) => never = failer(scope);
  const addedRegions = knownElements(added.target.regions);
  for (const ou of knownElements(added.target.organizationalUnitIds)) {
    groups.forEach((group, index) => {
      const region = knownElements(group.target.organizationalUnitIds).includes(ou)
        ? addedRegions.find((r) => knownElements(group.target.regions).includes(r))
        : undefined;
      if (region !== undefined) {
        fail(`target: ${ou} in ${region} is already a target of ${groupName(index)}; CloudFormation refuses the same OU and Region in two groups ("Stack instance [...] is duplicated"): give each OU and Region pair once`);
      }
    });
  }

  const all = [...groups, added];
  const filtered = all.findIndex((group) => group.target.accountFilterType !== undefined);
  if (filtered === -1) {
    return;
  }
  all.forEach((first, i) => all.slice(i + 1).forEach((second, offset) => {
    const j = i + 1 + offset;
    const ou = knownElements(first.target.organizationalUnitIds).find((id) => knownElements(second.target.organizationalUnitIds).includes(id));
    if (ou !== undefined && (hasOverrides(first.overrides) || hasOverrides(second.overrides))) {
      fail(`target: ${ou} is in ${groupName(i)} with ${describeOverrides(first.overrides)} and in ${groupName(j)} with ${describeOverrides(second.overrides)}, and ${groupName(filtered)} has an account filter (${all[filtered].target.accountFilterType}): CloudFormation then refuses the operation ("An OrganizationalUnitIds cannot be associated with more than one Parameters set"), even for equal overrides or other Regions. Leave the account filters out, or give the other values a StackSet of their own (addVariant)`);
    }
  }));
}

/**
 * Warns about a stack instance group that CloudFormation deploys, but not as
 * meant: the root in one group and an OU with other values in another, in a
 * shared Region (what the OU's accounts get is undefined); the management account
 * among the accounts added (`managementAccount`: the stack's own account with
 * callAs SELF, when known), which StackSets never deploy to.
 */
export function warnOnNewInstanceGroup(
  scope: IConstruct, groups: readonly InstanceGroupShape[], added: InstanceGroupShape, managementAccount: string | undefined,
): void {
  const addedIndex = groups.length;
  groups.forEach((group, index) => {
    const [rootIndex, root, otherIndex, other] = rootOf(added) !== undefined
      ? [addedIndex, added, index, group]
      : [index, group, addedIndex, added];
    const rootId = rootOf(root);
    const ou = knownElements(other.target.organizationalUnitIds).find((id) => !ROOT_ID.test(id));
    const region = knownElements(root.target.regions).find((r) => knownElements(other.target.regions).includes(r));
    const sameValues = describeOverrides(root.overrides) === describeOverrides(other.overrides);
    if (rootId === undefined || ou === undefined || region === undefined || sameValues) {
      return;
    }
    Annotations.of(scope).addWarningV2('cdk-imds-account-defaults:rootOverlapsOverrides',
      `${groupName(rootIndex)} targets the root ${rootId} with ${describeOverrides(root.overrides)}, and ${groupName(otherIndex)} targets ${ou} with ${describeOverrides(other.overrides)}, both in ${region}: the root holds the accounts of ${ou} too, and CloudFormation creates the groups in no defined order, so which values those accounts get is undefined. Give each set of values a StackSet of its own (addVariant), each over OUs that do not overlap.`);
  });

  const { accountIds, accountFilterType } = added.target;
  if (managementAccount !== undefined && accountIds !== undefined && accountFilterType !== 'DIFFERENCE' && knownElements(accountIds).includes(managementAccount)) {
    Annotations.of(scope).addWarningV2('cdk-imds-account-defaults:managementAccountTargeted',
      `target.accountIds lists ${managementAccount}, this stack's account: with callAs SELF it is the organization's management account, which StackSets never deploy to, so it gets no stack instance. Give it the same settings with addManagementAccount.`);
  }
}

/** Another StackSet of the same definition (`addVariant`): its path and its groups. */
export interface VariantShape {
  readonly path: string;
  readonly groups: readonly InstanceGroupShape[];
}

/**
 * Checks a group of a StackSet against the other StackSets of the same definition
 * (`addVariant`): no OU in two of them, and no root in one while another exists;
 * else two StackSets would deploy two ImdsAccountDefaults to the same accounts.
 */
export function validateVariantTarget(scope: IConstruct, added: StackSetTargetConfig, variants: readonly VariantShape[]): void {
  const fail: (message: string) => never = failer(scope);
  const addedOus = knownElements(added.organizationalUnitIds);
  for (const variant of variants) {
    const ous = variant.groups.flatMap((group) => knownElements(group.target.organizationalUnitIds));
    const root = [...addedOus, ...ous].find((id) => ROOT_ID.test(id));
    if (root !== undefined) {
      fail(`target: ${addedOus.includes(root) ? 'this StackSet' : variant.path} targets the root ${root}, which holds every account, and ${addedOus.includes(root) ? variant.path : 'this StackSet'} is a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give the StackSets of one definition OUs that do not overlap, not the root`);
    }
    const shared = addedOus.find((ou) => ous.includes(ou));
    if (shared !== undefined) {
      fail(`target: ${shared} is also a target of ${variant.path}, a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give each OU to one of them`);
    }
  }
}

/**
 * Checks canaryRegions: Region names known at synth, no duplicates, and a Region
 * order to put them in (SEQUENTIAL). That each is a Region the StackSet deploys
 * to is checked at synth (`canaryRegionErrors`): groups may still be added.
 */
export function validateCanaryRegions(scope: IConstruct, canaryRegions: string[] | undefined, regionConcurrency: string): void {
  if (canaryRegions === undefined) {
    return;
  }
  const fail: (message: string) => never = failer(scope);
  if (Token.isUnresolved(canaryRegions)) {
    fail(`canaryRegions is a token (${String(canaryRegions)}); give the Region names: the Region order is written at synth`);
  }
  validateIdList(scope, 'canaryRegions', canaryRegions, [{ name: 'Region names such as "us-east-1"', pattern: REGION }],
    'leave canaryRegions out to deploy to the Regions in the order the targets name them');
  if (regionConcurrency === 'PARALLEL') {
    fail(`canaryRegions applies only with regionConcurrency StackSetRegionConcurrency.SEQUENTIAL (the default); got canaryRegions ${JSON.stringify(canaryRegions)} with StackSetRegionConcurrency.PARALLEL, which deploys to every Region at once`);
  }
}

/** The errors of canaryRegions once every group is known: each must be a Region of a group (one given as a value). */
export function canaryRegionErrors(canaryRegions: readonly string[], groups: readonly InstanceGroupShape[]): string[] {
  const targeted = [...new Set(groups.flatMap((group) => knownElements(group.target.regions)))];
  return knownElements(canaryRegions)
    .filter((region) => !targeted.includes(region))
    .map((region) => `canaryRegions lists ${JSON.stringify(region)}, which no stack instance group targets (the Regions of the target and of addStackInstances: ${targeted.join(', ')}; Regions given as tokens do not count, they are not known at synth); a canary Region must be one the StackSet deploys to`);
}

/** The ImdsAccountDefaults options that only configure the settings: meaningless in a StackSet without any. */
const SETTINGS_ONLY_OPTIONS = ['settingsOnDelete', 'skipIfManagedByDeclarativePolicy', 'readinessCheck', 'driftGuard', 'driftCheckInterval'] as const;

/**
 * What a StackSet rolls out: at least one of the settings, the readiness report
 * or the instance upgrade. Without settings, the members have no
 * ImdsAccountDefaults, so its options would do nothing: refused.
 */
export function validateStackSetContents(
  scope: IConstruct,
  props: ImdsSettings
    & { readonly [K in (typeof SETTINGS_ONLY_OPTIONS)[number]]?: unknown }
    & { readonly readinessReport?: unknown; readonly instanceUpgrade?: unknown },
): boolean {
  const fail: (message: string) => never = failer(scope);
  const withSettings = SETTING_PROPS.some(({ prop }) => props[prop] !== undefined);
  if (withSettings && props.readinessReport !== undefined && props.instanceUpgrade !== undefined) {
    // Each function carries its code inline: three functions' code does not fit one TemplateBody.
    fail('readinessReport cannot be combined with both settings and instanceUpgrade in one StackSet: each member would carry three functions\' code inline, over the 51,200-byte TemplateBody limit. Roll out the dry run as a StackSet of its own (readinessReport, optionally with instanceUpgrade, and no setting), and the settings in another');
  }
  if (withSettings) {
    return true;
  }
  if (props.readinessReport === undefined && props.instanceUpgrade === undefined) {
    fail(`a StackSet must roll out something: give at least one setting (${SETTING_PROPS.map(({ prop }) => prop).join(', ')}), readinessReport (the dry run), or instanceUpgrade; got none of them`);
  }
  const meaningless = SETTINGS_ONLY_OPTIONS.filter((option) => props[option] !== undefined);
  if (meaningless.length > 0) {
    fail(`${meaningless.join(', ')} ${meaningless.length === 1 ? 'applies' : 'apply'} only to the settings, and this StackSet manages none (its members get only ${[props.readinessReport !== undefined ? 'the readiness report' : undefined, props.instanceUpgrade !== undefined ? 'the instance upgrade' : undefined].filter((x) => x).join(' and ')}); give a setting, or leave ${meaningless.length === 1 ? 'it' : 'them'} out`);
  }
  return false;
}
