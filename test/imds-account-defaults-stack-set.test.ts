import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnParameter, Duration, RemovalPolicy, Stack, Tags, Token, aws_cloudformation as cloudformation, aws_iam as iam, aws_logs as logs } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import {
  DriftGuardMode,
  ImdsAccountDefaults,
  ImdsAccountDefaultsOptions,
  ImdsAccountDefaultsProps,
  ImdsAccountDefaultsStackSet,
  ImdsAccountDefaultsStackSetProps,
  ImdsHttpEndpoint,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsInstanceMetadataTags,
  ImdsInstanceUpgrade,
  ImdsInstanceUpgradeOptions,
  ImdsMetrics,
  ImdsPermissionsBoundary,
  ImdsSettings,
  ImdsStackSetPermissionsBoundary,
  ImdsStackSetTarget,
  InstanceUpgradeMode,
  ReadinessCheckMode,
  SettingsOnDelete,
  StackSetCallAs,
  StackSetConcurrencyMode,
  StackSetRegionConcurrency,
} from '../src';
import { decodeInlineCode } from './support/inline-code';
import { EMBEDDED_PLAIN_CODE_BUDGET_BYTES } from '../src/private/embedded-template';

const bundleFile = (name: string, file: 'index.js' | 'inline.js') => path.join(__dirname, '..', 'assets', 'lambda', name, 'index', file);
/** The plain bundle (what stacks carry) and the compressed loader (what a StackSet's template carries when plain code would not fit). */
const HANDLER_BUNDLE = bundleFile('account-defaults', 'index.js');
const HANDLER_LOADER = bundleFile('account-defaults', 'inline.js');

const OU_IDS = ['ou-abcd-12345678'];
const REGIONS = ['us-east-1', 'eu-west-1'];
const TARGET = ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: OU_IDS, regions: REGIONS });
const SETTINGS = { httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 2 };
const PROPS: ImdsAccountDefaultsStackSetProps = { ...SETTINGS, target: TARGET };
/** The setting keys of SETTINGS, as the EC2 API (and the embedded template's parameters) name them. */
const SETTING_KEYS = ['HttpTokens', 'HttpTokensEnforced', 'HttpPutResponseHopLimit'];

function synth(props: ImdsAccountDefaultsStackSetProps = PROPS) {
  const app = new App();
  const stack = new Stack(app, 'Org');
  const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', props);
  // Synthesized on first use, so that tests can add stack instances first.
  return { app, stack, stackSet, get template() { return Template.fromStack(stack); } };
}

/** The StackSet resource (properties and policies). */
function stackSetResource(template: Template): Record<string, any> {
  return Object.values(template.findResources('AWS::CloudFormation::StackSet'))[0];
}

/** The StackSet resource's properties. */
function stackSetProperties(template: Template): Record<string, any> {
  return stackSetResource(template).Properties;
}

/** The embedded template, parsed. */
function embedded(template: Template): Record<string, any> {
  return JSON.parse(stackSetProperties(template).TemplateBody);
}

/** The embedded template's resources of one type. */
function resourcesOf(body: Record<string, any>, type: string): any[] {
  return Object.values<any>(body.Resources).filter((r) => r.Type === type);
}

/** The template with the embedded template parsed and the inline handler replaced by a marker, for readable, stable snapshots. */
function forSnapshot(template: Template): Record<string, any> {
  const json = template.toJSON();
  for (const resource of Object.values<any>(json.Resources)) {
    if (resource.Type === 'AWS::CloudFormation::StackSet') {
      const body = JSON.parse(resource.Properties.TemplateBody);
      for (const inner of Object.values<any>(body.Resources)) {
        if (inner.Type === 'AWS::Lambda::Function') {
          inner.Properties.Code.ZipFile = inner.Properties.Code.ZipFile.includes('brotliDecompressSync')
            ? '<assets/lambda/account-defaults/index/inline.js>' : '<assets/lambda/account-defaults/index/index.js>';
          // The hash follows the code; the version follows package.json.
          inner.Properties.Description = inner.Properties.Description.replace(/ [^ ]+: /, ' <version>: ').replace(/sha256 [0-9a-f]{64}$/, 'sha256 <hash>');
        }
      }
      resource.Properties.TemplateBody = body;
    }
  }
  return json;
}

/**
 * The template with each function's definition replaced by `replace(fn)`, and each
 * resource's compact cdk-nag metadata (`imds_nag`: the embedded template's form, one entry
 * per rule and reason for all the packs that share them) written out as a stack carries
 * it (`cdk_nag`: one entry per pack and rule, in the same order).
 */
function withCode(template: Record<string, any>, replace: (fn: Record<string, any>) => Record<string, any>): Record<string, any> {
  const copy = JSON.parse(JSON.stringify(template));
  for (const [id, resource] of Object.entries<any>(copy.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') {
      copy.Resources[id] = replace(resource);
    }
    const compact: Array<[string, string, string[]?]> | undefined = copy.Resources[id].Metadata?.imds_nag;
    if (compact !== undefined) {
      const { imds_nag: _, ...rest } = copy.Resources[id].Metadata;
      const rules = compact.flatMap(([ids, reason, appliesTo]) => ids.slice(0, ids.indexOf('-')).split('/')
        .map((pack) => ({ id: `${pack}${ids.slice(ids.indexOf('-'))}`, reason, ...(appliesTo ? { applies_to: appliesTo } : {}) })));
      copy.Resources[id].Metadata = { ...rest, cdk_nag: { rules_to_suppress: rules } };
    }
  }
  return copy;
}

/** A function with the plain bundle `file` as its code (and the Description that names it), whatever it carried. */
function withPlainCode(fn: Record<string, any>, file: string): Record<string, any> {
  const code = fs.readFileSync(file, 'utf8');
  expect(decodeInlineCode(fn.Properties.Code.ZipFile)).toBe(code);
  const sha256 = crypto.createHash('sha256').update(code).digest('hex');
  return {
    ...fn,
    Properties: { ...fn.Properties, Code: { ZipFile: code }, Description: fn.Properties.Description.replace(/sha256 [0-9a-f]{64}$/, `sha256 ${sha256}`) },
  };
}

/**
 * A stack of its own (named as the embedded one: the schedule's Lambda permission is named
 * after the function's path) holding ImdsAccountDefaults with `props`, each given setting
 * read from a parameter as the embedded template does, and ImdsInstanceUpgrade if given.
 */
function perAccountResources(props: ImdsAccountDefaultsProps, upgrade?: ConstructorParameters<typeof ImdsInstanceUpgrade>[2]): Record<string, any> {
  const stack = new Stack(new App(), 'Imds');
  const settings: Record<string, unknown> = {};
  for (const [prop, value] of Object.entries(props)) {
    if (['httpTokens', 'httpTokensEnforced', 'httpPutResponseHopLimit', 'httpEndpoint', 'instanceMetadataTags'].includes(prop) && value !== undefined) {
      const key = prop[0].toUpperCase() + prop.slice(1);
      const parameter = new CfnParameter(stack, key, { type: 'String' });
      settings[prop] = prop === 'httpPutResponseHopLimit' ? Token.asNumber(parameter.valueAsString) : parameter.valueAsString;
    }
  }
  new ImdsAccountDefaults(stack, 'ImdsAccountDefaults', { ...props, ...settings });
  if (upgrade !== undefined) {
    new ImdsInstanceUpgrade(stack, 'ImdsInstanceUpgrade', upgrade);
  }
  return Template.fromStack(stack).toJSON().Resources;
}

describe('the StackSet', () => {
  const { template, stackSet } = synth();
  const properties = stackSetProperties(template);

  test('service-managed, auto-deploying, with the IAM capability, from the management account', () => {
    template.resourceCountIs('AWS::CloudFormation::StackSet', 1);
    expect(Object.keys(template.toJSON().Resources)).toHaveLength(1);
    expect(properties).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED',
      CallAs: 'SELF',
      // An account that leaves the targets keeps its stack, and so its settings.
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: true },
      Capabilities: ['CAPABILITY_IAM'],
      Description: 'EC2 account-level instance metadata defaults (cdk-imds-account-defaults)',
    });
    expect(properties.TemplateURL).toBeUndefined();
  });

  test('the settings are always parameters: the StackSet passes its values', () => {
    expect(properties.Parameters).toEqual([
      { ParameterKey: 'HttpTokens', ParameterValue: 'required' },
      { ParameterKey: 'HttpTokensEnforced', ParameterValue: 'enabled' },
      { ParameterKey: 'HttpPutResponseHopLimit', ParameterValue: '2' },
    ]);
  });

  test('removal policy: DESTROY by default, written out', () => {
    expect(stackSetResource(template)).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  test('operation preferences: one Region after another in the order the target names them, 5 accounts at a time, strict tolerance of 4 failures', () => {
    expect(properties.OperationPreferences).toEqual({
      RegionConcurrencyType: 'SEQUENTIAL',
      RegionOrder: ['us-east-1', 'eu-west-1'],
      MaxConcurrentCount: 5,
      FailureToleranceCount: 4,
      ConcurrencyMode: 'STRICT_FAILURE_TOLERANCE',
    });
  });

  test('managed execution: on by default', () => {
    expect(properties.ManagedExecution).toEqual({ Active: true });
  });

  test('one stack instance group: the OUs in the Regions, every account of them', () => {
    expect(properties.StackInstancesGroup).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: ['ou-abcd-12345678'] }, Regions: ['us-east-1', 'eu-west-1'] },
    ]);
  });

  test('a deterministic name derived from the construct path', () => {
    expect(properties.StackSetName).toMatch(/^OrgImdsEverywhere[0-9A-F]{8}$/);
    expect(stackSet.stackSetName).toBe(properties.StackSetName);
    expect(synth().stackSet.stackSetName).toBe(stackSet.stackSetName);
  });

  test('the L1 StackSet is node.defaultChild (id Resource); the StackSet id and the embedded template are exposed', () => {
    const cfn = stackSet.node.defaultChild as cloudformation.CfnStackSet;
    expect(cfn).toBeInstanceOf(cloudformation.CfnStackSet);
    expect(cfn.node.id).toBe('Resource');
    const stack = Stack.of(stackSet);
    expect(stack.resolve(stackSet.stackSetId)).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(cfn), 'StackSetId'] });
    expect(stackSet.templateBody).toBe(properties.TemplateBody);
    expect((stackSet as any).resource).toBeUndefined();
  });

  test('snapshot', () => {
    expect(forSnapshot(template)).toMatchSnapshot();
  });
});

describe('the embedded template', () => {
  const { template } = synth();
  const body = embedded(template);

  test('is self-contained: no bootstrap version parameter or rule, no assets, no CDK metadata', () => {
    expect(Object.keys(body.Parameters)).toEqual(SETTING_KEYS);
    expect(body.Rules).toBeUndefined();
    expect(JSON.stringify(body)).not.toMatch(/cdk-bootstrap|AssetParameters|S3Bucket|S3Key|"Metadata":\{"aws:cdk:path"/);
    expect(Object.values<any>(body.Resources).map((r) => r.Type)).not.toContain('AWS::CDK::Metadata');
  });

  test('holds exactly one Lambda function, with the handler bundle inline: plain when the template fits the budget that way, else the compressed loader', () => {
    const functions = resourcesOf(body, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(1);
    expect(Object.keys(functions[0].Properties.Code)).toEqual(['ZipFile']);
    const code = functions[0].Properties.Code.ZipFile;
    expect(decodeInlineCode(code)).toBe(fs.readFileSync(HANDLER_BUNDLE, 'utf8'));
    // The same template with the plain bundle in place of the loader: what it would have been.
    const plainBytes = Buffer.byteLength(JSON.stringify(withCode(body, (fn) => withPlainCode(fn, HANDLER_BUNDLE))));
    expect(code).toBe(fs.readFileSync(plainBytes <= EMBEDDED_PLAIN_CODE_BUDGET_BYTES ? HANDLER_BUNDLE : HANDLER_LOADER, 'utf8'));
    // The Description names the SHA-256 of the code carried.
    expect(functions[0].Properties.Description).toMatch(new RegExp(`code sha256 ${crypto.createHash('sha256').update(code).digest('hex')}$`));
  });

  test('holds the ImdsAccountDefaults custom resource, which reads the settings from the parameters and skips governed accounts by default', () => {
    const resources = resourcesOf(body, 'Custom::ImdsAccountDefaults');
    expect(resources).toHaveLength(1);
    expect(resources[0].Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^ImdsAccountDefaultsHandler/), 'Arn'] },
      HttpTokens: { Ref: 'HttpTokens' },
      HttpTokensEnforced: { Ref: 'HttpTokensEnforced' },
      HttpPutResponseHopLimit: { Ref: 'HttpPutResponseHopLimit' },
      SkipIfManagedByDeclarativePolicy: true,
      Retained: true,
      Ownership: 'claims-v2',
      ServiceTimeout: 120,
    });
    // Retained by default (memberRemovalPolicy), except by the rollback of its own Create: a deleted
    // stack instance keeps the account's settings, a failed one leaves nothing half-applied.
    expect(resources[0]).toMatchObject({ DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });
  });

  test('skipIfManagedByDeclarativePolicy: false is carried (the property is left out)', () => {
    const [resource] = resourcesOf(embedded(synth({ ...PROPS, skipIfManagedByDeclarativePolicy: false }).template), 'Custom::ImdsAccountDefaults');
    expect(resource.Properties.SkipIfManagedByDeclarativePolicy).toBeUndefined();
  });

  test('is the template ImdsAccountDefaults synthesizes in a stack of its own, resource for resource', () => {
    const perAccount = perAccountResources({
      ...SETTINGS, skipIfManagedByDeclarativePolicy: true, removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    // The code (and so its Description) may be the compressed form of the same bundle.
    expect(withCode(body, (fn) => withPlainCode(fn, HANDLER_BUNDLE)).Resources).toEqual(perAccount);
  });

  test('fits the 51,200-byte TemplateBody limit, as minified JSON', () => {
    const sent: string = stackSetProperties(template).TemplateBody;
    expect(sent).toBe(JSON.stringify(body));
    expect(Buffer.byteLength(sent)).toBeLessThanOrEqual(51_200);
  });

  test('is byte-identical across synths', () => {
    expect(stackSetProperties(synth().template).TemplateBody).toBe(stackSetProperties(template).TemplateBody);
  });

  test('does not depend on the app\'s context or the CDK environment variables', () => {
    const saved = { ...process.env };
    try {
      process.env.CDK_CONTEXT_JSON = JSON.stringify({ 'aws:cdk:enable-path-metadata': true, 'aws:cdk:version-reporting': true });
      const app = new App({ context: { '@aws-cdk/aws-iam:minimizePolicies': true } });
      const stack = new Stack(app, 'Org');
      const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', PROPS);
      expect(stackSet.templateBody).toBe(stackSetProperties(template).TemplateBody);
    } finally {
      process.env = saved;
    }
  });

  test('is synthesized in a temporary directory that is removed', () => {
    // The module object itself (the namespace import only has getters onto it).
    const mkdtemp = jest.spyOn(jest.requireActual<typeof fs>('fs'), 'mkdtempSync');
    try {
      synth();
      // The outer App makes a directory of its own: keep ours (one per synthesis: plain code, then maybe compressed).
      const dirs = mkdtemp.mock.results
        .map((r) => r.value as string)
        .filter((d) => path.basename(d).startsWith('cdk-imds-stackset-'));
      expect(dirs.length).toBeGreaterThanOrEqual(1);
      expect(dirs.length).toBeLessThanOrEqual(2);
      for (const dir of dirs) {
        expect(fs.existsSync(dir)).toBe(false);
      }
    } finally {
      mkdtemp.mockRestore();
    }
  });

  test('every option reaches the members: the copy leaves none out', () => {
    // Typed Required<...>: an option added to ImdsAccountDefaultsOptions must be added here too.
    const every: Required<ImdsAccountDefaultsOptions> = {
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
      httpPutResponseHopLimit: 3,
      httpEndpoint: ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
      settingsOnDelete: SettingsOnDelete.RESTORE,
      skipIfManagedByDeclarativePolicy: false,
      readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT,
      logRetention: logs.RetentionDays.ONE_MONTH,
      rolePath: '/platform/',
      driftGuard: DriftGuardMode.REPORT_ONLY,
      driftCheckInterval: Duration.minutes(30),
      centralEventBusArn: 'arn:aws:events:us-east-1:111111111111:event-bus/cdk-imds-findings',
    };
    // settingsOnDelete needs the members' custom resources to be deleted on removal.
    const { stackSet } = synth({ ...every, target: TARGET, memberRemovalPolicy: RemovalPolicy.DESTROY });
    const members: ImdsAccountDefaultsProps = (stackSet as any).memberProps;
    expect(members).toEqual({ ...every, removalPolicy: RemovalPolicy.DESTROY, permissionsBoundary: undefined });
    // And so does the embedded template.
    const inner = Template.fromJSON(JSON.parse(stackSet.templateBody));
    inner.hasResourceProperties('Custom::ImdsAccountDefaults', Match.objectLike({ OnDelete: 'RESTORE', ReadinessCheck: 'ENFORCE_AND_REPORT' }));
    inner.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    inner.hasResourceProperties('AWS::IAM::Role', Match.objectLike({ Path: '/platform/' }));
    inner.hasResourceProperties('AWS::Events::Rule', Match.objectLike({ ScheduleExpression: 'rate(30 minutes)' }));
    inner.hasResourceProperties('AWS::Lambda::Function', Match.objectLike({
      Environment: {
        Variables: Match.objectLike({
          IMDS_DRIFT_GUARD: 'REPORT_ONLY',
          IMDS_SETTING_HttpEndpoint: { Ref: 'HttpEndpoint' },
          IMDS_EVENT_BUS: 'arn:aws:events:us-east-1:111111111111:event-bus/cdk-imds-findings',
        }),
      },
    }));
  });

  test('carries settingsOnDelete to every stack instance', () => {
    const destroyed = synth({ ...PROPS, settingsOnDelete: SettingsOnDelete.RESTORE, memberRemovalPolicy: RemovalPolicy.DESTROY });
    const inner = Template.fromJSON(embedded(destroyed.template));
    inner.hasResourceProperties('Custom::ImdsAccountDefaults', Match.objectLike({ OnDelete: 'RESTORE' }));
  });
});

describe('settings as parameters of the embedded template (always)', () => {
  const { stackSet } = synth();
  stackSet.addStackInstances(
    ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-legacy01'], regions: ['us-east-1'] }),
    { httpTokens: ImdsHttpTokens.OPTIONAL, httpTokensEnforced: ImdsHttpTokensEnforced.DISABLED },
  );
  const template = Template.fromStack(Stack.of(stackSet));
  const properties = stackSetProperties(template);
  const body = embedded(template);

  test('each given setting is a template parameter whose default is the given value; the others are not', () => {
    expect(body.Parameters).toEqual({
      HttpTokens: expect.objectContaining({ Type: 'String', Default: 'required', AllowedValues: ['optional', 'required', 'no-preference'] }),
      HttpTokensEnforced: expect.objectContaining({ Type: 'String', Default: 'enabled', AllowedValues: ['disabled', 'enabled', 'no-preference'] }),
      HttpPutResponseHopLimit: expect.objectContaining({ Type: 'String', Default: '2', AllowedPattern: '^(-1|[1-9]|[1-5][0-9]|6[0-4])$' }),
    });
  });

  test('every setting, each a parameter with its allowed values', () => {
    const { template: t } = synth({
      target: TARGET,
      httpTokens: ImdsHttpTokens.NO_PREFERENCE,
      httpTokensEnforced: ImdsHttpTokensEnforced.NO_PREFERENCE,
      httpPutResponseHopLimit: -1,
      httpEndpoint: ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
    });
    const every = embedded(t);
    expect(Object.fromEntries(Object.entries<any>(every.Parameters).map(([k, v]) => [k, v.Default]))).toEqual({
      HttpTokens: 'no-preference',
      HttpTokensEnforced: 'no-preference',
      HttpPutResponseHopLimit: '-1',
      HttpEndpoint: 'enabled',
      InstanceMetadataTags: 'disabled',
    });
    expect(every.Parameters.HttpEndpoint.AllowedValues).toEqual(['disabled', 'enabled', 'no-preference']);
    expect(every.Parameters.InstanceMetadataTags.AllowedValues).toEqual(['disabled', 'enabled', 'no-preference']);
    const [resource] = resourcesOf(every, 'Custom::ImdsAccountDefaults');
    for (const key of ['HttpTokens', 'HttpTokensEnforced', 'HttpPutResponseHopLimit', 'HttpEndpoint', 'InstanceMetadataTags']) {
      expect(resource.Properties[key]).toEqual({ Ref: key });
    }
    expect(stackSetProperties(t).Parameters.map((p: any) => p.ParameterValue)).toEqual(['no-preference', 'no-preference', '-1', 'enabled', 'disabled']);
  });

  test('the hop limit pattern accepts exactly -1 and 1 to 64', () => {
    const pattern = new RegExp(body.Parameters.HttpPutResponseHopLimit.AllowedPattern);
    const accepted = ['-2', '-1', '0', '1', '01', '2', '9', '10', '59', '60', '64', '65', '100', '1.5', ' 2', ''].filter((v) => pattern.test(v));
    expect(accepted).toEqual(['-1', '1', '2', '9', '10', '59', '60', '64']);
  });

  test('with the drift guard, the function holds EC2 to the same parameters (never to Parameter Store)', () => {
    const guarded = embedded(synth({ ...PROPS, driftGuard: DriftGuardMode.REAPPLY }).template);
    const [fn] = resourcesOf(guarded, 'AWS::Lambda::Function');
    const [resource] = resourcesOf(guarded, 'Custom::ImdsAccountDefaults');
    for (const key of SETTING_KEYS) {
      expect(fn.Properties.Environment.Variables[`IMDS_SETTING_${key}`]).toEqual({ Ref: key });
      expect(fn.Properties.Environment.Variables[`IMDS_SETTING_${key}`]).toEqual(resource.Properties[key]);
    }
  });

  test('addStackInstances overrides values for some OUs', () => {
    expect(properties.StackInstancesGroup).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: ['ou-abcd-12345678'] }, Regions: ['us-east-1', 'eu-west-1'] },
      {
        DeploymentTargets: { OrganizationalUnitIds: ['ou-abcd-legacy01'] },
        Regions: ['us-east-1'],
        ParameterOverrides: [
          { ParameterKey: 'HttpTokens', ParameterValue: 'optional' },
          { ParameterKey: 'HttpTokensEnforced', ParameterValue: 'disabled' },
        ],
      },
    ]);
  });

  test('an override of the hop limit is written as text', () => {
    const { stack, stackSet: s } = synth();
    s.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-legacy01'], regions: REGIONS }), { httpPutResponseHopLimit: -1 });
    expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup[1].ParameterOverrides)
      .toEqual([{ ParameterKey: 'HttpPutResponseHopLimit', ParameterValue: '-1' }]);
  });

  test('snapshot', () => {
    expect(forSnapshot(template)).toMatchSnapshot();
  });

  test('an override that contradicts the other settings is warned about', () => {
    const { stack, stackSet: s } = synth();
    s.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-87654321'], regions: REGIONS }), { httpTokens: ImdsHttpTokens.OPTIONAL });
    Annotations.fromStack(stack).hasWarning('/Org/ImdsEverywhere', Match.stringLikeRegexp('httpTokensEnforced is ENABLED but httpTokens is OPTIONAL'));
  });
});

describe('targets', () => {
  const groupsOf = (stack: Stack) => stackSetProperties(Template.fromStack(stack)).StackInstancesGroup;

  test('fromOrganizationalUnits: every account of the OUs (no account filter written)', () => {
    expect(groupsOf(synth().stack)[0].DeploymentTargets).toEqual({ OrganizationalUnitIds: ['ou-abcd-12345678'] });
  });

  test('fromOrganizationalUnits with excludeAccountIds: DIFFERENCE', () => {
    const { stack } = synth({
      ...PROPS,
      target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['r-abcd'], regions: REGIONS, excludeAccountIds: ['111111111111', '222222222222'] }),
    });
    expect(groupsOf(stack)).toEqual([{
      DeploymentTargets: { OrganizationalUnitIds: ['r-abcd'], Accounts: ['111111111111', '222222222222'], AccountFilterType: 'DIFFERENCE' },
      Regions: REGIONS,
    }]);
  });

  test('no UNION: additionalAccountIds (from JavaScript) is refused with the provider\'s reason and the way to add accounts', () => {
    expect(() => synth({
      ...PROPS,
      target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: OU_IDS, regions: REGIONS, additionalAccountIds: ['333333333333'] } as any),
    })).toThrow(new Error('[Org/ImdsEverywhere] target.additionalAccountIds is not an option: it would be the account filter UNION, which the StackSet resource provider refuses ("UNION is not a valid AccountFilterType"); add those accounts with addStackInstances(ImdsStackSetTarget.fromAccounts({ accountIds, organizationalUnitIds: <their OUs>, regions }))'));
  });

  test('fromAccounts: INTERSECTION, the accounts selected through their OUs', () => {
    const { stack } = synth({
      ...PROPS,
      target: ImdsStackSetTarget.fromAccounts({ accountIds: ['111111111111'], organizationalUnitIds: ['r-abcd'], regions: ['eu-west-1'] }),
    });
    expect(groupsOf(stack)).toEqual([{
      DeploymentTargets: { OrganizationalUnitIds: ['r-abcd'], Accounts: ['111111111111'], AccountFilterType: 'INTERSECTION' },
      Regions: ['eu-west-1'],
    }]);
  });

  test('addStackInstances takes every kind of target, each a group of its own, in order', () => {
    const { stack, stackSet } = synth();
    stackSet.addStackInstances(ImdsStackSetTarget.fromAccounts({ accountIds: ['111111111111'], organizationalUnitIds: ['r-abcd'], regions: ['eu-west-1'] }));
    stackSet.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-87654321'], regions: ['eu-west-1'], excludeAccountIds: ['222222222222'] }));
    expect(groupsOf(stack).map((g: any) => g.DeploymentTargets)).toEqual([
      { OrganizationalUnitIds: ['ou-abcd-12345678'] },
      { OrganizationalUnitIds: ['r-abcd'], Accounts: ['111111111111'], AccountFilterType: 'INTERSECTION' },
      { OrganizationalUnitIds: ['ou-abcd-87654321'], Accounts: ['222222222222'], AccountFilterType: 'DIFFERENCE' },
    ]);
  });

  test('one target value can be used for several StackSets', () => {
    const app = new App();
    const a = new ImdsAccountDefaultsStackSet(new Stack(app, 'A'), 'Imds', PROPS);
    const b = new ImdsAccountDefaultsStackSet(new Stack(app, 'B'), 'Imds', PROPS);
    expect(groupsOf(Stack.of(a))).toEqual(groupsOf(Stack.of(b)));
  });

  test('OU lists, account lists and Regions may be tokens', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    const ous = Token.asList({ Ref: 'Ous' });
    const accounts = Token.asList({ Ref: 'Accounts' });
    const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
      ...SETTINGS,
      target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ous, regions: [stack.region] }),
    });
    stackSet.addStackInstances(ImdsStackSetTarget.fromAccounts({ accountIds: accounts, organizationalUnitIds: ['r-abcd'], regions: Token.asList({ Ref: 'Regions' }) }));
    expect(groupsOf(stack)).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: { Ref: 'Ous' } }, Regions: [{ Ref: 'AWS::Region' }] },
      { DeploymentTargets: { OrganizationalUnitIds: ['r-abcd'], Accounts: { Ref: 'Accounts' }, AccountFilterType: 'INTERSECTION' }, Regions: { Ref: 'Regions' } },
    ]);
  });

  test('sequential Regions follow the order given, across every stack instance group (token lists left out)', () => {
    const { stack, stackSet } = synth({
      ...PROPS,
      regionConcurrency: StackSetRegionConcurrency.SEQUENTIAL,
      maxConcurrentPercentage: 100,
      failureTolerancePercentage: 0,
    });
    stackSet.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-87654321'], regions: ['eu-west-1', 'ap-southeast-2'] }));
    stackSet.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-11111111'], regions: Token.asList({ Ref: 'More' }) }));
    expect(stackSetProperties(Template.fromStack(stack)).OperationPreferences).toEqual({
      RegionConcurrencyType: 'SEQUENTIAL',
      RegionOrder: ['us-east-1', 'eu-west-1', 'ap-southeast-2'],
      MaxConcurrentPercentage: 100,
      FailureTolerancePercentage: 0,
      ConcurrencyMode: 'STRICT_FAILURE_TOLERANCE',
    });
  });
});

describe('removal policies', () => {
  const customResourceOf = (template: Template) => resourcesOf(embedded(template), 'Custom::ImdsAccountDefaults')[0];

  test('removalPolicy is the StackSet\'s own; the members keep theirs', () => {
    const { template } = synth({ ...PROPS, removalPolicy: RemovalPolicy.RETAIN, memberRemovalPolicy: RemovalPolicy.DESTROY });
    expect(stackSetResource(template)).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(customResourceOf(template).DeletionPolicy).toBe('Delete');
    expect(customResourceOf(template).Properties.Retained).toBeUndefined();
  });

  test('removalPolicy RETAIN_ON_UPDATE_OR_DELETE on the StackSet', () => {
    expect(stackSetResource(synth({ ...PROPS, removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE }).template))
      .toMatchObject({ DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });
  });

  test('memberRemovalPolicy is the member accounts\' custom resources\'; the StackSet keeps DESTROY', () => {
    const { template } = synth({ ...PROPS, memberRemovalPolicy: RemovalPolicy.RETAIN });
    expect(stackSetResource(template)).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(customResourceOf(template)).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: expect.objectContaining({ Retained: true }),
    });
  });

  test('memberRemovalPolicy RETAIN_ON_UPDATE_OR_DELETE by default: the custom resource carries RetainExceptOnCreate and Retained: true, which its claim records', () => {
    const { template, stackSet } = synth();
    expect(customResourceOf(template)).toMatchObject({
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: expect.objectContaining({ Retained: true }),
    });
    expect((stackSet as any).memberProps.removalPolicy).toBe(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
  });

  test('memberRemovalPolicy DESTROY, the explicit choice: Delete, no Retained', () => {
    const { template } = synth({ ...PROPS, memberRemovalPolicy: RemovalPolicy.DESTROY });
    expect(customResourceOf(template)).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(customResourceOf(template).Properties.Retained).toBeUndefined();
  });

  test('memberRemovalPolicy DESTROY with settingsOnDelete', () => {
    const { template } = synth({ ...PROPS, memberRemovalPolicy: RemovalPolicy.DESTROY, settingsOnDelete: SettingsOnDelete.RESTORE });
    expect(customResourceOf(template)).toMatchObject({ DeletionPolicy: 'Delete', Properties: expect.objectContaining({ OnDelete: 'RESTORE' }) });
  });
});

describe('options', () => {
  test('delegated administrator', () => {
    expect(stackSetProperties(synth({ ...PROPS, callAs: StackSetCallAs.DELEGATED_ADMIN }).template).CallAs).toBe('DELEGATED_ADMIN');
  });

  test('keep stacks on account removal: the default, and when asked for', () => {
    expect(stackSetProperties(synth().template).AutoDeployment).toEqual({ Enabled: true, RetainStacksOnAccountRemoval: true });
    expect(stackSetProperties(synth({ ...PROPS, retainStacksOnAccountRemoval: true }).template).AutoDeployment)
      .toEqual({ Enabled: true, RetainStacksOnAccountRemoval: true });
  });

  test('delete the stacks on account removal, when asked for', () => {
    expect(stackSetProperties(synth({ ...PROPS, retainStacksOnAccountRemoval: false }).template).AutoDeployment)
      .toEqual({ Enabled: true, RetainStacksOnAccountRemoval: false });
  });

  test('no auto-deployment', () => {
    expect(stackSetProperties(synth({ ...PROPS, autoDeployment: false }).template).AutoDeployment).toEqual({ Enabled: false });
  });

  test('other counts, Regions in parallel, soft failure tolerance', () => {
    const p = stackSetProperties(synth({
      ...PROPS,
      maxConcurrentCount: 20,
      failureToleranceCount: 0,
      regionConcurrency: StackSetRegionConcurrency.PARALLEL,
      concurrencyMode: StackSetConcurrencyMode.SOFT_FAILURE_TOLERANCE,
    }).template);
    expect(p.OperationPreferences).toEqual({
      RegionConcurrencyType: 'PARALLEL',
      MaxConcurrentCount: 20,
      FailureToleranceCount: 0,
      ConcurrencyMode: 'SOFT_FAILURE_TOLERANCE',
    });
  });

  test('a percentage replaces the count default, each on its own', () => {
    expect(stackSetProperties(synth({ ...PROPS, maxConcurrentPercentage: 25 }).template).OperationPreferences)
      .toMatchObject({ MaxConcurrentPercentage: 25, FailureToleranceCount: 4 });
    expect(stackSetProperties(synth({ ...PROPS, failureTolerancePercentage: 10 }).template).OperationPreferences)
      .toMatchObject({ MaxConcurrentCount: 5, FailureTolerancePercentage: 10 });
    const both = stackSetProperties(synth({ ...PROPS, maxConcurrentPercentage: 25, failureTolerancePercentage: 10 }).template).OperationPreferences;
    expect(both.MaxConcurrentCount).toBeUndefined();
    expect(both.FailureToleranceCount).toBeUndefined();
  });

  test('managed execution off, when asked for', () => {
    expect(stackSetProperties(synth({ ...PROPS, managedExecution: false }).template).ManagedExecution).toEqual({ Active: false });
  });

  test('name and description', () => {
    const p = stackSetProperties(synth({ ...PROPS, stackSetName: 'imds-defaults', description: 'IMDSv2 everywhere' }).template);
    expect(p).toMatchObject({ StackSetName: 'imds-defaults', Description: 'IMDSv2 everywhere' });
  });

  test('contradicting settings are warned about on the StackSet', () => {
    const { stack } = synth({ ...PROPS, httpTokens: ImdsHttpTokens.OPTIONAL });
    Annotations.fromStack(stack).hasWarning('/Org/ImdsEverywhere', Match.stringLikeRegexp('httpTokensEnforced is ENABLED but httpTokens is OPTIONAL'));
  });
});

describe('the management account: addManagementAccount', () => {
  test('an ImdsAccountDefaults with the StackSet\'s options and defaults, memberRemovalPolicy as its removal policy; no upgrade without instanceUpgrade', () => {
    const app = new App();
    const org = new Stack(app, 'Org');
    const stackSet = new ImdsAccountDefaultsStackSet(org, 'ImdsEverywhere', {
      ...PROPS, memberRemovalPolicy: RemovalPolicy.RETAIN, removalPolicy: RemovalPolicy.DESTROY, logRetention: logs.RetentionDays.ONE_MONTH,
    });
    stackSet.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-legacy01'], regions: REGIONS }), { httpTokens: ImdsHttpTokens.OPTIONAL });
    const management = new Stack(app, 'Management', { env: { account: '123456789012', region: 'us-east-1' } });
    const resources = stackSet.addManagementAccount(management);

    expect(resources.accountDefaults).toBeInstanceOf(ImdsAccountDefaults);
    expect(resources.accountDefaults!.node.path).toBe('Management/ImdsAccountDefaults');
    expect(resources.instanceUpgrade).toBeUndefined();
    const template = Template.fromStack(management);
    // The StackSet's values (not an override's), as values: the management account's stack has no parameters.
    template.hasResource('Custom::ImdsAccountDefaults', {
      Properties: Match.objectLike({
        HttpTokens: 'required',
        HttpTokensEnforced: 'enabled',
        HttpPutResponseHopLimit: 2,
        SkipIfManagedByDeclarativePolicy: true,
        Retained: true,
      }),
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    expect(Object.keys(template.toJSON().Parameters)).toEqual(['BootstrapVersion']);
    template.resourceCountIs('Custom::ImdsInstanceUpgrade', 0);
    // The StackSet's own stack is untouched.
    Template.fromStack(org).resourceCountIs('Custom::ImdsAccountDefaults', 0);
  });

  test('retained by default, as the members are', () => {
    const { app, stackSet } = synth();
    const management = new Stack(app, 'Management');
    stackSet.addManagementAccount(management);
    Template.fromStack(management).hasResource('Custom::ImdsAccountDefaults', {
      Properties: Match.objectLike({ Retained: true }),
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('in the StackSet\'s own stack (deployed to the management account)', () => {
    const { stackSet, stack } = synth();
    expect(stackSet.addManagementAccount(stack).accountDefaults!.node.path).toBe('Org/ImdsAccountDefaults');
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::ImdsAccountDefaults', 1);
    template.resourceCountIs('AWS::CloudFormation::StackSet', 1);
  });

  test('the same boundary and role path as the members', () => {
    const { app, stackSet } = synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName('ImdsBoundary'), rolePath: '/platform/' });
    const management = new Stack(app, 'Management', { env: { account: '111111111111', region: 'us-east-1' } });
    stackSet.addManagementAccount(management);
    Template.fromStack(management).hasResourceProperties('AWS::IAM::Role', {
      Path: '/platform/',
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:policy/ImdsBoundary']] },
    });
  });

  test('twice in one scope: the construct ids clash', () => {
    const { app, stackSet } = synth();
    const management = new Stack(app, 'Management');
    stackSet.addManagementAccount(management);
    expect(() => stackSet.addManagementAccount(management)).toThrow(/ImdsAccountDefaults/);
  });
});

describe('metricForMember', () => {
  const ACCOUNT = '222222222222';
  const REGION = 'eu-west-1';
  const metricOf = (props: Partial<ImdsAccountDefaultsStackSetProps>, name: string, options?: Parameters<ImdsAccountDefaultsStackSet['metricForMember']>[3]) =>
    synth({ ...PROPS, ...props }).stackSet.metricForMember(name, ACCOUNT, REGION, options);

  test('a drift metric: the namespace, the name, the member\'s account and Region, no dimensions, Sum per driftCheckInterval', () => {
    const metric = metricOf({ driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(15) }, ImdsMetrics.DRIFT_DETECTED);
    expect(metric.namespace).toBe('CdkImdsAccountDefaults');
    expect(metric.metricName).toBe('DriftDetected');
    expect(metric.account).toBe(ACCOUNT);
    expect(metric.region).toBe(REGION);
    expect(metric.dimensions).toBeUndefined();
    expect(metric.statistic).toBe('Sum');
    expect(metric.period.toMinutes()).toBe(15);
  });

  test('drift metrics default to the default interval, 1 hour', () => {
    for (const name of [ImdsMetrics.DRIFT_DETECTED, ImdsMetrics.DRIFT_REAPPLIED, ImdsMetrics.DRIFT_CHECKS_SKIPPED]) {
      expect(metricOf({ driftGuard: DriftGuardMode.REAPPLY }, name).period.toHours()).toBe(1);
    }
  });

  test('REPORT_ONLY publishes DriftDetected and DriftChecksSkipped, not DriftReapplied', () => {
    expect(metricOf({ driftGuard: DriftGuardMode.REPORT_ONLY }, ImdsMetrics.DRIFT_CHECKS_SKIPPED).metricName).toBe('DriftChecksSkipped');
    expect(() => metricOf({ driftGuard: DriftGuardMode.REPORT_ONLY }, ImdsMetrics.DRIFT_REAPPLIED))
      .toThrow(/^\[Org\/ImdsEverywhere\] metricForMember: DriftReapplied is published only by a drift guard in DriftGuardMode\.REAPPLY; this StackSet's is REPORT_ONLY/);
  });

  test('a drift metric without the drift guard is refused', () => {
    expect(() => metricOf({}, ImdsMetrics.DRIFT_DETECTED))
      .toThrow(/^\[Org\/ImdsEverywhere\] metricForMember: DriftDetected is published only by the drift guard, which this StackSet does not roll out/);
  });

  test('an ImdsInstanceUpgrade metric: Maximum per instanceUpgrade.interval (1 day by default)', () => {
    const metric = metricOf({ instanceUpgrade: { interval: Duration.hours(6) } }, ImdsMetrics.INSTANCES_ALLOWING_IMDSV1);
    expect(metric.metricName).toBe('InstancesAllowingImdsv1');
    expect(metric.statistic).toBe('Maximum');
    expect(metric.period.toHours()).toBe(6);
    expect(metric.account).toBe(ACCOUNT);
    expect(metricOf({ instanceUpgrade: {} }, ImdsMetrics.INSTANCES_FAILED).period.toDays()).toBe(1);
  });

  test('an ImdsInstanceUpgrade metric without instanceUpgrade is refused', () => {
    expect(() => metricOf({}, ImdsMetrics.INSTANCES_UPGRADED))
      .toThrow(/^\[Org\/ImdsEverywhere\] metricForMember: InstancesUpgraded is published only by ImdsInstanceUpgrade, which this StackSet does not roll out/);
  });

  test('security warnings: always published, Sum per 5 minutes', () => {
    for (const name of [ImdsMetrics.UNCONFIRMED_EVENTS, ImdsMetrics.CLAIM_PROBLEMS]) {
      const metric = metricOf({}, name);
      expect(metric.statistic).toBe('Sum');
      expect(metric.period.toMinutes()).toBe(5);
      expect(metric.region).toBe(REGION);
    }
  });

  test('props override the defaults, but not the member\'s account and Region', () => {
    const metric = metricOf({ driftGuard: DriftGuardMode.REAPPLY }, ImdsMetrics.DRIFT_DETECTED, {
      period: Duration.minutes(10), statistic: 'Maximum', label: 'drift', account: '999999999999', region: 'us-west-2',
    });
    expect(metric.period.toMinutes()).toBe(10);
    expect(metric.statistic).toBe('Maximum');
    expect(metric.label).toBe('drift');
    expect(metric.account).toBe(ACCOUNT);
    expect(metric.region).toBe(REGION);
  });

  test('a name the library does not publish is refused, with the names', () => {
    expect(() => metricOf({}, 'Drift'))
      .toThrow(/^\[Org\/ImdsEverywhere\] metricForMember: "Drift" is not a metric this construct publishes; give one of DriftDetected, .*InstancesFailed/);
  });

  test('the account and the Region are checked; tokens are accepted', () => {
    const { stack, stackSet } = synth();
    expect(() => stackSet.metricForMember(ImdsMetrics.CLAIM_PROBLEMS, '2222', REGION))
      .toThrow(/^\[Org\/ImdsEverywhere\] metricForMember: memberAccount must be a 12-digit account id; got "2222"$/);
    expect(() => stackSet.metricForMember(ImdsMetrics.CLAIM_PROBLEMS, ACCOUNT, 'Ireland'))
      .toThrow(/^\[Org\/ImdsEverywhere\] metricForMember: memberRegion must be a Region name such as "us-east-1"; got "Ireland"$/);
    expect(stackSet.metricForMember(ImdsMetrics.CLAIM_PROBLEMS, stack.account, stack.region).account).toBe(stack.account);
  });
});

describe('validation', () => {
  const attempt = (props: Partial<ImdsAccountDefaultsStackSetProps>) => () => synth({ ...PROPS, ...props } as ImdsAccountDefaultsStackSetProps);
  const ous = (options: object) =>
    attempt({ target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: OU_IDS, regions: REGIONS, ...options }) });
  const accounts = (options: object) => attempt({ target: ImdsStackSetTarget.fromAccounts({ accountIds: ['111111111111'], organizationalUnitIds: OU_IDS, regions: REGIONS, ...options }) });

  test('errors name the construct path', () => {
    expect(ous({ organizationalUnitIds: [] })).toThrow(/^\[Org\/ImdsEverywhere\] /);
  });

  describe('the target', () => {
    test('missing (from JavaScript), or not made by a factory: the error points to the factories and says where the old props went', () => {
      expect(attempt({ target: undefined })).toThrow(/^\[Org\/ImdsEverywhere\] target must be an ImdsStackSetTarget: ImdsStackSetTarget\.fromOrganizationalUnits.*or ImdsStackSetTarget\.fromAccounts.*\(organizationalUnitIds, regions, accountIds and accountFilter are no longer props of their own\); got nothing$/);
      expect(attempt({ target: { organizationalUnitIds: OU_IDS, regions: REGIONS } as any }))
        .toThrow(/target must be an ImdsStackSetTarget: .*; got \{"organizationalUnitIds":\["ou-abcd-12345678"\],"regions":\["us-east-1","eu-west-1"\]\}$/);
      expect(attempt({ target: null as any })).toThrow(/target must be an ImdsStackSetTarget: .*; got null$/);
    });

    test('a factory called without options (from JavaScript)', () => {
      expect(attempt({ target: (ImdsStackSetTarget.fromOrganizationalUnits as any)() }))
        .toThrow(/^\[Org\/ImdsEverywhere\] target\.organizationalUnitIds is required \(ImdsStackSetTarget\.fromOrganizationalUnits\)/);
    });

    test('empty OUs', () => {
      expect(ous({ organizationalUnitIds: [] })).toThrow(/target\.organizationalUnitIds is empty; give at least one OU id \(ou-…\) or the root id \(r-…\)/);
      expect(accounts({ organizationalUnitIds: [] })).toThrow(/target\.organizationalUnitIds is empty/);
    });

    test('missing OUs (from JavaScript)', () => {
      expect(ous({ organizationalUnitIds: undefined })).toThrow(/target\.organizationalUnitIds is required \(ImdsStackSetTarget\.fromOrganizationalUnits\): a service-managed StackSet deploys to the accounts of organizational units/);
      expect(accounts({ organizationalUnitIds: undefined })).toThrow(/target\.organizationalUnitIds is required \(ImdsStackSetTarget\.fromAccounts\)/);
    });

    test('an OU id that is not one, or one given twice', () => {
      expect(ous({ organizationalUnitIds: ['123456789012'] })).toThrow(/target\.organizationalUnitIds must hold only an OU id \(ou-…-…\) or a root id \(r-…\); got "123456789012"/);
      expect(ous({ organizationalUnitIds: ['r-abcd', 'r-abcd'] })).toThrow(/target\.organizationalUnitIds lists "r-abcd" more than once/);
    });

    test('no Regions', () => {
      expect(ous({ regions: [] })).toThrow(/target\.regions is empty; give at least one Region/);
    });

    test('missing Regions (from JavaScript)', () => {
      expect(ous({ regions: undefined })).toThrow(/target\.regions is required \(ImdsStackSetTarget\.fromOrganizationalUnits\): give at least one Region/);
      expect(accounts({ regions: undefined })).toThrow(/target\.regions is required \(ImdsStackSetTarget\.fromAccounts\)/);
    });

    test('a Region that is not a Region name', () => {
      expect(ous({ regions: ['us-east-1', 'US East'] })).toThrow(/target\.regions must hold only Region names such as "us-east-1"; got "US East"/);
    });

    test('a Region given twice', () => {
      expect(ous({ regions: ['us-east-1', 'us-east-1'] })).toThrow(/target\.regions lists "us-east-1" more than once/);
    });

    test('excludeAccountIds: empty, not account ids, or twice the same', () => {
      expect(ous({ excludeAccountIds: [] })).toThrow(/target\.excludeAccountIds is empty; leave excludeAccountIds out to deploy to every account/);
      expect(ous({ excludeAccountIds: ['1234'] })).toThrow(/target\.excludeAccountIds must hold only a 12-digit account id; got "1234"/);
      expect(ous({ excludeAccountIds: ['111111111111', '111111111111'] })).toThrow(/target\.excludeAccountIds lists "111111111111" more than once/);
    });

    test('fromAccounts: accountIds missing (from JavaScript), empty, or not account ids', () => {
      expect(accounts({ accountIds: undefined })).toThrow(/target\.accountIds is required \(ImdsStackSetTarget\.fromAccounts\); to deploy to every account of the OUs, use ImdsStackSetTarget\.fromOrganizationalUnits/);
      expect(accounts({ accountIds: [] })).toThrow(/target\.accountIds is empty; give at least one account id/);
      expect(accounts({ accountIds: ['12345678901'] })).toThrow(/target\.accountIds must hold only a 12-digit account id; got "12345678901"/);
    });
  });

  test('no settings, no readiness report, no instance upgrade', () => {
    expect(() => synth({ target: TARGET } as ImdsAccountDefaultsStackSetProps)).toThrow(/^\[Org\/ImdsEverywhere\] a StackSet must roll out something: give at least one setting \(httpTokens, httpTokensEnforced, httpPutResponseHopLimit, httpEndpoint, instanceMetadataTags\), readinessReport \(the dry run\), or instanceUpgrade; got none of them$/);
  });

  test('a bad setting value (the shared validation)', () => {
    expect(attempt({ httpPutResponseHopLimit: 0 })).toThrow(/^\[Org\/ImdsEverywhere\] httpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got 0/);
  });

  test('a setting that is a token', () => {
    expect(attempt({ httpTokens: Token.asString({ Ref: 'Tokens' }) as ImdsHttpTokens }))
      .toThrow(/^\[Org\/ImdsEverywhere\] httpTokens is a token \(\$\{Token\[.*\]\}\); the StackSet's template is synthesized on its own, so what the member accounts get must be known at synth time\. To vary a setting per OU or account, .*addStackInstances\(target, settingOverrides\)/);
  });

  test('another option that is a token', () => {
    expect(attempt({ rolePath: Token.asString({ Ref: 'Path' }) })).toThrow(/^\[Org\/ImdsEverywhere\] rolePath is a token .*must be known at synth time\. Give the value itself$/);
    expect(attempt({ driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(Token.asNumber({ Ref: 'Minutes' })) }))
      .toThrow(/^\[Org\/ImdsEverywhere\] driftCheckInterval is a token/);
    expect(attempt({ logRetention: Token.asNumber({ Ref: 'Days' }) })).toThrow(/^\[Org\/ImdsEverywhere\] logRetention is a token/);
  });

  test('options that would do nothing are refused before the template is synthesized, naming the StackSet and the prop', () => {
    expect(attempt({ driftCheckInterval: Duration.minutes(5) }))
      .toThrow(/^\[Org\/ImdsEverywhere\] driftCheckInterval applies only with driftGuard; got driftCheckInterval 5 minutes without driftGuard$/);
    expect(attempt({ httpTokensEnforced: undefined, readinessCheck: ReadinessCheckMode.BLOCK }))
      .toThrow(/^\[Org\/ImdsEverywhere\] readinessCheck applies only with httpTokensEnforced .*without httpTokensEnforced$/);
    expect(attempt({ settingsOnDelete: 'KEEP' as SettingsOnDelete }))
      .toThrow(/^\[Org\/ImdsEverywhere\] settingsOnDelete must be SettingsOnDelete.RESET or SettingsOnDelete.RESTORE; got "KEEP"$/);
  });

  test('count and percentage of concurrent accounts together', () => {
    expect(attempt({ maxConcurrentCount: 2, maxConcurrentPercentage: 50 })).toThrow(/give maxConcurrentCount \(2\) or maxConcurrentPercentage \(50\), not both/);
  });

  test('count and percentage of failure tolerance together', () => {
    expect(attempt({ failureToleranceCount: 1, failureTolerancePercentage: 5 })).toThrow(/give failureToleranceCount \(1\) or failureTolerancePercentage \(5\), not both/);
  });

  test('a concurrency percentage out of range', () => {
    expect(attempt({ maxConcurrentPercentage: 0 })).toThrow(/maxConcurrentPercentage must be an integer from 1 to 100; got 0/);
    expect(attempt({ maxConcurrentPercentage: 101 })).toThrow(/maxConcurrentPercentage must be an integer from 1 to 100; got 101/);
  });

  test('a concurrency count out of range', () => {
    expect(attempt({ maxConcurrentCount: 0 })).toThrow(/maxConcurrentCount must be an integer of at least 1; got 0/);
  });

  test('a failure tolerance percentage out of range', () => {
    expect(attempt({ failureTolerancePercentage: 101 })).toThrow(/failureTolerancePercentage must be an integer from 0 to 100; got 101/);
  });

  test('a failure tolerance count that is not an integer', () => {
    expect(attempt({ failureToleranceCount: 1.5 })).toThrow(/failureToleranceCount must be an integer of at least 0; got 1.5/);
  });

  test('operation preferences that are tokens are left to CloudFormation', () => {
    const p = stackSetProperties(synth({ ...PROPS, maxConcurrentCount: Token.asNumber({ Ref: 'Max' }) }).template);
    expect(p.OperationPreferences.MaxConcurrentCount).toEqual({ Ref: 'Max' });
  });

  test('retaining stacks without auto-deployment', () => {
    expect(attempt({ autoDeployment: false, retainStacksOnAccountRemoval: true })).toThrow(/retainStacksOnAccountRemoval applies only with autoDeployment; got retainStacksOnAccountRemoval: true with autoDeployment: false/);
  });

  test('a StackSet name CloudFormation refuses', () => {
    expect(attempt({ stackSetName: 'imds_defaults' })).toThrow(/stackSetName must start with a letter and hold only letters, digits and hyphens, at most 128 characters; got "imds_defaults"/);
  });

  test('SNAPSHOT, for the StackSet or for the members', () => {
    expect(attempt({ removalPolicy: RemovalPolicy.SNAPSHOT }))
      .toThrow(/^\[Org\/ImdsEverywhere\] removalPolicy must be RemovalPolicy\.DESTROY, RemovalPolicy\.RETAIN or RemovalPolicy\.RETAIN_ON_UPDATE_OR_DELETE; got RemovalPolicy\.SNAPSHOT/);
    expect(attempt({ memberRemovalPolicy: RemovalPolicy.SNAPSHOT }))
      .toThrow(/^\[Org\/ImdsEverywhere\] memberRemovalPolicy must be RemovalPolicy\.DESTROY, RemovalPolicy\.RETAIN or RemovalPolicy\.RETAIN_ON_UPDATE_OR_DELETE; got RemovalPolicy\.SNAPSHOT/);
  });

  test('settingsOnDelete with a member removal policy that retains, naming both props; the StackSet\'s own removal policy does not count', () => {
    expect(attempt({ settingsOnDelete: SettingsOnDelete.RESTORE, memberRemovalPolicy: RemovalPolicy.RETAIN }))
      .toThrow(new Error('[Org/ImdsEverywhere] settingsOnDelete needs memberRemovalPolicy: RemovalPolicy.DESTROY; got settingsOnDelete SettingsOnDelete.RESTORE with memberRemovalPolicy RemovalPolicy.RETAIN: a retained resource is never deleted deliberately, and a delete that is part of a rollback always restores. Leave settingsOnDelete out, or use RemovalPolicy.DESTROY'));
    expect(attempt({ settingsOnDelete: SettingsOnDelete.RESET, memberRemovalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE }))
      .toThrow(/^\[Org\/ImdsEverywhere\] settingsOnDelete needs memberRemovalPolicy: RemovalPolicy\.DESTROY; got settingsOnDelete SettingsOnDelete\.RESET with memberRemovalPolicy RemovalPolicy\.RETAIN_ON_UPDATE_OR_DELETE:/);
    expect(attempt({ settingsOnDelete: SettingsOnDelete.RESTORE, removalPolicy: RemovalPolicy.RETAIN, memberRemovalPolicy: RemovalPolicy.DESTROY }))
      .not.toThrow();
  });

  test('settingsOnDelete without memberRemovalPolicy: the default retains, so the error says to give DESTROY', () => {
    expect(attempt({ settingsOnDelete: SettingsOnDelete.RESTORE }))
      .toThrow(new Error('[Org/ImdsEverywhere] settingsOnDelete needs memberRemovalPolicy: RemovalPolicy.DESTROY; got settingsOnDelete SettingsOnDelete.RESTORE without memberRemovalPolicy, whose default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE keeps the member accounts\' settings when their stack instances are deleted (a retained resource is never deleted deliberately, and a delete that is part of a rollback always restores). Give memberRemovalPolicy: RemovalPolicy.DESTROY to reset or restore the settings on removal, or leave settingsOnDelete out'));
  });

  test('nothing is created when validation fails', () => {
    const failing: Array<Partial<ImdsAccountDefaultsStackSetProps>> = [
      { target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: OU_IDS, regions: [] }) },
      { memberRemovalPolicy: RemovalPolicy.SNAPSHOT },
    ];
    for (const props of failing) {
      const app = new App();
      const stack = new Stack(app, 'Org');
      expect(() => new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { ...PROPS, ...props })).toThrow();
      expect(stack.node.tryFindChild('ImdsEverywhere')?.node.children ?? []).toHaveLength(0);
    }
  });

  describe('addStackInstances', () => {
    const add = (target: ImdsStackSetTarget, overrides?: ImdsSettings, props: Partial<ImdsAccountDefaultsStackSetProps> = {}) => () => {
      const { stackSet } = synth({ ...PROPS, ...props });
      stackSet.addStackInstances(target, overrides);
    };
    const target = (options: object) => ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: OU_IDS, regions: REGIONS, ...options });

    test('the target is checked as the StackSet\'s', () => {
      expect(add(target({ organizationalUnitIds: [] }))).toThrow(/^\[Org\/ImdsEverywhere\] target\.organizationalUnitIds is empty/);
      expect(add(target({ regions: [] }))).toThrow(/^\[Org\/ImdsEverywhere\] target\.regions is empty/);
      expect(add(ImdsStackSetTarget.fromAccounts({ accountIds: ['1'], organizationalUnitIds: OU_IDS, regions: REGIONS })))
        .toThrow(/^\[Org\/ImdsEverywhere\] target\.accountIds must hold only a 12-digit account id; got "1"/);
      expect(add({ organizationalUnitIds: OU_IDS } as any)).toThrow(/^\[Org\/ImdsEverywhere\] target must be an ImdsStackSetTarget/);
    });

    test('empty overrides', () => {
      expect(add(TARGET, {})).toThrow(/^\[Org\/ImdsEverywhere\] settingOverrides is empty; give at least one setting, or leave settingOverrides out/);
    });

    test('an override of a setting the StackSet does not manage', () => {
      expect(add(TARGET, { httpEndpoint: ImdsHttpEndpoint.DISABLED }))
        .toThrow(/^\[Org\/ImdsEverywhere\] settingOverrides\.httpEndpoint overrides a setting the StackSet does not manage; only httpTokens, httpTokensEnforced, httpPutResponseHopLimit can be overridden \(give httpEndpoint to the StackSet/);
    });

    test('a bad override value (the shared validation)', () => {
      expect(add(TARGET, { httpPutResponseHopLimit: 65 }))
        .toThrow(/^\[Org\/ImdsEverywhere\] settingOverrides: httpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got 65$/);
      expect(add(TARGET, { httpTokens: 'REQUIRED' as ImdsHttpTokens }))
        .toThrow(/^\[Org\/ImdsEverywhere\] settingOverrides: httpTokens must be one of "optional", "required", "no-preference"; got "REQUIRED"$/);
    });

    test('an override that is a token', () => {
      expect(add(TARGET, { httpTokens: Token.asString({ Ref: 'X' }) as ImdsHttpTokens })).toThrow(/^\[Org\/ImdsEverywhere\] settingOverrides\.httpTokens is a token .*; give the value itself$/);
    });

    test('nothing is added when a check fails', () => {
      const { stack, stackSet } = synth();
      expect(() => stackSet.addStackInstances(TARGET, {})).toThrow();
      expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup).toHaveLength(1);
    });
  });
});

/** Loads the library in a fresh module registry, with `mocked` modules replaced by `mock`, and takes the mocks away after. */
function isolated(mocked: string[], mock: () => void, run: (cdk: typeof import('aws-cdk-lib'), lib: typeof import('../src')) => void) {
  try {
    jest.isolateModules(() => {
      mock();
      /* eslint-disable @typescript-eslint/no-require-imports */
      run(require('aws-cdk-lib'), require('../src'));
      /* eslint-enable @typescript-eslint/no-require-imports */
    });
  } finally {
    mocked.forEach((name) => jest.dontMock(name));
  }
}

describe('when the embedded template cannot be made', () => {
  test('a missing handler bundle: the error names the StackSet', () => {
    isolated(['fs'], () => {
      const realFs = jest.requireActual<typeof fs>('fs');
      jest.doMock('fs', () => ({ ...realFs, existsSync: (file: fs.PathLike) => file !== HANDLER_BUNDLE && realFs.existsSync(file) }));
    }, (cdk, lib) => {
      const stack = new cdk.Stack(new cdk.App(), 'Org');
      expect(() => new lib.ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', PROPS))
        .toThrow(/\[Org\/ImdsEverywhere\] cannot synthesize the ImdsAccountDefaults template for the StackSet: .*handler bundle .* is missing/);
    });
  });

  test('an error annotation in the embedded template fails synth', () => {
    isolated(['../src/imds-account-defaults'], () => {
      jest.doMock('../src/imds-account-defaults', () => {
        const actual = jest.requireActual('../src/imds-account-defaults');
        const { Annotations: annotations } = jest.requireActual('aws-cdk-lib');
        class WithError extends actual.ImdsAccountDefaults {
          constructor(scope: any, id: string, props: any) {
            super(scope, id, props);
            annotations.of(this).addError('something is wrong');
          }
        }
        return { ...actual, ImdsAccountDefaults: WithError };
      });
    }, (cdk, lib) => {
      const stack = new cdk.Stack(new cdk.App(), 'Org');
      expect(() => new lib.ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', PROPS))
        .toThrow(/\[Org\/ImdsEverywhere\] cannot synthesize .*: the embedded ImdsAccountDefaults template has errors: something is wrong/);
    });
  });
});

/** Loads the library with the handler files given here in place of the shipped ones (the others unchanged). */
function withHandlerFiles(files: Record<string, string>, run: (cdk: typeof import('aws-cdk-lib'), lib: typeof import('../src')) => void) {
  isolated(['fs'], () => {
    const realFs = jest.requireActual<typeof fs>('fs');
    jest.doMock('fs', () => ({
      ...realFs,
      readFileSync: (file: fs.PathOrFileDescriptor, ...rest: any[]) =>
        (typeof file === 'string' && files[file] !== undefined ? files[file] : (realFs.readFileSync as any)(file, ...rest)),
    }));
  }, run);
}

/** A handler bundle of about `bytes` bytes, as JSON escapes it in a template (no characters to escape). */
const fakeBundle = (bytes: number) => `exports.handler=async()=>{};/*${'x'.repeat(bytes)}*/`;

describe('the code the embedded template carries (EMBEDDED_PLAIN_CODE_BUDGET_BYTES)', () => {
  const codeOf = (body: Record<string, any>) => Object.values<any>(body.Resources).find((r) => r.Type === 'AWS::Lambda::Function').Properties;

  test('the budget is 80 % of TemplateBody\'s 51,200 bytes', () => {
    expect(EMBEDDED_PLAIN_CODE_BUDGET_BYTES).toBe(40_960);
  });

  test('plain code, when the template fits the budget with it', () => {
    const bundle = fakeBundle(10_000);
    withHandlerFiles({ [HANDLER_BUNDLE]: bundle }, (cdk, lib) => {
      const stackSet = new lib.ImdsAccountDefaultsStackSet(new cdk.Stack(new cdk.App(), 'Org'), 'ImdsEverywhere', PROPS);
      expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThanOrEqual(EMBEDDED_PLAIN_CODE_BUDGET_BYTES);
      const fn = codeOf(JSON.parse(stackSet.templateBody));
      expect(fn.Code.ZipFile).toBe(bundle);
      expect(fn.Description).toMatch(new RegExp(`code sha256 ${crypto.createHash('sha256').update(bundle).digest('hex')}$`));
    });
  });

  test('the compressed loader, when the template would exceed the budget with plain code; stacks keep plain code', () => {
    // Just over the budget with plain code: the plain template's size is the bundle's plus about 6 KB.
    const bundle = fakeBundle(EMBEDDED_PLAIN_CODE_BUDGET_BYTES);
    const loader = fs.readFileSync(HANDLER_LOADER, 'utf8');
    withHandlerFiles({ [HANDLER_BUNDLE]: bundle }, (cdk, lib) => {
      const app = new cdk.App();
      const stackSet = new lib.ImdsAccountDefaultsStackSet(new cdk.Stack(app, 'Org'), 'ImdsEverywhere', PROPS);
      const fn = codeOf(JSON.parse(stackSet.templateBody));
      expect(fn.Code.ZipFile).toBe(loader);
      expect(fn.Description).toMatch(new RegExp(`code sha256 ${crypto.createHash('sha256').update(loader).digest('hex')}$`));
      // A stack of the same app, or the management account's, always carries the plain bundle.
      const management = new cdk.Stack(app, 'Management');
      stackSet.addManagementAccount(management);
      const inStack = Object.values<any>(app.synth().getStackByName('Management').template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
      expect(inStack.Properties.Code.ZipFile).toBe(bundle);
    });
  });

  test('the form is chosen for the whole template: with instanceUpgrade, both functions carry the same form', () => {
    const body = JSON.parse(synth({ ...PROPS, instanceUpgrade: { mode: InstanceUpgradeMode.REPORT_ONLY } }).stackSet.templateBody);
    const loaders = Object.values<any>(body.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => r.Properties.Code.ZipFile.includes('brotliDecompressSync'));
    expect(loaders).toHaveLength(2);
    expect(new Set(loaders).size).toBe(1);
  });
});

describe('an oversize template', () => {
  test('fails synth with the size and the limit', () => {
    // Handler files too large to inline, in either form.
    withHandlerFiles({ [HANDLER_BUNDLE]: fakeBundle(60_000), [HANDLER_LOADER]: fakeBundle(60_000) }, (cdk, lib) => {
      const stack = new cdk.Stack(new cdk.App(), 'Org');
      expect(() => new lib.ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', PROPS))
        .toThrow(/\[Org\/ImdsEverywhere\] the ImdsAccountDefaults template is \d+ bytes as minified JSON \(compressed code\), over the 51200-byte limit of a StackSet's TemplateBody/);
    });
  });

  test('with instanceUpgrade, the error names both constructs', () => {
    // Each function fits alone; together they do not.
    const files = Object.fromEntries(['account-defaults', 'instance-upgrade'].flatMap((name) =>
      (['index.js', 'inline.js'] as const).map((file) => [bundleFile(name, file), fakeBundle(30_000)])));
    withHandlerFiles(files, (cdk, lib) => {
      const stack = new cdk.Stack(new cdk.App(), 'Org');
      expect(() => new lib.ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { ...PROPS, instanceUpgrade: {} }))
        .toThrow(/^\[Org\/ImdsEverywhere\] the ImdsAccountDefaults and ImdsInstanceUpgrade template is \d+ bytes as minified JSON \(compressed code\), over the 51200-byte limit/);
    });
  });
});

describe('permissions boundary and role path in the member accounts', () => {
  /** The embedded template's role properties. */
  function embeddedRole(template: Template): Record<string, any> {
    return resourcesOf(embedded(template), 'AWS::IAM::Role')[0].Properties;
  }

  test('by default the embedded role has neither a permissions boundary nor a path', () => {
    const role = embeddedRole(synth().template);
    expect(role.PermissionsBoundary).toBeUndefined();
    expect(role.Path).toBeUndefined();
  });

  test('fromPolicyName: the boundary is the named policy of each member account', () => {
    const { template } = synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary') });
    expect(embeddedRole(template).PermissionsBoundary).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/boundaries/ImdsBoundary']],
    });
  });

  test('fromAwsManagedPolicyName: the same AWS managed policy in every account, in its partition', () => {
    const { template } = synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromAwsManagedPolicyName('PowerUserAccess') });
    expect(embeddedRole(template).PermissionsBoundary).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/PowerUserAccess']],
    });
    const withPath = synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole') });
    expect(JSON.stringify(embeddedRole(withPath.template).PermissionsBoundary)).toContain(':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole');
  });

  test('rolePath: the embedded role is created under the path', () => {
    const { template } = synth({ ...PROPS, rolePath: '/platform/' });
    expect(embeddedRole(template).Path).toBe('/platform/');
  });

  test('the names given to the factories are checked, errors naming the StackSet and the factory', () => {
    expect(() => synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName('Imds Boundary') }))
      .toThrow(/^\[Org\/ImdsEverywhere\] permissionsBoundary: ImdsStackSetPermissionsBoundary\.fromPolicyName must be a managed policy name.*got "Imds Boundary"$/);
    expect(() => synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromAwsManagedPolicyName('Power User') }))
      .toThrow(/^\[Org\/ImdsEverywhere\] permissionsBoundary: ImdsStackSetPermissionsBoundary\.fromAwsManagedPolicyName must be a managed policy name.*got "Power User"$/);
  });

  test('an ARN given to a factory is refused: the member accounts need a name', () => {
    expect(() => synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName('arn:aws:iam::123456789012:policy/ImdsBoundary') }))
      .toThrow(/^\[Org\/ImdsEverywhere\] permissionsBoundary: ImdsStackSetPermissionsBoundary\.fromPolicyName takes the policy's name, not its ARN \(each member account's role gets the policy of that name in its own account\); got "arn:aws:iam::123456789012:policy\/ImdsBoundary"$/);
    expect(() => synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromAwsManagedPolicyName('arn:aws:iam::aws:policy/PowerUserAccess') }))
      .toThrow(/^\[Org\/ImdsEverywhere\] permissionsBoundary: ImdsStackSetPermissionsBoundary\.fromAwsManagedPolicyName takes the policy's name, not its ARN \(e\.g\. "PowerUserAccess"/);
  });

  test('a name that is a token is left to IAM', () => {
    const { template } = synth({ ...PROPS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName(Token.asString('ImdsBoundary')) });
    expect(JSON.stringify(embeddedRole(template).PermissionsBoundary)).toContain(':policy/ImdsBoundary');
  });

  test('a bad rolePath', () => {
    expect(() => synth({ ...PROPS, rolePath: 'platform' })).toThrow(/^\[Org\/ImdsEverywhere\] rolePath must be .*got "platform"/);
  });

  test('aspects of the app do not reach the embedded template; tags reach the StackSet, which CloudFormation propagates', () => {
    const { app, stack, stackSet } = synth();
    iam.PermissionsBoundary.of(app).apply(iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess'));
    Tags.of(app).add('cost-center', 'platform');
    const template = Template.fromStack(stack);
    expect(embeddedRole(template).PermissionsBoundary).toBeUndefined();
    expect(JSON.stringify(embedded(template))).not.toContain('cost-center');
    expect(stackSetProperties(template).Tags).toEqual([{ Key: 'cost-center', Value: 'platform' }]);
    expect(stackSetProperties(template).TemplateBody).toBe(stackSet.templateBody);
  });
});

describe('instanceUpgrade: ImdsInstanceUpgrade in every stack instance', () => {
  const UPGRADE_BUNDLE = bundleFile('instance-upgrade', 'index.js');
  const isUpgradeFunction = (fn: Record<string, any>) => fn.Properties.Environment?.Variables?.IMDS_UPGRADE_MODE !== undefined;
  const UPGRADE: ImdsInstanceUpgradeOptions = {
    mode: InstanceUpgradeMode.UPGRADE, lookback: Duration.days(30), interval: Duration.hours(12), maxUpgradesPerRun: 50,
  };
  const ROLE_OPTIONS = { logRetention: logs.RetentionDays.THREE_MONTHS, rolePath: '/platform/' };
  const BOUNDARY = 'boundaries/ImdsBoundary';
  const typesOf = (body: Record<string, any>) => Object.values<any>(body.Resources).map((r) => r.Type);

  test('off by default: the embedded template holds no upgrade function, schedule or custom resource', () => {
    const types = typesOf(embedded(synth().template));
    expect(types).not.toContain('Custom::ImdsInstanceUpgrade');
    expect(types).not.toContain('AWS::Events::Rule');
    expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(1);
  });

  test('on: the embedded template is ImdsAccountDefaults and ImdsInstanceUpgrade synthesized in a stack of their own, resource for resource, with the StackSet\'s role options and log retention on both', () => {
    const body = embedded(synth({
      ...PROPS, ...ROLE_OPTIONS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName(BOUNDARY), instanceUpgrade: UPGRADE,
    }).template);
    const boundary = ImdsPermissionsBoundary.fromPolicyName(BOUNDARY);
    const perAccount = perAccountResources(
      {
        ...SETTINGS,
        ...ROLE_OPTIONS,
        skipIfManagedByDeclarativePolicy: true,
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        permissionsBoundary: boundary,
      },
      { ...UPGRADE, ...ROLE_OPTIONS, permissionsBoundary: boundary },
    );
    // The code (and so its Description) may be the compressed form of the same bundles.
    expect(withCode(body, (fn) => withPlainCode(fn, isUpgradeFunction(fn) ? UPGRADE_BUNDLE : HANDLER_BUNDLE)).Resources).toEqual(perAccount);

    const roles = resourcesOf(body, 'AWS::IAM::Role');
    expect(roles).toHaveLength(2);
    for (const role of roles) {
      expect(role.Properties).toMatchObject({
        Path: '/platform/',
        PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/boundaries/ImdsBoundary']] },
      });
    }
    expect(resourcesOf(body, 'AWS::Logs::LogGroup').map((r) => r.Properties.RetentionInDays)).toEqual([90, 90]);
  });

  test('on: the upgrade function runs the shipped bundle inline, with the options, on the schedule', () => {
    const body = embedded(synth({ ...PROPS, instanceUpgrade: UPGRADE }).template);
    const fn = resourcesOf(body, 'AWS::Lambda::Function').find(isUpgradeFunction);
    expect(Object.keys(fn.Properties.Code)).toEqual(['ZipFile']);
    expect(decodeInlineCode(fn.Properties.Code.ZipFile)).toBe(fs.readFileSync(UPGRADE_BUNDLE, 'utf8'));
    // The options given arrive; the upgrade's other variables (its own defaults) are imds-instance-upgrade.test.ts's.
    expect(fn.Properties.Environment.Variables).toMatchObject({
      IMDS_UPGRADE_MODE: 'UPGRADE',
      IMDS_UPGRADE_LOOKBACK_SECONDS: '2592000',
      IMDS_UPGRADE_EXCLUSION_TAG_KEY: 'imds-keep-v1',
      IMDS_UPGRADE_WITHOUT_METRICS: 'false',
      IMDS_UPGRADE_MAX_PER_RUN: '50',
    });
    expect(resourcesOf(body, 'AWS::Events::Rule').map((r) => r.Properties.ScheduleExpression)).toEqual(['rate(12 hours)']);
    expect(typesOf(body).filter((t) => t === 'Custom::ImdsInstanceUpgrade')).toHaveLength(1);
  });

  test('on: still self-contained and within the TemplateBody limit with every option', () => {
    const { template, stackSet } = synth({
      ...PROPS,
      ...ROLE_OPTIONS,
      permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName(BOUNDARY),
      httpEndpoint: ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
      memberRemovalPolicy: RemovalPolicy.RETAIN,
      instanceUpgrade: { ...UPGRADE, exclusionTagKey: 'platform:keep-imdsv1', upgradeWithoutMetrics: true },
    });
    const body = embedded(template);
    expect(JSON.stringify(body)).not.toMatch(/cdk-bootstrap|AssetParameters|S3Bucket|S3Key/);
    expect(body.Rules).toBeUndefined();
    expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThanOrEqual(51_200);
    expect(stackSetProperties(template).Capabilities).toEqual(['CAPABILITY_IAM']);
  });

  test('the options are checked before anything is created, and errors name the StackSet and the option', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    expect(() => new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { ...PROPS, instanceUpgrade: { maxUpgradesPerRun: 0 } }))
      .toThrow(/^\[Org\/ImdsEverywhere\] instanceUpgrade\.maxUpgradesPerRun must be an integer from 1 to 1000; got 0$/);
    expect(stack.node.tryFindChild('ImdsEverywhere')?.node.children ?? []).toEqual([]);
    expect(() => synth({ ...PROPS, instanceUpgrade: { lookback: Duration.minutes(30) } }))
      .toThrow(/^\[Org\/ImdsEverywhere\] instanceUpgrade\.lookback must be a whole number of hours/);
    expect(() => synth({ ...PROPS, instanceUpgrade: { exclusionTagKey: 'aws:keep' } }))
      .toThrow(/^\[Org\/ImdsEverywhere\] instanceUpgrade\.exclusionTagKey must be an EC2 tag key/);
    expect(() => synth({ ...PROPS, instanceUpgrade: { interval: Duration.minutes(30) } }))
      .toThrow(/^\[Org\/ImdsEverywhere\] instanceUpgrade\.interval must be a whole number of minutes, at least 1 hour/);
  });

  test('addManagementAccount gives the management account the same upgrade, role options and log retention', () => {
    const { app, stackSet } = synth({
      ...PROPS, ...ROLE_OPTIONS, permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName(BOUNDARY), instanceUpgrade: UPGRADE,
    });
    const management = new Stack(app, 'Management', { env: { account: '111111111111', region: 'us-east-1' } });
    const { accountDefaults, instanceUpgrade } = stackSet.addManagementAccount(management);
    expect(instanceUpgrade).toBeInstanceOf(ImdsInstanceUpgrade);
    expect(instanceUpgrade!.node.path).toBe('Management/ImdsInstanceUpgrade');
    expect(accountDefaults!.node.path).toBe('Management/ImdsAccountDefaults');
    const template = Template.fromStack(management);
    template.resourcePropertiesCountIs('AWS::IAM::Role', {
      Path: '/platform/',
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:policy/boundaries/ImdsBoundary']] },
    }, 2);
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 2);
    template.hasResourceProperties('Custom::ImdsInstanceUpgrade', { Mode: 'UPGRADE', LookbackSeconds: 2592000, MaxUpgradesPerRun: 50 });
    template.resourceCountIs('Custom::ImdsAccountDefaults', 1);
  });
});

/** Every warning of a stack, as `path: message [ack: id]`. */
function warningsOf(stack: Stack): string[] {
  return Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map((w) => `${w.id}: ${w.entry.data}`);
}

const ous = (organizationalUnitIds: string[], regions: string[], options: object = {}) =>
  ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds, regions, ...options });
const OTHER_OU = 'ou-abcd-87654321';
const THIRD_OU = 'ou-abcd-11111111';

describe('canaryRegions and the Region order', () => {
  const orderOf = (stack: Stack) => stackSetProperties(Template.fromStack(stack)).OperationPreferences.RegionOrder;

  test('the canary Regions first, in their order, then the Regions in the order the targets first name them', () => {
    const { stack, stackSet } = synth({ ...PROPS, canaryRegions: ['ap-southeast-2', 'eu-west-1'] });
    stackSet.addStackInstances(ous([OTHER_OU], ['eu-central-1', 'ap-southeast-2', 'us-east-1']));
    expect(orderOf(stack)).toEqual(['ap-southeast-2', 'eu-west-1', 'us-east-1', 'eu-central-1']);
  });

  test('without canary Regions, the order the targets first name them', () => {
    const { stack, stackSet } = synth();
    stackSet.addStackInstances(ous([OTHER_OU], ['eu-central-1', 'eu-west-1']));
    expect(orderOf(stack)).toEqual(['us-east-1', 'eu-west-1', 'eu-central-1']);
  });

  test('no Region order with Regions in parallel', () => {
    const { template } = synth({ ...PROPS, regionConcurrency: StackSetRegionConcurrency.PARALLEL });
    expect(stackSetProperties(template).OperationPreferences.RegionConcurrencyType).toBe('PARALLEL');
    expect(stackSetProperties(template).OperationPreferences.RegionOrder).toBeUndefined();
  });

  test('a canary Region that a later addStackInstances targets is accepted: the check runs at synth', () => {
    const { stack, stackSet } = synth({ ...PROPS, canaryRegions: ['eu-central-1'] });
    stackSet.addStackInstances(ous([OTHER_OU], ['eu-central-1']));
    expect(orderOf(stack)).toEqual(['eu-central-1', 'us-east-1', 'eu-west-1']);
  });

  test('a canary Region no group targets fails synth, naming the StackSet, the Region and the Regions targeted', () => {
    const { app, stackSet } = synth({ ...PROPS, canaryRegions: ['eu-central-1'] });
    stackSet.addStackInstances(ous([OTHER_OU], Token.asList({ Ref: 'More' })));
    expect(() => app.synth()).toThrow('[Org/ImdsEverywhere] canaryRegions lists "eu-central-1", which no stack instance group targets (the Regions of the target and of addStackInstances: us-east-1, eu-west-1; Regions given as tokens do not count, they are not known at synth); a canary Region must be one the StackSet deploys to');
  });

  test('a canary Region that is a token is left alone at synth', () => {
    const { stack } = synth({ ...PROPS, canaryRegions: [Token.asString({ Ref: 'Canary' })] });
    expect(orderOf(stack)).toEqual([{ Ref: 'Canary' }, 'us-east-1', 'eu-west-1']);
  });

  test('canaryRegions with Regions in parallel', () => {
    expect(() => synth({ ...PROPS, canaryRegions: ['us-east-1'], regionConcurrency: StackSetRegionConcurrency.PARALLEL }))
      .toThrow(new Error('[Org/ImdsEverywhere] canaryRegions applies only with regionConcurrency StackSetRegionConcurrency.SEQUENTIAL (the default); got canaryRegions ["us-east-1"] with StackSetRegionConcurrency.PARALLEL, which deploys to every Region at once'));
    expect(() => synth({ ...PROPS, canaryRegions: ['us-east-1'], regionConcurrency: StackSetRegionConcurrency.SEQUENTIAL })).not.toThrow();
  });

  test('canaryRegions empty, not Regions, twice the same, or a token', () => {
    expect(() => synth({ ...PROPS, canaryRegions: [] }))
      .toThrow(new Error('[Org/ImdsEverywhere] canaryRegions is empty; leave canaryRegions out to deploy to the Regions in the order the targets name them'));
    expect(() => synth({ ...PROPS, canaryRegions: ['Ireland'] }))
      .toThrow(new Error('[Org/ImdsEverywhere] canaryRegions must hold only Region names such as "us-east-1"; got "Ireland"'));
    expect(() => synth({ ...PROPS, canaryRegions: ['us-east-1', 'us-east-1'] }))
      .toThrow(new Error('[Org/ImdsEverywhere] canaryRegions lists "us-east-1" more than once'));
    expect(() => synth({ ...PROPS, canaryRegions: Token.asList({ Ref: 'Canaries' }) }))
      .toThrow(/^\[Org\/ImdsEverywhere\] canaryRegions is a token \(#\{Token\[.*\]\}\); give the Region names: the Region order is written at synth$/);
  });
});

describe('targets across stack instance groups', () => {
  describe('the same OU (or root) and Region in two groups', () => {
    test('the StackSet\'s target again', () => {
      const { stackSet } = synth();
      expect(() => stackSet.addStackInstances(TARGET, { httpTokens: ImdsHttpTokens.OPTIONAL }))
        .toThrow(new Error('[Org/ImdsEverywhere] target: ou-abcd-12345678 in us-east-1 is already a target of stack instance group 1 (the target); CloudFormation refuses the same OU and Region in two groups ("Stack instance [...] is duplicated"): give each OU and Region pair once'));
    });

    test('a pair of a later group, among other OUs and Regions; the root too', () => {
      const { stackSet } = synth();
      stackSet.addStackInstances(ous(['r-abcd'], ['ap-southeast-2']));
      expect(() => stackSet.addStackInstances(ous([THIRD_OU, 'r-abcd'], ['eu-central-1', 'ap-southeast-2'])))
        .toThrow(new Error('[Org/ImdsEverywhere] target: r-abcd in ap-southeast-2 is already a target of stack instance group 2 (addStackInstances); CloudFormation refuses the same OU and Region in two groups ("Stack instance [...] is duplicated"): give each OU and Region pair once'));
    });

    test('the same OU in other Regions, or other OUs in the same Regions, are accepted; nothing is added when the check fails', () => {
      const { stack, stackSet } = synth();
      stackSet.addStackInstances(ous(OU_IDS, ['eu-central-1']));
      stackSet.addStackInstances(ous([OTHER_OU], REGIONS));
      expect(() => stackSet.addStackInstances(ous(OU_IDS, ['eu-central-1']))).toThrow(/is already a target of stack instance group 2/);
      expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup).toHaveLength(3);
    });

    test('lists that are tokens are not compared', () => {
      const { stack, stackSet } = synth();
      stackSet.addStackInstances(ous(Token.asList({ Ref: 'Ous' }), REGIONS));
      stackSet.addStackInstances(ous(OU_IDS, Token.asList({ Ref: 'Regions' })));
      stackSet.addStackInstances(ous([Token.asString({ Ref: 'Ou' })], REGIONS));
      expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup).toHaveLength(4);
    });
  });

  describe('one set of parameters per OU once any group has an account filter', () => {
    const QUOTE = 'CloudFormation then refuses the operation ("An OrganizationalUnitIds cannot be associated with more than one Parameters set")';

    const TAIL = 'even for equal overrides or other Regions. Leave the account filters out, or give the other values a StackSet of their own (addVariant)';

    test('overrides for an OU in another Region, then an account filter in a later group: the error names the three groups', () => {
      const { stack, stackSet } = synth();
      // No account filter yet: CloudFormation takes it.
      stackSet.addStackInstances(ous(OU_IDS, ['eu-central-1']), { httpTokens: ImdsHttpTokens.OPTIONAL });
      expect(() => stackSet.addStackInstances(ImdsStackSetTarget.fromAccounts({ accountIds: ['111111111111'], organizationalUnitIds: [OTHER_OU], regions: REGIONS })))
        .toThrow(new Error(`[Org/ImdsEverywhere] target: ou-abcd-12345678 is in stack instance group 1 (the target) with no overrides and in stack instance group 2 (addStackInstances) with httpTokens: optional, and stack instance group 3 (addStackInstances) has an account filter (INTERSECTION): ${QUOTE}, ${TAIL}`));
      expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup).toHaveLength(2);
    });

    test('an account filter first, then the OU with overrides: none and some, two different sets, or two equal sets (the provider compares them by identity)', () => {
      const filtered = synth({ ...PROPS, target: ous(OU_IDS, REGIONS, { excludeAccountIds: ['111111111111'] }) });
      expect(() => filtered.stackSet.addStackInstances(ous(OU_IDS, ['eu-central-1']), { httpPutResponseHopLimit: 1 }))
        .toThrow(new Error(`[Org/ImdsEverywhere] target: ou-abcd-12345678 is in stack instance group 1 (the target) with no overrides and in stack instance group 2 (addStackInstances) with httpPutResponseHopLimit: 1, and stack instance group 1 (the target) has an account filter (DIFFERENCE): ${QUOTE}, ${TAIL}`));

      const { stackSet } = synth({ ...PROPS, target: ous([OTHER_OU], REGIONS, { excludeAccountIds: ['111111111111'] }) });
      stackSet.addStackInstances(ous(OU_IDS, ['eu-central-1']), { httpTokens: ImdsHttpTokens.OPTIONAL, httpPutResponseHopLimit: 1 });
      expect(() => stackSet.addStackInstances(ous(OU_IDS, ['ap-southeast-2']), { httpTokens: ImdsHttpTokens.OPTIONAL, httpPutResponseHopLimit: 3 }))
        .toThrow(new Error(`[Org/ImdsEverywhere] target: ou-abcd-12345678 is in stack instance group 2 (addStackInstances) with httpTokens: optional, httpPutResponseHopLimit: 1 and in stack instance group 3 (addStackInstances) with httpTokens: optional, httpPutResponseHopLimit: 3, and stack instance group 1 (the target) has an account filter (DIFFERENCE): ${QUOTE}, ${TAIL}`));
      expect(() => stackSet.addStackInstances(ous(OU_IDS, ['ap-southeast-2']), { httpTokens: ImdsHttpTokens.OPTIONAL, httpPutResponseHopLimit: 1 }))
        .toThrow(new Error(`[Org/ImdsEverywhere] target: ou-abcd-12345678 is in stack instance group 2 (addStackInstances) with httpTokens: optional, httpPutResponseHopLimit: 1 and in stack instance group 3 (addStackInstances) with httpTokens: optional, httpPutResponseHopLimit: 1, and stack instance group 1 (the target) has an account filter (DIFFERENCE): ${QUOTE}, ${TAIL}`));
    });

    test('an OU in several groups without overrides, with an account filter; or overrides without any account filter: accepted', () => {
      const { stack, stackSet } = synth({ ...PROPS, target: ous(OU_IDS, ['us-east-1'], { excludeAccountIds: ['111111111111'] }) });
      stackSet.addStackInstances(ous(OU_IDS, ['eu-west-1']));
      stackSet.addStackInstances(ous([OTHER_OU], ['us-east-1']), { httpTokens: ImdsHttpTokens.OPTIONAL });
      expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup).toHaveLength(3);

      const unfiltered = synth();
      unfiltered.stackSet.addStackInstances(ous(OU_IDS, ['eu-central-1']), { httpTokens: ImdsHttpTokens.OPTIONAL });
      unfiltered.stackSet.addStackInstances(ous(OU_IDS, ['ap-southeast-2']), { httpPutResponseHopLimit: 1 });
      expect(stackSetProperties(unfiltered.template).StackInstancesGroup).toHaveLength(3);
    });
  });

  describe('the root and an OU with other values, in a shared Region: a warning', () => {
    const ROOT_TARGET = ous(['r-abcd'], REGIONS);
    const ID = 'cdk-imds-account-defaults:rootOverlapsOverrides';

    test('the root first, then an OU with overrides', () => {
      const { stack, stackSet } = synth({ ...PROPS, target: ROOT_TARGET });
      stackSet.addStackInstances(ous([OTHER_OU], ['eu-central-1', 'eu-west-1']), { httpPutResponseHopLimit: 1 });
      expect(warningsOf(stack)).toEqual([
        `/Org/ImdsEverywhere: stack instance group 1 (the target) targets the root r-abcd with no overrides, and stack instance group 2 (addStackInstances) targets ou-abcd-87654321 with httpPutResponseHopLimit: 1, both in eu-west-1: the root holds the accounts of ou-abcd-87654321 too, and CloudFormation creates the groups in no defined order, so which values those accounts get is undefined. Give each set of values a StackSet of its own (addVariant), each over OUs that do not overlap. [ack: ${ID}]`,
      ]);
    });

    test('an OU first, then the root with overrides', () => {
      const { stack, stackSet } = synth();
      stackSet.addStackInstances(ous(['r-abcd'], ['us-east-1']), { httpPutResponseHopLimit: 1 });
      expect(warningsOf(stack)).toEqual([
        `/Org/ImdsEverywhere: stack instance group 2 (addStackInstances) targets the root r-abcd with httpPutResponseHopLimit: 1, and stack instance group 1 (the target) targets ou-abcd-12345678 with no overrides, both in us-east-1: the root holds the accounts of ou-abcd-12345678 too, and CloudFormation creates the groups in no defined order, so which values those accounts get is undefined. Give each set of values a StackSet of its own (addVariant), each over OUs that do not overlap. [ack: ${ID}]`,
      ]);
    });

    test('no warning: the same values, no shared Region, no OU besides the root, or no root', () => {
      const same = synth({ ...PROPS, target: ROOT_TARGET });
      same.stackSet.addStackInstances(ous([OTHER_OU], ['eu-central-1']), { httpPutResponseHopLimit: 1 });
      same.stackSet.addStackInstances(ous([THIRD_OU], REGIONS));
      same.stackSet.addStackInstances(ous(['r-abcd'], ['ap-southeast-2']), { httpPutResponseHopLimit: 1 });
      expect(warningsOf(same.stack)).toEqual([]);

      // Only roots (two different ones: synth does not know the organization's).
      const roots = synth({ ...PROPS, target: ROOT_TARGET });
      roots.stackSet.addStackInstances(ous(['r-wxyz'], REGIONS), { httpPutResponseHopLimit: 1 });
      expect(warningsOf(roots.stack)).toEqual([]);

      const noRoot = synth();
      noRoot.stackSet.addStackInstances(ous([OTHER_OU], REGIONS), { httpPutResponseHopLimit: 1 });
      expect(warningsOf(noRoot.stack)).toEqual([]);
    });
  });

  describe('the management account among the targets: a warning', () => {
    const ID = 'cdk-imds-account-defaults:managementAccountTargeted';
    const MANAGEMENT = '111111111111';
    function inManagementAccount(props: Partial<ImdsAccountDefaultsStackSetProps>, env: { account?: string } = { account: MANAGEMENT }) {
      const stack = new Stack(new App(), 'Org', { env });
      new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { ...PROPS, ...props });
      return stack;
    }

    test('in accountIds (fromAccounts), with callAs SELF: the stack\'s own account', () => {
      expect(warningsOf(inManagementAccount({
        target: ImdsStackSetTarget.fromAccounts({ accountIds: ['222222222222', MANAGEMENT], organizationalUnitIds: ['r-abcd'], regions: REGIONS }),
      }))).toEqual([
        `/Org/ImdsEverywhere: target.accountIds lists 111111111111, this stack's account: with callAs SELF it is the organization's management account, which StackSets never deploy to, so it gets no stack instance. Give it the same settings with addManagementAccount. [ack: ${ID}]`,
      ]);
    });

    test('also in a later group', () => {
      const stack = new Stack(new App(), 'Org', { env: { account: MANAGEMENT } });
      const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', PROPS);
      expect(warningsOf(stack)).toEqual([]);
      stackSet.addStackInstances(ImdsStackSetTarget.fromAccounts({ accountIds: [MANAGEMENT], organizationalUnitIds: [OTHER_OU], regions: REGIONS }));
      expect(warningsOf(stack)).toEqual([expect.stringContaining('target.accountIds lists 111111111111, this stack\'s account')]);
    });

    test('no warning: excluded, another account, a delegated administrator, or an account not known at synth', () => {
      const target = ImdsStackSetTarget.fromAccounts({ accountIds: [MANAGEMENT], organizationalUnitIds: OU_IDS, regions: REGIONS });
      expect(warningsOf(inManagementAccount({ target: ous(OU_IDS, REGIONS, { excludeAccountIds: [MANAGEMENT] }) }))).toEqual([]);
      expect(warningsOf(inManagementAccount({ target: ImdsStackSetTarget.fromAccounts({ accountIds: ['222222222222'], organizationalUnitIds: OU_IDS, regions: REGIONS }) }))).toEqual([]);
      expect(warningsOf(inManagementAccount({ target, callAs: StackSetCallAs.DELEGATED_ADMIN }))).toEqual([]);
      expect(warningsOf(inManagementAccount({ target }, {}))).toEqual([]);
    });
  });
});

describe('addVariant: another StackSet of the same definition', () => {
  const PILOT_OU = 'ou-abcd-pilot001';
  const PILOT = ous([PILOT_OU], REGIONS);
  const FULL: ImdsAccountDefaultsStackSetProps = {
    ...PROPS,
    driftGuard: DriftGuardMode.REAPPLY,
    logRetention: logs.RetentionDays.ONE_MONTH,
    memberRemovalPolicy: RemovalPolicy.DESTROY,
    settingsOnDelete: SettingsOnDelete.RESTORE,
    removalPolicy: RemovalPolicy.RETAIN,
    callAs: StackSetCallAs.DELEGATED_ADMIN,
    autoDeployment: true,
    retainStacksOnAccountRemoval: false,
    canaryRegions: ['eu-west-1'],
    maxConcurrentCount: 2,
    failureToleranceCount: 1,
    managedExecution: false,
    description: 'IMDSv2 everywhere',
    stackSetName: 'imds-defaults',
    instanceUpgrade: { mode: InstanceUpgradeMode.REPORT_ONLY },
  };
  /** The StackSet resource of `stackSet` (synthesizes its stack: add every StackSet first). */
  const stackSetOf = (stackSet: ImdsAccountDefaultsStackSet) =>
    Object.values<any>(Template.fromStack(Stack.of(stackSet)).toJSON().Resources).find((r) => r.Properties.StackSetName === stackSet.stackSetName);

  describe('a variant\'s canary Regions', () => {
    const orderOfSet = (stackSet: ImdsAccountDefaultsStackSet) => stackSetOf(stackSet).Properties.OperationPreferences.RegionOrder;

    test('by default, the original\'s canary Regions that the variant targets, in their order', () => {
      const { app, stackSet } = synth({ ...PROPS, canaryRegions: ['eu-west-1', 'us-east-1'] });
      const variant = stackSet.addVariant('Pilot', { target: ous([PILOT_OU], ['ap-southeast-2', 'us-east-1']) });
      expect(orderOfSet(variant)).toEqual(['us-east-1', 'ap-southeast-2']);
      expect(orderOfSet(stackSet)).toEqual(['eu-west-1', 'us-east-1']);
      expect(() => app.synth()).not.toThrow();
    });

    test('by default, none when the variant targets none of them: it synthesizes', () => {
      const { app, stackSet } = synth({ ...PROPS, canaryRegions: ['eu-west-1'] });
      const variant = stackSet.addVariant('Pilot', { target: ous([PILOT_OU], ['ap-southeast-2', 'eu-central-1']) });
      expect(orderOfSet(variant)).toEqual(['ap-southeast-2', 'eu-central-1']);
      expect(() => app.synth()).not.toThrow();
    });

    test('given, they are the variant\'s own, checked as the StackSet\'s are', () => {
      const { app, stackSet } = synth({ ...PROPS, canaryRegions: ['eu-west-1'] });
      const variant = stackSet.addVariant('Pilot', { target: ous([PILOT_OU], ['ap-southeast-2', 'eu-central-1']), canaryRegions: ['eu-central-1'] });
      expect(orderOfSet(variant)).toEqual(['eu-central-1', 'ap-southeast-2']);
      expect(() => app.synth()).not.toThrow();
      const { app: app2, stackSet: original } = synth(PROPS);
      original.addVariant('Pilot', { target: ous([PILOT_OU], ['ap-southeast-2']), canaryRegions: ['eu-central-1'] });
      expect(() => app2.synth()).toThrow(/\[Org\/Pilot\] canaryRegions lists "eu-central-1", which no stack instance group targets/);
    });
  });

  test('a sibling in the same scope, with every prop of the original but its target, name and groups', () => {
    const { stackSet } = synth(FULL);
    stackSet.addStackInstances(ous([OTHER_OU], REGIONS));
    const variant = stackSet.addVariant('Pilot', { target: PILOT });
    expect(variant).toBeInstanceOf(ImdsAccountDefaultsStackSet);
    expect(variant.node.path).toBe('Org/Pilot');
    expect(variant.node.scope).toBe(stackSet.node.scope);
    expect((variant as any).memberProps).toEqual((stackSet as any).memberProps);
    expect(variant.templateBody).toBe(stackSet.templateBody);

    const original = stackSetOf(stackSet);
    const copy = stackSetOf(variant);
    expect(copy.Properties.StackSetName).toMatch(/^OrgPilot[0-9A-F]{8}$/);
    expect(copy.Properties.StackInstancesGroup).toEqual([{ DeploymentTargets: { OrganizationalUnitIds: [PILOT_OU] }, Regions: REGIONS }]);
    const { StackSetName: _n1, StackInstancesGroup: _g1, ...originalRest } = original.Properties;
    const { StackSetName: _n2, StackInstancesGroup: _g2, ...copyRest } = copy.Properties;
    expect(copyRest).toEqual(originalRest);
    expect(copyRest).toMatchObject({
      Description: 'IMDSv2 everywhere',
      CallAs: 'DELEGATED_ADMIN',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      ManagedExecution: { Active: false },
      OperationPreferences: { RegionOrder: ['eu-west-1', 'us-east-1'], MaxConcurrentCount: 2, FailureToleranceCount: 1 },
    });
    expect(copy).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('settingValues replace the original\'s values for the settings given; the others are the original\'s', () => {
    const { stackSet } = synth();
    const variant = stackSet.addVariant('Legacy', {
      target: ous([OTHER_OU], REGIONS),
      settingValues: { httpTokens: ImdsHttpTokens.OPTIONAL, httpTokensEnforced: undefined },
    });
    expect(stackSetOf(variant).Properties.Parameters).toEqual([
      { ParameterKey: 'HttpTokens', ParameterValue: 'optional' },
      { ParameterKey: 'HttpTokensEnforced', ParameterValue: 'enabled' },
      { ParameterKey: 'HttpPutResponseHopLimit', ParameterValue: '2' },
    ]);
    expect(JSON.parse(variant.templateBody).Parameters.HttpTokens.Default).toBe('optional');
    expect(stackSetOf(stackSet).Properties.Parameters[0]).toEqual({ ParameterKey: 'HttpTokens', ParameterValue: 'required' });
  });

  test('its values are checked as the StackSet\'s: a contradiction is warned about on the variant', () => {
    const { stack, stackSet } = synth();
    stackSet.addVariant('Legacy', { target: ous([OTHER_OU], REGIONS), settingValues: { httpTokens: ImdsHttpTokens.OPTIONAL } });
    expect(warningsOf(stack)).toEqual([expect.stringMatching(/^\/Org\/Legacy: httpTokensEnforced is ENABLED but httpTokens is OPTIONAL/)]);
  });

  test('its own name and description; the original\'s name is never carried over', () => {
    const { stackSet } = synth({ ...PROPS, stackSetName: 'imds-defaults' });
    const named = stackSet.addVariant('Pilot', { target: PILOT, stackSetName: 'imds-defaults-pilot', description: 'Pilot OU' });
    const unnamed = stackSet.addVariant('Legacy', { target: ous([OTHER_OU], REGIONS) });
    expect(stackSetOf(named).Properties).toMatchObject({ StackSetName: 'imds-defaults-pilot', Description: 'Pilot OU' });
    expect(unnamed.stackSetName).toMatch(/^OrgLegacy[0-9A-F]{8}$/);
    expect(stackSetOf(unnamed).Properties.Description).toBe('EC2 account-level instance metadata defaults (cdk-imds-account-defaults)');
  });

  test('a variant\'s own groups; a variant of a variant', () => {
    const { stackSet } = synth();
    const pilot = stackSet.addVariant('Pilot', { target: PILOT });
    pilot.addStackInstances(ous([THIRD_OU], ['eu-west-1']), { httpTokens: ImdsHttpTokens.OPTIONAL });
    const legacy = pilot.addVariant('Legacy', { target: ous([OTHER_OU], REGIONS) });
    expect(legacy.node.path).toBe('Org/Legacy');
    expect(stackSetOf(pilot).Properties.StackInstancesGroup).toHaveLength(2);
    expect(stackSetOf(legacy).Properties.StackInstancesGroup).toHaveLength(1);
    expect(stackSetOf(stackSet).Properties.StackInstancesGroup).toHaveLength(1);
  });

  describe('errors', () => {
    test('settingValues for a setting the StackSet does not manage, empty, or invalid: naming the original and settingValues', () => {
      const { stack, stackSet } = synth();
      expect(() => stackSet.addVariant('Pilot', { target: PILOT, settingValues: { httpEndpoint: ImdsHttpEndpoint.DISABLED } }))
        .toThrow(new Error('[Org/ImdsEverywhere] settingValues.httpEndpoint overrides a setting the StackSet does not manage; only httpTokens, httpTokensEnforced, httpPutResponseHopLimit can be overridden (give httpEndpoint to the StackSet to make it a parameter of its template)'));
      expect(() => stackSet.addVariant('Pilot', { target: PILOT, settingValues: {} }))
        .toThrow(new Error('[Org/ImdsEverywhere] settingValues is empty; give at least one setting, or leave settingValues out to use the StackSet\'s values'));
      expect(() => stackSet.addVariant('Pilot', { target: PILOT, settingValues: { httpPutResponseHopLimit: 0 } }))
        .toThrow(new Error('[Org/ImdsEverywhere] settingValues: httpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got 0'));
      expect(() => stackSet.addVariant('Pilot', { target: PILOT, settingValues: { httpTokens: Token.asString({ Ref: 'T' }) as ImdsHttpTokens } }))
        .toThrow(/^\[Org\/ImdsEverywhere\] settingValues\.httpTokens is a token .*; give the value itself$/);
      // Nothing was created.
      expect(stack.node.tryFindChild('Pilot')).toBeUndefined();
    });

    test('a target that is not one: the error names the variant', () => {
      const { stackSet } = synth();
      expect(() => stackSet.addVariant('Pilot', {} as any)).toThrow(/^\[Org\/Pilot\] target must be an ImdsStackSetTarget: .*; got nothing$/);
      expect(() => stackSet.addVariant('NoOptions', undefined as any)).toThrow(/^\[Org\/NoOptions\] target must be an ImdsStackSetTarget: .*; got nothing$/);
      expect(() => stackSet.addVariant('Other', { target: ous([], REGIONS) })).toThrow(/^\[Org\/Other\] target\.organizationalUnitIds is empty/);
    });

    test('an OU of the original', () => {
      const { stackSet } = synth();
      expect(() => stackSet.addVariant('Pilot', { target: ous([PILOT_OU, 'ou-abcd-12345678'], ['ap-southeast-2']) }))
        .toThrow(new Error('[Org/Pilot] target: ou-abcd-12345678 is also a target of Org/ImdsEverywhere, a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give each OU to one of them'));
    });

    test('an OU of another variant, or of the original\'s later groups; the groups of a StackSet whose variant failed stay checked', () => {
      const { stackSet } = synth();
      stackSet.addStackInstances(ous([THIRD_OU], REGIONS));
      const pilot = stackSet.addVariant('Pilot', { target: PILOT });
      expect(() => stackSet.addVariant('Legacy', { target: ous([THIRD_OU], REGIONS) }))
        .toThrow(new Error('[Org/Legacy] target: ou-abcd-11111111 is also a target of Org/ImdsEverywhere, a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give each OU to one of them'));
      expect(() => pilot.addVariant('Legacy2', { target: ous([PILOT_OU], REGIONS) }))
        .toThrow(new Error('[Org/Legacy2] target: ou-abcd-pilot001 is also a target of Org/Pilot, a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give each OU to one of them'));
      expect(() => stackSet.addStackInstances(ous([PILOT_OU], ['eu-central-1'])))
        .toThrow(new Error('[Org/ImdsEverywhere] target: ou-abcd-pilot001 is also a target of Org/Pilot, a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give each OU to one of them'));
      // The failed variants did not join: their OUs are free.
      expect(() => pilot.addStackInstances(ous([OTHER_OU], REGIONS))).not.toThrow();
    });

    test('the root in the original, or in a variant', () => {
      const rooted = synth({ ...PROPS, target: ous(['r-abcd'], REGIONS) });
      expect(() => rooted.stackSet.addVariant('Pilot', { target: PILOT }))
        .toThrow(new Error('[Org/Pilot] target: Org/ImdsEverywhere targets the root r-abcd, which holds every account, and this StackSet is a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give the StackSets of one definition OUs that do not overlap, not the root'));

      const { stackSet } = synth();
      expect(() => stackSet.addVariant('Everyone', { target: ous(['r-abcd'], REGIONS, { excludeAccountIds: ['111111111111'] }) }))
        .toThrow(new Error('[Org/Everyone] target: this StackSet targets the root r-abcd, which holds every account, and Org/ImdsEverywhere is a StackSet of the same definition (addVariant): two StackSets would deploy two ImdsAccountDefaults to the same accounts. Give the StackSets of one definition OUs that do not overlap, not the root'));
      const pilot = stackSet.addVariant('Pilot', { target: PILOT });
      expect(() => pilot.addStackInstances(ous(['r-abcd'], ['eu-central-1']))).toThrow(/^\[Org\/Pilot\] target: this StackSet targets the root r-abcd/);
    });

    test('OU lists that are tokens are not compared; StackSets of other definitions are not either', () => {
      const { stackSet } = synth();
      expect(() => stackSet.addVariant('Pilot', { target: ous(Token.asList({ Ref: 'Ous' }), REGIONS) })).not.toThrow();
      expect(() => new ImdsAccountDefaultsStackSet(Stack.of(stackSet), 'Separate', PROPS)).not.toThrow();
    });
  });
});

describe('readinessReport: the dry run in every stack instance', () => {
  const REPORT_ONLY: ImdsAccountDefaultsStackSetProps = { target: TARGET, readinessReport: {} };
  const OUTPUT_IDS = [
    'ReadinessResult', 'LaunchTemplatesAllowingImdsv1', 'LaunchConfigurationsAllowingImdsv1', 'AutoScalingGroupsAllowingImdsv1',
    'InstancesAllowingImdsv1', 'CurrentHttpTokens', 'CurrentHttpTokensEnforced', 'ManagedBy',
  ];

  test('alone: members get the report (read-only, its own type, its own code) and no ImdsAccountDefaults, no parameters', () => {
    const { template } = synth(REPORT_ONLY);
    const body = embedded(template);
    expect(resourcesOf(body, 'Custom::ImdsAccountDefaults')).toEqual([]);
    expect(resourcesOf(body, 'Custom::ImdsReadinessReport')).toHaveLength(1);
    expect(body.Parameters).toBeUndefined();
    expect(stackSetProperties(template).Parameters).toBeUndefined();
    expect(body.Description).toBe('IMDSv2 readiness and upgrade (cdk-imds-account-defaults)');
    const [fn] = resourcesOf(body, 'AWS::Lambda::Function');
    expect(fn.Properties.Environment).toBeUndefined();
    // Its own bundle, plain and readable: the template fits the plain-code budget.
    expect(fn.Properties.Code.ZipFile).toBe(fs.readFileSync(bundleFile('readiness-report', 'index.js'), 'utf8'));
    const actions = resourcesOf(body, 'AWS::IAM::Policy').flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    expect(actions.filter((a: string) => a.includes('Modify'))).toEqual([]);
    expect(resourcesOf(body, 'AWS::Events::Rule')[0].Properties.ScheduleExpression).toBe('rate(1 day)');
  });

  test('each member stack has the report\'s outputs', () => {
    const body = embedded(synth(REPORT_ONLY).template);
    expect(Object.keys(body.Outputs)).toEqual(OUTPUT_IDS);
    const reportId = Object.entries<any>(body.Resources).find(([, r]) => r.Type === 'Custom::ImdsReadinessReport')![0];
    expect(body.Outputs.ReadinessResult).toEqual({ Value: { 'Fn::GetAtt': [reportId, 'Result'] } });
    expect(body.Outputs.AutoScalingGroupsAllowingImdsv1).toEqual({ Value: { 'Fn::GetAtt': [reportId, 'AutoScalingGroupsAllowingImdsv1Count'] } });
    expect(body.Outputs.ManagedBy).toEqual({ Value: { 'Fn::GetAtt': [reportId, 'ManagedBy'] } });
  });

  test('the report options, and the StackSet\'s log retention, role path and boundary', () => {
    const body = embedded(synth({
      ...REPORT_ONLY,
      readinessReport: { interval: Duration.hours(12), refreshKey: 'review-1' },
      logRetention: logs.RetentionDays.ONE_WEEK,
      rolePath: '/imds/',
      permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName('Boundary'),
    }).template);
    expect(resourcesOf(body, 'AWS::Events::Rule')[0].Properties.ScheduleExpression).toBe('rate(12 hours)');
    expect(resourcesOf(body, 'Custom::ImdsReadinessReport')[0].Properties.RefreshKey).toBe('review-1');
    expect(resourcesOf(body, 'AWS::Logs::LogGroup')[0].Properties.RetentionInDays).toBe(7);
    expect(resourcesOf(body, 'AWS::IAM::Role')[0].Properties).toMatchObject({ Path: '/imds/', PermissionsBoundary: expect.anything() });
  });

  test('with the instance upgrade, and no setting', () => {
    const body = embedded(synth({ ...REPORT_ONLY, instanceUpgrade: {} }).template);
    expect(resourcesOf(body, 'Custom::ImdsReadinessReport')).toHaveLength(1);
    expect(resourcesOf(body, 'Custom::ImdsInstanceUpgrade')).toHaveLength(1);
    expect(resourcesOf(body, 'Custom::ImdsAccountDefaults')).toEqual([]);
  });

  test('the instance upgrade alone, no setting: no longer an error', () => {
    const body = embedded(synth({ target: TARGET, instanceUpgrade: {} }).template);
    expect(resourcesOf(body, 'Custom::ImdsInstanceUpgrade')).toHaveLength(1);
    expect(resourcesOf(body, 'Custom::ImdsAccountDefaults')).toEqual([]);
    expect(body.Outputs).toBeUndefined();
  });

  test('with settings: both in every member, the settings a parameter, the outputs', () => {
    const { template } = synth({ ...PROPS, readinessReport: {} });
    const body = embedded(template);
    expect(resourcesOf(body, 'Custom::ImdsAccountDefaults')).toHaveLength(1);
    expect(resourcesOf(body, 'Custom::ImdsReadinessReport')).toHaveLength(1);
    expect(Object.keys(body.Parameters)).toEqual(SETTING_KEYS);
    expect(Object.keys(body.Outputs)).toEqual(OUTPUT_IDS);
    expect(Buffer.byteLength(stackSetProperties(template).TemplateBody)).toBeLessThanOrEqual(51_200);
  });

  test('with settings and the instance upgrade: refused (three functions\' code), the two-StackSet way named', () => {
    expect(() => synth({ ...PROPS, readinessReport: {}, instanceUpgrade: {} })).toThrow(/^\[Org\/ImdsEverywhere\] readinessReport cannot be combined with both settings and instanceUpgrade in one StackSet: each member would carry three functions' code inline, over the 51,200-byte TemplateBody limit\. Roll out the dry run as a StackSet of its own/);
  });

  test.each([
    ['driftGuard', { driftGuard: DriftGuardMode.REAPPLY }, /^\[Org\/ImdsEverywhere\] driftGuard applies only to the settings, and this StackSet manages none \(its members get only the readiness report\); give a setting, or leave it out$/],
    ['readinessCheck', { readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT }, /readinessCheck applies only to the settings/],
    ['settingsOnDelete and skipIfManagedByDeclarativePolicy', { settingsOnDelete: SettingsOnDelete.RESTORE, skipIfManagedByDeclarativePolicy: false }, /settingsOnDelete, skipIfManagedByDeclarativePolicy apply only to the settings.*leave them out$/],
  ])('without settings, %s is refused', (_name, extra, message) => {
    expect(() => synth({ ...REPORT_ONLY, ...extra } as ImdsAccountDefaultsStackSetProps)).toThrow(message);
  });

  test('without settings, with the upgrade only: the message names it', () => {
    expect(() => synth({ target: TARGET, instanceUpgrade: {}, driftCheckInterval: Duration.hours(2) })).toThrow(/driftCheckInterval applies only to the settings, and this StackSet manages none \(its members get only the instance upgrade\)/);
  });

  test('without settings, addStackInstances with overrides is refused', () => {
    const { stackSet } = synth(REPORT_ONLY);
    expect(() => stackSet.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-87654321'], regions: ['eu-west-1'] }), { httpTokens: ImdsHttpTokens.REQUIRED }))
      .toThrow(/^\[Org\/ImdsEverywhere\] settingOverrides: this StackSet manages no setting \(it rolls out only the readiness report or the instance upgrade\), so its members have no ImdsAccountDefaults and nothing to override; leave settingOverrides out/);
  });

  test('without settings, addStackInstances without overrides works', () => {
    const synthesized = synth(REPORT_ONLY);
    synthesized.stackSet.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-87654321'], regions: ['eu-west-1'] }));
    expect(stackSetProperties(synthesized.template).StackInstancesGroup).toHaveLength(2);
  });

  test('without settings, a variant with settingValues is refused', () => {
    const { stackSet } = synth(REPORT_ONLY);
    expect(() => stackSet.addVariant('Other', {
      target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-87654321'], regions: ['eu-west-1'] }),
      settingValues: { httpTokens: ImdsHttpTokens.REQUIRED },
    })).toThrow(/settingValues: this StackSet manages no setting/);
  });

  test('readinessReport.interval under an hour, or a token', () => {
    expect(() => synth({ ...REPORT_ONLY, readinessReport: { interval: Duration.minutes(10) } })).toThrow(/^\[Org\/ImdsEverywhere\] readinessReport\.interval must be a whole number of minutes, at least 1 hour/);
    expect(() => synth({ ...REPORT_ONLY, readinessReport: { interval: Duration.hours(Token.asNumber({ Ref: 'H' })) } })).toThrow(/^\[Org\/ImdsEverywhere\] readinessReport\.interval is a token/);
    expect(() => synth({ ...REPORT_ONLY, readinessReport: { interval: Duration.hours(2), scheduledRuns: false } })).toThrow(/readinessReport\.interval applies only to scheduled runs/);
  });

  test('addManagementAccount: the report, and no ImdsAccountDefaults', () => {
    const { stackSet } = synth({ ...REPORT_ONLY, instanceUpgrade: {}, rolePath: '/imds/' });
    const app = new App();
    const management = new Stack(app, 'Management');
    const resources = stackSet.addManagementAccount(management);
    expect(resources.accountDefaults).toBeUndefined();
    expect(resources.instanceUpgrade!.node.path).toBe('Management/ImdsInstanceUpgrade');
    expect(resources.readinessReport!.node.path).toBe('Management/ImdsReadinessReport');
    const template = Template.fromStack(management);
    template.resourceCountIs('Custom::ImdsReadinessReport', 1);
    template.resourceCountIs('Custom::ImdsAccountDefaults', 0);
    template.hasResourceProperties('AWS::IAM::Role', { Path: '/imds/' });
  });

  test('addManagementAccount with settings: no report', () => {
    const { stackSet } = synth();
    const management = new Stack(new App(), 'Management');
    expect(stackSet.addManagementAccount(management).readinessReport).toBeUndefined();
  });

  test('metricForMember: the report\'s metrics, with its interval, for the member', () => {
    const { stackSet } = synth({ ...REPORT_ONLY, readinessReport: { interval: Duration.hours(6) } });
    const metric = stackSet.metricForMember(ImdsMetrics.READINESS_WOULD_STOP_LAUNCHES, '111111111111', 'eu-west-1');
    expect(metric).toMatchObject({ metricName: 'ReadinessWouldStopLaunches', statistic: 'Maximum', account: '111111111111', region: 'eu-west-1' });
    expect(metric.period.toSeconds()).toBe(6 * 3600);
    expect(synth(REPORT_ONLY).stackSet.metricForMember(ImdsMetrics.READINESS_INCOMPLETE, '111111111111', 'eu-west-1').period.toSeconds()).toBe(86400);
  });

  test('metricForMember: a report metric without the report is refused', () => {
    expect(() => synth().stackSet.metricForMember(ImdsMetrics.READINESS_INCOMPLETE, '111111111111', 'eu-west-1'))
      .toThrow(/^\[Org\/ImdsEverywhere\] metricForMember: ReadinessIncomplete is published only by ImdsReadinessReport, which this StackSet does not roll out: set readinessReport to publish it$/);
  });

  test('the template is deterministic', () => {
    expect(synth(REPORT_ONLY).stackSet.templateBody).toBe(synth(REPORT_ONLY).stackSet.templateBody);
  });
});
