/**
 * The claim format and its store (lambda/account-defaults/claims.ts), with SSM
 * mocked by aws-sdk-client-mock (aws-mocks.ts gives the mock Parameter Store's semantics).
 */
import * as crypto from 'crypto';
import { DeleteParameterCommand, GetParametersByPathCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import {
  CLAIM_FORMAT, claimName, createSsmClient, deleteClaim, formatClaim, isOwnersName, legacyClaimName,
  listClaims, parseClaim, putClaim, stackNameOf, stackUuidOf,
} from '../../../lambda/account-defaults/claims';
import { CLAIMS_PATH } from '../../../src/private/properties';
import { captureLogs } from '../support';
import { World, emulate, newWorld, serviceError, ssm } from '../support/aws-mocks';

const UUID = '8a0f7f70-0000-11ef-0000-000000000000';
const OWNER = {
  stackId: `arn:aws:cloudformation:eu-west-1:123456789012:stack/platform/${UUID}`,
  stackName: 'platform',
  logicalResourceId: 'Imds207FEA78',
};
const NAME = `${CLAIMS_PATH}/${UUID}-Imds207FEA78`;

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

describe('names', () => {
  test('format 2: the claims path, the stack uuid (last part of the StackId) and the logical id', () => {
    expect(claimName(OWNER)).toBe(NAME);
    expect(stackUuidOf(OWNER.stackId)).toBe(UUID);
    expect(stackNameOf(OWNER.stackId)).toBe('platform');
    expect(stackNameOf('odd')).toBe('odd');
  });

  test('format 1 (still read): the claims path and 40 hex characters of SHA-256 over "StackId|LogicalResourceId"', () => {
    const hash = crypto.createHash('sha256').update(`${OWNER.stackId}|${OWNER.logicalResourceId}`).digest('hex');
    expect(legacyClaimName(OWNER)).toBe(`${CLAIMS_PATH}/${hash.slice(0, 40)}`);
  });

  test('isOwnersName accepts either scheme\'s name, and no other', () => {
    expect(isOwnersName(NAME, OWNER)).toBe(true);
    expect(isOwnersName(legacyClaimName(OWNER), OWNER)).toBe(true);
    expect(isOwnersName(`${CLAIMS_PATH}/x`, OWNER)).toBe(false);
    expect(isOwnersName(NAME, { ...OWNER, logicalResourceId: 'Other' })).toBe(false);
  });
});

describe('format and parse', () => {
  test('the stored value is format 2 JSON with the owner and the fields, and reads back as written', () => {
    const value = formatClaim(OWNER, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(CLAIM_FORMAT).toBe(2);
    expect(JSON.parse(value)).toEqual({ format: 2, ...OWNER, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } });
    expect(parseClaim(NAME, value)).toEqual({ name: NAME, ...OWNER, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, retained: false });
  });

  test('a retained resource\'s claim says so, and reads back retained', () => {
    const value = formatClaim(OWNER, { HttpTokens: 'required' }, { retained: true });
    expect(JSON.parse(value).retained).toBe(true);
    expect(parseClaim(NAME, value)).toMatchObject({ retained: true });
    expect('retained' in JSON.parse(formatClaim(OWNER, { HttpTokens: 'required' }, { retained: false }))).toBe(false);
  });

  test('a format 1 claim under its format 1 name is read (its values before are not)', () => {
    const value = JSON.stringify({ format: 1, ...OWNER, fields: { HttpTokens: 'required' }, before: { HttpTokens: 'optional' } });
    expect(parseClaim(legacyClaimName(OWNER), value)).toEqual({ name: legacyClaimName(OWNER), ...OWNER, fields: { HttpTokens: 'required' }, retained: false });
  });

  test('a later format is read; unknown keys and settings are dropped; the stack name comes from the StackId', () => {
    const value = JSON.stringify({ format: 7, ...OWNER, stackName: 'renamed', extra: true, fields: { HttpTokens: 'required', SomethingNew: 'x' } });
    expect(parseClaim(NAME, value)).toEqual({ name: NAME, ...OWNER, fields: { HttpTokens: 'required' }, retained: false });
  });

  test.each([
    ['not JSON', '{oops', 'not JSON'],
    ['no value', undefined, 'not JSON'],
    ['JSON null', 'null', 'not a JSON object'],
    ['an array', '[]', 'not a JSON object'],
    ['a JSON number', '5', 'not a JSON object'],
    ['a JSON string', '"x"', 'not a JSON object'],
    ['a StackId in an array', JSON.stringify({ format: 2, ...OWNER, stackId: [OWNER.stackId], fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['no format', JSON.stringify({ ...OWNER, fields: { HttpTokens: 'required' } }), 'format is not a positive integer'],
    ['format 0', JSON.stringify({ format: 0, ...OWNER, fields: { HttpTokens: 'required' } }), 'format is not a positive integer'],
    ['format 1.5', JSON.stringify({ format: 1.5, ...OWNER, fields: { HttpTokens: 'required' } }), 'format is not a positive integer'],
    ['a StackId that is not a stack ARN', JSON.stringify({ format: 2, ...OWNER, stackId: 'S', fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['a StackId of another service', JSON.stringify({ format: 2, ...OWNER, stackId: OWNER.stackId.replace('cloudformation', 'ssm'), fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['a StackId with something before it', JSON.stringify({ format: 2, ...OWNER, stackId: `x${OWNER.stackId}`, fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['a StackId whose stack name starts with a digit', JSON.stringify({ format: 2, ...OWNER, stackId: OWNER.stackId.replace('/platform/', '/1platform/'), fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['a StackId with an 11-digit account', JSON.stringify({ format: 2, ...OWNER, stackId: OWNER.stackId.replace('123456789012', '12345678901'), fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['a StackId that is not a string', JSON.stringify({ format: 2, ...OWNER, stackId: 5, fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['a logical id with something before it', JSON.stringify({ format: 2, ...OWNER, logicalResourceId: '-Imds', fields: { HttpTokens: 'required' } }), 'logicalResourceId is not a logical id'],
    ['a logical id with something after it', JSON.stringify({ format: 2, ...OWNER, logicalResourceId: 'Imds-', fields: { HttpTokens: 'required' } }), 'logicalResourceId is not a logical id'],
    ['an empty logical id', JSON.stringify({ format: 2, ...OWNER, logicalResourceId: '', fields: { HttpTokens: 'required' } }), 'logicalResourceId is not a logical id'],
    ['a logical id longer than 255', JSON.stringify({ format: 2, ...OWNER, logicalResourceId: 'A'.repeat(256), fields: { HttpTokens: 'required' } }), 'logicalResourceId is not a logical id'],
    ['a format that is a string', JSON.stringify({ format: '2', ...OWNER, fields: { HttpTokens: 'required' } }), 'format is not a positive integer'],
    ['fields null', JSON.stringify({ format: 2, ...OWNER, fields: null }), 'fields: InvalidPropertiesError: at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required'],
    ['fields a string', JSON.stringify({ format: 2, ...OWNER, fields: 'HttpTokens' }), 'fields: InvalidPropertiesError: at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required'],
    ['retained null', JSON.stringify({ format: 2, ...OWNER, retained: null, fields: { HttpTokens: 'required' } }), 'retained is not a boolean'],
    ['a StackId with more parts', JSON.stringify({ format: 2, ...OWNER, stackId: `${OWNER.stackId}/x`, fields: { HttpTokens: 'required' } }), 'stackId is not a CloudFormation stack ARN'],
    ['a logical id that is not one', JSON.stringify({ format: 2, ...OWNER, logicalResourceId: 'a-b', fields: { HttpTokens: 'required' } }), 'logicalResourceId is not a logical id'],
    ['no logical id', JSON.stringify({ format: 2, ...OWNER, logicalResourceId: undefined, fields: { HttpTokens: 'required' } }), 'logicalResourceId is not a logical id'],
    ['retained not a boolean', JSON.stringify({ format: 2, ...OWNER, retained: 'true', fields: { HttpTokens: 'required' } }), 'retained is not a boolean'],
    ['no fields', JSON.stringify({ format: 2, ...OWNER }), 'fields: InvalidPropertiesError: at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required'],
    ['fields in an array', JSON.stringify({ format: 2, ...OWNER, fields: ['HttpTokens'] }), 'fields: InvalidPropertiesError: at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required'],
    ['an invalid value', JSON.stringify({ format: 2, ...OWNER, fields: { HttpTokens: 'off' } }), 'fields: InvalidPropertiesError: HttpTokens must be one of "optional", "required", "no-preference"; got "off"'],
    ['an invalid hop limit', JSON.stringify({ format: 2, ...OWNER, fields: { HttpPutResponseHopLimit: 65 } }), 'fields: InvalidPropertiesError: HttpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got 65'],
    ['only a null field', JSON.stringify({ format: 2, ...OWNER, fields: { HttpTokens: null } }), 'fields: InvalidPropertiesError: at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required'],
  ])('a malformed value (%s) is a problem that says what', (_case, value, detail) => {
    expect(parseClaim(NAME, value)).toEqual({ name: NAME, problem: 'malformed', detail });
  });

  test('the parts of a StackId and a logical id: any letters and digits, upper or lower case (the format is CloudFormation\'s); a logical id of 1 to 255', () => {
    for (const stackId of [
      'arn:aws:cloudformation:eu-west-1:123456789012:stack/Zz9-a/ABCDEF-0123-xyz',
      'arn:aws:cloudformation:ap-southeast-2:098765432109:stack/a/z',
      'arn:aws-iso-b:cloudformation:us-isob-east-1:123456789012:stack/Z/0-9',
    ]) {
      for (const logicalResourceId of ['A', 'z', '0', 'Az09', 'Z'.repeat(255)]) {
        const owner = { ...OWNER, stackId, logicalResourceId };
        expect(parseClaim(claimName(owner), formatClaim(owner, { HttpTokens: 'required' }))).toMatchObject({ stackId, logicalResourceId });
      }
    }
  });

  test('retained false is read as not retained', () => {
    expect(parseClaim(NAME, JSON.stringify({ format: 2, ...OWNER, retained: false, fields: { HttpTokens: 'required' } }))).toMatchObject({ retained: false });
  });

  test('a valid value under another name is foreign', () => {
    expect(parseClaim(`${CLAIMS_PATH}/copied`, formatClaim(OWNER, { HttpTokens: 'required' }))).toEqual({
      name: `${CLAIMS_PATH}/copied`, problem: 'foreign', detail: `the name is not the claim name of Imds207FEA78 in ${OWNER.stackId}`,
    });
  });

  test.each(['arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/StackSet-x-1/abc-1', 'arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/a/b'])('other partitions\' stack ARNs are stack ARNs (%s)', (stackId) => {
    const owner = { ...OWNER, stackId };
    expect(parseClaim(claimName(owner), formatClaim(owner, { HttpTokens: 'required' }))).toMatchObject({ stackId });
  });
});

describe('the store', () => {
  test('putClaim writes a standard String parameter under the format 2 name, replacing an earlier one, and logs it', async () => {
    const client = createSsmClient();
    await putClaim(client, OWNER, { HttpTokens: 'optional' }, {}, signal);
    await putClaim(client, OWNER, { HttpTokens: 'required' }, { retained: true }, signal);
    expect(ssm).toHaveReceivedCommandWith(PutParameterCommand, { Name: NAME, Type: 'String', Tier: 'Standard', Overwrite: true });
    expect(JSON.parse(world.parameters.get(NAME)!)).toMatchObject({ fields: { HttpTokens: 'required' }, retained: true });
    expect(logs[0]).toBe(JSON.stringify({ message: 'recording the claim', name: NAME, fields: { HttpTokens: 'optional' }, retained: false }));
    expect(logs[1]).toBe(JSON.stringify({ message: 'recording the claim', name: NAME, fields: { HttpTokens: 'required' }, retained: true }));
    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input.Value).toBe(formatClaim(OWNER, { HttpTokens: 'optional' }));
  });

  test('putClaim logs the values before it records, and none when there are none', async () => {
    const client = createSsmClient();
    await putClaim(client, OWNER, { HttpTokens: 'required' }, { before: { HttpTokens: 'optional' } }, signal);
    await putClaim(client, OWNER, { HttpTokens: 'required' }, { before: {} }, signal);
    expect(logs).toEqual([
      JSON.stringify({ message: 'recording the claim', name: NAME, fields: { HttpTokens: 'required' }, retained: false, before: { HttpTokens: 'optional' } }),
      JSON.stringify({ message: 'recording the claim', name: NAME, fields: { HttpTokens: 'required' }, retained: false }),
    ]);
    expect(JSON.parse(ssm.commandCalls(PutParameterCommand)[0].args[0].input.Value!)).toMatchObject({ before: { HttpTokens: 'optional' } });
  });

  test('listClaims reads the direct children of the claims path, page after page, and returns the problems apart', async () => {
    for (let i = 0; i < 23; i++) {
      const owner = { ...OWNER, logicalResourceId: `Imds${i}` };
      world.parameters.set(claimName(owner), formatClaim(owner, { HttpTokens: 'required' }));
    }
    world.parameters.set(`${CLAIMS_PATH}/unreadable`, 'x');
    world.parameters.set('/elsewhere/claim', formatClaim(OWNER, { HttpTokens: 'required' }));
    const { claims, problems } = await listClaims(createSsmClient(), signal);
    expect(claims).toHaveLength(23);
    expect(new Set(claims.map((c) => c.logicalResourceId)).size).toBe(23);
    expect(problems).toEqual([{ name: `${CLAIMS_PATH}/unreadable`, problem: 'malformed', detail: 'not JSON' }]);
    expect(ssm).toHaveReceivedCommandTimes(GetParametersByPathCommand, 3);
    expect(ssm).toHaveReceivedNthCommandWith(1, GetParametersByPathCommand, {
      Path: CLAIMS_PATH, Recursive: false, MaxResults: 10, NextToken: undefined,
    });
    expect(ssm).toHaveReceivedNthCommandWith(2, GetParametersByPathCommand, { Path: CLAIMS_PATH, NextToken: '10' });
  });

  test('listClaims with no claims at all is empty', async () => {
    ssm.on(GetParametersByPathCommand).resolves({});
    expect(await listClaims(createSsmClient(), signal)).toEqual({ claims: [], problems: [] });
  });

  test('a parameter without a name is foreign', async () => {
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: [{ Value: formatClaim(OWNER, { HttpTokens: 'required' }) }] });
    expect((await listClaims(createSsmClient(), signal)).problems).toMatchObject([{ name: '', problem: 'foreign' }]);
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

  test('every call carries the caller\'s abort signal', async () => {
    const client = createSsmClient();
    const own = new AbortController().signal;
    await putClaim(client, OWNER, { HttpTokens: 'required' }, {}, own);
    await listClaims(client, own);
    await deleteClaim(client, claimName(OWNER), own);
    const signals = ssm.calls()
      .map((call) => (call.args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined)
      .map((o) => o?.abortSignal);
    expect(signals).toHaveLength(3);
    for (const s of signals) {
      expect(s).toBe(own);
    }
  });
});
