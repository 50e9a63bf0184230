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
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, RemovalPolicy, Stack, aws_logs as logs } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { Construct } from 'constructs';
import * as lib from '../src';
import { ALL_NAG_PACKS, declaredSuppressions, describeFindings, runNag, suppressionKey } from './support/nag-findings';

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
  }),
  ImdsAccountDefaultsStackSet: (scope) => new lib.ImdsAccountDefaultsStackSet(scope, 'StackSet', STACK_SET_PROPS),
  // What the StackSet deploys in every member account: its embedded template, read back
  // with CfnInclude (cdk-nag does not look inside a TemplateBody string).
  ImdsAccountDefaultsStackSetTemplate: (scope) => new CfnInclude(scope, 'Template', {
    templateFile: writeTemplate(new lib.ImdsAccountDefaultsStackSet(new Stack(new App(), 'Source'), 'StackSet', STACK_SET_PROPS).templateBody),
  }),
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
  }),
  ImdsDeclarativePolicy: (scope) => new lib.ImdsDeclarativePolicy(scope, 'Policy', {
    httpTokens: lib.ImdsHttpTokens.REQUIRED,
    httpPutResponseHopLimit: 2,
    targetIds: ['r-abcd'],
    exceptionMessage: 'IMDSv2 is required by the platform team',
  }),
};

function everyConstructApp(): App {
  const app = new App();
  for (const [name, add] of Object.entries(CONSTRUCTS)) {
    add(new Stack(app, `Nag${name}`));
  }
  return app;
}

describe('cdk-nag 2 (every pack it ships)', () => {
  const app = everyConstructApp();
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
      'NagImdsAccountDefaults', 'NagImdsAccountDefaultsStackSetTemplate', 'NagImdsInstanceUpgrade', 'NagImdsManagementAccount',
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
    // this account's instances in this Region (only to require IMDSv2).
    expect([...new Set(iam5.map((f) => f.findingId))].sort()).toEqual([
      'Resource::*',
      'Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*',
      'Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*',
    ]);
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
