/**
 * Whether IMDSv2 (session tokens) is required for new instances in the account and Region.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataDefaults.html
 */
export enum ImdsHttpTokens {
  /** IMDSv1 and IMDSv2 are both allowed. */
  OPTIONAL = 'optional',
  /** IMDSv2 is required: requests without a session token are rejected. */
  REQUIRED = 'required',
  /** Clear the account-level default; launch parameters and the AMI decide. */
  NO_PREFERENCE = 'no-preference',
}

/**
 * Whether EC2 refuses to launch instances that do not require IMDSv2.
 *
 * Added to the EC2 API on 2026-02-24.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataDefaults.html
 */
export enum ImdsHttpTokensEnforced {
  /** Launches (and metadata-option changes) that would allow IMDSv1 fail with `UnsupportedOperation`. */
  ENABLED = 'enabled',
  /** IMDSv2 is not enforced at launch. */
  DISABLED = 'disabled',
  /** Clear the account-level default. */
  NO_PREFERENCE = 'no-preference',
}

/**
 * Whether the instance metadata service endpoint is reachable from new instances.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataDefaults.html
 */
export enum ImdsHttpEndpoint {
  /** The endpoint is on. */
  ENABLED = 'enabled',
  /** The endpoint is off: instances cannot read their metadata. */
  DISABLED = 'disabled',
  /** Clear the account-level default. */
  NO_PREFERENCE = 'no-preference',
}

/**
 * Whether instance tags are readable through the instance metadata service.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataDefaults.html
 */
export enum ImdsInstanceMetadataTags {
  /** Instance tags are readable from IMDS. */
  ENABLED = 'enabled',
  /** Instance tags are not readable from IMDS. */
  DISABLED = 'disabled',
  /** Clear the account-level default. */
  NO_PREFERENCE = 'no-preference',
}

/**
 * The account-level instance metadata defaults, as typed settings.
 *
 * Every setting is optional: a setting left out is not managed, and nothing
 * this library creates ever reads or changes that field.
 * At least one setting must be given.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-options.html
 */
export interface ImdsSettings {
  /**
   * Whether new instances require IMDSv2 (session tokens).
   *
   * @default - not managed
   */
  readonly httpTokens?: ImdsHttpTokens;

  /**
   * Whether EC2 refuses to launch instances that do not require IMDSv2.
   *
   * Usually set together with `httpTokens: ImdsHttpTokens.REQUIRED`; enabling it
   * with `ImdsHttpTokens.OPTIONAL` makes launches that rely on the account default fail.
   *
   * @default - not managed
   */
  readonly httpTokensEnforced?: ImdsHttpTokensEnforced;

  /**
   * The maximum number of network hops for metadata PUT responses: an integer
   * from 1 to 64, or -1 for no preference. 2 lets containers on the instance reach IMDSv2.
   *
   * @default - not managed
   */
  readonly httpPutResponseHopLimit?: number;

  /**
   * Whether the instance metadata endpoint is on.
   *
   * @default - not managed
   */
  readonly httpEndpoint?: ImdsHttpEndpoint;

  /**
   * Whether instance tags are readable through the instance metadata service.
   *
   * @default - not managed
   */
  readonly instanceMetadataTags?: ImdsInstanceMetadataTags;
}
