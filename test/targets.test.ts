/**
 * The budget the library promises (README, "Benchmark"), as far as it is not a
 * timing: one Lambda function, no file assets, and the template as sent under
 * 25,600 bytes (half of CloudFormation's 51,200-byte TemplateBody limit), both
 * on its own and as the template a StackSet embeds with every option.
 * Synth time and cold start are measured by `npx projen bench`, never asserted here.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, RemovalPolicy, Stack, aws_logs as logs } from 'aws-cdk-lib';
import {
  HttpEndpoint,
  HttpTokens,
  HttpTokensEnforced,
  ImdsAccountDefaults,
  ImdsAccountDefaultsProps,
  ImdsAccountDefaultsStackSet,
  InstanceMetadataTags,
} from '../src';

/** The template size the README promises, as CloudFormation receives it (minified JSON): half the TemplateBody limit. */
const TEMPLATE_BUDGET_BYTES = 25_600;

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
