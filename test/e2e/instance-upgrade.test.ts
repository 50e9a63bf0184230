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
  });
  expect(w.cloudwatch.putMetricData(REGION, NAMESPACE).every((d) => Object.keys(d.Dimensions).length === 0)).toBe(true);
  // The construct's metric methods name exactly these metrics (namespace, name, no dimensions): an app's alarms see them,
  // each over the schedule's period (a day by default).
  const upgrade = new ImdsInstanceUpgrade(new Stack(), 'Upgrade', {});
  const methods = [
    upgrade.metricInstancesAllowingImdsv1(), upgrade.metricInstancesUpgraded(), upgrade.metricInstancesInUse(),
    upgrade.metricInstancesExcluded(), upgrade.metricInstancesUnknown(), upgrade.metricInstancesFailed(),
  ];
  expect(metricIdentitiesPut(w.cloudwatch, REGION)).toEqual(methods.map(identityOf));
  expect(methods.map((m) => m.period.toMinutes())).toEqual(Array(methods.length).fill(stack.rules()[0].scheduleRateMinutes));
  // The summary names the instances (the first 100 of each list).
  const summary = summaryOf(createStep);
  expect(summary.trigger).toBe('Create');
  expect(subsetOf(summary.instances.inUse, fleet.inUse)).toEqual([]);
  expect(subsetOf(summary.instances.excluded, fleet.excluded)).toEqual([]);
  expect(subsetOf(summary.instances.unknown, fleet.unknown)).toEqual([]);
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

scenario('upgrade: only safe instances (never in use, never excluded, unknown left alone), the cap per run, applied; the schedule finishes the rest', async (w) => {
  const name = 'upgrade';
  const cap = 400;
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: FLEET_SIZE });
  const before = tokens(w);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });

  const create = await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap }));
  expectSuccess(create);
  const createStep = stepOf(create, 'Create');
  const first = record(name, 'Create', 'UPGRADE', FLEET_SIZE, createStep);
  expect(first).toMatchObject({ ...expectedCounts(fleet, fleet.safe.length, cap), NotAttempted: fleet.safe.length - cap });
  expect(summaryOf(createStep).stoppedEarly).toBe('maxUpgradesPerRun');
  // Modify carries HttpTokens=required and nothing else; at most the cap, each instance once.
  const sent = modifies(createStep);
  expect(sent).toHaveLength(cap);
  expect(new Set(sent.map((p) => Object.keys(p).sort().join(',')))).toEqual(new Set(['HttpTokens,InstanceId']));
  expect(new Set(sent.map((p) => p.HttpTokens))).toEqual(new Set(['required']));
  let upgraded = changed(before, tokens(w));
  expect(upgraded).toEqual(sorted(sent.map((p) => p.InstanceId)));
  expect(subsetOf(upgraded, fleet.safe)).toEqual([]);

  // The schedule upgrades the rest, a cap at a time, until nothing safe is left.
  const runs = Math.ceil(fleet.safe.length / cap);
  for (let i = 2; i <= runs + 1; i++) {
    const run = await stack.schedule();
    const counts = record(name, `schedule ${i - 1}`, 'UPGRADE', FLEET_SIZE, run);
    const left = fleet.safe.length - Math.min(fleet.safe.length, (i - 1) * cap);
    expect(counts).toMatchObject({
      Candidates: fleet.candidates.length - (fleet.safe.length - left),
      Eligible: left,
      Upgraded: Math.min(cap, left),
      InUse: fleet.inUse.length,
      Excluded: fleet.excluded.length,
      Unknown: fleet.unknown.length,
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
  // In use, excluded and unknown instances still allow IMDSv1.
  for (const id of [...fleet.inUse, ...fleet.excluded, ...fleet.unknown]) {
    expect({ id, tokens: after.get(id)!.MetadataOptions.HttpTokens }).toEqual({ id, tokens: 'optional' });
  }
}, { timeoutMs: 600_000 });

scenario('a configuration change is an Update that runs once: upgradeWithoutMetrics upgrades the unknown instances, and only those', async (w) => {
  const name = 'upgradeWithoutMetrics';
  const size = 2_000; // its safe instances fit in one run of 1000
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: size });
  expect(fleet.safe.length).toBeLessThan(1000);
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  expectSuccess(await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: 1000 })));
  const afterCreate = tokens(w);
  expect(changed(new Map(fleet.instances.map((i) => [i.InstanceId, `${i.MetadataOptions.HttpTokens}/applied`])), afterCreate)).toEqual(sorted(fleet.safe));

  const update = await stack.update(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: 1000, upgradeWithoutMetrics: true }));
  expectSuccess(update);
  expect(update.steps.map((s) => s.requestType)).toEqual(['Update']);
  const counts = record(name, 'Update', 'UPGRADE', size, stepOf(update, 'Update'));
  // Without datapoints and now eligible: counted as eligible, no longer as unknown.
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
  w.ec2.injectFault({ code: 'RequestLimitExceeded', times: 3, action: 'DescribeInstances' });
  w.cloudwatch.injectFault({ code: 'Throttling', times: 3, action: 'GetMetricData' });
  w.ec2.injectFault({ code: 'RequestLimitExceeded', times: 12, action: 'ModifyInstanceMetadataOptions' });
  const stack = w.stack({ slowestEventMs: SLOWEST_RUN_MS });
  const create = await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, maxUpgradesPerRun: cap }));
  expectSuccess(create);
  const step = stepOf(create, 'Create');
  const counts = record(name, 'Create (throttled: 3 Describe, 3 GetMetricData, 12 Modify)', 'UPGRADE', FLEET_SIZE, step);
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
  const create = await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, exclusionTagKey: key, maxUpgradesPerRun: 1000 }));
  expectSuccess(create);
  const counts = record(name, 'Create', 'UPGRADE', 600, stepOf(create, 'Create'));
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
  const create = await stack.create(template({ mode: InstanceUpgradeMode.UPGRADE, lookback: Duration.hours(1) }));
  expectSuccess(create);
  expect(record(name, 'Create', 'UPGRADE', 2, stepOf(create, 'Create'))).toMatchObject({ Candidates: 2, Upgraded: 1, InUse: 1 });
  expect(w.ec2.instance(REGION, old.InstanceId)!.MetadataOptions.HttpTokens).toBe('required');
  expect(w.ec2.instance(REGION, recent.InstanceId)!.MetadataOptions.HttpTokens).toBe('optional');
});

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
  expect(record(name, 'Create', 'UPGRADE', size, upgradeStep)).toMatchObject({ Upgraded: fleet.safe.length, InUse: fleet.inUse.length, Failed: 0 });
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
