/**
 * End-to-end: ImdsInstanceUpgrade's shipped inline function (the ZipFile of the
 * synthesized template, run by the runtime's Node.js with only the runtime's
 * SDK clients) on an emulated fleet of a few thousand instances (local EC2 and
 * CloudWatch endpoints, test/support/fleet.ts), run as Lambda runs it: by
 * CloudFormation on deploy (Create, Update) and by the EventBridge schedule.
 *
 * Each run's time and EC2 calls are printed after the file and written to
 * test-reports/e2e-instance-upgrade.json for the bench; nothing here asserts a
 * time.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { StepResult, stepOf } from './harness/cloudformation';
import { identityOf, metricsPut as metricIdentitiesPut } from './harness/metrics';
import { REGION, World, expectSuccess, scenario } from './harness/scenario';
import { StackTemplate, synthesize, synthesizeStackSet } from './harness/template';
import {
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsInstanceUpgrade,
  ImdsInstanceUpgradeProps,
  ImdsStackSetTarget,
  InstanceUpgradeMode,
  RejectedCallsAction,
} from '../../src';
import { Fleet, seedFleet } from '../support/fleet';

/** A few thousand instances: about 1,600 allow IMDSv1, about 1,000 of them safe to upgrade. */
const FLEET_SIZE = 3_000;

/** A run over the whole fleet on two shared cores may take seconds (no timing is asserted). */
const SLOWEST_RUN_MS = 120_000;

const NAMESPACE = 'CdkImdsAccountDefaults';

interface RunRecord {
  readonly scenario: string;
  readonly run: string;
  readonly fleet: number;
  readonly mode: string;
  readonly handlerMs?: number;
  readonly wallMs: number;
  readonly ec2Calls: Readonly<Record<string, number>>;
  readonly ec2CallsTotal: number;
  readonly cloudwatchCalls: Readonly<Record<string, number>>;
  readonly counts?: Readonly<Record<string, number>>;
}

const records: RunRecord[] = [];

afterAll(() => {
  const file = path.join(__dirname, '..', '..', 'test-reports', 'e2e-instance-upgrade.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ fleet: FLEET_SIZE, runs: records }, null, 1)}\n`);
  console.log([
    `ImdsInstanceUpgrade runs (${records.length}; also in ${path.relative(process.cwd(), file)}):`,
    ...records.map((r) => `  ${r.scenario} | ${r.run} | ${r.mode} | fleet ${r.fleet} | handler ${r.handlerMs ?? '?'} ms, wall ${r.wallMs} ms | EC2 ${r.ec2CallsTotal} ${JSON.stringify(r.ec2Calls)} | CloudWatch ${JSON.stringify(r.cloudwatchCalls)} | ${JSON.stringify(r.counts ?? {})}`),
  ].join('\n'));
});

/** The run's summary log line (one per run). */
function summaryOf(step: StepResult): any {
  const lines = (step.invocation?.logs ?? '').split('\n').filter((l) => l.includes('"instance upgrade summary"'));
  expect({ step: step.step, summaries: lines.length }).toEqual({ step: step.step, summaries: 1 });
  return JSON.parse(lines[0].slice(lines[0].indexOf('{')));
}

function countCalls(requests: ReadonlyArray<{ readonly action: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) {
    counts[r.action] = (counts[r.action] ?? 0) + 1;
  }
  return counts;
}

/** Records the run for the report, and returns its summary's counts. */
function record(scenarioName: string, run: string, mode: string, fleet: number, step: StepResult): Record<string, number> {
  const counts = summaryOf(step).counts;
  const invocation = step.invocation!;
  records.push({
    scenario: scenarioName,
    run,
    fleet,
    mode,
    handlerMs: invocation.handlerMs === undefined ? undefined : Math.round(invocation.handlerMs),
    wallMs: Math.round(invocation.endedAt - invocation.spawnedAt),
    ec2Calls: step.ec2Calls,
    ec2CallsTotal: Object.values(step.ec2Calls).reduce((a, b) => a + b, 0),
    cloudwatchCalls: countCalls(step.cloudwatchRequests),
    counts,
  });
  return counts;
}

function template(props: ImdsInstanceUpgradeProps): StackTemplate {
  return synthesize((stack) => new ImdsInstanceUpgrade(stack, 'Upgrade', props));
}

/** The HttpTokens (and State) of every instance, by id. */
function tokens(w: World): Map<string, string> {
  return new Map(w.ec2.instances(REGION).map((i) => [i.InstanceId, `${i.MetadataOptions.HttpTokens}/${i.MetadataOptions.State}`]));
}

/** The instances whose HttpTokens became `required` between two snapshots. */
function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([id, v]) => before.get(id)?.split('/')[0] !== v.split('/')[0]).map(([id]) => id).sort();
}

/** The Modify requests of a step: instance id and every parameter besides Action and Version. */
function modifies(step: StepResult): Array<Record<string, string>> {
  return step.ec2Requests
    .filter((r) => r.action === 'ModifyInstanceMetadataOptions')
    .map((r) => Object.fromEntries(Object.entries(r.params).filter(([k]) => k !== 'Action' && k !== 'Version')));
}

const UPGRADED_AT = 'cdk-imds-account-defaults:upgraded-at';
const CLAIM_PATH = '/cdk-imds-account-defaults/instance-upgrade/switch-claims/';

/**
 * What a later interval sees (the handler reads the clock; the emulators cannot move it): every upgrade
 * record moved back by one interval and a minute, and the interval claims gone.
 */
function nextInterval(w: World, intervalSeconds = 86_400): void {
  for (const i of w.ec2.instances(REGION)) {
    const at = i.Tags[UPGRADED_AT];
    if (at !== undefined) {
      w.ec2.setTags(REGION, i.InstanceId, { [UPGRADED_AT]: new Date(Date.parse(at) - intervalSeconds * 1000 - 60_000).toISOString() });
    }
  }
  for (const name of w.ssm.parameters(REGION).keys()) {
    if (name.startsWith(CLAIM_PATH)) {
      w.ssm.deleteParameter(REGION, name);
    }
  }
}

const sorted = (ids: readonly string[]) => [...ids].sort();
const subsetOf = (ids: readonly string[], of: readonly string[]) => ids.filter((id) => !of.includes(id));

/** The metric values the run put in the library's namespace, by name. */
function metricsPut(w: World, from: number): Record<string, number | undefined> {
  return Object.fromEntries(w.cloudwatch.putMetricData(REGION, NAMESPACE).slice(from).map((d) => [d.MetricName, d.Value]));
}

/** What the fleet holds, as the run's counts should say (before any upgrade). */
function expectedCounts(fleet: Fleet, eligible: number, upgraded: number) {
  return {
    Candidates: fleet.candidates.length,
    Eligible: eligible,
    Upgraded: upgraded,
    InUse: fleet.inUse.length,
    Excluded: fleet.excluded.length,
    Unknown: fleet.unknown.length,
    Failed: 0,
    TooLittleData: fleet.tooLittleData.length,
  };
}

scenario('report only (the default): the run on deploy and the scheduled run change nothing and report every category', async (w) => {
  const name = 'report only';
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: FLEET_SIZE });
  expect(fleet.safe.length).toBeGreaterThan(500); // the mix: every category is well populated
  const before = tokens(w);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });

  const create = await stack.create(template({}));
  const createStep = stepOf(create, 'Create');
  expectSuccess(create);
  const expected = expectedCounts(fleet, fleet.safe.length, 0);
  // Data: strings; the run on deploy answers its counts.
  expect(createStep.answer!.Data).toEqual(Object.fromEntries(Object.entries({ ...expected, Pending: 0 }).map(([k, v]) => [k, String(v)])));
  expect(record(name, 'Create', 'REPORT_ONLY', FLEET_SIZE, createStep)).toMatchObject({ ...expected, NotAttempted: fleet.safe.length });
  expect(modifies(createStep)).toEqual([]);
  expect(changed(before, tokens(w))).toEqual([]);
  // The same counts as metrics in the library's namespace, no dimensions.
  expect(metricsPut(w, 0)).toEqual({
    InstancesAllowingImdsv1: fleet.candidates.length,
    InstancesUpgraded: 0,
    InstancesInUse: fleet.inUse.length,
    InstancesExcluded: fleet.excluded.length,
    InstancesUnknown: fleet.unknown.length,
    InstancesFailed: 0,
    InstancesWithTooLittleData: fleet.tooLittleData.length,
    InstancesWithRejectedImdsv1Calls: 0,
    InstancesRestoredToOptional: 0,
    InstancesRestoreRefused: 0,
    AutoScalingGroupsAllowingImdsv1: 0,
  });
  expect(w.cloudwatch.putMetricData(REGION, NAMESPACE).every((d) => Object.keys(d.Dimensions).length === 0)).toBe(true);
  // The construct's metric methods name exactly these metrics (namespace, name, no dimensions): an app's alarms see them,
  // each over the schedule's period (a day by default).
  const upgrade = new ImdsInstanceUpgrade(new Stack(), 'Upgrade', {});
  const methods = [
    upgrade.metricInstancesAllowingImdsv1(), upgrade.metricInstancesUpgraded(), upgrade.metricInstancesInUse(),
    upgrade.metricInstancesExcluded(), upgrade.metricInstancesUnknown(), upgrade.metricInstancesFailed(),
    upgrade.metricInstancesWithTooLittleData(), upgrade.metricInstancesWithRejectedImdsv1Calls(), upgrade.metricInstancesRestoredToOptional(),
    upgrade.metricInstancesRestoreRefused(), upgrade.metricAutoScalingGroupsAllowingImdsv1(),
  ];
  expect(metricIdentitiesPut(w.cloudwatch, REGION)).toEqual(methods.map(identityOf));
  expect(methods.map((m) => m.period.toMinutes())).toEqual(Array(methods.length).fill(stack.rules()[0].scheduleRateMinutes));
  // The summary names the instances (the first 100 of each list).
  const summary = summaryOf(createStep);
  expect(summary.trigger).toBe('Create');
  expect(subsetOf(summary.instances.inUse, fleet.inUse)).toEqual([]);
  expect(subsetOf(summary.instances.excluded, fleet.excluded)).toEqual([]);
  expect(subsetOf(summary.instances.unknown, fleet.unknown)).toEqual([]);
  expect(subsetOf(summary.instances.tooLittleData.map((t: any) => t.instanceId), fleet.tooLittleData)).toEqual([]);
  expect(summary.instances.upgraded).toEqual([]);

  const putBefore = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
  const scheduled = await stack.schedule();
  expect(scheduled.invocation.outcome).toBe('returned');
  expect(record(name, 'schedule', 'REPORT_ONLY', FLEET_SIZE, scheduled)).toMatchObject(expected);
  expect(summaryOf(scheduled).trigger).toBe('schedule');
  expect(modifies(scheduled)).toEqual([]);
  expect(changed(before, tokens(w))).toEqual([]);
  expect(metricsPut(w, putBefore)).toMatchObject({ InstancesAllowingImdsv1: fleet.candidates.length, InstancesUpgraded: 0 });
  // The scheduled run answers nobody: no ResponseURL was PUT (the harness fails the run otherwise).
  expect(scheduled.answer).toBeUndefined();

  // Delete changes nothing and calls nothing.
  const del = await stack.delete();
  expectSuccess(del);
  expect(del.ec2Actions).toEqual([]);
  expect(del.cloudwatchActions).toEqual([]);
  expect(changed(before, tokens(w))).toEqual([]);
}, { timeoutMs: 300_000 });

scenario('upgrade: the run on deploy only reports; the schedule switches only safe instances (never in use, excluded, unknown or with too little data), the cap per interval, applied and recorded; later intervals finish the rest', async (w) => {
  const name = 'upgrade';
  const cap = 400;
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: FLEET_SIZE });
  const before = tokens(w);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });

  const create = await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap }));
  expectSuccess(create);
  const createStep = stepOf(create, 'Create');
  // In UPGRADE too, the run on deploy only reports: the cap holds per interval, and only the schedule switches.
  expect(record(name, 'Create', 'UPGRADE', FLEET_SIZE, createStep)).toMatchObject({ ...expectedCounts(fleet, fleet.safe.length, 0), NotAttempted: fleet.safe.length });
  expect(summaryOf(createStep).reportOnly).toBe('deploy-time run');
  expect(modifies(createStep)).toEqual([]);
  expect(changed(before, tokens(w))).toEqual([]);

  const first = await stack.schedule();
  expect(record(name, 'schedule 1', 'UPGRADE', FLEET_SIZE, first)).toMatchObject({ ...expectedCounts(fleet, fleet.safe.length, cap), NotAttempted: fleet.safe.length - cap });
  expect(summaryOf(first).stoppedEarly).toBe('maxUpgradesPerRun');
  // Modify carries HttpTokens=required and nothing else; at most the cap, each instance once.
  const sent = modifies(first);
  expect(sent).toHaveLength(cap);
  expect(new Set(sent.map((p) => Object.keys(p).sort().join(',')))).toEqual(new Set(['HttpTokens,InstanceId']));
  expect(new Set(sent.map((p) => p.HttpTokens))).toEqual(new Set(['required']));
  let upgraded = changed(before, tokens(w));
  expect(upgraded).toEqual(sorted(sent.map((p) => p.InstanceId)));
  expect(subsetOf(upgraded, fleet.safe)).toEqual([]);
  // Each switch recorded on the instance (an ISO time, before the switch), and the interval claimed.
  expect(upgraded.every((id) => /^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(w.ec2.instance(REGION, id)!.Tags[UPGRADED_AT]))).toBe(true);
  expect([...w.ssm.parameters(REGION).keys()].filter((n) => n.startsWith(CLAIM_PATH))).toHaveLength(1);

  // The same interval: a second scheduled run (a late delivery, a retry) switches nothing.
  const again = await stack.schedule();
  expect(record(name, 'schedule 1 again', 'UPGRADE', FLEET_SIZE, again)).toMatchObject({ Upgraded: 0, Eligible: fleet.safe.length - cap });
  expect(summaryOf(again).stoppedEarly).toBe('maxUpgradesPerInterval');
  expect(summaryOf(again).switchedThisInterval).toBe(cap);
  expect(modifies(again)).toEqual([]);

  // Later intervals upgrade the rest, a cap at a time, until nothing safe is left.
  const runs = Math.ceil(fleet.safe.length / cap);
  for (let i = 2; i <= runs + 1; i++) {
    nextInterval(w);
    const run = await stack.schedule();
    const counts = record(name, `schedule ${i}`, 'UPGRADE', FLEET_SIZE, run);
    const left = fleet.safe.length - Math.min(fleet.safe.length, (i - 1) * cap);
    expect(counts).toMatchObject({
      Candidates: fleet.candidates.length - (fleet.safe.length - left),
      Eligible: left,
      Upgraded: Math.min(cap, left),
      InUse: fleet.inUse.length,
      Excluded: fleet.excluded.length,
      Unknown: fleet.unknown.length,
      TooLittleData: fleet.tooLittleData.length,
      Failed: 0,
    });
  }
  upgraded = changed(before, tokens(w));
  expect(upgraded).toEqual(sorted(fleet.safe));
  // Every upgraded instance reached `applied`; the other options are as they were.
  const after = new Map(w.ec2.instances(REGION).map((i) => [i.InstanceId, i]));
  const initial = new Map(fleet.instances.map((i) => [i.InstanceId, i]));
  for (const id of fleet.safe) {
    const { HttpTokens: httpTokens, State: state, ...others } = after.get(id)!.MetadataOptions;
    const { HttpTokens: _t, State: _s, ...othersBefore } = initial.get(id)!.MetadataOptions;
    expect({ id, httpTokens, state, others }).toEqual({ id, httpTokens: 'required', state: 'applied', others: othersBefore });
  }
  // In use, excluded, unknown and too-little-data instances still allow IMDSv1.
  for (const id of [...fleet.inUse, ...fleet.excluded, ...fleet.unknown, ...fleet.tooLittleData]) {
    expect({ id, tokens: after.get(id)!.MetadataOptions.HttpTokens }).toEqual({ id, tokens: 'optional' });
  }
}, { timeoutMs: 600_000 });

scenario('the cap across a deploy-time run, a scheduled run, an overlapping direct invoke and an Update: never more than the cap per interval', async (w) => {
  const name = 'cap per interval';
  const cap = 50;
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 600 });
  expect(fleet.safe.length).toBeGreaterThan(2 * cap);
  const before = tokens(w);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap })));
  expect(changed(before, tokens(w))).toEqual([]);
  // The schedule and, at the same time, someone allowed lambda:InvokeFunction with a forged schedule event.
  const rule = stack.rules()[0];
  const forged = { 'version': '0', 'id': 'forged', 'detail-type': 'Scheduled Event', 'source': 'aws.events', 'account': stack.accountId, 'region': REGION, 'time': new Date().toISOString(), 'resources': [rule.arn], 'detail': {} };
  const [scheduled, invoked] = await Promise.all([stack.schedule(), stack.invokeFunction(forged, { resourceType: 'Custom::ImdsInstanceUpgrade' })]);
  const counts = [record(name, 'schedule', 'UPGRADE', 600, scheduled), record(name, 'direct invoke (forged schedule event)', 'UPGRADE', 600, invoked)];
  expect(counts.map((c) => c.Upgraded).sort((a, b) => a - b)).toEqual([0, cap]);
  expect(changed(before, tokens(w))).toHaveLength(cap);
  // An Update (a configuration change with a larger cap) runs on deploy: it only reports.
  const update = await stack.update(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap + 10 }));
  expectSuccess(update);
  expect(record(name, 'Update', 'UPGRADE', 600, stepOf(update, 'Update'))).toMatchObject({ Upgraded: 0 });
  // Another scheduled run in the same interval (a late delivery): the interval is claimed, nothing more is switched.
  const more = await stack.schedule();
  expect(record(name, 'schedule again, larger cap', 'UPGRADE', 600, more)).toMatchObject({ Upgraded: 0 });
  expect(summaryOf(more).stoppedEarly).toBe('intervalClaimed');
  expect(changed(before, tokens(w))).toHaveLength(cap);
  // The next interval: the larger cap.
  nextInterval(w);
  const later = await stack.schedule();
  expect(record(name, 'next interval', 'UPGRADE', 600, later)).toMatchObject({ Upgraded: cap + 10 });
  expect(changed(before, tokens(w))).toHaveLength(2 * cap + 10);
}, { timeoutMs: 300_000 });

scenario('a configuration change is an Update that runs once: upgradeWithoutMetrics upgrades the unknown instances, and only those', async (w) => {
  const name = 'upgradeWithoutMetrics';
  const size = 2_000; // its safe instances fit in one run of 1000
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: size });
  expect(fleet.safe.length).toBeLessThan(1000);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: 1000 })));
  await stack.schedule();
  const afterCreate = tokens(w);
  expect(changed(new Map(fleet.instances.map((i) => [i.InstanceId, `${i.MetadataOptions.HttpTokens}/applied`])), afterCreate)).toEqual(sorted(fleet.safe));

  const update = await stack.update(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: 1000, upgradeWithoutMetrics: true }));
  expectSuccess(update);
  expect(update.steps.map((s) => s.requestType)).toEqual(['Update']);
  // The run on deploy reports what the schedule will do: without datapoints and now eligible, no longer unknown.
  expect(record(name, 'Update', 'UPGRADE', size, stepOf(update, 'Update'))).toMatchObject({ Eligible: fleet.unknown.length, Upgraded: 0, Unknown: 0 });
  expect(changed(afterCreate, tokens(w))).toEqual([]);
  nextInterval(w);
  const counts = record(name, 'schedule after the Update', 'UPGRADE', size, await stack.schedule());
  expect(counts).toMatchObject({ Eligible: fleet.unknown.length, Upgraded: fleet.unknown.length, Unknown: 0, InUse: fleet.inUse.length, Failed: 0 });
  expect(changed(afterCreate, tokens(w))).toEqual(sorted(fleet.unknown));
  expect(fleet.inUse.every((id) => w.ec2.instance(REGION, id)!.MetadataOptions.HttpTokens === 'optional')).toBe(true);
  expect(fleet.excluded.every((id) => w.ec2.instance(REGION, id)!.MetadataOptions.HttpTokens === 'optional')).toBe(true);
}, { timeoutMs: 600_000 });

scenario('throttled: EC2 and CloudWatch answer throttling again and again; the run still finishes under its cap and upgrades only safe instances', async (w) => {
  const name = 'throttled';
  const cap = 200;
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: FLEET_SIZE });
  const before = tokens(w);
  // More throttled answers in a row than the SDK's own attempts (6) for one call.
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap })));
  w.ec2.injectFault({ code: 'RequestLimitExceeded', times: 3, action: 'DescribeInstances' });
  w.cloudwatch.injectFault({ code: 'Throttling', times: 3, action: 'GetMetricData' });
  w.ec2.injectFault({ code: 'RequestLimitExceeded', times: 12, action: 'ModifyInstanceMetadataOptions' });
  const step = await stack.schedule();
  const counts = record(name, 'schedule (throttled: 3 Describe, 3 GetMetricData, 12 Modify)', 'UPGRADE', FLEET_SIZE, step);
  const upgraded = changed(before, tokens(w));
  expect(subsetOf(upgraded, fleet.safe)).toEqual([]);
  expect(upgraded.length).toBeLessThanOrEqual(cap);
  expect(counts.Upgraded).toBe(upgraded.length);
  expect(counts.Upgraded + counts.Failed + counts.NotAttempted).toBe(fleet.safe.length);
  // Throttling was met and retried: more Modify calls than instances modified.
  expect(step.ec2Calls.ModifyInstanceMetadataOptions).toBeGreaterThan(upgraded.length);
  expect(step.faulted).toBe(true);
}, { timeoutMs: 600_000, concurrent: true }); // mostly waits out the backoff

scenario('a custom exclusion tag key: instances carrying it are never changed, the default key means nothing', async (w) => {
  const name = 'exclusion tag key';
  const key = 'platform:keep-imdsv1';
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 600, exclusionTagKey: key, tags: { 'imds-keep-v1': 'ignored' } });
  const before = tokens(w);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, exclusionTagKey: key, maxUpgradesPerRun: 1000 })));
  const counts = record(name, 'schedule', 'UPGRADE', 600, await stack.schedule());
  expect(counts).toMatchObject({ Excluded: fleet.excluded.length, Upgraded: fleet.safe.length });
  expect(changed(before, tokens(w))).toEqual(sorted(fleet.safe));
  expect(fleet.excluded.every((id) => w.ec2.instance(REGION, id)!.MetadataOptions.HttpTokens === 'optional')).toBe(true);
}, { timeoutMs: 300_000 });

scenario('a one-hour lookback: an instance whose IMDSv1 call is older than the window is upgraded', async (w) => {
  const name = 'lookback';
  const now = Date.now();
  const old = w.ec2.addInstance(REGION, { Tags: { Name: 'old-imdsv1-use' } });
  const recent = w.ec2.addInstance(REGION, { Tags: { Name: 'recent-imdsv1-use' } });
  w.cloudwatch.setMetadataNoToken(REGION, old.InstanceId, [
    { timestamp: new Date(now - 3 * 3600_000), value: 5 },
    { timestamp: new Date(now - 1800_000), value: 0 },
  ]);
  w.cloudwatch.setMetadataNoToken(REGION, recent.InstanceId, [{ timestamp: new Date(now - 1800_000), value: 1 }]);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  const hour = Duration.hours(1);
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, lookback: hour, minimumObservedTime: hour })));
  expect(record(name, 'schedule', 'UPGRADE', 2, await stack.schedule())).toMatchObject({ Candidates: 2, Upgraded: 1, InUse: 1 });
  expect(w.ec2.instance(REGION, old.InstanceId)!.MetadataOptions.HttpTokens).toBe('required');
  expect(w.ec2.instance(REGION, recent.InstanceId)!.MetadataOptions.HttpTokens).toBe('optional');
});

scenario('evidence: a just-launched instance, one with a single datapoint and one stopped most of the window are reported with their hours observed and never upgraded; a week of zeros is', async (w) => {
  const name = 'evidence';
  const now = Date.now();
  const HOUR = 3_600_000;
  const zeros = (hours: number, from = 0) =>
    Array.from({ length: hours }, (_, h) => ({ timestamp: new Date(now - (from + h) * HOUR - HOUR / 2), value: 0 }));
  const launched = w.ec2.addInstance(REGION, { Tags: { Name: 'launched-45-minutes-ago' } });
  const single = w.ec2.addInstance(REGION, { Tags: { Name: 'one-hour-in-14-days' } });
  const stopped = w.ec2.addInstance(REGION, { State: 'stopped', Tags: { Name: 'stopped-most-of-the-window' } });
  const watched = w.ec2.addInstance(REGION, { Tags: { Name: 'eight-days-of-zeros' } });
  const unknown = w.ec2.addInstance(REGION, { State: 'stopped', Tags: { Name: 'no-datapoints' } });
  // Launched 45 minutes ago: three 5-minute zeros, all in the last hour.
  w.cloudwatch.setMetadataNoToken(REGION, launched.InstanceId, [40, 25, 10].map((m) => ({ timestamp: new Date(now - m * 60_000), value: 0 })));
  w.cloudwatch.setMetadataNoToken(REGION, single.InstanceId, [{ timestamp: new Date(now - 5 * 24 * HOUR), value: 0 }]);
  // Ran 2 days, ten days ago, then stopped.
  w.cloudwatch.setMetadataNoToken(REGION, stopped.InstanceId, zeros(48, 240));
  w.cloudwatch.setMetadataNoToken(REGION, watched.InstanceId, zeros(8 * 24));
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  // upgradeWithoutMetrics: the instance without any datapoint is upgraded; too little data never is.
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, upgradeWithoutMetrics: true })));
  const run = await stack.schedule();
  expect(run.invocation.outcome).toBe('returned');
  const counts = record(name, 'schedule', 'UPGRADE', 5, run);
  expect(counts).toMatchObject({ Candidates: 5, TooLittleData: 3, Eligible: 2, Unknown: 0 });
  const summary = summaryOf(run);
  expect(summary.instances.tooLittleData).toEqual([
    { instanceId: launched.InstanceId, hoursObserved: 1 },
    { instanceId: single.InstanceId, hoursObserved: 1 },
    { instanceId: stopped.InstanceId, hoursObserved: 48 },
  ]);
  expect(summary.config.minimumObservedSeconds).toBe(7 * 86_400);
  for (const i of [launched, single, stopped]) {
    expect({ id: i.InstanceId, tokens: w.ec2.instance(REGION, i.InstanceId)!.MetadataOptions.HttpTokens }).toEqual({ id: i.InstanceId, tokens: 'optional' });
  }
  for (const i of [watched, unknown]) {
    expect({ id: i.InstanceId, tokens: w.ec2.instance(REGION, i.InstanceId)!.MetadataOptions.HttpTokens }).toEqual({ id: i.InstanceId, tokens: 'required' });
  }
  expect(metricsPut(w, 0)).toMatchObject({ InstancesWithTooLittleData: 3 });
});

scenario('the inclusion tag: only instances carrying its key are listed (tag-key filter), counted and upgraded; the exclusion tag still wins', async (w) => {
  const name = 'inclusion tag';
  const key = 'imds-upgrade';
  // Every third instance of the mix carries the inclusion key (any value, empty too).
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 300, tagsOf: (i) => (i % 3 === 1 ? { [key]: i % 2 ? 'yes' : '' } : {}) });
  const carrying = new Set(fleet.instances.filter((_, i) => i % 3 === 1).map((i) => i.InstanceId));
  const before = tokens(w);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, inclusionTagKey: key, maxUpgradesPerRun: 1000 })));
  const run = await stack.schedule();
  const counts = record(name, 'schedule', 'UPGRADE', 300, run);
  const listing = run.ec2Requests.filter((r) => r.action === 'DescribeInstances' && r.params.MaxResults !== undefined);
  expect(Object.entries(listing[0].params).filter(([k]) => k.startsWith('Filter.3'))).toEqual([['Filter.3.Name', 'tag-key'], ['Filter.3.Value.1', key]]);
  const within = (ids: readonly string[]) => ids.filter((id) => carrying.has(id));
  expect(counts).toMatchObject({
    Candidates: within(fleet.candidates).length,
    Excluded: within(fleet.excluded).length,
    InUse: within(fleet.inUse).length,
  });
  const upgradedIds = sorted([...changed(before, tokens(w))]);
  expect(upgradedIds).toEqual(sorted(within(fleet.safe)));
  expect(upgradedIds.length).toBeGreaterThan(0);
});

/** Two safe instances switched by a scheduled run (RESTORE_OPTIONAL), their records then moved back two hours; A then refuses IMDSv1 calls. */
async function switchedPair(w: World) {
  const now = Date.now();
  const HOUR = 3_600_000;
  const zeros = Array.from({ length: 8 * 24 }, (_, h) => ({ timestamp: new Date(now - h * HOUR - HOUR / 2), value: 0 }));
  const a = w.ec2.addInstance(REGION, { Tags: { Name: 'breaks-without-imdsv1' } });
  const b = w.ec2.addInstance(REGION, { Tags: { Name: 'fine-with-imdsv2' } });
  w.cloudwatch.setMetadataNoToken(REGION, a.InstanceId, zeros);
  w.cloudwatch.setMetadataNoToken(REGION, b.InstanceId, zeros);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, rejectedCallsAction: RejectedCallsAction.RESTORE_OPTIONAL })));
  expect(modifies(await stack.schedule()).map((m) => m.InstanceId)).toEqual([a.InstanceId, b.InstanceId]);
  for (const id of [a.InstanceId, b.InstanceId]) {
    w.ec2.setTags(REGION, id, { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString() });
  }
  w.cloudwatch.setDatapoints(REGION, 'AWS/EC2', 'MetadataNoTokenRejected', { InstanceId: a.InstanceId }, [{ timestamp: new Date(now - HOUR), value: 7 }]);
  w.cloudwatch.setDatapoints(REGION, 'AWS/EC2', 'MetadataNoTokenRejected', { InstanceId: b.InstanceId }, [{ timestamp: new Date(now - HOUR), value: 0 }]);
  return { a, b, stack, now, HOUR };
}

/** The log lines of a run with this message. */
function linesOf(step: StepResult, message: string): any[] {
  return (step.invocation?.logs ?? '').split('\n').filter((l) => l.includes(`"${message}"`)).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
}

scenario('watch after acting: an instance refusing IMDSv1 calls after its switch is reported and put back (RESTORE_OPTIONAL); a forged record on an instance that never allowed IMDSv1 is reported, never put back', async (w) => {
  const name = 'rejected calls: put back';
  const { a, b, stack, now, HOUR } = await switchedPair(w);
  // Someone allowed ec2:CreateTags writes the record on an instance that always required IMDSv2 (no MetadataNoToken ever).
  const forged = w.ec2.addInstance(REGION, { MetadataOptions: { HttpTokens: 'required' }, Tags: { Name: 'never-allowed-imdsv1', [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString() } });
  w.cloudwatch.setDatapoints(REGION, 'AWS/EC2', 'MetadataNoTokenRejected', { InstanceId: forged.InstanceId }, [{ timestamp: new Date(now - HOUR), value: 2 }]);
  const from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;

  const run = await stack.schedule();
  const counts = record(name, 'schedule (watch)', 'UPGRADE', 3, run);
  expect(counts).toMatchObject({ RejectedCalls: 2, Restored: 1, RestoreRefused: 0 });
  expect(linesOf(run, 'IMDSv1 calls refused since the upgrade').map((l) => [l.instanceId, l.rejectedCalls])).toEqual([[a.InstanceId, 7], [forged.InstanceId, 2]]);
  const summary = summaryOf(run);
  expect(summary.instances.restored).toEqual([a.InstanceId]);
  expect(summary.instances.restoreSkipped).toEqual([{ instanceId: forged.InstanceId, reason: 'noImdsv1BeforeRecord' }]);
  // The put-back: HttpTokens optional and nothing else, recorded on the instance.
  expect(run.ec2Requests.filter((r) => r.action === 'ModifyInstanceMetadataOptions').map((r) => [r.params.InstanceId, r.params.HttpTokens])).toEqual([[a.InstanceId, 'optional']]);
  expect(w.ec2.instance(REGION, a.InstanceId)!.MetadataOptions.HttpTokens).toBe('optional');
  expect(w.ec2.instance(REGION, a.InstanceId)!.Tags['cdk-imds-account-defaults:restored-at']).toMatch(/Z$/);
  expect(w.ec2.instance(REGION, b.InstanceId)!.MetadataOptions.HttpTokens).toBe('required');
  expect(w.ec2.instance(REGION, forged.InstanceId)!.MetadataOptions.HttpTokens).toBe('required');
  expect(metricsPut(w, from)).toMatchObject({ InstancesWithRejectedImdsv1Calls: 2, InstancesRestoredToOptional: 1, InstancesRestoreRefused: 0 });

  // Later: the put-back instance allows IMDSv1 again and is left alone (never switched again while it carries restored-at).
  nextInterval(w);
  const later = await stack.schedule();
  expect(summaryOf(later).instances.excluded).toEqual([a.InstanceId]);
  expect(modifies(later)).toEqual([]);
}, { timeoutMs: 300_000 });

scenario('watch after acting: a put-back EC2 refuses because enforcement is on is reported as such, recorded, and never tried again', async (w) => {
  const name = 'rejected calls: put-back refused';
  const { a, stack } = await switchedPair(w);
  w.ec2.setState(REGION, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  const from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
  const run = await stack.schedule();
  expect(record(name, 'schedule (watch, enforced)', 'UPGRADE', 2, run)).toMatchObject({ RejectedCalls: 1, Restored: 0, RestoreRefused: 1 });
  expect(run.ec2Requests.filter((r) => r.action === 'ModifyInstanceMetadataOptions').map((r) => r.params.HttpTokens)).toEqual(['optional']);
  expect(linesOf(run, 'put-back to optional refused: HttpTokensEnforced is on for the account; not tried again').map((l) => l.instanceId)).toEqual([a.InstanceId]);
  expect(w.ec2.instance(REGION, a.InstanceId)!.MetadataOptions.HttpTokens).toBe('required');
  expect(w.ec2.instance(REGION, a.InstanceId)!.Tags['cdk-imds-account-defaults:restore-refused-at']).toMatch(/Z$/);
  expect(metricsPut(w, from)).toMatchObject({ InstancesWithRejectedImdsv1Calls: 1, InstancesRestoreRefused: 1 });

  // The next runs report the instance again and never try the put-back again.
  for (const label of ['schedule again', 'schedule, next interval']) {
    if (label.includes('next')) {
      nextInterval(w);
    }
    const again = await stack.schedule();
    expect(record(name, label, 'UPGRADE', 2, again)).toMatchObject({ RejectedCalls: 1, RestoreRefused: 0, Restored: 0 });
    expect(again.ec2Requests.filter((r) => r.action === 'ModifyInstanceMetadataOptions')).toEqual([]);
    expect(summaryOf(again).instances.restoreSkipped).toEqual([{ instanceId: a.InstanceId, reason: 'refusedBefore' }]);
  }
}, { timeoutMs: 300_000 });

scenario('Auto Scaling: a group whose launch template still allows IMDSv1 is reported with its instances (the treadmill); a group that requires IMDSv2 is not flagged; nothing on a group, template or configuration is modified', async (w) => {
  const name = 'Auto Scaling groups';
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 300 });
  const web = w.ec2.addLaunchTemplate(REGION, {
    LaunchTemplateName: 'web',
    versions: [{ MetadataOptions: { HttpTokens: 'optional' } }, { MetadataOptions: { HttpTokens: 'required' } }],
    DefaultVersionNumber: 1,
  });
  const api = w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'api', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
  const webInstances = fleet.safe.slice(0, 5);
  const apiInstances = fleet.candidates.filter((id) => !webInstances.includes(id)).slice(0, 3);
  w.autoscaling.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'web', LaunchTemplate: { LaunchTemplateId: web.LaunchTemplateId, Version: '$Default' }, Instances: webInstances.map((InstanceId) => ({ InstanceId })) });
  w.autoscaling.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'api', LaunchTemplate: { LaunchTemplateId: api.LaunchTemplateId, Version: '1' }, Instances: apiInstances.map((InstanceId) => ({ InstanceId })) });
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: 1000 })));
  const from = w.cloudwatch.putMetricData(REGION, NAMESPACE).length;
  const run = await stack.schedule();
  const counts = record(name, 'schedule', 'UPGRADE', 300, run);
  expect(counts.GroupsAllowingImdsv1).toBe(1);
  const groups = summaryOf(run).instances.autoScalingGroups;
  expect(groups).toEqual([
    { groupName: 'web', imdsv1: 'allowed', sources: [`${web.LaunchTemplateId}:$Default`], instancesAllowingImdsv1: 5, switchedThisRun: 5 },
    { groupName: 'api', imdsv1: 'required-tokens', sources: [`${api.LaunchTemplateId}:1`], instancesAllowingImdsv1: 3, switchedThisRun: expect.any(Number) },
  ]);
  expect(linesOf(run, 'Auto Scaling group launches instances that allow IMDSv1').map((l) => l.groupName)).toEqual(['web']);
  expect(metricsPut(w, from)).toMatchObject({ AutoScalingGroupsAllowingImdsv1: 1 });
  // Read-only: Describe calls only, and the group and its template as they were.
  expect(new Set(w.autoscaling.requests.map((r) => r.action))).toEqual(new Set(['DescribeAutoScalingGroups']));
  expect(run.ec2Requests.map((r) => r.action).filter((a) => !['DescribeInstances', 'DescribeLaunchTemplateVersions', 'ModifyInstanceMetadataOptions', 'CreateTags'].includes(a))).toEqual([]);
  expect(w.autoscaling.autoScalingGroups(REGION).map((g) => g.LaunchTemplate?.Version)).toEqual(['$Default', '1']);
}, { timeoutMs: 300_000 });

/** The account defaults a stack instance of the StackSets below sets. */
const ENFORCED_STATE = { HttpTokens: 'required', HttpTokensEnforced: 'enabled' };

/**
 * A stack instance of a StackSet with instanceUpgrade (UPGRADE) on a fleet of `size`: created, with its checks
 * (enforcement on, the safe instances upgraded). `memberRemovalPolicy` undefined: the default.
 */
async function stackSetInstance(w: World, name: string, size: number, memberRemovalPolicy?: RemovalPolicy) {
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: size });
  const before = tokens(w);
  const { template: body, parameters } = synthesizeStackSet({
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }),
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    instanceUpgrade: { mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: 1000 },
    ...(memberRemovalPolicy === undefined ? {} : { memberRemovalPolicy }),
  });
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  const create = await stack.create(body, parameters);
  expect(create.stackStatus).toBe('CREATE_COMPLETE');
  // Enforcement is on, and leaves the instances that allow IMDSv1 running; the upgrade only ever sets `required`.
  expect(w.state()).toEqual(ENFORCED_STATE);
  const upgradeStep = create.steps.find((s) => s.event?.ResourceType === 'Custom::ImdsInstanceUpgrade')!;
  expectSuccess(upgradeStep);
  // The run on deploy reports; the stack instance's schedule switches.
  expect(record(name, 'Create', 'UPGRADE', size, upgradeStep)).toMatchObject({ Eligible: fleet.safe.length, Upgraded: 0, InUse: fleet.inUse.length, Failed: 0 });
  expect(changed(before, tokens(w))).toEqual([]);
  const rule = stack.rules().find((r) => r.logicalId.startsWith('ImdsInstanceUpgrade') && r.scheduleExpression !== undefined)!;
  const scheduled = await stack.schedule({ ruleLogicalId: rule.logicalId });
  expect(record(name, 'schedule', 'UPGRADE', size, scheduled)).toMatchObject({ Upgraded: fleet.safe.length, InUse: fleet.inUse.length, Failed: 0 });
  expect(changed(before, tokens(w))).toEqual(sorted(fleet.safe));
  return { fleet, before, stack, accountDefaultsId: body.resourceOf('Custom::ImdsAccountDefaults').logicalId };
}

/** The upgrade's Delete in a stack deletion: it succeeds and calls neither EC2 nor CloudWatch. */
function expectUpgradeDeleteChangesNothing(del: { readonly steps: readonly StepResult[] }): void {
  const upgradeDelete = del.steps.filter((s) => s.event?.ResourceType === 'Custom::ImdsInstanceUpgrade');
  expect(upgradeDelete).toHaveLength(1);
  expectSuccess(upgradeDelete[0]);
  expect({ ec2: upgradeDelete[0].ec2Actions, cloudwatch: upgradeDelete[0].cloudwatchActions }).toEqual({ ec2: [], cloudwatch: [] });
}

scenario('through the StackSet (instanceUpgrade): a stack instance requires and enforces IMDSv2 for new instances and upgrades the safe running ones; deleted, it keeps both (memberRemovalPolicy retains by default)', async (w) => {
  const { fleet, before, stack, accountDefaultsId } = await stackSetInstance(w, 'StackSet stack instance', 1_000);

  // Deleting the stack instance leaves the instances upgraded and, with the default memberRemovalPolicy, the account
  // defaults too: CloudFormation sends ImdsAccountDefaults no Delete, and its claim stays, retained.
  const del = await stack.delete();
  expect(del.stackStatus).toBe('DELETE_COMPLETE');
  expectUpgradeDeleteChangesNothing(del);
  expect(del.steps.filter((s) => !s.event).map((s) => s.step)).toEqual([`Delete ${accountDefaultsId}: retained, no event`]);
  expect(stack.resourceStatus(accountDefaultsId)).toBe('DELETE_SKIPPED');
  expect(w.state()).toEqual(ENFORCED_STATE);
  expect(w.claims()).toEqual([expect.objectContaining({ logicalResourceId: accountDefaultsId, retained: true, fields: ENFORCED_STATE })]);
  expect(changed(before, tokens(w))).toEqual(sorted(fleet.safe));
}, { timeoutMs: 300_000 });

scenario('through the StackSet (instanceUpgrade), memberRemovalPolicy DESTROY: deleting the stack instance resets the account defaults it set and leaves the instances upgraded', async (w) => {
  const { fleet, before, stack, accountDefaultsId } = await stackSetInstance(w, 'StackSet stack instance (member DESTROY)', 300, RemovalPolicy.DESTROY);

  const del = await stack.delete();
  expect(del.stackStatus).toBe('DELETE_COMPLETE');
  expectUpgradeDeleteChangesNothing(del);
  const reset = del.steps.filter((s) => s.logicalResourceId === accountDefaultsId);
  expect(reset.map((s) => s.event?.RequestType)).toEqual(['Delete']);
  expectSuccess(reset[0]);
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
  // Resetting the account defaults changes no instance: the upgraded ones stay upgraded.
  expect(changed(before, tokens(w))).toEqual(sorted(fleet.safe));
}, { timeoutMs: 300_000 });
