/**
 * One run: list the instances that allow IMDSv1, set aside the excluded ones
 * (and those this function put back to optional), read the others' IMDSv1 use,
 * watch the instances it switched earlier (watch.ts), and (mode UPGRADE, a
 * scheduled run only) require IMDSv2 on the safe ones, one at a time, recording
 * each on the instance (records.ts); then read back which reached `applied`.
 *
 * The cap: runs on deploy (Create, Update) only report, so only the schedule
 * switches. A scheduled run switches at most maxUpgradesPerRun less the
 * instances whose record says they were switched within the last interval, and
 * only after it claimed its interval (claim.ts): overlapping runs, a late or
 * retried delivery and a direct invoke never switch more than the cap together.
 *
 * Time: listing may use the whole budget (without the list there is nothing to
 * report); no usage call and no Modify starts within FINISH_RESERVE_MS of the
 * budget's end, which leaves time to read back and to report; no read-back
 * starts within REPORT_RESERVE_MS of it.
 *
 * The first call to each action waits for IAM to propagate a new role's policy
 * (whileIamPropagates); a throttled call is retried (retry.ts). One instance's
 * failure is recorded and the run goes on.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { claimInterval } from './claim';
import type { UpgradeConfig } from './config';
import { listCandidates, metadataStates, requireTokens } from './fleet';
import { reportGroups } from './groups';
import { Recorded, listRecorded, writeRecord } from './records';
import type { RunReport } from './report';
import { retryThrottled } from './retry';
import { readUsage } from './usage';
import { watchUpgraded } from './watch';
import { UPGRADE_RECORD_TAGS } from '../../src/private/properties';
import type { Budget } from '../shared/custom-resource';
import { describeError, log } from '../shared/log';
import { whileIamPropagates } from '../shared/sdk';

/** Kept from the budget's end for the read-back and the report: no usage call or Modify starts later. */
export const FINISH_RESERVE_MS = 10_000;
/** Kept from the budget's end for the report: no read-back starts later. */
export const REPORT_RESERVE_MS = 3_000;
/** Instances recorded (upgraded-at) by one CreateTags call, before they are switched; EC2 takes up to 1000 ids a call and recommends smaller batches. */
export const RECORD_BATCH = 100;
/** Read-backs of the upgraded instances' state, CONFIRM_INTERVAL_MS apart, until each is `applied`. */
export const CONFIRM_ATTEMPTS = 4;
export const CONFIRM_INTERVAL_MS = 2_000;

export interface Clients {
  readonly ec2: EC2Client;
  readonly cw: CloudWatchClient;
  readonly ssm: SSMClient;
  readonly autoScaling: AutoScalingClient;
}

/** A wrapper whose `first` is true for its first call only, whatever its callers say (IAM propagation is waited for once per action). */
function firstOnce(wrap: <T>(first: boolean, call: () => Promise<T>) => Promise<T>): <T>(first: boolean, call: () => Promise<T>) => Promise<T> {
  let first = true;
  return (_first, call) => {
    const isFirst = first;
    first = false;
    return wrap(isFirst, call);
  };
}

/** Runs once, filling `report`. Throws only when the instances cannot be listed (or the budget's signal stopped the run). */
export async function runUpgrade(config: UpgradeConfig, clients: Clients, budget: Budget, report: RunReport): Promise<void> {
  const { signal } = budget;
  const stopAt = budget.end - FINISH_RESERVE_MS;
  const calls = (what: string, service: string, until: number) => <T>(first: boolean, call: () => Promise<T>) =>
    retryThrottled(what, first ? () => whileIamPropagates(service, call, signal) : call, signal, until);

  let candidates;
  try {
    candidates = await listCandidates(clients.ec2, signal, calls('DescribeInstances', 'EC2', budget.end), config.inclusionTagKey);
  } catch (err) {
    throw new Error(`The instances allowing IMDSv1 could not be listed, so nothing was changed: ${describeError(err)}`);
  }
  const now = Date.now();
  let recorded: Recorded[] | undefined;
  try {
    recorded = await listRecorded(clients.ec2, signal, calls('DescribeInstances', 'EC2', stopAt), now);
  } catch (err) {
    log('the instances with an upgrade record could not be listed: no watch, and no switch in this run', { error: describeError(err) });
    report.watchFailed.push({ instanceId: '*', action: 'DescribeInstances', code: (err as Error).name || 'Error' });
  }

  const toRead: string[] = [];
  for (const candidate of candidates) {
    report.candidates.push(candidate.instanceId);
    // An instance this function put back to optional stays as it is (remove its restored-at tag to have it considered again).
    const keep = candidate.tagKeys.includes(config.exclusionTagKey) || candidate.tagKeys.includes(UPGRADE_RECORD_TAGS.RESTORED_AT);
    (keep ? report.excluded : toRead).push(candidate.instanceId);
  }

  const cwCalls = { signal, stopAt, wrap: firstOnce(calls('GetMetricData', 'CloudWatch', stopAt)) };
  const usage = await readUsage(clients.cw, toRead, config, cwCalls);
  const safe: string[] = [];
  const unknown: string[] = [];
  for (const instanceId of toRead) {
    const found = usage.get(instanceId)!;
    switch (found.kind) {
      case 'inUse':
        report.inUse.push(instanceId);
        break;
      case 'safe':
        safe.push(instanceId);
        break;
      case 'tooLittleData':
        // Never upgraded, whatever upgradeWithoutMetrics (which is about instances without any datapoint).
        report.tooLittleData.push({ instanceId, hoursObserved: found.hoursObserved });
        break;
      case 'unknown':
        unknown.push(instanceId);
        break;
      case 'failed':
        report.failed.push({ instanceId, action: 'GetMetricData', code: found.code });
        break;
    }
  }
  report.eligible.push(...safe, ...(config.upgradeWithoutMetrics ? unknown : []));
  if (!config.upgradeWithoutMetrics) {
    report.unknown.push(...unknown);
  }

  const modify = firstOnce(calls('ModifyInstanceMetadataOptions', 'EC2', stopAt));
  const tag = firstOnce(calls('CreateTags', 'EC2', stopAt));
  if (recorded !== undefined) {
    await watchUpgraded(config, recorded, { ec2: clients.ec2, cw: clients.cw, now, calls: cwCalls, modify, tag }, report);
  }

  if (config.mode !== 'UPGRADE' || report.trigger !== 'schedule') {
    if (config.mode === 'UPGRADE') {
      report.reportOnly = 'deploy-time run';
    }
    report.notAttempted.push(...report.eligible);
    await reportGroups({ autoScaling: clients.autoScaling, ec2: clients.ec2 }, signal, stopAt, report);
    return;
  }
  const allowance = recorded === undefined ? 0 : config.maxUpgradesPerRun - switchedWithin(recorded, now, config.intervalSeconds, report);
  let attempted = 0;
  if (report.eligible.length > 0) {
    if (recorded === undefined) {
      report.stoppedEarly = 'recordsUnreadable';
    } else if (allowance <= 0) {
      report.stoppedEarly = 'maxUpgradesPerInterval';
    } else {
      const claim = await claimInterval(clients.ssm, {
        intervalSeconds: config.intervalSeconds, now, until: budget.end, signal, wrap: calls('Parameter Store', 'SSM', stopAt),
      });
      if (claim !== 'claimed') {
        report.stoppedEarly = claim;
      }
    }
  }
  for (const instanceId of report.stoppedEarly ? [] : report.eligible) {
    if (attempted >= allowance) {
      report.stoppedEarly = allowance < config.maxUpgradesPerRun ? 'maxUpgradesPerInterval' : 'maxUpgradesPerRun';
      break;
    }
    if (signal.aborted || Date.now() >= stopAt) {
      report.stoppedEarly = 'deadline';
      break;
    }
    if (attempted % RECORD_BATCH === 0) {
      // Recorded before the switch, RECORD_BATCH at a time: a switch is never unrecorded (the next run counts it against
      // the cap); a record whose switch then fails only over-counts (the safe side).
      const batch = report.eligible.slice(attempted, Math.min(attempted + RECORD_BATCH, allowance));
      try {
        await tag(true, () => writeRecord(clients.ec2, batch, UPGRADE_RECORD_TAGS.UPGRADED_AT, Date.now(), signal));
      } catch (err) {
        log('the switches could not be recorded on the instances: no more switches in this run', { instances: batch.length, error: describeError(err) });
        report.watchFailed.push({ instanceId: batch[0], action: 'CreateTags', code: (err as Error).name || 'Error' });
        report.stoppedEarly = 'recordFailed';
        break;
      }
    }
    attempted++;
    try {
      await modify(true, () => requireTokens(clients.ec2, instanceId, signal));
    } catch (err) {
      report.failed.push({ instanceId, action: 'ModifyInstanceMetadataOptions', code: (err as Error).name || 'Error' });
      continue;
    }
    report.upgraded.push(instanceId);
  }
  report.notAttempted.push(...report.eligible.slice(attempted));
  if (report.stoppedEarly) {
    log('upgrades stopped early', { reason: report.stoppedEarly, attempted, notAttempted: report.notAttempted.length });
  }
  // Before the read-back: it gives the switches time to apply.
  await reportGroups({ autoScaling: clients.autoScaling, ec2: clients.ec2 }, signal, stopAt, report);
  report.pending.push(...await notYetApplied(clients.ec2, report.upgraded, budget));
}

/** The instances whose record says this function switched them within the last interval (they count against the cap). */
function switchedWithin(recorded: readonly Recorded[], now: number, intervalSeconds: number, report: RunReport): number {
  const since = now - intervalSeconds * 1000;
  const count = recorded.filter((r) => r.upgradedAt !== undefined && r.upgradedAt > since).length;
  report.switchedThisInterval = count;
  return count;
}

/** The instances not seen `applied` with HttpTokens `required` after up to CONFIRM_ATTEMPTS read-backs. */
async function notYetApplied(ec2: EC2Client, instanceIds: readonly string[], budget: Budget): Promise<string[]> {
  let waiting = [...instanceIds];
  const retry = <T>(call: () => Promise<T>) => retryThrottled('DescribeInstances', call, budget.signal, budget.end - REPORT_RESERVE_MS);
  for (let attempt = 1; waiting.length > 0 && attempt <= CONFIRM_ATTEMPTS; attempt++) {
    if (attempt > 1) {
      if (Date.now() + CONFIRM_INTERVAL_MS >= budget.end - REPORT_RESERVE_MS) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, CONFIRM_INTERVAL_MS));
    }
    const states = await metadataStates(ec2, waiting, budget.signal, retry);
    waiting = waiting.filter((id) => {
      const found = states.get(id);
      return !(found?.state === 'applied' && found.httpTokens === 'required');
    });
  }
  return waiting;
}
