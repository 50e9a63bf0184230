/**
 * The budget the library promises (README, "Benchmark"), as far as it is not a
 * timing: one Lambda function, no file assets, and the template as sent under
 * 25,600 bytes (half of CloudFormation's 51,200-byte TemplateBody limit), both
 * on its own and as the template a StackSet embeds with every option (the drift
 * guard and the readiness check included). ImdsInstanceUpgrade is a second
 * function with its own code: a StackSet that rolls it out too stays under
 * 40,960 bytes (80 % of the limit), and it stays under 25,600 bytes on its own.
 * Synth time and cold start are measured by `npx projen bench`, never asserted here.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack, aws_logs as logs } from 'aws-cdk-lib';
import {
  DriftGuard,
  HttpEndpoint,
  HttpTokens,
  HttpTokensEnforced,
  ImdsAccountDefaults,
  ImdsAccountDefaultsProps,
  ImdsAccountDefaultsStackSet,
  ImdsInstanceUpgrade,
  ImdsInstanceUpgradeOptions,
  InstanceMetadataTags,
  InstanceUpgradeMode,
  ReadinessCheck,
} from '../src';

/** The template size the README promises, as CloudFormation receives it (minified JSON): half the TemplateBody limit. */
const TEMPLATE_BUDGET_BYTES = 25_600;
/** The StackSet's embedded template with ImdsInstanceUpgrade too: 80 % of the TemplateBody limit. */
const WITH_UPGRADE_BUDGET_BYTES = 40_960;

/** Every option of ImdsAccountDefaults. */
const EVERY_OPTION: ImdsAccountDefaultsProps = {
  httpTokens: HttpTokens.REQUIRED,
  httpTokensEnforced: HttpTokensEnforced.ENABLED,
  httpPutResponseHopLimit: 2,
  httpEndpoint: HttpEndpoint.ENABLED,
  instanceMetadataTags: InstanceMetadataTags.DISABLED,
  skipIfManagedByDeclarativePolicy: true,
  removalPolicy: RemovalPolicy.RETAIN,
  logRetention: logs.RetentionDays.TEN_YEARS,
  // A boundary by name (the form that resolves in every StackSet member account) and a role path.
  permissionsBoundaryPolicyName: 'boundaries/ImdsBoundary',
  rolePath: '/platform/',
  driftGuard: DriftGuard.REAPPLY,
  driftCheckInterval: Duration.minutes(15),
  readinessCheck: ReadinessCheck.REPORT_ONLY,
};

/** Every option of ImdsInstanceUpgrade. */
const EVERY_UPGRADE_OPTION: ImdsInstanceUpgradeOptions = {
  mode: InstanceUpgradeMode.UPGRADE,
  lookback: Duration.days(7),
  interval: Duration.hours(6),
  exclusionTagKey: 'keep-imdsv1',
  upgradeWithoutMetrics: true,
  maxUpgradesPerRun: 50,
};

test(`the template a StackSet embeds, with every option and every setting as a parameter, is under ${TEMPLATE_BUDGET_BYTES} bytes`, () => {
  const stack = new Stack(new App(), 'Org');
  const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
    ...EVERY_OPTION,
    settingsAsParameters: true,
    organizationalUnitIds: ['ou-abcd-12345678'],
    regions: ['eu-west-1'],
  });
  expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThan(TEMPLATE_BUDGET_BYTES);
});

test(`the template a StackSet embeds with ImdsInstanceUpgrade too, every option of both, is under ${WITH_UPGRADE_BUDGET_BYTES} bytes`, () => {
  const stack = new Stack(new App(), 'Org');
  const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', {
    ...EVERY_OPTION,
    settingsAsParameters: true,
    organizationalUnitIds: ['ou-abcd-12345678'],
    regions: ['eu-west-1'],
    instanceUpgrade: EVERY_UPGRADE_OPTION,
  });
  const template = JSON.parse(stackSet.templateBody);
  expect(Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::Lambda::Function')).toHaveLength(2);
  expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThan(WITH_UPGRADE_BUDGET_BYTES);
});

test(`ImdsInstanceUpgrade alone, every option, is under ${TEMPLATE_BUDGET_BYTES} bytes as sent`, () => {
  const app = new App();
  const stack = new Stack(app, 'Upgrade');
  new ImdsInstanceUpgrade(stack, 'Upgrade', { ...EVERY_UPGRADE_OPTION, permissionsBoundaryPolicyName: 'boundaries/ImdsBoundary', rolePath: '/platform/' });
  const template = app.synth().getStackByName('Upgrade').template;
  expect(Buffer.byteLength(JSON.stringify(template))).toBeLessThan(TEMPLATE_BUDGET_BYTES);
});

describe('ImdsAccountDefaults, every setting given', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'targets-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  const app = new App({ outdir });
  const stack = new Stack(app, 'Targets');
  new ImdsAccountDefaults(stack, 'ImdsDefaults', EVERY_OPTION);
  const artifact = app.synth().getStackByName('Targets');
  const resources = Object.values(artifact.template.Resources) as Array<{ Type: string }>;

  test(`the template as sent is under ${TEMPLATE_BUDGET_BYTES} bytes`, () => {
    const bytes = Buffer.byteLength(JSON.stringify(artifact.template));
    expect(bytes).toBeLessThan(TEMPLATE_BUDGET_BYTES);
  });

  test('one Lambda function', () => {
    expect(resources.filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(1);
  });

  test('no file assets: the asset manifest lists only the template itself', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, `${artifact.stackName}.assets.json`), 'utf8'));
    const sources = Object.values(manifest.files).map((f: any) => f.source.path);
    expect(sources).toEqual([artifact.templateFile]);
    expect(manifest.dockerImages ?? {}).toEqual({});
  });
});
