/**
 * The record of what the function did to an instance: tags on the instance
 * itself (UPGRADE_RECORD_TAGS, values ISO 8601 times), where a user sees them
 * in the console and in DescribeInstances. This module owns their format:
 * every read tolerates a missing or malformed value (it is reported, never
 * trusted).
 *
 * Who can write them: anyone allowed `ec2:CreateTags` on the instance, not only
 * this function. So a record is a claim to check, never proof:
 * - `upgraded-at` counts against the cap of the interval (a forged one only
 *   makes the function switch fewer instances: the safe side);
 * - it selects the instances whose MetadataNoTokenRejected is read (a forged one
 *   only adds a report line);
 * - before a put-back to HttpTokens `optional` (watch.ts) the function checks
 *   what cannot be forged: DescribeInstances says the instance requires IMDSv2
 *   now, AWS/EC2 MetadataNoToken has datapoints before the recorded time (it is
 *   emitted only while an instance allows IMDSv1) and MetadataNoTokenRejected
 *   counts refused calls after it.
 * Lock the keys down with an SCP or a permissions boundary that denies
 * `ec2:CreateTags` and `ec2:DeleteTags` with `aws:TagKeys` naming them to every
 * principal but this function's role (README, "The record on the instance").
 */
import { CreateTagsCommand, DescribeInstancesCommand, DescribeInstancesCommandOutput, EC2Client } from '@aws-sdk/client-ec2';
import { CANDIDATE_STATES, PAGE_SIZE } from './fleet';
import { UPGRADE_RECORD_TAGS } from '../../src/private/properties';
import { log } from '../shared/log';

/** A time in the future by more than this is not believed (clock skew between EC2's and Lambda's hosts is far smaller). */
export const FUTURE_SKEW_MS = 5 * 60_000;

/** What the record tags of one instance say, read from DescribeInstances. */
export interface Recorded {
  readonly instanceId: string;
  readonly state: string;
  readonly httpTokens?: string;
  /** Epoch ms; undefined when the value is not an ISO 8601 UTC time or lies in the future. */
  readonly upgradedAt?: number;
  /** The value as found (reported when malformed). */
  readonly upgradedAtValue: string;
  readonly restoredAt?: number;
  readonly restoreRefusedAt?: number;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** An ISO 8601 UTC time (as `Date.toISOString()` writes it, seconds or milliseconds), not in the future; otherwise undefined. */
export function parseRecordTime(value: string | undefined, now: number): number | undefined {
  if (value === undefined || !ISO_UTC.test(value)) {
    return undefined;
  }
  const t = Date.parse(value);
  return Number.isFinite(t) && t <= now + FUTURE_SKEW_MS ? t : undefined;
}

/**
 * Every instance in a candidate state (pending, running, stopping, stopped)
 * that carries the `upgraded-at` key, whatever its HttpTokens, each once.
 */
export async function listRecorded(
  ec2: EC2Client, signal: AbortSignal, wrap: <T>(first: boolean, call: () => Promise<T>) => Promise<T>, now: number,
): Promise<Recorded[]> {
  const found = new Map<string, Recorded>();
  let NextToken: string | undefined;
  let pages = 0;
  do {
    const page: DescribeInstancesCommandOutput = await wrap(pages === 0, () => ec2.send(new DescribeInstancesCommand({
      Filters: [
        { Name: 'tag-key', Values: [UPGRADE_RECORD_TAGS.UPGRADED_AT] },
        { Name: 'instance-state-name', Values: [...CANDIDATE_STATES] },
      ],
      MaxResults: PAGE_SIZE,
      NextToken,
    }), { abortSignal: signal }));
    pages++;
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const tags = new Map((instance.Tags ?? []).map((tag) => [tag.Key, tag.Value ?? '']));
      const state = String(instance.State?.Name);
      if (!instance.InstanceId || !tags.has(UPGRADE_RECORD_TAGS.UPGRADED_AT) || !CANDIDATE_STATES.includes(state)) {
        continue;
      }
      const upgradedAtValue = tags.get(UPGRADE_RECORD_TAGS.UPGRADED_AT)!;
      found.set(instance.InstanceId, {
        instanceId: instance.InstanceId,
        state,
        httpTokens: instance.MetadataOptions?.HttpTokens,
        upgradedAt: parseRecordTime(upgradedAtValue, now),
        upgradedAtValue,
        restoredAt: parseRecordTime(tags.get(UPGRADE_RECORD_TAGS.RESTORED_AT), now),
        restoreRefusedAt: parseRecordTime(tags.get(UPGRADE_RECORD_TAGS.RESTORE_REFUSED_AT), now),
      });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  log('instances with an upgrade record listed', { count: found.size, pages });
  return [...found.values()];
}

/** Writes one record tag (`key`, one of UPGRADE_RECORD_TAGS) on the given instances, with the time as its value: one CreateTags call. */
export async function writeRecord(ec2: EC2Client, instanceIds: readonly string[], key: string, time: number, signal: AbortSignal): Promise<void> {
  const Tags = [{ Key: key, Value: new Date(time).toISOString() }];
  await ec2.send(new CreateTagsCommand({ Resources: [...instanceIds], Tags }), { abortSignal: signal });
}
