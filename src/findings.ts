/**
 * The findings the library's functions put as Amazon EventBridge events: their
 * source, their detail types and the version of their detail's schema.
 *
 * The functions' bundles (lambda/shared/events.ts and their callers) use the same
 * names as the constructs (ImdsFindingsHub's rules), so a renamed detail type breaks
 * the compile on both sides; this file imports nothing but plain constants, so a
 * bundle that uses the enum carries nothing else of the library. The schema of each detail type is
 * `findings-schema.json` at the package's root, documented with one example per
 * type in the README ("Findings as events").
 */

import { FINDINGS_SCHEMA_VERSION, FINDINGS_SOURCE } from './private/properties';

/**
 * The `detail-type` of each kind of finding the library's functions put as an
 * EventBridge event (with `source` `ImdsFindings.SOURCE`). The values never change:
 * users write rules on them.
 */
export enum ImdsFindingType {
  /**
   * ImdsAccountDefaults answered a CloudFormation event (Create, Update or Delete):
   * the settings it asked for (`expected`), what EC2 showed before (`previous`) and
   * after (`found`), and the outcome.
   */
  DEFAULTS_CHANGED = 'IMDS Defaults Changed',
  /** The drift guard found a setting other than the template's, and says what it did. */
  DRIFT_DETECTED = 'IMDS Drift Detected',
  /**
   * A run of `ImdsReadinessReport` (the dry run): what would stop launching under
   * enforcement, and what still allows IMDSv1. (The readiness check of
   * `ImdsAccountDefaults` reports in its `IMDS Defaults Changed` finding.)
   */
  READINESS_REPORT = 'IMDS Readiness Report',
  /** One run of ImdsInstanceUpgrade: what it switched, what failed, what it left and why. */
  UPGRADE_RUN = 'IMDS Instance Upgrade Run',
  /** ImdsInstanceUpgrade saw IMDSv1 calls refused by instances it had switched, and what it did about them. */
  REJECTED_CALLS = 'IMDS Rejected Calls',
  /**
   * An input that someone other than CloudFormation or the template could have written
   * (an invocation, a claim in Parameter Store, a record tag) did not hold up, and was not acted on.
   */
  SECURITY_WARNING = 'IMDS Security Warning',
}

/**
 * Where the library's findings come from, as EventBridge events.
 */
export class ImdsFindings {
  /** The `source` of every event the library's functions put. */
  public static readonly SOURCE = FINDINGS_SOURCE;

  /**
   * The version of the events' detail schema (`detail.version`). It changes only
   * when a field is removed or changes meaning; new fields keep it.
   */
  public static readonly SCHEMA_VERSION = FINDINGS_SCHEMA_VERSION;

  private constructor() {}
}

