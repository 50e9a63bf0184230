/**
 * One run: list the instances that allow IMDSv1, set aside the excluded ones,
 * read the others' IMDSv1 use, and (mode UPGRADE) require IMDSv2 on the safe
 * ones, at most maxUpgradesPerRun, one at a time; then read back which reached
 * `applied`.
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
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { UpgradeConfig } from './config';
import { listCandidates, metadataStates, requireTokens } from './fleet';
import type { RunReport } from './report';
import { retryThrottled } from './retry';
import { readUsage } from './usage';
import type { Budget } from '../shared/custom-resource';
import { describeError, log } from '../shared/log';
import { whileIamPropagates } from '../shared/sdk';

/** Kept from the budget's end for the read-back and the report: no usage call or Modify starts later. */
export const FINISH_RESERVE_MS = 10_000;
/** Kept from the budget's end for the report: no read-back starts later. */
export const REPORT_RESERVE_MS = 3_000;
/** Read-backs of the upgraded instances' state, CONFIRM_INTERVAL_MS apart, until each is `applied`. */
export const CONFIRM_ATTEMPTS = 4;
export const CONFIRM_INTERVAL_MS = 2_000;

export interface Clients {
  readonly ec2: EC2Client;
  readonly cw: CloudWatchClient;
}

/** Runs once, filling `report`. Throws only when the instances cannot be listed (or the budget's signal stopped the run). */
export async function runUpgrade(config: UpgradeConfig, clients: Clients, budget: Budget, report: RunReport): Promise<void> {
  const { signal } = budget;
  const stopAt = budget.end - FINISH_RESERVE_MS;
  const calls = (what: string, service: string, until: number) => <T>(first: boolean, call: () => Promise<T>) =>
    retryThrottled(what, first ? () => whileIamPropagates(service, call, signal) : call, signal, until);

  let candidates;
  try {
    candidates = await listCandidates(clients.ec2, signal, calls('DescribeInstances', 'EC2', budget.end));
  } catch (err) {
    throw new Error(`The instances allowing IMDSv1 could not be listed, so nothing was changed: ${describeError(err)}`);
  }
  const toRead: string[] = [];
  for (const candidate of candidates) {
    report.candidates.push(candidate.instanceId);
    (candidate.tagKeys.includes(config.exclusionTagKey) ? report.excluded : toRead).push(candidate.instanceId);
  }

  const usage = await readUsage(clients.cw, toRead, config.lookbackSeconds, { signal, stopAt, wrap: calls('GetMetricData', 'CloudWatch', stopAt) });
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

  if (config.mode !== 'UPGRADE') {
    report.notAttempted.push(...report.eligible);
    return;
  }
  const modify = calls('ModifyInstanceMetadataOptions', 'EC2', stopAt);
  let attempted = 0;
  for (const instanceId of report.eligible) {
    if (attempted >= config.maxUpgradesPerRun) {
      report.stoppedEarly = 'maxUpgradesPerRun';
      break;
    }
    if (signal.aborted || Date.now() >= stopAt) {
      report.stoppedEarly = 'deadline';
      break;
    }
    try {
      await modify(attempted++ === 0, () => requireTokens(clients.ec2, instanceId, signal));
      report.upgraded.push(instanceId);
    } catch (err) {
      report.failed.push({ instanceId, action: 'ModifyInstanceMetadataOptions', code: (err as Error).name || 'Error' });
    }
  }
  report.notAttempted.push(...report.eligible.slice(attempted));
  if (report.stoppedEarly) {
    log('upgrades stopped early', { reason: report.stoppedEarly, attempted, notAttempted: report.notAttempted.length });
  }
  report.pending.push(...await notYetApplied(clients.ec2, report.upgraded, budget));
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
