import { App, Stack, aws_lambda as lambda } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  ImdsAccountDefaults,
  ImdsAccountDefaultsStackSet,
  ImdsHttpTokens,
  ImdsInstanceUpgrade,
  ImdsSnapshot,
  ImdsStackSetTarget,
} from '../src';

const CODE = ImdsSnapshot.MASKED_CODE;
const MASKED_DESCRIPTION = /^cdk-imds-account-defaults <masked>: .+; code sha256 <masked>$/;
const functionsOf = (template: any): any[] => Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
const stackSetBody = (template: any): any => JSON.parse(Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::CloudFormation::StackSet').Properties.TemplateBody);

function synth(): any {
  const stack = new Stack(new App(), 'Stack');
  new ImdsAccountDefaults(stack, 'Defaults', { httpTokens: ImdsHttpTokens.REQUIRED });
  new ImdsInstanceUpgrade(stack, 'Upgrade');
  new ImdsAccountDefaultsStackSet(stack, 'Rollout', {
    httpTokens: ImdsHttpTokens.REQUIRED,
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] }),
    instanceUpgrade: {},
  });
  new lambda.Function(stack, 'Own', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
    description: 'cdk-imds-account-defaults lookalike: mine; code sha256 not-a-hash',
  });
  return Template.fromStack(stack).toJSON();
}

test('the code and the Description hash and version of each library function are masked, in the stack and in the embedded template', () => {
  const template = synth();
  const masked = ImdsSnapshot.maskInlineCode(template);

  const own = functionsOf(masked).filter((f) => !MASKED_DESCRIPTION.test(f.Properties.Description));
  const library = functionsOf(masked).filter((f) => MASKED_DESCRIPTION.test(f.Properties.Description));
  expect(library).toHaveLength(2);
  expect(library.map((f) => f.Properties.Code.ZipFile)).toEqual([CODE, CODE]);
  // The purpose stays readable.
  expect(library.map((f) => f.Properties.Description).join('\n')).toMatch(/: .*account.*; code sha256/i);

  const embedded = functionsOf(stackSetBody(masked));
  expect(embedded).toHaveLength(2);
  for (const fn of embedded) {
    expect(fn.Properties.Code.ZipFile).toBe(CODE);
    expect(fn.Properties.Description).toMatch(MASKED_DESCRIPTION);
  }

  // Not the library's: untouched.
  expect(own).toHaveLength(1);
  expect(own[0].Properties.Code.ZipFile).toBe('exports.handler = async () => {};');
  expect(own[0].Properties.Description).toBe('cdk-imds-account-defaults lookalike: mine; code sha256 not-a-hash');
});

test('everything else is copied unchanged, and the input is not modified', () => {
  const template = synth();
  const before = JSON.stringify(template);
  const masked = ImdsSnapshot.maskInlineCode(template);
  expect(JSON.stringify(template)).toBe(before);

  const strip = (t: any): any => {
    const copy = JSON.parse(JSON.stringify(t));
    for (const r of Object.values<any>(copy.Resources)) {
      if (r.Type === 'AWS::Lambda::Function') {
        delete r.Properties.Code;
        delete r.Properties.Description;
      }
      if (r.Type === 'AWS::CloudFormation::StackSet') {
        r.Properties.TemplateBody = strip(JSON.parse(r.Properties.TemplateBody));
      }
    }
    return copy;
  };
  expect(strip(masked)).toEqual(strip(template));
  // The embedded template is written back as minified JSON, as the library writes it.
  const body = Object.values<any>(masked.Resources).find((r) => r.Type === 'AWS::CloudFormation::StackSet').Properties.TemplateBody;
  expect(body).toBe(JSON.stringify(JSON.parse(body)));
});

test('a new release (other code, other version) gives the same masked template', () => {
  const template = synth();
  const released = JSON.parse(JSON.stringify(template));
  for (const fn of functionsOf(released).filter((f) => /code sha256 [0-9a-f]{64}$/.test(f.Properties.Description))) {
    fn.Properties.Code.ZipFile += '\n// next release';
    fn.Properties.Description = fn.Properties.Description
      .replace(/^cdk-imds-account-defaults \S+:/, 'cdk-imds-account-defaults 9.9.9:')
      .replace(/[0-9a-f]{64}$/, 'f'.repeat(64));
  }
  expect(ImdsSnapshot.maskInlineCode(released)).toEqual(ImdsSnapshot.maskInlineCode(template));
  // ... and a changed setting still shows.
  const changed = JSON.parse(JSON.stringify(template));
  const resource = Object.values<any>(changed.Resources).find((r) => r.Type === 'Custom::ImdsAccountDefaults');
  resource.Properties.HttpTokens = 'optional';
  expect(ImdsSnapshot.maskInlineCode(changed)).not.toEqual(ImdsSnapshot.maskInlineCode(template));
});

test('templates without resources, StackSets without a JSON body, and functions without inline code are left as they are', () => {
  expect(ImdsSnapshot.maskInlineCode({})).toEqual({});
  expect(ImdsSnapshot.maskInlineCode({ Resources: { A: null, B: { Type: 'AWS::Lambda::Function' } } }))
    .toEqual({ Resources: { A: null, B: { Type: 'AWS::Lambda::Function' } } });
  const stackSets = {
    Resources: {
      Url: { Type: 'AWS::CloudFormation::StackSet', Properties: { TemplateURL: 'https://example.com/t.json' } },
      Yaml: { Type: 'AWS::CloudFormation::StackSet', Properties: { TemplateBody: 'Resources: {}' } },
      List: { Type: 'AWS::CloudFormation::StackSet', Properties: { TemplateBody: ' [1] ' } },
      Null: { Type: 'AWS::CloudFormation::StackSet', Properties: { TemplateBody: 'null' } },
    },
  };
  expect(ImdsSnapshot.maskInlineCode(stackSets)).toEqual(stackSets);
  const description = `cdk-imds-account-defaults 1.2.3: purpose; code sha256 ${'a'.repeat(64)}`;
  const s3Code = { Resources: { F: { Type: 'AWS::Lambda::Function', Properties: { Description: description, Code: { S3Bucket: 'b', S3Key: 'k' } } } } };
  expect(ImdsSnapshot.maskInlineCode(s3Code)).toEqual({
    Resources: { F: { Type: 'AWS::Lambda::Function', Properties: { Description: 'cdk-imds-account-defaults <masked>: purpose; code sha256 <masked>', Code: { S3Bucket: 'b', S3Key: 'k' } } } },
  });
});

test('only values of the expected types are read: a Description or TemplateBody that is not a string, and a TemplateBody on another resource type, are left as they are', () => {
  const description = `cdk-imds-account-defaults 1.2.3: purpose; code sha256 ${'a'.repeat(64)}`;
  const fn = { Type: 'AWS::Lambda::Function', Properties: { Description: description, Code: { ZipFile: 'code' } } };
  const body = JSON.stringify({ Resources: { F: fn } });
  const template = {
    Resources: {
      ListDescription: { Type: 'AWS::Lambda::Function', Properties: { Description: [description], Code: { ZipFile: 'code' } } },
      ListBody: { Type: 'AWS::CloudFormation::StackSet', Properties: { TemplateBody: [body] } },
      OtherType: { Type: 'Custom::Template', Properties: { TemplateBody: body } },
    },
  };
  expect(ImdsSnapshot.maskInlineCode(template)).toEqual(template);
  // The same function inside a StackSet's body is masked, with the documented texts.
  const masked = ImdsSnapshot.maskInlineCode({ Resources: { S: { Type: 'AWS::CloudFormation::StackSet', Properties: { TemplateBody: body } } } });
  expect(JSON.parse(masked.Resources.S.Properties.TemplateBody).Resources.F.Properties).toEqual({
    Description: 'cdk-imds-account-defaults <masked>: purpose; code sha256 <masked>',
    Code: { ZipFile: '<cdk-imds-account-defaults inline code>' },
  });
});

test.each([
  [null, 'null'],
  ['{}', 'string'],
  [[], 'object'],
  [undefined, 'undefined'],
])('a template that is not a JSON object (%p) is an error that says what it got', (value, got) => {
  expect(() => ImdsSnapshot.maskInlineCode(value)).toThrow(`ImdsSnapshot.maskInlineCode: template must be a CloudFormation template as a JSON object (with Resources), got ${got}`);
});
