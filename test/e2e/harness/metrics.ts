/**
 * The contract between the constructs' metric methods and the functions: an
 * alarm on `defaults.metricDriftDetected()` (or any `metricXxx()`) watches the
 * CloudWatch metric of that namespace, name and dimensions, which must be the
 * one the function puts. `identityOf(metric)` is what a method names;
 * `metricsPut(w.cloudwatch, region)` what the functions put (each once, in the
 * order first put).
 */
import { aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { CloudWatchEmulator } from '../../support/cloudwatch-emulator';

/** What identifies a CloudWatch metric: an alarm on a metric of other dimensions watches another metric. */
export interface MetricIdentity {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** The metric a construct's method names. */
export function identityOf(metric: cloudwatch.Metric): MetricIdentity {
  return { namespace: metric.namespace, metricName: metric.metricName, dimensions: { ...metric.dimensions } };
}

/** The metrics the functions put in a Region (every namespace), each once, in the order first put. */
export function metricsPut(endpoint: CloudWatchEmulator, region: string): MetricIdentity[] {
  const seen = new Map<string, MetricIdentity>();
  for (const d of endpoint.putMetricData(region)) {
    const identity = { namespace: d.Namespace, metricName: d.MetricName, dimensions: { ...d.Dimensions } };
    const key = JSON.stringify([identity.namespace, identity.metricName, Object.entries(identity.dimensions).sort()]);
    if (!seen.has(key)) {
      seen.set(key, identity);
    }
  }
  return [...seen.values()];
}
