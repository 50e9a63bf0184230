import { Names, Stack, Token, aws_organizations as organizations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ACCOUNT, OU, ROOT, validateIdList } from './private/organizations';
import {
  DECLARATIVE_POLICY_TYPE,
  InstanceMetadataPolicyContent,
  POLICY_CONTENT_MAX_CHARS,
  buildPolicyContent,
} from './private/policy-document';
import { SETTING_PROPS, failer, validateSettings, warnOnContradictions } from './private/validate';
import { ImdsSettings } from './settings';

/**
 * Properties for `ImdsDeclarativePolicy`.
 */
export interface ImdsDeclarativePolicyProps extends ImdsSettings {
  /**
   * The root (`r-…`), organizational units (`ou-…`) or accounts (12 digits)
   * to attach the policy to. Accounts under an attached root or OU inherit it.
   *
   * @default - the policy is created but not attached
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-organizations-policy.html#cfn-organizations-policy-targetids
   */
  readonly targetIds?: string[];

  /**
   * A custom message that EC2 returns, instead of its own, when an action fails
   * because of the policy (for example a launch that does not require IMDSv2
   * while `http_tokens_enforced` is on, or ModifyInstanceMetadataDefaults in a
   * governed account). Accounts see it as `ManagedExceptionMessage`. Put a link
   * to your internal guidance here.
   *
   * @default - EC2's own error messages
   * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_declarative.html#orgs_manage_policies_declarative-custom-message
   */
  readonly exceptionMessage?: string;

  /**
   * Lock each setting this policy gives against child policies: a policy
   * attached lower in the organization (to an OU or account under one of
   * `targetIds`) can't re-assign it, not even to the same or a stricter value,
   * and can't lift the lock. Each setting's entry gets the child control operator
   * `@@operators_allowed_for_child_policies` with `["@@none"]` beside its
   * `@@assign`, as in the AWS Organizations User Guide ("Inheritance examples",
   * Example 4: Restrict changes to child policies), for example
   * `"http_tokens": { "@@operators_allowed_for_child_policies": ["@@none"], "@@assign": "required" }`.
   * Without it, child policies may use every operator (`@@all`) and so override
   * any value this policy sets.
   *
   * Not locked: the settings this policy leaves out (a child policy may still
   * assign them), and `exceptionMessage`, which is one message for every EC2
   * attribute of an account: locking it would also overrule the messages of other
   * EC2 policies attached lower down. Policies attached to the same target are
   * not each other's child policies, and a policy attached only to accounts has
   * none. Each locked setting adds 52 characters to the document; the
   * 10,000-character limit is checked with them.
   *
   * @default false
   * @see https://docs.aws.amazon.com/organizations/latest/userguide/policy-operators.html#child-control-operators
   */
  readonly lockAgainstChildPolicies?: boolean;

  /**
   * The name of the policy (1 to 128 ASCII characters).
   *
   * @default - a name derived from the construct path
   */
  readonly policyName?: string;

  /**
   * The description of the policy.
   *
   * @default 'EC2 instance metadata defaults (cdk-imds-account-defaults)'
   */
  readonly description?: string;
}

const DEFAULT_DESCRIPTION = 'EC2 instance metadata defaults (cdk-imds-account-defaults)';
/** Policy names: 1 to 128 characters of the ASCII range (CloudFormation resource reference). */
const POLICY_NAME = /^[\x20-\x7E]{1,128}$/;

/**
 * An AWS Organizations EC2 (declarative) policy, `DECLARATIVE_POLICY_EC2`, that
 * sets the instance metadata defaults of every account it applies to, in every
 * Region, from the same typed settings as `ImdsAccountDefaults`.
 *
 * The content is the `ec2_attributes` → `instance_metadata_defaults` document,
 * with the policy spellings: `no_preference` for the API's `no-preference`, and
 * the hop limit as a string. Accounts governed by the policy cannot change these
 * settings themselves. Detaching the policy puts each setting back to what it was
 * before the policy was attached.
 *
 * Deploy it to the organization's management account or a delegated
 * administrator for Organizations policies. The organization needs all features,
 * and the EC2 policy type (`DECLARATIVE_POLICY_EC2`) enabled on its root.
 *
 * Note: the `http_tokens_enforced` key (for `httpTokensEnforced`) follows AWS's
 * announcement that HttpTokensEnforced can be managed by declarative policies and
 * public examples; the user guide page we checked does not list it yet.
 *
 * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_declarative_syntax.html
 */
export class ImdsDeclarativePolicy extends Construct {
  /** The policy's id (`p-…`). */
  public readonly policyId: string;
  /** The policy's ARN. */
  public readonly policyArn: string;
  /** The policy document as a JSON string (what the policy's `Content` holds, as an object). */
  public readonly content: string;

  constructor(scope: Construct, id: string, props: ImdsDeclarativePolicyProps) {
    super(scope, id);
    const fail = failer(this);

    // Validation first: nothing is created until every prop has been checked.
    validateSettings(this, props);
    for (const { prop, key } of SETTING_PROPS) {
      // The policy spells values differently from the API (no_preference), so they must be known now.
      // A hop limit token is fine: it is passed through as a string.
      if (key !== 'HttpPutResponseHopLimit' && props[prop] !== undefined && Token.isUnresolved(props[prop])) {
        fail(`${prop} is a token (${String(props[prop])}); the policy spells values differently from the EC2 API (no_preference, not no-preference), so ${prop} must be known at synth time`);
      }
    }
    if (props.targetIds !== undefined) {
      validateIdList(this, 'targetIds', props.targetIds, [ROOT, OU, ACCOUNT],
        'leave targetIds out to create the policy without attaching it');
    }
    if (props.exceptionMessage !== undefined && !Token.isUnresolved(props.exceptionMessage) && props.exceptionMessage.trim() === '') {
      fail('exceptionMessage is empty; leave it out to keep EC2\'s own error messages');
    }
    if (props.policyName !== undefined && !Token.isUnresolved(props.policyName) && !POLICY_NAME.test(props.policyName)) {
      fail(`policyName must be 1 to 128 printable ASCII characters; got ${JSON.stringify(props.policyName)}`);
    }
    const lockAgainstChildPolicies = props.lockAgainstChildPolicies ?? false;
    const document: InstanceMetadataPolicyContent = buildPolicyContent(props, {
      exceptionMessage: props.exceptionMessage,
      lockAgainstChildPolicies,
    });
    // Measured as sent, child control operators included.
    const content = JSON.stringify(document);
    if (!Token.isUnresolved(content) && content.length > POLICY_CONTENT_MAX_CHARS) {
      const unlocked = JSON.stringify(buildPolicyContent(props, { exceptionMessage: props.exceptionMessage }));
      const locks = lockAgainstChildPolicies ? ` (lockAgainstChildPolicies adds ${content.length - unlocked.length} of them)` : '';
      fail(`the policy document is ${content.length} characters${locks}, over the ${POLICY_CONTENT_MAX_CHARS}-character limit of a declarative policy; shorten exceptionMessage`);
    }
    warnOnContradictions(this, props);

    // A hop limit token would sit inside a JSON string: let CloudFormation join it.
    this.content = Token.isUnresolved(content) ? Stack.of(this).toJsonString(document) : content;
    // The L1 resource is this construct's `node.defaultChild` (id 'Resource'), as in aws-cdk-lib.
    const policy = new organizations.CfnPolicy(this, 'Resource', {
      name: props.policyName ?? Names.uniqueResourceName(this, { maxLength: 128 }),
      description: props.description ?? DEFAULT_DESCRIPTION,
      type: DECLARATIVE_POLICY_TYPE,
      // A JSON object, not a string: CloudFormation can then detect drift.
      content: document,
      targetIds: props.targetIds,
    });
    this.policyId = policy.attrId;
    this.policyArn = policy.attrArn;
  }
}
