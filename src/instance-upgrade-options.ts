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
   * nothing else) on the instances that are safe to upgrade: no IMDSv1 call in
   * the lookback window, no exclusion tag.
   *
   * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html
   */
  UPGRADE = 'UPGRADE',
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
   * and 1-minute ones for 15 days; the function asks for one sum over the window).
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
   * The most instances one run modifies (1 to 1000); the others wait for the next
   * run. Keeps each run well inside the function's timeout, also when EC2
   * throttles.
   *
   * @default 100
   * @see https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
   */
  readonly maxUpgradesPerRun?: number;
}
