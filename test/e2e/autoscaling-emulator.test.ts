/**
 * The fidelity of the local Auto Scaling endpoint
 * (test/support/autoscaling-emulator.ts) that the end-to-end suite runs the
 * readiness check against, checked with the real `@aws-sdk/client-auto-scaling`:
 * the current one (the devDependency) and 3.995.0 from the e2e runtime's
 * NODE_PATH root. Covered: the Query wire format and XML, launch
 * configurations with their MetadataOptions, pagination, each error code and
 * HTTP status as the SDK surfaces and retries them, SigV4, per-Region state.
 */
import * as currentAsg from '@aws-sdk/client-auto-scaling';
import { loadSdkClient } from './harness/runtime';
import { AUTOSCALING_NAMESPACE, AutoScalingEmulator, TEST_CREDENTIALS, TEST_SESSION_TOKEN } from '../support/autoscaling-emulator';
import { captureRaw, errorOf, tamperAfterSigning } from '../support/sdk-probe';

type AsgModule = typeof currentAsg;

const REGION = 'eu-west-1';
let emulator: AutoScalingEmulator;

beforeAll(async () => {
  emulator = await AutoScalingEmulator.start();
});
afterAll(async () => {
  await emulator.stop();
});

const SDKS: Array<[string, () => AsgModule]> = [
  ['current', () => currentAsg],
  ['3.995.0', () => loadSdkClient<AsgModule>('3.996.0', 'client-auto-scaling')],
];

describe.each(SDKS)('with client-auto-scaling %s', (sdkName, load) => {
  let sdk: AsgModule;

  beforeAll(() => {
    sdk = load();
    if (sdkName !== 'current') {
      expect(sdk.AutoScalingClient).not.toBe(currentAsg.AutoScalingClient);
    }
  });
  beforeEach(() => {
    emulator.requests.length = 0;
    emulator.hang = false;
    emulator.clearFaults();
    emulator.clearLaunchConfigurations(REGION);
    emulator.clearLaunchConfigurations('us-east-1');
  });

  function client(options: { region?: string; maxAttempts?: number; secret?: string; sessionToken?: string } = {}) {
    const c = new sdk.AutoScalingClient({
      region: options.region ?? REGION,
      endpoint: emulator.endpoint,
      credentials: { ...TEST_CREDENTIALS, secretAccessKey: options.secret ?? TEST_CREDENTIALS.secretAccessKey, sessionToken: options.sessionToken },
      maxAttempts: options.maxAttempts ?? 1,
    });
    return { c: c as currentAsg.AutoScalingClient, raw: captureRaw(c) };
  }

  const describe = (c: currentAsg.AutoScalingClient, input: currentAsg.DescribeLaunchConfigurationsCommandInput = {}) =>
    c.send(new sdk.DescribeLaunchConfigurationsCommand(input));

  test('the wire format: a signed form-encoded POST; XML in the Auto Scaling namespace; MetadataOptions as the SDK reads them', async () => {
    const web = emulator.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'web & <co>', MetadataOptions: { HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' } });
    emulator.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'bare', ImageId: 'ami-1', InstanceType: 'm7g.large' });
    const { c, raw } = client();
    const out = await describe(c);
    expect(emulator.requests[0]).toEqual({ action: 'DescribeLaunchConfigurations', region: REGION, params: { Action: 'DescribeLaunchConfigurations', Version: '2011-01-01' } });
    expect(raw).toMatchObject({ status: 200, contentType: 'text/xml' });
    expect(raw.body).toMatch(new RegExp(`^<DescribeLaunchConfigurationsResponse xmlns="${AUTOSCALING_NAMESPACE}">\\s*<DescribeLaunchConfigurationsResult>\\s*<LaunchConfigurations>\\s*<member>`));
    expect(out.LaunchConfigurations).toEqual([
      expect.objectContaining({
        LaunchConfigurationName: 'web & <co>',
        LaunchConfigurationARN: web.LaunchConfigurationARN,
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.micro',
        CreatedTime: new Date('2026-01-01T00:00:00Z'),
        MetadataOptions: { HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' },
      }),
      expect.objectContaining({ LaunchConfigurationName: 'bare', ImageId: 'ami-1', InstanceType: 'm7g.large' }),
    ]);
    expect(out.LaunchConfigurations![1].MetadataOptions).toBeUndefined();
    expect(web.LaunchConfigurationARN).toMatch(/^arn:aws:autoscaling:eu-west-1:123456789012:launchConfiguration:[0-9a-f-]{36}:launchConfigurationName\/web & <co>$/);
    expect(out.NextToken).toBeUndefined();
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(raw.body).toContain(`<RequestId>${out.$metadata.requestId}</RequestId>`);
    // Per Region.
    expect((await describe(client({ region: 'us-east-1' }).c)).LaunchConfigurations).toEqual([]);
  });

  test('LaunchConfigurationNames selects (unknown names are left out); MaxRecords 1..100 and NextToken page through the rest', async () => {
    for (let i = 0; i < 120; i++) {
      emulator.addLaunchConfiguration(REGION, { LaunchConfigurationName: `lc-${i}`, MetadataOptions: { HttpTokens: i % 4 ? 'required' : 'optional' } });
    }
    const { c } = client();
    const picked = await describe(c, { LaunchConfigurationNames: ['lc-7', 'nope', 'lc-3'] });
    expect(emulator.requests[0].params).toMatchObject({ 'LaunchConfigurationNames.member.1': 'lc-7', 'LaunchConfigurationNames.member.2': 'nope' });
    expect(picked.LaunchConfigurations!.map((l) => l.LaunchConfigurationName)).toEqual(['lc-3', 'lc-7']);

    const first = await describe(c);
    expect(first.LaunchConfigurations).toHaveLength(50);
    expect(first.NextToken).toEqual(expect.any(String));
    const names: Array<string | undefined> = [];
    let pages = 0;
    for await (const page of sdk.paginateDescribeLaunchConfigurations({ client: c, pageSize: 100 }, {})) {
      pages++;
      names.push(...page.LaunchConfigurations!.map((l) => l.LaunchConfigurationName));
    }
    expect(pages).toBe(2);
    expect(names).toEqual(Array.from({ length: 120 }, (_, i) => `lc-${i}`));
    expect(emulator.requests.slice(-2).map((r) => r.params.MaxRecords)).toEqual(['100', '100']);

    for (const MaxRecords of [0, 101]) {
      expect(await errorOf(describe(c, { MaxRecords }))).toMatchObject({ name: 'ValidationError', status: 400, fault: 'client' });
    }
    expect(await errorOf(describe(c, { NextToken: 'nope' }))).toMatchObject({ name: 'InvalidNextToken', status: 400 });
  });

  test.each([
    // code, HTTP status, retried by the SDK's standard strategy
    ['Throttling', 400, true],
    ['InternalFailure', 500, true],
    ['AccessDenied', 403, false],
  ])('the %s switch answers HTTP %d (retried by the SDK: %s)', async (code, status, retried) => {
    emulator.injectFault({ code: code as string, times: 1 });
    const { c, raw } = client();
    expect(await errorOf(describe(c))).toMatchObject({ name: code, status });
    expect(raw.body).toMatch(new RegExp(`^<ErrorResponse xmlns="${AUTOSCALING_NAMESPACE}">\\s*<Error>\\s*<Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>\\s*<Code>${code}</Code>`));

    emulator.requests.length = 0;
    emulator.injectFault({ code: code as string, times: 1 });
    const second = describe(client({ maxAttempts: 2 }).c);
    if (retried) {
      await expect(second).resolves.toMatchObject({ LaunchConfigurations: [] });
    } else {
      await expect(second).rejects.toMatchObject({ name: code });
    }
    expect(emulator.requests).toHaveLength(retried ? 2 : 1);
  });

  test('SigV4: a wrong secret, an unknown session token and a body changed after signing are refused (403)', async () => {
    expect(await errorOf(describe(client({ secret: 'wrong' }).c))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    await expect(describe(client({ sessionToken: TEST_SESSION_TOKEN }).c)).resolves.toBeDefined();
    expect(await errorOf(describe(client({ sessionToken: 'stolen' }).c))).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    const { c } = client();
    tamperAfterSigning(c, (body) => body.replace('lc-1', 'lc-2'));
    expect(await errorOf(describe(c, { LaunchConfigurationNames: ['lc-1'] }))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
  });

  test('the client finds the emulator through AWS_ENDPOINT_URL_AUTO_SCALING, as the functions\' clients do', async () => {
    emulator.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'env' });
    const saved = process.env.AWS_ENDPOINT_URL_AUTO_SCALING;
    process.env.AWS_ENDPOINT_URL_AUTO_SCALING = emulator.endpoint;
    try {
      const c = new sdk.AutoScalingClient({ region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
      expect((await describe(c as currentAsg.AutoScalingClient)).LaunchConfigurations!.map((l) => l.LaunchConfigurationName)).toEqual(['env']);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_AUTO_SCALING;
      else process.env.AWS_ENDPOINT_URL_AUTO_SCALING = saved;
    }
  });

  test('an action it does not emulate is InvalidAction', async () => {
    // DescribeAutoScalingGroups is emulated too (the shared Auto Scaling module): a write action is not.
    expect(await errorOf(client().c.send(new sdk.SetDesiredCapacityCommand({ AutoScalingGroupName: 'g', DesiredCapacity: 1 })))).toMatchObject({ name: 'InvalidAction', status: 400 });
  });
});
