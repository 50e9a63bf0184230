import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  App, CfnParameter, CfnResource, CustomResource, Duration, RemovalPolicy, Stack, Token,
  aws_events as events, aws_iam as iam, aws_lambda as lambda, aws_logs as logs,
} from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import {
  DriftGuardMode,
  ImdsAccountDefaults,
  ImdsAccountDefaultsOptions,
  ImdsAccountDefaultsProps,
  ImdsAccountDefaultsStackSet,
  ImdsHttpEndpoint,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsInstanceMetadataTags,
  ImdsPermissionsBoundary,
  ImdsStackSetTarget,
  ReadinessCheckMode,
  ReadinessCheckResult,
  SettingsOnDelete,
} from '../src';
import {
  ALLOWED_VALUES, ON_DELETE_VALUES, READINESS_CHECK_VALUES, READINESS_COUNT_ATTRIBUTE_KEYS, READINESS_RESULTS, READINESS_RESULT_ATTRIBUTE,
  claimParameterName,
} from '../src/private/properties';

const ENV = { account: '123456789012', region: 'eu-west-1' };
/** The StackSet's target in these tests (its own tests are imds-account-defaults-stack-set.test.ts). */
const TARGET = ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] });

function synth(props: ImdsAccountDefaultsProps, stackProps = {}) {
  const app = new App();
  const stack = new Stack(app, 'Stack', stackProps);
  const imds = new ImdsAccountDefaults(stack, 'Imds', props);
  return { app, stack, imds, template: Template.fromStack(stack) };
}

/** Evaluates the intrinsic functions of an IAM resource (Ref, Fn::Join, Fn::Select, Fn::Split) as CloudFormation would. */
function evaluate(value: any, refs: Record<string, string>): any {
  if (typeof value === 'string') {
    return value;
  }
  if (value.Ref !== undefined) {
    return refs[value.Ref];
  }
  if (value['Fn::Join'] !== undefined) {
    const [sep, parts] = value['Fn::Join'];
    return parts.map((p: any) => evaluate(p, refs)).join(sep);
  }
  if (value['Fn::Select'] !== undefined) {
    const [index, list] = value['Fn::Select'];
    return evaluate(list, refs)[index];
  }
  if (value['Fn::Split'] !== undefined) {
    const [sep, source] = value['Fn::Split'];
    return evaluate(source, refs).split(sep);
  }
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}

describe('resources', () => {
  const { template, stack, imds } = synth({
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
  });

  test('one inline Lambda function, its role, policy, log group and async-invoke config, and the custom resource', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.resourceCountIs('AWS::IAM::Policy', 1);
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
    template.resourceCountIs('Custom::ImdsAccountDefaults', 1);
    expect(Object.keys(template.toJSON().Resources)).toHaveLength(6);
  });

  test('backstops: no Lambda retry of an asynchronous invocation, no event older than a minute, and CloudFormation waits minutes, not an hour', () => {
    const invokeConfig = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'))[0].Properties;
    expect(invokeConfig).toEqual({
      FunctionName: { Ref: expect.stringMatching(/^ImdsHandler/) },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
      Qualifier: '$LATEST',
    });
    template.hasResourceProperties('Custom::ImdsAccountDefaults', { ServiceTimeout: 120 });
    // A throttled event expires before CloudFormation stops waiting for its answer.
    expect(invokeConfig.MaximumEventAgeInSeconds).toBeLessThanOrEqual(120);
  });

  test('the function runs the bundled handler inline on the newest Node.js runtime', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Timeout: 30, MemorySize: 128 });
    // The plain minified bundle, readable in the template (no compressed loader, no eval-like code).
    const code = fn.Properties.Code.ZipFile;
    expect(code).toBe(fs.readFileSync(path.join(__dirname, '..', 'assets', 'lambda', 'account-defaults', 'index', 'index.js'), 'utf8'));
    expect(code).not.toMatch(/brotliDecompressSync|new Function\(/);
    expect(code).toContain('exports'); // CommonJS
    expect(code).toContain('ModifyInstanceMetadataDefaultsCommand');
    // External: the runtime provides them.
    expect(code).toContain('require("@aws-sdk/client-ec2")');
    expect(code).toContain('require("@aws-sdk/client-ssm")');
    expect(code).toContain('require("@aws-sdk/client-cloudformation")');
    expect(code).not.toMatch(/\bimport\s*\{/); // no ES module syntax
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('ImdsLogGroup') } } });
  });

  test('the custom resource carries only the given settings and the ownership format, under the fixed type name', () => {
    template.hasResource('Custom::ImdsAccountDefaults', {
      Properties: {
        ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('ImdsHandler'), 'Arn'] },
        HttpTokens: 'required',
        HttpTokensEnforced: 'enabled',
        HttpPutResponseHopLimit: 2,
        // Changes with the claim format, so the deployment that upgrades the library sends an Update.
        Ownership: 'claims-v2',
      },
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
    const props = Object.values(template.findResources('Custom::ImdsAccountDefaults'))[0].Properties;
    expect(Object.keys(props).sort()).toEqual(['HttpPutResponseHopLimit', 'HttpTokens', 'HttpTokensEnforced', 'Ownership', 'ServiceTimeout', 'ServiceToken']);
  });

  test('the Description names the library version and the SHA-256 of the code the template carries, within Lambda\'s 256 characters', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0].Properties;
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const sha256 = crypto.createHash('sha256').update(fn.Code.ZipFile).digest('hex');
    expect(fn.Description).toBe(`cdk-imds-account-defaults ${version}: applies the EC2 account-level instance metadata defaults; code sha256 ${sha256}`);
    expect(fn.Description.length).toBeLessThanOrEqual(256);
  });

  test('least privilege: the EC2 actions and the readiness check\'s Describe actions in the stack\'s Region only, its own log group, reading the claims path and writing only its own claim, reading this account\'s stacks and its own stack\'s status, metrics in its namespace', () => {
    const arn = (service: string, resource: string | any[]) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ...[resource].flat().map((r) => typeof r === 'string' ? `:${r}` : r)]],
    });
    const crId = stack.resolve((imds.customResource.node.defaultChild as CfnResource).logicalId);
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))[0].Properties;
    expect(policy.PolicyDocument.Statement).toEqual([
      {
        // httpTokensEnforced is managed: the readiness check lists what enforcement would break.
        Action: [
          'ec2:GetInstanceMetadataDefaults', 'ec2:ModifyInstanceMetadataDefaults',
          'ec2:DescribeLaunchTemplateVersions', 'ec2:DescribeInstances', 'autoscaling:DescribeLaunchConfigurations',
        ],
        Effect: 'Allow',
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestedRegion': { Ref: 'AWS::Region' } } },
      },
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ImdsLogGroup/), 'Arn'] } },
      { Action: 'ssm:GetParametersByPath', Effect: 'Allow', Resource: arn('ssm', 'parameter/cdk-imds-account-defaults/claims') },
      {
        // Its history: who wrote it last (an Update's values before count only if this function did).
        Action: ['ssm:DeleteParameter', 'ssm:GetParameterHistory', 'ssm:PutParameter'],
        Effect: 'Allow',
        // Its own claim: <claims path>/<stack uuid>-<logical id of the custom resource>.
        Resource: {
          'Fn::Join': ['', [
            'arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
            ':parameter/cdk-imds-account-defaults/claims/',
            { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
            `-${crId}`,
          ]],
        },
      },
      { Action: 'cloudformation:DescribeStackResource', Effect: 'Allow', Resource: arn('cloudformation', 'stack/*') },
      { Action: 'cloudformation:DescribeStacks', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
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
    ]);
    // Every statement on "*" is limited by a condition.
    for (const statement of policy.PolicyDocument.Statement.filter((st: any) => st.Resource === '*')) {
      expect(Object.keys(statement.Condition ?? {})).toEqual(['StringEquals']);
    }
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }] },
      ManagedPolicyArns: Match.absent(),
      Policies: Match.absent(),
    });
  });

  test('the claim the policy allows writing is the one the handler names (claimParameterName: the StackId\'s uuid and the logical id)', () => {
    const stackId = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Stack/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const claimStatement = Object.values(template.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement
      .find((st: any) => [st.Action].flat().includes('ssm:PutParameter'));
    const crId = stack.resolve((imds.customResource.node.defaultChild as CfnResource).logicalId);
    expect(evaluate(claimStatement.Resource, { 'AWS::StackId': stackId, 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012' }))
      .toBe(`arn:aws:ssm:eu-west-1:123456789012:parameter${claimParameterName('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', crId)}`);
  });

  test('the claim follows an overridden logical id', () => {
    const app = new App();
    const s2 = new Stack(app, 'Stack');
    const moved = new ImdsAccountDefaults(s2, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    (moved.customResource.node.defaultChild as CfnResource).overrideLogicalId('KeptImdsDefaults');
    const t = Template.fromStack(s2);
    expect(Object.keys(t.findResources('Custom::ImdsAccountDefaults'))).toEqual(['KeptImdsDefaults']);
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).toContain('"-KeptImdsDefaults"');
  });

  test('the custom resource depends on the policy, so Delete still has its permissions', () => {
    const cr = Object.values(template.findResources('Custom::ImdsAccountDefaults'))[0];
    const policyId = Object.keys(template.findResources('AWS::IAM::Policy'))[0];
    expect(cr.DependsOn).toContain(policyId);
  });

  test('the log group has a retention and goes with the stack', () => {
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 365 }, DeletionPolicy: 'Delete' });
  });

  test('no file assets: the template deploys on its own (StackSets, no bootstrap bucket)', () => {
    const app = stack.node.root as App;
    const artifact = app.synth().getStackByName(stack.stackName);
    expect(artifact.assets).toEqual([]);
    expect(JSON.stringify(artifact.template)).not.toMatch(/AssetParameters|cdk-assets|S3Bucket/);
  });

  test('the effective settings are typed attributes read with Fn::GetAtt', () => {
    const resolve = (v: any) => stack.resolve(v);
    const crId = Object.keys(template.findResources('Custom::ImdsAccountDefaults'))[0];
    expect(resolve(imds.effectiveHttpTokens)).toEqual({ 'Fn::GetAtt': [crId, 'HttpTokens'] });
    expect(resolve(imds.effectiveHttpTokensEnforced)).toEqual({ 'Fn::GetAtt': [crId, 'HttpTokensEnforced'] });
    expect(Token.isUnresolved(imds.effectiveHttpPutResponseHopLimit)).toBe(true);
    expect(resolve(imds.effectiveHttpPutResponseHopLimit)).toEqual({ 'Fn::GetAtt': [crId, 'HttpPutResponseHopLimit'] });
    expect(resolve(imds.effectiveHttpEndpoint)).toEqual({ 'Fn::GetAtt': [crId, 'HttpEndpoint'] });
    expect(resolve(imds.effectiveInstanceMetadataTags)).toEqual({ 'Fn::GetAtt': [crId, 'InstanceMetadataTags'] });
    expect(resolve(imds.managedBy)).toEqual({ 'Fn::GetAtt': [crId, 'ManagedBy'] });
    expect(resolve(imds.applied)).toEqual({ 'Fn::GetAtt': [crId, 'Applied'] });
  });

  test('isImdsAccountDefaults', () => {
    expect(ImdsAccountDefaults.isImdsAccountDefaults(imds)).toBe(true);
    expect(ImdsAccountDefaults.isImdsAccountDefaults(stack)).toBe(false);
    expect(ImdsAccountDefaults.isImdsAccountDefaults(undefined)).toBe(false);
  });
});

describe('escape hatches', () => {
  const { template, stack, imds } = synth({ httpTokens: ImdsHttpTokens.REQUIRED });
  const idOf = (type: string) => {
    const ids = Object.keys(template.findResources(type));
    expect(ids).toHaveLength(1);
    return ids[0];
  };

  test('customResource (was resource) is the Custom::ImdsAccountDefaults, the construct\'s default child', () => {
    expect(imds.customResource).toBeInstanceOf(CustomResource);
    expect(imds.node.defaultChild).toBe(imds.customResource);
    expect(stack.resolve((imds.customResource.node.defaultChild as CfnResource).logicalId)).toBe(idOf('Custom::ImdsAccountDefaults'));
    expect(stack.resolve(imds.customResource.ref)).toEqual({ Ref: idOf('Custom::ImdsAccountDefaults') });
    expect((imds as any).resource).toBeUndefined();
  });

  test('handler is the function, whose ARN is the custom resource\'s service token', () => {
    expect(stack.resolve(imds.handler.functionArn)).toEqual({ 'Fn::GetAtt': [idOf('AWS::Lambda::Function'), 'Arn'] });
    expect(imds.handler).toBeInstanceOf(lambda.Function);
    template.hasResourceProperties('Custom::ImdsAccountDefaults', { ServiceToken: { 'Fn::GetAtt': [idOf('AWS::Lambda::Function'), 'Arn'] } });
  });

  test('role is the function\'s role', () => {
    expect(stack.resolve(imds.role.roleArn)).toEqual({ 'Fn::GetAtt': [idOf('AWS::IAM::Role'), 'Arn'] });
    expect(imds.handler.role).toBe(imds.role);
    template.hasResourceProperties('AWS::Lambda::Function', { Role: { 'Fn::GetAtt': [idOf('AWS::IAM::Role'), 'Arn'] } });
  });

  test('logGroup is the function\'s log group: subscription and metric filters can be added to it', () => {
    expect(stack.resolve(imds.logGroup.logGroupName)).toEqual({ Ref: idOf('AWS::Logs::LogGroup') });
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: idOf('AWS::Logs::LogGroup') } } });

    const app = new App();
    const s2 = new Stack(app, 'Stack');
    const d = new ImdsAccountDefaults(s2, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REPORT_ONLY });
    d.logGroup.addMetricFilter('Drift', { filterPattern: logs.FilterPattern.stringValue('$.message', '=', 'drift found'), metricNamespace: 'Platform', metricName: 'ImdsDrift' });
    const t = Template.fromStack(s2);
    t.hasResourceProperties('AWS::Logs::MetricFilter', { LogGroupName: { Ref: Object.keys(t.findResources('AWS::Logs::LogGroup'))[0] } });
  });

  test('driftScheduleRule and driftTrailRule are undefined without driftGuard', () => {
    expect(imds.driftScheduleRule).toBeUndefined();
    expect(imds.driftTrailRule).toBeUndefined();
  });

  test.each([DriftGuardMode.REAPPLY, DriftGuardMode.REPORT_ONLY])('with driftGuard %s, driftScheduleRule is the schedule and driftTrailRule the CloudTrail rule', (driftGuard) => {
    const guarded = synth({ httpTokens: ImdsHttpTokens.REQUIRED, driftGuard, driftCheckInterval: Duration.minutes(10) });
    const rules = guarded.template.findResources('AWS::Events::Rule');
    const scheduleId = Object.keys(rules).find((id) => rules[id].Properties.ScheduleExpression !== undefined)!;
    const trailId = Object.keys(rules).find((id) => rules[id].Properties.EventPattern !== undefined)!;
    expect(rules[scheduleId].Properties.ScheduleExpression).toBe('rate(10 minutes)');
    expect(rules[trailId].Properties.EventPattern.detail.eventName).toEqual(['ModifyInstanceMetadataDefaults']);
    expect(guarded.stack.resolve(guarded.imds.driftScheduleRule!.ruleArn)).toEqual({ 'Fn::GetAtt': [scheduleId, 'Arn'] });
    expect(guarded.stack.resolve(guarded.imds.driftTrailRule!.ruleArn)).toEqual({ 'Fn::GetAtt': [trailId, 'Arn'] });
    expect(guarded.imds.driftScheduleRule).toBeInstanceOf(events.Rule);
    expect(guarded.imds.driftTrailRule).toBeInstanceOf(events.Rule);
  });
});

describe('enum values are frozen: they are written into templates and read by the handler', () => {
  test.each<[string, Record<string, string>, Array<[string, string]>, readonly string[]]>([
    ['ImdsHttpTokens', ImdsHttpTokens, [['OPTIONAL', 'optional'], ['REQUIRED', 'required'], ['NO_PREFERENCE', 'no-preference']], ALLOWED_VALUES.HttpTokens],
    ['ImdsHttpTokensEnforced', ImdsHttpTokensEnforced, [['ENABLED', 'enabled'], ['DISABLED', 'disabled'], ['NO_PREFERENCE', 'no-preference']], ALLOWED_VALUES.HttpTokensEnforced],
    ['ImdsHttpEndpoint', ImdsHttpEndpoint, [['ENABLED', 'enabled'], ['DISABLED', 'disabled'], ['NO_PREFERENCE', 'no-preference']], ALLOWED_VALUES.HttpEndpoint],
    ['ImdsInstanceMetadataTags', ImdsInstanceMetadataTags, [['ENABLED', 'enabled'], ['DISABLED', 'disabled'], ['NO_PREFERENCE', 'no-preference']], ALLOWED_VALUES.InstanceMetadataTags],
  ])('%s', (_, enumObject, entries, allowed) => {
    expect(Object.entries(enumObject)).toEqual(entries);
    expect(Object.values(enumObject).sort()).toEqual([...allowed].sort());
  });

  test('every setting value reaches the custom resource as the API spells it', () => {
    for (const [httpTokens, httpTokensEnforced, httpEndpoint, instanceMetadataTags] of [
      [ImdsHttpTokens.OPTIONAL, ImdsHttpTokensEnforced.DISABLED, ImdsHttpEndpoint.DISABLED, ImdsInstanceMetadataTags.DISABLED],
      [ImdsHttpTokens.REQUIRED, ImdsHttpTokensEnforced.ENABLED, ImdsHttpEndpoint.ENABLED, ImdsInstanceMetadataTags.ENABLED],
      [ImdsHttpTokens.NO_PREFERENCE, ImdsHttpTokensEnforced.NO_PREFERENCE, ImdsHttpEndpoint.NO_PREFERENCE, ImdsInstanceMetadataTags.NO_PREFERENCE],
    ] as const) {
      synth({ httpTokens, httpTokensEnforced, httpEndpoint, instanceMetadataTags }).template.hasResourceProperties('Custom::ImdsAccountDefaults', {
        HttpTokens: httpTokens, HttpTokensEnforced: httpTokensEnforced, HttpEndpoint: httpEndpoint, InstanceMetadataTags: instanceMetadataTags,
      });
    }
  });

  test('DriftGuardMode: REAPPLY and REPORT_ONLY (the function\'s IMDS_DRIFT_GUARD)', () => {
    expect(Object.entries(DriftGuardMode)).toEqual([['REAPPLY', 'REAPPLY'], ['REPORT_ONLY', 'REPORT_ONLY']]);
  });

  test('SettingsOnDelete: RESET and RESTORE', () => {
    expect(Object.entries(SettingsOnDelete)).toEqual([['RESET', 'RESET'], ['RESTORE', 'RESTORE']]);
  });

  test('ReadinessCheckMode has no REPORT_ONLY: its second mode enforces, and says so', () => {
    expect(Object.keys(ReadinessCheckMode)).not.toContain('REPORT_ONLY');
    expect(Object.values(ReadinessCheckMode)).not.toContain('REPORT_ONLY');
  });
});

describe('props', () => {
  test('every setting, including no preference', () => {
    const { template } = synth({
      httpTokens: ImdsHttpTokens.NO_PREFERENCE,
      httpTokensEnforced: ImdsHttpTokensEnforced.DISABLED,
      httpPutResponseHopLimit: -1,
      httpEndpoint: ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
    });
    template.hasResourceProperties('Custom::ImdsAccountDefaults', {
      HttpTokens: 'no-preference',
      HttpTokensEnforced: 'disabled',
      HttpPutResponseHopLimit: -1,
      HttpEndpoint: 'enabled',
      InstanceMetadataTags: 'disabled',
    });
  });

  test('RETAIN puts DeletionPolicy and UpdateReplacePolicy Retain on the custom resource, and the property Retained: true for its claim', () => {
    const { template } = synth({ httpTokens: ImdsHttpTokens.REQUIRED, removalPolicy: RemovalPolicy.RETAIN });
    template.hasResource('Custom::ImdsAccountDefaults', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: Match.objectLike({ Retained: true }) });
  });

  test('RETAIN_ON_UPDATE_OR_DELETE retains too (RetainExceptOnCreate): Retained: true', () => {
    const { template } = synth({ httpTokens: ImdsHttpTokens.REQUIRED, removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE });
    template.hasResource('Custom::ImdsAccountDefaults', { DeletionPolicy: 'RetainExceptOnCreate', Properties: Match.objectLike({ Retained: true }) });
  });

  test('RemovalPolicy.SNAPSHOT is refused (a custom resource has no snapshot), naming the path, the prop and the value, before anything is created', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    expect(() => new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, removalPolicy: RemovalPolicy.SNAPSHOT }))
      .toThrow(/^\[Stack\/Imds\] removalPolicy must be RemovalPolicy\.DESTROY, RemovalPolicy\.RETAIN or RemovalPolicy\.RETAIN_ON_UPDATE_OR_DELETE; got RemovalPolicy\.SNAPSHOT, which CloudFormation accepts only on resources that can be snapshotted$/);
    expect(stack.node.tryFindChild('Imds')?.node.children ?? []).toHaveLength(0);
  });

  test('the options alone (what ImdsAccountDefaultsStackSet takes for every account) are valid props', () => {
    const options: ImdsAccountDefaultsOptions = {
      httpTokens: ImdsHttpTokens.REQUIRED,
      settingsOnDelete: SettingsOnDelete.RESTORE,
      skipIfManagedByDeclarativePolicy: true,
      logRetention: logs.RetentionDays.ONE_MONTH,
      rolePath: '/platform/',
      driftGuard: DriftGuardMode.REPORT_ONLY,
      driftCheckInterval: Duration.minutes(5),
    };
    const { template } = synth(options);
    template.hasResourceProperties('Custom::ImdsAccountDefaults', { OnDelete: 'RESTORE', SkipIfManagedByDeclarativePolicy: true });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::IAM::Role', { Path: '/platform/' });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  test.each([undefined, RemovalPolicy.DESTROY])('removalPolicy %p: no Retained property', (removalPolicy) => {
    const { template } = synth({ httpTokens: ImdsHttpTokens.REQUIRED, removalPolicy });
    template.hasResource('Custom::ImdsAccountDefaults', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ Retained: Match.absent() }) });
  });

  describe('settingsOnDelete', () => {
    const resourceProps = (template: Template) => Object.values(template.findResources('Custom::ImdsAccountDefaults'))[0].Properties;

    test('the enum\'s values are the handler\'s', () => {
      expect(Object.values(SettingsOnDelete)).toEqual([...ON_DELETE_VALUES]);
    });

    test('RESTORE reaches the handler as the OnDelete property', () => {
      const { template } = synth({ httpTokens: ImdsHttpTokens.REQUIRED, settingsOnDelete: SettingsOnDelete.RESTORE });
      expect(resourceProps(template).OnDelete).toBe('RESTORE');
    });

    test('RESET, the default, writes nothing: the template is the same as without the prop', () => {
      const without = synth({ httpTokens: ImdsHttpTokens.REQUIRED }).template.toJSON();
      const reset = synth({ httpTokens: ImdsHttpTokens.REQUIRED, settingsOnDelete: SettingsOnDelete.RESET }).template.toJSON();
      expect(reset).toEqual(without);
      expect(resourceProps(Template.fromJSON(reset))).not.toHaveProperty('OnDelete');
    });

    test('a token is passed through for the handler to check', () => {
      const app = new App();
      const stack = new Stack(app, 'Stack');
      const mode = new CfnParameter(stack, 'OnDelete', { type: 'String' }).valueAsString as SettingsOnDelete;
      new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, settingsOnDelete: mode });
      expect(resourceProps(Template.fromStack(stack)).OnDelete).toEqual({ Ref: 'OnDelete' });
    });

    test('an unknown value (JavaScript users) is refused, naming the path, the prop and the value', () => {
      expect(() => synth({ httpTokens: ImdsHttpTokens.REQUIRED, settingsOnDelete: 'restore' as SettingsOnDelete }))
        .toThrow(/^\[Stack\/Imds\] settingsOnDelete must be SettingsOnDelete.RESET or SettingsOnDelete.RESTORE; got "restore"$/);
    });

    test.each([
      [SettingsOnDelete.RESTORE, RemovalPolicy.RETAIN, 'RETAIN'],
      [SettingsOnDelete.RESET, RemovalPolicy.RETAIN, 'RETAIN'],
      [SettingsOnDelete.RESTORE, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, 'RETAIN_ON_UPDATE_OR_DELETE'],
    ])('settingsOnDelete %s with a retaining removalPolicy (%s) is refused, naming both props', (settingsOnDelete, removalPolicy, name) => {
      expect(() => synth({ httpTokens: ImdsHttpTokens.REQUIRED, settingsOnDelete, removalPolicy }))
        .toThrow(new RegExp(`^\\[Stack/Imds\\] settingsOnDelete applies only when CloudFormation may delete the resource; got settingsOnDelete SettingsOnDelete\\.${settingsOnDelete} with removalPolicy RemovalPolicy\\.${name}: a retained resource is never deleted deliberately`));
    });

    test('with RemovalPolicy.DESTROY, RESTORE is accepted', () => {
      const { template } = synth({
        httpTokens: ImdsHttpTokens.REQUIRED, settingsOnDelete: SettingsOnDelete.RESTORE, removalPolicy: RemovalPolicy.DESTROY,
      });
      expect(resourceProps(template)).toMatchObject({ OnDelete: 'RESTORE' });
      expect(resourceProps(template)).not.toHaveProperty('Retained');
    });
  });

  test('skipIfManagedByDeclarativePolicy reaches the handler only when set', () => {
    synth({ httpTokens: ImdsHttpTokens.REQUIRED, skipIfManagedByDeclarativePolicy: true }).template
      .hasResourceProperties('Custom::ImdsAccountDefaults', { SkipIfManagedByDeclarativePolicy: true });
    synth({ httpTokens: ImdsHttpTokens.REQUIRED, skipIfManagedByDeclarativePolicy: false }).template
      .hasResourceProperties('Custom::ImdsAccountDefaults', { SkipIfManagedByDeclarativePolicy: Match.absent() });
  });

  test('logRetention', () => {
    synth({ httpTokens: ImdsHttpTokens.REQUIRED, logRetention: logs.RetentionDays.ONE_WEEK }).template
      .hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test('tokens skip synth-time checks and reach the handler as references', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const hop = new CfnParameter(stack, 'HopLimit', { type: 'Number' });
    const tokens = new CfnParameter(stack, 'HttpTokens');
    new ImdsAccountDefaults(stack, 'Imds', {
      httpPutResponseHopLimit: hop.valueAsNumber,
      httpTokens: tokens.valueAsString as ImdsHttpTokens,
      httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::ImdsAccountDefaults', {
      HttpPutResponseHopLimit: { Ref: 'HopLimit' },
      HttpTokens: { Ref: 'HttpTokens' },
    });
    // A token is not compared either: no warning about enforcement with optional tokens.
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('validation', () => {
  const throws = (props: ImdsAccountDefaultsProps) => () => synth(props);

  test.each([65, 0, -2, 2.5, NaN, 1000])('hop limit %p is rejected, naming the prop, the value and the path', (hop) => {
    expect(throws({ httpPutResponseHopLimit: hop })).toThrow(
      new RegExp(`^\\[Stack/Imds\\] httpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got ${Number.isNaN(hop) ? 'null' : hop}$`));
  });

  test.each([1, 64, -1])('hop limit %p is accepted', (hop) => {
    expect(throws({ httpPutResponseHopLimit: hop })).not.toThrow();
  });

  test('at least one setting', () => {
    expect(throws({})).toThrow(/^\[Stack\/Imds\] at least one setting is required \(httpTokens, httpTokensEnforced, httpPutResponseHopLimit, httpEndpoint, instanceMetadataTags\)/);
    expect(throws({ removalPolicy: RemovalPolicy.RETAIN, skipIfManagedByDeclarativePolicy: true })).toThrow(/at least one setting is required/);
  });

  test('enum props given as raw strings (JavaScript users) must be API values', () => {
    expect(throws({ httpTokens: 'REQUIRED' as ImdsHttpTokens })).toThrow(/^\[Stack\/Imds\] httpTokens must be one of "optional", "required", "no-preference"; got "REQUIRED"$/);
    expect(throws({ instanceMetadataTags: 'no_preference' as ImdsInstanceMetadataTags })).toThrow(/instanceMetadataTags must be one of .*; got "no_preference"/);
  });

  test('at most one ImdsAccountDefaults per stack', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    new ImdsAccountDefaults(stack, 'First', { httpTokens: ImdsHttpTokens.REQUIRED });
    expect(() => new ImdsAccountDefaults(stack, 'Second', { httpTokens: ImdsHttpTokens.OPTIONAL }))
      .toThrow(/^\[Stack\/Second\] a stack can hold only one ImdsAccountDefaults, because the settings are account- and Region-wide; Stack\/First already manages them in stack Stack$/);
  });

  test('nested constructs count too', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    new ImdsAccountDefaults(new Stack(app, 'Other'), 'Elsewhere', { httpTokens: ImdsHttpTokens.REQUIRED }); // other stack: fine
    const group = new Construct(stack, 'Group');
    new ImdsAccountDefaults(group, 'First', { httpTokens: ImdsHttpTokens.REQUIRED });
    expect(() => new ImdsAccountDefaults(stack, 'Second', { httpTokens: ImdsHttpTokens.REQUIRED })).toThrow(/Stack\/Group\/First already manages them/);
  });

  test('two stacks of one app that target the same concrete account and Region fail at synth', () => {
    const app = new App();
    new ImdsAccountDefaults(new Stack(app, 'A', { env: ENV }), 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    new ImdsAccountDefaults(new Stack(app, 'B', { env: ENV }), 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    expect(() => app.synth()).toThrow(/ImdsAccountDefaults B\/Imds \(stack B\) also targets account and Region 123456789012\/eu-west-1/);
  });

  test('other Regions, other accounts and environment-agnostic stacks are fine', () => {
    const app = new App();
    new ImdsAccountDefaults(new Stack(app, 'A', { env: ENV }), 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    new ImdsAccountDefaults(new Stack(app, 'B', { env: { ...ENV, region: 'us-east-1' } }), 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    new ImdsAccountDefaults(new Stack(app, 'C', { env: { ...ENV, account: '210987654321' } }), 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    new ImdsAccountDefaults(new Stack(app, 'D'), 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    new ImdsAccountDefaults(new Stack(app, 'E'), 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('warnings', () => {
  test('enforcement with optional tokens', () => {
    const { stack } = synth({ httpTokens: ImdsHttpTokens.OPTIONAL, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED });
    Annotations.fromStack(stack).hasWarning('/Stack/Imds', Match.stringLikeRegexp('httpTokensEnforced is ENABLED but httpTokens is OPTIONAL'));
  });

  test('tags through IMDS with the endpoint off', () => {
    const { stack } = synth({ httpEndpoint: ImdsHttpEndpoint.DISABLED, instanceMetadataTags: ImdsInstanceMetadataTags.ENABLED });
    Annotations.fromStack(stack).hasWarning('/Stack/Imds', Match.stringLikeRegexp('instanceMetadataTags is ENABLED but httpEndpoint is DISABLED'));
  });

  test('consistent settings warn about nothing', () => {
    const { stack } = synth({
      httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, httpEndpoint: ImdsHttpEndpoint.ENABLED,
    });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

test('snapshot: the template users will see in their own snapshot tests', () => {
  const { template } = synth({
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
  });
  const json = template.toJSON();
  // The inline code is checked above and by the e2e suite; keep the snapshot readable and stable across handler edits.
  for (const fn of Object.values<any>(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function')) {
    fn.Properties.Code.ZipFile = `<inline handler: ${fn.Properties.Code.ZipFile.length} characters>`.replace(/\d+/, 'N');
    // The hash follows the code (checked above); the version follows package.json.
    fn.Properties.Description = fn.Properties.Description.replace(/ [^ ]+: /, ' <version>: ').replace(/sha256 [0-9a-f]{64}$/, 'sha256 <hash>');
  }
  expect(json).toMatchSnapshot();
});

test('synthesis is deterministic: two apps give byte-identical templates', () => {
  const once = () => JSON.stringify(synth({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 }).template.toJSON());
  expect(once()).toEqual(once());
});

describe('permissions boundary and role path (landing zones that require them)', () => {
  const SETTINGS_ONLY = { httpTokens: ImdsHttpTokens.REQUIRED };

  test('by default the role has neither a permissions boundary nor a path', () => {
    const { template } = synth(SETTINGS_ONLY);
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0].Properties;
    expect(role.PermissionsBoundary).toBeUndefined();
    expect(role.Path).toBeUndefined();
  });

  test('ImdsPermissionsBoundary.fromManagedPolicy: the policy given is the role\'s boundary', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    const imds = new ImdsAccountDefaults(stack, 'Imds', {
      ...SETTINGS_ONLY,
      permissionsBoundary: ImdsPermissionsBoundary.fromManagedPolicy(iam.ManagedPolicy.fromManagedPolicyName(stack, 'Boundary', 'LandingZoneBoundary')),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:policy/LandingZoneBoundary']] },
    });
    // A policy object is used as it is: no construct of the boundary's own.
    expect(imds.node.tryFindChild('PermissionsBoundary')).toBeUndefined();
  });

  test('ImdsPermissionsBoundary.fromManagedPolicy with an AWS managed policy, and with a policy the app creates', () => {
    const aws = synth({ ...SETTINGS_ONLY, permissionsBoundary: ImdsPermissionsBoundary.fromManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess')) }).template;
    aws.hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/PowerUserAccess']] },
    });
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const policy = new iam.ManagedPolicy(stack, 'Boundary', { statements: [new iam.PolicyStatement({ actions: ['ec2:*'], resources: ['*'] })] });
    new ImdsAccountDefaults(stack, 'Imds', { ...SETTINGS_ONLY, permissionsBoundary: ImdsPermissionsBoundary.fromManagedPolicy(policy) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Role', { PermissionsBoundary: { Ref: stack.resolve(policy.managedPolicyArn).Ref } });
  });

  test('ImdsPermissionsBoundary.fromPolicyName: the named policy of the account the stack deploys to, with its path', () => {
    const { template, imds } = synth({ ...SETTINGS_ONLY, permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary') });
    template.hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/boundaries/ImdsBoundary']],
      },
    });
    // Resolved in the construct's scope (<scope>/PermissionsBoundary).
    expect(imds.node.tryFindChild('PermissionsBoundary')).toBeDefined();
  });

  test('one ImdsPermissionsBoundary serves constructs in several stacks, each with its own account\'s policy', () => {
    const app = new App();
    const boundary = ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary');
    const a = new Stack(app, 'A', { env: ENV });
    const b = new Stack(app, 'B', { env: { ...ENV, account: '210987654321' } });
    new ImdsAccountDefaults(a, 'Imds', { ...SETTINGS_ONLY, permissionsBoundary: boundary });
    new ImdsAccountDefaults(b, 'Imds', { ...SETTINGS_ONLY, permissionsBoundary: boundary });
    Template.fromStack(a).hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:policy/ImdsBoundary']] },
    });
    Template.fromStack(b).hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::210987654321:policy/ImdsBoundary']] },
    });
  });

  test('rolePath: the role is created under the path', () => {
    const { template } = synth({ ...SETTINGS_ONLY, rolePath: '/platform/imds/' });
    template.hasResourceProperties('AWS::IAM::Role', { Path: '/platform/imds/' });
  });

  test('iam.PermissionsBoundary.of(app) still applies (an aspect on the same tree)', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    new ImdsAccountDefaults(stack, 'Imds', SETTINGS_ONLY);
    iam.PermissionsBoundary.of(app).apply(iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess'));
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/PowerUserAccess']] },
    });
  });

  test.each([
    ['', /rolePath must be "\/" or a path that starts and ends with "\/".*got ""/],
    ['platform/', /rolePath must be .*got "platform\/"/],
    ['/platform', /rolePath must be .*got "\/platform"/],
    ['/a//b/', /rolePath must be .*got "\/a\/\/b\/"/],
    ['/ space/', /rolePath must be .*got "\/ space\/"/],
  ])('rolePath %j is refused, naming the prop and the value', (rolePath, message) => {
    expect(() => synth({ ...SETTINGS_ONLY, rolePath })).toThrow(message);
  });

  const BY_NAME = 'permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName';
  test.each([
    ['', /must be a managed policy name \(letters, digits and \+=,\.@_-, at most 128 characters\), optionally after its path.*; got ""$/],
    ['/boundaries/ImdsBoundary', /must be a managed policy name .*; got "\/boundaries\/ImdsBoundary"$/],
    ['Imds Boundary', /must be a managed policy name .*; got "Imds Boundary"$/],
    ['x'.repeat(129), /must be a managed policy name .*; got "x{129}"$/],
    ['arn:aws:iam::123456789012:policy/ImdsBoundary', /takes the policy's name, not its ARN .*ImdsPermissionsBoundary\.fromManagedPolicy.*; got "arn:aws:iam::123456789012:policy\/ImdsBoundary"$/],
    ['boundaries/', /must be a managed policy name .*; got "boundaries\/"$/],
  ])('ImdsPermissionsBoundary.fromPolicyName(%j) is refused by the construct, naming its path, the prop, the factory and the value', (name, message) => {
    const attempt = () => synth({ ...SETTINGS_ONLY, permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName(name) });
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(`[Stack/Imds] ${BY_NAME} `);
  });

  test.each(['ImdsBoundary', 'boundaries/ImdsBoundary', 'a/b/Imds+=,.@_-Boundary', 'x'.repeat(128)])('ImdsPermissionsBoundary.fromPolicyName(%j) is accepted', (name) => {
    expect(() => synth({ ...SETTINGS_ONLY, permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName(name) })).not.toThrow();
  });

  test('tokens are left to IAM', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const name = new CfnParameter(stack, 'BoundaryName').valueAsString;
    const rolePath = new CfnParameter(stack, 'RolePath').valueAsString;
    new ImdsAccountDefaults(stack, 'Imds', { ...SETTINGS_ONLY, permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName(name), rolePath });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      Path: { Ref: 'RolePath' },
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/', { Ref: 'BoundaryName' }]] },
    });
  });
});

describe('drift guard', () => {
  const guarded = (props: Partial<ImdsAccountDefaultsProps> = {}) =>
    synth({ httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REAPPLY, ...props });
  const fnOf = (template: Template) => Object.entries(template.findResources('AWS::Lambda::Function'))[0];
  const rulesOf = (template: Template) => template.findResources('AWS::Events::Rule');
  const metricsStatement = {
    Action: 'cloudwatch:PutMetricData',
    Effect: 'Allow',
    Resource: '*',
    Condition: { StringEquals: { 'cloudwatch:namespace': 'CdkImdsAccountDefaults' } },
  };

  test('left out: no rule, no permission, and of the environment only the role\'s name (the handler recognises its own claim writes by it)', () => {
    const { template } = synth({ httpTokens: ImdsHttpTokens.REQUIRED });
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.resourceCountIs('AWS::Lambda::Permission', 0);
    const roleId = Object.keys(template.findResources('AWS::IAM::Role'))[0];
    expect(fnOf(template)[1].Properties.Environment).toEqual({ Variables: { IMDS_ROLE_NAME: { Ref: roleId } } });
    expect(Object.keys(template.toJSON().Resources)).toHaveLength(6);
  });

  test.each([DriftGuardMode.REAPPLY, DriftGuardMode.REPORT_ONLY])('%s: the function learns its mode, its StackId, its custom resource\'s logical id, the template\'s values and its role\'s name', (mode) => {
    const { template, stack, imds } = guarded({ driftGuard: mode, httpPutResponseHopLimit: 2 });
    const roleId = Object.keys(template.findResources('AWS::IAM::Role'))[0];
    expect(fnOf(template)[1].Properties.Environment).toEqual({
      Variables: {
        IMDS_DRIFT_GUARD: mode,
        IMDS_STACK_ID: { Ref: 'AWS::StackId' },
        IMDS_LOGICAL_ID: stack.resolve((imds.customResource.node.defaultChild as CfnResource).logicalId),
        // The values the guard holds EC2 to: the template's, never Parameter Store's.
        IMDS_SETTING_HttpTokens: 'required',
        IMDS_SETTING_HttpPutResponseHopLimit: '2',
        // Its own changes are those of this role (and this function's session).
        IMDS_ROLE_NAME: { Ref: roleId },
      },
    });
    // A plain string: the function does not depend on the custom resource (no cycle).
    expect(typeof fnOf(template)[1].Properties.Environment.Variables.IMDS_LOGICAL_ID).toBe('string');
  });

  test('one IMDS_SETTING_<key> per managed setting, with the custom resource\'s values, and none for the others', () => {
    const { template } = guarded({
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
      httpPutResponseHopLimit: -1,
      httpEndpoint: ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: ImdsInstanceMetadataTags.NO_PREFERENCE,
    });
    const variables = fnOf(template)[1].Properties.Environment.Variables;
    const properties = Object.values(template.findResources('Custom::ImdsAccountDefaults'))[0].Properties;
    const keys = ['HttpTokens', 'HttpTokensEnforced', 'HttpPutResponseHopLimit', 'HttpEndpoint', 'InstanceMetadataTags'];
    expect(Object.keys(variables).filter((k) => k.startsWith('IMDS_SETTING_')).sort()).toEqual(keys.map((k) => `IMDS_SETTING_${k}`).sort());
    for (const key of keys) {
      expect(variables[`IMDS_SETTING_${key}`]).toBe(String(properties[key]));
    }
    const one = fnOf(guarded({ httpTokens: undefined, httpEndpoint: ImdsHttpEndpoint.DISABLED }).template)[1].Properties.Environment.Variables;
    expect(Object.keys(one).filter((k) => k.startsWith('IMDS_SETTING_'))).toEqual(['IMDS_SETTING_HttpEndpoint']);
  });

  test('values from parameters reach the environment as the same references as the properties', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const hop = new CfnParameter(stack, 'HopLimit', { type: 'Number' });
    const tokens = new CfnParameter(stack, 'HttpTokens');
    new ImdsAccountDefaults(stack, 'Imds', { httpPutResponseHopLimit: hop.valueAsNumber, httpTokens: tokens.valueAsString as ImdsHttpTokens, driftGuard: DriftGuardMode.REAPPLY });
    const template = Template.fromStack(stack);
    expect(fnOf(template)[1].Properties.Environment.Variables).toMatchObject({
      IMDS_SETTING_HttpPutResponseHopLimit: { Ref: 'HopLimit' },
      IMDS_SETTING_HttpTokens: { Ref: 'HttpTokens' },
    });
  });

  test('two rules: the schedule (every hour by default) and CloudTrail\'s ModifyInstanceMetadataDefaults; each targets only the function', () => {
    const { template, stack, imds } = guarded();
    const [fnId] = fnOf(template);
    const resourceId = stack.resolve((imds.customResource.node.defaultChild as CfnResource).logicalId);
    const rules = Object.values(rulesOf(template));
    expect(rules.map((r) => r.Properties)).toEqual([
      { ScheduleExpression: 'rate(1 hour)', State: 'ENABLED', Targets: [{ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, Id: 'Target0' }] },
      {
        EventPattern: {
          'source': ['aws.ec2'],
          'detail-type': ['AWS API Call via CloudTrail'],
          // Successful calls only: a failed call changed nothing.
          'detail': { eventSource: ['ec2.amazonaws.com'], eventName: ['ModifyInstanceMetadataDefaults'], errorCode: [{ exists: false }] },
        },
        State: 'ENABLED',
        Targets: [{ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, Id: 'Target0' }],
      },
    ]);
    // Created after the custom resource (its claim exists), deleted before it.
    for (const rule of rules) {
      expect(rule.DependsOn).toEqual([resourceId]);
    }
  });

  test.each([
    [Duration.minutes(1), 'rate(1 minute)'],
    [Duration.minutes(15), 'rate(15 minutes)'],
    [Duration.seconds(120), 'rate(2 minutes)'],
    [Duration.hours(6), 'rate(6 hours)'],
    [Duration.days(1), 'rate(1 day)'],
  ])('driftCheckInterval %s is the schedule %s', (driftCheckInterval, expression) => {
    const { template } = guarded({ driftCheckInterval });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: expression });
  });

  test('one invoke permission per rule, scoped to that rule\'s ARN, for EventBridge only', () => {
    const { template } = guarded();
    const [fnId] = fnOf(template);
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map((p) => p.Properties);
    expect(permissions).toEqual(Object.keys(rulesOf(template)).map((ruleId) => ({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    })));
  });

  test('the guard adds no permission: PutMetricData in the library\'s namespace is there with or without it (security warnings)', () => {
    const plain = synth({ httpTokens: ImdsHttpTokens.REQUIRED }).template;
    const { template } = guarded();
    const statements = (t: Template) => Object.values(t.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement;
    expect(statements(template)).toEqual(statements(plain));
    expect(statements(plain)).toContainEqual(metricsStatement);
    template.resourceCountIs('AWS::IAM::Policy', 1);
  });

  test('the StackSet passes the guard on: its template holds the rules, the permissions, the environment and the statement', () => {
    const stackSet = new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'Everywhere', {
      httpTokens: ImdsHttpTokens.REQUIRED,
      driftGuard: DriftGuardMode.REPORT_ONLY,
      driftCheckInterval: Duration.minutes(30),
      target: TARGET,
    });
    const body = JSON.parse(stackSet.templateBody);
    const resources = Object.values<any>(body.Resources);
    expect(resources.filter((r) => r.Type === 'AWS::Events::Rule').map((r) => r.Properties.ScheduleExpression ?? 'pattern')).toEqual(['rate(30 minutes)', 'pattern']);
    expect(resources.filter((r) => r.Type === 'AWS::Lambda::Permission')).toHaveLength(2);
    // The settings are always parameters of the embedded template: the guard holds EC2 to the parameter's value.
    expect(resources.find((r) => r.Type === 'AWS::Lambda::Function').Properties.Environment.Variables).toMatchObject({
      IMDS_DRIFT_GUARD: 'REPORT_ONLY', IMDS_STACK_ID: { Ref: 'AWS::StackId' }, IMDS_SETTING_HttpTokens: { Ref: 'HttpTokens' }, IMDS_ROLE_NAME: { Ref: expect.stringMatching(/Role/) },
    });
    expect(body.Parameters.HttpTokens.Default).toBe('required');
    expect(JSON.stringify(body)).toContain(JSON.stringify(metricsStatement.Condition));
  });

  test.each<[string, Partial<ImdsAccountDefaultsProps>, RegExp]>([
    ['an interval without a guard', { driftGuard: undefined, driftCheckInterval: Duration.minutes(5) }, /^\[Stack\/Imds\] driftCheckInterval applies only with driftGuard; got driftCheckInterval 5 minutes without driftGuard$/],
    ['90 seconds', { driftCheckInterval: Duration.seconds(90) }, /^\[Stack\/Imds\] driftCheckInterval must be a whole number of minutes, 1 minute or more; got 1 minute 30 seconds$/],
    ['30 seconds', { driftCheckInterval: Duration.seconds(30) }, /^\[Stack\/Imds\] driftCheckInterval must be .*; got 30 seconds$/],
    ['0 minutes', { driftCheckInterval: Duration.minutes(0) }, /^\[Stack\/Imds\] driftCheckInterval must be .*; got 0 minutes$/],
    ['60,001 ms', { driftCheckInterval: Duration.millis(60_001) }, /driftCheckInterval must be .*; got 1 minute 1 milli$/],
    ['an unknown mode', { driftGuard: 'FIX' as DriftGuardMode }, /^\[Stack\/Imds\] driftGuard must be DriftGuardMode.REAPPLY or DriftGuardMode.REPORT_ONLY; got "FIX"$/],
  ])('%s is refused, naming the path, the prop and the value', (_, props, message) => {
    expect(() => guarded(props)).toThrow(message);
  });

  test('the StackSet refuses a bad interval, naming its path, the prop and the value', () => {
    expect(() => new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'Everywhere', {
      httpTokens: ImdsHttpTokens.REQUIRED,
      driftGuard: DriftGuardMode.REAPPLY,
      driftCheckInterval: Duration.seconds(30),
      target: TARGET,
    })).toThrow(/^\[Org\/Everywhere\] driftCheckInterval must be a whole number of minutes, 1 minute or more; got 30 seconds$/);
  });

  test('an interval from a token is left to EventBridge', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const minutes = new CfnParameter(stack, 'Minutes', { type: 'Number' }).valueAsNumber;
    new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(minutes) });
    expect(JSON.stringify(Template.fromStack(stack).findResources('AWS::Events::Rule'))).toContain('Minutes');
  });
});

describe('readiness check', () => {
  const EXPECTED_ACTIONS = ['ec2:DescribeLaunchTemplateVersions', 'ec2:DescribeInstances', 'autoscaling:DescribeLaunchConfigurations'];
  const ec2Statement = (template: Template) => {
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))[0];
    return policy.Properties.PolicyDocument.Statement.find((s: any) => [s.Action].flat().includes('ec2:GetInstanceMetadataDefaults'));
  };
  const resourceProps = (template: Template) => Object.values(template.findResources('Custom::ImdsAccountDefaults'))[0].Properties;
  const iam5Reason = (template: Template) => {
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))[0];
    return policy.Metadata.cdk_nag.rules_to_suppress.find((r: any) => r.id === 'AwsSolutions-IAM5' && r.applies_to[0] === 'Resource::*').reason;
  };

  test('the Describe actions are granted, on "*", only when httpTokensEnforced is managed', () => {
    const managed = synth({ httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED }).template;
    const inRegion = { StringEquals: { 'aws:RequestedRegion': { Ref: 'AWS::Region' } } };
    expect(ec2Statement(managed)).toEqual({
      Action: ['ec2:GetInstanceMetadataDefaults', 'ec2:ModifyInstanceMetadataDefaults', ...EXPECTED_ACTIONS],
      Effect: 'Allow',
      Resource: '*',
      Condition: inRegion,
    });
    const unmanaged = synth({ httpTokens: ImdsHttpTokens.REQUIRED }).template;
    expect(ec2Statement(unmanaged)).toEqual({ Action: ['ec2:GetInstanceMetadataDefaults', 'ec2:ModifyInstanceMetadataDefaults'], Effect: 'Allow', Resource: '*', Condition: inRegion });
    // (The plain code in the template names them: look at the policy only.)
    expect(JSON.stringify(unmanaged.findResources('AWS::IAM::Policy'))).not.toMatch(/Describe(LaunchTemplateVersions|Instances|LaunchConfigurations)/);
  });

  test('also when httpTokensEnforced is DISABLED (a later update may enable it) or a token (a parameter)', () => {
    const disabled = synth({ httpTokensEnforced: ImdsHttpTokensEnforced.DISABLED }).template;
    expect(ec2Statement(disabled).Action).toEqual(expect.arrayContaining(EXPECTED_ACTIONS));
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const enforced = new CfnParameter(stack, 'Enforced', { type: 'String' }).valueAsString as ImdsHttpTokensEnforced;
    new ImdsAccountDefaults(stack, 'Imds', { httpTokensEnforced: enforced });
    expect(ec2Statement(Template.fromStack(stack)).Action).toEqual(expect.arrayContaining(EXPECTED_ACTIONS));
  });

  test('the cdk-nag reason for the policy\'s "*" names the Describe actions only when they are granted', () => {
    expect(iam5Reason(synth({ httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED }).template)).toBe('EC2, readiness and metric actions have no ARNs; one Region');
    expect(iam5Reason(synth({ httpTokens: ImdsHttpTokens.REQUIRED }).template)).toBe('EC2 IMDS defaults and metric actions have no ARNs; one Region');
  });

  test('ENFORCE_AND_REPORT reaches the handler as the ReadinessCheck property, spelled ENFORCE_AND_REPORT (the handler also reads the legacy REPORT_ONLY)', () => {
    const { template } = synth({ httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT });
    expect(resourceProps(template).ReadinessCheck).toBe('ENFORCE_AND_REPORT');
  });

  test('the mode\'s values are frozen and are the handler\'s', () => {
    expect(Object.entries(ReadinessCheckMode)).toEqual([['BLOCK', 'BLOCK'], ['ENFORCE_AND_REPORT', 'ENFORCE_AND_REPORT']]);
    expect(Object.values(ReadinessCheckMode)).toEqual([...READINESS_CHECK_VALUES]);
  });

  test('BLOCK, the default, writes nothing: the template is the same as without the prop', () => {
    const without = synth({ httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED }).template.toJSON();
    const block = synth({ httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, readinessCheck: ReadinessCheckMode.BLOCK }).template.toJSON();
    expect(block).toEqual(without);
    expect(resourceProps(Template.fromJSON(block))).not.toHaveProperty('ReadinessCheck');
  });

  test('a token is passed through for the handler to check', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const mode = new CfnParameter(stack, 'Mode', { type: 'String' }).valueAsString as ReadinessCheckMode;
    new ImdsAccountDefaults(stack, 'Imds', { httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, readinessCheck: mode });
    expect(resourceProps(Template.fromStack(stack)).ReadinessCheck).toEqual({ Ref: 'Mode' });
  });

  test('an unknown value (JavaScript users) is refused, naming the path, the prop and the value', () => {
    expect(() => synth({ httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, readinessCheck: 'block' as ReadinessCheckMode }))
      .toThrow(/^\[Stack\/Imds\] readinessCheck must be ReadinessCheckMode.BLOCK or ReadinessCheckMode.ENFORCE_AND_REPORT; got "block"$/);
  });

  test.each([ReadinessCheckMode.ENFORCE_AND_REPORT, ReadinessCheckMode.BLOCK])('readinessCheck %s without httpTokensEnforced would do nothing: an error names the path, the prop and the value', (readinessCheck) => {
    expect(() => synth({ httpTokens: ImdsHttpTokens.REQUIRED, readinessCheck }))
      .toThrow(new RegExp(`^\\[Stack/Imds\\] readinessCheck applies only with httpTokensEnforced \\(the check runs when a create or update enables enforcement\\); got readinessCheck ReadinessCheckMode\\.${readinessCheck} without httpTokensEnforced$`));
  });

  test('a readinessCheck token without httpTokensEnforced is refused too, naming the token', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const mode = new CfnParameter(stack, 'Mode', { type: 'String' }).valueAsString as ReadinessCheckMode;
    expect(() => new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, readinessCheck: mode }))
      .toThrow(/^\[Stack\/Imds\] readinessCheck applies only with httpTokensEnforced .*; got readinessCheck \$\{Token\[[^\]]+\]\} without httpTokensEnforced$/);
  });

  test('with httpTokensEnforced (any value, a token too) readinessCheck is accepted without a warning', () => {
    for (const httpTokensEnforced of [ImdsHttpTokensEnforced.ENABLED, ImdsHttpTokensEnforced.DISABLED, Token.asString({ Ref: 'Enforced' }) as ImdsHttpTokensEnforced]) {
      const { stack } = synth({ httpTokensEnforced, readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT });
      expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('readinessCheck'))).toEqual([]);
    }
  });

  test('the result and the counts are attributes read with Fn::GetAtt: a string and numbers', () => {
    const { stack, imds, template } = synth({ httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED });
    const crId = Object.keys(template.findResources('Custom::ImdsAccountDefaults'))[0];
    expect(stack.resolve(imds.readinessCheckResult)).toEqual({ 'Fn::GetAtt': [crId, 'ReadinessCheckResult'] });
    for (const count of [imds.launchTemplatesAllowingImdsv1Count, imds.launchConfigurationsAllowingImdsv1Count, imds.instancesAllowingImdsv1Count]) {
      expect(typeof count).toBe('number');
      expect(Token.isUnresolved(count)).toBe(true);
    }
    expect(stack.resolve(imds.launchTemplatesAllowingImdsv1Count)).toEqual({ 'Fn::GetAtt': [crId, 'LaunchTemplatesAllowingImdsv1Count'] });
    expect(stack.resolve(imds.launchConfigurationsAllowingImdsv1Count)).toEqual({ 'Fn::GetAtt': [crId, 'LaunchConfigurationsAllowingImdsv1Count'] });
    expect(stack.resolve(imds.instancesAllowingImdsv1Count)).toEqual({ 'Fn::GetAtt': [crId, 'InstancesAllowingImdsv1Count'] });
    // The keys the handler answers (readiness.ts): Fn::GetAtt of a missing key fails the stack.
    expect(['LaunchTemplatesAllowingImdsv1Count', 'LaunchConfigurationsAllowingImdsv1Count', 'InstancesAllowingImdsv1Count']).toEqual([...READINESS_COUNT_ATTRIBUTE_KEYS]);
    expect(READINESS_RESULT_ATTRIBUTE).toBe('ReadinessCheckResult');
  });

  test('the attributes are there without the readiness check too (the handler answers NOT_CHECKED and 0)', () => {
    const { stack, imds, template } = synth({ httpTokens: ImdsHttpTokens.REQUIRED });
    const crId = Object.keys(template.findResources('Custom::ImdsAccountDefaults'))[0];
    expect(stack.resolve(imds.readinessCheckResult)).toEqual({ 'Fn::GetAtt': [crId, 'ReadinessCheckResult'] });
    expect(stack.resolve(imds.instancesAllowingImdsv1Count)).toEqual({ 'Fn::GetAtt': [crId, 'InstancesAllowingImdsv1Count'] });
  });

  test('ReadinessCheckResult\'s values are frozen and are the handler\'s', () => {
    expect(Object.entries(ReadinessCheckResult)).toEqual([['NOT_CHECKED', 'NOT_CHECKED'], ['COMPLETE', 'COMPLETE'], ['INCOMPLETE', 'INCOMPLETE']]);
    expect(Object.values(ReadinessCheckResult)).toEqual([...READINESS_RESULTS]);
  });


  test('the StackSet passes it to the template it embeds', () => {
    const stack = new Stack(new App(), 'Org');
    const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
      readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT,
      target: TARGET,
    });
    const body = JSON.parse(stackSet.templateBody);
    const resource = Object.values<any>(body.Resources).find((r) => r.Type === 'Custom::ImdsAccountDefaults');
    expect(resource.Properties.ReadinessCheck).toBe('ENFORCE_AND_REPORT');
    expect(JSON.stringify(body)).toContain('"autoscaling:DescribeLaunchConfigurations"');
  });
});
