/**
 * A model of the AWS::CloudFormation::StackSet resource provider (service-managed
 * permissions): which StackSets API calls its Create, Update and Delete handlers
 * make, in which order, and which stack instances ((account, Region) pairs of an
 * organization) each call creates, updates or deletes.
 *
 * Read from the provider's public source, aws-cloudformation/
 * aws-cloudformation-resource-providers-cloudformation at 7245f76 (2025-03-03),
 * under aws-cloudformation-stackset/src/main/java/software/amazon/cloudformation/stackset/
 * (not copied; each rule below names the file and method it follows):
 *
 * - UpdateHandler.handleRequest: updateManagedExecution, then
 *   deleteStackInstances, then updateStackSet, then createStackInstances, then
 *   updateStackInstances. Each step starts an operation and waits until it
 *   SUCCEEDED (BaseHandlerStd.isOperationStabilized) before the next: every
 *   delete is finished before the first create begins.
 * - DeleteHandler.handleRequest: deleteStackInstances of every group
 *   (InstancesAnalyzer.analyzeForDelete, or AltResourceModelAnalyzer with the
 *   model as previous and nothing current), then DeleteStackSet.
 * - CreateHandler.handleRequest: CreateStackSet, then createStackInstances.
 * - BaseHandlerStd.analyzeTemplate: when the previous or the desired model has
 *   any group with an AccountFilterType (Comparator.isAccountLevelTargetingEnabled;
 *   an explicit NONE counts), AltResourceModelAnalyzer decides; otherwise
 *   InstancesAnalyzer.
 * - InstancesAnalyzer.analyzeForUpdate: stack instances are (OU, Region) pairs
 *   (util/StackInstance: equality leaves the parameters out); pairs only in
 *   the previous model are deleted, pairs only in the desired one created,
 *   shared pairs whose ParameterOverrides differ (Comparator.equals: the same
 *   parameters in any order) updated. flattenStackInstancesGroup refuses a pair
 *   given twice ("Stack instance [<ou>,<region>] is duplicated").
 *   aggregateStackInstances groups the pairs into calls (by target and
 *   overrides, then by Region set and overrides).
 * - InstancesAnalyzer.analyzeForCreate / analyzeForDelete: one group is sent as
 *   it is; several are flattened and aggregated as above.
 * - AltResourceModelAnalyzer.analyze: per Region (OperationPreferences.RegionOrder
 *   first, then the order the groups name them: regroupStackInstancesByRegion):
 *   every group of a Region only in the previous model is deleted with its
 *   targets, every group of a Region only in the desired one created; a shared
 *   Region goes to AltStackInstancesCalculator. findDeploymentParametersForOUs
 *   refuses an OU of the desired model that two groups name unless neither has
 *   ParameterOverrides ("An OrganizationalUnitIds cannot be associated with more
 *   than one Parameters set"): it compares the groups' parameter sets by
 *   reference (`!=`), so two groups with equal overrides are refused too.
 *   Validator.validateServiceManagedDeploymentTarget (both models): OUs
 *   required; the filter one of NONE, INTERSECTION, DIFFERENCE ("UNION is not
 *   a valid AccountFilterType": the schema lists UNION, this source refuses it;
 *   its own test, AltResourceModelAnalyzerTest.test_Invalid_Alt_Model, says so);
 *   NONE with accounts, or a filter without accounts, refused.
 * - AltStackInstancesCalculator (one Region): per OU, the groups' targets are
 *   merged (mergeSameFilters: INTERSECTION accounts united, DIFFERENCE accounts
 *   intersected; mergeDifferentFilters: NONE wins, INTERSECTION with DIFFERENCE
 *   becomes DIFFERENCE of (diff - inter)). OUs only in the previous model are
 *   deleted, OUs only in the desired one created with the OU's overrides, and a
 *   shared OU gets the deletes, creates and updates of
 *   constructTargetSetForSharedOu (nine cases of previous × desired filter; a
 *   shared OU is always updated, overrides changed or not). addToInstancesSet
 *   drops an INTERSECTION without accounts and turns a DIFFERENCE without
 *   accounts into NONE.
 * - Comparator.isStackSetConfigEquals: UpdateStackSet is called only when the
 *   tags, AdministrationRoleARN, Description, ExecutionRoleName, TemplateBody,
 *   Parameters (any order) or AutoDeployment differ, or a TemplateURL is given.
 *   UpdateStackSet names no targets (RequestTranslator.updateStackSetRequest):
 *   every stack instance of the StackSet is updated.
 * - RequestTranslator.deleteStackInstancesRequest sets no RetainStacks: the
 *   member stacks are deleted (RetainStacks false). PropertyTranslator.
 *   translateToSdkParameters sends an empty list for a group without overrides:
 *   an update then sets the instance back to the StackSet's values
 *   (UpdateStackInstances reference: "specify a parameter list but do not
 *   include the parameter in the list").
 *
 * What the model simplifies (said here so no test relies on it being real):
 * - Only SERVICE_MANAGED StackSets with TemplateBody (no TemplateURL, no
 *   AccountsUrl); tags are not compared (the construct sets none on the StackSet).
 * - The order of calls within one phase: the provider keeps them in HashSets
 *   (InstancesAnalyzer) whose order is not defined; the model keeps the order
 *   the groups first name them (the AltResourceModelAnalyzer path keeps its
 *   LinkedHashSet order: Regions only in one model first).
 * - An operation runs its stack instances one at a time: Regions in
 *   OperationPreferences.RegionOrder and then the call's order (the schema
 *   makes Regions, OUs and StackInstancesGroup unordered sets, insertionOrder
 *   false: without a RegionOrder the real order is not defined), accounts in the
 *   organization's order (CloudFormation runs up to MaxConcurrent accounts at a
 *   time, and Regions in parallel unless SEQUENTIAL). Failures, failure
 *   tolerance and retries are not modelled: every instance operation succeeds
 *   as far as the StackSet is concerned (the custom resource's own answer is the
 *   harness's business).
 * - A CreateStackInstances for an account and Region that already has an
 *   instance (overlapping targets: the root and a child OU) updates it with the
 *   call's overrides; the StackSets documentation does not say what happens.
 * - An UpdateStackInstances or DeleteStackInstances of an account and Region
 *   without an instance does nothing (the provider treats
 *   StackInstanceNotFoundException of a delete as success).
 * - The UpdateStackSet that updateManagedExecution sends (UsePreviousTemplate)
 *   is assumed to change no stack instance.
 * - Auto-deployment (accounts joining or leaving OUs) is not modelled: the
 *   instances before an update are those the previous model's Create made.
 * - UNION (refused by the provider, see above) is expanded by StackSetService as
 *   the StackSets API documents it (the OUs' accounts and the listed accounts),
 *   for callers that model the service directly.
 */

/** A StackSet parameter (Parameters, ParameterOverrides). */
export interface StackSetParameter {
  readonly ParameterKey: string;
  readonly ParameterValue: string;
}

/** DeploymentTargets as the synthesized resource has them. */
export interface DeploymentTargets {
  readonly OrganizationalUnitIds?: readonly string[];
  readonly Accounts?: readonly string[];
  readonly AccountFilterType?: string;
}

/** One StackInstancesGroup entry (also the shape of one stack-instance call's targets). */
export interface StackInstancesGroup {
  readonly DeploymentTargets: DeploymentTargets;
  readonly Regions: readonly string[];
  readonly ParameterOverrides?: readonly StackSetParameter[];
}

/** The properties of an AWS::CloudFormation::StackSet resource the model reads. */
export interface StackSetProperties {
  readonly StackSetName?: string;
  readonly PermissionModel?: string;
  readonly TemplateBody?: string;
  readonly TemplateURL?: string;
  readonly Parameters?: readonly StackSetParameter[];
  readonly StackInstancesGroup?: readonly StackInstancesGroup[];
  readonly AutoDeployment?: unknown;
  readonly OperationPreferences?: { readonly RegionOrder?: readonly string[]; readonly [key: string]: unknown };
  readonly ManagedExecution?: { readonly Active?: boolean };
  readonly Description?: string;
  readonly AdministrationRoleARN?: string;
  readonly ExecutionRoleName?: string;
  readonly [key: string]: unknown;
}

/** One StackSets API call the provider makes. */
export type ProviderCall =
  | {
    readonly action: 'CreateStackInstances' | 'UpdateStackInstances';
    readonly regions: readonly string[];
    readonly deploymentTargets: DeploymentTargets;
    /** As sent: an empty list for a group without overrides (PropertyTranslator.translateToSdkParameters). */
    readonly parameterOverrides: readonly StackSetParameter[];
  }
  | {
    readonly action: 'DeleteStackInstances';
    readonly regions: readonly string[];
    readonly deploymentTargets: DeploymentTargets;
    /** Never set by the provider: the member stacks are deleted. */
    readonly retainStacks: false;
  }
  | {
    readonly action: 'UpdateStackSet';
    /** true: the managed-execution update (UsePreviousTemplate), which the model assumes changes no instance. */
    readonly managedExecutionOnly: boolean;
    readonly templateBody?: string;
    readonly parameters: readonly StackSetParameter[];
  }
  | { readonly action: 'CreateStackSet'; readonly templateBody?: string; readonly parameters: readonly StackSetParameter[] }
  | { readonly action: 'DeleteStackSet' };

/** What the provider refuses (CfnInvalidRequestException), with its message. */
export class StackSetProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackSetProviderError';
  }
}

// ---------------------------------------------------------------------------
// The organization
// ---------------------------------------------------------------------------

/** An OU (or the root) with its own accounts and child OUs. */
export interface OrganizationalUnit {
  /** `r-…` for the root, `ou-…` for an OU. */
  readonly id: string;
  readonly accounts?: readonly string[];
  readonly children?: readonly OrganizationalUnit[];
}

/** An organization: the root, its OUs (nested) and accounts, and the management account (never a StackSet target). */
export class Organization {
  private readonly units = new Map<string, OrganizationalUnit>();
  private readonly parents = new Map<string, string | undefined>();
  private readonly order: string[] = [];

  constructor(public readonly root: OrganizationalUnit, public readonly managementAccount?: string) {
    const visit = (unit: OrganizationalUnit, parent?: string) => {
      if (this.units.has(unit.id)) {
        throw new Error(`OU ${unit.id} appears twice in the organization`);
      }
      this.units.set(unit.id, unit);
      this.parents.set(unit.id, parent);
      for (const account of unit.accounts ?? []) {
        if (this.order.includes(account)) {
          throw new Error(`account ${account} is in two OUs`);
        }
        this.order.push(account);
      }
      (unit.children ?? []).forEach((child) => visit(child, unit.id));
    };
    visit(root);
    if (managementAccount !== undefined && !root.accounts?.includes(managementAccount) && !this.order.includes(managementAccount)) {
      this.order.unshift(managementAccount);
    }
  }

  /** Every account, management account included, in the order of the tree (depth first). */
  public get accounts(): string[] {
    return [...this.order];
  }

  /** The accounts a StackSet can deploy to: every account but the management account. */
  public get memberAccounts(): string[] {
    return this.order.filter((a) => a !== this.managementAccount);
  }

  /** The OU's accounts, nested OUs included, management account left out (StackSets never deploy to it). */
  public accountsOf(ouId: string): string[] {
    const unit = this.units.get(ouId);
    if (!unit) {
      throw new StackSetProviderError(`OU ${ouId} is not in the organization`);
    }
    const found: string[] = [];
    const visit = (u: OrganizationalUnit) => {
      found.push(...(u.accounts ?? []));
      (u.children ?? []).forEach(visit);
    };
    visit(unit);
    return this.sorted(found.filter((a) => a !== this.managementAccount));
  }

  /** The parent of an OU (undefined for the root). */
  public parentOf(ouId: string): string | undefined {
    return this.parents.get(ouId);
  }

  /**
   * The accounts a deployment target selects (StackSets API, DeploymentTargets
   * and the account-level targeting guide): NONE every account of the OUs,
   * INTERSECTION the listed accounts that are in them, DIFFERENCE the OUs'
   * accounts but the listed ones, UNION the OUs' accounts and the listed ones.
   */
  public resolve(targets: DeploymentTargets): string[] {
    const inOus = new Set((targets.OrganizationalUnitIds ?? []).flatMap((ou) => this.accountsOf(ou)));
    const listed = new Set(targets.Accounts ?? []);
    const filter = targets.AccountFilterType ?? 'NONE';
    let selected: string[];
    switch (filter) {
      case 'NONE': selected = [...inOus]; break;
      case 'INTERSECTION': selected = [...inOus].filter((a) => listed.has(a)); break;
      case 'DIFFERENCE': selected = [...inOus].filter((a) => !listed.has(a)); break;
      case 'UNION': selected = [...new Set([...inOus, ...listed])].filter((a) => this.order.includes(a)); break;
      default: throw new StackSetProviderError(`${filter} is not a valid AccountFilterType`);
    }
    return this.sorted(selected.filter((a) => a !== this.managementAccount));
  }

  private sorted(accounts: string[]): string[] {
    return [...new Set(accounts)].sort((a, b) => this.order.indexOf(a) - this.order.indexOf(b));
  }
}

// ---------------------------------------------------------------------------
// The provider's analyzers: which calls each handler makes
// ---------------------------------------------------------------------------

const NONE = 'NONE';
const INTER = 'INTERSECTION';
const DIFF = 'DIFFERENCE';

/** A group with its identity (the provider compares parameter sets by reference in findDeploymentParametersForOUs). */
interface Group {
  readonly index: number;
  readonly targets: DeploymentTargets;
  readonly regions: readonly string[];
  readonly overrides?: readonly StackSetParameter[];
}

/** One stack-instance call before translation: a Region set, targets and overrides (the provider's StackInstances). */
interface InstancesCall {
  readonly regions: string[];
  readonly targets: DeploymentTargets;
  readonly overrides?: readonly StackSetParameter[];
}

function groupsOf(model: StackSetProperties | undefined): Group[] {
  return (model?.StackInstancesGroup ?? []).map((g, index) => ({
    index, targets: g.DeploymentTargets, regions: g.Regions, overrides: g.ParameterOverrides,
  }));
}

function checkModel(model: StackSetProperties | undefined): void {
  if (model && model.PermissionModel !== 'SERVICE_MANAGED') {
    throw new Error(`PermissionModel ${model.PermissionModel}: only SERVICE_MANAGED StackSets are modelled`);
  }
  if (model?.TemplateURL !== undefined) {
    throw new Error('TemplateURL: only TemplateBody is modelled');
  }
}

/** Comparator.isAccountLevelTargetingEnabled. */
export function isAccountLevelTargetingEnabled(model: StackSetProperties | undefined): boolean {
  return (model?.StackInstancesGroup ?? []).some((g) => g.DeploymentTargets?.AccountFilterType !== undefined);
}

/** Comparator.equals for collections: both absent, or the same elements in any order. */
function sameParameters(a: readonly StackSetParameter[] | undefined, b: readonly StackSetParameter[] | undefined): boolean {
  if (a === undefined || b === undefined) {
    return a === b;
  }
  const key = (p: StackSetParameter) => `${p.ParameterKey}=${p.ParameterValue}`;
  const sa = new Set(a.map(key));
  const sb = new Set(b.map(key));
  return a.length === b.length && [...sa].every((k) => sb.has(k)) && [...sb].every((k) => sa.has(k));
}

function parametersKey(p: readonly StackSetParameter[] | undefined): string {
  return p === undefined ? 'null' : JSON.stringify([...p].map((x) => [x.ParameterKey, x.ParameterValue]).sort());
}

// --- InstancesAnalyzer (no account filter in either model) ---

interface FlatInstance {
  readonly region: string;
  readonly target: string;
  readonly overrides?: readonly StackSetParameter[];
}

/** InstancesAnalyzer.flattenStackInstancesGroup. */
function flatten(groups: readonly Group[]): FlatInstance[] {
  const flat: FlatInstance[] = [];
  for (const group of groups) {
    for (const region of group.regions) {
      const ous = group.targets.OrganizationalUnitIds ?? [];
      if (ous.length === 0) {
        throw new StackSetProviderError('OrganizationalUnitIds should be specified in DeploymentTargets in [SERVICE_MANAGED] model');
      }
      for (const target of new Set(ous)) {
        if (flat.some((f) => f.region === region && f.target === target)) {
          throw new StackSetProviderError(`Stack instance [${target},${region}] is duplicated`);
        }
        flat.push({ region, target, overrides: group.overrides });
      }
    }
  }
  return flat;
}

/** InstancesAnalyzer.aggregateStackInstances (groupInstancesByTargets, then aggregateInstancesByRegions); first-appearance order. */
function aggregate(flat: readonly FlatInstance[]): InstancesCall[] {
  const byTarget = new Map<string, { target: string; regions: string[]; overrides?: readonly StackSetParameter[] }>();
  for (const f of flat) {
    const key = `${f.target}|${parametersKey(f.overrides)}`;
    const entry = byTarget.get(key);
    if (entry) {
      entry.regions.push(f.region);
    } else {
      byTarget.set(key, { target: f.target, regions: [f.region], overrides: f.overrides });
    }
  }
  const byRegions = new Map<string, { regions: string[]; ous: string[]; overrides?: readonly StackSetParameter[] }>();
  for (const e of byTarget.values()) {
    const key = `${[...e.regions].sort().join(',')}|${parametersKey(e.overrides)}`;
    const entry = byRegions.get(key);
    if (entry) {
      entry.ous.push(e.target);
    } else {
      byRegions.set(key, { regions: e.regions, ous: [e.target], overrides: e.overrides });
    }
  }
  return [...byRegions.values()].map((e) => ({ regions: e.regions, targets: { OrganizationalUnitIds: e.ous }, overrides: e.overrides }));
}

function asIs(groups: readonly Group[]): InstancesCall[] {
  return groups.map((g) => ({ regions: [...g.regions], targets: g.targets, overrides: g.overrides }));
}

interface Placeholder {
  readonly deletes: InstancesCall[];
  readonly creates: InstancesCall[];
  readonly updates: InstancesCall[];
}

/** InstancesAnalyzer.analyzeForUpdate. */
function instancesForUpdate(previous: StackSetProperties, desired: StackSetProperties): Placeholder {
  const before = flatten(groupsOf(previous));
  const after = flatten(groupsOf(desired));
  const same = (a: FlatInstance, b: FlatInstance) => a.region === b.region && a.target === b.target;
  const toAdd = after.filter((a) => !before.some((b) => same(a, b)));
  const toDelete = before.filter((b) => !after.some((a) => same(a, b)));
  const toUpdate = after.filter((a) => {
    const old = before.find((b) => same(a, b));
    return old !== undefined && !sameParameters(old.overrides, a.overrides);
  });
  return { deletes: aggregate(toDelete), creates: aggregate(toAdd), updates: aggregate(toUpdate) };
}

/** InstancesAnalyzer.analyzeForCreate / analyzeForDelete: one group as it is, several flattened and aggregated. */
function instancesForAll(model: StackSetProperties): InstancesCall[] {
  const groups = groupsOf(model);
  return groups.length <= 1 ? asIs(groups) : aggregate(flatten(groups));
}

// --- AltResourceModelAnalyzer and AltStackInstancesCalculator ---

/** Validator.validateServiceManagedDeploymentTarget. */
function validateAltTargets(groups: readonly Group[], isAlt: boolean): void {
  for (const g of groups) {
    if ((g.targets.OrganizationalUnitIds ?? []).length === 0) {
      throw new StackSetProviderError('OrganizationalUnitIds should be specified in SERVICE_MANAGED mode');
    }
    const filter = g.targets.AccountFilterType ?? NONE;
    if (![NONE, INTER, DIFF].includes(filter)) {
      throw new StackSetProviderError(`${filter} is not a valid AccountFilterType`);
    }
    const accounts = g.targets.Accounts ?? [];
    if (isAlt && filter === NONE && accounts.length > 0) {
      throw new StackSetProviderError('AccountFilterType should be specified when both OrganizationalUnitIds and Accounts are provided');
    }
    if (filter !== NONE && accounts.length === 0) {
      throw new StackSetProviderError('Accounts should be specified when Account-level Targeting is enabled');
    }
  }
}

interface RegionGroup {
  readonly group: Group;
  readonly region: string;
}

/** regroupStackInstancesByRegion and regroupStackInstancesByRegionOrder. */
function byRegion(groups: readonly Group[], regionOrder: readonly string[]): Map<string, RegionGroup[]> {
  const found = new Map<string, RegionGroup[]>();
  for (const group of groups) {
    for (const region of group.regions) {
      const list = found.get(region) ?? [];
      found.set(region, list);
      if (!list.some((r) => r.group === group)) {
        list.push({ group, region });
      }
    }
  }
  if (regionOrder.length === 0) {
    return found;
  }
  const ordered = new Map<string, RegionGroup[]>();
  for (const region of regionOrder) {
    if (found.has(region)) {
      ordered.set(region, found.get(region)!);
    }
  }
  for (const [region, list] of found) {
    if (!ordered.has(region)) {
      ordered.set(region, list);
    }
  }
  return ordered;
}

/** findDeploymentParametersForOUs: the OU's overrides, refusing an OU that two groups name unless neither has overrides (reference comparison). */
function parametersForOus(current: Map<string, RegionGroup[]>): Map<string, Group> {
  const byOu = new Map<string, Group>();
  for (const list of current.values()) {
    for (const { group } of list) {
      for (const ou of group.targets.OrganizationalUnitIds ?? []) {
        const seen = byOu.get(ou);
        // Java `!=` on two Set<Parameter>: different objects unless the same group (one group spans Regions), or both null.
        const sameReference = seen !== undefined && (seen === group || (seen.overrides === undefined && group.overrides === undefined));
        if (seen !== undefined && !sameReference) {
          throw new StackSetProviderError('An OrganizationalUnitIds cannot be associated with more than one Parameters set');
        }
        byOu.set(ou, group);
      }
    }
  }
  return byOu;
}

type OuFilterAccounts = Map<string, { filter: string; accounts: string[] }>;

/** mergeSameFilters then mergeDifferentFilters: one (filter, accounts) per OU of a Region. */
function mergeTargets(list: readonly RegionGroup[]): OuFilterAccounts {
  const same = new Map<string, Map<string, string[]>>();
  for (const { group } of list) {
    const filter = group.targets.AccountFilterType ?? NONE;
    const accounts = [...(group.targets.Accounts ?? [])];
    for (const ou of group.targets.OrganizationalUnitIds ?? []) {
      const perFilter = same.get(ou) ?? new Map<string, string[]>();
      same.set(ou, perFilter);
      const existing = perFilter.get(filter);
      if (!existing) {
        perFilter.set(filter, [...new Set(accounts)]);
      } else if (filter === INTER) {
        perFilter.set(filter, union(existing, accounts));
      } else if (filter === DIFF) {
        perFilter.set(filter, inter(existing, accounts));
      }
    }
  }
  const merged: OuFilterAccounts = new Map();
  for (const [ou, perFilter] of same) {
    if (perFilter.has(NONE)) {
      merged.set(ou, { filter: NONE, accounts: perFilter.get(NONE)! });
    } else if (perFilter.has(INTER) && !perFilter.has(DIFF)) {
      merged.set(ou, { filter: INTER, accounts: perFilter.get(INTER)! });
    } else if (!perFilter.has(INTER) && perFilter.has(DIFF)) {
      merged.set(ou, { filter: DIFF, accounts: perFilter.get(DIFF)! });
    } else {
      merged.set(ou, { filter: DIFF, accounts: diff(perFilter.get(DIFF)!, perFilter.get(INTER)!) });
    }
  }
  return merged;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}
function inter(a: readonly string[], b: readonly string[]): string[] {
  return a.filter((x) => b.includes(x));
}
function diff(a: readonly string[], b: readonly string[]): string[] {
  return a.filter((x) => !b.includes(x));
}

interface Target {
  readonly ou: string;
  readonly accounts: readonly string[];
  readonly filter: string;
}

/** constructTargetSetForSharedOu: the nine cases. */
function sharedOuTargets(ou: string, before: { filter: string; accounts: string[] }, after: { filter: string; accounts: string[] }) {
  const p = before.accounts;
  const c = after.accounts;
  const t = (accounts: readonly string[], filter: string): Target => ({ ou, accounts, filter });
  const cases: Record<string, { update: Target[]; delete: Target[]; create: Target[] }> = {
    [`${NONE}>${NONE}`]: { update: [t([], NONE)], delete: [], create: [] },
    [`${NONE}>${INTER}`]: { update: [t(c, INTER)], delete: [t(c, DIFF)], create: [] },
    [`${NONE}>${DIFF}`]: { update: [t(c, DIFF)], delete: [t(c, INTER)], create: [] },
    [`${INTER}>${NONE}`]: { update: [t(p, INTER)], delete: [], create: [t(p, DIFF)] },
    [`${INTER}>${INTER}`]: { update: [t(inter(p, c), INTER)], delete: [t(diff(p, c), INTER)], create: [t(diff(c, p), INTER)] },
    [`${INTER}>${DIFF}`]: { update: [t(diff(p, c), INTER)], delete: [t(inter(p, c), INTER)], create: [t(union(p, c), DIFF)] },
    [`${DIFF}>${NONE}`]: { update: [t(p, DIFF)], delete: [], create: [t(p, INTER)] },
    [`${DIFF}>${INTER}`]: { update: [t(diff(c, p), INTER)], delete: [t(union(p, c), DIFF)], create: [t(inter(p, c), INTER)] },
    [`${DIFF}>${DIFF}`]: { update: [t(union(p, c), DIFF)], delete: [t(diff(c, p), INTER)], create: [t(diff(p, c), INTER)] },
  };
  return cases[`${before.filter}>${after.filter}`];
}

/**
 * addToInstancesSet: an INTERSECTION without accounts is dropped, a DIFFERENCE
 * without accounts becomes NONE; a set, so an equal call is added once.
 */
function addTo(calls: InstancesCall[], region: string, target: Target, overrides?: readonly StackSetParameter[]): void {
  let filter = target.filter;
  if (target.accounts.length === 0) {
    if (filter === INTER) {
      return;
    }
    if (filter === DIFF) {
      filter = NONE;
    }
  }
  const call: InstancesCall = {
    regions: [region],
    targets: { OrganizationalUnitIds: [target.ou], Accounts: [...target.accounts], AccountFilterType: filter },
    overrides,
  };
  const key = (c: InstancesCall) => JSON.stringify([c.regions, c.targets, parametersKey(c.overrides)]);
  if (!calls.some((c) => key(c) === key(call))) {
    calls.push(call);
  }
}

/** AltStackInstancesCalculator.calculate for one Region shared by both models. */
function calculateRegion(
  region: string, before: readonly RegionGroup[], after: readonly RegionGroup[], ouGroups: Map<string, Group>, out: Placeholder,
): void {
  const ousOf = (list: readonly RegionGroup[]) => [...new Set(list.flatMap((r) => [...(r.group.targets.OrganizationalUnitIds ?? [])]))];
  const previousOus = ousOf(before);
  const currentOus = ousOf(after);
  const previousMerged = mergeTargets(before);
  const currentMerged = mergeTargets(after);
  for (const ou of diff(previousOus, currentOus)) {
    const m = previousMerged.get(ou)!;
    addTo(out.deletes, region, { ou, accounts: m.accounts, filter: m.filter });
  }
  for (const ou of diff(currentOus, previousOus)) {
    const m = currentMerged.get(ou)!;
    addTo(out.creates, region, { ou, accounts: m.accounts, filter: m.filter }, ouGroups.get(ou)?.overrides);
  }
  for (const ou of inter(currentOus, previousOus)) {
    const overrides = ouGroups.get(ou)?.overrides;
    const targets = sharedOuTargets(ou, previousMerged.get(ou)!, currentMerged.get(ou)!);
    targets.delete.forEach((tg) => addTo(out.deletes, region, tg));
    targets.create.forEach((tg) => addTo(out.creates, region, tg, overrides));
    targets.update.forEach((tg) => addTo(out.updates, region, tg, overrides));
  }
}

/** AltResourceModelAnalyzer.analyze (previous undefined: a Create; desired undefined: a Delete). */
function altAnalyze(previous: StackSetProperties | undefined, desired: StackSetProperties | undefined): Placeholder {
  const previousGroups = groupsOf(previous);
  const currentGroups = groupsOf(desired);
  validateAltTargets(previousGroups, isAccountLevelTargetingEnabled(previous));
  validateAltTargets(currentGroups, isAccountLevelTargetingEnabled(desired));
  const before = byRegion(previousGroups, previous?.OperationPreferences?.RegionOrder ?? []);
  const after = byRegion(currentGroups, desired?.OperationPreferences?.RegionOrder ?? []);
  const out: Placeholder = { deletes: [], creates: [], updates: [] };
  const whole = (r: RegionGroup): InstancesCall => ({ regions: [r.region], targets: r.group.targets, overrides: r.group.overrides });
  for (const region of before.keys()) {
    if (!after.has(region)) {
      out.deletes.push(...before.get(region)!.map((r) => ({ ...whole(r), overrides: undefined })));
    }
  }
  for (const region of after.keys()) {
    if (!before.has(region)) {
      out.creates.push(...after.get(region)!.map(whole));
    }
  }
  const ouGroups = parametersForOus(after);
  for (const region of after.keys()) {
    if (before.has(region)) {
      calculateRegion(region, before.get(region)!, after.get(region)!, ouGroups, out);
    }
  }
  return out;
}

// --- the handlers ---

function toCall(action: 'CreateStackInstances' | 'UpdateStackInstances' | 'DeleteStackInstances', c: InstancesCall): ProviderCall {
  if (action === 'DeleteStackInstances') {
    return { action, regions: c.regions, deploymentTargets: c.targets, retainStacks: false };
  }
  return { action, regions: c.regions, deploymentTargets: c.targets, parameterOverrides: c.overrides ?? [] };
}

/** Comparator.isStackSetConfigEquals (tags aside: the construct sets none). */
function stackSetConfigEquals(previous: StackSetProperties, desired: StackSetProperties): boolean {
  return previous.AdministrationRoleARN === desired.AdministrationRoleARN
    && previous.Description === desired.Description
    && previous.ExecutionRoleName === desired.ExecutionRoleName
    && previous.TemplateBody === desired.TemplateBody
    && sameParameters(previous.Parameters, desired.Parameters)
    && JSON.stringify(previous.AutoDeployment) === JSON.stringify(desired.AutoDeployment)
    && desired.TemplateURL === undefined;
}

/** Comparator.isStackSetConfigEquals for ManagedExecution: absent is Active false. */
function managedExecutionEquals(previous: StackSetProperties, desired: StackSetProperties): boolean {
  return (previous.ManagedExecution?.Active ?? false) === (desired.ManagedExecution?.Active ?? false);
}

/** The calls of CreateHandler: CreateStackSet, then CreateStackInstances. */
export function createCalls(desired: StackSetProperties): ProviderCall[] {
  checkModel(desired);
  const creates = isAccountLevelTargetingEnabled(desired) ? altAnalyze(undefined, desired).creates : instancesForAll(desired);
  return [
    { action: 'CreateStackSet', templateBody: desired.TemplateBody, parameters: desired.Parameters ?? [] },
    ...creates.map((c) => toCall('CreateStackInstances', c)),
  ];
}

/**
 * The calls of UpdateHandler, in its order: the managed-execution update, the
 * DeleteStackInstances calls, UpdateStackSet (when the StackSet itself
 * changed), the CreateStackInstances calls, the UpdateStackInstances calls.
 * Throws StackSetProviderError where the provider refuses the models.
 */
export function updateCalls(previous: StackSetProperties, desired: StackSetProperties): ProviderCall[] {
  checkModel(previous);
  checkModel(desired);
  const alt = isAccountLevelTargetingEnabled(previous) || isAccountLevelTargetingEnabled(desired);
  const placeholder = alt ? altAnalyze(previous, desired) : instancesForUpdate(previous, desired);
  const calls: ProviderCall[] = [];
  if (!managedExecutionEquals(previous, desired)) {
    calls.push({ action: 'UpdateStackSet', managedExecutionOnly: true, templateBody: previous.TemplateBody, parameters: previous.Parameters ?? [] });
  }
  calls.push(...placeholder.deletes.map((c) => toCall('DeleteStackInstances', c)));
  if (!stackSetConfigEquals(previous, desired)) {
    calls.push({ action: 'UpdateStackSet', managedExecutionOnly: false, templateBody: desired.TemplateBody, parameters: desired.Parameters ?? [] });
  }
  calls.push(...placeholder.creates.map((c) => toCall('CreateStackInstances', c)));
  calls.push(...placeholder.updates.map((c) => toCall('UpdateStackInstances', c)));
  return calls;
}

/** The calls of DeleteHandler: DeleteStackInstances of every group, then DeleteStackSet. */
export function deleteCalls(model: StackSetProperties): ProviderCall[] {
  checkModel(model);
  const deletes = isAccountLevelTargetingEnabled(model) ? altAnalyze(model, undefined).deletes : instancesForAll(model);
  return [...deletes.map((c) => toCall('DeleteStackInstances', c)), { action: 'DeleteStackSet' }];
}

// ---------------------------------------------------------------------------
// The StackSets service: each call as stack-instance operations
// ---------------------------------------------------------------------------

/** One stack-instance operation: a member stack created, updated or deleted in one account and Region. */
export interface StackInstanceOperation {
  /** The index of the provider call (in the plan's `calls`) that ran it. */
  readonly call: number;
  readonly action: ProviderCall['action'];
  readonly kind: 'create' | 'update' | 'delete';
  readonly account: string;
  readonly region: string;
  /** create and update: the stack's parameters (the StackSet's, with the instance's overrides on top). */
  readonly parameters?: Readonly<Record<string, string>>;
  /** create and update: the StackSet's template. */
  readonly templateBody?: string;
  /** delete: always false (the provider never retains stacks). */
  readonly retainStacks?: false;
}

/** A stack instance as the StackSet holds it. */
export interface StackInstanceState {
  readonly account: string;
  readonly region: string;
  readonly overrides: readonly StackSetParameter[];
}

/**
 * The StackSet as the StackSets service holds it (its template, parameters and
 * stack instances), in an organization: `run(call)` applies one provider call
 * and returns the stack-instance operations it ran, in the model's order.
 */
export class StackSetService {
  private templateBody?: string;
  private parameters: readonly StackSetParameter[] = [];
  private readonly instances = new Map<string, StackInstanceState>();
  private exists = false;

  constructor(private readonly org: Organization, private readonly regionOrder: readonly string[] = []) {}

  /** The stack instances now, by account then Region (organization order). */
  public get stackInstances(): StackInstanceState[] {
    return [...this.instances.values()].sort((a, b) =>
      this.org.accounts.indexOf(a.account) - this.org.accounts.indexOf(b.account) || a.region.localeCompare(b.region));
  }

  /** Whether the StackSet exists. */
  public get created(): boolean {
    return this.exists;
  }

  public run(call: ProviderCall, index: number): StackInstanceOperation[] {
    switch (call.action) {
      case 'CreateStackSet':
        if (this.exists) {
          throw new Error('the StackSet already exists');
        }
        this.exists = true;
        this.templateBody = call.templateBody;
        this.parameters = call.parameters;
        return [];
      case 'DeleteStackSet':
        if (this.instances.size > 0) {
          // StackSetNotEmptyException; the message is ours.
          throw new StackSetProviderError(`the StackSet still has ${this.instances.size} stack instance(s): DeleteStackSet fails (StackSetNotEmptyException)`);
        }
        this.exists = false;
        return [];
      case 'UpdateStackSet':
        if (call.managedExecutionOnly) {
          return [];
        }
        this.templateBody = call.templateBody;
        this.parameters = call.parameters;
        // No targets: every stack instance, with its own overrides.
        return this.ordered(this.stackInstances).map((i) => this.operation(call, index, 'update', i.account, i.region, i.overrides));
      default:
        break;
    }
    const ops: StackInstanceOperation[] = [];
    const accounts = this.org.resolve(call.deploymentTargets);
    for (const region of this.regionsInOrder(call.regions)) {
      for (const account of accounts) {
        const key = `${account}/${region}`;
        const existing = this.instances.get(key);
        if (call.action === 'DeleteStackInstances') {
          if (existing) {
            this.instances.delete(key);
            ops.push({ call: index, action: call.action, kind: 'delete', account, region, retainStacks: false });
          }
        } else if (call.action === 'UpdateStackInstances') {
          if (existing) {
            this.instances.set(key, { account, region, overrides: call.parameterOverrides });
            ops.push(this.operation(call, index, 'update', account, region, call.parameterOverrides));
          }
        } else {
          this.instances.set(key, { account, region, overrides: call.parameterOverrides });
          ops.push(this.operation(call, index, existing ? 'update' : 'create', account, region, call.parameterOverrides));
        }
      }
    }
    return ops;
  }

  /** The parameters a stack instance's stack gets: the StackSet's, with its overrides on top. */
  public parametersOf(overrides: readonly StackSetParameter[]): Record<string, string> {
    const result: Record<string, string> = {};
    for (const p of [...this.parameters, ...overrides]) {
      result[p.ParameterKey] = p.ParameterValue;
    }
    return result;
  }

  private operation(call: ProviderCall, index: number, kind: 'create' | 'update', account: string, region: string, overrides: readonly StackSetParameter[]): StackInstanceOperation {
    return { call: index, action: call.action, kind, account, region, parameters: this.parametersOf(overrides), templateBody: this.templateBody };
  }

  private regionsInOrder(regions: readonly string[]): string[] {
    const first = this.regionOrder.filter((r) => regions.includes(r));
    return [...first, ...regions.filter((r) => !first.includes(r))];
  }

  private ordered(instances: StackInstanceState[]): StackInstanceState[] {
    const regions = this.regionsInOrder([...new Set(instances.map((i) => i.region))]);
    return regions.flatMap((r) => instances.filter((i) => i.region === r));
  }
}

/** What a handler does: the provider's calls, and the stack-instance operations they run, in order. */
export interface ProviderPlan {
  readonly calls: readonly ProviderCall[];
  readonly operations: readonly StackInstanceOperation[];
  /** The stack instances once the handler succeeded. */
  readonly instances: readonly StackInstanceState[];
}

function runCalls(service: StackSetService, calls: readonly ProviderCall[]): ProviderPlan {
  const operations = calls.flatMap((call, index) => service.run(call, index));
  return { calls, operations, instances: service.stackInstances };
}

/** The Create handler on an organization. */
export function planCreate(desired: StackSetProperties, org: Organization): ProviderPlan {
  return runCalls(new StackSetService(org, desired.OperationPreferences?.RegionOrder), createCalls(desired));
}

/** A service holding what the Create handler of `model` made (auto-deployment aside). */
function serviceAfterCreate(model: StackSetProperties, org: Organization, regionOrder: readonly string[] | undefined): StackSetService {
  const service = new StackSetService(org, regionOrder);
  runCalls(service, createCalls(model));
  return service;
}

/**
 * The Update handler on an organization, from the stack instances the
 * previous model's Create made. Operations run with the desired model's
 * OperationPreferences (the provider sends the desired model's to every call).
 */
export function planUpdate(previous: StackSetProperties, desired: StackSetProperties, org: Organization): ProviderPlan {
  const calls = updateCalls(previous, desired);
  return runCalls(serviceAfterCreate(previous, org, desired.OperationPreferences?.RegionOrder), calls);
}

/** The Delete handler (the StackSet removed from the template, DeletionPolicy Delete) on an organization. */
export function planDelete(model: StackSetProperties, org: Organization): ProviderPlan {
  const calls = deleteCalls(model);
  return runCalls(serviceAfterCreate(model, org, model.OperationPreferences?.RegionOrder), calls);
}
