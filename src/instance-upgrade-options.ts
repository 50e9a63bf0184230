import { Duration } from 'aws-cdk-lib';

// The mode's values are written into templates and read by the handler: frozen
// (test/api.test.ts), never renamed.

/**
 * What `ImdsInstanceUpgrade` does with the instances that allow IMDSv1.
 */
export enum InstanceUpgradeMode {
  /**
   * Change nothing: each run logs and counts the instances that allow IMDSv1,
   * and which of them would be upgraded.
   */
  REPORT_ONLY = 'REPORT_ONLY',
  /**
   * Require IMDSv2 (`ModifyInstanceMetadataOptions` with `HttpTokens: required`,
   * nothing else) on the instances that are safe to upgrade: `MetadataNoToken`
   * datapoints covering at least `minimumObservedTime` of the lookback window, all
   * zero; no exclusion tag (and the inclusion tag, when one is set). Only the
   * scheduled runs switch, at most `maxUpgradesPerRun` per `interval`; the run on
   * each deployment only reports.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html
   */
  UPGRADE = 'UPGRADE',
}

/**
 * What `ImdsInstanceUpgrade` does about an instance it switched to IMDSv2 that
 * refuses IMDSv1 calls since (the `AWS/EC2` metric `MetadataNoTokenRejected`).
 * Either way each such instance gets a log line and is counted in
 * `InstancesWithRejectedImdsv1Calls`.
 */
export enum RejectedCallsAction {
  /** Only report it. */
  REPORT = 'REPORT',
  /**
   * Also put it back to `HttpTokens: optional` (IMDSv1 allowed again), in
   * `UPGRADE` mode, on scheduled runs, when EC2 and CloudWatch confirm the
   * record on the instance (it requires IMDSv2 now, it allowed IMDSv1 before the
   * recorded switch, and it refused IMDSv1 calls after it). The put-back is
   * recorded on the instance (tag `cdk-imds-account-defaults:restored-at`), which
   * is never switched again while it carries that tag. When EC2 refuses it
   * because `HttpTokensEnforced` is on, that is recorded
   * (`cdk-imds-account-defaults:restore-refused-at`), reported and not tried again.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html
   */
  RESTORE_OPTIONAL = 'RESTORE_OPTIONAL',
}

/**
 * What `ImdsInstanceUpgrade` does, and how often: the options that
 * `ImdsAccountDefaultsStackSet` can roll out with it (`instanceUpgrade`).
 */
export interface ImdsInstanceUpgradeOptions {
  /**
   * Report only, or upgrade the instances that are safe to upgrade.
   *
   * @default InstanceUpgradeMode.REPORT_ONLY
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html
   */
  readonly mode?: InstanceUpgradeMode;

  /**
   * The window over which an instance's IMDSv1 calls are counted (the sum of the
   * `AWS/EC2` metric `MetadataNoToken`): an instance with no IMDSv1 call in it is
   * safe to upgrade; one without any datapoint in it is unknown (see
   * `upgradeWithoutMetrics`). A whole number of hours, from 1 hour to 455 days
   * (CloudWatch keeps 1-hour datapoints for 455 days, 5-minute ones for 63 days
   * and 1-minute ones for 15 days; the function reads it hour by hour, to count the
   * hours observed against `minimumObservedTime`).
   * Longer windows catch rarer IMDSv1 use (a monthly job).
   *
   * @default Duration.days(14)
   * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention
   */
  readonly lookback?: Duration;

  /**
   * How often the function runs (an EventBridge schedule, `rate(...)`), besides
   * once on every deployment that creates or changes the construct. Whole
   * minutes, at least 1 hour.
   *
   * @default Duration.days(1)
   * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html#eb-rate-expressions
   */
  readonly interval?: Duration;

  /**
   * The key of the tag that keeps an instance as it is: an instance carrying it,
   * whatever its value, is never changed (the function skips it, and the role's
   * policy refuses `ModifyInstanceMetadataOptions` on it). EC2 tag key rules: 1 to
   * 128 characters, letters, digits, spaces and `+ - = . _ : / @`, not starting
   * with `aws:`.
   *
   * @default 'imds-keep-v1'
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
   */
  readonly exclusionTagKey?: string;

  /**
   * Also upgrade the instances that have no `MetadataNoToken` datapoint in the
   * lookback window (stopped the whole window, or not reporting the metric),
   * whose IMDSv1 use is unknown. Left `false`, they are reported as unknown and
   * left alone.
   *
   * @default false
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html
   */
  readonly upgradeWithoutMetrics?: boolean;

  /**
   * The most instances switched per `interval` (1 to 1000), whatever the runs:
   * only scheduled runs switch (the run on deploy only reports), each counts the
   * instances switched within the last interval (their record tag) against it,
   * and overlapping runs claim the interval first (a Parameter Store parameter),
   * so they never switch more than this together. The others wait for the next
   * interval. Keeps each run well inside the function's timeout, also when EC2
   * throttles.
   *
   * @default 100
   * @see https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
   */
  readonly maxUpgradesPerRun?: number;

  /**
   * How much running time the `MetadataNoToken` datapoints of an instance must
   * cover inside the lookback window, all of them zero, before it is upgraded.
   * An instance with less (launched recently, stopped most of the window) is
   * reported as having too little data, with the hours observed
   * (`InstancesWithTooLittleData`), and left alone, whatever
   * `upgradeWithoutMetrics` (which is about instances without any datapoint).
   * Running time is counted in hours with at least one datapoint. A whole number
   * of hours, at least 1 hour and no longer than `lookback`.
   *
   * Software that calls IMDSv1 only at boot (old cloud-init, a user-data script)
   * shows in `MetadataNoToken` only if the instance booted inside the window.
   *
   * @default - Duration.days(7), or the whole `lookback` when it is shorter
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html
   */
  readonly minimumObservedTime?: Duration;

  /**
   * The key of a tag that scopes the function: when set, only instances
   * carrying it, whatever its value, are considered (listed with the
   * `DescribeInstances` filter `tag-key`, counted and upgraded), and the role's
   * policy allows `ModifyInstanceMetadataOptions` only on instances carrying
   * it. The exclusion tag still wins. Same rules as `exclusionTagKey`, and
   * different from it.
   *
   * @default - every instance of the account and Region is considered
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
   */
  readonly inclusionTagKey?: string;

  /**
   * What to do about an instance this construct switched that refuses IMDSv1
   * calls since (`MetadataNoTokenRejected` above 0 after the switch, within the
   * lookback window): report it, or also put it back to `HttpTokens: optional`.
   *
   * @default RejectedCallsAction.REPORT
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html
   */
  readonly rejectedCallsAction?: RejectedCallsAction;
}
