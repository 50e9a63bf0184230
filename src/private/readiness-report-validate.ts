/**
 * The synth-time checks of ImdsReadinessReport's options, shared by the
 * construct and ImdsAccountDefaultsStackSet's `readinessReport`.
 */
import { Duration } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { failer } from './validate';
import type { ImdsReadinessReportOptions } from '../imds-readiness-report';

/** The shortest interval: a listing reads the whole fleet, and its Describe calls share the account's API rate. */
const MIN_INTERVAL = Duration.hours(1);

/**
 * Checks the options (`prefix` names them as the user wrote them, e.g.
 * `readinessReport.` in the StackSet); tokens are left to EventBridge.
 */
export function validateReadinessReportOptions(scope: IConstruct, options: ImdsReadinessReportOptions, prefix = ''): void {
  const fail = failer(scope);
  const { interval, scheduledRuns } = options;
  if (interval === undefined || interval.isUnresolved()) {
    return;
  }
  if (scheduledRuns === false) {
    fail(`${prefix}interval applies only to scheduled runs; got ${prefix}interval ${interval.toHumanString()} with ${prefix}scheduledRuns false. Leave one of them out`);
  }
  const minutes = interval.toSeconds() / 60;
  if (!Number.isInteger(minutes) || interval.toSeconds() < MIN_INTERVAL.toSeconds()) {
    fail(`${prefix}interval must be a whole number of minutes, at least 1 hour (each run lists the whole fleet); got ${interval.toHumanString()}`);
  }
}
