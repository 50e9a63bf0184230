/**
 * A local CloudWatch endpoint for GetMetricData and PutMetricData, so tests can
 * drive the real `@aws-sdk/client-cloudwatch` (via `endpoint` or
 * AWS_ENDPOINT_URL_CLOUDWATCH) without reaching AWS. Listens on 127.0.0.1 only.
 *
 * The protocol: client-cloudwatch 3.949.0 and later (so the current 3.1164.0
 * and 3.995.0, the release beside client-ec2 3.996.0) speak AWS JSON 1.0 in
 * awsQueryCompatible mode: a signed POST to `/` with `Content-Type:
 * application/x-amz-json-1.0`, `X-Amz-Target:
 * GraniteServiceVersion20100801.<Action>` and `x-amzn-query-mode: true`, JSON
 * in and out, timestamps as epoch seconds. Errors are JSON 1.0 error bodies
 * `{"__type":"<shape id>","message":"…"}` with the `x-amzn-query-error:
 * <Code>;Sender|Receiver` header that carries the awsQuery error code (the SDK
 * names the error after it). Up to 3.948.0 the client spoke awsQuery
 * (form-encoded, XML); that protocol is not served here (see below).
 *
 * Faithful to the CloudWatch API reference where it matters to the handlers:
 * - SigV4 is checked (test/support/sigv4.ts, signing name `monitoring`) and
 *   answered with the codes CloudWatch uses (MissingAuthenticationToken,
 *   InvalidClientTokenId, SignatureDoesNotMatch, all 403); the Region comes from
 *   the credential scope and metrics are kept per Region;
 * - GetMetricData: 1..500 MetricDataQueries, each with a unique Id
 *   (`^[a-z][a-zA-Z0-9_]*$`) and a MetricStat (Metric with Namespace,
 *   MetricName and Dimensions; Period 1, 5, 10, 20, 30 or a multiple of 60;
 *   Stat Sum, Average, Minimum, Maximum or SampleCount; Unit); StartTime before
 *   EndTime; the datapoints of a metric whose dimensions are exactly the
 *   query's, StartTime ≤ t < EndTime, aggregated per Period from StartTime
 *   (rounded down as CloudWatch does: to the minute when less than 15 days
 *   ago, 5 minutes up to 63 days, the hour before); results with Id, Label (the
 *   query's Label, else the metric name), Timestamps and Values (newest first
 *   unless ScanBy TimestampAscending) and StatusCode Complete; a metric without
 *   datapoints gives empty Timestamps and Values; ReturnData false leaves a
 *   query out of the results; MaxDatapoints (default 100,800) per answer, the
 *   rest with NextToken and StatusCode PartialData on the cut query;
 * - PutMetricData: a gzip-compressed body (Content-Encoding: gzip, which the
 *   SDK sends for bodies of 10 KiB and more) is signed as sent and read
 *   uncompressed; Namespace 1..255 characters, not beginning with `AWS/`;
 *   1..1000 MetricData, each with MetricName, up to 30 Dimensions, Value or
 *   Values (not both, and Counts only with Values, of the same length), Unit
 *   from CloudWatch's list, Timestamp (default: now); what is put can be read
 *   back (putMetricData) and queried with GetMetricData.
 *
 * Simplifications (said here so no test relies on them being real CloudWatch):
 * - one account; Regions are independent;
 * - metric math (Expression), percentile and trimmed statistics, AccountId,
 *   LabelOptions, StatisticValues, StorageResolution and the 1 MB request limit
 *   are not emulated (Expression and other statistics are refused with
 *   InvalidParameterValue);
 * - CloudWatch's retention and period rounding for old data are not modelled:
 *   any timestamp is kept at full resolution;
 * - the awsQuery protocol of client-cloudwatch ≤ 3.948.0 is answered with
 *   InvalidAction (the handlers' oldest supported client, 3.995.0, speaks
 *   JSON);
 * - only POST to `/` is served.
 */
import * as http from 'http';
import * as zlib from 'zlib';
import { LocalEndpoint, Reply, TEST_ROLE_ARN } from './local-endpoint';
import { SigV4Error, verifySigV4 } from './sigv4';

export { TEST_CREDENTIALS, TEST_SESSION_TOKEN } from './sigv4';

/** One datapoint of a metric: its time and value (and unit, when put with one). */
export interface MetricDatapoint {
  readonly timestamp: Date;
  readonly value: number;
  readonly unit?: string;
}

/** One MetricData entry of a PutMetricData call, as CloudWatch received it. */
export interface PutMetricDatum {
  readonly Namespace: string;
  readonly MetricName: string;
  /** Name → value. */
  readonly Dimensions: Readonly<Record<string, string>>;
  readonly Value?: number;
  readonly Values?: readonly number[];
  readonly Counts?: readonly number[];
  readonly Unit?: string;
  readonly Timestamp: Date;
}

/** One recorded request: the action (from X-Amz-Target), its Region, and its JSON input. */
export interface CloudWatchRecordedRequest {
  readonly action: string;
  readonly region: string;
  readonly input: any;
  /** The CloudWatch error code of an injected fault this request was answered with. */
  readonly fault?: string;
}

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'GraniteServiceVersion20100801.';

/**
 * Each CloudWatch error code with its JSON `__type` (the modelled shapes of
 * the CloudWatch namespace, or the service framework's for unmodelled ones)
 * and HTTP status.
 */
const ERRORS: Record<string, { type: string; status: number }> = {
  InvalidParameterValue: { type: 'com.amazonaws.cloudwatch#InvalidParameterValueException', status: 400 },
  MissingParameter: { type: 'com.amazonaws.cloudwatch#MissingRequiredParameterException', status: 400 },
  InvalidParameterCombination: { type: 'com.amazonaws.cloudwatch#InvalidParameterCombinationException', status: 400 },
  InvalidNextToken: { type: 'com.amazonaws.cloudwatch#InvalidNextToken', status: 400 },
  InternalServiceError: { type: 'com.amazonaws.cloudwatch#InternalServiceFault', status: 500 },
  ValidationError: { type: 'com.amazon.coral.validate#ValidationException', status: 400 },
  Throttling: { type: 'com.amazon.coral.availability#ThrottlingException', status: 400 },
  AccessDenied: { type: 'com.amazon.coral.service#AccessDeniedException', status: 403 },
  MissingAuthenticationToken: { type: 'com.amazon.coral.service#MissingAuthenticationTokenException', status: 403 },
  InvalidClientTokenId: { type: 'com.amazon.coral.service#UnrecognizedClientException', status: 403 },
  SignatureDoesNotMatch: { type: 'com.amazon.coral.service#InvalidSignatureException', status: 403 },
  InvalidAction: { type: 'com.amazon.coral.service#UnknownOperationException', status: 400 },
  ServiceUnavailable: { type: 'com.amazon.coral.availability#ServiceUnavailableException', status: 503 },
};

/** The message text CloudWatch sends with each injectable code ({action} filled in). */
const FAULT_MESSAGES: Record<string, string> = {
  AccessDenied: `User: ${TEST_ROLE_ARN} is not authorized to perform: cloudwatch:{action} because no identity-based policy allows the cloudwatch:{action} action`,
  Throttling: 'Rate exceeded',
  InternalServiceError: 'Internal service error',
};

const STATS = ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount'];

const UNITS = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits',
  'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second',
  'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second',
  'Terabits/Second', 'Count/Second', 'None',
];

/** The most datapoints one GetMetricData answer holds unless MaxDatapoints says fewer. */
export const MAX_DATAPOINTS = 100_800;

class CloudWatchError extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
  }
}

interface Series {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly points: MetricDatapoint[];
}

export class CloudWatchEmulator extends LocalEndpoint<CloudWatchRecordedRequest> {
  /** Starts an emulator on 127.0.0.1 with a free port. */
  public static async start(): Promise<CloudWatchEmulator> {
    const emulator = new CloudWatchEmulator();
    await emulator.listen();
    return emulator;
  }

  private readonly series = new Map<string, Map<string, Series>>();
  private readonly puts = new Map<string, PutMetricDatum[]>();

  private constructor() {
    super();
  }

  /**
   * Sets the datapoints of AWS/EC2 MetadataNoToken (dimension InstanceId) for
   * one instance, replacing any it had; an empty list removes the series (the
   * instance then has no datapoints: "unknown").
   */
  public setMetadataNoToken(region: string, instanceId: string, datapoints: readonly MetricDatapoint[]): void {
    this.setDatapoints(region, 'AWS/EC2', 'MetadataNoToken', { InstanceId: instanceId }, datapoints);
  }

  /** Sets the datapoints of any metric (exact dimensions), replacing any it had; empty removes it. */
  public setDatapoints(
    region: string, namespace: string, metricName: string, dimensions: Readonly<Record<string, string>>, datapoints: readonly MetricDatapoint[],
  ): void {
    const regionSeries = this.regionSeries(region);
    const key = seriesKey(namespace, metricName, dimensions);
    if (datapoints.length === 0) {
      regionSeries.delete(key);
    } else {
      regionSeries.set(key, { namespace, metricName, dimensions: { ...dimensions }, points: [...datapoints] });
    }
  }

  /** The datapoints of one metric (exact dimensions), in the order they were set or put. */
  public datapoints(region: string, namespace: string, metricName: string, dimensions: Readonly<Record<string, string>> = {}): MetricDatapoint[] {
    return [...(this.series.get(region)?.get(seriesKey(namespace, metricName, dimensions))?.points ?? [])];
  }

  /** Every MetricData entry PutMetricData accepted in a Region, in order (optionally of one namespace). */
  public putMetricData(region: string, namespace?: string): PutMetricDatum[] {
    return (this.puts.get(region) ?? []).filter((d) => namespace === undefined || d.Namespace === namespace);
  }

  /** Forgets every metric and every put of a Region. */
  public clearMetrics(region: string): void {
    this.series.delete(region);
    this.puts.delete(region);
  }

  protected respond(req: http.IncomingMessage, _body: string, _requestId: string, bytes: Buffer): Reply {
    try {
      return { status: 200, contentType: CONTENT_TYPE, body: JSON.stringify(this.handle(req, bytes)) };
    } catch (err) {
      const e = err instanceof CloudWatchError ? err : new CloudWatchError('InternalServiceError', String(err));
      const { type, status } = ERRORS[e.code] ?? { type: `com.amazonaws.cloudwatch#${e.code}`, status: 400 };
      return {
        status,
        contentType: CONTENT_TYPE,
        body: JSON.stringify({ __type: type, message: e.message }),
        headers: { 'x-amzn-query-error': `${e.code};${status >= 500 ? 'Receiver' : 'Sender'}` },
      };
    }
  }

  private regionSeries(region: string): Map<string, Series> {
    let map = this.series.get(region);
    if (!map) {
      map = new Map();
      this.series.set(region, map);
    }
    return map;
  }

  private handle(req: http.IncomingMessage, bytes: Buffer): unknown {
    if (req.method !== 'POST' || (req.url ?? '/') !== '/') {
      throw new CloudWatchError('InvalidAction', `CloudWatch JSON requests are POSTs to /, got ${req.method} ${req.url}`);
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!String(req.headers['content-type'] ?? '').startsWith(CONTENT_TYPE) || !target.startsWith(TARGET_PREFIX)) {
      // Also what an awsQuery (form-encoded) request of client-cloudwatch <= 3.948.0 gets here.
      throw new CloudWatchError('InvalidAction', `expected ${CONTENT_TYPE} with X-Amz-Target ${TARGET_PREFIX}<Action>`);
    }
    let region: string;
    try {
      // The signature covers the body as sent (compressed, when it is).
      region = verifySigV4(req, bytes, 'monitoring');
    } catch (err) {
      throw err instanceof SigV4Error ? authError(err) : err;
    }
    let input: any;
    try {
      // PutMetricData takes gzip (its @requestCompression trait): the SDK compresses bodies of 10 KiB and more.
      const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
      input = body === '' ? {} : JSON.parse(body);
    } catch {
      throw new CloudWatchError('ValidationError', 'the request body is not JSON (or not valid gzip)');
    }
    const action = target.slice(TARGET_PREFIX.length);
    const fault = this.record({ action, region, input });
    if (fault) {
      throw new CloudWatchError(fault, (FAULT_MESSAGES[fault] ?? `injected ${fault}`).replace(/\{action\}/g, action));
    }
    switch (action) {
      case 'GetMetricData':
        return this.getMetricData(region, input);
      case 'PutMetricData':
        return this.putMetricDataAction(region, input);
      default:
        throw new CloudWatchError('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private getMetricData(region: string, input: any): unknown {
    const queries: any[] = input.MetricDataQueries ?? [];
    if (input.MetricDataQueries === undefined) {
      throw new CloudWatchError('MissingParameter', 'The parameter MetricDataQueries is required.');
    }
    if (queries.length < 1 || queries.length > 500) {
      throw new CloudWatchError('ValidationError', `1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: Member must have length less than or equal to 500 and greater than or equal to 1 (got ${queries.length})`);
    }
    for (const key of ['StartTime', 'EndTime']) {
      if (input[key] === undefined) {
        throw new CloudWatchError('MissingParameter', `The parameter ${key} is required.`);
      }
    }
    const end = toMillis(input.EndTime);
    if (!(toMillis(input.StartTime) < end)) {
      throw new CloudWatchError('InvalidParameterValue', 'The parameter StartTime must be less than the parameter EndTime.');
    }
    const start = roundStartTime(toMillis(input.StartTime), Date.now());
    const maxDatapoints = input.MaxDatapoints ?? MAX_DATAPOINTS;
    if (!Number.isInteger(maxDatapoints) || maxDatapoints < 1) {
      throw new CloudWatchError('InvalidParameterValue', `The value ${maxDatapoints} for parameter MaxDatapoints is invalid.`);
    }
    const ascending = input.ScanBy === 'TimestampAscending';
    if (input.ScanBy !== undefined && !['TimestampAscending', 'TimestampDescending'].includes(input.ScanBy)) {
      throw new CloudWatchError('ValidationError', `1 validation error detected: Value '${input.ScanBy}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]`);
    }
    const ids = new Set<string>();
    const computed: Array<{ Id: string; Label: string; points: Array<[number, number]> }> = [];
    for (const q of queries) {
      if (typeof q.Id !== 'string' || !/^[a-z][a-zA-Z0-9_]*$/.test(q.Id) || q.Id.length > 255) {
        throw new CloudWatchError('ValidationError', `The value ${q.Id} for parameter MetricDataQueries.member.Id is invalid: it must begin with a lowercase letter and contain only letters, numbers and underscores.`);
      }
      if (ids.has(q.Id)) {
        throw new CloudWatchError('ValidationError', `The values for parameter id in MetricDataQueries are not unique (${q.Id}).`);
      }
      ids.add(q.Id);
      if (q.Expression !== undefined || q.MetricStat === undefined) {
        throw new CloudWatchError('InvalidParameterValue', `Query ${q.Id}: only MetricStat queries are emulated (metric math is not)`);
      }
      const stat = q.MetricStat;
      const metric = stat.Metric ?? {};
      if (!metric.Namespace || !metric.MetricName) {
        throw new CloudWatchError('MissingParameter', `Query ${q.Id}: the parameters MetricStat.Metric.Namespace and MetricName are required.`);
      }
      const period = stat.Period;
      if (!Number.isInteger(period) || period < 1 || (period < 60 ? ![1, 5, 10, 20, 30].includes(period) : period % 60 !== 0)) {
        throw new CloudWatchError('InvalidParameterValue', `The parameter MetricDataQueries.member.MetricStat.Period must be 1, 5, 10, 20, 30 or a multiple of 60 (got ${period}).`);
      }
      if (!STATS.includes(stat.Stat)) {
        throw new CloudWatchError('InvalidParameterValue', `Query ${q.Id}: the statistic ${stat.Stat} is not emulated (${STATS.join(', ')})`);
      }
      if (stat.Unit !== undefined && !UNITS.includes(stat.Unit)) {
        throw new CloudWatchError('InvalidParameterValue', `The value ${stat.Unit} for parameter Unit is invalid.`);
      }
      const dimensions = Object.fromEntries((metric.Dimensions ?? []).map((d: any) => [d.Name, d.Value]));
      const series = this.series.get(region)?.get(seriesKey(metric.Namespace, metric.MetricName, dimensions));
      const buckets = new Map<number, number[]>();
      for (const p of series?.points ?? []) {
        const t = p.timestamp.getTime();
        if (t < start || t >= end || (stat.Unit !== undefined && p.unit !== undefined && p.unit !== stat.Unit)) continue;
        const bucket = start + Math.floor((t - start) / (period * 1000)) * period * 1000;
        const values = buckets.get(bucket) ?? [];
        values.push(p.value);
        buckets.set(bucket, values);
      }
      const points = [...buckets.entries()]
        .sort((a, b) => (ascending ? a[0] - b[0] : b[0] - a[0]))
        .map(([t, values]) => [t, aggregate(stat.Stat, values)] as [number, number]);
      if (q.ReturnData !== false) {
        computed.push({ Id: q.Id, Label: q.Label ?? metric.MetricName, points });
      }
    }
    // Pagination: the answer holds at most maxDatapoints datapoints, in query
    // order; the token says how many of the flattened datapoints came before.
    let skip = 0;
    if (input.NextToken !== undefined) {
      const m = /^cw-(\d+)$/.exec(Buffer.from(String(input.NextToken), 'base64').toString('utf8'));
      if (!m) {
        throw new CloudWatchError('InvalidNextToken', 'The service couldn\'t process the NextToken.');
      }
      skip = Number(m[1]);
    }
    let budget = maxDatapoints;
    let seen = 0;
    let cut = false;
    const results: unknown[] = [];
    for (const c of computed) {
      const from = Math.max(0, skip - seen);
      seen += c.points.length;
      if (from >= c.points.length && c.points.length > 0) continue;
      if (budget === 0) {
        cut = true;
        break;
      }
      const slice = c.points.slice(from, from + budget);
      budget -= slice.length;
      const partial = from + slice.length < c.points.length;
      results.push({ Id: c.Id, Label: c.Label, Timestamps: slice.map(([t]) => t / 1000), Values: slice.map(([, v]) => v), StatusCode: partial ? 'PartialData' : 'Complete' });
      if (partial) {
        cut = true;
        break;
      }
    }
    const consumed = maxDatapoints - budget + skip;
    return { MetricDataResults: results, Messages: [], ...(cut ? { NextToken: Buffer.from(`cw-${consumed}`).toString('base64') } : {}) };
  }

  private putMetricDataAction(region: string, input: any): unknown {
    const namespace = input.Namespace;
    if (typeof namespace !== 'string') {
      throw new CloudWatchError('MissingParameter', 'The parameter Namespace is required.');
    }
    if (namespace.length < 1 || namespace.length > 255 || namespace.startsWith('AWS/')) {
      throw new CloudWatchError('InvalidParameterValue', `The value ${namespace} for parameter Namespace is invalid.`);
    }
    const data: any[] = input.MetricData ?? [];
    if (data.length < 1 || data.length > 1000) {
      throw new CloudWatchError('ValidationError', `1 validation error detected: Value at 'metricData' failed to satisfy constraint: Member must have length less than or equal to 1000 and greater than or equal to 1 (got ${data.length})`);
    }
    const accepted: PutMetricDatum[] = [];
    data.forEach((d, i) => {
      const where = `MetricData.member.${i + 1}`;
      if (typeof d.MetricName !== 'string' || d.MetricName.length < 1 || d.MetricName.length > 255) {
        throw new CloudWatchError('MissingParameter', `The parameter ${where}.MetricName is required.`);
      }
      const dims: any[] = d.Dimensions ?? [];
      if (dims.length > 30) {
        throw new CloudWatchError('InvalidParameterValue', `The collection ${where}.Dimensions must not have a size greater than 30.`);
      }
      if (d.Value !== undefined && d.Values !== undefined) {
        throw new CloudWatchError('InvalidParameterCombination', `The parameters ${where}.Value and ${where}.Values are mutually exclusive and you have specified both.`);
      }
      if (d.Value === undefined && d.Values === undefined && d.StatisticValues === undefined) {
        throw new CloudWatchError('MissingParameter', `The parameter ${where}.Value is required.`);
      }
      if (d.StatisticValues !== undefined) {
        throw new CloudWatchError('InvalidParameterValue', `${where}.StatisticValues is not emulated`);
      }
      if (d.Counts !== undefined && (d.Values === undefined || d.Counts.length !== d.Values.length)) {
        throw new CloudWatchError('InvalidParameterValue', `The parameters ${where}.Values and ${where}.Counts must be of the same size.`);
      }
      for (const v of d.Value !== undefined ? [d.Value] : d.Values) {
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new CloudWatchError('InvalidParameterValue', `The value ${v} for parameter ${where}.Value is invalid.`);
        }
      }
      if (d.Unit !== undefined && !UNITS.includes(d.Unit)) {
        throw new CloudWatchError('InvalidParameterValue', `The value ${d.Unit} for parameter ${where}.Unit is invalid.`);
      }
      accepted.push({
        Namespace: namespace,
        MetricName: d.MetricName,
        Dimensions: Object.fromEntries(dims.map((x) => [x.Name, x.Value])),
        ...(d.Value !== undefined ? { Value: d.Value } : { Values: d.Values }),
        ...(d.Counts !== undefined ? { Counts: d.Counts } : {}),
        ...(d.Unit !== undefined ? { Unit: d.Unit } : {}),
        Timestamp: d.Timestamp === undefined ? new Date() : new Date(toMillis(d.Timestamp)),
      });
    });
    // Accepted whole or not at all, as CloudWatch validates the call first.
    const puts = this.puts.get(region) ?? [];
    this.puts.set(region, puts);
    for (const d of accepted) {
      puts.push(d);
      const key = seriesKey(d.Namespace, d.MetricName, d.Dimensions);
      const regionSeries = this.regionSeries(region);
      const series = regionSeries.get(key) ?? { namespace: d.Namespace, metricName: d.MetricName, dimensions: d.Dimensions, points: [] };
      regionSeries.set(key, series);
      const values = d.Value !== undefined ? [d.Value] : d.Values!;
      values.forEach((value, i) => {
        for (let n = 0; n < (d.Counts?.[i] ?? 1); n++) {
          series.points.push({ timestamp: d.Timestamp, value, unit: d.Unit });
        }
      });
    }
    return {};
  }
}

/**
 * CloudWatch rounds StartTime down (GetMetricStatistics / GetMetricData
 * reference): to the minute when less than 15 days ago, to 5 minutes when 15
 * to 63 days ago, to the hour before that. Periods start there.
 */
function roundStartTime(start: number, now: number): number {
  const age = now - start;
  const unit = age < 15 * 86_400_000 ? 60_000 : age <= 63 * 86_400_000 ? 300_000 : 3_600_000;
  return Math.floor(start / unit) * unit;
}

function seriesKey(namespace: string, metricName: string, dimensions: Readonly<Record<string, string>>): string {
  return JSON.stringify([namespace, metricName, Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

/** JSON 1.0 timestamps are epoch seconds (the SDK may send fractions). */
function toMillis(value: unknown): number {
  if (typeof value === 'number') {
    return value * 1000;
  }
  const parsed = Date.parse(String(value));
  if (Number.isNaN(parsed)) {
    throw new CloudWatchError('InvalidParameterValue', `not a timestamp: ${value}`);
  }
  return parsed;
}

function aggregate(stat: string, values: number[]): number {
  switch (stat) {
    case 'Sum': return values.reduce((a, b) => a + b, 0);
    case 'Average': return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum': return Math.min(...values);
    case 'Maximum': return Math.max(...values);
    default: return values.length;
  }
}

/** CloudWatch answers signature problems with these codes, all HTTP 403. */
function authError(err: SigV4Error): CloudWatchError {
  switch (err.failure) {
    case 'missing':
      return new CloudWatchError('MissingAuthenticationToken', 'Request is missing Authentication Token');
    case 'unknown-key':
    case 'session-token':
      return new CloudWatchError('InvalidClientTokenId', 'The security token included in the request is invalid.');
    case 'scope':
      return new CloudWatchError('SignatureDoesNotMatch', err.message);
    default:
      return new CloudWatchError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
  }
}
