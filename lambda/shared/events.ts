/**
 * Findings as Amazon EventBridge events, shared by every function: `source`
 * FINDINGS_SOURCE, a `detail-type` of ImdsFindingType, and a detail that
 * findings-schema.json describes (its `version`, the account, the Region and the
 * resource are added here; the caller gives the values found and expected).
 *
 * Each finding goes to the account's default bus and, when the template names one
 * (CENTRAL_EVENT_BUS_ENV), to that central bus too, which may be in another account
 * and Region: its client is made for the bus's own Region (PutEvents takes the bus
 * ARN as EventBusName; that Region's endpoint accepts it whatever the caller's Region).
 *
 * Putting never throws and never fails the caller: the puts, and then the metric,
 * are each bounded by PUT_BUDGET_MS and by the caller's signal; the SDK retries throttling and server
 * errors (CLIENT_CONFIG), and entries EventBridge refuses one by one for a passing
 * reason (ThrottlingException, InternalFailure) are sent again, up to PUT_ATTEMPTS
 * times in all; the others (MalformedDetail, AccessDeniedException, ...) would fail
 * again and are not. One entry a call (EventBridge's 256 KB is a call's limit, and a
 * finding may come near it alone). What still was not put is logged
 * (the bus, the count and the last error, never the detail) and counted in
 * FINDINGS_NOT_PUT_METRIC; the function's own log lines carry the findings.
 *
 * What goes in is only what the caller passes, bounded: strings to STRING_MAX
 * characters (a forged StackId, say), lists to LIST_MAX items (callers count the rest
 * in `counts`), and a detail that would still come near EventBridge's 256 KB loses its
 * lists (`truncated: true`). Callers never pass a CloudFormation event as a whole, and a
 * `ResponseURL` key is dropped wherever it is: no presigned URL can reach a bus.
 */
import type { EventBridgeClient, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { describeError, log } from './log';
import { createCloudWatchClient, putMetrics } from './metrics';
import { CLIENT_CONFIG } from './sdk';
import {
  CENTRAL_EVENT_BUS_ENV, FINDINGS_NOT_PUT_METRIC, FINDINGS_SCHEMA_VERSION, FINDINGS_SOURCE,
} from '../../src/private/properties';

/** The most items of any list in a detail; callers give the full counts beside it. */
export const LIST_MAX = 25;
/** The longest string in a detail. */
export const STRING_MAX = 1024;
/**
 * The largest Detail kept whole: EventBridge's 256 KB limit on an entry (Source,
 * DetailType, Detail and Resources, in UTF-8 bytes), less room for the other three.
 */
export const DETAIL_MAX_BYTES = 256 * 1024 - 2048;
/** The longest one putFindings call may take, retries included. */
export const PUT_BUDGET_MS = 3_000;
/** Sends of an entry EventBridge refused, the first included. */
export const PUT_ATTEMPTS = 3;

/** The log line of findings that could not be put. */
const NOT_PUT = 'findings not put as events';

/** One finding: its detail type, the custom resource it is about (if any), and its values. */
export interface Finding {
  readonly type: string;
  readonly detail: Record<string, unknown>;
  readonly stackId?: string;
  readonly logicalResourceId?: string;
}

/**
 * The findings of the CloudFormation event being answered (`list` is set while it
 * is): every function's findings wait there, and answerCustomResource puts them after
 * the answer (custom-resource.ts). Module state: a Lambda instance runs one
 * invocation at a time.
 */
export const held: { list?: Finding[] } = {};

/** The invoked function's ARN, which Lambda writes: the origin of the findings (its Region, account and name). */
let functionArn = '';
const clients: Record<string, EventBridgeClient> = {};

/** Records which function puts this invocation's findings (first thing in each handler). */
export function setFindingsOrigin(invokedFunctionArn: string | undefined): void {
  functionArn = String(invokedFunctionArn);
}

/** A JSON.stringify replacer that clips strings and lists (and drops lists with `drop`, and any ResponseURL). */
const bounded = (drop: boolean) => (key: string, value: unknown): unknown => key === 'ResponseURL' ? undefined
  : typeof value === 'string' && value.length > STRING_MAX ? `${value.slice(0, STRING_MAX)}…`
    : Array.isArray(value) ? (drop ? [] : value.slice(0, LIST_MAX)) : value;

/** The PutEvents entry of a finding (no EventBusName: the default bus). */
export function findingEntry({ type, detail, stackId, logicalResourceId }: Finding): PutEventsRequestEntry {
  const [, , , region, account, , name] = functionArn.split(':');
  const full = { version: FINDINGS_SCHEMA_VERSION, account, region, resource: { function: name, stackId, logicalResourceId }, ...detail };
  let json = JSON.stringify(full, bounded(false));
  if (Buffer.byteLength(json) > DETAIL_MAX_BYTES) {
    json = JSON.stringify({ ...full, truncated: true }, bounded(true));
  }
  return { Source: FINDINGS_SOURCE, DetailType: type, Detail: json };
}

/** Puts the entries to one bus (undefined: the default bus); returns how many were not put, and the last error. */
async function putTo(bus: string | undefined, entries: PutEventsRequestEntry[], signal: AbortSignal): Promise<[number, string?]> {
  // Loaded on first use, as the other clients the functions need only sometimes.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk: typeof import('@aws-sdk/client-eventbridge') = require('@aws-sdk/client-eventbridge');
  const client = (clients[bus ?? ''] ??= new sdk.EventBridgeClient({ ...CLIENT_CONFIG, ...(bus ? { region: bus.split(':')[3] } : {}) }));
  let error: string | undefined;
  let notPut = 0;
  // One entry a call: EventBridge's 256 KB limit is on a call's entries together, and each
  // finding may come near it on its own (DETAIL_MAX_BYTES); findings are few per run.
  for (let i = 0; i < entries.length; i++) {
    for (let attempt = 1; ; attempt++) {
      try {
        const command = new sdk.PutEventsCommand({ Entries: [{ ...entries[i], EventBusName: bus }] });
        const [result] = (await client.send(command, { abortSignal: signal })).Entries ?? [];
        if (!result?.ErrorCode) {
          break;
        }
        error = result.ErrorCode;
      } catch (err) {
        // The whole call failed after the SDK's retries (denied, throttled throughout, out of time): so would the next.
        return [notPut + entries.length - i, describeError(err)];
      }
      // A refused entry is sent again only when it may pass later (throttled, an internal failure).
      if (attempt >= PUT_ATTEMPTS || !/Throttl|Internal/.test(error)) {
        notPut++;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return [notPut, error];
}

/**
 * Puts the findings to the default bus and to the central bus, if any. Returns how
 * many puts failed (a finding counts once per bus). Never throws.
 */
export async function putFindings(findings: readonly Finding[], signal?: AbortSignal): Promise<number> {
  let notPut = 0;
  // The budget of each step: PUT_BUDGET_MS, and never beyond the caller's signal.
  const budget = () => AbortSignal.any([AbortSignal.timeout(PUT_BUDGET_MS), ...(signal ? [signal] : [])]);
  try {
    if (findings.length > 0) {
      const entries = findings.map(findingEntry);
      const central = process.env[CENTRAL_EVENT_BUS_ENV];
      await Promise.all([undefined, ...(central ? [central] : [])].map(async (bus) => {
        const [count, error] = await putTo(bus, entries, budget());
        if (count > 0) {
          notPut += count;
          log(NOT_PUT, { bus: bus ?? 'default', count, error });
        }
      }));
    }
  } catch (err) {
    // Only a bug can get here (the puts catch their own errors): everything counts as not put.
    notPut = findings.length;
    log(NOT_PUT, { count: notPut, error: describeError(err) });
  }
  try {
    if (notPut > 0) {
      // putMetrics logs its own failure and never throws.
      await putMetrics(createCloudWatchClient(), [{ name: FINDINGS_NOT_PUT_METRIC, value: notPut }], budget());
    }
  } catch {
    // A client that cannot be made is no reason to fail the caller either.
  }
  return notPut;
}
