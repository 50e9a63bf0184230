/**
 * Findings as EventBridge events (lambda/shared/events.ts), put with the real
 * `@aws-sdk/client-eventbridge` to the local EventBridge endpoint
 * (test/support/eventbridge-emulator.ts, by AWS_ENDPOINT_URL_EVENTBRIDGE) and
 * the FindingsNotPut metric to the local CloudWatch endpoint: the default bus
 * and a central bus of another account and Region (a client made for the bus's
 * Region), what the detail carries (version, account, Region, resource) and
 * what it never carries (a ResponseURL), the bounds (strings, lists, the 256 KB
 * limit), the retries (per-entry failures that may pass later, and none for the
 * others; the SDK's own for a throttled call), and that putting never throws,
 * logs one line without the detail, counts what was not put, and returns
 * within its budget against an endpoint that never answers.
 */
import {
  DETAIL_MAX_BYTES, LIST_MAX, PUT_ATTEMPTS, PUT_BUDGET_MS, STRING_MAX, findingEntry, putFindings, setFindingsOrigin,
} from '../../../lambda/shared/events';
import { CloudWatchEmulator } from '../../support/cloudwatch-emulator';
import { EventBridgeEmulator, TEST_CREDENTIALS } from '../../support/eventbridge-emulator';
import { expectMatchesFindingsSchema } from '../../support/findings-schema';
import { captureLogs } from '../support';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const HUB = '210987654321';
const HUB_REGION = 'us-east-1';
const ORG = 'o-eventstest01';
const SOURCE = 'cdk-imds-account-defaults';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ImdsFn`;
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Imds/0b7d1f20-1f6e-11f1-9a3b-0a1b2c3d4e5f`;

let eventBridge: EventBridgeEmulator;
let cloudWatch: CloudWatchEmulator;
let logs: string[];
let central: string;
const env = { ...process.env };

beforeAll(async () => {
  [eventBridge, cloudWatch] = await Promise.all([EventBridgeEmulator.start(), CloudWatchEmulator.start()]);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  delete process.env.IMDS_EVENT_BUS;
  // The function's role session, in a member account of the organization the central bus admits.
  eventBridge.setCaller(TEST_CREDENTIALS.accessKeyId, `arn:aws:sts::${ACCOUNT}:assumed-role/ImdsFnRole/ImdsFn`);
  eventBridge.setOrganization(ORG, [ACCOUNT, HUB]);
  central = EventBridgeEmulator.busArn(HUB, HUB_REGION, 'imds-findings');
  eventBridge.addBus({
    account: HUB,
    region: HUB_REGION,
    name: 'imds-findings',
    policy: {
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow',
        Principal: '*',
        Action: 'events:PutEvents',
        Resource: central,
        Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG, 'events:source': SOURCE } },
      }],
    },
  });
  logs = captureLogs();
});
afterAll(async () => {
  process.env = env;
  await Promise.all([eventBridge.stop(), cloudWatch.stop()]);
});
beforeEach(() => {
  logs.length = 0;
  delete process.env.IMDS_EVENT_BUS;
  setFindingsOrigin(`${FUNCTION_ARN}:live`);
  eventBridge.requests.length = 0;
  eventBridge.hang = false;
  eventBridge.clearFaults();
  eventBridge.clearEntryFailures();
  eventBridge.clearEvents();
  eventBridge.setOrganization(ORG, [ACCOUNT]);
  for (const region of [REGION, HUB_REGION]) {
    cloudWatch.clearMetrics(region);
  }
  cloudWatch.requests.length = 0;
});

const defaultBus = () => eventBridge.defaultBusEvents(ACCOUNT, REGION);
const notPutMetric = () => cloudWatch.putMetricData(REGION).filter((d) => d.MetricName === 'FindingsNotPut').map((d) => d.Value);
const logLines = () => logs.map((l) => JSON.parse(l));

/** A finding that findings-schema.json accepts. */
function warning(entries: Array<Record<string, unknown>> = [{ mismatch: 'not in CloudFormation', RequestType: 'Delete' }]) {
  return { type: 'IMDS Security Warning', detail: { warning: 'unconfirmed-event', metric: 'UnconfirmedEvents', count: entries.length, entries } };
}

test('to the default bus: the detail gets the version, account, Region and resource (the function by name); the entry names no resources; nothing is logged or counted', async () => {
  expect(await putFindings([{ ...warning(), stackId: STACK_ID, logicalResourceId: 'Imds' }])).toBe(0);
  const [event] = defaultBus();
  expect(event).toEqual({
    'version': '0',
    'id': expect.any(String),
    'detail-type': 'IMDS Security Warning',
    'source': SOURCE,
    'account': ACCOUNT,
    'time': expect.any(String),
    'region': REGION,
    'resources': [],
    'detail': {
      version: '1',
      account: ACCOUNT,
      region: REGION,
      resource: { function: 'ImdsFn', stackId: STACK_ID, logicalResourceId: 'Imds' },
      warning: 'unconfirmed-event',
      metric: 'UnconfirmedEvents',
      count: 1,
      entries: [{ mismatch: 'not in CloudFormation', RequestType: 'Delete' }],
    },
  });
  expectMatchesFindingsSchema(event);
  // The default bus in the function's own Region, with no EventBusName.
  expect(eventBridge.requests).toEqual([expect.objectContaining({ action: 'PutEvents', region: REGION })]);
  expect(eventBridge.requests[0].input.Entries[0].EventBusName).toBeUndefined();
  expect(logs).toEqual([]);
  expect(cloudWatch.requests).toEqual([]);
  // Nothing to put: no call.
  expect(await putFindings([])).toBe(0);
  expect(eventBridge.requests).toHaveLength(1);
});

test('with IMDS_EVENT_BUS, to the central bus of another account and Region too (a client made for its Region); the event carries the sender\'s account', async () => {
  process.env.IMDS_EVENT_BUS = central;
  expect(await putFindings([warning(), warning()])).toBe(0);
  expect(defaultBus()).toHaveLength(2);
  const atHub = eventBridge.events(central);
  expect(atHub).toHaveLength(2);
  expect(atHub[0]).toMatchObject({ account: ACCOUNT, region: HUB_REGION, source: SOURCE, detail: { account: ACCOUNT, region: REGION } });
  atHub.forEach(expectMatchesFindingsSchema);
  const toHub = eventBridge.requests.filter((r) => r.input.Entries[0].EventBusName === central);
  expect(toHub.map((r) => r.region)).toEqual([HUB_REGION, HUB_REGION]);
  expect(eventBridge.requests.filter((r) => r.input.Entries[0].EventBusName === undefined).map((r) => r.region)).toEqual([REGION, REGION]);
});

test('an entry refused for a passing reason (throttled, an internal failure) is sent again, up to PUT_ATTEMPTS sends; then it counts as not put', async () => {
  eventBridge.failEntries({ code: 'ThrottlingException', entries: 1 });
  eventBridge.failEntries({ code: 'InternalFailure', entries: 1 });
  expect(await putFindings([warning()])).toBe(0);
  expect(eventBridge.requests).toHaveLength(3);
  expect(defaultBus()).toHaveLength(1);
  expect(notPutMetric()).toEqual([]);

  eventBridge.requests.length = 0;
  eventBridge.failEntries({ code: 'ThrottlingException', entries: PUT_ATTEMPTS });
  expect(await putFindings([warning()])).toBe(1);
  expect(eventBridge.requests).toHaveLength(PUT_ATTEMPTS);
  expect(notPutMetric()).toEqual([1]);
});

test('an entry refused for good (malformed, denied by the central bus\'s policy) is not sent again; the other bus still gets it', async () => {
  eventBridge.failEntries({ code: 'MalformedDetail', entries: 1 });
  expect(await putFindings([warning()])).toBe(1);
  expect(eventBridge.requests).toHaveLength(1);
  expect(defaultBus()).toEqual([]);
  expect(notPutMetric()).toEqual([1]);

  // An account that is not (or no longer) in the organization: the central bus's policy refuses the entry.
  eventBridge.requests.length = 0;
  logs.length = 0;
  cloudWatch.clearMetrics(REGION);
  eventBridge.setOrganization('o-otherorg0001', [ACCOUNT]);
  process.env.IMDS_EVENT_BUS = central;
  expect(await putFindings([warning()])).toBe(1);
  expect(eventBridge.requests.filter((r) => r.input.Entries[0].EventBusName === central)).toHaveLength(1);
  expect(defaultBus()).toHaveLength(1);
  expect(eventBridge.events(central)).toEqual([]);
  expect(notPutMetric()).toEqual([1]);
  expect(logLines()).toEqual([{ message: 'findings not put as events', bus: central, count: 1, error: 'AccessDeniedException' }]);
});

test('a throttled call is retried by the SDK and goes through', async () => {
  eventBridge.injectFault({ code: 'ThrottlingException', times: 2 });
  expect(await putFindings([warning()])).toBe(0);
  expect(eventBridge.requests.map((r) => r.fault ?? 'ok')).toEqual(['ThrottlingException', 'ThrottlingException', 'ok']);
  expect(defaultBus()).toHaveLength(1);
  expect(logs).toEqual([]);
});

test('a denied call (the role may not put): never throws, returns how many were not put, logs one line without the detail, counts FindingsNotPut', async () => {
  eventBridge.injectFault({ code: 'AccessDeniedException', times: 5 });
  const secret = 'the-detail-must-not-be-logged';
  process.env.IMDS_EVENT_BUS = central;
  eventBridge.setOrganization(ORG, [ACCOUNT, HUB]);
  await expect(putFindings([warning([{ secret }]), warning([{ secret }])])).resolves.toBe(4);
  // One call per bus: after a denied call, the next would be denied too.
  expect(eventBridge.requests).toHaveLength(2);
  expect(defaultBus()).toEqual([]);
  expect(notPutMetric()).toEqual([4]);
  const lines = logLines();
  expect(lines).toEqual(expect.arrayContaining([
    { message: 'findings not put as events', bus: 'default', count: 2, error: expect.stringMatching(/^AccessDeniedException: User: .* is not authorized to perform: events:PutEvents/) },
    { message: 'findings not put as events', bus: central, count: 2, error: expect.stringMatching(/^AccessDeniedException/) },
  ]));
  expect(lines).toHaveLength(2);
  expect(logs.join('\n')).not.toContain(secret);
});

test('a call denied after the first finding was put: only the findings not yet put count (the first is on the bus)', async () => {
  eventBridge.injectFault({ code: 'AccessDeniedException', times: 5, after: 1 });
  await expect(putFindings([warning([{ n: 1 }]), warning([{ n: 2 }]), warning([{ n: 3 }])])).resolves.toBe(2);
  expect(defaultBus().map((e) => e.detail.entries[0].n)).toEqual([1]);
  expect(notPutMetric()).toEqual([2]);
  expect(logLines()).toEqual([expect.objectContaining({ message: 'findings not put as events', bus: 'default', count: 2 })]);
});

test('a string of exactly STRING_MAX characters is kept whole; one more and it is clipped', async () => {
  expect(await putFindings([warning([{ exact: 'x'.repeat(STRING_MAX), over: 'y'.repeat(STRING_MAX + 1) }])])).toBe(0);
  const [entry] = defaultBus()[0].detail.entries;
  expect(entry.exact).toBe('x'.repeat(STRING_MAX));
  expect(entry.over).toBe(`${'y'.repeat(STRING_MAX)}…`);
});

test('strings are clipped to STRING_MAX characters and lists to LIST_MAX items, at any depth (an input someone else wrote, a forged StackId)', async () => {
  const long = 'x'.repeat(5_000);
  const entries = Array.from({ length: 30 }, (_, i) => ({ i, value: long, nested: { list: Array.from({ length: 30 }, () => 'y') } }));
  expect(await putFindings([{ ...warning(entries), stackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${long}` }])).toBe(0);
  const { detail } = defaultBus()[0];
  expect(detail.resource.stackId).toHaveLength(STRING_MAX + 1);
  expect(detail.resource.stackId.endsWith('…')).toBe(true);
  expect(detail.entries).toHaveLength(LIST_MAX);
  expect(detail.entries[0].value).toBe(`${'x'.repeat(STRING_MAX)}…`);
  expect(detail.entries[24].nested.list).toHaveLength(LIST_MAX);
  // The full count stays in the caller's own field.
  expect(detail.count).toBe(30);
  expect(detail.truncated).toBeUndefined();
  expectMatchesFindingsSchema(defaultBus()[0]);
});

test('a detail still over DETAIL_MAX_BYTES loses its lists (truncated: true, counts kept); several large findings each go in a call of their own', async () => {
  const wide = Object.fromEntries(Array.from({ length: 12 }, (_, k) => [`field${k}`, 'z'.repeat(STRING_MAX)]));
  const huge = warning(Array.from({ length: 25 }, () => wide));
  expect(Buffer.byteLength(JSON.stringify(huge.detail))).toBeGreaterThan(DETAIL_MAX_BYTES);
  const entry = findingEntry(huge);
  expect(Buffer.byteLength(entry.Detail!)).toBeLessThan(DETAIL_MAX_BYTES);
  expect(JSON.parse(entry.Detail!)).toMatchObject({ truncated: true, entries: [], count: 25, warning: 'unconfirmed-event' });
  // Just under the limit: kept whole; three of them would be over EventBridge's 256 KB for one call.
  const large = warning(Array.from({ length: 20 }, () => wide));
  const size = Buffer.byteLength(findingEntry(large).Detail!);
  expect(size).toBeLessThan(DETAIL_MAX_BYTES);
  expect(3 * size).toBeGreaterThan(256 * 1024);
  expect(await putFindings([huge, large, large, large])).toBe(0);
  const delivered = defaultBus();
  expect(delivered.map((e) => [e.detail.truncated ?? false, e.detail.entries.length])).toEqual([[true, 0], [false, 20], [false, 20], [false, 20]]);
  delivered.forEach(expectMatchesFindingsSchema);
  expect(eventBridge.requests).toHaveLength(4);
});

test('a ResponseURL never reaches a bus, wherever a caller put it', async () => {
  const url = 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x?X-Amz-Signature=abc';
  expect(await putFindings([warning([{ ResponseURL: url, RequestType: 'Delete', nested: { ResponseURL: url } }])])).toBe(0);
  const [event] = defaultBus();
  expect(JSON.stringify(event)).not.toContain('X-Amz-Signature');
  expect(event.detail.entries).toEqual([{ RequestType: 'Delete', nested: {} }]);
  expect(JSON.stringify(eventBridge.requests)).not.toContain('ResponseURL');
});

test('the budget: against an endpoint that never answers, putting returns within about PUT_BUDGET_MS, counts the findings and still puts the metric', async () => {
  eventBridge.hang = true;
  const started = Date.now();
  expect(await putFindings([warning(), warning()])).toBe(2);
  const took = Date.now() - started;
  expect(took).toBeGreaterThanOrEqual(PUT_BUDGET_MS - 100);
  expect(took).toBeLessThan(PUT_BUDGET_MS + 1_500);
  expect(notPutMetric()).toEqual([2]);
  expect(logLines()).toEqual([{ message: 'findings not put as events', bus: 'default', count: 2, error: expect.stringMatching(/abort/i) }]);
  // The caller's own signal ends it sooner (and leaves no time for the metric).
  const soon = Date.now();
  expect(await putFindings([warning()], AbortSignal.timeout(300))).toBe(1);
  expect(Date.now() - soon).toBeLessThan(1_000);
}, 15_000);

test('without setFindingsOrigin the detail lacks the account and Region: the schema check catches it', async () => {
  setFindingsOrigin(undefined);
  const entry = findingEntry(warning());
  expect(() => expectMatchesFindingsSchema(entry)).toThrow(/must have required property 'account'/);
});
