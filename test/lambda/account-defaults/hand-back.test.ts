/**
 * The values before of fields an Update takes over (lambda/account-defaults/index.ts
 * handBack, beforeToRecord; claims.ts claimedBefore): recorded in the resource's own
 * claim by the forward Update, used by the Update that hands the field back only
 * when SSM's history says this function wrote the claim's last version.
 *
 * SSM is mocked with aws-sdk-client-mock and keeps every version of each parameter
 * with the writer: the handler's own writes are recorded as its assumed-role
 * session (as the end-to-end harness does; which form SSM really records is not
 * documented, see claims.ts isOwnWriter), `writeAs` stands for anyone else.
 * GetParameterHistory answers oldest first, MaxResults at a time with a NextToken.
 */
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { ModifyInstanceMetadataDefaultsCommand } from '@aws-sdk/client-ec2';
import {
  DeleteParameterCommand,
  DeleteParameterCommandInput,
  GetParameterHistoryCommand,
  GetParameterHistoryCommandInput,
  ParameterHistory,
  PutParameterCommand,
  PutParameterCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import {
  FunctionIdentity, claimName, claimedBefore, formatClaim, functionIdentity, isOwnWriter, lastVersion, legacyClaimName, parseClaim,
} from '../../../lambda/account-defaults/claims';
import { handler } from '../../../lambda/account-defaults/index';
import { DRIFT_ROLE_NAME_ENV } from '../../../src/private/properties';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { ACCOUNT, LOGICAL_ID, PHYSICAL_ID, REGION, SERVICE_TOKEN, STACK_ID, answerOf, captureLogs, quickWaits, updateEvent } from '../support';
import { World, addClaim, cw, ec2, emulate, newWorld, serviceError, ssm } from '../support/aws-mocks';

const ROLE_NAME = 'ImdsStack-ImdsHandlerRole1A2B3C-XYZ';
const FUNCTION_NAME = SERVICE_TOKEN.split(':').pop()!;
const OWN_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}`;
const MALLORY = `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/mallory`;
const SELF = { stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID };
const OWN_CLAIM = claimName(SELF);
const IDENTITY: FunctionIdentity = { partition: 'aws', account: ACCOUNT, roleName: ROLE_NAME, functionName: FUNCTION_NAME };

/** Created with HttpTokens only: the physical id has its value before the Create. */
const CREATED_ID = `${PHYSICAL_ID}:HttpTokens=optional`;
const TOKENS = { HttpTokens: 'required' };
const WITH_HOP = (hop: string) => ({ HttpTokens: 'required', HttpPutResponseHopLimit: hop });
const WITH_HOP_VALUE = (hop: number) => ({ HttpTokens: 'required', HttpPutResponseHopLimit: hop });

let endpoint: ResponseEndpoint;
let logs: string[];
let world: World;
/** Every version of every parameter, oldest first. */
let history: Map<string, ParameterHistory[]>;
/** Who the mock records as the writer of the handler's own PutParameter calls. */
let handlerWriter: string;

const run = (event: Parameters<typeof handler>[0]) => answerOf(handler, endpoint, event);
const modifyCalls = () => ec2.commandCalls(ModifyInstanceMetadataDefaultsCommand).map((c) => c.args[0].input);
const stored = () => JSON.parse(world.parameters.get(OWN_CLAIM)!);
const warnings = () => logs.map((l) => JSON.parse(l)).filter((l) => l.message === 'security warning');
const historyCalls = () => ssm.commandCalls(GetParameterHistoryCommand).map((c) => c.args[0].input);

/** A new version of a parameter, written by `user`. */
function keep(name: string, value: string, user: string): void {
  world.parameters.set(name, value);
  const versions = history.get(name) ?? [];
  versions.push({ Name: name, Type: 'String', Value: value, Version: versions.length + 1, LastModifiedUser: user, LastModifiedDate: new Date() });
  history.set(name, versions);
}

/** Someone other than the handler writes the claim (a common ssm:* grant is enough). */
function writeAs(user: string, value: string): void {
  keep(OWN_CLAIM, value, user);
}

beforeAll(async () => {
  endpoint = await ResponseEndpoint.start();
  logs = captureLogs();
  quickWaits();
});
afterAll(() => endpoint.stop());
beforeEach(() => {
  world = newWorld();
  history = new Map();
  handlerWriter = OWN_SESSION;
  logs.length = 0;
  emulate(world);
  ssm.on(PutParameterCommand).callsFake((input: PutParameterCommandInput) => {
    keep(input.Name!, input.Value!, handlerWriter);
    return { Version: history.get(input.Name!)!.length, Tier: 'Standard' };
  });
  ssm.on(DeleteParameterCommand).callsFake((input: DeleteParameterCommandInput) => {
    if (!world.parameters.delete(input.Name!)) {
      throw serviceError('ParameterNotFound', '');
    }
    history.delete(input.Name!);
    return {};
  });
  ssm.on(GetParameterHistoryCommand).callsFake((input: GetParameterHistoryCommandInput) => {
    const versions = history.get(input.Name!);
    if (!versions) {
      throw serviceError('ParameterNotFound', '');
    }
    const start = Number(input.NextToken ?? 0);
    const end = start + (input.MaxResults ?? 50);
    return { Parameters: versions.slice(start, end), NextToken: end < versions.length ? String(end) : undefined };
  });
  process.env[DRIFT_ROLE_NAME_ENV] = ROLE_NAME;
  process.env.AWS_LAMBDA_FUNCTION_NAME = FUNCTION_NAME;
});
afterEach(() => {
  delete process.env[DRIFT_ROLE_NAME_ENV];
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
});

/** The resource as its Create left it (HttpTokens required; its claim written by the handler), then a forward Update adding the hop limit. */
async function takeOverHopLimit(hop: string): Promise<void> {
  keep(OWN_CLAIM, formatClaim(SELF, { HttpTokens: 'required' }), OWN_SESSION);
  const forward = await run(updateEvent(endpoint, WITH_HOP(hop), TOKENS, CREATED_ID));
  expect(forward.Status).toBe('SUCCESS');
  ec2.resetHistory();
  ssm.resetHistory();
  cw.resetHistory();
  logs.length = 0;
}

/** CloudFormation's rollback of that Update: old and new swapped. */
const rollback = (hop: string) => run(updateEvent(endpoint, TOKENS, WITH_HOP(hop), CREATED_ID));

describe('the forward Update records the values before of the fields it takes over', () => {
  test('a field taken over: its value in EC2 before the Update, in the claim\'s `before`; the fields of the physical id have none', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(stored()).toEqual({ format: 2, ...SELF, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, before: { HttpPutResponseHopLimit: 3 } });
    expect(history.get(OWN_CLAIM)!.map((v) => v.LastModifiedUser)).toEqual([OWN_SESSION, OWN_SESSION]);
  });

  test('no preference is a value before like any other', async () => {
    world.state = { HttpTokens: 'required' };
    await takeOverHopLimit('2');
    expect(stored().before).toEqual({ HttpPutResponseHopLimit: -1 });
  });

  test('a field it already managed keeps the value before its claim recorded, when the claim\'s history vouches for it', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    const change = await run(updateEvent(endpoint, WITH_HOP('4'), WITH_HOP('2'), CREATED_ID));
    expect(change.Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([{ Name: OWN_CLAIM, WithDecryption: false, MaxResults: 50 }]);
    expect(stored().before).toEqual({ HttpPutResponseHopLimit: 3 });
  });

  test('a field it already managed whose claim someone else edited: the value before is dropped, and reported', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    writeAs(MALLORY, formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, { before: { HttpPutResponseHopLimit: 1 } }));
    const change = await run(updateEvent(endpoint, WITH_HOP('4'), WITH_HOP('2'), CREATED_ID));
    expect(change.Status).toBe('SUCCESS');
    expect(stored()).not.toHaveProperty('before');
    expect(warnings()).toEqual([expect.objectContaining({ warning: 'claim-problem', problem: 'other-writer', name: OWN_CLAIM, detail: expect.stringContaining(MALLORY) })]);
  });

  test('no history read when nothing needs it: a Create, and an Update of fields the physical id has', async () => {
    world.state = { HttpTokens: 'optional' };
    keep(OWN_CLAIM, formatClaim(SELF, { HttpTokens: 'required' }), OWN_SESSION);
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'optional' }, TOKENS, CREATED_ID));
    expect(answer.Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([]);
    expect(stored()).not.toHaveProperty('before');
  });
});

describe('which fields the forward Update records a value before for', () => {
  test('a release without claims (no own claim, a physical id without values): none for the fields the old properties managed, the value now for a new one', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3, HttpEndpoint: 'disabled' };
    const answer = await run(updateEvent(endpoint, { ...WITH_HOP('3'), HttpEndpoint: 'enabled' }, WITH_HOP('3')));
    expect(answer.Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([]);
    expect(stored()).toEqual({ format: 2, ...SELF, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 3, HttpEndpoint: 'enabled' }, before: { HttpEndpoint: 'disabled' } });
  });

  test('an own claim that does not name a field of the old properties (never taken over): its value now is recorded', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    keep(OWN_CLAIM, formatClaim(SELF, TOKENS), OWN_SESSION);
    const answer = await run(updateEvent(endpoint, WITH_HOP('4'), WITH_HOP('2'), CREATED_ID));
    expect(answer.Status).toBe('SUCCESS');
    expect(stored().before).toEqual({ HttpPutResponseHopLimit: 2 });
  });

  test('a field the physical id has gets none, even when the old properties did not manage it (dropped by an earlier Update, managed again)', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    keep(OWN_CLAIM, formatClaim(SELF, TOKENS), OWN_SESSION);
    const answer = await run(updateEvent(endpoint, WITH_HOP('2'), TOKENS, `${PHYSICAL_ID}:HttpTokens=optional,HttpPutResponseHopLimit=5`));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(stored()).not.toHaveProperty('before');
  });

  test('a field it already managed whose claim records no value before: the history is not read, none is recorded', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    keep(OWN_CLAIM, formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }), OWN_SESSION);
    const answer = await run(updateEvent(endpoint, WITH_HOP('4'), WITH_HOP('2'), CREATED_ID));
    expect(answer.Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([]);
    expect(stored()).not.toHaveProperty('before');
  });

  test('a format 2 value under the format 1 name (not written by this release): its value before is not used, its history not read', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    // Only this release writes format 2 names, and only their history can vouch for a value before.
    keep(legacyClaimName(SELF), formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, { before: { HttpPutResponseHopLimit: 3 } }), OWN_SESSION);
    const answer = await run(updateEvent(endpoint, WITH_HOP('4'), WITH_HOP('2'), CREATED_ID));
    expect(answer.Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([]);
    expect(stored()).not.toHaveProperty('before');
  });

  test('a trusted last version without the value before the listing shows: none is recorded (not an empty `before`)', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    // The listing (GetParametersByPath) still records a value before; the history's last version, the function's own, does not.
    history.get(OWN_CLAIM)!.push({ Name: OWN_CLAIM, Value: formatClaim(SELF, WITH_HOP_VALUE(2)), Version: 3, LastModifiedUser: OWN_SESSION });
    const change = await run(updateEvent(endpoint, WITH_HOP('4'), WITH_HOP('2'), CREATED_ID));
    expect(change.Status).toBe('SUCCESS');
    expect(historyCalls()).toHaveLength(1);
    expect(world.parameters.get(OWN_CLAIM)).toBe(formatClaim(SELF, WITH_HOP_VALUE(4)));
  });
});

describe('the Update that hands a field back uses the claim\'s value before only when this function wrote it', () => {
  test('trusted history: the field goes back to the value before the Update took it over', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    const answer = await rollback('2');
    expect(answer.Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([{ Name: OWN_CLAIM, WithDecryption: false, MaxResults: 50 }]);
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: 3 }]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
    // The claim no longer names the field, nor its value before.
    expect(stored()).toEqual({ format: 2, ...SELF, fields: { HttpTokens: 'required' } });
    expect(warnings()).toEqual([]);
  });

  test('the issue\'s scenario: the Update asked for the value another party had set (nothing written); the rollback keeps it', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('3');
    const answer = await rollback('3');
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  });

  test('an edited claim (its last version written by another principal): the field is left as it is, logged, and reported', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    writeAs(MALLORY, formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, { before: { HttpPutResponseHopLimit: 64 } }));
    const answer = await rollback('2');
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(warnings()).toEqual([{
      message: 'security warning',
      warning: 'claim-problem',
      problem: 'other-writer',
      name: OWN_CLAIM,
      detail: `written by ${MALLORY}`,
    }]);
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'ClaimProblems', Value: 1 })] });
    expect(logs.map((l) => JSON.parse(l))).toContainEqual({ message: 'left as they are: no trusted value before', fields: ['HttpPutResponseHopLimit'] });
  });

  test('the claim edited, then written again by this function (e.g. an Update in between): the function\'s own last version counts', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    writeAs(MALLORY, formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, { before: { HttpPutResponseHopLimit: 64 } }));
    keep(OWN_CLAIM, formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, { before: { HttpPutResponseHopLimit: 3 } }), OWN_SESSION);
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  });

  test('no history (the claim was deleted): the field is left as it is, logged, no security warning', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    world.parameters.delete(OWN_CLAIM);
    history.delete(OWN_CLAIM);
    const answer = await rollback('2');
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(warnings()).toEqual([]);
    expect(logs.map((l) => JSON.parse(l))).toContainEqual({ message: 'own claim\'s values before', trusted: false, reason: 'no history' });
  });

  test.each([
    ['a value EC2 would not accept', { HttpPutResponseHopLimit: 99 }, 'malformed: before: InvalidPropertiesError: HttpPutResponseHopLimit must be'],
    ['a value of the wrong kind', { HttpPutResponseHopLimit: 'three' }, 'malformed: before: InvalidPropertiesError: HttpPutResponseHopLimit must be'],
  ])('this function\'s version with %s: not used, the field is left as it is', async (_what, before, reason) => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    keep(OWN_CLAIM, JSON.stringify({ ...JSON.parse(world.parameters.get(OWN_CLAIM)!), before }), OWN_SESSION);
    const answer = await rollback('2');
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(logs.map((l) => JSON.parse(l))).toContainEqual({ message: 'own claim\'s values before', trusted: false, reason: expect.stringContaining(reason) });
  });

  test('this function\'s version that is not JSON: not used', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    // The current value (GetParametersByPath) still names the field; only the history's last version is broken.
    history.get(OWN_CLAIM)!.push({ Name: OWN_CLAIM, Value: '{oops', Version: 3, LastModifiedUser: OWN_SESSION });
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(logs.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ reason: 'malformed: not JSON' }));
  });

  test('a trusted version without a value before for the field: left as it is (nothing vouches for one)', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    keep(OWN_CLAIM, formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }), OWN_SESSION);
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(historyCalls()).toHaveLength(1);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  });

  test('the role ARN form of the writer (any path) is this function\'s role too', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    handlerWriter = `arn:aws:iam::${ACCOUNT}:role/service-role/imds/${ROLE_NAME}`;
    await takeOverHopLimit('2');
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  });

  test.each([
    ['a session of another role with the function\'s name', `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/${FUNCTION_NAME}`],
    ['a role whose name ends like ours', `arn:aws:sts::${ACCOUNT}:assumed-role/x${ROLE_NAME}/${FUNCTION_NAME}`],
    ['our role, another session name', `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/mallory`],
    ['our role and session in another account', `arn:aws:sts::210987654321:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}`],
    ['our role and session in another partition', `arn:aws-cn:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}`],
    ['another role\'s ARN ending like ours', `arn:aws:iam::${ACCOUNT}:role/x${ROLE_NAME}`],
    ['a role ARN with our name as its path', `arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}/other`],
    ['a user named like our role', `arn:aws:iam::${ACCOUNT}:user/${ROLE_NAME}`],
  ])('a look-alike writer (%s) is someone else: not used, and reported', async (_what, writer) => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    writeAs(writer, world.parameters.get(OWN_CLAIM)!);
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(warnings()).toEqual([expect.objectContaining({ problem: 'other-writer', detail: expect.stringContaining(writer) })]);
  });

  test('without its role name in the environment (IMDS_ROLE_NAME), the function cannot tell its own writes: not used', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    delete process.env[DRIFT_ROLE_NAME_ENV];
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  });

  test('a history that cannot be read (denied beyond the IAM wait): the field is left as it is and the Update succeeds', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    ssm.on(GetParameterHistoryCommand).rejects(serviceError('AccessDeniedException', 'not authorized to perform: ssm:GetParameterHistory'));
    const answer = await rollback('2');
    expect(answer.Status).toBe('SUCCESS');
    expect(historyCalls()).toHaveLength(4);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(warnings()).toEqual([]);
  });

  test('the history is read to its last page: the last version decides', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    const value = world.parameters.get(OWN_CLAIM)!;
    for (let i = 0; i < 60; i++) {
      writeAs(MALLORY, value);
    }
    keep(OWN_CLAIM, value, OWN_SESSION);
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(historyCalls().map((c) => c.NextToken)).toEqual([undefined, '50']);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  });

  test('a field the own claim does not name (the Update that added it failed: this is its rollback) is left as it is, even when the physical id has a value before', async () => {
    // Created with both fields, an Update dropped the hop limit (the claim names HttpTokens only), the next one asked for 2 again and failed.
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    keep(OWN_CLAIM, formatClaim(SELF, TOKENS), OWN_SESSION);
    const answer = await run(updateEvent(endpoint, TOKENS, WITH_HOP('2'), `${PHYSICAL_ID}:HttpTokens=optional,HttpPutResponseHopLimit=5`));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
    expect(historyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(logs.map((l) => JSON.parse(l))).toContainEqual({
      message: 'fields no longer managed and left as they are (changed since, managed by another resource, or never taken over)',
      fields: ['HttpPutResponseHopLimit'],
    });
  });

  test('a trusted value before is not written over a value someone set since the forward Update', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    world.state.HttpPutResponseHopLimit = 5;
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 5 });
  });

  test('a trusted value before is not written over a field another live resource manages', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    await takeOverHopLimit('2');
    addClaim(world, 'platform', 'Imds1234', { HttpPutResponseHopLimit: 2 });
    expect((await rollback('2')).Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  });

  test('without an own claim (a release without claims), a field the physical id has goes back to its value', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    const answer = await run(updateEvent(endpoint, TOKENS, WITH_HOP('2'), `${PHYSICAL_ID}:HttpTokens=optional,HttpPutResponseHopLimit=5`));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 5 });
  });

  test('the fields the physical id has go back to its values without reading the history', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    keep(OWN_CLAIM, formatClaim(SELF, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }), OWN_SESSION);
    const answer = await run(updateEvent(endpoint, TOKENS, WITH_HOP('2'), `${PHYSICAL_ID}:HttpTokens=optional,HttpPutResponseHopLimit=5`));
    expect(answer.Status).toBe('SUCCESS');
    expect(historyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 5 });
  });
});

describe('claims.ts: the evidence', () => {
  const client = new SSMClient({ region: REGION });
  const signal = new AbortController().signal;

  test('functionIdentity: partition and account from the function ARN, role and function name from the environment', () => {
    expect(functionIdentity(`arn:aws-cn:lambda:cn-north-1:${ACCOUNT}:function:${FUNCTION_NAME}`)).toEqual({ ...IDENTITY, partition: 'aws-cn' });
    // An ARN without an account gives none (a malformed one cannot match SSM's record anyway).
    expect(functionIdentity('not-an-arn')).toBeUndefined();
    expect(functionIdentity(undefined)).toBeUndefined();
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    expect(functionIdentity(SERVICE_TOKEN)).toBeUndefined();
  });

  test('isOwnWriter: the session ARN and the role ARN (any path) of the function\'s role, nothing else', () => {
    expect(isOwnWriter(OWN_SESSION, IDENTITY)).toBe(true);
    expect(isOwnWriter(`arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}`, IDENTITY)).toBe(true);
    expect(isOwnWriter(`arn:aws:iam::${ACCOUNT}:role/a/b/${ROLE_NAME}`, IDENTITY)).toBe(true);
    for (const other of [undefined, '', `${OWN_SESSION}x`, `x${OWN_SESSION}`, `arn:aws:iam::${ACCOUNT}:role/`, `arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}x`]) {
      expect(isOwnWriter(other, IDENTITY)).toBe(false);
    }
  });

  test('lastVersion: the highest version over every page, or undefined for a parameter that does not exist', async () => {
    keep('/p', 'one', OWN_SESSION);
    keep('/p', 'two', MALLORY);
    expect(await lastVersion(client, '/p', signal)).toMatchObject({ Value: 'two', Version: 2, LastModifiedUser: MALLORY });
    await expect(lastVersion(client, '/none', signal)).rejects.toThrow(expect.objectContaining({ name: 'ParameterNotFound' }));
    ssm.on(GetParameterHistoryCommand).rejects(serviceError('ThrottlingException', 'Rate exceeded'));
    await expect(lastVersion(client, '/p', signal)).rejects.toThrow('Rate exceeded');
  });

  test('claimedBefore: without an identity nothing is read', async () => {
    expect(await claimedBefore(client, SELF, undefined, signal)).toMatchObject({ trusted: false, reason: 'no IMDS_ROLE_NAME' });
    expect(historyCalls()).toEqual([]);
  });

  test('functionIdentity: none without the role name either', () => {
    expect(functionIdentity(SERVICE_TOKEN)).toEqual(IDENTITY);
    delete process.env[DRIFT_ROLE_NAME_ENV];
    expect(functionIdentity(SERVICE_TOKEN)).toBeUndefined();
  });

  test('lastVersion asks for the history undecrypted, 50 at a time, with the caller\'s abort signal', async () => {
    keep('/p', 'one', OWN_SESSION);
    const own = new AbortController().signal;
    await lastVersion(client, '/p', own);
    const calls = ssm.commandCalls(GetParameterHistoryCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([{ Name: '/p', WithDecryption: false, MaxResults: 50 }]);
    expect(calls.map((c) => (c.args as unknown[])[1])).toEqual([{ abortSignal: own }]);
  });

  test('lastVersion keeps the highest version whatever the order of the pages, and skips a page without parameters', async () => {
    const version = (n: number) => ({ Name: '/p', Value: `v${n}`, Version: n, LastModifiedUser: OWN_SESSION });
    ssm.on(GetParameterHistoryCommand)
      .resolvesOnce({ Parameters: [version(2), version(3)], NextToken: 'a' })
      .resolvesOnce({ NextToken: 'b' })
      .resolvesOnce({ Parameters: [version(1)] });
    expect(await lastVersion(client, '/p', signal)).toMatchObject({ Value: 'v3', Version: 3 });
    expect(historyCalls().map((c) => c.NextToken)).toEqual([undefined, 'a', 'b']);
    ssm.on(GetParameterHistoryCommand).resolves({});
    expect(await lastVersion(client, '/p', signal)).toBeUndefined();
  });

  test('claimedBefore: the last version\'s `before`, or none, when this function wrote it', async () => {
    keep(OWN_CLAIM, formatClaim(SELF, WITH_HOP_VALUE(2), { before: { HttpPutResponseHopLimit: 3 } }), OWN_SESSION);
    expect(await claimedBefore(client, SELF, IDENTITY, signal)).toEqual({ trusted: true, before: { HttpPutResponseHopLimit: 3 } });
    keep(OWN_CLAIM, formatClaim(SELF, WITH_HOP_VALUE(2)), OWN_SESSION);
    expect(await claimedBefore(client, SELF, IDENTITY, signal)).toEqual({ trusted: true, before: {} });
    expect(historyCalls().map((c) => c.Name)).toEqual([OWN_CLAIM, OWN_CLAIM]);
  });

  test('claimedBefore: untrusted, naming the writer only when someone else wrote it', async () => {
    expect(await claimedBefore(client, SELF, IDENTITY, signal)).toEqual({ trusted: false, reason: 'no history', writer: undefined });
    keep(OWN_CLAIM, formatClaim(SELF, TOKENS), MALLORY);
    expect(await claimedBefore(client, SELF, IDENTITY, signal)).toEqual({ trusted: false, reason: `written by ${MALLORY}`, writer: MALLORY });
    keep(OWN_CLAIM, '{oops', OWN_SESSION);
    expect(await claimedBefore(client, SELF, IDENTITY, signal)).toEqual({ trusted: false, reason: 'malformed: not JSON', writer: undefined });
    // A history without versions (SSM gives none for a parameter that exists; emulated): no history, no writer named.
    ssm.on(GetParameterHistoryCommand).resolves({ Parameters: [] });
    const empty = await claimedBefore(client, SELF, IDENTITY, signal);
    expect(empty).toEqual({ trusted: false, reason: 'no history', writer: undefined });
  });

  test('claimedBefore: an error other than ParameterNotFound is the reason, no writer; access denied is retried while IAM propagates', async () => {
    ssm.on(GetParameterHistoryCommand).rejects(serviceError('ThrottlingException', 'Rate exceeded'));
    expect(await claimedBefore(client, SELF, IDENTITY, signal)).toEqual({ trusted: false, reason: 'ThrottlingException: Rate exceeded', writer: undefined });
    expect(historyCalls()).toHaveLength(1);
    ssm.reset();
    ssm.on(GetParameterHistoryCommand)
      .rejectsOnce(serviceError('AccessDeniedException', 'not authorized to perform: ssm:GetParameterHistory'))
      .resolves({ Parameters: [{ Name: OWN_CLAIM, Value: formatClaim(SELF, TOKENS), Version: 1, LastModifiedUser: OWN_SESSION }] });
    expect(await claimedBefore(client, SELF, IDENTITY, signal)).toEqual({ trusted: true, before: {} });
    expect(historyCalls()).toHaveLength(2);
    expect(logs.map((l) => JSON.parse(l))).toContainEqual({ message: 'AccessDeniedException on the first SSM call: waiting for the role\'s policy to propagate', attempt: 1 });
  });

  test('claimedBefore passes the caller\'s abort signal on', async () => {
    keep(OWN_CLAIM, formatClaim(SELF, TOKENS), OWN_SESSION);
    const own = new AbortController().signal;
    await claimedBefore(client, SELF, IDENTITY, own);
    const options = ssm.commandCalls(GetParameterHistoryCommand).map((c) => (c.args as unknown[])[1] as { abortSignal: AbortSignal });
    expect(options.map((o) => o.abortSignal)).toEqual([own]);
  });

  test('formatClaim writes `before` only when there is one; parseClaim reads and validates it (format 2 only)', () => {
    const value = formatClaim(SELF, { HttpTokens: 'required' }, { before: { HttpPutResponseHopLimit: -1 } });
    expect(JSON.parse(value)).toEqual({ format: 2, ...SELF, fields: { HttpTokens: 'required' }, before: { HttpPutResponseHopLimit: -1 } });
    expect(parseClaim(OWN_CLAIM, value)).toMatchObject({ before: { HttpPutResponseHopLimit: -1 } });
    expect(JSON.parse(formatClaim(SELF, { HttpTokens: 'required' }, { before: {} }))).not.toHaveProperty('before');
    expect(parseClaim(OWN_CLAIM, JSON.stringify({ format: 2, ...SELF, fields: TOKENS, before: { HttpTokens: 'sometimes' } })))
      .toMatchObject({ problem: 'malformed', detail: expect.stringMatching(/^before: InvalidPropertiesError: HttpTokens must be one of/) });
    // Anything but an object records no values before (as `fields` would: it must then name a setting).
    expect(parseClaim(OWN_CLAIM, JSON.stringify({ format: 2, ...SELF, fields: TOKENS, before: 'HttpPutResponseHopLimit=3' }))).not.toHaveProperty('before');
    // Format 1's values before are not read.
    expect(parseClaim(legacyClaimName(SELF), JSON.stringify({ format: 1, ...SELF, fields: TOKENS, before: { HttpTokens: 'optional' } }))).not.toHaveProperty('before');
    // Unknown keys are dropped, as in `fields`.
    expect(parseClaim(OWN_CLAIM, JSON.stringify({ format: 2, ...SELF, fields: TOKENS, before: { Later: 1 } }))).not.toHaveProperty('before');
  });
});
