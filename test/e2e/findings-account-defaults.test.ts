/**
 * End-to-end: the findings of ImdsAccountDefaults as EventBridge events
 * (issue 18), through the shipped inline code (the synthesized template's
 * Code.ZipFile; for a StackSet member, the compressed loader when the template
 * carries it) run against the scenario's local endpoints, EventBridge included
 * (harness/scenario.ts: one endpoint holding every account's buses):
 * - "IMDS Defaults Changed" after each answer to CloudFormation (Create, Update, Delete),
 *   with the readiness check's Data (`readinessCheck`) when a Create or Update enables enforcement;
 * - "IMDS Drift Detected" from the drift guard, on its schedule and on CloudTrail's record;
 * - "IMDS Security Warning" for an event CloudFormation did not send;
 * each to the account's default bus and, with `centralEventBusArn`, to a bus of
 * another account and Region (`w.centralBus()`: the hub's kind of policy).
 * Every delivered finding is checked against findings-schema.json (the harness
 * fails a step whose finding does not match; the scenarios check it again).
 *
 * And what putting must never do: delay or change an answer, or change a drift
 * run's outcome, when EventBridge throttles, denies, refuses the central bus or hangs.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { StepResult } from './harness/cloudformation';
import { cloudTrailEvent } from './harness/eventbridge';
import {
  CENTRAL_ACCOUNT, CENTRAL_REGION, FINDINGS_SOURCE, REGION, World, centralBusPolicy, expectFailed, expectSuccess, scenario,
} from './harness/scenario';
import { ACCOUNT, synthesizeImds, synthesizeStackSet } from './harness/template';
import {
  DriftGuardMode, ImdsAccountDefaultsProps, ImdsHttpTokens, ImdsHttpTokensEnforced, ImdsStackSetTarget,
} from '../../src';
import { DeliveredEvent, EventBridgeEmulator } from '../support/eventbridge-emulator';
import { expectMatchesFindingsSchema } from '../support/findings-schema';

const IMDSV2: ImdsAccountDefaultsProps = { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 };
const ENFORCE: ImdsAccountDefaultsProps = { httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED };
const ALICE = 'arn:aws:sts::123456789012:assumed-role/Admin/alice';
const DEFAULT_BUS = EventBridgeEmulator.busArn(ACCOUNT, REGION);
const NAMESPACE = 'CdkImdsAccountDefaults';

/** GetInstanceMetadataDefaults' AccountLevel as the EC2 emulator gives it (the fields with a value, and ManagedBy): a finding's `previous` and `found`. */
const read = (fields: Record<string, unknown> = {}) => ({ ManagedBy: 'account', ...fields });
/** The readiness check's Data, as the answer carries it and the finding's `readinessCheck`. */
const checked = (launchTemplates: number, launchConfigurations: number, instances: number) => ({
  LaunchTemplatesAllowingImdsv1: String(launchTemplates),
  LaunchConfigurationsAllowingImdsv1: String(launchConfigurations),
  InstancesAllowingImdsv1: String(instances),
  LaunchTemplatesAllowingImdsv1Count: String(launchTemplates),
  LaunchConfigurationsAllowingImdsv1Count: String(launchConfigurations),
  InstancesAllowingImdsv1Count: String(instances),
  ReadinessCheckResult: 'COMPLETE',
});

/** The findings delivered during a step, as [bus, detail-type], sorted (the two buses are put to at once). */
function delivered(step: StepResult): string[][] {
  return step.events.filter((d) => d.event.source === FINDINGS_SOURCE).map((d) => [d.bus, d.event['detail-type']]).sort();
}

/** The single finding of a detail-type delivered to a bus during a step, checked against the schema. */
function finding(step: StepResult, detailType: string, bus: string = DEFAULT_BUS): DeliveredEvent {
  const found = step.events.filter((d) => d.bus === bus && d.event['detail-type'] === detailType).map((d) => d.event);
  expect(found).toHaveLength(1);
  expectMatchesFindingsSchema(found[0]);
  return found[0];
}

/** The function of the step's stack, as its "IMDS Defaults Changed" names it (detail.resource.function). */
function functionOf(step: StepResult): string {
  return finding(step, 'IMDS Defaults Changed').detail.resource.function;
}

/** The library's metrics CloudWatch holds, by name. */
function metrics(w: World): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of w.cloudwatch.putMetricData(REGION, NAMESPACE)) {
    out[d.MetricName!] = (out[d.MetricName!] ?? 0) + (d.Value ?? 0);
  }
  return out;
}

scenario('Create, Update, Delete: one "IMDS Defaults Changed" each, after its answer, to the default bus and to a central bus of another account and Region', async (w) => {
  const central = w.centralBus();
  expect(central).toBe(`arn:aws:events:${CENTRAL_REGION}:${CENTRAL_ACCOUNT}:event-bus/imds-findings`);
  const stack = w.stack();

  // The first PutEvents is held until this runs: by then the answer must have reached the ResponseURL.
  const attemptsBefore = w.responses.attempts;
  let answersWhenPut = -1;
  const ordered = w.eventbridge.holdAnswer((r) => r.action === 'PutEvents', async () => {
    answersWhenPut = w.responses.attempts - attemptsBefore;
  });
  const create = await stack.create(synthesizeImds({ ...IMDSV2, centralEventBusArn: central }));
  expectSuccess(create);
  await ordered;
  expect(answersWhenPut).toBe(1);
  expect(delivered(create)).toEqual([[central, 'IMDS Defaults Changed'], [DEFAULT_BUS, 'IMDS Defaults Changed']].sort());
  // One PutEvents per bus, each in its bus's Region (the central bus's client is made for us-east-1).
  expect(create.eventbridgeRequests.map((r) => `${r.region} ${r.input.Entries.map((e: any) => e.EventBusName ?? 'default')}`).sort())
    .toEqual([`${REGION} default`, `${CENTRAL_REGION} ${central}`]);
  const fn = functionOf(create);
  expect(fn).toMatch(/^ImdsE2e-ImdsHandler/);
  const resource = { function: fn, stackId: stack.stackId, logicalResourceId: create.logicalResourceId };
  const created = finding(create, 'IMDS Defaults Changed');
  expect(created).toMatchObject({ source: FINDINGS_SOURCE, account: ACCOUNT, region: REGION });
  expect(created.detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource,
    requestType: 'Create',
    outcome: 'SUCCESS',
    expected: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
    previous: read(),
    action: 'applied',
    found: read({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }),
  });
  // The central bus holds the same finding, sent by the member account (EventBridge sets `account` to the sender's).
  const atCentral = finding(create, 'IMDS Defaults Changed', central);
  expect(atCentral).toMatchObject({ account: ACCOUNT, region: CENTRAL_REGION });
  expect(atCentral.detail).toEqual(created.detail);
  // No EC2 call for the finding: the Get before, the read-back after.
  expect(create.ec2Actions).toEqual(['GetInstanceMetadataDefaults', 'ModifyInstanceMetadataDefaults', 'GetInstanceMetadataDefaults']);

  const update = await stack.update(synthesizeImds({ ...IMDSV2, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, centralEventBusArn: central }));
  expectSuccess(update);
  // Enabling enforcement runs the readiness check: no event of its own; its Data (as answered) in the event's finding.
  expect(delivered(update)).toEqual([[central, 'IMDS Defaults Changed'], [DEFAULT_BUS, 'IMDS Defaults Changed']].sort());
  const updated = finding(update, 'IMDS Defaults Changed').detail;
  expect(updated).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource,
    requestType: 'Update',
    outcome: 'SUCCESS',
    expected: { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 },
    previous: read({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }),
    readinessCheck: checked(0, 0, 0),
    action: 'applied',
    found: read({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 }),
  });
  expect(Object.entries(update.answer!.Data!)).toEqual(expect.arrayContaining(Object.entries(updated.readinessCheck)));

  const del = await stack.delete();
  expectSuccess(del);
  expect(delivered(del)).toEqual([[central, 'IMDS Defaults Changed'], [DEFAULT_BUS, 'IMDS Defaults Changed']].sort());
  expect(finding(del, 'IMDS Defaults Changed').detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource,
    requestType: 'Delete',
    outcome: 'SUCCESS',
    previous: read({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 }),
    expected: { HttpTokens: 'no-preference', HttpTokensEnforced: 'no-preference', HttpPutResponseHopLimit: -1 },
    action: 'reset',
    found: read(),
  });
  expect(w.events().map((e) => e['detail-type'])).toEqual(['IMDS Defaults Changed', 'IMDS Defaults Changed', 'IMDS Defaults Changed']);
  expect(w.events(central)).toHaveLength(3);
  expect(metrics(w).FindingsNotPut).toBeUndefined();
});

scenario('the readiness check blocks: the FAILED Create\'s "IMDS Defaults Changed" carries what would stop (readinessCheck); the rollback Delete changes nothing', async (w) => {
  const web = w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'web', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy-web', MetadataOptions: { HttpTokens: 'optional' } });
  w.ec2.addInstances(REGION, 1, { MetadataOptions: { HttpTokens: 'optional' } });
  const stack = w.stack();

  const create = await stack.create(synthesizeImds(ENFORCE));
  expectFailed(create, /^Enforcing IMDSv2/);
  expect(create.events.map((d) => d.event['detail-type'])).toEqual(['IMDS Defaults Changed']);
  const resource = { function: functionOf(create), stackId: stack.stackId, logicalResourceId: create.logicalResourceId };
  // The reason names them (CloudFormation's answer); the finding counts them. A failed event has no action and nothing read after.
  expect(create.answer!.Reason).toContain(web.LaunchTemplateId);
  expect(create.answer!.Reason).toContain('legacy-web');
  expect(finding(create, 'IMDS Defaults Changed').detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource,
    requestType: 'Create',
    outcome: 'FAILED',
    reason: create.answer!.Reason,
    expected: { HttpTokens: 'required', HttpTokensEnforced: 'enabled' },
    previous: read(),
    readinessCheck: checked(1, 1, 1),
  });

  const rollback = await stack.rollback();
  expectSuccess(rollback);
  expect(finding(rollback, 'IMDS Defaults Changed').detail).toEqual({
    version: '1', account: ACCOUNT, region: REGION, resource, requestType: 'Delete', outcome: 'SUCCESS', action: 'none',
  });
  expect(w.state()).toEqual({});
});

scenario('the drift guard: "IMDS Drift Detected" on its schedule and on CloudTrail\'s record (changedBy as CloudTrail reported it), to both buses', async (w) => {
  const central = w.centralBus();
  const stack = w.stack();
  const create = await stack.create(synthesizeImds({ ...IMDSV2, driftGuard: DriftGuardMode.REAPPLY, centralEventBusArn: central }));
  expectSuccess(create);

  w.ec2.setState(REGION, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
  const scheduled = await stack.schedule();
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(delivered(scheduled)).toEqual([[central, 'IMDS Drift Detected'], [DEFAULT_BUS, 'IMDS Drift Detected']].sort());
  expect(finding(scheduled, 'IMDS Drift Detected').detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: functionOf(create), stackId: stack.stackId, logicalResourceId: create.logicalResourceId },
    trigger: 'schedule',
    mode: 'REAPPLY',
    counts: { drifts: 1, reapplied: 1 },
    drifts: [{ field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied' }],
    expected: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
    found: read({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 }),
  });
  expect(finding(scheduled, 'IMDS Drift Detected', central).detail).toEqual(finding(scheduled, 'IMDS Drift Detected').detail);

  w.ec2.setState(REGION, { HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
  const trail = await stack.putEvent(cloudTrailEvent({ account: stack.accountId, region: stack.region, callerArn: ALICE }));
  expect(trail.runs).toHaveLength(1);
  expect(finding(trail.runs[0], 'IMDS Drift Detected').detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: functionOf(create), stackId: stack.stackId, logicalResourceId: create.logicalResourceId },
    trigger: 'cloudtrail',
    mode: 'REAPPLY',
    changedBy: ALICE,
    counts: { drifts: 1, reapplied: 1 },
    drifts: [{ field: 'HttpPutResponseHopLimit', expected: 2, found: 1, action: 'reapplied' }],
    expected: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
    found: read({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
  });

  // Nothing drifted: no finding (the guard with nothing to say puts nothing).
  const quiet = await stack.schedule();
  expect(quiet.events).toEqual([]);
  expect(quiet.eventbridgeRequests).toEqual([]);
});

scenario('an event CloudFormation did not send: only an "IMDS Security Warning", after the answer, without the ResponseURL or the forged stack as its resource', async (w) => {
  const central = w.centralBus();
  const stack = w.stack();
  const create = await stack.create(synthesizeImds({ ...IMDSV2, centralEventBusArn: central }));
  expectSuccess(create);

  const forged = await stack.forgeEvent('Delete');
  expect(forged.answer!.Status).toBe('FAILED');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(delivered(forged)).toEqual([[central, 'IMDS Security Warning'], [DEFAULT_BUS, 'IMDS Security Warning']].sort());
  const warning = finding(forged, 'IMDS Security Warning');
  expect(warning.detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: functionOf(create) },
    warning: 'unconfirmed-event',
    metric: 'UnconfirmedEvents',
    count: 1,
    entries: [{
      mismatch: expect.any(String), RequestType: 'Delete', StackId: forged.event.StackId, LogicalResourceId: forged.event.LogicalResourceId, RequestId: forged.event.RequestId,
    }],
  });
  const url = new URL(forged.event.ResponseURL);
  expect(JSON.stringify(forged.events)).not.toContain(url.host);
  expect(JSON.stringify(forged.eventbridgeRequests)).not.toContain(url.search.slice(1));
});

scenario('PutEvents throttled throughout, then denied: the same answers, settings and claims; each finding not put is counted', async (w) => {
  const stack = w.stack();
  w.eventbridge.injectFault({ code: 'ThrottlingException', times: 1_000 });
  const create = await stack.create(synthesizeImds(IMDSV2));
  expectSuccess(create, { HttpTokens: 'required', HttpPutResponseHopLimit: '2', Applied: 'true' });
  expect(create.answer!.PhysicalResourceId).toBe(`ImdsAccountDefaults:${ACCOUNT}:${REGION}:HttpTokens=no-preference,HttpPutResponseHopLimit=-1`);
  expect(create.events).toEqual([]);
  // The SDK retried (standard mode) within the put's budget, then gave up.
  expect(create.eventbridgeRequests.length).toBeGreaterThan(1);
  expect(create.invocation!.outcome).toBe('returned');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(w.claims().map((c) => c.fields)).toEqual([{ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }]);
  expect(metrics(w)).toEqual({ FindingsNotPut: 1 });

  w.eventbridge.clearFaults();
  w.eventbridge.injectFault({ code: 'AccessDeniedException', times: 1_000 });
  const update = await stack.update(synthesizeImds({ ...IMDSV2, httpPutResponseHopLimit: 3 }));
  expectSuccess(update, { HttpPutResponseHopLimit: '3', Applied: 'true' });
  // Denied is not retried by the SDK.
  expect(update.eventbridgeRequests).toHaveLength(1);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });

  const del = await stack.delete();
  expectSuccess(del);
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
  expect(metrics(w)).toEqual({ FindingsNotPut: 3 });
}, { concurrent: true, timeoutMs: 90_000 });

scenario('the drift guard with PutEvents denied: the same set-back and metrics, and the run ends as it would', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ ...IMDSV2, driftGuard: DriftGuardMode.REAPPLY })));
  w.eventbridge.injectFault({ code: 'AccessDeniedException', times: 1_000 });
  w.ec2.setState(REGION, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
  const run = await stack.schedule();
  expect(run.invocation.outcome).toBe('returned');
  expect(run.retries ?? []).toEqual([]);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(metrics(w)).toEqual({ DriftDetected: 1, DriftReapplied: 1, FindingsNotPut: 1 });
});

scenario('a central bus whose policy does not admit this organization: the default bus gets every finding, nothing else changes', async (w) => {
  const arn = EventBridgeEmulator.busArn(CENTRAL_ACCOUNT, CENTRAL_REGION, 'imds-findings');
  const central = w.centralBus({ policy: centralBusPolicy(arn, 'o-otherorg0001') });
  const stack = w.stack();
  const create = await stack.create(synthesizeImds({ ...IMDSV2, centralEventBusArn: central }));
  expectSuccess(create, { HttpTokens: 'required', Applied: 'true' });
  expect(delivered(create)).toEqual([[DEFAULT_BUS, 'IMDS Defaults Changed']]);
  expect(w.events(central)).toEqual([]);
  expect(metrics(w)).toEqual({ FindingsNotPut: 1 });
  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

scenario('EventBridge hangs: the answer is not held back, and the invocation ends within the put\'s budget', async (w) => {
  const stack = w.stack();
  w.eventbridge.hang = true;
  const attemptsBefore = w.responses.attempts;
  const create = await stack.create(synthesizeImds(IMDSV2));
  expectSuccess(create, { HttpTokens: 'required', Applied: 'true' });
  expect(w.responses.attempts - attemptsBefore).toBe(1);
  expect(create.invocation!.outcome).toBe('returned');
  // The put waited out events.ts's budget (3 s) after the answer, well within the function's 30 s.
  expect(create.invocation!.handlerMs).toBeGreaterThan(2_500);
  expect(create.invocation!.handlerMs).toBeLessThan(10_000);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  w.eventbridge.hang = false;
  expectSuccess(await stack.delete());
}, { concurrent: true, timeoutMs: 90_000 });

scenario('the runtime\'s older SDK (3.996.0): the same findings', async (w) => {
  const central = w.centralBus();
  const stack = w.stack({ sdk: '3.996.0' });
  const create = await stack.create(synthesizeImds({ ...IMDSV2, centralEventBusArn: central }));
  expectSuccess(create);
  expect(delivered(create)).toEqual([[central, 'IMDS Defaults Changed'], [DEFAULT_BUS, 'IMDS Defaults Changed']].sort());
  expect(finding(create, 'IMDS Defaults Changed').detail).toMatchObject({ requestType: 'Create', outcome: 'SUCCESS', action: 'applied' });
});

scenario('a StackSet member: its findings go to the central bus the StackSet names, with no step in the member account', async (w) => {
  const central = w.centralBus();
  const target = ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] });
  const { template, parameters } = synthesizeStackSet({
    target,
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpPutResponseHopLimit: 2,
    driftGuard: DriftGuardMode.REAPPLY,
    memberRemovalPolicy: RemovalPolicy.DESTROY,
    centralEventBusArn: central,
  });
  const stack = w.stack();
  const create = await stack.create(template, parameters);
  expectSuccess(create);
  expect(delivered(create)).toEqual([[central, 'IMDS Defaults Changed'], [DEFAULT_BUS, 'IMDS Defaults Changed']].sort());
  expect(finding(create, 'IMDS Defaults Changed', central).detail).toMatchObject({ account: ACCOUNT, requestType: 'Create', action: 'applied' });

  w.ec2.setState(REGION, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
  const run = await stack.schedule();
  expect(delivered(run)).toEqual([[central, 'IMDS Drift Detected'], [DEFAULT_BUS, 'IMDS Drift Detected']].sort());

  const del = await stack.delete();
  expectSuccess(del);
  expect(finding(del, 'IMDS Defaults Changed', central).detail).toMatchObject({ requestType: 'Delete', action: 'reset' });
}, { timeoutMs: 90_000 });
