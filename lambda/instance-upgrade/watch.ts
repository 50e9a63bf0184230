/**
 * Watch after acting: for each instance whose record says this function
 * switched it to IMDSv2 within the lookback window (records.ts), read AWS/EC2
 * MetadataNoTokenRejected (IMDSv1 calls refused, emitted only while the
 * instance requires IMDSv2) hour by hour, and report every instance with
 * refused calls since the recorded switch: one log line each and the count
 * InstancesWithRejectedImdsv1Calls.
 *
 * With RESTORE_OPTIONAL, such an instance is also put back to HttpTokens
 * `optional` (turning IMDSv1 on again), only when what cannot be forged agrees
 * with the record (anyone allowed ec2:CreateTags can write the tag):
 * - DescribeInstances says it requires IMDSv2 now;
 * - MetadataNoToken has datapoints before the recorded time: the instance
 *   allowed IMDSv1 then (the metric is emitted only while it does);
 * - MetadataNoTokenRejected counts refused calls after it;
 * - it was not put back, nor refused a put-back, since the recorded switch.
 * A put-back EC2 refuses with UnsupportedOperation (HttpTokensEnforced is on
 * for the account: EC2 refuses `optional` on an instance that requires IMDSv2)
 * is recorded on the instance (`restore-refused-at`) and never tried again;
 * another error is reported and tried again by the next run (one attempt a run).
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import type { UpgradeConfig } from './config';
import { Recorded, writeRecord } from './records';
import type { Rejected, RunReport } from './report';
import { Hourly, PERIOD_SECONDS, UsageCalls, metricWindow, readHourly } from './usage';
import { UPGRADE_RECORD_TAGS } from '../../src/private/properties';
import { describeError, log } from '../shared/log';

/** The message of the log line for each instance with refused IMDSv1 calls. */
export const REJECTED_MESSAGE = 'IMDSv1 calls refused since the upgrade';

/** EC2's error code for a put-back to `optional` while HttpTokensEnforced is enabled. */
export const ENFORCED_CODE = 'UnsupportedOperation';

export interface WatchContext {
  readonly ec2: EC2Client;
  readonly cw: CloudWatchClient;
  readonly now: number;
  readonly calls: UsageCalls;
  /** Wraps each Modify (throttling retries; the run's first Modify waits for IAM to propagate). */
  readonly modify: <T>(first: boolean, call: () => Promise<T>) => Promise<T>;
  /** Wraps each CreateTags, the same way. */
  readonly tag: <T>(first: boolean, call: () => Promise<T>) => Promise<T>;
}

/** Reads, reports and (RESTORE_OPTIONAL) puts back; fills `report`. Never throws for an AWS error. */
export async function watchUpgraded(config: UpgradeConfig, recorded: readonly Recorded[], ctx: WatchContext, report: RunReport): Promise<void> {
  const window = metricWindow(config.lookbackSeconds, ctx.now);
  const windowStart = window.StartTime.getTime();
  const watched = recorded.filter((r) => {
    if (r.upgradedAt === undefined) {
      report.recordProblems.push({ instanceId: r.instanceId, value: r.upgradedAtValue.slice(0, 64) });
      return false;
    }
    return r.upgradedAt >= windowStart;
  });
  if (watched.length === 0) {
    return;
  }
  const ids = watched.map((r) => r.instanceId);
  const rejected = await readHourly(ctx.cw, 'MetadataNoTokenRejected', ids, window, ctx.calls);
  // REPORT_ONLY and runs on deploy change nothing: only scheduled UPGRADE runs put back.
  const restoring = config.rejectedCallsAction === 'RESTORE_OPTIONAL' && config.mode === 'UPGRADE' && report.trigger === 'schedule';
  const before = restoring ? await readHourly(ctx.cw, 'MetadataNoToken', ids, window, ctx.calls) : new Map<string, Hourly>();

  for (const r of watched) {
    // The hour that holds the switch counts as after it: refused calls then are the switch's.
    const switchHour = Math.floor(r.upgradedAt! / (PERIOD_SECONDS * 1000)) * PERIOD_SECONDS * 1000;
    const found = rejected.get(r.instanceId)!;
    if (found.kind !== 'read') {
      report.watchFailed.push({ instanceId: r.instanceId, action: 'GetMetricData', code: found.kind === 'failed' ? found.code : 'NoMetricDataResult' });
      continue;
    }
    const calls = sumFrom(found, switchHour);
    if (calls === 0) {
      continue;
    }
    const upgradedAt = new Date(r.upgradedAt!).toISOString();
    log(REJECTED_MESSAGE, { instanceId: r.instanceId, upgradedAt, rejectedCalls: calls });
    const entry: Rejected = { instanceId: r.instanceId, upgradedAt, rejectedCalls: calls, action: 'reported' };
    report.rejected.push(entry);
    if (!restoring) {
      continue;
    }
    const skip = whyNotRestore(r, before.get(r.instanceId), switchHour);
    if (skip !== undefined) {
      log('not put back to optional', { instanceId: r.instanceId, reason: skip });
      report.restoreSkipped.push({ instanceId: r.instanceId, reason: skip });
      if (skip === 'noImdsv1BeforeRecord') {
        entry.action = 'forged-record';
      }
      continue;
    }
    if (ctx.calls.signal.aborted || Date.now() >= ctx.calls.stopAt) {
      report.restoreSkipped.push({ instanceId: r.instanceId, reason: 'deadline' });
      continue;
    }
    try {
      await ctx.modify(true, () => ctx.ec2.send(
        new ModifyInstanceMetadataOptionsCommand({ InstanceId: r.instanceId, HttpTokens: 'optional' }), { abortSignal: ctx.calls.signal }));
    } catch (err) {
      const code = (err as Error).name || 'Error';
      if (code === ENFORCED_CODE) {
        log('put-back to optional refused: HttpTokensEnforced is on for the account; not tried again', { instanceId: r.instanceId, error: describeError(err) });
        report.restoreRefused.push(r.instanceId);
        entry.action = 'refused';
        await record(ctx, r.instanceId, UPGRADE_RECORD_TAGS.RESTORE_REFUSED_AT, report);
      } else {
        report.watchFailed.push({ instanceId: r.instanceId, action: 'RestoreOptional', code });
      }
      continue;
    }
    log('put back to optional (IMDSv1 allowed again)', { instanceId: r.instanceId, upgradedAt });
    report.restored.push(r.instanceId);
    entry.action = 'restored';
    await record(ctx, r.instanceId, UPGRADE_RECORD_TAGS.RESTORED_AT, report);
  }
}

/** Why an instance with refused calls is not put back, or undefined when it may be. */
export function whyNotRestore(r: Recorded, before: Hourly | undefined, switchHour: number): string | undefined {
  if (r.httpTokens !== 'required') {
    return 'notRequired';
  }
  if (r.restoreRefusedAt !== undefined && r.restoreRefusedAt >= r.upgradedAt!) {
    return 'refusedBefore';
  }
  if (r.restoredAt !== undefined && r.restoredAt >= r.upgradedAt!) {
    return 'restoredBefore';
  }
  if (before === undefined || before.kind !== 'read') {
    return 'usageUnreadable';
  }
  if (!before.timestamps.some((t) => t < switchHour)) {
    // No MetadataNoToken before the recorded switch: nothing shows the instance allowed IMDSv1 then (a forged record?).
    return 'noImdsv1BeforeRecord';
  }
  return undefined;
}

/** The sum of the values at or after `from` (epoch ms). */
function sumFrom(hourly: Extract<Hourly, { kind: 'read' }>, from: number): number {
  return hourly.values.reduce((sum, value, i) => (hourly.timestamps[i] >= from ? sum + value : sum), 0);
}

/** Writes a record tag; a failure is reported (the next run may try the put-back once more). */
async function record(ctx: WatchContext, instanceId: string, key: string, report: RunReport): Promise<void> {
  try {
    await ctx.tag(true, () => writeRecord(ctx.ec2, [instanceId], key, Date.now(), ctx.calls.signal));
  } catch (err) {
    report.watchFailed.push({ instanceId, action: 'CreateTags', code: (err as Error).name || 'Error' });
  }
}
