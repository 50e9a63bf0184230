/**
 * The handler's rules, with the EC2 client mocked by aws-sdk-client-mock. The
 * mock keeps an account-level state and applies Modify to it the way EC2 does
 * (no-preference / -1 clear a field; Get omits fields without a value), so each
 * test checks both the calls and the resulting state.
 *
 * The SDK's retries and the abort at the deadline happen inside `send()`, which
 * aws-sdk-client-mock replaces: those rules are tested against the local EC2
 * emulator with the real client in index.emulator.test.ts.
 */
import { DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommandInput,
} from '@aws-sdk/client-ec2';
import { DeleteParameterCommand, GetParametersByPathCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import { claimName, formatClaim, legacyClaimName } from '../../../lambda/account-defaults/claims';
import { CREATE_FAILED_PREFIX, IAM_PROPAGATION_ATTEMPTS, READ_BACK_ATTEMPTS, READ_BACK_INTERVAL_MS, RESPONSE_RESERVE_MS, handler } from '../../../lambda/account-defaults/index';
import { UNCONFIRMED_REASON } from '../../../lambda/shared/confirm';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { ACCOUNT, LOGICAL_ID, PHYSICAL_ID, REGION, STACK_ID, answerOf, captureLogs, createEvent, deleteEvent, lambdaContext, quickWaits, updateEvent } from '../support';
import { World, addClaim, cfn, cw, ec2, emulate, fakes, newWorld, serviceError, ssm, stackIdOf } from '../support/aws-mocks';

let endpoint: ResponseEndpoint;
let logs: string[];
let world: World;
/** The delays the handler asked for (the waits between attempts run at once: see quickWaits). */
let delays: number[];

const run = (event: Parameters<typeof handler>[0]) => answerOf(handler, endpoint, event);

const modifyCalls = () => ec2.commandCalls(ModifyInstanceMetadataDefaultsCommand).map((c) => c.args[0].input);

beforeAll(async () => {
  endpoint = await ResponseEndpoint.start();
  logs = captureLogs();
  delays = quickWaits();
});
afterAll(() => endpoint.stop());
beforeEach(() => {
  delays.length = 0;
  world = newWorld({ HttpEndpoint: 'enabled' }); // a field set outside the stack
  endpoint.attempts = 0;
  logs.length = 0;
  emulate(world);
});

describe('Create', () => {
  test('applies exactly the given fields, parsed from strings, and returns the effective settings', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' }));

    // The physical id carries the values before the Create (CloudFormation keeps it: what a rollback puts back).
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${PHYSICAL_ID}:HttpTokens=no-preference,HttpTokensEnforced=no-preference,HttpPutResponseHopLimit=-1` });
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 }]);
    expect(world.state).toEqual({ HttpEndpoint: 'enabled', HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });
    expect(answer.Data).toEqual({
      HttpTokens: 'required',
      HttpTokensEnforced: 'enabled',
      HttpPutResponseHopLimit: '2',
      HttpEndpoint: 'enabled',
      InstanceMetadataTags: 'no-preference',
      ManagedBy: 'account',
      Applied: 'true',
      // The readiness check ran (enforcement is being enabled) and found nothing: readiness.test.ts.
      LaunchTemplatesAllowingImdsv1: '0',
      LaunchConfigurationsAllowingImdsv1: '0',
      InstancesAllowingImdsv1: '0',
      ReadinessCheckResult: 'COMPLETE',
      LaunchTemplatesAllowingImdsv1Count: '0',
      LaunchConfigurationsAllowingImdsv1Count: '0',
      InstancesAllowingImdsv1Count: '0',
    });
  });

  test('the physical id names the account and Region of the stack, then the values before of the managed fields in EC2 order', async () => {
    world.state = { HttpTokens: 'optional', HttpPutResponseHopLimit: 3, InstanceMetadataTags: 'enabled' };
    const answer = await run(createEvent(endpoint, { InstanceMetadataTags: 'disabled', HttpPutResponseHopLimit: '2', HttpTokens: 'required' }));
    expect(answer.PhysicalResourceId).toBe(`ImdsAccountDefaults:${ACCOUNT}:${REGION}:HttpTokens=optional,HttpPutResponseHopLimit=3,InstanceMetadataTags=enabled`);
  });

  test.each([
    [{ HttpPutResponseHopLimit: '65' }, /HttpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got "65"/],
    [{ HttpPutResponseHopLimit: '0' }, /HttpPutResponseHopLimit .* got "0"/],
    [{ HttpPutResponseHopLimit: '2.5' }, /HttpPutResponseHopLimit .* got "2.5"/],
    [{ HttpPutResponseHopLimit: '' }, /HttpPutResponseHopLimit .* got ""/],
    [{ HttpTokens: 'REQUIRED' }, /HttpTokens must be one of "optional", "required", "no-preference"; got "REQUIRED"/],
    [{ HttpTokensEnforced: 'on' }, /HttpTokensEnforced must be one of .*; got "on"/],
    [{ HttpEndpoint: 'yes' }, /HttpEndpoint must be one of .*; got "yes"/],
    [{ InstanceMetadataTags: 'no_preference' }, /InstanceMetadataTags must be one of .*; got "no_preference"/],
    [{ HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'yes' }, /SkipIfManagedByDeclarativePolicy must be "true" or "false"; got "yes"/],
    [{}, /at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required/],
  ])('rejects %j with a clear reason and no EC2 call', async (props, reason) => {
    const answer = await run(createEvent(endpoint, props));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(reason);
    expect(ec2.calls()).toHaveLength(0);
  });

  test('a failed Create answers a marker id, and the Delete that follows changes nothing and succeeds', async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(Object.assign(new Error('You are not authorized'), {
      name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 },
    }));
    const failed = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(failed.Status).toBe('FAILED');
    expect(failed.Reason).toMatch(/^UnauthorizedOperation: You are not authorized/);
    expect(failed.PhysicalResourceId.startsWith(CREATE_FAILED_PREFIX)).toBe(true);
    // EC2 rejected the call, so there was nothing to restore.
    expect(modifyCalls()).toHaveLength(1);

    ec2.resetHistory();
    const deleted = await run(deleteEvent(endpoint, { HttpTokens: 'required' }, failed.PhysicalResourceId));
    expect(deleted).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: failed.PhysicalResourceId });
    expect(ec2.calls()).toHaveLength(0);
  });

  test('a Create whose read-back fails restores the previous values and says so', async () => {
    world.state = { HttpTokens: 'optional' };
    let modifies = 0;
    ec2.on(ModifyInstanceMetadataDefaultsCommand).callsFake((input: ModifyInstanceMetadataDefaultsCommandInput) => {
      // The first Modify "succeeds" without effect on HttpPutResponseHopLimit; the restore applies.
      if (modifies++ === 0) world.state.HttpTokens = input.HttpTokens;
      else Object.assign(world.state, input);
      return { Return: true };
    });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/GetInstanceMetadataDefaults reports HttpPutResponseHopLimit is -1, expected 2\. The previous values were restored\./);
    expect(modifyCalls()[1]).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: -1 });
    expect(world.state.HttpTokens).toBe('optional');
  });

  test('a Create whose restore fails too says the settings may be partially applied', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .resolvesOnce({ AccountLevel: { ManagedBy: 'account' } })
      .resolves({ AccountLevel: { ManagedBy: 'account' } }); // Modify "succeeds" but nothing shows
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolvesOnce({ Return: true }).rejects(new Error('socket hang up'));
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Reason).toMatch(/HttpTokens is "no-preference", expected "required"\. Restoring the previous values failed too \(socket hang up\): the settings may be partially applied\./);
  });

  test('a Modify that returns false is a failure', async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: false });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/ModifyInstanceMetadataDefaults returned false/);
  });

  test('UnauthorizedOperation on the first read is retried while IAM propagates the new policy', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .rejectsOnce(Object.assign(new Error('not yet'), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } }))
      .callsFake(() => ({ AccountLevel: { ...world.state, ...world.managedBy } }));
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2.commandCalls(GetInstanceMetadataDefaultsCommand)).toHaveLength(3);
  });
});

describe('Update', () => {
  test('applies the new values and keeps the physical id', async () => {
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '3' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', HttpPutResponseHopLimit: 3 }]);
  });

  test('keeps whatever physical id the resource has, even one from an earlier version', async () => {
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }, 'some-older-id'));
    expect(answer.PhysicalResourceId).toBe('some-older-id');
  });

  test('a field in the old properties but not in the new ones is reset to no preference (its value before the Create)', async () => {
    world.state = { HttpTokens: 'required', InstanceMetadataTags: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' };
    const answer = await run(updateEvent(endpoint,
      { HttpTokens: 'required' },
      { HttpTokens: 'required', InstanceMetadataTags: 'enabled', HttpPutResponseHopLimit: '2' },
      `${PHYSICAL_ID}:HttpTokens=no-preference,HttpPutResponseHopLimit=-1,InstanceMetadataTags=no-preference`));
    expect(answer.Status).toBe('SUCCESS');
    // HttpTokens already holds its value: only what differs is sent.
    expect(modifyCalls()).toEqual([{ InstanceMetadataTags: 'no-preference', HttpPutResponseHopLimit: -1 }]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
  });

  test('an Update that changes nothing on EC2 makes no EC2 write and still returns the attributes', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    const answer = await run(updateEvent(endpoint,
      { HttpTokens: 'required', HttpPutResponseHopLimit: '2', SkipIfManagedByDeclarativePolicy: 'true' },
      { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(answer.Data).toMatchObject({ HttpTokens: 'required', Applied: 'true' });
  });

  test('a failed Update followed by the rollback Update restores the old values', async () => {
    world.state = { HttpTokens: 'optional', HttpPutResponseHopLimit: 1 };
    const oldProps = { HttpTokens: 'optional', HttpPutResponseHopLimit: '1' };
    const newProps = { HttpTokens: 'required', HttpPutResponseHopLimit: '100' }; // 100 only shows at deploy time

    const failed = await run(updateEvent(endpoint, newProps, oldProps));
    expect(failed).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(failed.Reason).toMatch(/HttpPutResponseHopLimit .* got "100"/);
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);

    // CloudFormation's rollback: old and new swapped. The invalid values are now the "old" ones and must not fail it.
    const rollback = await run(updateEvent(endpoint, oldProps, newProps));
    expect(rollback).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(world.state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1 });
  });

  test('a rollback Update after a partly applied Update leaves the field the failed Update added: no claim vouches for its value before (hand-back.test.ts)', async () => {
    world.state = { HttpTokens: 'required', InstanceMetadataTags: 'enabled' };
    const rollback = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', InstanceMetadataTags: 'enabled' }));
    expect(rollback.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', InstanceMetadataTags: 'enabled' });
  });

  test('a read-back mismatch fails the Update and names the field', async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true }); // accepted, never applied
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/ModifyInstanceMetadataDefaults succeeded but GetInstanceMetadataDefaults reports HttpTokens is "no-preference", expected "required"/);
    expect(answer.PhysicalResourceId).toBe(PHYSICAL_ID);
  });
});

describe('Delete', () => {
  test('resets exactly the managed fields and leaves the others alone', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' };
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(modifyCalls()).toEqual([{ HttpTokens: 'no-preference', HttpPutResponseHopLimit: -1 }]);
    expect(world.state).toEqual({ HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' });
  });

  test('resets a field whose value was invalid (it was never applied, and must not block the delete)', async () => {
    world.state = { HttpPutResponseHopLimit: 3 };
    const answer = await run(deleteEvent(endpoint, { HttpPutResponseHopLimit: '100' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: -1 }]);
  });

  test('a field already at no preference is not written again', async () => {
    world.state = { HttpTokens: 'required' };
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'no-preference' }]);
  });

  test('fails when the reset does not take effect', async () => {
    world.state = { HttpTokens: 'required' };
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true });
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/HttpTokens is "required", expected "no-preference"/);
  });
});

describe('declarative policy', () => {
  beforeEach(() => {
    world.managedBy = { ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'IMDS is managed centrally: contact cloud-platform@example.com' };
  });

  test.each([
    ['Create', () => createEvent(endpoint, { HttpTokens: 'required' })],
    ['Update', () => updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' })],
  ])('%s fails by default, quoting the policy message, without calling Modify', async (operation, event) => {
    const answer = await run(event());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(new RegExp(`declarative policy manages .* \\(ManagedBy: declarative-policy\\), so ${operation} cannot change them`));
    expect(answer.Reason).toContain('"IMDS is managed centrally: contact cloud-platform@example.com"');
    expect(answer.Reason).toContain('skipIfManagedByDeclarativePolicy');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
  });

  test.each(['true', 'false'])('a Delete succeeds, writes nothing and removes its own claim, whatever SkipIfManagedByDeclarativePolicy says (%s)', async (skip) => {
    const own = claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID });
    world.parameters.set(own, formatClaim({ stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID }, { HttpTokens: 'required' }));
    world.state = { HttpTokens: 'required' };
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: skip }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(answer.Data).toMatchObject({ ManagedBy: 'declarative-policy', Applied: 'false' });
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(world.state).toEqual({ HttpTokens: 'required' });
    expect(world.parameters.has(own)).toBe(false);
    expect(logs).toContainEqual(JSON.stringify({
      message: 'a declarative policy manages the settings; Delete changes nothing',
      managedExceptionMessage: 'IMDS is managed centrally: contact cloud-platform@example.com',
    }));
  });

  test.each([
    ['Create', () => createEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' })],
    ['Update', () => updateEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' }, { HttpTokens: 'optional' })],
  ])('%s succeeds without changes when the resource opts in', async (operation, event) => {
    const answer = await run(event());
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    // The log says why nothing happened, with the policy's message.
    expect(logs).toContainEqual(JSON.stringify({
      message: `a declarative policy manages the settings; ${operation} skipped (SkipIfManagedByDeclarativePolicy)`,
      managedExceptionMessage: 'IMDS is managed centrally: contact cloud-platform@example.com',
    }));
    if (answer.Data) {
      expect(answer.Data).toMatchObject({ ManagedBy: 'declarative-policy', Applied: 'false' });
    }
  });
});

describe('the answer to CloudFormation', () => {
  test('an unknown RequestType is not confirmed: FAILED with the fixed reason, nothing called', async () => {
    const event = { ...createEvent(endpoint, { HttpTokens: 'required' }), RequestType: 'Replace' } as any;
    const answer = await run(event);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON, PhysicalResourceId: `${CREATE_FAILED_PREFIX}${event.RequestId}` });
    expect(ec2.calls()).toHaveLength(0);
    expect(cfn.calls()).toHaveLength(0);
  });

  test('the response PUT is retried until it goes through', async () => {
    endpoint.failNext(2);
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(endpoint.attempts).toBe(3);
  });

  test('the logs never contain the ResponseURL, on success, failure and failed answers', async () => {
    endpoint.failNext(1);
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    await run(createEvent(endpoint, { HttpTokens: 'INVALID' }));
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(logs.length).toBeGreaterThan(5);
    expect(logs.join('\n')).toContain('"RequestType":"Create"');
    expect(logs.join('\n')).toContain('did not go through');
    expect(endpoint.signatures.length).toBeGreaterThanOrEqual(3);
    for (const line of logs) {
      for (const signature of endpoint.signatures) {
        expect(line).not.toContain(signature);
      }
      expect(line).not.toContain('cloudformation-custom-resource-response');
    }
  });
});

describe('ownership (claims)', () => {
  const ownClaim = () => claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID });
  const stored = (name: string) => JSON.parse(world.parameters.get(name)!);

  test('a Create records its claim: one standard String parameter named after the stack uuid and logical id, with its stack, logical id and fields (no values before)', async () => {
    world.state = { HttpTokens: 'optional' };
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2', Ownership: 'claims-v2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ownClaim()).toBe('/cdk-imds-account-defaults/claims/0c5c6cd0-0000-11ef-0000-000000000000-ImdsDefaults');
    expect(stored(ownClaim())).toEqual({
      format: 2,
      stackId: STACK_ID,
      stackName: 'imds',
      logicalResourceId: LOGICAL_ID,
      fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
    });
    expect(ssm).toHaveReceivedCommandWith(PutParameterCommand, { Name: ownClaim(), Type: 'String', Tier: 'Standard', Overwrite: true });
    expect([...world.parameters.keys()]).toEqual([ownClaim()]);
  });

  test('a Create that disagrees with another stack\'s live claim fails, names that stack and the field, and changes nothing', async () => {
    world.state = { HttpTokens: 'required' };
    addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'optional', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe(`Another stack manages these instance metadata defaults of this account and Region with other values: HttpTokens: stack platform (${stackIdOf('platform')}) manages it as "required", this resource asks for "optional". Nothing was changed. Make the values agree, or remove the setting from one of the stacks.`);
    expect(answer.PhysicalResourceId.startsWith(CREATE_FAILED_PREFIX)).toBe(true);
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(world.parameters.has(ownClaim())).toBe(false);
  });

  test('a Create that agrees with another stack\'s claim succeeds, and so does one whose other fields nobody claims', async () => {
    addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  });

  test('a claim of the same stack never conflicts (the construct was renamed or moved inside the stack)', async () => {
    world.state = { HttpTokens: 'optional' };
    world.parameters.set(claimName({ stackId: STACK_ID, logicalResourceId: 'OldImds' }),
      formatClaim({ stackId: STACK_ID, stackName: 'imds', logicalResourceId: 'OldImds' }, { HttpTokens: 'optional' }));
    world.resources.set(`${STACK_ID}|OldImds`, 'UPDATE_COMPLETE');
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state.HttpTokens).toBe('required');
  });

  test.each(['DELETE_COMPLETE', 'DELETE_SKIPPED', null])('a stale claim (resource %s) never blocks, and is left in place (no pruning)', async (status) => {
    const stale = addClaim(world, 'gone', 'Imds1234', { HttpTokens: 'optional' }, status);
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.parameters.has(stale)).toBe(true);
    expect(ssm).not.toHaveReceivedCommandWith(DeleteParameterCommand, { Name: stale });
  });

  test.each([true, false])('a retained claim (retained %s) whose resource is gone never blocks a Create', async (retained) => {
    addClaim(world, 'kept', 'Imds1234', { HttpTokens: 'optional' }, 'DELETE_SKIPPED', { retained });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
  });

  test('a claim whose resource is of another type is foreign: reported, and never blocks', async () => {
    const name = addClaim(world, 'other', 'Imds1234', { HttpTokens: 'optional' });
    world.resources.set(`${stackIdOf('other')}|Imds1234`, { type: 'AWS::SSM::Parameter', status: 'CREATE_COMPLETE', physicalId: 'p' });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(logs.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ message: 'security warning', warning: 'claim-problem', problem: 'foreign', name }));
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'ClaimProblems', Value: 1 })] });
  });

  test.each(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'DELETE_IN_PROGRESS', 'DELETE_FAILED', 'CREATE_IN_PROGRESS'])('a claim whose resource is %s is live: it blocks and is kept', async (status) => {
    const live = addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'optional' }, status);
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    expect(world.parameters.has(live)).toBe(true);
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: stackIdOf('platform'), LogicalResourceId: 'Imds1234' });
  });

  test('a claim that cannot be read is reported, ignored and left in place', async () => {
    world.parameters.set('/cdk-imds-account-defaults/claims/broken', '{not json');
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.parameters.has('/cdk-imds-account-defaults/claims/broken')).toBe(true);
    expect(logs).toContainEqual(JSON.stringify({ message: 'security warning', warning: 'claim-problem', problem: 'malformed', name: '/cdk-imds-account-defaults/claims/broken', detail: 'not JSON' }));
  });

  test('an edited claim (values that are not valid) never blocks: it is malformed, reported and ignored', async () => {
    const name = addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'optional' });
    world.parameters.set(name, world.parameters.get(name)!.replace('"optional"', '"off"'));
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(logs.join('\n')).toContain('"problem":"malformed"');
  });

  test('a claim stored under another resource\'s name is foreign: reported, and never blocks', async () => {
    const name = addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'optional' });
    world.parameters.set('/cdk-imds-account-defaults/claims/copied', world.parameters.get(name)!);
    world.parameters.delete(name);
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(logs.join('\n')).toContain('"problem":"foreign","name":"/cdk-imds-account-defaults/claims/copied"');
  });

  test('a Delete does not reset a field another live resource manages, resets the rest, and removes its claim', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    world.parameters.set(ownClaim(), formatClaim({ stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID }, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }));
    addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: -1 }]);
    expect(world.state).toEqual({ HttpTokens: 'required' });
    expect(world.parameters.has(ownClaim())).toBe(false);
  });

  test('a Delete keeps a field that a resource of the same stack manages (the cleanup Delete after a rename)', async () => {
    world.state = { HttpTokens: 'required' };
    world.parameters.set(claimName({ stackId: STACK_ID, logicalResourceId: 'NewImds' }),
      formatClaim({ stackId: STACK_ID, stackName: 'imds', logicalResourceId: 'NewImds' }, { HttpTokens: 'required' }));
    world.resources.set(`${STACK_ID}|NewImds`, 'CREATE_COMPLETE');
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(world.state).toEqual({ HttpTokens: 'required' });
  });

  test('a Delete whose only other claim is stale resets, as without claims', async () => {
    world.state = { HttpTokens: 'required' };
    addClaim(world, 'gone', 'Imds1234', { HttpTokens: 'required' }, 'DELETE_COMPLETE');
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({});
  });

  test('a Delete with no managed field removes its claim and calls nothing else', async () => {
    world.parameters.set(ownClaim(), '{}');
    const answer = await run(deleteEvent(endpoint, { SkipIfManagedByDeclarativePolicy: 'true' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2.calls()).toHaveLength(0);
    expect(world.parameters.has(ownClaim())).toBe(false);
  });

  test('the Delete after a failed Create removes a claim left behind and resets nothing', async () => {
    world.parameters.set(ownClaim(), '{}');
    world.state = { HttpTokens: 'required' };
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }, `${CREATE_FAILED_PREFIX}x`));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2.calls()).toHaveLength(0);
    expect(world.parameters.size).toBe(0);
  });

  test('a claim that cannot be removed on Delete does not fail it (it is stale from then on)', async () => {
    world.state = { HttpTokens: 'required' };
    ssm.on(DeleteParameterCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({});
    expect(logs.join('\n')).toContain('could not remove the claim');
  });

  describe('when ownership cannot be determined', () => {
    test.each([
      ['Create', () => createEvent(endpoint, { HttpTokens: 'required' })],
      ['Update', () => updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' })],
    ])('%s fails, says why, and writes nothing (SSM unreachable)', async (_op, event) => {
      ssm.on(GetParametersByPathCommand).rejects(serviceError('InternalServerError', 'SSM is down', 500));
      const answer = await run(event());
      expect(answer.Status).toBe('FAILED');
      expect(answer.Reason).toBe('OwnershipUnknownError: the claims under /cdk-imds-account-defaults/claims in SSM Parameter Store could not be read (InternalServerError: SSM is down)');
      expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    });

    test('Create fails when CloudFormation cannot say whether another claim is live, naming that claim', async () => {
      addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
      // The confirmation of the event goes through; the liveness check does not.
      cfn.on(DescribeStackResourceCommand).callsFakeOnce(fakes(world).describeStackResource).rejects(serviceError('Throttling', 'Rate exceeded'));
      const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
      expect(answer.Status).toBe('FAILED');
      expect(answer.Reason).toBe(`OwnershipUnknownError: CloudFormation could not say whether stack platform (${stackIdOf('platform')}) still holds Imds1234, which claims HttpTokens (Throttling: Rate exceeded)`);
      expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    });

    test('Delete succeeds and leaves the settings as they are', async () => {
      world.state = { HttpTokens: 'required' };
      ssm.on(GetParametersByPathCommand).rejects(serviceError('InternalServerError', 'SSM is down', 500));
      const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
      expect(answer.Status).toBe('SUCCESS');
      expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
      expect(world.state).toEqual({ HttpTokens: 'required' });
      expect(logs.join('\n')).toContain('Delete leaves the settings as they are: ownership could not be determined');
    });

    test('access denied is waited out while IAM propagates, then fails Create after the last attempt', async () => {
      ssm.on(GetParametersByPathCommand).rejects(serviceError('AccessDeniedException', 'not authorized'));
      const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
      expect(answer.Status).toBe('FAILED');
      expect(answer.Reason).toMatch(/could not be read \(AccessDeniedException: not authorized\)/);
      expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(IAM_PROPAGATION_ATTEMPTS);
    }, 15_000);
  });

  test('access denied on the first SSM and CloudFormation calls is retried while IAM propagates the new statements', async () => {
    addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
    ssm.on(GetParametersByPathCommand).rejectsOnce(serviceError('AccessDeniedException', 'not yet')).callsFake(fakes(world).getParametersByPath);
    // The first CloudFormation call is the confirmation's; the liveness check's first call is waited out too.
    cfn.on(DescribeStackResourceCommand)
      .rejectsOnce(serviceError('AccessDenied', 'not yet', 403))
      .callsFakeOnce(fakes(world).describeStackResource)
      .rejectsOnce(serviceError('AccessDenied', 'not yet', 403))
      .callsFake(fakes(world).describeStackResource);
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', Ownership: 'claims-v1' }, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(2);
    expect(cfn.commandCalls(DescribeStackResourceCommand)).toHaveLength(4);
  }, 15_000);

  test('a Create whose claim cannot be recorded puts back what it changed and fails', async () => {
    world.state = { HttpTokens: 'optional' };
    ssm.on(PutParameterCommand).rejects(serviceError('InternalServerError', 'SSM is down', 500));
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpEndpoint: 'enabled' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe('OwnershipUnknownError: the claim could not be recorded in SSM Parameter Store (InternalServerError: SSM is down). The previous values were restored.');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', HttpEndpoint: 'enabled' }, { HttpTokens: 'optional', HttpEndpoint: 'no-preference' }]);
    expect(world.state).toEqual({ HttpTokens: 'optional' });
  });

  test('upgrade: a resource created by the release without claims registers its claim on the Update that upgrades it, with no EC2 write', async () => {
    world.state = { HttpTokens: 'required' };
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', Ownership: 'claims-v1', ServiceTimeout: '120' }, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(stored(ownClaim()).fields).toEqual({ HttpTokens: 'required' });
  });

  test('an Update that disagrees with another stack fails and changes nothing; the rollback Update then succeeds', async () => {
    world.state = { HttpTokens: 'required' };
    world.parameters.set(ownClaim(), formatClaim({ stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID }, { HttpTokens: 'required' }));
    addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
    const failed = await run(updateEvent(endpoint, { HttpTokens: 'optional' }, { HttpTokens: 'required' }));
    expect(failed).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(failed.Reason).toContain(`HttpTokens: stack platform (${stackIdOf('platform')})`);
    const rollback = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(rollback.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(stored(ownClaim()).fields).toEqual({ HttpTokens: 'required' });
  });

  test('an Update that removes a field another live resource manages does not reset it', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    addClaim(world, 'platform', 'Imds1234', { HttpPutResponseHopLimit: 2 });
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  });
});

describe('rollback-safe Update', () => {
  const self = { stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID };
  const claimWith = (fields: Record<string, unknown>) => world.parameters.set(claimName(self), formatClaim(self, fields));

  test('an Update records the fields it manages, format 2 with the values before of the fields it takes over, and keeps the physical id', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    claimWith({ HttpTokens: 'required' });
    const physicalId = `${PHYSICAL_ID}:HttpTokens=optional`;
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, { HttpTokens: 'required' }, physicalId));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
    expect(JSON.parse(world.parameters.get(claimName(self))!)).toEqual({
      format: 2,
      stackId: STACK_ID,
      stackName: 'imds',
      logicalResourceId: LOGICAL_ID,
      fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
      before: { HttpPutResponseHopLimit: 3 },
    });
  });

  test('a field an Update drops goes back to the value before the Create that the physical id carries', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    claimWith({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    const physicalId = `${PHYSICAL_ID}:HttpTokens=optional,HttpPutResponseHopLimit=3`;
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, physicalId));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: 3 }]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  });

  test('the claim\'s values before (format 1) are never used: a dropped field without a value in the physical id is left as it is', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    world.parameters.set(legacyClaimName(self), JSON.stringify({ format: 1, ...self, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }, before: { HttpPutResponseHopLimit: 5 } }));
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, `${PHYSICAL_ID}:HttpTokens=optional`));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  });

  test.each([
    `${PHYSICAL_ID}:HttpPutResponseHopLimit=3,HttpTokens=optional`, // out of order
    `${PHYSICAL_ID}:HttpPutResponseHopLimit=99`, // invalid value
    `${PHYSICAL_ID}:HttpPutResponseHopLimit=3,Unknown=1`, // unknown key
    `${PHYSICAL_ID}:HttpPutResponseHopLimit=3:x`, // too many parts
  ])('a physical id that cannot be read strictly (%s) gives no values before: without a claim to vouch for one, the field is left as it is', async (physicalId) => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, physicalId));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(logs).toContainEqual(JSON.stringify({ message: 'the physical id\'s values before the Create cannot be read: none are taken from it', physicalResourceId: physicalId }));
  });

  test('a field the claim never took over (the Update that added it failed) is left alone by the rollback, even when it holds the value asked', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    claimWith({ HttpTokens: 'required' });
    const rollback = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '3' }));
    expect(rollback.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
    expect(logs.join('\n')).toContain('never taken over');
  });

  test('a field a resource without a claim (created by the release without claims) stops managing is left as it is: no value before is known', async () => {
    world.state = { HttpTokens: 'required', InstanceMetadataTags: 'enabled' };
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', InstanceMetadataTags: 'enabled' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([]);
  });

  test('a physical id without values before (the previous release) and a claim without them: a removed field is left as it is', async () => {
    world.state = { HttpTokens: 'required', InstanceMetadataTags: 'enabled' };
    claimWith({ HttpTokens: 'required', InstanceMetadataTags: 'enabled' });
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', InstanceMetadataTags: 'enabled' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', InstanceMetadataTags: 'enabled' });
  });

  test('the rollback of a failed Update does not reset a field the stack never wrote (someone else set hop limit 3)', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 3 };
    // The forward Update adds the hop limit from a parameter whose value is 0: it fails before any write.
    const failed = await run(updateEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '0' }, { HttpTokens: 'required' }));
    expect(failed.Status).toBe('FAILED');
    // CloudFormation's rollback: old and new swapped; the "removed" hop limit still holds 3, not the 0 that was asked.
    const rollback = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '0' }));
    expect(rollback.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  });

  test('a field removed by an Update is reset when it still holds what the old properties asked for, compared as strings', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 64 };
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '64' }, `${PHYSICAL_ID}:HttpPutResponseHopLimit=-1`));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: -1 }]);
  });

  test('a forward Update that wrote some fields and then failed puts them back before answering FAILED', async () => {
    world.state = { HttpTokens: 'optional', HttpPutResponseHopLimit: 1 };
    let modifies = 0;
    ec2.on(ModifyInstanceMetadataDefaultsCommand).callsFake((input: ModifyInstanceMetadataDefaultsCommandInput) => {
      // The first Modify applies HttpTokens only; the restore applies in full.
      if (modifies++ === 0) world.state.HttpTokens = input.HttpTokens;
      else Object.assign(world.state, input);
      return { Return: true };
    });
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '10' }, { HttpTokens: 'optional', HttpPutResponseHopLimit: '1' }));
    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(answer.Reason).toMatch(/HttpPutResponseHopLimit is 1, expected 10\. The previous values were restored\.$/);
    expect(modifyCalls()[1]).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1 });
    expect(world.state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1 });
  }, 10_000);

  test('a Modify that EC2 rejects (4xx) changed nothing: no restore is attempted', async () => {
    world.state = { HttpTokens: 'optional' };
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('InvalidParameterValue', 'bad value'));
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(answer.Reason).toBe('InvalidParameterValue: bad value');
    expect(modifyCalls()).toHaveLength(1);
  });

  test('the read-back is polled: a change that shows on the second Get succeeds', async () => {
    world.state = { HttpTokens: 'optional' };
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .resolvesOnce({ AccountLevel: { HttpTokens: 'optional', ManagedBy: 'account' } })
      .resolvesOnce({ AccountLevel: { HttpTokens: 'optional', ManagedBy: 'account' } })
      .resolves({ AccountLevel: { HttpTokens: 'required', ManagedBy: 'account' } });
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2.commandCalls(GetInstanceMetadataDefaultsCommand)).toHaveLength(3);
    expect(logs.join('\n')).toContain('the read-back does not show the change yet');
  });

  test(`a mismatch that persists fails after ${READ_BACK_ATTEMPTS} reads`, async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true }); // accepted, never applied
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    // The first read, then READ_BACK_ATTEMPTS read-backs.
    expect(ec2.commandCalls(GetInstanceMetadataDefaultsCommand)).toHaveLength(1 + READ_BACK_ATTEMPTS);
  }, 15_000);
});

describe('the deadline', () => {
  const setTimeoutMock = () => global.setTimeout as unknown as jest.Mock;
  /** A macrotask later: lets a timer that is due (the waits run at once) fire first. */
  const later = () => new Promise((resolve) => setImmediate(resolve));

  test('the timer is set to the function\'s time left less RESPONSE_RESERVE_MS, and cleared once the handler answered', async () => {
    const clear = jest.spyOn(global, 'clearTimeout');
    try {
      await run(createEvent(endpoint, { HttpTokens: 'required' }));
      const index = setTimeoutMock().mock.calls.findIndex((call) => call[1] > 20_000);
      expect(setTimeoutMock().mock.calls[index][1]).toBeGreaterThan(30_000 - RESPONSE_RESERVE_MS - 200);
      expect(setTimeoutMock().mock.calls[index][1]).toBeLessThanOrEqual(30_000 - RESPONSE_RESERVE_MS);
      expect(clear).toHaveBeenCalledWith(setTimeoutMock().mock.results[index].value);
    } finally {
      clear.mockRestore();
    }
  });

  test.each([
    ['Create', () => createEvent(endpoint, { HttpTokens: 'required' }), /^ImdsAccountDefaults:CreateFailed:request-\d+$/],
    ['Update', () => updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }), /^ImdsAccountDefaults:123456789012:eu-west-1$/],
  ])('a %s that outlives it is answered FAILED once, at the deadline, and the calls are stopped', async (operation, event, physicalId) => {
    // The first Get returns only once the deadline was reached (its timer runs at once here); the Modify is accepted but never shows.
    const deadlineReached = () => logs.some((line) => line.includes('"message":"deadline reached"'));
    ec2.on(GetInstanceMetadataDefaultsCommand).callsFake(async () => {
      while (!deadlineReached()) await later();
      return { AccountLevel: { ...world.state, ...world.managedBy } };
    });
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true });
    const answer = await answerOf(handler, endpoint, event(), RESPONSE_RESERVE_MS + 2_400);
    expect(answer.Status).toBe('FAILED');
    expect(answer.PhysicalResourceId).toMatch(physicalId);
    expect(answer.Reason).toBe(`${operation} did not finish within 2 s (the function's timeout less 5 s to answer); the EC2 calls were stopped and the settings may be partially applied: compare GetInstanceMetadataDefaults with the resource's properties`);
    expect(logs).toContainEqual(expect.stringMatching(/^\{"message":"deadline reached","budgetMs":2[34]\d\d\}$/));
    // Aborted: no polling of the read-back, and no restore (its call would be stopped too).
    expect(ec2.commandCalls(GetInstanceMetadataDefaultsCommand)).toHaveLength(2);
    expect(modifyCalls()).toHaveLength(1);
    expect(logs.join('\n')).toContain('The settings may be partially applied.');
  });

  test('a function with less time left than the reserve answers at once', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand).callsFake(async () => {
      while (!logs.some((line) => line.includes('"message":"deadline reached"'))) await later();
      return { AccountLevel: { ...world.state, ...world.managedBy } };
    });
    const answer = await answerOf(handler, endpoint, createEvent(endpoint, { HttpTokens: 'required' }), RESPONSE_RESERVE_MS - 1_000);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/^Create did not finish within 0 s /);
    expect(setTimeoutMock().mock.calls.map((call) => call[1])).toContain(0);
  });
});

describe('the answer, more', () => {
  test('the event is logged with its ids and properties, old properties and physical id included, and never its ResponseURL', async () => {
    const event = updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' });
    await run(event);
    const logged = JSON.parse(logs[0]);
    expect(logged).toEqual({
      message: 'event',
      RequestType: 'Update',
      RequestId: event.RequestId,
      StackId: STACK_ID,
      LogicalResourceId: LOGICAL_ID,
      PhysicalResourceId: PHYSICAL_ID,
      ResourceProperties: event.ResourceProperties,
      OldResourceProperties: (event as { OldResourceProperties: unknown }).OldResourceProperties,
    });
  });

  test('a Create\'s event log has no physical id or old properties', async () => {
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    const logged = JSON.parse(logs[0]);
    expect(logged.message).toBe('event');
    expect('PhysicalResourceId' in logged).toBe(false);
    expect('OldResourceProperties' in logged).toBe(false);
  });

  test('an answer that cannot be delivered is logged and the handler still returns', async () => {
    endpoint.failNext(100);
    try {
      const event = createEvent(endpoint, { HttpTokens: 'required' });
      await expect(handler(event, lambdaContext())).resolves.toBeUndefined();
      expect(logs.join('\n')).toMatch(/"message":"giving up on answering CloudFormation","error":"could not answer CloudFormation after 5 attempts: HTTP 5\d\d"/);
    } finally {
      endpoint.failNext(0);
    }
  });

  test('a failed Delete keeps its physical id', async () => {
    world.state = { HttpTokens: 'required' };
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('InvalidParameterValue', 'no'));
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }, 'some-id'));
    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'some-id', Reason: 'InvalidParameterValue: no' });
  });

  test.each([
    ['not an ARN', 'odd-stack-id'],
    ['without a Region', `arn:aws:cloudformation::${ACCOUNT}:stack/s/1`],
    ['of another account', `arn:aws:cloudformation:${REGION}:210987654321:stack/s/1`],
    ['of another Region', `arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/s/1`],
    ['of another partition', `arn:aws-cn:cloudformation:${REGION}:${ACCOUNT}:stack/s/1`],
  ])('a StackId %s is not confirmed: nothing is called, nothing written', async (_what, stackId) => {
    const event = { ...createEvent(endpoint, { HttpTokens: 'required' }), StackId: stackId };
    await handler(event, lambdaContext());
    // The endpoint refuses the answer (another StackId than the one it issued the URL for): read what was sent from the log.
    expect(logs.join('\n')).toContain(`"status":"FAILED","physicalResourceId":"${CREATE_FAILED_PREFIX}${event.RequestId}","reason":"${UNCONFIRMED_REASON.replace(/'/g, "'")}"`);
    expect(logs.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ warning: 'unconfirmed-event', mismatch: 'the StackId is not a stack of the function\'s account and Region' }));
    expect(cfn.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(world.parameters.size).toBe(0);
    endpoint.refused.length = 0;
  });
});

describe('writes, more', () => {
  test('the read-back is polled READ_BACK_INTERVAL_MS (1 s) apart, with a log line per miss', async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true }); // accepted, never applied
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(READ_BACK_INTERVAL_MS).toBe(1_000);
    expect(delays.filter((ms) => ms <= 10_000)).toEqual([1_000, 1_000, 1_000]);
    expect(logs).toContainEqual(JSON.stringify({ message: 'the read-back does not show the change yet', attempt: 1, mismatches: ['HttpTokens is "no-preference", expected "required"'] }));
  });

  test('a Modify that fails with a 5xx may have applied: the previous values are put back', async () => {
    world.state = { HttpTokens: 'optional' };
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejectsOnce(serviceError('InternalError', 'boom', 500)).callsFake((input: ModifyInstanceMetadataDefaultsCommandInput) => {
      Object.assign(world.state, input);
      return { Return: true };
    });
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(answer.Reason).toBe('InternalError: boom. The previous values were restored.');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }, { HttpTokens: 'optional' }]);
  });

  test('a Modify rejected with 499 changed nothing either; one with 399 or without a status is put back', async () => {
    world.state = { HttpTokens: 'optional' };
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('ClientClosed', 'x', 499));
    await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(modifyCalls()).toHaveLength(1);
    for (const err of [serviceError('Odd', 'x', 399), new Error('socket hang up')]) {
      ec2.resetHistory();
      ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(err);
      const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
      expect(modifyCalls()).toHaveLength(2);
      expect(answer.Reason).toMatch(/Restoring the previous values failed too/);
    }
  });

  test('when nothing differs the log says so, with the target', async () => {
    world.state = { HttpTokens: 'required' };
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(logs).toContainEqual(JSON.stringify({ message: 'the settings are already as requested: no EC2 write', target: { HttpTokens: 'required' } }));
  });

  test('access denied on the claim\'s Put is waited out while IAM propagates', async () => {
    ssm.on(PutParameterCommand).rejectsOnce(serviceError('AccessDeniedException', 'not yet')).callsFake((input) => {
      world.parameters.set(input.Name, input.Value);
      return {};
    });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(2);
  });

  test('access denied on the claim\'s Delete is waited out while IAM propagates', async () => {
    world.state = { HttpTokens: 'required' };
    world.parameters.set(claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID }), '{}');
    ssm.on(DeleteParameterCommand).rejectsOnce(serviceError('AccessDeniedException', 'not yet')).callsFake((input) => {
      world.parameters.delete(input.Name);
      return {};
    });
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.parameters.size).toBe(0);
  });

  test('an Update after a Create answers the applied settings (Applied "true")', async () => {
    world.state = { HttpTokens: 'optional' };
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '10' }, { HttpTokens: 'optional' }));
    expect(answer.Data).toEqual({
      HttpTokens: 'required',
      HttpTokensEnforced: 'no-preference',
      HttpPutResponseHopLimit: '10',
      HttpEndpoint: 'no-preference',
      InstanceMetadataTags: 'no-preference',
      ManagedBy: 'account',
      Applied: 'true',
      LaunchTemplatesAllowingImdsv1: 'not-checked',
      LaunchConfigurationsAllowingImdsv1: 'not-checked',
      InstancesAllowingImdsv1: 'not-checked',
      ReadinessCheckResult: 'NOT_CHECKED',
      LaunchTemplatesAllowingImdsv1Count: '0',
      LaunchConfigurationsAllowingImdsv1Count: '0',
      InstancesAllowingImdsv1Count: '0',
    });
  });
});

describe('Delete, more', () => {
  test('logs the fields it leaves to another live resource', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpEndpoint: 'enabled' }));
    expect(logs).toContainEqual(JSON.stringify({ message: 'fields another live resource manages are not reset', fields: ['HttpTokens'] }));
    expect(world.state).toEqual({ HttpTokens: 'required' });
  });

  test('no such log line when it resets every field', async () => {
    world.state = { HttpTokens: 'required' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(logs.join('\n')).not.toContain('not reset');
  });

  test('ownership unknown: the log names the fields left and why', async () => {
    world.state = { HttpTokens: 'required' };
    ssm.on(GetParametersByPathCommand).rejects(serviceError('InternalServerError', 'SSM is down', 500));
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpEndpoint: 'enabled' }));
    expect(logs).toContainEqual(JSON.stringify({
      message: 'Delete leaves the settings as they are: ownership could not be determined',
      error: 'the claims under /cdk-imds-account-defaults/claims in SSM Parameter Store could not be read (InternalServerError: SSM is down)',
      fields: ['HttpTokens', 'HttpEndpoint'],
    }));
  });

  test('a Delete that resets nothing (every field managed elsewhere) makes no EC2 write and removes its claim', async () => {
    world.state = { HttpTokens: 'required' };
    world.parameters.set(claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID }), '{}');
    addClaim(world, 'platform', 'Imds1234', { HttpTokens: 'required' });
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(world.parameters.has(claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID }))).toBe(false);
  });
});

describe('declarative policy, more', () => {
  beforeEach(() => {
    world.managedBy = { ManagedBy: 'declarative-policy' };
  });

  test('without a policy message, the reason has no message part', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Reason).toBe('An AWS Organizations declarative policy manages the EC2 instance metadata defaults of this account and Region (ManagedBy: declarative-policy), so Create cannot change them. Set skipIfManagedByDeclarativePolicy to succeed without changes in accounts governed by a policy.');
  });

  test.each([
    ['Create', () => createEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' })],
    ['Update', () => updateEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' }, { HttpTokens: 'optional' })],
  ])('a skipped %s answers the policy\'s values, not applied, and logs the skip', async (operation, event) => {
    world.state = { HttpTokens: 'optional' };
    const answer = await run(event());
    expect(answer.Data).toEqual({
      HttpTokens: 'optional',
      HttpTokensEnforced: 'no-preference',
      HttpPutResponseHopLimit: '-1',
      HttpEndpoint: 'no-preference',
      InstanceMetadataTags: 'no-preference',
      ManagedBy: 'declarative-policy',
      Applied: 'false',
      LaunchTemplatesAllowingImdsv1: 'not-checked',
      LaunchConfigurationsAllowingImdsv1: 'not-checked',
      InstancesAllowingImdsv1: 'not-checked',
      ReadinessCheckResult: 'NOT_CHECKED',
      LaunchTemplatesAllowingImdsv1Count: '0',
      LaunchConfigurationsAllowingImdsv1Count: '0',
      InstancesAllowingImdsv1Count: '0',
    });
    expect(logs.join('\n')).toContain(`a declarative policy manages the settings; ${operation} skipped (SkipIfManagedByDeclarativePolicy)`);
  });

  test('"false" is the default: the Create fails', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'false' }));
    expect(answer.Status).toBe('FAILED');
  });
});

describe('reasons and logs, exactly', () => {
  test('a failure is logged with its description', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'bad' }));
    expect(logs).toContainEqual(JSON.stringify({ message: 'failed', error: `InvalidPropertiesError: ${answer.Reason!.replace(/^InvalidPropertiesError: /, '')}` }));
  });

  test('the wait for IAM on the first EC2 call is logged as such', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .rejectsOnce(serviceError('UnauthorizedOperation', 'not yet', 403))
      .callsFake(() => ({ AccountLevel: { ...world.state, ...world.managedBy } }));
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(logs).toContainEqual(JSON.stringify({ message: 'UnauthorizedOperation on the first EC2 call: waiting for the role\'s policy to propagate', attempt: 1 }));
  });

  test('the waits for IAM on the claim\'s Put and Delete are logged as SSM calls', async () => {
    ssm.on(PutParameterCommand).rejectsOnce(serviceError('AccessDeniedException', 'not yet')).callsFake((input) => {
      world.parameters.set(input.Name, input.Value);
      return {};
    });
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    ssm.on(DeleteParameterCommand).rejectsOnce(serviceError('AccessDeniedException', 'not yet')).callsFake((input) => {
      world.parameters.delete(input.Name);
      return {};
    });
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    const waits = logs.filter((line) => line.includes('waiting for the role'));
    expect(waits).toEqual([1, 2].map(() => JSON.stringify({ message: 'AccessDeniedException on the first SSM call: waiting for the role\'s policy to propagate', attempt: 1 })));
  });

  test('the Delete after a failed Create says why it resets nothing', async () => {
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }, `${CREATE_FAILED_PREFIX}x`));
    expect(logs).toContainEqual(JSON.stringify({ message: 'Delete after a failed Create: nothing to reset' }));
  });

  test('a claim that cannot be removed is logged with the error', async () => {
    world.state = { HttpTokens: 'required' };
    ssm.on(DeleteParameterCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(logs).toContainEqual(JSON.stringify({ message: 'could not remove the claim; it is stale now and ignored by every reader', error: 'InternalServerError: boom' }));
  });

  test('fields an Update stops managing and leaves alone are logged by name; none when nothing is removed', async () => {
    const self = { stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID };
    world.state = { HttpTokens: 'no-preference', HttpPutResponseHopLimit: 3, HttpEndpoint: 'enabled' };
    world.parameters.set(claimName(self), formatClaim(self, { HttpTokens: 'optional' }));
    // HttpTokens is changed by someone since (not what the old properties asked) but still managed: no log for it.
    await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(logs.join('\n')).not.toContain('left as they are');
    // The hop limit was never taken over by this resource's claim: left, and logged.
    await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '3' }));
    expect(logs).toContainEqual(JSON.stringify({
      message: 'fields no longer managed and left as they are (changed since, managed by another resource, or never taken over)', fields: ['HttpPutResponseHopLimit'],
    }));
  });

  test('conflicts with several stacks are all named, separated by "; "', async () => {
    addClaim(world, 'a', 'Imds1', { HttpTokens: 'optional' });
    addClaim(world, 'b', 'Imds2', { HttpPutResponseHopLimit: 3 });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Reason).toContain(`manages it as "optional", this resource asks for "required"; HttpPutResponseHopLimit: stack b (${stackIdOf('b')})`);
  });

  test('a read-back that misses several fields names each, separated by "; ", as a ReadBackError', async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true }); // accepted, never applied
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, { HttpTokens: 'optional' }));
    expect(answer.Reason).toMatch(/^ReadBackError: ModifyInstanceMetadataDefaults succeeded but GetInstanceMetadataDefaults reports HttpTokens is "no-preference", expected "required"; HttpPutResponseHopLimit is -1, expected 2\. /);
  });

  test('a 4xx on the read-back after a successful Modify: the Modify took effect, so the previous values are put back', async () => {
    world.state = { HttpTokens: 'optional' };
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .callsFakeOnce(() => ({ AccountLevel: { ...world.state, ...world.managedBy } }))
      .rejectsOnce(serviceError('UnauthorizedOperation', 'no Get', 403))
      .callsFake(() => ({ AccountLevel: { ...world.state, ...world.managedBy } }));
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(answer.Reason).toBe('UnauthorizedOperation: no Get. The previous values were restored.');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }, { HttpTokens: 'optional' }]);
    expect(world.state).toEqual({ HttpTokens: 'optional' });
  });

  test('a claim that cannot be recorded when nothing was changed fails without any EC2 write', async () => {
    world.state = { HttpTokens: 'required' };
    ssm.on(PutParameterCommand).rejects(serviceError('InternalServerError', 'SSM is down', 500));
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', Ownership: 'claims-v1' }, { HttpTokens: 'required' }));
    expect(answer.Reason).toBe('OwnershipUnknownError: the claim could not be recorded in SSM Parameter Store (InternalServerError: SSM is down)');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
  });
});

describe('upgrade from the release without claims', () => {
  test('a field the resource managed before it had a claim is left as it is when a later Update drops it: nothing vouches for a value before', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    // The Update that upgrades the library: the same settings, the Ownership property added, no claim yet.
    const upgrade = await run(updateEvent(endpoint,
      { HttpTokens: 'required', HttpEndpoint: 'enabled', Ownership: 'claims-v1' },
      { HttpTokens: 'required', HttpEndpoint: 'enabled' }));
    expect(upgrade.Status).toBe('SUCCESS');
    // The claim, format 2 under its new name; the physical id (of that release) carries no values before.
    const name = claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID });
    expect(JSON.parse(world.parameters.get(name)!)).toEqual(expect.objectContaining({ format: 2, fields: { HttpTokens: 'required', HttpEndpoint: 'enabled' } }));
    expect(upgrade.PhysicalResourceId).toBe(PHYSICAL_ID);

    const dropped = await run(updateEvent(endpoint,
      { HttpEndpoint: 'enabled', Ownership: 'claims-v1' },
      { HttpTokens: 'required', HttpEndpoint: 'enabled', Ownership: 'claims-v1' }));
    expect(dropped.Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
  });

  test('a resource with a format 1 claim: the Update that upgrades records format 2 under the new name, writes nothing, and leaves the old claim (IAM allows only the new name)', async () => {
    const self = { stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID };
    world.state = { HttpTokens: 'required' };
    const legacy = JSON.stringify({ format: 1, ...self, fields: { HttpTokens: 'required' }, before: { HttpTokens: 'optional' } });
    world.parameters.set(legacyClaimName(self), legacy);
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', Ownership: 'claims-v2' }, { HttpTokens: 'required', Ownership: 'claims-v1' }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(JSON.parse(world.parameters.get(claimName(self))!)).toMatchObject({ format: 2, fields: { HttpTokens: 'required' } });
    expect(world.parameters.get(legacyClaimName(self))).toBe(legacy);
    // Its own format 1 claim is never another resource's: a later Delete resets.
    const deleted = await run(deleteEvent(endpoint, { HttpTokens: 'required', Ownership: 'claims-v2' }));
    expect(deleted.Status).toBe('SUCCESS');
    expect(world.state).toEqual({});
  });

  test('another resource\'s format 1 claim still counts: it blocks a conflicting Create and keeps its field on Delete', async () => {
    const other = { stackId: stackIdOf('platform'), stackName: 'platform', logicalResourceId: 'Imds1234' };
    world.parameters.set(legacyClaimName(other), JSON.stringify({ format: 1, ...other, fields: { HttpTokens: 'required' }, before: {} }));
    world.resources.set(`${other.stackId}|Imds1234`, 'UPDATE_COMPLETE');
    world.state = { HttpTokens: 'required' };
    expect((await run(createEvent(endpoint, { HttpTokens: 'optional' }))).Status).toBe('FAILED');
    expect((await run(deleteEvent(endpoint, { HttpTokens: 'required' }))).Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'required' });
  });
});

describe('only CloudFormation\'s events act (shared/confirm.ts)', () => {
  const own = () => claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID });
  const key = `${STACK_ID}|${LOGICAL_ID}`;
  const warnings = () => logs.map((l) => JSON.parse(l)).filter((l) => l.message === 'security warning');
  beforeEach(() => {
    world.confirmEvents = false; // each test records what CloudFormation shows
    world.state = { HttpTokens: 'required' };
    world.parameters.set(own(), formatClaim({ stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID }, { HttpTokens: 'required' }));
  });

  const expectNothingChanged = (answer: { Status: string; Reason?: string; Data?: unknown }) => {
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe('This event was not confirmed by CloudFormation; nothing was changed. See the function\'s log.');
    expect(answer.Data).toBeUndefined();
    expect(ec2.calls()).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
    expect(world.state).toEqual({ HttpTokens: 'required' });
    expect(world.parameters.has(own())).toBe(true);
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { Namespace: 'CdkImdsAccountDefaults', MetricData: [expect.objectContaining({ MetricName: 'UnconfirmedEvents', Value: 1 })] });
  };

  test('a forged Delete with the real ids while the resource is settled changes nothing, and the warning says what did not match', async () => {
    world.resources.set(key, { type: 'Custom::ImdsAccountDefaults', status: 'UPDATE_COMPLETE', physicalId: PHYSICAL_ID });
    const event = deleteEvent(endpoint, { HttpTokens: 'required' });
    const answer = await run(event);
    expectNothingChanged(answer);
    expect(answer.PhysicalResourceId).toBe(PHYSICAL_ID);
    expect(warnings()).toEqual([{
      message: 'security warning',
      warning: 'unconfirmed-event',
      mismatch: 'the resource is UPDATE_COMPLETE, not DELETE_IN_PROGRESS',
      RequestType: 'Delete',
      StackId: STACK_ID,
      LogicalResourceId: LOGICAL_ID,
      RequestId: event.RequestId,
    }]);
    expect(logs.join('\n')).not.toContain('cloudformation-custom-resource-response');
  });

  test('a forged Create with a made-up logical id in the same stack changes nothing and answers the marker id', async () => {
    const event = { ...createEvent(endpoint, { HttpTokens: 'optional' }), LogicalResourceId: 'Made1Up' };
    endpoint.issue({ stackId: STACK_ID, requestId: event.RequestId, logicalResourceId: 'Made1Up', region: REGION });
    await handler(event, lambdaContext());
    expect(warnings()[0]).toMatchObject({ mismatch: 'CloudFormation has no such stack or resource', LogicalResourceId: 'Made1Up' });
    expect(logs.join('\n')).toContain(`"status":"FAILED","physicalResourceId":"${CREATE_FAILED_PREFIX}${event.RequestId}"`);
    expect(ec2.calls()).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
    endpoint.refused.length = 0;
  });

  test.each([
    ['another type', { type: 'Custom::Other', status: 'DELETE_IN_PROGRESS', physicalId: PHYSICAL_ID }, 'the resource is of type Custom::Other, not Custom::ImdsAccountDefaults'],
    ['another physical id', { type: 'Custom::ImdsAccountDefaults', status: 'DELETE_IN_PROGRESS', physicalId: `${PHYSICAL_ID}:HttpTokens=optional` }, 'the PhysicalResourceId is not the resource\'s'],
    ['no physical id (only a failed Create has none)', { type: 'Custom::ImdsAccountDefaults', status: 'DELETE_IN_PROGRESS' }, 'the PhysicalResourceId is not the resource\'s'],
    ['a late event (CloudFormation stopped waiting)', { type: 'Custom::ImdsAccountDefaults', status: 'DELETE_FAILED', physicalId: PHYSICAL_ID }, 'the resource is DELETE_FAILED, not DELETE_IN_PROGRESS'],
    ['no status', { type: 'Custom::ImdsAccountDefaults', status: '', physicalId: PHYSICAL_ID }, 'the resource is without status, not DELETE_IN_PROGRESS'],
  ])('a Delete where CloudFormation shows %s changes nothing', async (_what, resource, mismatch) => {
    world.resources.set(key, resource);
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expectNothingChanged(answer);
    expect(warnings()[0].mismatch).toBe(mismatch);
  });

  test('a Delete whose stack CloudFormation no longer has changes nothing', async () => {
    world.resources.set(key, { type: 'Custom::ImdsAccountDefaults', status: 'DELETE_IN_PROGRESS', physicalId: PHYSICAL_ID });
    world.stacks.set(STACK_ID, null);
    expectNothingChanged(await run(deleteEvent(endpoint, { HttpTokens: 'required' })));
    expect(warnings()[0].mismatch).toBe('CloudFormation has no such stack');
  });

  test('an Update with a ServiceToken of another function changes nothing', async () => {
    world.resources.set(key, { type: 'Custom::ImdsAccountDefaults', status: 'UPDATE_IN_PROGRESS', physicalId: PHYSICAL_ID });
    const event = { ...updateEvent(endpoint, { HttpTokens: 'optional' }, { HttpTokens: 'required' }), ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:other` };
    expectNothingChanged(await run(event));
    expect(warnings()[0].mismatch).toBe('the ServiceToken is not the invoked function');
    expect(cfn.calls()).toHaveLength(0);
  });

  test('an event CloudFormation confirms runs: the Update, and the Delete with the stack status read', async () => {
    world.resources.set(key, { type: 'Custom::ImdsAccountDefaults', status: 'UPDATE_IN_PROGRESS', physicalId: PHYSICAL_ID });
    expect((await run(updateEvent(endpoint, { HttpTokens: 'optional' }, { HttpTokens: 'required' }))).Status).toBe('SUCCESS');
    expect(world.state).toEqual({ HttpTokens: 'optional' });
    expect(cfn).not.toHaveReceivedCommand(DescribeStacksCommand);
    world.resources.set(key, { type: 'Custom::ImdsAccountDefaults', status: 'DELETE_IN_PROGRESS', physicalId: PHYSICAL_ID });
    world.stacks.set(STACK_ID, 'DELETE_IN_PROGRESS');
    expect((await run(deleteEvent(endpoint, { HttpTokens: 'optional' }))).Status).toBe('SUCCESS');
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: LOGICAL_ID });
    expect(warnings()).toEqual([]);
  });

  test.each(['Create', 'Update', 'Delete'])('CloudFormation unreachable: the %s fails, changing nothing', async (type) => {
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('Throttling', 'Rate exceeded'));
    const event = type === 'Create' ? createEvent(endpoint, { HttpTokens: 'optional' })
      : type === 'Update' ? updateEvent(endpoint, { HttpTokens: 'optional' }, { HttpTokens: 'required' }) : deleteEvent(endpoint, { HttpTokens: 'required' });
    const answer = await run(event);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: 'CouldNotConfirmError: could not confirm the event with CloudFormation (Throttling: Rate exceeded); nothing was changed' });
    expect(ec2.calls()).toHaveLength(0);
    expect(world.parameters.has(own())).toBe(true);
  });

  test('access denied on the confirmation is waited out while IAM propagates', async () => {
    world.confirmEvents = true;
    cfn.on(DescribeStackResourceCommand).rejectsOnce(serviceError('AccessDenied', 'not yet', 403)).callsFake(fakes(world).describeStackResource);
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(logs).toContainEqual(JSON.stringify({ message: 'AccessDenied on the first CloudFormation call: waiting for the role\'s policy to propagate', attempt: 1 }));
  });
});

describe('Delete: rollback, RESTORE, retained owners, re-apply after reset', () => {
  const self = { stackId: STACK_ID, stackName: 'imds', logicalResourceId: LOGICAL_ID };
  const withBefore = `${PHYSICAL_ID}:HttpTokens=required,HttpPutResponseHopLimit=3`;

  test.each(['ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'IMPORT_ROLLBACK_IN_PROGRESS'])(
    'a Delete while the stack is %s restores the values before the Create', async (status) => {
      world.eventStackStatus = status;
      world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
      const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, withBefore));
      expect(answer.Status).toBe('SUCCESS');
      expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: 3 }]);
      expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
    });

  test.each(['DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE'])('a deliberate Delete (stack %s) resets, as before', async (status) => {
    world.eventStackStatus = status;
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, withBefore));
    expect(world.state).toEqual({});
  });

  test('OnDelete RESTORE restores on a deliberate Delete; a field without a value before goes to no preference', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2, InstanceMetadataTags: 'enabled' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2', InstanceMetadataTags: 'enabled', OnDelete: 'RESTORE' }, withBefore));
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
  });

  test('restoring leaves a field that no longer holds this resource\'s value (someone changed it since)', async () => {
    world.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
    world.state = { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 };
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, `${PHYSICAL_ID}:HttpTokens=no-preference,HttpPutResponseHopLimit=3`));
    expect(world.state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 3 });
    expect(logs.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ message: 'Delete restores the values from before the Create', changedSince: ['HttpTokens'] }));
  });

  test('restoring keeps a field another live resource manages', async () => {
    world.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
    world.state = { HttpPutResponseHopLimit: 2 };
    addClaim(world, 'platform', 'Imds1234', { HttpPutResponseHopLimit: 2 });
    await run(deleteEvent(endpoint, { HttpPutResponseHopLimit: '2' }, withBefore));
    expect(world.state).toEqual({ HttpPutResponseHopLimit: 2 });
  });

  test('an unknown OnDelete on a Delete resets (it was never accepted); Create and Update reject it', async () => {
    world.state = { HttpTokens: 'required' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required', OnDelete: 'KEEP' }, withBefore));
    expect(world.state).toEqual({});
    expect(logs.join('\n')).toContain('OnDelete is not understood: the fields are reset');
    ec2.resetHistory();
    const created = await run(createEvent(endpoint, { HttpTokens: 'required', OnDelete: 'KEEP' }));
    expect(created.Reason).toBe('InvalidPropertiesError: OnDelete must be one of "RESET", "RESTORE"; got "KEEP"');
    const updated = await run(updateEvent(endpoint, { HttpTokens: 'required', OnDelete: 'keep' }, { HttpTokens: 'required' }));
    expect(updated.Status).toBe('FAILED');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
  });

  test('Retained "true" marks the claim retained; Retained must be a flag', async () => {
    await run(createEvent(endpoint, { HttpTokens: 'required', Retained: 'true' }));
    expect(JSON.parse(world.parameters.get(claimName(self))!)).toMatchObject({ retained: true });
    await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', Retained: 'true' }));
    expect('retained' in JSON.parse(world.parameters.get(claimName(self))!)).toBe(false);
    expect((await run(createEvent(endpoint, { HttpTokens: 'required', Retained: 'yes' }))).Reason).toMatch(/Retained must be "true" or "false"/);
  });

  test('a retained owner whose resource is gone keeps its field from another owner\'s Delete while EC2 holds its value', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    addClaim(world, 'kept', 'Imds1234', { HttpTokens: 'required' }, 'DELETE_SKIPPED', { retained: true });
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(world.state).toEqual({ HttpTokens: 'required' });
    expect(logs).toContainEqual(JSON.stringify({ message: 'fields a retained resource manages, and EC2 still holds its values, are not reset', fields: ['HttpTokens'] }));
  });

  test.each([
    ['not retained', { retained: false }, { HttpTokens: 'required' }],
    ['retained, but EC2 holds another value', { retained: true }, { HttpTokens: 'optional' }],
  ])('a gone owner %s does not keep the field', async (_what, options, fields) => {
    world.state = { HttpTokens: 'required' };
    addClaim(world, 'kept', 'Imds1234', fields, 'DELETE_COMPLETE', options);
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(world.state).toEqual({});
  });

  test('after a reset, a live claim recorded meanwhile gets back the value EC2 held (the Delete/Create race)', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    // The other resource records its claim while this Delete writes (after the first listing).
    ec2.on(ModifyInstanceMetadataDefaultsCommand).callsFakeOnce((input: ModifyInstanceMetadataDefaultsCommandInput) => {
      addClaim(world, 'newcomer', 'Imds1234', { HttpTokens: 'required', HttpPutResponseHopLimit: 4 });
      for (const [k, v] of Object.entries(input)) {
        if (v === 'no-preference' || v === -1) delete world.state[k];
      }
      return { Return: true };
    }).callsFake((input: ModifyInstanceMetadataDefaultsCommandInput) => {
      Object.assign(world.state, input);
      return { Return: true };
    });
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    // HttpTokens is put back (EC2 held the claim's value); the hop limit is not (EC2 held 2, the claim says 4).
    expect(modifyCalls()).toEqual([{ HttpTokens: 'no-preference', HttpPutResponseHopLimit: -1 }, { HttpTokens: 'required' }]);
    expect(world.state).toEqual({ HttpTokens: 'required' });
    expect(logs).toContainEqual(JSON.stringify({ message: 'another live resource claims fields this Delete reset: their values are put back', fields: { HttpTokens: 'required' } }));
  });

  test('a restoring Delete does not re-read the claims; a reset that changed nothing does not either', async () => {
    world.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
    world.state = { HttpTokens: 'required' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }, withBefore));
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(1);
    world.eventStackStatus = undefined;
    world.state = {};
    ssm.resetHistory();
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(1);
  });

  test('a failed re-read after the reset is logged, and the Delete still succeeds', async () => {
    world.state = { HttpTokens: 'required' };
    ssm.on(GetParametersByPathCommand).callsFakeOnce(fakes(world).getParametersByPath).rejects(serviceError('InternalServerError', 'down', 500));
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(logs.join('\n')).toContain('could not check the claims again after the reset');
  });
});

describe('Delete: what a Delete logs and re-reads (mutation testing)', () => {
  const withBefore = `${PHYSICAL_ID}:HttpTokens=required,HttpPutResponseHopLimit=3`;
  const messages = () => logs.map((l) => JSON.parse(l).message);

  test('a restoring Delete that changes a field does not re-read the claims: only a reset does', async () => {
    world.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, withBefore));
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: 3 }]);
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(1);
  });

  test('the restore\'s log line: the target, and changedSince only when a field changed since', async () => {
    world.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, withBefore));
    expect(logs).toContainEqual(JSON.stringify({ message: 'Delete restores the values from before the Create', target: { HttpTokens: 'required', HttpPutResponseHopLimit: 3 } }));
  });

  test('a resetting Delete logs no restore', async () => {
    world.state = { HttpTokens: 'required' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }, withBefore));
    expect(world.state).toEqual({});
    expect(messages()).not.toContain('Delete restores the values from before the Create');
  });

  test('after a reset that no live claim now manages, nothing is put back and nothing more is read or logged', async () => {
    world.state = { HttpTokens: 'required' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(2);
    expect(messages()).not.toContain('another live resource claims fields this Delete reset: their values are put back');
    expect(messages()).not.toContain('the settings are already as requested: no EC2 write');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'no-preference' }]);
  });

  test('a failed re-read after the reset is logged with its error', async () => {
    world.state = { HttpTokens: 'required' };
    ssm.on(GetParametersByPathCommand).callsFakeOnce(fakes(world).getParametersByPath).rejects(serviceError('InternalServerError', 'down', 500));
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(logs).toContainEqual(JSON.stringify({
      message: 'could not check the claims again after the reset',
      error: 'OwnershipUnknownError: the claims under /cdk-imds-account-defaults/claims in SSM Parameter Store could not be read (InternalServerError: down)',
    }));
  });

  test('an OnDelete a Delete does not understand is logged with the error', async () => {
    world.state = { HttpTokens: 'required' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required', OnDelete: 'KEEP' }, withBefore));
    expect(logs).toContainEqual(JSON.stringify({
      message: 'OnDelete is not understood: the fields are reset',
      error: 'InvalidPropertiesError: OnDelete must be one of "RESET", "RESTORE"; got "KEEP"',
    }));
  });

  test('only OwnershipUnknownError leaves the settings: any other error while reading ownership fails the Delete, changing nothing', async () => {
    world.state = { HttpTokens: 'required' };
    // An unexpected error inside readOwnership, outside its SSM and CloudFormation calls: its 'ownership' log line throws.
    const logSpy = console.log as jest.Mock;
    const capture = logSpy.getMockImplementation()!;
    logSpy.mockImplementation((...args: unknown[]) => {
      if (String(args[0]).startsWith('{"message":"ownership"')) throw new Error('unexpected');
      capture(...args);
    });
    try {
      const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
      expect(answer).toMatchObject({ Status: 'FAILED', Reason: 'unexpected' });
      expect(modifyCalls()).toEqual([]);
      expect(world.state).toEqual({ HttpTokens: 'required' });
    } finally {
      logSpy.mockImplementation(capture);
    }
  });
});
