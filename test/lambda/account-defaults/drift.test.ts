/**
 * The drift guard (lambda/account-defaults/drift.ts), run through the
 * function's entry point (index.ts routes every event that is not
 * CloudFormation's to it) with EC2, SSM and CloudFormation mocked as in
 * aws-mocks.ts and CloudWatch's PutMetricData recorded here.
 */
import { DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetInstanceMetadataDefaultsCommand, ModifyInstanceMetadataDefaultsCommand } from '@aws-sdk/client-ec2';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { claimName, formatClaim } from '../../../lambda/account-defaults/claims';
import { DRIFT_RESERVE_MS, triggerOf } from '../../../lambda/account-defaults/drift';
import { READ_BACK_ATTEMPTS } from '../../../lambda/account-defaults/ec2';
import { handler } from '../../../lambda/account-defaults/index';
import { isCloudFormationEvent } from '../../../lambda/shared/custom-resource';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { ACCOUNT, REGION, captureLogs, quickWaits } from '../support';
import { World, addClaim, cfn, ec2, emulate, fakes, newWorld, serviceError, ssm, stackIdOf } from '../support/aws-mocks';

const cw = mockClient(CloudWatchClient);

const FUNCTION_NAME = 'imds-handler';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${FUNCTION_NAME}`;
const STACK = 'app';
const LOGICAL_ID = 'ImdsResource';
const SELF = { stackId: stackIdOf(STACK), stackName: STACK, logicalResourceId: LOGICAL_ID };
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;

const schedule = (overrides: Record<string, unknown> = {}) => ({
  'version': '0',
  'id': 'schedule-event-1',
  'detail-type': 'Scheduled Event',
  'source': 'aws.events',
  'account': ACCOUNT,
  'time': '2026-11-27T16:00:00Z',
  'region': REGION,
  'resources': [`arn:aws:events:${REGION}:${ACCOUNT}:rule/app-ImdsDriftSchedule`],
  'detail': {},
  ...overrides,
});

const trail = (detail: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) => ({
  'version': '0',
  'id': 'trail-event-1',
  'detail-type': 'AWS API Call via CloudTrail',
  'source': 'aws.ec2',
  'account': ACCOUNT,
  'time': '2026-11-27T16:00:00Z',
  'region': REGION,
  'resources': [],
  'detail': {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', arn: ALICE },
    eventSource: 'ec2.amazonaws.com',
    eventName: 'ModifyInstanceMetadataDefaults',
    awsRegion: REGION,
    requestParameters: { ModifyInstanceMetadataDefaultsRequest: { HttpTokens: 'optional' } },
    eventID: 'e1f2a3b4-0000-4000-8000-000000000001',
    ...detail,
  },
  ...overrides,
});

let world: World;
let logs: string[];
let delays: number[];

const context = (remainingMs = 30_000) =>
  ({ invokedFunctionArn: FUNCTION_ARN, functionName: FUNCTION_NAME, getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;
const run = (event: unknown, remainingMs?: number) => handler(event as any, context(remainingMs));
const lines = () => logs.map((l) => JSON.parse(l));
const linesOf = (message: string) => lines().filter((l) => l.message === message);
const modifyCalls = () => ec2.commandCalls(ModifyInstanceMetadataDefaultsCommand).map((c) => c.args[0].input);
const metricCalls = () => cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
const awsCalls = () => ec2.calls().length + ssm.calls().length + cfn.calls().length + cw.calls().length;

/** The two metrics a run that compared puts, as PutMetricData receives them. */
const metrics = (detected: number, reapplied: number) => [{
  Namespace: 'CdkImdsAccountDefaults',
  MetricData: [
    { MetricName: 'DriftDetected', Value: detected, Unit: 'Count', Dimensions: [] },
    { MetricName: 'DriftReapplied', Value: reapplied, Unit: 'Count', Dimensions: [] },
  ],
}];

/** This resource's claim (and its status in its stack). */
function claimOwn(fields: Record<string, string | number>, status: string | null = 'UPDATE_COMPLETE'): void {
  addClaim(world, STACK, LOGICAL_ID, fields, status);
}

const savedEnv = { ...process.env };

beforeAll(() => {
  logs = captureLogs();
  delays = quickWaits();
});
beforeEach(() => {
  process.env = { ...savedEnv, IMDS_DRIFT_GUARD: 'REAPPLY', IMDS_STACK_ID: SELF.stackId, IMDS_LOGICAL_ID: LOGICAL_ID, AWS_LAMBDA_FUNCTION_NAME: FUNCTION_NAME };
  world = newWorld({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });
  emulate(world);
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  logs.length = 0;
  delays.length = 0;
});
afterAll(() => {
  process.env = savedEnv;
});

describe('REAPPLY', () => {
  test('a console-style change to a managed field is set back, read back, reported and counted; nothing else is touched', async () => {
    claimOwn({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });
    // One Get to compare, one to read back.
    expect(ec2).toHaveReceivedCommandTimes(GetInstanceMetadataDefaultsCommand, 2);
    expect(linesOf('drift')).toEqual([{ message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied', trigger: 'schedule' }]);
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REAPPLY', detected: 1, reapplied: 1 }]);
    expect(metricCalls()).toEqual(metrics(1, 1));
  });

  test('every differing field at once, in one Modify; a field EC2 omits counts as no preference (-1 for the hop limit)', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'disabled' };
    claimOwn({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' });
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' }]);
    expect(linesOf('drift').map(({ field, expected, found, action }) => [field, expected, found, action])).toEqual([
      ['HttpTokensEnforced', 'enabled', 'no-preference', 'reapplied'],
      ['HttpPutResponseHopLimit', 2, -1, 'reapplied'],
      ['HttpEndpoint', 'enabled', 'disabled', 'reapplied'],
    ]);
    expect(metricCalls()).toEqual(metrics(3, 3));
  });

  test('no difference: no write, no drift line, and the metrics say 0', async () => {
    claimOwn({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(linesOf('drift')).toEqual([]);
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REAPPLY', detected: 0, reapplied: 0 }]);
    expect(metricCalls()).toEqual(metrics(0, 0));
  });

  test('a field changed out of band that the claim does not name is left as it is', async () => {
    claimOwn({ HttpTokens: 'optional' });
    world.state.HttpEndpoint = 'enabled';
    world.state.InstanceMetadataTags = 'enabled';
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' });
    expect(metricCalls()).toEqual(metrics(0, 0));
  });

  test('a hop limit claimed as a string (as CloudFormation delivers it) compares with EC2\'s number', async () => {
    claimOwn({ HttpPutResponseHopLimit: '2' });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(metricCalls()).toEqual(metrics(0, 0));
  });

  test('a read-back that never shows the value: reported as reapply-failed, counted as detected, not reapplied, and the run fails', async () => {
    claimOwn({ HttpTokens: 'required' });
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true }); // accepted, without effect
    await expect(run(schedule())).rejects.toThrow(/^ModifyInstanceMetadataDefaults succeeded but GetInstanceMetadataDefaults reports HttpTokens is "optional", expected "required"$/);

    expect(ec2).toHaveReceivedCommandTimes(GetInstanceMetadataDefaultsCommand, 1 + READ_BACK_ATTEMPTS);
    expect(linesOf('drift')).toEqual([{ message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapply-failed', trigger: 'schedule' }]);
    expect(metricCalls()).toEqual(metrics(1, 0));
    expect(linesOf('drift check failed')).toEqual([{ message: 'drift check failed', error: expect.stringMatching(/^ReadBackError: /) }]);
  });

  test('a Modify that EC2 refuses: reapply-failed, the error thrown, and no restore', async () => {
    claimOwn({ HttpTokens: 'required' });
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    await expect(run(schedule())).rejects.toThrow('You are not authorized');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(linesOf('drift').map((l) => l.action)).toEqual(['reapply-failed']);
    expect(metricCalls()).toEqual(metrics(1, 0));
  });

  test('metrics that cannot be put do not fail the run: the log line carries the same numbers', async () => {
    claimOwn({ HttpTokens: 'required' });
    cw.on(PutMetricDataCommand).rejects(serviceError('AccessDenied', 'not allowed', 403));
    await expect(run(schedule())).resolves.toBeUndefined();
    expect(world.state.HttpTokens).toBe('required');
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REAPPLY', detected: 1, reapplied: 1 }]);
  });
});

describe('REPORT_ONLY', () => {
  beforeEach(() => {
    process.env.IMDS_DRIFT_GUARD = 'REPORT_ONLY';
  });

  test('reports each difference and changes nothing', async () => {
    claimOwn({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });
    expect(linesOf('drift')).toEqual([
      { message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reported', trigger: 'schedule' },
      { message: 'drift', field: 'HttpPutResponseHopLimit', expected: 1, found: 2, action: 'reported', trigger: 'schedule' },
    ]);
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REPORT_ONLY', detected: 2, reapplied: 0 }]);
    expect(metricCalls()).toEqual(metrics(2, 0));
  });
});

describe('ownership', () => {
  test('a field another stack\'s live claim manages with another value is left alone (and named); the others are reapplied', async () => {
    world.state = { HttpTokens: 'optional', HttpEndpoint: 'disabled' };
    claimOwn({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
    addClaim(world, 'legacy', 'Imds', { HttpTokens: 'optional' });
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpEndpoint: 'enabled' }]);
    expect(linesOf('drift')).toEqual([
      { message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'left-alone', managedBy: `legacy (${stackIdOf('legacy')})`, trigger: 'schedule' },
      { message: 'drift', field: 'HttpEndpoint', expected: 'enabled', found: 'disabled', action: 'reapplied', trigger: 'schedule' },
    ]);
    expect(metricCalls()).toEqual(metrics(2, 1));
  });

  test('only left-alone fields: no write at all', async () => {
    claimOwn({ HttpTokens: 'required' });
    addClaim(world, 'legacy', 'Imds', { HttpTokens: 'optional' });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(metricCalls()).toEqual(metrics(1, 0));
  });

  test('another stack that manages the field with the same value does not stop the guard (no fight: the same value)', async () => {
    claimOwn({ HttpTokens: 'required' });
    addClaim(world, 'platform', 'Imds', { HttpTokens: 'required' });
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('a rename that also changes a value, before its cleanup: the old and the new resource leave that field to each other', async () => {
    claimOwn({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
    addClaim(world, STACK, 'OldImdsResource', { HttpTokens: 'optional', HttpPutResponseHopLimit: 3 });
    world.state.HttpPutResponseHopLimit = 1;
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: 3 }]);
    expect(linesOf('drift').map(({ field, action, managedBy }) => [field, action, managedBy])).toEqual([
      ['HttpTokens', 'left-alone', `${STACK} (${SELF.stackId})`],
      ['HttpPutResponseHopLimit', 'reapplied', undefined],
    ]);
  });

  test('a claim of the same stack with the same value (a rename in progress) does not stop the guard', async () => {
    claimOwn({ HttpTokens: 'required' });
    addClaim(world, STACK, 'OldImdsResource', { HttpTokens: 'required' });
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('a stale claim of another stack is pruned and does not stop the guard', async () => {
    claimOwn({ HttpTokens: 'required' });
    const stale = addClaim(world, 'gone', 'Imds', { HttpTokens: 'optional' }, 'DELETE_COMPLETE');
    await run(schedule());
    expect(world.parameters.has(stale)).toBe(false);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('without its own claim the guard does nothing (a release without claims, not updated since)', async () => {
    world.resources.set(`${SELF.stackId}|${LOGICAL_ID}`, 'UPDATE_COMPLETE');
    addClaim(world, 'platform', 'Imds', { HttpTokens: 'required' });
    await run(schedule());
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
    expect(linesOf('drift check skipped')).toEqual([{ message: 'drift check skipped', reason: expect.stringMatching(/^this resource has no claim/) }]);
  });

  test.each([
    'CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS',
    'UPDATE_FAILED', 'DELETE_FAILED', 'DELETE_COMPLETE', 'DELETE_SKIPPED',
  ])('while its resource is %s the guard does nothing (no claim read, no EC2 call)', async (status) => {
    claimOwn({ HttpTokens: 'required' }, status);
    await run(schedule());
    expect(ssm.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: SELF.stackId, LogicalResourceId: LOGICAL_ID });
    expect(linesOf('drift check skipped')).toEqual([{
      message: 'drift check skipped',
      reason: `this resource (${LOGICAL_ID} of ${STACK}) is ${status}: the guard acts only while it is settled`,
    }]);
  });

  test('a resource no longer in its stack: nothing', async () => {
    claimOwn({ HttpTokens: 'required' }, null);
    await run(schedule());
    expect(ec2.calls()).toHaveLength(0);
    expect(linesOf('drift check skipped')[0].reason).toBe(`this resource (${LOGICAL_ID} of ${STACK}) is not in its stack: the guard acts only while it is settled`);
  });

  test.each(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE'])('a settled resource (%s) is guarded', async (status) => {
    claimOwn({ HttpTokens: 'required' }, status);
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('access denied on the first CloudFormation call and on the first EC2 call is retried while IAM propagates', async () => {
    claimOwn({ HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand)
      .rejectsOnce(serviceError('AccessDenied', 'not yet', 403))
      .callsFake(fakes(world).describeStackResource);
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .rejectsOnce(serviceError('UnauthorizedOperation', 'not yet', 403))
      .callsFake(() => ({ AccountLevel: { ...world.state, ...world.managedBy } }));
    await run(schedule());
    expect(delays.filter((d) => d === 1_000)).toHaveLength(2);
    expect(linesOf('AccessDenied on the first CloudFormation call: waiting for the role\'s policy to propagate')).toHaveLength(1);
    expect(linesOf('UnauthorizedOperation on the first EC2 call: waiting for the role\'s policy to propagate')).toHaveLength(1);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('CloudFormation failing on its own resource (not "does not exist") fails the run and changes nothing', async () => {
    claimOwn({ HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('Throttling', 'Rate exceeded', 400));
    await expect(run(schedule())).rejects.toThrow('Rate exceeded');
    expect(ssm.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(linesOf('drift check failed')).toEqual([{ message: 'drift check failed', error: 'Throttling: Rate exceeded' }]);
  });

  test('a DescribeStackResource answer without a status is not settled', async () => {
    claimOwn({ HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand).resolves({});
    await run(schedule());
    expect(ec2.calls()).toHaveLength(0);
    expect(linesOf('drift check skipped')[0].reason).toBe(`this resource (${LOGICAL_ID} of ${STACK}) is : the guard acts only while it is settled`);
  });

  test('ownership that cannot be read fails the run and changes nothing', async () => {
    claimOwn({ HttpTokens: 'required' });
    ssm.on(GetParametersByPathCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    await expect(run(schedule())).rejects.toThrow(/SSM Parameter Store could not be read/);
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
    expect(linesOf('drift check failed')).toHaveLength(1);
  });

  test('a claim whose values cannot be used fails the run, naming the claim, and changes nothing', async () => {
    world.parameters.set(claimName(SELF), formatClaim(SELF, { HttpTokens: 'mandatory' }));
    world.resources.set(`${SELF.stackId}|${LOGICAL_ID}`, 'UPDATE_COMPLETE');
    await expect(run(schedule())).rejects.toThrow(`this resource's claim ${claimName(SELF)} cannot be used: InvalidPropertiesError: HttpTokens must be one of "optional", "required", "no-preference"; got "mandatory"`);
    expect(ec2.calls()).toHaveLength(0);
  });
});

test('a declarative policy manages the settings: nothing, and the policy\'s message is logged', async () => {
  claimOwn({ HttpTokens: 'required' });
  world.managedBy = { ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team' };
  await run(schedule());
  expect(modifyCalls()).toEqual([]);
  expect(cw.calls()).toHaveLength(0);
  expect(linesOf('drift check skipped')).toEqual([{ message: 'drift check skipped', reason: 'a declarative policy manages the settings', managedExceptionMessage: 'Ask the platform team' }]);
});

describe('CloudTrail', () => {
  test('the caller and the event id are in every drift line', async () => {
    claimOwn({ HttpTokens: 'required' });
    await run(trail());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(linesOf('drift check')).toEqual([{ message: 'drift check', mode: 'REAPPLY', trigger: 'cloudtrail', caller: ALICE, eventId: 'e1f2a3b4-0000-4000-8000-000000000001' }]);
    expect(linesOf('drift')).toEqual([{
      message: 'drift',
      field: 'HttpTokens',
      expected: 'required',
      found: 'optional',
      action: 'reapplied',
      trigger: 'cloudtrail',
      caller: ALICE,
      eventId: 'e1f2a3b4-0000-4000-8000-000000000001',
    }]);
  });

  test.each([
    ['a caller without an ARN', { userIdentity: { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' }, eventID: 42 }],
    ['no userIdentity at all', { userIdentity: undefined, eventID: undefined }],
    ['an ARN that is not a string', { userIdentity: { arn: 42 }, eventID: null }],
  ])('%s (and no usable event id): the event is still checked, without a caller', async (_, detail) => {
    world.state.HttpTokens = 'optional';
    claimOwn({ HttpTokens: 'required' });
    await run(trail(detail));
    expect(linesOf('drift')).toEqual([{ message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied', trigger: 'cloudtrail' }]);
  });

  test('a change this function made (its CloudFormation events, its re-applies) is not checked again', async () => {
    claimOwn({ HttpTokens: 'required' });
    const self = `arn:aws:sts::${ACCOUNT}:assumed-role/app-ImdsRole-ABC/${FUNCTION_NAME}`;
    await run(trail({ userIdentity: { type: 'AssumedRole', arn: self } }));
    expect(awsCalls()).toBe(0);
    expect(lines()).toEqual([{ message: 'ignored', reason: `the change was made by this function (${self})` }]);
  });

  test('another function\'s session of the same name elsewhere, or a user named like it, is checked', async () => {
    claimOwn({ HttpTokens: 'required' });
    await run(trail({ userIdentity: { arn: `arn:aws:iam::${ACCOUNT}:user/${FUNCTION_NAME}` } }));
    await run(trail({ userIdentity: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/role/${FUNCTION_NAME}-other` } }));
    expect(linesOf('drift check')).toHaveLength(2);
  });
});

describe('events that are not the guard\'s change nothing and answer nothing', () => {
  const other = ACCOUNT.replace(/.$/, '9');
  test.each<[string, unknown, RegExp]>([
    ['null', null, /^not an EventBridge event: null$/],
    ['a string', 'run', /^not an EventBridge event: "run"$/],
    ['an array', [schedule()], /^not an EventBridge event: \[/],
    ['a wrong source', schedule({ source: 'my.app' }), /^source "my.app" with detail-type "Scheduled Event" is neither the schedule's nor CloudTrail's$/],
    ['a schedule with a wrong detail-type', schedule({ 'detail-type': 'Manual' }), /^source "aws.events" with detail-type "Manual"/],
    ['CloudTrail\'s detail-type from aws.events', schedule({ 'detail-type': 'AWS API Call via CloudTrail' }), /is neither/],
    ['a schedule detail-type from aws.ec2', trail({}, { 'detail-type': 'Scheduled Event' }), /is neither/],
    ['no source at all', { account: ACCOUNT, region: REGION }, /^source undefined with detail-type undefined/],
    ['another account', schedule({ account: other }), new RegExp(`^account "${other}" and region "${REGION}" are not this function's \\(${ACCOUNT}, ${REGION}\\)$`)],
    ['another Region', trail({}, { region: 'us-east-1' }), /^account "123456789012" and region "us-east-1" are not this function's/],
    ['CloudTrail without detail', trail({}, { detail: undefined }), /^the CloudTrail event is not ec2.amazonaws.com ModifyInstanceMetadataDefaults: detail undefined$/],
    ['CloudTrail with a null detail', trail({}, { detail: null }), /detail null$/],
    ['another API call', trail({ eventName: 'ModifyInstanceMetadataOptions' }), /^the CloudTrail event is not /],
    ['another event source', trail({ eventSource: 'ssm.amazonaws.com' }), /^the CloudTrail event is not /],
    ['a custom resource event without its StackId', { RequestType: 'Update', ResponseURL: 'https://example.com/r', LogicalResourceId: LOGICAL_ID }, /^source undefined/],
  ])('%s', async (_, event, reason) => {
    claimOwn({ HttpTokens: 'required' });
    await expect(run(event)).resolves.toBeUndefined();
    expect(awsCalls()).toBe(0);
    expect(lines()).toEqual([{ message: 'ignored', reason: expect.stringMatching(reason) }]);
    expect(world.state.HttpTokens).toBe('optional');
  });

  test('a detail that is too long is cut in the log line', () => {
    const reason = triggerOf(trail({ eventName: 'x'.repeat(1000) }), FUNCTION_ARN) as string;
    expect(reason.length).toBeLessThan(300);
  });

  test('a non-CloudFormation event that carries a ResponseURL is never answered', async () => {
    const endpoint = await ResponseEndpoint.start();
    try {
      const { url } = endpoint.issue({ stackId: SELF.stackId, requestId: 'r1', logicalResourceId: LOGICAL_ID, region: REGION });
      await run({ ...schedule(), RequestType: 'Create', ResponseURL: url, RequestId: 'r1' });
      expect(endpoint.attempts).toBe(0);
      expect(endpoint.answersFor('r1')).toEqual([]);
      expect(lines().some((l) => l.message === 'event')).toBe(false);
    } finally {
      await endpoint.stop();
    }
  });

  test('the guard off (no IMDS_DRIFT_GUARD): a valid event is ignored', async () => {
    delete process.env.IMDS_DRIFT_GUARD;
    claimOwn({ HttpTokens: 'required' });
    await run(schedule());
    expect(awsCalls()).toBe(0);
    expect(lines()).toEqual([{ message: 'ignored', reason: 'the drift guard is off (no IMDS_DRIFT_GUARD)' }]);
  });

  test.each([
    ['an unknown mode', { IMDS_DRIFT_GUARD: 'FIX' }, /IMDS_DRIFT_GUARD must be REAPPLY or REPORT_ONLY \(got "FIX"\)/],
    ['no StackId', { IMDS_STACK_ID: '' }, /IMDS_STACK_ID and IMDS_LOGICAL_ID set \(got "", "ImdsResource"\)/],
    ['no logical id', { IMDS_LOGICAL_ID: undefined }, /IMDS_STACK_ID and IMDS_LOGICAL_ID set \(got ".*", undefined\)/],
  ])('an incomplete environment (%s) fails the run without any call', async (_, env, message) => {
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await expect(run(schedule())).rejects.toThrow(message);
    expect(awsCalls()).toBe(0);
  });
});

describe('routing', () => {
  test.each([
    [{ RequestType: 'Create', ResponseURL: 'u', StackId: 's', LogicalResourceId: 'l' }, true],
    [{ RequestType: 'Create', ResponseURL: 'u', StackId: 's' }, false],
    [{ RequestType: 'Create', ResponseURL: 'u', LogicalResourceId: 'l' }, false],
    [{ RequestType: 'Create', StackId: 's', LogicalResourceId: 'l' }, false],
    [{ ResponseURL: 'u', StackId: 's', LogicalResourceId: 'l' }, false],
    [{ RequestType: 1, ResponseURL: 'u', StackId: 's', LogicalResourceId: 'l' }, false],
    [null, false],
    ['Create', false],
  ])('%j is a CloudFormation event: %s', (event, expected) => {
    expect(isCloudFormationEvent(event)).toBe(expected);
  });
});

test('the calls are stopped DRIFT_RESERVE_MS before the function\'s timeout, and the timer ends with the run', async () => {
  claimOwn({ HttpTokens: 'optional' });
  const cleared = jest.spyOn(global, 'clearTimeout');
  try {
    await run(schedule(), 30_000);
    expect(DRIFT_RESERVE_MS).toBe(2_000);
    const timers = (setTimeout as unknown as jest.Mock).mock;
    const index = timers.calls.map((call) => call[1]).lastIndexOf(28_000);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(cleared).toHaveBeenCalledWith(timers.results[index].value);
    // What the timer does when it fires: the signal every call received is aborted.
    const [, options] = cfn.commandCalls(DescribeStackResourceCommand)[0].args as unknown as [unknown, { abortSignal: AbortSignal }];
    const signal = options.abortSignal;
    expect(signal.aborted).toBe(false);
    timers.calls[index][0]();
    expect(signal.aborted).toBe(true);
  } finally {
    cleared.mockRestore();
  }
});

test('the function\'s ARN decides its account and Region', () => {
  expect(triggerOf(schedule(), `arn:aws:lambda:${REGION}:${ACCOUNT}:function:f`)).toEqual({ trigger: 'schedule' });
  expect(triggerOf(schedule(), `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f`)).toMatch(/are not this function's \(123456789012, us-east-1\)/);
  expect(triggerOf(schedule(), undefined)).toMatch(/are not this function's/);
});
