/**
 * What one run found and did: the counts answered to CloudFormation (Data), put
 * as CloudWatch metrics, and written as the run's one summary log line.
 *
 * Every candidate ends in exactly one of excluded, inUse, unknown (not upgraded),
 * eligible, or failed while its usage was read. Eligible instances (safe, and
 * unknown ones when upgradeWithoutMetrics) end in upgraded (Modify accepted;
 * pending when not yet seen applied), failed (Modify refused) or notAttempted
 * (REPORT_ONLY, the cap, or the budget).
 */
import type { UpgradeConfig } from './config';
import { UPGRADE_ATTRIBUTE_KEYS, UPGRADE_METRIC_NAMES, UpgradeAttributeKey } from '../../src/private/properties';
import type { MetricValue } from '../shared/metrics';

/** The most instance ids one list of the summary line carries; the rest are counted in `omitted`. */
export const MAX_IDS_LOGGED = 100;

export interface Failure {
  readonly instanceId: string;
  readonly action: string;
  readonly code: string;
}

export type Trigger = 'schedule' | 'Create' | 'Update';

export type Counts = Record<UpgradeAttributeKey | 'NotAttempted', number>;

export class RunReport {
  public readonly candidates: string[] = [];
  public readonly excluded: string[] = [];
  public readonly inUse: string[] = [];
  public readonly unknown: string[] = [];
  public readonly eligible: string[] = [];
  public readonly upgraded: string[] = [];
  public readonly pending: string[] = [];
  public readonly failed: Failure[] = [];
  public readonly notAttempted: string[] = [];
  /** Why the upgrades stopped before every eligible instance was tried. */
  public stoppedEarly?: 'maxUpgradesPerRun' | 'deadline';
  /** Why the run ended without a result (the instances could not be listed). */
  public error?: string;

  public constructor(public readonly trigger: Trigger, public readonly config: UpgradeConfig) {}

  public counts(): Counts {
    return {
      Candidates: this.candidates.length,
      Eligible: this.eligible.length,
      Upgraded: this.upgraded.length,
      Pending: this.pending.length,
      InUse: this.inUse.length,
      Excluded: this.excluded.length,
      Unknown: this.unknown.length,
      Failed: this.failed.length,
      NotAttempted: this.notAttempted.length,
    };
  }

  /** The custom resource's Data: each count of UPGRADE_ATTRIBUTE_KEYS as a string. */
  public data(): Record<string, string> {
    const counts = this.counts();
    return Object.fromEntries(UPGRADE_ATTRIBUTE_KEYS.map((key) => [key, String(counts[key])]));
  }

  /** The metric values of the run (UPGRADE_METRIC_NAMES). */
  public metricValues(): MetricValue[] {
    const counts = this.counts();
    return Object.entries(UPGRADE_METRIC_NAMES).map(([name, key]) => ({ name, value: counts[key] }));
  }

  /** The fields of the summary log line: the configuration, the counts, and the ids of each list, at most MAX_IDS_LOGGED each. */
  public summary(): Record<string, unknown> {
    const lists: Record<string, readonly unknown[]> = {
      excluded: this.excluded,
      inUse: this.inUse,
      unknown: this.unknown,
      upgraded: this.upgraded,
      pending: this.pending,
      failed: this.failed,
      notAttempted: this.notAttempted,
    };
    const instances: Record<string, unknown[]> = {};
    const omitted: Record<string, number> = {};
    for (const [name, list] of Object.entries(lists)) {
      instances[name] = list.slice(0, MAX_IDS_LOGGED);
      if (list.length > MAX_IDS_LOGGED) {
        omitted[name] = list.length - MAX_IDS_LOGGED;
      }
    }
    return {
      trigger: this.trigger,
      config: this.config,
      counts: this.counts(),
      instances,
      omitted,
      stoppedEarly: this.stoppedEarly,
      error: this.error,
    };
  }
}
