import { CfnResource, Names, Token, aws_iam as iam, aws_organizations as organizations } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { ImdsAccountDefaults } from './imds-account-defaults';
import { ImdsAccountDefaultsStackSet } from './imds-account-defaults-stack-set';
import { ImdsInstanceUpgrade } from './imds-instance-upgrade';
import { ACCOUNT, IdKind, OU, ROOT, validateIdList } from './private/organizations';
import { SCP_CONTENT_MAX_CHARS, SCP_POLICY_TYPE, ScpDocument, buildScpDocument } from './private/scp-document';
import { failer, validateRoleOptions } from './private/validate';
import { ImdsHttpTokens } from './settings';

/**
 * Properties for `ImdsServiceControlPolicy`.
 */
export interface ImdsServiceControlPolicyProps {
  /**
   * The IAM path of the library's roles: the `rolePath` given to
   * `ImdsAccountDefaults`, `ImdsInstanceUpgrade` and
   * `ImdsAccountDefaultsStackSet`. Every role under this path, in every account
   * the policy applies to, may still call `ec2:ModifyInstanceMetadataDefaults`
   * (the condition `ArnNotLike` on `aws:PrincipalArn` with
   * `arn:*:iam::*:role<rolePath>*`) and, with `httpTokens`, set an instance's
   * `HttpTokens` back to `optional` (`ImdsInstanceUpgrade`'s put-back, which its
   * own IAM policy limits to the instances it switched). It may not launch
   * instances that allow IMDSv1.
   *
   * It must start and end with `/`, be known at synth, and not be `/` (which
   * would exempt every role), nor hold the wildcards `*` or `?`. Keep the path
   * for these roles alone: whoever may create a role under it may change the
   * setting. Every one of the library's constructs in the same app must use this
   * path (checked at synth).
   *
   * There is no default: the constructs' own default, `/`, cannot be told apart
   * from every other role.
   *
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
   */
  readonly rolePath: string;

  /**
   * The root (`r-…`), organizational units (`ou-…`) or accounts (12 digits)
   * to attach the policy to. Service control policies never apply to the
   * management account.
   *
   * @default - the policy is created but not attached
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-organizations-policy.html#cfn-organizations-policy-targetids
   */
  readonly targetIds?: string[];

  /**
   * IAM principals (role or user ARNs, wildcards allowed, for example
   * `arn:aws:iam::*:role/BreakGlass`) that the policy never stops: they may
   * change the account defaults, and launch or modify instances that allow
   * IMDSv1 (with `httpTokens`). A role session's `aws:PrincipalArn` is the
   * role's ARN, so give the role, not an `sts` assumed-role ARN.
   *
   * @default - only the roles under `rolePath` may change the account defaults
   */
  readonly breakGlassPrincipalArns?: string[];

  /**
   * `ImdsHttpTokens.REQUIRED` also denies `ec2:RunInstances` of an instance
   * whose `ec2:MetadataHttpTokens` is not `required`, and
   * `ec2:ModifyInstanceMetadataOptions` that sets `HttpTokens` to anything but
   * `required` (`ec2:Attribute/HttpTokens`), as the EC2 User Guide's examples
   * do, except for the roles under `rolePath` (see there) and
   * `breakGlassPrincipalArns`. Launches that leave the metadata options out get the account default or
   * the AMI's value first, and are judged on the result. Only `REQUIRED` is
   * accepted.
   *
   * @default - launches and instance metadata options are not restricted
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html#iam-example-instance-metadata
   */
  readonly httpTokens?: ImdsHttpTokens;

  /**
   * Deny every action made with instance role credentials that were delivered
   * over IMDSv1 (`NumericLessThan` `ec2:RoleDelivery` `2.0`). Requests signed
   * with other credentials carry no `ec2:RoleDelivery` and are not affected.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html#iam-example-instance-metadata
   */
  readonly denyImdsv1Credentials?: boolean;

  /**
   * Keep what the library's functions record outside their resources to the
   * library's roles (`rolePath`) and `breakGlassPrincipalArns`: writing and deleting
   * the Parameter Store parameters under `/cdk-imds-account-defaults/` (the claims
   * that say which resource manages which field, and `ImdsInstanceUpgrade`'s interval
   * claims), and the instance tags whose keys start with `cdk-imds-account-defaults:`
   * (`ImdsInstanceUpgrade`'s records of what it switched), including a `DeleteTags`
   * that names no key (it deletes every tag).
   *
   * The functions never take a value from these records (they are checked against
   * CloudFormation), but a forged or deleted record can make a Create fail, a Delete
   * leave the settings alone, or an upgrade run count its cap wrongly.
   *
   * @default true
   */
  readonly protectLibraryState?: boolean;

  /**
   * The name of the policy (1 to 128 ASCII characters).
   *
   * @default - a name derived from the construct path
   */
  readonly policyName?: string;

  /**
   * The description of the policy.
   *
   * @default 'IMDS guardrails (cdk-imds-account-defaults)'
   */
  readonly description?: string;
}

const DEFAULT_DESCRIPTION = 'IMDS guardrails (cdk-imds-account-defaults)';
/** Policy names: 1 to 128 characters of the ASCII range (CloudFormation resource reference). */
const POLICY_NAME = /^[\x20-\x7E]{1,128}$/;
/**
 * A role or user ARN as `aws:PrincipalArn` holds it (wildcards allowed), or an account's root user.
 * `aws:PrincipalArn` of a role session is the role's ARN.
 */
const PRINCIPAL_ARN: IdKind = {
  name: 'IAM role or user ARNs (arn:aws:iam::123456789012:role/BreakGlass, wildcards allowed) or an account root (arn:aws:iam::123456789012:root)',
  pattern: /^arn:[a-z*][a-z0-9*-]*:iam::(\d{12}|[0-9*?]+):((role|user)\/[\x21-\x7E]+|root)$/,
};

/**
 * An AWS Organizations service control policy (`SERVICE_CONTROL_POLICY`) that
 * locks the instance metadata guardrails in the accounts it applies to, as the
 * last step of AWS's "Transition to using IMDSv2" guide does:
 *
 * - `ec2:ModifyInstanceMetadataDefaults` is denied to every principal but the
 *   library's roles (`rolePath`) and `breakGlassPrincipalArns`: nobody else can
 *   turn `httpTokensEnforced` off;
 * - with `httpTokens: ImdsHttpTokens.REQUIRED`, launches of instances that allow
 *   IMDSv1, and `ModifyInstanceMetadataOptions` to anything but `required`, are
 *   denied;
 * - with `denyImdsv1Credentials`, every call made with instance role
 *   credentials delivered over IMDSv1 is denied;
 * - unless `protectLibraryState` is false, the library's Parameter Store records
 *   and instance record tags may be written only by the same principals.
 *
 * The document is checked against the 5,120-character limit of a service
 * control policy at synth. Every `ImdsAccountDefaults`, `ImdsInstanceUpgrade`
 * and `ImdsAccountDefaultsStackSet` in the same app must give its roles
 * `rolePath` (a synth error otherwise), or the policy would deny their calls.
 *
 * Deploy it to the management account (or a delegated administrator for
 * Organizations policies); the organization needs all features and the SCP
 * policy type enabled on its root. Service control policies never apply to the
 * management account itself, nor to service-linked roles.
 *
 * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
 */
export class ImdsServiceControlPolicy extends Construct {
  /** The policy's id (`p-…`). */
  public readonly policyId: string;
  /** The policy's ARN. */
  public readonly policyArn: string;
  /** The policy document, as minified JSON: what Organizations stores and counts. */
  public readonly content: string;
  /** The IAM path the policy exempts. */
  public readonly rolePath: string;

  constructor(scope: Construct, id: string, props: ImdsServiceControlPolicyProps) {
    super(scope, id);
    const fail = failer(this);

    // Validation first: nothing is created until every prop has been checked.
    const rolePath = props.rolePath;
    if (rolePath === undefined || rolePath === null) {
      fail('rolePath is required: the IAM path of the library\'s roles (the rolePath given to ImdsAccountDefaults, ImdsInstanceUpgrade and ImdsAccountDefaultsStackSet), e.g. "/imds/"');
    }
    if (Token.isUnresolved(rolePath)) {
      fail(`rolePath is a token (${String(rolePath)}); it must be known at synth time, to measure the policy and to check the library's constructs against it`);
    }
    validateRoleOptions(this, { rolePath });
    if (rolePath === '/') {
      fail('rolePath "/" would exempt every role of every account (arn:*:iam::*:role/*); give the library\'s roles a path of their own, e.g. "/imds/", here and as their rolePath');
    }
    if (/[*?]/.test(rolePath)) {
      fail(`rolePath must not hold the wildcards * or ?, which would widen the exemption (ArnNotLike); got ${JSON.stringify(rolePath)}`);
    }
    if (props.targetIds !== undefined) {
      validateIdList(this, 'targetIds', props.targetIds, [ROOT, OU, ACCOUNT],
        'leave targetIds out to create the policy without attaching it');
    }
    const breakGlass = props.breakGlassPrincipalArns ?? [];
    if (Token.isUnresolved(breakGlass) || breakGlass.some((arn) => Token.isUnresolved(arn))) {
      fail('breakGlassPrincipalArns must be known at synth time (the policy\'s size is checked at synth); give the ARNs as strings');
    }
    for (const arn of breakGlass) {
      if (typeof arn === 'string' && /^arn:[^:]*:sts::/.test(arn)) {
        fail(`breakGlassPrincipalArns takes role ARNs (arn:aws:iam::123456789012:role/BreakGlass), not sts assumed-role ARNs: aws:PrincipalArn of a role session is its role's ARN; got ${JSON.stringify(arn)}`);
      }
    }
    if (props.breakGlassPrincipalArns !== undefined) {
      validateIdList(this, 'breakGlassPrincipalArns', breakGlass, [PRINCIPAL_ARN],
        'leave breakGlassPrincipalArns out when only the library\'s roles may change the setting');
    }
    if (props.httpTokens !== undefined && (Token.isUnresolved(props.httpTokens) || props.httpTokens !== ImdsHttpTokens.REQUIRED)) {
      fail(`httpTokens must be ImdsHttpTokens.REQUIRED ("required"), which adds the IMDSv2 launch and opt-out statements, or be left out; got ${JSON.stringify(props.httpTokens)}`);
    }
    if (props.denyImdsv1Credentials !== undefined && typeof props.denyImdsv1Credentials !== 'boolean') {
      fail(`denyImdsv1Credentials must be true or false, known at synth time; got ${JSON.stringify(props.denyImdsv1Credentials)}`);
    }
    if (props.protectLibraryState !== undefined && typeof props.protectLibraryState !== 'boolean') {
      fail(`protectLibraryState must be true or false, known at synth time; got ${JSON.stringify(props.protectLibraryState)}`);
    }
    if (props.policyName !== undefined && !Token.isUnresolved(props.policyName) && !POLICY_NAME.test(props.policyName)) {
      fail(`policyName must be 1 to 128 printable ASCII characters; got ${JSON.stringify(props.policyName)}`);
    }

    const document: ScpDocument = buildScpDocument({
      rolePath,
      breakGlassPrincipalArns: breakGlass,
      requireImdsv2: props.httpTokens === ImdsHttpTokens.REQUIRED,
      denyImdsv1Credentials: props.denyImdsv1Credentials ?? false,
      protectLibraryState: props.protectLibraryState ?? true,
    });
    const content = JSON.stringify(document);
    if (content.length > SCP_CONTENT_MAX_CHARS) {
      fail(`the policy document is ${content.length} characters as minified JSON, over the ${SCP_CONTENT_MAX_CHARS}-character limit of a service control policy; name fewer breakGlassPrincipalArns (a wildcard such as arn:aws:iam::*:role/BreakGlass covers every account)`);
    }
    this.content = content;
    this.rolePath = rolePath;

    // The L1 resource is this construct's `node.defaultChild` (id 'Resource'), as in aws-cdk-lib.
    const policy = new organizations.CfnPolicy(this, 'Resource', {
      name: props.policyName ?? Names.uniqueResourceName(this, { maxLength: 128 }),
      description: props.description ?? DEFAULT_DESCRIPTION,
      type: SCP_POLICY_TYPE,
      // A JSON object, not a string: CloudFormation can then detect drift.
      content: document,
      targetIds: props.targetIds,
    });
    this.policyId = policy.attrId;
    this.policyArn = policy.attrArn;

    // Coherence: once the tree is complete, every construct of the library in this app uses rolePath.
    this.node.addValidation({ validate: () => rolePathMismatches(this, rolePath) });
  }
}

/** The role paths the library's constructs in the app give their roles, and the errors for those that differ. */
function rolePathMismatches(scp: ImdsServiceControlPolicy, rolePath: string): string[] {
  const errors: string[] = [];
  const mismatch = (c: IConstruct, kind: string, what: string, path: string) => errors.push(
    `${kind} ${c.node.path} gives ${what} the IAM path ${JSON.stringify(path)}, but the service control policy ${scp.node.path} exempts only roles under its rolePath ${JSON.stringify(rolePath)}: set rolePath: ${JSON.stringify(rolePath)} on ${c.node.path}, or its calls to ec2:ModifyInstanceMetadataDefaults are denied in the accounts the policy applies to`);
  for (const c of scp.node.root.node.findAll()) {
    if (ImdsAccountDefaults.isImdsAccountDefaults(c) || ImdsInstanceUpgrade.isImdsInstanceUpgrade(c)) {
      const kind = ImdsAccountDefaults.isImdsAccountDefaults(c) ? 'ImdsAccountDefaults' : 'ImdsInstanceUpgrade';
      const path = rolePathOf(c.role);
      if (path !== undefined && path !== rolePath) {
        mismatch(c, kind, 'its function\'s role', path);
      }
    } else if (c instanceof ImdsAccountDefaultsStackSet) {
      // The member accounts' roles are in the embedded template (synthesized on its own: not in
      // this tree); read their Path as the StackSet deploys it.
      for (const path of new Set(embeddedRolePaths(c.templateBody))) {
        if (path !== rolePath) {
          mismatch(c, 'ImdsAccountDefaultsStackSet', 'the functions\' roles in its member accounts', path);
        }
      }
    }
  }
  return errors;
}

/** The Path of a role the library created (`/` when unset); undefined when it cannot be known at synth. */
function rolePathOf(role: iam.IRole): string | undefined {
  const cfn = role.node.defaultChild;
  if (cfn === undefined || !CfnResource.isCfnResource(cfn) || cfn.cfnResourceType !== iam.CfnRole.CFN_RESOURCE_TYPE_NAME) {
    return undefined;
  }
  const path = (cfn as iam.CfnRole).path;
  if (path !== undefined && Token.isUnresolved(path)) {
    return undefined;
  }
  return path ?? '/';
}

/** The Path of every role in a StackSet's template body (`/` when unset; tokens and unreadable bodies left out). */
function embeddedRolePaths(templateBody: string): string[] {
  let template: { Resources?: Record<string, { Type?: string; Properties?: { Path?: unknown } }> };
  try {
    template = JSON.parse(templateBody);
  } catch {
    return [];
  }
  return Object.values(template.Resources ?? {})
    .filter((r) => r.Type === iam.CfnRole.CFN_RESOURCE_TYPE_NAME)
    .map((r) => r.Properties?.Path ?? '/')
    .filter((p): p is string => typeof p === 'string');
}
