/**
 * Whether instances still use IMDSv1, and how long they were watched: the
 * AWS/EC2 metric MetadataNoToken (IMDSv1 calls, dimension InstanceId) over the
 * lookback window, hour by hour (Period 3600, Sum), read with GetMetricData,
 * queriesPerCall(...) instances a call.
 *
 * The window is the lookback rounded up to a whole hour, ending at the current
 * minute. A period of 3600 s is one CloudWatch accepts whatever the start time's
 * age (older than 15 days needs a multiple of 300 s, older than 63 days a
 * multiple of 3600 s). Rounding up only widens the window: the safe side. Every
 * value returned is summed, whatever its timestamp.
 *
 * Observed time: an instance publishes MetadataNoToken only while it runs, so
 * each hour with a datapoint is an hour it was watched. The count is an
 * estimate from above by less than an hour per start or stop (an instance that
 * ran 5 minutes of an hour counts the hour), far below the minimum of days it is
 * compared with; a stopped instance's hours never count.
 *
 * - sum > 0: in use (never upgraded);
 * - sum 0, datapoints in at least minimumObservedSeconds / 3600 hours: safe;
 * - sum 0, datapoints in fewer hours: too little data (with the hours observed);
 * - no datapoints (a stopped instance publishes none): unknown;
 * - no answer for the instance (the call failed, a result not Complete, the
 *   budget ran out first: no call, first page or next, starts after `stopAt`):
 *   failed, with the reason as its code.
 */
import { CloudWatchClient, GetMetricDataCommand, GetMetricDataCommandOutput, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { describeError, log } from '../shared/log';

/** GetMetricData's largest number of queries a call. */
export const QUERIES_PER_CALL = 500;

/** GetMetricData's largest number of datapoints an answer holds (more come with a NextToken). */
export const DATAPOINTS_PER_CALL = 100_800;

/** The period of each datapoint read: one hour. */
export const PERIOD_SECONDS = 3600;

/**
 * Instances a call: as many as fit GetMetricData's datapoints per answer (one
 * per hour of the window, plus one when CloudWatch's alignment splits an hour),
 * so that one call usually answers its batch without a second page.
 */
export function queriesPerCall(windowSeconds: number): number {
  return Math.max(1, Math.min(QUERIES_PER_CALL, Math.floor(DATAPOINTS_PER_CALL / (windowSeconds / PERIOD_SECONDS + 1))));
}

export type Usage =
  | { readonly kind: 'inUse'; readonly sum: number }
  | { readonly kind: 'safe'; readonly hoursObserved: number }
  | { readonly kind: 'tooLittleData'; readonly hoursObserved: number }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'failed'; readonly code: string };

/** The query window: whole hours covering at least the lookback, ending at the start of the current minute; one datapoint an hour. */
export function metricWindow(lookbackSeconds: number, now: number): { readonly Period: number; readonly StartTime: Date; readonly EndTime: Date } {
  const seconds = Math.ceil(lookbackSeconds / PERIOD_SECONDS) * PERIOD_SECONDS;
  const end = Math.floor(now / 60_000) * 60_000;
  return { Period: PERIOD_SECONDS, StartTime: new Date(end - seconds * 1000), EndTime: new Date(end) };
}

export interface UsageCalls {
  readonly signal: AbortSignal;
  /** No call starts after this time (epoch ms): the instances left are failed with code DeadlineReached. */
  readonly stopAt: number;
  /** Wraps each call (retries); `first` for the run's first call. */
  readonly wrap: <T>(first: boolean, call: () => Promise<T>) => Promise<T>;
}

/** What is read: the window, and the running time that makes an instance's zeros enough evidence. */
export interface UsageWindow {
  readonly lookbackSeconds: number;
  readonly minimumObservedSeconds: number;
}

/** An instance's hourly datapoints of one metric (Period 3600, Sum), or why they could not be read. */
export type Hourly =
  | { readonly kind: 'read'; readonly values: number[]; readonly timestamps: number[]; readonly status?: string }
  | { readonly kind: 'noResult' }
  | { readonly kind: 'failed'; readonly code: string };

/**
 * The hourly sums of one AWS/EC2 metric (dimension InstanceId) over `window`
 * for each instance, queriesPerCall(...) instances a call, following NextToken;
 * every instance id gets an answer. No call starts after `calls.stopAt`.
 */
export async function readHourly(
  cw: CloudWatchClient, metricName: string, instanceIds: readonly string[], window: ReturnType<typeof metricWindow>, calls: UsageCalls,
): Promise<Map<string, Hourly>> {
  const out = new Map<string, Hourly>();
  const perCall = queriesPerCall((window.EndTime.getTime() - window.StartTime.getTime()) / 1000);
  let first = true;
  for (let i = 0; i < instanceIds.length; i += perCall) {
    const batch = instanceIds.slice(i, i + perCall);
    if (calls.signal.aborted || Date.now() >= calls.stopAt) {
      batch.forEach((id) => out.set(id, { kind: 'failed', code: 'DeadlineReached' }));
      continue;
    }
    const queries: MetricDataQuery[] = batch.map((id, n) => ({
      Id: `m${n}`,
      MetricStat: {
        Metric: { Namespace: 'AWS/EC2', MetricName: metricName, Dimensions: [{ Name: 'InstanceId', Value: id }] },
        Period: window.Period,
        Stat: 'Sum',
      },
      ReturnData: true,
    }));
    const values = new Map<string, number[]>();
    const timestamps = new Map<string, number[]>();
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
          timestamps.set(result.Id!, [...(timestamps.get(result.Id!) ?? []), ...(result.Timestamps ?? []).map((t) => new Date(t).getTime())]);
          status.set(result.Id!, result.StatusCode);
        }
        NextToken = page.NextToken;
      } while (NextToken && !calls.signal.aborted && Date.now() < calls.stopAt);
    } catch (err) {
      log(`could not read ${metricName} for some instances`, { instances: batch.length, error: describeError(err) });
      batch.forEach((id) => out.set(id, { kind: 'failed', code: (err as Error).name || 'Error' }));
      continue;
    }
    batch.forEach((id, n) => {
      const found = values.get(`m${n}`);
      out.set(id, found === undefined
        ? { kind: 'noResult' }
        : { kind: 'read', values: found, timestamps: timestamps.get(`m${n}`)!, status: status.get(`m${n}`) });
    });
  }
  return out;
}

/** Reads the usage of each instance; every instance id gets an answer. */
export async function readUsage(
  cw: CloudWatchClient, instanceIds: readonly string[], options: UsageWindow, calls: UsageCalls,
): Promise<Map<string, Usage>> {
  const window = metricWindow(options.lookbackSeconds, Date.now());
  const minimumHours = Math.ceil(options.minimumObservedSeconds / PERIOD_SECONDS);
  const hourly = await readHourly(cw, 'MetadataNoToken', instanceIds, window, calls);
  return new Map(instanceIds.map((id) => {
    const found = hourly.get(id)!;
    switch (found.kind) {
      case 'failed':
        return [id, found];
      case 'noResult':
        return [id, { kind: 'failed', code: 'NoMetricDataResult' }];
      default:
        return [id, classify(found.values, found.status, minimumHours)];
    }
  }));
}

function classify(values: number[], status: string | undefined, minimumHours: number): Usage {
  const sum = values.reduce((a, b) => a + b, 0);
  if (sum > 0) {
    return { kind: 'inUse', sum };
  }
  if (status !== 'Complete') {
    return { kind: 'failed', code: `MetricData${status}` };
  }
  if (values.length === 0) {
    return { kind: 'unknown' };
  }
  // One datapoint per hour with data (Period 3600): the hours the instance ran and was watched.
  const hoursObserved = values.length;
  return hoursObserved >= minimumHours ? { kind: 'safe', hoursObserved } : { kind: 'tooLittleData', hoursObserved };
}
