/**
 * Security warnings: an input that someone other than CloudFormation or the
 * template could have written (an invocation, a claim in Parameter Store) did not
 * hold up against the source that cannot lie, so it was not acted on.
 *
 * Each warning is one structured log line (`security warning`, with `warning`
 * naming its kind and fields saying what did not match; never a ResponseURL) and
 * one value (1) of its metric in the library's namespace, so users can alarm on
 * it, and one "IMDS Security Warning" finding (events.ts: warning, metric, count and
 * the entries, each the fields of its log line). Putting the metric and the finding
 * is bounded in time and never fails the caller: the log line carries the same fact.
 *
 * While a CloudFormation event waits for its answer, findings are held (events.ts `held`)
 * and put after the answer is sent (custom-resource.ts): putting never delays it.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { held, putFindings } from './events';
import { log } from './log';
import { createCloudWatchClient, putMetrics } from './metrics';
import { ImdsFindingType } from '../../src/findings';

/** The longest a warning's metric may take to put. */
export const SECURITY_METRIC_TIMEOUT_MS = 2_000;

let cwClient: CloudWatchClient | undefined;

/** The most `security warning` lines one report writes; the rest are counted in a last line. */
export const SECURITY_WARNING_LINES_MAX = 20;

/**
 * Logs a security warning and puts its metric (1) and finding. Never throws; returns once
 * both are put (or held), have failed, or SECURITY_METRIC_TIMEOUT_MS (or `signal`) has passed.
 */
export async function reportSecurityWarning(
  warning: string, metric: string, fields: Record<string, unknown>, signal?: AbortSignal,
): Promise<void> {
  return reportSecurityWarnings(warning, metric, [fields], signal);
}

/**
 * Logs one security warning line per entry (at most SECURITY_WARNING_LINES_MAX, then
 * one line with the count of the others) and puts the metric once, with the number
 * of entries as its value, and one finding with the entries the lines carry: whoever
 * can write the inputs (many junk claims, say) cannot make the report take longer
 * than one bounded put of each. Never throws.
 */
export async function reportSecurityWarnings(
  warning: string, metric: string, entries: ReadonlyArray<Record<string, unknown>>, signal?: AbortSignal,
): Promise<void> {
  if (entries.length === 0) {
    return;
  }
  for (const fields of entries.slice(0, SECURITY_WARNING_LINES_MAX)) {
    log('security warning', { warning, ...fields });
  }
  if (entries.length > SECURITY_WARNING_LINES_MAX) {
    log('security warning', { warning, more: entries.length - SECURITY_WARNING_LINES_MAX });
  }
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer = setTimeout(abort, SECURITY_METRIC_TIMEOUT_MS);
  signal?.addEventListener('abort', abort, { once: true });
  if (signal?.aborted) {
    abort();
  }
  const finding = { type: ImdsFindingType.SECURITY_WARNING, detail: { warning, metric, count: entries.length, entries } };
  try {
    await Promise.all([
      held.list?.push(finding) ?? putFindings([finding], controller.signal),
      putMetrics((cwClient ??= createCloudWatchClient()), [{ name: metric, value: entries.length }], controller.signal),
    ]);
  } catch {
    // putMetrics logs its own failures; a client that cannot be made is no reason to fail either.
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', abort);
  }
}
