/**
 * The example app: one stack that requires IMDSv2 on every new instance of the
 * account and Region it is deployed to, and refuses launches that would allow IMDSv1.
 *
 *   npx projen example   # synthesizes to cdk.out/ and summarizes the template
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnOutput, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import { ImdsAccountDefaults, ImdsHttpTokens, ImdsHttpTokensEnforced } from '../src';

const app = new App({ outdir: path.join(__dirname, '..', 'cdk.out') });
const stack = new Stack(app, 'ImdsDefaultsExample', {
  // No BootstrapVersion parameter or rule: the template deploys on its own, also as a StackSet.
  synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
  description: 'Requires IMDSv2 for new EC2 instances in this account and Region (cdk-imds-account-defaults example)',
});

const imds = new ImdsAccountDefaults(stack, 'ImdsDefaults', {
  httpTokens: ImdsHttpTokens.REQUIRED,
  httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
  httpPutResponseHopLimit: 2,
});

new CfnOutput(stack, 'EffectiveHttpTokens', { value: imds.effectiveHttpTokens });

const assembly = app.synth();

// Summarize what was synthesized, so the command shows the deployable result.
const artifact = assembly.getStackByName(stack.stackName);
const templatePath = path.join(assembly.directory, artifact.templateFile);
const template = artifact.template as { Resources: Record<string, { Type: string }> };
const sent = JSON.stringify(template);
console.log(`Template: ${path.relative(process.cwd(), templatePath)}`);
console.log(`Size as sent (minified JSON): ${Buffer.byteLength(sent)} bytes (TemplateBody limit: 51200)`);
console.log(`File assets: ${artifact.assets.length}`);
console.log('Resources:');
for (const [logicalId, resource] of Object.entries(template.Resources)) {
  console.log(`  ${logicalId.padEnd(44)} ${resource.Type}`);
}
if (!fs.existsSync(templatePath) || artifact.assets.length > 0 || 'Parameters' in template) {
  throw new Error('the example template must exist, with no file assets and no parameters');
}
