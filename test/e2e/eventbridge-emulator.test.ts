/**
 * The fidelity of the local EventBridge endpoint
 * (test/support/eventbridge-emulator.ts) that the end-to-end suite runs the
 * functions against, checked with the real `@aws-sdk/client-eventbridge`: the
 * current one (the devDependency) and 3.996.0 from the e2e runtime's NODE_PATH
 * root (the oldest the functions meet). Covered: the JSON 1.1 wire format,
 * PutEvents and its validation (1..10 entries, the 256 KB total, the required
 * fields, MalformedDetail, `aws.` sources), events as EventBridge delivers
 * them, default and named buses, buses of other accounts behind their resource
 * policies, the cross-Region refusal, each error code and HTTP status as the
 * SDK surfaces and retries it, per-entry failures, SigV4 and the fault
 * switches. Then the harness's wiring: a function of a deployed template
 * reaches the scenario's emulator by AWS_ENDPOINT_URL_EVENTBRIDGE, in its own
 * Region and in a central bus's, and a finding that does not match
 * findings-schema.json fails the step.
 */
import * as currentEb from '@aws-sdk/client-eventbridge';
import { loadSdkClient } from './harness/runtime';
import { CENTRAL_ACCOUNT, CENTRAL_REGION, E2E_ORGANIZATION_ID, REGION as E2E_REGION, centralBusPolicy, expectSuccess, scenario } from './harness/scenario';
import { ACCOUNT, readTemplate } from './harness/template';
import {
  EventBridgeEmulator,
  PUT_EVENTS_MAX_BYTES,
  TEST_CREDENTIALS,
  TEST_SESSION_TOKEN,
  putEventsEntrySize,
  testAccessKeyId,
} from '../support/eventbridge-emulator';
import { TEST_ACCOUNT, TEST_ROLE_ARN } from '../support/local-endpoint';
import { captureRaw, errorOf, tamperAfterSigning } from '../support/sdk-probe';

type EbModule = typeof currentEb;

const REGION = 'eu-west-1';
const MEMBER = '111122223333';
const OUTSIDER = '444455556666';
const HUB = '210987654321';
const ORG = 'o-fidelity0001';
const SOURCE = 'cdk-imds-account-defaults';
const MEMBER_ROLE = `arn:aws:sts::${MEMBER}:assumed-role/ImdsFnRole/ImdsFn`;
let emulator: EventBridgeEmulator;

beforeAll(async () => {
  emulator = await EventBridgeEmulator.start();
});
afterAll(async () => {
  await emulator.stop();
});

const SDKS: Array<[string, () => EbModule]> = [
  ['current', () => currentEb],
  ['3.996.0', () => loadSdkClient<EbModule>('3.996.0', 'client-eventbridge')],
];

describe.each(SDKS)('with client-eventbridge %s', (sdkName, load) => {
  let sdk: EbModule;
  let hubBus: string;
  let n = 0;

  beforeAll(() => {
    sdk = load();
    if (sdkName !== 'current') {
      // Really the runtime's copy, not the project's.
      expect(sdk.EventBridgeClient).not.toBe(currentEb.EventBridgeClient);
    }
    emulator.setCaller(testAccessKeyId(`MEMBER${sdkName.replace(/\./g, '').toUpperCase()}`), MEMBER_ROLE);
    emulator.setCaller(testAccessKeyId(`OUTSIDER${sdkName.replace(/\./g, '').toUpperCase()}`), `arn:aws:sts::${OUTSIDER}:assumed-role/ImdsFnRole/ImdsFn`);
    emulator.setOrganization(ORG, [MEMBER, HUB]);
    hubBus = emulator.addBus({ account: HUB, region: REGION, name: `findings-${sdkName}`, policy: centralBusPolicy(`arn:aws:events:${REGION}:${HUB}:event-bus/findings-${sdkName}`, ORG) });
  });
  beforeEach(() => {
    emulator.requests.length = 0;
    emulator.hang = false;
    emulator.crossAccountDenial = 'entry';
    emulator.clearFaults();
    emulator.clearEntryFailures();
    emulator.clearEvents();
  });

  interface ClientOptions {
    region?: string;
    maxAttempts?: number;
    secret?: string;
    accessKeyId?: string;
    sessionToken?: string;
    requestTimeout?: number;
    /** A caller of account MEMBER or OUTSIDER (its access key). */
    as?: 'MEMBER' | 'OUTSIDER';
  }

  function client(options: ClientOptions = {}) {
    const c = new sdk.EventBridgeClient({
      region: options.region ?? REGION,
      endpoint: emulator.endpoint,
      credentials: {
        accessKeyId: options.as ? testAccessKeyId(`${options.as}${sdkName.replace(/\./g, '').toUpperCase()}`) : options.accessKeyId ?? TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: options.secret ?? TEST_CREDENTIALS.secretAccessKey,
        sessionToken: options.sessionToken,
      },
      maxAttempts: options.maxAttempts ?? 1,
      requestHandler: { requestTimeout: options.requestTimeout ?? 5_000, throwOnRequestTimeout: true },
    });
    return { c: c as currentEb.EventBridgeClient, raw: captureRaw(c) };
  }

  const put = (c: currentEb.EventBridgeClient, entries: currentEb.PutEventsRequestEntry[]) => c.send(new sdk.PutEventsCommand({ Entries: entries }));
  const finding = (extra: Partial<currentEb.PutEventsRequestEntry> = {}): currentEb.PutEventsRequestEntry => ({
    Source: SOURCE, DetailType: 'IMDS Drift Detected', Detail: JSON.stringify({ n: ++n }), ...extra,
  });

  test('the wire format: a signed JSON 1.1 POST with X-Amz-Target AWSEvents.PutEvents, answered with one result per entry', async () => {
    const seen: Record<string, string> = {};
    const { c, raw } = client();
    c.middlewareStack.add((next: any) => async (args: any) => {
      Object.assign(seen, args.request.headers);
      return next(args);
    }, { step: 'finalizeRequest', priority: 'low' });
    const out = await put(c, [{ Source: SOURCE, DetailType: 'IMDS Drift Detected', Detail: '{"a":1}', Time: new Date('2026-11-01T10:20:30.456Z'), Resources: ['arn:aws:lambda:eu-west-1:123456789012:function:f'] }]);
    expect(seen).toMatchObject({
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AWSEvents.PutEvents',
      'authorization': expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDLOCALEMULATOR\/\d{8}\/eu-west-1\/events\/aws4_request/),
    });
    expect(emulator.requests).toEqual([{
      action: 'PutEvents',
      region: REGION,
      caller: TEST_ROLE_ARN,
      input: { Entries: [{ Source: SOURCE, DetailType: 'IMDS Drift Detected', Detail: '{"a":1}', Time: Date.parse('2026-11-01T10:20:30.456Z') / 1000, Resources: ['arn:aws:lambda:eu-west-1:123456789012:function:f'] }] },
    }]);
    expect(raw).toMatchObject({ status: 200, contentType: 'application/x-amz-json-1.1' });
    const body = JSON.parse(raw.body!);
    expect(body).toEqual({ FailedEntryCount: 0, Entries: [{ EventId: expect.stringMatching(/^[0-9a-f-]{36}$/) }] });
    expect(out).toMatchObject({ FailedEntryCount: 0, Entries: body.Entries });
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // Delivered as EventBridge delivers it: the sender's account, the time to the second, Detail parsed.
    expect(emulator.defaultBusEvents(TEST_ACCOUNT, REGION)).toEqual([{
      'version': '0',
      'id': body.Entries[0].EventId,
      'detail-type': 'IMDS Drift Detected',
      'source': SOURCE,
      'account': TEST_ACCOUNT,
      'time': '2026-11-01T10:20:30Z',
      'region': REGION,
      'resources': ['arn:aws:lambda:eu-west-1:123456789012:function:f'],
      'detail': { a: 1 },
    }]);
  });

  test('the default bus: EventBusName omitted, "default" or the default bus\'s ARN; a time of the call when the entry has none', async () => {
    const { c } = client({ as: 'MEMBER' });
    const before = Date.now();
    await put(c, [finding(), finding({ EventBusName: 'default' }), finding({ EventBusName: EventBridgeEmulator.busArn(MEMBER, REGION) })]);
    const events = emulator.defaultBusEvents(MEMBER, REGION);
    expect(events.map((e) => e.detail.n)).toEqual([n - 2, n - 1, n]);
    expect(events.every((e) => e.account === MEMBER && e.region === REGION && e.resources.length === 0)).toBe(true);
    expect(Date.parse(events[0].time)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(events[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Buses are per account and Region.
    expect(emulator.defaultBusEvents(MEMBER, 'us-east-1')).toEqual([]);
    await put(client({ as: 'MEMBER', region: 'us-east-1' }).c, [finding()]);
    expect(emulator.defaultBusEvents(MEMBER, 'us-east-1')).toHaveLength(1);
    expect(emulator.deliveries.map((d) => d.bus)).toEqual([...Array(3).fill(EventBridgeEmulator.busArn(MEMBER, REGION)), EventBridgeEmulator.busArn(MEMBER, 'us-east-1')]);
  });

  test('a custom bus of the caller\'s account by name or ARN; a bus that does not exist takes the entry and drops it, as EventBridge has been reported to', async () => {
    const bus = emulator.addBus({ account: MEMBER, region: REGION, name: `own-${sdkName}` });
    const { c } = client({ as: 'MEMBER' });
    const out = await put(c, [finding({ EventBusName: `own-${sdkName}` }), finding({ EventBusName: bus }), finding({ EventBusName: 'no-such-bus' })]);
    expect(out.FailedEntryCount).toBe(0);
    expect(emulator.events(bus)).toHaveLength(2);
    expect(emulator.dropped).toEqual([{ bus: EventBridgeEmulator.busArn(MEMBER, REGION, 'no-such-bus'), event: expect.objectContaining({ id: out.Entries![2].EventId }) }]);
    // An EventBusName that is neither a name nor an event bus ARN fails the entry.
    const odd = await put(c, [finding({ EventBusName: 'arn:aws:sqs:eu-west-1:111122223333:queue' })]);
    expect(odd.Entries).toEqual([{ ErrorCode: 'InvalidArgument', ErrorMessage: expect.stringContaining('EventBusName') }]);
    emulator.deleteBus(bus);
  });

  test('1 to 10 entries, at most 256 KB in all (counted as EventBridge counts it): otherwise the whole call is a ValidationException', async () => {
    const { c } = client();
    expect(await errorOf(put(c, []))).toMatchObject({ name: 'ValidationException', status: 400, fault: 'client', message: expect.stringContaining('greater than or equal to 1') });
    expect(await errorOf(put(c, Array.from({ length: 11 }, () => finding())))).toMatchObject({ name: 'ValidationException', message: expect.stringContaining('less than or equal to 10') });
    expect(await errorOf(c.send(new sdk.PutEventsCommand({} as any)))).toMatchObject({ name: 'ValidationException', message: expect.stringContaining('must not be null') });
    expect(await put(c, Array.from({ length: 10 }, () => finding()))).toMatchObject({ FailedEntryCount: 0 });
    // Exactly 256 KB (Time 14 bytes, then Source, DetailType, Detail and Resources as UTF-8) is taken; one byte more refuses the whole call.
    const base = { Source: SOURCE, DetailType: 'X', Time: new Date(), Resources: ['r'] };
    const fill = (chars: number) => JSON.stringify({ s: 'é'.repeat(chars) }); // two bytes each in UTF-8
    const overhead = putEventsEntrySize({ ...base, Detail: fill(0) });
    const chars = (PUT_EVENTS_MAX_BYTES - 2 * overhead) / 2;
    const exact = [{ ...base, Detail: fill(chars - 1000) }, { ...base, Detail: fill(1000) }];
    expect(exact.reduce((s, e) => s + putEventsEntrySize(e), 0)).toBe(PUT_EVENTS_MAX_BYTES);
    emulator.clearEvents();
    expect(await put(c, exact)).toMatchObject({ FailedEntryCount: 0 });
    const over = [exact[0], { ...exact[1], Resources: ['rr'] }];
    expect(await errorOf(put(c, over))).toMatchObject({ name: 'ValidationException', status: 400, message: 'Total size of the entries in the request is over the limit.' });
    // A call that fails delivers nothing.
    expect(emulator.defaultBusEvents(TEST_ACCOUNT, REGION)).toHaveLength(2);
  });

  test('per entry: a missing Source, DetailType or Detail (InvalidArgument), a Detail that is not a JSON object (MalformedDetail), an aws. Source (NotAuthorizedForSourceException); the other entries are delivered', async () => {
    const { c, raw } = client();
    const out = await put(c, [
      finding(),
      { DetailType: 'X', Detail: '{}' },
      { Source: SOURCE, Detail: '{}' },
      { Source: SOURCE, DetailType: 'X' },
      finding({ Detail: '{"unterminated":' }),
      finding({ Detail: '[1, 2]' }),
      finding({ Detail: '"text"' }),
      finding({ Source: 'aws.ec2' }),
      finding(),
    ]);
    expect(JSON.parse(raw.body!).FailedEntryCount).toBe(7);
    expect(out.FailedEntryCount).toBe(7);
    expect(out.Entries!.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'ok', 'InvalidArgument', 'InvalidArgument', 'InvalidArgument', 'MalformedDetail', 'MalformedDetail', 'MalformedDetail', 'NotAuthorizedForSourceException', 'ok',
    ]);
    expect(out.Entries![7]).toEqual({ ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' });
    expect(out.Entries![1].ErrorMessage).toMatch(/Source/);
    expect(emulator.defaultBusEvents(TEST_ACCOUNT, REGION).map((e) => e.id)).toEqual([out.Entries![0].EventId, out.Entries![8].EventId]);
    // No entry with all three: the whole call fails, as the API reference says.
    expect(await errorOf(put(c, [{ DetailType: 'X', Detail: '{}' }, { Source: SOURCE }]))).toMatchObject({ name: 'ValidationException', status: 400 });
  });

  test('a central bus of another account: its policy admits the organization\'s callers with the library\'s source; the event carries the sender\'s account', async () => {
    const out = await put(client({ as: 'MEMBER' }).c, [finding({ EventBusName: hubBus }), finding({ EventBusName: hubBus, Source: 'someone.else' }), finding()]);
    expect(out.Entries!.map((e) => e.ErrorCode ?? 'ok')).toEqual(['ok', 'NotAuthorizedForSourceException', 'ok']);
    const delivered = expect.objectContaining({ account: MEMBER, region: REGION, source: SOURCE, id: out.Entries![0].EventId });
    expect(emulator.events(hubBus)).toEqual([delivered]);
    expect(emulator.defaultBusEvents(MEMBER, REGION)).toHaveLength(1);

    // An account outside the organization: the entry is refused (AccessDeniedException), the others go on.
    const outside = await put(client({ as: 'OUTSIDER' }).c, [finding({ EventBusName: hubBus }), finding()]);
    expect(outside.Entries!.map((e) => e.ErrorCode ?? 'ok')).toEqual(['AccessDeniedException', 'ok']);
    // A bus of another account without a policy (or that does not exist): refused too.
    const plain = emulator.addBus({ account: HUB, region: REGION, name: `plain-${sdkName}` });
    const none = await put(client({ as: 'MEMBER' }).c, [finding({ EventBusName: plain }), finding({ EventBusName: EventBridgeEmulator.busArn(HUB, REGION, 'missing') })]);
    expect(none.Entries!.map((e) => e.ErrorCode)).toEqual(['AccessDeniedException', 'AccessDeniedException']);
    // The whole-call variant (not documented which AWS does): nothing is delivered, not even the other entries.
    emulator.crossAccountDenial = 'call';
    emulator.clearEvents();
    expect(await errorOf(put(client({ as: 'OUTSIDER' }).c, [finding(), finding({ EventBusName: hubBus })]))).toMatchObject({
      name: 'AccessDeniedException',
      status: 400,
      fault: 'client',
      message: `User: arn:aws:sts::${OUTSIDER}:assumed-role/ImdsFnRole/ImdsFn is not authorized to perform: events:PutEvents on resource: ${hubBus} because no resource-based policy allows the events:PutEvents action`,
    });
    expect(emulator.deliveries).toEqual([]);
    // A source the policy refuses is still refused per entry.
    expect((await put(client({ as: 'MEMBER' }).c, [finding({ EventBusName: hubBus, Source: 'someone.else' })])).Entries![0].ErrorCode).toBe('NotAuthorizedForSourceException');
    emulator.deleteBus(plain);
  });

  test('bus policies: aws:PrincipalArn, accounts as principals, Deny statements, events:detail-type; what is not evaluated is refused at setup', async () => {
    const arn = EventBridgeEmulator.busArn(HUB, REGION, `policies-${sdkName}`);
    emulator.addBus({ account: HUB, region: REGION, name: `policies-${sdkName}` });
    const codes = async (as: 'MEMBER' | 'OUTSIDER', entry: Partial<currentEb.PutEventsRequestEntry> = {}) =>
      (await put(client({ as }).c, [finding({ EventBusName: arn, ...entry })])).Entries![0].ErrorCode ?? 'ok';
    // The role (aws:PrincipalArn is the role's ARN for its sessions).
    emulator.setBusPolicy(arn, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'events:PutEvents', Resource: arn, Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/ImdsFnRole' }, StringEquals: { 'aws:PrincipalOrgID': ORG } } }] });
    expect([await codes('MEMBER'), await codes('OUTSIDER')]).toEqual(['ok', 'AccessDeniedException']);
    // An account as principal ("111122223333" or its root ARN), and a Deny that wins.
    emulator.setBusPolicy(arn, JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${MEMBER}:root`, OUTSIDER] }, Action: 'events:*', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: OUTSIDER }, Action: 'events:PutEvents', Resource: arn },
      ],
    }));
    expect([await codes('MEMBER'), await codes('OUTSIDER')]).toEqual(['ok', 'AccessDeniedException']);
    // A detail-type condition.
    emulator.setBusPolicy(arn, { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'events:PutEvents', Resource: arn, Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG }, StringLike: { 'events:detail-type': 'IMDS *' } } }] });
    expect([await codes('MEMBER'), await codes('MEMBER', { DetailType: 'Other' })]).toEqual(['ok', 'NotAuthorizedForDetailTypeException']);
    expect(() => emulator.setBusPolicy(arn, { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'events:PutEvents', Resource: arn, Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-1' } } }] })).toThrow(/aws:SourceVpc is not emulated/);
    expect(() => emulator.setBusPolicy(arn, { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'events:PutEvents', Resource: arn, Condition: { NumericLessThan: { 'events:source': '1' } } }] })).toThrow(/NumericLessThan is not emulated/);
    expect(() => emulator.setBusPolicy(arn, { Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: OUTSIDER }, Action: 'events:PutEvents', Resource: arn }] })).toThrow(/NotPrincipal is not emulated/);
    expect(() => emulator.setBusPolicy(arn, { Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'events:PutEvents', Resource: arn }] })).toThrow(/Principal/);
    emulator.deleteBus(arn);
  });

  test('the caller\'s identity policies: a bus they do not allow refuses the whole call; a source their condition refuses, the entry; a permissions boundary too', async () => {
    const own = EventBridgeEmulator.busArn(MEMBER, REGION);
    const grant = (resources: string[], extra: object = {}) => ({
      Version: '2012-10-17',
      Statement: [
        // Statements that cannot apply to events:PutEvents are not looked at (whatever their conditions).
        { Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
        { Effect: 'Allow', Action: 'events:PutEvents', Resource: resources, Condition: { StringEquals: { 'events:source': SOURCE } }, ...extra },
      ],
    });
    emulator.setIdentityPolicies(MEMBER_ROLE, { identity: [grant([own, hubBus])] });
    try {
      const { c } = client({ as: 'MEMBER' });
      expect(await put(c, [finding(), finding({ EventBusName: hubBus })])).toMatchObject({ FailedEntryCount: 0 });
      // Another bus: the whole call, as IAM words it (nothing delivered).
      emulator.clearEvents();
      const other = EventBridgeEmulator.busArn(MEMBER, REGION, 'other');
      expect(await errorOf(put(c, [finding(), finding({ EventBusName: other })]))).toMatchObject({
        name: 'AccessDeniedException',
        status: 400,
        message: `User: ${MEMBER_ROLE} is not authorized to perform: events:PutEvents on resource: ${other} because no identity-based policy allows the events:PutEvents action`,
      });
      expect(emulator.deliveries).toEqual([]);
      // Another source: only that entry.
      expect((await put(c, [finding({ Source: 'someone.else' }), finding()])).Entries!.map((e) => e.ErrorCode ?? 'ok')).toEqual(['NotAuthorizedForSourceException', 'ok']);
      // A permissions boundary that does not allow the central bus.
      emulator.setIdentityPolicies(MEMBER_ROLE, { identity: [grant([own, hubBus])], boundary: [grant([own])] });
      expect(await errorOf(put(c, [finding({ EventBusName: hubBus })]))).toMatchObject({ message: expect.stringContaining('because no permissions boundary allows the events:PutEvents action') });
      // No policy at all: nothing is allowed.
      emulator.setIdentityPolicies(MEMBER_ROLE, { identity: [] });
      expect(await errorOf(put(c, [finding()]))).toMatchObject({ name: 'AccessDeniedException', message: expect.stringContaining(own) });
      // What is not evaluated is refused at setup.
      expect(() => emulator.setIdentityPolicies(MEMBER_ROLE, { identity: [grant([own], { Principal: '*' })] })).toThrow(/an identity policy has no Principal/);
      expect(() => emulator.setIdentityPolicies(MEMBER_ROLE, { identity: [{ Statement: [{ Effect: 'Allow', Action: 'events:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }] }] }))
        .toThrow(/Bool is not emulated/);
    } finally {
      emulator.setIdentityPolicies(MEMBER_ROLE, undefined);
    }
    expect(await put(client({ as: 'MEMBER' }).c, [finding({ EventBusName: EventBridgeEmulator.busArn(MEMBER, REGION, 'other') })])).toMatchObject({ FailedEntryCount: 0 });
  });

  test('a bus ARN of another Region than the endpoint\'s: the whole call is refused (Cross-region api call is not allowed.)', async () => {
    const elsewhere = EventBridgeEmulator.busArn(HUB, 'us-east-1', 'findings');
    expect(await errorOf(put(client({ as: 'MEMBER' }).c, [finding(), finding({ EventBusName: elsewhere })]))).toMatchObject({
      name: 'ValidationException', status: 400, message: 'Cross-region api call is not allowed.',
    });
    expect(emulator.deliveries).toEqual([]);
  });

  test.each([
    // code, HTTP status, retried by the SDK's standard strategy
    ['ThrottlingException', 400, true],
    ['InternalException', 500, true],
    ['AccessDeniedException', 400, false],
  ])('the %s switch answers HTTP %d for the whole call (retried by the SDK: %s)', async (code, status, retried) => {
    emulator.injectFault({ code: code as string, times: 1, action: 'PutEvents' });
    expect(await errorOf(put(client().c, [finding()]))).toMatchObject({ name: code, status });
    expect(emulator.requests[0]).toMatchObject({ action: 'PutEvents', fault: code });

    emulator.requests.length = 0;
    emulator.injectFault({ code: code as string, times: 1 });
    const second = put(client({ maxAttempts: 2 }).c, [finding()]);
    if (retried) {
      await expect(second).resolves.toMatchObject({ FailedEntryCount: 0 });
    } else {
      await expect(second).rejects.toMatchObject({ name: code });
    }
    expect(emulator.requests).toHaveLength(retried ? 2 : 1);
    expect(emulator.defaultBusEvents(TEST_ACCOUNT, REGION)).toHaveLength(retried ? 1 : 0);
  });

  test('the AccessDeniedException switch words it as IAM does for the caller and its default bus', async () => {
    emulator.injectFault({ code: 'AccessDeniedException', times: 1 });
    const { c, raw } = client({ as: 'MEMBER' });
    expect(await errorOf(put(c, [finding()]))).toMatchObject({
      message: `User: ${MEMBER_ROLE} is not authorized to perform: events:PutEvents on resource: arn:aws:events:${REGION}:${MEMBER}:event-bus/default because no identity-based policy allows the events:PutEvents action`,
    });
    expect(JSON.parse(raw.body!)).toEqual({ __type: 'AccessDeniedException', message: expect.stringContaining('events:PutEvents') });
  });

  test('per-entry failures: the next N entries (to one bus, if given) fail with the ErrorCode; FailedEntryCount counts them', async () => {
    emulator.failEntries({ code: 'ThrottlingException', entries: 2 });
    const { c } = client({ as: 'MEMBER' });
    const out = await put(c, [finding(), finding(), finding()]);
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries!.map((e) => e.ErrorCode ?? 'ok')).toEqual(['ThrottlingException', 'ThrottlingException', 'ok']);
    expect(out.Entries![0].ErrorMessage).toBeTruthy();
    expect(emulator.entryFaultsServed).toBeGreaterThanOrEqual(2);
    // To one bus only, with its own message.
    emulator.failEntries({ code: 'InternalFailure', entries: 1, bus: hubBus, message: 'try later' });
    const central = await put(c, [finding(), finding({ EventBusName: hubBus }), finding({ EventBusName: hubBus })]);
    expect(central.Entries!.map((e) => e.ErrorCode ?? 'ok')).toEqual(['ok', 'InternalFailure', 'ok']);
    expect(central.Entries![1].ErrorMessage).toBe('try later');
    expect(emulator.events(hubBus)).toHaveLength(1);
  });

  test('SigV4: a wrong secret, an unknown key or session token and a body changed after signing are refused', async () => {
    expect(await errorOf(put(client({ secret: 'wrong' }).c, [finding()]))).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(await errorOf(put(client({ accessKeyId: 'AKIDSOMEONEELSE' }).c, [finding()]))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    expect(await errorOf(put(client({ sessionToken: 'stolen' }).c, [finding()]))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    await expect(put(client({ sessionToken: TEST_SESSION_TOKEN }).c, [finding()])).resolves.toMatchObject({ FailedEntryCount: 0 });
    const { c } = client();
    tamperAfterSigning(c, (body) => body.replace(SOURCE, 'cdk-imds-account-defaultz')); // the same length: Content-Length stays right
    expect(await errorOf(put(c, [finding()]))).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    const unsigned = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: JSON.stringify({ Entries: [finding()] }),
    });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    expect(emulator.defaultBusEvents(TEST_ACCOUNT, REGION)).toHaveLength(1);
  });

  test('an action it does not emulate is UnknownOperationException', async () => {
    expect(await errorOf(client().c.send(new sdk.ListRulesCommand({})))).toMatchObject({ name: 'UnknownOperationException', status: 400 });
  });

  test('the client finds the emulator through AWS_ENDPOINT_URL_EVENTBRIDGE, as the functions\' clients do', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = emulator.endpoint;
    try {
      const c = new sdk.EventBridgeClient({ region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
      await put(c as currentEb.EventBridgeClient, [finding()]);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
      else process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = saved;
    }
    expect(emulator.defaultBusEvents(TEST_ACCOUNT, REGION)).toHaveLength(1);
  });

  test('the hang switch holds requests unanswered until the client gives up', async () => {
    emulator.hang = true;
    const held = emulator.requestsHeld;
    expect(await errorOf(put(client({ requestTimeout: 300 }).c, [finding()]))).toMatchObject({ name: 'TimeoutError' });
    expect(emulator.requestsHeld - held).toBe(1);
  });
});

// ---------------------------------------------------------------------------
// The harness's wiring (test/e2e/harness): every invocation reaches the
// scenario's emulator, in its own Region and in a central bus's.

/** A function that puts `entries` (its event's) to the buses they name, with the runtime's client, in `region` (the stack's by default). */
const PUTTER = `
  require('@aws-sdk/client-ec2');
  const { EventBridgeClient, PutEventsCommand } = require('@aws-sdk/client-eventbridge');
  const https = require('https');
  const answer = (event, data) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ Status: 'SUCCESS', PhysicalResourceId: 'putter', StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, Data: data });
    const req = https.request(event.ResponseURL, { method: 'PUT', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(body);
  });
  exports.handler = async (event) => {
    if (event.RequestType) { await answer(event, {}); return; }
    try {
      const out = await new EventBridgeClient({ region: event.region || process.env.AWS_REGION }).send(new PutEventsCommand({ Entries: event.entries }));
      console.log('PUT ' + JSON.stringify(out.Entries));
    } catch (err) {
      console.log('ERROR ' + err.name + ': ' + err.message);
    }
  };`;

/**
 * The library's kind of grant (src/private/function-parts.ts findingsStatement):
 * events:PutEvents on the account's default bus and the central bus, with the library's source only.
 */
function putEventsPolicy(central?: string, anySource = false) {
  return {
    Type: 'AWS::IAM::Policy',
    Properties: {
      PolicyName: 'Findings',
      Roles: [{ Ref: 'Role' }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/x': 'y' } } },
          {
            Effect: 'Allow',
            Action: 'events:PutEvents',
            Resource: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']] }, ...(central ? [central] : [])],
            ...(anySource ? {} : { Condition: { StringEquals: { 'events:source': SOURCE } } }),
          },
        ],
      },
    },
  };
}

interface PutterOptions {
  /** A central bus the role may put to too. */
  readonly central?: string;
  /** @default true: events:PutEvents is granted */
  readonly grant?: boolean;
  /** Any source (no events:source condition). @default false */
  readonly anySource?: boolean;
  readonly rolePath?: string;
}

function putterTemplate(options: PutterOptions = {}) {
  return readTemplate({
    Resources: {
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
          ...(options.rolePath ? { Path: options.rolePath } : {}),
        },
      },
      ...(options.grant === false ? {} : { Findings: putEventsPolicy(options.central, options.anySource) }),
      Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { ZipFile: PUTTER }, Handler: 'index.handler', Runtime: 'nodejs24.x', Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Timeout: 10 } },
      Putter: { Type: 'Custom::Putter', Properties: { ServiceToken: { 'Fn::GetAtt': ['Fn', 'Arn'] } } },
    },
  });
}

scenario('the harness: the function\'s role is evaluated as IAM would: events:PutEvents only on the buses it names, only with the library\'s source; the hub\'s policy on the role\'s path', async (w) => {
  const central = w.centralBus({
    policy: {
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow',
        Principal: '*',
        Action: 'events:PutEvents',
        Resource: `arn:aws:events:${CENTRAL_REGION}:${CENTRAL_ACCOUNT}:event-bus/imds-findings`,
        Condition: { StringEquals: { 'aws:PrincipalOrgID': E2E_ORGANIZATION_ID, 'events:source': SOURCE }, ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/imds/*' } },
      }],
    },
  });
  const other = w.centralBus({ name: 'other' });
  // A role on the path the hub admits, granted the default bus and the central bus.
  const stack = w.stack();
  expectSuccess(await stack.create(putterTemplate({ central, rolePath: '/imds/' })));
  const fn = stack.functionOf();
  expect(fn.roleArn).toMatch(/^arn:aws:iam::123456789012:role\/imds\/ImdsE2e-Role-/);
  const warning = securityWarning(ACCOUNT, E2E_REGION, fn.functionName);
  const ok = await stack.invokeFunction({ region: CENTRAL_REGION, entries: [{ ...warning, EventBusName: central }] });
  expect(ok.events.map((e) => e.bus)).toEqual([central]);
  // Another bus than those granted: the whole call is denied, as IAM words it.
  const denied = await stack.invokeFunction({ region: CENTRAL_REGION, entries: [{ ...warning, EventBusName: other }] });
  const session = `arn:aws:sts::${ACCOUNT}:assumed-role/${fn.roleName}/${fn.functionName}`;
  expect(denied.invocation.logs).toContain(`AccessDeniedException: User: ${session} is not authorized to perform: events:PutEvents on resource: ${other} because no identity-based policy allows`);
  // Another source than the library's: the role's condition refuses the entry.
  const foreign = await stack.invokeFunction({ entries: [{ Source: 'someone.else', DetailType: 'X', Detail: '{}' }, warning] });
  expect(foreign.invocation.logs).toMatch(/NotAuthorizedForSourceException/);
  expect(foreign.events).toHaveLength(1);

  // A role without the grant may put nowhere; a role off the hub's path is refused by the central bus's policy.
  const bare = w.stack({ name: 'Bare' });
  expectSuccess(await bare.create(putterTemplate({ grant: false })));
  const none = await bare.invokeFunction({ entries: [securityWarning(ACCOUNT, E2E_REGION, bare.functionOf().functionName)] });
  expect(none.invocation.logs).toMatch(/AccessDeniedException: .* on resource: arn:aws:events:eu-west-1:123456789012:event-bus\/default because no identity-based policy allows/);
  const offPath = w.stack({ name: 'OffPath' });
  expectSuccess(await offPath.create(putterTemplate({ central })));
  const offPathWarning = securityWarning(ACCOUNT, E2E_REGION, offPath.functionOf().functionName);
  const refused = await offPath.invokeFunction({ region: CENTRAL_REGION, entries: [{ ...offPathWarning, EventBusName: central }] });
  expect(JSON.parse(refused.invocation.logs.slice(refused.invocation.logs.indexOf('PUT ') + 4).split('\n')[0])).toEqual([{ ErrorCode: 'AccessDeniedException', ErrorMessage: expect.any(String) }]);
});

/** A finding that matches findings-schema.json, from the function of `stack`. */
function securityWarning(account: string, region: string, functionName: string) {
  return {
    Source: SOURCE,
    DetailType: 'IMDS Security Warning',
    Detail: JSON.stringify({ version: '1', account, region, resource: { function: functionName }, warning: 'forged-event', metric: 'ForgedEvents', count: 1, entries: [{ requestType: 'Delete' }] }),
  };
}

scenario('the harness: a function reaches the scenario\'s EventBridge endpoint by AWS_ENDPOINT_URL_EVENTBRIDGE, its default bus in its Region and a central bus in another account and Region', async (w) => {
  const central = w.centralBus();
  expect(central).toBe(`arn:aws:events:${CENTRAL_REGION}:${CENTRAL_ACCOUNT}:event-bus/imds-findings`);
  expect(w.eventbridge.organizationOf(ACCOUNT)).toBe(E2E_ORGANIZATION_ID);
  const stack = w.stack();
  expectSuccess(await stack.create(putterTemplate({ central })));
  const fn = stack.functionOf();
  const warning = securityWarning(ACCOUNT, E2E_REGION, fn.functionName);
  const own = await stack.invokeFunction({ entries: [warning] });
  // The default bus of the stack's account and Region; the step lists the request and the event.
  expect(own.eventbridgeActions).toEqual(['PutEvents']);
  expect(own.eventbridgeRequests[0]).toMatchObject({ region: E2E_REGION, caller: `arn:aws:sts::${ACCOUNT}:assumed-role/${fn.roleName}/${fn.functionName}` });
  expect(own.events).toEqual([{ bus: `arn:aws:events:${E2E_REGION}:${ACCOUNT}:event-bus/default`, event: expect.objectContaining({ 'detail-type': 'IMDS Security Warning', 'account': ACCOUNT }) }]);
  expect(w.events()).toEqual([own.events[0].event]);
  expect(Object.keys(own.invocation.clients!)).toContain('client-eventbridge');

  // The central bus, by a client made for its Region: the organization's policy lets the member's function in.
  const toCentral = await stack.invokeFunction({ region: CENTRAL_REGION, entries: [{ ...warning, EventBusName: central }] });
  expect(toCentral.eventbridgeRequests[0].region).toBe(CENTRAL_REGION);
  expect(w.events(central)).toEqual([expect.objectContaining({ account: ACCOUNT, region: CENTRAL_REGION, source: SOURCE })]);
  // A put to any other Region is a call outside the stack's Region: the step fails.
  // (The default bus of the client's Region is not the stack's: a function must not put there.)
  await expect(stack.invokeFunction({ region: 'ap-south-1', entries: [warning] })).rejects.toThrow(/calls to another Region than the stack's \(eu-west-1\) or the named event bus's: PutEvents in ap-south-1/);
  // An account taken out of the organization is refused by the central bus's policy.
  w.eventbridge.setOrganization('o-elsewhere0001', [ACCOUNT]);
  const refused = await stack.invokeFunction({ region: CENTRAL_REGION, entries: [{ ...warning, EventBusName: central }] });
  expect(refused.invocation.logs).toMatch(/AccessDeniedException/);
  expect(refused.events).toEqual([]);
});

scenario('the harness: a finding that does not match findings-schema.json fails the step; other sources are not checked', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(putterTemplate({ anySource: true })));
  const fn = stack.functionOf();
  const good = securityWarning(ACCOUNT, E2E_REGION, fn.functionName);
  const bad = { ...good, Detail: JSON.stringify({ ...JSON.parse(good.Detail), count: 0, ResponseURL: 'https://example.com/' }) };
  await expect(stack.invokeFunction({ entries: [bad] })).rejects.toThrow(/does not match findings-schema\.json: .*count must be >= 1/);
  const other = await stack.invokeFunction({ entries: [{ Source: 'someone.else', DetailType: 'Anything', Detail: '{"x":1}' }] });
  expect(other.events).toHaveLength(1);
  // Injected faults mark the step (the speed limit does not apply to it).
  w.eventbridge.failEntries({ code: 'ThrottlingException', entries: 1 });
  const throttled = await stack.invokeFunction({ entries: [good] });
  expect(throttled.faulted).toBe(true);
  expect(throttled.invocation.logs).toMatch(/ThrottlingException/);
});
