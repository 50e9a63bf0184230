/**
 * The library's own CloudWatch metrics (lambda/shared/metrics.ts): the client's
 * configuration, what PutMetricData receives, batching, and failures that are
 * logged and never thrown.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { METRICS_PER_CALL, createCloudWatchClient, putMetrics } from '../../../lambda/shared/metrics';
import { MAX_ATTEMPTS } from '../../../lambda/shared/sdk';
import { captureLogs } from '../support';

const cw = mockClient(CloudWatchClient);
let logs: string[];
const signal = new AbortController().signal;
const env = { ...process.env };

beforeAll(() => {
  logs = captureLogs();
  process.env.AWS_REGION = 'eu-west-1';
});
afterAll(() => {
  process.env = env;
});
beforeEach(() => {
  logs.length = 0;
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
});

const inputs = () => cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);

test('the client: the shared bounded attempts, standard retries and timeouts', async () => {
  const client = createCloudWatchClient();
  expect(await client.config.maxAttempts()).toBe(MAX_ATTEMPTS);
  expect(client.config.retryMode).toBe('standard');
  const handler = client.config.requestHandler as unknown as { configProvider: Promise<Record<string, unknown>> };
  expect(await handler.configProvider).toMatchObject({ connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true });
});

test('puts each value in the library\'s namespace, unit Count, with its dimensions (none: an empty list), and carries the abort signal', async () => {
  const controller = new AbortController();
  const ok = await putMetrics(new CloudWatchClient({}), [
    { name: 'DriftDetected', value: 2 },
    { name: 'InstancesInUse', value: 0, dimensions: { Mode: 'UPGRADE', Scope: 'account' } },
  ], controller.signal);
  expect(ok).toBe(true);
  expect(inputs()).toEqual([{
    Namespace: 'CdkImdsAccountDefaults',
    MetricData: [
      { MetricName: 'DriftDetected', Value: 2, Unit: 'Count', Dimensions: [] },
      { MetricName: 'InstancesInUse', Value: 0, Unit: 'Count', Dimensions: [{ Name: 'Mode', Value: 'UPGRADE' }, { Name: 'Scope', Value: 'account' }] },
    ],
  }]);
  expect(cw.commandCalls(PutMetricDataCommand)[0].args[1]).toEqual({ abortSignal: controller.signal });
  expect(logs).toEqual([]);
});

test(`more than ${METRICS_PER_CALL} values go in several calls, in order`, async () => {
  expect(METRICS_PER_CALL).toBe(1000);
  const values = Array.from({ length: 2 * METRICS_PER_CALL + 1 }, (_, i) => ({ name: `m${i}`, value: i }));
  expect(await putMetrics(new CloudWatchClient({}), values, signal)).toBe(true);
  expect(inputs().map((i) => i.MetricData!.length)).toEqual([1000, 1000, 1]);
  expect(inputs().flatMap((i) => i.MetricData!.map((d) => d.Value))).toEqual(values.map((v) => v.value));
});

test('exactly one call\'s worth of values is one call; no values, no call', async () => {
  await putMetrics(new CloudWatchClient({}), Array.from({ length: METRICS_PER_CALL }, (_, i) => ({ name: 'x', value: i })), signal);
  expect(inputs()).toHaveLength(1);
  cw.resetHistory();
  expect(await putMetrics(new CloudWatchClient({}), [], signal)).toBe(true);
  expect(inputs()).toHaveLength(0);
});

test('a failure returns false, stops the remaining calls, and logs the metric names and the error', async () => {
  cw.on(PutMetricDataCommand).rejects(Object.assign(new Error('not allowed'), { name: 'AccessDenied' }));
  const values = Array.from({ length: METRICS_PER_CALL + 1 }, (_, i) => ({ name: i === 0 ? 'DriftDetected' : 'DriftReapplied', value: 1 }));
  expect(await putMetrics(new CloudWatchClient({}), values, signal)).toBe(false);
  expect(inputs()).toHaveLength(1);
  expect(logs.map((l) => JSON.parse(l))).toEqual([{
    message: 'the metrics could not be put; the log line of this run carries the same numbers',
    namespace: 'CdkImdsAccountDefaults',
    metrics: values.map((v) => v.name),
    error: 'AccessDenied: not allowed',
  }]);
});
