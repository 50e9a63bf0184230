/**
 * The budget and the custom resource helpers shared by the functions
 * (lambda/shared/custom-resource.ts). The answers themselves are tested through
 * each handler (test/lambda/<name>/index.test.ts).
 */
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutEventsCommand, PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { UNCONFIRMED_REASON } from '../../../lambda/shared/confirm';
import {
  Budget, CustomResourceOptions, Outcome, RESPONSE_RESERVE_MS,
  answerCustomResource, failurePhysicalId, isCloudFormationEvent, logEvent, stablePhysicalId, withBudget,
} from '../../../lambda/shared/custom-resource';
import { held } from '../../../lambda/shared/events';
import { reportSecurityWarning } from '../../../lambda/shared/security-warning';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { LOGICAL_ID, STACK_ID, answerOf, captureLogs, createEvent, deleteEvent, lambdaContext, quickWaits, updateEvent } from '../support';
import { World, acceptEvents, cfn, cw, emulate, eventBridge, newWorld, putEvents } from '../support/aws-mocks';
import { recordEvent } from '../support/cloudformation';

let logs: string[];
let delays: number[];

beforeAll(() => {
  logs = captureLogs();
  delays = quickWaits();
});
beforeEach(() => {
  logs.length = 0;
  delays.length = 0;
});

const event = (fields: Record<string, unknown>) => ({
  RequestType: 'Create', ResponseURL: 'https://example.invalid/x', StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1', LogicalResourceId: 'R', RequestId: 'req-1', ...fields,
}) as unknown as CloudFormationCustomResourceEvent;

describe('isCloudFormationEvent', () => {
  test('needs RequestType, ResponseURL, StackId and LogicalResourceId, each a string', () => {
    expect(isCloudFormationEvent(event({}))).toBe(true);
    for (const key of ['RequestType', 'ResponseURL', 'StackId', 'LogicalResourceId']) {
      expect(isCloudFormationEvent(event({ [key]: undefined }))).toBe(false);
      expect(isCloudFormationEvent(event({ [key]: 1 }))).toBe(false);
    }
    for (const other of [null, undefined, 'RequestType', 3, []]) {
      expect(isCloudFormationEvent(other)).toBe(false);
    }
  });
});

describe('logEvent', () => {
  test('an Update: its ids, physical id and both property sets; never the ResponseURL or the ServiceToken', () => {
    logEvent(event({
      RequestType: 'Update',
      ServiceToken: 'arn:token',
      PhysicalResourceId: 'id-1',
      ResourceType: 'Custom::X',
      ResourceProperties: { A: '1' },
      OldResourceProperties: { A: '0' },
    }));
    expect(logs).toEqual([JSON.stringify({
      message: 'event',
      RequestType: 'Update',
      RequestId: 'req-1',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1',
      LogicalResourceId: 'R',
      PhysicalResourceId: 'id-1',
      ResourceProperties: { A: '1' },
      OldResourceProperties: { A: '0' },
    })]);
  });

  test('a Create: no physical id, no old properties', () => {
    logEvent(event({ ResourceProperties: { A: '1' } }));
    expect(logs).toEqual(['{"message":"event","RequestType":"Create","RequestId":"req-1","StackId":"arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1","LogicalResourceId":"R","ResourceProperties":{"A":"1"}}']);
  });
});

describe('physical ids', () => {
  test('stable: the prefix, then the account and Region of the StackId', () => {
    expect(stablePhysicalId(event({}), 'P')).toBe('P:123456789012:eu-west-1');
  });

  test('a StackId that is not an ARN: unknown account, the function\'s Region (or unknown)', () => {
    const region = process.env.AWS_REGION;
    try {
      process.env.AWS_REGION = 'ap-south-2';
      expect(stablePhysicalId(event({ StackId: 'odd' }), 'P')).toBe('P:unknown-account:ap-south-2');
      delete process.env.AWS_REGION;
      expect(stablePhysicalId(event({ StackId: 'odd' }), 'P')).toBe('P:unknown-account:unknown-region');
    } finally {
      if (region === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = region;
    }
  });

  test('on failure: a Create gets the marker with its RequestId; Update and Delete keep their id', () => {
    expect(failurePhysicalId(event({}), 'P:CreateFailed:')).toBe('P:CreateFailed:req-1');
    expect(failurePhysicalId(event({ PhysicalResourceId: 'ignored' }), 'M:')).toBe('M:req-1');
    expect(failurePhysicalId(event({ RequestType: 'Update', PhysicalResourceId: 'id-1' }), 'M:')).toBe('id-1');
    expect(failurePhysicalId(event({ RequestType: 'Delete', PhysicalResourceId: 'id-2' }), 'M:')).toBe('id-2');
    expect(failurePhysicalId(event({ RequestType: 'Delete', PhysicalResourceId: '' }), 'M:')).toBe('M:req-1');
  });
});

describe('withBudget', () => {
  test('the work gets the budget (timeout less RESPONSE_RESERVE_MS) and an unfired signal; the timer is cleared after it', async () => {
    const clear = jest.spyOn(global, 'clearTimeout');
    const onDeadline = jest.fn();
    const before = Date.now();
    try {
      const result = await withBudget(lambdaContext(60_000), onDeadline, async (budget) => {
        expect(budget.signal.aborted).toBe(false);
        expect(budget.end - budget.functionEnd).toBe(-RESPONSE_RESERVE_MS);
        expect(budget.functionEnd).toBeGreaterThanOrEqual(before + 60_000 - 50);
        expect(budget.functionEnd).toBeLessThanOrEqual(Date.now() + 60_000);
        return 'done';
      });
      expect(result).toBe('done');
      const timerMs = delays.find((d) => d > 50_000)!;
      expect(timerMs).toBeGreaterThan(60_000 - RESPONSE_RESERVE_MS - 50);
      expect(timerMs).toBeLessThanOrEqual(60_000 - RESPONSE_RESERVE_MS);
      expect(clear).toHaveBeenCalledTimes(1);
      expect(onDeadline).not.toHaveBeenCalled();
    } finally {
      clear.mockRestore();
    }
  });

  test('the timer is cleared when the work throws, and the error goes through', async () => {
    const clear = jest.spyOn(global, 'clearTimeout');
    try {
      await expect(withBudget(lambdaContext(60_000), jest.fn(), async () => { throw new Error('boom'); })).rejects.toThrow('boom');
      expect(clear).toHaveBeenCalledTimes(1);
    } finally {
      clear.mockRestore();
    }
  });

  test('at the budget\'s end: the signal fires, the deadline is logged and onDeadline gets the budget\'s length', async () => {
    const onDeadline = jest.fn();
    let signal: AbortSignal | undefined;
    await withBudget({ getRemainingTimeInMillis: () => RESPONSE_RESERVE_MS + 1_500 } as Context, onDeadline, async (budget) => {
      signal = budget.signal;
      while (!budget.signal.aborted) await new Promise((resolve) => setImmediate(resolve));
    });
    expect(signal!.aborted).toBe(true);
    expect(onDeadline).toHaveBeenCalledWith(1_500);
    expect(logs).toEqual(['{"message":"deadline reached","budgetMs":1500}']);
  });

  test('less time left than the reserve: a budget of 0', async () => {
    const onDeadline = jest.fn();
    await withBudget({ getRemainingTimeInMillis: () => 1_000 } as Context, onDeadline, async (budget) => {
      expect(budget.end - budget.functionEnd).toBe(-1_000);
      while (!budget.signal.aborted) await new Promise((resolve) => setImmediate(resolve));
    });
    expect(onDeadline).toHaveBeenCalledWith(0);
  });
});

describe('answerCustomResource: the event is confirmed before the work runs (shared/confirm.ts)', () => {
  const PREFIX = 'Thing:CreateFailed:';
  const OPTIONS: CustomResourceOptions = {
    createFailedPrefix: PREFIX,
    timeoutReason: (requestType, seconds) => `${requestType} did not finish within ${seconds} s`,
    confirm: { resourceType: 'Custom::ImdsAccountDefaults', cloudFormation: () => new CloudFormationClient({ region: 'eu-west-1' }), readStackStatusOn: ['Delete'] },
  };
  let endpoint: ResponseEndpoint;
  let world: World;
  let work: jest.Mock<Promise<Outcome>, [Budget, { stackStatus?: string }]>;
  const handler = (e: CloudFormationCustomResourceEvent, context: Context) => answerCustomResource(e, context, OPTIONS, work);
  const run = (e: CloudFormationCustomResourceEvent, timeoutMs?: number) => answerOf(handler, endpoint, e, timeoutMs);
  const parsed = () => logs.map((l) => JSON.parse(l));
  const warnings = () => parsed().filter((l) => l.message === 'security warning');
  /** Records the event as CloudFormation shows it while it waits (answerOf does this for the other tests). */
  const onEventSentRecord = (e: CloudFormationCustomResourceEvent) => recordEvent(world, e);

  beforeAll(async () => {
    endpoint = await ResponseEndpoint.start();
  });
  afterAll(() => endpoint.stop());
  beforeEach(() => {
    world = newWorld();
    emulate(world);
    work = jest.fn(async () => ({ physicalResourceId: 'thing-1', data: { Answer: '42' } }));
  });

  test('a confirmed Create runs the work once, with the budget and no stack status, and answers its outcome', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'thing-1', Data: { Answer: '42' } });
    expect(work).toHaveBeenCalledTimes(1);
    const [budget, confirmed] = work.mock.calls[0];
    expect(budget.signal.aborted).toBe(false);
    expect(budget.functionEnd - budget.end).toBe(RESPONSE_RESERVE_MS);
    expect(confirmed).toEqual({ stackStatus: undefined });
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: LOGICAL_ID });
    expect(cfn).not.toHaveReceivedCommand(DescribeStacksCommand);
    expect(warnings()).toEqual([]);
  });

  test('a confirmed Delete hands the stack status to the work', async () => {
    world.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
    work.mockImplementation(async () => ({ physicalResourceId: 'caller-id' }));
    const answer = await run(deleteEvent(endpoint, {}, 'caller-id'));
    expect(answer.Status).toBe('SUCCESS');
    expect(work.mock.calls[0][1]).toEqual({ stackStatus: 'ROLLBACK_IN_PROGRESS' });
  });

  test('an unconfirmed Create: the work never runs; FAILED with the fixed reason, the marker with its RequestId, no Data', async () => {
    world.confirmEvents = false; // CloudFormation has no such resource
    const created = createEvent(endpoint, { HttpTokens: 'required' });
    const answer = await run(created);
    expect(work).not.toHaveBeenCalled();
    expect(answer).toEqual(expect.objectContaining({ Status: 'FAILED', Reason: UNCONFIRMED_REASON, PhysicalResourceId: `${PREFIX}${created.RequestId}` }));
    expect(answer.Data).toBeUndefined();
    // Nothing the caller did not send: its own ids, the fixed reason (NoEcho false is the protocol's default).
    expect(Object.keys(answer).sort()).toEqual(['LogicalResourceId', 'NoEcho', 'PhysicalResourceId', 'Reason', 'RequestId', 'StackId', 'Status']);
    expect(warnings()).toEqual([expect.objectContaining({ warning: 'unconfirmed-event', mismatch: 'CloudFormation has no such stack or resource', RequestId: created.RequestId })]);
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'UnconfirmedEvents', Value: 1 })] });
    expect(parsed().map((l) => l.message)).not.toContain('failed');
  });

  test.each([
    ['Update', (e: ResponseEndpoint) => updateEvent(e, { HttpTokens: 'required' }, { HttpTokens: 'optional' }, 'caller-id')],
    ['Delete', (e: ResponseEndpoint) => deleteEvent(e, { HttpTokens: 'required' }, 'caller-id')],
  ])('an unconfirmed %s: the work never runs; FAILED with the fixed reason and the physical id the caller sent, no Data', async (_type, make) => {
    world.confirmEvents = false;
    world.resources.set(`${STACK_ID}|${LOGICAL_ID}`, { type: 'Custom::ImdsAccountDefaults', status: 'UPDATE_COMPLETE', physicalId: 'caller-id' });
    const answer = await run(make(endpoint));
    expect(work).not.toHaveBeenCalled();
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON, PhysicalResourceId: 'caller-id' });
    expect(answer.Data).toBeUndefined();
    expect(warnings()).toHaveLength(1);
  });

  test('CloudFormation unreachable (CouldNotConfirmError): the work never runs; FAILED naming the cause, no security warning', async () => {
    cfn.on(DescribeStackResourceCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
    const created = createEvent(endpoint, { HttpTokens: 'required' });
    const answer = await run(created);
    expect(work).not.toHaveBeenCalled();
    expect(answer).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: `${PREFIX}${created.RequestId}`,
      Reason: 'CouldNotConfirmError: could not confirm the event with CloudFormation (Throttling: Rate exceeded); nothing was changed',
    });
    expect(answer.Data).toBeUndefined();
    expect(warnings()).toEqual([]);
    expect(parsed()).toContainEqual({ message: 'failed', error: answer.Reason });
  });

  test('work that throws: FAILED with the error\'s description, the caller\'s physical id (an Update)', async () => {
    work.mockRejectedValue(Object.assign(new Error('no way'), { name: 'Nope' }));
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }, 'caller-id'));
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: 'Nope: no way', PhysicalResourceId: 'caller-id' });
    expect(parsed()).toContainEqual({ message: 'failed', error: 'Nope: no way' });
  });

  test('the budget\'s end: answered FAILED once, with the timeout reason and the caller\'s physical id, though the work finishes after', async () => {
    work.mockImplementation(async (budget) => {
      await new Promise<void>((resolve) => (budget.signal.aborted ? resolve() : budget.signal.addEventListener('abort', () => resolve())));
      return { physicalResourceId: 'late' };
    });
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }, 'caller-id'), RESPONSE_RESERVE_MS + 2_400);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: 'Update did not finish within 2 s', PhysicalResourceId: 'caller-id' });
  });

  test('an answer that cannot be delivered is logged, once, and the call still returns', async () => {
    endpoint.failNext(100);
    try {
      const created = createEvent(endpoint, { HttpTokens: 'required' });
      onEventSentRecord(created);
      await handler(created, lambdaContext());
      expect(endpoint.answersFor(created.RequestId)).toHaveLength(0);
      const givingUp = parsed().filter((l) => l.message === 'giving up on answering CloudFormation');
      expect(givingUp).toHaveLength(1);
      expect(givingUp[0].error).toMatch(/^could not answer CloudFormation after \d+ attempts: HTTP 500/);
    } finally {
      endpoint.failNext(0);
    }
  });

  describe('findings: put after the answer', () => {
    /** The answers the endpoint had for the event when each PutEvents call was made. */
    let answeredBefore: number[];
    let requestId: string;
    const withFinding = (e: CloudFormationCustomResourceEvent, context: Context) => answerCustomResource(e, context, {
      ...OPTIONS, finding: ({ status, reason }) => ({ type: 'IMDS Defaults Changed', detail: { outcome: status, reason } }),
    }, work);
    const runWithFinding = (e: CloudFormationCustomResourceEvent, timeoutMs?: number) => {
      requestId = e.RequestId;
      return answerOf(withFinding, endpoint, e, timeoutMs);
    };

    beforeEach(() => {
      answeredBefore = [];
      eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
        answeredBefore.push(endpoint.answersFor(requestId).length);
        return acceptEvents(input);
      });
    });

    test('what was held while the event ran, then the event\'s own finding, in one put after the answer, with the event\'s resource', async () => {
      work.mockImplementation(async () => {
        expect(held.list).toEqual([]);
        await reportSecurityWarning('claim-problem', 'ClaimProblems', { name: '/p' });
        return { physicalResourceId: 'thing-1' };
      });
      await runWithFinding(createEvent(endpoint, { HttpTokens: 'required' }));
      expect(answeredBefore.length).toBeGreaterThan(0);
      expect(answeredBefore.every((n) => n === 1)).toBe(true);
      expect(putEvents().map((e) => [e.detailType, e.detail.resource])).toEqual([
        ['IMDS Security Warning', expect.objectContaining({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID })],
        ['IMDS Defaults Changed', expect.objectContaining({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID })],
      ]);
      expect(putEvents('IMDS Defaults Changed')[0].detail).toMatchObject({ outcome: 'SUCCESS' });
      expect(held.list).toBeUndefined();
    });

    test('the finding gets the answer sent: FAILED and its reason when the work throws', async () => {
      work.mockRejectedValue(Object.assign(new Error('no way'), { name: 'Nope' }));
      await runWithFinding(createEvent(endpoint, { HttpTokens: 'required' }));
      expect(putEvents('IMDS Defaults Changed')[0].detail).toMatchObject({ outcome: 'FAILED', reason: 'Nope: no way' });
    });

    test('an unconfirmed event: no finding of its own; its warning is put after the answer, without the stack it claims', async () => {
      world.confirmEvents = false;
      await runWithFinding(createEvent(endpoint, { HttpTokens: 'required' }));
      expect(answeredBefore.length).toBeGreaterThan(0);
      expect(answeredBefore.every((n) => n === 1)).toBe(true);
      expect(putEvents().map((e) => e.detailType)).toEqual(['IMDS Security Warning']);
      expect(putEvents()[0].detail.resource).not.toHaveProperty('stackId');
      expect(putEvents()[0].detail.resource).not.toHaveProperty('logicalResourceId');
    });

    test('CloudFormation unreachable: no finding (nothing confirmed, nothing held), no put', async () => {
      cfn.on(DescribeStackResourceCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
      await runWithFinding(createEvent(endpoint, { HttpTokens: 'required' }));
      expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
    });

    test('the put is bounded by the function\'s time left less 1 s', async () => {
      const signals: AbortSignal[] = [];
      eventBridge.reset();
      eventBridge.send.callsFake((_command: unknown, options: { abortSignal: AbortSignal }) => {
        signals.push(options.abortSignal);
        return new Promise<never>((_resolve, reject) => {
          const aborted = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
          if (options.abortSignal.aborted) aborted();
          options.abortSignal.addEventListener('abort', aborted);
        });
      });
      const started = Date.now();
      // 1.5 s: the put has (about) 0.5 s after the answer.
      await runWithFinding(createEvent(endpoint, { HttpTokens: 'required' }), 1_500);
      expect(signals).toHaveLength(1);
      expect(signals[0].aborted).toBe(true);
      // Well before events.ts's own budget (3 s) would have ended it.
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });
});
