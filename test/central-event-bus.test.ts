/**
 * `centralEventBusArn`: each function puts its findings to its account's default bus
 * and, with the prop, to the central bus too, with `events:PutEvents` on those two
 * buses only and with the library's source only; the StackSet's members and its
 * management account get the same.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import {
  ImdsAccountDefaults,
  ImdsAccountDefaultsStackSet,
  ImdsFindings,
  ImdsFindingType,
  ImdsHttpTokens,
  ImdsInstanceUpgrade,
  ImdsReadinessReport,
  ImdsStackSetTarget,
  InstanceUpgradeMode,
} from '../src';
import { CENTRAL_EVENT_BUS_ENV } from '../src/private/properties';

const BUS = 'arn:aws:events:us-east-1:111111111111:event-bus/cdk-imds-findings';
const DEFAULT_BUS = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']] };
const SOURCE_ONLY = { StringEquals: { 'events:source': 'cdk-imds-account-defaults' } };

const CONSTRUCTS: Array<[string, (scope: Construct, centralEventBusArn?: string) => void]> = [
  ['ImdsAccountDefaults', (scope, centralEventBusArn) => new ImdsAccountDefaults(scope, 'Defaults', { httpTokens: ImdsHttpTokens.REQUIRED, centralEventBusArn })],
  ['ImdsInstanceUpgrade', (scope, centralEventBusArn) => new ImdsInstanceUpgrade(scope, 'Upgrade', { mode: InstanceUpgradeMode.UPGRADE, centralEventBusArn })],
  ['ImdsReadinessReport', (scope, centralEventBusArn) => new ImdsReadinessReport(scope, 'Report', { centralEventBusArn })],
];

/** The PutEvents statements of every policy in the template. */
function putEventsStatements(template: Record<string, any>): any[] {
  return Object.values<any>(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => r.Properties.PolicyDocument.Statement)
    .filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('events:')));
}

/** Every function's environment variables. */
function environments(template: Record<string, any>): Array<Record<string, string>> {
  return Object.values<any>(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => r.Properties.Environment?.Variables ?? {});
}

describe.each(CONSTRUCTS)('%s', (_name, add) => {
  test('without the prop: PutEvents on its own default bus only, with the library\'s source only; no bus variable', () => {
    const stack = new Stack(new App(), 'Stack');
    add(stack);
    const template = Template.fromStack(stack).toJSON();
    expect(putEventsStatements(template)).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: DEFAULT_BUS, Condition: SOURCE_ONLY }]);
    for (const env of environments(template)) {
      expect(env[CENTRAL_EVENT_BUS_ENV]).toBeUndefined();
    }
  });

  test('with the prop: the central bus too (another account and Region), and the function is told its ARN', () => {
    const stack = new Stack(new App(), 'Stack');
    add(stack, BUS);
    const template = Template.fromStack(stack).toJSON();
    expect(putEventsStatements(template)).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: [DEFAULT_BUS, BUS], Condition: SOURCE_ONLY }]);
    expect(environments(template).map((env) => env[CENTRAL_EVENT_BUS_ENV])).toEqual([BUS]);
  });

  test.each([
    'cdk-imds-findings',
    'arn:aws:sns:us-east-1:111111111111:cdk-imds-findings',
    'arn:aws:events:us-east-1:111111111111:rule/cdk-imds-findings',
    'arn:aws:events:us-east-1:11111111111:event-bus/cdk-imds-findings',
    'arn:aws:events:useast1:111111111111:event-bus/cdk-imds-findings',
    'arn:aws:events:us-east-1:111111111111:event-bus/',
    'arn:aws:events:us-east-1:111111111111:event-bus/bad name',
  ])('refuses %j, naming the construct, the prop and the value', (arn) => {
    const stack = new Stack(new App(), 'Stack');
    expect(() => add(stack, arn)).toThrow(new RegExp(`^\\[Stack/\\w+\\] centralEventBusArn must be the ARN of an EventBridge event bus.*got ${JSON.stringify(arn).replace(/[/.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });

  test('a token is left to IAM and EventBridge', () => {
    const stack = new Stack(new App(), 'Stack');
    expect(() => add(stack, new Stack(stack, 'Other').formatArn({ service: 'events', resource: 'event-bus', resourceName: 'x' }))).not.toThrow();
  });

  test.each([
    'arn:aws-us-gov:events:us-gov-west-1:111111111111:event-bus/findings',
    'arn:aws-cn:events:cn-north-1:111111111111:event-bus/org/findings.v1_a-b',
    'arn:aws:events:eu-west-1:111111111111:event-bus/default',
  ])('accepts %j', (arn) => {
    expect(() => add(new Stack(new App(), 'Stack'), arn)).not.toThrow();
  });
});

describe('ImdsAccountDefaultsStackSet', () => {
  const target = ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1', 'us-west-2'] });

  test.each([
    ['settings and upgrade', { httpTokens: ImdsHttpTokens.REQUIRED, instanceUpgrade: { mode: InstanceUpgradeMode.REPORT_ONLY } }],
    ['settings and report', { httpTokens: ImdsHttpTokens.REQUIRED, readinessReport: {} }],
    ['report and upgrade', { readinessReport: {}, instanceUpgrade: { mode: InstanceUpgradeMode.REPORT_ONLY } }],
  ])('%s: both member functions put to the default bus and the central bus', (_name, options) => {
    const stackSet = new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'Rollout', { ...options, target, centralEventBusArn: BUS });
    const body = JSON.parse(stackSet.templateBody);
    expect(environments(body).map((env) => env[CENTRAL_EVENT_BUS_ENV])).toEqual([BUS, BUS]);
    expect(putEventsStatements(body)).toEqual([
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: [DEFAULT_BUS, BUS], Condition: SOURCE_ONLY },
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: [DEFAULT_BUS, BUS], Condition: SOURCE_ONLY },
    ]);
  });

  test('the management account gets the same', () => {
    const stackSet = new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'Rollout', {
      httpTokens: ImdsHttpTokens.REQUIRED, target, centralEventBusArn: BUS, readinessReport: {},
    });
    const management = new Stack(new App(), 'Management');
    stackSet.addManagementAccount(management);
    expect(environments(Template.fromStack(management).toJSON()).map((env) => env[CENTRAL_EVENT_BUS_ENV])).toEqual([BUS, BUS]);
  });

  test('a token is refused: the members\' template is synthesized on its own', () => {
    const org = new Stack(new App(), 'Org');
    const arn = org.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'x' });
    expect(() => new ImdsAccountDefaultsStackSet(org, 'Rollout', { httpTokens: ImdsHttpTokens.REQUIRED, target, centralEventBusArn: arn }))
      .toThrow(/^\[Org\/Rollout\] centralEventBusArn is a token/);
  });

  test('a malformed ARN is refused with the StackSet\'s path', () => {
    expect(() => new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'Rollout', { httpTokens: ImdsHttpTokens.REQUIRED, target, centralEventBusArn: 'findings' }))
      .toThrow(/^\[Org\/Rollout\] centralEventBusArn must be the ARN of an EventBridge event bus/);
  });
});

test('the source and detail types are the documented, frozen values', () => {
  expect(ImdsFindings.SOURCE).toBe('cdk-imds-account-defaults');
  expect(ImdsFindings.SCHEMA_VERSION).toBe('1');
  expect(Object.values(ImdsFindingType)).toEqual([
    'IMDS Defaults Changed', 'IMDS Drift Detected', 'IMDS Readiness Report', 'IMDS Instance Upgrade Run', 'IMDS Rejected Calls', 'IMDS Security Warning',
  ]);
});
