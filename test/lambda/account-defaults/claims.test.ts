/**
 * The claim format and its store (lambda/claims.ts), with SSM mocked by
 * aws-sdk-client-mock (aws-mocks.ts gives the mock Parameter Store's semantics).
 */
import * as crypto from 'crypto';
import { DeleteParameterCommand, GetParametersByPathCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import { CLAIM_FORMAT, claimName, createSsmClient, deleteClaim, formatClaim, listClaims, parseClaim, putClaim } from '../../../lambda/account-defaults/claims';
import { CLAIMS_PATH } from '../../../src/private/properties';
import { captureLogs } from '../support';
import { World, emulate, newWorld, serviceError, ssm } from '../support/aws-mocks';

const OWNER = {
  stackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/platform/8a0f7f70-0000-11ef-0000-000000000000',
  stackName: 'platform',
  logicalResourceId: 'Imds207FEA78',
};

let world: World;
let logs: string[];
const signal = new AbortController().signal;

beforeAll(() => {
  logs = captureLogs();
});
beforeEach(() => {
  world = newWorld();
  emulate(world);
  logs.length = 0;
});

describe('claimName', () => {
  test('is the claims path and 40 hex characters of SHA-256 over "StackId|LogicalResourceId"', () => {
    const hash = crypto.createHash('sha256').update(`${OWNER.stackId}|${OWNER.logicalResourceId}`).digest('hex');
    expect(claimName(OWNER)).toBe(`${CLAIMS_PATH}/${hash.slice(0, 40)}`);
    expect(claimName(OWNER)).toMatch(/^\/cdk-imds-account-defaults\/claims\/[0-9a-f]{40}$/);
  });

  test('differs for another logical id or another stack, and is the same for the same resource', () => {
    expect(claimName({ ...OWNER, logicalResourceId: 'Other' })).not.toBe(claimName(OWNER));
    expect(claimName({ ...OWNER, stackId: OWNER.stackId.replace('platform', 'other') })).not.toBe(claimName(OWNER));
    expect(claimName({ stackId: OWNER.stackId, logicalResourceId: OWNER.logicalResourceId })).toBe(claimName(OWNER));
  });
});

describe('format and parse', () => {
  test('the stored value is format 1 JSON with the owner, the fields and their values before, and reads back as written', () => {
    const before = { HttpTokens: 'optional', HttpPutResponseHopLimit: -1 };
    const value = formatClaim(OWNER, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, before);
    expect(JSON.parse(value)).toEqual({ format: CLAIM_FORMAT, ...OWNER, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, before });
    expect(CLAIM_FORMAT).toBe(1);
    expect(parseClaim('/p/n', value)).toEqual({ name: '/p/n', ...OWNER, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, before });
  });

  test('without values before, the claim says so with an empty object', () => {
    expect(JSON.parse(formatClaim(OWNER, { HttpTokens: 'required' })).before).toEqual({});
    expect(parseClaim('/p/n', JSON.stringify({ ...OWNER, fields: {} }))?.before).toEqual({});
    expect(parseClaim('/p/n', JSON.stringify({ ...OWNER, fields: {}, before: 'x' }))?.before).toEqual({});
  });

  test('a later format is read as long as stackId, logicalResourceId and fields keep their meaning; unknown keys are dropped', () => {
    const value = JSON.stringify({ format: 7, ...OWNER, extra: true, fields: { HttpTokens: 'required', SomethingNew: 'x', HttpEndpoint: null }, before: { HttpTokens: 'optional', Other: 1 } });
    expect(parseClaim('/p/n', value)).toEqual({ name: '/p/n', ...OWNER, fields: { HttpTokens: 'required' }, before: { HttpTokens: 'optional' } });
  });

  test('a claim without a stack name takes it from the StackId', () => {
    const { stackName: _, ...rest } = OWNER;
    expect(parseClaim('/p/n', JSON.stringify({ ...rest, fields: {} }))?.stackName).toBe('platform');
  });

  test('a claim\'s own stack name is kept, even when the StackId names another', () => {
    expect(parseClaim('/p/n', JSON.stringify({ ...OWNER, stackName: 'renamed', fields: {} }))?.stackName).toBe('renamed');
  });

  test('a claim whose StackId has no stack name keeps the StackId as its name', () => {
    expect(parseClaim('/p/n', JSON.stringify({ stackId: 'odd', logicalResourceId: 'L', fields: {}, stackName: 5 }))?.stackName).toBe('odd');
  });

  test.each([
    ['not JSON', '{oops'],
    ['no value', undefined],
    ['JSON null', 'null'],
    ['no stackId', JSON.stringify({ logicalResourceId: 'L', fields: {} })],
    ['no logicalResourceId', JSON.stringify({ stackId: 'S', fields: {} })],
    ['no fields', JSON.stringify({ stackId: 'S', logicalResourceId: 'L' })],
    ['null fields', JSON.stringify({ stackId: 'S', logicalResourceId: 'L', fields: null })],
    ['fields not an object', JSON.stringify({ stackId: 'S', logicalResourceId: 'L', fields: 'x' })],
    ['stackId not a string', JSON.stringify({ stackId: 1, logicalResourceId: 'L', fields: {} })],
  ])('a value that cannot be understood (%s) is undefined and logged with its name', (_case, value) => {
    expect(parseClaim('/p/bad', value)).toBeUndefined();
    expect(logs).toEqual([JSON.stringify({ message: 'ignoring a claim that cannot be read', name: '/p/bad' })]);
  });
});

describe('the store', () => {
  test('putClaim writes a standard String parameter, replacing an earlier one', async () => {
    const client = createSsmClient();
    await putClaim(client, OWNER, { HttpTokens: 'optional' }, {}, signal);
    await putClaim(client, OWNER, { HttpTokens: 'required' }, { HttpTokens: 'no-preference' }, signal);
    expect(ssm).toHaveReceivedCommandWith(PutParameterCommand, { Name: claimName(OWNER), Type: 'String', Tier: 'Standard', Overwrite: true });
    expect(JSON.parse(world.parameters.get(claimName(OWNER))!)).toMatchObject({ fields: { HttpTokens: 'required' }, before: { HttpTokens: 'no-preference' } });
  });

  test('listClaims reads the direct children of the claims path, page after page, and skips unreadable ones', async () => {
    for (let i = 0; i < 23; i++) {
      const owner = { ...OWNER, logicalResourceId: `Imds${i}` };
      world.parameters.set(claimName(owner), formatClaim(owner, { HttpTokens: 'required' }));
    }
    world.parameters.set(`${CLAIMS_PATH}/unreadable`, 'x');
    world.parameters.set('/elsewhere/claim', formatClaim(OWNER, {}));
    const claims = await listClaims(createSsmClient(), signal);
    expect(claims).toHaveLength(23);
    expect(new Set(claims.map((c) => c.logicalResourceId)).size).toBe(23);
    expect(ssm).toHaveReceivedCommandTimes(GetParametersByPathCommand, 3);
    expect(ssm).toHaveReceivedNthCommandWith(1, GetParametersByPathCommand, {
      Path: CLAIMS_PATH, Recursive: false, MaxResults: 10, NextToken: undefined,
    });
    expect(ssm).toHaveReceivedNthCommandWith(2, GetParametersByPathCommand, { Path: CLAIMS_PATH, NextToken: '10' });
  });

  test('listClaims with no claims at all is empty', async () => {
    ssm.on(GetParametersByPathCommand).resolves({});
    expect(await listClaims(createSsmClient(), signal)).toEqual([]);
    expect(logs).toEqual([]);
  });

  test('deleteClaim removes the parameter; one already gone is fine; any other error is thrown', async () => {
    const client = createSsmClient();
    world.parameters.set('/p/a', 'x');
    await deleteClaim(client, '/p/a', signal);
    expect(world.parameters.has('/p/a')).toBe(false);
    await expect(deleteClaim(client, '/p/a', signal)).resolves.toBeUndefined();
    ssm.on(DeleteParameterCommand).rejects(serviceError('AccessDeniedException', 'no'));
    await expect(deleteClaim(client, '/p/a', signal)).rejects.toThrow('no');
  });
});

describe('the store, more', () => {
  test('putClaim logs the claim it records: name, fields and values before', async () => {
    await putClaim(createSsmClient(), OWNER, { HttpTokens: 'required' }, { HttpTokens: 'optional' }, signal);
    expect(logs).toEqual([JSON.stringify({ message: 'recording the claim', name: claimName(OWNER), fields: { HttpTokens: 'required' }, before: { HttpTokens: 'optional' } })]);
  });

  test('every call carries the caller\'s abort signal', async () => {
    const client = createSsmClient();
    const own = new AbortController().signal;
    await putClaim(client, OWNER, { HttpTokens: 'required' }, {}, own);
    await listClaims(client, own);
    await deleteClaim(client, claimName(OWNER), own);
    const signals = ssm.calls().map((call) => (call.args[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal);
    expect(signals).toHaveLength(3);
    for (const s of signals) {
      expect(s).toBe(own);
    }
  });

  test('listClaims names each claim after its parameter', async () => {
    world.parameters.set(`${CLAIMS_PATH}/abc`, formatClaim(OWNER, { HttpTokens: 'required' }));
    expect((await listClaims(createSsmClient(), signal)).map((c) => c.name)).toEqual([`${CLAIMS_PATH}/abc`]);
  });

  test('a parameter without a name or value is skipped', async () => {
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: [{ Value: formatClaim(OWNER, {}) }, { Name: `${CLAIMS_PATH}/x` }] });
    const claims = await listClaims(createSsmClient(), signal);
    expect(claims.map((c) => c.name)).toEqual(['']);
    expect(logs).toContainEqual(JSON.stringify({ message: 'ignoring a claim that cannot be read', name: `${CLAIMS_PATH}/x` }));
  });
});

describe('parse, more', () => {
  test('values before that are null, or not an object, are dropped', () => {
    expect(parseClaim('/p/n', JSON.stringify({ ...OWNER, fields: {}, before: null }))?.before).toEqual({});
    expect(parseClaim('/p/n', JSON.stringify({ ...OWNER, fields: {}, before: { HttpTokens: null, HttpEndpoint: 'enabled' } }))?.before).toEqual({ HttpEndpoint: 'enabled' });
  });

  test('fields in an array are not settings', () => {
    expect(parseClaim('/p/n', JSON.stringify({ ...OWNER, fields: ['HttpTokens'] }))?.fields).toEqual({});
  });
});
