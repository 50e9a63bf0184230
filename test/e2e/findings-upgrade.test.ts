/**
 * End-to-end: the findings of ImdsInstanceUpgrade and ImdsReadinessReport as
 * EventBridge events, through the shipped inline code (the ZipFile of the
 * synthesized template, run by the runtime's Node.js with the runtime's SDK)
 * against the scenario's EventBridge endpoint (harness: every account's default
 * bus, and a central bus of another account and Region with the hub's kind of
 * policy).
 *
 * - "IMDS Instance Upgrade Run": one per run, on deploy (after CloudFormation has
 *   its answer) and on the schedule, with the run's own numbers;
 * - "IMDS Rejected Calls": when instances the upgrade switched refused IMDSv1
 *   calls, with what the watch did about each;
 * - "IMDS Readiness Report": one per report run, with the defaults found;
 * to the default bus and, with `centralEventBusArn`, to the central bus (also
 * from a StackSet member); a fleet bigger than 25 summarised (lists of 25) and
 * counted in full; a throttled, a denied and a hanging PutEvents change no
 * outcome (only FindingsNotPut counts them). Every event delivered is checked
 * against findings-schema.json (here, and by the harness for every step).
 *
 * The detail types, source and fields are written out here, not imported: a
 * renamed one breaks this suite.
 */
import { StepResult, stepOf } from './harness/cloudformation';
import { CENTRAL_ACCOUNT, CENTRAL_REGION, REGION, World, expectSuccess, scenario } from './harness/scenario';
import { ACCOUNT, StackTemplate, synthesize, synthesizeStackSet } from './harness/template';
import { ImdsInstanceUpgrade, ImdsInstanceUpgradeProps, ImdsReadinessReport, ImdsReadinessReportProps, ImdsStackSetTarget, InstanceUpgradeMode, RejectedCallsAction } from '../../src';
import { DeliveredEvent, EventBridgeEmulator } from '../support/eventbridge-emulator';
import { expectMatchesFindingsSchema } from '../support/findings-schema';
import { seedFleet } from '../support/fleet';

const SOURCE = 'cdk-imds-account-defaults';
const UPGRADE_RUN = 'IMDS Instance Upgrade Run';
const REJECTED_CALLS = 'IMDS Rejected Calls';
const READINESS_REPORT = 'IMDS Readiness Report';
const NAMESPACE = 'CdkImdsAccountDefaults';
const HOUR = 3_600_000;
const UPGRADED_AT = 'cdk-imds-account-defaults:upgraded-at';
/** A run over a few hundred instances on two shared cores may take seconds. */
const SLOWEST_RUN_MS = 120_000;

const DEFAULT_BUS = EventBridgeEmulator.busArn(ACCOUNT, REGION);

const upgradeTemplate = (props: ImdsInstanceUpgradeProps) => synthesize((s) => new ImdsInstanceUpgrade(s, 'Upgrade', props));
const reportTemplate = (props: ImdsReadinessReportProps = {}) => synthesize((s) => new ImdsReadinessReport(s, 'Report', props));

/** The events of a step (one invocation), by bus: each checked against the schema, from the library, sent by the member account. */
function eventsOf(step: StepResult, detailType: string): Map<string, DeliveredEvent> {
  const found = new Map<string, DeliveredEvent>();
  for (const { bus, event } of step.events.filter((e) => e.event['detail-type'] === detailType)) {
    expectMatchesFindingsSchema(event);
    expect(event).toMatchObject({ source: SOURCE, account: ACCOUNT, region: bus === DEFAULT_BUS ? REGION : bus.split(':')[3] });
    // One event per bus and run.
    expect(found.has(bus)).toBe(false);
    found.set(bus, event);
  }
  return found;
}

/** The one event of a detail type a step put on the default bus and, when given, the same on the central bus; returns its detail. */
function theEvent(step: StepResult, detailType: string, central?: string): Record<string, any> {
  const events = eventsOf(step, detailType);
  expect([...events.keys()].sort()).toEqual([DEFAULT_BUS, ...(central ? [central] : [])].sort());
  const event = events.get(DEFAULT_BUS)!;
  // The function that found it, by name: the one whose role's session (…/assumed-role/<role>/<function>) put it.
  expect(step.eventbridgeRequests.map((r) => r.caller.split('/').pop())).toContain(event.detail.resource.function);
  expect(event.detail).toMatchObject({ version: '1', account: ACCOUNT, region: REGION });
  if (central) {
    expect(events.get(central)!.detail).toEqual(event.detail);
  }
  // Well under EventBridge's 256 KB, however large the fleet.
  expect(Buffer.byteLength(JSON.stringify(event.detail))).toBeLessThan(16_384);
  return event.detail;
}

/** The run's summary line (the counts the findings must repeat). */
function summaryOf(step: StepResult): any {
  const lines = (step.invocation?.logs ?? '').split('\n').filter((l) => l.includes('"instance upgrade summary"'));
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0].slice(lines[0].indexOf('{')));
}

/**
 * What a later interval sees (the handler reads the clock; the emulators cannot move it): every upgrade
 * record moved back by a day and a minute, and the interval claims gone.
 */
function nextInterval(w: World): void {
  for (const i of w.ec2.instances(REGION)) {
    const at = i.Tags[UPGRADED_AT];
    if (at !== undefined) {
      w.ec2.setTags(REGION, i.InstanceId, { [UPGRADED_AT]: new Date(Date.parse(at) - 86_400_000 - 60_000).toISOString() });
    }
  }
  for (const name of w.ssm.parameters(REGION).keys()) {
    if (name.startsWith('/cdk-imds-account-defaults/instance-upgrade/switch-claims/')) {
      w.ssm.deleteParameter(REGION, name);
    }
  }
}

/** The FindingsNotPut values a step put (the library's namespace). */
function notPut(w: World, from: number): number[] {
  return w.cloudwatch.putMetricData(REGION, NAMESPACE).slice(from).filter((d) => d.MetricName === 'FindingsNotPut').map((d) => d.Value!);
}

/** The PutEvents statement of the template's role(s): events:PutEvents on the default bus and the central bus only, for the library's source. */
function expectPutEventsGrant(t: StackTemplate, central: string): void {
  const statements = Object.values<any>(t.template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => r.Properties.PolicyDocument.Statement)
    .filter((s: any) => [s.Action].flat().includes('events:PutEvents'));
  expect(statements).toHaveLength(1);
  expect(statements[0].Condition).toEqual({ StringEquals: { 'events:source': SOURCE } });
  expect(statements[0].Resource).toHaveLength(2);
  expect(statements[0].Resource).toContain(central);
  expect(JSON.stringify(statements[0].Resource)).toContain(':event-bus/default');
}

scenario('ImdsInstanceUpgrade: each run puts one IMDS Instance Upgrade Run to the default bus and to the central bus of another account, a deploy-time run\'s only after CloudFormation has its answer; a fleet bigger than 25 is summarised and counted', async (w) => {
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 400 });
  expect(fleet.inUse.length).toBeGreaterThan(25);
  expect(fleet.safe.length).toBeGreaterThan(50);
  const central = w.centralBus();
  expect(central).toBe(`arn:aws:events:${CENTRAL_REGION}:${CENTRAL_ACCOUNT}:event-bus/imds-findings`);
  const t = upgradeTemplate({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: 50, centralEventBusArn: central });
  expectPutEventsGrant(t, central);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });

  // The first PutEvents arrives after the ResponseURL got its answer.
  const answersAtPut: number[] = [];
  const held = w.eventbridge.holdAnswer((r) => r.action === 'PutEvents', async () => {
    answersAtPut.push(w.responses.attempts);
  });
  const create = await stack.create(t);
  expectSuccess(create);
  await held;
  expect(answersAtPut).toEqual([1]);
  const createStep = stepOf(create, 'Create');
  const counts = summaryOf(createStep).counts;
  const onDeploy = theEvent(createStep, UPGRADE_RUN, central);
  expect(onDeploy).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: onDeploy.resource.function, stackId: stack.stackId, logicalResourceId: createStep.logicalResourceId },
    mode: 'UPGRADE',
    trigger: 'deploy',
    expected: { HttpTokens: 'required' },
    // The summary line's counts, as they are.
    counts,
    failures: [],
    usingImdsv1: expect.any(Array),
  });
  expect(onDeploy.counts).toMatchObject({
    Candidates: fleet.candidates.length,
    Upgraded: 0,
    InUse: fleet.inUse.length,
    NotAttempted: fleet.safe.length,
  });
  // 25 of the instances using IMDSv1, the full count beside them.
  expect(onDeploy.usingImdsv1).toHaveLength(25);
  expect(onDeploy.usingImdsv1.every((id: string) => fleet.inUse.includes(id))).toBe(true);
  expect(onDeploy.truncated).toBeUndefined();

  const scheduled = await stack.schedule();
  expect(scheduled.invocation.outcome).toBe('returned');
  const onSchedule = theEvent(scheduled, UPGRADE_RUN, central);
  expect(onSchedule).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: onDeploy.resource.function },
    mode: 'UPGRADE',
    trigger: 'schedule',
    expected: { HttpTokens: 'required' },
    counts: summaryOf(scheduled).counts,
    failures: [],
    usingImdsv1: onDeploy.usingImdsv1,
    stoppedEarly: 'maxUpgradesPerRun',
  });
  expect(onSchedule.counts).toMatchObject({ Upgraded: 50, NotAttempted: fleet.safe.length - 50 });
  expect(eventsOf(scheduled, REJECTED_CALLS).size).toBe(0);
  // What each bus holds: the two runs, in order.
  for (const bus of [DEFAULT_BUS, central]) {
    expect(w.events(bus).map((e) => [e['detail-type'], e.detail.trigger])).toEqual([[UPGRADE_RUN, 'deploy'], [UPGRADE_RUN, 'schedule']]);
  }
  expect(notPut(w, 0)).toEqual([]);

  // Delete runs nothing and puts nothing.
  const del = await stack.delete();
  expectSuccess(del);
  expect(del.events).toEqual([]);
}, { timeoutMs: 300_000 });

scenario('ImdsInstanceUpgrade: the rejected-call watch puts IMDS Rejected Calls, each instance with what was done: restored, refused (enforcement), forged-record', async (w) => {
  const now = Date.now();
  const zeros = Array.from({ length: 8 * 24 }, (_, h) => ({ timestamp: new Date(now - h * HOUR - HOUR / 2), value: 0 }));
  const central = w.centralBus();
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  const a = w.ec2.addInstance(REGION, { Tags: { Name: 'breaks-without-imdsv1' } });
  const b = w.ec2.addInstance(REGION, { Tags: { Name: 'fine-with-imdsv2' } });
  const c = w.ec2.addInstance(REGION, { Tags: { Name: 'breaks-but-cannot-go-back' } });
  for (const i of [a, b, c]) w.cloudwatch.setMetadataNoToken(REGION, i.InstanceId, zeros);
  expectSuccess(await stack.create(upgradeTemplate({
    mode: InstanceUpgradeMode.UPGRADE, rejectedCallsAction: RejectedCallsAction.RESTORE_OPTIONAL, centralEventBusArn: central,
  })));
  const switching = await stack.schedule();
  expect(theEvent(switching, UPGRADE_RUN, central).counts).toMatchObject({ Candidates: 3, Upgraded: 3 });
  // Two hours later: a and c refuse IMDSv1 calls; EC2 refuses to put c back; someone wrote a record on an instance that never allowed IMDSv1.
  const upgradedAt = new Date(now - 2 * HOUR).toISOString();
  for (const i of [a, b, c]) w.ec2.setTags(REGION, i.InstanceId, { [UPGRADED_AT]: upgradedAt });
  const forged = w.ec2.addInstance(REGION, { MetadataOptions: { HttpTokens: 'required' }, Tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString() } });
  const rejected = (id: string, value: number) => w.cloudwatch.setDatapoints(REGION, 'AWS/EC2', 'MetadataNoTokenRejected', { InstanceId: id }, [{ timestamp: new Date(now - HOUR), value }]);
  rejected(a.InstanceId, 7);
  rejected(b.InstanceId, 0);
  rejected(c.InstanceId, 3);
  rejected(forged.InstanceId, 2);
  w.ec2.failModifyFor(REGION, [c.InstanceId], 'UnsupportedOperation');

  const watch = await stack.schedule();
  expect(watch.invocation.outcome).toBe('returned');
  const detail = theEvent(watch, REJECTED_CALLS, central);
  expect(detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: detail.resource.function },
    action: 'RESTORE_OPTIONAL',
    counts: { instances: 3, rejectedCalls: 12, restored: 1 },
    instances: [
      { instanceId: a.InstanceId, upgradedAt, rejectedCalls: 7, action: 'restored' },
      { instanceId: c.InstanceId, upgradedAt, rejectedCalls: 3, action: 'refused' },
      { instanceId: forged.InstanceId, upgradedAt, rejectedCalls: 2, action: 'forged-record' },
    ],
  });
  // The same as the run did and logged.
  const summary = summaryOf(watch);
  expect(summary.counts).toMatchObject({ RejectedCalls: 3, Restored: 1, RestoreRefused: 1 });
  expect(w.ec2.instance(REGION, a.InstanceId)!.MetadataOptions.HttpTokens).toBe('optional');
  expect(w.ec2.instance(REGION, c.InstanceId)!.MetadataOptions.HttpTokens).toBe('required');
  // The run's own event too, on each bus.
  expect(watch.events.map((e) => e.event['detail-type']).sort()).toEqual([UPGRADE_RUN, UPGRADE_RUN, REJECTED_CALLS, REJECTED_CALLS]);
}, { timeoutMs: 300_000 });

scenario('ImdsInstanceUpgrade: a throttled, a denied and a hanging PutEvents, and a central bus that refuses, change no outcome: the same answer, the same switches; only FindingsNotPut counts them', async (w) => {
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 120 });
  // A central bus whose policy admits another organization only: the entry to it is refused (AccessDeniedException).
  const central = w.centralBus({ policy: undefined, name: 'other-org-only' });
  w.eventbridge.setBusPolicy(central, {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: '*', Action: 'events:PutEvents', Resource: central, Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-someoneelse1' } } }],
  });
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  const cap = 10;
  const expectedData = {
    Candidates: String(fleet.candidates.length),
    Eligible: String(fleet.safe.length),
    Upgraded: '0',
    Pending: '0',
    InUse: String(fleet.inUse.length),
    Excluded: String(fleet.excluded.length),
    Unknown: String(fleet.unknown.length),
    Failed: '0',
    TooLittleData: String(fleet.tooLittleData.length),
  };

  // Throttled throughout: the SDK's retries, within the 3 s the put has.
  w.eventbridge.injectFault({ code: 'ThrottlingException', times: 1_000, action: 'PutEvents' });
  let from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
  const create = await stack.create(upgradeTemplate({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap, centralEventBusArn: central }));
  expectSuccess(create, expectedData);
  const createStep = stepOf(create, 'Create');
  expect(createStep.eventbridgeRequests.length).toBeGreaterThan(2);
  expect(createStep.events).toEqual([]);
  expect(notPut(w, from)).toEqual([2]);
  w.eventbridge.clearFaults();

  // Denied (the role without events:PutEvents): the schedule still switches exactly the cap.
  w.eventbridge.injectFault({ code: 'AccessDeniedException', times: 1_000, action: 'PutEvents' });
  from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
  const denied = await stack.schedule();
  expect(denied.invocation.outcome).toBe('returned');
  expect(denied.retries ?? []).toEqual([]);
  expect(summaryOf(denied).counts).toMatchObject({ Upgraded: cap, Failed: 0 });
  expect(denied.events).toEqual([]);
  expect(notPut(w, from)).toEqual([2]);
  w.eventbridge.clearFaults();

  // EventBridge never answers: the Update is answered as ever, and the invocation ends (the put has 3 s).
  w.eventbridge.hang = true;
  from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
  const update = await stack.update(upgradeTemplate({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap + 1, centralEventBusArn: central }));
  const updateStep = stepOf(update, 'Update');
  expectSuccess(updateStep, { ...expectedData, Candidates: String(fleet.candidates.length - cap), Eligible: String(fleet.safe.length - cap) });
  expect(updateStep.invocation!.outcome).toBe('returned');
  expect(notPut(w, from)).toEqual([2]);
  w.eventbridge.hang = false;

  // Only the central bus refuses: the default bus gets the run, FindingsNotPut counts the other.
  nextInterval(w);
  from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
  const refused = await stack.schedule();
  expect(refused.invocation.outcome).toBe('returned');
  expect(theEvent(refused, UPGRADE_RUN).counts).toMatchObject({ Upgraded: cap + 1 });
  expect(w.events(central)).toEqual([]);
  expect(notPut(w, from)).toEqual([1]);
}, { timeoutMs: 300_000 });

/** An account enforcement would break, with more than 25 of each kind. */
function seedLargeReportFleet(w: World): void {
  w.ec2.setState(REGION, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  for (let i = 0; i < 30; i++) {
    w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: `web-${i}`, versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
    w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: `legacy-${i}`, MetadataOptions: { HttpTokens: 'optional' } });
    w.autoscaling.addAutoScalingGroup(REGION, { AutoScalingGroupName: `legacy-asg-${i}`, LaunchConfigurationName: `legacy-${i}` });
  }
  w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'strict', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
  w.ec2.addInstances(REGION, 40, { MetadataOptions: { HttpTokens: 'optional' } });
  w.ec2.addInstances(REGION, 5, { MetadataOptions: { HttpTokens: 'required' } });
}

scenario('ImdsReadinessReport: each run puts one IMDS Readiness Report to the default bus and the central bus, with the defaults found; samples of 25, full counts', async (w) => {
  seedLargeReportFleet(w);
  const central = w.centralBus();
  const t = reportTemplate({ centralEventBusArn: central });
  expectPutEventsGrant(t, central);
  const stack = w.stack();
  const answersAtPut: number[] = [];
  const held = w.eventbridge.holdAnswer((r) => r.action === 'PutEvents', async () => {
    answersAtPut.push(w.responses.attempts);
  });
  const create = await stack.create(t);
  expectSuccess(create, {
    Result: 'WOULD_STOP_LAUNCHES',
    LaunchTemplatesAllowingImdsv1Count: '30',
    LaunchConfigurationsAllowingImdsv1Count: '30',
    AutoScalingGroupsAllowingImdsv1Count: '30',
    InstancesAllowingImdsv1Count: '40',
  });
  await held;
  expect(answersAtPut).toEqual([1]);
  const step = stepOf(create, 'Create');
  const onDeploy = theEvent(step, READINESS_REPORT, central);
  const templateIds = w.ec2.launchTemplates(REGION).filter((lt) => lt.LaunchTemplateName.startsWith('web-')).map((lt) => lt.LaunchTemplateId);
  expect(onDeploy).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: onDeploy.resource.function, stackId: stack.stackId, logicalResourceId: step.logicalResourceId },
    origin: 'readiness-report',
    result: 'WOULD_STOP_LAUNCHES',
    trigger: 'deploy',
    // As EC2 reports them: a field without a value is no preference.
    found: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, ManagedBy: 'account' },
    // As the Data answers them (and the metrics), as numbers.
    counts: {
      LaunchTemplatesAllowingImdsv1Count: 30,
      LaunchConfigurationsAllowingImdsv1Count: 30,
      AutoScalingGroupsAllowingImdsv1Count: 30,
      InstancesAllowingImdsv1Count: 40,
    },
    launchTemplates: expect.any(Array),
    launchConfigurations: expect.any(Array),
    autoScalingGroups: expect.any(Array),
    instances: expect.any(Array),
  });
  for (const list of ['launchTemplates', 'launchConfigurations', 'autoScalingGroups', 'instances']) expect(onDeploy[list]).toHaveLength(25);
  // Each as the log line names it: id, name, the versions that allow IMDSv1.
  expect(onDeploy.launchTemplates.every((lt: string) => templateIds.includes(lt.split(' ')[0]) && / \(web-\d+, version 1\)$/.test(lt))).toBe(true);
  expect(onDeploy.launchConfigurations.every((n: string) => /^legacy-\d+$/.test(n))).toBe(true);
  expect(onDeploy.autoScalingGroups.every((n: string) => /^legacy-asg-\d+$/.test(n))).toBe(true);

  // The schedule: the same report, trigger schedule, no stack.
  w.ec2.setState(REGION, { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpTokensEnforced: 'enabled' });
  const run = await stack.schedule();
  expect(run.invocation.outcome).toBe('returned');
  const onSchedule = theEvent(run, READINESS_REPORT, central);
  expect(onSchedule).toMatchObject({ trigger: 'schedule', result: 'WOULD_STOP_LAUNCHES', found: { HttpTokensEnforced: 'enabled' }, counts: onDeploy.counts });
  expect(onSchedule.resource).toEqual({ function: onDeploy.resource.function });
  expect(notPut(w, 0)).toEqual([]);
});

scenario('ImdsReadinessReport: defaults that cannot be read are left out, the counts are the Data\'s; a throttled or denied PutEvents changes no answer', async (w) => {
  w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'web', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }, { MetadataOptions: { HttpTokens: 'optional' } }] });
  w.autoscaling.injectFault({ code: 'AccessDenied', times: 1_000, action: 'DescribeAutoScalingGroups' });
  w.ec2.injectFault({ code: 'InternalError', times: 1_000, action: 'GetInstanceMetadataDefaults' });
  const stack = w.stack();
  const create = await stack.create(reportTemplate());
  expectSuccess(create, { Result: 'WOULD_STOP_LAUNCHES', LaunchTemplatesAllowingImdsv1Count: '1', HttpTokens: 'unknown' });
  const detail = theEvent(stepOf(create, 'Create'), READINESS_REPORT);
  // Both versions allow IMDSv1 ($Default 1, $Latest 2): one entry for the template.
  expect(detail.launchTemplates).toEqual([`${w.ec2.launchTemplates(REGION)[0].LaunchTemplateId} (web, version 1, 2)`]);
  expect(detail.counts).toEqual({
    LaunchTemplatesAllowingImdsv1Count: 1,
    LaunchConfigurationsAllowingImdsv1Count: 0,
    AutoScalingGroupsAllowingImdsv1Count: 0,
    InstancesAllowingImdsv1Count: 0,
  });
  expect(detail.found).toBeUndefined();
  w.autoscaling.clearFaults();
  w.ec2.clearFaults();

  const data = (step: StepResult) => step.answer!.Data;
  const good = await stack.update(reportTemplate({ refreshKey: 'a' }));
  expect(theEvent(stepOf(good, 'Update'), READINESS_REPORT).found).toEqual({ ManagedBy: 'account' });
  for (const [code, refreshKey] of [['ThrottlingException', 'b'], ['AccessDeniedException', 'c']]) {
    w.eventbridge.injectFault({ code, times: 1_000, action: 'PutEvents' });
    const from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
    const bad = await stack.update(reportTemplate({ refreshKey }));
    expect(data(stepOf(bad, 'Update'))).toEqual(data(stepOf(good, 'Update')));
    expect(stepOf(bad, 'Update').events).toEqual([]);
    expect(notPut(w, from)).toEqual([1]);
    const scheduled = await stack.schedule();
    expect(scheduled.invocation.outcome).toBe('returned');
    expect(scheduled.retries ?? []).toEqual([]);
    expect(notPut(w, from)).toEqual([1, 1]);
    w.eventbridge.clearFaults();
  }
}, { timeoutMs: 120_000 });

scenario('through the StackSet: a member account\'s instance upgrade and readiness report put their findings to its default bus and to the central bus of the security account', async (w) => {
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 60 });
  const central = w.centralBus();
  const { template, parameters } = synthesizeStackSet({
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }),
    instanceUpgrade: { mode: InstanceUpgradeMode.UPGRADE },
    readinessReport: {},
    centralEventBusArn: central,
  });
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  const create = await stack.create(template, parameters);
  expect(create.stackStatus).toBe('CREATE_COMPLETE');
  const step = (type: string) => create.steps.find((s) => s.event?.ResourceType === type)!;
  const upgrade = theEvent(step('Custom::ImdsInstanceUpgrade'), UPGRADE_RUN, central);
  expect(upgrade).toMatchObject({ trigger: 'deploy', mode: 'UPGRADE', counts: { Candidates: fleet.candidates.length, Upgraded: 0 } });
  const report = theEvent(step('Custom::ImdsReadinessReport'), READINESS_REPORT, central);
  expect(report).toMatchObject({ trigger: 'deploy', origin: 'readiness-report', counts: { InstancesAllowingImdsv1Count: fleet.candidates.length } });
  // Two functions, each named in its own findings.
  expect(upgrade.resource.function).not.toBe(report.resource.function);
  const rule = stack.rules().find((r) => r.logicalId.startsWith('ImdsInstanceUpgrade') && r.scheduleExpression !== undefined)!;
  const scheduled = await stack.schedule({ ruleLogicalId: rule.logicalId });
  expect(theEvent(scheduled, UPGRADE_RUN, central)).toMatchObject({ trigger: 'schedule', counts: { Upgraded: fleet.safe.length } });
  expect(w.events(central).map((e) => [e['detail-type'], e.account, e.detail.trigger])).toEqual([
    ...create.steps.flatMap((s) => s.events.filter((e) => e.bus === central).map((e) => [e.event['detail-type'], ACCOUNT, e.event.detail.trigger])),
    [UPGRADE_RUN, ACCOUNT, 'schedule'],
  ]);
}, { timeoutMs: 300_000 });
