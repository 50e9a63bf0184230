/**
 * What one run found and did: the counts answered to CloudFormation (Data), put
 * as CloudWatch metrics, and written as the run's one summary log line.
 *
 * Every candidate ends in exactly one of excluded, inUse, unknown, tooLittleData
 * (not upgraded), eligible, or failed while its usage was read. Eligible instances (safe, and
 * unknown ones when upgradeWithoutMetrics) end in upgraded (Modify accepted;
 * pending when not yet seen applied), failed (Modify refused) or notAttempted
 * (REPORT_ONLY, a deploy-time run, the cap, the interval's claim, or the budget).
 *
 * Apart from the candidates: the instances this function switched earlier
 * (their record tag) that refuse IMDSv1 calls since (rejected), and what the
 * watch did about them (restored, restoreRefused, restoreSkipped, watchFailed).
 */
import type { UpgradeConfig } from './config';
import type { GroupReport } from './groups';
import { ImdsFindingType } from '../../src/findings';
import { UPGRADE_ATTRIBUTE_KEYS, UPGRADE_METRIC_NAMES, UpgradeAttributeKey } from '../../src/private/properties';
import type { Finding } from '../shared/events';
import type { MetricValue } from '../shared/metrics';

/** The most instance ids one list of the summary line carries; the rest are counted in `omitted`. */
export const MAX_IDS_LOGGED = 100;

export interface Failure {
  readonly instanceId: string;
  readonly action: string;
  readonly code: string;
}

/** An instance whose zero datapoints cover less than the minimum observed time: not enough evidence yet. */
export interface TooLittleData {
  readonly instanceId: string;
  readonly hoursObserved: number;
}

export type Trigger = 'schedule' | 'Create' | 'Update';

/** The counts: the custom resource's Data keys, and the ones only logged and put as metrics. */
export type Counts = Record<UpgradeAttributeKey | 'NotAttempted' | 'RejectedCalls' | 'Restored' | 'RestoreRefused' | 'GroupsAllowingImdsv1', number>;

/** An instance switched by this function that refused IMDSv1 calls since, and what the watch did about it. */
export interface Rejected {
  readonly instanceId: string;
  readonly upgradedAt: string;
  readonly rejectedCalls: number;
  /** reported, restored (put back to optional), refused (EC2 refused the put-back) or forged-record (nothing shows it allowed IMDSv1 before the record). */
  action: string;
}

/** Why the upgrades stopped before every eligible instance was tried. */
export type StoppedEarly =
  | 'maxUpgradesPerRun'
  | 'deadline'
  /** The cap less the switches recorded in the last interval left none. */
  | 'maxUpgradesPerInterval'
  /** The interval's claim (claim.ts) went to another run, or the previous interval's run may still be switching, or it failed. */
  | 'intervalClaimed' | 'previousRunActive' | 'claimFailed'
  /** The records could not be listed (the switches of the interval are unknown), or a switch could not be recorded. */
  | 'recordsUnreadable' | 'recordFailed';

export class RunReport {
  public readonly candidates: string[] = [];
  public readonly excluded: string[] = [];
  public readonly inUse: string[] = [];
  public readonly unknown: string[] = [];
  public readonly tooLittleData: TooLittleData[] = [];
  public readonly eligible: string[] = [];
  public readonly upgraded: string[] = [];
  public readonly pending: string[] = [];
  public readonly failed: Failure[] = [];
  public readonly notAttempted: string[] = [];
  public readonly rejected: Rejected[] = [];
  public readonly restored: string[] = [];
  public readonly restoreRefused: string[] = [];
  public readonly restoreSkipped: Array<{ readonly instanceId: string; readonly reason: string }> = [];
  public readonly watchFailed: Failure[] = [];
  /** Record tags whose upgraded-at value is not a time this function writes (or lies in the future): not trusted. */
  public readonly recordProblems: Array<{ readonly instanceId: string; readonly value: string }> = [];
  /** The Auto Scaling groups that hold a candidate or launch instances allowing IMDSv1 (groups.ts). */
  public readonly groups: GroupReport[] = [];
  /** Why the groups could not all be read, when they could not. */
  public groupsIncomplete?: string;
  /** Instances whose record says they were switched within the last interval (they count against the cap). */
  public switchedThisInterval?: number;
  /** Set when the mode is UPGRADE but this run only reports: runs on deploy never switch (the cap holds per interval). */
  public reportOnly?: 'deploy-time run';
  /** Why the upgrades stopped before every eligible instance was tried. */
  public stoppedEarly?: StoppedEarly;
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
      TooLittleData: this.tooLittleData.length,
      RejectedCalls: this.rejected.length,
      Restored: this.restored.length,
      RestoreRefused: this.restoreRefused.length,
      GroupsAllowingImdsv1: this.groups.filter((g) => g.imdsv1 === 'allowed').length,
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

  /**
   * The run's findings (shared/events.ts caps the lists; the counts are whole): its
   * summary, and the rejected calls when an instance it switched refused IMDSv1 calls.
   * What the run does not know is left out (stoppedEarly says why there are no counts).
   */
  public findings(): Finding[] {
    const c = this.counts();
    const r = this.rejected;
    return [{
      type: ImdsFindingType.UPGRADE_RUN,
      detail: {
        mode: this.config.mode,
        trigger: this.trigger === 'schedule' ? 'schedule' : 'deploy',
        expected: { HttpTokens: 'required' },
        // None when the instances could not be listed; no group count when the groups could not all be read.
        counts: this.error ? {} : { ...c, GroupsAllowingImdsv1: this.groupsIncomplete ? undefined : c.GroupsAllowingImdsv1 },
        failures: this.failed,
        usingImdsv1: this.inUse,
        stoppedEarly: this.error ?? this.stoppedEarly,
      },
    }, ...r.length ? [{
      type: ImdsFindingType.REJECTED_CALLS,
      detail: {
        action: this.config.rejectedCallsAction,
        counts: { instances: r.length, rejectedCalls: r.reduce((n, x) => n + x.rejectedCalls, 0), restored: c.Restored },
        instances: r,
      },
    }] : []];
  }

  /** The fields of the summary log line: the configuration, the counts, and the ids of each list, at most MAX_IDS_LOGGED each. */
  public summary(): Record<string, unknown> {
    const lists: Record<string, readonly unknown[]> = {
      excluded: this.excluded,
      inUse: this.inUse,
      unknown: this.unknown,
      tooLittleData: this.tooLittleData,
      upgraded: this.upgraded,
      pending: this.pending,
      failed: this.failed,
      notAttempted: this.notAttempted,
      rejected: this.rejected,
      restored: this.restored,
      restoreRefused: this.restoreRefused,
      restoreSkipped: this.restoreSkipped,
      watchFailed: this.watchFailed,
      recordProblems: this.recordProblems,
      autoScalingGroups: this.groups,
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
      reportOnly: this.reportOnly,
      switchedThisInterval: this.switchedThisInterval,
      autoScalingGroupsIncomplete: this.groupsIncomplete,
      error: this.error,
    };
  }
}
