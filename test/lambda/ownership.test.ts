/**
 * Ownership (lambda/ownership.ts): liveness of the other claims from
 * CloudFormation, pruning, conflicts and which fields others manage, with SSM
 * and CloudFormation mocked by aws-sdk-client-mock (see aws-mocks.ts). The
 * budget that cuts a hanging read off (OWNERSHIP_BUDGET_MS) lives in the real
 * clients' abort handling, which the mock replaces: index.emulator.test.ts covers it.
 */
import { DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { DeleteParameterCommand, GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import { World, addClaim, cfn, emulate, newWorld, serviceError, ssm, stackIdOf } from './aws-mocks';
import { captureLogs } from './support';
import { Claim, claimName, createSsmClient, formatClaim } from '../../lambda/claims';
import {
  Ownership,
  OwnershipUnknownError,
  STALE_STATUSES,
  conflicts,
  createCloudFormationClient,
  managedByOthers,
  readOwnership,
} from '../../lambda/ownership';

const SELF = { stackId: stackIdOf('app'), stackName: 'app', logicalResourceId: 'Imds' };

let world: World;
let logs: string[];
const read = (signal = new AbortController().signal) => readOwnership(createSsmClient(), createCloudFormationClient(), SELF, signal);

beforeAll(() => {
  logs = captureLogs();
});
beforeEach(() => {
  world = newWorld();
  emulate(world);
  logs.length = 0;
});

describe('readOwnership', () => {
  test('returns the live claims of the other resources, never its own, and asks CloudFormation by StackId', async () => {
    world.parameters.set(claimName(SELF), formatClaim(SELF, { HttpTokens: 'optional' }));
    addClaim(world, 'platform', 'Imds1', { HttpTokens: 'required' });
    const { others, own } = await read();
    expect(others.map((c) => [c.stackName, c.logicalResourceId, c.fields])).toEqual([['platform', 'Imds1', { HttpTokens: 'required' }]]);
    expect(own).toMatchObject({ name: claimName(SELF), fields: { HttpTokens: 'optional' } });
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackResourceCommand, 1);
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: stackIdOf('platform'), LogicalResourceId: 'Imds1' });
    expect(logs.some((l) => l.includes('"message":"ownership"') && l.includes('platform'))).toBe(true);
  });

  test('stale statuses are exactly DELETE_COMPLETE and DELETE_SKIPPED', () => {
    expect([...STALE_STATUSES].sort()).toEqual(['DELETE_COMPLETE', 'DELETE_SKIPPED']);
  });

  test('stale claims are removed, live ones kept, whatever their order', async () => {
    const stale1 = addClaim(world, 's1', 'Imds', { HttpTokens: 'required' }, 'DELETE_COMPLETE');
    const live = addClaim(world, 'l1', 'Imds', { HttpTokens: 'required' }, 'UPDATE_ROLLBACK_COMPLETE');
    const stale2 = addClaim(world, 's2', 'Imds', { HttpTokens: 'required' }, null);
    const { others } = await read();
    expect(others.map((c) => c.name)).toEqual([live]);
    expect([...world.parameters.keys()]).toEqual([live]);
    expect(ssm).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: stale1 });
    expect(ssm).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: stale2 });
    expect(logs.join('\n')).toContain('the claim\'s stack or resource does not exist');
  });

  test('a stale claim that cannot be removed is still not counted, and the read succeeds', async () => {
    addClaim(world, 's1', 'Imds', { HttpTokens: 'required' }, 'DELETE_SKIPPED');
    ssm.on(DeleteParameterCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    expect((await read()).others).toEqual([]);
    expect(logs.join('\n')).toContain('could not remove the stale claim');
  });

  test('a resource CloudFormation reports without a status is live (when in doubt, a field stays managed)', async () => {
    addClaim(world, 'p', 'Imds', { HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand).resolves({ StackResourceDetail: undefined });
    expect((await read()).others).toHaveLength(1);
  });

  test('SSM failing is OwnershipUnknownError, naming the path and the cause', async () => {
    ssm.on(GetParametersByPathCommand).rejects(serviceError('InternalServerError', 'down', 500));
    const err = await read().catch((e) => e);
    expect(err).toBeInstanceOf(OwnershipUnknownError);
    expect(err.name).toBe('OwnershipUnknownError');
    expect(err.message).toBe('the claims under /cdk-imds-account-defaults/claims in SSM Parameter Store could not be read (InternalServerError: down)');
  });

  test('CloudFormation failing on a later claim is OwnershipUnknownError too, and is not retried as IAM propagation', async () => {
    addClaim(world, 'a', 'Imds', { HttpTokens: 'required' });
    addClaim(world, 'b', 'Imds', { HttpPutResponseHopLimit: 2 });
    cfn.on(DescribeStackResourceCommand)
      .resolvesOnce({ StackResourceDetail: { ResourceStatus: 'CREATE_COMPLETE' } } as any)
      .rejects(serviceError('AccessDenied', 'no', 403));
    const err = await read().catch((e) => e);
    expect(err).toBeInstanceOf(OwnershipUnknownError);
    expect(err.message).toMatch(/^CloudFormation could not say whether stack [ab] \(.*\) still holds Imds, which claims (HttpTokens|HttpPutResponseHopLimit) \(AccessDenied: no\)$/);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackResourceCommand, 2);
  });

  test('a caller\'s deadline that already passed aborts at once', async () => {
    const controller = new AbortController();
    controller.abort();
    addClaim(world, 'a', 'Imds', { HttpTokens: 'required' });
    // The mock resolves regardless of the signal; the first CloudFormation call does not wait out IAM propagation.
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('AccessDenied', 'no', 403));
    const err = await read(controller.signal).catch((e) => e);
    expect(err).toBeInstanceOf(OwnershipUnknownError);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackResourceCommand, 1);
  });
});

describe('conflicts and managedByOthers', () => {
  const claim = (stackName: string, fields: Claim['fields'], stackId = stackIdOf(stackName)): Claim =>
    ({ name: `/c/${stackName}`, stackId, stackName, logicalResourceId: 'Imds', fields, before: {} });

  test('a field another stack manages with another value conflicts; the message names the stack, its StackId, the field and both values', () => {
    const ownership: Ownership = { others: [claim('platform', { HttpTokens: 'required', HttpPutResponseHopLimit: 2 })] };
    expect(conflicts(ownership, SELF, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' })).toEqual([
      `HttpTokens: stack platform (${stackIdOf('platform')}) manages it as "required", this resource asks for "optional"`,
    ]);
  });

  test('values compare as CloudFormation delivers them (2 and "2" agree)', () => {
    const ownership: Ownership = { others: [claim('platform', { HttpPutResponseHopLimit: '2' as unknown as number })] };
    expect(conflicts(ownership, SELF, { HttpPutResponseHopLimit: 2 })).toEqual([]);
    expect(conflicts(ownership, SELF, { HttpPutResponseHopLimit: 3 })).toHaveLength(1);
  });

  test('claims of the same stack never conflict', () => {
    const ownership: Ownership = { others: [claim('app', { HttpTokens: 'optional' }, SELF.stackId)] };
    expect(conflicts(ownership, SELF, { HttpTokens: 'required' })).toEqual([]);
  });

  test('every conflicting claim is listed', () => {
    const ownership: Ownership = { others: [claim('a', { HttpTokens: 'optional' }), claim('b', { HttpTokens: 'no-preference' })] };
    expect(conflicts(ownership, SELF, { HttpTokens: 'required' })).toHaveLength(2);
  });

  test('managedByOthers: any live claim, this stack\'s included', () => {
    const ownership: Ownership = { others: [claim('app', { HttpTokens: 'required' }, SELF.stackId), claim('b', { HttpEndpoint: 'enabled' })] };
    expect(managedByOthers(ownership, 'HttpTokens')).toBe(true);
    expect(managedByOthers(ownership, 'HttpEndpoint')).toBe(true);
    expect(managedByOthers(ownership, 'HttpPutResponseHopLimit')).toBe(false);
    expect(managedByOthers({ others: [] }, 'HttpTokens')).toBe(false);
  });
});
