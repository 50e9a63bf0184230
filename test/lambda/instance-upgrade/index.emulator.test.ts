/**
 * The ImdsInstanceUpgrade handler with the real @aws-sdk/client-ec2,
 * client-cloudwatch and client-eventbridge against the local EC2, CloudWatch and
 * EventBridge emulators: what the mocks cannot show (the requests as the SDK
 * serializes them, the answers as it parses them, the SDK's own retries) on a
 * seeded fleet of 3,000 instances.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { SUMMARY_MESSAGE, handler } from '../../../lambda/instance-upgrade/index';
import { UPGRADE_ENV } from '../../../src/private/properties';
import { AutoScalingEmulator } from '../../support/autoscaling-emulator';
import { CloudFormationEmulator } from '../../support/cloudformation-emulator';
import { CloudWatchEmulator } from '../../support/cloudwatch-emulator';
import { Ec2Emulator, TEST_CREDENTIALS } from '../../support/ec2-emulator';
import { EventBridgeEmulator } from '../../support/eventbridge-emulator';
import { Fleet, seedFleet } from '../../support/fleet';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { SsmEmulator } from '../../support/ssm-emulator';
import { ACCOUNT, REGION, answerOf, captureLogs, createEvent, lambdaContext } from '../support';
import { cloudFormationWaitsFor } from '../support/emulators';

// The SDK's backoff is random (up to a few seconds for throttling): leave room on a busy machine.
jest.setTimeout(60_000);

const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:imds-upgrade`;
let ec2: Ec2Emulator;
let cloudwatch: CloudWatchEmulator;
let cloudformation: CloudFormationEmulator;
let ssm: SsmEmulator;
let autoscaling: AutoScalingEmulator;
let eventbridge: EventBridgeEmulator;
let endpoint: ResponseEndpoint;
let logs: string[];
let fleet: Fleet;
const env = { ...process.env };

const context = (): Context => ({ ...lambdaContext(120_000), invokedFunctionArn: FUNCTION_ARN }) as Context;
const schedule = { 'source': 'aws.events', 'detail-type': 'Scheduled Event', 'account': ACCOUNT, 'region': REGION, 'id': 'e-1', 'time': '2026-11-27T06:00:00Z' };
const summary = () => {
  const lines = logs.map((l) => JSON.parse(l)).filter((l) => l.message === SUMMARY_MESSAGE);
  expect(lines).toHaveLength(1);
  return lines[0];
};
const optionsOf = (id: string) => ec2.instance(REGION, id)!.MetadataOptions;

beforeAll(async () => {
  [ec2, cloudwatch, cloudformation, endpoint, ssm, autoscaling, eventbridge] = await Promise.all([
    Ec2Emulator.start(), CloudWatchEmulator.start(), CloudFormationEmulator.start(), ResponseEndpoint.start(),
    SsmEmulator.start(), AutoScalingEmulator.start(), EventBridgeEmulator.start(),
  ]);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EC2: ec2.endpoint,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudformation.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.endpoint,
    AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    AWS_ENDPOINT_URL_AUTO_SCALING: autoscaling.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventbridge.endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  logs = captureLogs();
});
afterAll(async () => {
  process.env = env;
  await Promise.all([ec2.stop(), cloudwatch.stop(), cloudformation.stop(), endpoint.stop(), ssm.stop(), autoscaling.stop(), eventbridge.stop()]);
});
beforeEach(() => {
  logs.length = 0;
  for (const e of [ec2, cloudwatch, eventbridge]) {
    e.requests.length = 0;
    e.clearFaults();
  }
  eventbridge.clearEvents();
  ec2.clearFleet(REGION);
  autoscaling.clearAutoScalingGroups(REGION);
  for (const name of ssm.parameters(REGION).keys()) ssm.deleteParameter(REGION, name);
  cloudwatch.clearMetrics(REGION);
  ec2.describesUntilApplied = 0;
  for (const name of Object.values(UPGRADE_ENV)) delete process.env[name];
  process.env[UPGRADE_ENV.MODE] = 'UPGRADE';
  process.env[UPGRADE_ENV.MAX_PER_RUN] = '1000';
  fleet = seedFleet(ec2, cloudwatch, REGION, { count: 3000 });
});

test('a scheduled run on 3,000 instances: every category as the fleet holds it, the first 500 safe ones upgraded (the cap) and applied, the metrics put', async () => {
  const cap = 500;
  process.env[UPGRADE_ENV.MAX_PER_RUN] = String(cap);
  await handler(schedule, context());
  const s = summary();
  expect(s.counts).toEqual({
    Candidates: fleet.candidates.length,
    Eligible: fleet.safe.length,
    Upgraded: cap,
    Pending: 0,
    InUse: fleet.inUse.length,
    Excluded: fleet.excluded.length,
    Unknown: fleet.unknown.length,
    Failed: 0,
    NotAttempted: fleet.safe.length - cap,
    TooLittleData: fleet.tooLittleData.length,
    RejectedCalls: 0,
    Restored: 0,
    RestoreRefused: 0,
    GroupsAllowingImdsv1: 0,
  });
  // Each switch recorded on the instance; the interval claimed in Parameter Store.
  expect(fleet.safe.slice(0, cap).every((id) => /Z$/.test(ec2.instance(REGION, id)!.Tags['cdk-imds-account-defaults:upgraded-at']))).toBe(true);
  expect([...ssm.parameters(REGION).keys()]).toEqual([expect.stringMatching(/^\/cdk-imds-account-defaults\/instance-upgrade\/switch-claims\/\d+$/)]);
  expect(s.instances.tooLittleData).toEqual(fleet.tooLittleData.slice(0, 100).map((instanceId) => ({ instanceId, hoursObserved: 3 })));
  expect(s.instances.excluded).toEqual(fleet.excluded.slice(0, 100));
  expect(s.instances.inUse).toEqual(fleet.inUse.slice(0, 100));
  expect(s.instances.upgraded).toEqual(fleet.safe.slice(0, 100));
  expect(fleet.safe.slice(0, cap).every((id) => optionsOf(id).HttpTokens === 'required' && optionsOf(id).State === 'applied')).toBe(true);
  for (const id of [...fleet.safe.slice(cap), ...fleet.inUse, ...fleet.unknown, ...fleet.excluded, ...fleet.tooLittleData]) {
    expect(optionsOf(id).HttpTokens).toBe('optional');
  }
  // Every other option as the instance had it.
  expect(optionsOf(fleet.safe[0])).toMatchObject({ HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 });
  // The candidates' pages, then one page of instances with an upgrade record (none yet).
  expect(ec2.requestsOf('DescribeInstances').filter((r) => JSON.stringify(r).includes('MaxResults'))).toHaveLength(Math.ceil(fleet.candidates.length / 1000) + 1);
  expect(ec2.requestsOf('CreateTags')).toHaveLength(cap / 100);
  // The default 14-day window: 337 hourly datapoints at most per instance, 299 instances a call, each answered in one page.
  expect(cloudwatch.requestsOf('GetMetricData')).toHaveLength(Math.ceil((fleet.candidates.length - fleet.excluded.length) / 299));
  expect(cloudwatch.putMetricData(REGION, 'CdkImdsAccountDefaults').map((d) => [d.MetricName, d.Value, d.Unit])).toEqual([
    ['InstancesAllowingImdsv1', fleet.candidates.length, 'Count'],
    ['InstancesUpgraded', cap, 'Count'],
    ['InstancesInUse', fleet.inUse.length, 'Count'],
    ['InstancesExcluded', fleet.excluded.length, 'Count'],
    ['InstancesUnknown', fleet.unknown.length, 'Count'],
    ['InstancesFailed', 0, 'Count'],
    ['InstancesWithTooLittleData', fleet.tooLittleData.length, 'Count'],
    ['InstancesWithRejectedImdsv1Calls', 0, 'Count'],
    ['InstancesRestoredToOptional', 0, 'Count'],
    ['InstancesRestoreRefused', 0, 'Count'],
    ['AutoScalingGroupsAllowingImdsv1', 0, 'Count'],
  ]);
  expect(s.metricsPut).toBe(true);
  // The run as one event on the default bus: the full counts, the lists capped at 25.
  expect(eventbridge.deliveries.map((d) => d.bus)).toEqual([EventBridgeEmulator.busArn(ACCOUNT, REGION)]);
  const [event] = eventbridge.defaultBusEvents(ACCOUNT, REGION);
  expect(event).toMatchObject({ 'source': 'cdk-imds-account-defaults', 'detail-type': 'IMDS Instance Upgrade Run', 'account': ACCOUNT });
  expect(event.detail).toEqual({
    version: '1',
    account: ACCOUNT,
    region: REGION,
    resource: { function: 'imds-upgrade' },
    mode: 'UPGRADE',
    trigger: 'schedule',
    expected: { HttpTokens: 'required' },
    // The summary line's counts.
    counts: s.counts,
    failures: [],
    usingImdsv1: fleet.inUse.slice(0, 25),
    stoppedEarly: 'maxUpgradesPerRun',
  });
});

test('throttling answered by EC2 and CloudWatch is retried by the SDK; a Modify EC2 refuses is failed with its code; pending stays pending', async () => {
  process.env[UPGRADE_ENV.MAX_PER_RUN] = '5';
  ec2.injectFault({ code: 'RequestLimitExceeded', times: 2, action: 'ModifyInstanceMetadataOptions' });
  ec2.injectFault({ code: 'RequestLimitExceeded', times: 1, action: 'DescribeInstances' });
  cloudwatch.injectFault({ code: 'Throttling', times: 1, action: 'GetMetricData' });
  ec2.failModifyFor(REGION, [fleet.safe[1]], 'IncorrectInstanceState');
  ec2.holdPending(REGION, [fleet.safe[2]]);
  await handler(schedule, context());
  const s = summary();
  expect(s.stoppedEarly).toBe('maxUpgradesPerRun');
  expect(s.instances.upgraded).toEqual([fleet.safe[0], fleet.safe[2], fleet.safe[3], fleet.safe[4]]);
  expect(s.instances.failed).toEqual([{ instanceId: fleet.safe[1], action: 'ModifyInstanceMetadataOptions', code: 'IncorrectInstanceState' }]);
  expect(s.instances.pending).toEqual([fleet.safe[2]]);
  expect(s.stoppedEarly).toBe('maxUpgradesPerRun');
  expect(ec2.faultsServed + cloudwatch.faultsServed).toBe(4);
  expect(eventbridge.defaultBusEvents(ACCOUNT, REGION).map((e) => e.detail.failures))
    .toEqual([[{ instanceId: fleet.safe[1], action: 'ModifyInstanceMetadataOptions', code: 'IncorrectInstanceState' }]]);
});

test.each([
  ['ThrottlingException', 'retried by the SDK until its attempts or the 3 s are spent'],
  ['AccessDeniedException', 'not retried'],
])('PutEvents answering %s (%s) changes nothing of the run; the miss is counted (FindingsNotPut)', async (code) => {
  process.env[UPGRADE_ENV.MAX_PER_RUN] = '5';
  eventbridge.injectFault({ code, times: 10, action: 'PutEvents' });
  await handler(schedule, context());
  expect(summary().counts).toMatchObject({ Candidates: fleet.candidates.length, Upgraded: 5 });
  expect(summary().metricsPut).toBe(true);
  expect(fleet.safe.slice(0, 5).every((id) => optionsOf(id).HttpTokens === 'required')).toBe(true);
  expect(eventbridge.requestsOf('PutEvents').length > 1).toBe(code === 'ThrottlingException');
  expect(eventbridge.defaultBusEvents(ACCOUNT, REGION)).toEqual([]);
  expect(cloudwatch.putMetricData(REGION, 'CdkImdsAccountDefaults').filter((d) => d.MetricName === 'FindingsNotPut').map((d) => d.Value)).toEqual([1]);
});

test('Create answers SUCCESS with the counts as Data (REPORT_ONLY: nothing changed)', async () => {
  process.env[UPGRADE_ENV.MODE] = 'REPORT_ONLY';
  const event = { ...createEvent(endpoint, {}), ServiceToken: FUNCTION_ARN, ResourceType: 'Custom::ImdsInstanceUpgrade' } as CloudFormationCustomResourceEvent;
  // The handler confirms the event with CloudFormation (the real client-cloudformation against the emulator).
  cloudFormationWaitsFor(cloudformation, event);
  const answer = await answerOf((e, c) => handler(e, { ...c, invokedFunctionArn: FUNCTION_ARN }), endpoint, event, 120_000);
  expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `ImdsInstanceUpgrade:${ACCOUNT}:${REGION}` });
  expect(answer.Data).toEqual({
    Candidates: String(fleet.candidates.length),
    Eligible: String(fleet.safe.length),
    Upgraded: '0',
    Pending: '0',
    InUse: String(fleet.inUse.length),
    Excluded: String(fleet.excluded.length),
    Unknown: String(fleet.unknown.length),
    Failed: '0',
    TooLittleData: String(fleet.tooLittleData.length),
  });
  expect(ec2.requestsOf('ModifyInstanceMetadataOptions')).toHaveLength(0);
  expect(eventbridge.defaultBusEvents(ACCOUNT, REGION).map((e) => [e.detail.mode, e.detail.trigger, e.detail.counts.NotAttempted]))
    .toEqual([['REPORT_ONLY', 'deploy', fleet.safe.length]]);
});
