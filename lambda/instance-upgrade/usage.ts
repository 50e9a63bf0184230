/**
 * Whether instances still use IMDSv1: the sum of the AWS/EC2 metric
 * MetadataNoToken (IMDSv1 calls, dimension InstanceId) over the lookback window,
 * read with GetMetricData, QUERIES_PER_CALL instances a call.
 *
 * The window is one period: the lookback rounded up to a whole hour, ending at
 * the current minute. One period gives one datapoint per instance (two when
 * CloudWatch's alignment splits it), far under GetMetricData's 100,800
 * datapoints a call, and a multiple of 3600 s is a period CloudWatch accepts
 * whatever the start time's age (older than 15 days needs a multiple of 300 s,
 * older than 63 days a multiple of 3600 s). Rounding up only widens the window:
 * the safe side. Every value returned is summed, whatever its timestamp.
 *
 * - sum > 0: in use (never upgraded);
 * - sum 0 with datapoints: safe;
 * - no datapoints (a stopped instance publishes none): unknown;
 * - no answer for the instance (the call failed, a result not Complete, the
 *   budget ran out first: no call, first page or next, starts after `stopAt`):
 *   failed, with the reason as its code.
 */
import { CloudWatchClient, GetMetricDataCommand, GetMetricDataCommandOutput, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { describeError, log } from '../shared/log';

/** GetMetricData's largest number of queries a call. */
export const QUERIES_PER_CALL = 500;

export type Usage =
  | { readonly kind: 'inUse'; readonly sum: number }
  | { readonly kind: 'safe' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'failed'; readonly code: string };

/** The query window: one period covering at least the lookback, ending at the start of the current minute. */
export function metricWindow(lookbackSeconds: number, now: number): { readonly Period: number; readonly StartTime: Date; readonly EndTime: Date } {
  const Period = Math.ceil(lookbackSeconds / 3600) * 3600;
  const end = Math.floor(now / 60_000) * 60_000;
  return { Period, StartTime: new Date(end - Period * 1000), EndTime: new Date(end) };
}

export interface UsageCalls {
  readonly signal: AbortSignal;
  /** No call starts after this time (epoch ms): the instances left are failed with code DeadlineReached. */
  readonly stopAt: number;
  /** Wraps each call (retries); `first` for the run's first call. */
  readonly wrap: <T>(first: boolean, call: () => Promise<T>) => Promise<T>;
}

/** Reads the usage of each instance; every instance id gets an answer. */
export async function readUsage(
  cw: CloudWatchClient, instanceIds: readonly string[], lookbackSeconds: number, calls: UsageCalls,
): Promise<Map<string, Usage>> {
  const usage = new Map<string, Usage>();
  const window = metricWindow(lookbackSeconds, Date.now());
  let first = true;
  for (let i = 0; i < instanceIds.length; i += QUERIES_PER_CALL) {
    const batch = instanceIds.slice(i, i + QUERIES_PER_CALL);
    if (calls.signal.aborted || Date.now() >= calls.stopAt) {
      batch.forEach((id) => usage.set(id, { kind: 'failed', code: 'DeadlineReached' }));
      continue;
    }
    const queries: MetricDataQuery[] = batch.map((id, n) => ({
      Id: `m${n}`,
      MetricStat: {
        Metric: { Namespace: 'AWS/EC2', MetricName: 'MetadataNoToken', Dimensions: [{ Name: 'InstanceId', Value: id }] },
        Period: window.Period,
        Stat: 'Sum',
      },
      ReturnData: true,
    }));
    const values = new Map<string, number[]>();
    const status = new Map<string, string | undefined>();
    try {
      let NextToken: string | undefined;
      do {
        const isFirst = first;
        first = false;
        const page: GetMetricDataCommandOutput = await calls.wrap(isFirst, () => cw.send(new GetMetricDataCommand({
          MetricDataQueries: queries, StartTime: window.StartTime, EndTime: window.EndTime, NextToken,
        }), { abortSignal: calls.signal }));
        for (const result of page.MetricDataResults ?? []) {
          values.set(result.Id!, [...(values.get(result.Id!) ?? []), ...(result.Values ?? [])]);
          status.set(result.Id!, result.StatusCode);
        }
        NextToken = page.NextToken;
      } while (NextToken && !calls.signal.aborted && Date.now() < calls.stopAt);
    } catch (err) {
      log('could not read MetadataNoToken for some instances', { instances: batch.length, error: describeError(err) });
      batch.forEach((id) => usage.set(id, { kind: 'failed', code: (err as Error).name || 'Error' }));
      continue;
    }
    batch.forEach((id, n) => usage.set(id, classify(values.get(`m${n}`), status.get(`m${n}`))));
  }
  return usage;
}

function classify(values: number[] | undefined, status: string | undefined): Usage {
  if (values === undefined) {
    return { kind: 'failed', code: 'NoMetricDataResult' };
  }
  const sum = values.reduce((a, b) => a + b, 0);
  if (sum > 0) {
    return { kind: 'inUse', sum };
  }
  if (status !== 'Complete') {
    return { kind: 'failed', code: `MetricData${status}` };
  }
  return values.length > 0 ? { kind: 'safe' } : { kind: 'unknown' };
}
