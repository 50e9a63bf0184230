/**
 * cdk-nag 3 (npm `latest`) over the compiled library, under the aws-cdk-lib
 * cdk-nag 3 needs (2.257 or later), as a user on the newest releases runs it.
 * The project builds against an older aws-cdk-lib, so this runs in a separate
 * Node.js process: test/nag3/check.js, with test/nag3's own node_modules
 * (cdk-nag 3.0.2, aws-cdk-lib 2.276.0, installed from its lockfile by
 * `npx projen nag3:install`, which `npx projen test` runs first).
 *
 * cdk-nag 3 reads only aws-cdk-lib's acknowledgements
 * (`Validations.of(scope).acknowledge`), never the `cdk_nag` metadata that
 * cdk-nag 2 reads (test/nag.test.ts): the library records both
 * (src/private/nag.ts).
 *
 * The same process also gives what `cdk synth --strict` sees under aws-cdk-lib
 * 2.276 (every warning of both apps' assemblies: none allowed), the findings in
 * stacks with a concrete account and Region, and the StackSet's embedded
 * template read back with CfnInclude, with and without
 * `ImdsNagAcknowledgements.ofIncludedTemplate`.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const CHECK = path.join(__dirname, 'nag3', 'check.js');

interface Finding { pack: string; ruleId: string; path: string; acknowledged: boolean; description?: string }
interface Acknowledgement { path: string; id: string; reason: string; l1: boolean }
interface TreeResult { findings: Finding[]; acknowledgements: Acknowledgement[] }
interface IncludedResult {
  acknowledgements: number;
  unacknowledged: number;
  acknowledged: number;
  unacknowledgedFindings: Finding[];
  synthesized: boolean;
}
interface CheckResult {
  resolved: { libraryAwsCdkLib: string; libraryAwsCdkLibPath: string; checkAwsCdkLibPath: string; cdkNag: string; hasValidations: boolean };
  packs: string[];
  app: TreeResult;
  /** The same app, every stack with a concrete account and Region. */
  concrete: TreeResult;
  /** The warnings and errors of both apps' assemblies: what `cdk synth --strict` fails on. */
  strict: { agnostic: string[]; concrete: string[] };
  /** The StackSet's TemplateBody read back with CfnInclude, without and with ImdsNagAcknowledgements.ofIncludedTemplate. */
  included: { without: IncludedResult; agnostic: IncludedResult; concrete: IncludedResult; dryRunWithout: IncludedResult; dryRun: IncludedResult };
  embedded: TreeResult & { sameAsTemplateBody: boolean };
  plugins: { synthesized: boolean; error?: string };
  pluginsConcrete: { synthesized: boolean; error?: string };
}

/** The newest modification time of the files under `dir` whose names match. */
function newest(dir: string, pattern: RegExp): number {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => pattern.test(f))
    .map((f) => fs.statSync(path.join(dir, f)).mtimeMs)
    .reduce((a, b) => Math.max(a, b), 0);
}

function runCheck(): CheckResult {
  if (!fs.existsSync(path.join(__dirname, 'nag3', 'node_modules', 'cdk-nag'))) {
    throw new Error('test/nag3/node_modules is missing: run "npx projen nag3:install"');
  }
  const libIndex = path.join(ROOT, 'lib', 'index.js');
  if (!fs.existsSync(libIndex) || fs.statSync(libIndex).mtimeMs < newest(path.join(ROOT, 'src'), /\.ts$/)) {
    throw new Error('lib/ is missing or older than src/: run "npx projen compile" (this test runs the compiled library)');
  }
  const result = spawnSync(process.execPath, [CHECK], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`test/nag3/check.js failed (exit ${result.status}):\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as CheckResult;
}

const describeFindings = (findings: Finding[]) => findings.map((f) => `${f.path} ${f.ruleId}${f.description ? `: ${f.description}` : ''}`);

/** Acknowledgements that match no acknowledged finding on their construct or below it. */
function stale(tree: TreeResult): string[] {
  return tree.acknowledgements
    .filter((a) => !tree.findings.some((f) => f.acknowledged && f.ruleId === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))))
    .map((a) => `${a.path} ${a.id}`);
}

describe('cdk-nag 3 (every pack it ships) over the compiled library under aws-cdk-lib 2.276', () => {
  let result: CheckResult;
  beforeAll(() => {
    result = runCheck();
  }, 120_000);

  test('the library ran under the nested aws-cdk-lib 2.276.0, with cdk-nag 3.0.2', () => {
    expect(result.resolved).toEqual({
      libraryAwsCdkLib: '2.276.0',
      libraryAwsCdkLibPath: path.join(__dirname, 'nag3', 'node_modules', 'aws-cdk-lib', 'index.js'),
      checkAwsCdkLibPath: path.join(__dirname, 'nag3', 'node_modules', 'aws-cdk-lib', 'index.js'),
      cdkNag: '3.0.2',
      hasValidations: true,
    });
    expect(result.packs).toEqual(['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R4', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless']);
  });

  test('no unacknowledged finding, in the app (both kinds of stack) or in the StackSet\'s embedded template', () => {
    expect(describeFindings(result.app.findings.filter((f) => !f.acknowledged))).toEqual([]);
    expect(describeFindings(result.concrete.findings.filter((f) => !f.acknowledged))).toEqual([]);
    expect(describeFindings(result.embedded.findings.filter((f) => !f.acknowledged))).toEqual([]);
  });

  test('the packs did look at the resources: the accepted findings are reported as acknowledged', () => {
    for (const tree of [result.app, result.embedded]) {
      expect(new Set(tree.findings.map((f) => f.pack))).toEqual(new Set(result.packs));
      expect(tree.findings.map((f) => f.ruleId)).toEqual(expect.arrayContaining([
        'AwsSolutions-IAM5[Resource::*]',
        'NIST.800.53.R5-LambdaDLQ',
        'Serverless-LambdaTracing',
      ]));
    }
    // The constructs in a stack and the embedded template have them; the StackSet and the policies have none.
    expect([...new Set(result.app.findings.map((f) => f.path.split('/')[0]))]).toEqual([
      'NagImdsAccountDefaults', 'NagImdsInstanceUpgrade', 'NagImdsReadinessReport', 'NagImdsManagementAccount', 'NagImdsFindingsHub',
    ]);
    // The embedded template holds both functions' resources (instanceUpgrade is on).
    expect([...new Set(result.embedded.findings.map((f) => f.path.split('/')[1]))].sort()).toEqual(['ImdsAccountDefaults', 'ImdsInstanceUpgrade']);
  });

  test('the embedded tree checked is the one behind the StackSet\'s TemplateBody', () => {
    expect(result.embedded.sameAsTemplateBody).toBe(true);
  });

  test('no stale acknowledgement: each one matches a finding on its own resource', () => {
    expect(stale(result.app)).toEqual([]);
    expect(stale(result.concrete)).toEqual([]);
    expect(stale(result.embedded)).toEqual([]);
    // Finding by finding on the L1 resources, never on a whole construct or stack.
    for (const a of [...result.app.acknowledgements, ...result.embedded.acknowledgements]) {
      expect({ ...a, l1: true }).toEqual(a);
    }
    expect(result.app.acknowledgements.length).toBe(result.app.findings.length);
    expect(result.concrete.acknowledgements.length).toBe(result.concrete.findings.length);
  });

  test('IAM wildcards are acknowledged finding by finding, in the form each kind of stack gives the ARNs', () => {
    const iam5 = (tree: TreeResult) => [...new Set(tree.acknowledgements.filter((a) => a.id.startsWith('AwsSolutions-IAM5')).map((a) => a.id))].sort();
    expect(iam5(result.app)).toEqual([
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/cdk-imds-account-defaults/instance-upgrade/switch-claims/*]',
    ]);
    // A concrete account and Region are in the ARNs formatArn makes (the management account is 222222222222).
    expect(iam5(result.concrete)).toEqual([
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:us-east-1:111111111111:stack/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:us-east-1:222222222222:stack/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:us-east-1:111111111111:instance/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:us-east-1:222222222222:instance/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:us-east-1:111111111111:parameter/cdk-imds-account-defaults/instance-upgrade/switch-claims/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:us-east-1:222222222222:parameter/cdk-imds-account-defaults/instance-upgrade/switch-claims/*]',
    ]);
  });

  test('cdk synth --strict: no warning in either app under aws-cdk-lib 2.276 (ServiceTimeout is not in the custom resources\' properties)', () => {
    expect(result.strict).toEqual({ agnostic: [], concrete: [] });
  });

  test('the StackSet\'s embedded template checked as the README shows (CfnInclude): one call acknowledges every finding the library accepts', () => {
    // Without the call, cdk-nag 3 reports the findings the template's cdk_nag metadata accepts (it reads no metadata).
    expect(result.included.without.unacknowledged).toBeGreaterThan(0);
    expect(result.included.without.synthesized).toBe(false);
    for (const included of [result.included.agnostic, result.included.concrete]) {
      expect(describeFindings(included.unacknowledgedFindings)).toEqual([]);
      expect(included).toEqual(expect.objectContaining({
        unacknowledged: 0,
        acknowledged: result.included.without.unacknowledged,
        // One acknowledgement per finding: none is broader than a finding, none is stale.
        acknowledgements: result.included.without.unacknowledged,
        synthesized: true,
      }));
    }
    // The dry run's StackSet (report and instance upgrade, no settings) likewise.
    expect(result.included.dryRunWithout.unacknowledged).toBeGreaterThan(0);
    expect(describeFindings(result.included.dryRun.unacknowledgedFindings)).toEqual([]);
    expect(result.included.dryRun).toEqual(expect.objectContaining({
      unacknowledged: 0, acknowledgements: result.included.dryRunWithout.unacknowledged, synthesized: true,
    }));
  });

  test('every acknowledgement has the same reason as the cdk-nag 2 suppression: short plain ASCII', () => {
    for (const a of result.app.acknowledgements) {
      expect(a.reason).toMatch(/^[\x20-\x7e]{10,80}$/);
    }
  });

  test('as a user runs it (Validations.of(app).addPlugins with every pack), synth succeeds, in both kinds of stack', () => {
    expect(result.plugins).toEqual({ synthesized: true });
    expect(result.pluginsConcrete).toEqual({ synthesized: true });
  });
});
