/**
 * The template sizes the budget is about, with every option given:
 * - the template an ImdsAccountDefaultsStackSet embeds (its public
 *   `templateBody`, as the StackSet's TemplateBody sends it), every setting
 *   as a parameter (always, since 1.0; `settingsAsParameters` before), without
 *   and with ImdsInstanceUpgrade, and which form of the
 *   code it carries (plain, or the compressed loader);
 * - a stack holding ImdsAccountDefaults alone, and one holding ImdsInstanceUpgrade
 *   alone, as CloudFormation gets them (minified JSON) when they are deployed without
 *   an S3 bucket (BootstraplessSynthesizer: no BootstrapVersion parameter and rule).
 *
 * The library is passed in, so the same code measures the current tree (bench/run.ts
 * calls `templateSizes(require('../src'))`) and a previous release extracted from git
 * (run as a script in a child process: `ts-node bench/template-sizes.ts <dir>/src`,
 * prints the sizes as JSON on stdout).
 *
 * The options are test/targets.test.ts's EVERY_OPTION, written with the enums'
 * string values so that they read the same against any release, in the props of
 * the release's API (everyOptionProps: the 1.0 API of issue 20, or the one before).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, BootstraplessSynthesizer, Duration, RemovalPolicy, Stack, aws_logs as logs } from 'aws-cdk-lib';

export interface TemplateSizes {
  /** Bytes of the StackSet's embedded template (`templateBody`). */
  readonly stackSetBytes: number;
  /** Bytes of the stack with ImdsAccountDefaults alone, as sent (minified JSON). */
  readonly standaloneBytes: number;
  /** Bytes of the StackSet's embedded template with ImdsInstanceUpgrade in it too (every option); undefined for releases without it. */
  readonly stackSetWithUpgradeBytes?: number;
  /** Bytes of the stack with ImdsInstanceUpgrade alone (every option), as sent; undefined for releases without it. */
  readonly upgradeStandaloneBytes?: number;
  /** The code the StackSet's embedded templates carry ('compressed' when a loader decompresses it), without and with ImdsInstanceUpgrade. */
  readonly stackSetCode: string;
  readonly stackSetWithUpgradeCode?: string;
}

/** Which code a template carries: the compressed loader, or the plain bundle. */
function codeForm(templateBody: string): string {
  return templateBody.includes('brotliDecompressSync') ? 'compressed' : 'plain';
}

/** Every option of ImdsAccountDefaults (test/targets.test.ts, EVERY_OPTION), in the form every release takes. */
const EVERY_OPTION = {
  httpTokens: 'required',
  httpTokensEnforced: 'enabled',
  httpPutResponseHopLimit: 2,
  httpEndpoint: 'enabled',
  instanceMetadataTags: 'disabled',
  skipIfManagedByDeclarativePolicy: true,
  logRetention: logs.RetentionDays.TEN_YEARS,
  rolePath: '/platform/',
  // Issue 11 and issue 10 (ignored by releases without them).
  driftGuard: 'REAPPLY',
  driftCheckInterval: Duration.minutes(15),
};

/** A boundary by name (the form that resolves in every StackSet member account). */
const BOUNDARY_POLICY_NAME = 'boundaries/ImdsBoundary';

/** Every option of ImdsInstanceUpgrade (test/targets.test.ts, EVERY_UPGRADE_OPTION). */
const EVERY_UPGRADE_OPTION = {
  mode: 'UPGRADE',
  lookback: Duration.days(7),
  interval: Duration.hours(6),
  exclusionTagKey: 'keep-imdsv1',
  upgradeWithoutMetrics: true,
  maxUpgradesPerRun: 50,
};

/** The props of each construct with every option, as `lib`'s API takes them: the 1.0 API (issue 20), or the one before. */
interface EveryOptionProps {
  readonly accountDefaults: Record<string, unknown>;
  readonly stackSet: Record<string, unknown>;
  readonly upgradeRoleOptions: Record<string, unknown>;
}

/** A central event bus of another account and Region (issue 18: every function also puts its findings there). */
const CENTRAL_EVENT_BUS_ARN = 'arn:aws:events:us-east-1:111111111111:event-bus/cdk-imds-findings';

function everyOptionProps(lib: any): EveryOptionProps {
  if (lib.ImdsStackSetTarget !== undefined) {
    // 1.0: targets and boundaries as objects, the members' removal policy a prop of its own, settings always parameters.
    const boundary = lib.ImdsPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME);
    // Releases with findings as events (ImdsFindings) take the central bus; every function's template carries it.
    const bus = lib.ImdsFindings !== undefined ? { centralEventBusArn: CENTRAL_EVENT_BUS_ARN } : {};
    const options = { ...EVERY_OPTION, readinessCheck: 'ENFORCE_AND_REPORT', ...bus };
    return {
      accountDefaults: { ...options, removalPolicy: RemovalPolicy.RETAIN, permissionsBoundary: boundary },
      stackSet: {
        ...options,
        memberRemovalPolicy: RemovalPolicy.RETAIN,
        permissionsBoundary: lib.ImdsStackSetPermissionsBoundary.fromPolicyName(BOUNDARY_POLICY_NAME),
        target: lib.ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] }),
      },
      upgradeRoleOptions: { permissionsBoundary: boundary, rolePath: EVERY_OPTION.rolePath, ...bus },
    };
  }
  const options = { ...EVERY_OPTION, readinessCheck: 'REPORT_ONLY', removalPolicy: RemovalPolicy.RETAIN, permissionsBoundaryPolicyName: BOUNDARY_POLICY_NAME };
  return {
    accountDefaults: options,
    stackSet: { ...options, settingsAsParameters: true, organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] },
    upgradeRoleOptions: { permissionsBoundaryPolicyName: BOUNDARY_POLICY_NAME, rolePath: EVERY_OPTION.rolePath },
  };
}

export function templateSizes(lib: any): TemplateSizes {
  const props = everyOptionProps(lib);
  const stack = new Stack(new App(), 'Org');
  const stackSet = new lib.ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', props.stackSet);

  const withUpgrade = lib.ImdsInstanceUpgrade === undefined ? undefined : new lib.ImdsAccountDefaultsStackSet(stack, 'ImdsAndUpgrade', {
    ...props.stackSet,
    instanceUpgrade: EVERY_UPGRADE_OPTION,
  });

  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-bench-sizes-'));
  try {
    const app = new App({ outdir });
    // As sent without an S3 bucket (test/targets.test.ts): the synthesizer of an account without the bootstrap stack.
    const synthesizer = () => new BootstraplessSynthesizer();
    new lib.ImdsAccountDefaults(new Stack(app, 'Bench', { synthesizer: synthesizer() }), 'ImdsDefaults', props.accountDefaults);
    if (lib.ImdsInstanceUpgrade !== undefined) {
      new lib.ImdsInstanceUpgrade(new Stack(app, 'BenchUpgrade', { synthesizer: synthesizer() }), 'Upgrade', { ...EVERY_UPGRADE_OPTION, ...props.upgradeRoleOptions });
    }
    const assembly = app.synth();
    const template = assembly.getStackByName('Bench').template;
    return {
      stackSetBytes: Buffer.byteLength(stackSet.templateBody),
      standaloneBytes: Buffer.byteLength(JSON.stringify(template)),
      stackSetCode: codeForm(stackSet.templateBody),
      ...(withUpgrade ? {
        stackSetWithUpgradeBytes: Buffer.byteLength(withUpgrade.templateBody),
        stackSetWithUpgradeCode: codeForm(withUpgrade.templateBody),
        upgradeStandaloneBytes: Buffer.byteLength(JSON.stringify(assembly.getStackByName('BenchUpgrade').template)),
      } : {}),
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const srcDir = process.argv[2];
  if (!srcDir) {
    throw new Error('usage: ts-node bench/template-sizes.ts <path to a src directory>');
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.stdout.write(JSON.stringify(templateSizes(require(path.resolve(srcDir)))));
}
