/**
 * Security warnings (lambda/shared/security-warning.ts): the log line, the
 * metric, the finding ("IMDS Security Warning"), and the bounds on putting them
 * (their own timeout, the caller's signal); it never throws. CloudWatch and
 * EventBridge are mocked by aws-sdk-client-mock; a put that hangs is a send that
 * settles only when its abort signal fires (as the real client's does).
 */
import { getEventListeners } from 'events';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { Finding, LIST_MAX, held, setFindingsOrigin } from '../../../lambda/shared/events';
import { SECURITY_METRIC_TIMEOUT_MS, SECURITY_WARNING_LINES_MAX, reportSecurityWarning, reportSecurityWarnings } from '../../../lambda/shared/security-warning';
import { ACCOUNT, REGION, SERVICE_TOKEN, captureLogs } from '../support';
import { acceptEvents, eventBridge, expectPutEventsMatchSchema, putEvents, serviceError } from '../support/aws-mocks';

const cw = mockClient(CloudWatchClient);
let logs: string[];
const env = { ...process.env };

beforeAll(() => {
  logs = captureLogs();
  process.env.AWS_REGION = 'eu-west-1';
  setFindingsOrigin(SERVICE_TOKEN);
});
afterAll(() => {
  process.env = env;
});
beforeEach(() => {
  logs.length = 0;
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).callsFake(acceptEvents);
});
afterEach(() => {
  jest.useRealTimers();
});

/** Every put hangs until its abort signal fires; returns the signals the puts carried. */
function hangingPuts(): AbortSignal[] {
  const signals: AbortSignal[] = [];
  cw.reset();
  cw.send.callsFake((_command: unknown, options: { abortSignal: AbortSignal }) => {
    signals.push(options.abortSignal);
    const aborted = () => Object.assign(new Error('aborted'), { name: 'AbortError' });
    return new Promise((_resolve, reject) => {
      if (options.abortSignal.aborted) reject(aborted());
      options.abortSignal.addEventListener('abort', () => reject(aborted()));
    });
  });
  return signals;
}

test('one log line: "security warning", the warning\'s kind and its fields', async () => {
  await reportSecurityWarning('unconfirmed-event', 'UnconfirmedEvents', { mismatch: 'x', RequestId: 'r-1' });
  expect(logs[0]).toBe(JSON.stringify({ message: 'security warning', warning: 'unconfirmed-event', mismatch: 'x', RequestId: 'r-1' }));
  expect(logs).toHaveLength(1);
});

test('the metric: one value, 1, under the given name in the library\'s namespace, once per warning', async () => {
  await reportSecurityWarning('claim-problem', 'ClaimProblems', { name: '/p' });
  expect(cw).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
  expect(cw.commandCalls(PutMetricDataCommand)[0].args[0].input).toEqual({
    Namespace: 'CdkImdsAccountDefaults',
    MetricData: [{ MetricName: 'ClaimProblems', Value: 1, Unit: 'Count', Dimensions: [] }],
  });
  await reportSecurityWarning('claim-problem', 'ClaimProblems', { name: '/q' });
  expect(cw).toHaveReceivedCommandTimes(PutMetricDataCommand, 2);
});

test('a put that hangs is abandoned after SECURITY_METRIC_TIMEOUT_MS, and no timer is left behind', async () => {
  expect(SECURITY_METRIC_TIMEOUT_MS).toBe(2_000);
  jest.useFakeTimers();
  const signals = hangingPuts();
  let returned = false;
  const reported = reportSecurityWarning('w', 'M', {}).then(() => {
    returned = true;
  });
  await jest.advanceTimersByTimeAsync(SECURITY_METRIC_TIMEOUT_MS - 1);
  expect(signals).toHaveLength(1);
  expect(signals[0].aborted).toBe(false);
  expect(returned).toBe(false);
  await jest.advanceTimersByTimeAsync(1);
  await reported;
  expect(signals[0].aborted).toBe(true);
  expect(returned).toBe(true);
  expect(jest.getTimerCount()).toBe(0);
  // putMetrics logged the failure after the warning itself.
  expect(logs.map((l) => JSON.parse(l).message)).toEqual(['security warning', 'the metrics could not be put; the log line of this run carries the same numbers']);
});

test('a put that succeeds clears its timer and its listener on the caller\'s signal', async () => {
  jest.useFakeTimers();
  const caller = new AbortController();
  await reportSecurityWarning('w', 'M', {}, caller.signal);
  expect(jest.getTimerCount()).toBe(0);
  expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  expect(cw).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
});

test('the caller\'s signal firing abandons a put that hangs, before the timeout; its listener is removed', async () => {
  jest.useFakeTimers();
  const signals = hangingPuts();
  const caller = new AbortController();
  const reported = reportSecurityWarning('w', 'M', {}, caller.signal);
  await jest.advanceTimersByTimeAsync(10);
  expect(signals[0].aborted).toBe(false);
  expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1);
  caller.abort();
  await reported;
  expect(signals[0].aborted).toBe(true);
  expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  expect(jest.getTimerCount()).toBe(0);
});

test('a caller\'s signal that has already fired: the put is abandoned at once, and the warning still logged', async () => {
  const signals = hangingPuts();
  const caller = new AbortController();
  caller.abort();
  const started = Date.now();
  await reportSecurityWarning('w', 'M', { a: 1 }, caller.signal);
  expect(Date.now() - started).toBeLessThan(SECURITY_METRIC_TIMEOUT_MS / 2);
  expect(signals).toHaveLength(1);
  expect(signals[0].aborted).toBe(true);
  expect(logs[0]).toBe(JSON.stringify({ message: 'security warning', warning: 'w', a: 1 }));
});

test('a put that fails does not throw', async () => {
  cw.on(PutMetricDataCommand).rejects(Object.assign(new Error('not allowed'), { name: 'AccessDenied' }));
  await expect(reportSecurityWarning('w', 'M', {})).resolves.toBeUndefined();
  expect(logs[0]).toBe(JSON.stringify({ message: 'security warning', warning: 'w' }));
});

test('a CloudWatch client that cannot be made does not throw either; the log line is written', async () => {
  let isolated: typeof import('../../../lambda/shared/security-warning') | undefined;
  jest.isolateModules(() => {
    jest.doMock('../../../lambda/shared/metrics', () => ({
      createCloudWatchClient: () => {
        throw new Error('no Region');
      },
      putMetrics: jest.fn(),
    }));
    // This registry's client-eventbridge is not the mocked one: nothing may reach the network.
    jest.doMock('../../../lambda/shared/events', () => ({ putFindings: jest.fn(async () => 0) }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    isolated = require('../../../lambda/shared/security-warning');
  });
  await expect(isolated!.reportSecurityWarning('w', 'M', { b: 2 })).resolves.toBeUndefined();
  expect(logs).toEqual([JSON.stringify({ message: 'security warning', warning: 'w', b: 2 })]);
  jest.dontMock('../../../lambda/shared/metrics');
  jest.dontMock('../../../lambda/shared/events');
});

describe('reportSecurityWarnings: many at once', () => {
  test('one line per entry and one metric put whose value is their number', async () => {
    await reportSecurityWarnings('claim-problem', 'ClaimProblems', [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(logs).toEqual([
      JSON.stringify({ message: 'security warning', warning: 'claim-problem', name: 'a' }),
      JSON.stringify({ message: 'security warning', warning: 'claim-problem', name: 'b' }),
      JSON.stringify({ message: 'security warning', warning: 'claim-problem', name: 'c' }),
    ]);
    expect(cw).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'ClaimProblems', Value: 3 })] });
  });

  test(`at most ${SECURITY_WARNING_LINES_MAX} lines, then one that counts the rest`, async () => {
    const entries = Array.from({ length: SECURITY_WARNING_LINES_MAX + 5 }, (_, i) => ({ name: `p${i}` }));
    await reportSecurityWarnings('claim-problem', 'ClaimProblems', entries);
    expect(logs).toHaveLength(SECURITY_WARNING_LINES_MAX + 1);
    expect(logs[SECURITY_WARNING_LINES_MAX - 1]).toBe(JSON.stringify({ message: 'security warning', warning: 'claim-problem', name: `p${SECURITY_WARNING_LINES_MAX - 1}` }));
    expect(logs[SECURITY_WARNING_LINES_MAX]).toBe(JSON.stringify({ message: 'security warning', warning: 'claim-problem', more: 5 }));
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ Value: SECURITY_WARNING_LINES_MAX + 5 })] });
  });

  test('exactly the maximum: no counting line', async () => {
    const entries = Array.from({ length: SECURITY_WARNING_LINES_MAX }, (_, i) => ({ name: `p${i}` }));
    await reportSecurityWarnings('claim-problem', 'ClaimProblems', entries);
    expect(logs).toHaveLength(SECURITY_WARNING_LINES_MAX);
  });

  test('none: no line, no put', async () => {
    await reportSecurityWarnings('claim-problem', 'ClaimProblems', []);
    expect(logs).toEqual([]);
    expect(cw).not.toHaveReceivedCommand(PutMetricDataCommand);
  });
});

describe('the finding: "IMDS Security Warning"', () => {
  /** The detail events.ts adds to every finding of this function. */
  const common = { version: '1', account: ACCOUNT, region: REGION, resource: { function: 'imds-handler' } };
  afterEach(() => expectPutEventsMatchSchema());

  test('one event per report, to the default bus: warning, metric, count and the fields of the log line', async () => {
    await reportSecurityWarning('unconfirmed-event', 'UnconfirmedEvents', { mismatch: 'x', RequestId: 'r-1' });
    expect(putEvents()).toEqual([{
      bus: 'default',
      source: 'cdk-imds-account-defaults',
      detailType: 'IMDS Security Warning',
      detail: { ...common, warning: 'unconfirmed-event', metric: 'UnconfirmedEvents', count: 1, entries: [{ mismatch: 'x', RequestId: 'r-1' }] },
    }]);
  });

  test(`many: one event with the full count and the first ${LIST_MAX} entries (a finding's list; the log writes ${SECURITY_WARNING_LINES_MAX} lines)`, async () => {
    const entries = Array.from({ length: LIST_MAX + 5 }, (_, i) => ({ name: `p${i}` }));
    await reportSecurityWarnings('claim-problem', 'ClaimProblems', entries);
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(putEvents()[0].detail).toEqual({
      ...common, warning: 'claim-problem', metric: 'ClaimProblems', count: LIST_MAX + 5, entries: entries.slice(0, LIST_MAX),
    });
    expect(logs.filter((l) => JSON.parse(l).name !== undefined)).toHaveLength(SECURITY_WARNING_LINES_MAX);
  });

  test('none: no event', async () => {
    await reportSecurityWarnings('claim-problem', 'ClaimProblems', []);
    expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
  });

  test('while a CloudFormation event waits for its answer, the finding is held (put after the answer), the metric put at once', async () => {
    const list: Finding[] = [];
    held.list = list;
    try {
      await reportSecurityWarning('claim-problem', 'ClaimProblems', { name: '/p' });
    } finally {
      held.list = undefined;
    }
    expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
    expect(list).toEqual([{ type: 'IMDS Security Warning', detail: { warning: 'claim-problem', metric: 'ClaimProblems', count: 1, entries: [{ name: '/p' }] } }]);
    expect(cw).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
  });

  test.each([
    ['denied', serviceError('AccessDeniedException', 'not authorized to perform events:PutEvents')],
    ['throttled', serviceError('ThrottlingException', 'Rate exceeded')],
  ])('a %s PutEvents changes nothing: the line is written, the metric put, nothing thrown; the failure is logged and counted', async (_kind, error) => {
    eventBridge.on(PutEventsCommand).rejects(error);
    await expect(reportSecurityWarning('w', 'M', { a: 1 })).resolves.toBeUndefined();
    expect(logs[0]).toBe(JSON.stringify({ message: 'security warning', warning: 'w', a: 1 }));
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'M', Value: 1 })] });
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'FindingsNotPut', Value: 1 })] });
    // events.ts logs what was not put (its detail types, never the detail).
    expect(logs.slice(1).map((l) => JSON.parse(l).message)).toEqual([expect.stringMatching(/^findings .*not put/)]);
  });

  test('a PutEvents that hangs is abandoned with the metric, after SECURITY_METRIC_TIMEOUT_MS', async () => {
    jest.useFakeTimers();
    const signals: AbortSignal[] = [];
    eventBridge.reset();
    eventBridge.send.callsFake((_command: unknown, options: { abortSignal: AbortSignal }) => {
      signals.push(options.abortSignal);
      return new Promise((_resolve, reject) => {
        options.abortSignal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
      });
    });
    let returned = false;
    const reported = reportSecurityWarning('w', 'M', {}).then(() => {
      returned = true;
    });
    await jest.advanceTimersByTimeAsync(SECURITY_METRIC_TIMEOUT_MS - 1);
    expect(signals).toHaveLength(1);
    expect(returned).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await reported;
    expect(signals[0].aborted).toBe(true);
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'M' })] });
  });
});
