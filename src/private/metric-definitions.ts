/**
 * The metrics the functions publish (namespace METRICS_NAMESPACE, no dimensions),
 * as the constructs' `metric*()` methods and `ImdsMetrics` build them: the name
 * the handler puts (properties.ts holds the handler's side), the statistic that
 * reads it right, and the period when no interval is configured.
 */
import { Duration, aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { DEFAULT_INTERVAL } from './instance-upgrade-config';
import {
  CLAIM_PROBLEM_METRIC, DRIFT_CHECK_SKIPPED_METRIC, DRIFT_DETECTED_METRIC, DRIFT_REAPPLIED_METRIC, FINDINGS_NOT_PUT_METRIC,
  METRICS_NAMESPACE, REPORT_METRIC_NAMES, UNCONFIRMED_EVENT_METRIC, UPGRADE_METRIC_NAMES,
} from './properties';

/** Which feature publishes a metric. */
export type MetricSource = 'drift-guard' | 'security' | 'findings' | 'instance-upgrade' | 'readiness-report';

export interface MetricDefinition {
  readonly name: string;
  readonly source: MetricSource;
  readonly statistic: string;
  readonly defaultPeriod: Duration;
}

/** The drift guard's default interval (ImdsAccountDefaultsOptions.driftCheckInterval). */
export const DEFAULT_DRIFT_CHECK_INTERVAL = Duration.hours(1);

const drift = (name: string): MetricDefinition => ({ name, source: 'drift-guard', statistic: cloudwatch.Stats.SUM, defaultPeriod: DEFAULT_DRIFT_CHECK_INTERVAL });
// Each run of ImdsInstanceUpgrade puts its counts once: the largest in a period is the state it found.
const upgrade = (name: string): MetricDefinition => ({ name, source: 'instance-upgrade', statistic: cloudwatch.Stats.MAXIMUM, defaultPeriod: DEFAULT_INTERVAL });

/**
 * ImdsReadinessReport's default interval (ImdsReadinessReportOptions.interval): the
 * report is a migration instrument read over days and weeks, like the daily runs of
 * ImdsInstanceUpgrade, whose dashboards it lines up with; a deployment refreshes it at once.
 */
export const DEFAULT_REPORT_INTERVAL = Duration.days(1);
// Each report run puts its counts once: the largest in a period is the state it found.
const report = (name: string): MetricDefinition => ({ name, source: 'readiness-report', statistic: cloudwatch.Stats.MAXIMUM, defaultPeriod: DEFAULT_REPORT_INTERVAL });

/** Every metric the library publishes. */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = [
  drift(DRIFT_DETECTED_METRIC),
  drift(DRIFT_REAPPLIED_METRIC),
  drift(DRIFT_CHECK_SKIPPED_METRIC),
  { name: UNCONFIRMED_EVENT_METRIC, source: 'security', statistic: cloudwatch.Stats.SUM, defaultPeriod: Duration.minutes(5) },
  { name: CLAIM_PROBLEM_METRIC, source: 'security', statistic: cloudwatch.Stats.SUM, defaultPeriod: Duration.minutes(5) },
  // Every function: findings (events) it could not put, to either bus, after the retries.
  { name: FINDINGS_NOT_PUT_METRIC, source: 'findings', statistic: cloudwatch.Stats.SUM, defaultPeriod: Duration.minutes(5) },
  ...Object.keys(UPGRADE_METRIC_NAMES).map(upgrade),
  ...Object.values(REPORT_METRIC_NAMES).map(report),
];

/** The definitions of the metrics ImdsAccountDefaults's function publishes. */
export const ACCOUNT_DEFAULTS_METRICS = METRIC_DEFINITIONS.filter((d) => d.source === 'drift-guard' || d.source === 'security' || d.source === 'findings');
/** The definitions of the metrics ImdsInstanceUpgrade's function publishes (its security warning: unconfirmed events). */
export const INSTANCE_UPGRADE_METRICS = METRIC_DEFINITIONS.filter((d) => d.source === 'instance-upgrade' || d.source === 'findings' || d.name === UNCONFIRMED_EVENT_METRIC);

/** The definitions of the metrics ImdsReadinessReport's function publishes (its security warning: unconfirmed events). */
export const READINESS_REPORT_METRICS = METRIC_DEFINITIONS.filter((d) => d.source === 'readiness-report' || d.source === 'findings' || d.name === UNCONFIRMED_EVENT_METRIC);

/** The definition of a metric by name, or an error that names who asks (`where`) and lists the names. */
export function definitionOf(metricName: string, where: string, allowed: readonly MetricDefinition[] = METRIC_DEFINITIONS): MetricDefinition {
  const definition = allowed.find((d) => d.name === metricName);
  if (definition === undefined) {
    throw new Error(`${where}: ${JSON.stringify(metricName)} is not a metric ${allowed === METRIC_DEFINITIONS ? 'the library publishes' : 'this construct publishes'}; give one of ${allowed.map((d) => d.name).join(', ')}`);
  }
  return definition;
}

/** The metric, with the definition's statistic and `period` (else the definition's default period), unless `props` overrides them. */
export function buildMetric(definition: MetricDefinition, period: Duration | undefined, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: definition.name,
    statistic: definition.statistic,
    period: period ?? definition.defaultPeriod,
    ...props,
  });
}
