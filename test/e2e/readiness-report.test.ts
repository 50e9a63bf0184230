/**
 * End-to-end: the dry run (ImdsReadinessReport), through the shipped inline
 * code (the account-defaults bundle, made the report by its environment)
 * against the emulated fleet: launch templates, a launch configuration, Auto
 * Scaling groups and instances. What it answers (the attributes, written out
 * here: a renamed key or value breaks this suite), the metrics it puts, that
 * it changes nothing on any event (the Delete included), its schedule, and a
 * StackSet member with only the report (its outputs).
 */
import { CfnOutput } from 'aws-cdk-lib';
import { REGION, World, expectSuccess, scenario } from './harness/scenario';
import { StackTemplate, synthesize, synthesizeStackSet } from './harness/template';
import { ImdsAccountDefaults, ImdsHttpTokens, ImdsReadinessReport, ImdsStackSetTarget } from '../../src';

const NAMESPACE = 'CdkImdsAccountDefaults';
const METRIC_NAMES = [
  'ReadinessLaunchTemplatesAllowingImdsv1', 'ReadinessLaunchConfigurationsAllowingImdsv1', 'ReadinessAutoScalingGroupsAllowingImdsv1',
  'ReadinessInstancesAllowingImdsv1', 'ReadinessWouldStopLaunches', 'ReadinessIncomplete',
];

/** A fleet that enforcement would break: an IMDSv1 template (and a group on it), an IMDSv1 LC (and a group on it), instances. */
function seedFleet(w: World) {
  const web = w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'web', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
  // $Default (2) requires IMDSv2; a group still pinned to version 1 launches IMDSv1.
  const api = w.ec2.addLaunchTemplate(REGION, {
    LaunchTemplateName: 'api', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }, { MetadataOptions: { HttpTokens: 'required' } }], DefaultVersionNumber: 2,
  });
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy-lc', MetadataOptions: { HttpTokens: 'optional' } });
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'modern-lc', MetadataOptions: { HttpTokens: 'required' } });
  const v1 = w.ec2.addInstances(REGION, 3, { MetadataOptions: { HttpTokens: 'optional' } });
  w.ec2.addInstances(REGION, 2, { MetadataOptions: { HttpTokens: 'required' } });
  w.autoscaling.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'legacy-asg', LaunchConfigurationName: 'legacy-lc', Instances: [{ InstanceId: v1[0].InstanceId }] });
  w.autoscaling.addAutoScalingGroup(REGION, {
    AutoScalingGroupName: 'web-asg',
    LaunchTemplate: { LaunchTemplateId: web.LaunchTemplateId, LaunchTemplateName: 'web', Version: '$Latest' },
    Instances: [{ InstanceId: v1[1].InstanceId }],
  });
  w.autoscaling.addAutoScalingGroup(REGION, {
    AutoScalingGroupName: 'api-pinned', LaunchTemplate: { LaunchTemplateId: api.LaunchTemplateId, LaunchTemplateName: 'api', Version: '1' },
  });
  w.autoscaling.addAutoScalingGroup(REGION, {
    AutoScalingGroupName: 'api-default', LaunchTemplate: { LaunchTemplateId: api.LaunchTemplateId, LaunchTemplateName: 'api', Version: '$Default' },
  });
  w.autoscaling.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'modern-asg', LaunchConfigurationName: 'modern-lc' });
  return { web, api };
}

/** Each metric's last value put (namespace CdkImdsAccountDefaults, no dimensions). */
function lastMetrics(w: World): Record<string, number> {
  const put = w.cloudwatch.putMetricData(REGION, NAMESPACE).filter((d) => METRIC_NAMES.includes(d.MetricName));
  for (const d of put) {
    expect(d.Dimensions).toEqual({});
    expect(d.Unit).toBe('Count');
  }
  return Object.fromEntries(put.map((d) => [d.MetricName, d.Value!]));
}

/** What the stack's Outputs say, resolved from the answer's Data as CloudFormation does (Fn::GetAtt of the report). */
function outputsOf(t: StackTemplate, data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries<any>(t.template.Outputs ?? {})
    .filter(([, o]) => Array.isArray(o.Value?.['Fn::GetAtt']))
    .map(([id, o]) => [id, data[o.Value['Fn::GetAtt'][1]]]));
}

const reportTemplate = () => synthesize((stack) => new ImdsReadinessReport(stack, 'Report'));

scenario('one account: a fleet enforcement would break is reported, with the counts, the defaults and the metrics; nothing is changed', async (w) => {
  w.ec2.setState(REGION, { HttpEndpoint: 'enabled' });
  seedFleet(w);
  const stack = w.stack();
  const create = await stack.create(reportTemplate());
  expectSuccess(create, {
    Result: 'WOULD_STOP_LAUNCHES',
    LaunchTemplatesAllowingImdsv1Count: '1',
    LaunchConfigurationsAllowingImdsv1Count: '1',
    AutoScalingGroupsAllowingImdsv1Count: '3',
    InstancesAllowingImdsv1Count: '3',
    HttpTokens: 'no-preference',
    HttpTokensEnforced: 'no-preference',
    ManagedBy: 'account',
  });
  expect(create.answer!.PhysicalResourceId).toBe(`ImdsReadinessReport:${stack.accountId}:${REGION}`);
  expect(lastMetrics(w)).toEqual({
    ReadinessLaunchTemplatesAllowingImdsv1: 1,
    ReadinessLaunchConfigurationsAllowingImdsv1: 1,
    ReadinessAutoScalingGroupsAllowingImdsv1: 3,
    ReadinessInstancesAllowingImdsv1: 3,
    ReadinessWouldStopLaunches: 1,
    ReadinessIncomplete: 0,
  });
  // Read-only: no Modify of any kind, no SSM, only Describe in Auto Scaling.
  expect(create.ec2Actions.filter((a) => !a.startsWith('Describe') && a !== 'GetInstanceMetadataDefaults')).toEqual([]);
  expect(create.ssmActions).toEqual([]);
  expect(new Set(create.autoscalingActions)).toEqual(new Set(['DescribeAutoScalingGroups', 'DescribeLaunchConfigurations']));
  expect(w.state()).toEqual({ HttpEndpoint: 'enabled' });
  const line = create.invocation!.logs.split('\n').find((l) => l.includes('"readiness report"'))!;
  expect(JSON.parse(line.slice(line.indexOf('{'))).autoScalingGroups).toMatchObject({ count: 5, allowingImdsv1: ['legacy-asg', 'web-asg', 'api-pinned'] });
});

scenario('one account: a ready fleet is READY; then a template that allows IMDSv1 appears and the schedule reports it', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'strict', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
  w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'plain', versions: [{}] });
  w.ec2.addInstances(REGION, 2, { MetadataOptions: { HttpTokens: 'required' } });
  const stack = w.stack();
  expectSuccess(await stack.create(reportTemplate()), {
    Result: 'READY',
    LaunchTemplatesAllowingImdsv1Count: '0',
    LaunchConfigurationsAllowingImdsv1Count: '0',
    AutoScalingGroupsAllowingImdsv1Count: '0',
    InstancesAllowingImdsv1Count: '0',
    HttpTokens: 'required',
    HttpTokensEnforced: 'no-preference',
    ManagedBy: 'account',
  });
  expect(lastMetrics(w)).toMatchObject({ ReadinessWouldStopLaunches: 0, ReadinessIncomplete: 0 });
  expect(stack.rules().map((r) => r.scheduleExpression)).toEqual(['rate(1 day)']);

  w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'packer-built', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
  const run = await stack.schedule();
  expect(run.invocation.outcome).toBe('returned');
  expect(lastMetrics(w)).toMatchObject({ ReadinessLaunchTemplatesAllowingImdsv1: 1, ReadinessWouldStopLaunches: 1 });
  expect(run.ec2Actions.filter((a) => a.startsWith('Modify'))).toEqual([]);
});

scenario('one account: the groups cannot be listed (access denied): INCOMPLETE, the stack still deploys', async (w) => {
  w.autoscaling.injectFault({ code: 'AccessDenied', times: 100, action: 'DescribeAutoScalingGroups' });
  const create = await w.stack().create(reportTemplate());
  expect(create.answer!.Status).toBe('SUCCESS');
  expect(create.answer!.Data).toMatchObject({ Result: 'INCOMPLETE', AutoScalingGroupsAllowingImdsv1Count: '0' });
  expect(lastMetrics(w)).toMatchObject({ ReadinessIncomplete: 1, ReadinessWouldStopLaunches: 0 });
}, { timeoutMs: 120_000 });

scenario('one account: Update reports again; Delete changes nothing and calls nothing', async (w) => {
  seedFleet(w);
  w.ec2.setState(REGION, { HttpTokens: 'optional', HttpEndpoint: 'enabled' });
  const stack = w.stack();
  expectSuccess(await stack.create(reportTemplate()));
  const update = await stack.update(synthesize((s) => new ImdsReadinessReport(s, 'Report', { scheduledRuns: false })));
  // No property changed: CloudFormation sends no Update to the report (the rule goes), and the Data stays.
  expect(update.stackStatus).toBe('UPDATE_COMPLETE');
  const everything = () => ({
    state: w.state(),
    templates: w.ec2.launchTemplates(REGION),
    configurations: w.autoscaling.launchConfigurations(REGION),
    groups: w.autoscaling.autoScalingGroups(REGION),
    instances: w.ec2.instances(REGION),
  });
  const before = everything();
  const deleted = await stack.delete();
  expect(deleted.stackStatus).toBe('DELETE_COMPLETE');
  const step = deleted.steps.find((s) => s.requestType === 'Delete')!;
  expect(step.answer!.Status).toBe('SUCCESS');
  expect(step.ec2Actions).toEqual([]);
  expect(step.autoscalingActions).toEqual([]);
  expect(step.ssmActions).toEqual([]);
  expect(step.cloudwatchActions).toEqual([]);
  expect(everything()).toEqual(before);
});

scenario('one account: the team fixes the fleet, a new refreshKey reports again at the next deployment: READY', async (w) => {
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy-lc', MetadataOptions: { HttpTokens: 'optional' } });
  w.autoscaling.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'legacy-asg', LaunchConfigurationName: 'legacy-lc' });
  const stack = w.stack();
  const create = await stack.create(synthesize((s) => new ImdsReadinessReport(s, 'Report', { refreshKey: 'before' })));
  expect(create.answer!.Data).toMatchObject({ Result: 'WOULD_STOP_LAUNCHES', LaunchConfigurationsAllowingImdsv1Count: '1', AutoScalingGroupsAllowingImdsv1Count: '1' });
  // Replaced by an IMDSv2 launch configuration and group.
  w.autoscaling.clearAutoScalingGroups(REGION);
  w.autoscaling.clearLaunchConfigurations(REGION);
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'modern-lc', MetadataOptions: { HttpTokens: 'required' } });
  w.autoscaling.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'modern-asg', LaunchConfigurationName: 'modern-lc' });
  const update = await stack.update(synthesize((s) => new ImdsReadinessReport(s, 'Report', { refreshKey: 'after' })));
  const step = update.steps.find((st) => st.requestType === 'Update')!;
  expect(step.answer!.PhysicalResourceId).toBe(create.answer!.PhysicalResourceId);
  expect(step.answer!.Data).toMatchObject({ Result: 'READY', LaunchConfigurationsAllowingImdsv1Count: '0', AutoScalingGroupsAllowingImdsv1Count: '0' });
  expect(lastMetrics(w)).toMatchObject({ ReadinessWouldStopLaunches: 0 });
});

scenario('one account: beside ImdsAccountDefaults in one stack, the report changes nothing and the settings are applied by their own resource', async (w) => {
  seedFleet(w);
  const stack = w.stack();
  const create = await stack.create(synthesize((s) => {
    new ImdsReadinessReport(s, 'Report');
    new ImdsAccountDefaults(s, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
  }));
  expect(create.stackStatus).toBe('CREATE_COMPLETE');
  expect(w.state()).toEqual({ HttpTokens: 'required' });
});

scenario('a StackSet member with only the report: the outputs say what enforcing would stop, in that account and Region', async (w) => {
  seedFleet(w);
  const { template, parameters } = synthesizeStackSet({
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }),
    readinessReport: {},
  });
  expect(parameters).toEqual({});
  const stack = w.stack();
  const create = await stack.create(template);
  expect(create.stackStatus).toBe('CREATE_COMPLETE');
  expect(outputsOf(template, create.answer!.Data as Record<string, string>)).toEqual({
    ReadinessResult: 'WOULD_STOP_LAUNCHES',
    LaunchTemplatesAllowingImdsv1: '1',
    LaunchConfigurationsAllowingImdsv1: '1',
    AutoScalingGroupsAllowingImdsv1: '3',
    InstancesAllowingImdsv1: '3',
    CurrentHttpTokens: 'no-preference',
    CurrentHttpTokensEnforced: 'no-preference',
    ManagedBy: 'account',
  });
  // No ImdsAccountDefaults in the member: nothing is set, no claim is written.
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
  expect(create.ssmActions).toEqual([]);
  // Deleting the stack instance changes nothing either.
  const deleted = await stack.delete();
  expect(deleted.stackStatus).toBe('DELETE_COMPLETE');
  expect(w.state()).toEqual({});
});

scenario('a StackSet member with settings and the report: the settings are applied, the report says what the fleet is', async (w) => {
  seedFleet(w);
  const { template, parameters } = synthesizeStackSet({
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }),
    httpTokens: ImdsHttpTokens.REQUIRED,
    readinessReport: {},
  });
  const create = await w.stack().create(template, parameters);
  expect(create.stackStatus).toBe('CREATE_COMPLETE');
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  const report = create.steps.find((st) => st.event?.ResourceType === 'Custom::ImdsReadinessReport')!;
  expect(outputsOf(template, report.answer!.Data as Record<string, string>)).toMatchObject({ ReadinessResult: 'WOULD_STOP_LAUNCHES' });
});

scenario('an app that outputs the report\'s attributes gets the same values', async (w) => {
  seedFleet(w);
  const t = synthesize((s) => {
    const report = new ImdsReadinessReport(s, 'Report');
    new CfnOutput(s, 'Result', { value: report.result });
  });
  const create = await w.stack().create(t);
  expect(outputsOf(t, create.answer!.Data as Record<string, string>).Result).toBe('WOULD_STOP_LAUNCHES');
});
