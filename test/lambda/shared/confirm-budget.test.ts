/**
 * The confirmation's own time limit (CONFIRM_BUDGET_MS, lambda/shared/confirm.ts):
 * a CloudFormation that does not answer ends in CouldNotConfirmError ("could not
 * confirm ... nothing was changed") well before the function's deadline would
 * answer with the generic timeout reason. The client is a stand-in whose calls
 * never answer and end only when their abort signal fires (as the SDK's do);
 * the clock is jest's fake one. The real client against a hanging endpoint:
 * test/e2e/ownership.test.ts ("CloudFormation unreachable (hangs) on Delete").
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { OWNERSHIP_BUDGET_MS } from '../../../lambda/account-defaults/ownership';
import { CONFIRM_BUDGET_MS, CouldNotConfirmError, confirmEvent } from '../../../lambda/shared/confirm';
import { RESPONSE_RESERVE_MS } from '../../../lambda/shared/custom-resource';
import { IAM_PROPAGATION_ATTEMPTS } from '../../../lambda/shared/sdk';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:imds-handler`;
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/imds/0c5c6cd0-0000-11ef-0000-000000000000`;
const PHYSICAL_ID = `ImdsAccountDefaults:${ACCOUNT}:${REGION}`;
/** The account-defaults function's timeout (src/imds-account-defaults.ts HANDLER_TIMEOUT). */
const FUNCTION_TIMEOUT_MS = 30_000;

const event = {
  RequestType: 'Delete',
  ServiceToken: FUNCTION_ARN,
  ResponseURL: 'https://example.invalid/',
  StackId: STACK_ID,
  RequestId: 'request-1',
  LogicalResourceId: 'Imds',
  ResourceType: 'Custom::ImdsAccountDefaults',
  PhysicalResourceId: PHYSICAL_ID,
  ResourceProperties: { ServiceToken: FUNCTION_ARN, HttpTokens: 'required' },
} as CloudFormationCustomResourceEvent;
const context = { invokedFunctionArn: FUNCTION_ARN } as Context;

/** The signals the stand-in's calls were given. */
let signals: AbortSignal[];

/** A CloudFormation client whose calls answer `answer` after `delayMs`, or never (undefined); a call ends early when its signal fires. */
function cloudFormation(answer?: unknown, delayMs = 0): () => CloudFormationClient {
  const client = {
    send: (_command: unknown, options: { abortSignal: AbortSignal }) => new Promise((resolve, reject) => {
      signals.push(options.abortSignal);
      const aborted = () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
      if (options.abortSignal.aborted) {
        return aborted();
      }
      const timer = answer === undefined ? undefined : setTimeout(() => resolve(answer), delayMs);
      options.abortSignal.addEventListener('abort', () => {
        clearTimeout(timer);
        aborted();
      });
    }),
  };
  return () => client as unknown as CloudFormationClient;
}

const inProgress = {
  StackResourceDetail: { ResourceType: 'Custom::ImdsAccountDefaults', ResourceStatus: 'DELETE_IN_PROGRESS', PhysicalResourceId: PHYSICAL_ID },
};

function confirm(client: () => CloudFormationClient, budget = new AbortController()) {
  return confirmEvent(event, context, { resourceType: 'Custom::ImdsAccountDefaults', cloudFormation: client }, 'ImdsAccountDefaults:CreateFailed:', budget.signal);
}

beforeEach(() => {
  signals = [];
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

test('the limit leaves room for the wait for IAM on the first call, and with the ownership budget stays inside the function\'s budget', () => {
  const iamWaitMs = Array.from({ length: IAM_PROPAGATION_ATTEMPTS - 1 }, (_, i) => 1_000 * 2 ** i).reduce((a, b) => a + b, 0);
  expect(CONFIRM_BUDGET_MS).toBeGreaterThan(iamWaitMs + 2_000);
  expect(CONFIRM_BUDGET_MS + OWNERSHIP_BUDGET_MS).toBeLessThan(FUNCTION_TIMEOUT_MS - RESPONSE_RESERVE_MS);
});

test('a CloudFormation that never answers: CouldNotConfirmError at CONFIRM_BUDGET_MS, saying nothing was changed', async () => {
  const outcome = confirm(cloudFormation()).then(() => 'confirmed', (err) => err);
  await jest.advanceTimersByTimeAsync(CONFIRM_BUDGET_MS - 1);
  expect(signals).toHaveLength(1);
  expect(signals[0].aborted).toBe(false);
  await jest.advanceTimersByTimeAsync(1);
  const err = await outcome;
  expect(err).toBeInstanceOf(CouldNotConfirmError);
  expect(err.message).toBe('could not confirm the event with CloudFormation (timed out: AbortError: Request aborted); nothing was changed');
  expect(signals[0].aborted).toBe(true);
  expect(jest.getTimerCount()).toBe(0);
});

test('the function\'s budget ending first ends the confirmation too (the deadline\'s own answer goes out)', async () => {
  const budget = new AbortController();
  const outcome = confirm(cloudFormation(), budget).then(() => 'confirmed', (err) => err);
  await jest.advanceTimersByTimeAsync(1_000);
  budget.abort();
  const err = await outcome;
  expect(err).toBeInstanceOf(CouldNotConfirmError);
  expect(err.message).toBe('could not confirm the event with CloudFormation (AbortError: Request aborted); nothing was changed');
  expect(jest.getTimerCount()).toBe(0);
});

test('a budget already spent: the first call is made aborted', async () => {
  const budget = new AbortController();
  budget.abort();
  await expect(confirm(cloudFormation(inProgress, 10), budget)).rejects.toThrow(CouldNotConfirmError);
  expect(signals[0].aborted).toBe(true);
});

test('a confirmation that answers in time is not cut off, and its timer and listener are gone afterwards', async () => {
  const budget = new AbortController();
  const removed = jest.spyOn(budget.signal, 'removeEventListener');
  const outcome = confirm(cloudFormation(inProgress, CONFIRM_BUDGET_MS - 100), budget);
  await jest.advanceTimersByTimeAsync(CONFIRM_BUDGET_MS - 100);
  await expect(outcome).resolves.toEqual({ confirmed: true });
  expect(signals[0].aborted).toBe(false);
  expect(jest.getTimerCount()).toBe(0);
  expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
  // A later end of the budget no longer reaches the finished confirmation's calls.
  budget.abort();
  expect(signals[0].aborted).toBe(false);
});
