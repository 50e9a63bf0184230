/**
 * The fidelity of the local EC2 endpoint (test/support/ec2-emulator.ts) that the
 * end-to-end suite runs the handler against, checked with the real
 * `@aws-sdk/client-ec2`: the wire format, the XML and its namespace, the error
 * codes and HTTP statuses as the SDK surfaces and retries them, SigV4, per-Region
 * state, EC2's value validation, ManagedBy, and each fault switch.
 */
import * as currentEc2 from '@aws-sdk/client-ec2';
import {
  DescribeRegionsCommand,
  EC2Client,
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommandInput,
} from '@aws-sdk/client-ec2';
import { loadSdkClient } from './harness/runtime';
import { EC2_NAMESPACE, ENFORCED_LAUNCH_MESSAGE, Ec2Emulator, TEST_CREDENTIALS, TEST_SESSION_TOKEN } from '../support/ec2-emulator';
import { captureRaw, errorOf, tamperAfterSigning } from '../support/sdk-probe';

const REGION = 'eu-west-1';
let emulator: Ec2Emulator;

beforeAll(async () => {
  emulator = await Ec2Emulator.start();
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(() => {
  emulator.requests.length = 0;
  emulator.hang = false;
  emulator.knowsHttpTokensEnforced = true;
  emulator.setState(REGION, {});
  emulator.setState('us-east-1', {});
  emulator.setDeclarativePolicy(REGION, undefined);
});

/** A client of the emulator; `raw` receives the last HTTP response as EC2 sent it. */
function client(options: { region?: string; maxAttempts?: number; secret?: string; sessionToken?: string; requestTimeout?: number } = {}) {
  const c = new EC2Client({
    region: options.region ?? REGION,
    endpoint: emulator.endpoint,
    credentials: {
      accessKeyId: TEST_CREDENTIALS.accessKeyId,
      secretAccessKey: options.secret ?? TEST_CREDENTIALS.secretAccessKey,
      sessionToken: options.sessionToken,
    },
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: { requestTimeout: options.requestTimeout ?? 5_000, throwOnRequestTimeout: true },
  });
  return { c, raw: captureRaw(c) };
}

const get = (c: EC2Client) => c.send(new GetInstanceMetadataDefaultsCommand({}));
const modify = (c: EC2Client, input: ModifyInstanceMetadataDefaultsCommandInput) => c.send(new ModifyInstanceMetadataDefaultsCommand(input));

test('the wire format: a signed form-encoded POST of Action and Version, answered with XML in the EC2 namespace', async () => {
  const { c, raw } = client();
  await modify(c, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(emulator.requests[0]).toEqual({
    action: 'ModifyInstanceMetadataDefaults',
    region: REGION,
    params: { Action: 'ModifyInstanceMetadataDefaults', Version: '2016-11-15', HttpTokens: 'required', HttpPutResponseHopLimit: '2' },
  });
  expect(raw).toMatchObject({ status: 200, contentType: expect.stringMatching(/^text\/xml/) });
  expect(raw.body).toMatch(new RegExp(`<ModifyInstanceMetadataDefaultsResponse xmlns="${EC2_NAMESPACE}">\\s*<requestId>[0-9a-f-]{36}</requestId>\\s*<return>true</return>`));

  const out = await get(c);
  expect(raw.body).toMatch(new RegExp(`<GetInstanceMetadataDefaultsResponse xmlns="${EC2_NAMESPACE}">`));
  expect(out.AccountLevel).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, ManagedBy: 'account' });
  expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(raw.body).toContain(`<requestId>${out.$metadata.requestId}</requestId>`);
});

test('errors are EC2 error XML, which the SDK surfaces by code, with EC2\'s HTTP status', async () => {
  const { c, raw } = client();
  emulator.injectFault({ code: 'UnauthorizedOperation', times: 1 });
  const error = await errorOf(get(c));
  expect(error).toMatchObject({ name: 'UnauthorizedOperation', status: 403, fault: 'client', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  expect(raw.body).toMatch(/^<\?xml[^>]*>\s*<Response><Errors><Error><Code>UnauthorizedOperation<\/Code><Message>You are not authorized to perform this operation\. [^<]*ec2:GetInstanceMetadataDefaults[^<]*<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
});

test.each([
  // code, HTTP status, retried by the SDK's standard strategy
  ['RequestLimitExceeded', 503, true],
  ['InternalError', 500, true],
  ['Unavailable', 503, true],
  ['UnauthorizedOperation', 403, false],
])('the %s switch answers HTTP %d (retried by the SDK: %s)', async (code, status, retried) => {
  emulator.injectFault({ code: code as string, times: 1 });
  expect(await errorOf(get(client().c))).toMatchObject({ name: code, status });

  emulator.requests.length = 0;
  emulator.injectFault({ code: code as string, times: 1 });
  const second = get(client({ maxAttempts: 2 }).c);
  if (retried) {
    await expect(second).resolves.toMatchObject({ AccountLevel: { ManagedBy: 'account' } });
  } else {
    await expect(second).rejects.toMatchObject({ name: code });
  }
  expect(emulator.requests).toHaveLength(retried ? 2 : 1);
});

test('a fault can target one action, a number of requests, and start after some', async () => {
  const { c } = client();
  const served = emulator.faultsServed;
  emulator.injectFault({ code: 'InternalError', times: 2, action: 'ModifyInstanceMetadataDefaults' });
  await expect(get(c)).resolves.toBeDefined();
  expect(await errorOf(modify(c, { HttpTokens: 'required' }))).toMatchObject({ name: 'InternalError', status: 500, fault: 'server' });
  expect(await errorOf(modify(c, { HttpTokens: 'required' }))).toMatchObject({ name: 'InternalError' });
  await expect(modify(c, { HttpTokens: 'required' })).resolves.toMatchObject({ Return: true });
  expect(emulator.requests.map((r) => r.fault)).toEqual([undefined, 'InternalError', 'InternalError', undefined]);
  expect(emulator.faultsServed - served).toBe(2);

  emulator.requests.length = 0;
  emulator.injectFault({ code: 'Unavailable', times: 1, action: 'GetInstanceMetadataDefaults', after: 2 });
  for (let i = 0; i < 4; i++) {
    await get(c).catch(() => undefined);
  }
  expect(emulator.requests.map((r) => r.fault)).toEqual([undefined, undefined, 'Unavailable', undefined]);
});

test('SigV4: a wrong secret, an unknown or unsigned session token, and a body changed after signing are AuthFailure 401', async () => {
  expect(await errorOf(get(client({ secret: 'wrong' }).c))).toMatchObject({ name: 'AuthFailure', status: 401 });
  await expect(get(client({ sessionToken: TEST_SESSION_TOKEN }).c)).resolves.toBeDefined();
  expect(await errorOf(get(client({ sessionToken: 'stolen' }).c))).toMatchObject({ name: 'AuthFailure', status: 401 });

  const { c } = client();
  tamperAfterSigning(c, (body) => body.replace('required', 'optional'));
  expect(await errorOf(modify(c, { HttpTokens: 'required' }))).toMatchObject({ name: 'AuthFailure', status: 401 });
  expect(emulator.state(REGION)).toEqual({});

  const unsigned = await fetch(emulator.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Action=GetInstanceMetadataDefaults&Version=2016-11-15',
  });
  expect(unsigned.status).toBe(401);
  expect(await unsigned.text()).toMatch(/<Code>AuthFailure<\/Code>/);
});

test('the state is per Region, taken from the credential scope of the signature', async () => {
  await modify(client().c, { HttpTokens: 'required' });
  await modify(client({ region: 'us-east-1' }).c, { HttpTokens: 'optional' });
  expect(emulator.state(REGION)).toEqual({ HttpTokens: 'required' });
  expect(emulator.state('us-east-1')).toEqual({ HttpTokens: 'optional' });
  expect((await get(client({ region: 'us-east-1' }).c)).AccountLevel).toMatchObject({ HttpTokens: 'optional' });
});

test('values are validated as EC2 does; no-preference and -1 clear a field, and Get leaves cleared fields out', async () => {
  const { c } = client();
  await modify(c, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 64, HttpEndpoint: 'enabled', InstanceMetadataTags: 'disabled' });
  expect((await get(c)).AccountLevel).toEqual({
    HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 64, HttpEndpoint: 'enabled', InstanceMetadataTags: 'disabled', ManagedBy: 'account',
  });

  for (const input of [{ HttpTokens: 'REQUIRED' }, { HttpPutResponseHopLimit: 0 }, { HttpPutResponseHopLimit: 65 }, { HttpEndpoint: 'on' }, { HttpTokensEnforced: 'true' }] as any[]) {
    expect(await errorOf(modify(c, input))).toMatchObject({ name: 'InvalidParameterValue', status: 400, message: expect.stringContaining(Object.keys(input)[0]) });
  }
  // A rejected request changes nothing, not even its valid fields.
  expect(await errorOf(modify(c, { HttpTokens: 'optional', HttpPutResponseHopLimit: 0 }))).toMatchObject({ name: 'InvalidParameterValue' });
  expect(emulator.state(REGION)).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 64 });

  await modify(c, { HttpTokens: 'no-preference', HttpTokensEnforced: 'no-preference', HttpPutResponseHopLimit: -1, HttpEndpoint: 'no-preference' });
  expect((await get(c)).AccountLevel).toEqual({ InstanceMetadataTags: 'disabled', ManagedBy: 'account' });
});

test('DryRun answers DryRunOperation 412 and changes nothing', async () => {
  expect(await errorOf(modify(client().c, { HttpTokens: 'required', DryRun: true }))).toMatchObject({ name: 'DryRunOperation', status: 412 });
  expect(emulator.state(REGION)).toEqual({});
});

test('an action it does not emulate is InvalidAction 400', async () => {
  expect(await errorOf(client().c.send(new DescribeRegionsCommand({})))).toMatchObject({ name: 'InvalidAction', status: 400 });
});

test('the declarative-policy switch: ManagedBy and the exception message on Get; Modify refused', async () => {
  const { c } = client();
  emulator.setState(REGION, { HttpTokens: 'required' });
  emulator.setDeclarativePolicy(REGION, 'Managed by <the platform team> & co');
  expect((await get(c)).AccountLevel).toEqual({ HttpTokens: 'required', ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Managed by <the platform team> & co' });
  expect(await errorOf(modify(c, { HttpTokens: 'optional' }))).toMatchObject({ name: 'OperationNotPermitted', status: 400 });
  expect(emulator.state(REGION)).toEqual({ HttpTokens: 'required' });
  expect((await get(client({ region: 'us-east-1' }).c)).AccountLevel).toEqual({ ManagedBy: 'account' });
});

test('an EC2 from before HttpTokensEnforced rejects the parameter as UnknownParameter and never reports it', async () => {
  const { c } = client();
  emulator.setState(REGION, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  emulator.knowsHttpTokensEnforced = false;
  expect(await errorOf(modify(c, { HttpTokensEnforced: 'enabled' }))).toMatchObject({ name: 'UnknownParameter', status: 400 });
  expect((await get(c)).AccountLevel).toEqual({ HttpTokens: 'required', ManagedBy: 'account' });
});

test('the hang switch holds requests unanswered until the client gives up', async () => {
  emulator.hang = true;
  const started = Date.now();
  const held = emulator.requestsHeld;
  expect(await errorOf(get(client({ requestTimeout: 300 }).c))).toMatchObject({ name: 'TimeoutError' });
  expect(Date.now() - started).toBeLessThan(3_000);
  expect(emulator.requestsHeld - held).toBe(1);
});

// ---------------------------------------------------------------------------
// Instances, launch templates and RunInstances, checked with the current
// client-ec2 and with 3.996.0 from the e2e runtime's NODE_PATH root.
// ---------------------------------------------------------------------------

type Ec2Module = typeof currentEc2;

const SDKS: Array<[string, () => Ec2Module]> = [
  ['current', () => currentEc2],
  ['3.996.0', () => loadSdkClient<Ec2Module>('3.996.0', 'client-ec2')],
];

describe.each(SDKS)('instances with client-ec2 %s', (sdkName, load) => {
  let sdk: Ec2Module;

  beforeAll(() => {
    sdk = load();
    if (sdkName !== 'current') {
      expect(sdk.EC2Client).not.toBe(currentEc2.EC2Client);
    }
  });
  beforeEach(() => {
    emulator.clearFaults();
    emulator.clearFleet(REGION);
    emulator.clearFleet('us-east-1');
    emulator.describesUntilApplied = 1;
    emulator.stoppedAppliesOnStart = false;
  });

  function ec2(options: { region?: string; maxAttempts?: number } = {}) {
    const c = new sdk.EC2Client({
      region: options.region ?? REGION,
      endpoint: emulator.endpoint,
      credentials: TEST_CREDENTIALS,
      maxAttempts: options.maxAttempts ?? 1,
    });
    return { c: c as currentEc2.EC2Client, raw: captureRaw(c) };
  }

  const describe = (c: currentEc2.EC2Client, input: currentEc2.DescribeInstancesCommandInput = {}) => c.send(new sdk.DescribeInstancesCommand(input));
  const modifyOptions = (c: currentEc2.EC2Client, input: currentEc2.ModifyInstanceMetadataOptionsCommandInput) =>
    c.send(new sdk.ModifyInstanceMetadataOptionsCommand(input));
  const idsOf = (out: currentEc2.DescribeInstancesCommandOutput) =>
    (out.Reservations ?? []).flatMap((r) => (r.Instances ?? []).map((i) => i.InstanceId));
  const describeAll = async (c: currentEc2.EC2Client, input: { MaxResults: number }) => {
    const ids: Array<string | undefined> = [];
    for await (const page of sdk.paginateDescribeInstances({ client: c, pageSize: input.MaxResults }, input)) {
      ids.push(...idsOf(page));
    }
    return ids;
  };

  test('DescribeInstances: reservationSet / instancesSet XML with state, tags and metadata options, as the SDK reads them', async () => {
    const [a] = emulator.addInstances(REGION, 1, { Tags: { 'Name': 'web <1> & co', 'imds-keep-v1': '' }, MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } });
    emulator.addInstance(REGION, { State: 'stopped' });
    const { c, raw } = ec2();
    const out = await describe(c);
    expect(raw.body).toMatch(new RegExp(`^<\\?xml[^>]*>\\s*<DescribeInstancesResponse xmlns="${EC2_NAMESPACE}">\\s*<requestId>[0-9a-f-]{36}</requestId>\\s*<reservationSet><item><reservationId>r-`));
    expect(raw.body).toContain('<instanceState><code>16</code><name>running</name></instanceState>');
    expect(raw.body).toContain('<instanceState><code>80</code><name>stopped</name></instanceState>');
    expect(out.NextToken).toBeUndefined();
    expect(out.Reservations).toHaveLength(2);
    expect(out.Reservations![0]).toMatchObject({ OwnerId: '123456789012', ReservationId: `r-${a.InstanceId.slice(2)}` });
    expect(out.Reservations![0].Instances).toEqual([expect.objectContaining({
      InstanceId: a.InstanceId,
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 't3.micro',
      LaunchTime: new Date('2026-01-01T00:00:00Z'),
      State: { Code: 16, Name: 'running' },
      Tags: [{ Key: 'Name', Value: 'web <1> & co' }, { Key: 'imds-keep-v1', Value: '' }],
      MetadataOptions: { State: 'applied', HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', HttpProtocolIpv6: 'disabled', InstanceMetadataTags: 'disabled' },
    })]);
    expect(out.Reservations![1].Instances![0]).toMatchObject({ State: { Code: 80, Name: 'stopped' }, MetadataOptions: { HttpTokens: 'optional', HttpPutResponseHopLimit: 1 } });
    expect(out.Reservations![1].Instances![0].Tags).toBeUndefined();
    // The instances are per Region.
    expect(idsOf(await describe(ec2({ region: 'us-east-1' }).c))).toEqual([]);
  });

  test('DescribeInstances filters: state, http-tokens, tag-key, tag:<key>, instance-id, wildcards; values OR, filters AND', async () => {
    const ids = emulator.addInstances(REGION, 12, (i) => ({
      State: (['running', 'stopped', 'terminated', 'pending'] as const)[i % 4],
      MetadataOptions: { HttpTokens: i % 3 === 0 ? 'required' : 'optional', HttpEndpoint: i === 5 ? 'disabled' : 'enabled', HttpPutResponseHopLimit: i === 7 ? 3 : 1 },
      Tags: { team: `team-${i}`, ...(i % 5 === 0 ? { 'imds-keep-v1': 'yes' } : {}) },
    })).map((i) => i.InstanceId);
    const { c } = ec2();
    const pick = (...n: number[]) => n.map((i) => ids[i]);
    const filtered = async (...Filters: currentEc2.Filter[]) => idsOf(await describe(c, { Filters }));
    expect(emulator.requests.filter((r) => r.action === 'DescribeInstances')).toHaveLength(0);
    expect(await filtered({ Name: 'instance-state-name', Values: ['stopped'] })).toEqual(pick(1, 5, 9));
    expect(emulator.requestsOf('DescribeInstances')[0].params).toEqual({ 'Action': 'DescribeInstances', 'Version': '2016-11-15', 'Filter.1.Name': 'instance-state-name', 'Filter.1.Value.1': 'stopped' });
    expect(await filtered({ Name: 'instance-state-name', Values: ['stopped', 'pending'] })).toEqual(pick(1, 3, 5, 7, 9, 11));
    expect(await filtered({ Name: 'metadata-options.http-tokens', Values: ['required'] })).toEqual(pick(0, 3, 6, 9));
    expect(await filtered(
      { Name: 'metadata-options.http-tokens', Values: ['optional'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    )).toEqual(pick(1, 4, 5, 7, 8, 11));
    expect(await filtered({ Name: 'tag-key', Values: ['imds-keep-v1'] })).toEqual(pick(0, 5, 10));
    expect(await filtered({ Name: 'tag:team', Values: ['team-1?'] })).toEqual(pick(10, 11));
    expect(await filtered({ Name: 'tag:team', Values: ['*-2'] })).toEqual(pick(2));
    expect(await filtered({ Name: 'instance-id', Values: pick(4, 2) })).toEqual(pick(2, 4));
    expect(await filtered({ Name: 'metadata-options.http-endpoint', Values: ['disabled'] })).toEqual(pick(5));
    expect(await filtered({ Name: 'metadata-options.http-put-response-hop-limit', Values: ['3'] })).toEqual(pick(7));
    expect(await filtered({ Name: 'tag-key', Values: ['nothing'] })).toEqual([]);
    expect(await errorOf(describe(c, { Filters: [{ Name: 'http-tokens', Values: ['optional'] }] }))).toMatchObject({ name: 'InvalidParameterValue', status: 400, message: expect.stringContaining('http-tokens') });
  });

  test('DescribeInstances InstanceIds: in the order added; unknown ids are InvalidInstanceID.NotFound, malformed ones InvalidInstanceID.Malformed', async () => {
    const [a, b] = emulator.addInstances(REGION, 2).map((i) => i.InstanceId);
    const { c } = ec2();
    expect(idsOf(await describe(c, { InstanceIds: [b, a] }))).toEqual([a, b]);
    expect(emulator.requestsOf('DescribeInstances')[0].params).toMatchObject({ 'InstanceId.1': b, 'InstanceId.2': a });
    expect(await errorOf(describe(c, { InstanceIds: [a, 'i-0123456789abcdef0'] }))).toMatchObject({
      name: 'InvalidInstanceID.NotFound', status: 400, message: 'The instance ID \'i-0123456789abcdef0\' does not exist',
    });
    expect(await errorOf(describe(c, { InstanceIds: ['web-1'] }))).toMatchObject({ name: 'InvalidInstanceID.Malformed', status: 400 });
  });

  test('DescribeInstances pagination: MaxResults 5..1000 with NextToken over 3,000 instances; not with InstanceIds; a bad token is refused', async () => {
    const all = emulator.addInstances(REGION, 3000, (i) => ({ MetadataOptions: { HttpTokens: i % 2 ? 'optional' : 'required' } })).map((i) => i.InstanceId);
    const { c } = ec2();
    const first = await describe(c, { MaxResults: 1000 });
    expect(idsOf(first)).toEqual(all.slice(0, 1000));
    expect(first.NextToken).toEqual(expect.any(String));
    expect(await describeAll(c, { MaxResults: 1000 })).toEqual(all);
    expect(emulator.requestsOf('DescribeInstances').slice(-3).map((r) => r.params.NextToken === undefined)).toEqual([true, false, false]);
    // The last page is full and nothing follows it: no token.
    const last = await describe(c, { MaxResults: 1000, NextToken: (await describe(c, { MaxResults: 1000, NextToken: first.NextToken })).NextToken });
    expect(idsOf(last)).toEqual(all.slice(2000));
    expect(last.NextToken).toBeUndefined();

    // Instances that stop matching the filter between pages do not shift the next page.
    const optional = all.filter((_, i) => i % 2);
    const page1 = await describe(c, { MaxResults: 5, Filters: [{ Name: 'metadata-options.http-tokens', Values: ['optional'] }] });
    expect(idsOf(page1)).toEqual(optional.slice(0, 5));
    for (const id of idsOf(page1)) {
      await modifyOptions(c, { InstanceId: id, HttpTokens: 'required' });
    }
    const page2 = await describe(c, { MaxResults: 5, NextToken: page1.NextToken, Filters: [{ Name: 'metadata-options.http-tokens', Values: ['optional'] }] });
    expect(idsOf(page2)).toEqual(optional.slice(5, 10));

    for (const MaxResults of [4, 1001]) {
      expect(await errorOf(describe(c, { MaxResults }))).toMatchObject({ name: 'InvalidParameterValue', status: 400, message: expect.stringContaining('between 5 and 1000') });
    }
    expect(await errorOf(describe(c, { MaxResults: 5, InstanceIds: [all[0]] }))).toMatchObject({ name: 'InvalidParameterCombination', status: 400 });
    expect(await errorOf(describe(c, { MaxResults: 5, NextToken: 'not-a-token' }))).toMatchObject({ name: 'InvalidPaginationToken', status: 400 });
  });

  test('ModifyInstanceMetadataOptions answers the new options as pending; options left out keep their values; a later describe shows applied', async () => {
    const [a] = emulator.addInstances(REGION, 1, { MetadataOptions: { HttpPutResponseHopLimit: 3, InstanceMetadataTags: 'enabled', HttpProtocolIpv6: 'enabled' } });
    const { c, raw } = ec2();
    const out = await modifyOptions(c, { InstanceId: a.InstanceId, HttpTokens: 'required' });
    expect(emulator.requestsOf('ModifyInstanceMetadataOptions')[0].params).toEqual({ Action: 'ModifyInstanceMetadataOptions', Version: '2016-11-15', InstanceId: a.InstanceId, HttpTokens: 'required' });
    expect(raw.body).toMatch(new RegExp(`<ModifyInstanceMetadataOptionsResponse xmlns="${EC2_NAMESPACE}">\\s*<requestId>[0-9a-f-]{36}</requestId>\\s*<instanceId>${a.InstanceId}</instanceId>\\s*<instanceMetadataOptions><state>pending</state>`));
    const expected = { HttpTokens: 'required', HttpPutResponseHopLimit: 3, HttpEndpoint: 'enabled', HttpProtocolIpv6: 'enabled', InstanceMetadataTags: 'enabled' };
    expect(out).toMatchObject({ InstanceId: a.InstanceId, InstanceMetadataOptions: { State: 'pending', ...expected } });
    const options = async () => (await describe(c, { InstanceIds: [a.InstanceId] })).Reservations![0].Instances![0].MetadataOptions;
    expect(await options()).toEqual({ State: 'pending', ...expected });
    expect(await options()).toEqual({ State: 'applied', ...expected });
    expect(emulator.instance(REGION, a.InstanceId)!.MetadataOptions).toEqual({ State: 'applied', ...expected });

    // describesUntilApplied 0: the first describe after the modify already shows applied.
    emulator.describesUntilApplied = 0;
    await modifyOptions(c, { InstanceId: a.InstanceId, HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });
    expect(await options()).toEqual({ ...expected, State: 'applied', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });

    // holdPending: never applied, until applyPending.
    emulator.holdPending(REGION, [a.InstanceId]);
    await modifyOptions(c, { InstanceId: a.InstanceId, HttpTokens: 'optional' });
    for (let i = 0; i < 3; i++) {
      expect(await options()).toMatchObject({ State: 'pending', HttpTokens: 'optional' });
    }
    emulator.applyPending(REGION);
    expect(await options()).toMatchObject({ State: 'applied', HttpTokens: 'optional' });

    // stoppedAppliesOnStart: a stopped instance's change waits for the instance to start.
    emulator.stoppedAppliesOnStart = true;
    emulator.setInstanceState(REGION, a.InstanceId, 'stopped');
    await modifyOptions(c, { InstanceId: a.InstanceId, HttpTokens: 'required' });
    for (let i = 0; i < 3; i++) {
      expect(await options()).toMatchObject({ State: 'pending', HttpTokens: 'required' });
    }
    emulator.setInstanceState(REGION, a.InstanceId, 'running');
    expect(await options()).toMatchObject({ State: 'applied', HttpTokens: 'required' });
  });

  test('ModifyInstanceMetadataOptions: unknown and malformed ids, invalid values, terminated instances, and the per-instance fault switch', async () => {
    const [a, b] = emulator.addInstances(REGION, 2).map((i) => i.InstanceId);
    const { c } = ec2();
    expect(await errorOf(modifyOptions(c, { InstanceId: 'i-0123456789abcdef0', HttpTokens: 'required' }))).toMatchObject({
      name: 'InvalidInstanceID.NotFound', status: 400, message: 'The instance ID \'i-0123456789abcdef0\' does not exist',
    });
    expect(await errorOf(modifyOptions(c, { InstanceId: 'web', HttpTokens: 'required' }))).toMatchObject({ name: 'InvalidInstanceID.Malformed' });
    for (const input of [{ HttpTokens: 'no-preference' }, { HttpPutResponseHopLimit: 65 }, { HttpPutResponseHopLimit: -1 }, { HttpEndpoint: 'on' }, { HttpProtocolIpv6: 'yes' }] as any[]) {
      expect(await errorOf(modifyOptions(c, { InstanceId: a, ...input }))).toMatchObject({ name: 'InvalidParameterValue', status: 400, message: expect.stringContaining(Object.keys(input)[0]) });
    }
    expect(emulator.instance(REGION, a)!.MetadataOptions).toMatchObject({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1, State: 'applied' });

    emulator.setInstanceState(REGION, b, 'terminated');
    expect(await errorOf(modifyOptions(c, { InstanceId: b, HttpTokens: 'required' }))).toMatchObject({ name: 'IncorrectInstanceState', status: 400 });

    emulator.failModifyFor(REGION, [a], 'InternalError');
    expect(await errorOf(modifyOptions(c, { InstanceId: a, HttpTokens: 'required' }))).toMatchObject({ name: 'InternalError', status: 500 });
    emulator.failModifyFor(REGION, [a], 'UnauthorizedOperation');
    expect(await errorOf(modifyOptions(c, { InstanceId: a, HttpTokens: 'required' }))).toMatchObject({
      name: 'UnauthorizedOperation', status: 403, message: expect.stringContaining('ec2:ModifyInstanceMetadataOptions'),
    });
    expect(emulator.instance(REGION, a)!.MetadataOptions.HttpTokens).toBe('optional');
    expect(emulator.requestsOf('ModifyInstanceMetadataOptions').slice(-2).map((r) => r.fault)).toEqual(['InternalError', 'UnauthorizedOperation']);
    emulator.failModifyFor(REGION, [a], undefined);
    await expect(modifyOptions(c, { InstanceId: a, HttpTokens: 'required' })).resolves.toMatchObject({ InstanceMetadataOptions: { State: 'pending' } });
    expect(await errorOf(modifyOptions(c, { InstanceId: a, HttpTokens: 'required', DryRun: true }))).toMatchObject({ name: 'DryRunOperation', status: 412 });
  });

  test('with HttpTokensEnforced enabled, HttpTokens optional on an instance that requires IMDSv2 is UnsupportedOperation; other changes go through', async () => {
    const [v2, v1] = emulator.addInstances(REGION, 2, (i) => ({ MetadataOptions: { HttpTokens: i === 0 ? 'required' : 'optional' } })).map((i) => i.InstanceId);
    const { c } = ec2();
    // Without enforcement EC2 lets an instance go back to IMDSv1.
    await modifyOptions(c, { InstanceId: v2, HttpTokens: 'optional' });
    emulator.setInstanceMetadataOptions(REGION, v2, { HttpTokens: 'required', State: 'applied' });

    emulator.setState(REGION, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
    expect(await errorOf(modifyOptions(c, { InstanceId: v2, HttpTokens: 'optional' }))).toMatchObject({ name: 'UnsupportedOperation', status: 400, fault: 'client', message: expect.stringContaining('httpTokensEnforced') });
    expect(emulator.instance(REGION, v2)!.MetadataOptions).toMatchObject({ HttpTokens: 'required', State: 'applied' });
    await expect(modifyOptions(c, { InstanceId: v2, HttpPutResponseHopLimit: 2 })).resolves.toMatchObject({ InstanceMetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } });
    // An instance that already allows IMDSv1 is not affected, and can be upgraded.
    await expect(modifyOptions(c, { InstanceId: v1, HttpTokens: 'optional', HttpEndpoint: 'enabled' })).resolves.toBeDefined();
    await expect(modifyOptions(c, { InstanceId: v1, HttpTokens: 'required' })).resolves.toMatchObject({ InstanceMetadataOptions: { HttpTokens: 'required', State: 'pending' } });
  });

  test('RequestLimitExceeded on ModifyInstanceMetadataOptions is HTTP 503 and retried by the SDK', async () => {
    const [a] = emulator.addInstances(REGION, 1).map((i) => i.InstanceId);
    emulator.injectFault({ code: 'RequestLimitExceeded', times: 2, action: 'ModifyInstanceMetadataOptions' });
    const { c } = ec2({ maxAttempts: 3 });
    const out = await modifyOptions(c, { InstanceId: a, HttpTokens: 'required' });
    expect(out.InstanceMetadataOptions).toMatchObject({ HttpTokens: 'required', State: 'pending' });
    // The standard strategy waits longer before retrying throttling (a 500 ms base) than other errors (100 ms).
    expect(out.$metadata).toMatchObject({ attempts: 3, totalRetryDelay: expect.any(Number) });
    expect(emulator.requestsOf('ModifyInstanceMetadataOptions').map((r) => r.fault)).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', undefined]);

    emulator.injectFault({ code: 'RequestLimitExceeded', times: 1, action: 'DescribeInstances' });
    const error: any = await describe(ec2().c).catch((e) => e);
    expect(error).toMatchObject({ name: 'RequestLimitExceeded', $fault: 'server', $metadata: { httpStatusCode: 503 } });
    expect(emulator.callCounts(REGION)).toEqual({ ModifyInstanceMetadataOptions: 3, DescribeInstances: 1 });
  });

  test('DescribeLaunchTemplateVersions: $Latest and $Default across every template, the http-tokens filter, and pagination', async () => {
    const web = emulator.addLaunchTemplate(REGION, {
      LaunchTemplateName: 'web',
      versions: [{ MetadataOptions: { HttpTokens: 'optional' } }, { MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } }],
    });
    const batch = emulator.addLaunchTemplate(REGION, { LaunchTemplateName: 'batch', versions: [{ ImageId: 'ami-1', InstanceType: 'm7g.large' }, { MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'enabled' } }], DefaultVersionNumber: 2 });
    const api = emulator.addLaunchTemplate(REGION, { LaunchTemplateName: 'api', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
    const { c, raw } = ec2();
    const versions = (input: currentEc2.DescribeLaunchTemplateVersionsCommandInput) => c.send(new sdk.DescribeLaunchTemplateVersionsCommand(input));
    const rows = (out: currentEc2.DescribeLaunchTemplateVersionsCommandOutput) => out.LaunchTemplateVersions!.map((v) => `${v.LaunchTemplateName}:${v.VersionNumber}${v.DefaultVersion ? '*' : ''}`);

    const all = await versions({ Versions: ['$Latest', '$Default'] });
    expect(emulator.requestsOf('DescribeLaunchTemplateVersions')[0].params).toEqual({ 'Action': 'DescribeLaunchTemplateVersions', 'Version': '2016-11-15', 'LaunchTemplateVersion.1': '$Latest', 'LaunchTemplateVersion.2': '$Default' });
    expect(raw.body).toMatch(new RegExp(`<DescribeLaunchTemplateVersionsResponse xmlns="${EC2_NAMESPACE}">\\s*<requestId>[0-9a-f-]{36}</requestId>\\s*<launchTemplateVersionSet><item>`));
    expect(rows(all)).toEqual(['web:2', 'web:1*', 'batch:2*', 'api:1*']);
    expect(all.LaunchTemplateVersions![1]).toEqual({
      CreateTime: new Date('2026-01-01T00:00:00Z'),
      CreatedBy: 'arn:aws:iam::123456789012:root',
      DefaultVersion: true,
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'optional' } },
      LaunchTemplateId: web.LaunchTemplateId,
      LaunchTemplateName: 'web',
      VersionNumber: 1,
    });
    expect(all.LaunchTemplateVersions![2].LaunchTemplateData).toEqual({ MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'enabled' } });
    expect(rows(await versions({ Versions: ['$Latest'] }))).toEqual(['web:2', 'batch:2*', 'api:1*']);
    expect(rows(await versions({ Versions: ['$Latest', '$Default'], Filters: [{ Name: 'http-tokens', Values: ['optional'] }] }))).toEqual(['web:1*', 'batch:2*']);
    expect(rows(await versions({ Versions: ['$Default'], Filters: [{ Name: 'is-default-version', Values: ['true'] }, { Name: 'http-tokens', Values: ['required'] }] }))).toEqual(['api:1*']);

    // One template: by id or name, every version unless Versions says.
    expect(rows(await versions({ LaunchTemplateName: 'batch' }))).toEqual(['batch:2*', 'batch:1']);
    expect((await versions({ LaunchTemplateId: batch.LaunchTemplateId, Versions: ['1'] })).LaunchTemplateVersions![0].LaunchTemplateData).toEqual({ ImageId: 'ami-1', InstanceType: 'm7g.large' });
    expect(await errorOf(versions({ LaunchTemplateName: 'nope' }))).toMatchObject({ name: 'InvalidLaunchTemplateName.NotFoundException', status: 400 });
    expect(await errorOf(versions({ LaunchTemplateId: 'lt-0123456789abcdef0' }))).toMatchObject({ name: 'InvalidLaunchTemplateId.NotFound', status: 400 });
    expect(await errorOf(versions({ LaunchTemplateId: api.LaunchTemplateId, Versions: ['7'] }))).toMatchObject({ name: 'InvalidLaunchTemplateId.VersionNotFound' });
    // Neither a template nor $Latest/$Default: refused.
    expect(await errorOf(versions({}))).toMatchObject({ name: 'MissingParameter', status: 400 });
    expect(await errorOf(versions({ Versions: ['1'] }))).toMatchObject({ name: 'MissingParameter' });
    expect(await errorOf(versions({ Versions: ['$Latest'], Filters: [{ Name: 'metadata-options.http-tokens', Values: ['optional'] }] }))).toMatchObject({ name: 'InvalidParameterValue' });

    // Pagination: MaxResults 1..200.
    for (let i = 0; i < 7; i++) {
      emulator.addLaunchTemplate(REGION, { LaunchTemplateName: `fleet-${i}`, versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
    }
    const names: Array<string | undefined> = [];
    let pages = 0;
    for await (const page of sdk.paginateDescribeLaunchTemplateVersions({ client: c, pageSize: 3 }, { Versions: ['$Default'], Filters: [{ Name: 'http-tokens', Values: ['optional'] }] })) {
      pages++;
      names.push(...page.LaunchTemplateVersions!.map((v) => v.LaunchTemplateName));
    }
    expect(names).toEqual(['web', 'batch', ...[0, 1, 2, 3, 4, 5, 6].map((i) => `fleet-${i}`)]);
    expect(pages).toBe(3);
    for (const MaxResults of [0, 201]) {
      expect(await errorOf(versions({ Versions: ['$Default'], MaxResults }))).toMatchObject({ name: 'InvalidParameterValue' });
    }
  });

  test('RunInstances: with HttpTokensEnforced enabled, a launch that resolves to HttpTokens optional is UnsupportedOperation', async () => {
    const optionalTemplate = emulator.addLaunchTemplate(REGION, { LaunchTemplateName: 'v1', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }, { MetadataOptions: { HttpTokens: 'required' } }] });
    emulator.addLaunchTemplate(REGION, { LaunchTemplateName: 'bare', versions: [{ InstanceType: 'm7g.large' }] });
    const { c, raw } = ec2();
    const run = (input: Partial<currentEc2.RunInstancesCommandInput>) => c.send(new sdk.RunInstancesCommand({ MinCount: 1, MaxCount: 1, ImageId: 'ami-0123456789abcdef0', ...input }));

    // Without enforcement: a pending instance with the resolved options.
    const launched = await run({ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'one' }] }] });
    expect(raw.body).toMatch(new RegExp(`<RunInstancesResponse xmlns="${EC2_NAMESPACE}">\\s*<requestId>[0-9a-f-]{36}</requestId>\\s*<reservationId>r-`));
    expect(launched.Instances).toEqual([expect.objectContaining({
      State: { Code: 0, Name: 'pending' },
      Tags: [{ Key: 'Name', Value: 'one' }],
      MetadataOptions: expect.objectContaining({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' }),
    })]);
    expect(emulator.instance(REGION, launched.Instances![0].InstanceId!)).toMatchObject({ State: 'pending' });
    const fromTemplate = await run({ LaunchTemplate: { LaunchTemplateName: 'bare' }, MaxCount: 2 });
    expect(fromTemplate.Instances!.map((i) => i.InstanceType)).toEqual(['m7g.large', 'm7g.large']);

    emulator.setState(REGION, { HttpTokensEnforced: 'enabled' });
    const refused = { name: 'UnsupportedOperation', status: 400, message: ENFORCED_LAUNCH_MESSAGE };
    // Nothing sets HttpTokens: EC2's default is optional.
    expect(await errorOf(run({}))).toMatchObject(refused);
    expect(ENFORCED_LAUNCH_MESSAGE).toMatch(/^You can't launch instances with IMDSv1 because httpTokensEnforced is enabled for this account\. Either launch the instance with httpTokens=required or contact your account owner/);
    expect(await errorOf(run({ LaunchTemplate: { LaunchTemplateId: optionalTemplate.LaunchTemplateId } }))).toMatchObject(refused);
    expect(await errorOf(run({ LaunchTemplate: { LaunchTemplateName: 'v1', Version: '$Default' } }))).toMatchObject(refused);
    expect(await errorOf(run({ LaunchTemplate: { LaunchTemplateName: 'bare' } }))).toMatchObject(refused);
    // The launch parameter wins over the template, either way.
    expect(await errorOf(run({ LaunchTemplate: { LaunchTemplateName: 'v1', Version: '2' }, MetadataOptions: { HttpTokens: 'optional' } }))).toMatchObject(refused);
    await expect(run({ LaunchTemplate: { LaunchTemplateName: 'v1' }, MetadataOptions: { HttpTokens: 'required' } })).resolves.toBeDefined();
    await expect(run({ LaunchTemplate: { LaunchTemplateName: 'v1', Version: '$Latest' } })).resolves.toBeDefined();
    expect(emulator.requestsOf('RunInstances').slice(-1)[0].params).toMatchObject({ 'LaunchTemplate.LaunchTemplateName': 'v1', 'LaunchTemplate.Version': '$Latest' });
    // The account default fills in what neither says.
    emulator.setState(REGION, { HttpTokensEnforced: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    const byDefault = await run({ LaunchTemplate: { LaunchTemplateName: 'bare' } });
    expect(byDefault.Instances![0].MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(await errorOf(run({ LaunchTemplate: { LaunchTemplateName: 'v1', Version: '1' } }))).toMatchObject(refused);
    expect(emulator.instances(REGION)).toHaveLength(6);
  });
});
