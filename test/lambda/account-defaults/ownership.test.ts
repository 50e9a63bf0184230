/**
 * Ownership (lambda/ownership.ts): liveness of the other claims from
 * CloudFormation, pruning, conflicts and which fields others manage, with SSM
 * and CloudFormation mocked by aws-sdk-client-mock (see aws-mocks.ts). The
 * budget that cuts a hanging read off (OWNERSHIP_BUDGET_MS) lives in the real
 * clients' abort handling, which the mock replaces: index.emulator.test.ts covers it.
 */
import { getEventListeners } from 'events';
import { DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DeleteParameterCommand, GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import { Claim, claimName, createSsmClient, formatClaim, legacyClaimName } from '../../../lambda/account-defaults/claims';
import {
  OWNERSHIP_BUDGET_MS,
  Ownership,
  OwnershipUnknownError,
  STALE_STATUSES,
  conflicts,
  createCloudFormationClient,
  managedByOthers,
  protectedByRetained,
  readOwnership,
  resourceStatus,
} from '../../../lambda/account-defaults/ownership';
import { captureLogs, quickWaits } from '../support';
import { World, addClaim, cfn, cw, emulate, fakes, newWorld, serviceError, ssm, stackIdOf } from '../support/aws-mocks';

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

  test('claims whose resource is gone are not counted and left in place (no pruning), whatever their order', async () => {
    const stale1 = addClaim(world, 's1', 'Imds', { HttpTokens: 'required' }, 'DELETE_COMPLETE');
    const live = addClaim(world, 'l1', 'Imds', { HttpTokens: 'required' }, 'UPDATE_ROLLBACK_COMPLETE');
    const stale2 = addClaim(world, 's2', 'Imds', { HttpTokens: 'required' }, null);
    const ownership = await read();
    expect(ownership.others.map((c) => c.name)).toEqual([live]);
    expect(ownership.retainedOrphans).toEqual([]);
    expect([...world.parameters.keys()].sort()).toEqual([live, stale1, stale2].sort());
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(logs.join('\n')).toContain('the claim\'s stack or resource does not exist');
  });

  test.each(['DELETE_SKIPPED', 'DELETE_COMPLETE', null])('a retained claim whose resource is gone (%s) is a retained orphan, not a live claim', async (status) => {
    const name = addClaim(world, 'kept', 'Imds', { HttpTokens: 'required' }, status, { retained: true });
    const ownership = await read();
    expect(ownership.others).toEqual([]);
    expect(ownership.retainedOrphans.map((c) => c.name)).toEqual([name]);
    expect(protectedByRetained(ownership, 'HttpTokens', { HttpTokens: 'required' })).toBe(true);
    expect(protectedByRetained(ownership, 'HttpTokens', { HttpTokens: 'optional' })).toBe(false);
    expect(protectedByRetained(ownership, 'HttpEndpoint', { HttpEndpoint: 'no-preference' })).toBe(false);
    // A field the retained claim does not manage is not protected, even where `current` has no value for it either.
    expect(protectedByRetained(ownership, 'HttpEndpoint', {})).toBe(false);
    expect(logs).toContainEqual(JSON.stringify({ message: 'ownership', others: [], retainedOrphans: [{ stackName: 'kept', logicalResourceId: 'Imds', fields: { HttpTokens: 'required' } }] }));
  });

  test('a retained claim whose resource is live is a live claim', async () => {
    addClaim(world, 'kept', 'Imds', { HttpTokens: 'required' }, 'UPDATE_COMPLETE', { retained: true });
    const ownership = await read();
    expect(ownership.others).toHaveLength(1);
    expect(ownership.retainedOrphans).toEqual([]);
  });

  test('a claim whose resource is of another type is foreign: reported with the security warning and its metric, and not counted', async () => {
    const name = addClaim(world, 'p', 'Imds', { HttpTokens: 'required' }, null);
    world.resources.set(`${stackIdOf('p')}|Imds`, { type: 'AWS::S3::Bucket', status: 'CREATE_COMPLETE' });
    const ownership = await read();
    expect(ownership.others).toEqual([]);
    expect(ownership.problems).toEqual([{ name, problem: 'foreign', detail: `the resource Imds of ${stackIdOf('p')} is not a Custom::ImdsAccountDefaults` }]);
    expect(logs).toContainEqual(JSON.stringify({ message: 'security warning', warning: 'claim-problem', problem: 'foreign', name, detail: `the resource Imds of ${stackIdOf('p')} is not a Custom::ImdsAccountDefaults` }));
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { Namespace: 'CdkImdsAccountDefaults', MetricData: [expect.objectContaining({ MetricName: 'ClaimProblems', Value: 1 })] });
  });

  test('malformed claims are logged one by one and counted in one metric put, and nothing else is', async () => {
    world.parameters.set('/cdk-imds-account-defaults/claims/a', 'x');
    world.parameters.set('/cdk-imds-account-defaults/claims/b', '{}');
    addClaim(world, 'p', 'Imds', { HttpTokens: 'required' });
    const ownership = await read();
    expect(ownership.problems.map((p) => p.problem)).toEqual(['malformed', 'malformed']);
    expect(logs.filter((l) => l.includes('"warning":"claim-problem"'))).toHaveLength(2);
    // Many junk parameters cost one bounded put, not one each.
    expect(cw).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
    expect(cw).toHaveReceivedCommandWith(PutMetricDataCommand, { MetricData: [expect.objectContaining({ MetricName: 'ClaimProblems', Value: 2 })] });
  });

  test('no problems: no warning, no metric', async () => {
    addClaim(world, 'p', 'Imds', { HttpTokens: 'required' });
    await read();
    expect(cw).not.toHaveReceivedCommand(PutMetricDataCommand);
    expect(logs.join('\n')).not.toContain('security warning');
  });

  test('no own claim (a new resource): own is undefined, whatever other claims exist', async () => {
    addClaim(world, 'platform', 'Imds1', { HttpTokens: 'required' });
    world.parameters.set(legacyClaimName({ stackId: stackIdOf('platform'), logicalResourceId: 'Imds2' }),
      JSON.stringify({ format: 1, stackId: stackIdOf('platform'), stackName: 'platform', logicalResourceId: 'Imds2', fields: { HttpTokens: 'required' } }));
    world.resources.set(`${stackIdOf('platform')}|Imds2`, 'UPDATE_COMPLETE');
    const ownership = await read();
    expect(ownership.others).toHaveLength(2);
    expect(ownership.own).toBeUndefined();
  });

  test('its own format 1 claim is its own, never another\'s; the format 2 one wins when both exist', async () => {
    world.parameters.set(legacyClaimName(SELF), JSON.stringify({ format: 1, ...SELF, fields: { HttpTokens: 'optional' } }));
    let ownership = await read();
    expect(ownership.own?.name).toBe(legacyClaimName(SELF));
    expect(ownership.others).toEqual([]);
    world.parameters.set(claimName(SELF), formatClaim(SELF, { HttpTokens: 'required' }));
    ownership = await read();
    expect(ownership.own?.name).toBe(claimName(SELF));
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourceCommand);
  });

  test('a resource CloudFormation reports of the right type without a status is live (when in doubt, a field stays managed)', async () => {
    addClaim(world, 'p', 'Imds', { HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand).resolves({ StackResourceDetail: { ResourceType: 'Custom::ImdsAccountDefaults' } } as any);
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
    ({ name: `/c/${stackName}`, stackId, stackName, logicalResourceId: 'Imds', fields, retained: false });
  const none = { retainedOrphans: [], problems: [] };

  test('a field another stack manages with another value conflicts; the message names the stack, its StackId, the field and both values', () => {
    const ownership: Ownership = { others: [claim('platform', { HttpTokens: 'required', HttpPutResponseHopLimit: 2 })], ...none };
    expect(conflicts(ownership, SELF, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' })).toEqual([
      `HttpTokens: stack platform (${stackIdOf('platform')}) manages it as "required", this resource asks for "optional"`,
    ]);
  });

  test('values compare as CloudFormation delivers them (2 and "2" agree)', () => {
    const ownership: Ownership = { others: [claim('platform', { HttpPutResponseHopLimit: '2' as unknown as number })], ...none };
    expect(conflicts(ownership, SELF, { HttpPutResponseHopLimit: 2 })).toEqual([]);
    expect(conflicts(ownership, SELF, { HttpPutResponseHopLimit: 3 })).toHaveLength(1);
  });

  test('claims of the same stack never conflict', () => {
    const ownership: Ownership = { others: [claim('app', { HttpTokens: 'optional' }, SELF.stackId)], ...none };
    expect(conflicts(ownership, SELF, { HttpTokens: 'required' })).toEqual([]);
  });

  test('every conflicting claim is listed', () => {
    const ownership: Ownership = { others: [claim('a', { HttpTokens: 'optional' }), claim('b', { HttpTokens: 'no-preference' })], ...none };
    expect(conflicts(ownership, SELF, { HttpTokens: 'required' })).toHaveLength(2);
  });

  test('managedByOthers: any live claim, this stack\'s included', () => {
    const ownership: Ownership = { others: [claim('app', { HttpTokens: 'required' }, SELF.stackId), claim('b', { HttpEndpoint: 'enabled' })], ...none };
    expect(managedByOthers(ownership, 'HttpTokens')).toBe(true);
    expect(managedByOthers(ownership, 'HttpEndpoint')).toBe(true);
    expect(managedByOthers(ownership, 'HttpPutResponseHopLimit')).toBe(false);
    expect(managedByOthers({ others: [], ...none }, 'HttpTokens')).toBe(false);
  });
});

describe('the ownership budget', () => {
  /** A client whose every call hangs until its abort signal fires, then fails with the signal's reason. */
  const hangingClient = () => ({
    calls: 0,
    send(_command: unknown, options: { abortSignal: AbortSignal }) {
      this.calls++;
      return new Promise((_resolve, reject) => {
        options.abortSignal.addEventListener('abort', () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })), { once: true });
      });
    },
  });
  let budgets: number[];
  let cleared: unknown[];
  let timers: unknown[];
  let shortBudget: boolean;
  beforeEach(() => {
    shortBudget = true;
    budgets = [];
    cleared = [];
    timers = [];
    const realSetTimeout = global.setTimeout;
    // The budget's timer fires after 50 ms instead of OWNERSHIP_BUDGET_MS; its delay is recorded.
    jest.spyOn(global, 'setTimeout').mockImplementation(((callback: () => void, ms?: number) => {
      budgets.push(ms ?? 0);
      const timer = realSetTimeout(callback, shortBudget && ms === OWNERSHIP_BUDGET_MS ? 50 : ms);
      timers.push(timer);
      return timer;
    }) as typeof setTimeout);
    const realClearTimeout = global.clearTimeout;
    jest.spyOn(global, 'clearTimeout').mockImplementation(((timer: NodeJS.Timeout) => {
      cleared.push(timer);
      realClearTimeout(timer);
    }) as typeof clearTimeout);
  });
  afterEach(() => {
    (global.setTimeout as unknown as jest.SpyInstance).mockRestore();
    (global.clearTimeout as unknown as jest.SpyInstance).mockRestore();
  });

  test(`a hanging SSM is cut off after OWNERSHIP_BUDGET_MS (${OWNERSHIP_BUDGET_MS} ms): ownership unknown`, async () => {
    expect(OWNERSHIP_BUDGET_MS).toBe(12_000);
    const client = hangingClient();
    const err = await readOwnership(client as any, createCloudFormationClient(), SELF, new AbortController().signal).catch((e) => e);
    expect(err).toBeInstanceOf(OwnershipUnknownError);
    expect(err.message).toBe('the claims under /cdk-imds-account-defaults/claims in SSM Parameter Store could not be read (AbortError: Request aborted)');
    expect(budgets).toEqual([OWNERSHIP_BUDGET_MS]);
    expect(client.calls).toBe(1);
  });

  test('the caller\'s deadline, when it comes first, aborts the read too', async () => {
    shortBudget = false; // the budget keeps its 12 s: only the deadline can end the read within the test
    const deadline = new AbortController();
    const client = hangingClient();
    const started = Date.now();
    const reading = readOwnership(client as any, createCloudFormationClient(), SELF, deadline.signal).catch((e) => e);
    deadline.abort();
    const err = await reading;
    expect(err).toBeInstanceOf(OwnershipUnknownError);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(cleared).toEqual([timers[0]]);
  });

  test('a read that finishes clears its timer and stops listening to the caller\'s deadline', async () => {
    const deadline = new AbortController();
    await readOwnership(createSsmClient(), createCloudFormationClient(), SELF, deadline.signal);
    expect(budgets).toEqual([OWNERSHIP_BUDGET_MS]);
    expect(cleared).toEqual([timers[0]]);
    expect(getEventListeners(deadline.signal, 'abort')).toHaveLength(0);
  });

  test('every call carries the abort signal of the budget', async () => {
    addClaim(world, 'a', 'Imds', { HttpTokens: 'required' }, 'DELETE_COMPLETE');
    const deadline = new AbortController();
    await readOwnership(createSsmClient(), createCloudFormationClient(), SELF, deadline.signal);
    const signals = [
      ssm.commandCalls(GetParametersByPathCommand)[0].args,
      cfn.commandCalls(DescribeStackResourceCommand)[0].args,
    ].map((args) => ((args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal);
    for (const signal of signals) {
      expect(signal).toBeInstanceOf(AbortSignal);
      expect(signal).not.toBe(deadline.signal);
      expect(signal!.aborted).toBe(false);
    }
  });
});

describe('readOwnership, more', () => {
  test('the first CloudFormation call waits out IAM propagation, 1 s before its first retry', async () => {
    addClaim(world, 'a', 'Imds', { HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand)
      .rejectsOnce(serviceError('AccessDenied', 'not yet', 403))
      .resolvesOnce({ StackResourceDetail: { ResourceType: 'Custom::ImdsAccountDefaults', ResourceStatus: 'CREATE_COMPLETE' } } as any);
    const delays = quickWaits();
    try {
      expect((await read()).others).toHaveLength(1);
      expect(delays).toContain(1_000);
    } finally {
      (global.setTimeout as unknown as jest.SpyInstance).mockRestore();
    }
  });

  test('logs the live claims it found, by stack, logical id and fields', async () => {
    addClaim(world, 'platform', 'Imds1', { HttpTokens: 'required' });
    await read();
    expect(logs).toContainEqual(JSON.stringify({ message: 'ownership', others: [{ stackName: 'platform', logicalResourceId: 'Imds1', fields: { HttpTokens: 'required' } }] }));
  });

  test('an error other than ValidationError from CloudFormation is not staleness', async () => {
    addClaim(world, 'a', 'Imds', { HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('InternalFailure', 'boom', 500));
    await expect(read()).rejects.toBeInstanceOf(OwnershipUnknownError);
    expect(world.parameters.size).toBe(1);
  });

  test('a claim that names no fields is malformed: it takes no part', async () => {
    addClaim(world, 'a', 'Imds', {});
    const ownership = await read();
    expect(ownership.others).toHaveLength(0);
    expect(ownership.problems).toHaveLength(1);
    expect(managedByOthers(ownership, 'HttpTokens')).toBe(false);
  });
});

describe('readOwnership, logs and messages', () => {
  test('its own claim is found among several, wherever it is listed', async () => {
    for (const name of ['a', 'b', 'c', 'd']) addClaim(world, name, 'Imds', { HttpTokens: 'required' });
    world.parameters.set(claimName(SELF), formatClaim(SELF, { HttpEndpoint: 'enabled' }));
    const { own, others } = await read();
    expect(own?.name).toBe(claimName(SELF));
    expect(own?.fields).toEqual({ HttpEndpoint: 'enabled' });
    expect(others).toHaveLength(4);
  });

  test('the first SSM and CloudFormation calls log their wait for IAM propagation by service', async () => {
    addClaim(world, 'a', 'Imds', { HttpTokens: 'required' });
    ssm.on(GetParametersByPathCommand).rejectsOnce(serviceError('AccessDeniedException', 'not yet')).callsFake(fakes(world).getParametersByPath);
    cfn.on(DescribeStackResourceCommand).rejectsOnce(serviceError('AccessDenied', 'not yet', 403)).callsFake(fakes(world).describeStackResource);
    quickWaits();
    try {
      await read();
    } finally {
      (global.setTimeout as unknown as jest.SpyInstance).mockRestore();
    }
    expect(logs).toContainEqual(JSON.stringify({ message: 'AccessDeniedException on the first SSM call: waiting for the role\'s policy to propagate', attempt: 1 }));
    expect(logs).toContainEqual(JSON.stringify({ message: 'AccessDenied on the first CloudFormation call: waiting for the role\'s policy to propagate', attempt: 1 }));
  });

  test('the reason names every field of a claim CloudFormation could not check', async () => {
    addClaim(world, 'platform', 'Imds1', { HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('Throttling', 'Rate exceeded'));
    const err = await read().catch((e) => e);
    expect(err.message).toBe(`CloudFormation could not say whether stack platform (${stackIdOf('platform')}) still holds Imds1, which claims HttpTokens, HttpPutResponseHopLimit (Throttling: Rate exceeded)`);
  });

  test('a claim whose resource is gone is logged with its name', async () => {
    const name = addClaim(world, 'gone', 'Imds1', { HttpTokens: 'required' }, null);
    await read();
    expect(logs).toContainEqual(JSON.stringify({ message: 'the claim\'s stack or resource does not exist', name }));
  });
});

describe('resourceStatus (the drift guard\'s)', () => {
  test('the status CloudFormation reports, undefined when the resource does not exist', async () => {
    world.resources.set(`${SELF.stackId}|Imds`, 'UPDATE_COMPLETE');
    expect(await resourceStatus(createCloudFormationClient(), SELF, new AbortController().signal)).toBe('UPDATE_COMPLETE');
    expect(await resourceStatus(createCloudFormationClient(), { ...SELF, logicalResourceId: 'Nope' }, new AbortController().signal)).toBeUndefined();
  });
});
