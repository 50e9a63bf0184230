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
  /** The readiness check's mode (READINESS_CHECK_PROPERTY): written only when it is not 'BLOCK'. */
  readonly ReadinessCheck?: string;
  /**
   * What a deliberate Delete does with the fields (ON_DELETE_PROPERTY): written only
   * when it is not the default, ON_DELETE_RESET, so the templates of existing users
   * keep their properties. A Delete that is part of a rollback always restores.
   */
  readonly OnDelete?: string;
  /**
   * "true" when the resource has DeletionPolicy Retain (RETAINED_PROPERTY): its
   * claim says so, and it keeps protecting its fields after its stack lets it go.
   * Written only for RETAIN.
   */
  readonly Retained?: boolean | string;
}

/** The custom resource property that says what a deliberate Delete does (ON_DELETE_VALUES). */
export const ON_DELETE_PROPERTY = 'OnDelete';
/** Reset every field this resource manages to no preference (the default; not written). */
export const ON_DELETE_RESET = 'RESET';
/** Put each field back to its value before this resource's Create, where EC2 still holds this resource's value. */
export const ON_DELETE_RESTORE = 'RESTORE';
export const ON_DELETE_VALUES = [ON_DELETE_RESET, ON_DELETE_RESTORE] as const;

/** The custom resource property that marks a RETAIN resource ("true"). */
export const RETAINED_PROPERTY = 'Retained';

/**
 * The stack statuses in which a Delete is part of a rollback (CloudFormation
 * removes what a failed create, update or import made): such a Delete restores
 * the values from before this resource's Create instead of resetting them.
 */
export const ROLLBACK_STACK_STATUSES = [
  'ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
  'IMPORT_ROLLBACK_IN_PROGRESS',
] as const;

/**
 * The value of the `Ownership` property: claims in SSM Parameter Store, format 2
 * (named after the stack's id and the logical id, so IAM can limit each function
 * to its own claim; validated on read; ownership only, never values). Changed from
 * 'claims-v1' so that the deployment which upgrades the library sends an Update,
 * which records the claim under its new name.
 */
export const OWNERSHIP_FORMAT = 'claims-v2';

/**
 * The SSM Parameter Store path under which each resource records its claim on the
 * settings of its account and Region: one parameter per resource, named after its
 * StackId and LogicalResourceId. Fixed for good: every release reads claims here.
 */
export const CLAIMS_PATH = '/cdk-imds-account-defaults/claims';

/**
 * The name of a resource's claim (format 2): `<CLAIMS_PATH>/<stack uuid>-<logical id>`,
 * where the stack uuid is the last part of the StackId
 * (arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>). Both parts are
 * known to the template (Fn::Select over AWS::StackId, and the logical id), so the
 * function's IAM policy names exactly this parameter. Claims of format 1 were named
 * after a hash of StackId and logical id; they are still read.
 */
export function claimParameterName(stackUuid: string, logicalResourceId: string): string {
  return `${CLAIMS_PATH}/${stackUuid}-${logicalResourceId}`;
}

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

/**
 * The drift guard's configuration, as environment variables of the function
 * (set by the construct only when the guard is on): the mode (a `DriftGuardMode`
 * value), and the StackId and logical id of the custom resource, which name its
 * claim. EventBridge events carry none of this.
 */
export const DRIFT_GUARD_ENV = 'IMDS_DRIFT_GUARD';
export const DRIFT_STACK_ID_ENV = 'IMDS_STACK_ID';
export const DRIFT_LOGICAL_ID_ENV = 'IMDS_LOGICAL_ID';
/**
 * The values the drift guard holds EC2 to, from the template (never from Parameter
 * Store): one variable per managed setting, `IMDS_SETTING_<EC2 key>`
 * (IMDS_SETTING_HttpTokens = "required", IMDS_SETTING_HttpPutResponseHopLimit = "2"),
 * the same values as the custom resource's properties. Set only with the guard.
 */
export const DRIFT_SETTING_ENV_PREFIX = 'IMDS_SETTING_';
/**
 * The name of the function's own role (a Ref of the role): the guard recognises
 * a change of its own by the full assumed-role ARN
 * `arn:<partition>:sts::<account>:assumed-role/<role name>/<function name>`.
 */
export const DRIFT_ROLE_NAME_ENV = 'IMDS_ROLE_NAME';

/**
 * The central event bus's ARN, as an environment variable of each function (set
 * only when the construct is given one): the function puts its findings there too,
 * besides the default bus (lambda/shared/events.ts). Written by the template alone.
 */
export const CENTRAL_EVENT_BUS_ENV = 'IMDS_EVENT_BUS';

/** The `source` of every finding the functions put (public as ImdsFindings.SOURCE; here so the bundles need not carry the public class). */
export const FINDINGS_SOURCE = 'cdk-imds-account-defaults';
/** The version of the findings' detail schema (public as ImdsFindings.SCHEMA_VERSION; findings-schema.json). */
export const FINDINGS_SCHEMA_VERSION = '1';

/** Put by each function with the number of findings (events) that could not be put, to either bus, after the retries. */
export const FINDINGS_NOT_PUT_METRIC = 'FindingsNotPut';

/** The metrics the drift guard puts in METRICS_NAMESPACE (no dimensions). Never renamed: users alarm on them. */
export const DRIFT_DETECTED_METRIC = 'DriftDetected';
export const DRIFT_REAPPLIED_METRIC = 'DriftReapplied';
/** Put (1) by every drift guard run that did not compare, whatever the reason (its log line says which). */
export const DRIFT_CHECK_SKIPPED_METRIC = 'DriftChecksSkipped';

/**
 * Security warnings (no dimensions), put by both functions, each with a structured
 * `security warning` log line that says what did not match:
 * - UNCONFIRMED_EVENT_METRIC: a custom resource event that CloudFormation did not
 *   confirm (the resource of that StackId and LogicalResourceId, of the function's
 *   type, in the matching *_IN_PROGRESS status, with the event's physical id);
 *   nothing was changed;
 * - CLAIM_PROBLEM_METRIC: a claim that is malformed, foreign (its name is not its
 *   owner's) or missing where one should be; it was not trusted.
 */
export const UNCONFIRMED_EVENT_METRIC = 'UnconfirmedEvents';
export const CLAIM_PROBLEM_METRIC = 'ClaimProblems';

// ---- ImdsInstanceUpgrade (construct: src/imds-instance-upgrade.ts, handler: lambda/instance-upgrade/) ----

/** The custom resource type of ImdsInstanceUpgrade. Fixed for good: changing it would replace users' resources. */
export const UPGRADE_RESOURCE_TYPE = 'Custom::ImdsInstanceUpgrade';

/** The prefix of the physical id (`ImdsInstanceUpgrade:<account>:<region>`). */
export const UPGRADE_PHYSICAL_ID_PREFIX = 'ImdsInstanceUpgrade';

/**
 * The environment variables the construct sets on the ImdsInstanceUpgrade function
 * (its whole configuration; every value a string). An absent variable takes its
 * value from UPGRADE_DEFAULTS.
 */
export const UPGRADE_ENV = {
  /** One of UPGRADE_MODES. */
  MODE: 'IMDS_UPGRADE_MODE',
  /** Integer seconds within UPGRADE_LIMITS.lookbackSeconds. */
  LOOKBACK_SECONDS: 'IMDS_UPGRADE_LOOKBACK_SECONDS',
  /** A tag key (1..128 characters): instances carrying it, whatever its value, are never changed. */
  EXCLUSION_TAG_KEY: 'IMDS_UPGRADE_EXCLUSION_TAG_KEY',
  /** "true" or "false": whether instances without MetadataNoToken datapoints are upgraded too. */
  WITHOUT_METRICS: 'IMDS_UPGRADE_WITHOUT_METRICS',
  /** Integer within UPGRADE_LIMITS.maxUpgradesPerRun: the most instances one run modifies. */
  MAX_PER_RUN: 'IMDS_UPGRADE_MAX_PER_RUN',
  /**
   * Integer seconds, a whole number of hours from UPGRADE_LIMITS.minimumObservedSeconds.min
   * to the lookback: the running time MetadataNoToken datapoints must cover before an instance is eligible.
   */
  MIN_OBSERVED_SECONDS: 'IMDS_UPGRADE_MIN_OBSERVED_SECONDS',
  /** A tag key (1..128 characters), set only when configured: only instances carrying it are considered. */
  INCLUSION_TAG_KEY: 'IMDS_UPGRADE_INCLUSION_TAG_KEY',
  /** Integer seconds (UPGRADE_LIMITS.intervalSeconds): the schedule's interval, over which maxUpgradesPerRun holds. */
  INTERVAL_SECONDS: 'IMDS_UPGRADE_INTERVAL_SECONDS',
  /** One of REJECTED_CALLS_ACTIONS: what a run does about an instance it switched that refuses IMDSv1 calls. */
  REJECTED_CALLS_ACTION: 'IMDS_UPGRADE_REJECTED_CALLS_ACTION',
} as const;

/** The values of UPGRADE_ENV.REJECTED_CALLS_ACTION (the RejectedCallsAction enum's values). */
export const REJECTED_CALLS_ACTIONS = ['REPORT', 'RESTORE_OPTIONAL'] as const;

export type RejectedCallsActionValue = (typeof REJECTED_CALLS_ACTIONS)[number];

/**
 * The tags ImdsInstanceUpgrade writes on an instance (values: ISO 8601 times),
 * its record of what it did, where a user sees it. Anyone allowed
 * ec2:CreateTags on the instance can write them too: the function treats them
 * as claims to check, never as proof (lambda/instance-upgrade/records.ts).
 * - UPGRADED_AT: it switched the instance to HttpTokens required, then;
 * - RESTORED_AT: it put the instance back to HttpTokens optional, then;
 * - RESTORE_REFUSED_AT: EC2 refused the put-back (enforcement on), then: not tried again.
 */
export const UPGRADE_RECORD_TAGS = {
  UPGRADED_AT: 'cdk-imds-account-defaults:upgraded-at',
  RESTORED_AT: 'cdk-imds-account-defaults:restored-at',
  RESTORE_REFUSED_AT: 'cdk-imds-account-defaults:restore-refused-at',
} as const;

/**
 * The Parameter Store path of the switch claims: one parameter per interval
 * (`<path>/<interval start, epoch seconds>`), created with Overwrite false by
 * the one scheduled run that may switch instances in that interval.
 */
export const UPGRADE_CLAIM_PATH = '/cdk-imds-account-defaults/instance-upgrade/switch-claims';

/** The values of UPGRADE_ENV.MODE (the InstanceUpgradeMode enum's values). */
export const UPGRADE_MODES = ['REPORT_ONLY', 'UPGRADE'] as const;

export type UpgradeMode = (typeof UPGRADE_MODES)[number];

/** What the handler uses for an absent variable; the construct's defaults are the same. */
export const UPGRADE_DEFAULTS = {
  mode: 'REPORT_ONLY' as UpgradeMode,
  lookbackSeconds: 14 * 24 * 3600,
  exclusionTagKey: 'imds-keep-v1',
  upgradeWithoutMetrics: false,
  maxUpgradesPerRun: 100,
  minimumObservedSeconds: 7 * 24 * 3600,
  intervalSeconds: 24 * 3600,
  rejectedCallsAction: 'REPORT' as RejectedCallsActionValue,
} as const;

/**
 * The accepted ranges. Lookback: 1 hour to 455 days (CloudWatch keeps 1-hour
 * datapoints that long); the handler queries one period, the lookback rounded up
 * to a whole hour, which CloudWatch accepts whatever the start time's age.
 */
export const UPGRADE_LIMITS = {
  lookbackSeconds: { min: 3600, max: 455 * 24 * 3600 },
  maxUpgradesPerRun: { min: 1, max: 1000 },
  exclusionTagKeyLength: { min: 1, max: 128 },
  /** Whole hours (the handler counts hours with a datapoint); the upper bound is the lookback. */
  minimumObservedSeconds: { min: 3600 },
  /** The schedule: whole minutes (checked at synth), at least 1 hour; the upper bound only keeps the number sane. */
  intervalSeconds: { min: 3600, max: 3650 * 24 * 3600 },
} as const;

/**
 * The keys of the custom resource's response Data (readable with Fn::GetAtt), each
 * a count as a string: the instances that allowed IMDSv1 (Candidates), those safe
 * to upgrade (Eligible), upgraded (Modify accepted; Pending: not yet seen applied),
 * skipped because they used IMDSv1 (InUse), carrying the exclusion tag (Excluded),
 * without MetadataNoToken datapoints and so left alone (Unknown; with
 * upgradeWithoutMetrics they are Eligible instead), with datapoints covering less
 * than the minimum observed time and so left alone (TooLittleData), and failed
 * (Failed: usage unreadable or Modify refused).
 */
export const UPGRADE_ATTRIBUTE_KEYS = ['Candidates', 'Eligible', 'Upgraded', 'Pending', 'InUse', 'Excluded', 'Unknown', 'Failed', 'TooLittleData'] as const;

export type UpgradeAttributeKey = (typeof UPGRADE_ATTRIBUTE_KEYS)[number];

/** The CloudWatch metrics (namespace METRICS_NAMESPACE, no dimensions) each run puts, and the count each carries. */
export const UPGRADE_METRIC_NAMES = {
  InstancesAllowingImdsv1: 'Candidates',
  InstancesUpgraded: 'Upgraded',
  InstancesInUse: 'InUse',
  InstancesExcluded: 'Excluded',
  InstancesUnknown: 'Unknown',
  InstancesFailed: 'Failed',
  InstancesWithTooLittleData: 'TooLittleData',
  InstancesWithRejectedImdsv1Calls: 'RejectedCalls',
  InstancesRestoredToOptional: 'Restored',
  InstancesRestoreRefused: 'RestoreRefused',
  AutoScalingGroupsAllowingImdsv1: 'GroupsAllowingImdsv1',
} as const;

// ---- Readiness check before enforcement (handler: lambda/account-defaults/readiness.ts) ----

/**
 * The custom resource property that says what the readiness check does when
 * enabling HttpTokensEnforced would break launch templates or launch
 * configurations: one of READINESS_CHECK_VALUES (a `ReadinessCheckMode` value).
 * Written only when it is not the default, 'BLOCK', so the templates of
 * existing users do not change.
 */
export const READINESS_CHECK_PROPERTY = 'ReadinessCheck';
/** The values the construct writes (ReadinessCheckMode's): frozen. */
export const READINESS_CHECK_VALUES = ['BLOCK', 'ENFORCE_AND_REPORT'] as const;
/**
 * What releases before the 1.0 API wrote for ENFORCE_AND_REPORT. The handler still
 * accepts it, with the same meaning: a rollback to such a template, or a stack not
 * yet upgraded, sends it.
 */
export const READINESS_CHECK_LEGACY_VALUES: Readonly<Record<string, (typeof READINESS_CHECK_VALUES)[number]>> = {
  REPORT_ONLY: 'ENFORCE_AND_REPORT',
};

/**
 * The Data keys of the readiness check, always answered (Fn::GetAtt of a missing
 * key fails the stack):
 * - READINESS_RESULT_ATTRIBUTE: one of READINESS_RESULTS (a `ReadinessCheckResult` value);
 * - READINESS_COUNT_ATTRIBUTE_KEYS: each count as a decimal string ("0" when not checked;
 *   a lower bound when INCOMPLETE);
 * - READINESS_ATTRIBUTE_KEYS (before the 1.0 API; templates of earlier releases may
 *   still read them): the count as a string, "N+" when the listing did not finish,
 *   READINESS_NOT_CHECKED when the check did not run.
 */
export const READINESS_RESULT_ATTRIBUTE = 'ReadinessCheckResult';
export const READINESS_RESULTS = ['NOT_CHECKED', 'COMPLETE', 'INCOMPLETE'] as const;
export type ReadinessResult = (typeof READINESS_RESULTS)[number];
export const READINESS_COUNT_ATTRIBUTE_KEYS = [
  'LaunchTemplatesAllowingImdsv1Count', 'LaunchConfigurationsAllowingImdsv1Count', 'InstancesAllowingImdsv1Count',
] as const;
export type ReadinessCountAttributeKey = (typeof READINESS_COUNT_ATTRIBUTE_KEYS)[number];
export const READINESS_ATTRIBUTE_KEYS = ['LaunchTemplatesAllowingImdsv1', 'LaunchConfigurationsAllowingImdsv1', 'InstancesAllowingImdsv1'] as const;
export type ReadinessAttributeKey = (typeof READINESS_ATTRIBUTE_KEYS)[number];
export const READINESS_NOT_CHECKED = 'not-checked';

// ---- ImdsReadinessReport: the dry run (construct: src/imds-readiness-report.ts, handler: lambda/readiness-report/) ----

/** The custom resource type of ImdsReadinessReport. Fixed for good: changing it would replace users' resources. */
export const REPORT_RESOURCE_TYPE = 'Custom::ImdsReadinessReport';

/** The report's only property of its own (`refreshKey`): never read; a new value makes CloudFormation send an Update. */
export const REPORT_REFRESH_PROPERTY = 'RefreshKey';

/** The prefix of the report's physical id (`ImdsReadinessReport:<account>:<region>`). */
export const REPORT_PHYSICAL_ID_PREFIX = 'ImdsReadinessReport';

/**
 * What the report found (Data key REPORT_RESULT_ATTRIBUTE; `ReadinessReportResult`'s values), frozen:
 * - READY: every listing finished and nothing launches with HttpTokens optional;
 * - WOULD_STOP_LAUNCHES: a launch template ($Default or $Latest), a launch
 *   configuration, or a version an Auto Scaling group launches sets HttpTokens
 *   optional: enforcing would make those launches fail (whether or not every listing finished);
 * - INCOMPLETE: nothing found that would stop, but a listing did not finish or a
 *   group's source could not be read.
 */
export const REPORT_RESULTS = ['READY', 'WOULD_STOP_LAUNCHES', 'INCOMPLETE'] as const;
export type ReportResult = (typeof REPORT_RESULTS)[number];

/** The report's Data keys (every one always answered: Fn::GetAtt of a missing key fails the stack). */
export const REPORT_RESULT_ATTRIBUTE = 'Result';
/** Each a decimal count (a lower bound when the result is INCOMPLETE or a listing did not finish). */
export const REPORT_COUNT_ATTRIBUTE_KEYS = [
  'LaunchTemplatesAllowingImdsv1Count',
  'LaunchConfigurationsAllowingImdsv1Count',
  'AutoScalingGroupsAllowingImdsv1Count',
  'InstancesAllowingImdsv1Count',
] as const;
export type ReportCountAttributeKey = (typeof REPORT_COUNT_ATTRIBUTE_KEYS)[number];
/** The account's current defaults as GetInstanceMetadataDefaults reports them (effective values; REPORT_UNKNOWN when unreadable). */
export const REPORT_DEFAULTS_ATTRIBUTE_KEYS = ['HttpTokens', 'HttpTokensEnforced', 'ManagedBy'] as const;
export type ReportDefaultsAttributeKey = (typeof REPORT_DEFAULTS_ATTRIBUTE_KEYS)[number];
export const REPORT_UNKNOWN = 'unknown';

/**
 * The metrics each report run puts (namespace METRICS_NAMESPACE, no dimensions, unit
 * Count), by Data key or meaning. New names: none is used elsewhere with another meaning.
 */
export const REPORT_METRIC_NAMES = {
  LaunchTemplatesAllowingImdsv1Count: 'ReadinessLaunchTemplatesAllowingImdsv1',
  LaunchConfigurationsAllowingImdsv1Count: 'ReadinessLaunchConfigurationsAllowingImdsv1',
  AutoScalingGroupsAllowingImdsv1Count: 'ReadinessAutoScalingGroupsAllowingImdsv1',
  InstancesAllowingImdsv1Count: 'ReadinessInstancesAllowingImdsv1',
  /** 1 when the result is WOULD_STOP_LAUNCHES, else 0. */
  WouldStopLaunches: 'ReadinessWouldStopLaunches',
  /** 1 when a listing did not finish (the counts are a lower bound), else 0. */
  Incomplete: 'ReadinessIncomplete',
} as const;
