/**
 * ImdsFindingsHub: the organization's bus, its policy, the rules and their targets,
 * the topic, the log group and its resource policy, the metric filters and the
 * dashboard, as CloudFormation sees them; every validation error; and that it
 * needs no asset, no Lambda function and no custom resource.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack, Token, aws_kms as kms, aws_logs as logs, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ImdsFindingType, ImdsFindings } from '../src/findings';
import { ImdsFindingsHub, ImdsFindingsHubProps } from '../src/imds-findings-hub';
import { matchesPattern } from './e2e/harness/eventbridge';
import { ALL_NAG_PACKS, declaredSuppressions, describeFindings, runNag, suppressionKey } from './support/nag-findings';

const ORG = 'o-a1b2c3d4e5';
const ENV = { account: '111111111111', region: 'eu-west-1' };
const BASE: ImdsFindingsHubProps = { organizationId: ORG, rolePath: '/platform/' };

function hubStack(props: Partial<ImdsFindingsHubProps> = {}, env: typeof ENV | undefined = ENV) {
  const app = new App();
  const stack = new Stack(app, 'Security', { env });
  const hub = new ImdsFindingsHub(stack, 'Hub', { ...BASE, ...props } as ImdsFindingsHubProps);
  return { app, stack, hub, template: Template.fromStack(stack) };
}

/** The logical id of a construct's L1 resource. */
const idOf = (stack: Stack, c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as any);

/** One resource of a type, asserting there is exactly one. */
function only(template: Template, type: string): any {
  const found = Object.values<any>(template.findResources(type));
  expect(found).toHaveLength(1);
  return found[0];
}

/**
 * A Fn::Join body resolved to a string: Refs and GetAtts become `${Ref:Id}` /
 * `${GetAtt:Id.Attr}`, pseudo parameters `${AWS::…}`, so the JSON parses and the
 * references can be compared.
 */
function joined(value: any): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value['Fn::Join']) {
    const [sep, parts] = value['Fn::Join'];
    return parts.map(joined).join(sep);
  }
  if (value.Ref) {
    return value.Ref.startsWith('AWS::') ? `\${${value.Ref}}` : `\${Ref:${value.Ref}}`;
  }
  if (value['Fn::GetAtt']) {
    return `\${GetAtt:${value['Fn::GetAtt'].join('.')}}`;
  }
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}

function dashboardOf(template: Template): { start: string; widgets: any[] } {
  return JSON.parse(joined(only(template, 'AWS::CloudWatch::Dashboard').Properties.DashboardBody));
}

/** The fields of the event contract (findings-schema.json) that the hub may read: settings in EC2's own shape. */
const SETTINGS = ['HttpTokens', 'HttpTokensEnforced', 'HttpPutResponseHopLimit', 'HttpEndpoint', 'InstanceMetadataTags', 'ManagedBy'];
const CONTRACT_FIELDS = new Set([
  'detail.version', 'detail.account', 'detail.region', 'detail.resource.function', 'detail.resource.stackId', 'detail.resource.logicalResourceId', 'detail.truncated',
  ...['expected', 'previous', 'found'].flatMap((s) => SETTINGS.map((k) => `detail.${s}.${k}`)),
  'detail.requestType', 'detail.outcome', 'detail.action', 'detail.reason',
  'detail.trigger', 'detail.mode', 'detail.changedBy', 'detail.counts.drifts', 'detail.counts.reapplied',
  'detail.origin', 'detail.result', 'detail.counts.LaunchTemplatesAllowingImdsv1Count', 'detail.counts.LaunchConfigurationsAllowingImdsv1Count',
  'detail.counts.AutoScalingGroupsAllowingImdsv1Count', 'detail.counts.InstancesAllowingImdsv1Count',
  ...['Candidates', 'Eligible', 'Upgraded', 'Pending', 'InUse', 'Excluded', 'Unknown', 'TooLittleData', 'Failed', 'NotAttempted'].map((c) => `detail.counts.${c}`),
  'detail.stoppedEarly', 'detail.counts.instances', 'detail.counts.rejectedCalls', 'detail.counts.restored',
  'detail.warning', 'detail.metric', 'detail.count',
]);

describe('the event bus and who may put to it', () => {
  test('a bus named cdk-imds-findings by default, whose policy admits PutEvents from the organization, with the library\'s source, from roles under rolePath only', () => {
    const { stack, hub, template } = hubStack();
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'cdk-imds-findings' });
    const policy = only(template, 'AWS::Events::EventBusPolicy');
    expect(policy.Properties.EventBusName).toEqual({ Ref: idOf(stack, hub.eventBus) });
    expect(policy.Properties.Statement).toEqual({
      Sid: 'cdk-OrganizationPutsImdsFindings',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Resource: { 'Fn::GetAtt': [idOf(stack, hub.eventBus), 'Arn'] },
      Condition: {
        StringEquals: { 'aws:PrincipalOrgID': ORG, 'events:source': ImdsFindings.SOURCE },
        ArnLike: { 'aws:PrincipalArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::*:role/platform/*']] } },
      },
    });
    expect(ImdsFindings.SOURCE).toBe('cdk-imds-account-defaults');
    expect(hub.eventBusArn).toBe(hub.eventBus.eventBusArn);
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  test('without rolePath: any principal of the organization (no ArnLike), and a warning that says how to narrow it', () => {
    const { stack, template } = hubStack({ rolePath: undefined });
    const policy = only(template, 'AWS::Events::EventBusPolicy');
    expect(policy.Properties.Statement.Condition).toEqual({ StringEquals: { 'aws:PrincipalOrgID': ORG, 'events:source': ImdsFindings.SOURCE } });
    Annotations.fromStack(stack).hasWarning('/Security/Hub', Match.stringLikeRegexp('rolePath is not set: every principal of the organization .* forge findings'));
  });

  test('rolePath "/" admits every role of the organization, and no user', () => {
    const { template } = hubStack({ rolePath: '/' });
    expect(only(template, 'AWS::Events::EventBusPolicy').Properties.Statement.Condition.ArnLike).toEqual({
      'aws:PrincipalArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::*:role/*']] },
    });
  });

  test('eventBusName names the bus and what is named after it', () => {
    const { template } = hubStack({ eventBusName: 'org.imds-findings' });
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'org.imds-findings' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/events/org.imds-findings' });
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'org-imds-findings-alerts' });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'org-imds-findings' });
    template.hasResourceProperties('AWS::Logs::ResourcePolicy', { PolicyName: 'org.imds-findings-findings-to-logs' });
  });

  test('an organization id that is a token is left to CloudFormation', () => {
    const app = new App();
    const stack = new Stack(app, 'Security');
    const org = Token.asString({ Ref: 'OrgId' });
    new ImdsFindingsHub(stack, 'Hub', { organizationId: org, rolePath: '/platform/' });
    expect(only(Template.fromStack(stack), 'AWS::Events::EventBusPolicy').Properties.Statement.Condition.StringEquals['aws:PrincipalOrgID']).toEqual({ Ref: 'OrgId' });
  });
});

describe('ImdsFindingsHub.eventBusArnOf: the literal ARN the member side needs', () => {
  test.each([
    ['111111111111', 'eu-west-1', undefined, 'arn:aws:events:eu-west-1:111111111111:event-bus/cdk-imds-findings'],
    ['111111111111', 'eu-west-1', 'org.imds', 'arn:aws:events:eu-west-1:111111111111:event-bus/org.imds'],
    ['222222222222', 'cn-north-1', undefined, 'arn:aws-cn:events:cn-north-1:222222222222:event-bus/cdk-imds-findings'],
    ['333333333333', 'us-gov-west-1', 'hub', 'arn:aws-us-gov:events:us-gov-west-1:333333333333:event-bus/hub'],
  ])('%s %s %s', (account, region, name, arn) => {
    expect(ImdsFindingsHub.eventBusArnOf(account, region, name)).toBe(arn);
  });

  test('it is the ARN of the bus the hub creates in that account and Region', () => {
    const { stack, hub } = hubStack({ eventBusName: 'org.imds' });
    expect(stack.resolve(hub.eventBus.eventBusArn)).toEqual({ 'Fn::GetAtt': [idOf(stack, hub.eventBus), 'Arn'] });
    // EventBridge's ARN form for a custom bus, the one the member functions' IAM and environment use.
    const formatted = joined(stack.resolve(stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'org.imds' })));
    expect(formatted).toBe('arn:${AWS::Partition}:events:eu-west-1:111111111111:event-bus/org.imds');
    expect(ImdsFindingsHub.eventBusArnOf(ENV.account, ENV.region, 'org.imds')).toBe(formatted.replace('${AWS::Partition}', 'aws'));
  });

  test('refuses an account that is not 12 digits', () => {
    expect(() => ImdsFindingsHub.eventBusArnOf('1111', 'eu-west-1')).toThrow(/ImdsFindingsHub\.eventBusArnOf: account must be a 12-digit account id.*"1111"/);
  });

  test('refuses an account that is a token (the member side needs a literal)', () => {
    expect(() => ImdsFindingsHub.eventBusArnOf(new Stack().account, 'eu-west-1')).toThrow(/account must be a 12-digit account id, known at synth/);
  });

  test('refuses a Region that is not a Region name', () => {
    expect(() => ImdsFindingsHub.eventBusArnOf('111111111111', 'Europe')).toThrow(/region must be a Region name such as "eu-west-1".*"Europe"/);
  });

  test('refuses a bus name the hub refuses', () => {
    expect(() => ImdsFindingsHub.eventBusArnOf('111111111111', 'eu-west-1', 'a/b')).toThrow(/eventBusName must be 1 to 200 letters, digits/);
  });
});

describe('every finding to the log group', () => {
  test('a log group /aws/events/<bus>, kept two years and retained by default', () => {
    const { template } = hubStack();
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/aws/events/cdk-imds-findings', RetentionInDays: 731 },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('logRetention and removalPolicy', () => {
    const { template } = hubStack({ logRetention: logs.RetentionDays.FIVE_YEARS, removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 1827 }, DeletionPolicy: 'Delete' });
  });

  test('a rule on the hub\'s bus sends every event of the library\'s source to the log group (its ARN without ":*", no role)', () => {
    const { stack, hub, template } = hubStack();
    const rule = template.toJSON().Resources[idOf(stack, hub.logRule)];
    expect(rule.Properties.EventBusName).toEqual({ Ref: idOf(stack, hub.eventBus) });
    expect(rule.Properties.EventPattern).toEqual({ source: [ImdsFindings.SOURCE] });
    expect(rule.Properties.Targets).toEqual([{
      Id: 'Target0',
      Arn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:111111111111:log-group:', { Ref: idOf(stack, hub.logGroup) }]] },
    }]);
  });

  test('the log resource policy lets EventBridge create streams in this log group, and put events from the hub\'s log rule only', () => {
    const { stack, hub, template } = hubStack();
    const policy = only(template, 'AWS::Logs::ResourcePolicy');
    expect(policy.Properties.PolicyName).toBe('cdk-imds-findings-findings-to-logs');
    const document = JSON.parse(joined(policy.Properties.PolicyDocument));
    const writers = { Service: ['events.amazonaws.com', 'delivery.logs.amazonaws.com'] };
    const logGroupArn = `\${GetAtt:${idOf(stack, hub.logGroup)}.Arn}`;
    expect(document).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'EventBridgeCreatesStreams', Effect: 'Allow', Principal: writers, Action: 'logs:CreateLogStream', Resource: logGroupArn },
        {
          Sid: 'EventBridgePutsFindings',
          Effect: 'Allow',
          Principal: writers,
          Action: 'logs:PutLogEvents',
          Resource: logGroupArn,
          Condition: { ArnEquals: { 'aws:SourceArn': `\${GetAtt:${idOf(stack, hub.logRule)}.Arn}` } },
        },
      ],
    });
  });

  test('logGroupEncryptionKey encrypts the log group; the key lets CloudWatch Logs of the Region use it for this log group only; nothing is skipped', () => {
    const app = new App();
    const stack = new Stack(app, 'Security', { env: ENV });
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    new ImdsFindingsHub(stack, 'Hub', { ...BASE, logGroupEncryptionKey: key });
    const template = Template.fromStack(stack);
    const logGroup = only(template, 'AWS::Logs::LogGroup');
    expect(logGroup.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [idOf(stack, key), 'Arn'] });
    expect(logGroup.Metadata).toBeUndefined();
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([{
          Effect: 'Allow',
          Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
          Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          Resource: '*',
          Condition: {
            ArnEquals: {
              'kms:EncryptionContext:aws:logs:arn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:111111111111:log-group:/aws/events/cdk-imds-findings']] },
            },
          },
        }]),
      },
    });
  });

  test('without a key: CloudWatch Logs\' own encryption, accepted with a reason for cdk-nag and checkov', () => {
    const { template } = hubStack();
    const logGroup = only(template, 'AWS::Logs::LogGroup');
    expect(logGroup.Properties.KmsKeyId).toBeUndefined();
    expect(logGroup.Metadata.checkov).toEqual({ skip: [{ id: 'CKV_AWS_158', comment: 'Findings hold no secrets; encrypted by default' }] });
    expect(logGroup.Metadata.cdk_nag.rules_to_suppress.map((r: { id: string }) => r.id)).toEqual([
      'HIPAA.Security-CloudWatchLogGroupEncrypted', 'NIST.800.53.R4-CloudWatchLogGroupEncrypted',
      'NIST.800.53.R5-CloudWatchLogGroupEncrypted', 'PCI.DSS.321-CloudWatchLogGroupEncrypted',
    ]);
  });
});

describe('the findings that need a human, to the topic', () => {
  const topicRules = (hub: ImdsFindingsHub) => [
    hub.driftRule, hub.enforcementOffRule, hub.rejectedCallsRule, hub.upgradeFailuresRule, hub.securityWarningRule,
  ];

  test.each([
    ['driftRule', { 'detail-type': [ImdsFindingType.DRIFT_DETECTED] }],
    ['enforcementOffRule', {
      'detail-type': [ImdsFindingType.DEFAULTS_CHANGED],
      'detail': {
        outcome: ['SUCCESS'],
        previous: { HttpTokensEnforced: ['enabled'] },
        $or: [{ found: { HttpTokensEnforced: [{ 'anything-but': 'enabled' }] } }, { found: { HttpTokensEnforced: [{ exists: false }] } }],
      },
    }],
    ['rejectedCallsRule', { 'detail-type': [ImdsFindingType.REJECTED_CALLS] }],
    ['upgradeFailuresRule', { 'detail-type': [ImdsFindingType.UPGRADE_RUN], 'detail': { counts: { Failed: [{ numeric: ['>', 0] }] } } }],
    ['securityWarningRule', { 'detail-type': [ImdsFindingType.SECURITY_WARNING] }],
  ] as const)('%s: its pattern on the hub\'s bus, the topic its only target', (name, pattern) => {
    const { stack, hub, template } = hubStack();
    const rule = template.toJSON().Resources[idOf(stack, (hub as any)[name])];
    expect(rule.Properties.EventBusName).toEqual({ Ref: idOf(stack, hub.eventBus) });
    expect(rule.Properties.EventPattern).toEqual({ source: [ImdsFindings.SOURCE], ...pattern });
    expect(rule.Properties.Targets).toEqual([{ Id: 'Target0', Arn: { Ref: idOf(stack, hub.topic as sns.Topic) } }]);
  });

  test('the detail types are the library\'s own values', () => {
    expect([
      ImdsFindingType.DRIFT_DETECTED, ImdsFindingType.DEFAULTS_CHANGED, ImdsFindingType.REJECTED_CALLS,
      ImdsFindingType.UPGRADE_RUN, ImdsFindingType.SECURITY_WARNING,
    ])
      .toEqual(['IMDS Drift Detected', 'IMDS Defaults Changed', 'IMDS Rejected Calls', 'IMDS Instance Upgrade Run', 'IMDS Security Warning']);
  });

  test('six rules in all, each with its reason for having no dead-letter queue', () => {
    const { template } = hubStack();
    const rules = Object.values<any>(template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(6);
    for (const rule of rules) {
      expect(rule.Metadata.cdk_nag.rules_to_suppress).toEqual([{ id: 'Serverless-EventBusDLQ', reason: 'Retried 24 h; failures on the dashboard; all in the log' }]);
      expect(rule.Properties.Targets[0].RoleArn).toBeUndefined();
      expect(rule.Properties.Targets[0].DeadLetterConfig).toBeUndefined();
    }
  });

  test('the hub\'s own topic: named after the bus, encrypted with a key of its own (rotation on), TLS only', () => {
    const { stack, hub, template } = hubStack();
    const topic = only(template, 'AWS::SNS::Topic');
    expect(topic.Properties.TopicName).toBe('cdk-imds-findings-alerts');
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [idOf(stack, hub.topicKey as kms.Key), 'Arn'] });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const statements = only(template, 'AWS::SNS::TopicPolicy').Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual({
      Sid: 'AllowPublishThroughSSLOnly',
      Effect: 'Deny',
      Principal: '*',
      Action: 'sns:Publish',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      Resource: { Ref: idOf(stack, hub.topic as sns.Topic) },
    });
  });

  test('the topic policy lets EventBridge publish from the hub\'s five topic rules only', () => {
    const { stack, hub, template } = hubStack();
    const statements = only(template, 'AWS::SNS::TopicPolicy').Properties.PolicyDocument.Statement;
    const allows = statements.filter((s: any) => s.Effect === 'Allow');
    expect(allows).toEqual([{
      Sid: 'ImdsFindingsHubRulesPublish',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: idOf(stack, hub.topic as sns.Topic) },
      Condition: { ArnEquals: { 'aws:SourceArn': topicRules(hub).map((r) => ({ 'Fn::GetAtt': [idOf(stack, r), 'Arn'] })) } },
    }]);
  });

  test('the topic\'s key lets EventBridge encrypt for this topic only (SNS\'s encryption context)', () => {
    const { template } = hubStack();
    const key = only(template, 'AWS::KMS::Key');
    expect(key.DeletionPolicy).toBe('Delete');
    const events = key.Properties.KeyPolicy.Statement.filter((s: any) => s.Principal?.Service === 'events.amazonaws.com');
    expect(events).toEqual([{
      Sid: 'EventBridgePublishesToTheTopic',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Resource: '*',
      Condition: {
        StringEquals: {
          'kms:EncryptionContext:aws:sns:topicArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sns:eu-west-1:111111111111:cdk-imds-findings-alerts']] },
        },
      },
    }]);
  });

  test('a topic of the user\'s in the app: no topic or key of the hub\'s, the rules target it, and its policy gets the hub\'s statement', () => {
    const app = new App();
    const stack = new Stack(app, 'Security', { env: ENV });
    const topic = new sns.Topic(stack, 'Alerts');
    const hub = new ImdsFindingsHub(stack, 'Hub', { ...BASE, topic });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(hub.topic).toBe(topic);
    expect(hub.topicKey).toBeUndefined();
    template.hasResourceProperties('AWS::Events::Rule', { Targets: [{ Id: 'Target0', Arn: { Ref: idOf(stack, topic) } }] });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Sid: 'ImdsFindingsHubRulesPublish', Action: 'sns:Publish' })] },
    });
    Annotations.fromStack(stack).hasNoInfo('*', Match.anyValue());
  });

  test('an imported topic keeps its policy, and an info says what it must allow', () => {
    const app = new App();
    const stack = new Stack(app, 'Security', { env: ENV });
    const topic = sns.Topic.fromTopicArn(stack, 'Alerts', 'arn:aws:sns:eu-west-1:111111111111:alerts');
    new ImdsFindingsHub(stack, 'Hub', { ...BASE, topic });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
    template.hasResourceProperties('AWS::Events::Rule', { Targets: [{ Id: 'Target0', Arn: 'arn:aws:sns:eu-west-1:111111111111:alerts' }] });
    Annotations.fromStack(stack).hasInfo('/Security/Hub', Match.stringLikeRegexp('is imported: its policy must let events.amazonaws.com publish'));
  });
});

describe('metrics', () => {
  const FILTERS: Array<[string, string, string, string]> = [
    ['InstancesAllowingImdsv1', ImdsFindingType.READINESS_REPORT, '$.detail.counts.InstancesAllowingImdsv1Count', 'Maximum'],
    ['InstancesUsingImdsv1', ImdsFindingType.UPGRADE_RUN, '$.detail.counts.InUse', 'Maximum'],
    ['RejectedImdsv1Calls', ImdsFindingType.REJECTED_CALLS, '$.detail.counts.rejectedCalls', 'Sum'],
    ['Drifts', ImdsFindingType.DRIFT_DETECTED, '$.detail.counts.drifts', 'Sum'],
    ['InstancesUpgraded', ImdsFindingType.UPGRADE_RUN, '$.detail.counts.Upgraded', 'Sum'],
    ['UpgradeFailures', ImdsFindingType.UPGRADE_RUN, '$.detail.counts.Failed', 'Sum'],
    ['SecurityWarnings', ImdsFindingType.SECURITY_WARNING, '$.detail.count', 'Sum'],
  ];
  const DIMENSIONS = [{ Key: 'Account', Value: '$.account' }, { Key: 'Region', Value: '$.detail.region' }];

  test.each(FILTERS)('%s: a metric filter over the %s events, per account (envelope) and Region (detail)', (name, type, value) => {
    const { stack, hub, template } = hubStack();
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: idOf(stack, hub.logGroup) },
      // The value's field is named in the pattern, as CloudWatch Logs asks of a metric value taken from the event.
      FilterPattern: `{ ($.source = "${ImdsFindings.SOURCE}") && ($.detail-type = "${type}") && (${value} >= 0) }`,
      MetricTransformations: [{ MetricNamespace: 'CdkImdsAccountDefaults/Findings', MetricName: name, MetricValue: value, Unit: 'Count', Dimensions: DIMENSIONS }],
    });
  });

  test('EnforcementEnabled: 1 from findings whose found settings have enforcement enabled, 0 from those that have it disabled or unset', () => {
    // The findings that carry what EC2 showed: `found` always has ManagedBy.
    const FOUND = `($.source = "${ImdsFindings.SOURCE}") && (($.detail.found.ManagedBy = "account") || ($.detail.found.ManagedBy = "declarative-policy"))`;
    const { template } = hubStack();
    const transformation = (value: string) => [{ MetricNamespace: 'CdkImdsAccountDefaults/Findings', MetricName: 'EnforcementEnabled', MetricValue: value, Unit: 'Count', Dimensions: DIMENSIONS }];
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: `{ ${FOUND} && ($.detail.found.HttpTokensEnforced = "enabled") }`,
      MetricTransformations: transformation('1'),
    });
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      // No preference: EC2 leaves the field out.
      FilterPattern: `{ ${FOUND} && (($.detail.found.HttpTokensEnforced NOT EXISTS) || ($.detail.found.HttpTokensEnforced = "disabled")) }`,
      MetricTransformations: transformation('0'),
    });
    template.resourceCountIs('AWS::Logs::MetricFilter', FILTERS.length + 2);
  });

  test('no filter has a default value (CloudWatch Logs refuses one with dimensions)', () => {
    const { template } = hubStack();
    for (const filter of Object.values<any>(template.findResources('AWS::Logs::MetricFilter'))) {
      expect(filter.Properties.MetricTransformations[0].DefaultValue).toBeUndefined();
    }
  });

  test.each([
    ['metricInstancesAllowingImdsv1', 'InstancesAllowingImdsv1', 'Maximum'],
    ['metricInstancesUsingImdsv1', 'InstancesUsingImdsv1', 'Maximum'],
    ['metricRejectedImdsv1Calls', 'RejectedImdsv1Calls', 'Sum'],
    ['metricDrifts', 'Drifts', 'Sum'],
    ['metricInstancesUpgraded', 'InstancesUpgraded', 'Sum'],
    ['metricUpgradeFailures', 'UpgradeFailures', 'Sum'],
    ['metricSecurityWarnings', 'SecurityWarnings', 'Sum'],
    ['metricEnforcementEnabled', 'EnforcementEnabled', 'Maximum'],
  ] as const)('%s: the metric of one account and Region, as the filter publishes it', (method, name, statistic) => {
    const { hub } = hubStack();
    const metric = hub[method]('222222222222', 'us-east-1');
    expect(metric.namespace).toBe(ImdsFindingsHub.METRIC_NAMESPACE);
    expect(metric.metricName).toBe(name);
    expect(metric.dimensions).toEqual({ Account: '222222222222', Region: 'us-east-1' });
    expect(metric.statistic).toBe(statistic);
    expect(metric.period.toSeconds()).toBe(86_400);
    expect(hub[method]('222222222222', 'us-east-1', { period: Duration.hours(1), statistic: 'Average' })).toEqual(expect.objectContaining({ statistic: 'Average' }));
  });

  test('metric() refuses a name the hub does not publish', () => {
    const { hub } = hubStack();
    expect(() => hub.metric('Drift', '222222222222', 'us-east-1')).toThrow(/\[Security\/Hub\] metric name must be one of InstancesAllowingImdsv1, .*EnforcementEnabled; got "Drift"/);
  });

  test('publishMetrics: false: no metric filter, no metric graph, and the metric methods say why', () => {
    const { hub, template } = hubStack({ publishMetrics: false });
    template.resourceCountIs('AWS::Logs::MetricFilter', 0);
    expect(hub.metricFilters).toEqual([]);
    expect(JSON.stringify(dashboardOf(template))).not.toContain('SEARCH(');
    expect(() => hub.metricDrifts('222222222222', 'us-east-1')).toThrow(/\[Security\/Hub\] metric Drifts: publishMetrics is false/);
  });
});

describe('the dashboard', () => {
  const logWidgets = (body: { widgets: any[] }) => body.widgets.filter((w) => w.type === 'log');
  const metricWidgets = (body: { widgets: any[] }) => body.widgets.filter((w) => w.type === 'metric');

  test('named after the bus, two weeks by default, with the widgets the issue asks for', () => {
    const { template } = hubStack();
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'cdk-imds-findings' });
    const body = dashboardOf(template);
    expect(body.start).toBe('-P14D');
    const titles = body.widgets.map((w) => w.properties.title).filter(Boolean);
    expect(titles).toEqual(expect.arrayContaining([
      'Enforcement state (latest found settings, per account and Region)',
      'Allowing IMDSv1 (latest readiness report)',
      'IMDSv1 use (latest instance upgrade run)',
      'Rejected IMDSv1 calls',
      'Drift over time (fields found changed)',
      'Upgrades over time (instances switched, failed)',
      'Drift over time',
      'Upgrades over time',
      'Latest drifts',
      'Latest upgrade runs',
      'Security warnings',
      'Deliveries that failed (the hub\'s rules: log group, topic)',
    ]));
    expect(logWidgets(body)).toHaveLength(10);
    expect(metricWidgets(body)).toHaveLength(7);
  });

  test('every Logs Insights query reads the hub\'s log group, in the stack\'s Region', () => {
    const { stack, hub, template } = hubStack();
    for (const widget of logWidgets(dashboardOf(template))) {
      expect(widget.properties.query).toMatch(new RegExp(`^SOURCE '\\$\\{Ref:${idOf(stack, hub.logGroup)}\\}' \\| filter source = "cdk-imds-account-defaults"`));
      expect(widget.properties.region).toBe('${AWS::Region}');
    }
  });

  test('the queries group per account and Region, and read only fields of the event contract', () => {
    const { template } = hubStack();
    const queries = logWidgets(dashboardOf(template)).map((w) => w.properties.query as string);
    const perAccount = queries.filter((q) => q.includes('by account, detail.region'));
    expect(perAccount.length).toBeGreaterThanOrEqual(4);
    const fields = new Set(queries.flatMap((q) => q.match(/\bdetail(\.[A-Za-z0-9]+)+/g) ?? []));
    expect([...fields].filter((f) => !CONTRACT_FIELDS.has(f))).toEqual([]);
    expect(fields.has('detail.found.HttpTokensEnforced')).toBe(true);
    expect(fields.has('detail.counts.InstancesAllowingImdsv1Count')).toBe(true);
    // Each detail type is read through its own value.
    for (const type of [ImdsFindingType.READINESS_REPORT, ImdsFindingType.UPGRADE_RUN, ImdsFindingType.REJECTED_CALLS, ImdsFindingType.DRIFT_DETECTED,
      ImdsFindingType.DEFAULTS_CHANGED, ImdsFindingType.SECURITY_WARNING]) {
      expect(queries.some((q) => q.includes(`\`detail-type\` = "${type}"`))).toBe(true);
    }
  });

  test('the metric graphs SEARCH the hub\'s metrics per account and Region, and the delivery graph reads each rule\'s FailedInvocations', () => {
    const { stack, hub, template } = hubStack();
    const body = dashboardOf(template);
    const expressions = metricWidgets(body).flatMap((w) => w.properties.metrics)
      .map((m: any[]) => m.find((x) => x?.expression)?.expression).filter(Boolean);
    for (const name of ['InstancesAllowingImdsv1', 'InstancesUsingImdsv1', 'RejectedImdsv1Calls', 'Drifts', 'InstancesUpgraded', 'UpgradeFailures', 'EnforcementEnabled', 'SecurityWarnings']) {
      expect(expressions).toContainEqual(expect.stringMatching(new RegExp(`^SEARCH\\('\\{CdkImdsAccountDefaults/Findings,Account,Region\\} MetricName="${name}"', '(Sum|Maximum|Minimum)', 86400\\)$`)));
    }
    const failed = metricWidgets(body).find((w) => w.properties.title.startsWith('Deliveries that failed'));
    const rules = [hub.logRule, hub.driftRule, hub.enforcementOffRule, hub.rejectedCallsRule, hub.upgradeFailuresRule, hub.securityWarningRule];
    expect(failed.properties.metrics.map((m: any[]) => m.slice(0, 4))).toEqual(rules.map((r) => ['AWS/Events', 'FailedInvocations', 'RuleName', `\${Ref:${idOf(stack, r)}}`]));
  });

  test('the body is what cfn-lint and CloudWatch take: JSON, widgets on a 24-column grid', () => {
    const { template } = hubStack();
    for (const widget of dashboardOf(template).widgets) {
      expect(widget.x + widget.width).toBeLessThanOrEqual(24);
      expect(['text', 'log', 'metric']).toContain(widget.type);
    }
  });
});

describe('validation: each error names the construct, the prop and the value', () => {
  test.each<[string, Partial<ImdsFindingsHubProps>, RegExp]>([
    ['organizationId missing', { organizationId: undefined }, /\[Security\/Hub\] organizationId is required/],
    ['organizationId not an organization id', { organizationId: 'r-abcd' }, /\[Security\/Hub\] organizationId must be an organization id.*got "r-abcd"/],
    ['organizationId too short', { organizationId: 'o-abc' }, /organizationId must be an organization id.*got "o-abc"/],
    ['rolePath not a path', { rolePath: 'platform' }, /\[Security\/Hub\] rolePath must be "\/" or a path that starts and ends with "\/".*got "platform"/],
    ['rolePath with a wildcard', { rolePath: '/plat*/' }, /\[Security\/Hub\] rolePath must not hold the wildcards \* or \?.*got "\/plat\*\/"/],
    ['eventBusName with a slash', { eventBusName: 'org/findings' }, /\[Security\/Hub\] eventBusName must be 1 to 200 letters, digits, "\.", "-" or "_"; got "org\/findings"/],
    ['eventBusName empty', { eventBusName: '' }, /eventBusName must be 1 to 200 letters/],
    ['eventBusName too long', { eventBusName: 'a'.repeat(201) }, /eventBusName must be 1 to 200 letters/],
    ['eventBusName default', { eventBusName: 'default' }, /\[Security\/Hub\] eventBusName must not be "default".*got "default"/],
    ['eventBusName aws.', { eventBusName: 'aws.findings' }, /eventBusName must not be "default" \(the account's own bus\) nor start with "aws\."/],
    ['removalPolicy SNAPSHOT', { removalPolicy: RemovalPolicy.SNAPSHOT }, /\[Security\/Hub\] removalPolicy must be RemovalPolicy.DESTROY, .*got RemovalPolicy.SNAPSHOT/],
    ['publishMetrics not a boolean', { publishMetrics: 'yes' as unknown as boolean }, /\[Security\/Hub\] publishMetrics must be true or false.*got "yes"/],
  ])('%s', (_name, props, error) => {
    expect(() => hubStack(props)).toThrow(error);
  });

  test('nothing is created before the props are checked', () => {
    const app = new App();
    const stack = new Stack(app, 'Security');
    expect(() => new ImdsFindingsHub(stack, 'Hub', { organizationId: 'nope' })).toThrow(/organizationId/);
    expect(stack.node.findChild('Hub').node.children).toEqual([]);
  });
});

describe('plain CloudFormation', () => {
  test('no Lambda function, no custom resource, no file asset, in either kind of stack', () => {
    for (const env of [undefined, ENV]) {
      const { app, template } = hubStack({}, env);
      const types = Object.values<any>(template.toJSON().Resources).map((r) => r.Type as string);
      expect(types.filter((t) => t.startsWith('AWS::Lambda::') || t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource')).toEqual([]);
      const assembly = app.synth();
      const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Security.assets.json'), 'utf8'));
      expect(Object.values<any>(assets.files ?? {}).map((f) => f.source.path)).toEqual(['Security.template.json']);
      expect(Object.keys(assets.dockerImages ?? {})).toEqual([]);
    }
  });

  test('the resources it creates', () => {
    const { template } = hubStack();
    const counts: Record<string, number> = {};
    for (const r of Object.values<any>(template.toJSON().Resources)) {
      counts[r.Type] = (counts[r.Type] ?? 0) + 1;
    }
    expect(counts).toEqual({
      'AWS::Events::EventBus': 1,
      'AWS::Events::EventBusPolicy': 1,
      'AWS::Events::Rule': 6,
      'AWS::Logs::LogGroup': 1,
      'AWS::Logs::ResourcePolicy': 1,
      'AWS::Logs::MetricFilter': 9,
      'AWS::KMS::Key': 1,
      'AWS::SNS::Topic': 1,
      'AWS::SNS::TopicPolicy': 1,
      'AWS::CloudWatch::Dashboard': 1,
    });
  });

  test('two synths give the same template (users snapshot it)', () => {
    expect(JSON.stringify(hubStack().template.toJSON())).toBe(JSON.stringify(hubStack().template.toJSON()));
  });
});

describe('cdk-nag 2, every pack, the stricter setting (logGroupEncryptionKey) and a topic of the user\'s', () => {
  const app = new App();
  const stack = new Stack(app, 'Security', { env: ENV });
  new ImdsFindingsHub(stack, 'Hub', {
    ...BASE,
    logGroupEncryptionKey: new kms.Key(stack, 'LogKey', { enableKeyRotation: true }),
    topic: new sns.Topic(stack, 'Alerts', { masterKey: new kms.Key(stack, 'TopicKey', { enableKeyRotation: true }), enforceSSL: true }),
  });
  const result = runNag(app, ALL_NAG_PACKS);

  test('no unsuppressed finding, no rule that failed', () => {
    expect(describeFindings(result.unsuppressed)).toEqual([]);
    expect(describeFindings(result.errors)).toEqual([]);
  });

  test('only the rules\' dead-letter queues are accepted, and every suppression is used', () => {
    expect([...new Set(result.suppressed.map((f) => f.ruleId))]).toEqual(['Serverless-EventBusDLQ']);
    const used = [...new Set(result.suppressed.map((f) => suppressionKey(f.path, f.ruleId, f.findingId)))].sort();
    expect(declaredSuppressions(app)).toEqual(used);
  });
});

describe('the topic rules, evaluated as EventBridge matches them, on the functions\' real events', () => {
  /** A fixture (an event captured from the shipped functions in the e2e suite), with its detail changed by `change`. */
  const event = (file: string, change: (detail: any) => void = () => undefined) => {
    const e = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'findings', `${file}.json`), 'utf8'));
    change(e.detail);
    return e;
  };
  const patternOf = (rule: (hub: ImdsFindingsHub) => unknown) => {
    const { stack, hub, template } = hubStack();
    return template.toJSON().Resources[idOf(stack, rule(hub) as any)].Properties.EventPattern;
  };

  test('enforcement turned off: matched when found shows it disabled or with no preference (left out), never when it stays enabled or the event failed', () => {
    const pattern = patternOf((hub) => hub.enforcementOffRule);
    const off = (found: Record<string, unknown>) => event('defaults-changed', (d) => {
      d.outcome = 'SUCCESS';
      d.previous = { ...d.previous, HttpTokensEnforced: 'enabled' };
      d.found = { ManagedBy: 'account', ...found };
    });
    expect(matchesPattern(pattern, off({ HttpTokensEnforced: 'disabled' }))).toBe(true);
    expect(matchesPattern(pattern, off({}))).toBe(true);
    expect(matchesPattern(pattern, off({ HttpTokensEnforced: 'enabled' }))).toBe(false);
    // Not enabled before: nothing was turned off.
    expect(matchesPattern(pattern, event('defaults-changed', (d) => {
      delete d.previous.HttpTokensEnforced;
      d.found = { ManagedBy: 'account' };
    }))).toBe(false);
    // A failed event has no found: it changed nothing it did not put back.
    expect(matchesPattern(pattern, event('defaults-changed', (d) => {
      d.outcome = 'FAILED';
      d.previous = { HttpTokensEnforced: 'enabled' };
      delete d.found;
      delete d.action;
    }))).toBe(false);
  });

  test('drift, rejected calls, security warnings: every event of their type, and no other', () => {
    expect(matchesPattern(patternOf((hub) => hub.driftRule), event('drift-detected'))).toBe(true);
    expect(matchesPattern(patternOf((hub) => hub.driftRule), event('defaults-changed'))).toBe(false);
    expect(matchesPattern(patternOf((hub) => hub.securityWarningRule), event('security-warning'))).toBe(true);
    expect(matchesPattern(patternOf((hub) => hub.securityWarningRule), event('drift-detected'))).toBe(false);
    expect(matchesPattern(patternOf((hub) => hub.rejectedCallsRule), event('rejected-calls'))).toBe(true);
  });

  test('upgrade failures: a run with failed upgrades, not one without', () => {
    const pattern = patternOf((hub) => hub.upgradeFailuresRule);
    expect(matchesPattern(pattern, event('instance-upgrade-run', (d) => { d.counts.Failed = 2; }))).toBe(true);
    expect(matchesPattern(pattern, event('instance-upgrade-run', (d) => { d.counts.Failed = 0; }))).toBe(false);
    expect(matchesPattern(pattern, event('instance-upgrade-run', (d) => { d.counts = {}; }))).toBe(false);
  });
});
