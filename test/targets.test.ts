/**
 * The budget the library promises (README, "Benchmark"), as far as it is not a
 * timing: one Lambda function, no file assets, and, with every option (the drift
 * guard and the readiness check included):
 * - a stack holding ImdsAccountDefaults, or ImdsInstanceUpgrade, carries its
 *   function's plain, readable code and stays under CloudFormation's 51,200-byte
 *   TemplateBody limit as sent (deployable without an S3 bucket);
 * - the template a StackSet embeds with one function stays within 40,960 bytes (80 %
 *   of the limit, EMBEDDED_PLAIN_CODE_BUDGET_BYTES): its functions carry plain code when
 *   that fits, else the compressed loader;
 * - with two functions (settings and ImdsInstanceUpgrade, or either with the dry run),
 *   every option of both, it stays within TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES (95 % of
 *   the limit).
 * Every option includes a central event bus in another account and Region
 * (`centralEventBusArn`): its ARN, its IAM statement and the events code are counted.
 * Synth time and cold start are measured by `npx projen bench`, never asserted here.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, BootstraplessSynthesizer, Duration, RemovalPolicy, Stack, aws_logs as logs } from 'aws-cdk-lib';
import {
  DriftGuardMode,
  ImdsAccountDefaults,
  ImdsAccountDefaultsOptions,
  ImdsAccountDefaultsStackSet,
  ImdsHttpEndpoint,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsInstanceMetadataTags,
  ImdsInstanceUpgrade,
  ImdsInstanceUpgradeOptions,
  ImdsPermissionsBoundary,
  ImdsReadinessReport,
  ImdsStackSetPermissionsBoundary,
  ImdsStackSetTarget,
  InstanceUpgradeMode,
  ReadinessCheckMode,
} from '../src';
import { EMBEDDED_PLAIN_CODE_BUDGET_BYTES, TEMPLATE_BODY_MAX_BYTES } from '../src/private/embedded-template';
import { inlineHandlerCode } from '../src/private/inline-code';

/**
 * A stack, as CloudFormation receives it (minified JSON) when it is deployed without an S3
 * bucket: within the TemplateBody limit, with plain code. Measured as the BootstraplessSynthesizer
 * writes it: the synthesizer for an account without the CDK bootstrap stack. With the default
 * synthesizer (its BootstrapVersion parameter and rule, 0.5 KB more), the CLI uploads every
 * template to the bootstrap bucket, so the TemplateBody limit does not apply.
 */
const STACK_BUDGET_BYTES = 51_200;

/** A stack written as for an account without the CDK bootstrap stack (see STACK_BUDGET_BYTES). */
function bootstraplessStack(app: App, id: string): Stack {
  return new Stack(app, id, { synthesizer: new BootstraplessSynthesizer() });
}
/** The StackSet's embedded template, with or without ImdsInstanceUpgrade: 80 % of the TemplateBody limit. */
const EMBEDDED_BUDGET_BYTES = 40_960;
/**
 * The budget of the StackSet's every-option template while it carries the compressed loader:
 * 60 % of the TemplateBody limit (it was half, 25,600, before the templates carried the
 * scanners' reasons: `Metadata.checkov.skip` on each function and log group).
 */
const COMPRESSED_STACKSET_BUDGET_BYTES = 30_720;
/**
 * A StackSet's embedded template with two functions, every option of both (the compressed
 * code of each, their IAM, schedules, and the checkov and cdk-nag reasons every resource
 * carries): 95 % of the TemplateBody limit.
 */
const TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES = 48_640;

/** A central event bus of another account and Region (ImdsFindingsHub's default name). */
const CENTRAL_EVENT_BUS_ARN = 'arn:aws:events:us-east-1:111111111111:event-bus/cdk-imds-findings';

const HANDLER_FILE = (name: string) => path.join(__dirname, '..', 'assets', 'lambda', name, 'index', 'index.js');
const functionsOf = (template: any): any[] => Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');

test('the budgets are the library\'s constants', () => {
  expect(TEMPLATE_BODY_MAX_BYTES).toBe(STACK_BUDGET_BYTES);
  expect(EMBEDDED_PLAIN_CODE_BUDGET_BYTES).toBe(EMBEDDED_BUDGET_BYTES);
});

/** Every option of ImdsAccountDefaults (what the StackSet's members get too). */
const EVERY_OPTION: ImdsAccountDefaultsOptions = {
  httpTokens: ImdsHttpTokens.REQUIRED,
  httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
  httpPutResponseHopLimit: 2,
  httpEndpoint: ImdsHttpEndpoint.ENABLED,
  instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
  skipIfManagedByDeclarativePolicy: true,
  logRetention: logs.RetentionDays.TEN_YEARS,
  rolePath: '/platform/',
  driftGuard: DriftGuardMode.REAPPLY,
  driftCheckInterval: Duration.minutes(15),
  readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT,
  centralEventBusArn: CENTRAL_EVENT_BUS_ARN,
};

/** A boundary by name (the form that resolves in every StackSet member account). */
const BOUNDARY_POLICY_NAME = 'boundaries/ImdsBoundary';

/** Every option of ImdsInstanceUpgrade. */
const EVERY_UPGRADE_OPTION: ImdsInstanceUpgradeOptions = {
  mode: InstanceUpgradeMode.UPGRADE,
  lookback: Duration.days(7),
  interval: Duration.hours(6),
  exclusionTagKey: 'keep-imdsv1',
  upgradeWithoutMetrics: true,
  maxUpgradesPerRun: 50,
};

/** A StackSet with every option (every setting is a parameter of its template), optionally with ImdsInstanceUpgrade too. */
function everyOptionStackSet(instanceUpgrade?: ImdsInstanceUpgradeOptions): ImdsAccountDefaultsStackSet {
  return new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'ImdsEverywhere', {
    ...EVERY_OPTION,
    memberRemovalPolicy: RemovalPolicy.RETAIN,
    permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] }),
    instanceUpgrade,
  });
}

test(`the template a StackSet embeds, with every option (every setting a parameter), is within ${EMBEDDED_BUDGET_BYTES} bytes`, () => {
  expect(Buffer.byteLength(everyOptionStackSet().templateBody)).toBeLessThanOrEqual(EMBEDDED_BUDGET_BYTES);
});

test(`with the compressed code, that template keeps the budget it had before the readable code: ${COMPRESSED_STACKSET_BUDGET_BYTES} bytes`, () => {
  const stackSet = everyOptionStackSet();
  const [fn] = functionsOf(JSON.parse(stackSet.templateBody));
  expect(fn.Properties.Code.ZipFile).toBe(inlineHandlerCode('account-defaults', 'compressed'));
  expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThanOrEqual(COMPRESSED_STACKSET_BUDGET_BYTES);
});

test(`the template a StackSet embeds with ImdsInstanceUpgrade too, every option of both, is within ${TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES} bytes`, () => {
  const stackSet = everyOptionStackSet(EVERY_UPGRADE_OPTION);
  const template = JSON.parse(stackSet.templateBody);
  expect(functionsOf(template)).toHaveLength(2);
  expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThanOrEqual(TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES);
});

test(`ImdsInstanceUpgrade alone, every option, carries its plain code and is under ${STACK_BUDGET_BYTES} bytes as sent`, () => {
  const app = new App();
  const stack = bootstraplessStack(app, 'Upgrade');
  new ImdsInstanceUpgrade(stack, 'Upgrade', {
    ...EVERY_UPGRADE_OPTION,
    permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
    rolePath: '/platform/',
    centralEventBusArn: CENTRAL_EVENT_BUS_ARN,
  });
  const template = app.synth().getStackByName('Upgrade').template;
  expect(functionsOf(template)[0].Properties.Code.ZipFile).toBe(fs.readFileSync(HANDLER_FILE('instance-upgrade'), 'utf8'));
  expect(Buffer.byteLength(JSON.stringify(template))).toBeLessThan(STACK_BUDGET_BYTES);
});

describe('ImdsAccountDefaults, every setting given', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'targets-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  const app = new App({ outdir });
  const stack = new Stack(app, 'Targets');
  new ImdsAccountDefaults(stack, 'ImdsDefaults', {
    ...EVERY_OPTION, removalPolicy: RemovalPolicy.RETAIN, permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
  });
  const artifact = app.synth().getStackByName('Targets');
  const resources = Object.values(artifact.template.Resources) as Array<{ Type: string }>;

  test(`the function carries its plain code, and the template as sent is under ${STACK_BUDGET_BYTES} bytes`, () => {
    expect(functionsOf(artifact.template)[0].Properties.Code.ZipFile).toBe(fs.readFileSync(HANDLER_FILE('account-defaults'), 'utf8'));
    const sent = new App();
    new ImdsAccountDefaults(bootstraplessStack(sent, 'Targets'), 'ImdsDefaults', {
      ...EVERY_OPTION, removalPolicy: RemovalPolicy.RETAIN, permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
    });
    const template = sent.synth().getStackByName('Targets').template;
    // The same resources as with the default synthesizer, without its BootstrapVersion parameter and rule.
    expect(template.Resources).toEqual(artifact.template.Resources);
    expect(Buffer.byteLength(JSON.stringify(template))).toBeLessThan(STACK_BUDGET_BYTES);
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

describe('the dry run (ImdsReadinessReport)', () => {
  /** The lead's budget for an every-option embedded template (90 % of the TemplateBody limit): the report with settings or with the upgrade must fit it. */
  const reportStackSet = (instanceUpgrade?: ImdsInstanceUpgradeOptions) => new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'ImdsDryRun', {
    logRetention: logs.RetentionDays.TEN_YEARS,
    rolePath: '/platform/',
    permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] }),
    readinessReport: { interval: Duration.hours(6) },
    instanceUpgrade,
    centralEventBusArn: CENTRAL_EVENT_BUS_ARN,
  });

  test(`a StackSet of the dry run alone (every option) carries its plain code, within ${EMBEDDED_BUDGET_BYTES} bytes`, () => {
    const stackSet = reportStackSet();
    expect(functionsOf(JSON.parse(stackSet.templateBody))[0].Properties.Code.ZipFile).toBe(fs.readFileSync(HANDLER_FILE('readiness-report'), 'utf8'));
    expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThanOrEqual(EMBEDDED_BUDGET_BYTES);
  });

  test(`with every setting too (every option of both), within ${TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES} bytes`, () => {
    const stackSet = new ImdsAccountDefaultsStackSet(new Stack(new App(), 'Org'), 'ImdsEverywhere', {
      ...EVERY_OPTION,
      memberRemovalPolicy: RemovalPolicy.RETAIN,
      permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
      target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] }),
      readinessReport: { interval: Duration.hours(6), refreshKey: '2026-12-05' },
    });
    expect(functionsOf(JSON.parse(stackSet.templateBody))).toHaveLength(2);
    expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThanOrEqual(TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES);
  });

  test(`ImdsReadinessReport alone, every option, carries its plain code and is under ${STACK_BUDGET_BYTES} bytes as sent`, () => {
    const app = new App();
    const stack = bootstraplessStack(app, 'Report');
    new ImdsReadinessReport(stack, 'Report', {
      interval: Duration.hours(6),
      refreshKey: '2026-12-05',
      logRetention: logs.RetentionDays.TEN_YEARS,
      rolePath: '/platform/',
      permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
      centralEventBusArn: CENTRAL_EVENT_BUS_ARN,
    });
    const template = app.synth().getStackByName('Report').template;
    expect(functionsOf(template)[0].Properties.Code.ZipFile).toBe(fs.readFileSync(HANDLER_FILE('readiness-report'), 'utf8'));
    expect(Buffer.byteLength(JSON.stringify(template))).toBeLessThan(STACK_BUDGET_BYTES);
  });

  test(`with ImdsInstanceUpgrade too, every option of both, within ${TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES} bytes`, () => {
    const stackSet = reportStackSet(EVERY_UPGRADE_OPTION);
    expect(functionsOf(JSON.parse(stackSet.templateBody))).toHaveLength(2);
    expect(Buffer.byteLength(stackSet.templateBody)).toBeLessThanOrEqual(TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES);
  });
});
