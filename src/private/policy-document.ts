/**
 * The AWS Organizations EC2 (declarative) policy document for the instance
 * metadata defaults, generated from the typed settings.
 *
 * Syntax, as documented in the AWS Organizations User Guide, "Declarative policy
 * syntax and examples" (now "EC2 policy syntax and examples"),
 * https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_declarative_syntax.html :
 *
 *   { "ec2_attributes": {
 *       "instance_metadata_defaults": {
 *         "http_tokens":                 { "@@assign": "required" },   // no_preference | required | optional
 *         "http_put_response_hop_limit": { "@@assign": "4" },          // "Integer value from -1 to 64"; -1 = no preference
 *         "http_endpoint":               { "@@assign": "enabled" },    // no_preference | enabled | disabled
 *         "instance_metadata_tags":      { "@@assign": "enabled" } },  // no_preference | enabled | disabled
 *       "exception_message": { "@@assign": "..." } } }                 // directly under ec2_attributes
 *
 * Policy values spell "no preference" with an underscore (`no_preference`), unlike
 * the EC2 API (`no-preference`). AWS's example gives the hop limit as a string.
 *
 * Locking a setting against child policies (`lockAgainstChildPolicies`) uses the
 * child control operator of the management policy syntax, which EC2 policies
 * share ("Policy syntax and inheritance for declarative policy types",
 * https://docs.aws.amazon.com/organizations/latest/userguide/syntax-inheritance.html).
 * "Inheritance operators" → "Child control operators"
 * (https://docs.aws.amazon.com/organizations/latest/userguide/policy-operators.html#child-control-operators):
 * `"@@operators_allowed_for_child_policies": ["@@none"]` means child OUs and
 * accounts can't use operators in policies, which locks in the values defined in
 * the parent policy. "Inheritance examples" → "Example 4: Restrict changes to
 * child policies" (https://docs.aws.amazon.com/organizations/latest/userguide/inheritance-examples.html#example-restrict-child)
 * puts it in the setting's own object, beside its `@@assign`, before it:
 *
 *   "http_tokens": { "@@operators_allowed_for_child_policies": ["@@none"], "@@assign": "required" }
 *
 * Only the settings the policy assigns are locked: keys it leaves out stay open to
 * child policies (a lock on `instance_metadata_defaults` itself would close them
 * too), and so does `exception_message`, which is one message for every EC2
 * attribute of the account.
 *
 * `http_tokens_enforced` (values `no_preference | enabled | disabled`) is NOT
 * CONFIRMED by the user guide text we could read: the Instance Metadata Defaults
 * section there lists only the four keys above. The EC2 API change of 2026-02-24
 * says HttpTokensEnforced "can be managed organization-wide using declarative
 * policies", and public policy examples put it under `instance_metadata_defaults`
 * as `http_tokens_enforced`; we generate it that way. If Organizations rejects
 * the key, the policy fails to create or update with a validation error (nothing
 * is half-applied): leave `httpTokensEnforced` out of the policy in that case.
 */
import { Token } from 'aws-cdk-lib';
import { NO_PREFERENCE, SettingKey } from './properties';
import { SETTING_PROPS } from './validate';
import { ImdsSettings } from '../settings';

/** The policy type of an EC2 (declarative) policy in AWS::Organizations::Policy. */
export const DECLARATIVE_POLICY_TYPE = 'DECLARATIVE_POLICY_EC2';

/** The documented maximum size of a declarative policy document, in characters. */
export const POLICY_CONTENT_MAX_CHARS = 10_000;

/** The policy's value for "no preference" (the EC2 API says `no-preference`). */
export const POLICY_NO_PREFERENCE = 'no_preference';

/** Each setting's key in the policy's `instance_metadata_defaults` block. */
export const POLICY_KEYS: Readonly<Record<SettingKey, string>> = {
  HttpTokens: 'http_tokens',
  // Not confirmed in the user guide (see the comment at the top of this file).
  HttpTokensEnforced: 'http_tokens_enforced',
  HttpPutResponseHopLimit: 'http_put_response_hop_limit',
  HttpEndpoint: 'http_endpoint',
  InstanceMetadataTags: 'instance_metadata_tags',
};

/** The child control operator: which value-setting operators child policies may use on a setting. */
export const CHILD_CONTROL_OPERATOR = '@@operators_allowed_for_child_policies';

/** Its value that allows no operator at all: child policies cannot change the setting. */
export const NO_CHILD_OPERATORS: readonly string[] = ['@@none'];

/**
 * `{ "@@assign": value }`: the inheritance operator that sets a value; with
 * `"@@operators_allowed_for_child_policies": ["@@none"]` when the value is locked.
 */
export interface PolicyAssign {
  readonly '@@operators_allowed_for_child_policies'?: readonly string[];
  readonly '@@assign': string;
}

/** The generated document. */
export interface InstanceMetadataPolicyContent {
  readonly ec2_attributes: {
    readonly instance_metadata_defaults: Readonly<Record<string, PolicyAssign>>;
    readonly exception_message?: PolicyAssign;
  };
}

/** What the document holds besides the settings. */
export interface PolicyContentOptions {
  /** `exception_message`, directly under `ec2_attributes` (never locked). */
  readonly exceptionMessage?: string;
  /** Lock each setting given: `"@@operators_allowed_for_child_policies": ["@@none"]`. */
  readonly lockAgainstChildPolicies?: boolean;
}

/**
 * A setting's value as the policy spells it: `no-preference` becomes
 * `no_preference`, the hop limit becomes a string ("2", "-1"). A hop limit
 * that is a token is passed through as a string token.
 */
export function toPolicyValue(key: SettingKey, value: string | number): string {
  if (key === 'HttpPutResponseHopLimit') {
    return Token.isUnresolved(value) ? Token.asString(value) : String(value);
  }
  return value === NO_PREFERENCE ? POLICY_NO_PREFERENCE : String(value);
}

/**
 * The document for the given (validated) settings: only the settings that are
 * given, each locked against child policies if asked.
 */
export function buildPolicyContent(settings: ImdsSettings, options: PolicyContentOptions = {}): InstanceMetadataPolicyContent {
  const { exceptionMessage, lockAgainstChildPolicies = false } = options;
  const defaults: Record<string, PolicyAssign> = {};
  for (const { prop, key } of SETTING_PROPS) {
    const value = settings[prop];
    if (value !== undefined) {
      defaults[POLICY_KEYS[key]] = {
        // The operator first, as in the user guide's example.
        ...(lockAgainstChildPolicies ? { [CHILD_CONTROL_OPERATOR]: [...NO_CHILD_OPERATORS] } : {}),
        '@@assign': toPolicyValue(key, value),
      };
    }
  }
  return {
    ec2_attributes: {
      instance_metadata_defaults: defaults,
      ...(exceptionMessage !== undefined ? { exception_message: { '@@assign': exceptionMessage } } : {}),
    },
  };
}
