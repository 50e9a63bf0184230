/**
 * End-to-end: target changes of ImdsAccountDefaultsStackSet as the
 * AWS::CloudFormation::StackSet resource provider carries them out (its model:
 * test/support/stack-set-provider.ts, read from the provider's source), with
 * every stack instance run as a member stack of its account and Region through
 * the shipped inline code (test/e2e/harness/stack-set.ts).
 *
 * The provider deletes the stack instances no longer targeted before it creates
 * the new ones (UpdateHandler: deletes, UpdateStackSet, creates, updates), and
 * its deletes do not retain the member stacks. Each scenario checks the EC2
 * state of every account and Region after every single stack-instance
 * operation: an account that held the settings never goes back to no preference
 * for any managed field (HttpTokens and the rest), because the member custom
 * resource is retained by default (memberRemovalPolicy RETAIN: CloudFormation
 * sends it no Delete). The same widening with RemovalPolicy.DESTROY shows the
 * reset the check is there to catch.
 *
 * The first tests check the model itself on the synthesized resources: the
 * calls the provider makes for each change, and what it refuses.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { REGION, World, expectSuccess, scenario } from './harness/scenario';
import { EnforcementWatch, MemberStacks, MemberStep, SynthesizedStackSet, managedFields, synthesizeStackSetResource } from './harness/stack-set';
import { ACCOUNT } from './harness/template';
import {
  ImdsAccountDefaultsStackSet,
  ImdsAccountDefaultsStackSetProps,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsSettings,
  ImdsStackSetTarget,
} from '../../src';
import {
  Organization,
  ProviderPlan,
  StackSetProperties,
  StackSetProviderError,
  createCalls,
  deleteCalls,
  planCreate,
  planDelete,
  planUpdate,
  updateCalls,
} from '../support/stack-set-provider';

const OTHER_REGION = 'us-east-1';
const REGIONS = [REGION, OTHER_REGION];

const ROOT = 'r-abcd';
const PILOT = 'ou-abcd-pilot001';
const WORKLOADS = 'ou-abcd-workload';
const PROD = 'ou-abcd-prod0001';
const [PILOT_A, PILOT_B, WORKLOAD_A, PROD_A, PROD_B] = ['111111111111', '222222222222', '333333333333', '444444444444', '555555555555'];

/** The organization: the management account (the scenario's first account, never a target) at the root. */
const ORG = new Organization({
  id: ROOT,
  accounts: [ACCOUNT],
  children: [
    { id: PILOT, accounts: [PILOT_A, PILOT_B] },
    { id: WORKLOADS, accounts: [WORKLOAD_A], children: [{ id: PROD, accounts: [PROD_A, PROD_B] }] },
  ],
}, ACCOUNT);

const SETTINGS: ImdsSettings = {
  httpTokens: ImdsHttpTokens.REQUIRED,
  httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
  httpPutResponseHopLimit: 2,
};
const ENFORCED = { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 };

/** The StackSet resource as the construct synthesizes it (one name for every version, as an app's edit keeps it). */
function stackSet(props: Partial<ImdsAccountDefaultsStackSetProps> & Pick<ImdsAccountDefaultsStackSetProps, 'target'>,
  more: (s: ImdsAccountDefaultsStackSet) => void = () => {}): SynthesizedStackSet {
  return synthesizeStackSetResource((stack) => {
    more(new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { ...SETTINGS, stackSetName: 'imds-rollout', ...props }));
  });
}

const ous = (ids: string[], regions = REGIONS) => ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ids, regions });

/** The calls of a plan, short: `<action> <regions> <OUs>[ <filter> <accounts>]`. */
function callsOf(plan: Pick<ProviderPlan, 'calls'>): string[] {
  return plan.calls.map((c) => {
    if (!('deploymentTargets' in c)) {
      return c.action;
    }
    const t = c.deploymentTargets;
    const filter = t.AccountFilterType && t.AccountFilterType !== 'NONE' ? ` ${t.AccountFilterType} ${(t.Accounts ?? []).join(',')}` : '';
    return `${c.action} ${c.regions.join(',')} ${(t.OrganizationalUnitIds ?? []).join(',')}${filter}`;
  });
}

/** The operations of a plan, short: `<kind> <account> <region>`. */
function opsOf(plan: ProviderPlan): string[] {
  return plan.operations.map((o) => `${o.kind} ${o.account} ${o.region}`);
}

const pairs = (accounts: string[], regions = REGIONS) => accounts.flatMap((a) => regions.map((r) => `${a}/${r}`));

interface Rollout {
  readonly watch: EnforcementWatch;
  readonly members: MemberStacks;
  readonly created: MemberStep[];
  readonly changed: MemberStep[];
  readonly plan: ProviderPlan;
}

/**
 * Creates the StackSet `before` (the provider's Create), then runs the change
 * (`after`: the provider's Update; `'removed'`: its Delete), with the watch
 * checking every account and Region after every single stack-instance operation.
 */
async function rollout(w: World, before: SynthesizedStackSet, after: SynthesizedStackSet | 'removed', setUp?: () => Promise<void>): Promise<Rollout> {
  const members = new MemberStacks(w, before.properties.StackSetName!);
  const watch = await EnforcementWatch.start(w, ORG.accounts, REGIONS, managedFields(before.properties));
  const created = await members.runAll(planCreate(before.properties, ORG).operations, (step) => {
    watch.check(step.label);
  });
  await setUp?.();
  const plan = after === 'removed' ? planDelete(before.properties, ORG) : planUpdate(before.properties, after.properties, ORG);
  const changed = await members.runAll(plan.operations, (step) => {
    watch.check(step.label);
  });
  return { watch, members, created, changed, plan };
}

/** Every member account and Region that holds all the settings now. */
async function enforcedNow(w: World): Promise<string[]> {
  const found: string[] = [];
  for (const account of ORG.memberAccounts) {
    const endpoints = await w.account(account);
    for (const region of REGIONS) {
      if (JSON.stringify(endpoints.ec2.state(region)) === JSON.stringify(ENFORCED)) {
        found.push(`${account}/${region}`);
      }
    }
  }
  return found;
}

describe('the provider model, on the synthesized StackSet', () => {
  test('by default the member custom resource is retained (DeletionPolicy RetainExceptOnCreate in the TemplateBody): the scenarios run on the default', () => {
    expect(stackSet({ target: ous([PILOT]) }).memberDeletionPolicy).toBe('RetainExceptOnCreate');
    expect(stackSet({ target: ous([PILOT]), memberRemovalPolicy: RemovalPolicy.DESTROY }).memberDeletionPolicy).toBe('Delete');
  });

  test('the organization: nested OUs, account filters, never the management account', () => {
    expect(ORG.accountsOf(ROOT)).toEqual([PILOT_A, PILOT_B, WORKLOAD_A, PROD_A, PROD_B]);
    expect(ORG.accountsOf(WORKLOADS)).toEqual([WORKLOAD_A, PROD_A, PROD_B]);
    expect(ORG.parentOf(PROD)).toBe(WORKLOADS);
    expect(ORG.resolve({ OrganizationalUnitIds: [WORKLOADS], Accounts: [PROD_A, PILOT_A], AccountFilterType: 'INTERSECTION' })).toEqual([PROD_A]);
    expect(ORG.resolve({ OrganizationalUnitIds: [WORKLOADS], Accounts: [PROD_A], AccountFilterType: 'DIFFERENCE' })).toEqual([WORKLOAD_A, PROD_B]);
    expect(ORG.resolve({ OrganizationalUnitIds: [PROD], Accounts: [PILOT_A, ACCOUNT], AccountFilterType: 'UNION' })).toEqual([PILOT_A, PROD_A, PROD_B]);
    expect(ORG.resolve({ OrganizationalUnitIds: [ROOT], Accounts: [ACCOUNT], AccountFilterType: 'INTERSECTION' })).toEqual([]);
  });

  test('widening a pilot to the root: the pilot\'s instances are deleted, then every account\'s created', () => {
    const plan = planUpdate(stackSet({ target: ous([PILOT]) }).properties, stackSet({ target: ous([ROOT]) }).properties, ORG);
    expect(callsOf(plan)).toEqual([
      `DeleteStackInstances ${REGION},${OTHER_REGION} ${PILOT}`,
      `CreateStackInstances ${REGION},${OTHER_REGION} ${ROOT}`,
    ]);
    expect(plan.calls[0]).toMatchObject({ retainStacks: false });
    expect(opsOf(plan)).toEqual([
      ...[PILOT_A, PILOT_B].map((a) => `delete ${a} ${REGION}`), ...[PILOT_A, PILOT_B].map((a) => `delete ${a} ${OTHER_REGION}`),
      ...ORG.memberAccounts.map((a) => `create ${a} ${REGION}`), ...ORG.memberAccounts.map((a) => `create ${a} ${OTHER_REGION}`),
    ]);
  });

  test('canary Regions first: every operation runs its Regions in the RegionOrder the StackSet writes', () => {
    const plan = planUpdate(stackSet({ target: ous([PILOT]), canaryRegions: [OTHER_REGION] }).properties,
      stackSet({ target: ous([ROOT]), canaryRegions: [OTHER_REGION] }).properties, ORG);
    expect(opsOf(plan)).toEqual([
      ...[PILOT_A, PILOT_B].map((a) => `delete ${a} ${OTHER_REGION}`), ...[PILOT_A, PILOT_B].map((a) => `delete ${a} ${REGION}`),
      ...ORG.memberAccounts.map((a) => `create ${a} ${OTHER_REGION}`), ...ORG.memberAccounts.map((a) => `create ${a} ${REGION}`),
    ]);
  });

  test('an OU list replaced by the root with DIFFERENCE: each OU deleted, then the root created, Region by Region', () => {
    const before = stackSet({ target: ous([PILOT, WORKLOADS]) }).properties;
    const after = stackSet({
      target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: [ROOT], excludeAccountIds: [PROD_B], regions: REGIONS }),
    }).properties;
    expect(callsOf({ calls: updateCalls(before, after) })).toEqual([
      `DeleteStackInstances ${REGION} ${PILOT}`, `DeleteStackInstances ${REGION} ${WORKLOADS}`,
      `DeleteStackInstances ${OTHER_REGION} ${PILOT}`, `DeleteStackInstances ${OTHER_REGION} ${WORKLOADS}`,
      `CreateStackInstances ${REGION} ${ROOT} DIFFERENCE ${PROD_B}`, `CreateStackInstances ${OTHER_REGION} ${ROOT} DIFFERENCE ${PROD_B}`,
    ]);
  });

  test('switching a group to fromAccounts (INTERSECTION): every other account of the OU is deleted, the listed one updated', () => {
    const before = stackSet({ target: ous([WORKLOADS]) }).properties;
    const after = stackSet({
      target: ImdsStackSetTarget.fromAccounts({ organizationalUnitIds: [WORKLOADS], accountIds: [PROD_A], regions: REGIONS }),
    }).properties;
    expect(callsOf({ calls: updateCalls(before, after) })).toEqual([
      `DeleteStackInstances ${REGION} ${WORKLOADS} DIFFERENCE ${PROD_A}`,
      `DeleteStackInstances ${OTHER_REGION} ${WORKLOADS} DIFFERENCE ${PROD_A}`,
      `UpdateStackInstances ${REGION} ${WORKLOADS} INTERSECTION ${PROD_A}`,
      `UpdateStackInstances ${OTHER_REGION} ${WORKLOADS} INTERSECTION ${PROD_A}`,
    ]);
  });

  test('moving an OU to its parent, and removing a Region', () => {
    const prod = stackSet({ target: ous([PROD]) }).properties;
    expect(callsOf(planUpdate(prod, stackSet({ target: ous([WORKLOADS]) }).properties, ORG))).toEqual([
      `DeleteStackInstances ${REGION},${OTHER_REGION} ${PROD}`,
      `CreateStackInstances ${REGION},${OTHER_REGION} ${WORKLOADS}`,
    ]);
    expect(callsOf(planUpdate(prod, stackSet({ target: ous([PROD], [REGION]) }).properties, ORG))).toEqual([
      `DeleteStackInstances ${OTHER_REGION} ${PROD}`,
    ]);
  });

  test('changed overrides: UpdateStackSet for the StackSet\'s values, UpdateStackInstances for a group\'s, after the creates', () => {
    const before = stackSet({ target: ous([PILOT]) }, (s) => s.addStackInstances(ous([PROD]), { httpPutResponseHopLimit: 3 })).properties;
    const after = stackSet({ target: ous([PILOT, WORKLOADS], [REGION]), httpPutResponseHopLimit: 1 },
      (s) => s.addStackInstances(ous([PROD]), { httpPutResponseHopLimit: 4 })).properties;
    expect(callsOf({ calls: updateCalls(before, after) })).toEqual([
      `DeleteStackInstances ${OTHER_REGION} ${PILOT}`,
      'UpdateStackSet',
      `CreateStackInstances ${REGION} ${WORKLOADS}`,
      `UpdateStackInstances ${REGION},${OTHER_REGION} ${PROD}`,
    ]);
  });

  test('the removal of the StackSet: every group\'s instances deleted, then the StackSet', () => {
    const model = stackSet({ target: ous([PILOT]) }, (s) => s.addStackInstances(ous([PROD], [REGION]), { httpPutResponseHopLimit: 3 })).properties;
    expect(callsOf({ calls: deleteCalls(model) })).toEqual([
      `DeleteStackInstances ${REGION},${OTHER_REGION} ${PILOT}`,
      `DeleteStackInstances ${REGION} ${PROD}`,
      'DeleteStackSet',
    ]);
    expect(planDelete(model, ORG).instances).toEqual([]);
  });

  test('what the provider refuses: a duplicated (OU, Region), an OU in two groups once a filter is present, UNION', () => {
    const model = (groups: StackSetProperties['StackInstancesGroup']): StackSetProperties => ({ PermissionModel: 'SERVICE_MANAGED', StackInstancesGroup: groups });
    const hop = (v: string) => [{ ParameterKey: 'HttpPutResponseHopLimit', ParameterValue: v }];
    expect(() => createCalls(model([
      { DeploymentTargets: { OrganizationalUnitIds: [PILOT] }, Regions: [REGION] },
      { DeploymentTargets: { OrganizationalUnitIds: [PILOT] }, Regions: [REGION], ParameterOverrides: hop('3') },
    ]))).toThrow(new StackSetProviderError(`Stack instance [${PILOT},${REGION}] is duplicated`));
    // The same OU in two Regions with two overrides: fine without a filter…
    const perRegion = [
      { DeploymentTargets: { OrganizationalUnitIds: [PILOT] }, Regions: [REGION] },
      { DeploymentTargets: { OrganizationalUnitIds: [PILOT] }, Regions: [OTHER_REGION], ParameterOverrides: hop('3') },
    ];
    expect(createCalls(model(perRegion))).toHaveLength(3);
    // …refused once any group has one; equal overrides too (the provider compares the groups' sets by reference).
    const filtered = { DeploymentTargets: { OrganizationalUnitIds: [ROOT], Accounts: [PROD_A], AccountFilterType: 'INTERSECTION' }, Regions: [REGION] };
    const refused = new StackSetProviderError('An OrganizationalUnitIds cannot be associated with more than one Parameters set');
    expect(() => createCalls(model([...perRegion, filtered]))).toThrow(refused);
    expect(() => createCalls(model([
      { ...perRegion[0], ParameterOverrides: hop('3') }, perRegion[1], filtered,
    ]))).toThrow(refused);
    // UNION: the schema lists it, the provider's Validator refuses it (which is why the construct offers no way to write it).
    expect(() => createCalls(model([
      { DeploymentTargets: { OrganizationalUnitIds: [PILOT], Accounts: [PROD_A], AccountFilterType: 'UNION' }, Regions: [REGION] },
    ]))).toThrow(new StackSetProviderError('UNION is not a valid AccountFilterType'));
  });
});

// Target changes never switch enforcement off: the member stacks are retained by default.
// (Scenarios stay at the top level: scenario() registers the file's afterAll at its first call.)
scenario('widening a pilot OU to the root: the pilot accounts keep the settings between their delete and their create', async (w) => {
  const before = stackSet({ target: ous([PILOT]) });
  expect(before.memberDeletionPolicy).toBe('RetainExceptOnCreate');
  const { watch, created, changed, members } = await rollout(w, before, stackSet({ target: ous([ROOT]) }));
  expect(created.map((s) => s.label)).toHaveLength(4);
  expect(changed.map((s) => s.op.kind)).toEqual([...Array(4).fill('delete'), ...Array(10).fill('create')]);
  // No Delete reached the retained custom resource: the deletes sent no event.
  for (const step of changed.filter((s) => s.op.kind === 'delete')) {
    expect(step.result!.steps.map((s) => s.step)).toEqual([expect.stringMatching(/^Delete ImdsAccountDefaults\w+: retained, no event$/)]);
    expect(step.result!.steps.filter((s) => s.event !== undefined)).toEqual([]);
  }
  expect(watch.findings).toEqual([]);
  expect(await enforcedNow(w)).toEqual(pairs(ORG.memberAccounts));
  expect(members.created).toHaveLength(14);
  // The management account is never a target.
  expect(w.main.ec2.requests).toEqual([]);
}, { timeoutMs: 240_000 });

scenario('adding accountIds (a group switched to fromAccounts): the other accounts of the OU keep the settings', async (w) => {
  const before = stackSet({ target: ous([WORKLOADS]) });
  const after = stackSet({ target: ImdsStackSetTarget.fromAccounts({ organizationalUnitIds: [WORKLOADS], accountIds: [PROD_A], regions: REGIONS }) });
  const { watch, changed, members } = await rollout(w, before, after);
  expect(changed.map((s) => `${s.op.kind} ${s.op.account} ${s.op.region}${s.skipped ? ` (${s.skipped})` : ''}`)).toEqual([
    `delete ${WORKLOAD_A} ${REGION}`, `delete ${PROD_B} ${REGION}`,
    `delete ${WORKLOAD_A} ${OTHER_REGION}`, `delete ${PROD_B} ${OTHER_REGION}`,
    `update ${PROD_A} ${REGION} (no changes)`, `update ${PROD_A} ${OTHER_REGION} (no changes)`,
  ]);
  expect(watch.findings).toEqual([]);
  expect(await enforcedNow(w)).toEqual(pairs([WORKLOAD_A, PROD_A, PROD_B]));
  expect(REGIONS.map((r) => members.stackOf(PROD_A, r)?.status)).toEqual(['CREATE_COMPLETE', 'CREATE_COMPLETE']);
  expect(REGIONS.map((r) => members.stackOf(WORKLOAD_A, r))).toEqual([undefined, undefined]);
}, { timeoutMs: 240_000 });

scenario('an OU list replaced by the root with DIFFERENCE: every account keeps the settings, the excluded one too', async (w) => {
  const before = stackSet({ target: ous([PILOT, WORKLOADS]) });
  const after = stackSet({
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: [ROOT], excludeAccountIds: [PROD_B], regions: REGIONS }),
  });
  const { watch, changed, members } = await rollout(w, before, after);
  expect(changed.map((s) => s.op.kind)).toEqual([...Array(10).fill('delete'), ...Array(8).fill('create')]);
  expect(watch.findings).toEqual([]);
  expect(await enforcedNow(w)).toEqual(pairs(ORG.memberAccounts));
  expect(REGIONS.map((r) => members.stackOf(PROD_B, r))).toEqual([undefined, undefined]);
}, { timeoutMs: 240_000 });

scenario('moving an OU target to its parent: the OU\'s accounts keep the settings between their delete and their create', async (w) => {
  const { watch, changed } = await rollout(w, stackSet({ target: ous([PROD]) }), stackSet({ target: ous([WORKLOADS]) }));
  expect(changed.map((s) => `${s.op.kind} ${s.op.account} ${s.op.region}`)).toEqual([
    `delete ${PROD_A} ${REGION}`, `delete ${PROD_B} ${REGION}`, `delete ${PROD_A} ${OTHER_REGION}`, `delete ${PROD_B} ${OTHER_REGION}`,
    ...[WORKLOAD_A, PROD_A, PROD_B].map((a) => `create ${a} ${REGION}`), ...[WORKLOAD_A, PROD_A, PROD_B].map((a) => `create ${a} ${OTHER_REGION}`),
  ]);
  expect(watch.findings).toEqual([]);
  expect(await enforcedNow(w)).toEqual(pairs([WORKLOAD_A, PROD_A, PROD_B]));
}, { timeoutMs: 240_000 });

scenario('removing a Region: the Region\'s accounts keep the settings, their stack instances gone', async (w) => {
  const { watch, changed, members } = await rollout(w, stackSet({ target: ous([PILOT]) }), stackSet({ target: ous([PILOT], [REGION]) }));
  expect(changed.map((s) => `${s.op.kind} ${s.op.account} ${s.op.region}`)).toEqual([`delete ${PILOT_A} ${OTHER_REGION}`, `delete ${PILOT_B} ${OTHER_REGION}`]);
  expect(watch.findings).toEqual([]);
  expect(await enforcedNow(w)).toEqual(pairs([PILOT_A, PILOT_B]));
  expect([PILOT_A, PILOT_B].map((a) => members.stackOf(a, OTHER_REGION))).toEqual([undefined, undefined]);
}, { timeoutMs: 120_000 });

scenario('removing the StackSet: every account keeps the settings', async (w) => {
  const before = stackSet({ target: ous([PILOT]) }, (s) => s.addStackInstances(ous([PROD], [REGION]), { httpPutResponseHopLimit: 3 }));
  const { watch, changed, members, plan } = await rollout(w, before, 'removed');
  expect(plan.calls.map((c) => c.action)).toEqual(['DeleteStackInstances', 'DeleteStackInstances', 'DeleteStackSet']);
  expect(changed.map((s) => s.op.kind)).toEqual(Array(6).fill('delete'));
  expect(watch.findings).toEqual([]);
  expect(await enforcedNow(w)).toEqual(pairs([PILOT_A, PILOT_B]));
  for (const account of [PROD_A, PROD_B]) {
    expect(w.state(REGION, await w.account(account))).toEqual({ ...ENFORCED, HttpPutResponseHopLimit: 3 });
  }
  expect(members.created.map((s) => s.status)).toEqual(Array(6).fill('DELETE_COMPLETE'));
}, { timeoutMs: 120_000 });

// With memberRemovalPolicy DESTROY, the explicit choice to reset: the check catches the window.
scenario('memberRemovalPolicy DESTROY, widening a pilot OU to the root: the pilot accounts are at no preference from their delete until their create', async (w) => {
  const before = stackSet({ target: ous([PILOT]), memberRemovalPolicy: RemovalPolicy.DESTROY });
  expect(before.memberDeletionPolicy).toBe('Delete');
  const { watch, changed } = await rollout(w, before, stackSet({ target: ous([ROOT]), memberRemovalPolicy: RemovalPolicy.DESTROY }));
  for (const step of changed.filter((s) => s.op.kind === 'delete')) {
    expectSuccess(step.result!);
    expect(step.result!.requestType).toBe('Delete');
  }
  // The first time each pilot account and Region is seen at no preference: right after its own delete.
  const first = new Map<string, string>();
  for (const f of watch.findings) {
    const key = `${f.account}/${f.region}`;
    if (!first.has(key)) {
      first.set(key, f.after);
      expect(f.missing).toEqual(['HttpTokens', 'HttpTokensEnforced', 'HttpPutResponseHopLimit']);
      expect(f.state).toEqual({});
    }
  }
  expect(Object.fromEntries(first)).toEqual(Object.fromEntries(pairs([PILOT_A, PILOT_B]).map((p) => {
    const [account, region] = p.split('/');
    return [p, `delete ${account} ${region} (DeleteStackInstances)`];
  })));
  // And so it stays while the creates run, until the account's own create: the window the RETAIN default closes.
  const window = (account: string, region: string) => watch.findings.filter((f) => f.account === account && f.region === region).length;
  expect(window(PILOT_A, REGION)).toBe(4);
  expect(window(PILOT_B, OTHER_REGION)).toBe(1 + 5 + 1);
  expect(await enforcedNow(w)).toEqual(pairs(ORG.memberAccounts));
}, { timeoutMs: 240_000 });

// An account governed by a declarative policy attached after the Create.
const MESSAGE = 'IMDS is managed by the organization';

scenario('a declarative policy attached after the Create, the StackSet removed with memberRemovalPolicy DESTROY: the governed account\'s Delete succeeds and writes nothing to EC2', async (w) => {
  const before = stackSet({ target: ous([PILOT], [REGION]), memberRemovalPolicy: RemovalPolicy.DESTROY });
  let requestsBefore = 0;
  const governed = await w.account(PILOT_A);
  const { changed } = await rollout(w, before, 'removed', async () => {
    governed.ec2.setDeclarativePolicy(REGION, MESSAGE);
    requestsBefore = governed.ec2.requests.length;
  });
  const del = changed.find((s) => s.op.account === PILOT_A)!;
  expectSuccess(del.result!);
  expect(del.result!.requestType).toBe('Delete');
  expect(del.result!.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(governed.ec2.requests.slice(requestsBefore).map((r) => r.action)).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state(REGION, governed)).toEqual(ENFORCED);
  // Its claim is gone; the other account, not governed, is reset as DESTROY says.
  expect(w.claims(REGION, governed)).toEqual([]);
  expect(w.state(REGION, await w.account(PILOT_B))).toEqual({});
}, { timeoutMs: 120_000 });

scenario('a declarative policy attached after the Create, the StackSet removed by default: no Delete reaches either account, nothing is written', async (w) => {
  const before = stackSet({ target: ous([PILOT], [REGION]) });
  const governed = await w.account(PILOT_A);
  let requestsBefore = 0;
  const { changed, watch } = await rollout(w, before, 'removed', async () => {
    governed.ec2.setDeclarativePolicy(REGION, MESSAGE);
    requestsBefore = governed.ec2.requests.length;
  });
  expect(changed.map((s) => s.result!.steps.filter((st) => st.event !== undefined).length)).toEqual([0, 0]);
  expect(governed.ec2.requests.length).toBe(requestsBefore);
  expect(watch.findings).toEqual([]);
  expect(await enforcedNow(w)).toEqual(pairs([PILOT_A, PILOT_B], [REGION]));
}, { timeoutMs: 120_000 });
