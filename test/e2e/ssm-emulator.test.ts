/**
 * The fidelity of the local SSM Parameter Store endpoint
 * (test/support/ssm-emulator.ts) that the end-to-end suite runs the handler
 * against, checked with the real `@aws-sdk/client-ssm`: the current one (the
 * devDependency) and 3.996.0 from the e2e runtime's NODE_PATH root (the oldest
 * the handler meets). Covered: the JSON 1.1 wire format, each action,
 * pagination, each error code and HTTP status as the SDK surfaces and retries
 * them, SigV4, per-Region state, each fault switch, and the history of each
 * parameter with the caller that wrote each version (LastModifiedUser).
 */
import * as currentSsm from '@aws-sdk/client-ssm';
import { loadSdkClient } from './harness/runtime';
import { captureRaw, errorOf, tamperAfterSigning } from '../support/sdk-probe';
import { SsmEmulator, TEST_CREDENTIALS, TEST_SESSION_TOKEN, TEST_USER_ARN, testAccessKeyId } from '../support/ssm-emulator';

type SsmModule = typeof currentSsm;

const REGION = 'eu-west-1';
const CLAIMS = '/cdk-imds-account-defaults/claims';
let emulator: SsmEmulator;

beforeAll(async () => {
  emulator = await SsmEmulator.start();
});
afterAll(async () => {
  await emulator.stop();
});

const SDKS: Array<[string, () => SsmModule]> = [
  ['current', () => currentSsm],
  ['3.996.0', () => loadSdkClient<SsmModule>('3.996.0', 'client-ssm')],
];

describe.each(SDKS)('with client-ssm %s', (sdkName, load) => {
  let sdk: SsmModule;

  beforeAll(() => {
    sdk = load();
    if (sdkName !== 'current') {
      // Really the runtime's copy, not the project's.
      expect(sdk.SSMClient).not.toBe(currentSsm.SSMClient);
    }
  });
  beforeEach(() => {
    emulator.requests.length = 0;
    emulator.hang = false;
    emulator.clearFaults();
    for (const region of [REGION, 'us-east-1']) {
      for (const name of emulator.parameters(region).keys()) {
        emulator.deleteParameter(region, name);
      }
    }
  });

  /** A client of the emulator; `raw` receives the last HTTP response as SSM sent it. */
  interface ClientOptions {
    region?: string;
    maxAttempts?: number;
    secret?: string;
    accessKeyId?: string;
    sessionToken?: string;
    requestTimeout?: number;
  }

  function client(options: ClientOptions = {}) {
    const c = new sdk.SSMClient({
      region: options.region ?? REGION,
      endpoint: emulator.endpoint,
      credentials: {
        accessKeyId: options.accessKeyId ?? TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: options.secret ?? TEST_CREDENTIALS.secretAccessKey,
        sessionToken: options.sessionToken,
      },
      maxAttempts: options.maxAttempts ?? 1,
      requestHandler: { requestTimeout: options.requestTimeout ?? 5_000, throwOnRequestTimeout: true },
    });
    return { c, raw: captureRaw(c) };
  }

  const put = (c: currentSsm.SSMClient, input: currentSsm.PutParameterCommandInput) => c.send(new sdk.PutParameterCommand(input));
  const get = (c: currentSsm.SSMClient, name: string) => c.send(new sdk.GetParameterCommand({ Name: name }));
  const del = (c: currentSsm.SSMClient, name: string) => c.send(new sdk.DeleteParameterCommand({ Name: name }));
  const byPath = (c: currentSsm.SSMClient, input: currentSsm.GetParametersByPathCommandInput) => c.send(new sdk.GetParametersByPathCommand(input));

  test('the wire format: a signed JSON 1.1 POST with X-Amz-Target AmazonSSM.<Action>, answered with JSON', async () => {
    const { c, raw } = client();
    const seen: Record<string, string> = {};
    c.middlewareStack.add((next: any) => async (args: any) => {
      Object.assign(seen, args.request.headers, { path: args.request.path, method: args.request.method });
      return next(args);
    }, { step: 'finalizeRequest', priority: 'low' });
    const out = await put(c, { Name: `${CLAIMS}/a`, Value: '{"format":1}', Type: 'String', Tier: 'Standard', Overwrite: true });
    expect(seen).toMatchObject({ 'method': 'POST', 'path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.PutParameter' });
    expect(emulator.requests).toEqual([{
      action: 'PutParameter',
      region: REGION,
      input: { Name: `${CLAIMS}/a`, Value: '{"format":1}', Type: 'String', Tier: 'Standard', Overwrite: true },
      // The principal of the request's access key (setCaller; none set: the test user).
      caller: TEST_USER_ARN,
    }]);
    expect(raw).toMatchObject({ status: 200, contentType: 'application/x-amz-json-1.1' });
    expect(JSON.parse(raw.body!)).toEqual({ Tier: 'Standard', Version: 1 });
    expect(out).toMatchObject({ Tier: 'Standard', Version: 1 });
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('PutParameter: a new parameter is version 1; Overwrite makes the next version and keeps the Type; without it, ParameterAlreadyExists 400', async () => {
    const { c } = client();
    const before = Date.now();
    await put(c, { Name: `${CLAIMS}/a`, Value: 'one', Type: 'String' });
    expect(await errorOf(put(c, { Name: `${CLAIMS}/a`, Value: 'two', Type: 'String' }))).toMatchObject({
      name: 'ParameterAlreadyExists',
      status: 400,
      fault: 'client',
      message: 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
    });
    expect(await errorOf(put(c, { Name: `${CLAIMS}/a`, Value: 'two', Overwrite: false }))).toMatchObject({ name: 'ParameterAlreadyExists' });
    await expect(put(c, { Name: `${CLAIMS}/a`, Value: 'two', Overwrite: true })).resolves.toMatchObject({ Version: 2, Tier: 'Standard' });
    const stored = emulator.parameters(REGION).get(`${CLAIMS}/a`)!;
    expect(stored).toMatchObject({ Name: `${CLAIMS}/a`, Value: 'two', Type: 'String', Tier: 'Standard', Version: 2, DataType: 'text' });
    expect(stored.LastModifiedDate.getTime()).toBeGreaterThanOrEqual(before);

    // A new parameter needs a Type; Tags and Overwrite do not go together.
    expect(await errorOf(put(c, { Name: `${CLAIMS}/b`, Value: 'x' }))).toMatchObject({ name: 'ValidationException', status: 400, message: expect.stringContaining('type is required') });
    expect(await errorOf(put(c, { Name: `${CLAIMS}/b`, Value: 'x', Type: 'String', Overwrite: true, Tags: [{ Key: 'k', Value: 'v' }] }))).toMatchObject({ name: 'ValidationException' });
    expect(await errorOf(put(c, { Name: `${CLAIMS}/b`, Value: 'x', Type: 'Text' as any }))).toMatchObject({ name: 'ValidationException' });
    expect(await errorOf(put(c, { Name: `${CLAIMS}/b`, Value: '12', Type: 'String', AllowedPattern: '^[a-z]+$' }))).toMatchObject({ name: 'ParameterPatternMismatchException', status: 400 });
    expect([...emulator.parameters(REGION).keys()]).toEqual([`${CLAIMS}/a`]);
  });

  test('PutParameter: the Standard tier holds 4096 characters; Advanced 8192', async () => {
    const { c } = client();
    await expect(put(c, { Name: '/p/max', Value: 'x'.repeat(4096), Type: 'String' })).resolves.toMatchObject({ Tier: 'Standard' });
    expect(await errorOf(put(c, { Name: '/p/big', Value: 'x'.repeat(4097), Type: 'String', Tier: 'Standard' }))).toMatchObject({
      name: 'ValidationException', status: 400, message: expect.stringMatching(/^Standard tier parameters support a maximum parameter value of 4096 characters/),
    });
    await expect(put(c, { Name: '/p/big', Value: 'x'.repeat(4097), Type: 'String', Tier: 'Advanced' })).resolves.toMatchObject({ Tier: 'Advanced', Version: 1 });
    expect(await errorOf(put(c, { Name: '/p/huge', Value: 'x'.repeat(8193), Type: 'String', Tier: 'Advanced' }))).toMatchObject({ name: 'ValidationException' });
  });

  test.each([
    ['a/b', 'ValidationException', 'a/b', /fully qualified/],
    ['/aws/x', 'ValidationException', '/aws/x', /prefixed with "aws" or "ssm"/],
    ['SSM-thing', 'ValidationException', 'SSM-thing', /prefixed/],
    ['/a b', 'ValidationException', '/a b', /letters, numbers/],
    ['/a/', 'ValidationException', '/a/', /sub-path/],
    ['of 16 levels', 'HierarchyLevelLimitExceededException', `/${'a/'.repeat(15)}x`, /15 levels/],
    ['of 1012 characters', 'ValidationException', `/${'x'.repeat(1011)}`, /1011/],
  ])('PutParameter: the name %s is refused with %s', async (_label, code, name, message) => {
    expect(await errorOf(put(client().c, { Name: name, Value: 'v', Type: 'String' }))).toMatchObject({ name: code, status: 400, message: expect.stringMatching(message) });
  });

  test('PutParameter: names of letters, digits and . - _, in a hierarchy of up to 15 levels, are taken', async () => {
    const { c } = client();
    for (const name of ['plain', '/a.b-c_D9', `/${'a/'.repeat(14)}x`]) {
      await expect(put(c, { Name: name, Value: 'v', Type: 'String' })).resolves.toMatchObject({ Version: 1 });
    }
  });

  test('GetParameter returns the parameter with its ARN, Version, DataType and LastModifiedDate; an unknown name is ParameterNotFound 400', async () => {
    const { c, raw } = client();
    await put(c, { Name: `${CLAIMS}/a`, Value: 'v', Type: 'String' });
    await put(c, { Name: `${CLAIMS}/a`, Value: 'w', Overwrite: true });
    const out = await get(c, `${CLAIMS}/a`);
    expect(out.Parameter).toEqual({
      Name: `${CLAIMS}/a`,
      Type: 'String',
      Value: 'w',
      Version: 2,
      DataType: 'text',
      ARN: `arn:aws:ssm:${REGION}:123456789012:parameter${CLAIMS}/a`,
      LastModifiedDate: emulator.parameters(REGION).get(`${CLAIMS}/a`)!.LastModifiedDate,
    });
    // Epoch seconds with a fraction, as JSON 1.1 sends timestamps.
    expect(JSON.parse(raw.body!).Parameter.LastModifiedDate).toEqual(expect.any(Number));

    expect(await errorOf(get(c, `${CLAIMS}/missing`))).toMatchObject({ name: 'ParameterNotFound', status: 400, fault: 'client' });
    expect(JSON.parse(raw.body!)).toEqual({ __type: 'ParameterNotFound' });
    expect(raw.status).toBe(400);
  });

  test('DeleteParameter removes the parameter; deleting an unknown one is ParameterNotFound 400', async () => {
    const { c, raw } = client();
    await put(c, { Name: `${CLAIMS}/a`, Value: 'v', Type: 'String' });
    await expect(del(c, `${CLAIMS}/a`)).resolves.toBeDefined();
    expect(JSON.parse(raw.body!)).toEqual({});
    expect(emulator.parameters(REGION).size).toBe(0);
    expect(await errorOf(del(c, `${CLAIMS}/a`))).toMatchObject({ name: 'ParameterNotFound', status: 400 });
    expect(await errorOf(get(c, `${CLAIMS}/a`))).toMatchObject({ name: 'ParameterNotFound' });
  });

  test('GetParametersByPath: Recursive false returns only the direct children of the Path, Recursive true the whole subtree', async () => {
    const { c } = client();
    for (const name of [`${CLAIMS}/b`, `${CLAIMS}/a`, `${CLAIMS}/deeper/c`, '/cdk-imds-account-defaults/other', '/cdk-imds-account-defaults/claims-not', '/elsewhere/x']) {
      await put(c, { Name: name, Value: name, Type: 'String' });
    }
    const direct = await byPath(c, { Path: CLAIMS, Recursive: false });
    expect(direct.Parameters!.map((p) => p.Name)).toEqual([`${CLAIMS}/a`, `${CLAIMS}/b`]);
    expect(direct.NextToken).toBeUndefined();
    expect(direct.Parameters![0]).toEqual({
      Name: `${CLAIMS}/a`,
      Type: 'String',
      Value: `${CLAIMS}/a`,
      Version: 1,
      DataType: 'text',
      ARN: `arn:aws:ssm:${REGION}:123456789012:parameter${CLAIMS}/a`,
      LastModifiedDate: expect.any(Date),
    });
    // A trailing slash names the same hierarchy; no Recursive is false.
    expect((await byPath(c, { Path: `${CLAIMS}/` })).Parameters!.map((p) => p.Name)).toEqual([`${CLAIMS}/a`, `${CLAIMS}/b`]);
    expect((await byPath(c, { Path: CLAIMS, Recursive: true })).Parameters!.map((p) => p.Name)).toEqual([`${CLAIMS}/a`, `${CLAIMS}/b`, `${CLAIMS}/deeper/c`]);
    expect((await byPath(c, { Path: '/nothing/here' })).Parameters).toEqual([]);
    expect(await errorOf(byPath(c, { Path: 'no-slash' }))).toMatchObject({ name: 'ValidationException', status: 400 });
  });

  test('GetParametersByPath pages by MaxResults (1..10, default 10) and NextToken, and the SDK paginator follows it', async () => {
    const { c } = client();
    const names = Array.from({ length: 23 }, (_, i) => `${CLAIMS}/${String(i).padStart(2, '0')}`);
    for (const name of names) {
      emulator.setParameter(REGION, name, 'v');
    }
    const first = await byPath(c, { Path: CLAIMS });
    expect(first.Parameters).toHaveLength(10);
    expect(first.NextToken).toEqual(expect.any(String));
    const second = await byPath(c, { Path: CLAIMS, MaxResults: 3, NextToken: first.NextToken });
    expect(second.Parameters!.map((p) => p.Name)).toEqual(names.slice(10, 13));

    // Deleting a parameter between pages does not shift the next page.
    emulator.deleteParameter(REGION, names[13]);
    const third = await byPath(c, { Path: CLAIMS, NextToken: second.NextToken });
    expect(third.Parameters!.map((p) => p.Name)).toEqual(names.slice(14, 23));
    expect(third.NextToken).toBeUndefined();

    const seen: string[] = [];
    for await (const page of sdk.paginateGetParametersByPath({ client: c, pageSize: 4 }, { Path: CLAIMS, Recursive: false })) {
      expect(page.Parameters!.length).toBeLessThanOrEqual(4);
      seen.push(...page.Parameters!.map((p) => p.Name!));
    }
    expect(seen).toEqual(names.filter((n) => n !== names[13]));
    expect(emulator.requestsOf('GetParametersByPath').at(-1)!.input).toMatchObject({ MaxResults: 4, NextToken: expect.any(String) });

    for (const maxResults of [0, 11]) {
      expect(await errorOf(byPath(c, { Path: CLAIMS, MaxResults: maxResults }))).toMatchObject({
        name: 'ValidationException', status: 400, message: expect.stringMatching(/^1 validation error detected: Value '\d+' at 'maxResults' failed to satisfy constraint/),
      });
    }
    expect(await errorOf(byPath(c, { Path: CLAIMS, NextToken: 'forged' }))).toMatchObject({ name: 'InvalidNextToken', status: 400 });
    expect(await errorOf(byPath(c, { Path: '/elsewhere', NextToken: first.NextToken }))).toMatchObject({ name: 'InvalidNextToken' });
  });

  test.each([
    // code, HTTP status, retried by the SDK's standard strategy
    ['ThrottlingException', 400, true],
    ['InternalServerError', 500, true],
    ['AccessDeniedException', 400, false],
  ])('the %s switch answers HTTP %d as a JSON 1.1 error (retried by the SDK: %s)', async (code, status, retried) => {
    const { c, raw } = client();
    emulator.injectFault({ code: code as string, times: 1 });
    const error = await errorOf(byPath(c, { Path: CLAIMS }));
    expect(error).toMatchObject({ name: code, status, fault: status >= 500 ? 'server' : 'client', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(raw.contentType).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(raw.body!)).toEqual({ __type: code, message: error.message });
    if (code === 'AccessDeniedException') {
      expect(error.message).toBe('User: arn:aws:sts::123456789012:assumed-role/ImdsRole/ImdsHandler is not authorized to perform: ssm:GetParametersByPath '
        + `on resource: arn:aws:ssm:${REGION}:123456789012:parameter${CLAIMS} because no identity-based policy allows the ssm:GetParametersByPath action`);
    }
    if (code === 'ThrottlingException') {
      expect(error.message).toBe('Rate exceeded');
    }

    emulator.requests.length = 0;
    emulator.injectFault({ code: code as string, times: 1 });
    const second = byPath(client({ maxAttempts: 2 }).c, { Path: CLAIMS });
    if (retried) {
      await expect(second).resolves.toMatchObject({ Parameters: [] });
    } else {
      await expect(second).rejects.toMatchObject({ name: code });
    }
    expect(emulator.requests).toHaveLength(retried ? 2 : 1);
  });

  test('a fault can target one action, a number of requests, and start after some', async () => {
    const { c } = client();
    const served = emulator.faultsServed;
    emulator.injectFault({ code: 'InternalServerError', times: 2, action: 'PutParameter' });
    await expect(byPath(c, { Path: CLAIMS })).resolves.toBeDefined();
    expect(await errorOf(put(c, { Name: '/p', Value: 'v', Type: 'String' }))).toMatchObject({ name: 'InternalServerError', status: 500 });
    expect(await errorOf(put(c, { Name: '/p', Value: 'v', Type: 'String' }))).toMatchObject({ name: 'InternalServerError' });
    await expect(put(c, { Name: '/p', Value: 'v', Type: 'String' })).resolves.toMatchObject({ Version: 1 });
    expect(emulator.requests.map((r) => r.fault)).toEqual([undefined, 'InternalServerError', 'InternalServerError', undefined]);
    expect(emulator.faultsServed - served).toBe(2);

    emulator.requests.length = 0;
    emulator.injectFault({ code: 'ThrottlingException', times: 1, action: 'DeleteParameter', after: 1 });
    await del(c, '/p');
    expect(await errorOf(del(c, '/p'))).toMatchObject({ name: 'ThrottlingException' });
    expect(await errorOf(del(c, '/p'))).toMatchObject({ name: 'ParameterNotFound' });
    expect(emulator.requests.map((r) => r.fault)).toEqual([undefined, 'ThrottlingException', undefined]);

    emulator.injectFault({ code: 'AccessDeniedException', times: 5 });
    emulator.clearFaults();
    await expect(byPath(c, { Path: CLAIMS })).resolves.toBeDefined();
  });

  test('SigV4: a missing signature, a wrong secret or key, an unknown session token and a body changed after signing are refused as SSM does', async () => {
    expect(await errorOf(get(client({ secret: 'wrong' }).c, '/p'))).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(await errorOf(get(client({ accessKeyId: 'AKIDSOMEONEELSE' }).c, '/p'))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    expect(await errorOf(get(client({ sessionToken: 'stolen' }).c, '/p'))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    expect(await errorOf(get(client({ sessionToken: TEST_SESSION_TOKEN }).c, '/p'))).toMatchObject({ name: 'ParameterNotFound' });

    const { c } = client();
    let tampered = 0;
    tamperAfterSigning(c, (body) => {
      tampered += body.includes('"required"') ? 1 : 0;
      return body.replace('"required"', '"optional"');
    });
    expect(await errorOf(put(c, { Name: '/p', Value: 'required', Type: 'String' }))).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(tampered).toBe(1);
    expect(emulator.parameters(REGION).size).toBe(0);
    // Refused before it reached an action: only the request with the known session token was recorded.
    expect(emulator.requests).toHaveLength(1);

    const unsigned = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameter' },
      body: '{"Name":"/p"}',
    });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  test('the parameters are per Region, taken from the credential scope of the signature', async () => {
    await put(client().c, { Name: `${CLAIMS}/a`, Value: 'eu', Type: 'String' });
    await put(client({ region: 'us-east-1' }).c, { Name: `${CLAIMS}/a`, Value: 'us', Type: 'String' });
    expect(emulator.parameters(REGION).get(`${CLAIMS}/a`)!.Value).toBe('eu');
    expect(emulator.parameters('us-east-1').get(`${CLAIMS}/a`)!.Value).toBe('us');
    expect((await get(client({ region: 'us-east-1' }).c, `${CLAIMS}/a`)).Parameter).toMatchObject({
      Value: 'us', ARN: `arn:aws:ssm:us-east-1:123456789012:parameter${CLAIMS}/a`,
    });
    await del(client().c, `${CLAIMS}/a`);
    expect((await byPath(client({ region: 'us-east-1' }).c, { Path: CLAIMS })).Parameters).toHaveLength(1);
    expect(emulator.requests.map((r) => r.region)).toEqual([REGION, 'us-east-1', 'us-east-1', REGION, 'us-east-1']);
  });

  const history = (c: currentSsm.SSMClient, input: currentSsm.GetParameterHistoryCommandInput) => c.send(new sdk.GetParameterHistoryCommand(input));

  test('GetParameterHistory: every version, oldest first, each with the caller that wrote it; an unknown name is ParameterNotFound 400', async () => {
    const alice = testAccessKeyId('ALICE');
    const aliceArn = 'arn:aws:sts::123456789012:assumed-role/Admin/alice';
    emulator.setCaller(alice, aliceArn);
    const { c, raw } = client();
    await put(c, { Name: `${CLAIMS}/h`, Value: 'one', Type: 'String' });
    await put(client({ accessKeyId: alice }).c, { Name: `${CLAIMS}/h`, Value: 'two', Overwrite: true, Description: 'd' });
    expect(emulator.requests.map((r) => r.caller)).toEqual([TEST_USER_ARN, aliceArn]);
    const out = await history(c, { Name: `${CLAIMS}/h`, WithDecryption: false });
    const dates = emulator.history(REGION, `${CLAIMS}/h`).map((v) => v.LastModifiedDate);
    expect(out.Parameters).toEqual([
      { Name: `${CLAIMS}/h`, Type: 'String', Value: 'one', Version: 1, LastModifiedDate: dates[0], LastModifiedUser: TEST_USER_ARN, Tier: 'Standard', DataType: 'text', Labels: [], Policies: [] },
      { Name: `${CLAIMS}/h`, Type: 'String', Value: 'two', Version: 2, LastModifiedDate: dates[1], LastModifiedUser: aliceArn, Tier: 'Standard', DataType: 'text', Labels: [], Policies: [], Description: 'd' },
    ]);
    expect(out.NextToken).toBeUndefined();
    // Epoch seconds, as JSON 1.1 sends timestamps.
    expect(JSON.parse(raw.body!).Parameters[0].LastModifiedDate).toEqual(expect.any(Number));
    // By ARN too.
    expect((await history(c, { Name: `arn:aws:ssm:${REGION}:123456789012:parameter${CLAIMS}/h` })).Parameters).toHaveLength(2);

    expect(await errorOf(history(c, { Name: `${CLAIMS}/missing` }))).toMatchObject({ name: 'ParameterNotFound', status: 400, fault: 'client' });
    expect(JSON.parse(raw.body!)).toEqual({ __type: 'ParameterNotFound' });
    // Deleting the parameter deletes its history: created again, it starts at version 1.
    await del(c, `${CLAIMS}/h`);
    expect(await errorOf(history(c, { Name: `${CLAIMS}/h` }))).toMatchObject({ name: 'ParameterNotFound' });
    await put(c, { Name: `${CLAIMS}/h`, Value: 'three', Type: 'String' });
    expect((await history(c, { Name: `${CLAIMS}/h` })).Parameters!.map((p) => [p.Version, p.Value])).toEqual([[1, 'three']]);
  });

  test('GetParameterHistory pages by MaxResults (1..50, default 50) and NextToken, and the SDK paginator follows it', async () => {
    const { c } = client();
    for (let i = 1; i <= 53; i++) {
      emulator.setParameter(REGION, `${CLAIMS}/many`, `v${i}`, i === 53 ? 'arn:aws:iam::123456789012:user/last' : undefined);
    }
    const first = await history(c, { Name: `${CLAIMS}/many` });
    expect(first.Parameters!.map((p) => p.Version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(first.NextToken).toEqual(expect.any(String));
    const second = await history(c, { Name: `${CLAIMS}/many`, NextToken: first.NextToken });
    expect(second.Parameters!.map((p) => [p.Version, p.LastModifiedUser])).toEqual([[51, TEST_USER_ARN], [52, TEST_USER_ARN], [53, 'arn:aws:iam::123456789012:user/last']]);
    expect(second.NextToken).toBeUndefined();
    const pages: number[][] = [];
    for await (const page of sdk.paginateGetParameterHistory({ client: c, pageSize: 20 }, { Name: `${CLAIMS}/many` })) {
      pages.push(page.Parameters!.map((p) => p.Version!));
    }
    expect(pages.map((p) => p.length)).toEqual([20, 20, 13]);
    expect(pages.flat()).toEqual(Array.from({ length: 53 }, (_, i) => i + 1));
    for (const MaxResults of [0, 51]) {
      expect(await errorOf(history(c, { Name: `${CLAIMS}/many`, MaxResults }))).toMatchObject({ name: 'ValidationException', status: 400 });
    }
    emulator.setParameter(REGION, `${CLAIMS}/other`, 'v');
    expect(await errorOf(history(c, { Name: `${CLAIMS}/other`, NextToken: first.NextToken }))).toMatchObject({ name: 'InvalidNextToken', status: 400 });
    expect(await errorOf(history(c, { Name: `${CLAIMS}/many`, NextToken: 'garbage' }))).toMatchObject({ name: 'InvalidNextToken', status: 400 });
  });

  test('setParameter seeds a String parameter (a new version if it exists); parameters() is a copy', async () => {
    emulator.setParameter(REGION, `${CLAIMS}/x`, 'not json');
    emulator.setParameter(REGION, `${CLAIMS}/x`, '{}');
    const copy = emulator.parameters(REGION);
    copy.get(`${CLAIMS}/x`)!.Value = 'changed';
    copy.delete(`${CLAIMS}/x`);
    expect((await get(client().c, `${CLAIMS}/x`)).Parameter).toMatchObject({ Value: '{}', Version: 2, Type: 'String' });
  });

  test('an action it does not emulate is UnknownOperationException 400', async () => {
    expect(await errorOf(client().c.send(new sdk.DescribeParametersCommand({})))).toMatchObject({ name: 'UnknownOperationException', status: 400 });
  });

  test('the hang switch holds requests unanswered until the client gives up', async () => {
    emulator.hang = true;
    const started = Date.now();
    const held = emulator.requestsHeld;
    expect(await errorOf(get(client({ requestTimeout: 300 }).c, '/p'))).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(emulator.requestsHeld - held).toBe(1);
  });
});
