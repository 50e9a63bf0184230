/**
 * The handler's rules that live inside the SDK clients (retries with backoff,
 * per-attempt timeouts, the abort at the deadline, the safeguards for clients
 * that do not know HttpTokensEnforced), with the real @aws-sdk/client-ec2,
 * client-ssm and client-cloudformation talking to the local emulators.
 * aws-sdk-client-mock would replace exactly the code under test here.
 * The two tests that wait out the 12 s ownership budget are in ownership.budget.test.ts.
 */
import { claimName } from '../../../lambda/account-defaults/claims';
import { Ec2Emulator } from '../../support/ec2-emulator';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { SsmEmulator } from '../../support/ssm-emulator';
import { LOGICAL_ID, PHYSICAL_ID, REGION, STACK_ID, createEvent, deleteEvent, updateEvent } from '../support';
import { Emulators, HandlerModule, answerOf as answerOfEmulated, loadHandler, useEmulators } from '../support/emulators';

// The SDK's backoff is random (up to a few seconds for throttling): leave room on a busy machine.
jest.setTimeout(30_000);

const emulators: Emulators = useEmulators();
let emulator: Ec2Emulator;
let ssm: SsmEmulator;
let endpoint: ResponseEndpoint;
beforeAll(() => {
  ({ ec2: emulator, ssm, endpoint } = emulators);
});

const answerOf = (handler: HandlerModule['handler'], event: Parameters<HandlerModule['handler']>[0], timeoutMs?: number) =>
  answerOfEmulated(emulators, handler, event, timeoutMs);

test('throttling (RequestLimitExceeded) is retried with backoff and the Create succeeds', async () => {
  const { handler } = loadHandler();
  emulator.injectFault({ code: 'RequestLimitExceeded', times: 3, action: 'ModifyInstanceMetadataDefaults' });
  const answer = await answerOf(handler, createEvent(endpoint, { HttpTokens: 'required' }));
  expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${PHYSICAL_ID}:HttpTokens=no-preference` });
  expect(emulator.requestsOf('ModifyInstanceMetadataDefaults')).toHaveLength(4);
  expect(emulator.state(REGION)).toEqual({ HttpEndpoint: 'enabled', HttpTokens: 'required' });
});

test('5xx (InternalError) is retried and the Delete succeeds', async () => {
  const { handler } = loadHandler();
  emulator.setState(REGION, { HttpTokens: 'required', HttpEndpoint: 'enabled' });
  emulator.injectFault({ code: 'InternalError', times: 2 });
  const answer = await answerOf(handler, deleteEvent(endpoint, { HttpTokens: 'required' }));
  expect(answer.Status).toBe('SUCCESS');
  expect(emulator.state(REGION)).toEqual({ HttpEndpoint: 'enabled' });
});

test('5xx that outlasts the retries fails the Create with the EC2 error code, after restoring the previous values', async () => {
  const { handler, IAM_PROPAGATION_ATTEMPTS } = loadHandler();
  expect(IAM_PROPAGATION_ATTEMPTS).toBeGreaterThan(1);
  emulator.setState(REGION, { HttpTokens: 'optional' });
  // MAX_ATTEMPTS (6) failures: the Modify's outcome is unknown, so the handler puts the old values back.
  emulator.injectFault({ code: 'InternalError', times: 6, action: 'ModifyInstanceMetadataDefaults' });
  const answer = await answerOf(handler, createEvent(endpoint, { HttpTokens: 'required' }));
  expect(answer.Status).toBe('FAILED');
  expect(answer.Reason).toMatch(/^InternalError: .*\. The previous values were restored\.$/);
  expect(emulator.requestsOf('ModifyInstanceMetadataDefaults')).toHaveLength(7);
  expect(emulator.state(REGION)).toEqual({ HttpTokens: 'optional' });
}, 20_000);

test('a hanging EC2 endpoint: the timer answers FAILED before the deadline and stops the calls', async () => {
  const { handler, RESPONSE_RESERVE_MS } = loadHandler();
  emulator.hang = true;
  const timeoutMs = RESPONSE_RESERVE_MS + 1_500;
  const started = Date.now();
  const answer = await answerOf(handler, createEvent(endpoint, { HttpTokens: 'required' }), timeoutMs);
  const elapsed = Date.now() - started;

  expect(answer.Status).toBe('FAILED');
  expect(answer.Reason).toMatch(/^Create did not finish within \d+ s .* the settings may be partially applied/);
  expect(answer.PhysicalResourceId).toMatch(/^ImdsAccountDefaults:CreateFailed:/);
  expect(elapsed).toBeLessThan(timeoutMs);
  // answerOf checked that exactly one answer arrived: not a second one when the aborted call failed.
});

describe('with @aws-sdk/client-ec2 3.996.0, which does not know HttpTokensEnforced', () => {
  test('the setting still reaches EC2 and the read-back sees it', async () => {
    const { handler } = loadHandler('@aws-sdk/client-ec2-v3996');
    const answer = await answerOf(handler, createEvent(endpoint, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data).toMatchObject({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
    expect(emulator.state(REGION)).toMatchObject({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  });

  test('an EC2 that does not apply it makes the resource fail, never succeed', async () => {
    const { handler } = loadHandler('@aws-sdk/client-ec2-v3996');
    emulator.knowsHttpTokensEnforced = false; // rejects the parameter as unknown
    const answer = await answerOf(handler, createEvent(endpoint, { HttpTokensEnforced: 'enabled' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/UnknownParameter/);
  });
});

describe('claims through the real client-ssm and client-cloudformation', () => {
  const ownClaim = claimName({ stackId: STACK_ID, logicalResourceId: LOGICAL_ID });

  test('a Create records its claim in SSM and a Delete removes it', async () => {
    const { handler } = loadHandler();
    expect((await answerOf(handler, createEvent(endpoint, { HttpTokens: 'required' }))).Status).toBe('SUCCESS');
    expect(JSON.parse(ssm.parameters(REGION).get(ownClaim)!.Value)).toMatchObject({ format: 2, stackId: STACK_ID, fields: { HttpTokens: 'required' } });
    expect(ssm.parameters(REGION).get(ownClaim)).toMatchObject({ Type: 'String', Tier: 'Standard' });
    expect((await answerOf(handler, deleteEvent(endpoint, { HttpTokens: 'required' }))).Status).toBe('SUCCESS');
    expect(ssm.parameters(REGION).has(ownClaim)).toBe(false);
    expect(emulator.state(REGION)).toEqual({ HttpEndpoint: 'enabled' });
  });

  test('SSM throttling is retried by the client and the Update succeeds', async () => {
    const { handler } = loadHandler();
    ssm.injectFault({ code: 'ThrottlingException', times: 2, action: 'GetParametersByPath' });
    const answer = await answerOf(handler, updateEvent(endpoint, { HttpTokens: 'required' }, { HttpTokens: 'optional' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(ssm.requestsOf('GetParametersByPath')).toHaveLength(3);
  });
});
