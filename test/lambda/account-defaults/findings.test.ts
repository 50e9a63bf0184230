/**
 * The findings of the account-defaults function's CloudFormation events
 * (lambda/account-defaults/index.ts, readiness.ts; lambda/shared/custom-resource.ts,
 * security-warning.ts), as EventBridge events: "IMDS Defaults Changed" after each
 * confirmed event is answered (with the readiness check's Data when the check ran:
 * the check puts no event of its own), "IMDS Security Warning" for an event
 * CloudFormation did not send or a claim that does not hold up. Settings are in
 * EC2's own shape (GetInstanceMetadataDefaults' AccountLevel as read; the parsed
 * properties). EC2, SSM, CloudFormation, CloudWatch and
 * EventBridge are mocked as in aws-mocks.ts. The drift guard's finding:
 * drift.test.ts; the same events through the shipped code: test/e2e/findings-account-defaults.test.ts.
 *
 * What each test checks besides the event: that it was put only after the
 * answer was sent, and that putting it (denied, throttled, refused, hanging)
 * changes neither the answer nor what EC2 and SSM hold.
 */
import { DescribeLaunchConfigurationsCommand } from '@aws-sdk/client-auto-scaling';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetInstanceMetadataDefaultsCommand, ModifyInstanceMetadataDefaultsCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand, PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { GetParametersByPathCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import { claimName } from '../../../lambda/account-defaults/claims';
import { CREATE_FAILED_PREFIX, handler } from '../../../lambda/account-defaults/index';
import { held } from '../../../lambda/shared/events';
import { CfnResponse, ResponseEndpoint } from '../../support/response-endpoint';
import {
  ACCOUNT, LOGICAL_ID, PHYSICAL_ID, REGION, SERVICE_TOKEN, STACK_ID,
  answerOf, captureLogs, createEvent, deleteEvent, lambdaContext, quickWaits, updateEvent,
} from '../support';
import {
  World, acceptEvents, addClaim, autoScaling, cw, ec2, emulate, eventBridge,
  expectPutEventsMatchSchema, newWorld, putEvents, putEventsText, serviceError, ssm,
} from '../support/aws-mocks';

let endpoint: ResponseEndpoint;
let logs: string[];
let world: World;
/** For each PutEvents call, how many answers the ResponseURL endpoint had received for the event when the call was made. */
let answeredBefore: number[];
let requestId: string | undefined;

const savedEnv = { ...process.env };
const CENTRAL_BUS = 'arn:aws:events:us-east-1:210987654321:event-bus/imds-findings';

/** What events.ts adds to every finding of a confirmed event of this function. */
const COMMON = { version: '1', account: ACCOUNT, region: REGION, resource: { function: 'imds-handler', stackId: STACK_ID, logicalResourceId: LOGICAL_ID } };
/** GetInstanceMetadataDefaults' AccountLevel as the world's EC2 gives it (HttpEndpoint enabled, as newWorld sets it): a finding's `previous` and `found`. */
const read = (fields: Record<string, unknown> = {}) => ({ HttpEndpoint: 'enabled', ManagedBy: 'account', ...fields });
/** The readiness check's Data (readiness.ts), as the answer carries it and the finding's `readinessCheck`. */
const checked = (launchTemplates: string, launchConfigurations: string, instances: string, result = 'COMPLETE') => ({
  LaunchTemplatesAllowingImdsv1: launchTemplates,
  LaunchConfigurationsAllowingImdsv1: launchConfigurations,
  InstancesAllowingImdsv1: instances,
  LaunchTemplatesAllowingImdsv1Count: launchTemplates.replace('+', ''),
  LaunchConfigurationsAllowingImdsv1Count: launchConfigurations.replace('+', ''),
  InstancesAllowingImdsv1Count: instances.replace('+', ''),
  ReadinessCheckResult: result,
});
/** The readiness keys of an answer's Data. */
const readinessData = (data: Record<string, unknown> | undefined) => Object.fromEntries(Object.entries(data ?? {}).filter(([key]) => /AllowingImdsv1|ReadinessCheckResult/.test(key)));

/** Runs one event to its answer; the PutEvents calls record whether the answer had been sent. */
async function run(event: Parameters<typeof handler>[0], timeoutMs?: number): Promise<CfnResponse> {
  requestId = event.RequestId;
  return answerOf(handler, endpoint, event, timeoutMs);
}

const changed = () => putEvents('IMDS Defaults Changed').map((e) => e.detail);
const modifyCalls = () => ec2.commandCalls(ModifyInstanceMetadataDefaultsCommand).map((c) => c.args[0].input);

/** A launch template whose version 1 sets HttpTokens (as readiness.test.ts's). */
function launchTemplate(id: string, name: string, tokens: string): void {
  world.launchTemplateVersions.push({
    LaunchTemplateId: id, LaunchTemplateName: name, VersionNumber: 1, DefaultVersion: true, LaunchTemplateData: { MetadataOptions: { HttpTokens: tokens as 'optional' } },
  });
}

beforeAll(async () => {
  endpoint = await ResponseEndpoint.start();
  logs = captureLogs();
  quickWaits();
});
afterAll(async () => {
  process.env = savedEnv;
  await endpoint.stop();
});
beforeEach(() => {
  process.env = { ...savedEnv, AWS_REGION: REGION };
  world = newWorld({ HttpEndpoint: 'enabled' });
  emulate(world);
  logs.length = 0;
  answeredBefore = [];
  eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
    answeredBefore.push(requestId === undefined ? -1 : endpoint.answersFor(requestId).length);
    return acceptEvents(input);
  });
});
afterEach(() => {
  // Every finding of a CloudFormation event was put after its answer, and nothing is held past the event.
  expect(answeredBefore.every((n) => n === 1)).toBe(true);
  expect(held.list).toBeUndefined();
  // The ResponseURL (its host and its signature) is in no finding, and each matches findings-schema.json.
  expect(putEventsText()).not.toMatch(/127\.0\.0\.1|localhost|X-Amz-Signature|Signature=/i);
  expectPutEventsMatchSchema();
});

describe('"IMDS Defaults Changed", after the answer', () => {
  test('a Create that applies: one event to the default bus, with the settings asked for, EC2\'s before and after', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(putEvents()).toEqual([{
      bus: 'default',
      source: 'cdk-imds-account-defaults',
      detailType: 'IMDS Defaults Changed',
      detail: {
        ...COMMON,
        requestType: 'Create',
        outcome: 'SUCCESS',
        expected: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
        previous: read(),
        action: 'applied',
        found: read({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }),
      },
    }]);
    // The finding costs no EC2 call of its own: the Get before and the read-back after.
    expect(ec2).toHaveReceivedCommandTimes(GetInstanceMetadataDefaultsCommand, 2);
  });

  test('a Create with nothing to change: action none, found as before (no read-back: nothing was written)', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Create',
      outcome: 'SUCCESS',
      expected: { HttpTokens: 'required' },
      previous: read({ HttpTokens: 'required' }),
      action: 'none',
      found: read({ HttpTokens: 'required' }),
    }]);
    expect(ec2).toHaveReceivedCommandTimes(GetInstanceMetadataDefaultsCommand, 1);
  });

  test('an Update that applies: the fields it manages now as expected; a field handed back is written too (action applied)', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' };
    const physicalId = `${PHYSICAL_ID}:HttpTokens=optional,HttpPutResponseHopLimit=-1`;
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', HttpTokensEnforced: 'enabled' }, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }, physicalId));
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: -1, HttpTokensEnforced: 'enabled' }]);
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Update',
      outcome: 'SUCCESS',
      expected: { HttpTokens: 'required', HttpTokensEnforced: 'enabled' },
      previous: read({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }),
      // Enabling enforcement ran the readiness check: its Data, as answered.
      readinessCheck: checked('0', '0', '0'),
      action: 'applied',
      found: read({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' }),
    }]);
    expect(changed()[0].readinessCheck).toEqual(readinessData(answer.Data));
  });

  test('a Delete that resets: expected is what it wrote (no preference)', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Delete',
      outcome: 'SUCCESS',
      previous: read({ HttpTokens: 'required' }),
      expected: { HttpTokens: 'no-preference' },
      action: 'reset',
      found: read(),
    }]);
  });

  test('a Delete during a rollback restores the values before the Create', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    world.eventStackStatus = 'ROLLBACK_IN_PROGRESS';
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }, `${PHYSICAL_ID}:HttpTokens=optional`));
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Delete',
      outcome: 'SUCCESS',
      previous: read({ HttpTokens: 'required' }),
      expected: { HttpTokens: 'optional' },
      action: 'restored',
      found: read({ HttpTokens: 'optional' }),
    }]);
  });

  test('a Delete that resets, then puts back a field another stack claimed meanwhile: still reset, found as read back last', async () => {
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' };
    // The second claims listing (after the reset) shows another stack's claim on HttpTokens with EC2's value before the reset.
    let listings = 0;
    ssm.on(GetParametersByPathCommand).callsFake(() => {
      if (++listings === 2) addClaim(world, 'platform', 'Imds', { HttpTokens: 'required' });
      return { Parameters: [...world.parameters].map(([Name, Value]) => ({ Name, Value, Type: 'String', Version: 1 })) };
    });
    await run(deleteEvent(endpoint, { HttpTokens: 'required', HttpPutResponseHopLimit: '2' }));
    expect(modifyCalls()).toEqual([{ HttpTokens: 'no-preference', HttpPutResponseHopLimit: -1 }, { HttpTokens: 'required' }]);
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Delete',
      outcome: 'SUCCESS',
      previous: read({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }),
      expected: { HttpTokens: 'no-preference', HttpPutResponseHopLimit: -1 },
      action: 'reset',
      found: read({ HttpTokens: 'required' }),
    }]);
  });

  test('a Delete that leaves a field another live stack manages: retained, nothing written', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    addClaim(world, 'platform', 'Imds', { HttpTokens: 'required' });
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(modifyCalls()).toEqual([]);
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Delete',
      outcome: 'SUCCESS',
      previous: read({ HttpTokens: 'required' }),
      expected: {},
      action: 'retained',
      found: read({ HttpTokens: 'required' }),
    }]);
  });

  test('a Delete whose ownership cannot be read leaves the settings (retained), without reading EC2', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    ssm.on(GetParametersByPathCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }));
    expect(changed()).toEqual([{ ...COMMON, requestType: 'Delete', outcome: 'SUCCESS', action: 'retained' }]);
  });

  test('a Delete after a failed Create: action none, no settings', async () => {
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }, `${CREATE_FAILED_PREFIX}request-0`));
    expect(changed()).toEqual([{ ...COMMON, requestType: 'Delete', outcome: 'SUCCESS', action: 'none' }]);
  });

  test('nothing of an earlier invocation carries over: a Delete that reads nothing after a Create that applied', async () => {
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    eventBridge.resetHistory();
    await run(deleteEvent(endpoint, { HttpTokens: 'required' }, `${CREATE_FAILED_PREFIX}request-0`));
    expect(changed()).toEqual([{ ...COMMON, requestType: 'Delete', outcome: 'SUCCESS', action: 'none' }]);
  });

  test.each(['Create', 'Delete'])('a declarative policy manages the settings: %s skipped (EC2\'s ManagedBy and message say why)', async (requestType) => {
    world.state = { HttpTokens: 'required' };
    world.managedBy = { ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team' };
    const event = requestType === 'Create'
      ? createEvent(endpoint, { HttpTokens: 'required', SkipIfManagedByDeclarativePolicy: 'true' })
      : deleteEvent(endpoint, { HttpTokens: 'required' });
    await run(event);
    const policy = { HttpTokens: 'required', ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team' };
    expect(changed()).toEqual([{
      ...COMMON,
      requestType,
      outcome: 'SUCCESS',
      ...(requestType === 'Create' ? { expected: { HttpTokens: 'required' } } : {}),
      previous: policy,
      action: 'skipped',
      found: policy,
    }]);
  });

  test('a declarative policy without SkipIfManagedByDeclarativePolicy: the Create fails, no action', async () => {
    world.managedBy = { ManagedBy: 'declarative-policy' };
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(changed()).toEqual([{
      ...COMMON, requestType: 'Create', outcome: 'FAILED', reason: answer.Reason, expected: { HttpTokens: 'required' }, previous: read({ ManagedBy: 'declarative-policy' }),
    }]);
  });

  test('a failed Create: outcome FAILED with the answer\'s reason, no action, no settings after', async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('UnauthorizedOperation', 'You are not authorized', 403));
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Create',
      outcome: 'FAILED',
      reason: answer.Reason,
      expected: { HttpTokens: 'required' },
      previous: read(),
    }]);
  });

  test('a Create whose properties are invalid: FAILED, nothing read', async () => {
    const answer = await run(createEvent(endpoint, { HttpTokens: 'REQUIRED' }));
    expect(changed()).toEqual([{ ...COMMON, requestType: 'Create', outcome: 'FAILED', reason: answer.Reason }]);
  });

  test('a Create whose claim cannot be recorded puts back what it wrote: FAILED, neither the action nor the read-back of the write it undid', async () => {
    ssm.on(PutParameterCommand).rejects(serviceError('AccessDeniedException', 'no', 400));
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Reason).toMatch(/The previous values were restored/);
    expect(changed()).toEqual([{
      ...COMMON, requestType: 'Create', outcome: 'FAILED', reason: answer.Reason, expected: { HttpTokens: 'required' }, previous: read(),
    }]);
  });

  test('a reason longer than a finding\'s strings is clipped (events.ts), the answer keeps it whole', async () => {
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('UnauthorizedOperation', 'x'.repeat(3000), 403));
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Reason!.length).toBeGreaterThan(3000);
    expect(changed()[0].reason).toBe(`${answer.Reason!.slice(0, 1024)}…`);
  });

  test('an answer at the deadline: the event is FAILED with the timeout reason, put after it within the time left', async () => {
    // EC2 hangs; its calls end when their signal fires (as the SDK's do).
    ec2.reset();
    ec2.send.callsFake((_command: unknown, options: { abortSignal: AbortSignal }) => new Promise<never>((_resolve, reject) => {
      options.abortSignal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    }));
    // 5.5 s: a budget of 0.5 s (it fires at once here: quickWaits), then the answer; the put gets what is left less 1 s.
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }), 5_500);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/^Create did not finish within/) });
    expect(changed()).toEqual([{ ...COMMON, requestType: 'Create', outcome: 'FAILED', reason: answer.Reason, expected: { HttpTokens: 'required' } }]);
  });
});

describe('the readiness check: its Data in the event\'s "IMDS Defaults Changed" (no event of its own)', () => {
  const ENFORCE = { HttpTokens: 'required', HttpTokensEnforced: 'enabled' };

  test('BLOCK: what would stop launches, in the FAILED Create\'s finding', async () => {
    launchTemplate('lt-0a1b2c3d4e5f00001', 'web', 'optional');
    launchTemplate('lt-0a1b2c3d4e5f00002', 'batch', 'required');
    world.instances.push({ InstanceId: 'i-0123456789abcdef0', State: { Name: 'running' }, MetadataOptions: { HttpTokens: 'optional' } });
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Status).toBe('FAILED');
    expect(putEvents().map((e) => e.detailType)).toEqual(['IMDS Defaults Changed']);
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Create',
      outcome: 'FAILED',
      reason: answer.Reason,
      expected: ENFORCE,
      previous: read(),
      readinessCheck: checked('1', '0', '1'),
    }]);
    expect(modifyCalls()).toEqual([]);
  });

  test('nothing would stop: the Create applies; readinessCheck is the answer\'s Data', async () => {
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(changed()).toEqual([{
      ...COMMON,
      requestType: 'Create',
      outcome: 'SUCCESS',
      expected: ENFORCE,
      previous: read(),
      readinessCheck: checked('0', '0', '0'),
      action: 'applied',
      found: read(ENFORCE),
    }]);
    expect(changed()[0].readinessCheck).toEqual(readinessData(answer.Data));
  });

  test('ENFORCE_AND_REPORT: what would stop is reported, the Create applies anyway', async () => {
    launchTemplate('lt-1', 'web', 'optional');
    const answer = await run(createEvent(endpoint, { ...ENFORCE, ReadinessCheck: 'ENFORCE_AND_REPORT' }));
    expect(changed()[0]).toMatchObject({ outcome: 'SUCCESS', action: 'applied', readinessCheck: checked('1', '0', '0') });
    expect(changed()[0].readinessCheck).toEqual(readinessData(answer.Data));
  });

  test('a listing that did not finish: INCOMPLETE, its count "at least" (N+)', async () => {
    autoScaling.on(DescribeLaunchConfigurationsCommand).rejects(serviceError('AccessDenied', 'no', 403));
    const answer = await run(createEvent(endpoint, { ...ENFORCE, ReadinessCheck: 'ENFORCE_AND_REPORT' }));
    expect(changed()[0].readinessCheck).toEqual(checked('0', '0+', '0', 'INCOMPLETE'));
    expect(changed()[0].readinessCheck).toEqual(readinessData(answer.Data));
  });

  test('a check that does not run (enforcement not being enabled, or enabled already): no readinessCheck', async () => {
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    world.state.HttpTokensEnforced = 'enabled';
    await run(updateEvent(endpoint, ENFORCE, { HttpTokens: 'required' }));
    expect(putEvents().map((e) => e.detailType)).toEqual(['IMDS Defaults Changed', 'IMDS Defaults Changed']);
    expect(changed().map((d) => 'readinessCheck' in d)).toEqual([false, false]);
  });
});

describe('"IMDS Security Warning"', () => {
  test('an event CloudFormation did not send: only the warning, after the answer, without the event\'s stack as its resource', async () => {
    world.confirmEvents = false;
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    expect(putEvents()).toEqual([expect.objectContaining({
      detailType: 'IMDS Security Warning',
      detail: {
        version: '1',
        account: ACCOUNT,
        region: REGION,
        resource: { function: 'imds-handler' },
        warning: 'unconfirmed-event',
        metric: 'UnconfirmedEvents',
        count: 1,
        entries: [{ mismatch: 'CloudFormation has no such stack or resource', RequestType: 'Create', StackId: STACK_ID, LogicalResourceId: LOGICAL_ID, RequestId: requestId }],
      },
    })]);
    // The metric is put before the answer, as before; the finding waits for it.
    expect(cw).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
  });

  test('a claim problem during a confirmed event: held, put after the answer with the event\'s resource, before its own finding', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'enabled' };
    // A malformed claim under the claims' path: reported by the ownership read.
    world.parameters.set(claimName({ stackId: STACK_ID.replace('/imds/', '/other/'), logicalResourceId: 'X' }), 'not json');
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(putEvents().map((e) => e.detailType)).toEqual(['IMDS Security Warning', 'IMDS Defaults Changed']);
    expect(putEvents('IMDS Security Warning')[0].detail).toMatchObject({ ...COMMON, warning: 'claim-problem', metric: 'ClaimProblems', count: 1 });
  });
});

describe('putting changes no outcome', () => {
  /** The answer and what EC2 and SSM hold after the same Create, with PutEvents as set up by `arrange`. */
  async function outcome(arrange: () => void) {
    world = newWorld({ HttpEndpoint: 'enabled' });
    emulate(world);
    arrange();
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    const { Status, PhysicalResourceId, Data } = answer;
    return { Status, PhysicalResourceId, Data, state: { ...world.state }, claims: [...world.parameters.keys()] };
  }

  test.each<[string, () => void]>([
    ['denied', () => eventBridge.on(PutEventsCommand).rejects(serviceError('AccessDeniedException', 'not authorized to perform events:PutEvents'))],
    ['throttled', () => eventBridge.on(PutEventsCommand).rejects(serviceError('ThrottlingException', 'Rate exceeded'))],
    ['refused entry by entry', () => eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' }] })],
  ])('%s: the same answer, settings and claim as when it is put; the finding is counted as not put', async (_kind, arrange) => {
    const put = await outcome(() => undefined);
    answeredBefore = [];
    const notPut = await outcome(arrange);
    expect(notPut).toEqual(put);
    expect(cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData![0].MetricName)).toEqual(['FindingsNotPut']);
  });

  test('a PutEvents that hangs: the answer is sent first; the put ends within its budget', async () => {
    eventBridge.reset();
    eventBridge.send.callsFake((_command: unknown, options: { abortSignal: AbortSignal }) => new Promise<never>((_resolve, reject) => {
      answeredBefore.push(endpoint.answersFor(requestId!).length);
      options.abortSignal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    }));
    const started = Date.now();
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(world.state.HttpTokens).toBe('required');
  }, 10_000);

  test('a central bus (IMDS_EVENT_BUS): every finding to the default bus and to the central bus, alike', async () => {
    process.env.IMDS_EVENT_BUS = CENTRAL_BUS;
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    const events = putEvents();
    expect(events.map((e) => e.bus).sort()).toEqual([CENTRAL_BUS, 'default'].sort());
    expect(events[0].detail).toEqual(events[1].detail);
  });

  test('a central bus that refuses (cross-account denial) changes nothing on the default bus or in the answer', async () => {
    process.env.IMDS_EVENT_BUS = CENTRAL_BUS;
    eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      answeredBefore.push(endpoint.answersFor(requestId!).length);
      if (input.Entries![0].EventBusName) throw serviceError('AccessDeniedException', 'not authorized');
      return acceptEvents(input);
    });
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(world.state.HttpTokens).toBe('required');
  });

  test('the handler records which function puts the findings on every invocation', async () => {
    const other = SERVICE_TOKEN.replace(':function:imds-handler', ':function:other');
    const context = { ...lambdaContext(), invokedFunctionArn: other };
    await handler({ 'source': 'my.app', 'detail-type': 'x' } as never, context);
    // A forged event's warning names the invoked function, not a stale one.
    world.confirmEvents = false;
    await run(createEvent(endpoint, { HttpTokens: 'required' }));
    expect(putEvents()[0].detail.resource).toEqual({ function: 'imds-handler' });
  });
});
