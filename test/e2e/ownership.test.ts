/**
 * End-to-end: ownership of the account-level settings across what CDK users do
 * to their apps (issue 8), through the shipped inline handler: renames and moves
 * (a new logical id is created, then the old one deleted in the cleanup phase),
 * StackSet replacement, two stacks in one account, stale claims, ownership that
 * cannot be determined, the upgrade from the released handler, and rollbacks.
 * Every scenario asserts on EC2's state, on the claims in SSM Parameter Store
 * under /cdk-imds-account-defaults/claims, and on the calls the handler made.
 */
import * as crypto from 'crypto';
import { CfnParameter, RemovalPolicy } from 'aws-cdk-lib';
import { CloudFormationStack, StepResult, stepOf } from './harness/cloudformation';
import { CLAIMS_PATH, REGION, World, claimName, expectFailed, expectSuccess, legacyClaimName, scenario } from './harness/scenario';
import {
  RELEASED_COMMIT,
  readTemplate,
  releasedTemplate,
  synthesize,
  synthesizeImds,
  synthesizeStackSet,
  synthesizeWithoutImds,
} from './harness/template';
import { ImdsAccountDefaults, ImdsHttpTokens, ImdsHttpTokensEnforced, ImdsInstanceMetadataTags, ImdsStackSetTarget } from '../../src';

const GET = 'GetInstanceMetadataDefaults';
const MODIFY = 'ModifyInstanceMetadataDefaults';
const DESCRIBE = 'DescribeStackResource';
const IMDSV2 = { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 };
const IMDSV2_STATE = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };

/** The Modify requests of a step (or of every step of an operation). */
function modifies(result: StepResult & { steps?: readonly StepResult[] }): Array<Record<string, string>> {
  const steps = result.steps ?? [result];
  return steps.flatMap((s) => s.ec2Requests.filter((r) => r.action === MODIFY).map((r) => r.params));
}

/** The claims of a Region as (stack name, logical id, fields). */
function owners(w: World, region?: string, account?: Parameters<World['claims']>[1]) {
  return w.claims(region, account).map((c) => ({ stackName: c.stackName, logicalResourceId: c.logicalResourceId, fields: c.fields }));
}

/** The claim a stack's resource should hold. */
function claimOf(stack: CloudFormationStack, logicalResourceId: string, fields: Record<string, string | number>) {
  return { stackName: stack.stackName, logicalResourceId, fields };
}

function expectOrder(stack: CloudFormationStack, ...entries: string[]): void {
  const positions = entries.map((e) => stack.history.indexOf(e));
  const sorted = [...positions].sort((a, b) => a - b);
  expect({ entries, positions, history: stack.history }).toEqual({ entries, positions: sorted, history: stack.history });
  expect(positions).not.toContain(-1);
}

const v1 = synthesizeImds(IMDSV2);
const LOGICAL_ID = v1.resourceLogicalId;

scenario('a claim per resource: recorded on Create, rewritten on Update, removed on Delete', async (w) => {
  const stack = w.stack();
  const create = await stack.create(v1);
  expectSuccess(create);
  expect(create.event!.ResourceProperties).toMatchObject({ Ownership: 'claims-v2', ServiceTimeout: expect.stringMatching(/^\d+$/) });
  expect(create.ssmActions).toEqual(expect.arrayContaining(['GetParametersByPath', 'PutParameter']));
  const claims = w.claims();
  // Format 2: named after the stack's uuid and the logical id (IAM can name it); ownership only, no values from before
  // (those live in the physical id, which CloudFormation keeps).
  expect(claims).toEqual([{
    name: claimName(stack.stackId, LOGICAL_ID),
    type: 'String',
    tier: 'Standard',
    format: 2,
    stackId: stack.stackId,
    stackName: 'ImdsE2e',
    logicalResourceId: LOGICAL_ID,
    fields: IMDSV2_STATE,
  }]);
  expect(claims[0].name).toBe(`${CLAIMS_PATH}/${stack.stackId.split('/')[2]}-${LOGICAL_ID}`);
  expect(create.answer!.PhysicalResourceId).toBe(`ImdsAccountDefaults:123456789012:${REGION}:HttpTokens=no-preference,HttpPutResponseHopLimit=-1`);

  expectSuccess(await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, instanceMetadataTags: ImdsInstanceMetadataTags.ENABLED })));
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, { HttpTokens: 'required', InstanceMetadataTags: 'enabled' })]);
  expect(w.state()).toEqual({ HttpTokens: 'required', InstanceMetadataTags: 'enabled' });

  const del = await stack.delete();
  expectSuccess(del);
  expect(del.ssmActions).toContain('DeleteParameter');
  expect(w.claims()).toEqual([]);
  expect(w.state()).toEqual({});
});

scenario('rename inside a stack: the new logical id is created, the old one deleted in the cleanup, and the settings stay', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(v1));

  const renamed = synthesizeImds(IMDSV2, 'Security/Imds');
  const newId = renamed.resourceLogicalId;
  expect(newId).not.toBe(LOGICAL_ID);
  const update = await stack.update(renamed);
  expect(update.steps.map((s) => [s.requestType, s.logicalResourceId, s.answer?.Status])).toEqual([
    ['Create', newId, 'SUCCESS'],
    ['Delete', LOGICAL_ID, 'SUCCESS'],
  ]);
  expect(update.stackStatus).toBe('UPDATE_COMPLETE');
  expectOrder(stack, `${newId} CREATE_COMPLETE`, 'ImdsE2e UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', `${LOGICAL_ID} DELETE_IN_PROGRESS`, `${LOGICAL_ID} DELETE_COMPLETE`, 'ImdsE2e UPDATE_COMPLETE');
  // The values were already there: neither event wrote to EC2.
  expect(modifies(update)).toEqual([]);
  // The old resource's Delete asked CloudFormation whether the new one is live.
  expect(stepOf(update, 'Delete').cfnRequests.map((r) => [r.action, r.params.StackName, r.params.LogicalResourceId])).toContainEqual([DESCRIBE, stack.stackId, newId]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(owners(w)).toEqual([claimOf(stack, newId, IMDSV2_STATE)]);

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
});

scenario('rename with changed settings: the same stack never conflicts with itself; the cleanup resets only what the new resource no longer manages', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ ...IMDSV2, instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED })));
  expect(w.state()).toEqual({ ...IMDSV2_STATE, InstanceMetadataTags: 'disabled' });

  const renamed = synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 3 }, 'Security/Imds');
  const update = await stack.update(renamed);
  const create = stepOf(update, 'Create', renamed.resourceLogicalId);
  expectSuccess(create, { HttpPutResponseHopLimit: '3' });
  expect(modifies(create)).toEqual([expect.objectContaining({ HttpPutResponseHopLimit: '3' })]);
  expect(modifies(create)[0]).not.toHaveProperty('HttpTokens');
  const cleanup = stepOf(update, 'Delete', LOGICAL_ID);
  expectSuccess(cleanup);
  // Only the tags, which no live resource manages any more, go back to no preference.
  expect(modifies(cleanup)).toEqual([{ Action: MODIFY, Version: '2016-11-15', InstanceMetadataTags: 'no-preference' }]);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  expect(owners(w)).toEqual([claimOf(stack, renamed.resourceLogicalId, { HttpTokens: 'required', HttpPutResponseHopLimit: 3 })]);
});

scenario('the same stack under two logical ids (a template written by hand): no conflict, and deleting one keeps what the other manages', async (w) => {
  const t = synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED });
  const template = JSON.parse(JSON.stringify(t.template));
  const original = template.Resources[t.resourceLogicalId];
  template.Resources.ImdsSecond = { ...original, Properties: { ...original.Properties, HttpTokens: 'optional', HttpPutResponseHopLimit: 2 } };
  const two = readTemplate(template);
  const stack = w.stack();

  const create = await stack.create(two);
  expect(create.steps.map((s) => [s.logicalResourceId, s.answer?.Status])).toEqual([[t.resourceLogicalId, 'SUCCESS'], ['ImdsSecond', 'SUCCESS']]);
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
  expect(owners(w)).toHaveLength(2);

  // Back to one resource: the second one's cleanup Delete leaves HttpTokens (the first still manages it), resets the hop limit.
  const update = await stack.update(t);
  const cleanup = stepOf(update, 'Delete', 'ImdsSecond');
  expectSuccess(cleanup);
  expect(modifies(cleanup)).toEqual([{ Action: MODIFY, Version: '2016-11-15', HttpPutResponseHopLimit: '-1' }]);
  expect(w.state()).toEqual({ HttpTokens: 'optional' });
  expect(owners(w)).toEqual([claimOf(stack, t.resourceLogicalId, { HttpTokens: 'required' })]);
});

scenario('move between stacks: deploy the new stack, then remove the resource from the old one; the settings stay', async (w) => {
  const from = w.stack({ name: 'PlatformOld' });
  const to = w.stack({ name: 'PlatformNew' });
  expectSuccess(await from.create(v1));

  const create = await to.create(synthesizeImds(IMDSV2, 'Security/Imds'));
  expectSuccess(create);
  expect(modifies(create)).toEqual([]);
  expect(owners(w)).toHaveLength(2);

  const removal = await from.update(synthesizeWithoutImds());
  const cleanup = stepOf(removal, 'Delete', LOGICAL_ID);
  expectSuccess(cleanup);
  expect(modifies(cleanup)).toEqual([]);
  expect(removal.stackStatus).toBe('UPDATE_COMPLETE');
  expect(from.resourceStatus(LOGICAL_ID)).toBeUndefined();
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(owners(w)).toEqual([claimOf(to, create.logicalResourceId!, IMDSV2_STATE)]);

  // The last one resets.
  expectSuccess(await to.delete());
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
});

/**
 * A StackSet replaced (a new name), as CloudFormation does it: the new StackSet's stack instances are created in two
 * accounts and two Regions, each where the old StackSet's instance already set the same values; the old ones are then
 * deleted by the caller. `memberRemovalPolicy` undefined: the default.
 */
async function replacedStackSet(w: World, memberRemovalPolicy?: RemovalPolicy) {
  const regions = [REGION, 'us-east-1'];
  const accounts = [w.main, await w.account('210987654321')];
  const props = {
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions }),
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    ...(memberRemovalPolicy === undefined ? {} : { memberRemovalPolicy }),
  };
  const old = synthesizeStackSet(props);
  const replacement = synthesizeStackSet({ ...props, stackSetName: 'ImdsDefaultsV2' });
  expect(replacement.stackSetName).not.toBe(old.stackSetName);
  const instances = (set: typeof old) => accounts.flatMap((account) => regions.map((region) => ({
    account, region, stack: w.stack({ account, region, name: `StackSet-${set.stackSetName}-${crypto.randomUUID()}` }),
  })));
  const oldInstances = instances(old);
  const newInstances = instances(replacement);

  for (const i of oldInstances) {
    expectSuccess(await i.stack.create(old.template, old.parameters));
  }
  // CloudFormation creates the new StackSet first...
  for (const i of newInstances) {
    const create = await i.stack.create(replacement.template, replacement.parameters);
    expectSuccess(create);
    expect(modifies(create)).toEqual([]);
  }
  return { old, replacement, oldInstances, newInstances };
}

const REPLACED_STATE = { HttpTokens: 'required', HttpTokensEnforced: 'enabled' };

// The point here is what the old instances' Deletes do (they read the claims and find the new StackSet's), so the
// member resources are DESTROY, explicitly: with the default they get no Delete at all (the next scenario).
scenario('StackSet replacement, memberRemovalPolicy DESTROY: the new StackSet\'s instances are created, then the old one\'s deleted, each Delete finding the new claim; every account and Region keeps its settings', async (w) => {
  const { old, replacement, oldInstances, newInstances } = await replacedStackSet(w, RemovalPolicy.DESTROY);
  expect(old.template.template.Resources[old.template.resourceLogicalId].DeletionPolicy).toBe('Delete');

  // ...then deletes the old one's stack instances: each custom resource gets its Delete, which writes nothing.
  for (const i of oldInstances) {
    const del = await i.stack.delete();
    expectSuccess(del);
    expect(del.event!.RequestType).toBe('Delete');
    expect(del.ssmActions).toContain('GetParametersByPath');
    expect(modifies(del)).toEqual([]);
  }
  for (const i of newInstances) {
    const where = { account: i.account.id, region: i.region };
    expect({ ...where, state: w.state(i.region, i.account) }).toEqual({ ...where, state: REPLACED_STATE });
    expect(owners(w, i.region, i.account)).toEqual([claimOf(i.stack, replacement.template.resourceLogicalId, REPLACED_STATE)]);
  }

  // The last owners' Deletes reset, as DESTROY says.
  for (const i of newInstances) {
    expectSuccess(await i.stack.delete());
    expect(w.state(i.region, i.account)).toEqual({});
    expect(w.claims(i.region, i.account)).toEqual([]);
  }
}, { timeoutMs: 120_000 });

scenario('StackSet replacement with the default memberRemovalPolicy (retained): the old StackSet\'s instances are deleted with no Delete event; every account and Region keeps its settings, and so do they once the new StackSet goes', async (w) => {
  const { old, replacement, oldInstances, newInstances } = await replacedStackSet(w);
  const oldId = old.template.resourceLogicalId;
  const newId = replacement.template.resourceLogicalId;
  // Retained: the custom resource is never sent a Delete, and says so to its claim.
  expect(old.template.template.Resources[oldId].Properties.Retained).toBe(true);

  /** The claims of an account and Region, retained or not, in stack-name order. */
  const claimsOf = (i: (typeof newInstances)[number]) => w.claims(i.region, i.account)
    .map((c) => ({ stackName: c.stackName, logicalResourceId: c.logicalResourceId, fields: c.fields, retained: c.retained === true }))
    .sort((a, b) => a.stackName!.localeCompare(b.stackName!));

  // ...then deletes the old one's stack instances: CloudFormation skips the retained resource, no function runs.
  for (const i of oldInstances) {
    const del = await i.stack.delete();
    expect(del.steps.map((s) => [s.step, s.event])).toEqual([[`Delete ${oldId}: retained, no event`, undefined]]);
    expect(i.stack.status).toBe('DELETE_COMPLETE');
    expect(i.stack.resourceStatus(oldId)).toBe('DELETE_SKIPPED');
  }
  for (const [n, i] of newInstances.entries()) {
    const where = { account: i.account.id, region: i.region };
    expect({ ...where, state: w.state(i.region, i.account) }).toEqual({ ...where, state: REPLACED_STATE });
    // The old instance's claim stays, retained (never pruned), beside the new one's.
    expect(claimsOf(i)).toEqual([
      { stackName: oldInstances[n].stack.stackName, logicalResourceId: oldId, fields: REPLACED_STATE, retained: true },
      { stackName: i.stack.stackName, logicalResourceId: newId, fields: REPLACED_STATE, retained: true },
    ].sort((a, b) => a.stackName.localeCompare(b.stackName)));
  }

  // Removing the new StackSet's instances keeps the settings too: nothing resets them but a DESTROY resource's Delete.
  for (const i of newInstances) {
    const del = await i.stack.delete();
    expect(del.steps.map((s) => [s.step, s.event])).toEqual([[`Delete ${newId}: retained, no event`, undefined]]);
    expect(w.state(i.region, i.account)).toEqual(REPLACED_STATE);
    expect(claimsOf(i)).toHaveLength(2);
    expect(claimsOf(i).every((c) => c.retained)).toBe(true);
  }
}, { timeoutMs: 120_000 });

scenario('two stacks with the same values: deleting one keeps the settings, deleting the last resets them', async (w) => {
  const a = w.stack({ name: 'AppA' });
  const b = w.stack({ name: 'AppB' });
  expectSuccess(await a.create(v1));
  const create = await b.create(v1);
  expectSuccess(create);
  expect(modifies(create)).toEqual([]);

  const first = await a.delete();
  expectSuccess(first);
  expect(modifies(first)).toEqual([]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(owners(w)).toEqual([claimOf(b, LOGICAL_ID, IMDSV2_STATE)]);

  const last = await b.delete();
  expectSuccess(last);
  expect(modifies(last)).toEqual([{ Action: MODIFY, Version: '2016-11-15', HttpTokens: 'no-preference', HttpPutResponseHopLimit: '-1' }]);
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
});

scenario('two stacks with different values: the second fails naming the first stack and the field, and EC2 is unchanged', async (w) => {
  const a = w.stack({ name: 'AppA' });
  const b = w.stack({ name: 'AppB' });
  expectSuccess(await a.create(v1));

  const create = await b.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL, httpPutResponseHopLimit: 2 }));
  expectFailed(create, /HttpTokens/);
  expect(create.answer!.Reason).toContain('AppA');
  expect(create.answer!.Reason).toContain(a.stackId);
  expect(create.answer!.Reason).toContain('required');
  expect(create.answer!.Reason).not.toMatch(/HttpPutResponseHopLimit/);
  expect(create.ec2Actions).not.toContain(MODIFY);
  expect(w.state()).toEqual(IMDSV2_STATE);

  const rollback = await b.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
  expect(b.status).toBe('ROLLBACK_COMPLETE');
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, IMDSV2_STATE)]);

  // A stack managing another field coexists, until an Update asks for a value of a field the first manages.
  const c = w.stack({ name: 'AppC' });
  expectSuccess(await c.create(synthesizeImds({ instanceMetadataTags: ImdsInstanceMetadataTags.ENABLED })));
  const update = await c.update(synthesizeImds({ instanceMetadataTags: ImdsInstanceMetadataTags.ENABLED, httpPutResponseHopLimit: 4 }));
  expectFailed(update, /HttpPutResponseHopLimit/);
  expect(update.answer!.Reason).toContain(a.stackId);
  expect(update.ec2Actions).not.toContain(MODIFY);
  expectSuccess(await c.rollback());
  expect(c.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  expect(w.state()).toEqual({ ...IMDSV2_STATE, InstanceMetadataTags: 'enabled' });
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, IMDSV2_STATE), claimOf(c, LOGICAL_ID, { InstanceMetadataTags: 'enabled' })]);
});

scenario('a stack deleted with its resource RETAINed: no Delete event; its claim says retained, is never pruned, and blocks no other value', async (w) => {
  const a = w.stack({ name: 'Retained' });
  expectSuccess(await a.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, removalPolicy: RemovalPolicy.RETAIN })));
  const del = await a.delete();
  expect(del.event).toBeUndefined();
  expect(a.status).toBe('DELETE_COMPLETE');
  expect(a.resourceStatus(LOGICAL_ID)).toBe('DELETE_SKIPPED');
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, { HttpTokens: 'required' })]);
  expect(w.claims()[0].retained).toBe(true);

  // A claim (of the previous release's format) of a stack that never existed in this account is stale.
  const ghost = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Ghost/00000000-0000-4000-8000-000000000000';
  w.ssm.setParameter(REGION, legacyClaimName(ghost, 'ImdsGhost'), JSON.stringify({
    format: 1, stackId: ghost, stackName: 'Ghost', logicalResourceId: 'ImdsGhost', fields: { HttpTokens: 'required' },
  }));

  const b = w.stack({ name: 'Newcomer' });
  const create = await b.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL }));
  expectSuccess(create, { HttpTokens: 'optional' });
  expect(create.cfnRequests.map((r) => r.params.StackName)).toEqual(expect.arrayContaining([a.stackId, ghost]));
  // No claim is pruned any more (a function may write and delete only its own): the stale and the retained ones stay, ignored.
  expect(owners(w)).toEqual([
    claimOf({ stackName: 'Ghost' } as CloudFormationStack, 'ImdsGhost', { HttpTokens: 'required' }),
    claimOf(b, LOGICAL_ID, { HttpTokens: 'optional' }),
    claimOf(a, LOGICAL_ID, { HttpTokens: 'required' }),
  ]);
  expect(w.state()).toEqual({ HttpTokens: 'optional' });

  // EC2 no longer holds the retained claim's value: it protects nothing, and the last live owner's Delete resets.
  expectSuccess(await b.delete());
  expect(w.state()).toEqual({});
});

scenario('a resource removed from its stack without a Delete event (Retain, then removed): its retained claim keeps the values it still holds', async (w) => {
  const a = w.stack({ name: 'Leaver' });
  expectSuccess(await a.create(v1));
  // RETAIN adds the property Retained: an Update that writes nothing to EC2 and marks the claim retained.
  const retain = await a.update(synthesizeImds({ ...IMDSV2, removalPolicy: RemovalPolicy.RETAIN }));
  expectSuccess(retain);
  expect(retain.event!.ResourceProperties.Retained).toBe('true');
  expect(modifies(retain)).toEqual([]);
  expect(w.claims()).toEqual([expect.objectContaining({ retained: true, fields: IMDSV2_STATE })]);
  const removal = await a.update(synthesizeWithoutImds());
  expect(removal.steps.map((s) => [s.step, s.event])).toEqual([[`Delete (cleanup) ${LOGICAL_ID}: retained, no event`, undefined]]);
  expect(a.resourceStatus(LOGICAL_ID)).toBeUndefined();
  expect(w.state()).toEqual(IMDSV2_STATE);

  const b = w.stack({ name: 'Stayer' });
  expectSuccess(await b.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED })));
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, IMDSV2_STATE), claimOf(b, LOGICAL_ID, { HttpTokens: 'required' })]);
  // The retained resource is gone from its stack, and EC2 still holds its HttpTokens: Stayer's Delete leaves it.
  const del = await b.delete();
  expectSuccess(del);
  expect(modifies(del)).toEqual([]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, IMDSV2_STATE)]);
});

scenario('a stack deleted with RetainResources after a failed Delete: no event; the claim left behind blocks nothing and is not pruned', async (w) => {
  const a = w.stack({ name: 'Stuck' });
  expectSuccess(await a.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED })));
  w.ec2.injectFault({ code: 'UnauthorizedOperation', times: 1_000, action: MODIFY });
  const failed = await a.delete();
  expectFailed(failed, /UnauthorizedOperation/);
  expect(a.status).toBe('DELETE_FAILED');
  w.ec2.clearFaults();

  const retained = await a.delete({ retainResources: [LOGICAL_ID] });
  expect(retained.event).toBeUndefined();
  expect(a.status).toBe('DELETE_COMPLETE');
  expect(a.resourceStatus(LOGICAL_ID)).toBe('DELETE_SKIPPED');

  const b = w.stack({ name: 'Next' });
  expectSuccess(await b.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL })), { HttpTokens: 'optional' });
  // Stuck's claim (not a RETAIN resource: it protects nothing) stays, stale and ignored: no function may delete another's claim.
  expect(owners(w)).toEqual([claimOf(b, LOGICAL_ID, { HttpTokens: 'optional' }), claimOf(a, LOGICAL_ID, { HttpTokens: 'required' })]);
}, { concurrent: true });

scenario('ownership unknown: SSM denies access beyond the IAM-propagation retry; Create fails with no EC2 write, its rollback Delete succeeds', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'optional' });
  w.ssm.injectFault({ code: 'AccessDeniedException', times: 1_000 });
  const stack = w.stack();

  const create = await stack.create(v1);
  expectFailed(create, /ownership|claims?/i);
  expect(create.answer!.Reason).toMatch(/AccessDenied/);
  expect(create.ec2Actions).not.toContain(MODIFY);
  expect(create.ssmRequests.filter((r) => r.fault).length).toBeGreaterThanOrEqual(2);
  expect(w.state()).toEqual({ HttpTokens: 'optional' });

  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).not.toContain(MODIFY);
  expect(w.state()).toEqual({ HttpTokens: 'optional' });
}, { concurrent: true, timeoutMs: 90_000 });

scenario('ownership unknown on Update and Delete: the Update fails with no EC2 write; the Delete succeeds, leaves the settings and logs why', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(v1));
  w.ssm.injectFault({ code: 'AccessDeniedException', times: 1_000 });

  const update = await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL }));
  expectFailed(update, /ownership|claims?/i);
  expect(update.ec2Actions).not.toContain(MODIFY);
  expect(w.state()).toEqual(IMDSV2_STATE);
  w.ssm.clearFaults();
  expectSuccess(await stack.rollback());
  expect(w.state()).toEqual(IMDSV2_STATE);

  w.ssm.injectFault({ code: 'AccessDeniedException', times: 1_000 });
  const del = await stack.delete();
  expectSuccess(del);
  expect(del.ec2Actions).not.toContain(MODIFY);
  expect(del.invocation!.logs).toMatch(/ownership could not be determined/i);
  expect(w.state()).toEqual(IMDSV2_STATE);
}, { concurrent: true, timeoutMs: 90_000 });

scenario('CloudFormation denies DescribeStackResource beyond the retry: the Create cannot be confirmed and changes nothing, nor can its rollback Delete (ROLLBACK_FAILED); once allowed, deleting the stack succeeds', async (w) => {
  const a = w.stack({ name: 'AppA' });
  expectSuccess(await a.create(v1));
  w.cfn.injectFault({ code: 'AccessDenied', times: 1_000 });

  const b = w.stack({ name: 'AppB' });
  const create = await b.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 3 }));
  expectFailed(create, /could not confirm[\s\S]*AccessDenied[\s\S]*nothing was changed/);
  // The confirmation comes first: no other call at all.
  expect({ ec2: create.ec2Actions, ssm: create.ssmActions }).toEqual({ ec2: [], ssm: [] });
  expect(w.state()).toEqual(IMDSV2_STATE);
  // Before this release the marker Delete needed no call; now every event is confirmed first (Create, Update and Delete alike).
  const rollback = await b.delete();
  expectFailed(rollback, /could not confirm/);
  expect(b.status).toBe('ROLLBACK_FAILED');
  expect(w.state()).toEqual(IMDSV2_STATE);

  w.cfn.clearFaults();
  expectSuccess(await b.delete());
  expect(b.status).toBe('DELETE_COMPLETE');
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, IMDSV2_STATE)]);
}, { concurrent: true, timeoutMs: 90_000 });

scenario('ownership unknown: SSM unreachable (hangs); Create fails before the Timeout with no EC2 write, Delete succeeds leaving the settings', async (w) => {
  const a = w.stack({ name: 'AppA' });
  expectSuccess(await a.create(v1));
  w.ssm.hang = true;

  const b = w.stack({ name: 'AppB' });
  const create = await b.create(v1);
  expectFailed(create, /ownership|claims?/i);
  expect(create.ec2Actions).not.toContain(MODIFY);

  const del = await a.delete();
  expectSuccess(del);
  expect(del.ec2Actions).not.toContain(MODIFY);
  expect(w.state()).toEqual(IMDSV2_STATE);
}, { concurrent: true, timeoutMs: 120_000 });

scenario('CloudFormation unreachable (hangs) on Delete: the event cannot be confirmed; the Delete fails saying nothing was changed, and leaves the settings', async (w) => {
  const a = w.stack({ name: 'AppA' });
  const b = w.stack({ name: 'AppB' });
  expectSuccess(await a.create(v1));
  expectSuccess(await b.create(v1));
  w.cfn.hang = true;

  // Before this release the Delete succeeded leaving the settings (ownership unknown); now it cannot be confirmed at all.
  const del = await a.delete();
  expectFailed(del, /could not confirm[\s\S]*nothing was changed/);
  expect(del.ec2Actions).toEqual([]);
  expect(w.state()).toEqual(IMDSV2_STATE);
}, { concurrent: true, timeoutMs: 120_000 });

scenario('IAM propagation: access denied on the first two SSM and CloudFormation calls is retried, and the Create succeeds', async (w) => {
  const a = w.stack({ name: 'AppA' });
  expectSuccess(await a.create(v1));
  w.ssm.injectFault({ code: 'AccessDeniedException', times: 2 });
  w.cfn.injectFault({ code: 'AccessDenied', times: 2 });

  const b = w.stack({ name: 'AppB' });
  const create = await b.create(v1);
  expectSuccess(create);
  expect(create.ssmRequests.filter((r) => r.fault)).toHaveLength(2);
  expect(create.cfnRequests.filter((r) => r.fault)).toHaveLength(2);
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, IMDSV2_STATE), claimOf(b, LOGICAL_ID, IMDSV2_STATE)]);
}, { concurrent: true, timeoutMs: 90_000 });

scenario(`upgrade: a resource created by the released handler (${RELEASED_COMMIT}) has no claim; the upgrading Update registers it; its Delete resets`, async (w) => {
  const released = releasedTemplate();
  const current = synthesizeImds(IMDSV2, 'ImdsDefaults');
  // The same logical ids: the upgrade updates the function and the resource in place.
  expect([current.resourceLogicalId, current.functionLogicalId]).toEqual([released.resourceLogicalId, released.functionLogicalId]);
  const stack = w.stack();

  const create = await stack.create(released);
  expectSuccess(create, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' });
  expect(create.event!.ResourceProperties).not.toHaveProperty('Ownership');
  expect(create.ssmRequests).toEqual([]);
  expect(w.claims()).toEqual([]);
  expect(w.state()).toEqual(IMDSV2_STATE);

  const upgrade = await stack.update(current);
  expectSuccess(upgrade);
  expect(upgrade.event!.OldResourceProperties).not.toHaveProperty('Ownership');
  expect(upgrade.event!.ResourceProperties.Ownership).toBe('claims-v2');
  expect(modifies(upgrade)).toEqual([]);
  expect(owners(w)).toEqual([claimOf(stack, released.resourceLogicalId, IMDSV2_STATE)]);

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
});

scenario(`upgrade and rename in one deployment: the old resource's Delete is run by the released (${RELEASED_COMMIT}) function, which resets; upgrade first, then refactor`, async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(releasedTemplate()));
  const renamed = synthesizeImds(IMDSV2, 'Security/ImdsDefaults');
  const update = await stack.update(renamed);
  expectSuccess(stepOf(update, 'Create', renamed.resourceLogicalId));
  const cleanup = stepOf(update, 'Delete');
  expectSuccess(cleanup);
  // The old function left the template with its resource, so CloudFormation never updated its code.
  expect(cleanup.ssmRequests).toEqual([]);
  expect(w.state()).toEqual({});
  // Deployed in two steps (upgrade, then rename), the settings stay: the rename scenarios above.
});

/** A stack managing HttpTokens, and the same stack with a hop limit from the Number parameter HopLimit. */
const tokensOnly = synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED });
const withHopParameter = synthesize((stack) => {
  const hop = new CfnParameter(stack, 'HopLimit', { type: 'Number' });
  new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: hop.valueAsNumber });
});

scenario('the rollback of the issue: a hop limit set outside the stack survives a failed Update that added one from a parameter', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(tokensOnly));
  w.ec2.setState(REGION, { HttpTokens: 'required', HttpPutResponseHopLimit: 3 });

  const update = await stack.update(withHopParameter, { HopLimit: '0' });
  expectFailed(update, /got "0"/);
  expect(update.ec2Actions).not.toContain(MODIFY);

  const rollback = await stack.rollback();
  expect(rollback.event).toMatchObject({ OldResourceProperties: { HttpPutResponseHopLimit: '0' } });
  expect(rollback.event!.ResourceProperties).not.toHaveProperty('HttpPutResponseHopLimit');
  expectSuccess(rollback);
  expect(modifies(rollback)).toEqual([]);
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, { HttpTokens: 'required' })]);
});

scenario('another resource fails the stack update after ours succeeded: the rollback Update (old and new swapped) puts our change back', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL })));

  const update = await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 }), {}, { anotherResourceFails: 'SomeQueue' });
  expectSuccess(update);
  expect(update.stackStatus).toBe('UPDATE_ROLLBACK_IN_PROGRESS');
  expect(w.state()).toEqual(IMDSV2_STATE);

  const rollback = await stack.rollback();
  expect(rollback.event).toMatchObject({ ResourceProperties: { HttpTokens: 'optional' }, OldResourceProperties: { HttpTokens: 'required', HttpPutResponseHopLimit: '2' } });
  expectSuccess(rollback);
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  // The hop limit is still what the failed update asked for, so it goes back to no preference.
  expect(w.state()).toEqual({ HttpTokens: 'optional' });
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, { HttpTokens: 'optional' })]);
});

scenario('another resource fails the stack update that added a hop limit someone else had set: the rollback leaves it as before', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(tokensOnly));
  w.ec2.setState(REGION, { HttpTokens: 'required', HttpPutResponseHopLimit: 3 });

  // The update asks for the value already there: nothing to write.
  const update = await stack.update(withHopParameter, { HopLimit: '3' }, { anotherResourceFails: 'SomeQueue' });
  expectSuccess(update);
  expect(modifies(update)).toEqual([]);

  expectSuccess(await stack.rollback());
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
});

scenario('a forward Update that changed fields and then failed puts them back before answering FAILED; the rollback then writes nothing', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL, httpPutResponseHopLimit: 2 })));
  // The first Get (the state before) goes through; every read-back after the Modify fails.
  w.ec2.injectFault({ code: 'InternalError', times: 1_000, action: GET, after: 1 });

  const update = await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 3 }));
  expectFailed(update, /previous values were restored/);
  const writes = modifies(update);
  expect(writes).toHaveLength(2);
  expect(writes[0]).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: '3' });
  expect(writes[1]).toMatchObject({ HttpTokens: 'optional', HttpPutResponseHopLimit: '2' });
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 })]);

  w.ec2.clearFaults();
  const rollback = await stack.rollback();
  expectSuccess(rollback);
  expect(modifies(rollback)).toEqual([]);
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
}, { concurrent: true, timeoutMs: 90_000 });

scenario('Create and Update write only the fields that differ; an Update that changes nothing on EC2 makes no Modify call', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  const stack = w.stack();

  const create = await stack.create(v1);
  expectSuccess(create);
  expect(modifies(create)).toEqual([{ Action: MODIFY, Version: '2016-11-15', HttpPutResponseHopLimit: '2' }]);

  // Someone set the hop limit to 3; the update asks for 3.
  w.ec2.setState(REGION, { HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  const update = await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 3 }));
  expectSuccess(update, { HttpPutResponseHopLimit: '3', Applied: 'true' });
  expect(update.ec2Actions).not.toContain(MODIFY);
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, { HttpTokens: 'required', HttpPutResponseHopLimit: 3 })]);
});
