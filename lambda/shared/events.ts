/**
 * Findings as Amazon EventBridge events, shared by every function: `source`
 * ImdsFindings.SOURCE, a `detail-type` of ImdsFindingType, and a detail that
 * findings-schema.json describes (its `version`, the account, the Region and the
 * resource are added here; the caller gives the values found and expected).
 *
 * Each finding goes to the account's default bus and, when the template names one
 * (CENTRAL_EVENT_BUS_ENV), to that central bus too, which may be in another account
 * and Region: its client is made for the bus's own Region (PutEvents takes the bus
 * ARN as EventBusName; calling that Region's endpoint works whether or not the
 * caller's Region would forward it).
 *
 * Putting never throws and never fails the caller: each put is bounded by
 * PUT_BUDGET_MS (and the caller's signal); the SDK retries throttling and server
 * errors (CLIENT_CONFIG), and entries EventBridge refuses one by one are tried again
 * while the budget lasts. What still was not put is logged (its detail type and the
 * error, never the detail) and counted in FINDINGS_NOT_PUT_METRIC.
 *
 * What goes in is only what the caller passes, bounded: strings to STRING_MAX
 * characters, lists to LIST_MAX items (callers count the rest in `counts`), and an
 * event still over EventBridge's 256 KB loses its lists (`truncated: true`). Callers
 * never pass a CloudFormation event as a whole: no ResponseURL can reach a bus.
 */
import type { EventBridgeClient, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { describeError, log } from './log';
import { createCloudWatchClient, putMetrics } from './metrics';
import { CLIENT_CONFIG } from './sdk';
import { ImdsFindings } from '../../src/findings';
import { CENTRAL_EVENT_BUS_ENV, FINDINGS_NOT_PUT_METRIC } from '../../src/private/properties';

/** The most items of any list in a detail; callers give the full counts beside it. */
export const LIST_MAX = 25;
/** The longest string in a detail (an input someone else wrote, e.g. a forged StackId, is clipped to it). */
export const STRING_MAX = 1024;
/** EventBridge's limit on one entry (PutEvents), in bytes, as EventBridge counts them. */
export const ENTRY_MAX_BYTES = 256 * 1024;
/** The longest one putFindings call may take, retries included. */
export const PUT_BUDGET_MS = 3_000;
/** The most entries one PutEvents call takes. */
const ENTRIES_PER_CALL = 10;
/** The per-entry error codes worth another try (the others, e.g. MalformedDetail, would fail again). */
const RETRYABLE_ENTRY_ERRORS = new Set(['ThrottlingException', 'InternalFailure', 'InternalException']);

/** One finding: its detail type, where it was found (beyond the function), and its values. */
export interface Finding {
  readonly type: string;
  readonly detail: Record<string, unknown>;
  /** The custom resource the finding is about, when there is one. */
  readonly stackId?: string;
  readonly logicalResourceId?: string;
}

/** The function that puts the findings: from the invoked ARN, which Lambda writes. */
let origin: { account: string; region: string; functionName: string; functionArn: string } | undefined;
const clients = new Map<string, EventBridgeClient>();

/** Records which function puts this invocation's findings (call first thing in each handler). */
export function setFindingsOrigin(invokedFunctionArn: string | undefined): void {
  const arn = String(invokedFunctionArn);
  const [, , , region, account, , functionName] = arn.split(':');
  origin = { account, region, functionName, functionArn: arn.split(':').slice(0, 7).join(':') };
}

function eventBridgeSdk(): typeof import('@aws-sdk/client-eventbridge') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-eventbridge');
}

function client(region: string): EventBridgeClient {
  let c = clients.get(region);
  if (!c) {
    c = new (eventBridgeSdk().EventBridgeClient)({ ...CLIENT_CONFIG, region });
    clients.set(region, c);
  }
  return c;
}

/** Clips strings and lists, depth first (see STRING_MAX, LIST_MAX); drops lists when `dropLists`. */
function bounded(value: unknown, dropLists: boolean): unknown {
  if (typeof value === 'string') {
    return value.length > STRING_MAX ? `${value.slice(0, STRING_MAX)}…` : value;
  }
  if (Array.isArray(value)) {
    return dropLists ? [] : value.slice(0, LIST_MAX).map((v) => bounded(v, dropLists));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, bounded(v, dropLists)]));
  }
  return value;
}

/** An entry's size as EventBridge counts it: Source, DetailType, Detail and each resource, in UTF-8 bytes. */
export function entrySize(entry: PutEventsRequestEntry): number {
  return [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]
    .reduce((n, s) => n + Buffer.byteLength(s ?? ''), 0);
}

/** The PutEvents entry of a finding (without EventBusName: the default bus). */
export function findingEntry(finding: Finding): PutEventsRequestEntry {
  const o = origin ?? { account: '', region: process.env.AWS_REGION ?? '', functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? '', functionArn: '' };
  const detail = (dropLists: boolean) => JSON.stringify(bounded({
    version: ImdsFindings.SCHEMA_VERSION,
    account: o.account,
    region: o.region,
    resource: { function: o.functionName, stackId: finding.stackId, logicalResourceId: finding.logicalResourceId },
    ...finding.detail,
    ...(dropLists ? { truncated: true } : {}),
  }, dropLists));
  const entry = { Source: ImdsFindings.SOURCE, DetailType: finding.type, Detail: detail(false), Resources: o.functionArn ? [o.functionArn] : [] };
  return entrySize(entry) <= ENTRY_MAX_BYTES ? entry : { ...entry, Detail: detail(true) };
}

/** The Region of an event bus ARN (arn:<partition>:events:<region>:<account>:event-bus/<name>). */
function regionOf(busArn: string): string {
  return busArn.split(':')[3];
}

/** Puts `entries` to one bus; returns those not put, with the last error. */
async function putTo(bus: string | undefined, entries: PutEventsRequestEntry[], signal: AbortSignal): Promise<{ left: PutEventsRequestEntry[]; error?: string }> {
  const { PutEventsCommand } = eventBridgeSdk();
  const c = client(bus ? regionOf(bus) : (origin?.region || process.env.AWS_REGION!));
  let left: PutEventsRequestEntry[] = entries.map((e) => ({ ...e, EventBusName: bus }));
  let error: string | undefined;
  /** Entries refused for good. */
  const given: PutEventsRequestEntry[] = [];
  while (left.length > 0 && !signal.aborted) {
    const failed: PutEventsRequestEntry[] = [];
    try {
      for (let i = 0; i < left.length; i += ENTRIES_PER_CALL) {
        const chunk = left.slice(i, i + ENTRIES_PER_CALL);
        const out = await c.send(new PutEventsCommand({ Entries: chunk }), { abortSignal: signal });
        // EventBridge answers one result per entry, in order; an ErrorCode marks a refused entry.
        (out.Entries ?? []).forEach((r, j) => {
          if (r.ErrorCode) {
            (RETRYABLE_ENTRY_ERRORS.has(r.ErrorCode) ? failed : given).push(chunk[j]);
            error = `${r.ErrorCode}: ${r.ErrorMessage}`;
          }
        });
      }
    } catch (err) {
      // The whole call failed after the SDK's own retries (denied, throttled throughout, timed out): not retried here.
      return { left: [...given, ...left], error: describeError(err) };
    }
    left = failed;
    if (left.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return { left: [...given, ...left], error: error ?? (left.length > 0 ? 'the budget ran out' : undefined) };
}

/**
 * Puts the findings to the default bus and to the central bus, if any. Returns
 * how many puts failed (a finding counts once per bus). Never throws.
 */
export async function putFindings(findings: readonly Finding[], signal?: AbortSignal): Promise<number> {
  if (findings.length === 0) {
    return 0;
  }
  const budget = signal ? AbortSignal.any([signal, AbortSignal.timeout(PUT_BUDGET_MS)]) : AbortSignal.timeout(PUT_BUDGET_MS);
  let notPut = 0;
  try {
    const entries = findings.map(findingEntry);
    const central = process.env[CENTRAL_EVENT_BUS_ENV] || undefined;
    const results = await Promise.all([undefined, ...(central ? [central] : [])].map((bus) => putTo(bus, entries, budget)));
    results.forEach(({ left, error }, i) => {
      if (left.length > 0) {
        notPut += left.length;
        log('findings could not be put as events; this log carries them', {
          bus: i === 0 ? 'default' : central, notPut: left.length, detailTypes: [...new Set(left.map((e) => e.DetailType))], error,
        });
      }
    });
  } catch (err) {
    notPut += findings.length;
    log('findings could not be put as events; this log carries them', { notPut: findings.length, error: describeError(err) });
  }
  if (notPut > 0) {
    try {
      await putMetrics(createCloudWatchClient(), [{ name: FINDINGS_NOT_PUT_METRIC, value: notPut }], AbortSignal.timeout(PUT_BUDGET_MS));
    } catch {
      // putMetrics logs its own failures.
    }
  }
  return notPut;
}
