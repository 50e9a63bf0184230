/**
 * The budget and the custom resource helpers shared by the functions
 * (lambda/shared/custom-resource.ts). The answers themselves are tested through
 * each handler (test/lambda/<name>/index.test.ts).
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { RESPONSE_RESERVE_MS, failurePhysicalId, isCloudFormationEvent, stablePhysicalId, withBudget } from '../../../lambda/shared/custom-resource';
import { captureLogs, lambdaContext, quickWaits } from '../support';

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
