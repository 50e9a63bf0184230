/**
 * ImdsReadinessReport at synth: the resources, the read-only role, the routing
 * environment, the schedule, the attributes, the metric methods, and each error.
 */
import { App, CfnOutput, Duration, Stack, Token, aws_iam as iam, aws_logs as logs } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ImdsMetrics, ImdsPermissionsBoundary, ImdsReadinessReport, ImdsReadinessReportProps, ReadinessReportResult } from '../src';
import { inlineHandlerCode } from '../src/private/inline-code';
import { REPORT_COUNT_ATTRIBUTE_KEYS, REPORT_METRIC_NAMES, REPORT_RESULTS } from '../src/private/properties';

function synth(props: ImdsReadinessReportProps = {}) {
  const app = new App();
  const stack = new Stack(app, 'Stack');
  const report = new ImdsReadinessReport(stack, 'Report', props);
  let template: Template | undefined;
  return { app, stack, report, get template() { return (template ??= Template.fromStack(stack)); } };
}

function only(template: Template, type: string): { id: string; resource: any } {
  const found = Object.entries(template.findResources(type));
  expect(found).toHaveLength(1);
  return { id: found[0][0], resource: found[0][1] };
}

describe('with the defaults', () => {
  const { template, report, stack } = synth();

  test('an inline function, its role, policy, log group, async-invoke config, daily schedule and permission, and the custom resource', () => {
    const types = Object.values(template.toJSON().Resources).map((r: any) => r.Type).sort();
    expect(types).toEqual([
      'AWS::Events::Rule',
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::Function',
      'AWS::Lambda::Permission',
      'AWS::Logs::LogGroup',
      'Custom::ImdsReadinessReport',
    ]);
    expect(only(template, 'AWS::Events::Rule').resource.Properties.ScheduleExpression).toBe('rate(1 day)');
  });

  test('the function runs its own bundle (lambda/readiness-report), plain, with no environment', () => {
    const { resource: fn } = only(template, 'AWS::Lambda::Function');
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Timeout: 60, MemorySize: 256 });
    expect(fn.Properties.Code.ZipFile).toBe(inlineHandlerCode('readiness-report'));
    expect(fn.Properties.Environment).toBeUndefined();
    expect(fn.Properties.Description).toMatch(/^cdk-imds-account-defaults \S+: reports what enforcing IMDSv2 would stop \(read-only\); code sha256 [0-9a-f]{64}$/);
    expect(only(template, 'AWS::Lambda::EventInvokeConfig').resource.Properties).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
  });

  test('the role can only read: no Modify, no SSM, its own stack only in CloudFormation', () => {
    const { resource: policy } = only(template, 'AWS::IAM::Policy');
    const statements = stack.resolve(policy.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions).toEqual([
      'ec2:GetInstanceMetadataDefaults', 'ec2:DescribeLaunchTemplateVersions', 'ec2:DescribeInstances',
      'autoscaling:DescribeLaunchConfigurations', 'autoscaling:DescribeAutoScalingGroups',
      'logs:CreateLogStream', 'logs:PutLogEvents',
      'cloudformation:DescribeStackResource',
      'cloudwatch:PutMetricData',
      'events:PutEvents',
    ]);
    expect(actions.filter((a: string) => /Modify|Put(?!MetricData|LogEvents|Events)|Delete|Create(?!LogStream)/.test(a))).toEqual([]);
    expect(statements[4]).toEqual({
      Action: 'events:PutEvents',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']] },
      Condition: { StringEquals: { 'events:source': 'cdk-imds-account-defaults' } },
    });
    expect(statements[0]).toMatchObject({ Resource: '*', Condition: { StringEquals: { 'aws:RequestedRegion': { Ref: 'AWS::Region' } } } });
    expect(statements[2]).toMatchObject({ Resource: { Ref: 'AWS::StackId' } });
    expect(statements[3]).toMatchObject({ Condition: { StringEquals: { 'cloudwatch:namespace': 'CdkImdsAccountDefaults' } } });
  });

  test('the custom resource: its own type, no properties but the ServiceTimeout, after its policy; the schedule after it', () => {
    const { id, resource } = only(template, 'Custom::ImdsReadinessReport');
    expect(Object.keys(resource.Properties).sort()).toEqual(['ServiceTimeout', 'ServiceToken']);
    expect(resource.Properties.ServiceTimeout).toBe(300);
    expect(resource.DependsOn).toEqual([only(template, 'AWS::IAM::Policy').id]);
    expect(only(template, 'AWS::Events::Rule').resource.DependsOn).toEqual([id]);
    // Delete does nothing: no retain policy needed.
    expect(resource.DeletionPolicy).toBe('Delete');
  });

  test('attributes: the result and the defaults as strings, the counts as numbers', () => {
    const { id } = only(template, 'Custom::ImdsReadinessReport');
    expect(stack.resolve(report.result)).toEqual({ 'Fn::GetAtt': [id, 'Result'] });
    expect(stack.resolve(report.currentHttpTokens)).toEqual({ 'Fn::GetAtt': [id, 'HttpTokens'] });
    expect(stack.resolve(report.currentHttpTokensEnforced)).toEqual({ 'Fn::GetAtt': [id, 'HttpTokensEnforced'] });
    expect(stack.resolve(report.managedBy)).toEqual({ 'Fn::GetAtt': [id, 'ManagedBy'] });
    const counts = [report.launchTemplatesAllowingImdsv1Count, report.launchConfigurationsAllowingImdsv1Count,
      report.autoScalingGroupsAllowingImdsv1Count, report.instancesAllowingImdsv1Count];
    counts.forEach((count, i) => {
      expect(Token.isUnresolved(count)).toBe(true);
      expect(typeof count).toBe('number');
      expect(stack.resolve(count)).toEqual({ 'Fn::GetAtt': [id, REPORT_COUNT_ATTRIBUTE_KEYS[i]] });
    });
  });

  test('the log group keeps a year; escape hatches', () => {
    expect(only(template, 'AWS::Logs::LogGroup').resource.Properties.RetentionInDays).toBe(365);
    expect(report.handler).toBeDefined();
    expect(report.role).toBeDefined();
    expect(report.logGroup).toBeDefined();
    expect(report.scheduleRule).toBeDefined();
    expect(ImdsReadinessReport.isImdsReadinessReport(report)).toBe(true);
    expect(ImdsReadinessReport.isImdsReadinessReport(stack)).toBe(false);
    expect(ImdsReadinessReport.isImdsReadinessReport(null)).toBe(false);
  });

  test('the result enum is the handler\'s set', () => {
    expect(Object.values(ReadinessReportResult)).toEqual([...REPORT_RESULTS]);
  });

  test('usable in an output', () => {
    const fresh = synth();
    new CfnOutput(fresh.stack, 'Result', { value: fresh.report.result });
    new CfnOutput(fresh.stack, 'Groups', { value: Token.asString(fresh.report.autoScalingGroupsAllowingImdsv1Count) });
    expect(Object.keys(fresh.app.synth().getStackByName('Stack').template.Outputs)).toEqual(['Result', 'Groups']);
  });
});

describe('options', () => {
  test('interval, log retention, role path, a boundary', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const boundary = new iam.ManagedPolicy(stack, 'Boundary', { statements: [new iam.PolicyStatement({ actions: ['*'], resources: ['*'] })] });
    new ImdsReadinessReport(stack, 'Report', {
      interval: Duration.hours(6),
      logRetention: logs.RetentionDays.ONE_MONTH,
      rolePath: '/platform/',
      permissionsBoundary: ImdsPermissionsBoundary.fromManagedPolicy(boundary),
    });
    const template = Template.fromStack(stack);
    expect(only(template, 'AWS::Events::Rule').resource.Properties.ScheduleExpression).toBe('rate(6 hours)');
    expect(only(template, 'AWS::Logs::LogGroup').resource.Properties.RetentionInDays).toBe(30);
    expect(only(template, 'AWS::IAM::Role').resource.Properties).toMatchObject({ Path: '/platform/', PermissionsBoundary: { Ref: expect.stringMatching(/^Boundary/) } });
  });

  test('scheduledRuns false: no rule, no permission', () => {
    const { template, report } = synth({ scheduledRuns: false });
    expect(template.findResources('AWS::Events::Rule')).toEqual({});
    expect(template.findResources('AWS::Lambda::Permission')).toEqual({});
    expect(report.scheduleRule).toBeUndefined();
  });

  test('an interval that is a token is passed to EventBridge', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const hours = Token.asNumber({ Ref: 'Hours' });
    expect(() => new ImdsReadinessReport(stack, 'Report', { interval: Duration.hours(hours) })).not.toThrow();
  });
});

describe('errors', () => {
  test('an interval under an hour', () => {
    expect(() => synth({ interval: Duration.minutes(30) })).toThrow(/^\[Stack\/Report\] interval must be a whole number of minutes, at least 1 hour \(each run lists the whole fleet\); got 30 minutes$/);
  });
  test('an interval of a fraction of a minute', () => {
    expect(() => synth({ interval: Duration.seconds(3630) })).toThrow(/interval must be a whole number of minutes, at least 1 hour/);
  });
  test('an interval without scheduled runs', () => {
    expect(() => synth({ interval: Duration.hours(2), scheduledRuns: false })).toThrow(/^\[Stack\/Report\] interval applies only to scheduled runs; got interval 2 hours with scheduledRuns false/);
  });
  test('a bad role path', () => {
    expect(() => synth({ rolePath: 'platform' })).toThrow(/^\[Stack\/Report\] rolePath must be "\/" or a path/);
  });
  test('two in one stack', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    new ImdsReadinessReport(stack, 'One');
    expect(() => new ImdsReadinessReport(stack, 'Two')).toThrow(/^\[Stack\/Two\] a stack can hold only one ImdsReadinessReport.*Stack\/One already does in stack Stack$/);
  });
  test('two stacks of one app for the same concrete account and Region', () => {
    const app = new App();
    const env = { account: '123456789012', region: 'eu-west-1' };
    new ImdsReadinessReport(new Stack(app, 'A', { env }), 'Report');
    new ImdsReadinessReport(new Stack(app, 'B', { env }), 'Report');
    expect(() => app.synth()).toThrow(/ImdsReadinessReport A\/Report \(stack A\) also reports on account and Region 123456789012\/eu-west-1/);
  });
});

describe('metrics', () => {
  const { report } = synth({ interval: Duration.hours(6) });
  test.each([
    ['metricWouldStopLaunches', REPORT_METRIC_NAMES.WouldStopLaunches, ImdsMetrics.READINESS_WOULD_STOP_LAUNCHES],
    ['metricIncomplete', REPORT_METRIC_NAMES.Incomplete, ImdsMetrics.READINESS_INCOMPLETE],
    ['metricLaunchTemplatesAllowingImdsv1', REPORT_METRIC_NAMES.LaunchTemplatesAllowingImdsv1Count, ImdsMetrics.READINESS_LAUNCH_TEMPLATES_ALLOWING_IMDSV1],
    ['metricLaunchConfigurationsAllowingImdsv1', REPORT_METRIC_NAMES.LaunchConfigurationsAllowingImdsv1Count, ImdsMetrics.READINESS_LAUNCH_CONFIGURATIONS_ALLOWING_IMDSV1],
    ['metricAutoScalingGroupsAllowingImdsv1', REPORT_METRIC_NAMES.AutoScalingGroupsAllowingImdsv1Count, ImdsMetrics.READINESS_AUTO_SCALING_GROUPS_ALLOWING_IMDSV1],
    ['metricInstancesAllowingImdsv1', REPORT_METRIC_NAMES.InstancesAllowingImdsv1Count, ImdsMetrics.READINESS_INSTANCES_ALLOWING_IMDSV1],
  ] as const)('%s: %s, Maximum per interval, no dimensions', (method, name, constant) => {
    expect(constant).toBe(name);
    const metric = report[method]();
    expect(metric).toMatchObject({ namespace: 'CdkImdsAccountDefaults', metricName: name, statistic: 'Maximum' });
    expect(metric.period.toSeconds()).toBe(6 * 3600);
    expect(metric.dimensions).toBeUndefined();
    expect(report[method]({ period: Duration.minutes(5) }).period.toSeconds()).toBe(300);
  });

  test('ImdsMetrics.metric knows them, with a day', () => {
    expect(ImdsMetrics.metric(ImdsMetrics.READINESS_WOULD_STOP_LAUNCHES).period.toSeconds()).toBe(86400);
  });

  test('unconfirmed events: Sum per 5 minutes', () => {
    expect(report.metricUnconfirmedEvents()).toMatchObject({ metricName: 'UnconfirmedEvents', statistic: 'Sum' });
    expect(report.metricFindingsNotPut()).toMatchObject({ metricName: 'FindingsNotPut', statistic: 'Sum' });
    expect(report.metricFindingsNotPut().period.toMinutes()).toBe(5);
  });

  test('a metric another construct publishes is refused, with the names it has', () => {
    expect(() => report.metric('DriftDetected')).toThrow(/^\[Stack\/Report\] metric: "DriftDetected" is not a metric this construct publishes; give one of UnconfirmedEvents, FindingsNotPut, ReadinessLaunchTemplatesAllowingImdsv1, ReadinessLaunchConfigurationsAllowingImdsv1, ReadinessAutoScalingGroupsAllowingImdsv1, ReadinessInstancesAllowingImdsv1, ReadinessWouldStopLaunches, ReadinessIncomplete$/);
  });

  test('an interval that is a token needs a period', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const r = new ImdsReadinessReport(stack, 'Report', { interval: Duration.hours(Token.asNumber({ Ref: 'H' })) });
    expect(() => r.metricIncomplete()).toThrow(/^\[Stack\/Report\] ReadinessIncomplete: interval is a token/);
    expect(r.metricIncomplete({ period: Duration.hours(1) }).period.toSeconds()).toBe(3600);
  });
});

describe('refreshKey', () => {
  test('written as the custom resource\'s only property of its own; a new value is an Update', () => {
    const one = only(synth({ refreshKey: '2026-12-05' }).template, 'Custom::ImdsReadinessReport').resource.Properties;
    expect(one.RefreshKey).toBe('2026-12-05');
    const two = only(synth({ refreshKey: '2026-12-12' }).template, 'Custom::ImdsReadinessReport').resource.Properties;
    expect(two.RefreshKey).not.toBe(one.RefreshKey);
  });
});
