/**
 * Only CloudFormation's own events act. Anyone allowed lambda:InvokeFunction on a
 * function can send it an event that looks like CloudFormation's; nothing in the
 * event proves who sent it. What does is CloudFormation's own view of the stack,
 * the source that cannot lie: while CloudFormation waits for the answer to an
 * event, DescribeStackResource shows that resource, of the function's type, in the
 * matching *_IN_PROGRESS status and (Update, Delete) with the event's physical id.
 *
 * confirmEvent checks, before anything is changed:
 * 1. the event's ServiceToken names the invoked function (the first seven parts of
 *    the ARNs: a qualifier is ignored);
 * 2. the StackId is a CloudFormation stack ARN of the function's partition,
 *    account and Region;
 * 3. DescribeStackResource(StackId, LogicalResourceId): the type, the status and
 *    the physical id as above (a Delete after a failed Create carries the marker
 *    id, which CloudFormation may show, or show no physical id at all);
 * 4. optionally, DescribeStacks(StackId): the stack's status, handed to the work
 *    (a Delete during a rollback restores instead of resetting).
 *
 * An event that does not hold up is reported (a `security warning` log line that
 * says what did not match, and UNCONFIRMED_EVENT_METRIC); the caller answers it
 * FAILED with a fixed reason and changes nothing. A late event (CloudFormation
 * stopped waiting) finds the resource *_FAILED or *_COMPLETE and is unconfirmed
 * too. When CloudFormation cannot be asked (after the SDK's retries, and the wait
 * for IAM on the first call), or does not answer within CONFIRM_BUDGET_MS,
 * CouldNotConfirmError is thrown: nothing is changed.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { describeResource, describeStackStatus } from './cloudformation';
import { describeError } from './log';
import { whileIamPropagates } from './sdk';
import { reportSecurityWarning } from './security-warning';
import { UNCONFIRMED_EVENT_METRIC } from '../../src/private/properties';

/** The reason answered to an event that CloudFormation did not confirm: fixed, so it tells the caller nothing. */
export const UNCONFIRMED_REASON = 'This event was not confirmed by CloudFormation; nothing was changed. See the function\'s log.';

/** The `warning` of the security warning logged for an unconfirmed event. */
export const UNCONFIRMED_WARNING = 'unconfirmed-event';

/**
 * How long the confirmation may take, whatever the function's time left: when
 * CloudFormation hangs, the event is answered "could not confirm ... nothing was
 * changed" well before the function's deadline answers it with the generic
 * timeout reason (which says the settings may be partially applied). With the
 * ownership budget (12 s) it stays inside the account-defaults function's 25 s
 * budget; it leaves room for the wait for IAM (1 + 2 + 4 s) on the first call.
 */
export const CONFIRM_BUDGET_MS = 11_000;

export type RequestType = CloudFormationCustomResourceEvent['RequestType'];

/** How a function confirms its events. */
export interface ConfirmOptions {
  /** The custom resource type the function serves (Custom::ImdsAccountDefaults, Custom::ImdsInstanceUpgrade). */
  readonly resourceType: string;
  /** The CloudFormation client, made on first use. */
  readonly cloudFormation: () => CloudFormationClient;
  /** The request types for which the stack's status is read as well (DescribeStacks); none by default. */
  readonly readStackStatusOn?: readonly RequestType[];
}

/** What CloudFormation confirmed. */
export interface Confirmed {
  /** The stack's status, when it was read (readStackStatusOn). */
  readonly stackStatus?: string;
}

/** The outcome of a confirmation: confirmed, or the mismatch that was reported. */
export type Confirmation = { readonly confirmed: true } & Confirmed | { readonly confirmed: false; readonly mismatch: string };

/** CloudFormation could not be asked: nothing may be changed. */
export class CouldNotConfirmError extends Error {
  public readonly name = 'CouldNotConfirmError';
}

/** The statuses CloudFormation shows a resource in while it waits for the answer to each request type. */
export const IN_PROGRESS: Readonly<Record<RequestType, string>> = {
  Create: 'CREATE_IN_PROGRESS',
  Update: 'UPDATE_IN_PROGRESS',
  Delete: 'DELETE_IN_PROGRESS',
};

/**
 * Confirms `event` with CloudFormation (see the module's comment). Reports an
 * unconfirmed event before returning it; throws CouldNotConfirmError when
 * CloudFormation cannot be asked. `createFailedPrefix` is the prefix of the
 * function's marker id for a failed Create.
 */
export async function confirmEvent(
  event: CloudFormationCustomResourceEvent, context: Context, options: ConfirmOptions, createFailedPrefix: string, signal: AbortSignal,
): Promise<Confirmation> {
  // A timer of our own, tied to the budget's signal (as ownership.ts's: a signal of
  // AbortSignal.any over AbortSignal.timeout can be garbage-collected before it fires).
  const controller = new AbortController();
  const abort = () => controller.abort();
  let timedOut = false;
  signal.addEventListener('abort', abort, { once: true });
  if (signal.aborted) {
    abort();
  }
  const timer = setTimeout(() => {
    timedOut = true;
    abort();
  }, CONFIRM_BUDGET_MS);
  let result: Confirmation;
  try {
    result = await check(event, context, options, createFailedPrefix, controller.signal);
  } catch (err) {
    throw new CouldNotConfirmError(`could not confirm the event with CloudFormation (${timedOut ? 'timed out: ' : ''}${describeError(err)}); nothing was changed`);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
  if (!result.confirmed) {
    await reportSecurityWarning(UNCONFIRMED_WARNING, UNCONFIRMED_EVENT_METRIC, {
      mismatch: result.mismatch,
      RequestType: event.RequestType,
      StackId: event.StackId,
      LogicalResourceId: event.LogicalResourceId,
      RequestId: event.RequestId,
    }, signal);
  }
  return result;
}

async function check(
  event: CloudFormationCustomResourceEvent, context: Context, options: ConfirmOptions, createFailedPrefix: string, signal: AbortSignal,
): Promise<Confirmation> {
  const unconfirmed = (mismatch: string): Confirmation => ({ confirmed: false, mismatch });
  const functionArn = arnParts(context.invokedFunctionArn);
  const serviceToken = arnParts(event.ServiceToken);
  if (functionArn.length < 7 || functionArn.slice(0, 7).join(':') !== serviceToken.slice(0, 7).join(':')) {
    return unconfirmed('the ServiceToken is not the invoked function');
  }
  const [, partition, , region, account] = functionArn;
  const stack = /^arn:([^:]+):cloudformation:([^:]+):(\d{12}):stack\/[^/]+\/[^/]+$/.exec(String(event.StackId));
  if (!stack || stack[1] !== partition || stack[2] !== region || stack[3] !== account) {
    return unconfirmed('the StackId is not a stack of the function\'s account and Region');
  }
  const expected = Object.prototype.hasOwnProperty.call(IN_PROGRESS, event.RequestType) ? IN_PROGRESS[event.RequestType] : undefined;
  if (expected === undefined) {
    return unconfirmed('the RequestType is not Create, Update or Delete');
  }
  const resource = await whileIamPropagates('CloudFormation',
    () => describeResource(options.cloudFormation(), event.StackId, event.LogicalResourceId, signal), signal);
  if (resource === undefined) {
    return unconfirmed('CloudFormation has no such stack or resource');
  }
  if (resource.resourceType !== options.resourceType) {
    return unconfirmed(`the resource is of type ${resource.resourceType}, not ${options.resourceType}`);
  }
  if (resource.resourceStatus !== expected) {
    return unconfirmed(`the resource is ${resource.resourceStatus || 'without status'}, not ${expected}`);
  }
  if (event.RequestType !== 'Create' && !samePhysicalId(event.PhysicalResourceId, resource.physicalResourceId, createFailedPrefix)) {
    return unconfirmed('the PhysicalResourceId is not the resource\'s');
  }
  if (!(options.readStackStatusOn ?? []).includes(event.RequestType)) {
    return { confirmed: true };
  }
  const stackStatus = await describeStackStatus(options.cloudFormation(), event.StackId, signal);
  if (stackStatus === undefined) {
    return unconfirmed('CloudFormation has no such stack');
  }
  return { confirmed: true, stackStatus };
}

/**
 * The event's physical id is the one CloudFormation holds. A Delete after a
 * failed Create carries the marker id the failed answer gave; CloudFormation
 * may hold it or no physical id at all for a resource it never created.
 */
function samePhysicalId(fromEvent: unknown, held: string | undefined, createFailedPrefix: string): boolean {
  if (typeof fromEvent !== 'string') {
    return false;
  }
  if (held === undefined || held === '') {
    return fromEvent.startsWith(createFailedPrefix);
  }
  return fromEvent === held;
}

function arnParts(arn: unknown): string[] {
  return typeof arn === 'string' ? arn.split(':') : [];
}
