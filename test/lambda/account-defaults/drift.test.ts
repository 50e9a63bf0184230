/**
 * The drift guard (lambda/account-defaults/drift.ts), run through the
 * function's entry point (index.ts routes every event that is not
 * CloudFormation's to it) with EC2, SSM and CloudFormation mocked as in
 * aws-mocks.ts, CloudFormation's DescribeStacks answered from `stacks` here, and
 * CloudWatch's PutMetricData recorded here, EventBridge's PutEvents (the findings)
 * accepted by aws-mocks.ts.
 *
 * The values the guard holds EC2 to are the function's environment
 * (`IMDS_SETTING_<field>`, as the construct writes them: strings); `guard(...)`
 * sets them and records the matching own claim, as a Create would have.
 */
import {
  DescribeStackResourceCommand, DescribeStackResourceCommandInput, DescribeStacksCommand, DescribeStacksCommandInput,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetInstanceMetadataDefaultsCommand, ModifyInstanceMetadataDefaultsCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { claimName, formatClaim, legacyClaimName } from '../../../lambda/account-defaults/claims';
import {
  DRIFT_RESERVE_MS, DriftConfigurationError, SKIPPED_METRIC_TIMEOUT_MS, configOf, ownSessionArn, triggerOf,
} from '../../../lambda/account-defaults/drift';
import { READ_BACK_ATTEMPTS } from '../../../lambda/account-defaults/ec2';
import { handler } from '../../../lambda/account-defaults/index';
import { Settings } from '../../../lambda/account-defaults/settings';
import { isCloudFormationEvent } from '../../../lambda/shared/custom-resource';
import { claimParameterName } from '../../../src/private/properties';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { ACCOUNT, REGION, captureLogs, quickWaits } from '../support';
import {
  World, addClaim, cfn, ec2, emulate, eventBridge, expectPutEventsMatchSchema, fakes, newWorld, putEvents, serviceError, ssm, stackIdOf,
} from '../support/aws-mocks';

const cw = mockClient(CloudWatchClient);

const FUNCTION_NAME = 'imds-handler';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${FUNCTION_NAME}`;
const ROLE_NAME = 'app-ImdsRole-ABC123';
/** How CloudTrail names this function's calls: its role, with the function's name as the session name. */
const OWN_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}`;
const STACK = 'app';
const LOGICAL_ID = 'ImdsResource';
const SELF = { stackId: stackIdOf(STACK), stackName: STACK, logicalResourceId: LOGICAL_ID };
const OWN_CLAIM_NAME = claimParameterName(SELF.stackId.split('/')[2], LOGICAL_ID);
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;

const schedule = (overrides: Record<string, unknown> = {}) => ({
  'version': '0',
  'id': 'schedule-event-1',
  'detail-type': 'Scheduled Event',
  'source': 'aws.events',
  'account': ACCOUNT,
  'time': '2026-11-27T16:00:00Z',
  'region': REGION,
  'resources': [`arn:aws:events:${REGION}:${ACCOUNT}:rule/app-ImdsDriftSchedule`],
  'detail': {},
  ...overrides,
});

const trail = (detail: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) => ({
  'version': '0',
  'id': 'trail-event-1',
  'detail-type': 'AWS API Call via CloudTrail',
  'source': 'aws.ec2',
  'account': ACCOUNT,
  'time': '2026-11-27T16:00:00Z',
  'region': REGION,
  'resources': [],
  'detail': {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', arn: ALICE },
    eventSource: 'ec2.amazonaws.com',
    eventName: 'ModifyInstanceMetadataDefaults',
    awsRegion: REGION,
    requestParameters: { ModifyInstanceMetadataDefaultsRequest: { HttpTokens: 'optional' } },
    eventID: 'e1f2a3b4-0000-4000-8000-000000000001',
    ...detail,
  },
  ...overrides,
});

let world: World;
/** CloudFormation's stack statuses by StackId (DescribeStacks); a StackId not here does not exist. */
let stacks: Map<string, string>;
let logs: string[];
let delays: number[];

const context = (remainingMs = 30_000) =>
  ({ invokedFunctionArn: FUNCTION_ARN, functionName: FUNCTION_NAME, getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;
const run = (event: unknown, remainingMs?: number) => handler(event as any, context(remainingMs));
const lines = () => logs.map((l) => JSON.parse(l));
const linesOf = (message: string) => lines().filter((l) => l.message === message);
const modifyCalls = () => ec2.commandCalls(ModifyInstanceMetadataDefaultsCommand).map((c) => c.args[0].input);
const metricCalls = () => cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
const awsCalls = () => ec2.calls().length + ssm.calls().length + cfn.calls().length + cw.calls().length + eventBridge.calls().length;

const NAMESPACE = 'CdkImdsAccountDefaults';
const metric = (name: string, value: number) => ({ MetricName: name, Value: value, Unit: 'Count', Dimensions: [] });
/** The two metrics a run that found a difference puts, as PutMetricData receives them. */
const metrics = (detected: number, reapplied: number) => [{
  Namespace: NAMESPACE,
  MetricData: [metric('DriftDetected', detected), metric('DriftReapplied', reapplied)],
}];
/** What a run that did not compare puts. */
const SKIPPED = [{ Namespace: NAMESPACE, MetricData: [metric('DriftChecksSkipped', 1)] }];
/** What a claim problem puts. */
const CLAIM_PROBLEM = { Namespace: NAMESPACE, MetricData: [metric('ClaimProblems', 1)] };

/** The template's values for the guard: the function's environment, every value a string as CloudFormation writes it. */
function template(fields: Record<string, string | number>): void {
  for (const key of Object.keys(process.env).filter((k) => k.startsWith('IMDS_SETTING_'))) {
    delete process.env[key];
  }
  for (const [key, value] of Object.entries(fields)) {
    process.env[`IMDS_SETTING_${key}`] = String(value);
  }
}

/** This resource's claim as its Create records it, and its status in its stack. */
function claimOwn(fields: Record<string, string | number>, status: string | null = 'UPDATE_COMPLETE'): string {
  return addClaim(world, STACK, LOGICAL_ID, fields as Settings, status);
}

/** A guarded resource: the template's values, and the own claim with the same values. */
function guard(fields: Record<string, string | number>, status: string | null = 'UPDATE_COMPLETE'): void {
  template(fields);
  claimOwn(fields, status);
}

/** The resource settled in its stack, without a claim. */
function withoutClaim(fields: Record<string, string | number>): void {
  template(fields);
  world.resources.set(`${SELF.stackId}|${LOGICAL_ID}`, 'UPDATE_COMPLETE');
}

function describeStacks(input: DescribeStacksCommandInput) {
  const status = stacks.get(input.StackName!);
  if (status === undefined) {
    throw serviceError('ValidationError', `Stack with id ${input.StackName} does not exist`);
  }
  return { Stacks: [{ StackId: input.StackName, StackName: input.StackName!.split('/')[1], StackStatus: status, CreationTime: new Date(0) }] };
}

function describeStackResource(input: DescribeStackResourceCommandInput) {
  const { StackResourceDetail } = fakes(world).describeStackResource(input);
  return { StackResourceDetail: { ...StackResourceDetail, ResourceType: 'Custom::ImdsAccountDefaults' } };
}

const savedEnv = { ...process.env };

beforeAll(() => {
  logs = captureLogs();
  delays = quickWaits();
});
beforeEach(() => {
  process.env = {
    ...savedEnv,
    IMDS_DRIFT_GUARD: 'REAPPLY',
    IMDS_STACK_ID: SELF.stackId,
    IMDS_LOGICAL_ID: LOGICAL_ID,
    IMDS_ROLE_NAME: ROLE_NAME,
    AWS_LAMBDA_FUNCTION_NAME: FUNCTION_NAME,
  };
  world = newWorld({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });
  emulate(world);
  stacks = new Map([[SELF.stackId, 'UPDATE_COMPLETE']]);
  cfn.on(DescribeStacksCommand).callsFake(describeStacks);
  // Every resource of `world.resources` is one of this library's (the liveness check reads the type).
  cfn.on(DescribeStackResourceCommand).callsFake(describeStackResource);
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  logs.length = 0;
  delays.length = 0;
});
afterAll(() => {
  process.env = savedEnv;
});

describe('REAPPLY', () => {
  test('a console-style change to a managed field is set back, read back, reported and counted; nothing else is touched', async () => {
    guard({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(world.state).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });
    // One Get to compare, one to read back.
    expect(ec2).toHaveReceivedCommandTimes(GetInstanceMetadataDefaultsCommand, 2);
    expect(linesOf('drift')).toEqual([{ message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied', trigger: 'schedule' }]);
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REAPPLY', detected: 1, reapplied: 1 }]);
    expect(metricCalls()).toEqual(metrics(1, 1));
    expect(linesOf('security warning')).toEqual([]);
  });

  test('every differing field at once, in one Modify; a field EC2 omits counts as no preference (-1 for the hop limit)', async () => {
    world.state = { HttpTokens: 'required', HttpEndpoint: 'disabled' };
    guard({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' });
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' }]);
    expect(linesOf('drift').map(({ field, expected, found, action }) => [field, expected, found, action])).toEqual([
      ['HttpTokensEnforced', 'enabled', 'no-preference', 'reapplied'],
      ['HttpPutResponseHopLimit', 2, -1, 'reapplied'],
      ['HttpEndpoint', 'enabled', 'disabled', 'reapplied'],
    ]);
    expect(metricCalls()).toEqual(metrics(3, 3));
  });

  test('no difference: no write, no drift line, and no metric at all (a guard with nothing to say costs nothing)', async () => {
    guard({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(linesOf('drift')).toEqual([]);
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REAPPLY', detected: 0, reapplied: 0 }]);
    expect(linesOf('drift check skipped')).toEqual([]);
    expect(cw.calls()).toHaveLength(0);
  });

  test('a field changed out of band that the template does not name is left as it is', async () => {
    guard({ HttpTokens: 'optional' });
    world.state.HttpEndpoint = 'enabled';
    world.state.InstanceMetadataTags = 'enabled';
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' });
    expect(cw.calls()).toHaveLength(0);
  });

  test('the hop limit, a string in the environment, compares with EC2\'s number', async () => {
    guard({ HttpPutResponseHopLimit: '2' });
    expect(process.env.IMDS_SETTING_HttpPutResponseHopLimit).toBe('2');
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(cw.calls()).toHaveLength(0);
  });

  test('a read-back that never shows the value: reported as reapply-failed, counted as detected, not reapplied, and the run fails (it compared: not skipped)', async () => {
    guard({ HttpTokens: 'required' });
    ec2.on(ModifyInstanceMetadataDefaultsCommand).resolves({ Return: true }); // accepted, without effect
    await expect(run(schedule())).rejects.toThrow(/^ModifyInstanceMetadataDefaults succeeded but GetInstanceMetadataDefaults reports HttpTokens is "optional", expected "required"$/);

    expect(ec2).toHaveReceivedCommandTimes(GetInstanceMetadataDefaultsCommand, 1 + READ_BACK_ATTEMPTS);
    expect(linesOf('drift')).toEqual([{ message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapply-failed', trigger: 'schedule' }]);
    expect(metricCalls()).toEqual(metrics(1, 0));
    expect(linesOf('drift check failed')).toEqual([{ message: 'drift check failed', error: expect.stringMatching(/^ReadBackError: /) }]);
  });

  test('a Modify that EC2 refuses: reapply-failed, the error thrown, and no restore', async () => {
    guard({ HttpTokens: 'required' });
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    await expect(run(schedule())).rejects.toThrow('You are not authorized');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(linesOf('drift').map((l) => l.action)).toEqual(['reapply-failed']);
    expect(metricCalls()).toEqual(metrics(1, 0));
  });

  test('metrics that cannot be put do not fail the run: the log line carries the same numbers', async () => {
    guard({ HttpTokens: 'required' });
    cw.on(PutMetricDataCommand).rejects(serviceError('AccessDenied', 'not allowed', 403));
    await expect(run(schedule())).resolves.toBeUndefined();
    expect(world.state.HttpTokens).toBe('required');
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REAPPLY', detected: 1, reapplied: 1 }]);
  });
});

describe('REPORT_ONLY', () => {
  beforeEach(() => {
    process.env.IMDS_DRIFT_GUARD = 'REPORT_ONLY';
  });

  test('reports each difference and changes nothing', async () => {
    guard({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled' });
    expect(linesOf('drift')).toEqual([
      { message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reported', trigger: 'schedule' },
      { message: 'drift', field: 'HttpPutResponseHopLimit', expected: 1, found: 2, action: 'reported', trigger: 'schedule' },
    ]);
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REPORT_ONLY', detected: 2, reapplied: 0 }]);
    expect(metricCalls()).toEqual(metrics(2, 0));
  });
});

describe('the values come from the template (the environment), never from the claim', () => {
  test('an edited claim changes nothing the guard writes: EC2 is held to the environment\'s value, and the claim is reported', async () => {
    template({ HttpTokens: 'required' });
    claimOwn({ HttpTokens: 'optional' }); // edited in Parameter Store
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(world.state.HttpTokens).toBe('required');
    expect(linesOf('security warning')).toEqual([{
      message: 'security warning',
      warning: 'claim-problem',
      problem: 'not-the-template-values',
      name: expect.stringMatching(/^\/cdk-imds-account-defaults\/claims\//),
      stackId: SELF.stackId,
      logicalResourceId: LOGICAL_ID,
      claimed: { HttpTokens: 'optional' },
      template: { HttpTokens: 'required' },
      consequence: 'the drift guard goes on with the template\'s values (its environment)',
    }]);
    expect(metricCalls()).toEqual([CLAIM_PROBLEM, ...metrics(1, 1)]);
  });

  test('an edited claim that matches what EC2 holds does not hide the drift from the template', async () => {
    template({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    claimOwn({ HttpTokens: 'optional', HttpPutResponseHopLimit: 2 });
    process.env.IMDS_DRIFT_GUARD = 'REPORT_ONLY';
    await run(schedule());
    expect(linesOf('drift').map(({ field, expected, found }) => [field, expected, found])).toEqual([['HttpTokens', 'required', 'optional']]);
  });

  test('a deleted claim does not turn the guard off: reported as missing (by its own name), and the guard still guards', async () => {
    withoutClaim({ HttpTokens: 'required' });
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(linesOf('security warning')).toEqual([{
      message: 'security warning',
      warning: 'claim-problem',
      problem: 'missing',
      name: OWN_CLAIM_NAME,
      stackId: SELF.stackId,
      logicalResourceId: LOGICAL_ID,
      template: { HttpTokens: 'required' },
      consequence: 'the drift guard goes on with the template\'s values (its environment)',
    }]);
    expect(OWN_CLAIM_NAME).toBe(`/cdk-imds-account-defaults/claims/app-0000-11ef-0000-000000000000-${LOGICAL_ID}`);
    expect(metricCalls()).toEqual([CLAIM_PROBLEM, ...metrics(1, 1)]);
  });

  test('a missing claim is reported even when nothing drifted (only the warning\'s metric)', async () => {
    withoutClaim({ HttpTokens: 'optional' });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(linesOf('security warning').map((l) => l.problem)).toEqual(['missing']);
    expect(metricCalls()).toEqual([CLAIM_PROBLEM]);
  });

  test.each<[string, Record<string, string | number>]>([
    ['a field more', { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' }],
    ['a field less', { HttpTokens: 'required' }],
    ['another hop limit', { HttpTokens: 'required', HttpPutResponseHopLimit: 3 }],
    ['another value', { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 }],
  ])('a claim with %s than the template is reported; the template\'s fields, and only they, are guarded', async (_, claimed) => {
    world.state = { HttpTokens: 'optional', HttpEndpoint: 'disabled', HttpPutResponseHopLimit: 1 };
    template({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    claimOwn(claimed);
    await run(schedule());
    expect(linesOf('security warning').map((l) => [l.problem, l.claimed])).toEqual([['not-the-template-values', claimed]]);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }]);
  });

  test('a malformed own claim (reported by the ownership read) is reported once, and the guard still guards', async () => {
    withoutClaim({ HttpTokens: 'required' });
    world.parameters.set(OWN_CLAIM_NAME, '{"format":2,"fields":');
    await run(schedule());
    expect(linesOf('security warning').map(({ problem, name }) => [problem, name])).toEqual([['malformed', OWN_CLAIM_NAME]]);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(metricCalls()).toEqual([CLAIM_PROBLEM, ...metrics(1, 1)]);
  });

  test('a claim under this resource\'s name that names another owner (foreign) is reported once, and the guard still guards', async () => {
    withoutClaim({ HttpTokens: 'required' });
    const other = { stackId: stackIdOf('other'), stackName: 'other', logicalResourceId: 'Imds' };
    world.parameters.set(OWN_CLAIM_NAME, formatClaim(other, { HttpTokens: 'optional' }));
    await run(schedule());
    expect(linesOf('security warning').map(({ problem, name }) => [problem, name])).toEqual([['foreign', OWN_CLAIM_NAME]]);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('another resource\'s malformed claim does not stand in for this resource\'s missing one: both are reported', async () => {
    withoutClaim({ HttpTokens: 'required' });
    world.parameters.set(claimName({ stackId: stackIdOf('other'), logicalResourceId: 'Imds' }), 'not json');
    await run(schedule());
    expect(linesOf('security warning').map((l) => l.problem)).toEqual(['malformed', 'missing']);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('an own claim of the previous release (format 1, its older name) with the template\'s values is no problem', async () => {
    withoutClaim({ HttpTokens: 'required' });
    world.parameters.set(legacyClaimName(SELF), JSON.stringify({ format: 1, ...SELF, fields: { HttpTokens: 'required' }, before: { HttpTokens: 'optional' } }));
    await run(schedule());
    expect(linesOf('security warning')).toEqual([]);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('a claim with the template\'s values is no problem, the hop limit stored as a number or a string alike', async () => {
    template({ HttpTokens: 'required', HttpPutResponseHopLimit: '2' });
    claimOwn({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    await run(schedule());
    expect(linesOf('security warning')).toEqual([]);
    claimOwn({ HttpTokens: 'required', HttpPutResponseHopLimit: '2' });
    await run(schedule());
    expect(linesOf('security warning')).toEqual([]);
    expect(cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData![0].MetricName)).toEqual(['DriftDetected']);
  });

  test('a field the claim names and the template does not is not guarded', async () => {
    template({ HttpTokens: 'optional' });
    claimOwn({ HttpTokens: 'optional', HttpEndpoint: 'enabled' });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(world.state.HttpEndpoint).toBe('disabled');
  });
});

describe('a misconfigured function: nothing is compared, the skipped metric is put, and the run fails (Lambda\'s Errors metric)', () => {
  test.each<[string, Record<string, string | undefined>, string]>([
    ['no values at all', {}, 'the values (IMDS_SETTING_<field>) cannot be used: at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required'],
    ['a value EC2 does not accept', { IMDS_SETTING_HttpTokens: 'mandatory' }, 'the values (IMDS_SETTING_<field>) cannot be used: HttpTokens must be one of "optional", "required", "no-preference"; got "mandatory"'],
    ['an empty value', { IMDS_SETTING_HttpEndpoint: '' }, 'the values (IMDS_SETTING_<field>) cannot be used: HttpEndpoint must be one of "disabled", "enabled", "no-preference"; got ""'],
    ['a hop limit out of range', { IMDS_SETTING_HttpPutResponseHopLimit: '65' }, 'the values (IMDS_SETTING_<field>) cannot be used: HttpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got "65"'],
    ['a variable that is no setting', { IMDS_SETTING_HttpTokens: 'required', IMDS_SETTING_HttpToken: 'required' }, 'IMDS_SETTING_HttpToken is not a setting (IMDS_SETTING_HttpTokens, IMDS_SETTING_HttpTokensEnforced, IMDS_SETTING_HttpPutResponseHopLimit, IMDS_SETTING_HttpEndpoint, IMDS_SETTING_InstanceMetadataTags)'],
    ['an unknown mode', { IMDS_SETTING_HttpTokens: 'required', IMDS_DRIFT_GUARD: 'FIX' }, 'IMDS_DRIFT_GUARD must be REAPPLY or REPORT_ONLY (got "FIX")'],
    ['no StackId', { IMDS_SETTING_HttpTokens: 'required', IMDS_STACK_ID: '' }, 'IMDS_STACK_ID must be set (got "")'],
    ['no logical id', { IMDS_SETTING_HttpTokens: 'required', IMDS_LOGICAL_ID: undefined }, 'IMDS_LOGICAL_ID must be set (got undefined)'],
    ['no role name', { IMDS_SETTING_HttpTokens: 'required', IMDS_ROLE_NAME: undefined }, 'IMDS_ROLE_NAME must be set (got undefined)'],
  ])('%s', async (_, env, problem) => {
    claimOwn({ HttpTokens: 'required' });
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await expect(run(schedule())).rejects.toThrow(`the drift guard's environment is incomplete or invalid: ${problem}`);
    expect(ec2.calls()).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
    expect(cfn.calls()).toHaveLength(0);
    expect(metricCalls()).toEqual(SKIPPED);
    expect(linesOf('drift check failed')).toEqual([{ message: 'drift check failed', error: expect.stringMatching(/^DriftConfigurationError: the drift guard's environment is incomplete or invalid: /) }]);
    expect(world.state.HttpTokens).toBe('optional');
  });

  test('every problem is named at once', () => {
    process.env.IMDS_SETTING_HttpTokens = 'mandatory';
    delete process.env.IMDS_STACK_ID;
    delete process.env.IMDS_ROLE_NAME;
    const error = (() => {
      try {
        configOf('FIX');
      } catch (err) {
        return err as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(DriftConfigurationError);
    expect(error!.name).toBe('DriftConfigurationError');
    expect(error!.message).toBe('the drift guard\'s environment is incomplete or invalid: IMDS_DRIFT_GUARD must be REAPPLY or REPORT_ONLY (got "FIX"); '
      + 'IMDS_STACK_ID must be set (got undefined); IMDS_ROLE_NAME must be set (got undefined); '
      + 'the values (IMDS_SETTING_<field>) cannot be used: HttpTokens must be one of "optional", "required", "no-preference"; got "mandatory"');
  });

  test('a complete environment: the mode, this resource (its stack name from the StackId) and every value, parsed', () => {
    template({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2', HttpEndpoint: 'enabled', InstanceMetadataTags: 'disabled' });
    expect(configOf('REPORT_ONLY')).toEqual({
      mode: 'REPORT_ONLY',
      self: SELF,
      expected: { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', InstanceMetadataTags: 'disabled' },
    });
  });
});

describe('the guard acts only while its stack and its resource are settled', () => {
  test('a stack update in progress: the function\'s environment already has the new value, the resource is still UPDATE_COMPLETE; nothing is written', async () => {
    guard({ HttpTokens: 'optional' }, 'UPDATE_COMPLETE');
    world.state.HttpTokens = 'optional';
    template({ HttpTokens: 'required' }); // CloudFormation updated the function first
    stacks.set(SELF.stackId, 'UPDATE_IN_PROGRESS');
    await run(schedule());

    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: SELF.stackId });
    expect(ssm.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourceCommand);
    expect(world.state.HttpTokens).toBe('optional');
    expect(linesOf('drift check skipped')).toEqual([{
      message: 'drift check skipped',
      reason: `its stack ${STACK} is UPDATE_IN_PROGRESS: the guard acts only while its stack and its resource are settled`,
    }]);
    expect(metricCalls()).toEqual(SKIPPED);
  });

  test.each([
    'CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS',
    'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'IMPORT_IN_PROGRESS',
    'UPDATE_ROLLBACK_FAILED', 'UPDATE_FAILED', 'DELETE_FAILED', 'ROLLBACK_COMPLETE', 'DELETE_COMPLETE', '',
  ])('while its stack is %j the guard does nothing (no claim read, no EC2 call) and counts a skipped run', async (status) => {
    guard({ HttpTokens: 'required' });
    stacks.set(SELF.stackId, status);
    await run(schedule());
    expect(ssm.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(metricCalls()).toEqual(SKIPPED);
    expect(linesOf('drift check skipped')[0].reason).toBe(`its stack ${STACK} is ${status}: the guard acts only while its stack and its resource are settled`);
  });

  test('a stack that no longer exists: nothing', async () => {
    guard({ HttpTokens: 'required' });
    stacks.clear();
    await run(schedule());
    expect(ec2.calls()).toHaveLength(0);
    expect(metricCalls()).toEqual(SKIPPED);
    expect(linesOf('drift check skipped')[0].reason).toBe(`its stack ${STACK} is gone: the guard acts only while its stack and its resource are settled`);
  });

  test.each(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE', 'IMPORT_ROLLBACK_COMPLETE'])('a settled stack (%s) is guarded', async (status) => {
    guard({ HttpTokens: 'required' });
    stacks.set(SELF.stackId, status);
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test.each([
    'CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS',
    'UPDATE_FAILED', 'DELETE_FAILED', 'DELETE_COMPLETE', 'DELETE_SKIPPED',
  ])('while its resource is %s the guard does nothing (no claim read, no EC2 call)', async (status) => {
    guard({ HttpTokens: 'required' }, status);
    await run(schedule());
    expect(ssm.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(metricCalls()).toEqual(SKIPPED);
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: SELF.stackId, LogicalResourceId: LOGICAL_ID });
    expect(linesOf('drift check skipped')).toEqual([{
      message: 'drift check skipped',
      reason: `this resource (${LOGICAL_ID} of ${STACK}) is ${status}: the guard acts only while its stack and its resource are settled`,
    }]);
  });

  test('a resource no longer in its stack: nothing', async () => {
    guard({ HttpTokens: 'required' }, null);
    await run(schedule());
    expect(ec2.calls()).toHaveLength(0);
    expect(metricCalls()).toEqual(SKIPPED);
    expect(linesOf('drift check skipped')[0].reason).toBe(`this resource (${LOGICAL_ID} of ${STACK}) is not in its stack: the guard acts only while its stack and its resource are settled`);
  });

  test.each(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE'])('a settled resource (%s) is guarded', async (status) => {
    guard({ HttpTokens: 'required' }, status);
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('a DescribeStackResource answer without a status is not settled', async () => {
    guard({ HttpTokens: 'required' });
    cfn.on(DescribeStackResourceCommand).resolves({});
    await run(schedule());
    expect(ec2.calls()).toHaveLength(0);
    expect(linesOf('drift check skipped')[0].reason).toBe(`this resource (${LOGICAL_ID} of ${STACK}) is : the guard acts only while its stack and its resource are settled`);
  });

  test('access denied on the first CloudFormation call and on the first EC2 call is retried while IAM propagates', async () => {
    guard({ HttpTokens: 'required' });
    cfn.on(DescribeStacksCommand)
      .rejectsOnce(serviceError('AccessDenied', 'not yet', 403))
      .callsFake(describeStacks);
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .rejectsOnce(serviceError('UnauthorizedOperation', 'not yet', 403))
      .callsFake(() => ({ AccountLevel: { ...world.state, ...world.managedBy } }));
    await run(schedule());
    expect(delays.filter((d) => d === 1_000)).toHaveLength(2);
    expect(linesOf('AccessDenied on the first CloudFormation call: waiting for the role\'s policy to propagate')).toHaveLength(1);
    expect(linesOf('UnauthorizedOperation on the first EC2 call: waiting for the role\'s policy to propagate')).toHaveLength(1);
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test.each([
    ['its stack', DescribeStacksCommand],
    ['its resource', DescribeStackResourceCommand],
  ] as const)('CloudFormation failing on %s (not "does not exist") fails the run, changes nothing and counts a skipped run', async (_, command) => {
    guard({ HttpTokens: 'required' });
    cfn.on(command as any).rejects(serviceError('Throttling', 'Rate exceeded', 400));
    await expect(run(schedule())).rejects.toThrow('Rate exceeded');
    expect(ssm.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(metricCalls()).toEqual(SKIPPED);
    expect(linesOf('drift check failed')).toEqual([{ message: 'drift check failed', error: 'Throttling: Rate exceeded' }]);
  });
});

describe('ownership', () => {
  test('a field another stack\'s live claim manages with another value is left alone (and named); the others are reapplied', async () => {
    world.state = { HttpTokens: 'optional', HttpEndpoint: 'disabled' };
    guard({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
    addClaim(world, 'legacy', 'Imds', { HttpTokens: 'optional' });
    await run(schedule());

    expect(modifyCalls()).toEqual([{ HttpEndpoint: 'enabled' }]);
    expect(linesOf('drift')).toEqual([
      { message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'left-alone', managedBy: `legacy (${stackIdOf('legacy')})`, trigger: 'schedule' },
      { message: 'drift', field: 'HttpEndpoint', expected: 'enabled', found: 'disabled', action: 'reapplied', trigger: 'schedule' },
    ]);
    expect(metricCalls()).toEqual(metrics(2, 1));
  });

  test('only left-alone fields: no write at all', async () => {
    guard({ HttpTokens: 'required' });
    addClaim(world, 'legacy', 'Imds', { HttpTokens: 'optional' });
    await run(schedule());
    expect(modifyCalls()).toEqual([]);
    expect(metricCalls()).toEqual(metrics(1, 0));
  });

  test('another claim is compared with the template\'s value, not with this resource\'s (edited) claim', async () => {
    template({ HttpTokens: 'required' });
    claimOwn({ HttpTokens: 'optional' });
    addClaim(world, 'platform', 'Imds', { HttpTokens: 'required' });
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(linesOf('drift').map((l) => l.action)).toEqual(['reapplied']);
  });

  test('another stack that manages the field with the same value does not stop the guard (no fight: the same value)', async () => {
    guard({ HttpTokens: 'required' });
    addClaim(world, 'platform', 'Imds', { HttpTokens: 'required' });
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('a rename that also changes a value, before its cleanup: the old and the new resource leave that field to each other', async () => {
    guard({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
    addClaim(world, STACK, 'OldImdsResource', { HttpTokens: 'optional', HttpPutResponseHopLimit: 3 });
    world.state.HttpPutResponseHopLimit = 1;
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpPutResponseHopLimit: 3 }]);
    expect(linesOf('drift').map(({ field, action, managedBy }) => [field, action, managedBy])).toEqual([
      ['HttpTokens', 'left-alone', `${STACK} (${SELF.stackId})`],
      ['HttpPutResponseHopLimit', 'reapplied', undefined],
    ]);
  });

  test('a claim of the same stack with the same value (a rename in progress) does not stop the guard', async () => {
    guard({ HttpTokens: 'required' });
    addClaim(world, STACK, 'OldImdsResource', { HttpTokens: 'required' });
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('a stale claim of another stack does not stop the guard', async () => {
    guard({ HttpTokens: 'required' });
    addClaim(world, 'gone', 'Imds', { HttpTokens: 'optional' }, 'DELETE_COMPLETE');
    await run(schedule());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
  });

  test('ownership that cannot be read fails the run, changes nothing and counts a skipped run', async () => {
    guard({ HttpTokens: 'required' });
    ssm.on(GetParametersByPathCommand).rejects(serviceError('InternalServerError', 'boom', 500));
    await expect(run(schedule())).rejects.toThrow(/SSM Parameter Store could not be read/);
    expect(ec2.calls()).toHaveLength(0);
    expect(metricCalls()).toEqual(SKIPPED);
    expect(linesOf('drift check failed')).toHaveLength(1);
  });
});

test('a declarative policy manages the settings: nothing, the policy\'s message is logged, and the run counts as skipped', async () => {
  guard({ HttpTokens: 'required' });
  world.managedBy = { ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team' };
  await run(schedule());
  expect(modifyCalls()).toEqual([]);
  expect(metricCalls()).toEqual(SKIPPED);
  expect(linesOf('drift check skipped')).toEqual([{ message: 'drift check skipped', reason: 'a declarative policy manages the settings', managedExceptionMessage: 'Ask the platform team' }]);
});

test('the skipped metric is bounded by its own timer (the run\'s deadline may have passed), which ends with the put', async () => {
  guard({ HttpTokens: 'required' });
  stacks.set(SELF.stackId, 'UPDATE_IN_PROGRESS');
  const cleared = jest.spyOn(global, 'clearTimeout');
  try {
    await run(schedule());
    expect(SKIPPED_METRIC_TIMEOUT_MS).toBe(1_000);
    const timers = (setTimeout as unknown as jest.Mock).mock;
    const index = timers.calls.map((call) => call[1]).lastIndexOf(SKIPPED_METRIC_TIMEOUT_MS);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(cleared).toHaveBeenCalledWith(timers.results[index].value);
    const [, options] = cw.commandCalls(PutMetricDataCommand)[0].args as unknown as [unknown, { abortSignal: AbortSignal }];
    expect(options.abortSignal.aborted).toBe(false);
    timers.calls[index][0]();
    expect(options.abortSignal.aborted).toBe(true);
  } finally {
    cleared.mockRestore();
  }
});

describe('CloudTrail', () => {
  test('the caller and the event id are in every drift line', async () => {
    guard({ HttpTokens: 'required' });
    await run(trail());
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(linesOf('drift check')).toEqual([{ message: 'drift check', mode: 'REAPPLY', trigger: 'cloudtrail', caller: ALICE, eventId: 'e1f2a3b4-0000-4000-8000-000000000001' }]);
    expect(linesOf('drift')).toEqual([{
      message: 'drift',
      field: 'HttpTokens',
      expected: 'required',
      found: 'optional',
      action: 'reapplied',
      trigger: 'cloudtrail',
      caller: ALICE,
      eventId: 'e1f2a3b4-0000-4000-8000-000000000001',
    }]);
  });

  test.each([
    ['a caller without an ARN', { userIdentity: { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' }, eventID: 42 }],
    ['no userIdentity at all', { userIdentity: undefined, eventID: undefined }],
    ['an ARN that is not a string', { userIdentity: { arn: 42 }, eventID: null }],
  ])('%s (and no usable event id): the event is still checked, without a caller', async (_, detail) => {
    world.state.HttpTokens = 'optional';
    guard({ HttpTokens: 'required' });
    await run(trail(detail));
    expect(linesOf('drift')).toEqual([{ message: 'drift', field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied', trigger: 'cloudtrail' }]);
  });

  test('a change this function made (its CloudFormation events, its re-applies: its role, its session) is not checked again', async () => {
    guard({ HttpTokens: 'required' });
    await run(trail({ userIdentity: { type: 'AssumedRole', arn: OWN_ARN } }));
    expect(awsCalls()).toBe(0);
    expect(lines()).toEqual([{ message: 'ignored', reason: `the change was made by this function (${OWN_ARN})` }]);
  });

  test.each([
    ['another role with the function\'s name as its session name', `arn:aws:sts::${ACCOUNT}:assumed-role/attacker/${FUNCTION_NAME}`],
    ['a role whose name ends like this function\'s role', `arn:aws:sts::${ACCOUNT}:assumed-role/x${ROLE_NAME}/${FUNCTION_NAME}`],
    ['this function\'s role in another session', `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}-other`],
    ['this function\'s role and session in another account', `arn:aws:sts::111111111111:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}`],
    ['another partition', `arn:aws-cn:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}`],
    ['a user named like the function', `arn:aws:iam::${ACCOUNT}:user/${FUNCTION_NAME}`],
    ['the ARN with a suffix', `${OWN_ARN}/x`],
  ])('a look-alike caller (%s) is another caller: checked, and named', async (_, caller) => {
    guard({ HttpTokens: 'required' });
    await run(trail({ userIdentity: { type: 'AssumedRole', arn: caller } }));
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(linesOf('drift').map((l) => l.caller)).toEqual([caller]);
  });

  test('the own ARN: partition and account from the function\'s ARN, the role from IMDS_ROLE_NAME, the session from AWS_LAMBDA_FUNCTION_NAME', () => {
    expect(ownSessionArn(FUNCTION_ARN)).toBe(OWN_ARN);
    expect(ownSessionArn(`arn:aws-cn:lambda:cn-north-1:210987654321:function:${FUNCTION_NAME}`))
      .toBe(`arn:aws-cn:sts::210987654321:assumed-role/${ROLE_NAME}/${FUNCTION_NAME}`);
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'renamed';
    process.env.IMDS_ROLE_NAME = 'other-role';
    expect(ownSessionArn(FUNCTION_ARN)).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/other-role/renamed`);
    const govCloud = `arn:aws-us-gov:lambda:${REGION}:${ACCOUNT}:function:f`;
    const own = `arn:aws-us-gov:sts::${ACCOUNT}:assumed-role/other-role/renamed`;
    expect(triggerOf(trail({ userIdentity: { arn: own } }), govCloud)).toBe(`the change was made by this function (${own})`);
  });

  test('without IMDS_ROLE_NAME no change is taken for the function\'s own (it is checked, and the run then fails on its environment)', async () => {
    guard({ HttpTokens: 'required' });
    delete process.env.IMDS_ROLE_NAME;
    expect(ownSessionArn(FUNCTION_ARN)).toBeUndefined();
    process.env.IMDS_ROLE_NAME = '';
    expect(ownSessionArn(FUNCTION_ARN)).toBeUndefined();
    expect(triggerOf(trail({ userIdentity: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role//${FUNCTION_NAME}` } }), FUNCTION_ARN)).toMatchObject({ trigger: 'cloudtrail' });
    // No own ARN and no caller ARN are not "the same caller".
    expect(triggerOf(trail({ userIdentity: undefined }), FUNCTION_ARN)).toEqual({ trigger: 'cloudtrail', eventId: 'e1f2a3b4-0000-4000-8000-000000000001' });
    await expect(run(trail({ userIdentity: { arn: OWN_ARN } }))).rejects.toThrow(/IMDS_ROLE_NAME must be set/);
    expect(metricCalls()).toEqual(SKIPPED);
  });

  test.each([
    ['an error code', { errorCode: 'Client.UnauthorizedOperation', errorMessage: 'You are not authorized' }, '"Client.UnauthorizedOperation"'],
    ['an empty error code', { errorCode: '' }, '""'],
    ['a null error code', { errorCode: null }, 'null'],
    ['the own caller with an error code', { errorCode: 'Client.InvalidParameterValue', userIdentity: { arn: OWN_ARN } }, '"Client.InvalidParameterValue"'],
  ])('a failed call (%s) changed nothing: ignored, no AWS call, no metric', async (_, detail, code) => {
    guard({ HttpTokens: 'required' });
    await run(trail(detail));
    expect(awsCalls()).toBe(0);
    expect(lines()).toEqual([{ message: 'ignored', reason: `the call failed (errorCode ${code}): it changed nothing` }]);
  });

  test('a long error code is cut in the log line', () => {
    const reason = triggerOf(trail({ errorCode: 'x'.repeat(1000) }), FUNCTION_ARN) as string;
    expect(reason).toBe(`the call failed (errorCode "${'x'.repeat(99)}): it changed nothing`);
  });
});

describe('events that are not the guard\'s change nothing, answer nothing and put no metric', () => {
  const other = ACCOUNT.replace(/.$/, '9');
  test.each<[string, unknown, RegExp]>([
    ['null', null, /^not an EventBridge event: null$/],
    ['a string', 'run', /^not an EventBridge event: "run"$/],
    ['an array', [schedule()], /^not an EventBridge event: \[/],
    ['a wrong source', schedule({ source: 'my.app' }), /^source "my.app" with detail-type "Scheduled Event" is neither the schedule's nor CloudTrail's$/],
    ['a schedule with a wrong detail-type', schedule({ 'detail-type': 'Manual' }), /^source "aws.events" with detail-type "Manual"/],
    ['CloudTrail\'s detail-type from aws.events', schedule({ 'detail-type': 'AWS API Call via CloudTrail' }), /is neither/],
    ['a schedule detail-type from aws.ec2', trail({}, { 'detail-type': 'Scheduled Event' }), /is neither/],
    ['no source at all', { account: ACCOUNT, region: REGION }, /^source undefined with detail-type undefined/],
    ['another account', schedule({ account: other }), new RegExp(`^account "${other}" and region "${REGION}" are not this function's \\(${ACCOUNT}, ${REGION}\\)$`)],
    ['another Region', trail({}, { region: 'us-east-1' }), /^account "123456789012" and region "us-east-1" are not this function's/],
    ['CloudTrail without detail', trail({}, { detail: undefined }), /^the CloudTrail event is not ec2.amazonaws.com ModifyInstanceMetadataDefaults: detail undefined$/],
    ['CloudTrail with a null detail', trail({}, { detail: null }), /detail null$/],
    ['another API call', trail({ eventName: 'ModifyInstanceMetadataOptions' }), /^the CloudTrail event is not /],
    ['another event source', trail({ eventSource: 'ssm.amazonaws.com' }), /^the CloudTrail event is not /],
    ['a custom resource event without its StackId', { RequestType: 'Update', ResponseURL: 'https://example.com/r', LogicalResourceId: LOGICAL_ID }, /^source undefined/],
  ])('%s', async (_, event, reason) => {
    guard({ HttpTokens: 'required' });
    await expect(run(event)).resolves.toBeUndefined();
    expect(awsCalls()).toBe(0);
    expect(lines()).toEqual([{ message: 'ignored', reason: expect.stringMatching(reason) }]);
    expect(world.state.HttpTokens).toBe('optional');
  });

  test('a detail that is too long is cut in the log line', () => {
    const reason = triggerOf(trail({ eventName: 'x'.repeat(1000) }), FUNCTION_ARN) as string;
    expect(reason.length).toBeLessThan(300);
  });

  test('a non-CloudFormation event that carries a ResponseURL is never answered', async () => {
    guard({ HttpTokens: 'required' });
    const endpoint = await ResponseEndpoint.start();
    try {
      const { url } = endpoint.issue({ stackId: SELF.stackId, requestId: 'r1', logicalResourceId: LOGICAL_ID, region: REGION });
      await run({ ...schedule(), RequestType: 'Create', ResponseURL: url, RequestId: 'r1' });
      expect(endpoint.attempts).toBe(0);
      expect(endpoint.answersFor('r1')).toEqual([]);
      expect(lines().some((l) => l.message === 'event')).toBe(false);
    } finally {
      await endpoint.stop();
    }
  });

  test('the guard off (no IMDS_DRIFT_GUARD): a valid event is ignored', async () => {
    delete process.env.IMDS_DRIFT_GUARD;
    guard({ HttpTokens: 'required' });
    await run(schedule());
    expect(awsCalls()).toBe(0);
    expect(lines()).toEqual([{ message: 'ignored', reason: 'the drift guard is off (no IMDS_DRIFT_GUARD)' }]);
  });
});

describe('routing', () => {
  test.each([
    [{ RequestType: 'Create', ResponseURL: 'u', StackId: 's', LogicalResourceId: 'l' }, true],
    [{ RequestType: 'Create', ResponseURL: 'u', StackId: 's' }, false],
    [{ RequestType: 'Create', ResponseURL: 'u', LogicalResourceId: 'l' }, false],
    [{ RequestType: 'Create', StackId: 's', LogicalResourceId: 'l' }, false],
    [{ ResponseURL: 'u', StackId: 's', LogicalResourceId: 'l' }, false],
    [{ RequestType: 1, ResponseURL: 'u', StackId: 's', LogicalResourceId: 'l' }, false],
    [null, false],
    ['Create', false],
  ])('%j is a CloudFormation event: %s', (event, expected) => {
    expect(isCloudFormationEvent(event)).toBe(expected);
  });
});

test('the calls are stopped DRIFT_RESERVE_MS before the function\'s timeout, and the timer ends with the run', async () => {
  guard({ HttpTokens: 'optional' });
  const cleared = jest.spyOn(global, 'clearTimeout');
  try {
    await run(schedule(), 30_000);
    expect(DRIFT_RESERVE_MS).toBe(2_000);
    const timers = (setTimeout as unknown as jest.Mock).mock;
    const index = timers.calls.map((call) => call[1]).lastIndexOf(28_000);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(cleared).toHaveBeenCalledWith(timers.results[index].value);
    // What the timer does when it fires: the signal every call received is aborted.
    const signals = [
      ...cfn.commandCalls(DescribeStacksCommand),
      ...cfn.commandCalls(DescribeStackResourceCommand),
      ...ec2.commandCalls(GetInstanceMetadataDefaultsCommand),
    ].map((c) => (c.args as unknown as [unknown, { abortSignal: AbortSignal }])[1].abortSignal);
    expect(signals).toHaveLength(3);
    expect(signals.every((s) => s === signals[0] && !s.aborted)).toBe(true);
    timers.calls[index][0]();
    expect(signals[0].aborted).toBe(true);
  } finally {
    cleared.mockRestore();
  }
});

test('a run with little time left: its calls\' deadline is now (never negative)', async () => {
  guard({ HttpTokens: 'optional' });
  await run(schedule(), 1_000);
  expect(delays).toContain(0);
  expect(delays.some((d) => d < 0)).toBe(false);
});

test('the function\'s ARN decides its account and Region', () => {
  expect(triggerOf(schedule(), `arn:aws:lambda:${REGION}:${ACCOUNT}:function:f`)).toEqual({ trigger: 'schedule' });
  expect(triggerOf(schedule(), `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f`)).toMatch(/are not this function's \(123456789012, us-east-1\)/);
  expect(triggerOf(schedule(), undefined)).toMatch(/are not this function's/);
});

describe('the finding: "IMDS Drift Detected"', () => {
  /** What events.ts adds to every finding of the guard: the resource is the template's (the function's environment). */
  const common = { version: '1', account: ACCOUNT, region: REGION, resource: { function: FUNCTION_NAME, stackId: SELF.stackId, logicalResourceId: LOGICAL_ID } };
  const drifts = () => putEvents('IMDS Drift Detected');
  afterEach(() => expectPutEventsMatchSchema());

  test('one event per run that found a drift, to the default bus: the trigger, the mode, the counts, each drift as logged, the template\'s values and EC2\'s', async () => {
    guard({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    await run(schedule());
    expect(putEvents()).toEqual([{
      bus: 'default',
      source: 'cdk-imds-account-defaults',
      detailType: 'IMDS Drift Detected',
      detail: {
        ...common,
        trigger: 'schedule',
        mode: 'REAPPLY',
        counts: { drifts: 1, reapplied: 1 },
        drifts: [{ field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied' }],
        // EC2's own shape: the template's values (the environment, parsed) and what EC2 showed when compared (before the set-back).
        expected: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
        found: { HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled', ManagedBy: 'account' },
      },
    }]);
    // The counts come before the lists (Logs Insights reads an event's first 200 fields).
    const keys = Object.keys(drifts()[0].detail);
    expect(keys.indexOf('counts')).toBeLessThan(keys.indexOf('drifts'));
    // Each drift is the guard's `drift` log line, without the trigger's fields.
    expect(linesOf('drift').map(({ message, trigger, ...drift }) => drift)).toEqual(drifts()[0].detail.drifts);
  });

  test('CloudTrail: the caller as CloudTrail reported it (changedBy: evidence, not proof)', async () => {
    guard({ HttpTokens: 'required' });
    await run(trail());
    expect(drifts().map((e) => e.detail)).toEqual([{
      ...common,
      trigger: 'cloudtrail',
      mode: 'REAPPLY',
      changedBy: ALICE,
      counts: { drifts: 1, reapplied: 1 },
      drifts: [{ field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reapplied' }],
      expected: { HttpTokens: 'required' },
      found: { HttpTokens: 'optional', HttpPutResponseHopLimit: 2, HttpEndpoint: 'disabled', ManagedBy: 'account' },
    }]);
  });

  test('a CloudTrail event without a caller: no changedBy', async () => {
    guard({ HttpTokens: 'required' });
    await run(trail({ userIdentity: { type: 'AWSService' } }));
    expect(drifts()).toHaveLength(1);
    expect(drifts()[0].detail).not.toHaveProperty('changedBy');
  });

  test('REPORT_ONLY: every drift reported, none reapplied', async () => {
    process.env.IMDS_DRIFT_GUARD = 'REPORT_ONLY';
    guard({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    await run(schedule());
    expect(drifts()[0].detail).toMatchObject({
      mode: 'REPORT_ONLY',
      counts: { drifts: 2, reapplied: 0 },
      drifts: [
        { field: 'HttpTokens', expected: 'required', found: 'optional', action: 'reported' },
        { field: 'HttpPutResponseHopLimit', expected: 1, found: 2, action: 'reported' },
      ],
    });
  });

  test('a field another stack manages is left alone (with that stack, as logged); the others reapplied', async () => {
    world.state = { HttpTokens: 'optional', HttpEndpoint: 'disabled' };
    guard({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
    addClaim(world, 'legacy', 'Imds', { HttpTokens: 'optional' });
    await run(schedule());
    expect(drifts()[0].detail).toMatchObject({
      counts: { drifts: 2, reapplied: 1 },
      drifts: [
        { field: 'HttpTokens', expected: 'required', found: 'optional', action: 'left-alone', managedBy: `legacy (${stackIdOf('legacy')})` },
        { field: 'HttpEndpoint', expected: 'enabled', found: 'disabled', action: 'reapplied' },
      ],
    });
    expect(linesOf('drift').map(({ message, trigger, ...drift }) => drift)).toEqual(drifts()[0].detail.drifts);
  });

  test('a set-back that fails: the drift is put as reapply-failed, and the run still fails with the same error', async () => {
    guard({ HttpTokens: 'required' });
    ec2.on(ModifyInstanceMetadataDefaultsCommand).rejects(serviceError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    await expect(run(schedule())).rejects.toThrow('You are not authorized');
    expect(drifts()[0].detail).toMatchObject({ counts: { drifts: 1, reapplied: 0 }, drifts: [{ field: 'HttpTokens', action: 'reapply-failed' }] });
  });

  test('no drift, a skipped run, an ignored event: no event', async () => {
    guard({ HttpTokens: 'optional' });
    await run(schedule());
    stacks.set(SELF.stackId, 'UPDATE_IN_PROGRESS');
    guard({ HttpTokens: 'required' });
    await run(schedule());
    await run(schedule({ source: 'my.app' }));
    expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
  });

  test('a claim problem is put as an "IMDS Security Warning" at once (not held: no CloudFormation answer waits), beside the drift', async () => {
    withoutClaim({ HttpTokens: 'required' });
    await run(schedule());
    expect(putEvents().map((e) => [e.detailType, e.detail.warning])).toEqual([['IMDS Security Warning', 'claim-problem'], ['IMDS Drift Detected', undefined]]);
    expect(putEvents('IMDS Security Warning')[0].detail).toMatchObject({
      metric: 'ClaimProblems', count: 1, entries: [expect.objectContaining({ problem: 'missing', stackId: SELF.stackId, logicalResourceId: LOGICAL_ID })],
    });
  });

  test('a central bus (IMDS_EVENT_BUS): the same event to the default bus and to the central bus\'s ARN', async () => {
    const central = 'arn:aws:events:us-east-1:210987654321:event-bus/imds-findings';
    process.env.IMDS_EVENT_BUS = central;
    guard({ HttpTokens: 'required' });
    await run(schedule());
    expect(drifts().map((e) => e.bus).sort()).toEqual([central, 'default'].sort());
    expect(drifts()[0].detail).toEqual(drifts()[1].detail);
  });

  test.each([
    ['denied', serviceError('AccessDeniedException', 'not authorized to perform events:PutEvents on the bus')],
    ['throttled', serviceError('ThrottlingException', 'Rate exceeded')],
  ])('a %s PutEvents changes no outcome: the same write, lines and metrics; the findings not put are counted', async (_kind, error) => {
    guard({ HttpTokens: 'required' });
    eventBridge.on(PutEventsCommand).rejects(error);
    await expect(run(schedule())).resolves.toBeUndefined();
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required' }]);
    expect(world.state.HttpTokens).toBe('required');
    expect(linesOf('drift check done')).toEqual([{ message: 'drift check done', mode: 'REAPPLY', detected: 1, reapplied: 1 }]);
    expect(metricCalls()).toEqual([...metrics(1, 1), { Namespace: NAMESPACE, MetricData: [metric('FindingsNotPut', 1)] }]);
  });

  test('an entry EventBridge refuses (FailedEntryCount) changes no outcome either', async () => {
    guard({ HttpTokens: 'required' });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'denied' }] });
    await expect(run(schedule())).resolves.toBeUndefined();
    expect(world.state.HttpTokens).toBe('required');
    expect(metricCalls()).toContainEqual({ Namespace: NAMESPACE, MetricData: [metric('FindingsNotPut', 1)] });
  });

  test('the put carries the run\'s signal: when the run\'s time is up, EventBridge is not waited for (the finding is counted as not put)', async () => {
    guard({ HttpTokens: 'required' });
    const signals: AbortSignal[] = [];
    eventBridge.reset();
    eventBridge.send.callsFake((_command: unknown, options: { abortSignal: AbortSignal }) => {
      signals.push(options.abortSignal);
      // As the SDK's: ends only when its signal fires.
      return new Promise<never>((_resolve, reject) => {
        const aborted = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        if (options.abortSignal.aborted) aborted();
        options.abortSignal.addEventListener('abort', aborted);
      });
    });
    const started = Date.now();
    // The run's deadline (DRIFT_RESERVE_MS before the function's timeout) fires at once here (quickWaits); the mocked calls go on.
    await run(schedule(), DRIFT_RESERVE_MS + 500);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(signals).toHaveLength(1);
    expect(signals[0].aborted).toBe(true);
    expect(metricCalls()).toContainEqual({ Namespace: NAMESPACE, MetricData: [metric('FindingsNotPut', 1)] });
  });
});
