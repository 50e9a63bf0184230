/**
 * The contract between the construct (synth time) and the handler (deploy time).
 *
 * This file is imported by both `src/` and `lambda/`, so a renamed key breaks the
 * compile on both sides. It is private: not exported from `index.ts`, so jsii does
 * not see it (its PascalCase keys mirror the EC2 API and CloudFormation).
 */

/** The custom resource type. Fixed for good: changing it would replace users' resources. */
export const RESOURCE_TYPE = 'Custom::ImdsAccountDefaults';

/** The settings, keyed as the EC2 API names them, in a fixed order. */
export const SETTING_KEYS = [
  'HttpTokens',
  'HttpTokensEnforced',
  'HttpPutResponseHopLimit',
  'HttpEndpoint',
  'InstanceMetadataTags',
] as const;

export type SettingKey = (typeof SETTING_KEYS)[number];

/** The settings whose values are one of a fixed set of strings. */
export type EnumSettingKey = Exclude<SettingKey, 'HttpPutResponseHopLimit'>;

/** The value that clears an account-level string setting. */
export const NO_PREFERENCE = 'no-preference';

/** The hop limit that clears the account-level hop limit. */
export const HOP_LIMIT_NO_PREFERENCE = -1;
export const HOP_LIMIT_MIN = 1;
export const HOP_LIMIT_MAX = 64;

/** The values EC2 accepts for each string setting (EC2 API reference, ModifyInstanceMetadataDefaults). */
export const ALLOWED_VALUES: Readonly<Record<EnumSettingKey, readonly string[]>> = {
  HttpTokens: ['optional', 'required', NO_PREFERENCE],
  HttpTokensEnforced: ['disabled', 'enabled', NO_PREFERENCE],
  HttpEndpoint: ['disabled', 'enabled', NO_PREFERENCE],
  InstanceMetadataTags: ['disabled', 'enabled', NO_PREFERENCE],
};

/**
 * The custom resource's properties as the construct writes them.
 *
 * CloudFormation delivers every scalar to the handler as a string ("2", "true"),
 * so the handler parses them again and never trusts their types.
 * Keys are emitted only when set: a key that is absent is a field that is not managed.
 */
export interface ImdsResourceProperties {
  readonly HttpTokens?: string;
  readonly HttpTokensEnforced?: string;
  readonly HttpPutResponseHopLimit?: number | string;
  readonly HttpEndpoint?: string;
  readonly InstanceMetadataTags?: string;
  /** "true": succeed without changes when a declarative policy manages the settings. */
  readonly SkipIfManagedByDeclarativePolicy?: boolean | string;
  /**
   * The ownership scheme the handler records claims in (OWNERSHIP_FORMAT). Always
   * written, and changed whenever the claim format changes, so that the deployment
   * which upgrades the library sends an Update and the claim is registered at once.
   */
  readonly Ownership?: string;
  /**
   * CloudFormation's own property: how long it waits for the handler's answer
   * (seconds). Not read by the handler.
   */
  readonly ServiceTimeout?: number | string;
}

/** The value of the `Ownership` property: claims in SSM Parameter Store, format 1. */
export const OWNERSHIP_FORMAT = 'claims-v1';

/**
 * The SSM Parameter Store path under which each resource records its claim on the
 * settings of its account and Region: one parameter per resource, named after its
 * StackId and LogicalResourceId. Fixed for good: every release reads claims here.
 */
export const CLAIMS_PATH = '/cdk-imds-account-defaults/claims';

/**
 * The keys of the response Data, readable with Fn::GetAtt: the effective
 * account-level value of every setting after the operation ("no-preference" or
 * "-1" when unset), who manages them, and whether this operation applied them.
 */
export const ATTRIBUTE_KEYS = [...SETTING_KEYS, 'ManagedBy', 'Applied'] as const;

export type AttributeKey = (typeof ATTRIBUTE_KEYS)[number];

/** The `ManagedBy` value when an AWS Organizations declarative policy governs the settings. */
export const MANAGED_BY_DECLARATIVE_POLICY = 'declarative-policy';

/**
 * The CloudWatch namespace of the library's own metrics (drift guard, instance
 * upgrade). The functions may put metrics only here (IAM condition `cloudwatch:namespace`).
 * Documented in the README: users alarm on these names, so they never change.
 */
export const METRICS_NAMESPACE = 'CdkImdsAccountDefaults';
