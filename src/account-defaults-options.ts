import { Duration, aws_logs as logs } from 'aws-cdk-lib';
import { ImdsSettings } from './settings';

// The enum values below are written into templates (custom resource properties and the
// function's environment) and read by the handler: frozen (test/api.test.ts), never renamed.

/**
 * The mode of the drift guard: what it does when EC2's settings differ from the
 * ones this construct manages (see `ImdsAccountDefaultsOptions.driftGuard`).
 */
export enum DriftGuardMode {
  /** Set each field that differs back to this construct's value, read it back, and report it. */
  REAPPLY = 'REAPPLY',
  /** Report each field that differs (log line and metric); change nothing. */
  REPORT_ONLY = 'REPORT_ONLY',
}

/**
 * The mode of the readiness check: what a create or update that enables
 * `httpTokensEnforced` does when enforcement would stop launches (launch
 * templates whose `$Default` or `$Latest` version, or Auto Scaling launch
 * configurations, set `HttpTokens` to `optional`; see
 * `ImdsAccountDefaultsOptions.readinessCheck`).
 */
export enum ReadinessCheckMode {
  /** Fail the create or update, changing nothing, and name what would break. */
  BLOCK = 'BLOCK',
  /**
   * Enforce anyway, and report what would break in the log and the attributes.
   * (Called `ReadinessCheck.REPORT_ONLY` before 0.x's API review: it enforces.)
   */
  ENFORCE_AND_REPORT = 'ENFORCE_AND_REPORT',
}

/**
 * What the readiness check found on the last create or update: the value of
 * `ImdsAccountDefaults.readinessCheckResult`. Compare the attribute with these
 * values (for example in a `CfnCondition` or an output); the counts are in the
 * `...AllowingImdsv1Count` attributes.
 */
export enum ReadinessCheckResult {
  /** The check did not run: the create or update did not enable `httpTokensEnforced`. All counts are 0. */
  NOT_CHECKED = 'NOT_CHECKED',
  /** Every launch template, launch configuration and instance was listed: the counts are exact. */
  COMPLETE = 'COMPLETE',
  /**
   * The listing did not finish (access denied, or the check's time ran out): the
   * counts are what was found, at least that many.
   */
  INCOMPLETE = 'INCOMPLETE',
}

/**
 * What a deliberate delete of `ImdsAccountDefaults` does with the fields it
 * manages (see `ImdsAccountDefaultsOptions.settingsOnDelete`). A delete that is
 * part of a rollback always restores, whatever this says.
 */
export enum SettingsOnDelete {
  /** Reset each managed field to no preference (`no-preference`, or -1 for the hop limit). */
  RESET = 'RESET',
  /**
   * Put back each managed field's value from before this resource's create, where
   * EC2 still holds the value this resource set (a field changed since is left alone).
   */
  RESTORE = 'RESTORE',
}

/**
 * The options of `ImdsAccountDefaults` that mean the same thing in every account
 * and Region: the settings and how they are applied, kept and watched.
 * `ImdsAccountDefaultsStackSet` takes these for its member accounts; the props
 * that depend on where the construct is (the removal policy, a permissions
 * boundary given as a policy object) are in `ImdsAccountDefaultsProps`.
 */
export interface ImdsAccountDefaultsOptions extends ImdsSettings {
  /**
   * What a deliberate delete (the construct removed from the app, or the stack
   * deleted) does with the fields this construct manages.
   *
   * - `SettingsOnDelete.RESET`: reset it to no preference.
   * - `SettingsOnDelete.RESTORE`: put back the value it had before this
   *   resource's create (no preference if it had none, or if a later update
   *   added the field), but only where EC2 still holds the value this resource
   *   set; a field changed since is left alone.
   *
   * Either way, a field that another live `ImdsAccountDefaults` manages is left
   * alone. A delete that is part of a rollback (the create or update that added
   * this resource failed) always restores the values from before. Not with a
   * removal policy that retains, whose resource CloudFormation never deletes
   * deliberately.
   *
   * @default SettingsOnDelete.RESET
   */
  readonly settingsOnDelete?: SettingsOnDelete;

  /**
   * Succeed without changing anything when an AWS Organizations declarative
   * policy manages the instance metadata defaults of the account
   * (`GetInstanceMetadataDefaults` reports `ManagedBy: declarative-policy`).
   *
   * Meant for organization-wide rollouts where some accounts are governed by a
   * policy: the stack instance succeeds there and its `applied` attribute is
   * `false`. Left `false`, create and update fail in such an account with a
   * reason that quotes the policy's exception message. A delete in such an
   * account always succeeds (there is nothing it may change) and removes the
   * resource's claim.
   *
   * @default - `false` for `ImdsAccountDefaults`; `true` for `ImdsAccountDefaultsStackSet`
   */
  readonly skipIfManagedByDeclarativePolicy?: boolean;

  /**
   * What to do when a create or update that enables `httpTokensEnforced` (it is
   * not enabled yet) finds, in the account and Region, launch templates whose
   * `$Default` or `$Latest` version, or Auto Scaling launch configurations, set
   * `HttpTokens` to `optional`: with enforcement, launches from them fail.
   *
   * - `ReadinessCheckMode.BLOCK`: the create or update fails, changing nothing,
   *   and its reason names the first few; it fails too when they cannot all be
   *   listed (access denied, or more than the check's 8 seconds).
   * - `ReadinessCheckMode.ENFORCE_AND_REPORT`: enforcement is applied anyway.
   *
   * Either way the function's log names them, and the attributes
   * `readinessCheckResult`, `launchTemplatesAllowingImdsv1Count`,
   * `launchConfigurationsAllowingImdsv1Count` and `instancesAllowingImdsv1Count`
   * (instances that allow IMDSv1 keep running: they never block) say what it
   * found. Only with `httpTokensEnforced`.
   *
   * @default ReadinessCheckMode.BLOCK
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html
   */
  readonly readinessCheck?: ReadinessCheckMode;

  /**
   * How long the handler's logs are kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The IAM path of the handler's role (`/` or `/<path>/`), for organizations
   * whose policies allow creating roles only under a given path.
   *
   * @default '/'
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names
   */
  readonly rolePath?: string;

  /**
   * Keep the settings true between deployments: the handler also runs on a
   * schedule (`driftCheckInterval`) and on CloudTrail's
   * `ModifyInstanceMetadataDefaults` events (of successful calls, where a trail
   * records management events), compares each field this construct manages with
   * the value the template gives it (never a value read from Parameter Store),
   * and re-applies (`REAPPLY`) or only reports (`REPORT_ONLY`) each difference:
   * one log line per field, and the metrics `DriftDetected` and `DriftReapplied`
   * when a difference is found (`DriftChecksSkipped` when a run could not
   * compare): `metricDriftDetected()` and the others.
   *
   * @default - no drift guard: the settings are applied on create and update only
   */
  readonly driftGuard?: DriftGuardMode;

  /**
   * How often the drift guard checks the settings: whole minutes, 1 minute or
   * more. Only with `driftGuard`. The drift metrics' period follows it.
   *
   * @default Duration.hours(1)
   */
  readonly driftCheckInterval?: Duration;

  /**
   * The ARN of a central Amazon EventBridge event bus (`ImdsFindingsHub`'s, or
   * your own), possibly in another account and Region, that the function puts its
   * findings to as events, besides this account's default bus (which always
   * gets them). The function's role may put events there, and to the default bus,
   * with the library's source only; the bus's own policy must admit this account.
   * `ImdsFindingsHub.eventBusArnOf(...)` gives the ARN of a hub's bus.
   *
   * @default - findings go to this account's default event bus only
   * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
   */
  readonly centralEventBusArn?: string;
}
