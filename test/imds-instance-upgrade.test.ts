import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnParameter, Duration, Stack, Token, aws_cloudwatch as cloudwatch, aws_iam as iam, aws_logs as logs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { UpgradeConfig, readConfig } from '../lambda/instance-upgrade/config';
import { ImdsInstanceUpgrade, ImdsInstanceUpgradeProps } from '../src/imds-instance-upgrade';
import { InstanceUpgradeMode, RejectedCallsAction } from '../src/instance-upgrade-options';
import { ImdsMetrics } from '../src/metrics';
import { ImdsPermissionsBoundary } from '../src/permissions-boundary';
import { UPGRADE_ATTRIBUTE_KEYS, UPGRADE_METRIC_NAMES } from '../src/private/properties';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function synth(props: ImdsInstanceUpgradeProps = {}) {
  const app = new App();
  const stack = new Stack(app, 'Stack');
  const upgrade = new ImdsInstanceUpgrade(stack, 'Upgrade', props);
  return { app, stack, upgrade, template: Template.fromStack(stack) };
}

/** The one resource of a type: its logical id and definition. */
function only(template: Template, type: string): { id: string; resource: any } {
  const found = Object.entries(template.findResources(type));
  expect(found).toHaveLength(1);
  return { id: found[0][0], resource: found[0][1] };
}

const ENV_DEFAULTS = {
  IMDS_UPGRADE_MODE: 'REPORT_ONLY',
  IMDS_UPGRADE_LOOKBACK_SECONDS: '1209600',
  IMDS_UPGRADE_EXCLUSION_TAG_KEY: 'imds-keep-v1',
  IMDS_UPGRADE_WITHOUT_METRICS: 'false',
  IMDS_UPGRADE_MAX_PER_RUN: '100',
  IMDS_UPGRADE_MIN_OBSERVED_SECONDS: '604800',
  IMDS_UPGRADE_INTERVAL_SECONDS: '86400',
};

describe('resources, with the defaults', () => {
  const { template, stack, upgrade } = synth();

  test('an inline function, its role, policy, log group, async-invoke config, schedule and permission, and the custom resource', () => {
    const types = Object.values(template.toJSON().Resources).map((r: any) => r.Type).sort();
    expect(types).toEqual([
      'AWS::Events::Rule',
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::Function',
      'AWS::Lambda::Permission',
      'AWS::Logs::LogGroup',
      'Custom::ImdsInstanceUpgrade',
    ]);
  });

  test('the function runs the bundled upgrade handler inline on nodejs24.x, with its whole configuration as environment variables', () => {
    const { resource: fn } = only(template, 'AWS::Lambda::Function');
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Timeout: 300, MemorySize: 256 });
    expect(fn.Properties.Environment).toEqual({ Variables: ENV_DEFAULTS });
    // The plain bundle, readable in the template: not the compressed loader.
    const code = fn.Properties.Code.ZipFile;
    expect(code).toBe(fs.readFileSync(path.join(__dirname, '..', 'assets', 'lambda', 'instance-upgrade', 'index', 'index.js'), 'utf8'));
    expect(code).not.toContain('brotliDecompressSync');
    expect(code).toContain('exports'); // CommonJS
    expect(code).not.toMatch(/\bimport\s*\{/);
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('UpgradeLogGroup') } } });
  });

  test('the Description names the library version and the SHA-256 of the code the template carries', () => {
    const { resource: fn } = only(template, 'AWS::Lambda::Function');
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const sha256 = crypto.createHash('sha256').update(fn.Properties.Code.ZipFile).digest('hex');
    expect(fn.Properties.Description).toBe(`cdk-imds-account-defaults ${version}: upgrades EC2 instances to IMDSv2 where safe; code sha256 ${sha256}`);
  });

  test('no Lambda retry of an asynchronous invocation (CloudFormation or the schedule), and no event older than a minute: within the ServiceTimeout', () => {
    const { id: fnId } = only(template, 'AWS::Lambda::Function');
    const { resource: invokeConfig } = only(template, 'AWS::Lambda::EventInvokeConfig');
    expect(invokeConfig.Properties).toEqual({ FunctionName: { Ref: fnId }, MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60, Qualifier: '$LATEST' });
    const { resource: cr } = only(template, 'Custom::ImdsInstanceUpgrade');
    expect(invokeConfig.Properties.MaximumEventAgeInSeconds).toBeLessThanOrEqual(cr.Properties.ServiceTimeout);
  });

  test('the schedule runs the function daily; only that rule may invoke it', () => {
    const { id: fnId } = only(template, 'AWS::Lambda::Function');
    const { id: ruleId, resource: rule } = only(template, 'AWS::Events::Rule');
    expect(rule.Properties).toEqual({
      ScheduleExpression: 'rate(1 day)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, Id: 'Target0' }],
    });
    expect(only(template, 'AWS::Lambda::Permission').resource.Properties).toEqual({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
  });

  test('the custom resource repeats the configuration (a change runs the function once), under the fixed type name, and depends on the policy', () => {
    const { id: fnId } = only(template, 'AWS::Lambda::Function');
    const { id: policyId } = only(template, 'AWS::IAM::Policy');
    const { resource: cr } = only(template, 'Custom::ImdsInstanceUpgrade');
    expect(cr.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Mode: 'REPORT_ONLY',
      LookbackSeconds: 1209600,
      ExclusionTagKey: 'imds-keep-v1',
      UpgradeWithoutMetrics: false,
      MaxUpgradesPerRun: 100,
      MinimumObservedSeconds: 604800,
      // Twice the function's timeout: CloudFormation fails the operation in minutes, not an hour.
      ServiceTimeout: 600,
    });
    expect(cr.DependsOn).toEqual([policyId]);
    expect(cr.DeletionPolicy).toBe('Delete');
  });

  test('least privilege: exact statements', () => {
    const { id: logGroupId } = only(template, 'AWS::Logs::LogGroup');
    const { resource: policy } = only(template, 'AWS::IAM::Policy');
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      // No resource-level permissions: only in the stack's Region.
      {
        Action: [
          'autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeLaunchConfigurations',
          'cloudwatch:GetMetricData', 'ec2:DescribeInstances', 'ec2:DescribeLaunchTemplateVersions',
        ],
        Effect: 'Allow',
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestedRegion': { Ref: 'AWS::Region' } } },
      },
      {
        Action: 'ec2:ModifyInstanceMetadataOptions',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':instance/*']],
        },
        Condition: {
          StringEquals: { 'ec2:Attribute/HttpTokens': 'required' },
          Null: { 'aws:ResourceTag/imds-keep-v1': 'true' },
        },
      },
      {
        Action: 'cloudwatch:PutMetricData',
        Effect: 'Allow',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'CdkImdsAccountDefaults' } },
      },
      // Its findings, as events: the default bus of its account and Region, the library's source only.
      {
        Action: 'events:PutEvents',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']] },
        Condition: { StringEquals: { 'events:source': 'cdk-imds-account-defaults' } },
      },
      // Confirming a deploy-time event: its own stack only.
      { Action: 'cloudformation:DescribeStackResource', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] } },
    ]);
    // Every statement on "*" is limited by a condition.
    for (const statement of policy.Properties.PolicyDocument.Statement.filter((st: any) => st.Resource === '*')) {
      expect(Object.keys(statement.Condition ?? {})).toEqual(['StringEquals']);
    }
    const { id: roleId, resource: role } = only(template, 'AWS::IAM::Role');
    expect(policy.Properties.Roles).toEqual([{ Ref: roleId }]);
    expect(role.Properties).toEqual({
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
        Version: '2012-10-17',
      },
      Description: 'Upgrades EC2 instances to IMDSv2 where safe (cdk-imds-account-defaults)',
    });
  });

  test('the log group keeps a year and goes with the stack', () => {
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 365 }, DeletionPolicy: 'Delete' });
  });

  test('no file assets: the template deploys on its own (StackSets, no bootstrap bucket)', () => {
    const app = stack.node.root as App;
    const artifact = app.synth().getStackByName(stack.stackName);
    expect(artifact.assets).toEqual([]);
    expect(JSON.stringify(artifact.template)).not.toMatch(/AssetParameters|cdk-assets|S3Bucket|S3Key/);
  });

  test('the counts of the run on deploy are number attributes named for what they count, each read with Fn::GetAtt of its Data key', () => {
    const { id: crId } = only(template, 'Custom::ImdsInstanceUpgrade');
    // The Data keys the handler answers (and deployed templates read) keep their names.
    const attributes: Array<[number, string]> = [
      [upgrade.instancesAllowingImdsv1Count, 'Candidates'],
      [upgrade.instancesEligibleCount, 'Eligible'],
      [upgrade.instancesUpgradedCount, 'Upgraded'],
      [upgrade.instancesPendingCount, 'Pending'],
      [upgrade.instancesInUseCount, 'InUse'],
      [upgrade.instancesExcludedCount, 'Excluded'],
      [upgrade.instancesUnknownCount, 'Unknown'],
      [upgrade.instancesFailedCount, 'Failed'],
      [upgrade.instancesWithTooLittleDataCount, 'TooLittleData'],
    ];
    for (const [value, key] of attributes) {
      expect(typeof value).toBe('number');
      expect(Token.isUnresolved(value)).toBe(true);
      expect(stack.resolve(value)).toEqual({ 'Fn::GetAtt': [crId, key] });
    }
    // Every key the handler answers has its attribute, once.
    expect(attributes.map(([, key]) => key).sort()).toEqual([...UPGRADE_ATTRIBUTE_KEYS].sort());
  });

  test('no attribute keeps an old name', () => {
    for (const old of ['candidates', 'eligible', 'upgraded', 'pending', 'inUse', 'excluded', 'unknown', 'failed', 'resource']) {
      expect(old in upgrade).toBe(false);
    }
  });

  test('escape hatches: the custom resource, the function, its role, its log group and the schedule', () => {
    const { id: crId } = only(template, 'Custom::ImdsInstanceUpgrade');
    expect(stack.resolve(upgrade.customResource.ref)).toEqual({ Ref: crId });
    expect(upgrade.node.defaultChild).toBe(upgrade.customResource);
    expect(stack.resolve(upgrade.handler.functionArn)).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::Lambda::Function').id, 'Arn'] });
    expect(stack.resolve(upgrade.role.roleArn)).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::IAM::Role').id, 'Arn'] });
    expect(upgrade.handler.role).toBe(upgrade.role);
    expect(stack.resolve(upgrade.logGroup.logGroupArn)).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::Logs::LogGroup').id, 'Arn'] });
    expect(stack.resolve(upgrade.schedule.ruleArn)).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::Events::Rule').id, 'Arn'] });
  });

  test('the log group takes a metric filter on the summary line', () => {
    const app = new App();
    const s = new Stack(app, 'Stack');
    const u = new ImdsInstanceUpgrade(s, 'Upgrade');
    new logs.MetricFilter(s, 'Summaries', {
      logGroup: u.logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.message', '=', 'instance upgrade summary'),
      metricNamespace: 'Mine',
      metricName: 'Runs',
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Logs::MetricFilter', { LogGroupName: { Ref: only(t, 'AWS::Logs::LogGroup').id } });
  });

  test('isImdsInstanceUpgrade', () => {
    expect(ImdsInstanceUpgrade.isImdsInstanceUpgrade(upgrade)).toBe(true);
    expect(ImdsInstanceUpgrade.isImdsInstanceUpgrade(stack)).toBe(false);
    expect(ImdsInstanceUpgrade.isImdsInstanceUpgrade(undefined)).toBe(false);
    expect(ImdsInstanceUpgrade.isImdsInstanceUpgrade(null)).toBe(false);
  });
});

describe('props', () => {
  test('every option reaches the environment, the custom resource and, for the tag key, the IAM condition', () => {
    const { template } = synth({
      mode: InstanceUpgradeMode.UPGRADE,
      lookback: Duration.days(30),
      interval: Duration.hours(6),
      exclusionTagKey: 'team:keep imdsv1',
      upgradeWithoutMetrics: true,
      maxUpgradesPerRun: 250,
      minimumObservedTime: Duration.days(10),
    });
    expect(only(template, 'AWS::Lambda::Function').resource.Properties.Environment.Variables).toEqual({
      IMDS_UPGRADE_MODE: 'UPGRADE',
      IMDS_UPGRADE_LOOKBACK_SECONDS: '2592000',
      IMDS_UPGRADE_EXCLUSION_TAG_KEY: 'team:keep imdsv1',
      IMDS_UPGRADE_WITHOUT_METRICS: 'true',
      IMDS_UPGRADE_MAX_PER_RUN: '250',
      IMDS_UPGRADE_MIN_OBSERVED_SECONDS: '864000',
      IMDS_UPGRADE_INTERVAL_SECONDS: '21600',
    });
    template.hasResourceProperties('Custom::ImdsInstanceUpgrade', {
      Mode: 'UPGRADE', LookbackSeconds: 2592000, ExclusionTagKey: 'team:keep imdsv1', UpgradeWithoutMetrics: true, MaxUpgradesPerRun: 250, MinimumObservedSeconds: 864000,
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'ec2:ModifyInstanceMetadataOptions',
          Condition: { StringEquals: { 'ec2:Attribute/HttpTokens': 'required' }, Null: { 'aws:ResourceTag/team:keep imdsv1': 'true' } },
        })]),
      },
    });
  });

  test('UPGRADE: the record tags (CreateTags on instances, its three keys only) and the interval claim (its Parameter Store path only)', () => {
    const { template } = synth({ mode: InstanceUpgradeMode.UPGRADE });
    const statements = only(template, 'AWS::IAM::Policy').resource.Properties.PolicyDocument.Statement;
    const instances = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':instance/*']] };
    expect(statements).toContainEqual({
      Action: 'ec2:CreateTags',
      Effect: 'Allow',
      Resource: instances,
      Condition: {
        'ForAllValues:StringEquals': {
          'aws:TagKeys': ['cdk-imds-account-defaults:upgraded-at', 'cdk-imds-account-defaults:restored-at', 'cdk-imds-account-defaults:restore-refused-at'],
        },
      },
    });
    expect(statements).toContainEqual({
      Action: ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameter'],
      Effect: 'Allow',
      Resource: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
          ':parameter/cdk-imds-account-defaults/instance-upgrade/switch-claims/*']],
      },
    });
    // Only to required: no put-back without RESTORE_OPTIONAL.
    expect(statements.filter((st: any) => st.Action === 'ec2:ModifyInstanceMetadataOptions').map((st: any) => st.Condition.StringEquals)).toEqual([
      { 'ec2:Attribute/HttpTokens': 'required' },
    ]);
    // REPORT_ONLY: neither.
    const reportOnly = only(synth().template, 'AWS::IAM::Policy').resource.Properties.PolicyDocument.Statement.map((st: any) => st.Action).flat();
    expect(reportOnly).not.toContain('ec2:CreateTags');
    expect(reportOnly).not.toContain('ssm:PutParameter');
  });

  test('RESTORE_OPTIONAL: the put-back only to optional, only on instances carrying the record; the environment and the custom resource say so', () => {
    const { template } = synth({ mode: InstanceUpgradeMode.UPGRADE, rejectedCallsAction: RejectedCallsAction.RESTORE_OPTIONAL });
    const statements = only(template, 'AWS::IAM::Policy').resource.Properties.PolicyDocument.Statement;
    expect(statements.filter((st: any) => st.Action === 'ec2:ModifyInstanceMetadataOptions').map((st: any) => st.Condition)).toEqual([
      { StringEquals: { 'ec2:Attribute/HttpTokens': 'required' }, Null: { 'aws:ResourceTag/imds-keep-v1': 'true' } },
      { StringEquals: { 'ec2:Attribute/HttpTokens': 'optional' }, Null: { 'aws:ResourceTag/cdk-imds-account-defaults:upgraded-at': 'false' } },
    ]);
    expect(only(template, 'AWS::Lambda::Function').resource.Properties.Environment.Variables.IMDS_UPGRADE_REJECTED_CALLS_ACTION).toBe('RESTORE_OPTIONAL');
    expect(only(template, 'Custom::ImdsInstanceUpgrade').resource.Properties.RejectedCallsAction).toBe('RESTORE_OPTIONAL');
    // The default is written nowhere (templates of existing users do not change for it).
    const plain = synth({ rejectedCallsAction: RejectedCallsAction.REPORT }).template;
    expect(only(plain, 'AWS::Lambda::Function').resource.Properties.Environment.Variables.IMDS_UPGRADE_REJECTED_CALLS_ACTION).toBeUndefined();
    expect(only(plain, 'Custom::ImdsInstanceUpgrade').resource.Properties.RejectedCallsAction).toBeUndefined();
    // In REPORT_ONLY nothing is put back: no statement for it.
    const reportOnly = synth({ rejectedCallsAction: RejectedCallsAction.RESTORE_OPTIONAL }).template;
    expect(only(reportOnly, 'AWS::IAM::Policy').resource.Properties.PolicyDocument.Statement
      .filter((st: any) => st.Action === 'ec2:ModifyInstanceMetadataOptions')).toHaveLength(1);
  });

  test.each([
    [Duration.minutes(90), 'rate(90 minutes)'],
    [Duration.hours(1), 'rate(1 hour)'],
    [Duration.days(7), 'rate(7 days)'],
  ])('interval %s gives %s', (interval, expression) => {
    synth({ interval }).template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: expression });
  });

  test.each([
    [Duration.hours(1), '3600'],
    [Duration.days(455), '39312000'],
    [Duration.minutes(120), '7200'],
  ])('lookback %s is %s seconds', (lookback, seconds) => {
    const { template } = synth({ lookback, minimumObservedTime: Duration.hours(1) });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ IMDS_UPGRADE_LOOKBACK_SECONDS: seconds }) } });
  });

  test.each([1, 1000])('maxUpgradesPerRun %p is accepted', (maxUpgradesPerRun) => {
    synth({ maxUpgradesPerRun }).template.hasResourceProperties('Custom::ImdsInstanceUpgrade', { MaxUpgradesPerRun: maxUpgradesPerRun });
  });

  test.each(['a', 'x'.repeat(128), 'Ünïcode_ключ', 'a+b-c=d.e_f:g/h@i', 'AWS-keep', 'awskeep'])('exclusion tag key %p is accepted', (exclusionTagKey) => {
    expect(() => synth({ exclusionTagKey })).not.toThrow();
  });

  test('logRetention', () => {
    synth({ logRetention: logs.RetentionDays.ONE_WEEK }).template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test('permissionsBoundary from a policy name (in the account the template deploys to), and rolePath', () => {
    const { template, upgrade } = synth({ permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'), rolePath: '/platform/' });
    template.hasResourceProperties('AWS::IAM::Role', {
      Path: '/platform/',
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/boundaries/ImdsBoundary']] },
    });
    expect(upgrade.node.tryFindChild('PermissionsBoundary')).toBeDefined();
  });

  test('permissionsBoundary from an AWS managed policy', () => {
    const { template } = synth({ permissionsBoundary: ImdsPermissionsBoundary.fromManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess')) });
    template.hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/PowerUserAccess']] },
    });
  });

  test('permissionsBoundary from a managed policy the app creates', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const boundary = new iam.ManagedPolicy(stack, 'Boundary', { statements: [new iam.PolicyStatement({ actions: ['ec2:*'], resources: ['*'] })] });
    new ImdsInstanceUpgrade(stack, 'Upgrade', { permissionsBoundary: ImdsPermissionsBoundary.fromManagedPolicy(boundary) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Role', { PermissionsBoundary: { Ref: only(template, 'AWS::IAM::ManagedPolicy').id } });
  });

  test('no permissions boundary and the root path by default', () => {
    const { template } = synth();
    const role = only(template, 'AWS::IAM::Role').resource;
    expect(role.Properties.PermissionsBoundary).toBeUndefined();
    expect(role.Properties.Path).toBeUndefined();
  });
});

describe('the function reads the configuration the construct writes', () => {
  test.each<[string, ImdsInstanceUpgradeProps, UpgradeConfig]>([
    ['the defaults', {}, { mode: 'REPORT_ONLY', lookbackSeconds: 1209600, exclusionTagKey: 'imds-keep-v1', upgradeWithoutMetrics: false, maxUpgradesPerRun: 100, minimumObservedSeconds: 604800, intervalSeconds: 86400, rejectedCallsAction: 'REPORT' }],
    ['the lower bounds', { mode: InstanceUpgradeMode.UPGRADE, lookback: Duration.hours(1), exclusionTagKey: 'k', maxUpgradesPerRun: 1, minimumObservedTime: Duration.hours(1), inclusionTagKey: 'i' },
      { mode: 'UPGRADE', lookbackSeconds: 3600, exclusionTagKey: 'k', upgradeWithoutMetrics: false, maxUpgradesPerRun: 1, minimumObservedSeconds: 3600, inclusionTagKey: 'i', intervalSeconds: 86400, rejectedCallsAction: 'REPORT' }],
    ['the upper bounds', { lookback: Duration.days(455), exclusionTagKey: 'ü'.repeat(128), upgradeWithoutMetrics: true, maxUpgradesPerRun: 1000, minimumObservedTime: Duration.days(455), inclusionTagKey: 'é'.repeat(128) },
      { mode: 'REPORT_ONLY', lookbackSeconds: 39312000, exclusionTagKey: 'ü'.repeat(128), upgradeWithoutMetrics: true, maxUpgradesPerRun: 1000, minimumObservedSeconds: 39312000, inclusionTagKey: 'é'.repeat(128), intervalSeconds: 86400, rejectedCallsAction: 'REPORT' }],
    ['a tag key with every allowed sign', { exclusionTagKey: 'Team Ä1 +-=._:/@', inclusionTagKey: 'Scope Ä1 +-=._:/@' },
      { mode: 'REPORT_ONLY', lookbackSeconds: 1209600, exclusionTagKey: 'Team Ä1 +-=._:/@', upgradeWithoutMetrics: false, maxUpgradesPerRun: 100, minimumObservedSeconds: 604800, inclusionTagKey: 'Scope Ä1 +-=._:/@', intervalSeconds: 86400, rejectedCallsAction: 'REPORT' }],
    ['minimumObservedTime equal to lookback', { lookback: Duration.days(3), minimumObservedTime: Duration.hours(72) },
      { mode: 'REPORT_ONLY', lookbackSeconds: 259200, exclusionTagKey: 'imds-keep-v1', upgradeWithoutMetrics: false, maxUpgradesPerRun: 100, minimumObservedSeconds: 259200, intervalSeconds: 86400, rejectedCallsAction: 'REPORT' }],
  ])('%s', (_name, props, expected) => {
    const { template } = synth(props);
    const env = only(template, 'AWS::Lambda::Function').resource.Properties.Environment.Variables;
    expect(readConfig(env)).toEqual(expected);
  });
});

describe('validation', () => {
  const throws = (props: ImdsInstanceUpgradeProps) => () => synth(props);

  test.each([
    [Duration.minutes(59), '59 minutes'],
    [Duration.minutes(90), '1 hour 30 minutes'],
    [Duration.seconds(3601), '1 hour 1 second'],
    [Duration.days(456), '456 days'],
    [Duration.hours(455 * 24 + 1), '455 days 1 hour'],
  ])('lookback %s is rejected, naming the prop, the value and the path', (lookback, shown) => {
    expect(throws({ lookback })).toThrow(new RegExp(
      `^\\[Stack/Upgrade\\] lookback must be a whole number of hours from 1 hour to 455 days \\(CloudWatch keeps 1-hour datapoints of MetadataNoToken for 455 days\\); got ${shown}$`));
  });

  test.each([
    [Duration.minutes(59), '59 minutes'],
    [Duration.seconds(3630), '1 hour 30 seconds'],
    [Duration.seconds(0), '0 seconds'],
  ])('interval %s is rejected', (interval, shown) => {
    expect(throws({ interval })).toThrow(new RegExp(
      `^\\[Stack/Upgrade\\] interval must be a whole number of minutes, at least 1 hour \\(MetadataNoToken arrives in 5-minute datapoints, and each run lists every instance\\); got ${shown}$`));
  });

  test.each([0, 1001, -1, 2.5, NaN])('maxUpgradesPerRun %p is rejected', (maxUpgradesPerRun) => {
    expect(throws({ maxUpgradesPerRun })).toThrow(new RegExp(
      `^\\[Stack/Upgrade\\] maxUpgradesPerRun must be an integer from 1 to 1000; got ${Number.isNaN(maxUpgradesPerRun) ? 'null' : maxUpgradesPerRun}$`));
  });

  test.each(['', 'x'.repeat(129), '\u{1D400}'.repeat(65), 'aws:keep', 'AWS:keep', ' keep', 'keep ', 'keep*', 'keep${aws:username}', 'keep,v1', 'a"b'])('exclusion tag key %p is rejected', (exclusionTagKey) => {
    expect(throws({ exclusionTagKey })).toThrow(
      `[Stack/Upgrade] exclusionTagKey must be an EC2 tag key: 1 to 128 characters, letters, digits, spaces and + - = . _ : / @, no leading or trailing space, not starting with "aws:"; got ${JSON.stringify(exclusionTagKey)}`);
  });

  test.each(['', 'x'.repeat(129), 'aws:scope', ' scope', 'scope*'])('inclusion tag key %p is rejected', (inclusionTagKey) => {
    expect(throws({ inclusionTagKey })).toThrow(
      `[Stack/Upgrade] inclusionTagKey must be an EC2 tag key: 1 to 128 characters, letters, digits, spaces and + - = . _ : / @, no leading or trailing space, not starting with "aws:"; got ${JSON.stringify(inclusionTagKey)}`);
  });

  test('the inclusion tag key must differ from the exclusion tag key', () => {
    expect(throws({ inclusionTagKey: 'imds-keep-v1' })).toThrow(
      '[Stack/Upgrade] inclusionTagKey must differ from exclusionTagKey (an instance carrying it would be both included and excluded); both are "imds-keep-v1"');
    expect(throws({ inclusionTagKey: 'team', exclusionTagKey: 'team' })).toThrow(/^\[Stack\/Upgrade\] inclusionTagKey must differ from exclusionTagKey/);
  });

  test.each([
    [Duration.minutes(30), '30 minutes'],
    [Duration.minutes(90), '1 hour 30 minutes'],
    [Duration.seconds(0), '0 seconds'],
  ])('minimumObservedTime %s is rejected: whole hours, at least 1 hour', (minimumObservedTime, shown) => {
    expect(throws({ minimumObservedTime })).toThrow(
      `[Stack/Upgrade] minimumObservedTime must be a whole number of hours, at least 1 hour (running time is counted in hours with a MetadataNoToken datapoint); got ${shown}`);
  });

  test('minimumObservedTime longer than lookback is rejected, naming both values; left out, it is the whole of a shorter lookback', () => {
    expect(throws({ lookback: Duration.days(5), minimumObservedTime: Duration.days(7) })).toThrow(
      '[Stack/Upgrade] minimumObservedTime (7 days) must be no longer than lookback (5 days): the running time is observed inside the lookback window');
    const env = only(synth({ lookback: Duration.days(5) }).template, 'AWS::Lambda::Function').resource.Properties.Environment.Variables;
    expect(env.IMDS_UPGRADE_MIN_OBSERVED_SECONDS).toBe(String(5 * 86400));
    expect(throws({ lookback: Duration.days(14), minimumObservedTime: Duration.days(15) })).toThrow(
      '[Stack/Upgrade] minimumObservedTime (15 days) must be no longer than lookback (14 days): the running time is observed inside the lookback window');
  });

  test('a token minimumObservedTime is not checked at synth: the function checks it', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const n = new CfnParameter(stack, 'N', { type: 'Number' }).valueAsNumber;
    new ImdsInstanceUpgrade(stack, 'Upgrade', { minimumObservedTime: Duration.seconds(n) });
    const env = only(Template.fromStack(stack), 'AWS::Lambda::Function').resource.Properties.Environment.Variables;
    expect(env.IMDS_UPGRADE_MIN_OBSERVED_SECONDS).toEqual({ Ref: 'N' });
  });

  test('the inclusion tag key: the DescribeInstances scope (environment), and Modify only on instances carrying it', () => {
    const { template } = synth({ inclusionTagKey: 'imds-upgrade' });
    const env = only(template, 'AWS::Lambda::Function').resource.Properties.Environment.Variables;
    expect(env).toEqual({ ...ENV_DEFAULTS, IMDS_UPGRADE_INCLUSION_TAG_KEY: 'imds-upgrade' });
    const statements = only(template, 'AWS::IAM::Policy').resource.Properties.PolicyDocument.Statement;
    const modify = statements.find((st: any) => st.Action === 'ec2:ModifyInstanceMetadataOptions');
    expect(modify.Condition.Null).toEqual({ 'aws:ResourceTag/imds-keep-v1': 'true', 'aws:ResourceTag/imds-upgrade': 'false' });
    expect(only(template, 'Custom::ImdsInstanceUpgrade').resource.Properties).toMatchObject({ InclusionTagKey: 'imds-upgrade', MinimumObservedSeconds: 604800 });
    // Not set: neither the variable nor the property nor the condition.
    const plain = synth().template;
    expect(only(plain, 'Custom::ImdsInstanceUpgrade').resource.Properties.InclusionTagKey).toBeUndefined();
  });

  test('rejectedCallsAction given as a raw value (JavaScript users) is rejected, naming the enum', () => {
    expect(throws({ rejectedCallsAction: 'restore' as RejectedCallsAction })).toThrow(
      '[Stack/Upgrade] rejectedCallsAction must be one of "REPORT", "RESTORE_OPTIONAL" (RejectedCallsAction); got "restore"');
  });

  test('a token rejectedCallsAction is refused: it sets the IAM policy', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const s = new CfnParameter(stack, 'S').valueAsString;
    expect(() => new ImdsInstanceUpgrade(stack, 'Upgrade', { rejectedCallsAction: s as RejectedCallsAction }))
      .toThrow(/^\[Stack\/Upgrade\] rejectedCallsAction must be known at synth/);
  });

  test('enum and boolean props given as raw values (JavaScript users)', () => {
    expect(throws({ mode: 'upgrade' as InstanceUpgradeMode })).toThrow(/^\[Stack\/Upgrade\] mode must be one of "REPORT_ONLY", "UPGRADE" \(InstanceUpgradeMode\); got "upgrade"$/);
    expect(throws({ exclusionTagKey: 42 as unknown as string })).toThrow(/exclusionTagKey must be an EC2 tag key.*; got 42$/);
    expect(throws({ upgradeWithoutMetrics: 'true' as unknown as boolean })).toThrow(/^\[Stack\/Upgrade\] upgradeWithoutMetrics must be true or false; got "true"$/);
  });

  test('tokens are refused: the values set the environment and the IAM policy', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const n = new CfnParameter(stack, 'N', { type: 'Number' }).valueAsNumber;
    const s = new CfnParameter(stack, 'S').valueAsString;
    const make = (id: string, props: ImdsInstanceUpgradeProps) => () => new ImdsInstanceUpgrade(new Stack(app, id), 'Upgrade', props);
    expect(make('A', { maxUpgradesPerRun: n })).toThrow(/^\[A\/Upgrade\] maxUpgradesPerRun must be known at synth \(it sets the function's environment and IAM policy\); got a token/);
    expect(make('B', { exclusionTagKey: s })).toThrow(/^\[B\/Upgrade\] exclusionTagKey must be known at synth/);
    expect(make('C', { mode: s as InstanceUpgradeMode })).toThrow(/^\[C\/Upgrade\] mode must be known at synth/);
    expect(make('D', { lookback: Duration.days(n) })).toThrow(/^\[D\/Upgrade\] lookback must be known at synth/);
    expect(make('E', { interval: Duration.hours(n) })).toThrow(/^\[E\/Upgrade\] interval must be known at synth/);
    expect(make('F', { upgradeWithoutMetrics: Token.asAny(s) as unknown as boolean })).toThrow(/^\[F\/Upgrade\] upgradeWithoutMetrics must be known at synth/);
  });

  test('role options are checked as for ImdsAccountDefaults', () => {
    expect(throws({ rolePath: 'platform' })).toThrow(/^\[Stack\/Upgrade\] rolePath must be "\/" or a path that starts and ends with "\/"/);
    expect(throws({ permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName('arn:aws:iam::123456789012:policy/B') }))
      .toThrow(/^\[Stack\/Upgrade\] permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName takes the policy's name, not its ARN/);
    expect(throws({ permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName('Imds Boundary') }))
      .toThrow(/^\[Stack\/Upgrade\] permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName must be a managed policy name .*; got "Imds Boundary"$/);
  });

  test('nothing is created when a prop is rejected', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    expect(() => new ImdsInstanceUpgrade(stack, 'Upgrade', { maxUpgradesPerRun: 0 })).toThrow();
    expect(stack.node.tryFindChild('Upgrade')?.node.children ?? []).toEqual([]);
  });

  test('at most one ImdsInstanceUpgrade per stack, nested ones included', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    new ImdsInstanceUpgrade(new Stack(app, 'Other'), 'Elsewhere'); // another stack: fine
    new ImdsInstanceUpgrade(new Construct(stack, 'Group'), 'First');
    expect(() => new ImdsInstanceUpgrade(stack, 'Second'))
      .toThrow(/^\[Stack\/Second\] a stack can hold only one ImdsInstanceUpgrade, because it works on every instance of the account and Region; Stack\/Group\/First already does in stack Stack$/);
  });

  test('two stacks of one app that target the same concrete account and Region fail at synth', () => {
    const app = new App();
    new ImdsInstanceUpgrade(new Stack(app, 'A', { env: ENV }), 'Upgrade');
    new ImdsInstanceUpgrade(new Stack(app, 'B', { env: ENV }), 'Upgrade');
    expect(() => app.synth()).toThrow(/ImdsInstanceUpgrade B\/Upgrade \(stack B\) also targets account and Region 123456789012\/eu-west-1; only one ImdsInstanceUpgrade may work on the instances of an account and Region/);
  });

  test('other Regions, other accounts and environment-agnostic stacks are fine', () => {
    const app = new App();
    new ImdsInstanceUpgrade(new Stack(app, 'A', { env: ENV }), 'Upgrade');
    new ImdsInstanceUpgrade(new Stack(app, 'B', { env: { ...ENV, region: 'us-east-1' } }), 'Upgrade');
    new ImdsInstanceUpgrade(new Stack(app, 'C', { env: { ...ENV, account: '210987654321' } }), 'Upgrade');
    new ImdsInstanceUpgrade(new Stack(app, 'D'), 'Upgrade');
    new ImdsInstanceUpgrade(new Stack(app, 'E'), 'Upgrade');
    expect(() => app.synth()).not.toThrow();
  });
});

describe('metrics', () => {
  type Method = 'metricInstancesAllowingImdsv1' | 'metricInstancesUpgraded' | 'metricInstancesInUse' | 'metricInstancesExcluded'
  | 'metricInstancesUnknown' | 'metricInstancesFailed' | 'metricInstancesWithTooLittleData' | 'metricInstancesWithRejectedImdsv1Calls'
  | 'metricInstancesRestoredToOptional' | 'metricInstancesRestoreRefused' | 'metricAutoScalingGroupsAllowingImdsv1' | 'metricUnconfirmedEvents'
  | 'metricFindingsNotPut';

  // Each method, the metric the handler puts, the statistic that reads it, and whether its period follows `interval`.
  const METHODS: Array<[Method, string, string, boolean]> = [
    ['metricInstancesAllowingImdsv1', 'InstancesAllowingImdsv1', 'Maximum', true],
    ['metricInstancesUpgraded', 'InstancesUpgraded', 'Maximum', true],
    ['metricInstancesInUse', 'InstancesInUse', 'Maximum', true],
    ['metricInstancesExcluded', 'InstancesExcluded', 'Maximum', true],
    ['metricInstancesUnknown', 'InstancesUnknown', 'Maximum', true],
    ['metricInstancesFailed', 'InstancesFailed', 'Maximum', true],
    ['metricInstancesWithTooLittleData', 'InstancesWithTooLittleData', 'Maximum', true],
    ['metricInstancesWithRejectedImdsv1Calls', 'InstancesWithRejectedImdsv1Calls', 'Maximum', true],
    ['metricInstancesRestoredToOptional', 'InstancesRestoredToOptional', 'Maximum', true],
    ['metricInstancesRestoreRefused', 'InstancesRestoreRefused', 'Maximum', true],
    ['metricAutoScalingGroupsAllowingImdsv1', 'AutoScalingGroupsAllowingImdsv1', 'Maximum', true],
    ['metricUnconfirmedEvents', 'UnconfirmedEvents', 'Sum', false],
    ['metricFindingsNotPut', 'FindingsNotPut', 'Sum', false],
  ];

  /** What the metric puts into an alarm: the fields CloudWatch sees. */
  function alarmOf(metric: cloudwatch.IMetric) {
    const app = new App();
    const stack = new Stack(app, 'Alarms');
    new cloudwatch.Alarm(stack, 'Alarm', { metric, threshold: 0, evaluationPeriods: 1 });
    return only(Template.fromStack(stack), 'AWS::CloudWatch::Alarm').resource.Properties;
  }

  test.each(METHODS)('%s: %s in CdkImdsAccountDefaults, no dimensions, %s, period 1 day by default (5 minutes for security warnings)', (method, name, statistic, followsInterval) => {
    const { upgrade } = synth();
    const metric = upgrade[method]();
    expect(metric).toBeInstanceOf(cloudwatch.Metric);
    expect(metric.namespace).toBe('CdkImdsAccountDefaults');
    expect(metric.metricName).toBe(name);
    expect(metric.statistic).toBe(statistic);
    expect(metric.dimensions).toBeUndefined();
    expect(metric.period.toSeconds()).toBe(followsInterval ? 86400 : 300);
    // As an alarm synthesizes it: exactly these fields, no Dimensions (each account and Region has one function).
    expect(alarmOf(metric)).toEqual({
      Namespace: 'CdkImdsAccountDefaults',
      MetricName: name,
      Statistic: statistic,
      Period: followsInterval ? 86400 : 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      Threshold: 0,
    });
  });

  test.each(METHODS)('%s: the period of an instance count follows interval (one run per period); the security warning keeps 5 minutes', (method, _name, _statistic, followsInterval) => {
    const { upgrade } = synth({ interval: Duration.hours(6) });
    expect(upgrade[method]().period.toSeconds()).toBe(followsInterval ? 6 * 3600 : 300);
    expect(synth({ interval: Duration.minutes(90) }).upgrade[method]().period.toSeconds()).toBe(followsInterval ? 90 * 60 : 300);
  });

  test.each(METHODS)('%s: props override the defaults', (method, name) => {
    const { upgrade } = synth({ interval: Duration.hours(6) });
    const metric = upgrade[method]({ period: Duration.minutes(10), statistic: 'Average', label: 'mine', account: '210987654321', region: 'us-east-1' });
    expect(metric).toMatchObject({ namespace: 'CdkImdsAccountDefaults', metricName: name, statistic: 'Average', label: 'mine', account: '210987654321', region: 'us-east-1' });
    expect(metric.period.toSeconds()).toBe(600);
  });

  test.each(METHODS)('%s is metric(name) with the same name', (method, name) => {
    const { upgrade, stack } = synth({ interval: Duration.hours(3) });
    expect(stack.resolve(upgrade.metric(name).toMetricConfig())).toEqual(stack.resolve(upgrade[method]().toMetricConfig()));
  });

  test('one method per metric the function publishes: its instance counts (as the handler names them) and its security warning', () => {
    const methods = Object.getOwnPropertyNames(ImdsInstanceUpgrade.prototype).filter((n) => /^metric[A-Z]/.test(n)).sort();
    expect(methods).toEqual(METHODS.map(([m]) => m).sort());
    expect(METHODS.map(([, name]) => name).sort()).toEqual([...Object.keys(UPGRADE_METRIC_NAMES), 'UnconfirmedEvents', 'FindingsNotPut'].sort());
  });

  test('metric() takes the ImdsMetrics constants', () => {
    const { upgrade } = synth({ interval: Duration.hours(2) });
    const byConstant = upgrade.metric(ImdsMetrics.INSTANCES_IN_USE);
    expect(byConstant).toMatchObject({ metricName: 'InstancesInUse', statistic: 'Maximum' });
    expect(byConstant.period.toSeconds()).toBe(7200);
    expect(upgrade.metric(ImdsMetrics.UNCONFIRMED_EVENTS).period.toSeconds()).toBe(300);
  });

  test.each(['DriftDetected', 'DriftReapplied', 'DriftChecksSkipped', 'ClaimProblems', 'instancesInUse', 'Candidates', ''])(
    'metric(%p) is refused, naming the path and the metrics it publishes', (name) => {
      const { upgrade } = synth();
      expect(() => upgrade.metric(name)).toThrow(
        `[Stack/Upgrade] metric: ${JSON.stringify(name)} is not a metric this construct publishes; give one of `
        + 'UnconfirmedEvents, FindingsNotPut, InstancesAllowingImdsv1, InstancesUpgraded, InstancesInUse, InstancesExcluded, InstancesUnknown, InstancesFailed, InstancesWithTooLittleData, InstancesWithRejectedImdsv1Calls, InstancesRestoredToOptional, InstancesRestoreRefused, AutoScalingGroupsAllowingImdsv1');
    });

  test('the metrics need no environment: they work in an environment-agnostic stack and add nothing to it', () => {
    const { upgrade, stack } = synth();
    const before = JSON.stringify(Template.fromStack(stack).toJSON());
    const metric = upgrade.metricInstancesInUse();
    expect(metric.account).toBeUndefined();
    expect(metric.region).toBeUndefined();
    new cloudwatch.Alarm(new Stack(new App(), 'Other'), 'Alarm', { metric, threshold: 0, evaluationPeriods: 1 });
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).toBe(before);
  });
});
