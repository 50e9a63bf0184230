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
import {
  EC2Client,
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ACCOUNT, PHYSICAL_ID, REGION, answerOf, captureLogs, createEvent, deleteEvent, updateEvent } from './support';
import { CREATE_FAILED_PREFIX, handler } from '../../lambda/index';
import { ResponseEndpoint } from '../support/response-endpoint';

const ec2 = mockClient(EC2Client);
let endpoint: ResponseEndpoint;
let logs: string[];

type State = Record<string, string | number | undefined>;
let state: State;
let managedBy: { ManagedBy: string; ManagedExceptionMessage?: string };

/** Emulates EC2's semantics on the mock: Modify applies, Get reports. */
function emulateEc2(): void {
  ec2.reset();
  ec2.on(GetInstanceMetadataDefaultsCommand).callsFake(() => ({ AccountLevel: { ...state, ...managedBy } }));
  ec2.on(ModifyInstanceMetadataDefaultsCommand).callsFake((input: ModifyInstanceMetadataDefaultsCommandInput) => {
    for (const [key, value] of Object.entries(input)) {
      state[key] = value === 'no-preference' || value === -1 ? undefined : value;
      if (state[key] === undefined) delete state[key];
    }
    return { Return: true };
  });
}

const run = (event: Parameters<typeof handler>[0]) => answerOf(handler, endpoint, event);

const modifyCalls = () => ec2.commandCalls(ModifyInstanceMetadataDefaultsCommand).map((c) => c.args[0].input);

beforeAll(async () => {
  endpoint = await ResponseEndpoint.start();
  logs = captureLogs();
});
afterAll(() => endpoint.stop());
beforeEach(() => {
  state = { HttpEndpoint: 'enabled' }; // a field set outside the stack
  managedBy = { ManagedBy: 'account' };
  endpoint.attempts = 0;
  logs.length = 0;
  emulateEc2();
});

describe('Create', () => {
  test('applies exactly the given fields, parsed from strings, and returns the effective settings', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' }));

    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 }]);
    expect(state).toEqual({ HttpEndpoint: 'enabled', HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });
    expect(answer.Data).toEqual({
      HttpTokens: 'required',
      HttpTokensEnforced: 'enabled',
      HttpPutResponseHopLimit: '2',
      HttpEndpoint: 'enabled',
      InstanceMetadataTags: 'no-preference',
      ManagedBy: 'account',
      Applied: 'true',
    });
  });

  test('the physical id names the account and Region of the stack', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.PhysicalResourceId).toBe(`ImdsAccountDefaults:${ACCOUNT}:${REGION}`);
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
    state = { HttpTokens: 'optional' };
    let modifies = 0;
    ec2.on(ModifyInstanceMetadataDefaultsCommand).callsFake((input: ModifyInstanceMetadataDefaultsCommandInput) => {
      // The first Modify "succeeds" without effect on HttpPutResponseHopLimit; the restore applies.
      if (modifies++ === 0) state.HttpTokens = input.HttpTokens;
      else Object.assign(state, input);
      return { Return: true };
    });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/GetInstanceMetadataDefaults reports HttpPutResponseHopLimit is -1, expected 2\. The previous values were restored\./);
    expect(modifyCalls()[1]).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: -1 });
    expect(state.HttpTokens).toBe('optional');
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
      .callsFake(() => ({ AccountLevel: { ...state, ...managedBy } }));
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

  test('a field in the old properties but not in the new ones is reset to no preference', async () => {
    state = { HttpTokens: 'required', InstanceMetadataTags: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' };
    const answer = await run(updateEvent(endpoint,
      { HttpTokens: 'required' },
      { HttpTokens: 'required', InstanceMetadataTags: 'enabled', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', InstanceMetadataTags: 'no-preference', HttpPutResponseHopLimit: -1 }]);
    expect(state).toEqual({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
  });

  test('an Update whose settings did not change makes no EC2 write and still returns the attributes', async () => {
    state = { HttpTokens: 'required' };
    const answer = await run(updateEvent(endpoint,
      { HttpTokens: 'required', HttpPutResponseHopLimit: '2', SkipIfManagedByDeclarativePolicy: 'true' },
      { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(answer.Data).toMatchObject({ HttpTokens: 'required', Applied: 'true' });
  });

  test('a failed Update followed by the rollback Update restores the old values', async () => {
    state = { HttpTokens: 'optional', HttpPutResponseHopLimit: 1 };
    const oldProps = { HttpTokens: 'optional', HttpPutResponseHopLimit: '1' };
    const newProps = { HttpTokens: 'required', HttpPutResponseHopLimit: '100' }; // 100 only shows at deploy time

    const failed = await run(updateEvent(endpoint, newProps, oldProps));
    expect(failed).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(failed.Reason).toMatch(/HttpPutResponseHopLimit .* got "100"/);
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);

    // CloudFormation's rollback: old and new swapped. The invalid values are now the "old" ones and must not fail it.
    const rollback = await run(updateEvent(endpoint, oldProps, newProps));
    expect(rollback).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1 });
  });

  test('a rollback Update after a partly applied Update removes the field the failed Update added', async () => {
    state = { HttpTokens: 'required', InstanceMetadataTags: 'enabled' };
    const rollback = await run(updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'required', InstanceMetadataTags: 'enabled' }));
    expect(rollback.Status).toBe('SUCCESS');
    expect(state).toEqual({ HttpTokens: 'required' });
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
    state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' };
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(modifyCalls()).toEqual([{ HttpTokens: 'no-preference', HttpPutResponseHopLimit: -1 }]);
    expect(state).toEqual({ HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' });
  });

  test('resets a field whose value was invalid (it was never applied, and must not block the delete)', async () => {
    const answer = await run(deleteEvent(endpoint, { HttpPutResponseHopLimit: '100' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: -1 }]);
  });

  test('fails when the reset does not take effect', async () => {
    state = { HttpTokens: 'required' };
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true });
    const answer = await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/HttpTokens is "required", expected "no-preference"/);
  });
});

describe('declarative policy', () => {
  beforeEach(() => {
    managedBy = { ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'IMDS is managed centrally: contact cloud-platform@example.com' };
  });

  test.each([
    ['Create', () => createEvent(endpoint, { HttpTokens: 'required' })],
    ['Update', () => updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' })],
    ['Delete', () => deleteEvent(endpoint, { HttpTokens: 'required' })],
  ])('%s fails by default, quoting the policy message, without calling Modify', async (operation, event) => {
    const answer = await run(event());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(new RegExp(`declarative policy manages .* \\(ManagedBy: declarative-policy\\), so ${operation} cannot change them`));
    expect(answer.Reason).toContain('"IMDS is managed centrally: contact cloud-platform@example.com"');
    expect(answer.Reason).toContain('skipIfManagedByDeclarativePolicy');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
  });

  test.each([
    ['Create', () => createEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' })],
    ['Update', () => updateEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' }, { HttpTokens: 'optional' })],
    ['Delete', () => deleteEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' })],
  ])('%s succeeds without changes when the resource opts in', async (_operation, event) => {
    const answer = await run(event());
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    if (answer.Data) {
      expect(answer.Data).toMatchObject({ ManagedBy: 'declarative-policy', Applied: 'false' });
    }
  });
});

describe('the answer to CloudFormation', () => {
  test('an unknown RequestType fails with a reason', async () => {
    const event = { ...createEvent(endpoint, { HttpTokens: 'required' }), RequestType: 'Replace' } as any;
    const answer = await run(event);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: 'unknown RequestType "Replace"' });
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
