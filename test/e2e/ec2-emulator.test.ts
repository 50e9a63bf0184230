/**
 * The fidelity of the local EC2 endpoint (test/support/ec2-emulator.ts) that the
 * end-to-end suite runs the handler against, checked with the real
 * `@aws-sdk/client-ec2`: the wire format, the XML and its namespace, the error
 * codes and HTTP statuses as the SDK surfaces and retries them, SigV4, per-Region
 * state, EC2's value validation, ManagedBy, and each fault switch.
 */
import {
  DescribeRegionsCommand,
  EC2Client,
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommandInput,
} from '@aws-sdk/client-ec2';
import { EC2_NAMESPACE, Ec2Emulator, TEST_CREDENTIALS, TEST_SESSION_TOKEN } from '../support/ec2-emulator';
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
