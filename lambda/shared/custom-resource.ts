/**
 * What every function of the library does with its time budget and, for a
 * CloudFormation custom resource event, with its answer:
 *
 * - The work gets an AbortSignal that fires RESPONSE_RESERVE_MS before the
 *   function's timeout; its AWS calls carry it, so nothing outlives the budget.
 * - A custom resource event is answered exactly once: on success, on every
 *   exception, and from the timer at the budget's end (an unanswered custom
 *   resource hangs its stack for up to an hour).
 * - A failed Create answers a marker physical id, so that the Delete that
 *   CloudFormation sends next can recognise it and change nothing.
 * - The ResponseURL is presigned (its query string is a credential): the event
 *   is logged without it.
 * - Before the work runs, the event is confirmed with CloudFormation
 *   (confirm.ts): an event that CloudFormation did not send changes nothing and
 *   is answered FAILED with a fixed reason, the physical id the caller sent (a
 *   Create: the marker) and no Data.
 * - Findings (events.ts) are put only after the answer is sent, within the
 *   function's time left less 1 s: the ones held while the event ran
 *   (events.ts `held`), then the event's own (options.finding).
 *   Putting can neither delay nor change the answer.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { Answer, DEFAULT_SEND_OPTIONS, sendResponse } from './cfn-response';
import { ConfirmOptions, Confirmed, UNCONFIRMED_REASON, confirmEvent } from './confirm';
import { Finding, held, putFindings } from './events';
import { describeError, log } from './log';

/** Time kept back from the function's timeout to answer CloudFormation (the PUT and its retries). */
export const RESPONSE_RESERVE_MS = 5_000;

/** What a successful custom resource operation answers. */
export interface Outcome {
  readonly physicalResourceId: string;
  readonly data?: Record<string, string>;
}

/** The time a piece of work may take. */
export interface Budget {
  /** Fires at `end`: every AWS call carries it. */
  readonly signal: AbortSignal;
  /** Epoch ms: the function's timeout less RESPONSE_RESERVE_MS. */
  readonly end: number;
  /** Epoch ms: the function's timeout. */
  readonly functionEnd: number;
}

/**
 * Runs `work` with a Budget. When the budget's end comes first, the signal is
 * fired and `onDeadline` is called (once) with the budget's length; the timer is
 * cleared when `work` settles.
 */
export async function withBudget<T>(context: Context, onDeadline: (budgetMs: number) => void, work: (budget: Budget) => Promise<T>): Promise<T> {
  const remaining = context.getRemainingTimeInMillis();
  const now = Date.now();
  const budgetMs = Math.max(0, remaining - RESPONSE_RESERVE_MS);
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort();
    log('deadline reached', { budgetMs });
    onDeadline(budgetMs);
  }, budgetMs);
  try {
    return await work({ signal: controller.signal, end: now + budgetMs, functionEnd: now + remaining });
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an event is a CloudFormation custom resource event: RequestType, ResponseURL, StackId and LogicalResourceId, each a string. */
export function isCloudFormationEvent(event: unknown): event is CloudFormationCustomResourceEvent {
  if (typeof event !== 'object' || event === null) {
    return false;
  }
  const fields = event as Record<string, unknown>;
  return ['RequestType', 'ResponseURL', 'StackId', 'LogicalResourceId'].every((key) => typeof fields[key] === 'string');
}

/** Logs a custom resource event: everything but the ResponseURL. */
export function logEvent(event: CloudFormationCustomResourceEvent): void {
  log('event', {
    RequestType: event.RequestType,
    RequestId: event.RequestId,
    StackId: event.StackId,
    LogicalResourceId: event.LogicalResourceId,
    PhysicalResourceId: 'PhysicalResourceId' in event ? event.PhysicalResourceId : undefined,
    ResourceProperties: event.ResourceProperties,
    OldResourceProperties: 'OldResourceProperties' in event ? event.OldResourceProperties : undefined,
  });
}

export interface CustomResourceOptions {
  /** The prefix of the marker physical id answered for a failed Create (the RequestId follows). */
  readonly createFailedPrefix: string;
  /** The reason answered when the budget runs out before the work finished. */
  readonly timeoutReason: (requestType: string, budgetSeconds: number) => string;
  /** How the event is confirmed with CloudFormation before the work runs (confirm.ts). */
  readonly confirm: ConfirmOptions;
  /** The finding of a confirmed event, from the answer sent: put after it. */
  readonly finding?: (answer: Answer) => Finding;
}

/**
 * Confirms the event with CloudFormation, then runs `work` for it within the
 * function's budget, and answers CloudFormation exactly once: SUCCESS with its
 * outcome, FAILED with the error's description (CloudFormation could not be
 * asked: CouldNotConfirmError), FAILED with UNCONFIRMED_REASON for an event
 * CloudFormation did not confirm (the work does not run), or FAILED at the
 * budget's end. Then puts the findings (see the module's comment); the resource
 * of each is the event's stack and logical id once CloudFormation confirmed them.
 */
export async function answerCustomResource(
  event: CloudFormationCustomResourceEvent,
  context: Context,
  options: CustomResourceOptions,
  work: (budget: Budget, confirmed: Confirmed) => Promise<Outcome>,
): Promise<void> {
  let answered: Promise<void> | undefined;
  let sent: Answer;
  // Set once CloudFormation confirmed the event: the resource of its findings.
  let resource: Pick<Finding, 'stackId' | 'logicalResourceId'> | undefined;
  const functionEnd = Date.now() + context.getRemainingTimeInMillis();
  // The answer and its retries end with the function (the runtime would cut them off anyway).
  const answer = (a: Answer) => {
    answered ??= sendResponse(event, sent = a, { ...DEFAULT_SEND_OPTIONS, deadline: functionEnd })
      .catch((err) => log('giving up on answering CloudFormation', { error: describeError(err) }));
    return answered;
  };
  const failedId = failurePhysicalId(event, options.createFailedPrefix);
  const findings: Finding[] = held.list = [];
  await withBudget(context, (budgetMs) => {
    void answer({ status: 'FAILED', physicalResourceId: failedId, reason: options.timeoutReason(event.RequestType, Math.round(budgetMs / 1000)) });
  }, async (budget) => {
    try {
      const confirmation = await confirmEvent(event, context, options.confirm, options.createFailedPrefix, budget.signal);
      if (!confirmation.confirmed) {
        // Nothing the caller did not send: the fixed reason, its own physical id, no Data.
        await answer({ status: 'FAILED', physicalResourceId: failedId, reason: UNCONFIRMED_REASON });
        return;
      }
      resource = { stackId: event.StackId, logicalResourceId: event.LogicalResourceId };
      const outcome = await work(budget, { stackStatus: confirmation.stackStatus });
      await answer({ status: 'SUCCESS', ...outcome });
    } catch (err) {
      log('failed', { error: describeError(err) });
      await answer({ status: 'FAILED', physicalResourceId: failedId, reason: describeError(err) });
    }
  });
  held.list = undefined;
  if (resource && options.finding) {
    findings.push(options.finding(sent!));
  }
  // The put (and its FindingsNotPut metric) ends 1 s before the function does.
  await putFindings(findings.map((f) => ({ ...resource, ...f })), AbortSignal.timeout(Math.max(0, functionEnd - Date.now() - 1_000)));
}

/** The physical id of a resource that exists once per account and Region: `<prefix>:<account>:<region>`, both read from the StackId. */
export function stablePhysicalId(event: CloudFormationCustomResourceEvent, prefix: string): string {
  // arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>
  const [, , , region, account] = event.StackId.split(':');
  return `${prefix}:${account || 'unknown-account'}:${region || process.env.AWS_REGION || 'unknown-region'}`;
}

/** On failure, Update and Delete keep their id; a failed Create gets the marker that makes its Delete a no-op. */
export function failurePhysicalId(event: CloudFormationCustomResourceEvent, createFailedPrefix: string): string {
  const existing = event.RequestType !== 'Create' ? (event as { PhysicalResourceId?: string }).PhysicalResourceId : undefined;
  return existing || `${createFailedPrefix}${event.RequestId}`;
}
