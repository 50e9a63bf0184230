/**
 * cdk-nag 2 over an app that uses every construct of the library, as a platform
 * team would check it before adopting it, with our aws-cdk-lib (the oldest we
 * support; cdk-nag 2.36.50 is the newest cdk-nag 2 for it). cdk-nag 3 needs a
 * newer aws-cdk-lib: test/nag3.test.ts.
 *
 * Packs: every pack cdk-nag ships (test/support/nag-findings.ts, ALL_NAG_PACKS):
 * AwsSolutions, HIPAA Security, NIST 800-53 rev 4 and rev 5, PCI DSS 3.2.1 and
 * Serverless; a user of the library may turn on any of them.
 *
 * Suppressions the constructs need live in the constructs (src/private/nag.ts),
 * as `cdk_nag` metadata: users get them without configuring anything, and the
 * library does not depend on cdk-nag at run time.
 *
 * Both kinds of stack: environment-agnostic, and with a concrete account and
 * Region, where `formatArn` resolves the ARNs and so changes the IAM5 finding ids.
 * Also here: `logGroupEncryptionKey` (the stricter setting, which leaves nothing
 * to skip for the log group), `ServiceTimeout` as a property override (what keeps
 * `cdk synth --strict` clean under newer aws-cdk-lib: test/nag3.test.ts checks the
 * warnings), and `ImdsNagAcknowledgements` under this aws-cdk-lib.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, Duration, Environment, RemovalPolicy, Stack, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { Construct } from 'constructs';
import * as lib from '../src';
import { ALL_NAG_PACKS, declaredSuppressions, describeFindings, runNag, suppressionKey } from './support/nag-findings';
import { ValidationsApi, acknowledgeForNag3 } from '../src/private/nag';

const STACK_SET_PROPS: lib.ImdsAccountDefaultsStackSetProps = {
  httpTokens: lib.ImdsHttpTokens.REQUIRED,
  httpTokensEnforced: lib.ImdsHttpTokensEnforced.ENABLED,
  target: lib.ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1', 'us-east-1'] }),
  permissionsBoundary: lib.ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'),
  rolePath: '/platform/',
  driftGuard: lib.DriftGuardMode.REAPPLY,
  readinessCheck: lib.ReadinessCheckMode.ENFORCE_AND_REPORT,
  instanceUpgrade: { mode: lib.InstanceUpgradeMode.UPGRADE },
};

function writeTemplate(body: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nag-template-')), 'template.json');
  fs.writeFileSync(file, body);
  return file;
}

/**
 * Every construct of the library, each in a stack of its own, with every
 * option that adds resources. Adding a construct is one line here.
 */
const CONSTRUCTS: Record<string, (scope: Construct) => void> = {
  ImdsAccountDefaults: (scope) => new lib.ImdsAccountDefaults(scope, 'Defaults', {
    httpTokens: lib.ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: lib.ImdsHttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
    httpEndpoint: lib.ImdsHttpEndpoint.ENABLED,
    instanceMetadataTags: lib.ImdsInstanceMetadataTags.DISABLED,
    removalPolicy: RemovalPolicy.RETAIN,
    skipIfManagedByDeclarativePolicy: true,
    readinessCheck: lib.ReadinessCheckMode.ENFORCE_AND_REPORT,
    logRetention: logs.RetentionDays.THREE_MONTHS,
    permissionsBoundary: lib.ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary'),
    rolePath: '/platform/',
    driftGuard: lib.DriftGuardMode.REAPPLY,
    // The stricter setting a user may need (the StackSet's members go without: its template and the management account).
    logGroupEncryptionKey: new kms.Key(scope, 'LogKey', { enableKeyRotation: true }),
    checkEnforcementReadiness: true,
  }),
  ImdsAccountDefaultsStackSet: (scope) => new lib.ImdsAccountDefaultsStackSet(scope, 'StackSet', STACK_SET_PROPS),
  // What the StackSet deploys in every member account: its embedded template, read back
  // with CfnInclude (cdk-nag does not look inside a TemplateBody string), and the one call
  // the README documents, which writes the template's compact metadata out as cdk_nag.
  ImdsAccountDefaultsStackSetTemplate: (scope) => lib.ImdsNagAcknowledgements.ofIncludedTemplate(new CfnInclude(scope, 'Template', {
    templateFile: writeTemplate(new lib.ImdsAccountDefaultsStackSet(new Stack(new App(), 'Source'), 'StackSet', STACK_SET_PROPS).templateBody),
  })),
  // The management account's own resources, as the StackSet adds them (its options, boundary and role path).
  ImdsManagementAccount: (scope) => {
    new lib.ImdsAccountDefaultsStackSet(new Stack(new App(), 'Organization'), 'StackSet', STACK_SET_PROPS).addManagementAccount(scope);
  },
  ImdsInstanceUpgrade: (scope) => new lib.ImdsInstanceUpgrade(scope, 'Upgrade', {
    mode: lib.InstanceUpgradeMode.UPGRADE,
    upgradeWithoutMetrics: true,
    logRetention: logs.RetentionDays.THREE_MONTHS,
    permissionsBoundary: lib.ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary'),
    rolePath: '/platform/',
    logGroupEncryptionKey: new kms.Key(scope, 'LogKey', { enableKeyRotation: true }),
  }),
  ImdsReadinessReport: (scope) => new lib.ImdsReadinessReport(scope, 'Report', {
    interval: Duration.hours(12),
    scheduledRuns: true,
    logRetention: logs.RetentionDays.THREE_MONTHS,
    permissionsBoundary: lib.ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary'),
    rolePath: '/platform/',
    logGroupEncryptionKey: new kms.Key(scope, 'LogKey', { enableKeyRotation: true }),
  }),
  // The dry run rolled out alone (no settings): the report and the instance upgrade, as members get it.
  ImdsDryRunStackSetTemplate: (scope) => lib.ImdsNagAcknowledgements.ofIncludedTemplate(new CfnInclude(scope, 'Template', {
    templateFile: writeTemplate(new lib.ImdsAccountDefaultsStackSet(new Stack(new App(), 'Source'), 'DryRun', {
      target: STACK_SET_PROPS.target,
      readinessReport: { interval: Duration.hours(12) },
      instanceUpgrade: { mode: lib.InstanceUpgradeMode.REPORT_ONLY },
    }).templateBody),
  })),
  ImdsServiceControlPolicy: (scope) => new lib.ImdsServiceControlPolicy(scope, 'Guardrails', {
    rolePath: '/platform/',
    targetIds: ['ou-abcd-12345678'],
    breakGlassPrincipalArns: ['arn:aws:iam::*:role/BreakGlass'],
    httpTokens: lib.ImdsHttpTokens.REQUIRED,
    denyImdsv1Credentials: true,
  }),
  // The organization's findings hub, with CloudWatch Logs' own encryption for its log group
  // (its acknowledgements are checked too); test/imds-findings-hub.test.ts checks the key variant.
  ImdsFindingsHub: (scope) => new lib.ImdsFindingsHub(scope, 'Hub', {
    organizationId: 'o-a1b2c3d4e5',
    rolePath: '/platform/',
    logRetention: logs.RetentionDays.THREE_MONTHS,
  }),
  ImdsDeclarativePolicy: (scope) => new lib.ImdsDeclarativePolicy(scope, 'Policy', {
    httpTokens: lib.ImdsHttpTokens.REQUIRED,
    httpPutResponseHopLimit: 2,
    targetIds: ['r-abcd'],
    exceptionMessage: 'IMDSv2 is required by the platform team',
  }),
};

/**
 * A concrete account and Region: the usual production stack (ARNs made with formatArn
 * are resolved there). The management account's own stack is in another account: one
 * ImdsAccountDefaults per account and Region.
 */
const CONCRETE_ENV = { account: '111111111111', region: 'us-east-1' };
const MANAGEMENT_ENV = { account: '222222222222', region: 'us-east-1' };

function everyConstructApp(env?: Environment): App {
  const app = new App();
  for (const [name, add] of Object.entries(CONSTRUCTS)) {
    add(new Stack(app, `Nag${name}`, { env: env && name === 'ImdsManagementAccount' ? MANAGEMENT_ENV : env }));
  }
  return app;
}

describe.each([
  ['environment-agnostic stacks', undefined, ['<AWS::Region>:<AWS::AccountId>']],
  ['stacks with a concrete account and Region', CONCRETE_ENV, ['us-east-1:111111111111', 'us-east-1:222222222222']],
])('cdk-nag 2 (every pack it ships), %s', (_kind, env, regionsAndAccounts) => {
  const app = everyConstructApp(env);
  const result = runNag(app, ALL_NAG_PACKS);

  test('no unsuppressed findings', () => {
    expect(describeFindings(result.unsuppressed)).toEqual([]);
  });

  test('no rule failed to evaluate a resource', () => {
    expect(describeFindings(result.errors)).toEqual([]);
  });

  test('the packs did look at the resources (suppressed findings are reported as such)', () => {
    expect(result.suppressed.map((f) => f.ruleId)).toEqual(expect.arrayContaining([
      'AwsSolutions-IAM5',
      'NIST.800.53.R5-LambdaDLQ',
      'Serverless-LambdaTracing',
    ]));
    expect(new Set(result.suppressed.map((f) => f.pack))).toEqual(new Set(['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R4', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless']));
    // Both the construct in a stack and the template the StackSet rolls out were checked, and the management account's resources.
    expect([...new Set(result.suppressed.map((f) => f.stack))].sort()).toEqual([
      'NagImdsAccountDefaults', 'NagImdsAccountDefaultsStackSetTemplate', 'NagImdsDryRunStackSetTemplate', 'NagImdsFindingsHub', 'NagImdsInstanceUpgrade',
      'NagImdsManagementAccount', 'NagImdsReadinessReport',
    ]);
  });

  test('every suppression in the constructs is used: none is stale, none is broader than a finding', () => {
    // Bytes in every user's template: a suppression that matches no finding must go.
    const used = [...new Set(result.suppressed.map((f) => suppressionKey(f.path, f.ruleId, f.findingId)))].sort();
    expect(declaredSuppressions(app)).toEqual(used);
  });

  test('IAM wildcard findings are suppressed finding by finding (applies_to), never the whole rule', () => {
    const iam5 = result.suppressed.filter((f) => f.ruleId === 'AwsSolutions-IAM5');
    expect(iam5.length).toBeGreaterThan(0);
    for (const f of iam5) {
      expect(f.findingId).not.toEqual('');
    }
    // The wildcards accepted: `*` for the EC2 and metric actions (no resource-level permissions;
    // conditions limit them to the stack's Region and the library's namespace), and this account's
    // stacks in this Region (read-only). No claim wildcard: the policy names the claims path and the
    // resource's own claim exactly. The logs statement is scoped to the log group, DescribeStacks to the
    // own stack. ImdsInstanceUpgrade: `*` for DescribeInstances and the CloudWatch metric actions, and
    // this account's instances in this Region (only to require IMDSv2), and its run claims under their own parameter path.
    // The StackSet's embedded template is environment-agnostic whatever the stack that includes it.
    expect([...new Set(iam5.map((f) => f.findingId))].sort()).toEqual([...new Set([
      'Resource::*',
      ...[...regionsAndAccounts, '<AWS::Region>:<AWS::AccountId>'].flatMap((regionAndAccount) => [
        `Resource::arn:<AWS::Partition>:cloudformation:${regionAndAccount}:stack/*`,
        `Resource::arn:<AWS::Partition>:ec2:${regionAndAccount}:instance/*`,
        `Resource::arn:<AWS::Partition>:ssm:${regionAndAccount}:parameter/cdk-imds-account-defaults/instance-upgrade/switch-claims/*`,
      ]),
    ])].sort());
  });

  test('every suppression reason is plain ASCII (cdk-nag base64-encodes others) and short', () => {
    for (const f of result.suppressed) {
      expect(f.reason).toMatch(/^(\[[^\]]+\] )?[\x20-\x7e]{10,80}$/);
    }
  });
});

test('the library does not depend on cdk-nag at run time', () => {
  const srcDir = path.join(__dirname, '..', 'src');
  const files = fs.readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    expect({ file, imports: /from ['"]cdk-nag['"]|require\(['"]cdk-nag['"]\)/.test(fs.readFileSync(path.join(srcDir, file), 'utf8')) })
      .toEqual({ file, imports: false });
  }
});

describe('ImdsNagAcknowledgements.ofIncludedTemplate under aws-cdk-lib 2.168', () => {
  const templateBody = () => new lib.ImdsAccountDefaultsStackSet(new Stack(new App(), 'Source'), 'StackSet', STACK_SET_PROPS).templateBody;

  test('records no acknowledgement where aws-cdk-lib has no Validations, and writes the compact metadata out as cdk_nag for cdk-nag 2', () => {
    const body = templateBody();
    const stack = new Stack(new App(), 'User');
    const include = new CfnInclude(stack, 'Template', { templateFile: writeTemplate(body) });
    expect(lib.ImdsNagAcknowledgements.ofIncludedTemplate(include)).toBe(0);
    // The embedded template carries the compact form only (it has a size limit), each reason on its resource.
    const embedded = Object.entries<any>(JSON.parse(body).Resources);
    expect(embedded.filter(([, r]) => r.Metadata?.cdk_nag)).toEqual([]);
    const compact = embedded.filter(([, r]) => r.Metadata?.imds_nag);
    expect(compact.length).toBeGreaterThan(5);
    // Included and expanded: one cdk_nag entry per pack of each compact entry, with its reason and findings.
    const out = Template.fromStack(stack).toJSON().Resources;
    for (const [id, resource] of compact) {
      const expected = resource.Metadata.imds_nag.flatMap(([ids, reason, appliesTo]: [string, string, string[]?]) => {
        const [packs, rule] = [ids.slice(0, ids.indexOf('-')), ids.slice(ids.indexOf('-') + 1)];
        return packs.split('/').map((pack) => ({ id: `${pack}-${rule}`, reason, ...(appliesTo ? { applies_to: appliesTo } : {}) }));
      });
      expect(out[id].Metadata.cdk_nag.rules_to_suppress).toEqual(expected);
    }
  });

  test('the compact form is smaller, and names the same findings as the cdk_nag form of the same resources in a stack', () => {
    const stack = new Stack(new App(), 'Stack');
    new lib.ImdsAccountDefaults(stack, 'ImdsAccountDefaults', {
      httpTokens: lib.ImdsHttpTokens.REQUIRED, httpTokensEnforced: lib.ImdsHttpTokensEnforced.ENABLED, driftGuard: lib.DriftGuardMode.REAPPLY,
    });
    const inStack = Template.fromStack(stack).toJSON().Resources;
    const include = new CfnInclude(new Stack(new App(), 'User'), 'Template', {
      templateFile: writeTemplate(new lib.ImdsAccountDefaultsStackSet(new Stack(new App(), 'Source'), 'StackSet', {
        httpTokens: lib.ImdsHttpTokens.REQUIRED,
        httpTokensEnforced: lib.ImdsHttpTokensEnforced.ENABLED,
        driftGuard: lib.DriftGuardMode.REAPPLY,
        target: STACK_SET_PROPS.target,
      }).templateBody),
    });
    lib.ImdsNagAcknowledgements.ofIncludedTemplate(include);
    const included = Template.fromStack(Stack.of(include)).toJSON().Resources;
    const rulesOf = (r: any) => (r?.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((x: any) => x.id).sort();
    const byType = (resources: Record<string, any>) => Object.fromEntries(Object.values<any>(resources)
      .filter((r) => r.Metadata?.cdk_nag).map((r) => [r.Type, rulesOf(r)]));
    expect(byType(included)).toEqual(byType(inStack));
  });
});

describe('logGroupEncryptionKey: the stricter setting, as a prop', () => {
  const logGroupsOf = (template: Template) => Object.values<any>(template.findResources('AWS::Logs::LogGroup'));

  test.each([
    ['ImdsAccountDefaults', (scope: Construct, key?: kms.IKey) => new lib.ImdsAccountDefaults(scope, 'Defaults', { httpTokens: lib.ImdsHttpTokens.REQUIRED, logGroupEncryptionKey: key })],
    ['ImdsInstanceUpgrade', (scope: Construct, key?: kms.IKey) => new lib.ImdsInstanceUpgrade(scope, 'Upgrade', { logGroupEncryptionKey: key })],
  ])('%s: the key encrypts the log group, its policy lets CloudWatch Logs of the Region use it, and nothing about it is skipped', (_name, add) => {
    const stack = new Stack(new App(), 'Stack', { env: CONCRETE_ENV });
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    add(stack, key);
    const template = Template.fromStack(stack);
    const [logGroup] = logGroupsOf(template);
    expect(logGroup.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnResource), 'Arn'] });
    expect(logGroup.Metadata?.checkov).toBeUndefined();
    expect(logGroup.Metadata?.cdk_nag).toBeUndefined();
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([{
          Effect: 'Allow',
          Principal: { Service: 'logs.us-east-1.amazonaws.com' },
          Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          Resource: '*',
          Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:us-east-1:111111111111:log-group:*']] } } },
        }]),
      },
    });
    // The function's own accepted checks stay.
    const [fn] = Object.values<any>(template.findResources('AWS::Lambda::Function'));
    expect(fn.Metadata.checkov.skip.map((s: { id: string }) => s.id)).toEqual(['CKV_AWS_115', 'CKV_AWS_116', 'CKV_AWS_117', 'CKV_AWS_173']);
  });

  test('without a key: CloudWatch Logs\' own encryption, with the reason for checkov and cdk-nag on the log group', () => {
    const stack = new Stack();
    new lib.ImdsAccountDefaults(stack, 'Defaults', { httpTokens: lib.ImdsHttpTokens.REQUIRED });
    const [logGroup] = logGroupsOf(Template.fromStack(stack));
    expect(logGroup.Properties.KmsKeyId).toBeUndefined();
    expect(logGroup.Metadata.checkov).toEqual({ skip: [{ id: 'CKV_AWS_158', comment: 'No secrets logged; encrypted by default' }] });
  });

  test('an imported key is used as it is (its policy must allow CloudWatch Logs already)', () => {
    const stack = new Stack(new App(), 'Stack', { env: CONCRETE_ENV });
    const key = kms.Key.fromKeyArn(stack, 'Imported', 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new lib.ImdsInstanceUpgrade(stack, 'Upgrade', { logGroupEncryptionKey: key });
    const [logGroup] = logGroupsOf(Template.fromStack(stack));
    expect(logGroup.Properties.KmsKeyId).toBe('arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
  });
});

test('ServiceTimeout is a property override: in the template as before, not in the custom resources\' properties (no warning under newer aws-cdk-lib)', () => {
  const stack = new Stack();
  const defaults = new lib.ImdsAccountDefaults(stack, 'Defaults', { httpTokens: lib.ImdsHttpTokens.REQUIRED });
  const upgrade = new lib.ImdsInstanceUpgrade(stack, 'Upgrade');
  const template = Template.fromStack(stack);
  template.hasResourceProperties('Custom::ImdsAccountDefaults', { ServiceTimeout: 120 });
  template.hasResourceProperties('Custom::ImdsInstanceUpgrade', { ServiceTimeout: Match.anyValue() });
  for (const resource of [defaults.customResource, upgrade.customResource]) {
    const props = (resource.node.defaultChild as any)._cfnProperties;
    expect(Object.keys(props)).not.toContain('ServiceTimeout');
  }
});

describe('cdk-nag 3 acknowledgements under aws-cdk-lib 2.257 to 2.268 (their Validations refuses ids with more than one "::")', () => {
  /** Validations.of(x).acknowledge as aws-cdk-lib 2.263 has it (core/lib/validation/validations.js, qualifyId). */
  function validationsLike2263(recorded: string[]): ValidationsApi {
    return {
      of: () => ({
        acknowledge: (...rules: Array<{ id: string; reason: string }>) => {
          for (const { id } of rules) {
            const parts = id.split('::');
            if (parts.length > 2 || (parts.length === 2 && parts[0].length === 0)) {
              const err = new Error(`Invalid validation rule ID '${id}'. The '::' delimiter is reserved for separating the prefix from the rule name (e.g. 'prefix::RuleName').`);
              err.name = 'InvalidValidationId';
              throw err;
            }
            recorded.push(id);
          }
        },
      }),
    };
  }

  test('synth does not fail: an id those releases refuse is skipped, the others are recorded', () => {
    const resource = new CfnResource(new Stack(), 'Policy', { type: 'AWS::IAM::Policy' });
    const recorded: string[] = [];
    const count = acknowledgeForNag3(resource, [
      { id: 'AwsSolutions-IAM5', reason: 'No resource-level permissions', appliesTo: ['Resource::*', 'Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*'] },
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'Separate so Delete runs before it is removed' },
    ], validationsLike2263(recorded));
    expect(recorded).toEqual(['AwsSolutions-IAM5[Resource::*]', 'HIPAA.Security-IAMNoInlinePolicy']);
    expect(count).toBe(2);
  });

  test('any other error is not swallowed', () => {
    const resource = new CfnResource(new Stack(), 'Policy', { type: 'AWS::IAM::Policy' });
    const failing: ValidationsApi = { of: () => ({ acknowledge: () => { throw new Error('something else'); } }) };
    expect(() => acknowledgeForNag3(resource, [{ id: 'AwsSolutions-IAM5', reason: 'No resource-level permissions' }], failing)).toThrow(/something else/);
  });
});
