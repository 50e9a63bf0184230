/**
 * The handler's own bounded retries of throttled calls (lambda/instance-upgrade/retry.ts).
 */
import { THROTTLE_DELAYS_MS, THROTTLING_CODES, isThrottling, retryThrottled } from '../../../lambda/instance-upgrade/retry';
import { captureLogs, quickWaits } from '../support';

let logs: string[];
let delays: number[];
const signal = new AbortController().signal;
const error = (name: string) => Object.assign(new Error(`${name} happened`), { name });

beforeAll(() => {
  logs = captureLogs();
  delays = quickWaits();
});
beforeEach(() => {
  logs.length = 0;
  delays.length = 0;
});
afterEach(() => {
  jest.spyOn(Date, 'now').mockRestore();
});

/** A call that fails with each error in turn, then answers 'ok'. */
function failing(...errors: unknown[]): jest.Mock {
  const call = jest.fn();
  for (const err of errors) call.mockRejectedValueOnce(err);
  return call.mockResolvedValue('ok');
}

test('the codes of throttling: EC2\'s and CloudWatch\'s', () => {
  expect(THROTTLING_CODES).toEqual(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);
  expect(THROTTLE_DELAYS_MS).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
  for (const other of [undefined, null, 'Throttling', error('InternalError'), error('TooManyRequests')]) {
    expect(isThrottling(other)).toBe(false);
  }
});

test.each(THROTTLING_CODES)('%s is retried after 1 s, and logged', async (code) => {
  const call = failing(error(code));
  await expect(retryThrottled('GetMetricData', call, signal, Infinity)).resolves.toBe('ok');
  expect(call).toHaveBeenCalledTimes(2);
  expect(delays).toEqual([1_000]);
  expect(logs).toEqual([JSON.stringify({ message: 'GetMetricData throttled: retrying', error: code, retry: 1, delayMs: 1_000 })]);
});

test('a throttled call is retried once for each delay, then its error is thrown', async () => {
  const errors = THROTTLE_DELAYS_MS.map((_, i) => error(i % 2 ? 'Throttling' : 'RequestLimitExceeded'));
  const last = error('RequestLimitExceeded');
  const call = failing(...errors, last);
  await expect(retryThrottled('x', call, signal, Infinity)).rejects.toBe(last);
  expect(call).toHaveBeenCalledTimes(THROTTLE_DELAYS_MS.length + 1);
  expect(delays).toEqual(THROTTLE_DELAYS_MS);
  expect(logs.map((l) => JSON.parse(l).retry)).toEqual([1, 2, 3, 4, 5]);
});

test('other errors, and a rejection that is not an error, are thrown at once', async () => {
  const other = error('InternalError');
  let call = failing(other);
  await expect(retryThrottled('x', call, signal, Infinity)).rejects.toBe(other);
  expect(call).toHaveBeenCalledTimes(1);
  call = failing(undefined);
  await expect(retryThrottled('x', call, signal, Infinity)).rejects.toBeUndefined();
  expect(call).toHaveBeenCalledTimes(1);
  expect(delays).toEqual([]);
});

test('no retry whose wait would end at or after `until`', async () => {
  const now = Date.now();
  jest.spyOn(Date, 'now').mockReturnValue(now);
  let call = failing(error('Throttling'), error('Throttling'));
  await expect(retryThrottled('x', call, signal, now + 1_000)).rejects.toThrow('Throttling happened');
  expect(call).toHaveBeenCalledTimes(1);

  call = failing(error('Throttling'), error('Throttling'));
  await expect(retryThrottled('x', call, signal, now + 1_001)).rejects.toThrow('Throttling happened');
  // 1 s fits before `until`; the next wait (2 s) does not.
  expect(call).toHaveBeenCalledTimes(2);
  expect(delays).toEqual([1_000]);
});

test('no retry once the signal fired', async () => {
  const controller = new AbortController();
  controller.abort();
  const call = failing(error('Throttling'));
  await expect(retryThrottled('x', call, controller.signal, Infinity)).rejects.toThrow('Throttling happened');
  expect(call).toHaveBeenCalledTimes(1);
});
