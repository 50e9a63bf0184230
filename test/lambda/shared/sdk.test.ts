/**
 * What every AWS client of the handler shares (lambda/sdk.ts): bounded attempts
 * and per-attempt timeouts on each client, and the wait for IAM propagation.
 */
import { createSsmClient } from '../../../lambda/account-defaults/claims';
import { createEc2Client } from '../../../lambda/account-defaults/ec2';
import { createCloudFormationClient } from '../../../lambda/account-defaults/ownership';
import { IAM_PROPAGATION_ATTEMPTS, MAX_ATTEMPTS, isAccessDenied, whileIamPropagates } from '../../../lambda/shared/sdk';
import { captureLogs, quickWaits } from '../support';

let logs: string[];
let delays: number[];
const signal = new AbortController().signal;
const env = { ...process.env };

beforeAll(() => {
  logs = captureLogs();
  delays = quickWaits();
  process.env.AWS_REGION = 'eu-west-1';
});
afterAll(() => {
  process.env = env;
});
beforeEach(() => {
  logs.length = 0;
  delays.length = 0;
});

const failure = (name: string) => Object.assign(new Error(`${name} happened`), { name });

describe('the clients', () => {
  test.each([
    ['EC2', createEc2Client],
    ['SSM', createSsmClient],
    ['CloudFormation', createCloudFormationClient],
  ])('%s: 6 attempts under the standard retry strategy, 3 s to connect and 5 s per attempt, ended by an error', async (_service, create) => {
    const client = create();
    expect(MAX_ATTEMPTS).toBe(6);
    expect(await client.config.maxAttempts()).toBe(MAX_ATTEMPTS);
    expect(client.config.retryMode).toBe('standard');
    const handlerConfig = await (client.config.requestHandler as unknown as { configProvider: Promise<Record<string, unknown>> }).configProvider;
    expect(handlerConfig).toMatchObject({ connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true });
    client.destroy();
  });
});

describe('isAccessDenied', () => {
  test.each(['UnauthorizedOperation', 'AccessDeniedException', 'AccessDenied'])('%s (EC2, SSM, CloudFormation) is access denied', (name) => {
    expect(isAccessDenied(failure(name))).toBe(true);
  });

  test.each([failure('ThrottlingException'), failure('AuthFailure'), failure('Error'), undefined, null, 'AccessDenied'])('%p is not', (err) => {
    expect(isAccessDenied(err)).toBe(false);
  });
});

describe('whileIamPropagates', () => {
  test('answers the call\'s result at once when it succeeds', async () => {
    const call = jest.fn().mockResolvedValue('ok');
    await expect(whileIamPropagates('SSM', call, signal)).resolves.toBe('ok');
    expect(call).toHaveBeenCalledTimes(1);
    expect(delays).toEqual([]);
  });

  test('retries access denied 1 s, 2 s, 4 s apart, logging each wait, and answers the first success', async () => {
    const call = jest.fn()
      .mockRejectedValueOnce(failure('AccessDeniedException'))
      .mockRejectedValueOnce(failure('AccessDeniedException'))
      .mockRejectedValueOnce(failure('AccessDeniedException'))
      .mockResolvedValue('ok');
    await expect(whileIamPropagates('SSM', call, signal)).resolves.toBe('ok');
    expect(call).toHaveBeenCalledTimes(4);
    expect(delays).toEqual([1_000, 2_000, 4_000]);
    expect(logs).toEqual([1, 2, 3].map((attempt) => JSON.stringify({
      message: 'AccessDeniedException on the first SSM call: waiting for the role\'s policy to propagate', attempt,
    })));
  });

  test(`gives up after ${IAM_PROPAGATION_ATTEMPTS} attempts with the last error`, async () => {
    expect(IAM_PROPAGATION_ATTEMPTS).toBe(4);
    const call = jest.fn(() => Promise.reject(failure('AccessDenied')));
    const err = await whileIamPropagates('CloudFormation', call, signal).catch((e) => e);
    expect(err).toMatchObject({ name: 'AccessDenied' });
    expect(call).toHaveBeenCalledTimes(IAM_PROPAGATION_ATTEMPTS);
    expect(delays).toEqual([1_000, 2_000, 4_000]);
  });

  test('any other error is thrown at once', async () => {
    const call = jest.fn().mockRejectedValue(failure('ThrottlingException'));
    await expect(whileIamPropagates('EC2', call, signal)).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(call).toHaveBeenCalledTimes(1);
    expect(delays).toEqual([]);
  });

  test('no wait once the deadline has passed (the signal aborted)', async () => {
    const controller = new AbortController();
    controller.abort();
    const call = jest.fn().mockRejectedValue(failure('UnauthorizedOperation'));
    await expect(whileIamPropagates('EC2', call, controller.signal)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    expect(call).toHaveBeenCalledTimes(1);
    expect(delays).toEqual([]);
  });
});
