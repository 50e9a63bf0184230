/**
 * The library's own CloudWatch metrics (namespace METRICS_NAMESPACE), put by the
 * drift guard and by the instance upgrade so users can alarm on them.
 *
 * A metric that cannot be put is logged and does not fail the run: the
 * structured log line that every run writes carries the same numbers.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { describeError, log } from './log';
import { CLIENT_CONFIG } from './sdk';
import { METRICS_NAMESPACE } from '../../src/private/properties';

/**
 * The runtime's client-cloudwatch, loaded on first use: the account-defaults
 * function needs it only for the drift guard's runs, so its CloudFormation events
 * do not pay for loading it at init.
 */
function cloudWatchSdk(): typeof import('@aws-sdk/client-cloudwatch') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-cloudwatch');
}

/** Creates the CloudWatch client with the bounded attempts and timeouts of every client. */
export function createCloudWatchClient(): CloudWatchClient {
  return new (cloudWatchSdk().CloudWatchClient)(CLIENT_CONFIG);
}

/** One value of one metric, with the dimensions it is put under (none: the account-wide series). */
export interface MetricValue {
  readonly name: string;
  readonly value: number;
  readonly dimensions?: Readonly<Record<string, string>>;
}

/** The most values PutMetricData takes in one call. */
export const METRICS_PER_CALL = 1000;

/**
 * Puts the values (unit Count) in the library's namespace. Returns whether every
 * value was put; a failure is logged with the metric names, never thrown.
 */
export async function putMetrics(client: CloudWatchClient, values: readonly MetricValue[], abortSignal: AbortSignal): Promise<boolean> {
  const data = values.map((v) => ({
    MetricName: v.name,
    Value: v.value,
    Unit: 'Count' as const,
    Dimensions: Object.entries(v.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
  }));
  try {
    const { PutMetricDataCommand } = cloudWatchSdk();
    for (let i = 0; i < data.length; i += METRICS_PER_CALL) {
      await client.send(new PutMetricDataCommand({ Namespace: METRICS_NAMESPACE, MetricData: data.slice(i, i + METRICS_PER_CALL) }), { abortSignal });
    }
    return true;
  } catch (err) {
    log('the metrics could not be put; the log line of this run carries the same numbers', {
      namespace: METRICS_NAMESPACE, metrics: values.map((v) => v.name), error: describeError(err),
    });
    return false;
  }
}
