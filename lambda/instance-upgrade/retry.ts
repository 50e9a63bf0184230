/**
 * Throttling, retried with a bounded backoff of our own on top of the SDK's.
 *
 * The SDK's standard retry strategy already retries a throttled call (up to
 * MAX_ATTEMPTS attempts), but it gives up once its retry quota (shared by every
 * call of the client) is spent, and a run of hundreds of EC2 calls can spend it.
 * So a call that still ends throttled is tried again here, THROTTLE_DELAYS_MS
 * apart, as long as the next attempt starts before `until` (epoch ms) and the
 * budget's signal has not fired. Anything else is not retried here.
 *
 * No jitter: one function per account and Region calls, one call at a time.
 */
import { log } from '../shared/log';

/** The error codes of a throttled EC2 or CloudWatch call. */
export const THROTTLING_CODES: readonly string[] = ['RequestLimitExceeded', 'Throttling', 'ThrottlingException'];

/** The waits before each retry of a throttled call (their number is the number of retries). */
export const THROTTLE_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 8_000];

export function isThrottling(err: unknown): boolean {
  return THROTTLING_CODES.includes((err as Error)?.name);
}

/** Runs `call`, retrying throttling errors (see above). */
export async function retryThrottled<T>(what: string, call: () => Promise<T>, signal: AbortSignal, until: number): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await call();
    } catch (err) {
      const delay = THROTTLE_DELAYS_MS[retry];
      if (!isThrottling(err) || delay === undefined || signal.aborted || Date.now() + delay >= until) {
        throw err;
      }
      log(`${what} throttled: retrying`, { error: (err as Error).name, retry: retry + 1, delayMs: delay });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
