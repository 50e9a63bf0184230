/**
 * cdk-nag over an app that uses every construct of the library, as a platform
 * team would check it before adopting it.
 *
 * Packs (test/support/nag-findings.ts): AwsSolutions, and NIST 800-53 rev 5,
 * the compliance pack regulated teams run; its Lambda, IAM and Logs rules are
 * the same ones the HIPAA and PCI DSS packs apply. The Serverless pack was
 * the other candidate: it asks for X-Ray tracing and a DLQ, which say little
 * about a function CloudFormation calls a few times per stack lifetime.
 *
 * Suppressions the constructs need live in the constructs (src/private/nag.ts),
 * as `cdk_nag` metadata: users get them without configuring anything, and the
 * library does not depend on cdk-nag at run time.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, RemovalPolicy, Stack, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import * as lib from '../src';
import { declaredSuppressions, describeFindings, runNag, suppressionKey } from './support/nag-findings';

/**
 * Every construct of the library, each in a stack of its own, with every
 * option that adds resources. Adding a construct is one line here.
 */
const CONSTRUCTS: Record<string, (scope: Construct) => void> = {
  ImdsAccountDefaults: (scope) => new lib.ImdsAccountDefaults(scope, 'Defaults', {
    httpTokens: lib.HttpTokens.REQUIRED,
    httpTokensEnforced: lib.HttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
    httpEndpoint: lib.HttpEndpoint.ENABLED,
    instanceMetadataTags: lib.InstanceMetadataTags.DISABLED,
    removalPolicy: RemovalPolicy.RETAIN,
    skipIfManagedByDeclarativePolicy: true,
    logRetention: logs.RetentionDays.THREE_MONTHS,
  }),
};

function everyConstructApp(): App {
  const app = new App();
  for (const [name, add] of Object.entries(CONSTRUCTS)) {
    add(new Stack(app, `Nag${name}`));
  }
  return app;
}

describe('cdk-nag (AwsSolutions, NIST 800-53 rev 5)', () => {
  const app = everyConstructApp();
  const result = runNag(app);

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
    ]));
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
    // The wildcard accepted is `*` for the EC2 actions only; the logs statement is scoped to the log group.
    expect([...new Set(iam5.map((f) => f.findingId))]).toEqual(['Resource::*']);
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
