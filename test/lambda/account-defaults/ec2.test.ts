/**
 * lambda/ec2.ts with the real @aws-sdk/client-ec2, current and 3.996.0 (the last
 * release without HttpTokensEnforced), against the local EC2 emulator.
 */
import { Readable } from 'stream';
import { Ec2Emulator, TEST_CREDENTIALS } from '../../support/ec2-emulator';
import { captureLogs } from '../support';

type Ec2Module = typeof import('../../../lambda/account-defaults/ec2');

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
    mod = require('../../../lambda/account-defaults/ec2');
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

describe('with client-ec2 3.996.0 and EC2 answers as real EC2 writes them', () => {
  const requests: Array<{ body: string; headers: Record<string, string>; abortSignal?: AbortSignal }> = [];
  /** A client whose HTTP layer answers `xml` (status 200) and records each request. */
  const clientAnswering = (ec2: Ec2Module, xml: string) => {
    const client = ec2.createEc2Client();
    (client.config as { requestHandler: unknown }).requestHandler = {
      handle: async (request: { body: string; headers: Record<string, string> }, options?: { abortSignal?: AbortSignal }) => {
        requests.push({ body: request.body, headers: { ...request.headers }, abortSignal: options?.abortSignal });
        return { response: { statusCode: 200, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: Readable.from([Buffer.from(xml)]) } };
      },
    };
    return client;
  };
  const getXml = (accountLevel: string) => `<?xml version="1.0" encoding="UTF-8"?>
<GetInstanceMetadataDefaultsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
    <accountLevel>
${accountLevel}
    </accountLevel>
</GetInstanceMetadataDefaultsResponse>`;
  beforeEach(() => {
    requests.length = 0;
  });

  test('HttpTokensEnforced is read from indented XML, whatever element comes before and after it', async () => {
    const ec2 = loadEc2('3.996.0');
    const client = clientAnswering(ec2, getXml(`        <httpTokens>required</httpTokens>
        <httpTokensEnforced>enabled</httpTokensEnforced>
        <managedBy>account</managedBy>`));
    await expect(ec2.getDefaults(client, signal)).resolves.toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', ManagedBy: 'account' });
  });

  test('without httpTokensEnforced in the XML the field stays absent', async () => {
    const ec2 = loadEc2('3.996.0');
    const client = clientAnswering(ec2, getXml('        <httpTokens>required</httpTokens>'));
    await expect(ec2.getDefaults(client, signal)).resolves.toEqual({ HttpTokens: 'required' });
  });

  test('an httpTokensEnforced outside accountLevel is not taken for it', async () => {
    const ec2 = loadEc2('3.996.0');
    const xml = getXml('        <httpTokens>required</httpTokens>').replace('<requestId>', '<httpTokensEnforced>enabled</httpTokensEnforced><requestId>');
    const client = clientAnswering(ec2, xml);
    await expect(ec2.getDefaults(client, signal)).resolves.toEqual({ HttpTokens: 'required' });
  });

  test('an empty accountLevel reads as no settings', async () => {
    const ec2 = loadEc2('3.996.0');
    const client = clientAnswering(ec2, getXml(''));
    await expect(ec2.getDefaults(client, signal)).resolves.toEqual({});
  });

  test('the added HttpTokensEnforced is counted in Content-Length', async () => {
    const ec2 = loadEc2('3.996.0');
    const client = clientAnswering(ec2, '<ModifyInstanceMetadataDefaultsResponse><return>true</return></ModifyInstanceMetadataDefaultsResponse>');
    await ec2.modifyDefaults(client, { HttpTokensEnforced: 'enabled' }, signal);
    expect(new URLSearchParams(requests[0].body).get('HttpTokensEnforced')).toBe('enabled');
    expect(requests[0].headers['content-length']).toBe(String(Buffer.byteLength(requests[0].body)));
  });

  test('a Content-Length the serializer already set is corrected for the added HttpTokensEnforced', async () => {
    const ec2 = loadEc2('3.996.0');
    const client = clientAnswering(ec2, '<ModifyInstanceMetadataDefaultsResponse><return>true</return></ModifyInstanceMetadataDefaultsResponse>');
    // A serializer that sets Content-Length itself (before the safeguard adds the field).
    client.middlewareStack.add((next: (args: any) => Promise<any>) => async (args: any) => {
      args.request.headers['content-length'] = String(Buffer.byteLength(args.request.body));
      return next(args);
    }, { step: 'serialize', priority: 'low', name: 'testContentLength' });
    await ec2.modifyDefaults(client, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' }, signal);
    expect(new URLSearchParams(requests[0].body).get('HttpTokensEnforced')).toBe('enabled');
    expect(requests[0].headers['content-length']).toBe(String(Buffer.byteLength(requests[0].body)));
  });

  test('the safeguards say in the log when they stepped in', async () => {
    const ec2 = loadEc2('3.996.0');
    const logs = captureLogs();
    await ec2.modifyDefaults(clientAnswering(ec2, '<ModifyInstanceMetadataDefaultsResponse><return>true</return></ModifyInstanceMetadataDefaultsResponse>'), { HttpTokensEnforced: 'enabled' }, signal);
    await ec2.getDefaults(clientAnswering(ec2, getXml('<httpTokensEnforced>enabled</httpTokensEnforced>')), signal);
    expect(logs).toEqual([
      JSON.stringify({ message: 'ModifyInstanceMetadataDefaults', settings: { HttpTokensEnforced: 'enabled' } }),
      JSON.stringify({ message: 'this @aws-sdk/client-ec2 does not serialize HttpTokensEnforced; added it to the request before signing' }),
      JSON.stringify({ message: 'this @aws-sdk/client-ec2 does not parse HttpTokensEnforced; read it from the raw response' }),
    ]);
  });

  test('both calls hand the caller\'s abort signal to the HTTP layer', async () => {
    const ec2 = loadEc2('current');
    const own = new AbortController().signal;
    await ec2.getDefaults(clientAnswering(ec2, getXml('')), own);
    await ec2.modifyDefaults(clientAnswering(ec2, '<ModifyInstanceMetadataDefaultsResponse><return>true</return></ModifyInstanceMetadataDefaultsResponse>'), { HttpTokens: 'required' }, own);
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.abortSignal).toBe(own);
    }
  });

  test('a Modify answered with return false fails', async () => {
    const ec2 = loadEc2('current');
    const client = clientAnswering(ec2, '<ModifyInstanceMetadataDefaultsResponse><return>false</return></ModifyInstanceMetadataDefaultsResponse>');
    await expect(ec2.modifyDefaults(client, { HttpTokens: 'required' }, signal)).rejects.toThrow('ModifyInstanceMetadataDefaults returned false');
  });

  test.each(Object.keys(SDKS) as Array<keyof typeof SDKS>)('with client-ec2 %s, a serialized HttpTokensEnforced other than the one asked is refused before sending', async (sdk) => {
    const ec2 = loadEc2(sdk);
    const client = clientAnswering(ec2, '<ModifyInstanceMetadataDefaultsResponse><return>true</return></ModifyInstanceMetadataDefaultsResponse>');
    // A serializer that writes another value (after serialization, before our check).
    client.middlewareStack.add((next: (args: any) => Promise<any>) => async (args: any) => {
      const form = new URLSearchParams(args.request.body);
      form.set('HttpTokensEnforced', 'disabled');
      args.request.body = form.toString();
      return next(args);
    }, { step: 'serialize', priority: 'low', name: 'testTamper' });
    await expect(ec2.modifyDefaults(client, { HttpTokensEnforced: 'enabled' }, signal))
      .rejects.toThrow('the serialized HttpTokensEnforced is "disabled", expected "enabled"');
    expect(requests).toHaveLength(0);
  });

  test('a request body that is not a form string cannot be checked: the Modify fails before sending', async () => {
    const ec2 = loadEc2('3.996.0');
    const client = clientAnswering(ec2, '<ModifyInstanceMetadataDefaultsResponse><return>true</return></ModifyInstanceMetadataDefaultsResponse>');
    client.middlewareStack.add((next: (args: any) => Promise<any>) => async (args: any) => {
      args.request.body = Buffer.from(args.request.body);
      return next(args);
    }, { step: 'serialize', priority: 'low', name: 'testBuffer' });
    await expect(ec2.modifyDefaults(client, { HttpTokensEnforced: 'enabled' }, signal))
      .rejects.toThrow('cannot check that HttpTokensEnforced is in the ModifyInstanceMetadataDefaults request: the client\'s request body is not a form string');
    expect(requests).toHaveLength(0);
  });

  test('other commands pass the safeguards untouched', async () => {
    const ec2 = loadEc2('3.996.0');
    const client = clientAnswering(ec2, getXml('        <httpTokens>required</httpTokens>'));
    // A Get whose input carries the field (it has none in the API): the request is left as serialized.
    const sdk = jest.requireActual('@aws-sdk/client-ec2-v3996');
    await client.send(new sdk.GetInstanceMetadataDefaultsCommand({ HttpTokensEnforced: 'enabled' } as any));
    expect(new URLSearchParams(requests[0].body).has('HttpTokensEnforced')).toBe(false);
  });
});
