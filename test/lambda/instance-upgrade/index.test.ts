/**
 * The ImdsInstanceUpgrade handler's rules, with EC2 and CloudWatch mocked by
 * aws-sdk-client-mock over a fake fleet (fleet-mock.ts): each test checks the
 * calls, the fleet afterwards, the summary line and the metrics.
 *
 * The SDK's own retries and timeouts live inside `send()`, which the mock
 * replaces; the throttling retries tested here are the handler's own (retry.ts).
 */
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { FakeInstance, PAGE_DATAPOINTS, cw, describeCalls, ec2, emulate, fakes, instance, instances, modifiedIds, serviceError } from './fleet-mock';
import { CREATE_FAILED_PREFIX, SUMMARY_MESSAGE, handler } from '../../../lambda/instance-upgrade/index';
import { MAX_IDS_LOGGED } from '../../../lambda/instance-upgrade/report';
import { THROTTLE_DELAYS_MS } from '../../../lambda/instance-upgrade/retry';
import { CONFIRM_ATTEMPTS, CONFIRM_INTERVAL_MS, FINISH_RESERVE_MS } from '../../../lambda/instance-upgrade/upgrade';
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

/** Sets the function's environment: the given variables of UPGRADE_ENV, the others absent. */
function configure(vars: Partial<Record<keyof typeof UPGRADE_ENV, string>>): void {
  for (const name of Object.values(UPGRADE_ENV)) delete process.env[name];
  for (const [key, value] of Object.entries(vars)) process.env[UPGRADE_ENV[key as keyof typeof UPGRADE_ENV]] = value;
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

const DEFAULT_CONFIG = { mode: 'UPGRADE', lookbackSeconds: 1_209_600, exclusionTagKey: 'imds-keep-v1', upgradeWithoutMetrics: false, maxUpgradesPerRun: 100 };

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
      counts: { Candidates: 7, Eligible: 3, Upgraded: 3, Pending: 0, InUse: 2, Excluded: 1, Unknown: 1, Failed: 0, NotAttempted: 0 },
      instances: {
        excluded: ['i-excluded'],
        inUse: ['i-inuse', 'i-stopping'],
        unknown: ['i-unknown'],
        upgraded: ['i-safe', 'i-stopped', 'i-pending'],
        pending: [],
        failed: [],
        notAttempted: [],
      },
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
    expect(signals).toHaveLength(1 + 3 + 1 + 2);
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
        Candidates: 7, Eligible: 3, Upgraded: 0, Pending: 0, InUse: 2, Excluded: 1, Unknown: 1, Failed: 0, NotAttempted: 3,
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
  test('1,200 candidates: two DescribeInstances pages, GetMetricData in batches of 500, id lists capped in the summary', async () => {
    fleet.splice(0, fleet.length, ...instances(1200, 'c'));
    emulate(fleet);
    configure({ MODE: 'REPORT_ONLY' });
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

  test('the query: AWS/EC2 MetadataNoToken by InstanceId, Sum over one period of the lookback rounded up to the hour, ending on a minute', async () => {
    configure({ MODE: 'UPGRADE', LOOKBACK_SECONDS: '3601' });
    const before = Date.now();
    await runSchedule();
    const input = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(input.MetricDataQueries![0]).toEqual({
      Id: 'm0',
      MetricStat: { Metric: { Namespace: 'AWS/EC2', MetricName: 'MetadataNoToken', Dimensions: [{ Name: 'InstanceId', Value: 'i-safe' }] }, Period: 7200, Stat: 'Sum' },
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
    configure({ MODE: 'REPORT_ONLY' });
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
    configure({ MODE: 'UPGRADE', WITHOUT_METRICS: 'true', MAX_PER_RUN: '1000' });
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
  test('each run puts the six counts, unit Count, no dimensions, in the library\'s namespace', async () => {
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
      ],
    }]);
  });

  test('PutMetricData gets 4 s, and never past the function\'s timeout less 500 ms', async () => {
    const timeout = jest.spyOn(AbortSignal, 'timeout');
    try {
      await runSchedule();
      expect(timeout.mock.calls).toEqual([[4_000]]);
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
        expect(timeout.mock.calls).toEqual([[expected]]);
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
    expect(Object.values(metricValues())).toEqual([0, 0, 0, 0, 0, 0]);
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
  test('Create runs once and answers SUCCESS with the account-and-Region physical id and the counts as Data', async () => {
    const answered = await answer(create());
    expect(answered).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(answered.Data).toEqual({ Candidates: '7', Eligible: '3', Upgraded: '3', Pending: '0', InUse: '2', Excluded: '1', Unknown: '1', Failed: '0' });
    expect(summary().trigger).toBe('Create');
    expect(modifiedIds()).toEqual(['i-safe', 'i-stopped', 'i-pending']);
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
