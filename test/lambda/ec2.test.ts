/**
 * lambda/ec2.ts with the real @aws-sdk/client-ec2, current and 3.996.0 (the last
 * release without HttpTokensEnforced), against the local EC2 emulator.
 */
import { captureLogs } from './support';
import { Ec2Emulator, TEST_CREDENTIALS } from '../support/ec2-emulator';

type Ec2Module = typeof import('../../lambda/ec2');

const SDKS = {
  'current': '@aws-sdk/client-ec2',
  '3.996.0': '@aws-sdk/client-ec2-v3996',
} as const;

/** Loads lambda/ec2.ts with the given client-ec2 standing in for the runtime's. */
function loadEc2(sdk: keyof typeof SDKS): Ec2Module {
  let mod: Ec2Module | undefined;
  jest.isolateModules(() => {
    jest.doMock('@aws-sdk/client-ec2', () => jest.requireActual(SDKS[sdk]));
    // A fresh copy of the module, with the client-ec2 mocked above (import() would share the registry).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../../lambda/ec2');
  });
  return mod!;
}

// The SDK's backoff is random (up to a few seconds for throttling): leave room on a busy machine.
jest.setTimeout(30_000);

let emulator: Ec2Emulator;
const env = { ...process.env };
const signal = new AbortController().signal;

beforeAll(async () => {
  emulator = await Ec2Emulator.start();
  captureLogs();
  process.env.AWS_ENDPOINT_URL_EC2 = emulator.endpoint;
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
});
afterAll(async () => {
  process.env = env;
  await emulator.stop();
});
beforeEach(() => {
  emulator.requests.length = 0;
  emulator.setState('eu-west-1', {});
});

test('the 3.996.0 client really drops HttpTokensEnforced (the premise of the safeguard)', async () => {
  const sdk = jest.requireActual('@aws-sdk/client-ec2-v3996');
  const client = new sdk.EC2Client({});
  await client.send(new sdk.ModifyInstanceMetadataDefaultsCommand({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' }));
  expect(emulator.requestsOf('ModifyInstanceMetadataDefaults')[0].params.HttpTokensEnforced).toBeUndefined();

  emulator.setState('eu-west-1', { HttpTokensEnforced: 'enabled' });
  const out = await client.send(new sdk.GetInstanceMetadataDefaultsCommand({}));
  expect(out.AccountLevel?.HttpTokensEnforced).toBeUndefined();
});

describe.each(Object.keys(SDKS) as Array<keyof typeof SDKS>)('with client-ec2 %s', (sdk) => {
  test('HttpTokensEnforced reaches EC2 in a signed request and is read back', async () => {
    const ec2 = loadEc2(sdk);
    const client = ec2.createEc2Client();

    await ec2.modifyDefaults(client, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 }, signal);

    // The emulator checks the SigV4 signature over the body: an unsigned addition would fail with AuthFailure.
    const [modify] = emulator.requestsOf('ModifyInstanceMetadataDefaults');
    expect(modify.params).toMatchObject({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' });
    expect(emulator.state('eu-west-1')).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

    const state = await ec2.getDefaults(client, signal);
    expect(state).toMatchObject({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2, ManagedBy: 'account' });
  });

  test('requests without HttpTokensEnforced are left as the client serialized them', async () => {
    const ec2 = loadEc2(sdk);
    await ec2.modifyDefaults(ec2.createEc2Client(), { HttpEndpoint: 'enabled' }, signal);
    expect(emulator.requestsOf('ModifyInstanceMetadataDefaults')[0].params).toEqual({
      Action: 'ModifyInstanceMetadataDefaults', Version: '2016-11-15', HttpEndpoint: 'enabled',
    });
  });

  test('throttling and 5xx are retried', async () => {
    const ec2 = loadEc2(sdk);
    emulator.injectFault({ code: 'RequestLimitExceeded', times: 2, action: 'GetInstanceMetadataDefaults' });
    emulator.injectFault({ code: 'InternalError', times: 1, action: 'GetInstanceMetadataDefaults' });
    await expect(ec2.getDefaults(ec2.createEc2Client(), signal)).resolves.toMatchObject({ ManagedBy: 'account' });
    expect(emulator.requestsOf('GetInstanceMetadataDefaults')).toHaveLength(4);
  });

  test('a declarative policy shows in ManagedBy and ManagedExceptionMessage', async () => {
    const ec2 = loadEc2(sdk);
    emulator.setDeclarativePolicy('eu-west-1', 'Ask the platform team');
    try {
      await expect(ec2.getDefaults(ec2.createEc2Client(), signal)).resolves.toMatchObject({
        ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team',
      });
    } finally {
      emulator.setDeclarativePolicy('eu-west-1', undefined);
    }
  });
});

test('an EC2 error surfaces with its code', async () => {
  const ec2 = loadEc2('current');
  emulator.injectFault({ code: 'UnauthorizedOperation', times: 1 });
  await expect(ec2.getDefaults(ec2.createEc2Client(), signal)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
});
