/**
 * End-to-end: issue 15's hardening, one scenario per numbered case of the issue,
 * through the shipped inline code (each function's index.js as the template
 * carries it) against the local EC2, SSM, CloudFormation and CloudWatch
 * endpoints. Every scenario fails on the previous release (322c6d4): run
 * `E2E_PREVIOUS_RELEASE_CODE=1 npx jest test/e2e/hardening.test.ts` to run them
 * with that release's inline code (harness/template.ts); each scenario's comment
 * says where the old code fails it.
 *
 *  1. rollbacks restore (a new stack's rollback, an update's rollback cleanup);
 *     a deliberate Delete still resets by default, and restores with
 *     SettingsOnDelete.RESTORE;
 *  2. only CloudFormation's events act: a forged Delete and a forged Create
 *     change nothing, answer FAILED with nothing the caller did not send, log a
 *     security warning and put UnconfirmedEvents;
 *  3. Parameter Store never decides the values: an edited claim changes nothing
 *     the drift guard writes; a deleted claim is reported and the guard keeps
 *     guarding; a value before edited in the claim by another principal is not
 *     used by a rollback Update;
 *  4. a retained owner keeps its field;
 *  5. a late event changes nothing;
 *  6. the Delete/Create race of two StackSets (member resources DESTROY: with the
 *     default, retained, the old instance gets no Delete and there is no race)
 *     ends with the field re-applied;
 *  7. the CloudTrail rule ignores failed calls; a look-alike session name is
 *     another caller;
 *  and the upgrade from the previous release (its templates, 322c6d4).
 */
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CloudFormationStack, FunctionRun, StepResult, stepOf } from './harness/cloudformation';
import { cloudTrailEvent, matchesPattern } from './harness/eventbridge';
import { executionRoleSession } from './harness/lambda';
import { identityOf, metricsPut } from './harness/metrics';
import { REGION, World, claimName, expectSuccess, legacyClaimName, scenario } from './harness/scenario';
import {
  ACCOUNT,
  CUSTOM_RESOURCE_TYPE,
  INSTANCE_UPGRADE_TYPE,
  PREVIOUS_COMMIT,
  StackTemplate,
  previousReleaseTemplate,
  readTemplate,
  synthesize,
  synthesizeImds,
  synthesizeStackSet,
  synthesizeWithoutImds,
} from './harness/template';
import {
  DriftGuardMode,
  ImdsAccountDefaults,
  ImdsAccountDefaultsProps,
  ImdsHttpTokens,
  ImdsInstanceMetadataTags,
  ImdsInstanceUpgrade,
  ImdsStackSetTarget,
  InstanceUpgradeMode,
  SettingsOnDelete,
} from '../../src';
import { TEST_CREDENTIALS, testAccessKeyId } from '../support/sigv4';

const MODIFY = 'ModifyInstanceMetadataDefaults';
const NAMESPACE = 'CdkImdsAccountDefaults';
const IMDSV2 = { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 };
const IMDSV2_STATE = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
/** The physical id's first part: the stack's account and Region. */
const PHYSICAL_PREFIX = `ImdsAccountDefaults:${ACCOUNT}:${REGION}`;
/** The fixed reason of the answer to an event CloudFormation did not confirm (written out: a change breaks this suite). */
const UNCONFIRMED_REASON = 'This event was not confirmed by CloudFormation; nothing was changed. See the function\'s log.';
const ALICE = 'arn:aws:sts::123456789012:assumed-role/Admin/alice';

/** The Modify requests of a step (or of every step of an operation), without Action and Version. */
function modifies(result: Pick<StepResult, 'ec2Requests'> & { steps?: readonly StepResult[] }): Array<Record<string, string>> {
  const steps = result.steps ?? [result];
  return steps.flatMap((s) => s.ec2Requests.filter((r) => r.action === MODIFY).map(({ params: { Action, Version, ...rest } }) => rest));
}

/** The structured log lines of an invocation (one JSON object a line). */
function logLines(step: Pick<StepResult, 'invocation'>): Array<Record<string, any>> {
  return (step.invocation?.logs ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function linesOf(step: Pick<StepResult, 'invocation'>, message: string): Array<Record<string, any>> {
  return logLines(step).filter((l) => l.message === message);
}

/** The library's metrics CloudWatch holds, as [name, value] in the order put. */
function metrics(w: World): Array<[string, number | undefined]> {
  return w.cloudwatch.putMetricData(REGION, NAMESPACE).map((d) => [d.MetricName, d.Value]);
}

/** The claims of a Region as (stack name, logical id, fields, retained): what they say, whatever their names (checked apart). */
function owners(w: World) {
  return w.claims().map((c) => ({
    stackName: c.stackName, logicalResourceId: c.logicalResourceId, fields: c.fields, ...(c.retained ? { retained: true } : {}),
  }));
}

function claimOf(stack: CloudFormationStack, logicalResourceId: string, fields: Record<string, string | number>, retained = false) {
  return { stackName: stack.stackName, logicalResourceId, fields, ...(retained ? { retained: true } : {}) };
}

/** The SSM parameter holding a resource's claim, found by what it says (its name is checked elsewhere). */
function claimParameterOf(w: World, stack: CloudFormationStack, logicalResourceId: string): string {
  const found = w.claims().filter((c) => c.stackId === stack.stackId && c.logicalResourceId === logicalResourceId);
  expect(found).toHaveLength(1);
  return found[0].name;
}

/** Someone changes the settings from the console: straight into EC2's state (undefined: back to no preference). */
function changeOutOfBand(w: World, changes: Record<string, string | number | undefined>): void {
  const state: Record<string, unknown> = { ...w.state(), ...changes };
  for (const key of Object.keys(state)) {
    if (state[key] === undefined) delete state[key];
  }
  w.ec2.setState(REGION, state as ReturnType<World['state']>);
}

const t = synthesizeImds(IMDSV2);
const LOGICAL_ID = t.resourceLogicalId;
/** ImdsAccountDefaults as the previous release synthesized it (REQUIRED, hop limit 2, REAPPLY). */
const previousGuarded = previousReleaseTemplate('account-defaults');
const guarded = (props: Partial<ImdsAccountDefaultsProps> = {}): StackTemplate =>
  synthesizeImds({ ...IMDSV2, driftGuard: DriftGuardMode.REAPPLY, ...props });

// ---- 1. Rollbacks restore ----

// Previous release: the rollback Delete resets HttpTokens to no-preference (state {}).
scenario('1. a new stack rolls back: the rollback Delete puts back the hop limit it had set and leaves HttpTokens required, as it was before', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  const stack = w.stack();

  const create = await stack.create(t, {}, { anotherResourceFails: 'AppQueue' });
  expectSuccess(create);
  expect(modifies(create)).toEqual([{ HttpPutResponseHopLimit: '2' }]);
  expect(create.shown).toEqual({ stackStatus: 'CREATE_IN_PROGRESS', resourceType: CUSTOM_RESOURCE_TYPE, resourceStatus: 'CREATE_IN_PROGRESS', physicalResourceId: undefined });
  expect(stack.status).toBe('ROLLBACK_IN_PROGRESS');
  expect(w.state()).toEqual(IMDSV2_STATE);

  const rollback = await stack.rollback();
  expectSuccess(rollback);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  expect(modifies(rollback)).toEqual([{ HttpPutResponseHopLimit: '-1' }]);
  expect(rollback.shown).toEqual({
    stackStatus: 'ROLLBACK_IN_PROGRESS', resourceType: CUSTOM_RESOURCE_TYPE, resourceStatus: 'DELETE_IN_PROGRESS', physicalResourceId: create.answer!.PhysicalResourceId,
  });
  // The Delete asked CloudFormation which Delete it is.
  expect(rollback.cfnRequests.map((r) => [r.action, r.params.StackName])).toEqual(expect.arrayContaining([['DescribeStacks', stack.stackId]]));
  expect(stack.status).toBe('ROLLBACK_COMPLETE');
  expect(w.claims()).toEqual([]);
  // The values before the Create, kept by CloudFormation in the physical id.
  expect(create.answer!.PhysicalResourceId).toBe(`${PHYSICAL_PREFIX}:HttpTokens=required,HttpPutResponseHopLimit=-1`);
});

// Previous release: the cleanup Delete resets HttpTokens to no-preference (state {}).
scenario('1. an update that added the construct fails: the cleanup Delete (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS) restores what was there', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  const stack = w.stack();
  expect((await stack.create(synthesizeWithoutImds())).stackStatus).toBe('CREATE_COMPLETE');

  const update = await stack.update(t, {}, { anotherResourceFails: 'AppQueue' });
  const create = stepOf(update, 'Create');
  expectSuccess(create);
  expect(create.shown).toMatchObject({ stackStatus: 'UPDATE_IN_PROGRESS', resourceStatus: 'CREATE_IN_PROGRESS' });
  expect(w.state()).toEqual(IMDSV2_STATE);

  const rollback = await stack.rollback();
  const cleanup = stepOf(rollback, 'Delete');
  expectSuccess(cleanup);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  expect(cleanup.shown).toEqual({
    stackStatus: 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', resourceType: CUSTOM_RESOURCE_TYPE, resourceStatus: 'DELETE_IN_PROGRESS', physicalResourceId: create.answer!.PhysicalResourceId,
  });
  expect(modifies(cleanup)).toEqual([{ HttpPutResponseHopLimit: '-1' }]);
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  expect(w.claims()).toEqual([]);
});

// The documented default is unchanged: the previous release passes every check of this scenario except the last
// (its physical id carries no values from before the Create). A guard against a restore that would leak into deliberate deletes.
scenario('1. a deliberate Delete still resets every managed field to no preference by default', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required', HttpEndpoint: 'enabled' });
  const stack = w.stack();
  expectSuccess(await stack.create(t));
  const physicalId = stack.physicalResourceId;

  const del = await stack.delete();
  expectSuccess(del);
  expect(del.event!.ResourceProperties).not.toHaveProperty('OnDelete');
  expect(del.shown).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', resourceStatus: 'DELETE_IN_PROGRESS' });
  expect(modifies(del)).toEqual([{ HttpTokens: 'no-preference', HttpPutResponseHopLimit: '-1' }]);
  // The field it does not manage stays.
  expect(w.state()).toEqual({ HttpEndpoint: 'enabled' });
  expect(w.claims()).toEqual([]);
  expect(physicalId).toBe(`${PHYSICAL_PREFIX}:HttpTokens=required,HttpPutResponseHopLimit=-1`);
});

// Previous release: OnDelete is ignored, the Delete resets (state {}).
scenario('1. SettingsOnDelete.RESTORE: a deliberate Delete puts back the values from before the Create, where EC2 still holds this resource\'s', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'optional' });
  const stack = w.stack();
  const restoring = synthesizeImds({ ...IMDSV2, instanceMetadataTags: ImdsInstanceMetadataTags.ENABLED, settingsOnDelete: SettingsOnDelete.RESTORE });
  expectSuccess(await stack.create(restoring));
  expect(w.state()).toEqual({ ...IMDSV2_STATE, InstanceMetadataTags: 'enabled' });
  // Someone changed the hop limit since: not this resource's value any more, so it is left as it is.
  changeOutOfBand(w, { HttpPutResponseHopLimit: 5 });

  const del = await stack.delete();
  expectSuccess(del);
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 5 });
  expect(del.event!.ResourceProperties.OnDelete).toBe('RESTORE');
  expect(modifies(del)).toEqual([{ HttpTokens: 'optional', InstanceMetadataTags: 'no-preference' }]);
  expect(w.claims()).toEqual([]);
});

// ---- 2. Only CloudFormation's events act ----

/** What an unconfirmed event must leave behind: a FAILED answer of the caller's own fields, a security warning, the metric. */
function expectUnconfirmed(w: World, run: Awaited<ReturnType<CloudFormationStack['forgeEvent']>>, physicalResourceId: string | RegExp): void {
  expect(run.answers).toHaveLength(1);
  const { PhysicalResourceId, ...rest } = run.answer!;
  expect(rest).toEqual({
    Status: 'FAILED',
    Reason: UNCONFIRMED_REASON,
    StackId: run.event.StackId,
    RequestId: run.event.RequestId,
    LogicalResourceId: run.event.LogicalResourceId,
    // cfn-response's fixed field; no Data.
    NoEcho: false,
  });
  if (typeof physicalResourceId === 'string') {
    expect(PhysicalResourceId).toBe(physicalResourceId);
  } else {
    expect(PhysicalResourceId).toMatch(physicalResourceId);
  }
  expect(linesOf(run, 'security warning')).toEqual([{
    message: 'security warning',
    warning: 'unconfirmed-event',
    mismatch: expect.any(String),
    RequestType: run.event.RequestType,
    StackId: run.event.StackId,
    LogicalResourceId: run.event.LogicalResourceId,
    RequestId: run.event.RequestId,
  }]);
  expect(metrics(w)).toEqual([['UnconfirmedEvents', 1]]);
  // What an alarm on either construct's metricUnconfirmedEvents() watches.
  expect(metricsPut(w.cloudwatch, REGION)).toEqual([identityOf(new ImdsAccountDefaults(new Stack(), 'Imds', IMDSV2).metricUnconfirmedEvents())]);
  expect(identityOf(new ImdsInstanceUpgrade(new Stack(), 'Upgrade', {}).metricUnconfirmedEvents())).toEqual(metricsPut(w.cloudwatch, REGION)[0]);
  // Nothing was read from or written to EC2 or SSM: the confirmation comes first.
  expect({ ec2: run.ec2Actions, ssm: run.ssmActions }).toEqual({ ec2: [], ssm: [] });
}

// Previous release: the forged Delete resets the settings and removes the claim (state {}, no claims).
scenario('2. a forged Delete with the real StackId, LogicalResourceId and PhysicalResourceId, the resource settled: nothing changes', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(guarded()));
  const claims = w.claims();
  w.cloudwatch.clearMetrics(REGION);

  const forged = await stack.forgeEvent('Delete');
  expect(forged.event).toMatchObject({ StackId: stack.stackId, LogicalResourceId: LOGICAL_ID, PhysicalResourceId: stack.physicalResourceId });
  expect(forged.shown).toMatchObject({ stackStatus: 'CREATE_COMPLETE', resourceStatus: 'CREATE_COMPLETE', physicalResourceId: stack.physicalResourceId });
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(w.claims()).toEqual(claims);
  expectUnconfirmed(w, forged, stack.physicalResourceId!);
  expect(linesOf(forged, 'security warning')[0].mismatch).toMatch(/CREATE_COMPLETE, not DELETE_IN_PROGRESS/);
  expect(forged.cfnActions).toEqual(['DescribeStackResource']);

  // The guard still guards (its claim is there), and CloudFormation's own Delete still resets.
  changeOutOfBand(w, { HttpTokens: 'optional' });
  await stack.schedule();
  expect(w.state()).toEqual(IMDSV2_STATE);
  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

// Previous release: the forged Create succeeds, writes HttpTokens optional and records a claim for "Attacker".
scenario('2. a forged Create with a made-up LogicalResourceId in the same stack: nothing changes, whatever it asks for', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(t));
  const claims = w.claims();
  w.cloudwatch.clearMetrics(REGION);

  const forged = await stack.forgeEvent('Create', {
    LogicalResourceId: 'Attacker',
    ResourceProperties: { ServiceToken: stack.functionOf().arn, HttpTokens: 'optional', HttpPutResponseHopLimit: '64', Ownership: 'claims-v2' },
  });
  expect(forged.shown).toEqual({ stackStatus: 'CREATE_COMPLETE', resourceType: undefined, resourceStatus: undefined, physicalResourceId: undefined });
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(w.claims()).toEqual(claims);
  // Create: the failed-create marker with the caller's own RequestId, nothing else.
  expectUnconfirmed(w, forged, new RegExp(`^ImdsAccountDefaults:CreateFailed:${forged.event.RequestId}$`));
  expect(linesOf(forged, 'security warning')[0].mismatch).toMatch(/no such stack or resource/);
});

// Previous release: the Delete resets and removes the claim whichever StackId or ServiceToken it names.
scenario('2. forged events that name another function, another account\'s stack, a wrong physical id or another resource type: nothing changes', async (w) => {
  const stack = w.stack();
  const both = synthesize((s) => {
    new ImdsAccountDefaults(s, 'Imds', IMDSV2);
    new ImdsInstanceUpgrade(s, 'Upgrade', { mode: InstanceUpgradeMode.REPORT_ONLY });
  });
  expectSuccess(await stack.create(both));
  const cases: Array<{ what: string; fields: Record<string, any>; mismatch: RegExp; deleting?: boolean }> = [
    { what: 'another function as ServiceToken', fields: { ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Other` }, mismatch: /ServiceToken/ },
    { what: 'a stack of another account', fields: { StackId: stack.stackId.replace(ACCOUNT, '210987654321') }, mismatch: /account and Region/ },
    { what: 'the ImdsInstanceUpgrade resource', fields: { LogicalResourceId: both.resourceOf(INSTANCE_UPGRADE_TYPE).logicalId }, mismatch: /type Custom::ImdsInstanceUpgrade/ },
    // While CloudFormation deletes the resource (set in the emulator's model: the moment a forger would pick), a Delete with another physical id.
    { what: 'another physical id, during a real Delete', fields: { PhysicalResourceId: `${PHYSICAL_PREFIX}:HttpTokens=optional` }, mismatch: /PhysicalResourceId/, deleting: true },
  ];
  for (const { what, fields, mismatch, deleting } of cases) {
    w.cloudwatch.clearMetrics(REGION);
    if (deleting) {
      w.cfn.setResourceStatus(stack.stackId, LOGICAL_ID, 'DELETE_IN_PROGRESS');
    }
    const forged = await stack.forgeEvent('Delete', fields, { resourceType: CUSTOM_RESOURCE_TYPE, label: `Forged Delete: ${what}` });
    if (deleting) {
      w.cfn.setResourceStatus(stack.stackId, LOGICAL_ID, 'CREATE_COMPLETE');
    }
    expect({ what, state: w.state() }).toEqual({ what, state: IMDSV2_STATE });
    expectUnconfirmed(w, forged, String(forged.event.PhysicalResourceId));
    expect({ what, mismatch: linesOf(forged, 'security warning')[0].mismatch }).toEqual({ what, mismatch: expect.stringMatching(mismatch) });
  }
  expect(w.claims()).toHaveLength(1);
});

// ---- 3. Parameter Store never decides the values ----

// Previous release: the guard takes the claim's values and writes HttpTokens optional with the function's role.
scenario('3. an edited claim (values changed in SSM) changes nothing the drift guard writes: it holds EC2 to the template\'s values', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(guarded()));
  const name = claimParameterOf(w, stack, LOGICAL_ID);
  const claim = JSON.parse(w.ssm.parameters(REGION).get(name)!.Value);
  w.ssm.setParameter(REGION, name, JSON.stringify({ ...claim, fields: { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 } }));
  w.cloudwatch.clearMetrics(REGION);

  const run = await stack.schedule();
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(modifies(run)).toEqual([]);
  // The edit is reported.
  expect(linesOf(run, 'security warning')).toEqual([expect.objectContaining({ warning: 'claim-problem', name })]);
  expect(metrics(w)).toEqual([['ClaimProblems', 1]]);
  expect(metricsPut(w.cloudwatch, REGION)).toEqual([identityOf(new ImdsAccountDefaults(new Stack(), 'Imds', IMDSV2).metricClaimProblems())]);

  // A change out of band is set back to the template's value, not the claim's.
  changeOutOfBand(w, { HttpTokens: 'optional', HttpPutResponseHopLimit: 8 });
  const again = await stack.schedule();
  expect(modifies(again)).toEqual([{ HttpTokens: 'required', HttpPutResponseHopLimit: '2' }]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(name).toBe(claimName(stack.stackId, LOGICAL_ID));
});

// Previous release: without its claim the guard is off ("drift check skipped"), the change stays.
scenario('3. a deleted claim is reported (ClaimProblems) and the guard keeps guarding', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(guarded()));
  const name = claimParameterOf(w, stack, LOGICAL_ID);
  w.ssm.deleteParameter(REGION, name);
  w.cloudwatch.clearMetrics(REGION);
  changeOutOfBand(w, { HttpTokens: 'optional' });

  const run = await stack.schedule();
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(modifies(run)).toEqual([{ HttpTokens: 'required' }]);
  expect(linesOf(run, 'security warning')).toEqual([expect.objectContaining({ warning: 'claim-problem', problem: 'missing', name })]);
  expect(metrics(w).map(([metric]) => metric).sort()).toEqual(['ClaimProblems', 'DriftDetected', 'DriftReapplied']);
  expect(linesOf(run, 'drift')).toEqual([expect.objectContaining({ field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied' })]);
});

// Previous release: the rollback Update hands the hop limit back to the claim's `before`, whoever wrote it (64).
scenario('3. a value before edited in the claim by another principal (another access key) is not used by the rollback Update: the field is left as it is, and reported', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED })));
  changeOutOfBand(w, { HttpPutResponseHopLimit: 3 });
  // The Update takes the hop limit over (3 -> 2); another resource of the deployment fails.
  const update = await stack.update(synthesizeImds(IMDSV2), {}, { anotherResourceFails: 'SomeQueue' });
  expectSuccess(update);
  expect(w.state()).toEqual(IMDSV2_STATE);
  const name = claimParameterOf(w, stack, LOGICAL_ID);
  const claim = JSON.parse(w.ssm.parameters(REGION).get(name)!.Value);
  expect(claim.before).toEqual({ HttpPutResponseHopLimit: 3 });
  // SSM's record of who wrote it: the function's own session (the harness runs each function with its own access key).
  expect(w.ssm.history(REGION, name).map((v) => v.LastModifiedUser)).toEqual([
    executionRoleSession(stack.functionOf()), executionRoleSession(stack.functionOf()),
  ]);

  // Mallory, allowed ssm:PutParameter, rewrites the value before with her own credentials.
  const mallory = 'arn:aws:sts::123456789012:assumed-role/Admin/mallory';
  const key = testAccessKeyId('MALLORY');
  w.ssm.setCaller(key, mallory);
  const ssm = new SSMClient({
    region: REGION, endpoint: w.ssm.endpoint, credentials: { accessKeyId: key, secretAccessKey: TEST_CREDENTIALS.secretAccessKey },
  });
  const edited = JSON.stringify({ ...claim, before: { HttpPutResponseHopLimit: 64 } });
  await ssm.send(new PutParameterCommand({ Name: name, Value: edited, Overwrite: true }));
  ssm.destroy();
  expect(w.ssm.history(REGION, name).at(-1)!.LastModifiedUser).toBe(mallory);
  w.cloudwatch.clearMetrics(REGION);

  const rollback = await stack.rollback();
  expectSuccess(rollback);
  expect(rollback.ssmActions).toContain('GetParameterHistory');
  // Neither Mallory's 64 nor a reset: the hop limit stays as it is.
  expect(modifies(rollback)).toEqual([]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(linesOf(rollback, 'security warning')).toEqual([expect.objectContaining({
    warning: 'claim-problem', problem: 'other-writer', name, detail: expect.stringContaining(mallory),
  })]);
  expect(metrics(w)).toEqual([['ClaimProblems', 1]]);
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, { HttpTokens: 'required' })]);
});

// ---- 4. Retained owners ----

// Previous release: A's claim is stale once its resource is DELETE_SKIPPED (and pruned); B's Delete resets (state {}).
scenario('4. a retained owner keeps its field: A (RETAIN) and B (DESTROY) with the same values; A deleted, then B: EC2 keeps the values', async (w) => {
  const a = w.stack({ name: 'AppA' });
  const b = w.stack({ name: 'AppB' });
  expectSuccess(await a.create(synthesizeImds({ ...IMDSV2, removalPolicy: RemovalPolicy.RETAIN })));
  expectSuccess(await b.create(t));

  const delA = await a.delete();
  expect(delA.event).toBeUndefined();
  expect(a.resourceStatus(LOGICAL_ID)).toBe('DELETE_SKIPPED');

  const delB = await b.delete();
  expectSuccess(delB);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(modifies(delB)).toEqual([]);
  // A's claim says it is retained, and stays (never pruned); B's is gone.
  expect(owners(w)).toEqual([claimOf(a, LOGICAL_ID, IMDSV2_STATE, true)]);
  expect(w.claims()[0].name).toBe(claimName(a.stackId, LOGICAL_ID));

  // Once someone changes the field, the retained claim no longer protects it: the next owner's Delete resets it.
  changeOutOfBand(w, { HttpPutResponseHopLimit: 3 });
  const c = w.stack({ name: 'AppC' });
  expectSuccess(await c.create(synthesizeImds({ httpPutResponseHopLimit: 4 })));
  expectSuccess(await c.delete());
  expect(w.state()).toEqual({ HttpTokens: 'required' });
});

// ---- 5. Late events ----

// Previous release: the late Create applies hop limit 2 again (over the Update's 3) and rewrites the claim.
scenario('5. a Create delivered again after the resource is CREATE_COMPLETE and updated since: nothing changes', async (w) => {
  const stack = w.stack();
  const create = await stack.create(t);
  expectSuccess(create);
  expectSuccess(await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 3 })));
  const claims = w.claims();
  w.cloudwatch.clearMetrics(REGION);

  const late = await stack.deliverLate(create);
  expect(late.shown).toMatchObject({ resourceStatus: 'UPDATE_COMPLETE' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  expect(w.claims()).toEqual(claims);
  expect(modifies(late)).toEqual([]);
  expect(late.answer).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
  expect(linesOf(late, 'security warning')).toEqual([expect.objectContaining({ warning: 'unconfirmed-event', RequestType: 'Create' })]);
});

// Previous release: the late Create records a claim for the resource that was rolled back.
scenario('5. the Create of a resource whose update was rolled back, delivered after the rollback: nothing changes, no claim for the gone resource', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(t));
  // A second resource served by the same function (a template written by hand): the function outlives the rollback.
  const template = JSON.parse(JSON.stringify(t.template));
  template.Resources.ImdsSecond = template.Resources[LOGICAL_ID];
  const update = await stack.update(readTemplate(template), {}, { anotherResourceFails: 'AppQueue' });
  const create = stepOf(update, 'Create', 'ImdsSecond');
  expectSuccess(create);
  expectSuccess(await stack.rollback());
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  expect(stack.resourceStatus('ImdsSecond')).toBeUndefined();
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, IMDSV2_STATE)]);
  w.cloudwatch.clearMetrics(REGION);

  const late = await stack.deliverLate(create);
  expect(late.shown).toEqual({ stackStatus: 'UPDATE_ROLLBACK_COMPLETE', resourceType: undefined, resourceStatus: undefined, physicalResourceId: undefined });
  expect(owners(w)).toEqual([claimOf(stack, LOGICAL_ID, IMDSV2_STATE)]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(late.ssmActions).toEqual([]);
  expect(late.answer).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
  expect(metrics(w)).toEqual([['UnconfirmedEvents', 1]]);
});

// ---- 6. The Delete/Create race ----

// Previous release: the old instance's Delete resets, and nothing puts the values back (state {}).
// The race needs a Delete: memberRemovalPolicy DESTROY, explicitly. With the default (retained) the old instance's
// deletion sends its custom resource no Delete, so nothing can reset the field (ownership.test.ts, "StackSet replacement
// with the default memberRemovalPolicy").
scenario('6. two StackSets with the same values, memberRemovalPolicy DESTROY: the old instance\'s Delete reads the claims before the new instance\'s Create records its own, then resets: the field is re-applied', async (w) => {
  const props = {
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }),
    memberRemovalPolicy: RemovalPolicy.DESTROY,
    ...IMDSV2,
  };
  const old = synthesizeStackSet(props);
  expect(old.template.template.Resources[old.template.resourceLogicalId].DeletionPolicy).toBe('Delete');
  const next = synthesizeStackSet({ ...props, stackSetName: 'ImdsDefaultsV2' });
  // The Delete waits while the other stack's Create runs (a cold start and its calls).
  const leaving = w.stack({ name: `StackSet-${old.stackSetName}-11111111-2222-3333-4444-555555555555`, slowestEventMs: 15_000 });
  const arriving = w.stack({ name: `StackSet-${next.stackSetName}-66666666-7777-8888-9999-000000000000` });
  expectSuccess(await leaving.create(old.template, old.parameters));

  let arrived: StepResult | undefined;
  // The first claims listing after this point is the Delete's: its answer (no claim of the arriving stack yet) is held until the Create is done.
  const interleaved = w.ssm.holdAnswer((r) => r.action === 'GetParametersByPath', async () => {
    arrived = await arriving.create(next.template, next.parameters);
  });
  const del = await leaving.delete();
  await interleaved;
  expectSuccess(arrived!);
  expect(modifies(arrived!)).toEqual([]);
  expectSuccess(del);

  expect(w.state()).toEqual(IMDSV2_STATE);
  // Reset, then put back after the re-read found the arriving claim.
  expect(modifies(del)).toEqual([
    { HttpTokens: 'no-preference', HttpPutResponseHopLimit: '-1' },
    { HttpTokens: 'required', HttpPutResponseHopLimit: '2' },
  ]);
  expect(owners(w)).toEqual([claimOf(arriving, next.template.resourceLogicalId, IMDSV2_STATE)]);
  expect(w.claims()[0].name).toBe(claimName(arriving.stackId, next.template.resourceLogicalId));
}, { timeoutMs: 90_000 });

// ---- 7. Drift guard details ----

// Previous release: its rule matches the failed call (checked below on its template), and its function runs a check (calls).
scenario('7. a failed call in CloudTrail does not match the rule; delivered directly, the function ignores it', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(guarded()));
  changeOutOfBand(w, { HttpTokens: 'optional' });
  const failed = cloudTrailEvent({
    account: stack.accountId,
    region: stack.region,
    callerArn: ALICE,
    errorCode: 'Client.UnauthorizedOperation',
    requestParameters: { ModifyInstanceMetadataDefaultsRequest: { HttpTokens: 'optional' } },
  });
  w.cloudwatch.clearMetrics(REGION);

  expect(await stack.putEvent(failed)).toEqual({ matched: [], runs: [] });
  const previousTrail = Object.values<any>(previousGuarded.template.Resources).find((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern);
  expect(matchesPattern(previousTrail.Properties.EventPattern, failed)).toBe(true);
  const direct = await stack.invokeFunction(failed);
  expect({ ec2: direct.ec2Actions, ssm: direct.ssmActions, cfn: direct.cfnActions, cloudwatch: direct.cloudwatchActions })
    .toEqual({ ec2: [], ssm: [], cfn: [], cloudwatch: [] });
  expect(linesOf(direct, 'ignored')).toEqual([expect.objectContaining({ reason: expect.stringMatching(/failed|error/i) })]);
  expect(w.state()).toEqual({ ...IMDSV2_STATE, HttpTokens: 'optional' });

  // The same call succeeding matches, and is checked.
  const { errorCode, errorMessage, ...detail } = failed.detail as Record<string, any>;
  const delivery = await stack.putEvent({ ...failed, detail: { ...detail, responseElements: { return: true } } });
  expect(delivery.matched).toHaveLength(1);
  expect(w.state()).toEqual(IMDSV2_STATE);
});

// Previous release: the session name alone says "own change": the look-alike's change is not checked (state stays optional).
scenario('7. the own-change check: another role with the function\'s name as session name is another caller; the function\'s own role and session is not checked again', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(guarded()));
  const fn = stack.functionOf();
  const roleName = fn.environment.IMDS_ROLE_NAME;
  expect(roleName).toBeDefined();
  const own = `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${fn.functionName}`;
  const lookalike = `arn:aws:sts::${ACCOUNT}:assumed-role/Intruder/${fn.functionName}`;

  changeOutOfBand(w, { HttpTokens: 'optional' });
  const event = cloudTrailEvent({ account: stack.accountId, region: stack.region, callerArn: lookalike, requestParameters: { ModifyInstanceMetadataDefaultsRequest: { HttpTokens: 'optional' } } });
  const [run] = (await stack.putEvent(event)).runs;
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(linesOf(run, 'drift')).toEqual([expect.objectContaining({ field: 'HttpTokens', action: 'reapplied', trigger: 'cloudtrail', caller: lookalike })]);

  // The function's own change (its role, its session): not checked again.
  const mine = cloudTrailEvent({ account: stack.accountId, region: stack.region, callerArn: own, requestParameters: { ModifyInstanceMetadataDefaultsRequest: { HttpTokens: 'required' } } });
  const [ownRun] = (await stack.putEvent(mine)).runs;
  expect(ownRun.ec2Actions).toEqual([]);
  expect(linesOf(ownRun, 'ignored')).toHaveLength(1);
});

// ---- Upgrade from the previous release ----

// Previous release: n/a (this is the upgrade onto the new code). On the old code the claim keeps its old name.
scenario(`upgrade from ${PREVIOUS_COMMIT}: the update to the new template resets nothing and fails nothing, records the claim under its new name; the Delete resets as documented`, async (w) => {
  const current = guarded();
  expect([current.resourceLogicalId, current.functionLogicalId]).toEqual([previousGuarded.resourceLogicalId, previousGuarded.functionLogicalId]);
  const stack = w.stack();
  const create = await stack.create(previousGuarded);
  expectSuccess(create, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' });
  const oldPhysicalId = create.answer!.PhysicalResourceId;
  expect(oldPhysicalId).toBe(PHYSICAL_PREFIX);
  expect(w.claims().map((c) => [c.name, c.format])).toEqual([[legacyClaimName(stack.stackId, LOGICAL_ID), 1]]);

  const upgrade = await stack.update(current);
  expectSuccess(upgrade);
  expect(upgrade.steps.map((s) => s.requestType)).toEqual(['Update']);
  expect(upgrade.event!.ResourceProperties.Ownership).toBe('claims-v2');
  expect(upgrade.answer!.PhysicalResourceId).toBe(oldPhysicalId);
  expect(modifies(upgrade)).toEqual([]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  // The claim under its new name; the one of format 1 stays where it was (the function may write and delete only its own
  // claim's new name), as evidence of the same owner.
  const legacy = { name: legacyClaimName(stack.stackId, LOGICAL_ID), format: 1, fields: IMDSV2_STATE };
  expect(w.claims().map((c) => ({ name: c.name, format: c.format, fields: c.fields }))).toEqual(expect.arrayContaining([
    legacy,
    { name: claimName(stack.stackId, LOGICAL_ID), format: 2, fields: IMDSV2_STATE },
  ]));
  expect(w.claims()).toHaveLength(2);

  // The guard runs with the template's values.
  changeOutOfBand(w, { HttpTokens: 'optional' });
  expect(modifies(await stack.schedule())).toEqual([{ HttpTokens: 'required' }]);

  const del = await stack.delete();
  expectSuccess(del);
  expect(w.state()).toEqual({});
  // The claim of format 1 is left over, stale (its resource is DELETE_COMPLETE): it blocks nothing (the README says how to remove it).
  expect(w.claims().map((c) => ({ name: c.name, format: c.format, fields: c.fields }))).toEqual([legacy]);
  const next = w.stack({ name: 'Next' });
  expectSuccess(await next.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL })), { HttpTokens: 'optional' });
});

scenario(`upgrade from ${PREVIOUS_COMMIT}: a RETAIN resource and an ImdsInstanceUpgrade update cleanly`, async (w) => {
  const retained = w.stack({ name: 'Retained' });
  expectSuccess(await retained.create(previousReleaseTemplate('account-defaults-retain')));
  const upgrade = await retained.update(synthesizeImds({ ...IMDSV2, removalPolicy: RemovalPolicy.RETAIN }));
  expectSuccess(upgrade);
  expect(upgrade.event!.ResourceProperties).toMatchObject({ Ownership: 'claims-v2', Retained: 'true' });
  expect(modifies(upgrade)).toEqual([]);
  expect(w.claims().find((c) => c.name === claimName(retained.stackId, LOGICAL_ID)))
    .toMatchObject({ format: 2, retained: true, fields: IMDSV2_STATE });
  const del = await retained.delete();
  expect(del.event).toBeUndefined();
  expect(w.state()).toEqual(IMDSV2_STATE);

  const instances = w.stack({ name: 'Upgrade' });
  const previousUpgrade = previousReleaseTemplate('instance-upgrade');
  expectSuccess(await instances.create(previousUpgrade));
  const currentUpgrade = synthesize((s) => new ImdsInstanceUpgrade(s, 'Upgrade', { mode: InstanceUpgradeMode.REPORT_ONLY }));
  expect(currentUpgrade.resourceLogicalId).toBe(previousUpgrade.resourceLogicalId);
  const updated = await instances.update(currentUpgrade);
  for (const step of updated.steps) {
    expectSuccess(step);
  }
  expect(instances.status).toBe('UPDATE_COMPLETE');
  const run: FunctionRun = await instances.schedule();
  expect(run.invocation.outcome).toBe('returned');
  const del2 = await instances.delete();
  expectSuccess(del2);
  expect(del2.shown).toMatchObject({ resourceType: INSTANCE_UPGRADE_TYPE, resourceStatus: 'DELETE_IN_PROGRESS' });
});
