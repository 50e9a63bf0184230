/**
 * End-to-end: the drift guard (issue 11) through the shipped inline handler.
 * The stack is created by the CloudFormation stand-in; then EventBridge's
 * deliveries are run as EventBridge would run them: `stack.schedule()` fires the
 * guard's schedule rule, `stack.putEvent(cloudTrailEvent(…))` puts CloudTrail's
 * record of a call on the default bus (only rules whose pattern matches invoke
 * the function), and `stack.invokeFunction(event)` invokes the function with an
 * event no rule would deliver (a forgery by anyone allowed to invoke it).
 *
 * Out-of-band changes (the console, the CLI) are made directly in the EC2
 * emulator's state, as ModifyInstanceMetadataDefaults by someone else would
 * leave it. Every scenario asserts on EC2's state, the EC2 calls, the
 * structured log lines and the metrics CloudWatch received.
 */
import { Stack } from 'aws-cdk-lib';
import { CloudFormationStack, FunctionRun } from './harness/cloudformation';
import { cloudTrailEvent, scheduledEvent } from './harness/eventbridge';
import { identityOf, metricsPut } from './harness/metrics';
import { REGION, World, claimName, expectSuccess, legacyClaimName, scenario } from './harness/scenario';
import { StackTemplate, synthesizeImds, synthesizeStackSet } from './harness/template';
import {
  DriftGuardMode,
  ImdsAccountDefaults,
  ImdsAccountDefaultsProps,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsStackSetTarget,
} from '../../src';

const MODIFY = 'ModifyInstanceMetadataDefaults';
const NAMESPACE = 'CdkImdsAccountDefaults';
const ALICE = 'arn:aws:sts::123456789012:assumed-role/Admin/alice';
const IMDSV2 = { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 };
const IMDSV2_STATE = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };

const guarded = (driftGuard: DriftGuardMode, props: Partial<ImdsAccountDefaultsProps> = {}): StackTemplate =>
  synthesizeImds({ ...IMDSV2, driftGuard, ...props });
/** The construct of `guarded(...)`, for its metric methods: what an app's alarms watch. */
const guardedConstruct = (driftGuard: DriftGuardMode, props: Partial<ImdsAccountDefaultsProps> = {}): ImdsAccountDefaults =>
  new ImdsAccountDefaults(new Stack(), 'Imds', { ...IMDSV2, driftGuard, ...props });

/** The structured log lines of a run (one JSON object a line). */
function logLines(run: FunctionRun): Array<Record<string, any>> {
  return run.invocation.logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function linesOf(run: FunctionRun, message: string): Array<Record<string, any>> {
  return logLines(run).filter((l) => l.message === message);
}

/** The Modify requests of a run, without Action and Version. */
function modifies(run: FunctionRun): Array<Record<string, string>> {
  return run.ec2Requests.filter((r) => r.action === MODIFY).map(({ params: { Action, Version, ...rest } }) => rest);
}

/** The library's metrics CloudWatch holds, as [name, value, dimensions] in the order put. */
function metrics(w: World): Array<[string, number | undefined, Record<string, string>]> {
  return w.cloudwatch.putMetricData(REGION, NAMESPACE).map((d) => [d.MetricName, d.Value, { ...d.Dimensions }]);
}

/** Someone changes the settings from the console: a Modify of their own, straight into EC2's state. */
function changeOutOfBand(w: World, changes: Record<string, string | number | undefined>): void {
  const state: Record<string, unknown> = { ...w.state(), ...changes };
  for (const key of Object.keys(state)) {
    if (state[key] === undefined) delete state[key];
  }
  w.ec2.setState(REGION, state as ReturnType<World['state']>);
}

async function deploy(w: World, template: StackTemplate): Promise<CloudFormationStack> {
  const stack = w.stack();
  expectSuccess(await stack.create(template));
  expect(w.state()).toEqual(IMDSV2_STATE);
  return stack;
}

/** A run that read nothing and changed nothing: no AWS call at all. */
function expectNoCalls(run: FunctionRun): void {
  expect({ ec2: run.ec2Actions, ssm: run.ssmActions, cfn: run.cfnActions, cloudwatch: run.cloudwatchActions })
    .toEqual({ ec2: [], ssm: [], cfn: [], cloudwatch: [] });
}

scenario('REAPPLY: a console-style change to a managed field is set back on the next scheduled run, read back and reported', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY));
  const rules = stack.rules();
  expect(rules.map((r) => [r.scheduleExpression, r.targets.length])).toEqual([['rate(1 hour)', 1], [undefined, 1]]);

  changeOutOfBand(w, { HttpTokens: 'optional' });
  const run = await stack.schedule();

  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(modifies(run)).toEqual([{ HttpTokens: 'required' }]);
  // Compared, changed, read back: Get, Modify, Get.
  expect(run.ec2Actions).toEqual(['GetInstanceMetadataDefaults', MODIFY, 'GetInstanceMetadataDefaults']);
  expect(linesOf(run, 'drift')).toEqual([{ message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied', trigger: 'schedule' }]);
  expect(metrics(w)).toEqual([['DriftDetected', 1, {}], ['DriftReapplied', 1, {}]]);
  expect(run.cloudwatchRequests.every((r) => r.region === REGION)).toBe(true);
  // The construct's metric methods name exactly these metrics, over the schedule's period: an app's alarms see them.
  const defaults = guardedConstruct(DriftGuardMode.REAPPLY);
  expect(metricsPut(w.cloudwatch, REGION)).toEqual([identityOf(defaults.metricDriftDetected()), identityOf(defaults.metricDriftReapplied())]);
  const interval = rules[0].scheduleRateMinutes;
  expect([defaults.metricDriftDetected().period.toMinutes(), defaults.metricDriftReapplied().period.toMinutes()]).toEqual([interval, interval]);

  // The next run finds nothing: no write, and no metric (metrics are put only when there is something to say; the
  // heartbeat is Lambda's own Invocations metric).
  w.cloudwatch.clearMetrics(REGION);
  const quiet = await stack.schedule();
  expect(modifies(quiet)).toEqual([]);
  expect(linesOf(quiet, 'drift')).toEqual([]);
  expect(linesOf(quiet, 'drift check done')).toEqual([expect.objectContaining({ detected: 0 })]);
  expect(metrics(w)).toEqual([]);

  // The runs did not touch what the custom resource answers CloudFormation: its Delete still resets, as before.
  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
});

scenario('a field changed out of band that the stack does not manage is left alone', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY));
  changeOutOfBand(w, { HttpEndpoint: 'disabled', InstanceMetadataTags: 'enabled' });
  const run = await stack.schedule();
  expect(modifies(run)).toEqual([]);
  expect(w.state()).toEqual({ ...IMDSV2_STATE, HttpEndpoint: 'disabled', InstanceMetadataTags: 'enabled' });
  // No drift of a managed field: no metric.
  expect(metrics(w)).toEqual([]);

  // Both at once: only the managed one is set back.
  changeOutOfBand(w, { HttpPutResponseHopLimit: 5 });
  const both = await stack.schedule();
  expect(modifies(both)).toEqual([{ HttpPutResponseHopLimit: '2' }]);
  expect(w.state()).toEqual({ ...IMDSV2_STATE, HttpEndpoint: 'disabled', InstanceMetadataTags: 'enabled' });
});

scenario('REPORT_ONLY: a difference is reported and counted, and nothing changes', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REPORT_ONLY));
  changeOutOfBand(w, { HttpTokens: 'optional', HttpPutResponseHopLimit: undefined });
  const run = await stack.schedule();
  expect(run.ec2Actions).toEqual(['GetInstanceMetadataDefaults']);
  expect(w.state()).toEqual({ HttpTokens: 'optional' });
  expect(linesOf(run, 'drift')).toEqual([
    { message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reported', trigger: 'schedule' },
    { message: 'drift', field: 'HttpPutResponseHopLimit', expected: 2, found: -1, action: 'reported', trigger: 'schedule' },
  ]);
  expect(metrics(w)).toEqual([['DriftDetected', 2, {}], ['DriftReapplied', 0, {}]]);
  expect(metricsPut(w.cloudwatch, REGION)).toContainEqual(identityOf(guardedConstruct(DriftGuardMode.REPORT_ONLY).metricDriftDetected()));
});

scenario('a CloudTrail event for the change is checked at once and the caller is reported; the guard\'s own change is not checked again', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY, { driftCheckInterval: undefined }));
  changeOutOfBand(w, { HttpTokens: 'optional' });
  const event = cloudTrailEvent({
    account: stack.accountId,
    region: stack.region,
    callerArn: ALICE,
    requestParameters: { ModifyInstanceMetadataDefaultsRequest: { HttpTokens: 'optional' } },
  });
  const delivery = await stack.putEvent(event);
  const trailRule = stack.rules().find((r) => r.eventPattern !== undefined)!.logicalId;
  expect(delivery.matched).toEqual([trailRule]);
  const [run] = delivery.runs;
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(linesOf(run, 'drift')).toEqual([{
    message: 'drift',
    field: 'HttpTokens',
    expected: 'required',
    found: 'optional',
    action: 'reapplied',
    trigger: 'cloudtrail',
    caller: ALICE,
    eventId: event.detail.eventID,
  }]);

  // CloudTrail records the guard's own Modify too (its role, the function's name as session name): delivered, and ignored.
  // (A look-alike session of another role is another caller: hardening.test.ts.)
  const fn = stack.functionOf();
  const own = await stack.putEvent(cloudTrailEvent({
    account: stack.accountId, region: stack.region, callerArn: `arn:aws:sts::${stack.accountId}:assumed-role/${fn.environment.IMDS_ROLE_NAME}/${fn.functionName}`,
  }));
  expect(own.matched).toEqual([trailRule]);
  expectNoCalls(own.runs[0]);
  expect(logLines(own.runs[0])).toEqual([{ message: 'ignored', reason: expect.stringMatching(/^the change was made by this function/) }]);

  // Another EC2 call does not match the rule: EventBridge delivers nothing.
  const other = await stack.putEvent(cloudTrailEvent({ account: stack.accountId, region: stack.region, callerArn: ALICE, eventName: 'ModifyInstanceMetadataOptions' }));
  expect(other).toEqual({ matched: [], runs: [] });
});

scenario('a declarative policy manages the settings: the guard leaves the account alone', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY));
  w.ec2.setDeclarativePolicy(REGION, 'IMDS is managed by the platform team');
  changeOutOfBand(w, { HttpTokens: 'optional' });
  const run = await stack.schedule();
  expect(run.ec2Actions).toEqual(['GetInstanceMetadataDefaults']);
  expect(w.state().HttpTokens).toBe('optional');
  expect(linesOf(run, 'drift check skipped')).toEqual([{
    message: 'drift check skipped', reason: 'a declarative policy manages the settings', managedExceptionMessage: 'IMDS is managed by the platform team',
  }]);
  // Every run that did not compare says so.
  expect(metrics(w)).toEqual([['DriftChecksSkipped', 1, {}]]);
  expect(metricsPut(w.cloudwatch, REGION)).toEqual([identityOf(guardedConstruct(DriftGuardMode.REAPPLY).metricDriftChecksSkipped())]);
});

scenario('a field another stack\'s live claim manages with another value is left alone; a stale claim blocks nothing', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY));
  // Another stack's claim as its handler records it, which a conflict check cannot prevent when two
  // stacks' Creates run at the same moment (README, limits): its stack and resource exist.
  const legacyId = `arn:aws:cloudformation:${REGION}:${stack.accountId}:stack/Legacy/00000000-0000-4000-8000-000000000001`;
  w.cfn.putStack({ stackId: legacyId, stackName: 'Legacy', stackStatus: 'UPDATE_COMPLETE' });
  w.cfn.putResource(legacyId, { logicalResourceId: 'Imds', resourceType: 'Custom::ImdsAccountDefaults', resourceStatus: 'UPDATE_COMPLETE' });
  const claim = (stackId: string, stackName: string, fields: Record<string, unknown>) =>
    JSON.stringify({ format: 2, stackId, stackName, logicalResourceId: 'Imds', fields });
  w.ssm.setParameter(REGION, claimName(legacyId, 'Imds'), claim(legacyId, 'Legacy', { HttpTokens: 'optional' }));
  // And a stale one: its stack was deleted and kept the resource (DELETE_SKIPPED).
  const goneId = `arn:aws:cloudformation:${REGION}:${stack.accountId}:stack/Gone/00000000-0000-4000-8000-000000000002`;
  w.cfn.putStack({ stackId: goneId, stackName: 'Gone', stackStatus: 'DELETE_COMPLETE' });
  w.cfn.putResource(goneId, { logicalResourceId: 'Imds', resourceType: 'Custom::ImdsAccountDefaults', resourceStatus: 'DELETE_SKIPPED' });
  // (In the previous release's format, which is still read.)
  w.ssm.setParameter(REGION, legacyClaimName(goneId, 'Imds'), JSON.stringify({
    format: 1, stackId: goneId, stackName: 'Gone', logicalResourceId: 'Imds', fields: { HttpPutResponseHopLimit: 8 }, before: {},
  }));

  changeOutOfBand(w, { HttpTokens: 'optional', HttpPutResponseHopLimit: 8 });
  const run = await stack.schedule();

  expect(modifies(run)).toEqual([{ HttpPutResponseHopLimit: '2' }]);
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
  expect(linesOf(run, 'drift').map(({ field, action, managedBy }) => [field, action, managedBy])).toEqual([
    ['HttpTokens', 'left-alone', `Legacy (${legacyId})`],
    ['HttpPutResponseHopLimit', 'reapplied', undefined],
  ]);
  // No claim is pruned (a function may delete only its own): the stale one stays, ignored.
  expect(w.claims().map((c) => c.stackName).sort()).toEqual(['Gone', 'ImdsE2e', 'Legacy']);
  expect(metrics(w)).toEqual([['DriftDetected', 2, {}], ['DriftReapplied', 1, {}]]);
});

scenario('its stack or resource not settled, or the resource gone: the guard does nothing and says so; its claim missing: reported, and the guard goes on', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY));
  const logicalId = guarded(DriftGuardMode.REAPPLY).resourceLogicalId;
  changeOutOfBand(w, { HttpTokens: 'optional' });
  w.cloudwatch.clearMetrics(REGION);

  // CloudFormation is updating the stack: the function's environment changes before its custom resource does.
  w.cfn.setStackStatus(stack.stackId, 'UPDATE_IN_PROGRESS');
  const updating = await stack.schedule();
  expect({ ec2: updating.ec2Actions, ssm: updating.ssmActions }).toEqual({ ec2: [], ssm: [] });
  expect(linesOf(updating, 'drift check skipped')[0].reason).toMatch(/UPDATE_IN_PROGRESS/);
  w.cfn.setStackStatus(stack.stackId, 'UPDATE_COMPLETE');

  // CloudFormation is updating the resource: its handler may be between its Modify and its claim.
  w.cfn.setResourceStatus(stack.stackId, logicalId, 'UPDATE_IN_PROGRESS');
  const during = await stack.schedule();
  expect(during.cfnActions).toEqual(expect.arrayContaining(['DescribeStacks', 'DescribeStackResource']));
  expect({ ec2: during.ec2Actions, ssm: during.ssmActions }).toEqual({ ec2: [], ssm: [] });
  expect(linesOf(during, 'drift check skipped')[0].reason).toMatch(/UPDATE_IN_PROGRESS: the guard acts only while its stack and its resource are settled$/);

  // The resource is no longer in its stack (removed without a Delete).
  w.cfn.removeResource(stack.stackId, logicalId);
  const stale = await stack.schedule();
  expect(stale.ec2Actions).toEqual([]);
  expect(linesOf(stale, 'drift check skipped')).toHaveLength(1);
  expect(w.state().HttpTokens).toBe('optional');
  expect(metrics(w)).toEqual([['DriftChecksSkipped', 1, {}], ['DriftChecksSkipped', 1, {}], ['DriftChecksSkipped', 1, {}]]);

  // Its claim is gone (deleted in Parameter Store): reported, and the template's values are still held (hardening.test.ts).
  w.cloudwatch.clearMetrics(REGION);
  w.cfn.putResource(stack.stackId, { logicalResourceId: logicalId, resourceType: 'Custom::ImdsAccountDefaults', resourceStatus: 'UPDATE_COMPLETE' });
  w.ssm.deleteParameter(REGION, claimName(stack.stackId, logicalId));
  const unclaimed = await stack.schedule();
  expect(modifies(unclaimed)).toEqual([{ HttpTokens: 'required' }]);
  expect(linesOf(unclaimed, 'security warning')).toEqual([expect.objectContaining({ warning: 'claim-problem', problem: 'missing' })]);
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(metrics(w).map(([name]) => name).sort()).toEqual(['ClaimProblems', 'DriftDetected', 'DriftReapplied']);
});

scenario('forged events change nothing, call nothing and answer nothing', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY));
  changeOutOfBand(w, { HttpTokens: 'optional' });
  const real = scheduledEvent({ account: stack.accountId, region: stack.region, ruleArn: stack.ruleArn(stack.rules()[0].logicalId) });
  const trail = cloudTrailEvent({ account: stack.accountId, region: stack.region, callerArn: ALICE });
  const forged: Array<[string, Record<string, any>, RegExp]> = [
    ['wrong source', { ...real, source: 'my.app' }, /is neither the schedule's nor CloudTrail's/],
    ['missing detail', { ...trail, detail: undefined }, /^the CloudTrail event is not ec2.amazonaws.com ModifyInstanceMetadataDefaults: detail undefined$/],
    ['another API call', { ...trail, detail: { ...trail.detail, eventName: 'DeleteVpc' } }, /^the CloudTrail event is not/],
    ['another account', { ...real, account: '210987654321' }, /^account "210987654321" and region "eu-west-1" are not this function's/],
    ['another Region', { ...trail, region: 'us-east-1' }, /are not this function's/],
    ['a custom resource event without its ResponseURL', { RequestType: 'Delete', StackId: stack.stackId, LogicalResourceId: 'Imds', RequestId: 'r' }, /^source undefined/],
  ];
  for (const [what, event, reason] of forged) {
    const run = await stack.invokeFunction(event, { label: `Forged: ${what}` });
    expectNoCalls(run);
    expect({ what, lines: logLines(run) }).toEqual({ what, lines: [{ message: 'ignored', reason: expect.stringMatching(reason) }] });
  }
  expect(w.state().HttpTokens).toBe('optional');
  expect(metrics(w)).toEqual([]);

  // The real schedule still works afterwards.
  await stack.schedule();
  expect(w.state()).toEqual(IMDSV2_STATE);
});

scenario('EC2 failing the re-apply: the run fails (Lambda counts the error) and reports the field as reapply-failed', async (w) => {
  const stack = await deploy(w, guarded(DriftGuardMode.REAPPLY));
  changeOutOfBand(w, { HttpTokens: 'optional' });
  w.ec2.injectFault({ code: 'InternalError', action: MODIFY, times: 100 });
  const run = await stack.schedule({ outcomes: ['error'] });
  expect(run.invocation.outcome).toBe('error');
  expect(w.state().HttpTokens).toBe('optional');
  expect(linesOf(run, 'drift').map((l) => l.action)).toEqual(['reapply-failed']);
  expect(linesOf(run, 'drift check failed')).toHaveLength(1);
  expect(metrics(w)).toEqual([['DriftDetected', 1, {}], ['DriftReapplied', 0, {}]]);
}, { timeoutMs: 90_000 });

scenario('with the oldest SDK we test (client-ec2 3.996.0, which lacks HttpTokensEnforced; client-cloudwatch 3.995.0): enforcement set back and counted', async (w) => {
  const stack = w.stack({ sdk: '3.996.0' });
  const template = guarded(DriftGuardMode.REAPPLY, { httpPutResponseHopLimit: undefined, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED });
  expectSuccess(await stack.create(template));
  changeOutOfBand(w, { HttpTokensEnforced: 'disabled' });
  const run = await stack.schedule();
  expect(modifies(run)).toEqual([{ HttpTokensEnforced: 'enabled' }]);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  expect(linesOf(run, 'drift')).toEqual([{ message: 'drift', field: 'HttpTokensEnforced', expected: 'enabled', found: 'disabled', action: 'reapplied', trigger: 'schedule' }]);
  expect(metrics(w)).toEqual([['DriftDetected', 1, {}], ['DriftReapplied', 1, {}]]);
});

scenario('two stack instances of a StackSet with the guard, in two accounts: each guards its own account with settings as parameters', async (w) => {
  const { template, parameters } = synthesizeStackSet({
    ...IMDSV2,
    driftGuard: DriftGuardMode.REAPPLY,
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }),
  });
  const other = await w.account('210987654321');
  const first = w.stack({ name: 'StackSet-ImdsEverywhere-1' });
  const second = w.stack({ name: 'StackSet-ImdsEverywhere-2', account: other });
  expectSuccess(await first.create(template, parameters));
  expectSuccess(await second.create(template, parameters));
  // Each instance's function knows its own stack (Ref AWS::StackId, resolved per instance).
  expect(first.functionOf().environment.IMDS_STACK_ID).toBe(first.stackId);
  expect(second.functionOf().environment.IMDS_STACK_ID).toBe(second.stackId);

  changeOutOfBand(w, { HttpTokens: 'optional' });
  other.ec2.setState(REGION, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
  const run = await second.schedule();
  expect(run.ec2Requests.every((r) => r.region === REGION)).toBe(true);
  expect(other.ec2.state(REGION)).toEqual(IMDSV2_STATE);
  // The first account is not the second instance's business: its guard's own run sets it back.
  expect(w.state().HttpTokens).toBe('optional');
  await first.schedule();
  expect(w.state()).toEqual(IMDSV2_STATE);
  expect(other.cloudwatch.putMetricData(REGION, NAMESPACE).map((d) => [d.MetricName, d.Value])).toEqual([['DriftDetected', 1], ['DriftReapplied', 1]]);
});
