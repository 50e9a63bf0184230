import { App, CfnParameter, Stack, Token, aws_organizations as organizations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import {
  ImdsDeclarativePolicy,
  ImdsDeclarativePolicyProps,
  ImdsHttpEndpoint,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsInstanceMetadataTags,
} from '../src';

function synth(props: ImdsDeclarativePolicyProps) {
  const app = new App();
  const stack = new Stack(app, 'Org');
  const policy = new ImdsDeclarativePolicy(stack, 'ImdsPolicy', props);
  return { app, stack, policy, template: Template.fromStack(stack) };
}

function policyProperties(template: Template): Record<string, any> {
  return Object.values(template.findResources('AWS::Organizations::Policy'))[0].Properties;
}

/**
 * The documented syntax, key by key, from the AWS Organizations User Guide,
 * "Declarative policy syntax and examples" → "Instance Metadata Defaults"
 * (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_declarative_syntax.html):
 * every document starts with `ec2_attributes`; `exception_message` sits directly
 * under it; the instance metadata block is `instance_metadata_defaults`; each
 * value is set with `@@assign`.
 */
const DOCUMENTED = {
  serviceKey: 'ec2_attributes',
  attributeKey: 'instance_metadata_defaults',
  exceptionMessageKey: 'exception_message',
  keys: {
    http_tokens: ['no_preference', 'required', 'optional'],
    http_endpoint: ['no_preference', 'enabled', 'disabled'],
    instance_metadata_tags: ['no_preference', 'enabled', 'disabled'],
  } as Record<string, string[]>,
  /** "Integer value from -1 to 64 ... To indicate no preference, specify -1"; the example gives it as a string. */
  hopLimitKey: 'http_put_response_hop_limit',
  /** The guide's example, verbatim in content. */
  example: {
    ec2_attributes: {
      instance_metadata_defaults: {
        http_tokens: { '@@assign': 'required' },
        http_put_response_hop_limit: { '@@assign': '4' },
        http_endpoint: { '@@assign': 'enabled' },
        instance_metadata_tags: { '@@assign': 'enabled' },
      },
    },
  },
};

/**
 * The child control operator, from the AWS Organizations User Guide. EC2 policies
 * are a declarative policy type whose syntax includes the inheritance operators
 * (https://docs.aws.amazon.com/organizations/latest/userguide/syntax-inheritance.html).
 * "Inheritance operators" → "Child control operators"
 * (https://docs.aws.amazon.com/organizations/latest/userguide/policy-operators.html#child-control-operators):
 * `"@@operators_allowed_for_child_policies": ["@@none"]`: child OUs and accounts
 * can't use operators in policies, which locks in the parent's values.
 * "Inheritance examples" → "Example 4: Restrict changes to child policies"
 * (https://docs.aws.amazon.com/organizations/latest/userguide/inheritance-examples.html#example-restrict-child):
 * it sits in the setting's own object, before its `@@assign`.
 */
const CHILD_CONTROL = {
  operator: '@@operators_allowed_for_child_policies',
  none: ['@@none'],
  /** Example 4's locked tag key, verbatim in form. */
  example: { '@@operators_allowed_for_child_policies': ['@@none'], '@@assign': 'Project' },
};

/**
 * NOT CONFIRMED in the user guide text we could read: `http_tokens_enforced`.
 * Source: the EC2 API change of 2026-02-24 (HttpTokensEnforced can be managed
 * organization-wide with declarative policies) and public policy examples.
 */
const UNCONFIRMED = {
  keys: { http_tokens_enforced: ['no_preference', 'enabled', 'disabled'] } as Record<string, string[]>,
};

describe('the policy', () => {
  const { template, policy, stack } = synth({
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    targetIds: ['r-abcd'],
  });
  const properties = policyProperties(template);

  test('an EC2 declarative policy attached to the targets', () => {
    template.resourceCountIs('AWS::Organizations::Policy', 1);
    expect(Object.keys(template.toJSON().Resources)).toHaveLength(1);
    expect(properties).toMatchObject({
      Type: 'DECLARATIVE_POLICY_EC2',
      TargetIds: ['r-abcd'],
      Description: 'EC2 instance metadata defaults (cdk-imds-account-defaults)',
    });
  });

  test('the content is a JSON object (CloudFormation detects drift on it), with only the given settings', () => {
    expect(properties.Content).toEqual({
      ec2_attributes: {
        instance_metadata_defaults: {
          http_tokens: { '@@assign': 'required' },
          http_tokens_enforced: { '@@assign': 'enabled' },
        },
      },
    });
    expect(JSON.parse(policy.content)).toEqual(properties.Content);
  });

  test('a deterministic name derived from the construct path', () => {
    expect(properties.Name).toMatch(/^OrgImdsPolicy[0-9A-F]{8}$/);
    expect(policyProperties(synth({ httpTokens: ImdsHttpTokens.REQUIRED }).template).Name).toBe(properties.Name);
  });

  test('exposes the policy id and ARN', () => {
    const logicalId = Object.keys(template.findResources('AWS::Organizations::Policy'))[0];
    expect(stack.getLogicalId(policy.node.defaultChild as organizations.CfnPolicy)).toBe(logicalId);
    expect(stack.resolve(policy.policyId)).toEqual({ 'Fn::GetAtt': [logicalId, 'Id'] });
    expect(stack.resolve(policy.policyArn)).toEqual({ 'Fn::GetAtt': [logicalId, 'Arn'] });
  });

  test('the L1 CfnPolicy is the construct\'s node.defaultChild (id Resource), as in aws-cdk-lib; there is no resource attribute', () => {
    const cfnPolicy = policy.node.defaultChild;
    expect(cfnPolicy).toBeInstanceOf(organizations.CfnPolicy);
    expect(cfnPolicy!.node.id).toBe('Resource');
    expect((cfnPolicy as organizations.CfnPolicy).type).toBe('DECLARATIVE_POLICY_EC2');
    expect(policy.node.children).toEqual([cfnPolicy]);
    expect((policy as any).resource).toBeUndefined();
  });

  test('the L1 escape hatch reaches the template (e.g. tags, or an override)', () => {
    const tagged = new Stack(new App(), 'Org');
    const imdsPolicy = new ImdsDeclarativePolicy(tagged, 'ImdsPolicy', { httpTokens: ImdsHttpTokens.REQUIRED });
    const cfnPolicy = imdsPolicy.node.defaultChild as organizations.CfnPolicy;
    cfnPolicy.tags.setTag('team', 'platform');
    cfnPolicy.addPropertyOverride('Description', 'overridden');
    const overridden = policyProperties(Template.fromStack(tagged));
    expect(overridden.Tags).toEqual([{ Key: 'team', Value: 'platform' }]);
    expect(overridden.Description).toBe('overridden');
  });

  test('snapshot', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });
});

describe('the document against the documented syntax, key by key', () => {
  const contentOf = (props: ImdsDeclarativePolicyProps) => policyProperties(synth(props).template).Content;

  test('reproduces the user guide\'s example exactly', () => {
    expect(contentOf({
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 4,
      httpEndpoint: ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: ImdsInstanceMetadataTags.ENABLED,
    })).toEqual(DOCUMENTED.example);
  });

  test('starts with ec2_attributes and holds only instance_metadata_defaults and exception_message', () => {
    const content = contentOf({ httpTokens: ImdsHttpTokens.REQUIRED, exceptionMessage: 'See https://wiki.example.com/imdsv2' });
    expect(Object.keys(content)).toEqual([DOCUMENTED.serviceKey]);
    expect(Object.keys(content.ec2_attributes).sort()).toEqual([DOCUMENTED.attributeKey, DOCUMENTED.exceptionMessageKey].sort());
    expect(content.ec2_attributes.exception_message).toEqual({ '@@assign': 'See https://wiki.example.com/imdsv2' });
  });

  const cases: Array<[keyof ImdsDeclarativePolicyProps, string, Record<string, string>]> = [
    ['httpTokens', 'http_tokens', ImdsHttpTokens],
    ['httpEndpoint', 'http_endpoint', ImdsHttpEndpoint],
    ['instanceMetadataTags', 'instance_metadata_tags', ImdsInstanceMetadataTags],
    ['httpTokensEnforced', 'http_tokens_enforced', ImdsHttpTokensEnforced],
  ];
  test.each(cases)('%s → %s: every enum value maps to a documented policy value', (prop, key, values) => {
    const allowed = DOCUMENTED.keys[key] ?? UNCONFIRMED.keys[key];
    expect(allowed).toBeDefined();
    for (const value of Object.values(values)) {
      const defaults = contentOf({ [prop]: value }).ec2_attributes.instance_metadata_defaults;
      expect(Object.keys(defaults)).toEqual([key]);
      expect(Object.keys(defaults[key])).toEqual(['@@assign']);
      expect(allowed).toContain(defaults[key]['@@assign']);
      // Underscores in the policy, a hyphen in the API.
      expect(defaults[key]['@@assign']).toBe(value.replace('-', '_'));
    }
  });

  test('no-preference is spelled no_preference', () => {
    const defaults = contentOf({
      httpTokens: ImdsHttpTokens.NO_PREFERENCE,
      httpTokensEnforced: ImdsHttpTokensEnforced.NO_PREFERENCE,
      httpEndpoint: ImdsHttpEndpoint.NO_PREFERENCE,
      instanceMetadataTags: ImdsInstanceMetadataTags.NO_PREFERENCE,
    }).ec2_attributes.instance_metadata_defaults;
    expect(JSON.stringify(defaults)).not.toContain('no-preference');
    expect(Object.values(defaults).map((v: any) => v['@@assign'])).toEqual(['no_preference', 'no_preference', 'no_preference', 'no_preference']);
  });

  test.each([[-1, '-1'], [1, '1'], [2, '2'], [64, '64']])('http_put_response_hop_limit %d is the string %s', (hops, expected) => {
    const defaults = contentOf({ httpPutResponseHopLimit: hops }).ec2_attributes.instance_metadata_defaults;
    expect(defaults).toEqual({ [DOCUMENTED.hopLimitKey]: { '@@assign': expected } });
  });

  test('every key generated is documented, or listed as not confirmed', () => {
    const defaults = contentOf({
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
      httpPutResponseHopLimit: 2,
      httpEndpoint: ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
    }).ec2_attributes.instance_metadata_defaults;
    const documented = [...Object.keys(DOCUMENTED.keys), DOCUMENTED.hopLimitKey];
    const unconfirmed = Object.keys(defaults).filter((key) => !documented.includes(key));
    expect(unconfirmed).toEqual(Object.keys(UNCONFIRMED.keys));
  });

  test('a hop limit token is passed through as a string', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    const hops = new CfnParameter(stack, 'Hops', { type: 'Number' });
    new ImdsDeclarativePolicy(stack, 'ImdsPolicy', { httpPutResponseHopLimit: hops.valueAsNumber });
    const content = policyProperties(Template.fromStack(stack)).Content;
    expect(content.ec2_attributes.instance_metadata_defaults).toEqual({ http_put_response_hop_limit: { '@@assign': { Ref: 'Hops' } } });
  });
});

describe('lockAgainstChildPolicies', () => {
  const contentOf = (props: ImdsDeclarativePolicyProps) => policyProperties(synth(props).template).Content;
  const every = {
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
    httpEndpoint: ImdsHttpEndpoint.ENABLED,
    instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
    exceptionMessage: 'See https://wiki.example.com/imdsv2',
  };
  const locked = (value: string) => ({ '@@operators_allowed_for_child_policies': ['@@none'], '@@assign': value });

  test('without the lock (the default, or false), no child control operator: child policies may re-assign every value', () => {
    const expected = {
      ec2_attributes: {
        instance_metadata_defaults: {
          http_tokens: { '@@assign': 'required' },
          http_tokens_enforced: { '@@assign': 'enabled' },
          http_put_response_hop_limit: { '@@assign': '2' },
          http_endpoint: { '@@assign': 'enabled' },
          instance_metadata_tags: { '@@assign': 'disabled' },
        },
        exception_message: { '@@assign': 'See https://wiki.example.com/imdsv2' },
      },
    };
    expect(contentOf(every)).toEqual(expected);
    expect(contentOf({ ...every, lockAgainstChildPolicies: false })).toEqual(expected);
    expect(JSON.stringify(contentOf(every))).not.toContain(CHILD_CONTROL.operator);
  });

  test('with the lock, every setting given is locked with ["@@none"]; the exception message is not', () => {
    const { template, policy } = synth({ ...every, lockAgainstChildPolicies: true });
    const content = policyProperties(template).Content;
    expect(content).toEqual({
      ec2_attributes: {
        instance_metadata_defaults: {
          http_tokens: locked('required'),
          http_tokens_enforced: locked('enabled'),
          http_put_response_hop_limit: locked('2'),
          http_endpoint: locked('enabled'),
          instance_metadata_tags: locked('disabled'),
        },
        exception_message: { '@@assign': 'See https://wiki.example.com/imdsv2' },
      },
    });
    // The content attribute is the same document.
    expect(JSON.parse(policy.content)).toEqual(content);
  });

  const cases: Array<[keyof ImdsDeclarativePolicyProps, string, string | number, string]> = [
    ['httpTokens', 'http_tokens', ImdsHttpTokens.REQUIRED, 'required'],
    ['httpTokensEnforced', 'http_tokens_enforced', ImdsHttpTokensEnforced.NO_PREFERENCE, 'no_preference'],
    ['httpPutResponseHopLimit', 'http_put_response_hop_limit', -1, '-1'],
    ['httpEndpoint', 'http_endpoint', ImdsHttpEndpoint.DISABLED, 'disabled'],
    ['instanceMetadataTags', 'instance_metadata_tags', ImdsInstanceMetadataTags.ENABLED, 'enabled'],
  ];
  test.each(cases)('%s → %s: the operator in the setting\'s own object, before @@assign, as in the guide\'s Example 4', (prop, key, value, policyValue) => {
    const content = contentOf({ [prop]: value, lockAgainstChildPolicies: true });
    // Only the setting given: the lock adds no key, and no operator on instance_metadata_defaults or ec2_attributes.
    expect(content).toEqual({ ec2_attributes: { instance_metadata_defaults: { [key]: locked(policyValue) } } });
    const entry = content.ec2_attributes.instance_metadata_defaults[key];
    expect(Object.keys(entry)).toEqual(Object.keys(CHILD_CONTROL.example));
    expect(entry[CHILD_CONTROL.operator]).toEqual(CHILD_CONTROL.none);
    expect(Object.keys(content.ec2_attributes)).toEqual(['instance_metadata_defaults']);
    expect(Object.keys(content)).toEqual(['ec2_attributes']);
  });

  test('a hop limit token is locked too', () => {
    const stack = new Stack(new App(), 'Org');
    const hops = new CfnParameter(stack, 'Hops', { type: 'Number' });
    const policy = new ImdsDeclarativePolicy(stack, 'ImdsPolicy', { httpPutResponseHopLimit: hops.valueAsNumber, lockAgainstChildPolicies: true });
    const content = policyProperties(Template.fromStack(stack)).Content;
    expect(content.ec2_attributes.instance_metadata_defaults).toEqual({
      http_put_response_hop_limit: { '@@operators_allowed_for_child_policies': ['@@none'], '@@assign': { Ref: 'Hops' } },
    });
    expect(stack.resolve(policy.content)).toEqual({
      'Fn::Join': ['', ['{"ec2_attributes":{"instance_metadata_defaults":{"http_put_response_hop_limit":{"@@operators_allowed_for_child_policies":["@@none"],"@@assign":"', { Ref: 'Hops' }, '"}}}}']],
    });
  });

  describe('the 10,000-character limit counts the operators', () => {
    // The document for httpTokens and a message of n characters, built by hand from the documented syntax.
    const documentLength = (n: number, lock: boolean) => JSON.stringify({
      ec2_attributes: {
        instance_metadata_defaults: { http_tokens: lock ? locked('required') : { '@@assign': 'required' } },
        exception_message: { '@@assign': 'x'.repeat(n) },
      },
    }).length;
    const fits = 10_000 - documentLength(0, false);

    test('each locked setting adds 52 characters', () => {
      expect(documentLength(0, true) - documentLength(0, false)).toBe(52);
      const all = (lock: boolean) => JSON.stringify(contentOf({ ...every, lockAgainstChildPolicies: lock })).length;
      expect(all(true) - all(false)).toBe(5 * 52);
    });

    test('a document of exactly 10,000 characters passes; one more fails', () => {
      const { policy } = synth({ httpTokens: ImdsHttpTokens.REQUIRED, exceptionMessage: 'x'.repeat(fits) });
      expect(policy.content).toHaveLength(10_000);
      expect(() => synth({ httpTokens: ImdsHttpTokens.REQUIRED, exceptionMessage: 'x'.repeat(fits + 1) }))
        .toThrow('[Org/ImdsPolicy] the policy document is 10001 characters, over the 10000-character limit of a declarative policy; shorten exceptionMessage');
    });

    test('the same message fails with the lock, and the error says how much the lock adds', () => {
      expect(() => synth({ httpTokens: ImdsHttpTokens.REQUIRED, exceptionMessage: 'x'.repeat(fits), lockAgainstChildPolicies: true }))
        .toThrow('[Org/ImdsPolicy] the policy document is 10052 characters (lockAgainstChildPolicies adds 52 of them), over the 10000-character limit of a declarative policy; shorten exceptionMessage');
      const { policy } = synth({ httpTokens: ImdsHttpTokens.REQUIRED, exceptionMessage: 'x'.repeat(fits - 52), lockAgainstChildPolicies: true });
      expect(policy.content).toHaveLength(10_000);
    });
  });
});

describe('options', () => {
  test('name, description, no targets', () => {
    const properties = policyProperties(synth({ httpTokens: ImdsHttpTokens.REQUIRED, policyName: 'imdsv2 everywhere', description: 'IMDSv2' }).template);
    expect(properties).toMatchObject({ Name: 'imdsv2 everywhere', Description: 'IMDSv2' });
    expect(properties.TargetIds).toBeUndefined();
  });

  test('OU and account targets', () => {
    const properties = policyProperties(synth({ httpTokens: ImdsHttpTokens.REQUIRED, targetIds: ['ou-abcd-12345678', '123456789012'] }).template);
    expect(properties.TargetIds).toEqual(['ou-abcd-12345678', '123456789012']);
  });

  test('contradicting settings are warned about', () => {
    const { stack } = synth({ httpTokens: ImdsHttpTokens.OPTIONAL, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED });
    Annotations.fromStack(stack).hasWarning('/Org/ImdsPolicy', Match.stringLikeRegexp('httpTokensEnforced is ENABLED but httpTokens is OPTIONAL'));
  });
});

describe('validation', () => {
  const attempt = (props: ImdsDeclarativePolicyProps) => () => synth(props);

  test('no settings (the shared validation)', () => {
    expect(attempt({ targetIds: ['r-abcd'] })).toThrow(/^\[Org\/ImdsPolicy\] at least one setting is required/);
  });

  test('a bad hop limit (the shared validation)', () => {
    expect(attempt({ httpPutResponseHopLimit: 65 })).toThrow(/\[Org\/ImdsPolicy\] httpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got 65/);
  });

  test('a setting that is a token', () => {
    expect(attempt({ httpTokens: Token.asString({ Ref: 'Tokens' }) as ImdsHttpTokens }))
      .toThrow(/\[Org\/ImdsPolicy\] httpTokens is a token .*no_preference, not no-preference.*must be known at synth time/);
  });

  test('empty targets', () => {
    expect(attempt({ httpTokens: ImdsHttpTokens.REQUIRED, targetIds: [] })).toThrow(/\[Org\/ImdsPolicy\] targetIds is empty; leave targetIds out to create the policy without attaching it/);
  });

  test('a target that is not a root, OU or account id', () => {
    expect(attempt({ httpTokens: ImdsHttpTokens.REQUIRED, targetIds: ['o-abcdefghij'] }))
      .toThrow(/targetIds must hold only a root id \(r-…\) or an OU id \(ou-…-…\) or a 12-digit account id; got "o-abcdefghij"/);
  });

  test('a target given twice', () => {
    expect(attempt({ httpTokens: ImdsHttpTokens.REQUIRED, targetIds: ['r-abcd', 'r-abcd'] })).toThrow(/targetIds lists "r-abcd" more than once/);
  });

  test('an empty exception message', () => {
    expect(attempt({ httpTokens: ImdsHttpTokens.REQUIRED, exceptionMessage: '  ' })).toThrow(/\[Org\/ImdsPolicy\] exceptionMessage is empty/);
  });

  test('a document over the 10,000-character limit', () => {
    expect(attempt({ httpTokens: ImdsHttpTokens.REQUIRED, exceptionMessage: 'x'.repeat(10_000) }))
      .toThrow(/\[Org\/ImdsPolicy\] the policy document is \d+ characters, over the 10000-character limit of a declarative policy; shorten exceptionMessage/);
  });

  test('a policy name that is not 1 to 128 ASCII characters', () => {
    expect(attempt({ httpTokens: ImdsHttpTokens.REQUIRED, policyName: 'x'.repeat(129) })).toThrow(/policyName must be 1 to 128 printable ASCII characters/);
    expect(attempt({ httpTokens: ImdsHttpTokens.REQUIRED, policyName: 'IMDSv2 – everywhere' })).toThrow(/policyName must be 1 to 128 printable ASCII characters/);
  });

  test('nothing is created when validation fails', () => {
    const app = new App();
    const stack = new Stack(app, 'Org');
    expect(() => new ImdsDeclarativePolicy(stack, 'ImdsPolicy', { httpTokens: ImdsHttpTokens.REQUIRED, targetIds: [] })).toThrow();
    expect(stack.node.tryFindChild('ImdsPolicy')?.node.children ?? []).toHaveLength(0);
  });
});
