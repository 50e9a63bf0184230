import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack, Tags, Token, aws_iam as iam, aws_logs as logs } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import {
  DriftGuard,
  HttpEndpoint,
  HttpTokens,
  HttpTokensEnforced,
  ImdsAccountDefaults,
  ImdsAccountDefaultsStackSet,
  ImdsAccountDefaultsStackSetProps,
  ImdsInstanceUpgrade,
  InstanceMetadataTags,
  InstanceUpgradeMode,
  SettingsOnDelete,
  StackSetAccountFilter,
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

const TARGETS = { organizationalUnitIds: ['ou-abcd-12345678'], regions: ['us-east-1', 'eu-west-1'] };
const SETTINGS = { httpTokens: HttpTokens.REQUIRED, httpTokensEnforced: HttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 2 };
const PROPS: ImdsAccountDefaultsStackSetProps = { ...SETTINGS, ...TARGETS };

function synth(props: ImdsAccountDefaultsStackSetProps = PROPS) {
  const app = new App();
  const stack = new Stack(app, 'Org');
  const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', props);
  // Synthesized on first use, so that tests can add stack instances first.
  return { app, stack, stackSet, get template() { return Template.fromStack(stack); } };
}

/** The StackSet resource's properties. */
function stackSetProperties(template: Template): Record<string, any> {
  return Object.values(template.findResources('AWS::CloudFormation::StackSet'))[0].Properties;
}

/** The embedded template, parsed. */
function embedded(template: Template): Record<string, any> {
  return JSON.parse(stackSetProperties(template).TemplateBody);
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

/** The template with each function's definition replaced by `replace(fn)`. */
function withCode(template: Record<string, any>, replace: (fn: Record<string, any>) => Record<string, any>): Record<string, any> {
  const copy = JSON.parse(JSON.stringify(template));
  for (const [id, resource] of Object.entries<any>(copy.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') {
      copy.Resources[id] = replace(resource);
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
    expect(properties.Parameters).toBeUndefined();
  });

  test('operation preferences: Regions in parallel, 25 % of accounts at a time, 10 % may fail', () => {
    expect(properties.OperationPreferences).toEqual({
      RegionConcurrencyType: 'PARALLEL',
      MaxConcurrentPercentage: 25,
      FailureTolerancePercentage: 10,
      ConcurrencyMode: 'SOFT_FAILURE_TOLERANCE',
    });
  });

  test('one stack instance group: the OUs in the Regions', () => {
    expect(properties.StackInstancesGroup).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: ['ou-abcd-12345678'] }, Regions: ['us-east-1', 'eu-west-1'] },
    ]);
  });

  test('a deterministic name derived from the construct path', () => {
    expect(properties.StackSetName).toMatch(/^OrgImdsEverywhere[0-9A-F]{8}$/);
    expect(stackSet.stackSetName).toBe(properties.StackSetName);
    expect(synth().stackSet.stackSetName).toBe(stackSet.stackSetName);
  });

  test('exposes the StackSet id and the embedded template', () => {
    const stack = Stack.of(stackSet);
    expect(stack.resolve(stackSet.stackSetId)).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(stackSet.resource), 'StackSetId'] });
    expect(stackSet.templateBody).toBe(properties.TemplateBody);
  });

  test('snapshot', () => {
    expect(forSnapshot(template)).toMatchSnapshot();
  });
});

describe('the embedded template', () => {
  const { template } = synth();
  const body = embedded(template);

  test('is self-contained: no bootstrap version parameter or rule, no assets, no CDK metadata', () => {
    expect(body.Parameters?.BootstrapVersion).toBeUndefined();
    expect(body.Parameters).toBeUndefined();
    expect(body.Rules).toBeUndefined();
    expect(JSON.stringify(body)).not.toMatch(/cdk-bootstrap|AssetParameters|S3Bucket|S3Key|"Metadata":\{"aws:cdk:path"/);
    expect(Object.values<any>(body.Resources).map((r) => r.Type)).not.toContain('AWS::CDK::Metadata');
  });

  test('holds exactly one Lambda function, with the handler bundle inline: plain when the template fits the budget that way, else the compressed loader', () => {
    const functions = Object.values<any>(body.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
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

  test('holds the ImdsAccountDefaults custom resource with the settings', () => {
    const resources = Object.values<any>(body.Resources).filter((r) => r.Type === 'Custom::ImdsAccountDefaults');
    expect(resources).toHaveLength(1);
    expect(resources[0].Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^ImdsAccountDefaultsHandler/), 'Arn'] },
      HttpTokens: 'required',
      HttpTokensEnforced: 'enabled',
      HttpPutResponseHopLimit: 2,
      Ownership: 'claims-v2',
      ServiceTimeout: 120,
    });
    expect(resources[0].DeletionPolicy).toBe('Delete');
  });

  test('is the template ImdsAccountDefaults synthesizes in a stack of its own, resource for resource', () => {
    const app = new App();
    const stack = new Stack(app, 'PerAccount');
    new ImdsAccountDefaults(stack, 'ImdsAccountDefaults', SETTINGS);
    const perAccount = Template.fromStack(stack).toJSON();
    // The code (and so its Description) may be the compressed form of the same bundle.
    expect(withCode(body, (fn) => withPlainCode(fn, HANDLER_BUNDLE)).Resources).toEqual(perAccount.Resources);
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

  test('carries the other ImdsAccountDefaults props to every stack instance', () => {
    const { template: t } = synth({
      ...PROPS,
      removalPolicy: RemovalPolicy.RETAIN,
      skipIfManagedByDeclarativePolicy: true,
      logRetention: logs.RetentionDays.ONE_MONTH,
    });
    const inner = Template.fromJSON(embedded(t));
    inner.hasResource('Custom::ImdsAccountDefaults', {
      Properties: Match.objectLike({ SkipIfManagedByDeclarativePolicy: true, Retained: true }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    inner.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('carries settingsOnDelete to every stack instance, and refuses it with RETAIN, naming both props', () => {
    const inner = Template.fromJSON(embedded(synth({ ...PROPS, settingsOnDelete: SettingsOnDelete.RESTORE }).template));
    inner.hasResourceProperties('Custom::ImdsAccountDefaults', Match.objectLike({ OnDelete: 'RESTORE' }));
    expect(() => synth({ ...PROPS, settingsOnDelete: SettingsOnDelete.RESTORE, removalPolicy: RemovalPolicy.RETAIN }))
      .toThrow(/^\[Org\/ImdsEverywhere\] cannot synthesize the ImdsAccountDefaults template for the StackSet: .*settingsOnDelete applies only when CloudFormation may delete the resource; got settingsOnDelete SettingsOnDelete\.RESTORE with removalPolicy RemovalPolicy\.RETAIN/);
    expect(stackSetProperties(synth({ ...PROPS, settingsOnDelete: SettingsOnDelete.RESTORE }).template).AutoDeployment)
      .toEqual({ Enabled: true, RetainStacksOnAccountRemoval: true });
  });
});

describe('settings as StackSet parameters', () => {
  const { stackSet } = synth({ ...PROPS, settingsAsParameters: true });
  stackSet.addStackInstances({
    organizationalUnitIds: ['ou-abcd-legacy01'],
    regions: ['us-east-1'],
    settingOverrides: { httpTokens: HttpTokens.OPTIONAL, httpTokensEnforced: HttpTokensEnforced.DISABLED },
  });
  const template = Template.fromStack(Stack.of(stackSet));
  const properties = stackSetProperties(template);
  const body = embedded(template);

  test('each given setting is a template parameter whose default is the given value', () => {
    expect(body.Parameters).toEqual({
      HttpTokens: expect.objectContaining({ Type: 'String', Default: 'required', AllowedValues: ['optional', 'required', 'no-preference'] }),
      HttpTokensEnforced: expect.objectContaining({ Type: 'String', Default: 'enabled', AllowedValues: ['disabled', 'enabled', 'no-preference'] }),
      HttpPutResponseHopLimit: expect.objectContaining({ Type: 'String', Default: '2', AllowedPattern: '^(-1|[1-9]|[1-5][0-9]|6[0-4])$' }),
    });
    expect(body.Parameters.BootstrapVersion).toBeUndefined();
  });

  test('the hop limit pattern accepts exactly -1 and 1 to 64', () => {
    const pattern = new RegExp(body.Parameters.HttpPutResponseHopLimit.AllowedPattern);
    const accepted = ['-2', '-1', '0', '1', '01', '2', '9', '10', '59', '60', '64', '65', '100', '1.5', ' 2', ''].filter((v) => pattern.test(v));
    expect(accepted).toEqual(['-1', '1', '2', '9', '10', '59', '60', '64']);
  });

  test('the custom resource reads the parameters', () => {
    const resource = Object.values<any>(body.Resources).find((r) => r.Type === 'Custom::ImdsAccountDefaults');
    expect(resource.Properties).toEqual({
      ServiceToken: expect.anything(),
      HttpTokens: { Ref: 'HttpTokens' },
      HttpTokensEnforced: { Ref: 'HttpTokensEnforced' },
      HttpPutResponseHopLimit: { Ref: 'HttpPutResponseHopLimit' },
      Ownership: 'claims-v2',
      ServiceTimeout: 120,
    });
  });

  test('with the drift guard, the function holds EC2 to the same parameters (never to Parameter Store)', () => {
    const guarded = embedded(synth({ ...PROPS, settingsAsParameters: true, driftGuard: DriftGuard.REAPPLY }).template);
    const fn = Object.values<any>(guarded.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
    const resource = Object.values<any>(guarded.Resources).find((r) => r.Type === 'Custom::ImdsAccountDefaults');
    expect(fn.Properties.Environment.Variables).toMatchObject({
      IMDS_SETTING_HttpTokens: { Ref: 'HttpTokens' },
      IMDS_SETTING_HttpTokensEnforced: { Ref: 'HttpTokensEnforced' },
      IMDS_SETTING_HttpPutResponseHopLimit: { Ref: 'HttpPutResponseHopLimit' },
    });
    for (const key of ['HttpTokens', 'HttpTokensEnforced', 'HttpPutResponseHopLimit']) {
      expect(fn.Properties.Environment.Variables[`IMDS_SETTING_${key}`]).toEqual(resource.Properties[key]);
    }
  });

  test('the StackSet passes the values as its parameters', () => {
    expect(properties.Parameters).toEqual([
      { ParameterKey: 'HttpTokens', ParameterValue: 'required' },
      { ParameterKey: 'HttpTokensEnforced', ParameterValue: 'enabled' },
      { ParameterKey: 'HttpPutResponseHopLimit', ParameterValue: '2' },
    ]);
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

  test('snapshot', () => {
    expect(forSnapshot(template)).toMatchSnapshot();
  });

  test('an override that contradicts the other settings is warned about', () => {
    const { stack, stackSet: s } = synth({ ...PROPS, settingsAsParameters: true });
    s.addStackInstances({ ...TARGETS, organizationalUnitIds: ['ou-abcd-87654321'], settingOverrides: { httpTokens: HttpTokens.OPTIONAL } });
    Annotations.fromStack(stack).hasWarning('/Org/ImdsEverywhere', Match.stringLikeRegexp('httpTokensEnforced is ENABLED but httpTokens is OPTIONAL'));
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

  test('counts instead of percentages, strict failure tolerance', () => {
    const p = stackSetProperties(synth({
      ...PROPS,
      maxConcurrentCount: 5,
      failureToleranceCount: 0,
      concurrencyMode: StackSetConcurrencyMode.STRICT_FAILURE_TOLERANCE,
    }).template);
    expect(p.OperationPreferences).toEqual({
      RegionConcurrencyType: 'PARALLEL',
      MaxConcurrentCount: 5,
      FailureToleranceCount: 0,
      ConcurrencyMode: 'STRICT_FAILURE_TOLERANCE',
    });
  });

  test('sequential Regions follow the order given, across every stack instance group', () => {
    const { stack, stackSet } = synth({
      ...PROPS,
      regionConcurrency: StackSetRegionConcurrency.SEQUENTIAL,
      maxConcurrentPercentage: 100,
      failureTolerancePercentage: 0,
    });
    stackSet.addStackInstances({ organizationalUnitIds: ['ou-abcd-87654321'], regions: ['eu-west-1', 'ap-southeast-2'] });
    expect(stackSetProperties(Template.fromStack(stack)).OperationPreferences).toEqual({
      RegionConcurrencyType: 'SEQUENTIAL',
      RegionOrder: ['us-east-1', 'eu-west-1', 'ap-southeast-2'],
      MaxConcurrentPercentage: 100,
      FailureTolerancePercentage: 0,
      ConcurrencyMode: 'SOFT_FAILURE_TOLERANCE',
    });
  });

  test('accounts within OUs: intersection by default, or difference', () => {
    const { stack, stackSet } = synth({ ...PROPS, organizationalUnitIds: ['r-abcd'], accountIds: ['111111111111'] });
    stackSet.addStackInstances({ organizationalUnitIds: ['ou-abcd-12345678'], accountIds: ['222222222222'], accountFilter: StackSetAccountFilter.DIFFERENCE, regions: ['us-east-1'] });
    expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup.map((g: any) => g.DeploymentTargets)).toEqual([
      { OrganizationalUnitIds: ['r-abcd'], Accounts: ['111111111111'], AccountFilterType: 'INTERSECTION' },
      { OrganizationalUnitIds: ['ou-abcd-12345678'], Accounts: ['222222222222'], AccountFilterType: 'DIFFERENCE' },
    ]);
  });

  test('name and description', () => {
    const p = stackSetProperties(synth({ ...PROPS, stackSetName: 'imds-defaults', description: 'IMDSv2 everywhere' }).template);
    expect(p).toMatchObject({ StackSetName: 'imds-defaults', Description: 'IMDSv2 everywhere' });
  });

  test('every setting', () => {
    const body = embedded(synth({
      ...TARGETS,
      httpTokens: HttpTokens.NO_PREFERENCE,
      httpTokensEnforced: HttpTokensEnforced.NO_PREFERENCE,
      httpPutResponseHopLimit: -1,
      httpEndpoint: HttpEndpoint.ENABLED,
      instanceMetadataTags: InstanceMetadataTags.DISABLED,
    }).template);
    const resource = Object.values<any>(body.Resources).find((r) => r.Type === 'Custom::ImdsAccountDefaults');
    expect(resource.Properties).toMatchObject({
      HttpTokens: 'no-preference',
      HttpTokensEnforced: 'no-preference',
      HttpPutResponseHopLimit: -1,
      HttpEndpoint: 'enabled',
      InstanceMetadataTags: 'disabled',
    });
  });

  test('contradicting settings are warned about on the StackSet', () => {
    const { stack } = synth({ ...PROPS, httpTokens: HttpTokens.OPTIONAL });
    Annotations.fromStack(stack).hasWarning('/Org/ImdsEverywhere', Match.stringLikeRegexp('httpTokensEnforced is ENABLED but httpTokens is OPTIONAL'));
  });

  test('targets and Regions may be tokens', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    const ous = Token.asList({ Ref: 'Ous' });
    new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { ...SETTINGS, organizationalUnitIds: ous, regions: [stack.region] });
    expect(stackSetProperties(Template.fromStack(stack)).StackInstancesGroup).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: { Ref: 'Ous' } }, Regions: [{ Ref: 'AWS::Region' }] },
    ]);
  });
});

describe('the management account', () => {
  test('addAccountDefaults gives it an ImdsAccountDefaults with the StackSet\'s settings', () => {
    const app = new App();
    const org = new Stack(app, 'Org');
    const stackSet = new ImdsAccountDefaultsStackSet(org, 'ImdsEverywhere', { ...PROPS, settingsAsParameters: true, skipIfManagedByDeclarativePolicy: true });
    const management = new Stack(app, 'Management', { env: { account: '123456789012', region: 'us-east-1' } });
    const defaults = stackSet.addAccountDefaults(management);

    expect(defaults).toBeInstanceOf(ImdsAccountDefaults);
    expect(defaults.node.id).toBe('ImdsAccountDefaults');
    Template.fromStack(management).hasResourceProperties('Custom::ImdsAccountDefaults', {
      HttpTokens: 'required',
      HttpTokensEnforced: 'enabled',
      HttpPutResponseHopLimit: 2,
      SkipIfManagedByDeclarativePolicy: true,
    });
    // The StackSet's own stack is untouched.
    Template.fromStack(org).resourceCountIs('Custom::ImdsAccountDefaults', 0);
  });

  test('addAccountDefaults takes an id', () => {
    const { stackSet, stack } = synth();
    expect(stackSet.addAccountDefaults(stack, 'ManagementDefaults').node.path).toBe('Org/ManagementDefaults');
  });
});

describe('validation', () => {
  const attempt = (props: Partial<ImdsAccountDefaultsStackSetProps>) => () => synth({ ...PROPS, ...props } as ImdsAccountDefaultsStackSetProps);
  test('errors name the construct path', () => {
    expect(attempt({ organizationalUnitIds: [] })).toThrow(/^\[Org\/ImdsEverywhere\] /);
  });

  test('empty targets', () => {
    expect(attempt({ organizationalUnitIds: [] })).toThrow(/organizationalUnitIds is empty; give at least one OU id \(ou-…\) or the root id \(r-…\)/);
  });

  test('missing targets (from JavaScript)', () => {
    expect(attempt({ organizationalUnitIds: undefined })).toThrow(/organizationalUnitIds is required/);
  });

  test('no Regions', () => {
    expect(attempt({ regions: [] })).toThrow(/regions is empty; give at least one Region/);
  });

  test('missing Regions (from JavaScript)', () => {
    expect(attempt({ regions: undefined })).toThrow(/regions is required/);
  });

  test('a Region that is not a Region name', () => {
    expect(attempt({ regions: ['us-east-1', 'US East'] })).toThrow(/regions must hold only Region names such as "us-east-1"; got "US East"/);
  });

  test('a Region given twice', () => {
    expect(attempt({ regions: ['us-east-1', 'us-east-1'] })).toThrow(/regions lists "us-east-1" more than once/);
  });

  test('an OU id that is not one', () => {
    expect(attempt({ organizationalUnitIds: ['123456789012'] })).toThrow(/organizationalUnitIds must hold only an OU id \(ou-…-…\) or a root id \(r-…\); got "123456789012"/);
  });

  test('empty account ids', () => {
    expect(attempt({ accountIds: [] })).toThrow(/accountIds is empty; leave accountIds out/);
  });

  test('an account id that is not one', () => {
    expect(attempt({ accountIds: ['1234'] })).toThrow(/accountIds must hold only a 12-digit account id; got "1234"/);
  });

  test('an account filter without accounts', () => {
    expect(attempt({ accountFilter: StackSetAccountFilter.DIFFERENCE })).toThrow(/accountFilter \(DIFFERENCE\) needs accountIds/);
  });

  test('no settings', () => {
    expect(() => synth({ ...TARGETS } as ImdsAccountDefaultsStackSetProps)).toThrow(/\[Org\/ImdsEverywhere\] at least one setting is required/);
  });

  test('a bad setting value (the shared validation)', () => {
    expect(attempt({ httpPutResponseHopLimit: 0 })).toThrow(/\[Org\/ImdsEverywhere\] httpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got 0/);
  });

  test('a setting that is a token', () => {
    expect(attempt({ httpTokens: Token.asString({ Ref: 'Tokens' }) as HttpTokens })).toThrow(/httpTokens is a token .*settings must be known at synth time.*settingsAsParameters/);
  });

  test('count and percentage of concurrent accounts together', () => {
    expect(attempt({ maxConcurrentCount: 2, maxConcurrentPercentage: 50 })).toThrow(/give maxConcurrentCount \(2\) or maxConcurrentPercentage \(50\), not both/);
  });

  test('count and percentage of failure tolerance together', () => {
    expect(attempt({ failureToleranceCount: 1, failureTolerancePercentage: 5 })).toThrow(/give failureToleranceCount \(1\) or failureTolerancePercentage \(5\), not both/);
  });

  test('a concurrency percentage out of range', () => {
    expect(attempt({ maxConcurrentPercentage: 0 })).toThrow(/maxConcurrentPercentage must be an integer from 1 to 100; got 0/);
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

  test('retaining stacks without auto-deployment', () => {
    expect(attempt({ autoDeployment: false, retainStacksOnAccountRemoval: true })).toThrow(/retainStacksOnAccountRemoval applies only with autoDeployment/);
  });

  test('a StackSet name CloudFormation refuses', () => {
    expect(attempt({ stackSetName: 'imds_defaults' })).toThrow(/stackSetName must start with a letter and hold only letters, digits and hyphens, at most 128 characters; got "imds_defaults"/);
  });

  test('nothing is created when validation fails', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    expect(() => new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { ...PROPS, regions: [] })).toThrow();
    expect(stack.node.tryFindChild('ImdsEverywhere')?.node.children ?? []).toHaveLength(0);
  });

  describe('addStackInstances', () => {
    const add = (props: Partial<ImdsAccountDefaultsStackSetProps>, options: object) => () => {
      const { stackSet } = synth({ ...PROPS, ...props });
      stackSet.addStackInstances({ ...TARGETS, ...options } as any);
    };

    test('empty targets', () => {
      expect(add({}, { organizationalUnitIds: [] })).toThrow(/\[Org\/ImdsEverywhere\] organizationalUnitIds is empty/);
    });

    test('no Regions', () => {
      expect(add({}, { regions: [] })).toThrow(/\[Org\/ImdsEverywhere\] regions is empty/);
    });

    test('overrides without settingsAsParameters', () => {
      expect(add({}, { settingOverrides: { httpTokens: HttpTokens.OPTIONAL } })).toThrow(/settingOverrides needs settingsAsParameters: true/);
    });

    test('empty overrides', () => {
      expect(add({ settingsAsParameters: true }, { settingOverrides: {} })).toThrow(/settingOverrides is empty/);
    });

    test('an override of a setting the StackSet does not manage', () => {
      expect(add({ settingsAsParameters: true }, { settingOverrides: { httpEndpoint: HttpEndpoint.DISABLED } }))
        .toThrow(/settingOverrides.httpEndpoint overrides a setting the StackSet does not manage; only httpTokens, httpTokensEnforced, httpPutResponseHopLimit can/);
    });

    test('a bad override value (the shared validation)', () => {
      expect(add({ settingsAsParameters: true }, { settingOverrides: { httpPutResponseHopLimit: 65 } }))
        .toThrow(/\[Org\/ImdsEverywhere\] settingOverrides: httpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got 65/);
    });

    test('an override that is a token', () => {
      expect(add({ settingsAsParameters: true }, { settingOverrides: { httpTokens: Token.asString({ Ref: 'X' }) } }))
        .toThrow(/settingOverrides.httpTokens is a token/);
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
      stackSet.addAccountDefaults(management);
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
});

describe('permissions boundary and role path in the member accounts', () => {
  /** The embedded template's role properties. */
  function embeddedRole(template: Template): Record<string, any> {
    return Object.values<any>(embedded(template).Resources).find((r) => r.Type === 'AWS::IAM::Role').Properties;
  }

  test('by default the embedded role has neither a permissions boundary nor a path', () => {
    const role = embeddedRole(synth().template);
    expect(role.PermissionsBoundary).toBeUndefined();
    expect(role.Path).toBeUndefined();
  });

  test('permissionsBoundaryPolicyName: the boundary is the named policy of each member account', () => {
    const { template } = synth({ ...PROPS, permissionsBoundaryPolicyName: 'boundaries/ImdsBoundary' });
    expect(embeddedRole(template).PermissionsBoundary).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/boundaries/ImdsBoundary']],
    });
  });

  test('rolePath: the embedded role is created under the path', () => {
    const { template } = synth({ ...PROPS, rolePath: '/platform/' });
    expect(embeddedRole(template).Path).toBe('/platform/');
  });

  test('permissionsBoundary: an AWS managed policy is the same in every account, so it is accepted', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
      ...PROPS,
      permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Boundary', 'arn:aws:iam::aws:policy/PowerUserAccess'),
    });
    expect(embeddedRole(Template.fromStack(stack)).PermissionsBoundary).toBe('arn:aws:iam::aws:policy/PowerUserAccess');
  });

  test('permissionsBoundary: a policy of one account is refused, pointing to permissionsBoundaryPolicyName', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    expect(() => new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
      ...PROPS,
      permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Boundary', 'arn:aws:iam::123456789012:policy/ImdsBoundary'),
    })).toThrow(/\[Org\/ImdsEverywhere\] permissionsBoundary must be an AWS managed policy .*got "arn:aws:iam::123456789012:policy\/ImdsBoundary"\. .*give permissionsBoundaryPolicyName/);
  });

  test('permissionsBoundary: a token (an ARN of this stack\'s account) is refused', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    expect(() => new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
      ...PROPS,
      permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyName(stack, 'Boundary', 'ImdsBoundary'),
    })).toThrow(/permissionsBoundary must be an AWS managed policy .*got a token \(arn:\$\{Token\[AWS\.Partition\.\d+\]\}:iam::\$\{Token\[AWS\.AccountId\.\d+\]\}:policy\/ImdsBoundary\)/);
  });

  test('permissionsBoundary: ManagedPolicy.fromAwsManagedPolicyName (a partition token) is accepted and resolves in the embedded template', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
      ...PROPS,
      permissionsBoundary: iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess'),
    });
    expect(embeddedRole(Template.fromStack(stack)).PermissionsBoundary).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/PowerUserAccess']],
    });
  });

  test('the StackSet checks the boundary props as ImdsAccountDefaults does', () => {
    expect(() => synth({ ...PROPS, permissionsBoundaryPolicyName: 'Imds Boundary' }))
      .toThrow(/\[Org\/ImdsEverywhere\] permissionsBoundaryPolicyName must be a managed policy name.*got "Imds Boundary"/);
    expect(() => synth({ ...PROPS, rolePath: 'platform' }))
      .toThrow(/\[Org\/ImdsEverywhere\] rolePath must be .*got "platform"/);
  });

  test('addAccountDefaults gives the management account\'s role the same boundary and path', () => {
    const { app, stackSet } = synth({ ...PROPS, permissionsBoundaryPolicyName: 'ImdsBoundary', rolePath: '/platform/' });
    const management = new Stack(app, 'Management', { env: { account: '111111111111', region: 'us-east-1' } });
    stackSet.addAccountDefaults(management);
    Template.fromStack(management).hasResourceProperties('AWS::IAM::Role', {
      Path: '/platform/',
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:policy/ImdsBoundary']] },
    });
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
  const UPGRADE = { mode: InstanceUpgradeMode.UPGRADE, lookback: Duration.days(30), interval: Duration.hours(12), maxUpgradesPerRun: 50 };
  const ROLE_OPTIONS = { logRetention: logs.RetentionDays.THREE_MONTHS, permissionsBoundaryPolicyName: 'boundaries/ImdsBoundary', rolePath: '/platform/' };
  const typesOf = (body: Record<string, any>) => Object.values<any>(body.Resources).map((r) => r.Type);

  test('off by default: the embedded template holds no upgrade function, schedule or custom resource', () => {
    const types = typesOf(embedded(synth().template));
    expect(types).not.toContain('Custom::ImdsInstanceUpgrade');
    expect(types).not.toContain('AWS::Events::Rule');
    expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(1);
  });

  test('on: the embedded template is ImdsAccountDefaults and ImdsInstanceUpgrade synthesized in a stack of their own, resource for resource, with the StackSet\'s role options and log retention on both', () => {
    const body = embedded(synth({ ...PROPS, ...ROLE_OPTIONS, instanceUpgrade: UPGRADE }).template);
    // The same stack name: the schedule's Lambda permission is named after the function's path.
    const stack = new Stack(new App(), 'ImdsAccountDefaultsStackSetTemplate');
    new ImdsAccountDefaults(stack, 'ImdsAccountDefaults', { ...SETTINGS, ...ROLE_OPTIONS });
    new ImdsInstanceUpgrade(stack, 'ImdsInstanceUpgrade', { ...UPGRADE, ...ROLE_OPTIONS });
    // The code (and so its Description) may be the compressed form of the same bundles.
    expect(withCode(body, (fn) => withPlainCode(fn, isUpgradeFunction(fn) ? UPGRADE_BUNDLE : HANDLER_BUNDLE)).Resources)
      .toEqual(Template.fromStack(stack).toJSON().Resources);

    const roles = Object.values<any>(body.Resources).filter((r) => r.Type === 'AWS::IAM::Role');
    expect(roles).toHaveLength(2);
    for (const role of roles) {
      expect(role.Properties).toMatchObject({
        Path: '/platform/',
        PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/boundaries/ImdsBoundary']] },
      });
    }
    expect(Object.values<any>(body.Resources).filter((r) => r.Type === 'AWS::Logs::LogGroup').map((r) => r.Properties.RetentionInDays)).toEqual([90, 90]);
  });

  test('on: the upgrade function runs the shipped bundle inline, with the options, on the schedule', () => {
    const body = embedded(synth({ ...PROPS, instanceUpgrade: UPGRADE }).template);
    const fn = Object.values<any>(body.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && isUpgradeFunction(r));
    expect(Object.keys(fn.Properties.Code)).toEqual(['ZipFile']);
    expect(decodeInlineCode(fn.Properties.Code.ZipFile)).toBe(fs.readFileSync(UPGRADE_BUNDLE, 'utf8'));
    expect(fn.Properties.Environment.Variables).toEqual({
      IMDS_UPGRADE_MODE: 'UPGRADE',
      IMDS_UPGRADE_LOOKBACK_SECONDS: '2592000',
      IMDS_UPGRADE_EXCLUSION_TAG_KEY: 'imds-keep-v1',
      IMDS_UPGRADE_WITHOUT_METRICS: 'false',
      IMDS_UPGRADE_MAX_PER_RUN: '50',
    });
    expect(Object.values<any>(body.Resources).filter((r) => r.Type === 'AWS::Events::Rule').map((r) => r.Properties.ScheduleExpression)).toEqual(['rate(12 hours)']);
    expect(typesOf(body).filter((t) => t === 'Custom::ImdsInstanceUpgrade')).toHaveLength(1);
  });

  test('on: still self-contained and within the TemplateBody limit with every option, settings as parameters', () => {
    const { template, stackSet } = synth({
      ...PROPS,
      ...ROLE_OPTIONS,
      httpEndpoint: HttpEndpoint.ENABLED,
      instanceMetadataTags: InstanceMetadataTags.DISABLED,
      removalPolicy: RemovalPolicy.RETAIN,
      skipIfManagedByDeclarativePolicy: true,
      settingsAsParameters: true,
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
  });

  test('addInstanceUpgrade gives the management account the same upgrade, role options and log retention', () => {
    const { app, stackSet } = synth({ ...PROPS, ...ROLE_OPTIONS, instanceUpgrade: UPGRADE });
    const management = new Stack(app, 'Management', { env: { account: '111111111111', region: 'us-east-1' } });
    const upgrade = stackSet.addInstanceUpgrade(management);
    expect(upgrade.node.id).toBe('ImdsInstanceUpgrade');
    const template = Template.fromStack(management);
    template.hasResourceProperties('AWS::IAM::Role', {
      Path: '/platform/',
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:policy/boundaries/ImdsBoundary']] },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    template.hasResourceProperties('Custom::ImdsInstanceUpgrade', { Mode: 'UPGRADE', LookbackSeconds: 2592000, MaxUpgradesPerRun: 50 });
    expect(stackSet.addInstanceUpgrade(new Stack(app, 'Management2'), 'Upgrade').node.id).toBe('Upgrade');
  });

  test('addInstanceUpgrade without the instanceUpgrade option fails', () => {
    const { app, stackSet } = synth();
    expect(() => stackSet.addInstanceUpgrade(new Stack(app, 'Management')))
      .toThrow(/^\[Org\/ImdsEverywhere\] addInstanceUpgrade needs the instanceUpgrade option, whose options it uses$/);
  });
});
