import { App, CfnParameter, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  ImdsAccountDefaults,
  ImdsAccountDefaultsStackSet,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsInstanceUpgrade,
  ImdsServiceControlPolicy,
  ImdsServiceControlPolicyProps,
  ImdsStackSetTarget,
} from '../src';
import { MEMBER_ACCOUNT, SimulatedRequest, resolveIntrinsics, simulate } from './support/iam-simulator';
import { CLAIMS_PATH, UPGRADE_CLAIM_PATH, UPGRADE_RECORD_TAGS } from '../src/private/properties';
import { LIBRARY_PARAMETER_ARN, LIBRARY_TAG_KEYS, SCP_CONTENT_MAX_CHARS } from '../src/private/scp-document';

const ROLE_PATH = '/imds/';
/** Every statement, with a break-glass principal. */
const FULL_PROPS: ImdsServiceControlPolicyProps = {
  rolePath: '/imds/', breakGlassPrincipalArns: ['arn:aws:iam::*:role/BreakGlass'], httpTokens: ImdsHttpTokens.REQUIRED, denyImdsv1Credentials: true,
};
const LIBRARY_ROLE = `arn:aws:iam::${MEMBER_ACCOUNT}:role/imds/Stack-ImdsRole1234-ABCDEF`;
const ADMIN = `arn:aws:iam::${MEMBER_ACCOUNT}:role/Admin`;
const BREAK_GLASS = 'arn:aws:iam::*:role/BreakGlass';
const INSTANCE = `arn:aws:ec2:eu-west-1:${MEMBER_ACCOUNT}:instance/i-0123456789abcdef0`;

function synth(props: ImdsServiceControlPolicyProps) {
  const app = new App();
  const stack = new Stack(app, 'Org');
  const scp = new ImdsServiceControlPolicy(stack, 'Scp', props);
  return { app, stack, scp, template: Template.fromStack(stack) };
}

function policyProperties(template: Template): Record<string, any> {
  return Object.values(template.findResources('AWS::Organizations::Policy'))[0].Properties;
}

/** The document as deployed (the template's Content), evaluated by the simulator. */
function deployedDocument(props: ImdsServiceControlPolicyProps): object {
  return policyProperties(synth(props).template).Content;
}

describe('ImdsServiceControlPolicy: the resource', () => {
  test('an SCP attached to the targets, with the document as a JSON object', () => {
    const { template, scp } = synth({ rolePath: ROLE_PATH, targetIds: ['r-abcd', 'ou-abcd-12345678', '123456789012'] });
    const props = policyProperties(template);
    expect(props.Type).toBe('SERVICE_CONTROL_POLICY');
    expect(props.TargetIds).toEqual(['r-abcd', 'ou-abcd-12345678', '123456789012']);
    expect(props.Description).toBe('IMDS guardrails (cdk-imds-account-defaults)');
    expect(typeof props.Name).toBe('string');
    expect(JSON.stringify(props.Content)).toBe(scp.content);
    expect(scp.rolePath).toBe(ROLE_PATH);
  });

  test('name and description as given; not attached without targetIds', () => {
    const props = policyProperties(synth({ rolePath: ROLE_PATH, policyName: 'imds-guardrails', description: 'd' }).template);
    expect(props.Name).toBe('imds-guardrails');
    expect(props.Description).toBe('d');
    expect(props.TargetIds).toBeUndefined();
  });

  test('the shape of the document: one statement per guardrail, conditions on aws:PrincipalArn, no Principal', () => {
    const doc = deployedDocument(FULL_PROPS) as any;
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement.map((s: any) => [s.Sid, s.Effect, s.Action, s.Resource])).toEqual([
      ['DenyImdsDefaultsChanges', 'Deny', 'ec2:ModifyInstanceMetadataDefaults', '*'],
      ['DenyLaunchWithoutImdsv2', 'Deny', 'ec2:RunInstances', 'arn:*:ec2:*:*:instance/*'],
      ['DenyImdsv1OptIn', 'Deny', 'ec2:ModifyInstanceMetadataOptions', 'arn:*:ec2:*:*:instance/*'],
      ['DenyImdsv1RoleCredentials', 'Deny', '*', '*'],
      ['DenyImdsLibraryParameterChanges', 'Deny',
        ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:DeleteParameters', 'ssm:LabelParameterVersion', 'ssm:UnlabelParameterVersion'],
        'arn:*:ssm:*:*:parameter/cdk-imds-account-defaults/*'],
      ['DenyImdsRecordTagChanges', 'Deny', ['ec2:CreateTags', 'ec2:DeleteTags'], 'arn:*:ec2:*:*:instance/*'],
      ['DenyImdsRecordTagDeleteAll', 'Deny', 'ec2:DeleteTags', 'arn:*:ec2:*:*:instance/*'],
    ]);
    for (const s of doc.Statement) {
      expect(s.Principal).toBeUndefined();
      expect(s.NotPrincipal).toBeUndefined();
    }
    expect(doc.Statement[0].Condition).toEqual({ ArnNotLike: { 'aws:PrincipalArn': ['arn:*:iam::*:role/imds/*', BREAK_GLASS] } });
    expect(doc.Statement[1].Condition).toEqual({ StringNotEquals: { 'ec2:MetadataHttpTokens': 'required' }, ArnNotLike: { 'aws:PrincipalArn': [BREAK_GLASS] } });
    expect(doc.Statement[2].Condition).toEqual({
      StringNotEquals: { 'ec2:Attribute/HttpTokens': 'required' },
      Null: { 'ec2:Attribute/HttpTokens': 'false' },
      ArnNotLike: { 'aws:PrincipalArn': ['arn:*:iam::*:role/imds/*', BREAK_GLASS] },
    });
    expect(doc.Statement[3].Condition).toEqual({ NumericLessThan: { 'ec2:RoleDelivery': '2.0' } });
    const libraryAndBreakGlass = { ArnNotLike: { 'aws:PrincipalArn': ['arn:*:iam::*:role/imds/*', BREAK_GLASS] } };
    expect(doc.Statement[4].Condition).toEqual(libraryAndBreakGlass);
    expect(doc.Statement[5].Condition).toEqual({ 'ForAnyValue:StringLike': { 'aws:TagKeys': ['cdk-imds-account-defaults:*'] }, ...libraryAndBreakGlass });
    expect(doc.Statement[6].Condition).toEqual({ Null: { 'aws:TagKeys': 'true' }, ...libraryAndBreakGlass });
  });

  test('the protected parameter path and tag keys cover every record the functions keep', () => {
    for (const parameterPath of [CLAIMS_PATH, UPGRADE_CLAIM_PATH]) {
      expect(`arn:aws:ssm:eu-west-1:111122223333:parameter${parameterPath}/x`).toMatch(new RegExp(`^${LIBRARY_PARAMETER_ARN.replace(/\*/g, '.*')}$`));
    }
    for (const key of Object.values(UPGRADE_RECORD_TAGS)) {
      expect(key).toMatch(new RegExp(`^${LIBRARY_TAG_KEYS.replace(/\*/g, '.*')}$`));
    }
  });

  test('the settings and library-state statements by default; without break-glass principals, the launch statement exempts nobody', () => {
    const minimal = deployedDocument({ rolePath: ROLE_PATH }) as any;
    expect(minimal.Statement.map((s: any) => s.Sid)).toEqual(['DenyImdsDefaultsChanges', 'DenyImdsLibraryParameterChanges', 'DenyImdsRecordTagChanges', 'DenyImdsRecordTagDeleteAll']);
    const unprotected = deployedDocument({ rolePath: ROLE_PATH, protectLibraryState: false }) as any;
    expect(unprotected.Statement.map((s: any) => s.Sid)).toEqual(['DenyImdsDefaultsChanges']);
    const required = deployedDocument({ rolePath: ROLE_PATH, httpTokens: ImdsHttpTokens.REQUIRED }) as any;
    expect(required.Statement[1].Condition.ArnNotLike).toBeUndefined();
    expect(required.Statement[2].Condition.ArnNotLike).toEqual({ 'aws:PrincipalArn': ['arn:*:iam::*:role/imds/*'] });
  });
});

describe('ImdsServiceControlPolicy: evaluated by the IAM policy simulator', () => {
  const full = deployedDocument(FULL_PROPS);
  const run = (request: SimulatedRequest, scp: object = full) => simulate({ serviceControlPolicies: [scp] }, request);

  test('the library\'s role may change the account defaults', async () => {
    await expect(run({ principalArn: LIBRARY_ROLE, action: 'ec2:ModifyInstanceMetadataDefaults' })).resolves.toBe('Allowed');
  });

  test('an administrator may not, not even with a role whose name contains the path', async () => {
    await expect(run({ principalArn: ADMIN, action: 'ec2:ModifyInstanceMetadataDefaults' })).resolves.toBe('ExplicitlyDenied');
    await expect(run({ principalArn: `arn:aws:iam::${MEMBER_ACCOUNT}:role/imds-admin`, action: 'ec2:ModifyInstanceMetadataDefaults' })).resolves.toBe('ExplicitlyDenied');
    await expect(run({ principalArn: `arn:aws:iam::${MEMBER_ACCOUNT}:user/imds/alice`, action: 'ec2:ModifyInstanceMetadataDefaults' })).resolves.toBe('ExplicitlyDenied');
  });

  test('a break-glass principal may, in any account', async () => {
    await expect(run({ principalArn: `arn:aws:iam::${MEMBER_ACCOUNT}:role/BreakGlass`, action: 'ec2:ModifyInstanceMetadataDefaults' })).resolves.toBe('Allowed');
    await expect(run({ principalArn: ADMIN, action: 'ec2:ModifyInstanceMetadataDefaults' }, deployedDocument({ rolePath: ROLE_PATH, breakGlassPrincipalArns: [ADMIN] })))
      .resolves.toBe('Allowed');
  });

  test('RunInstances of an instance that allows IMDSv1 is denied, one that requires IMDSv2 allowed', async () => {
    await expect(run({ principalArn: ADMIN, action: 'ec2:RunInstances', resource: INSTANCE, context: { 'ec2:MetadataHttpTokens': 'optional' } })).resolves.toBe('ExplicitlyDenied');
    await expect(run({ principalArn: ADMIN, action: 'ec2:RunInstances', resource: INSTANCE, context: { 'ec2:MetadataHttpTokens': 'required' } })).resolves.toBe('Allowed');
  });

  test('ModifyInstanceMetadataOptions to optional is denied; to required, or without HttpTokens, allowed', async () => {
    const modify = (context: Record<string, string>) => run({ principalArn: ADMIN, action: 'ec2:ModifyInstanceMetadataOptions', resource: INSTANCE, context });
    await expect(modify({ 'ec2:Attribute/HttpTokens': 'optional' })).resolves.toBe('ExplicitlyDenied');
    await expect(modify({ 'ec2:Attribute/HttpTokens': 'required' })).resolves.toBe('Allowed');
    await expect(modify({ 'ec2:Attribute/HttpPutResponseHopLimit': '2' })).resolves.toBe('Allowed');
  });

  test('the library\'s roles may put an instance back to optional (ImdsInstanceUpgrade\'s RESTORE_OPTIONAL), but not launch one', async () => {
    await expect(run({ principalArn: LIBRARY_ROLE, action: 'ec2:ModifyInstanceMetadataOptions', resource: INSTANCE, context: { 'ec2:Attribute/HttpTokens': 'optional' } }))
      .resolves.toBe('Allowed');
    await expect(run({ principalArn: LIBRARY_ROLE, action: 'ec2:RunInstances', resource: INSTANCE, context: { 'ec2:MetadataHttpTokens': 'optional' } }))
      .resolves.toBe('ExplicitlyDenied');
  });

  test('the break-glass principal may still launch and modify instances that allow IMDSv1', async () => {
    const breakGlass = `arn:aws:iam::${MEMBER_ACCOUNT}:role/BreakGlass`;
    await expect(run({ principalArn: breakGlass, action: 'ec2:RunInstances', resource: INSTANCE, context: { 'ec2:MetadataHttpTokens': 'optional' } })).resolves.toBe('Allowed');
    await expect(run({ principalArn: breakGlass, action: 'ec2:ModifyInstanceMetadataOptions', resource: INSTANCE, context: { 'ec2:Attribute/HttpTokens': 'optional' } })).resolves.toBe('Allowed');
  });

  test('without httpTokens, launches and instance options are not restricted', async () => {
    const minimal = deployedDocument({ rolePath: ROLE_PATH });
    await expect(run({ principalArn: ADMIN, action: 'ec2:RunInstances', resource: INSTANCE, context: { 'ec2:MetadataHttpTokens': 'optional' } }, minimal)).resolves.toBe('Allowed');
  });

  test('calls made with credentials delivered over IMDSv1 are denied, over IMDSv2 allowed', async () => {
    const instanceRole = `arn:aws:iam::${MEMBER_ACCOUNT}:role/AppServer`;
    await expect(run({ principalArn: instanceRole, action: 's3:ListAllMyBuckets', context: { 'ec2:RoleDelivery': '1.0' } })).resolves.toBe('ExplicitlyDenied');
    await expect(run({ principalArn: instanceRole, action: 'ec2:DescribeInstances', context: { 'ec2:RoleDelivery': '1.0' } })).resolves.toBe('ExplicitlyDenied');
    await expect(run({ principalArn: instanceRole, action: 's3:ListAllMyBuckets', context: { 'ec2:RoleDelivery': '2.0' } })).resolves.toBe('Allowed');
    // Credentials that did not come from an instance carry no ec2:RoleDelivery.
    await expect(run({ principalArn: instanceRole, action: 's3:ListAllMyBuckets' })).resolves.toBe('Allowed');
    // Off by default.
    await expect(run({ principalArn: instanceRole, action: 's3:ListAllMyBuckets', context: { 'ec2:RoleDelivery': '1.0' } }, deployedDocument({ rolePath: ROLE_PATH })))
      .resolves.toBe('Allowed');
  });
});

describe('ImdsServiceControlPolicy: the library\'s records, evaluated by the IAM policy simulator', () => {
  const full = deployedDocument(FULL_PROPS);
  const run = (request: SimulatedRequest, scp: object = full) => simulate({ serviceControlPolicies: [scp] }, request);
  const claim = `arn:aws:ssm:eu-west-1:${MEMBER_ACCOUNT}:parameter/cdk-imds-account-defaults/claims/stack-Resource`;
  const tagKeys = (keys: string[]) => ({ 'aws:TagKeys': keys });

  test('only the library\'s roles and break-glass principals may write or delete a claim', async () => {
    for (const action of ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:LabelParameterVersion']) {
      await expect(run({ principalArn: LIBRARY_ROLE, action, resource: claim })).resolves.toBe('Allowed');
      await expect(run({ principalArn: `arn:aws:iam::${MEMBER_ACCOUNT}:role/BreakGlass`, action, resource: claim })).resolves.toBe('Allowed');
      await expect(run({ principalArn: ADMIN, action, resource: claim })).resolves.toBe('ExplicitlyDenied');
    }
    // Reading stays open, and other parameters are not affected.
    await expect(run({ principalArn: ADMIN, action: 'ssm:GetParametersByPath', resource: `arn:aws:ssm:eu-west-1:${MEMBER_ACCOUNT}:parameter/cdk-imds-account-defaults/claims` })).resolves.toBe('Allowed');
    await expect(run({ principalArn: ADMIN, action: 'ssm:PutParameter', resource: `arn:aws:ssm:eu-west-1:${MEMBER_ACCOUNT}:parameter/app/config` })).resolves.toBe('Allowed');
    await expect(run({ principalArn: ADMIN, action: 'ssm:PutParameter', resource: claim }, deployedDocument({ rolePath: ROLE_PATH, protectLibraryState: false }))).resolves.toBe('Allowed');
  });

  test('only the library\'s roles and break-glass principals may write or remove a record tag on an instance', async () => {
    const upgradedAt = tagKeys(['Name', 'cdk-imds-account-defaults:upgraded-at']);
    await expect(run({ principalArn: LIBRARY_ROLE, action: 'ec2:CreateTags', resource: INSTANCE, context: upgradedAt })).resolves.toBe('Allowed');
    await expect(run({ principalArn: ADMIN, action: 'ec2:CreateTags', resource: INSTANCE, context: upgradedAt })).resolves.toBe('ExplicitlyDenied');
    await expect(run({ principalArn: ADMIN, action: 'ec2:DeleteTags', resource: INSTANCE, context: tagKeys(['cdk-imds-account-defaults:restored-at']) })).resolves.toBe('ExplicitlyDenied');
    // Other tags stay free; a DeleteTags without keys (every tag) is kept to the same principals.
    await expect(run({ principalArn: ADMIN, action: 'ec2:CreateTags', resource: INSTANCE, context: tagKeys(['Name', 'imds-keep-v1']) })).resolves.toBe('Allowed');
    await expect(run({ principalArn: ADMIN, action: 'ec2:DeleteTags', resource: INSTANCE, context: tagKeys(['Name']) })).resolves.toBe('Allowed');
    await expect(run({ principalArn: ADMIN, action: 'ec2:DeleteTags', resource: INSTANCE })).resolves.toBe('ExplicitlyDenied');
    await expect(run({ principalArn: LIBRARY_ROLE, action: 'ec2:DeleteTags', resource: INSTANCE })).resolves.toBe('Allowed');
  });
});

describe('ImdsAccountDefaults\' own IAM, evaluated by the IAM policy simulator', () => {
  const env = { account: MEMBER_ACCOUNT, region: 'eu-west-1' };
  const app = new App();
  const stack = new Stack(app, 'Stack', { env });
  const imds = new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, rolePath: ROLE_PATH });
  const template = Template.fromStack(stack);
  const roleLogicalId = stack.getLogicalId((imds.role as iam.Role).node.defaultChild as iam.CfnRole);
  const identityPolicies = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleLogicalId))
    .map((p) => resolveIntrinsics(p.Properties.PolicyDocument, env));
  const scp = deployedDocument({ rolePath: ROLE_PATH, httpTokens: ImdsHttpTokens.REQUIRED });
  const inRegion = (region: string) => ({ principalArn: LIBRARY_ROLE, action: 'ec2:ModifyInstanceMetadataDefaults', context: { 'aws:RequestedRegion': region } });

  test('the function\'s policy is found', () => {
    expect(identityPolicies.length).toBeGreaterThan(0);
  });

  test('EC2 writes in the stack\'s Region are allowed, outside it denied', async () => {
    await expect(simulate({ identityPolicies }, inRegion('eu-west-1'))).resolves.toBe('Allowed');
    await expect(simulate({ identityPolicies }, inRegion('us-east-1'))).resolves.toBe('ImplicitlyDenied');
  });

  test('the service control policy leaves the function\'s writes alone', async () => {
    await expect(simulate({ identityPolicies, serviceControlPolicies: [scp] }, inRegion('eu-west-1'))).resolves.toBe('Allowed');
  });
});

describe('ImdsServiceControlPolicy: coherence with the library\'s constructs in the app', () => {
  const TARGET = ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1'] });

  function app(build: (org: Stack, member: Stack) => void) {
    const a = new App();
    const org = new Stack(a, 'Org', { env: { account: '123456789012', region: 'us-east-1' } });
    const member = new Stack(a, 'Member');
    new ImdsServiceControlPolicy(org, 'Scp', { rolePath: ROLE_PATH });
    build(org, member);
    return a;
  }

  test('constructs that use the path synthesize', () => {
    const a = app((org, member) => {
      new ImdsAccountDefaults(member, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, rolePath: ROLE_PATH });
      new ImdsInstanceUpgrade(member, 'Upgrade', { rolePath: ROLE_PATH });
      const stackSet = new ImdsAccountDefaultsStackSet(org, 'StackSet', { target: TARGET, httpTokens: ImdsHttpTokens.REQUIRED, rolePath: ROLE_PATH });
      stackSet.addManagementAccount(org);
    });
    expect(() => a.synth()).not.toThrow();
  });

  test('an ImdsAccountDefaults with another path is an error naming both paths and the construct', () => {
    const a = app((_org, member) => new ImdsAccountDefaults(member, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED }));
    expect(() => a.synth()).toThrow(/ImdsAccountDefaults Member\/Imds gives its function's role the IAM path "\/", but the service control policy Org\/Scp exempts only roles under its rolePath "\/imds\/"/);
  });

  test('an ImdsInstanceUpgrade with another path is an error', () => {
    const a = app((_org, member) => new ImdsInstanceUpgrade(member, 'Upgrade', { rolePath: '/other/' }));
    expect(() => a.synth()).toThrow(/ImdsInstanceUpgrade Member\/Upgrade gives its function's role the IAM path "\/other\/"/);
  });

  test('a StackSet whose embedded template uses another path is an error', () => {
    const a = app((org) => new ImdsAccountDefaultsStackSet(org, 'StackSet', { target: TARGET, httpTokens: ImdsHttpTokens.REQUIRED, rolePath: '/other/' }));
    expect(() => a.synth()).toThrow(/ImdsAccountDefaultsStackSet Org\/StackSet gives the functions' roles in its member accounts the IAM path "\/other\/"/);
  });

  test('what addManagementAccount adds is checked too', () => {
    const a = app((org) => {
      const stackSet = new ImdsAccountDefaultsStackSet(org, 'StackSet', { target: TARGET, httpTokens: ImdsHttpTokens.REQUIRED });
      stackSet.addManagementAccount(new Stack(org.node.scope as App, 'Management'));
    });
    expect(() => a.synth()).toThrow(/ImdsAccountDefaults Management\/ImdsAccountDefaults gives its function's role the IAM path "\/"/);
  });

  test('a role path that is a token is not compared', () => {
    const a = app((_org, member) => new ImdsAccountDefaults(member, 'Imds', {
      httpTokens: ImdsHttpTokens.REQUIRED, rolePath: new CfnParameter(member, 'Path').valueAsString,
    }));
    expect(() => a.synth()).not.toThrow();
  });
});

describe('ImdsServiceControlPolicy: errors', () => {
  test.each([
    ['missing', undefined, /rolePath is required/],
    ['"/"', '/', /rolePath "\/" would exempt every role/],
    ['not a path', 'imds', /rolePath must be "\/" or a path that starts and ends with "\/"/],
    ['a wildcard', '/imds*/', /rolePath must not hold the wildcards \* or \?.*; got "\/imds\*\/"/],
  ])('rolePath %s', (_name, rolePath, error) => {
    expect(() => synth({ rolePath: rolePath as string })).toThrow(error);
  });

  test('rolePath as a token', () => {
    const stack = new Stack(new App(), 'Org');
    expect(() => new ImdsServiceControlPolicy(stack, 'Scp', { rolePath: new CfnParameter(stack, 'P').valueAsString }))
      .toThrow(/\[Org\/Scp\] rolePath is a token/);
  });

  test.each([
    [[], /targetIds is empty/],
    [['o-abcdefghij'], /targetIds must hold only a root id/],
    [['r-abcd', 'r-abcd'], /targetIds lists "r-abcd" more than once/],
  ])('targetIds %j', (targetIds, error) => {
    expect(() => synth({ rolePath: ROLE_PATH, targetIds })).toThrow(error);
  });

  test.each([
    [[], /breakGlassPrincipalArns is empty/],
    [['BreakGlass'], /breakGlassPrincipalArns must hold only IAM role or user ARNs/],
    [['arn:aws:sts::123456789012:assumed-role/BreakGlass/me'], /breakGlassPrincipalArns takes role ARNs .* not sts assumed-role ARNs/],
    [[BREAK_GLASS, BREAK_GLASS], /breakGlassPrincipalArns lists "arn:aws:iam::\*:role\/BreakGlass" more than once/],
  ])('breakGlassPrincipalArns %j', (breakGlassPrincipalArns, error) => {
    expect(() => synth({ rolePath: ROLE_PATH, breakGlassPrincipalArns })).toThrow(error);
  });

  test('breakGlassPrincipalArns with a token', () => {
    const stack = new Stack(new App(), 'Org');
    expect(() => new ImdsServiceControlPolicy(stack, 'Scp', { rolePath: ROLE_PATH, breakGlassPrincipalArns: [new CfnParameter(stack, 'P').valueAsString] }))
      .toThrow(/breakGlassPrincipalArns must be known at synth time/);
  });

  test.each([ImdsHttpTokens.OPTIONAL, ImdsHttpTokens.NO_PREFERENCE, 'nope'])('httpTokens %s', (httpTokens) => {
    expect(() => synth({ rolePath: ROLE_PATH, httpTokens: httpTokens as ImdsHttpTokens }))
      .toThrow(new RegExp(`httpTokens must be ImdsHttpTokens.REQUIRED .*; got "${httpTokens}"`));
  });

  test('denyImdsv1Credentials not a boolean', () => {
    expect(() => synth({ rolePath: ROLE_PATH, denyImdsv1Credentials: 'yes' as unknown as boolean })).toThrow(/denyImdsv1Credentials must be true or false.*; got "yes"/);
  });

  test('protectLibraryState not a boolean', () => {
    expect(() => synth({ rolePath: ROLE_PATH, protectLibraryState: 'no' as unknown as boolean })).toThrow(/protectLibraryState must be true or false.*; got "no"/);
  });

  test('policyName', () => {
    expect(() => synth({ rolePath: ROLE_PATH, policyName: '' })).toThrow(/policyName must be 1 to 128 printable ASCII characters; got ""/);
  });

  test('the size limit: a document over 5,120 characters names the limit and its size', () => {
    const many = Array.from({ length: 60 }, (_, i) => `arn:aws:iam::*:role/break-glass/BreakGlassOperatorNumber${i}`);
    expect(() => synth({ rolePath: ROLE_PATH, httpTokens: ImdsHttpTokens.REQUIRED, breakGlassPrincipalArns: many }))
      .toThrow(/\[Org\/Scp\] the policy document is \d+ characters as minified JSON, over the 5120-character limit of a service control policy/);
  });

  test('the largest realistic document stays well under the limit', () => {
    const { scp } = synth({
      rolePath: '/platform/imds-account-defaults/',
      httpTokens: ImdsHttpTokens.REQUIRED,
      denyImdsv1Credentials: true,
      breakGlassPrincipalArns: ['arn:aws:iam::*:role/BreakGlass', 'arn:aws:iam::*:role/OrganizationAccountAccessRole'],
    });
    expect(scp.content.length).toBeLessThan(SCP_CONTENT_MAX_CHARS / 2);
  });
});
