/**
 * Synthesizes the ImdsAccountDefaults template on its own, for embedding as a
 * StackSet's TemplateBody.
 *
 * The stack lives in a construct tree of its own (a root `Stage`, not an `App`,
 * so that neither CDK_CONTEXT_JSON nor CDK_OUTDIR from the environment reach it,
 * and without context: no path metadata, no CDKMetadata resource, aws-cdk-lib's
 * default feature flags). It uses the BootstraplessSynthesizer: no
 * BootstrapVersion parameter, no CheckBootstrapVersion rule, and any file asset
 * is refused. The assembly is written to a temporary directory that is removed
 * afterwards. The result depends only on the options and the handler bundle, so
 * two synths give byte-identical bodies.
 *
 * Every setting given is a parameter of the template (the StackSet's value its
 * default), so that a stack instance group can override it. With the readiness
 * report, the template has its outputs (REPORT_OUTPUTS); without any setting, it
 * has no ImdsAccountDefaults.
 *
 * The functions carry their plain, readable code (as in any stack) when the template
 * fits EMBEDDED_PLAIN_CODE_BUDGET_BYTES that way; otherwise the template is
 * synthesized again with the compressed loader (src/private/inline-code.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BootstraplessSynthesizer, CfnOutput, CfnParameter, Stack, Stage, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InlineCodeForm, useCompressedInlineCode } from './inline-code';
import { instanceUpgradeProps, SharedPropsSource } from './instance-upgrade-props';
import { useCompactNagMetadata } from './nag';
import {
  ALLOWED_VALUES,
  EnumSettingKey,
  HOP_LIMIT_MAX,
  HOP_LIMIT_MIN,
  HOP_LIMIT_NO_PREFERENCE,
  SettingKey,
} from './properties';
import { SETTING_PROPS } from './validate';
import { ImdsAccountDefaults, ImdsAccountDefaultsProps } from '../imds-account-defaults';
import { ImdsInstanceUpgrade } from '../imds-instance-upgrade';
import { ImdsReadinessReport, ImdsReadinessReportOptions, ImdsReadinessReportProps } from '../imds-readiness-report';
import { ImdsInstanceUpgradeOptions } from '../instance-upgrade-options';
import { ImdsSettings } from '../settings';

/** The documented limit of a StackSet's (and a stack's) TemplateBody, in bytes. */
export const TEMPLATE_BODY_MAX_BYTES = 51_200;

/**
 * The largest embedded template (minified JSON) whose functions carry their plain
 * code: 80 % of TemplateBody's limit. Above it, they carry the compressed loader.
 * The margin keeps a template that grows a little (a longer Description, a bigger
 * handler in a patch release) from hitting the hard limit, and keeps the StackSet's
 * own template, which holds this body as an escaped string, reasonably small.
 */
export const EMBEDDED_PLAIN_CODE_BUDGET_BYTES = 40_960;

/**
 * The id of the embedded stack. It is part of the logical ids of the functions'
 * Lambda permissions (aws-cdk-lib names them after the stack and the path), so it
 * is short: the embedded template has a size budget (test/targets.test.ts).
 */
export const EMBEDDED_STACK_ID = 'Imds';

/** The id of the ImdsAccountDefaults construct inside the embedded stack (its logical ids derive from it). */
export const EMBEDDED_CONSTRUCT_ID = 'ImdsAccountDefaults';

/** The id of the ImdsInstanceUpgrade construct inside the embedded stack, when the StackSet rolls it out. */
export const EMBEDDED_UPGRADE_ID = 'ImdsInstanceUpgrade';

/** The id of the ImdsReadinessReport construct inside the embedded stack, when the StackSet rolls it out. */
export const EMBEDDED_REPORT_ID = 'ImdsReadinessReport';

/**
 * The outputs of each member stack with the readiness report (output id: the
 * report's attribute): the results are readable per account and Region in the
 * stack instances (DescribeStacks, ListStackInstanceResourceDrifts aside), without logs.
 */
export const REPORT_OUTPUTS = {
  ReadinessResult: 'result',
  LaunchTemplatesAllowingImdsv1: 'launchTemplatesAllowingImdsv1Count',
  LaunchConfigurationsAllowingImdsv1: 'launchConfigurationsAllowingImdsv1Count',
  AutoScalingGroupsAllowingImdsv1: 'autoScalingGroupsAllowingImdsv1Count',
  InstancesAllowingImdsv1: 'instancesAllowingImdsv1Count',
  CurrentHttpTokens: 'currentHttpTokens',
  CurrentHttpTokensEnforced: 'currentHttpTokensEnforced',
  ManagedBy: 'managedBy',
} as const satisfies Record<string, keyof ImdsReadinessReport>;

/** Matches "-1" and the integers 1 to 64, as CloudFormation parameter text. */
export const HOP_LIMIT_PATTERN = `^(${HOP_LIMIT_NO_PREFERENCE}|[1-9]|[1-5][0-9]|6[0-4])$`;

/** What the embedded template is synthesized from. */
export interface EmbeddedTemplateOptions {
  /** The description of the embedded template. */
  readonly description: string;
  /**
   * The props of the ImdsAccountDefaults in every stack instance (already
   * validated, token-free). Each given setting becomes a template parameter
   * whose default is the given value, and the custom resource reads the parameter.
   */
  readonly accountDefaults: ImdsAccountDefaultsProps;
  /** Add an ImdsInstanceUpgrade with these options (and the role options and log retention of `accountDefaults`). */
  readonly instanceUpgrade?: ImdsInstanceUpgradeOptions;
  /** Add an ImdsReadinessReport with these options (and the role options and log retention of `accountDefaults`), and its outputs. */
  readonly readinessReport?: ImdsReadinessReportOptions;
  /**
   * Leave the ImdsAccountDefaults out: the StackSet manages no setting (it rolls
   * out the readiness report or the instance upgrade only); `accountDefaults`
   * then gives only the role options and the log retention.
   * @default false
   */
  readonly withoutAccountDefaults?: boolean;
  /**
   * The form of the functions' code. synthesizeEmbeddedTemplate chooses it (plain
   * when the template fits EMBEDDED_PLAIN_CODE_BUDGET_BYTES) and ignores this;
   * buildEmbeddedStack takes it as given.
   * @default 'plain'
   */
  readonly codeForm?: InlineCodeForm;
}

export interface EmbeddedTemplate {
  /** The template, minified JSON: what TemplateBody receives. */
  readonly body: string;
  /** The size of `body` in bytes (UTF-8). */
  readonly bytes: number;
  /** The template parameters made from settings, in order, with their default values as strings. */
  readonly parameters: ReadonlyArray<{ readonly key: SettingKey; readonly value: string }>;
  /** The form of the code the functions carry. */
  readonly codeForm: InlineCodeForm;
  /** The size in bytes the template has with plain code (equal to `bytes` when `codeForm` is 'plain'). */
  readonly plainCodeBytes: number;
}

/**
 * Synthesizes a self-contained ImdsAccountDefaults template (with
 * ImdsInstanceUpgrade, if asked for): with plain code when it fits
 * EMBEDDED_PLAIN_CODE_BUDGET_BYTES that way, else with the compressed loader.
 */
export function synthesizeEmbeddedTemplate(options: EmbeddedTemplateOptions): EmbeddedTemplate {
  const plain = synthesizeWithCode({ ...options, codeForm: 'plain' });
  if (plain.bytes <= EMBEDDED_PLAIN_CODE_BUDGET_BYTES) {
    return plain;
  }
  return { ...synthesizeWithCode({ ...options, codeForm: 'compressed' }), plainCodeBytes: plain.bytes };
}

function synthesizeWithCode(options: EmbeddedTemplateOptions & { readonly codeForm: InlineCodeForm }): EmbeddedTemplate {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-imds-stackset-'));
  try {
    const { stage, stack, parameters } = buildEmbeddedStack(options, outdir);

    const assembly = stage.synth();
    const artifact = assembly.getStackArtifact(stack.artifactId);
    // Error annotations do not fail synth by themselves (the CLI reports them): fail here.
    const errors = artifact.messages.filter((m) => m.level === 'error');
    if (errors.length > 0) {
      throw new Error(`the embedded ImdsAccountDefaults template has errors: ${errors.map((m) => String(m.entry.data)).join('; ')}`);
    }
    // No asset check needed: the BootstraplessSynthesizer throws on any file or image asset.
    const body = JSON.stringify(artifact.template);
    const bytes = Buffer.byteLength(body, 'utf8');
    return { body, bytes, parameters, codeForm: options.codeForm, plainCodeBytes: bytes };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** The construct tree behind the embedded template, not yet synthesized. */
export interface EmbeddedStack {
  /** The root of the tree. */
  readonly stage: Stage;
  /** The stack whose template is embedded. */
  readonly stack: Stack;
  /** The template parameters made from settings (see `EmbeddedTemplate.parameters`). */
  readonly parameters: ReadonlyArray<{ readonly key: SettingKey; readonly value: string }>;
}

/**
 * Builds the tree of the embedded template in a root Stage of its own, writing
 * to `outdir` when synthesized. Exported for the cdk-nag 3 check
 * (test/nag3), which runs the packs over this tree: cdk-nag 3 reads its
 * acknowledgements from the construct tree, not from the template.
 */
export function buildEmbeddedStack(options: EmbeddedTemplateOptions, outdir: string): EmbeddedStack {
  // A root Stage: `undefined` scope makes it the root of its own tree.
  const stage = new Stage(undefined as unknown as Construct, '', { outdir });
  const stack = new Stack(stage, EMBEDDED_STACK_ID, {
    synthesizer: new BootstraplessSynthesizer(),
    analyticsReporting: false,
    description: options.description,
  });
  if (options.codeForm === 'compressed') {
    useCompressedInlineCode(stack);
  }
  // The accepted cdk-nag findings in their compact form: ImdsNagAcknowledgements.ofIncludedTemplate expands them.
  useCompactNagMetadata(stack);

  // Every given setting is a parameter: a stack instance group may override it.
  const props = options.accountDefaults;
  const parameters: Array<{ key: SettingKey; value: string }> = [];
  const fromParameters: Record<string, unknown> = {};
  for (const { prop, key } of SETTING_PROPS) {
    const value = props[prop];
    if (value === undefined) {
      continue;
    }
    const param = settingParameter(stack, key, String(value));
    parameters.push({ key, value: String(value) });
    fromParameters[prop] = key === 'HttpPutResponseHopLimit' ? Token.asNumber(param.valueAsString) : param.valueAsString;
  }

  if (!options.withoutAccountDefaults) {
    new ImdsAccountDefaults(stack, EMBEDDED_CONSTRUCT_ID, { ...props, ...(fromParameters as ImdsSettings) });
  }
  if (options.instanceUpgrade !== undefined) {
    new ImdsInstanceUpgrade(stack, EMBEDDED_UPGRADE_ID, instanceUpgradeProps(options.instanceUpgrade, props));
  }
  if (options.readinessReport !== undefined) {
    const report = new ImdsReadinessReport(stack, EMBEDDED_REPORT_ID, readinessReportProps(options.readinessReport, props));
    for (const [outputId, attribute] of Object.entries(REPORT_OUTPUTS)) {
      new CfnOutput(stack, outputId, { value: Token.asString(report[attribute]) });
    }
  }
  return { stage, stack, parameters };
}

/**
 * A template parameter for one setting, named as the EC2 API names it, so that
 * CloudFormation checks a value given per stack instance before the custom
 * resource runs (the handler checks it again and writes nothing if it is bad).
 */
function settingParameter(stack: Stack, key: SettingKey, defaultValue: string): CfnParameter {
  // Short: five of these sit in every embedded template, which has a size budget.
  const description = 'IMDS account default (ModifyInstanceMetadataDefaults)';
  if (key === 'HttpPutResponseHopLimit') {
    return new CfnParameter(stack, key, {
      type: 'String',
      default: defaultValue,
      allowedPattern: HOP_LIMIT_PATTERN,
      constraintDescription: `an integer from ${HOP_LIMIT_MIN} to ${HOP_LIMIT_MAX}, or ${HOP_LIMIT_NO_PREFERENCE} for no preference`,
      description,
    });
  }
  return new CfnParameter(stack, key, {
    type: 'String',
    default: defaultValue,
    allowedValues: [...ALLOWED_VALUES[key as EnumSettingKey]],
    description,
  });
}

/**
 * ImdsReadinessReport's props: the options, with the log retention and role
 * options of `from` (the StackSet's): for the embedded template and for the
 * management account, so both get the same.
 */
export function readinessReportProps(options: ImdsReadinessReportOptions, from: SharedPropsSource): ImdsReadinessReportProps {
  return {
    // Every option as given (a new option flows through), then what comes from the StackSet.
    ...options,
    logRetention: from.logRetention,
    permissionsBoundary: from.permissionsBoundary,
    rolePath: from.rolePath,
    logGroupEncryptionKey: from.logGroupEncryptionKey,
    centralEventBusArn: from.centralEventBusArn,
  };
}
