/**
 * End-to-end: the shipped handler when EC2 or the ResponseURL misbehaves:
 * throttling, 5xx, missing permissions, a declarative policy, a hanging
 * endpoint, a failing PUT. The slow scenarios run concurrently (they mostly
 * wait on retries and timers), so the hanging endpoint's 25 s overlap the rest.
 */
import { REGION, expectFailed, expectSuccess, scenario } from './harness/scenario';
import { synthesizeImds } from './harness/template';
import { ImdsHttpTokens, ImdsHttpTokensEnforced } from '../../src';

const GET = 'GetInstanceMetadataDefaults';
const MODIFY = 'ModifyInstanceMetadataDefaults';
const IMDSV2 = { httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED };
const CREATE_FAILED_ID = /^ImdsAccountDefaults:CreateFailed:/;

scenario('a hanging EC2 endpoint: FAILED reaches CloudFormation before the Timeout, and the rollback Delete does nothing', async (w) => {
  w.ec2.setState(REGION, { HttpEndpoint: 'enabled' });
  w.ec2.hang = true;
  const stack = w.stack();

  const create = await stack.create(synthesizeImds(IMDSV2));
  expectFailed(create, /did not finish within 25 s/);
  expect(create.answer!.PhysicalResourceId).toMatch(CREATE_FAILED_ID);
  // The answer came from the handler's deadline timer, 5 s before the 30 s Timeout, and the handler then returned.
  const answeredAfterMs = create.invocation!.handlerMs!;
  expect(answeredAfterMs).toBeGreaterThan(24_000);
  expect(answeredAfterMs).toBeLessThan(30_000);
  // Each attempt was given up after the client's 5 s requestTimeout and retried, not held to the deadline.
  expect(w.ec2.requestsHeld).toBeGreaterThanOrEqual(3);
  expect(w.state()).toEqual({ HttpEndpoint: 'enabled' });

  w.ec2.hang = false;
  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpEndpoint: 'enabled' });
}, { concurrent: true, timeoutMs: 60_000 });

scenario('throttling (RequestLimitExceeded) is retried and the Create succeeds', async (w) => {
  w.ec2.injectFault({ code: 'RequestLimitExceeded', times: 3 });
  const stack = w.stack();

  const create = await stack.create(synthesizeImds(IMDSV2));
  expectSuccess(create, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  expect(create.ec2Requests.filter((r) => r.fault === 'RequestLimitExceeded')).toHaveLength(3);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
}, { concurrent: true });

scenario('5xx (InternalError, Unavailable) are retried and the Update succeeds', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL })));

  w.ec2.injectFault({ code: 'InternalError', times: 2, action: MODIFY });
  w.ec2.injectFault({ code: 'Unavailable', times: 1, action: GET });
  const update = await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }));
  expectSuccess(update, { HttpTokens: 'required' });
  expect(update.ec2Requests.filter((r) => r.fault)).toHaveLength(3);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
}, { concurrent: true });

scenario('5xx that do not stop: FAILED before the Timeout, the previous values restored, the rollback Delete does nothing', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'optional' });
  w.ec2.injectFault({ code: 'InternalError', times: 1_000, action: MODIFY });
  const stack = w.stack();

  const create = await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }));
  expectFailed(create, /InternalError: An internal error has occurred.*Restoring the previous values failed too/);
  expect(create.answer!.PhysicalResourceId).toMatch(CREATE_FAILED_ID);
  expect(w.state()).toEqual({ HttpTokens: 'optional' });

  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpTokens: 'optional' });
}, { concurrent: true });

scenario('the read-back after Modify keeps failing: the Create puts the previous values back and fails', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'optional', HttpEndpoint: 'enabled' });
  // The first Get (the state before) goes through; every read-back after the Modify fails.
  w.ec2.injectFault({ code: 'InternalError', times: 1_000, action: GET, after: 1 });
  const stack = w.stack();

  const create = await stack.create(synthesizeImds(IMDSV2));
  expectFailed(create, /InternalError.*The previous values were restored\./);
  expect(create.ec2Actions.filter((a) => a === MODIFY)).toHaveLength(2);
  expect(create.ec2Requests.filter((r) => r.action === MODIFY)[1].params).toMatchObject({ HttpTokens: 'optional', HttpTokensEnforced: 'no-preference' });
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpEndpoint: 'enabled' });

  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
}, { concurrent: true });

scenario('UnauthorizedOperation on Modify: FAILED without retries, nothing changed, the rollback Delete does nothing', async (w) => {
  w.ec2.injectFault({ code: 'UnauthorizedOperation', times: 1_000, action: MODIFY });
  const stack = w.stack();

  const create = await stack.create(synthesizeImds(IMDSV2));
  expectFailed(create, /UnauthorizedOperation: You are not authorized to perform this operation/);
  expect(create.answer!.PhysicalResourceId).toMatch(CREATE_FAILED_ID);
  expect(create.ec2Actions.filter((a) => a === MODIFY)).toHaveLength(1);
  expect(w.state()).toEqual({});

  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({});
}, { concurrent: true });

scenario('UnauthorizedOperation on every call (no permission at all): FAILED before the Timeout', async (w) => {
  w.ec2.injectFault({ code: 'UnauthorizedOperation', times: 1_000 });
  const stack = w.stack();

  const create = await stack.create(synthesizeImds(IMDSV2));
  expectFailed(create, /UnauthorizedOperation/);
  expect(create.ec2Actions).not.toContain(MODIFY);
  expect(w.state()).toEqual({});
  expectSuccess(await stack.delete());
}, { concurrent: true });

scenario('UnauthorizedOperation on the first call only (the role\'s policy still propagating): the Create succeeds', async (w) => {
  w.ec2.injectFault({ code: 'UnauthorizedOperation', times: 1, action: GET });
  const stack = w.stack();

  expectSuccess(await stack.create(synthesizeImds(IMDSV2)), { HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
}, { concurrent: true });

scenario('a declarative policy manages the settings: create fails by default with the policy\'s message; nothing changes', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  w.ec2.setDeclarativePolicy(REGION, 'IMDS settings are managed by the platform team');
  const stack = w.stack();

  const create = await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL }));
  expectFailed(create, /declarative policy.*"IMDS settings are managed by the platform team".*skipIfManagedByDeclarativePolicy/);
  expect(create.ec2Actions).toEqual([GET]);
  expect(w.state()).toEqual({ HttpTokens: 'required' });

  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
});

scenario('a declarative policy manages the settings: with skipIfManagedByDeclarativePolicy, create, update and delete succeed without changes', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  w.ec2.setDeclarativePolicy(REGION, 'Managed by the organization');
  const stack = w.stack();

  const create = await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL, skipIfManagedByDeclarativePolicy: true }));
  expect(create.event!.ResourceProperties.SkipIfManagedByDeclarativePolicy).toBe('true');
  expectSuccess(create, { HttpTokens: 'required', ManagedBy: 'declarative-policy', Applied: 'false' });
  expect(create.ec2Actions).toEqual([GET]);

  const update = await stack.update(synthesizeImds({
    httpTokens: ImdsHttpTokens.OPTIONAL, httpPutResponseHopLimit: 2, skipIfManagedByDeclarativePolicy: true,
  }));
  expectSuccess(update, { ManagedBy: 'declarative-policy', Applied: 'false' });
  expect(update.ec2Actions).not.toContain(MODIFY);

  const del = await stack.delete();
  expectSuccess(del);
  expect(del.ec2Actions).not.toContain(MODIFY);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
});

scenario('the first PUT to the ResponseURL fails (S3 500): the answer is retried and the logs never hold the signature', async (w) => {
  w.responses.failNext(2);
  const stack = w.stack();

  const create = await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }));
  expectSuccess(create);
  expect(create.invocation!.logs).toMatch(/did not go through/);
  // The harness checks every step's logs for the ResponseURL and its signature; here the failed PUTs were logged too.
  expect(create.invocation!.logs).not.toMatch(/X-Amz-Signature/);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
});

scenario('SSM and CloudFormation throttling and 5xx are retried, and the Create succeeds', async (w) => {
  const first = w.stack({ name: 'AppA' });
  expectSuccess(await first.create(synthesizeImds(IMDSV2)));
  w.ssm.injectFault({ code: 'ThrottlingException', times: 2 });
  w.ssm.injectFault({ code: 'InternalServerError', times: 1, action: 'PutParameter' });
  w.cfn.injectFault({ code: 'Throttling', times: 2 });
  const stack = w.stack({ name: 'AppB' });

  const create = await stack.create(synthesizeImds(IMDSV2));
  expectSuccess(create, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  expect(create.ssmRequests.filter((r) => r.fault)).toHaveLength(3);
  expect(create.cfnRequests.filter((r) => r.fault)).toHaveLength(2);
  expect(w.claims()).toHaveLength(2);
}, { concurrent: true });
