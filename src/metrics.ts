import { aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { buildMetric, definitionOf } from './private/metric-definitions';
import { METRICS_NAMESPACE } from './private/properties';

/**
 * The CloudWatch metrics the library's functions publish, for any account and
 * Region: the static way to build them for a member account of
 * `ImdsAccountDefaultsStackSet` (given its `account` and `region`), for example
 * on a dashboard of a monitoring account. In the stack that holds a construct,
 * prefer its methods (`ImdsAccountDefaults.metricDriftDetected()`, ...), which
 * also set the period from the construct's interval and refuse a metric of a
 * feature that is off.
 *
 * Every metric is in the namespace `CdkImdsAccountDefaults`, without
 * dimensions: each account and Region holds at most one `ImdsAccountDefaults`
 * and one `ImdsInstanceUpgrade`. Counts are `Count`; event metrics (drift,
 * security warnings) default to the statistic `Sum`, the per-run instance
 * counts of `ImdsInstanceUpgrade` and `ImdsReadinessReport` to `Maximum`.
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html
 */
export class ImdsMetrics {
  /** The namespace of every metric the library publishes. */
  public static readonly NAMESPACE = METRICS_NAMESPACE;

  /** Drift guard: fields found different from the construct's values, per run (only when there is drift). */
  public static readonly DRIFT_DETECTED = 'DriftDetected';
  /** Drift guard (`REAPPLY`): fields set back and read back, per run (only when there is drift). */
  public static readonly DRIFT_REAPPLIED = 'DriftReapplied';
  /** Drift guard: runs that could not compare, whatever the reason (the log line says which). */
  public static readonly DRIFT_CHECKS_SKIPPED = 'DriftChecksSkipped';
  /** Both functions: custom resource events CloudFormation did not confirm; nothing was changed. */
  public static readonly UNCONFIRMED_EVENTS = 'UnconfirmedEvents';
  /** `ImdsAccountDefaults`: claims in Parameter Store that are malformed, foreign or missing; not trusted. */
  public static readonly CLAIM_PROBLEMS = 'ClaimProblems';
  /** Every function: findings (EventBridge events) it could not put, to its default bus or the central bus, after its retries. */
  public static readonly FINDINGS_NOT_PUT = 'FindingsNotPut';
  /** `ImdsInstanceUpgrade`: instances that allow IMDSv1 (`HttpTokens: optional`), per run. */
  public static readonly INSTANCES_ALLOWING_IMDSV1 = 'InstancesAllowingImdsv1';
  /** `ImdsInstanceUpgrade`: instances upgraded, per run. */
  public static readonly INSTANCES_UPGRADED = 'InstancesUpgraded';
  /** `ImdsInstanceUpgrade`: instances left alone because they made IMDSv1 calls in the lookback window, per run. */
  public static readonly INSTANCES_IN_USE = 'InstancesInUse';
  /** `ImdsInstanceUpgrade`: instances left alone because they carry the exclusion tag, per run. */
  public static readonly INSTANCES_EXCLUDED = 'InstancesExcluded';
  /** `ImdsInstanceUpgrade`: instances without `MetadataNoToken` datapoints in the lookback window, per run. */
  public static readonly INSTANCES_UNKNOWN = 'InstancesUnknown';
  /** `ImdsInstanceUpgrade`: instances whose upgrade failed, per run. */
  public static readonly INSTANCES_FAILED = 'InstancesFailed';
  /** `ImdsInstanceUpgrade`: instances whose zero `MetadataNoToken` datapoints cover less than `minimumObservedTime`, per run. */
  public static readonly INSTANCES_WITH_TOO_LITTLE_DATA = 'InstancesWithTooLittleData';
  /** `ImdsInstanceUpgrade`: instances it switched that refused IMDSv1 calls since (`MetadataNoTokenRejected`), per run. */
  public static readonly INSTANCES_WITH_REJECTED_IMDSV1_CALLS = 'InstancesWithRejectedImdsv1Calls';
  /** `ImdsInstanceUpgrade` (`RejectedCallsAction.RESTORE_OPTIONAL`): instances put back to `HttpTokens: optional`, per run. */
  public static readonly INSTANCES_RESTORED_TO_OPTIONAL = 'InstancesRestoredToOptional';
  /** `ImdsInstanceUpgrade` (`RejectedCallsAction.RESTORE_OPTIONAL`): put-backs EC2 refused because enforcement is on, per run. */
  public static readonly INSTANCES_RESTORE_REFUSED = 'InstancesRestoreRefused';
  /** `ImdsInstanceUpgrade`: Auto Scaling groups whose launch template version or configuration launches instances allowing IMDSv1, per run. */
  public static readonly AUTO_SCALING_GROUPS_ALLOWING_IMDSV1 = 'AutoScalingGroupsAllowingImdsv1';
  /** `ImdsReadinessReport`: launch templates whose `$Default` or `$Latest` version allows IMDSv1, per run. */
  public static readonly READINESS_LAUNCH_TEMPLATES_ALLOWING_IMDSV1 = 'ReadinessLaunchTemplatesAllowingImdsv1';
  /** `ImdsReadinessReport`: Auto Scaling launch configurations that allow IMDSv1, per run. */
  public static readonly READINESS_LAUNCH_CONFIGURATIONS_ALLOWING_IMDSV1 = 'ReadinessLaunchConfigurationsAllowingImdsv1';
  /** `ImdsReadinessReport`: Auto Scaling groups that launch from a template version or configuration allowing IMDSv1, per run. */
  public static readonly READINESS_AUTO_SCALING_GROUPS_ALLOWING_IMDSV1 = 'ReadinessAutoScalingGroupsAllowingImdsv1';
  /** `ImdsReadinessReport`: instances (pending, running, stopping, stopped) that allow IMDSv1, per run. */
  public static readonly READINESS_INSTANCES_ALLOWING_IMDSV1 = 'ReadinessInstancesAllowingImdsv1';
  /** `ImdsReadinessReport`: 1 when enforcing would stop launches (`WOULD_STOP_LAUNCHES`), else 0, per run. */
  public static readonly READINESS_WOULD_STOP_LAUNCHES = 'ReadinessWouldStopLaunches';
  /** `ImdsReadinessReport`: 1 when a listing did not finish (the counts are a lower bound), else 0, per run. */
  public static readonly READINESS_INCOMPLETE = 'ReadinessIncomplete';

  /**
   * One of the library's metrics, by name (one of the constants of this class),
   * with its default statistic and a period of the default interval of the
   * feature that publishes it (1 hour for the drift guard, 1 day for
   * `ImdsInstanceUpgrade` and `ImdsReadinessReport`, 5 minutes for security warnings) unless `props` says
   * otherwise. Give `account` and `region` for another account's metric.
   *
   * @param metricName the metric's name, e.g. `ImdsMetrics.DRIFT_DETECTED`
   * @param props the metric's options
   */
  public static metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return buildMetric(definitionOf(metricName, 'ImdsMetrics.metric'), undefined, props);
  }

  private constructor() {}
}
