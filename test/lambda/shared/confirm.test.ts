/**
 * The confirmation of custom resource events with CloudFormation
 * (lambda/shared/confirm.ts), with CloudFormation, CloudWatch and EventBridge mocked by
 * aws-sdk-client-mock. Each handler's tests check that an unconfirmed event
 * changes nothing (test/lambda/<name>/index.test.ts).
 */
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CouldNotConfirmError, IN_PROGRESS, UNCONFIRMED_REASON, confirmEvent } from '../../../lambda/shared/confirm';
import { setFindingsOrigin } from '../../../lambda/shared/events';
import { ACCOUNT, REGION, SERVICE_TOKEN, STACK_ID, captureLogs, quickWaits } from '../support';
import { acceptEvents, eventBridge, putEvents, putEventsText } from '../support/aws-mocks';
import { CloudFormationView, emulateCloudFormation, newCloudFormationView, recordEvent } from '../support/cloudformation';

const cfn = mockClient(CloudFormationClient);
const cw = mockClient(CloudWatchClient);
const TYPE = 'Custom::Thing';
const PREFIX = 'Thing:CreateFailed:';
const context = { invokedFunctionArn: SERVICE_TOKEN } as Context;
const client = new CloudFormationClient({});
const options = { resourceType: TYPE, cloudFormation: () => client };
const signal = new AbortController().signal;

let view: CloudFormationView;
let logs: string[];

const event = (type: 'Create' | 'Update' | 'Delete', fields: Record<string, unknown> = {}) => ({
  RequestType: type,
  ServiceToken: SERVICE_TOKEN,
  ResponseURL: 'https://example.invalid/x?X-Amz-Signature=secret',
  StackId: STACK_ID,
  RequestId: 'req-1',
  LogicalResourceId: 'Thing',
  ResourceType: TYPE,
  ResourceProperties: { ServiceToken: SERVICE_TOKEN },
  ...(type === 'Create' ? {} : { PhysicalResourceId: 'thing-1' }),
  ...fields,
}) as unknown as CloudFormationCustomResourceEvent;

/** Confirms after CloudFormation recorded the event (unless `recorded` is false). */
const confirm = (e: CloudFormationCustomResourceEvent, opts: object = options, recorded = true) => {
  if (recorded) recordEvent(view, e);
  return confirmEvent(e, context, opts as typeof options, PREFIX, signal);
};

beforeAll(() => {
  logs = captureLogs();
  quickWaits();
  setFindingsOrigin(SERVICE_TOKEN);
});
beforeEach(() => {
  cfn.reset();
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).callsFake(acceptEvents);
  view = newCloudFormationView();
  emulateCloudFormation(cfn, view);
  logs.length = 0;
});

test('the fixed reason, and the statuses CloudFormation shows while it waits', () => {
  expect(UNCONFIRMED_REASON).toBe('This event was not confirmed by CloudFormation; nothing was changed. See the function\'s log.');
  expect(IN_PROGRESS).toEqual({ Create: 'CREATE_IN_PROGRESS', Update: 'UPDATE_IN_PROGRESS', Delete: 'DELETE_IN_PROGRESS' });
});

test.each(['Create', 'Update', 'Delete'] as const)('a %s CloudFormation waits for is confirmed; no warning, no metric, no stack status unless asked', async (type) => {
  expect(await confirm(event(type))).toEqual({ confirmed: true });
  expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: 'Thing' });
  expect(cfn).not.toHaveReceivedCommand(DescribeStacksCommand);
  expect(cw).not.toHaveReceivedCommand(PutMetricDataCommand);
  expect(logs).toEqual([]);
});

test('the stack status is read for the request types asked, and handed on', async () => {
  view.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
  const opts = { ...options, readStackStatusOn: ['Delete'] };
  expect(await confirm(event('Delete'), opts)).toEqual({ confirmed: true, stackStatus: 'ROLLBACK_IN_PROGRESS' });
  expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
  cfn.resetHistory();
  expect(await confirm(event('Update'), opts)).toEqual({ confirmed: true });
  expect(cfn).not.toHaveReceivedCommand(DescribeStacksCommand);
});

test('a qualifier on the invoked ARN is ignored (the first seven parts are compared)', async () => {
  const e = event('Create');
  recordEvent(view, e);
  expect(await confirmEvent(e, { invokedFunctionArn: `${SERVICE_TOKEN}:live` } as Context, options, PREFIX, signal)).toEqual({ confirmed: true });
});

test('a qualifier on the ServiceToken is ignored as well (an alias as the service token)', async () => {
  const e = event('Create', { ServiceToken: `${SERVICE_TOKEN}:live` });
  recordEvent(view, e);
  expect(await confirmEvent(e, context, options, PREFIX, signal)).toEqual({ confirmed: true });
  expect(await confirmEvent(e, { invokedFunctionArn: `${SERVICE_TOKEN}:live` } as Context, options, PREFIX, signal)).toEqual({ confirmed: true });
});

test('a Delete after a failed Create: the marker id is confirmed when CloudFormation shows it or no physical id; another id is not', async () => {
  const marker = event('Delete', { PhysicalResourceId: `${PREFIX}req-0` });
  expect(await confirm(marker)).toEqual({ confirmed: true });
  view.confirmEvents = false;
  view.resources.set(`${STACK_ID}|Thing`, { type: TYPE, status: 'DELETE_IN_PROGRESS' });
  expect(await confirmEvent(marker, context, options, PREFIX, signal)).toEqual({ confirmed: true });
  expect(await confirmEvent(event('Delete'), context, options, PREFIX, signal)).toMatchObject({ confirmed: false });
  expect(await confirmEvent(event('Delete', { PhysicalResourceId: 5 }), context, options, PREFIX, signal)).toMatchObject({ confirmed: false });
  // An empty physical id counts as none.
  view.resources.set(`${STACK_ID}|Thing`, { type: TYPE, status: 'DELETE_IN_PROGRESS', physicalId: '' });
  expect(await confirmEvent(marker, context, options, PREFIX, signal)).toEqual({ confirmed: true });
  expect(await confirmEvent(event('Delete', { PhysicalResourceId: `x${PREFIX}req-0` }), context, options, PREFIX, signal)).toMatchObject({ confirmed: false });
  // A marker is confirmed only where CloudFormation shows no physical id: one it holds must match.
  view.resources.set(`${STACK_ID}|Thing`, { type: TYPE, status: 'DELETE_IN_PROGRESS', physicalId: 'thing-1' });
  expect(await confirmEvent(marker, context, options, PREFIX, signal)).toMatchObject({ confirmed: false });
  expect(await confirmEvent(event('Delete'), context, options, PREFIX, signal)).toEqual({ confirmed: true });
});

describe('mismatches', () => {
  const mismatchOf = async (e: CloudFormationCustomResourceEvent, setUp: () => void = () => undefined, ctx = context, opts: object = options) => {
    recordEvent(view, event(e.RequestType));
    setUp();
    const result = await confirmEvent(e, ctx, opts as typeof options, PREFIX, signal);
    expect(result.confirmed).toBe(false);
    return (result as { mismatch: string }).mismatch;
  };

  test.each([
    ['another function', { ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:other` }, 'the ServiceToken is not the invoked function'],
    ['no ServiceToken', { ServiceToken: undefined }, 'the ServiceToken is not the invoked function'],
    ['a shorter ServiceToken', { ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function` }, 'the ServiceToken is not the invoked function'],
    ['a StackId of another account', { StackId: STACK_ID.replace(ACCOUNT, '210987654321') }, 'the StackId is not a stack of the function\'s account and Region'],
    ['a StackId of another Region', { StackId: STACK_ID.replace(REGION, 'us-east-1') }, 'the StackId is not a stack of the function\'s account and Region'],
    ['a StackId of another partition', { StackId: STACK_ID.replace('arn:aws:', 'arn:aws-cn:') }, 'the StackId is not a stack of the function\'s account and Region'],
    ['a StackId that is not a stack', { StackId: `${STACK_ID}/x` }, 'the StackId is not a stack of the function\'s account and Region'],
    ['a StackId of another service', { StackId: STACK_ID.replace('cloudformation', 'ssm') }, 'the StackId is not a stack of the function\'s account and Region'],
    ['no StackId', { StackId: 5 }, 'the StackId is not a stack of the function\'s account and Region'],
    ['an unknown RequestType', { RequestType: 'Replace' }, 'the RequestType is not Create, Update or Delete'],
    ['a RequestType from Object\'s prototype', { RequestType: 'toString' }, 'the RequestType is not Create, Update or Delete'],
  ])('%s: reported without asking CloudFormation', async (_what, fields, mismatch) => {
    const e = { ...event('Update'), ...fields } as CloudFormationCustomResourceEvent;
    const result = await confirmEvent(e, context, options, PREFIX, signal);
    expect(result).toEqual({ confirmed: false, mismatch });
    expect(cfn.calls()).toHaveLength(0);
  });

  test('a ServiceToken equal to an invoked ARN of fewer than seven parts, or both missing, confirms nothing', async () => {
    const short = `arn:aws:lambda:${REGION}:${ACCOUNT}:function`;
    expect(await mismatchOf({ ...event('Create'), ServiceToken: short }, undefined, { invokedFunctionArn: short } as Context)).toBe('the ServiceToken is not the invoked function');
    expect(await mismatchOf({ ...event('Create'), ServiceToken: undefined } as unknown as CloudFormationCustomResourceEvent, undefined, {} as Context))
      .toBe('the ServiceToken is not the invoked function');
    expect(cfn.calls()).toHaveLength(0);
  });

  test('a StackId with something before the ARN is not a stack', async () => {
    expect(await mismatchOf({ ...event('Create'), StackId: `x${STACK_ID}` })).toBe('the StackId is not a stack of the function\'s account and Region');
    expect(await mismatchOf({ ...event('Create'), StackId: STACK_ID.replace('123456789012', '1234567890123') })).toBe('the StackId is not a stack of the function\'s account and Region');
    expect(cfn.calls()).toHaveLength(0);
  });

  test('a context without a function ARN confirms nothing', async () => {
    expect(await mismatchOf(event('Create'), undefined, {} as Context)).toBe('the ServiceToken is not the invoked function');
    expect(await mismatchOf(event('Create'), undefined, { invokedFunctionArn: 'arn:aws:lambda' } as Context)).toBe('the ServiceToken is not the invoked function');
  });

  test('the resource CloudFormation does not have, another type, another status, another physical id, no stack', async () => {
    view.confirmEvents = false;
    const key = `${STACK_ID}|Thing`;
    expect(await mismatchOf(event('Create'), () => view.resources.delete(key))).toBe('CloudFormation has no such stack or resource');
    expect(await mismatchOf(event('Create'), () => view.resources.set(key, { type: 'Custom::Other', status: 'CREATE_IN_PROGRESS' }))).toBe('the resource is of type Custom::Other, not Custom::Thing');
    expect(await mismatchOf(event('Update'), () => view.resources.set(key, { type: TYPE, status: 'UPDATE_COMPLETE', physicalId: 'thing-1' }))).toBe('the resource is UPDATE_COMPLETE, not UPDATE_IN_PROGRESS');
    expect(await mismatchOf(event('Update'), () => view.resources.set(key, { type: TYPE, status: 'UPDATE_IN_PROGRESS', physicalId: 'thing-2' }))).toBe('the PhysicalResourceId is not the resource\'s');
    expect(await mismatchOf(event('Create'), () => view.resources.set(key, { type: TYPE, status: '' }))).toBe('the resource is without status, not CREATE_IN_PROGRESS');
    expect(await mismatchOf(event('Delete'), () => view.resources.set(key, { type: TYPE, status: 'DELETE_COMPLETE', physicalId: 'thing-1' }))).toBe('the resource is DELETE_COMPLETE, not DELETE_IN_PROGRESS');
    expect(await mismatchOf(event('Delete'), () => view.stacks.set(STACK_ID, null), context, { ...options, readStackStatusOn: ['Delete'] })).toBe('CloudFormation has no such stack');
  });

  test('a mismatch is logged as a security warning with the event\'s ids (never its ResponseURL) and put as a metric', async () => {
    view.confirmEvents = false;
    const e = event('Delete');
    const result = await confirmEvent(e, context, options, PREFIX, signal);
    expect(result).toEqual({ confirmed: false, mismatch: 'CloudFormation has no such stack or resource' });
    expect(logs).toEqual([JSON.stringify({
      message: 'security warning',
      warning: 'unconfirmed-event',
      mismatch: 'CloudFormation has no such stack or resource',
      RequestType: 'Delete',
      StackId: STACK_ID,
      LogicalResourceId: 'Thing',
      RequestId: 'req-1',
    })]);
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { Namespace: 'CdkImdsAccountDefaults', MetricData: [{ MetricName: 'UnconfirmedEvents', Value: 1, Unit: 'Count', Dimensions: [] }] });
    // The same fields as a finding (not held: confirmEvent runs here outside answerCustomResource); never the ResponseURL.
    expect(putEvents()).toEqual([expect.objectContaining({
      detailType: 'IMDS Security Warning',
      detail: {
        version: '1',
        account: ACCOUNT,
        region: REGION,
        resource: { function: 'imds-handler' },
        warning: 'unconfirmed-event',
        metric: 'UnconfirmedEvents',
        count: 1,
        entries: [{ mismatch: 'CloudFormation has no such stack or resource', RequestType: 'Delete', StackId: STACK_ID, LogicalResourceId: 'Thing', RequestId: 'req-1' }],
      },
    })]);
    expect(putEventsText()).not.toMatch(/example\.invalid|secret/);
  });

  test('a metric that cannot be put does not change the outcome', async () => {
    view.confirmEvents = false;
    cw.on(PutMetricDataCommand).rejects(new Error('no'));
    expect(await confirmEvent(event('Create'), context, options, PREFIX, signal)).toMatchObject({ confirmed: false });
  });
});

describe('CloudFormation unreachable', () => {
  test('an error is CouldNotConfirmError, naming the cause; nothing is reported', async () => {
    cfn.on(DescribeStackResourceCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const err = await confirmEvent(event('Create'), context, options, PREFIX, signal).catch((e) => e);
    expect(err).toBeInstanceOf(CouldNotConfirmError);
    expect(err.name).toBe('CouldNotConfirmError');
    expect(err.message).toBe('could not confirm the event with CloudFormation (Throttling: Rate exceeded); nothing was changed');
    expect(cw).not.toHaveReceivedCommand(PutMetricDataCommand);
  });

  test('DescribeStacks failing is CouldNotConfirmError too', async () => {
    cfn.on(DescribeStacksCommand).rejects(new Error('down'));
    await expect(confirm(event('Delete'), { ...options, readStackStatusOn: ['Delete'] })).rejects.toThrow('could not confirm the event with CloudFormation (down); nothing was changed');
  });

  test('access denied on the first call is waited out while IAM propagates, then given up', async () => {
    recordEvent(view, event('Create'));
    const denied = Object.assign(new Error('not yet'), { name: 'AccessDenied' });
    cfn.on(DescribeStackResourceCommand).rejectsOnce(denied).callsFake((input) => ({
      StackResourceDetail: { ResourceType: TYPE, ResourceStatus: 'CREATE_IN_PROGRESS', StackId: input.StackName, LogicalResourceId: input.LogicalResourceId },
    }));
    expect(await confirmEvent(event('Create'), context, options, PREFIX, signal)).toEqual({ confirmed: true });
    expect(logs).toContainEqual(JSON.stringify({ message: 'AccessDenied on the first CloudFormation call: waiting for the role\'s policy to propagate', attempt: 1 }));
    cfn.on(DescribeStackResourceCommand).rejects(denied);
    await expect(confirmEvent(event('Create'), context, options, PREFIX, signal)).rejects.toThrow(/AccessDenied: not yet/);
    expect(cfn.commandCalls(DescribeStackResourceCommand)).toHaveLength(2 + 4);
  });
});
