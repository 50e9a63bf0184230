/**
 * The cap per interval, across overlapping runs: before it switches anything,
 * a scheduled run claims its interval (the interval-long slice of time since
 * the epoch that holds `now`) by creating one Parameter Store parameter,
 * UPGRADE_CLAIM_PATH/<interval start, epoch seconds>, with Overwrite false.
 * PutParameter creates a name at most once, so of two runs in one interval
 * (the schedule, a retried or late delivery, or a `lambda:InvokeFunction` by
 * anyone allowed it, with a forged schedule event) only one switches.
 *
 * The claim's value holds the claiming run's end (its budget's end, epoch ms).
 * A run also reads the previous interval's claim: while that run may still be
 * switching, this one does not switch. What is left: two runs that start within
 * the milliseconds of one PutParameter round trip on either side of an interval
 * boundary can both switch; each still counts the other's recorded switches it
 * can see (records.ts). The count of the switches already recorded in the last
 * interval (upgrade.ts) keeps the cap over any interval-long span, as long as
 * nobody deletes the record tags.
 *
 * Reserved concurrency (one function instance at a time) is not the way: it
 * needs 100 unreserved concurrency left in the account, and new accounts
 * (a limit of 10) cannot reserve any. It would not stop a second run later in
 * the same interval either.
 *
 * Old claims are deleted as the runs go (the one two intervals back), so the
 * path holds at most a few parameters. Whoever may write under the path can
 * claim an interval first: that only stops this function from switching (the
 * safe side); the IAM of the role is scoped to the path.
 */
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { UPGRADE_CLAIM_PATH } from '../../src/private/properties';
import { describeError, log } from '../shared/log';

/** What claiming the interval gave. */
export type ClaimOutcome =
  /** This run holds the interval: it may switch (up to the cap less the recorded switches). */
  | 'claimed'
  /** Another run claimed this interval first: no switch. */
  | 'intervalClaimed'
  /** The previous interval's run may still be switching: no switch. */
  | 'previousRunActive'
  /** Parameter Store did not answer as expected: no switch (the run says why in its log). */
  | 'claimFailed';

export interface ClaimRequest {
  readonly intervalSeconds: number;
  readonly now: number;
  /** The claiming run's end (epoch ms): until then the interval after this one does not switch. */
  readonly until: number;
  readonly signal: AbortSignal;
  /** Wraps each call (IAM propagation on the first, throttling). */
  readonly wrap: <T>(first: boolean, call: () => Promise<T>) => Promise<T>;
}

/** The claim parameter's name for the interval `index` (floor(epoch seconds / intervalSeconds)). */
export function claimName(index: number, intervalSeconds: number): string {
  return `${UPGRADE_CLAIM_PATH}/${index * intervalSeconds}`;
}

/** Claims the interval of `now` (see above). Never throws for an AWS error: that is `claimFailed`. */
export async function claimInterval(ssm: SSMClient, request: ClaimRequest): Promise<ClaimOutcome> {
  const index = Math.floor(request.now / 1000 / request.intervalSeconds);
  const opts = { abortSignal: request.signal };
  try {
    const previous = await request.wrap(true, () => ssm.send(new GetParameterCommand({ Name: claimName(index - 1, request.intervalSeconds) }), opts))
      .catch((err) => {
        if ((err as Error).name === 'ParameterNotFound') {
          return undefined;
        }
        throw err;
      });
    const previousUntil = claimUntil(previous?.Parameter?.Value);
    if (previous !== undefined && (previousUntil === undefined || previousUntil > request.now)) {
      // An unreadable value is treated as a run that may still be active: the safe side.
      log('no switch: the previous interval\'s run may still be switching', { claim: claimName(index - 1, request.intervalSeconds), until: previousUntil });
      return 'previousRunActive';
    }
    await request.wrap(false, () => ssm.send(new PutParameterCommand({
      Name: claimName(index, request.intervalSeconds),
      Value: JSON.stringify({ until: request.until, claimedAt: new Date(request.now).toISOString() }),
      Type: 'String',
      Overwrite: false,
      Description: 'cdk-imds-account-defaults ImdsInstanceUpgrade: the run that may switch instances in this interval',
    }), opts));
  } catch (err) {
    if ((err as Error).name === 'ParameterAlreadyExists') {
      log('no switch: another run claimed this interval first', { claim: claimName(index, request.intervalSeconds) });
      return 'intervalClaimed';
    }
    log('no switch: the interval could not be claimed', { error: describeError(err) });
    return 'claimFailed';
  }
  // Best effort: the claim two intervals back is of no use any more.
  try {
    await ssm.send(new DeleteParameterCommand({ Name: claimName(index - 2, request.intervalSeconds) }), opts);
  } catch (err) {
    if ((err as Error).name !== 'ParameterNotFound') {
      log('an old claim could not be deleted', { claim: claimName(index - 2, request.intervalSeconds), error: describeError(err) });
    }
  }
  return 'claimed';
}

/** The `until` of a claim's value, or undefined when it is not one this function wrote. */
function claimUntil(value: string | undefined): number | undefined {
  try {
    const until = (JSON.parse(value ?? '') as { until?: unknown }).until;
    return typeof until === 'number' && Number.isFinite(until) ? until : undefined;
  } catch {
    return undefined;
  }
}
