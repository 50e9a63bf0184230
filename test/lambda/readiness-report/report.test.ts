/**
 * The readiness report (lambda/readiness-report/): ImdsReadinessReport's function, with
 * the services mocked by aws-sdk-client-mock over a world of launch templates,
 * launch configurations, instances and (here) Auto Scaling groups. It only reads:
 * no Modify, no SSM, on any event.
 */
import { AutoScalingGroup, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
} from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { handler as accountDefaultsHandler } from '../../../lambda/account-defaults/index';
import { handler } from '../../../lambda/readiness-report/index';
import { REPORT_CREATE_FAILED_PREFIX, REPORT_LISTING_BUDGET_MS, runReport } from '../../../lambda/readiness-report/report';
import { UNCONFIRMED_REASON } from '../../../lambda/shared/confirm';
import { REPORT_METRIC_NAMES, REPORT_RESOURCE_TYPE } from '../../../src/private/properties';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { ACCOUNT, REGION, answerOf, captureLogs, createEvent, deleteEvent, lambdaContext, quickWaits, updateEvent } from '../support';
import { World, autoScaling, cfn, cw, ec2, emulate, eventBridge, newWorld, putEvents, serviceError, ssm } from '../support/aws-mocks';
import { recordEvent } from '../support/cloudformation';

let endpoint: ResponseEndpoint;
let logs: string[];
let world: World;
const PHYSICAL_ID = `ImdsReadinessReport:${ACCOUNT}:${REGION}`;
const env = { ...process.env };

/** A report event: the shared events, with the report's type and no properties. */
function asReport(event: CloudFormationCustomResourceEvent): CloudFormationCustomResourceEvent {
  const ResourceProperties = { ServiceToken: event.ServiceToken };
  return { ...event, ResourceType: REPORT_RESOURCE_TYPE, ResourceProperties } as CloudFormationCustomResourceEvent;
}
const run = (event: CloudFormationCustomResourceEvent) => answerOf(handler, endpoint, event);
const reportLog = () => logs.map((l) => JSON.parse(l)).filter((l) => l.message === 'readiness report');
const metricsPut = () => cw.commandCalls(PutMetricDataCommand).flatMap((c) => c.args[0].input.MetricData ?? [])
  .map((d) => [d.MetricName, d.Value]);
const groups = (...g: object[]) => ({ AutoScalingGroups: g as AutoScalingGroup[] });

/** A launch template whose versions (1, 2, ...) set these HttpTokens (undefined: no MetadataOptions). */
function launchTemplate(id: string, name: string, versions: Array<string | undefined>, defaultVersion = 1): void {
  versions.forEach((tokens, i) => world.launchTemplateVersions.push({
    LaunchTemplateId: id,
    LaunchTemplateName: name,
    VersionNumber: i + 1,
    DefaultVersion: i + 1 === defaultVersion,
    LaunchTemplateData: tokens === undefined ? { ImageId: 'ami-12345678' } : { MetadataOptions: { HttpTokens: tokens as 'optional' | 'required' } },
  }));
}
/** Answers DescribeLaunchTemplateVersions by template id and version, as the shared Auto Scaling module asks. */
function serveVersionsById(): void {
  ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake((input) => {
    if (input.LaunchTemplateId === undefined) {
      const latest = new Map<string, number>();
      for (const v of world.launchTemplateVersions) latest.set(v.LaunchTemplateId!, Math.max(latest.get(v.LaunchTemplateId!) ?? 0, v.VersionNumber!));
      const wanted = world.launchTemplateVersions.filter((v) => (input.Versions.includes('$Default') && v.DefaultVersion) || (input.Versions.includes('$Latest') && latest.get(v.LaunchTemplateId!) === v.VersionNumber));
      return { LaunchTemplateVersions: wanted.filter((v) => v.LaunchTemplateData?.MetadataOptions?.HttpTokens === 'optional') };
    }
    const mine = world.launchTemplateVersions.filter((v) => v.LaunchTemplateId === input.LaunchTemplateId);
    if (mine.length === 0) throw serviceError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${input.LaunchTemplateId}, does not exist.`);
    const latest = Math.max(...mine.map((v) => v.VersionNumber!));
    return {
      LaunchTemplateVersions: mine.filter((v) => input.Versions.some((w: string) => (w === '$Default' && v.DefaultVersion) || (w === '$Latest' && v.VersionNumber === latest) || w === String(v.VersionNumber))),
    };
  });
}
function launchConfiguration(name: string, tokens?: string): void {
  world.launchConfigurations.push({
    LaunchConfigurationName: name,
    ImageId: 'ami-12345678',
    InstanceType: 't3.micro',
    CreatedTime: new Date(0),
    ...(tokens === undefined ? {} : { MetadataOptions: { HttpTokens: tokens as 'optional' | 'required' } }),
  });
}
function instance(id: string, tokens: string): void {
  world.instances.push({ InstanceId: id, State: { Name: 'running' }, MetadataOptions: { HttpTokens: tokens as 'optional' } });
}
/** Serves the launch configurations by name too (the module asks for the groups' ones). */
function serveConfigurationsByName(): void {
  autoScaling.on(DescribeLaunchConfigurationsCommand).callsFake((input) => ({
    LaunchConfigurations: world.launchConfigurations
      .filter((c) => !input.LaunchConfigurationNames || input.LaunchConfigurationNames.includes(c.LaunchConfigurationName!)),
  }));
}

function expectNothingWritten(): void {
  expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
  expect(ssm.calls()).toHaveLength(0);
}

beforeAll(async () => {
  endpoint = await ResponseEndpoint.start();
  logs = captureLogs();
  quickWaits();
});
afterAll(async () => {
  process.env = env;
  await endpoint.stop();
});
beforeEach(() => {
  world = newWorld({ HttpEndpoint: 'enabled' });
  logs.length = 0;
  emulate(world);
  serveVersionsById();
  serveConfigurationsByName();
  autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups());
});

describe('Create', () => {
  test('nothing allows IMDSv1: READY, zero counts, the defaults, metrics put, nothing written', async () => {
    world.state = { HttpTokens: 'required' };
    launchTemplate('lt-0000000000000000a', 'strict', ['required']);
    launchConfiguration('lc-strict', 'required');
    instance('i-00000000000000001', 'required');
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: PHYSICAL_ID,
      Data: {
        Result: 'READY',
        LaunchTemplatesAllowingImdsv1Count: '0',
        LaunchConfigurationsAllowingImdsv1Count: '0',
        AutoScalingGroupsAllowingImdsv1Count: '0',
        InstancesAllowingImdsv1Count: '0',
        HttpTokens: 'required',
        HttpTokensEnforced: 'no-preference',
        ManagedBy: 'account',
      },
    });
    expect(Object.keys(answer.Data!)).toHaveLength(8);
    expect(metricsPut()).toEqual([
      [REPORT_METRIC_NAMES.LaunchTemplatesAllowingImdsv1Count, 0],
      [REPORT_METRIC_NAMES.LaunchConfigurationsAllowingImdsv1Count, 0],
      [REPORT_METRIC_NAMES.AutoScalingGroupsAllowingImdsv1Count, 0],
      [REPORT_METRIC_NAMES.InstancesAllowingImdsv1Count, 0],
      [REPORT_METRIC_NAMES.WouldStopLaunches, 0],
      [REPORT_METRIC_NAMES.Incomplete, 0],
    ]);
    expect(cw.commandCalls(PutMetricDataCommand)[0].args[0].input).toMatchObject({ Namespace: 'CdkImdsAccountDefaults' });
    expectNothingWritten();
    // Confirmed with CloudFormation as the report's type.
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackResourceCommand, 1);
  });

  test('a fleet that would break: WOULD_STOP_LAUNCHES, each kind counted, named in one log line', async () => {
    launchTemplate('lt-0000000000000000a', 'web', ['optional']);
    launchTemplate('lt-0000000000000000b', 'pinned', ['optional', 'required'], 2);
    launchConfiguration('lc-legacy', 'optional');
    launchConfiguration('lc-plain');
    instance('i-00000000000000001', 'optional');
    instance('i-00000000000000002', 'optional');
    instance('i-00000000000000003', 'required');
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups(
      { AutoScalingGroupName: 'asg-lc', LaunchConfigurationName: 'lc-legacy', Instances: [{ InstanceId: 'i-00000000000000001' }] },
      // $Default (2) requires IMDSv2, but the group is pinned to version 1: only the group shows it.
      { AutoScalingGroupName: 'asg-pinned', LaunchTemplate: { LaunchTemplateId: 'lt-0000000000000000b', LaunchTemplateName: 'pinned', Version: '1' } },
      { AutoScalingGroupName: 'asg-plain', LaunchConfigurationName: 'lc-plain' },
    ));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data).toEqual({
      Result: 'WOULD_STOP_LAUNCHES',
      LaunchTemplatesAllowingImdsv1Count: '1',
      LaunchConfigurationsAllowingImdsv1Count: '1',
      AutoScalingGroupsAllowingImdsv1Count: '2',
      InstancesAllowingImdsv1Count: '2',
      HttpTokens: 'no-preference',
      HttpTokensEnforced: 'no-preference',
      ManagedBy: 'account',
    });
    const [line] = reportLog();
    expect(line).toMatchObject({
      result: 'WOULD_STOP_LAUNCHES',
      launchTemplates: { count: '1', names: ['lt-0000000000000000a (web, version 1)'] },
      launchConfigurations: { count: '1', names: ['lc-legacy'] },
      instances: { count: '2' },
      autoScalingGroups: { count: 3, allowingImdsv1: ['asg-lc', 'asg-pinned'] },
    });
    expect(line.autoScalingGroups.notRead).toBeUndefined();
    expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.WouldStopLaunches, 1]);
    expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.AutoScalingGroupsAllowingImdsv1Count, 2]);
    expectNothingWritten();
  });

  test('a declarative policy manages the defaults: reported, nothing else changes', async () => {
    world.managedBy = { ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team' };
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ Result: 'READY', ManagedBy: 'declarative-policy' });
  });

  test('a listing that fails: INCOMPLETE (never FAILED), the Incomplete metric 1', async () => {
    ec2.on(DescribeInstancesCommand).rejects(serviceError('UnauthorizedOperation', 'not allowed', 403));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data).toMatchObject({ Result: 'INCOMPLETE', InstancesAllowingImdsv1Count: '0' });
    expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.Incomplete, 1]);
    expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.WouldStopLaunches, 0]);
    expect(reportLog()[0].instances.incomplete).toMatch(/UnauthorizedOperation/);
  });

  test('something that would stop, and a listing that fails: WOULD_STOP_LAUNCHES wins, Incomplete 1', async () => {
    launchConfiguration('lc-legacy', 'optional');
    ec2.on(DescribeInstancesCommand).rejects(serviceError('InternalError', 'boom', 500));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ Result: 'WOULD_STOP_LAUNCHES', LaunchConfigurationsAllowingImdsv1Count: '1' });
    expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.Incomplete, 1]);
  });

  test('the groups cannot be listed: INCOMPLETE', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(serviceError('InternalFailure', 'boom', 500));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ Result: 'INCOMPLETE', AutoScalingGroupsAllowingImdsv1Count: '0' });
    expect(reportLog()[0].autoScalingGroups.incomplete).toMatch(/^the groups could not all be listed \(InternalFailure: boom\)/);
  });

  test('a group whose template is gone: INCOMPLETE, the group named as not read', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups({ AutoScalingGroupName: 'asg-gone', LaunchTemplate: { LaunchTemplateId: 'lt-0000000000000000f', Version: '$Default' } }));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ Result: 'INCOMPLETE' });
    expect(reportLog()[0].autoScalingGroups.notRead).toEqual(['asg-gone']);
  });

  test('the defaults cannot be read: "unknown", INCOMPLETE', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand).rejects(serviceError('InternalError', 'boom', 500));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ Result: 'INCOMPLETE', HttpTokens: 'unknown', HttpTokensEnforced: 'unknown', ManagedBy: 'unknown' });
    expect(reportLog()[0].defaultsNotRead).toBe('InternalError: boom');
  });

  test('CloudWatch refuses the metrics: the report is still answered', async () => {
    cw.on(PutMetricDataCommand).rejects(serviceError('AccessDenied', 'no', 403));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer).toMatchObject({ Status: 'SUCCESS', Data: { Result: 'READY' } });
  });

  test('CloudFormation cannot be asked: FAILED with the marker id, nothing listed', async () => {
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('InternalFailure', 'down', 500));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Status).toBe('FAILED');
    expect(answer.PhysicalResourceId).toMatch(new RegExp(`^${REPORT_CREATE_FAILED_PREFIX}`));
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('Update and Delete', () => {
  test('Update reports again and keeps the physical id CloudFormation knows', async () => {
    launchConfiguration('lc-legacy', 'optional');
    const answer = await run(asReport(updateEvent(endpoint, {}, {}, 'ImdsReadinessReport:111111111111:us-east-1')));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'ImdsReadinessReport:111111111111:us-east-1', Data: { Result: 'WOULD_STOP_LAUNCHES' } });
    expectNothingWritten();
  });

  test('Delete touches nothing: no EC2, Auto Scaling, SSM or CloudWatch call', async () => {
    const answer = await run(asReport(deleteEvent(endpoint, {}, PHYSICAL_ID)));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(answer.Data).toBeUndefined();
    expect(ec2.calls()).toHaveLength(0);
    expect(autoScaling.calls()).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
  });

  test('Delete after a failed Create: succeeds, touches nothing', async () => {
    const answer = await run(asReport(deleteEvent(endpoint, {}, `${REPORT_CREATE_FAILED_PREFIX}request-1`)));
    expect(answer.Status).toBe('SUCCESS');
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('only the report\'s own, confirmed events act', () => {
  test('an event CloudFormation shows as another type: unconfirmed, FAILED, nothing read', async () => {
    world.confirmEvents = false;
    const event = asReport(createEvent(endpoint, {}));
    world.resources.set(`${event.StackId}|${event.LogicalResourceId}`, 'CREATE_IN_PROGRESS');
    const answer = await run(event);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
    expect(ec2.calls()).toHaveLength(0);
    expect(autoScaling.calls()).toHaveLength(0);
  });

  test('the ImdsAccountDefaults function does not serve the report\'s type: unconfirmed there, nothing read', async () => {
    const event = asReport(createEvent(endpoint, {}));
    const answer = await answerOf(accountDefaultsHandler, endpoint, event);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
    expect(ec2.calls()).toHaveLength(0);
  });

  test('a report event of the ImdsAccountDefaults type is not confirmed by the report function', async () => {
    const answer = await run({ ...asReport(createEvent(endpoint, {})), ResourceType: 'Custom::ImdsAccountDefaults' } as CloudFormationCustomResourceEvent);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: UNCONFIRMED_REASON });
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('the schedule', () => {
  const scheduled = (fields: Record<string, unknown> = {}) => ({
    'version': '0',
    'id': 'e1',
    'detail-type': 'Scheduled Event',
    'source': 'aws.events',
    'account': ACCOUNT,
    'region': REGION,
    'time': '2026-12-05T00:00:00Z',
    'resources': [`arn:aws:events:${REGION}:${ACCOUNT}:rule/r`],
    'detail': {},
    ...fields,
  });

  test('a scheduled run reports and puts the metrics; nothing is answered or written', async () => {
    launchTemplate('lt-0000000000000000a', 'web', ['optional']);
    await handler(scheduled() as never, lambdaContext(60_000));
    expect(reportLog()).toHaveLength(1);
    expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.WouldStopLaunches, 1]);
    expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.LaunchTemplatesAllowingImdsv1Count, 1]);
    expect(endpoint.answersFor('e1')).toHaveLength(0);
    expectNothingWritten();
  });

  test.each([
    ['another account', { account: '999999999999' }, /account "999999999999"/],
    ['another Region', { region: 'us-east-1' }, /region "us-east-1"/],
    ['not a schedule', { 'source': 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' }, /neither the schedule's nor CloudTrail's/],
    ['a CloudTrail event', { 'source': 'aws.ec2', 'detail-type': 'AWS API Call via CloudTrail', 'detail': { eventSource: 'ec2.amazonaws.com', eventName: 'ModifyInstanceMetadataDefaults' } }, /runs only on its schedule/],
  ])('%s: ignored, nothing read', async (_name, fields, reason) => {
    await handler(scheduled(fields) as never, lambdaContext(60_000));
    expect(logs.map((l) => JSON.parse(l)).find((l) => l.message === 'ignored')?.reason).toMatch(reason);
    expect(ec2.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
  });

  test('not an object: ignored', async () => {
    await handler('hello' as never, lambdaContext(60_000));
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('runReport', () => {
  test('the listing budget: at most REPORT_LISTING_BUDGET_MS, less when the end is nearer', async () => {
    // quickWaits' spy (not restored here: the later tests need it).
    const timers = setTimeout as unknown as jest.Mock;
    timers.mockClear();
    const controller = new AbortController();
    await runReport(controller.signal, Date.now() + 120_000, 'schedule');
    expect(timers.mock.calls.map((c) => c[1])).toContain(REPORT_LISTING_BUDGET_MS);
    timers.mockClear();
    await runReport(controller.signal, Date.now() + 15_000, 'schedule');
    const budgets = timers.mock.calls.map((c) => c[1] as number).filter((ms) => ms > 5_000);
    expect(budgets.length).toBeGreaterThan(0);
    expect(Math.max(...budgets)).toBeLessThanOrEqual(10_000);
    timers.mockClear();
    // No time at all: a budget of 0, the listings cut short.
    const report = await runReport(controller.signal, Date.now() - 1, 'schedule');
    expect(report.result).toBe('INCOMPLETE');
  });
});

describe('what the mutation run asked for', () => {
  test('only a group allows IMDSv1 (pinned to an old version): WOULD_STOP_LAUNCHES with no template or configuration counted', async () => {
    launchTemplate('lt-0000000000000000b', 'pinned', ['optional', 'required'], 2);
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups({
      AutoScalingGroupName: 'asg-pinned', LaunchTemplate: { LaunchTemplateId: 'lt-0000000000000000b', Version: '1' },
    }));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({
      Result: 'WOULD_STOP_LAUNCHES',
      LaunchTemplatesAllowingImdsv1Count: '0',
      LaunchConfigurationsAllowingImdsv1Count: '0',
      AutoScalingGroupsAllowingImdsv1Count: '1',
    });
  });

  test('a group with no launch source (listing complete): INCOMPLETE, named as not read', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups({ AutoScalingGroupName: 'odd' }));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ Result: 'INCOMPLETE' });
    const [line] = reportLog();
    expect(line.autoScalingGroups).toEqual({ count: 1, allowingImdsv1: [], notRead: ['odd'] });
  });

  test('the log line names at most 50 groups of each kind', async () => {
    launchConfiguration('lc-legacy', 'optional');
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups(
      ...Array.from({ length: 51 }, (_, i) => ({ AutoScalingGroupName: `v1-${i}`, LaunchConfigurationName: 'lc-legacy' })),
      ...Array.from({ length: 51 }, (_, i) => ({ AutoScalingGroupName: `odd-${i}` })),
    ));
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ AutoScalingGroupsAllowingImdsv1Count: '51' });
    const [line] = reportLog();
    expect(line.autoScalingGroups.allowingImdsv1).toHaveLength(50);
    expect(line.autoScalingGroups.notRead).toHaveLength(50);
    expect(line.autoScalingGroups.count).toBe(102);
  });

  test('EC2 answers no ManagedBy: the account manages the defaults', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand).resolves({ AccountLevel: { HttpTokens: 'required' } });
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ HttpTokens: 'required', ManagedBy: 'account' });
  });

  test('Delete logs that it changes nothing', async () => {
    await run(asReport(deleteEvent(endpoint, {}, PHYSICAL_ID)));
    expect(logs.map((l) => JSON.parse(l).message)).toContain('Delete: the readiness report changes nothing');
  });

  test('a failed Create answers the marker id ImdsReadinessReport:CreateFailed:<RequestId>', async () => {
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('InternalFailure', 'down', 500));
    const event = asReport(createEvent(endpoint, {}));
    const answer = await run(event);
    expect(answer.PhysicalResourceId).toBe(`ImdsReadinessReport:CreateFailed:${event.RequestId}`);
  });

  test('access denied on the first read of the defaults is waited out (a new role), and says so', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand)
      .rejectsOnce(serviceError('UnauthorizedOperation', 'not yet', 403))
      .resolves({ AccountLevel: { ManagedBy: 'account' } });
    const answer = await run(asReport(createEvent(endpoint, {})));
    expect(answer.Data).toMatchObject({ Result: 'READY', ManagedBy: 'account' });
    expect(logs.map((l) => JSON.parse(l).message)).toContain('UnauthorizedOperation on the first EC2 GetInstanceMetadataDefaults call: waiting for the role\'s policy to propagate');
  });

  test('the function\'s deadline: the Create is answered FAILED, saying nothing was changed', async () => {
    let release: () => void = () => undefined;
    ec2.on(GetInstanceMetadataDefaultsCommand).callsFake(() => new Promise((resolve) => {
      release = () => resolve({ AccountLevel: {} });
    }));
    const event = asReport(createEvent(endpoint, {}));
    // As CloudFormation shows it while it waits (answerOf does this for the other tests).
    recordEvent(world, event);
    const running = handler(event, lambdaContext(6_000));
    for (let i = 0; i < 3_000 && endpoint.answersFor(event.RequestId).length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    release();
    await running;
    const [answer] = endpoint.answersFor(event.RequestId);
    expect(answer.response).toMatchObject({
      Status: 'FAILED',
      Reason: 'Create did not finish within 1 s (the function\'s timeout less 5 s to answer); nothing was changed (the readiness report only reads)',
      PhysicalResourceId: `ImdsReadinessReport:CreateFailed:${event.RequestId}`,
    });
  });

  test('a scheduled run has the function\'s time less 5 s, and clears its timer', async () => {
    const timeouts = setTimeout as unknown as jest.Mock;
    timeouts.mockClear();
    const clears = jest.spyOn(global, 'clearTimeout');
    try {
      await handler({
        'detail-type': 'Scheduled Event', 'source': 'aws.events', 'account': ACCOUNT, 'region': REGION, 'detail': {},
      } as never, lambdaContext(60_000));
      const budget = timeouts.mock.calls.findIndex((c) => (c[1] as number) > 50_000);
      expect(timeouts.mock.calls[budget][1]).toBeGreaterThan(54_000);
      expect(timeouts.mock.calls[budget][1]).toBeLessThanOrEqual(55_000);
      expect(clears).toHaveBeenCalledWith(timeouts.mock.results[budget].value);
      // The listing had its whole budget: complete.
      expect(metricsPut()).toContainEqual([REPORT_METRIC_NAMES.Incomplete, 0]);
    } finally {
      clears.mockRestore();
    }
  });
});

describe('the finding: one IMDS Readiness Report a run (shared/events.ts)', () => {
  const reports = () => putEvents('IMDS Readiness Report');
  const notPut = () => metricsPut().filter(([name]) => name === 'FindingsNotPut').map(([, value]) => value);
  const scheduled = { 'detail-type': 'Scheduled Event', 'source': 'aws.events', 'account': ACCOUNT, 'region': REGION, 'id': 's1', 'detail': {} };
  /** A fleet enforcement would break: two templates (one with two versions allowing IMDSv1), a configuration, instances, groups. */
  function breakingFleet(): void {
    launchTemplate('lt-0000000000000000a', 'web', ['optional']);
    launchTemplate('lt-0000000000000000c', 'both', ['optional', 'optional'], 1);
    launchConfiguration('lc-legacy', 'optional');
    instance('i-00000000000000001', 'optional');
    instance('i-00000000000000002', 'optional');
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups(
      { AutoScalingGroupName: 'asg-lc', LaunchConfigurationName: 'lc-legacy' },
      { AutoScalingGroupName: 'asg-fine', LaunchTemplate: { LaunchTemplateId: 'lt-0000000000000000a', Version: '$Latest' }, MixedInstancesPolicy: undefined },
    ));
  }

  test('Create: put after CloudFormation has its answer, with the stack, the defaults found, the counts and the samples', async () => {
    breakingFleet();
    const event = asReport(createEvent(endpoint, {}));
    let answeredBefore: number | undefined;
    eventBridge.on(PutEventsCommand).callsFake((input) => {
      answeredBefore = endpoint.answersFor(event.RequestId).length;
      return { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'e' })) };
    });
    expect((await run(event)).Status).toBe('SUCCESS');
    expect(answeredBefore).toBe(1);
    expect(putEvents()).toEqual([{
      bus: 'default',
      source: 'cdk-imds-account-defaults',
      detailType: 'IMDS Readiness Report',
      detail: {
        version: '1',
        account: ACCOUNT,
        region: REGION,
        resource: { function: 'imds-handler', stackId: event.StackId, logicalResourceId: event.LogicalResourceId },
        origin: 'readiness-report',
        result: 'WOULD_STOP_LAUNCHES',
        trigger: 'deploy',
        // The defaults as EC2 reported them (a field without a value: no preference).
        found: { HttpEndpoint: 'enabled', ManagedBy: 'account' },
        // The counts as answered (Data) and put as metrics.
        counts: {
          LaunchTemplatesAllowingImdsv1Count: 2,
          LaunchConfigurationsAllowingImdsv1Count: 1,
          AutoScalingGroupsAllowingImdsv1Count: 2,
          InstancesAllowingImdsv1Count: 2,
        },
        // As the log line names them: id, name and the versions that allow IMDSv1.
        launchTemplates: ['lt-0000000000000000a (web, version 1)', 'lt-0000000000000000c (both, version 1, 2)'],
        launchConfigurations: ['lc-legacy'],
        autoScalingGroups: ['asg-lc', 'asg-fine'],
        instances: ['i-00000000000000001', 'i-00000000000000002'],
      },
    }]);
  });

  test('a scheduled run: trigger schedule, put after the metrics, with the run\'s time as its bound; a declarative policy is the found managedBy', async () => {
    world.managedBy = { ManagedBy: 'declarative-policy' };
    world.state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    let metricsBefore = 0;
    eventBridge.on(PutEventsCommand).callsFake((input) => {
      metricsBefore = cw.commandCalls(PutMetricDataCommand).length;
      return { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'e' })) };
    });
    await handler(scheduled as never, lambdaContext(60_000));
    expect(metricsBefore).toBe(1);
    expect(eventBridge.commandCalls(PutEventsCommand)[0].args[1]).toEqual({ abortSignal: expect.any(AbortSignal) });
    expect(reports().map((r) => r.detail)).toEqual([{
      version: '1',
      account: ACCOUNT,
      region: REGION,
      resource: { function: 'imds-handler' },
      origin: 'readiness-report',
      result: 'READY',
      trigger: 'schedule',
      found: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, ManagedBy: 'declarative-policy' },
      counts: {
        LaunchTemplatesAllowingImdsv1Count: 0,
        LaunchConfigurationsAllowingImdsv1Count: 0,
        AutoScalingGroupsAllowingImdsv1Count: 0,
        InstancesAllowingImdsv1Count: 0,
      },
      launchTemplates: [],
      launchConfigurations: [],
      autoScalingGroups: [],
      instances: [],
    }]);
  });

  test('what the run could not read: no defaults found (the Data says unknown); counts as far as the listings got, the result saying so', async () => {
    breakingFleet();
    ec2.on(DescribeInstancesCommand).rejects(serviceError('UnauthorizedOperation', 'not allowed', 403));
    ec2.on(GetInstanceMetadataDefaultsCommand).rejects(serviceError('InternalError', 'boom', 500));
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(serviceError('InternalFailure', 'boom', 500));
    const answer = await run(asReport(updateEvent(endpoint, {}, {}, PHYSICAL_ID)));
    const [{ detail }] = reports();
    expect(detail).toMatchObject({ result: 'WOULD_STOP_LAUNCHES', trigger: 'deploy' });
    // The same counts as the Data (and the metrics).
    expect(Object.fromEntries(Object.entries(detail.counts).map(([k, v]) => [k, String(v)]))).toEqual({
      LaunchTemplatesAllowingImdsv1Count: answer.Data!.LaunchTemplatesAllowingImdsv1Count,
      LaunchConfigurationsAllowingImdsv1Count: answer.Data!.LaunchConfigurationsAllowingImdsv1Count,
      AutoScalingGroupsAllowingImdsv1Count: answer.Data!.AutoScalingGroupsAllowingImdsv1Count,
      InstancesAllowingImdsv1Count: answer.Data!.InstancesAllowingImdsv1Count,
    });
    expect(detail.found).toBeUndefined();
    expect(answer.Data!.HttpTokens).toBe('unknown');
    expect(detail.instances).toEqual([]);
    expect(detail.autoScalingGroups).toEqual([]);
  });

  test('a large account: samples of 25, the full counts beside them', async () => {
    for (let i = 0; i < 60; i++) {
      launchTemplate(`lt-${String(i).padStart(17, '0')}`, `t${i}`, ['optional']);
      launchConfiguration(`lc-${i}`, 'optional');
      instance(`i-${String(i).padStart(17, '0')}`, 'optional');
    }
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups(
      ...Array.from({ length: 40 }, (_, i) => ({ AutoScalingGroupName: `asg-${i}`, LaunchConfigurationName: `lc-${i}` })),
    ));
    await handler(scheduled as never, lambdaContext(60_000));
    const [{ detail }] = reports();
    // The listings name 50 each (the log line's cap); the finding 25 (events.ts).
    expect(detail.counts).toEqual({
      LaunchTemplatesAllowingImdsv1Count: 60,
      LaunchConfigurationsAllowingImdsv1Count: 60,
      AutoScalingGroupsAllowingImdsv1Count: 40,
      InstancesAllowingImdsv1Count: 60,
    });
    for (const list of ['launchTemplates', 'launchConfigurations', 'autoScalingGroups', 'instances']) expect(detail[list]).toHaveLength(25);
    expect(detail.launchTemplates[24]).toBe('lt-00000000000000024 (t24, version 1)');
  });

  test('nothing is put for a Delete, an ignored event, or an event CloudFormation did not send (its security warning aside)', async () => {
    await run(asReport(deleteEvent(endpoint, {}, PHYSICAL_ID)));
    await handler({ ...scheduled, account: '999999999999' } as never, lambdaContext(60_000));
    world.confirmEvents = false;
    const event = asReport(createEvent(endpoint, {}));
    world.resources.set(`${event.StackId}|${event.LogicalResourceId}`, 'CREATE_IN_PROGRESS');
    await run(event);
    expect(putEvents().filter((e) => e.detailType !== 'IMDS Security Warning')).toEqual([]);
  });

  test('a central bus (IMDS_EVENT_BUS) gets the same finding', async () => {
    process.env.IMDS_EVENT_BUS = 'arn:aws:events:us-east-1:222222222222:event-bus/imds-central';
    try {
      await handler(scheduled as never, lambdaContext(60_000));
    } finally {
      delete process.env.IMDS_EVENT_BUS;
    }
    const put = reports();
    expect(put.map((e) => e.bus).sort()).toEqual(['arn:aws:events:us-east-1:222222222222:event-bus/imds-central', 'default']);
    expect(put[0].detail).toEqual(put[1].detail);
  });

  describe('a put that fails changes no outcome', () => {
    test.each([
      ['throttled throughout', () => serviceError('ThrottlingException', 'Rate exceeded')],
      ['denied', () => serviceError('AccessDeniedException', 'not authorized to perform: events:PutEvents', 403)],
    ])('%s: the same answer and metrics, on Create and on the schedule; FindingsNotPut 1', async (_name, error) => {
      breakingFleet();
      const outcome = async () => {
        const answer = await run(asReport(createEvent(endpoint, {})));
        await handler(scheduled as never, lambdaContext(60_000));
        return { answer: { ...answer, RequestId: undefined }, metrics: metricsPut().filter(([name]) => name !== 'FindingsNotPut') };
      };
      const good = await outcome();
      expect(notPut()).toEqual([]);
      cw.resetHistory();
      eventBridge.reset();
      eventBridge.on(PutEventsCommand).rejects(error());
      const bad = await outcome();
      expect(bad).toEqual(good);
      expect(notPut()).toEqual([1, 1]);
    });

    test('an entry refused as throttled once is put on the next try', async () => {
      eventBridge.on(PutEventsCommand)
        .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }] })
        .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
      await handler(scheduled as never, lambdaContext(60_000));
      expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
      expect(notPut()).toEqual([]);
    });
  });
});
