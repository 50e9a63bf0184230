/**
 * The fidelity of the local CloudWatch endpoint
 * (test/support/cloudwatch-emulator.ts) that the end-to-end suite runs the
 * functions against, checked with the real `@aws-sdk/client-cloudwatch`: the
 * current one (the devDependency) and 3.995.0 from the e2e runtime's NODE_PATH
 * root (the oldest the functions meet). Covered: the JSON 1.0 wire format in
 * awsQueryCompatible mode, GetMetricData (MetadataNoToken per instance,
 * statistics, periods, 500 queries, pagination), PutMetricData and its
 * validation, each error code and HTTP status as the SDK surfaces and retries
 * them, SigV4, per-Region state, and the fault switches.
 */
import * as currentCw from '@aws-sdk/client-cloudwatch';
import { loadSdkClient } from './harness/runtime';
import { CloudWatchEmulator, TEST_CREDENTIALS, TEST_SESSION_TOKEN } from '../support/cloudwatch-emulator';
import { captureRaw, tamperAfterSigning } from '../support/sdk-probe';

type CwModule = typeof currentCw;

const REGION = 'eu-west-1';
const T0 = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let emulator: CloudWatchEmulator;

beforeAll(async () => {
  emulator = await CloudWatchEmulator.start();
});
afterAll(async () => {
  await emulator.stop();
});

/**
 * The SDK's error for a call. In awsQueryCompatible mode the SDK names a
 * modelled error after its shape (InvalidParameterValueException) and keeps
 * the awsQuery code from the x-amzn-query-error header in `Code`
 * (InvalidParameterValue); an unmodelled one (Throttling) is named by that code.
 */
async function errorOf(call: Promise<unknown>) {
  try {
    await call;
  } catch (err: any) {
    const { name, Code: code, $fault: fault, message } = err;
    return { name, code, status: err.$metadata?.httpStatusCode, fault, requestId: err.$metadata?.requestId, message };
  }
  throw new Error('the call succeeded');
}

const SDKS: Array<[string, () => CwModule]> = [
  ['current', () => currentCw],
  ['3.995.0', () => loadSdkClient<CwModule>('3.996.0', 'client-cloudwatch')],
];

describe.each(SDKS)('with client-cloudwatch %s', (sdkName, load) => {
  let sdk: CwModule;

  beforeAll(() => {
    sdk = load();
    if (sdkName !== 'current') {
      // Really the runtime's copy, not the project's.
      expect(sdk.CloudWatchClient).not.toBe(currentCw.CloudWatchClient);
    }
  });
  beforeEach(() => {
    emulator.requests.length = 0;
    emulator.hang = false;
    emulator.clearFaults();
    emulator.clearMetrics(REGION);
    emulator.clearMetrics('us-east-1');
  });

  function client(options: { region?: string; maxAttempts?: number; secret?: string; sessionToken?: string; requestTimeout?: number } = {}) {
    const c = new sdk.CloudWatchClient({
      region: options.region ?? REGION,
      endpoint: emulator.endpoint,
      credentials: { ...TEST_CREDENTIALS, secretAccessKey: options.secret ?? TEST_CREDENTIALS.secretAccessKey, sessionToken: options.sessionToken },
      maxAttempts: options.maxAttempts ?? 1,
      requestHandler: { requestTimeout: options.requestTimeout ?? 5_000, throwOnRequestTimeout: true },
    });
    return { c: c as currentCw.CloudWatchClient, raw: captureRaw(c) };
  }

  /** The query the instance upgrade makes: Sum of MetadataNoToken for one instance. */
  const noToken = (id: string, instanceId: string, period = 86_400): currentCw.MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: { Namespace: 'AWS/EC2', MetricName: 'MetadataNoToken', Dimensions: [{ Name: 'InstanceId', Value: instanceId }] },
      Period: period,
      Stat: 'Sum',
    },
  });
  const getData = (c: currentCw.CloudWatchClient, input: Partial<currentCw.GetMetricDataCommandInput>) =>
    c.send(new sdk.GetMetricDataCommand({ StartTime: new Date(T0), EndTime: new Date(T0 + 14 * DAY), MetricDataQueries: [], ...input }));
  const put = (c: currentCw.CloudWatchClient, input: currentCw.PutMetricDataCommandInput) => c.send(new sdk.PutMetricDataCommand(input));

  test('the wire format: a signed JSON 1.0 POST with X-Amz-Target and x-amzn-query-mode, answered with JSON; timestamps as epoch seconds', async () => {
    emulator.setMetadataNoToken(REGION, 'i-0123456789abcdef0', [{ timestamp: new Date(T0 + HOUR), value: 2 }]);
    const seen: Record<string, string> = {};
    const { c, raw } = client();
    c.middlewareStack.add((next: any) => async (args: any) => {
      Object.assign(seen, args.request.headers);
      return next(args);
    }, { step: 'finalizeRequest', priority: 'low' });
    const out = await getData(c, { MetricDataQueries: [noToken('m0', 'i-0123456789abcdef0')] });
    expect(seen).toMatchObject({
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'GraniteServiceVersion20100801.GetMetricData',
      'x-amzn-query-mode': 'true',
      'authorization': expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDLOCALEMULATOR\/\d{8}\/eu-west-1\/monitoring\/aws4_request/),
    });
    expect(emulator.requests[0]).toEqual({
      action: 'GetMetricData',
      region: REGION,
      input: { StartTime: T0 / 1000, EndTime: (T0 + 14 * DAY) / 1000, MetricDataQueries: [noToken('m0', 'i-0123456789abcdef0')] },
    });
    expect(raw).toMatchObject({ status: 200, contentType: 'application/x-amz-json-1.0' });
    expect(JSON.parse(raw.body!)).toEqual({
      MetricDataResults: [{ Id: 'm0', Label: 'MetadataNoToken', Timestamps: [T0 / 1000], Values: [2], StatusCode: 'Complete' }],
      Messages: [],
    });
    expect(out.MetricDataResults).toEqual([{ Id: 'm0', Label: 'MetadataNoToken', Timestamps: [new Date(T0)], Values: [2], StatusCode: 'Complete' }]);
    expect(out.NextToken).toBeUndefined();
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('GetMetricData: the Sum of MetadataNoToken per instance and period; an instance without datapoints gives empty Values', async () => {
    emulator.setMetadataNoToken(REGION, 'i-00000000000000001', [
      { timestamp: new Date(T0 + HOUR), value: 0 },
      { timestamp: new Date(T0 + 2 * HOUR), value: 5 },
      { timestamp: new Date(T0 + DAY + HOUR), value: 1 },
      { timestamp: new Date(T0 - HOUR), value: 100 }, // before StartTime
      { timestamp: new Date(T0 + 14 * DAY), value: 100 }, // EndTime is exclusive
    ]);
    emulator.setMetadataNoToken(REGION, 'i-00000000000000002', [{ timestamp: new Date(T0 + 3 * DAY), value: 0 }]);
    // Another metric and another dimension set are other series.
    emulator.setDatapoints(REGION, 'AWS/EC2', 'MetadataNoTokenRejected', { InstanceId: 'i-00000000000000003' }, [{ timestamp: new Date(T0 + HOUR), value: 9 }]);
    emulator.setDatapoints(REGION, 'AWS/EC2', 'MetadataNoToken', { InstanceId: 'i-00000000000000003', AutoScalingGroupName: 'web' }, [{ timestamp: new Date(T0 + HOUR), value: 9 }]);
    const { c } = client();
    const out = await getData(c, {
      MetricDataQueries: ['1', '2', '3'].map((n) => noToken(`m${n}`, `i-0000000000000000${n}`)),
    });
    expect(out.MetricDataResults).toEqual([
      { Id: 'm1', Label: 'MetadataNoToken', Timestamps: [new Date(T0 + DAY), new Date(T0)], Values: [1, 5], StatusCode: 'Complete' },
      { Id: 'm2', Label: 'MetadataNoToken', Timestamps: [new Date(T0 + 3 * DAY)], Values: [0], StatusCode: 'Complete' },
      { Id: 'm3', Label: 'MetadataNoToken', Timestamps: [], Values: [], StatusCode: 'Complete' },
    ]);
    // One period over the whole window (14 days is a multiple of 60 s), ascending order, other statistics, a Label, ReturnData false.
    const whole = await getData(c, {
      ScanBy: 'TimestampAscending',
      MetricDataQueries: [
        { ...noToken('sum', 'i-00000000000000001', 14 * 86_400), Label: 'i-1 IMDSv1 calls' },
        { ...noToken('hidden', 'i-00000000000000002'), ReturnData: false },
        { Id: 'max', MetricStat: { ...noToken('x', 'i-00000000000000001').MetricStat!, Stat: 'Maximum', Period: 3600 } },
        { Id: 'n', MetricStat: { ...noToken('x', 'i-00000000000000001').MetricStat!, Stat: 'SampleCount', Period: 3600 } },
      ],
    });
    const byId = Object.fromEntries(whole.MetricDataResults!.map((r) => [r.Id, r]));
    expect(Object.keys(byId)).toEqual(['sum', 'max', 'n']);
    // Periods start at StartTime: one period of 14 days holds the whole window.
    expect(byId.sum).toMatchObject({ Label: 'i-1 IMDSv1 calls', Timestamps: [new Date(T0)], Values: [6] });
    expect(byId.max).toMatchObject({ Timestamps: [new Date(T0 + HOUR), new Date(T0 + 2 * HOUR), new Date(T0 + DAY + HOUR)], Values: [0, 5, 1] });
    expect(byId.n.Values).toEqual([1, 1, 1]);
    // A recent StartTime is rounded down to the minute, and its period starts there.
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 2 * HOUR;
    emulator.setMetadataNoToken(REGION, 'i-00000000000000004', [{ timestamp: new Date(minute + 10_000), value: 4 }]);
    const recent = await getData(c, { StartTime: new Date(minute + 30_000), EndTime: new Date(minute + HOUR), MetricDataQueries: [noToken('m4', 'i-00000000000000004', 3600)] });
    expect(recent.MetricDataResults![0]).toMatchObject({ Timestamps: [new Date(minute)], Values: [4] });
    // The series are per Region.
    const elsewhere = await getData(client({ region: 'us-east-1' }).c, { MetricDataQueries: [noToken('m1', 'i-00000000000000001')] });
    expect(elsewhere.MetricDataResults![0].Values).toEqual([]);
  });

  test('GetMetricData takes up to 500 queries per call and pages with NextToken past MaxDatapoints', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `i-${String(i).padStart(17, '0')}`);
    ids.forEach((id, i) => emulator.setMetadataNoToken(REGION, id, [
      { timestamp: new Date(T0 + HOUR), value: i % 3 },
      { timestamp: new Date(T0 + 5 * DAY), value: 1 },
    ]));
    const { c } = client();
    const queries = ids.map((id, i) => noToken(`q${i}`, id));
    const out = await getData(c, { MetricDataQueries: queries });
    expect(out.MetricDataResults).toHaveLength(500);
    expect(out.MetricDataResults![7]).toMatchObject({ Id: 'q7', Values: [1, 1], StatusCode: 'Complete' });
    expect(await errorOf(getData(c, { MetricDataQueries: [...queries, noToken('q500', ids[0])] }))).toMatchObject({ code: 'ValidationError', status: 400, fault: 'client' });

    // MaxDatapoints 3: pages of three datapoints; the query cut short is PartialData and goes on in the next page.
    const pages: currentCw.MetricDataResult[][] = [];
    for await (const page of sdk.paginateGetMetricData({ client: c }, {
      StartTime: new Date(T0), EndTime: new Date(T0 + 14 * DAY), MaxDatapoints: 3, MetricDataQueries: queries.slice(0, 4),
    })) {
      pages.push(page.MetricDataResults!);
    }
    expect(pages.map((p) => p.map((r) => `${r.Id}:${r.Values!.length}:${r.StatusCode}`))).toEqual([
      ['q0:2:Complete', 'q1:1:PartialData'],
      ['q1:1:Complete', 'q2:2:Complete'],
      ['q3:2:Complete'],
    ]);
    expect(await errorOf(getData(c, { MetricDataQueries: queries.slice(0, 1), NextToken: 'nope' }))).toMatchObject({ code: 'InvalidNextToken', status: 400 });
  });

  test('GetMetricData validation: Ids, duplicate Ids, periods, statistics, the time range, and metric math (not emulated)', async () => {
    const { c } = client();
    const q = noToken('m0', 'i-00000000000000001');
    expect(await errorOf(getData(c, { MetricDataQueries: [{ ...q, Id: 'M0' }] }))).toMatchObject({ code: 'ValidationError', status: 400 });
    expect(await errorOf(getData(c, { MetricDataQueries: [q, q] }))).toMatchObject({ code: 'ValidationError', message: expect.stringContaining('unique') });
    for (const Period of [0, 45, 90]) {
      expect(await errorOf(getData(c, { MetricDataQueries: [{ ...q, MetricStat: { ...q.MetricStat!, Period } }] }))).toMatchObject({ code: 'InvalidParameterValue', status: 400 });
    }
    await expect(getData(c, { MetricDataQueries: [{ ...q, MetricStat: { ...q.MetricStat!, Period: 30 } }] })).resolves.toBeDefined();
    expect(await errorOf(getData(c, { MetricDataQueries: [{ ...q, MetricStat: { ...q.MetricStat!, Stat: 'p99' } }] }))).toMatchObject({ code: 'InvalidParameterValue' });
    expect(await errorOf(getData(c, { MetricDataQueries: [q], StartTime: new Date(T0), EndTime: new Date(T0) }))).toMatchObject({ code: 'InvalidParameterValue', message: expect.stringContaining('StartTime') });
    expect(await errorOf(getData(c, { MetricDataQueries: [{ Id: 'e1', Expression: 'SUM(METRICS())' }] }))).toMatchObject({ code: 'InvalidParameterValue' });
  });

  test('PutMetricData: recorded as sent (read back with putMetricData) and queryable; validated as CloudWatch does', async () => {
    const { c } = client();
    const when = new Date(T0 + HOUR);
    await put(c, {
      Namespace: 'CdkImdsAccountDefaults',
      MetricData: [
        { MetricName: 'InstancesUpgraded', Value: 3, Unit: 'Count', Timestamp: when },
        { MetricName: 'InstancesInUse', Value: 0, Unit: 'Count', Dimensions: [{ Name: 'Mode', Value: 'UPGRADE' }], Timestamp: when },
        { MetricName: 'Latency', Values: [1, 2], Counts: [2, 1], Timestamp: when },
      ],
    });
    expect(emulator.requests[0]).toMatchObject({ action: 'PutMetricData', input: { Namespace: 'CdkImdsAccountDefaults' } });
    expect(emulator.putMetricData(REGION)).toEqual([
      { Namespace: 'CdkImdsAccountDefaults', MetricName: 'InstancesUpgraded', Dimensions: {}, Value: 3, Unit: 'Count', Timestamp: when },
      { Namespace: 'CdkImdsAccountDefaults', MetricName: 'InstancesInUse', Dimensions: { Mode: 'UPGRADE' }, Value: 0, Unit: 'Count', Timestamp: when },
      { Namespace: 'CdkImdsAccountDefaults', MetricName: 'Latency', Dimensions: {}, Values: [1, 2], Counts: [2, 1], Timestamp: when },
    ]);
    expect(emulator.putMetricData(REGION, 'Other')).toEqual([]);
    const stat = (MetricName: string, Stat: string): currentCw.MetricDataQuery => ({
      Id: MetricName.toLowerCase(), MetricStat: { Metric: { Namespace: 'CdkImdsAccountDefaults', MetricName }, Period: 60, Stat },
    });
    const out = await getData(c, { MetricDataQueries: [stat('InstancesUpgraded', 'Sum'), stat('Latency', 'SampleCount')] });
    expect(out.MetricDataResults!.map((r) => r.Values)).toEqual([[3], [3]]);

    const invalid: Array<[Partial<currentCw.PutMetricDataCommandInput>, string]> = [
      [{ Namespace: 'AWS/EC2' }, 'InvalidParameterValue'],
      [{ MetricData: [] }, 'ValidationError'],
      [{ MetricData: Array.from({ length: 1001 }, () => ({ MetricName: 'X', Value: 1 })) }, 'ValidationError'],
      [{ MetricData: [{ MetricName: 'X', Value: 1, Values: [1] }] }, 'InvalidParameterCombination'],
      [{ MetricData: [{ MetricName: 'X' }] }, 'MissingParameter'],
      [{ MetricData: [{ MetricName: 'X', Value: 1, Unit: 'Instances' as any }] }, 'InvalidParameterValue'],
      [{ MetricData: [{ MetricName: 'X', Values: [1, 2], Counts: [1] }] }, 'InvalidParameterValue'],
      [{ MetricData: [{ MetricName: 'X', Value: 1, Dimensions: Array.from({ length: 31 }, (_, i) => ({ Name: `d${i}`, Value: 'v' })) }] }, 'InvalidParameterValue'],
    ];
    for (const [input, code] of invalid) {
      expect(await errorOf(put(c, { Namespace: 'CdkImdsAccountDefaults', MetricData: [{ MetricName: 'Ok', Value: 1 }], ...input } as any))).toMatchObject({ code: code, status: 400, fault: 'client' });
    }
    // 1,000 entries in one call (PutMetricData's limit): the SDK gzips a body that large; signed as sent.
    const encodings: unknown[] = [];
    c.middlewareStack.add((next: any) => async (args: any) => {
      encodings.push(args.request.headers['content-encoding']);
      return next(args);
    }, { step: 'finalizeRequest', priority: 'low' });
    await put(c, { Namespace: 'Big', MetricData: Array.from({ length: 1000 }, (_, i) => ({ MetricName: `Metric${i}`, Value: i, Unit: 'Count' })) });
    expect(encodings).toEqual(['gzip']);
    expect(emulator.putMetricData(REGION, 'Big').map((d) => d.Value)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // A call that fails puts nothing, not even its valid entries.
    expect(await errorOf(put(c, { Namespace: 'N', MetricData: [{ MetricName: 'Ok', Value: 1 }, { MetricName: 'X' }] }))).toMatchObject({ code: 'MissingParameter' });
    expect(emulator.putMetricData(REGION, 'N')).toEqual([]);
  });

  test('errors are JSON bodies with __type and the x-amzn-query-error header; the SDK names them by the query code', async () => {
    const { c, raw } = client();
    expect(await errorOf(put(c, { Namespace: 'AWS/EC2', MetricData: [{ MetricName: 'X', Value: 1 }] }))).toMatchObject({
      name: 'InvalidParameterValueException', code: 'InvalidParameterValue', status: 400, fault: 'client', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), message: 'The value AWS/EC2 for parameter Namespace is invalid.',
    });
    expect(raw.contentType).toBe('application/x-amz-json-1.0');
    expect(JSON.parse(raw.body!)).toEqual({ __type: 'com.amazonaws.cloudwatch#InvalidParameterValueException', message: 'The value AWS/EC2 for parameter Namespace is invalid.' });
    // The modelled errors, by shape; the unmodelled ones by their code.
    const names: Record<string, string> = {
      MissingParameter: 'MissingRequiredParameterException',
      InvalidParameterCombination: 'InvalidParameterCombinationException',
      InvalidNextToken: 'InvalidNextToken',
      InternalServiceError: 'InternalServiceFault',
      Throttling: 'Throttling',
    };
    for (const [code, name] of Object.entries(names)) {
      emulator.injectFault({ code, times: 1 });
      expect(await errorOf(put(c, { Namespace: 'N', MetricData: [{ MetricName: 'X', Value: 1 }] }))).toMatchObject({ name, code });
    }
    emulator.injectFault({ code: 'AccessDenied', times: 1 });
    expect(await errorOf(put(c, { Namespace: 'N', MetricData: [{ MetricName: 'X', Value: 1 }] }))).toMatchObject({
      name: 'AccessDenied', status: 403, message: expect.stringContaining('cloudwatch:PutMetricData'),
    });
  });

  test.each([
    // code, HTTP status, retried by the SDK's standard strategy
    ['Throttling', 400, true],
    ['InternalServiceError', 500, true],
    ['AccessDenied', 403, false],
  ])('the %s switch answers HTTP %d (retried by the SDK: %s)', async (code, status, retried) => {
    const q = [noToken('m0', 'i-00000000000000001')];
    emulator.injectFault({ code: code as string, times: 1, action: 'GetMetricData' });
    expect(await errorOf(getData(client().c, { MetricDataQueries: q }))).toMatchObject({ code: code, status });

    emulator.requests.length = 0;
    emulator.injectFault({ code: code as string, times: 1 });
    const second = getData(client({ maxAttempts: 2 }).c, { MetricDataQueries: q });
    if (retried) {
      await expect(second).resolves.toMatchObject({ MetricDataResults: [{ Id: 'm0' }] });
    } else {
      await expect(second).rejects.toMatchObject({ Code: code });
    }
    expect(emulator.requests).toHaveLength(retried ? 2 : 1);
  });

  test('SigV4: a wrong secret, an unknown session token and a body changed after signing are refused (403)', async () => {
    const input = { Namespace: 'N', MetricData: [{ MetricName: 'X', Value: 1 }] };
    expect(await errorOf(put(client({ secret: 'wrong' }).c, input))).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
    await expect(put(client({ sessionToken: TEST_SESSION_TOKEN }).c, input)).resolves.toBeDefined();
    expect(await errorOf(put(client({ sessionToken: 'stolen' }).c, input))).toMatchObject({ code: 'InvalidClientTokenId', status: 403 });
    const { c } = client();
    tamperAfterSigning(c, (body) => body.replace('"X"', '"Y"'));
    expect(await errorOf(put(c, input))).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
    expect(emulator.putMetricData(REGION).map((d) => d.MetricName)).toEqual(['X']);
    const unsigned = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'GraniteServiceVersion20100801.PutMetricData' },
      body: JSON.stringify(input),
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-query-error')).toBe('MissingAuthenticationToken;Sender');
  });

  test('an action it does not emulate, and an awsQuery (form-encoded) request, are InvalidAction', async () => {
    expect(await errorOf(client().c.send(new sdk.ListMetricsCommand({})))).toMatchObject({ code: 'InvalidAction', status: 400 });
    const form = await fetch(emulator.endpoint, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetMetricData&Version=2010-08-01',
    });
    expect(form.status).toBe(400);
  });

  test('the client finds the emulator through AWS_ENDPOINT_URL_CLOUDWATCH, as the functions\' clients do', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_CLOUDWATCH;
    process.env.AWS_ENDPOINT_URL_CLOUDWATCH = emulator.endpoint;
    try {
      const c = new sdk.CloudWatchClient({ region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
      await put(c as currentCw.CloudWatchClient, { Namespace: 'Env', MetricData: [{ MetricName: 'X', Value: 1 }] });
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDWATCH;
      else process.env.AWS_ENDPOINT_URL_CLOUDWATCH = saved;
    }
    expect(emulator.putMetricData(REGION, 'Env')).toHaveLength(1);
  });

  test('the hang switch holds requests unanswered until the client gives up', async () => {
    emulator.hang = true;
    const held = emulator.requestsHeld;
    expect(await errorOf(getData(client({ requestTimeout: 300 }).c, { MetricDataQueries: [noToken('m0', 'i-00000000000000001')] }))).toMatchObject({ name: 'TimeoutError' });
    expect(emulator.requestsHeld - held).toBe(1);
  });
});
