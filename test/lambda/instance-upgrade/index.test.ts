/**
 * The ImdsInstanceUpgrade handler's rules, with EC2 and CloudWatch mocked by
 * aws-sdk-client-mock over a fake fleet (fleet-mock.ts): each test checks the
 * calls, the fleet afterwards, the summary line and the metrics.
 *
 * The SDK's own retries and timeouts live inside `send()`, which the mock
 * replaces; the throttling retries tested here are the handler's own (retry.ts).
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTagsCommand, DescribeInstancesCommand, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  FakeInstance, PAGE_DATAPOINTS, autoScaling, cw, describeCalls, ec2, emulate, enforced, fakes, groups, instance, instances, modifiedIds, parameters,
  serviceError, ssm, templates,
} from './fleet-mock';
import { GROUP_MESSAGE, describeSource } from '../../../lambda/instance-upgrade/groups';
import { CREATE_FAILED_PREFIX, SUMMARY_MESSAGE, handler } from '../../../lambda/instance-upgrade/index';
import { FUTURE_SKEW_MS, parseRecordTime } from '../../../lambda/instance-upgrade/records';
import { MAX_IDS_LOGGED } from '../../../lambda/instance-upgrade/report';
import { THROTTLE_DELAYS_MS } from '../../../lambda/instance-upgrade/retry';
import { CONFIRM_ATTEMPTS, CONFIRM_INTERVAL_MS, FINISH_RESERVE_MS, RECORD_BATCH } from '../../../lambda/instance-upgrade/upgrade';
import { queriesPerCall } from '../../../lambda/instance-upgrade/usage';
import { REJECTED_MESSAGE } from '../../../lambda/instance-upgrade/watch';
import { UNCONFIRMED_REASON } from '../../../lambda/shared/confirm';
import { RESPONSE_RESERVE_MS } from '../../../lambda/shared/custom-resource';
import { IAM_PROPAGATION_ATTEMPTS } from '../../../lambda/shared/sdk';
import { UPGRADE_ENV } from '../../../src/private/properties';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { ACCOUNT, REGION, STACK_ID, answerOf, captureLogs, createEvent, deleteEvent, lambdaContext, quickWaits, updateEvent } from '../support';
import { CloudFormationView, emulateCloudFormation, newCloudFormationView } from '../support/cloudformation';

const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:imds-upgrade`;
const PHYSICAL_ID = `ImdsInstanceUpgrade:${ACCOUNT}:${REGION}`;
const RESOURCE_TYPE = 'Custom::ImdsInstanceUpgrade';

let endpoint: ResponseEndpoint;
let logs: string[];
let delays: number[];
let fleet: FakeInstance[];
const savedEnv = { ...process.env };

/** A Lambda context of the function (its ARN names its account and Region); 60 s, so the budget's timer is a real one. */
const context = (timeoutMs = 60_000): Context => ({ ...lambdaContext(timeoutMs), invokedFunctionArn: FUNCTION_ARN }) as Context;

function scheduledEvent(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'version': '0',
    'id': 'd1b4c5e6-0000-4000-8000-000000000001',
    'detail-type': 'Scheduled Event',
    'source': 'aws.events',
    'account': ACCOUNT,
    'time': '2026-11-27T06:00:00Z',
    'region': REGION,
    'resources': [`arn:aws:events:${REGION}:${ACCOUNT}:rule/imds-upgrade`],
    'detail': {},
    ...fields,
  };
}

/** EventBridge (the findings, shared/events.ts): every entry accepted unless a test says otherwise; nothing reaches the network. */
const eventBridge = mockClient(EventBridgeClient);
const acceptAll = () => eventBridge.on(PutEventsCommand).callsFake((input) => ({ FailedEntryCount: 0, Entries: input.Entries.map((_: unknown, i: number) => ({ EventId: `e-${i}` })) }));

/** CloudFormation, as it shows each event's resource while it waits for the answer (support/cloudformation.ts): the handler confirms its events. */
const cfn = mockClient(CloudFormationClient);
let view: CloudFormationView;

const cfnEvent = (event: CloudFormationCustomResourceEvent) =>
  ({ ...event, ServiceToken: FUNCTION_ARN, ResourceType: RESOURCE_TYPE }) as CloudFormationCustomResourceEvent;
const create = () => cfnEvent(createEvent(endpoint, {}));
const update = (physicalId = PHYSICAL_ID) => cfnEvent(updateEvent(endpoint, {}, {}, physicalId));
const del = (physicalId = PHYSICAL_ID) => cfnEvent(deleteEvent(endpoint, {}, physicalId));
const answer = (event: CloudFormationCustomResourceEvent, timeoutMs = 60_000) =>
  answerOf((e, c) => handler(e, { ...c, invokedFunctionArn: FUNCTION_ARN }), endpoint, event, timeoutMs);

/**
 * Sets the function's environment: the given variables of UPGRADE_ENV, the others absent, except
 * MIN_OBSERVED_SECONDS: one hour unless given (one datapoint is enough evidence in these tests;
 * the evidence rule has its own tests, which set it).
 */
function configure(vars: Partial<Record<keyof typeof UPGRADE_ENV, string | undefined>>): void {
  for (const name of Object.values(UPGRADE_ENV)) delete process.env[name];
  for (const [key, value] of Object.entries({ MIN_OBSERVED_SECONDS: '3600', ...vars })) {
    if (value !== undefined) process.env[UPGRADE_ENV[key as keyof typeof UPGRADE_ENV]] = value;
  }
}

const parsed = () => logs.map((line) => JSON.parse(line));
/** The run's summary line: exactly one. */
function summary(): Record<string, any> {
  const lines = parsed().filter((l) => l.message === SUMMARY_MESSAGE);
  expect(lines).toHaveLength(1);
  return lines[0];
}
const runSchedule = async () => {
  await handler(scheduledEvent(), context());
  return summary();
};
const putMetricInputs = () => cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
const metricValues = () => Object.fromEntries(putMetricInputs().flatMap((i) => i.MetricData!).map((d) => [d.MetricName, d.Value]));
const byId = (id: string) => fleet.find((i) => i.id === id)!;

/**
 * Ten instances: seven candidates (allowing IMDSv1, in a candidate state), of
 * which one is excluded, two use IMDSv1, one has no datapoints and three are safe.
 */
function standardFleet(): FakeInstance[] {
  return [
    instance('i-safe', { usage: [0, 0] }),
    instance('i-inuse', { usage: [0, 3] }),
    instance('i-unknown'),
    instance('i-excluded', { usage: [0], tags: { 'Name': 'web', 'imds-keep-v1': '' } }),
    instance('i-stopped', { state: 'stopped', usage: [0] }),
    instance('i-required', { httpTokens: 'required', usage: [0] }),
    instance('i-terminated', { state: 'terminated', usage: [0] }),
    instance('i-pending', { state: 'pending', usage: [0] }),
    instance('i-stopping', { state: 'stopping', usage: [7] }),
    instance('i-shutting', { state: 'shutting-down', usage: [0] }),
  ];
}

/** Date.now() frozen, moved forward only by `advance` (no real waiting): the budget's points are exact. */
function fakeClock(): { advance: (ms: number) => void } {
  const base = Date.now();
  let offset = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => base + offset);
  return { advance: (ms) => (offset += ms) };
}

const DEFAULT_CONFIG = {
  mode: 'UPGRADE',
  lookbackSeconds: 1_209_600,
  exclusionTagKey: 'imds-keep-v1',
  upgradeWithoutMetrics: false,
  maxUpgradesPerRun: 100,
  minimumObservedSeconds: 3600,
  intervalSeconds: 86_400,
  rejectedCallsAction: 'REPORT',
};
/** The counts of the watch (no instance with an upgrade record): zeros. */
const NO_WATCH_COUNTS = { RejectedCalls: 0, Restored: 0, RestoreRefused: 0, GroupsAllowingImdsv1: 0 };
const NO_WATCH_LISTS = {
  rejected: [], restored: [], restoreRefused: [], restoreSkipped: [], watchFailed: [], recordProblems: [], autoScalingGroups: [],
};

beforeAll(async () => {
  endpoint = await ResponseEndpoint.start();
  logs = captureLogs();
  delays = quickWaits();
});
afterAll(async () => {
  process.env = savedEnv;
  await endpoint.stop();
});
beforeEach(() => {
  delays.length = 0;
  logs.length = 0;
  configure({ MODE: 'UPGRADE' });
  fleet = standardFleet();
  emulate(fleet);
  eventBridge.reset();
  acceptAll();
  cfn.reset();
  view = newCloudFormationView();
  emulateCloudFormation(cfn, view);
});
afterEach(() => {
  jest.spyOn(Date, 'now').mockRestore();
});

describe('a run', () => {
  test('upgrades exactly the safe candidates: never an excluded, in-use or unknown one, nor one that is not a candidate', async () => {
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-safe', 'i-stopped', 'i-pending']);
    expect(fleet.filter((i) => i.httpTokens === 'required').map((i) => i.id)).toEqual(['i-safe', 'i-stopped', 'i-required', 'i-pending']);
    expect(s).toEqual({
      message: SUMMARY_MESSAGE,
      trigger: 'schedule',
      config: DEFAULT_CONFIG,
      counts: {
        Candidates: 7,
        Eligible: 3,
        Upgraded: 3,
        Pending: 0,
        InUse: 2,
        Excluded: 1,
        Unknown: 1,
        Failed: 0,
        NotAttempted: 0,
        TooLittleData: 0,
        ...NO_WATCH_COUNTS,
      },
      instances: {
        excluded: ['i-excluded'],
        inUse: ['i-inuse', 'i-stopping'],
        unknown: ['i-unknown'],
        tooLittleData: [],
        upgraded: ['i-safe', 'i-stopped', 'i-pending'],
        pending: [],
        failed: [],
        notAttempted: [],
        ...NO_WATCH_LISTS,
      },
      switchedThisInterval: 0,
      omitted: {},
      metricsPut: true,
    });
  });

  test('lists with the two filters, 1000 a page, and asks CloudWatch for the usage of every candidate but the excluded one', async () => {
    await runSchedule();
    expect(describeCalls().listing).toEqual([{
      Filters: [
        { Name: 'metadata-options.http-tokens', Values: ['optional'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
      MaxResults: 1000,
      NextToken: undefined,
    }]);
    const queried = cw.commandCalls(GetMetricDataCommand).flatMap((c) => c.args[0].input.MetricDataQueries!)
      .map((q) => q.MetricStat!.Metric!.Dimensions![0].Value);
    expect([...new Set(queried)]).toEqual(['i-safe', 'i-inuse', 'i-unknown', 'i-stopped', 'i-pending', 'i-stopping']);
  });

  test('every EC2 and GetMetricData call carries the budget\'s abort signal; PutMetricData its own', async () => {
    await runSchedule();
    const signals = [...ec2.calls(), ...cw.commandCalls(GetMetricDataCommand)].map((c) => (c.args[1] as { abortSignal: AbortSignal }).abortSignal);
    // Listing, records listing, 1 CreateTags (the records), 3 Modify, 1 read-back; 2 GetMetricData (usage).
    expect(signals).toHaveLength(1 + 1 + 1 + 3 + 1 + 2);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(new Set(signals).size).toBe(1);
    const put = (cw.commandCalls(PutMetricDataCommand)[0].args[1] as { abortSignal: AbortSignal }).abortSignal;
    expect(put).toBeInstanceOf(AbortSignal);
    expect(put).not.toBe(signals[0]);
    expect(logs).toContainEqual(JSON.stringify({ message: 'instances allowing IMDSv1 listed', count: 7, pages: 1 }));
  });

  test('answers without optional fields: an instance without id, state, options or tag key, a reservation without instances, a page without reservations', async () => {
    configure({ MODE: 'REPORT_ONLY', EXCLUSION_TAG_KEY: 'keep' });
    ec2.on(DescribeInstancesCommand)
      .resolvesOnce({
        NextToken: 'next',
        Reservations: [
          {
            Instances: [
              { InstanceId: 'i-nostate', MetadataOptions: { HttpTokens: 'optional' } },
              { InstanceId: 'i-nooptions', State: { Name: 'running' } },
              { State: { Name: 'running' }, MetadataOptions: { HttpTokens: 'optional' } },
              { InstanceId: 'i-safe', State: { Name: 'running' }, MetadataOptions: { HttpTokens: 'optional' }, Tags: [{ Value: 'no key' }] },
              { InstanceId: 'i-inuse', State: { Name: 'stopped' }, MetadataOptions: { HttpTokens: 'optional' }, Tags: [{ Key: 'keep', Value: '' }] },
            ],
          },
          {},
        ],
      })
      .resolvesOnce({});
    const s = await runSchedule();
    expect(describeCalls().listing).toHaveLength(2);
    expect(s.counts).toMatchObject({ Candidates: 2, Excluded: 1, Eligible: 1 });
    expect(s.instances.excluded).toEqual(['i-inuse']);
    expect(s.instances.notAttempted).toEqual(['i-safe']);
  });

  test('a filter EC2 ignored never widens the selection: state and HttpTokens are checked again', async () => {
    const all = fakes(fleet);
    ec2.on(DescribeInstancesCommand).callsFake((input) => all.describeInstances(input.InstanceIds ? input : { MaxResults: input.MaxResults }));
    const s = await runSchedule();
    expect(s.counts.Candidates).toBe(7);
    expect(modifiedIds()).toEqual(['i-safe', 'i-stopped', 'i-pending']);
  });

  test('an instance listed twice (on two pages) is counted once', async () => {
    const all = fakes(fleet);
    ec2.on(DescribeInstancesCommand)
      .callsFakeOnce((input) => ({ ...all.describeInstances(input), NextToken: 'again' }))
      .callsFakeOnce((input) => all.describeInstances({ ...input, NextToken: undefined }))
      .callsFake(all.describeInstances);
    const s = await runSchedule();
    expect(describeCalls().listing.map((i) => i.NextToken)).toStrictEqual([undefined, 'again']);
    expect(s.counts.Candidates).toBe(7);
    expect(modifiedIds()).toEqual(['i-safe', 'i-stopped', 'i-pending']);
  });

  test('the exclusion tag excludes whatever its value; the key comes from the configuration', async () => {
    fleet.splice(0, fleet.length, instance('i-a', { usage: [0], tags: { keep: 'no' } }), instance('i-b', { usage: [0], tags: { 'imds-keep-v1': 'x' } }));
    configure({ MODE: 'UPGRADE', EXCLUSION_TAG_KEY: 'keep' });
    emulate(fleet);
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-b']);
    expect(s.instances.excluded).toEqual(['i-a']);
    expect(s.config.exclusionTagKey).toBe('keep');
  });

  test('an in-use instance is never upgraded, even with upgradeWithoutMetrics and room under the cap', async () => {
    configure({ MODE: 'UPGRADE', WITHOUT_METRICS: 'true', MAX_PER_RUN: '1000' });
    const s = await runSchedule();
    expect(modifiedIds()).not.toContain('i-inuse');
    expect(modifiedIds()).not.toContain('i-stopping');
    expect(modifiedIds()).not.toContain('i-excluded');
    expect(byId('i-inuse').httpTokens).toBe('optional');
    expect(s.instances.inUse).toEqual(['i-inuse', 'i-stopping']);
  });

  test('unknown (no datapoints) is left alone by default, and upgraded (after the safe ones) with upgradeWithoutMetrics', async () => {
    await runSchedule();
    expect(byId('i-unknown').httpTokens).toBe('optional');

    logs.length = 0;
    fleet = standardFleet();
    emulate(fleet);
    configure({ MODE: 'UPGRADE', WITHOUT_METRICS: 'true' });
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-safe', 'i-stopped', 'i-pending', 'i-unknown']);
    expect(byId('i-unknown').httpTokens).toBe('required');
    expect(s.counts).toMatchObject({ Eligible: 4, Upgraded: 4, Unknown: 0 });
    expect(s.instances.unknown).toEqual([]);
  });

  test('REPORT_ONLY (also the default without configuration) changes nothing and reports what UPGRADE would change', async () => {
    for (const vars of [{ MODE: 'REPORT_ONLY' }, {}]) {
      logs.length = 0;
      emulate(fleet);
      configure(vars);
      const s = await runSchedule();
      expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
      expect(describeCalls().byIds).toEqual([]);
      expect(fleet.filter((i) => i.httpTokens === 'required').map((i) => i.id)).toEqual(['i-required']);
      expect(s.config.mode).toBe('REPORT_ONLY');
      expect(s.counts).toEqual({
        Candidates: 7,
        Eligible: 3,
        Upgraded: 0,
        Pending: 0,
        InUse: 2,
        Excluded: 1,
        Unknown: 1,
        Failed: 0,
        NotAttempted: 3,
        TooLittleData: 0,
        ...NO_WATCH_COUNTS,
      });
      expect(s.instances.notAttempted).toEqual(['i-safe', 'i-stopped', 'i-pending']);
      expect(s.stoppedEarly).toBeUndefined();
    }
  });

  test('at most maxUpgradesPerRun instances are modified; the rest wait for the next run', async () => {
    fleet.splice(0, fleet.length, ...instances(10, 'a', { usage: [0] }));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '3' });
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-a000000', 'i-a000001', 'i-a000002']);
    expect(s.counts).toMatchObject({ Eligible: 10, Upgraded: 3, NotAttempted: 7 });
    expect(s.instances.notAttempted).toEqual(fleet.slice(3).map((i) => i.id));
    expect(s.stoppedEarly).toBe('maxUpgradesPerRun');
    expect(logs).toContainEqual(JSON.stringify({ message: 'upgrades stopped early', reason: 'maxUpgradesPerRun', attempted: 3, notAttempted: 7 }));
  });

  test('the cap counts failed attempts too, and exactly as many eligible as the cap is not stopped early', async () => {
    fleet.splice(0, fleet.length, ...instances(3, 'a', { usage: [0] }));
    emulate(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-a000000' }).rejects(serviceError('IncorrectInstanceState'));
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '2' });
    let s = await runSchedule();
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input.InstanceId)).toEqual(['i-a000000', 'i-a000001']);
    expect(s.stoppedEarly).toBe('maxUpgradesPerRun');

    logs.length = 0;
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '1' });
    fleet.splice(0, fleet.length, instance('i-only', { usage: [0] }));
    emulate(fleet);
    s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-only']);
    expect(s.stoppedEarly).toBeUndefined();
    expect(logs.some((l) => l.includes('upgrades stopped early'))).toBe(false);
  });

  test('one instance\'s failure never stops the others, and is recorded with its error code', async () => {
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-stopped' }).rejects(serviceError('IncorrectInstanceState', 'The instance is not in a valid state'));
    const s = await runSchedule();
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input.InstanceId)).toEqual(['i-safe', 'i-stopped', 'i-pending']);
    expect(s.counts).toMatchObject({ Eligible: 3, Upgraded: 2, Failed: 1, Pending: 0 });
    expect(s.instances.upgraded).toEqual(['i-safe', 'i-pending']);
    expect(s.instances.failed).toEqual([{ instanceId: 'i-stopped', action: 'ModifyInstanceMetadataOptions', code: 'IncorrectInstanceState' }]);
    expect(byId('i-stopped').httpTokens).toBe('optional');
  });

  test('an error without a name is recorded as Error', async () => {
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-safe' }).rejects(Object.assign(new Error('odd'), { name: '' }));
    const s = await runSchedule();
    expect(s.instances.failed).toEqual([{ instanceId: 'i-safe', action: 'ModifyInstanceMetadataOptions', code: 'Error' }]);
  });
});

describe('applied or pending', () => {
  test('each upgraded instance is read back by id until applied; one still pending after CONFIRM_ATTEMPTS reads is pending, not failed', async () => {
    byId('i-stopped').readsUntilApplied = 2;
    byId('i-pending').readsUntilApplied = CONFIRM_ATTEMPTS + 1;
    const s = await runSchedule();
    expect(describeCalls().byIds).toEqual([
      { InstanceIds: ['i-safe', 'i-stopped', 'i-pending'] },
      { InstanceIds: ['i-stopped', 'i-pending'] },
      ...Array(CONFIRM_ATTEMPTS - 2).fill({ InstanceIds: ['i-pending'] }),
    ]);
    expect(delays.filter((d) => d === CONFIRM_INTERVAL_MS)).toHaveLength(CONFIRM_ATTEMPTS - 1);
    expect(s.counts).toMatchObject({ Upgraded: 3, Pending: 1, Failed: 0 });
    expect(s.instances.pending).toEqual(['i-pending']);
    expect(byId('i-pending').metadataState).toBe('pending');
  });

  test('applied means applied with HttpTokens required; a read-back that fails leaves its instances pending', async () => {
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-safe', 'i-stopped', 'i-pending'] }).callsFake((input) => {
      const out = fakes(fleet).describeInstances(input);
      out.Reservations[0].Instances![0].MetadataOptions!.HttpTokens = 'optional';
      return out;
    });
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-safe'] }).rejects(serviceError('InvalidInstanceID.NotFound'));
    const s = await runSchedule();
    expect(describeCalls().byIds).toHaveLength(CONFIRM_ATTEMPTS);
    expect(s.instances.pending).toEqual(['i-safe']);
    expect(logs).toContainEqual(JSON.stringify({
      message: 'could not read back the metadata options of some instances', instanceIds: 1, error: 'InvalidInstanceID.NotFound: InvalidInstanceID.NotFound happened',
    }));
  });

  test('exactly 200 upgraded instances: two read-back calls, no empty third', async () => {
    fleet.splice(0, fleet.length, ...instances(200, 'b', { usage: [0] }));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '1000' });
    await runSchedule();
    expect(describeCalls().byIds.map((i) => i.InstanceIds!.length)).toEqual([100, 100]);
  });

  test('a read-back without metadata options leaves the instance pending, without an error', async () => {
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-safe', 'i-stopped', 'i-pending'] }).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-safe' }] }] });
    const s = await runSchedule();
    expect(s.instances.pending).toEqual(['i-safe', 'i-stopped', 'i-pending']);
    expect(logs.some((l) => l.includes('could not read back'))).toBe(false);
  });

  test('read-backs go 100 instance ids a call', async () => {
    fleet.splice(0, fleet.length, ...instances(250, 'b', { usage: [0] }));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '1000' });
    const s = await runSchedule();
    expect(describeCalls().byIds.map((i) => i.InstanceIds!.length)).toEqual([100, 100, 50]);
    expect(describeCalls().byIds.flatMap((i) => i.InstanceIds)).toEqual(fleet.map((i) => i.id));
    expect(s.counts).toMatchObject({ Upgraded: 250, Pending: 0 });
  });
});

describe('scale: pagination and batching', () => {
  test('1,200 candidates: two DescribeInstances pages, GetMetricData in batches of 500 (a window of 200 hours), id lists capped in the summary', async () => {
    fleet.splice(0, fleet.length, ...instances(1200, 'c'));
    emulate(fleet);
    configure({ MODE: 'REPORT_ONLY', LOOKBACK_SECONDS: String(200 * 3600) });
    const s = await runSchedule();
    expect(describeCalls().listing.map((i) => [i.MaxResults, i.NextToken])).toStrictEqual([[1000, undefined], [1000, '1000']]);
    expect(logs).toContainEqual(JSON.stringify({ message: 'instances allowing IMDSv1 listed', count: 1200, pages: 2 }));
    const calls = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries!);
    expect(calls.map((q) => q.length)).toEqual([500, 500, 200]);
    expect(calls.flatMap((q) => q.map((x) => x.MetricStat!.Metric!.Dimensions![0].Value))).toEqual(fleet.map((i) => i.id));
    expect(s.counts).toMatchObject({ Candidates: 1200, Unknown: 1200 });
    expect(s.instances.unknown).toEqual(fleet.slice(0, MAX_IDS_LOGGED).map((i) => i.id));
    expect(s.omitted).toEqual({ unknown: 1200 - MAX_IDS_LOGGED });
    expect(metricValues()).toMatchObject({ InstancesAllowingImdsv1: 1200, InstancesUnknown: 1200 });
  });

  test('exactly MAX_IDS_LOGGED ids are not cut', async () => {
    fleet.splice(0, fleet.length, ...instances(MAX_IDS_LOGGED, 'd', { usage: [1] }));
    emulate(fleet);
    const s = await runSchedule();
    expect(s.instances.inUse).toHaveLength(MAX_IDS_LOGGED);
    expect(s.omitted).toEqual({});
  });

  test('GetMetricData pages (NextToken) are followed and one instance\'s values summed across them', async () => {
    fleet.splice(0, fleet.length, instance('i-a', { usage: [0, 0, 0] }), instance('i-b', { usage: [0, 0, 5] }), instance('i-c'));
    emulate(fleet);
    const s = await runSchedule();
    const calls = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.NextToken)).toStrictEqual([undefined, String(PAGE_DATAPOINTS)]);
    expect(calls[1].MetricDataQueries).toEqual(calls[0].MetricDataQueries);
    expect(s.instances).toMatchObject({ inUse: ['i-b'], unknown: ['i-c'], upgraded: ['i-a'] });
  });

  test('the query: AWS/EC2 MetadataNoToken by InstanceId, Sum per hour over the lookback rounded up to the hour, ending on a minute', async () => {
    configure({ MODE: 'UPGRADE', LOOKBACK_SECONDS: '3601' });
    const before = Date.now();
    await runSchedule();
    const input = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(input.MetricDataQueries![0]).toEqual({
      Id: 'm0',
      MetricStat: { Metric: { Namespace: 'AWS/EC2', MetricName: 'MetadataNoToken', Dimensions: [{ Name: 'InstanceId', Value: 'i-safe' }] }, Period: 3600, Stat: 'Sum' },
      ReturnData: true,
    });
    expect(input.MetricDataQueries!.map((q) => q.Id)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    const end = (input.EndTime as Date).getTime();
    expect(end % 60_000).toBe(0);
    expect(end).toBeGreaterThan(before - 60_000);
    expect(end).toBeLessThanOrEqual(Date.now());
    expect((input.StartTime as Date).getTime()).toBe(end - 7200 * 1000);
  });
});

describe('throttling and IAM propagation', () => {
  const throttled = () => serviceError('RequestLimitExceeded', 'Request limit exceeded.', 503);

  test('a throttled Modify is retried with backoff; one that stays throttled fails after every retry; the run finishes under its cap', async () => {
    fleet.splice(0, fleet.length, ...['i-a', 'i-b', 'i-c', 'i-d'].map((id) => instance(id, { usage: [0] })));
    emulate(fleet);
    const f = fakes(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-a' }).rejectsOnce(throttled()).rejectsOnce(throttled()).callsFake(f.modify);
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-b' }).rejects(throttled());
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '3' });
    const s = await runSchedule();
    const ids = ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input.InstanceId);
    expect(ids).toEqual(['i-a', 'i-a', 'i-a', ...Array(THROTTLE_DELAYS_MS.length + 1).fill('i-b'), 'i-c']);
    expect(delays.filter((d) => d >= 1_000 && d <= 8_000)).toEqual([1_000, 2_000, ...THROTTLE_DELAYS_MS]);
    expect(s.instances.upgraded).toEqual(['i-a', 'i-c']);
    expect(s.instances.failed).toEqual([{ instanceId: 'i-b', action: 'ModifyInstanceMetadataOptions', code: 'RequestLimitExceeded' }]);
    expect(s.instances.notAttempted).toEqual(['i-d']);
    expect(s.stoppedEarly).toBe('maxUpgradesPerRun');
    expect(logs).toContainEqual(JSON.stringify({ message: 'ModifyInstanceMetadataOptions throttled: retrying', error: 'RequestLimitExceeded', retry: 1, delayMs: 1_000 }));
  });

  test('throttled listing, GetMetricData and read-back calls are retried (Throttling, ThrottlingException)', async () => {
    const f = fakes(fleet);
    ec2.on(DescribeInstancesCommand).rejectsOnce(throttled()).callsFake(f.describeInstances);
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-safe', 'i-stopped', 'i-pending'] })
      .rejectsOnce(serviceError('Throttling', 'Rate exceeded')).callsFake(f.describeInstances);
    cw.on(GetMetricDataCommand).rejectsOnce(serviceError('ThrottlingException', 'Rate exceeded')).callsFake(f.getMetricData);
    const s = await runSchedule();
    expect(describeCalls().listing).toHaveLength(2);
    expect(describeCalls().byIds).toHaveLength(2);
    expect(parsed().filter((l) => / throttled: retrying$/.test(l.message)).map((l) => l.message)).toEqual([
      'DescribeInstances throttled: retrying', 'GetMetricData throttled: retrying', 'DescribeInstances throttled: retrying',
    ]);
    expect(delays).not.toContain(CONFIRM_INTERVAL_MS);
    // Seven datapoints: two pages, after the throttled first call.
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(3);
    expect(s.counts).toMatchObject({ Upgraded: 3, Pending: 0, Failed: 0 });
  });

  test('other errors are not retried', async () => {
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-stopped' }).rejects(serviceError('InternalError', 'boom', 500));
    await runSchedule();
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-stopped' })).toHaveLength(1);
  });

  test('the first call of each action waits for IAM to propagate; later access-denied answers do not', async () => {
    const f = fakes(fleet);
    const denied = () => serviceError('UnauthorizedOperation', 'You are not authorized', 403);
    ec2.on(DescribeInstancesCommand).rejectsOnce(denied()).callsFake(f.describeInstances);
    cw.on(GetMetricDataCommand).rejectsOnce(serviceError('AccessDenied', 'not yet', 403)).callsFake(f.getMetricData);
    ec2.on(ModifyInstanceMetadataOptionsCommand).rejectsOnce(denied()).callsFake(f.modify);
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-stopped' }).rejects(denied());
    const s = await runSchedule();
    expect(describeCalls().listing).toHaveLength(2);
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(3);
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input.InstanceId)).toEqual(['i-safe', 'i-safe', 'i-stopped', 'i-pending']);
    expect(s.instances.failed).toEqual([{ instanceId: 'i-stopped', action: 'ModifyInstanceMetadataOptions', code: 'UnauthorizedOperation' }]);
    const waits = parsed().filter((l) => /on the first/.test(l.message)).map((l) => l.message);
    expect(waits).toEqual([
      'UnauthorizedOperation on the first EC2 call: waiting for the role\'s policy to propagate',
      'AccessDenied on the first CloudWatch call: waiting for the role\'s policy to propagate',
      'UnauthorizedOperation on the first EC2 call: waiting for the role\'s policy to propagate',
    ]);
  });

  test('only the first listing page and the first GetMetricData call wait for IAM', async () => {
    fleet.splice(0, fleet.length, ...instances(1001, 'h'));
    emulate(fleet);
    const f = fakes(fleet);
    const denied = () => serviceError('AccessDenied', 'no', 403);
    cw.on(GetMetricDataCommand).callsFakeOnce(f.getMetricData).rejectsOnce(denied()).callsFake(f.getMetricData);
    configure({ MODE: 'REPORT_ONLY', LOOKBACK_SECONDS: String(200 * 3600) });
    let s = await runSchedule();
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(3);
    expect(s.counts).toMatchObject({ Failed: 500 });
    expect(s.instances.failed[0]).toEqual({ instanceId: 'i-h000500', action: 'GetMetricData', code: 'AccessDenied' });

    logs.length = 0;
    emulate(fleet);
    ec2.on(DescribeInstancesCommand).callsFakeOnce(f.describeInstances).rejects(serviceError('UnauthorizedOperation', 'no', 403));
    await expect(handler(scheduledEvent(), context())).rejects.toThrow(/could not be listed/);
    expect(describeCalls().listing).toHaveLength(2);
    s = summary();
    expect(s.metricsPut).toBe(false);
  });
});

describe('usage that cannot be read', () => {
  test('a GetMetricData batch that fails: its instances are failed with the error code and never upgraded; the other batches go on', async () => {
    fleet.splice(0, fleet.length, ...instances(501, 'e', { usage: [0] }));
    emulate(fleet);
    cw.on(GetMetricDataCommand).rejectsOnce(serviceError('InvalidParameterValue', 'no')).callsFake(fakes(fleet).getMetricData);
    configure({ MODE: 'UPGRADE', WITHOUT_METRICS: 'true', MAX_PER_RUN: '1000', LOOKBACK_SECONDS: String(200 * 3600) });
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-e000500']);
    expect(s.counts).toMatchObject({ Candidates: 501, Failed: 500, Upgraded: 1, Unknown: 0 });
    expect(s.instances.failed[0]).toEqual({ instanceId: 'i-e000000', action: 'GetMetricData', code: 'InvalidParameterValue' });
    expect(logs).toContainEqual(JSON.stringify({ message: 'could not read MetadataNoToken for some instances', instances: 500, error: 'InvalidParameterValue: no' }));
  });

  test('a GetMetricData error without a name is recorded as Error; a Complete result without Values is unknown', async () => {
    fleet.splice(0, fleet.length, instance('i-a', { usage: [0] }));
    emulate(fleet);
    cw.on(GetMetricDataCommand).rejectsOnce(Object.assign(new Error('odd'), { name: '' })).resolves({ MetricDataResults: [{ Id: 'm0', StatusCode: 'Complete' }] });
    let s = await runSchedule();
    expect(s.instances.failed).toEqual([{ instanceId: 'i-a', action: 'GetMetricData', code: 'Error' }]);
    logs.length = 0;
    s = await runSchedule();
    expect(s.instances.unknown).toEqual(['i-a']);
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
  });

  test('a result that is not Complete is failed (MetricData<status>) unless it already shows IMDSv1 use; a missing result is failed', async () => {
    fleet.splice(0, fleet.length, instance('i-a', { usage: [0] }), instance('i-b', { usage: [2] }), instance('i-c'), instance('i-d', { usage: [0] }));
    emulate(fleet);
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'm0', StatusCode: 'Forbidden', Values: [0] },
        { Id: 'm1', StatusCode: 'InternalError', Values: [2] },
        { Id: 'm2', StatusCode: 'InternalError', Values: [] },
      ],
    });
    configure({ MODE: 'UPGRADE', WITHOUT_METRICS: 'true' });
    const s = await runSchedule();
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
    expect(s.instances.inUse).toEqual(['i-b']);
    expect(s.instances.failed).toEqual([
      { instanceId: 'i-a', action: 'GetMetricData', code: 'MetricDataForbidden' },
      { instanceId: 'i-c', action: 'GetMetricData', code: 'MetricDataInternalError' },
      { instanceId: 'i-d', action: 'GetMetricData', code: 'NoMetricDataResult' },
    ]);
  });
});

describe('the budget', () => {
  test('no Modify starts within FINISH_RESERVE_MS of the budget\'s end: the rest are not attempted, and the run still reads back and reports', async () => {
    expect(FINISH_RESERVE_MS).toBe(10_000);
    fleet.splice(0, fleet.length, ...instances(8, 'f', { usage: [0] }));
    emulate(fleet);
    const clock = fakeClock();
    const f = fakes(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand).callsFake((input) => {
      clock.advance(9_000);
      return f.modify(input);
    });
    // 60 s: the budget ends at 55 s, Modifies stop at 45 s: five start (at 0, 9, 18, 27 and 36 s), none at 45 s.
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(fleet.slice(0, 5).map((i) => i.id));
    expect(s.stoppedEarly).toBe('deadline');
    expect(s.counts).toMatchObject({ Upgraded: 5, NotAttempted: 3, Pending: 0 });
    expect(s.metricsPut).toBe(true);
  });

  test('a throttled call is not retried past the point where no new call may start', async () => {
    fleet.splice(0, fleet.length, instance('i-a', { usage: [0] }), instance('i-b', { usage: [0] }));
    emulate(fleet);
    const clock = fakeClock();
    ec2.on(ModifyInstanceMetadataOptionsCommand).callsFake(() => {
      clock.advance(20_000);
      throw serviceError('RequestLimitExceeded', 'slow down', 503);
    });
    // Calls at 0 s and 20 s (+1 s wait); at 40 s the next wait (4 s) would end past 45 s.
    const s = await runSchedule();
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input.InstanceId)).toEqual(['i-a', 'i-a', 'i-a']);
    expect(s.instances.failed).toEqual([{ instanceId: 'i-a', action: 'ModifyInstanceMetadataOptions', code: 'RequestLimitExceeded' }]);
    expect(s.instances.notAttempted).toEqual(['i-b']);
    expect(s.stoppedEarly).toBe('deadline');
  });

  test('usage batches not started before that point are failed with DeadlineReached', async () => {
    fleet.splice(0, fleet.length, ...instances(600, 'g', { usage: [0] }));
    emulate(fleet);
    const clock = fakeClock();
    const f = fakes(fleet);
    cw.on(GetMetricDataCommand).callsFake((input) => {
      clock.advance(45_000); // exactly the point where no call may start
      return f.getMetricData({ ...input });
    });
    configure({ MODE: 'REPORT_ONLY' });
    const s = await runSchedule();
    expect(cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.NextToken)).toStrictEqual([undefined]);
    expect(s.counts).toMatchObject({ Eligible: 0, Failed: 600 });
    expect(s.instances.failed[0]).toEqual({ instanceId: 'i-g000000', action: 'GetMetricData', code: 'MetricDataPartialData' });
    expect(s.instances.failed[500]).toBeUndefined(); // capped list
    expect(s.omitted.failed).toBe(500);
  });

  test('the read-back: none starts within 3 s of the budget\'s end (a 2 s wait from 50 s would end at 52 s: none)', async () => {
    byId('i-safe').readsUntilApplied = 100;
    fleet.splice(1, fleet.length);
    const clock = fakeClock();
    const f = fakes(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand).callsFake((input) => {
      clock.advance(50_000);
      return f.modify(input);
    });
    const s = await runSchedule();
    expect(describeCalls().byIds).toHaveLength(1);
    expect(s.instances.pending).toEqual(['i-safe']);
  });

  test('a throttled read-back is not retried when the retry would start within 3 s of the budget\'s end', async () => {
    fleet.splice(1, fleet.length);
    const clock = fakeClock();
    const f = fakes(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand).callsFake((input) => {
      clock.advance(51_500);
      return f.modify(input);
    });
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-safe'] }).rejects(serviceError('RequestLimitExceeded', 'slow down', 503));
    const s = await runSchedule();
    expect(describeCalls().byIds).toHaveLength(1);
    expect(s.instances.pending).toEqual(['i-safe']);
  });

  test('no read-back starts within 3 s of the budget\'s end', async () => {
    byId('i-safe').readsUntilApplied = 100;
    const clock = fakeClock();
    const f = fakes(fleet);
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-safe', 'i-stopped', 'i-pending'] }).callsFake((input) => {
      clock.advance(50_500);
      return f.describeInstances(input);
    });
    const s = await runSchedule();
    // At 50.5 s, a read-back after a 2 s wait would start at 52.5 s: not within the 55 s budget less 3 s.
    expect(describeCalls().byIds).toHaveLength(1);
    expect(s.instances.pending).toEqual(['i-safe']);
  });
});

describe('metrics', () => {
  test('each run puts the eleven counts, unit Count, no dimensions, in the library\'s namespace', async () => {
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-stopped' }).rejects(serviceError('IncorrectInstanceState'));
    await runSchedule();
    expect(putMetricInputs()).toEqual([{
      Namespace: 'CdkImdsAccountDefaults',
      MetricData: [
        { MetricName: 'InstancesAllowingImdsv1', Value: 7, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesUpgraded', Value: 2, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesInUse', Value: 2, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesExcluded', Value: 1, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesUnknown', Value: 1, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesFailed', Value: 1, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesWithTooLittleData', Value: 0, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesWithRejectedImdsv1Calls', Value: 0, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesRestoredToOptional', Value: 0, Unit: 'Count', Dimensions: [] },
        { MetricName: 'InstancesRestoreRefused', Value: 0, Unit: 'Count', Dimensions: [] },
        { MetricName: 'AutoScalingGroupsAllowingImdsv1', Value: 0, Unit: 'Count', Dimensions: [] },
      ],
    }]);
  });

  test('PutMetricData gets 4 s, and never past the function\'s timeout less 500 ms', async () => {
    const timeout = jest.spyOn(AbortSignal, 'timeout');
    try {
      await runSchedule();
      // The first: PutMetricData's (the findings' come after: see 'findings as events').
      expect(timeout.mock.calls[0]).toEqual([4_000]);
      const f = fakes(fleet);
      for (const [advance, expected] of [[57_000, 2_500], [59_800, 1]]) {
        timeout.mockClear();
        logs.length = 0;
        const clock = fakeClock();
        emulate(fleet);
        ec2.on(DescribeInstancesCommand).callsFakeOnce((input) => {
          clock.advance(advance);
          return f.describeInstances(input);
        }).callsFake(f.describeInstances);
        await runSchedule();
        expect(timeout.mock.calls[0]).toEqual([expected]);
      }
    } finally {
      timeout.mockRestore();
    }
  });

  test('a fleet without candidates puts zeros', async () => {
    fleet.splice(0, fleet.length);
    emulate(fleet);
    const s = await runSchedule();
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(0);
    expect(Object.values(metricValues())).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(s.counts.Candidates).toBe(0);
  });

  test('metrics that cannot be put are in the summary (metricsPut false); the run still succeeds', async () => {
    cw.on(PutMetricDataCommand).rejects(serviceError('AccessDenied', 'no', 403));
    const answered = await answer(create());
    expect(answered.Status).toBe('SUCCESS');
    expect(summary().metricsPut).toBe(false);
  });
});

describe('CloudFormation', () => {
  test('Create runs once, only reports (in UPGRADE too: the schedule switches), and answers SUCCESS with the account-and-Region physical id and the counts as Data', async () => {
    const answered = await answer(create());
    expect(answered).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(answered.Data).toEqual({ Candidates: '7', Eligible: '3', Upgraded: '0', Pending: '0', InUse: '2', Excluded: '1', Unknown: '1', Failed: '0', TooLittleData: '0' });
    const s = summary();
    expect(s.trigger).toBe('Create');
    expect(s.reportOnly).toBe('deploy-time run');
    expect(s.instances.notAttempted).toEqual(['i-safe', 'i-stopped', 'i-pending']);
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
  });

  test('Update runs once and keeps its physical id', async () => {
    configure({ MODE: 'REPORT_ONLY' });
    const answered = await answer(update('some-earlier-id'));
    expect(answered).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'some-earlier-id' });
    expect(answered.Data).toMatchObject({ Upgraded: '0', Eligible: '3' });
    expect(summary().trigger).toBe('Update');
  });

  test.each([
    ['the account-and-Region id', PHYSICAL_ID],
    ['a failed Create\'s marker', `${CREATE_FAILED_PREFIX}request-1`],
  ])('Delete (%s) answers SUCCESS and calls nothing, whatever the configuration', async (_name, physicalId) => {
    configure({ MODE: 'bogus' });
    const answered = await answer(del(physicalId));
    expect(answered).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
    expect(logs.some((l) => l.includes(SUMMARY_MESSAGE))).toBe(false);
    expect(parsed()[1]).toEqual({ message: 'Delete: nothing to undo (upgraded instances stay upgraded)' });
  });

  test('the marker prefix and the logs of a failure', async () => {
    expect(CREATE_FAILED_PREFIX).toBe('ImdsInstanceUpgrade:CreateFailed:');
    configure({ MODE: 'x' });
    await answer(create());
    expect(parsed()[1]).toEqual({
      message: 'failed', error: 'ConfigError: Invalid configuration of the function, so nothing was done: IMDS_UPGRADE_MODE must be one of "REPORT_ONLY", "UPGRADE"; got "x"',
    });
  });

  test('an Update\'s event log has its physical id and old properties', async () => {
    const event = cfnEvent(updateEvent(endpoint, { Mode: 'UPGRADE' }, { Mode: 'REPORT_ONLY' }, PHYSICAL_ID));
    await answer(event);
    expect(parsed()[0]).toMatchObject({ message: 'event', PhysicalResourceId: PHYSICAL_ID, OldResourceProperties: { Mode: 'REPORT_ONLY' }, ResourceProperties: { Mode: 'UPGRADE' } });
  });

  test('an answer that cannot be delivered is logged and the handler still returns', async () => {
    endpoint.failNext(100);
    try {
      await expect(handler(del(), context())).resolves.toBeUndefined();
      expect(logs.join('\n')).toMatch(/"message":"giving up on answering CloudFormation","error":"could not answer CloudFormation after 5 attempts: HTTP 5\d\d"/);
    } finally {
      endpoint.failNext(0);
    }
  });

  test('an invalid configuration fails Create (marker id) and Update (own id), naming the variable and value, and calls nothing', async () => {
    configure({ MODE: 'upgrade', MAX_PER_RUN: '0' });
    const event = create();
    const failed = await answer(event);
    expect(failed).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: `${CREATE_FAILED_PREFIX}${event.RequestId}`,
      Reason: 'ConfigError: Invalid configuration of the function, so nothing was done: IMDS_UPGRADE_MODE must be one of "REPORT_ONLY", "UPGRADE"; got "upgrade"; IMDS_UPGRADE_MAX_PER_RUN must be an integer from 1 to 1000; got "0"',
    });
    const updated = await answer(update());
    expect(updated).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
  });

  test('a run that cannot list the instances fails (after the IAM wait), reports without metrics, and its Delete is a no-op', async () => {
    ec2.on(DescribeInstancesCommand).rejects(serviceError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    const event = create();
    const failed = await answer(event);
    expect(failed).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: `${CREATE_FAILED_PREFIX}${event.RequestId}`,
      Reason: 'The instances allowing IMDSv1 could not be listed, so nothing was changed: UnauthorizedOperation: You are not authorized to perform this operation.',
    });
    expect(describeCalls().listing).toHaveLength(IAM_PROPAGATION_ATTEMPTS);
    const s = summary();
    expect(s.error).toBe(failed.Reason);
    expect(s.metricsPut).toBe(false);
    expect(s.counts.Candidates).toBe(0);
    expect(cw.calls()).toHaveLength(0);

    ec2.resetHistory();
    const deleted = await answer(del(failed.PhysicalResourceId));
    expect(deleted).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: failed.PhysicalResourceId });
    expect(ec2.calls()).toHaveLength(0);
  });

  test('an unknown RequestType is not confirmed: FAILED with the fixed reason, nothing called', async () => {
    const answered = await answer({ ...create(), RequestType: 'Replace' } as never);
    expect(answered).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
    expect(ec2.calls()).toHaveLength(0);
  });

  describe('only CloudFormation\'s events act', () => {
    const key = `${STACK_ID}|ImdsDefaults`;
    beforeEach(() => {
      view.confirmEvents = false;
    });

    test.each([
      ['Create', () => create(), { type: RESOURCE_TYPE, status: 'CREATE_COMPLETE' }, 'the resource is CREATE_COMPLETE, not CREATE_IN_PROGRESS'],
      ['Update', () => update(), { type: 'Custom::ImdsAccountDefaults', status: 'UPDATE_IN_PROGRESS', physicalId: PHYSICAL_ID }, 'the resource is of type Custom::ImdsAccountDefaults, not Custom::ImdsInstanceUpgrade'],
      ['Update', () => update(), { type: RESOURCE_TYPE, status: 'UPDATE_IN_PROGRESS', physicalId: 'other' }, 'the PhysicalResourceId is not the resource\'s'],
    ])('a %s CloudFormation did not send runs nothing, and is reported', async (_type, event, resource, mismatch) => {
      view.resources.set(key, resource);
      configure({ MODE: 'UPGRADE' });
      const answered = await answer(event());
      expect(answered).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
      expect(answered.Data).toBeUndefined();
      expect(ec2.calls()).toHaveLength(0);
      expect(parsed()).toContainEqual(expect.objectContaining({ message: 'security warning', warning: 'unconfirmed-event', mismatch }));
      expect(metricValues()).toEqual({ UnconfirmedEvents: 1 });
      expect(fleet.every((i) => i.httpTokens !== 'required' || i.id === 'i-required')).toBe(true);
    });

    test('the confirmation asks CloudFormation for this resource, and never for the stack\'s status', async () => {
      view.confirmEvents = true;
      await answer(create());
      expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: 'ImdsDefaults' });
      expect(cfn.calls()).toHaveLength(1);
    });
  });

  test('a run that outlives the budget is answered FAILED once, at the budget\'s end, with what that means', async () => {
    const deadlineReached = () => logs.some((line) => line.includes('"message":"deadline reached"'));
    const f = fakes(fleet);
    ec2.on(DescribeInstancesCommand).callsFake(async (input) => {
      while (!deadlineReached()) await new Promise((resolve) => setImmediate(resolve));
      return f.describeInstances(input);
    });
    const event = create();
    const answered = await answer(event, RESPONSE_RESERVE_MS + 2_400);
    expect(answered).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: `${CREATE_FAILED_PREFIX}${event.RequestId}`,
      Reason: 'Create did not finish within 2 s (the function\'s timeout less 5 s to answer); instances modified so far stay upgraded: see the function\'s log',
    });
    // The signal fired: nothing after the listing was attempted.
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(0);
    expect(summary().counts).toMatchObject({ Candidates: 7, Failed: 6, Upgraded: 0 });
    expect(summary().instances.failed[0]).toEqual({ instanceId: 'i-safe', action: 'GetMetricData', code: 'DeadlineReached' });
  });

  test('the event is logged without its ResponseURL, and no log line ever carries it', async () => {
    endpoint.failNext(1);
    const event = create();
    await answer(event);
    configure({ MODE: 'nope' });
    await answer(create());
    await answer(del());
    expect(parsed()[0]).toEqual({
      message: 'event', RequestType: 'Create', RequestId: event.RequestId, StackId: STACK_ID, LogicalResourceId: event.LogicalResourceId, ResourceProperties: event.ResourceProperties,
    });
    expect(logs.join('\n')).toContain('did not go through');
    expect(endpoint.signatures.length).toBeGreaterThanOrEqual(3);
    for (const line of logs) {
      for (const signature of endpoint.signatures) expect(line).not.toContain(signature);
      expect(line).not.toContain('127.0.0.1');
    }
  });
});

describe('other invocations', () => {
  test('the schedule of another account or Region, another source or detail type, or a function ARN that names none: ignored', async () => {
    const ignoredEvents: [unknown, Context][] = [
      [scheduledEvent({ account: '210987654321' }), context()],
      [scheduledEvent({ region: 'us-east-1' }), context()],
      [scheduledEvent({ source: 'aws.ec2' }), context()],
      [scheduledEvent({ 'detail-type': 'Object Created' }), context()],
      [scheduledEvent(), { ...context(), invokedFunctionArn: undefined } as unknown as Context],
      [scheduledEvent(), { ...context(), invokedFunctionArn: 'arn:aws:lambda:::function:x' } as unknown as Context],
    ];
    for (const [event, ctx] of ignoredEvents) {
      await expect(handler(event, ctx)).resolves.toBeUndefined();
    }
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
    expect(parsed().map((l) => l.message)).toEqual(Array(ignoredEvents.length).fill('ignored: neither a CloudFormation custom resource event nor the schedule of this account and Region'));
    expect(parsed()[0]).toEqual({
      message: 'ignored: neither a CloudFormation custom resource event nor the schedule of this account and Region',
      keys: ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'],
      source: 'aws.events',
      detailType: 'Scheduled Event',
      account: '210987654321',
      region: REGION,
    });
  });

  test('malformed and foreign events (a CloudFormation-like one without StackId included) are ignored: never acted on, never answered', async () => {
    const { RequestId, ResponseURL } = create() as CloudFormationCustomResourceEvent & { ResponseURL: string };
    const almost = { ...create(), RequestId, ResponseURL, StackId: undefined };
    const foreign: unknown[] = [null, 'text', 42, [], {}, { Records: [{ eventSource: 'aws:s3' }] }, almost, { ...create(), LogicalResourceId: 7 }];
    for (const event of foreign) {
      await expect(handler(event, context())).resolves.toBeUndefined();
    }
    expect(endpoint.answersFor(RequestId)).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
    const lines = parsed();
    expect(lines.map((l) => l.type ?? l.keys)).toEqual([
      'null', 'string', 'number', [], [], ['Records'],
      ['ServiceToken', 'ResponseURL', 'StackId', 'RequestId', 'LogicalResourceId', 'ResourceType', 'RequestType', 'ResourceProperties'],
      ['ServiceToken', 'ResponseURL', 'StackId', 'RequestId', 'LogicalResourceId', 'ResourceType', 'RequestType', 'ResourceProperties'],
    ]);
    expect(logs.join('\n')).not.toContain(ResponseURL);
    expect(logs.join('\n')).not.toContain('127.0.0.1');
  });

  test('long routing fields are cut to 100 characters in the log; other types are left out', async () => {
    await handler({ 'source': 'x'.repeat(300), 'detail-type': 5 }, context());
    expect(parsed()[0]).toEqual({ message: expect.stringMatching(/^ignored/), keys: ['source', 'detail-type'], source: 'x'.repeat(100) });
  });

  test('the keys of an ignored event are listed up to 20', async () => {
    await handler(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])), context());
    expect(parsed()[0].keys).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`));
  });

  test('a schedule with an invalid configuration logs it, does nothing, and fails the invocation', async () => {
    configure({ LOOKBACK_SECONDS: '60' });
    await expect(handler(scheduledEvent(), context())).rejects.toThrow(/IMDS_UPGRADE_LOOKBACK_SECONDS must be an integer from 3600 to 39312000 \(seconds\); got "60"/);
    expect(ec2.calls()).toHaveLength(0);
    expect(parsed().map((l) => l.message)).toEqual(['scheduled run', 'the run did not complete']);
    expect(parsed()[1]).toEqual({
      message: 'the run did not complete',
      error: 'ConfigError: Invalid configuration of the function, so nothing was done: IMDS_UPGRADE_LOOKBACK_SECONDS must be an integer from 3600 to 39312000 (seconds); got "60"',
    });
    expect(parsed()[0]).toEqual({ message: 'scheduled run', id: 'd1b4c5e6-0000-4000-8000-000000000001', time: '2026-11-27T06:00:00Z' });
  });

  test('a scheduled run that cannot list the instances reports it and fails the invocation', async () => {
    ec2.on(DescribeInstancesCommand).rejects(serviceError('InternalError', 'boom', 500));
    await expect(handler(scheduledEvent(), context())).rejects.toThrow('The instances allowing IMDSv1 could not be listed, so nothing was changed: InternalError: boom');
    expect(summary().error).toBe('The instances allowing IMDSv1 could not be listed, so nothing was changed: InternalError: boom');
  });
});

describe('evidence: the running time the zero datapoints cover (minimumObservedSeconds)', () => {
  const hours = (n: number, value = 0) => Array<number>(n).fill(value);

  test('the default, 7 days: 168 hours of zeros are enough, 167 are not (reported with the hours observed), whatever upgradeWithoutMetrics', async () => {
    fleet.splice(0, fleet.length,
      instance('i-week', { usage: hours(168) }),
      instance('i-almost', { usage: hours(167) }),
      instance('i-single', { usage: [0] }),
      instance('i-used', { usage: [...hours(200), 1] }),
      instance('i-none'));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MIN_OBSERVED_SECONDS: undefined, WITHOUT_METRICS: 'true' });
    const s = await runSchedule();
    expect(s.config.minimumObservedSeconds).toBe(7 * 86_400);
    // The instance without any datapoint is upgradeWithoutMetrics' business; too little data never is.
    expect(modifiedIds()).toEqual(['i-week', 'i-none']);
    expect(s.instances.tooLittleData).toEqual([{ instanceId: 'i-almost', hoursObserved: 167 }, { instanceId: 'i-single', hoursObserved: 1 }]);
    expect(s.instances.inUse).toEqual(['i-used']);
    expect(s.counts).toMatchObject({ Candidates: 5, Eligible: 2, Upgraded: 2, TooLittleData: 2, InUse: 1, Unknown: 0 });
    expect(metricValues()).toMatchObject({ InstancesWithTooLittleData: 2 });
  });

  test('a configured minimum: exactly that many hours is enough', async () => {
    fleet.splice(0, fleet.length, instance('i-a', { usage: hours(24) }), instance('i-b', { usage: hours(23) }));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MIN_OBSERVED_SECONDS: String(24 * 3600) });
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-a']);
    expect(s.instances.tooLittleData).toEqual([{ instanceId: 'i-b', hoursObserved: 23 }]);
  });

  test('REPORT_ONLY reports too little data the same way', async () => {
    fleet.splice(0, fleet.length, instance('i-b', { usage: hours(5) }));
    emulate(fleet);
    configure({ MODE: 'REPORT_ONLY', MIN_OBSERVED_SECONDS: String(6 * 3600) });
    const s = await runSchedule();
    expect(s.counts).toMatchObject({ TooLittleData: 1, Eligible: 0, NotAttempted: 0 });
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
  });

  test('instances a call: as many as fit 100,800 hourly datapoints (one hour more for the alignment), at most 500', () => {
    expect(queriesPerCall(14 * 86_400)).toBe(299);
    expect(queriesPerCall(200 * 3600)).toBe(500);
    expect(queriesPerCall(201 * 3600)).toBe(499);
    expect(queriesPerCall(202 * 3600)).toBe(496);
    expect(queriesPerCall(455 * 86_400)).toBe(9);
    expect(queriesPerCall(3600)).toBe(500);
    expect(queriesPerCall(1_000_000 * 3600)).toBe(1);
  });

  test('the default 14-day window: batches of 299', async () => {
    fleet.splice(0, fleet.length, ...instances(600, 'w'));
    emulate(fleet);
    configure({ MODE: 'REPORT_ONLY' });
    await runSchedule();
    expect(cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries!.length)).toEqual([299, 299, 2]);
  });
});

describe('scope: the inclusion tag key', () => {
  test('lists with the tag-key filter and considers only instances carrying the key, whatever its value; the exclusion tag still wins', async () => {
    fleet.splice(0, fleet.length,
      instance('i-in', { usage: [0], tags: { 'imds-upgrade': '' } }),
      instance('i-in-excluded', { usage: [0], tags: { 'imds-upgrade': 'yes', 'imds-keep-v1': '' } }),
      instance('i-out', { usage: [0], tags: { Name: 'imds-upgrade' } }));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', INCLUSION_TAG_KEY: 'imds-upgrade' });
    const s = await runSchedule();
    expect(describeCalls().listing[0].Filters).toEqual([
      { Name: 'metadata-options.http-tokens', Values: ['optional'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      { Name: 'tag-key', Values: ['imds-upgrade'] },
    ]);
    expect(modifiedIds()).toEqual(['i-in']);
    expect(s.counts).toMatchObject({ Candidates: 2, Excluded: 1, Upgraded: 1 });
    expect(s.config.inclusionTagKey).toBe('imds-upgrade');
  });

  test('an instance EC2 listed without the key (a filter it ignored) is still left out', async () => {
    fleet.splice(0, fleet.length, instance('i-in', { usage: [0], tags: { 'imds-upgrade': '' } }), instance('i-out', { usage: [0] }));
    emulate(fleet);
    const f = fakes(fleet);
    ec2.on(DescribeInstancesCommand).callsFake((input) => f.describeInstances({ ...input, Filters: input.Filters?.filter((x) => x.Name !== 'tag-key') }));
    configure({ MODE: 'UPGRADE', INCLUSION_TAG_KEY: 'imds-upgrade' });
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-in']);
    expect(s.counts).toMatchObject({ Candidates: 1 });
  });
});

describe('the cap per interval: records, the interval claim, deploy-time runs', () => {
  const HOUR = 3_600_000;
  const UPGRADED_AT = 'cdk-imds-account-defaults:upgraded-at';
  const recordedInstance = (id: string, hoursAgo: number, fields: Partial<FakeInstance> = {}) =>
    instance(id, { httpTokens: 'required', usage: [], tags: { [UPGRADED_AT]: new Date(Date.now() - hoursAgo * HOUR).toISOString() }, ...fields });
  const claimNames = () => [...parameters.keys()];
  const intervalIndex = (seconds: number) => Math.floor(Date.now() / 1000 / seconds);

  test('each switch is recorded on the instance (upgraded-at, an ISO time) before it is made, after its interval was claimed', async () => {
    const before = Date.now();
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-safe', 'i-stopped', 'i-pending']);
    for (const id of ['i-safe', 'i-stopped', 'i-pending']) {
      const value = byId(id).tags[UPGRADED_AT];
      expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.parse(value)).toBeGreaterThanOrEqual(before);
    }
    expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input.Resources)).toEqual([['i-safe', 'i-stopped', 'i-pending']]);
    expect(ec2.commandCalls(CreateTagsCommand)[0].args[0].input.Tags).toEqual([{ Key: UPGRADED_AT, Value: expect.any(String) }]);
    // The record comes first: the next run counts the switch even if this one dies right after it.
    const order = ec2.calls().map((c) => c.args[0].constructor.name).filter((n) => n !== 'DescribeInstancesCommand');
    expect(order).toEqual(['CreateTagsCommand', 'ModifyInstanceMetadataOptionsCommand', 'ModifyInstanceMetadataOptionsCommand', 'ModifyInstanceMetadataOptionsCommand']);
    expect(claimNames()).toEqual([`/cdk-imds-account-defaults/instance-upgrade/switch-claims/${intervalIndex(86_400) * 86_400}`]);
    expect(JSON.parse(parameters.values().next().value!)).toMatchObject({ until: expect.any(Number), claimedAt: expect.any(String) });
    expect(s.switchedThisInterval).toBe(0);
  });

  test('switches recorded within the last interval count against the cap; older ones do not', async () => {
    fleet.push(recordedInstance('i-rec1', 1), recordedInstance('i-rec2', 23), recordedInstance('i-old', 25));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '3' });
    const s = await runSchedule();
    expect(s.switchedThisInterval).toBe(2);
    expect(modifiedIds()).toEqual(['i-safe']);
    expect(s.stoppedEarly).toBe('maxUpgradesPerInterval');
    expect(s.instances.notAttempted).toEqual(['i-stopped', 'i-pending']);
    expect(describeCalls().records).toHaveLength(1);
  });

  test('a shorter interval counts only its own span', async () => {
    fleet.push(recordedInstance('i-rec1', 0.5), recordedInstance('i-rec2', 2));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '2', INTERVAL_SECONDS: '3600' });
    const s = await runSchedule();
    expect(s.switchedThisInterval).toBe(1);
    expect(modifiedIds()).toEqual(['i-safe']);
  });

  test('the cap already reached: nothing is claimed, nothing switched', async () => {
    fleet.push(recordedInstance('i-rec1', 1), recordedInstance('i-rec2', 2));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '2' });
    const s = await runSchedule();
    expect(s.stoppedEarly).toBe('maxUpgradesPerInterval');
    expect(modifiedIds()).toEqual([]);
    expect(ssm.calls()).toHaveLength(0);
    expect(s.counts).toMatchObject({ Eligible: 3, NotAttempted: 3, Upgraded: 0 });
  });

  test('an interval claimed by another run: nothing switched (overlapping runs, a direct invoke)', async () => {
    parameters.set(`/cdk-imds-account-defaults/instance-upgrade/switch-claims/${intervalIndex(86_400) * 86_400}`, '{"until":1}');
    const s = await runSchedule();
    expect(s.stoppedEarly).toBe('intervalClaimed');
    expect(modifiedIds()).toEqual([]);
    expect(s.counts).toMatchObject({ NotAttempted: 3 });
  });

  test('two runs at once: only one switches', async () => {
    await Promise.all([handler(scheduledEvent(), context()), handler(scheduledEvent(), context())]);
    const summaries = parsed().filter((l) => l.message === SUMMARY_MESSAGE);
    expect(summaries.map((x) => x.counts.Upgraded).sort()).toEqual([0, 3]);
    expect(summaries.map((x) => x.stoppedEarly ?? 'none').sort()).toEqual(['intervalClaimed', 'none']);
    expect(modifiedIds()).toHaveLength(3);
  });

  test('the previous interval\'s run may still be switching: nothing switched; once it ended, the claim goes ahead and the one two intervals back is deleted', async () => {
    const i = intervalIndex(86_400);
    const name = (n: number) => `/cdk-imds-account-defaults/instance-upgrade/switch-claims/${n * 86_400}`;
    parameters.set(name(i - 1), JSON.stringify({ until: Date.now() + 60_000 }));
    let s = await runSchedule();
    expect(s.stoppedEarly).toBe('previousRunActive');
    expect(modifiedIds()).toEqual([]);

    emulate(fleet);
    logs.length = 0;
    parameters.set(name(i - 1), 'not json');
    s = await runSchedule();
    expect(s.stoppedEarly).toBe('previousRunActive');

    emulate(fleet);
    logs.length = 0;
    parameters.set(name(i - 1), JSON.stringify({ until: Date.now() - 1 }));
    parameters.set(name(i - 2), JSON.stringify({ until: 0 }));
    s = await runSchedule();
    expect(s.stoppedEarly).toBeUndefined();
    expect(modifiedIds()).toHaveLength(3);
    expect([...parameters.keys()].sort()).toEqual([name(i - 1), name(i)].sort());
  });

  test('Parameter Store failing: claimFailed, nothing switched; a failed delete of an old claim is only logged', async () => {
    ssm.on(GetParameterCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    let s = await runSchedule();
    expect(s.stoppedEarly).toBe('claimFailed');
    expect(modifiedIds()).toEqual([]);

    emulate(fleet);
    logs.length = 0;
    ssm.on(DeleteParameterCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    s = await runSchedule();
    expect(s.stoppedEarly).toBeUndefined();
    expect(parsed().some((l) => l.message === 'an old claim could not be deleted')).toBe(true);
  });

  test('switches that cannot be recorded are not made (the next run could not count them)', async () => {
    ec2.on(CreateTagsCommand).rejects(serviceError('InvalidParameterValue', 'no'));
    const s = await runSchedule();
    expect(modifiedIds()).toEqual([]);
    expect(s.stoppedEarly).toBe('recordFailed');
    expect(s.instances.watchFailed).toEqual([{ instanceId: 'i-safe', action: 'CreateTags', code: 'InvalidParameterValue' }]);
    expect(s.counts).toMatchObject({ Upgraded: 0, NotAttempted: 3 });
  });

  test('records are written RECORD_BATCH at a time, never beyond the allowance; a later batch that fails stops the switching there', async () => {
    expect(RECORD_BATCH).toBe(100);
    fleet.splice(0, fleet.length, ...instances(260, 'r', { usage: [0] }));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '250' });
    let s = await runSchedule();
    expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input.Resources!.length)).toEqual([100, 100, 50]);
    expect(s.counts).toMatchObject({ Upgraded: 250, NotAttempted: 10 });

    fleet.splice(0, fleet.length, ...instances(260, 's', { usage: [0] }));
    emulate(fleet);
    ec2.on(CreateTagsCommand).callsFakeOnce(fakes(fleet).createTags).rejects(serviceError('RequestLimitExceeded', 'slow down'));
    logs.length = 0;
    s = await runSchedule();
    expect(s.counts).toMatchObject({ Upgraded: 100, NotAttempted: 160 });
    expect(s.stoppedEarly).toBe('recordFailed');
  });

  test('records that cannot be listed: no switch in this run, the rest is reported', async () => {
    const f = fakes(fleet);
    ec2.on(DescribeInstancesCommand).callsFake((input) => {
      if (input.Filters?.some((x) => x.Name === 'tag-key')) throw serviceError('InternalError', 'no', 500);
      return f.describeInstances(input);
    });
    const s = await runSchedule();
    expect(s.stoppedEarly).toBe('recordsUnreadable');
    expect(modifiedIds()).toEqual([]);
    expect(s.counts).toMatchObject({ Eligible: 3, NotAttempted: 3 });
    expect(s.instances.watchFailed).toEqual([{ instanceId: '*', action: 'DescribeInstances', code: 'InternalError' }]);
  });

  test('an instance this function put back (restored-at) is left alone, as excluded', async () => {
    byId('i-safe').tags['cdk-imds-account-defaults:restored-at'] = new Date().toISOString();
    const s = await runSchedule();
    expect(modifiedIds()).toEqual(['i-stopped', 'i-pending']);
    expect(s.instances.excluded).toEqual(['i-safe', 'i-excluded']);
  });

  test('Update in UPGRADE only reports too', async () => {
    const answered = await answer(update());
    expect(answered.Data).toMatchObject({ Upgraded: '0', Eligible: '3' });
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
  });
});

describe('watch after acting: MetadataNoTokenRejected of the recorded instances, and the put-back', () => {
  const HOUR = 3_600_000;
  const UPGRADED_AT = 'cdk-imds-account-defaults:upgraded-at';
  /** Switched `hoursAgo`, used IMDSv1 (zeros) 3 days before, refusing `rejected` calls an hour ago. */
  const switched = (id: string, rejected: number[], fields: Partial<FakeInstance> = {}) => {
    const now = Date.now();
    return instance(id, {
      httpTokens: 'required',
      usage: [0, 0],
      usageTimes: [now - 72 * HOUR, now - 71 * HOUR],
      rejected,
      rejectedTimes: rejected.map(() => now - HOUR),
      tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString() },
      ...fields,
    });
  };
  const optionalCalls = () => ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).filter((c) => c.args[0].input.HttpTokens === 'optional').map((c) => c.args[0].input);

  beforeEach(() => {
    fleet.splice(0, fleet.length);
  });

  test('REPORT (the default): each instance with refused calls since its switch gets a log line and is counted; nothing is changed', async () => {
    fleet.push(switched('i-broken', [0, 4]), switched('i-fine', [0, 0]), switched('i-quiet', []));
    emulate(fleet);
    const s = await runSchedule();
    expect(s.instances.rejected).toEqual([{ instanceId: 'i-broken', upgradedAt: byId('i-broken').tags[UPGRADED_AT], rejectedCalls: 4, action: 'reported' }]);
    expect(parsed()).toContainEqual({ message: REJECTED_MESSAGE, instanceId: 'i-broken', upgradedAt: byId('i-broken').tags[UPGRADED_AT], rejectedCalls: 4 });
    expect(metricValues()).toMatchObject({ InstancesWithRejectedImdsv1Calls: 1, InstancesRestoredToOptional: 0 });
    expect(optionalCalls()).toEqual([]);
    const queried = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries![0].MetricStat!.Metric!.MetricName);
    expect(queried).toEqual(['MetadataNoTokenRejected']);
  });

  test('refused calls before the hour of the recorded switch are not the switch\'s', async () => {
    const now = Date.now();
    fleet.push(switched('i-a', [5], { rejectedTimes: [now - 5 * HOUR] }));
    emulate(fleet);
    const s = await runSchedule();
    expect(s.instances.rejected).toEqual([]);
  });

  test('RESTORE_OPTIONAL: put back to optional when EC2 and CloudWatch confirm the record, and recorded (restored-at)', async () => {
    fleet.push(switched('i-broken', [3]));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    const s = await runSchedule();
    expect(optionalCalls()).toEqual([{ InstanceId: 'i-broken', HttpTokens: 'optional' }]);
    expect(byId('i-broken').httpTokens).toBe('optional');
    expect(Date.parse(byId('i-broken').tags['cdk-imds-account-defaults:restored-at'])).toBeGreaterThan(Date.now() - 60_000);
    expect(s.instances.restored).toEqual(['i-broken']);
    expect(metricValues()).toMatchObject({ InstancesWithRejectedImdsv1Calls: 1, InstancesRestoredToOptional: 1 });
  });

  test('RESTORE_OPTIONAL never acts on the tag alone: no MetadataNoToken before the record, already optional, restored or refused before', async () => {
    const now = Date.now();
    fleet.push(
      switched('i-forged', [3], { usage: [], usageTimes: [] }),
      switched('i-after-only', [3], { usageTimes: [now - HOUR, now - HOUR] }),
      switched('i-optional', [3], { httpTokens: 'optional' }),
      switched('i-refused', [3]),
      switched('i-restored', [3]),
    );
    byId('i-refused').tags['cdk-imds-account-defaults:restore-refused-at'] = new Date(now - HOUR).toISOString();
    byId('i-restored').tags['cdk-imds-account-defaults:restored-at'] = new Date(now - HOUR).toISOString();
    emulate(fleet);
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    const s = await runSchedule();
    expect(optionalCalls()).toEqual([]);
    expect(s.instances.restoreSkipped).toEqual([
      { instanceId: 'i-forged', reason: 'noImdsv1BeforeRecord' },
      { instanceId: 'i-after-only', reason: 'noImdsv1BeforeRecord' },
      { instanceId: 'i-optional', reason: 'notRequired' },
      { instanceId: 'i-refused', reason: 'refusedBefore' },
      { instanceId: 'i-restored', reason: 'restoredBefore' },
    ]);
    expect(s.counts.RejectedCalls).toBe(5);
  });

  test('RESTORE_OPTIONAL under enforcement: EC2 refuses (UnsupportedOperation), recorded and reported, never tried again', async () => {
    fleet.push(switched('i-broken', [3]));
    emulate(fleet);
    enforced.on = true;
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    let s = await runSchedule();
    expect(s.instances.restoreRefused).toEqual(['i-broken']);
    expect(byId('i-broken').httpTokens).toBe('required');
    expect(byId('i-broken').tags['cdk-imds-account-defaults:restore-refused-at']).toBeDefined();
    expect(metricValues()).toMatchObject({ InstancesRestoreRefused: 1 });
    expect(optionalCalls()).toHaveLength(1);

    // The next run: reported again, not tried again.
    const keep = byId('i-broken').tags;
    emulate(fleet);
    enforced.on = true;
    logs.length = 0;
    expect(byId('i-broken').tags).toBe(keep);
    s = await runSchedule();
    expect(optionalCalls()).toHaveLength(0);
    expect(s.instances.restoreSkipped).toEqual([{ instanceId: 'i-broken', reason: 'refusedBefore' }]);
    expect(s.counts).toMatchObject({ RejectedCalls: 1, RestoreRefused: 0 });
  });

  test('RESTORE_OPTIONAL: another error is reported and left to the next run; a record that cannot be written is reported', async () => {
    fleet.push(switched('i-a', [3]), switched('i-b', [3]));
    emulate(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-a' }).rejects(serviceError('IncorrectInstanceState'));
    ec2.on(CreateTagsCommand).rejects(serviceError('RequestLimitExceeded'));
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    const s = await runSchedule();
    expect(s.instances.watchFailed).toEqual([
      { instanceId: 'i-a', action: 'RestoreOptional', code: 'IncorrectInstanceState' },
      { instanceId: 'i-b', action: 'CreateTags', code: 'RequestLimitExceeded' },
    ]);
    expect(s.instances.restored).toEqual(['i-b']);
  });

  test('RESTORE_OPTIONAL changes nothing in REPORT_ONLY, nor on deploy', async () => {
    fleet.push(switched('i-broken', [3]));
    emulate(fleet);
    configure({ MODE: 'REPORT_ONLY', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    let s = await runSchedule();
    expect(s.instances.rejected).toHaveLength(1);
    expect(optionalCalls()).toEqual([]);
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    logs.length = 0;
    await answer(update());
    s = summary();
    expect(s.instances.rejected).toHaveLength(1);
    expect(optionalCalls()).toEqual([]);
  });

  test('records that are not times this function writes, or lie in the future, are reported and not trusted; records older than the window are not read', async () => {
    const now = Date.now();
    fleet.push(
      switched('i-bad', [3], { tags: { [UPGRADED_AT]: 'yesterday' } }),
      switched('i-future', [3], { tags: { [UPGRADED_AT]: new Date(now + HOUR).toISOString() } }),
      switched('i-old', [3], { tags: { [UPGRADED_AT]: new Date(now - 15 * 24 * HOUR).toISOString() } }),
    );
    emulate(fleet);
    const s = await runSchedule();
    expect(s.instances.recordProblems).toEqual([{ instanceId: 'i-bad', value: 'yesterday' }, { instanceId: 'i-future', value: byId('i-future').tags[UPGRADED_AT] }]);
    expect(s.instances.rejected).toEqual([]);
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });

  test('a MetadataNoTokenRejected read that fails is reported per instance', async () => {
    fleet.push(switched('i-a', [3]));
    emulate(fleet);
    cw.on(GetMetricDataCommand).rejects(serviceError('InvalidParameterValue', 'no'));
    const s = await runSchedule();
    expect(s.instances.watchFailed).toEqual([{ instanceId: 'i-a', action: 'GetMetricData', code: 'InvalidParameterValue' }]);
  });
});

describe('records', () => {
  test.each([
    ['2026-11-27T06:00:00Z', Date.parse('2026-11-27T06:00:00Z')],
    ['2026-11-27T06:00:00.123Z', Date.parse('2026-11-27T06:00:00.123Z')],
    ['2026-11-27T06:00:00+01:00', undefined],
    ['2026-11-27', undefined],
    ['2026-13-45T06:00:00Z', undefined],
    [' 2026-11-27T06:00:00Z', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('parseRecordTime(%p)', (value, expected) => {
    expect(parseRecordTime(value, Date.parse('2026-12-01T00:00:00Z'))).toBe(expected);
  });

  test('a time within FUTURE_SKEW_MS ahead is believed, later ones not', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(parseRecordTime(new Date(now + FUTURE_SKEW_MS).toISOString(), now)).toBe(now + FUTURE_SKEW_MS);
    expect(parseRecordTime(new Date(now + FUTURE_SKEW_MS + 1000).toISOString(), now)).toBeUndefined();
  });
});

describe('Auto Scaling: the groups whose launch path still allows IMDSv1', () => {
  test('each group holding a candidate, or launching instances that allow IMDSv1, is reported with its sources; a group that allows IMDSv1 gets a log line and is counted; nothing is modified', async () => {
    groups.push(
      { AutoScalingGroupName: 'web', LaunchTemplate: { LaunchTemplateId: 'lt-web', Version: '3' }, Instances: [{ InstanceId: 'i-safe' } as never, { InstanceId: 'i-inuse' } as never] } as never,
      { AutoScalingGroupName: 'batch', LaunchTemplate: { LaunchTemplateId: 'lt-batch', Version: '$Default' }, Instances: [{ InstanceId: 'i-stopped' } as never] } as never,
      { AutoScalingGroupName: 'empty-but-v1', LaunchTemplate: { LaunchTemplateId: 'lt-old', Version: '1' }, Instances: [] } as never,
      { AutoScalingGroupName: 'fine', LaunchTemplate: { LaunchTemplateId: 'lt-fine', Version: '1' }, Instances: [{ InstanceId: 'i-required' } as never] } as never,
    );
    templates.set('lt-web:3', 'optional');
    templates.set('lt-batch:$Default', 'required');
    templates.set('lt-old:1', 'optional');
    templates.set('lt-fine:1', 'required');
    const s = await runSchedule();
    expect(s.instances.autoScalingGroups).toEqual([
      { groupName: 'web', imdsv1: 'allowed', sources: ['lt-web:3'], instancesAllowingImdsv1: 2, switchedThisRun: 1 },
      { groupName: 'batch', imdsv1: 'required-tokens', sources: ['lt-batch:$Default'], instancesAllowingImdsv1: 1, switchedThisRun: 1 },
      { groupName: 'empty-but-v1', imdsv1: 'allowed', sources: ['lt-old:1'], instancesAllowingImdsv1: 0, switchedThisRun: 0 },
    ]);
    expect(parsed().filter((l) => l.message === GROUP_MESSAGE).map((l) => l.groupName)).toEqual(['web', 'empty-but-v1']);
    expect(s.counts.GroupsAllowingImdsv1).toBe(2);
    expect(metricValues()).toMatchObject({ AutoScalingGroupsAllowingImdsv1: 2 });
    // Read-only: only Describe calls to Auto Scaling.
    expect(autoScaling.calls().map((c) => c.args[0].constructor.name).every((n) => n.startsWith('Describe'))).toBe(true);
    expect(s.autoScalingGroupsIncomplete).toBeUndefined();
  });

  test('groups that cannot be read: the run says so and goes on', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(serviceError('InternalFailure', 'no', 500));
    const s = await runSchedule();
    expect(s.autoScalingGroupsIncomplete).toEqual(expect.any(String));
    expect(modifiedIds()).toEqual(['i-safe', 'i-stopped', 'i-pending']);
  });

  test('describeSource', () => {
    expect(describeSource({ kind: 'launchTemplate', id: '', name: 'web', version: '$Latest' })).toBe('web:$Latest');
    expect(describeSource({ kind: 'launchConfiguration', name: 'old' })).toBe('lc:old');
    expect(describeSource({ kind: 'none' })).toBe('none');
  });
});

describe('mutation-driven details: the claim, the watch, the records', () => {
  const HOUR = 3_600_000;
  const UPGRADED_AT = 'cdk-imds-account-defaults:upgraded-at';
  const claimOf = (offset: number) => `/cdk-imds-account-defaults/instance-upgrade/switch-claims/${(Math.floor(Date.now() / 86_400_000) + offset) * 86_400}`;
  const messages = () => parsed().map((l) => l.message);
  const denied = () => serviceError('AccessDeniedException', 'not yet', 400);
  const switched = (id: string, rejected: number[], fields: Partial<FakeInstance> = {}) => {
    const now = Date.now();
    return instance(id, {
      httpTokens: 'required',
      usage: [0],
      usageTimes: [now - 72 * HOUR],
      rejected,
      rejectedTimes: rejected.map(() => now - HOUR),
      tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString() },
      ...fields,
    });
  };
  const optionalIds = () => ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).filter((c) => c.args[0].input.HttpTokens === 'optional').map((c) => c.args[0].input.InstanceId);

  test('the claim: what is put, and the log line of each outcome', async () => {
    await runSchedule();
    const put = ssm.commandCalls(PutParameterCommand)[0].args[0].input;
    expect(put).toEqual({ Name: claimOf(0), Value: expect.any(String), Type: 'String', Overwrite: false, Description: expect.stringMatching(/ImdsInstanceUpgrade/) });
    expect(JSON.parse(put.Value!)).toEqual({ until: expect.any(Number), claimedAt: expect.stringMatching(/Z$/) });
    expect(ssm.commandCalls(GetParameterCommand)[0].args[0].input).toEqual({ Name: claimOf(-1) });
    expect(ssm.commandCalls(DeleteParameterCommand)[0].args[0].input).toEqual({ Name: claimOf(-2) });
    expect(messages()).not.toContain('an old claim could not be deleted');

    const fresh = () => {
      fleet = standardFleet();
      emulate(fleet);
      logs.length = 0;
    };
    for (const [value, outcome] of [['{"until":"9999999999999"}', 'previousRunActive'], ['{}', 'previousRunActive'], ['{"until":1e400}', 'previousRunActive'], ['{"until":0}', undefined]] as const) {
      fresh();
      logs.length = 0;
      parameters.set(claimOf(-1), value);
      const s = await runSchedule();
      expect({ value, stoppedEarly: s.stoppedEarly }).toEqual({ value, stoppedEarly: outcome });
    }

    fresh();
    parameters.set(claimOf(-1), JSON.stringify({ until: Date.now() + 60_000 }));
    await runSchedule();
    expect(parsed()).toContainEqual({ message: 'no switch: the previous interval\'s run may still be switching', claim: claimOf(-1), until: expect.any(Number) });

    fresh();
    parameters.set(claimOf(0), '{}');
    await runSchedule();
    expect(parsed()).toContainEqual({ message: 'no switch: another run claimed this interval first', claim: claimOf(0) });

    fresh();
    ssm.on(PutParameterCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    await runSchedule();
    expect(parsed()).toContainEqual({ message: 'no switch: the interval could not be claimed', error: 'InternalServerError: boom' });

    fresh();
    ssm.on(DeleteParameterCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    await runSchedule();
    expect(parsed()).toContainEqual({ message: 'an old claim could not be deleted', claim: claimOf(-2), error: 'InternalServerError: boom' });
  });

  test('the claim: the first Parameter Store call waits for IAM; a later access-denied answer does not', async () => {
    ssm.on(GetParameterCommand).rejectsOnce(denied()).rejects(serviceError('ParameterNotFound', ''));
    let s = await runSchedule();
    expect(s.stoppedEarly).toBeUndefined();
    expect(messages()).toContain('AccessDeniedException on the first SSM call: waiting for the role\'s policy to propagate');

    fleet = standardFleet();
    emulate(fleet);
    logs.length = 0;
    ssm.on(PutParameterCommand).rejectsOnce(denied());
    s = await runSchedule();
    expect(s.stoppedEarly).toBe('claimFailed');
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(1);
  });

  test('no eligible instance: nothing is claimed; REPORT_ONLY says nothing about a deploy-time run', async () => {
    fleet.splice(0, fleet.length, instance('i-used', { usage: [2] }));
    emulate(fleet);
    let s = await runSchedule();
    expect(ssm.calls()).toHaveLength(0);
    expect(s.stoppedEarly).toBeUndefined();
    configure({ MODE: 'REPORT_ONLY' });
    logs.length = 0;
    await answer(update());
    s = summary();
    expect(s.reportOnly).toBeUndefined();
  });

  test('the watch: logs, the IAM wait only on the first put-back and the first record, the boundaries of the records', async () => {
    const now = Date.now();
    const switchHour = Math.floor((now - 2 * HOUR) / HOUR) * HOUR;
    fleet.splice(0, fleet.length,
      switched('i-a', [3]),
      switched('i-b', [3]),
      switched('i-at-hour', [4], { rejectedTimes: [switchHour] }),
      switched('i-before-hour', [4], { rejectedTimes: [switchHour - 1] }),
      switched('i-usage-at-hour', [5], { usageTimes: [switchHour] }),
      switched('i-old-refusal', [6], { tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString(), 'cdk-imds-account-defaults:restore-refused-at': new Date(now - 3 * HOUR).toISOString() } }),
      switched('i-same-refusal', [6], { tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString(), 'cdk-imds-account-defaults:restore-refused-at': new Date(now - 2 * HOUR).toISOString() } }),
      switched('i-old-restore', [7], { tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString(), 'cdk-imds-account-defaults:restored-at': new Date(now - 3 * HOUR).toISOString() } }),
      switched('i-same-restore', [7], { tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString(), 'cdk-imds-account-defaults:restored-at': new Date(now - 2 * HOUR).toISOString() } }),
    );
    emulate(fleet);
    const f = fakes(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand).callsFake((input) => f.modify(input));
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-a' }).rejectsOnce(serviceError('UnauthorizedOperation', 'not yet', 403)).callsFake((input) => f.modify(input));
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-b' }).rejects(serviceError('UnauthorizedOperation', 'denied', 403));
    ec2.on(CreateTagsCommand).rejectsOnce(serviceError('UnauthorizedOperation', 'not yet', 403)).callsFake((input) => f.createTags(input));
    configure({ MODE: 'REPORT_ONLY', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    const s = await runSchedule();
    expect(s.instances.rejected.map((r: { instanceId: string }) => r.instanceId)).toEqual([
      'i-a', 'i-b', 'i-at-hour', 'i-usage-at-hour', 'i-old-refusal', 'i-same-refusal', 'i-old-restore', 'i-same-restore',
    ]);
    expect(s.instances.restoreSkipped).toEqual([
      { instanceId: 'i-usage-at-hour', reason: 'noImdsv1BeforeRecord' },
      { instanceId: 'i-same-refusal', reason: 'refusedBefore' },
      { instanceId: 'i-same-restore', reason: 'restoredBefore' },
    ]);
    expect(s.instances.restored).toEqual(['i-a', 'i-at-hour', 'i-old-refusal', 'i-old-restore']);
    expect(s.instances.watchFailed).toEqual([{ instanceId: 'i-b', action: 'RestoreOptional', code: 'UnauthorizedOperation' }]);
    expect(optionalIds()).toEqual(['i-a', 'i-a', 'i-b', 'i-at-hour', 'i-old-refusal', 'i-old-restore']);
    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(5);
    expect(parsed()).toContainEqual({ message: 'not put back to optional', instanceId: 'i-same-refusal', reason: 'refusedBefore' });
    expect(parsed()).toContainEqual({ message: 'put back to optional (IMDSv1 allowed again)', instanceId: 'i-a', upgradedAt: byId('i-a').tags[UPGRADED_AT] });
    expect(messages().filter((m) => /on the first EC2 call/.test(m))).toHaveLength(2);
  });

  test('the watch: a refused put-back is logged with its error; REPORT never decides about a put-back; unreadable or missing results', async () => {
    fleet.splice(0, fleet.length, switched('i-a', [3]));
    emulate(fleet);
    enforced.on = true;
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    await runSchedule();
    expect(parsed()).toContainEqual({
      message: 'put-back to optional refused: HttpTokensEnforced is on for the account; not tried again',
      instanceId: 'i-a',
      error: expect.stringMatching(/^UnsupportedOperation: /),
    });

    fleet.splice(0, fleet.length, switched('i-a', [3], { httpTokens: 'optional' }));
    emulate(fleet);
    logs.length = 0;
    configure({ MODE: 'UPGRADE' });
    let s = await runSchedule();
    expect(s.instances.restoreSkipped).toEqual([]);

    // MetadataNoToken unreadable: no put-back (usageUnreadable); a missing MetadataNoTokenRejected result: NoMetricDataResult.
    fleet.splice(0, fleet.length, switched('i-a', [3]));
    emulate(fleet);
    logs.length = 0;
    const f = fakes(fleet);
    cw.on(GetMetricDataCommand).callsFake((input) => {
      if (input.MetricDataQueries![0].MetricStat!.Metric!.MetricName === 'MetadataNoToken') throw serviceError('InternalServiceError', 'no', 500);
      return f.getMetricData(input);
    });
    configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
    s = await runSchedule();
    expect(s.instances.restoreSkipped).toEqual([{ instanceId: 'i-a', reason: 'usageUnreadable' }]);

    emulate(fleet);
    logs.length = 0;
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    s = await runSchedule();
    expect(s.instances.watchFailed).toEqual([{ instanceId: 'i-a', action: 'GetMetricData', code: 'NoMetricDataResult' }]);
  });

  test('the records: long malformed values are cut to 64 characters; two pages are read; answers without optional fields', async () => {
    expect(FUTURE_SKEW_MS).toBe(300_000);
    expect(parseRecordTime('2026-11-27T06:00:00Z ', Date.parse('2026-12-01T00:00:00Z'))).toBeUndefined();
    fleet.splice(0, fleet.length, switched('i-long', [0], { tags: { [UPGRADED_AT]: 'x'.repeat(100) } }));
    emulate(fleet);
    let s = await runSchedule();
    expect(s.instances.recordProblems).toEqual([{ instanceId: 'i-long', value: 'x'.repeat(64) }]);

    fleet.splice(0, fleet.length);
    emulate(fleet);
    logs.length = 0;
    const recordsPage = (found: object[], NextToken?: string) => ({ Reservations: [{ Instances: found }, {}], NextToken });
    ec2.on(DescribeInstancesCommand).callsFake((input) => {
      if (!input.Filters?.some((x) => x.Name === 'tag-key')) return { Reservations: [] };
      return input.NextToken === undefined
        ? recordsPage([{ InstanceId: 'i-p1', State: { Name: 'running' }, MetadataOptions: { HttpTokens: 'required' }, Tags: [{ Key: UPGRADED_AT, Value: new Date().toISOString() }] }, {}], 'next')
        : recordsPage([{ InstanceId: 'i-p2', State: { Name: 'stopped' }, Tags: [{ Key: UPGRADED_AT }] }, { InstanceId: 'i-nostate', Tags: [{ Key: UPGRADED_AT, Value: '' }] }]);
    });
    s = await runSchedule();
    expect(describeCalls().records.map((i) => i.NextToken)).toEqual([undefined, 'next']);
    expect(parsed()).toContainEqual({ message: 'instances with an upgrade record listed', count: 2, pages: 2 });
    expect(s.instances.recordProblems).toEqual([{ instanceId: 'i-p2', value: '' }]);
  });

  test('the records listing: only its first call waits for IAM', async () => {
    const f = fakes(fleet);
    let recordCalls = 0;
    ec2.on(DescribeInstancesCommand).callsFake((input) => {
      if (input.Filters?.some((x) => x.Name === 'tag-key') && recordCalls++ === 0) throw serviceError('UnauthorizedOperation', 'not yet', 403);
      return f.describeInstances(input);
    });
    const s = await runSchedule();
    expect(describeCalls().records).toHaveLength(2);
    expect(s.instances.watchFailed).toEqual([]);
  });

  test('Auto Scaling in a REPORT_ONLY run, and a reason-less incomplete read', async () => {
    configure({ MODE: 'REPORT_ONLY' });
    groups.push({ AutoScalingGroupName: 'web', LaunchTemplate: { LaunchTemplateId: 'lt-web', Version: '1' }, Instances: [{ InstanceId: 'i-safe' } as never] } as never);
    templates.set('lt-web:1', 'optional');
    let s = await runSchedule();
    expect(s.instances.autoScalingGroups).toEqual([{ groupName: 'web', imdsv1: 'allowed', sources: ['lt-web:1'], instancesAllowingImdsv1: 1, switchedThisRun: 0 }]);
    expect(GROUP_MESSAGE).toBe('Auto Scaling group launches instances that allow IMDSv1');
    expect(parsed()).toContainEqual({ message: GROUP_MESSAGE, groupName: 'web', imdsv1: 'allowed', sources: ['lt-web:1'], instancesAllowingImdsv1: 1, switchedThisRun: 0 });

    emulate(fleet);
    logs.length = 0;
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(serviceError('InternalFailure', 'no', 500));
    s = await runSchedule();
    expect(parsed()).toContainEqual({ message: 'the Auto Scaling groups could not all be read', reason: s.autoScalingGroupsIncomplete });
    expect(REJECTED_MESSAGE).toBe('IMDSv1 calls refused since the upgrade');
  });
});

describe('findings as events (shared/events.ts)', () => {
  const HOUR = 3_600_000;
  const UPGRADED_AT = 'cdk-imds-account-defaults:upgraded-at';
  const CENTRAL_BUS = 'arn:aws:events:us-east-1:222222222222:event-bus/imds-central';
  /** What events.ts adds to every detail, for this function. */
  const COMMON = { version: '1', account: ACCOUNT, region: REGION, resource: { function: 'imds-upgrade' } };
  const entries = () => eventBridge.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries!);
  /** The details put, by detail type (the default bus's, when a central bus has the same). */
  const details = (type: string) => entries().filter((e) => e.DetailType === type && e.EventBusName === undefined).map((e) => JSON.parse(e.Detail!));
  const runs = () => details('IMDS Instance Upgrade Run');
  const notPut = () => metricValues().FindingsNotPut;

  afterEach(() => {
    delete process.env.IMDS_EVENT_BUS;
  });

  test('a scheduled run puts one IMDS Instance Upgrade Run to the default bus, with the run\'s numbers, after its summary and metrics', async () => {
    ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-stopped' }).rejects(serviceError('IncorrectInstanceState'));
    let loggedBefore = false;
    eventBridge.on(PutEventsCommand).callsFake((input) => {
      loggedBefore = parsed().some((l) => l.message === SUMMARY_MESSAGE) && cw.commandCalls(PutMetricDataCommand).length === 1;
      return { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'e' })) };
    });
    await runSchedule();
    expect(loggedBefore).toBe(true);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
    const [entry] = entries();
    expect(entry).toEqual({ Source: 'cdk-imds-account-defaults', DetailType: 'IMDS Instance Upgrade Run', Detail: expect.any(String) });
    expect(JSON.parse(entry.Detail!)).toEqual({
      ...COMMON,
      mode: 'UPGRADE',
      trigger: 'schedule',
      expected: { HttpTokens: 'required' },
      // The summary line's counts, as they are.
      counts: {
        Candidates: 7,
        Eligible: 3,
        Upgraded: 2,
        Pending: 0,
        InUse: 2,
        Excluded: 1,
        Unknown: 1,
        Failed: 1,
        NotAttempted: 0,
        TooLittleData: 0,
        ...NO_WATCH_COUNTS,
      },
      failures: [{ instanceId: 'i-stopped', action: 'ModifyInstanceMetadataOptions', code: 'IncorrectInstanceState' }],
      usingImdsv1: ['i-inuse', 'i-stopping'],
    });
    expect(JSON.parse(entry.Detail!).counts).toEqual(summary().counts);
    // Put with a signal (the function's remaining time), and no FindingsNotPut.
    expect(eventBridge.commandCalls(PutEventsCommand)[0].args[1]).toEqual({ abortSignal: expect.any(AbortSignal) });
    expect(notPut()).toBeUndefined();
  });

  test('a deploy-time run (Create, Update) is put after CloudFormation has its answer: trigger deploy, nothing switched, the eligible not attempted', async () => {
    const answeredBefore: number[] = [];
    let event = create();
    eventBridge.on(PutEventsCommand).callsFake((input) => {
      answeredBefore.push(endpoint.answersFor(event.RequestId).length);
      return { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'e' })) };
    });
    expect(await answer(event)).toMatchObject({ Status: 'SUCCESS' });
    event = update();
    expect(await answer(event)).toMatchObject({ Status: 'SUCCESS' });
    expect(answeredBefore).toEqual([1, 1]);
    const expected = {
      ...COMMON,
      // Held while CloudFormation waits, put after the answer with the custom resource (shared/custom-resource.ts).
      resource: { function: 'imds-upgrade', stackId: STACK_ID, logicalResourceId: 'ImdsDefaults' },
      mode: 'UPGRADE',
      trigger: 'deploy',
      expected: { HttpTokens: 'required' },
      counts: expect.objectContaining({ Candidates: 7, Upgraded: 0, InUse: 2, Excluded: 1, NotAttempted: 3 }),
      failures: [],
      usingImdsv1: ['i-inuse', 'i-stopping'],
    };
    expect(runs()).toEqual([expected, expected]);
  });

  test('REPORT_ONLY: the mode says so; a run stopped early says why; a fleet without candidates puts zeros', async () => {
    configure({ MODE: 'REPORT_ONLY' });
    await runSchedule();
    expect(runs()[0]).toMatchObject({ mode: 'REPORT_ONLY', counts: { Upgraded: 0, NotAttempted: 3 } });
    expect(runs()[0].stoppedEarly).toBeUndefined();

    eventBridge.resetHistory();
    logs.length = 0;
    fleet.splice(0, fleet.length, ...instances(10, 'a', { usage: [0] }));
    emulate(fleet);
    configure({ MODE: 'UPGRADE', MAX_PER_RUN: '3' });
    await runSchedule();
    expect(runs()[0]).toMatchObject({ counts: { Candidates: 10, Upgraded: 3, NotAttempted: 7 }, stoppedEarly: 'maxUpgradesPerRun' });

    eventBridge.resetHistory();
    logs.length = 0;
    fleet.splice(0, fleet.length);
    emulate(fleet);
    await runSchedule();
    expect(runs()[0].counts).toEqual(summary().counts);
    expect(Object.values(runs()[0].counts)).toEqual(Array(14).fill(0));
  });

  test('a count the run does not have is left out: no counts when the instances could not be listed (stoppedEarly says why), no group count when the groups could not all be read', async () => {
    ec2.on(DescribeInstancesCommand).rejects(serviceError('InternalError', 'boom', 500));
    await expect(handler(scheduledEvent(), context())).rejects.toThrow('could not be listed');
    expect(runs()).toEqual([{
      ...COMMON,
      mode: 'UPGRADE',
      trigger: 'schedule',
      expected: { HttpTokens: 'required' },
      counts: {},
      failures: [],
      usingImdsv1: [],
      stoppedEarly: 'The instances allowing IMDSv1 could not be listed, so nothing was changed: InternalError: boom',
    }]);

    eventBridge.resetHistory();
    logs.length = 0;
    emulate(fleet);
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(serviceError('InternalFailure', 'no', 500));
    await runSchedule();
    const { GroupsAllowingImdsv1: _, ...known } = summary().counts;
    expect(runs()[0].counts).toEqual(known);
  });

  test('nothing is put for what is not a run: an invalid configuration, a Delete, an ignored event, an event CloudFormation did not send', async () => {
    configure({ MODE: 'SOMETIMES' });
    await expect(handler(scheduledEvent(), context())).rejects.toThrow('Invalid configuration');
    expect(await answer(create())).toMatchObject({ Status: 'FAILED' });
    configure({ MODE: 'UPGRADE' });
    expect(await answer(del())).toMatchObject({ Status: 'SUCCESS' });
    await handler({ 'source': 'aws.events', 'detail-type': 'Scheduled Event', 'account': '999999999999', 'region': REGION }, context());
    view.confirmEvents = false;
    view.resources.set(`${STACK_ID}|ImdsDefaults`, { type: RESOURCE_TYPE, status: 'CREATE_COMPLETE' });
    expect(await answer(create())).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
    expect(entries().filter((e) => e.DetailType !== 'IMDS Security Warning')).toEqual([]);
  });

  test('a central bus (IMDS_EVENT_BUS) gets the same events as the default bus, by its ARN', async () => {
    process.env.IMDS_EVENT_BUS = CENTRAL_BUS;
    await runSchedule();
    const calls = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!);
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.map((e) => [e.DetailType, e.EventBusName]))).toEqual(expect.arrayContaining([
      [['IMDS Instance Upgrade Run', CENTRAL_BUS]],
      [['IMDS Instance Upgrade Run', undefined]],
    ]));
    expect(calls[0][0].Detail).toBe(calls[1][0].Detail);
  });

  describe('IMDS Rejected Calls (the watch)', () => {
    /** Switched two hours ago, used IMDSv1 (zeros) 3 days before, refusing `rejected` calls an hour ago. */
    const switched = (id: string, rejected: number[], fields: Partial<FakeInstance> = {}) => {
      const now = Date.now();
      return instance(id, {
        httpTokens: 'required',
        usage: [0, 0],
        usageTimes: [now - 72 * HOUR, now - 71 * HOUR],
        rejected,
        rejectedTimes: rejected.map(() => now - HOUR),
        tags: { [UPGRADED_AT]: new Date(now - 2 * HOUR).toISOString() },
        ...fields,
      });
    };
    /** The recorded switch, as the summary line and the finding give it. */
    const at = (id: string) => byId(id).tags[UPGRADED_AT];

    test('RESTORE_OPTIONAL: each instance with refused calls and what was done: restored, refused (enforcement), forged-record, reported', async () => {
      fleet.splice(0, fleet.length,
        switched('i-broken', [2, 3]),
        switched('i-enforced', [1]),
        switched('i-forged', [4], { usage: [], usageTimes: [] }),
        switched('i-optional', [5], { httpTokens: 'optional' }),
        switched('i-fine', [0]),
      );
      emulate(fleet);
      ec2.on(ModifyInstanceMetadataOptionsCommand, { InstanceId: 'i-enforced', HttpTokens: 'optional' }).rejects(serviceError('UnsupportedOperation'));
      configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
      // The records as the run read them (i-optional is switched again by this run: a new record).
      const recorded = Object.fromEntries(fleet.map((i) => [i.id, at(i.id)]));
      await runSchedule();
      expect(entries().map((e) => e.DetailType)).toEqual(['IMDS Instance Upgrade Run', 'IMDS Rejected Calls']);
      expect(details('IMDS Rejected Calls')).toEqual([{
        ...COMMON,
        action: 'RESTORE_OPTIONAL',
        counts: { instances: 4, rejectedCalls: 15, restored: 1 },
        instances: [
          { instanceId: 'i-broken', upgradedAt: recorded['i-broken'], rejectedCalls: 5, action: 'restored' },
          { instanceId: 'i-enforced', upgradedAt: recorded['i-enforced'], rejectedCalls: 1, action: 'refused' },
          { instanceId: 'i-forged', upgradedAt: recorded['i-forged'], rejectedCalls: 4, action: 'forged-record' },
          { instanceId: 'i-optional', upgradedAt: recorded['i-optional'], rejectedCalls: 5, action: 'reported' },
        ],
      }]);
      // i-optional allowed IMDSv1 when the run listed its candidates (i-broken was put back after the listing).
      expect(runs()[0].counts).toMatchObject({ Candidates: 1, InUse: 0 });
    });

    test('REPORT: every one reported, nothing changed; deploy-time runs report the same', async () => {
      fleet.splice(0, fleet.length, switched('i-broken', [0, 4]), switched('i-fine', [0, 0]));
      emulate(fleet);
      await runSchedule();
      const expected = {
        ...COMMON,
        action: 'REPORT',
        counts: { instances: 1, rejectedCalls: 4, restored: 0 },
        instances: [{ instanceId: 'i-broken', upgradedAt: at('i-broken'), rejectedCalls: 4, action: 'reported' }],
      };
      expect(details('IMDS Rejected Calls')).toEqual([expected]);
      eventBridge.resetHistory();
      configure({ MODE: 'UPGRADE', REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL' });
      await answer(update());
      expect(details('IMDS Rejected Calls')).toEqual([{
        ...expected, resource: { function: 'imds-upgrade', stackId: STACK_ID, logicalResourceId: 'ImdsDefaults' }, action: 'RESTORE_OPTIONAL',
      }]);
    });

    test('none when no switched instance refused calls', async () => {
      fleet.splice(0, fleet.length, switched('i-fine', [0, 0]));
      emulate(fleet);
      await runSchedule();
      expect(entries().map((e) => e.DetailType)).toEqual(['IMDS Instance Upgrade Run']);
    });
  });

  test('a large fleet: lists of at most 25, the full counts beside them, the entry well under 256 KB', async () => {
    fleet.splice(0, fleet.length, ...instances(40, 'u', { usage: [0, 9] }), ...instances(30, 'f', { usage: [0] }));
    emulate(fleet);
    ec2.on(ModifyInstanceMetadataOptionsCommand).rejects(serviceError('IncorrectInstanceState'));
    await runSchedule();
    const [run] = runs();
    expect(run.counts).toMatchObject({ Candidates: 70, InUse: 40, Failed: 30, Upgraded: 0 });
    expect(run.usingImdsv1).toEqual(fleet.slice(0, 25).map((i) => i.id));
    expect(run.failures).toHaveLength(25);
    expect(run.truncated).toBeUndefined();
    expect(Buffer.byteLength(entries()[0].Detail!)).toBeLessThan(8_000);
  });

  describe('a put that fails changes no outcome', () => {
    /** One run's observable outcome: the answer (or the schedule's), the summary, the instances switched, the metrics but FindingsNotPut. */
    async function outcome(kind: 'create' | 'schedule'): Promise<unknown> {
      logs.length = 0;
      fleet = standardFleet();
      emulate(fleet);
      const answered = kind === 'create' ? await answer(create()) : await handler(scheduledEvent(), context()).then(() => 'returned', (err) => `threw ${err}`);
      const { FindingsNotPut: _, ...metrics } = metricValues();
      return { answered: kind === 'create' ? { ...(answered as object), RequestId: undefined } : answered, summary: summary(), modified: modifiedIds(), metrics };
    }

    test.each([
      ['throttled throughout (the SDK\'s retries spent)', () => eventBridge.on(PutEventsCommand).rejects(serviceError('ThrottlingException', 'Rate exceeded'))],
      ['denied', () => eventBridge.on(PutEventsCommand).rejects(serviceError('AccessDeniedException', 'not authorized to perform: events:PutEvents', 403))],
      ['refused entry by entry', () => eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' }] })],
    ])('%s: the same answer, summary, switches and metrics; FindingsNotPut counts it', async (_name, fail) => {
      for (const kind of ['create', 'schedule'] as const) {
        eventBridge.reset();
        acceptAll();
        const good = await outcome(kind);
        expect(notPut()).toBeUndefined();
        eventBridge.reset();
        fail();
        const bad = await outcome(kind);
        expect(bad).toEqual(good);
        expect(notPut()).toBe(1);
      }
    });

    test('a run that fails still fails with its own error when the put fails too', async () => {
      ec2.on(DescribeInstancesCommand).rejects(serviceError('InternalError', 'boom', 500));
      eventBridge.on(PutEventsCommand).rejects(serviceError('AccessDeniedException', 'no', 403));
      await expect(handler(scheduledEvent(), context())).rejects.toThrow('The instances allowing IMDSv1 could not be listed, so nothing was changed: InternalError: boom');
      const event = create();
      expect(await answer(event)).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/could not be listed/) });
    });

    test('an entry throttled once is put on the next try', async () => {
      eventBridge.on(PutEventsCommand)
        .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }] })
        .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
      await runSchedule();
      expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
      expect(notPut()).toBeUndefined();
    });

    test('the put never outlasts the function: its signal ends 500 ms before the timeout', async () => {
      const timeout = jest.spyOn(AbortSignal, 'timeout');
      try {
        const clock = fakeClock();
        const f = fakes(fleet);
        ec2.on(DescribeInstancesCommand).callsFakeOnce((input) => {
          clock.advance(50_000);
          return f.describeInstances(input);
        }).callsFake(f.describeInstances);
        await handler(scheduledEvent(), context());
        // PutMetricData's, then the findings' (remaining 10 s less 500 ms), then events.ts's own bound.
        expect(timeout.mock.calls).toEqual([[4_000], [9_500], [3_000]]);
      } finally {
        timeout.mockRestore();
      }
    });
  });
});
