/**
 * The custom resource handler of ImdsAccountDefaults: event routing and the
 * guarantees toward CloudFormation.
 *
 * - It always answers, exactly once: on success, on every exception, and from a
 *   timer that fires ahead of the function's deadline (an unanswered custom
 *   resource hangs its stack for an hour).
 * - The physical id is chosen on Create from the stack's account and Region and
 *   never changes afterwards (a changed id makes CloudFormation delete the "old"
 *   resource, which would undo what was just applied).
 * - A failed Create answers with a marker id, so that the Delete CloudFormation
 *   sends next changes nothing.
 * - The ResponseURL is presigned: it is never logged.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { Answer, DEFAULT_SEND_OPTIONS, sendResponse } from './cfn-response';
import { createEc2Client, getDefaults, modifyDefaults } from './ec2';
import { describeError, log } from './log';
import {
  AccountLevel,
  Settings,
  managedKeys,
  mismatches,
  parseFlag,
  parseSettings,
  resetSettings,
  sameSettings,
  toData,
  valuesOf,
} from './settings';
import { MANAGED_BY_DECLARATIVE_POLICY } from '../src/private/properties';

/** Time kept back from the deadline to answer CloudFormation (the PUT and its retries). */
export const RESPONSE_RESERVE_MS = 5_000;

/**
 * The first EC2 call of a Create can come seconds after IAM created the role's
 * policy, before it has reached EC2: UnauthorizedOperation is retried this many
 * times (1 s, 2 s, 4 s apart) on that call only.
 */
export const IAM_PROPAGATION_ATTEMPTS = 4;

/** The prefix of the physical id answered for a failed Create: the following Delete does nothing. */
export const CREATE_FAILED_PREFIX = 'ImdsAccountDefaults:CreateFailed:';

const SKIP_FLAG = 'SkipIfManagedByDeclarativePolicy';

let client: EC2Client | undefined;

/** The EC2 client, made on first use inside the handler's try: a failure to make it is answered, not a silent init error. */
function ec2(): EC2Client {
  return (client ??= createEc2Client());
}

interface Outcome {
  readonly physicalResourceId: string;
  readonly data?: Record<string, string>;
}

/** The Lambda entry point. */
export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  // Everything but the ResponseURL.
  log('event', {
    RequestType: event.RequestType,
    RequestId: event.RequestId,
    StackId: event.StackId,
    LogicalResourceId: event.LogicalResourceId,
    PhysicalResourceId: 'PhysicalResourceId' in event ? event.PhysicalResourceId : undefined,
    ResourceProperties: event.ResourceProperties,
    OldResourceProperties: 'OldResourceProperties' in event ? event.OldResourceProperties : undefined,
  });

  // The answer and its retries end with the function (the runtime would cut them off anyway).
  const functionEnd = Date.now() + context.getRemainingTimeInMillis();
  let answered: Promise<void> | undefined;
  const answer = (a: Answer) => {
    answered ??= sendResponse(event, a, { ...DEFAULT_SEND_OPTIONS, deadline: functionEnd })
      .catch((err) => log('giving up on answering CloudFormation', { error: describeError(err) }));
    return answered;
  };

  const controller = new AbortController();
  const budgetMs = Math.max(0, context.getRemainingTimeInMillis() - RESPONSE_RESERVE_MS);
  const timer = setTimeout(() => {
    controller.abort();
    log('deadline reached', { budgetMs });
    void answer({
      status: 'FAILED',
      physicalResourceId: failurePhysicalId(event),
      reason: `${event.RequestType} did not finish within ${Math.round(budgetMs / 1000)} s (the function's timeout less ${RESPONSE_RESERVE_MS / 1000} s to answer); the EC2 calls were stopped and the settings may be partially applied: compare GetInstanceMetadataDefaults with the resource's properties`,
    });
  }, budgetMs);

  try {
    const outcome = await route(event, controller.signal);
    await answer({ status: 'SUCCESS', ...outcome });
  } catch (err) {
    log('failed', { error: describeError(err) });
    await answer({ status: 'FAILED', physicalResourceId: failurePhysicalId(event), reason: describeError(err) });
  } finally {
    clearTimeout(timer);
  }
}

function route(event: CloudFormationCustomResourceEvent, signal: AbortSignal): Promise<Outcome> {
  switch (event.RequestType) {
    case 'Create':
      return onCreate(event, signal);
    case 'Update':
      return onUpdate(event, signal);
    case 'Delete':
      return onDelete(event, signal);
    default:
      throw new Error(`unknown RequestType ${JSON.stringify((event as { RequestType?: unknown }).RequestType)}`);
  }
}

async function onCreate(event: CloudFormationCustomResourceEvent, signal: AbortSignal): Promise<Outcome> {
  const desired = parseSettings(event.ResourceProperties);
  const skip = parseFlag(event.ResourceProperties, SKIP_FLAG);
  const physicalResourceId = stablePhysicalId(event);

  const before = await firstRead(signal);
  if (isManagedByPolicy(before)) {
    return skipOrFail(before, skip, physicalResourceId, 'Create');
  }
  let modifySucceeded = false;
  try {
    await modifyDefaults(ec2(), desired, signal);
    modifySucceeded = true;
    const after = await verifyApplied(desired, signal);
    return { physicalResourceId, data: toData(after, true) };
  } catch (err) {
    // The Delete that follows a failed Create changes nothing (marker id), so put back what this Create changed.
    throw await restoreAfterFailedCreate(err, modifySucceeded || !isRejection(err), before, desired, signal);
  }
}

async function onUpdate(event: CloudFormationCustomResourceEvent & { RequestType: 'Update' }, signal: AbortSignal): Promise<Outcome> {
  const physicalResourceId = event.PhysicalResourceId;
  const desired = parseSettings(event.ResourceProperties);
  const skip = parseFlag(event.ResourceProperties, SKIP_FLAG);

  if (sameSettings(event.OldResourceProperties, event.ResourceProperties)) {
    log('the settings did not change: no EC2 write');
    const state = await getDefaults(ec2(), signal);
    return { physicalResourceId, data: toData(state, !isManagedByPolicy(state)) };
  }

  const before = await getDefaults(ec2(), signal);
  if (isManagedByPolicy(before)) {
    return skipOrFail(before, skip, physicalResourceId, 'Update');
  }
  // A field managed before but not now goes back to no preference. Old values are
  // not validated: in a rollback Update they are the values that just failed.
  const removed = managedKeys(event.OldResourceProperties).filter((key) => desired[key] === undefined);
  const settings = { ...resetSettings(removed), ...desired };
  await modifyDefaults(ec2(), settings, signal);
  return { physicalResourceId, data: toData(await verifyApplied(settings, signal), true) };
}

async function onDelete(event: CloudFormationCustomResourceEvent & { RequestType: 'Delete' }, signal: AbortSignal): Promise<Outcome> {
  const physicalResourceId = event.PhysicalResourceId;
  if (physicalResourceId.startsWith(CREATE_FAILED_PREFIX)) {
    log('Delete after a failed Create: nothing to reset');
    return { physicalResourceId };
  }
  const keys = managedKeys(event.ResourceProperties);
  if (keys.length === 0) {
    return { physicalResourceId };
  }
  const skip = parseFlag(event.ResourceProperties, SKIP_FLAG);
  const before = await getDefaults(ec2(), signal);
  if (isManagedByPolicy(before)) {
    return skipOrFail(before, skip, physicalResourceId, 'Delete');
  }
  const settings = resetSettings(keys);
  await modifyDefaults(ec2(), settings, signal);
  await verifyApplied(settings, signal);
  return { physicalResourceId };
}

/** The first read of a Create, which waits out IAM propagation of the new role's policy. */
async function firstRead(signal: AbortSignal): Promise<AccountLevel> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await getDefaults(ec2(), signal);
    } catch (err) {
      if ((err as Error).name !== 'UnauthorizedOperation' || attempt >= IAM_PROPAGATION_ATTEMPTS || signal.aborted) {
        throw err;
      }
      log('UnauthorizedOperation on the first call: waiting for the role\'s policy to propagate', { attempt });
      await new Promise((resolve) => setTimeout(resolve, 1_000 * 2 ** (attempt - 1)));
    }
  }
}

/** Reads the settings back after a Modify and fails unless every requested field took effect. */
async function verifyApplied(settings: Settings, signal: AbortSignal): Promise<AccountLevel> {
  const after = await getDefaults(ec2(), signal);
  const wrong = mismatches(settings, after);
  if (wrong.length > 0) {
    throw new ReadBackError(`ModifyInstanceMetadataDefaults succeeded but GetInstanceMetadataDefaults reports ${wrong.join('; ')}`);
  }
  return after;
}

class ReadBackError extends Error {
  public readonly name = 'ReadBackError';
}

function isManagedByPolicy(state: AccountLevel): boolean {
  return state.ManagedBy === MANAGED_BY_DECLARATIVE_POLICY;
}

function skipOrFail(state: AccountLevel, skip: boolean, physicalResourceId: string, operation: string): Outcome {
  const message = state.ManagedExceptionMessage ? ` The policy's message: "${state.ManagedExceptionMessage}".` : '';
  if (skip) {
    log(`a declarative policy manages the settings; ${operation} skipped (${SKIP_FLAG})`, { managedExceptionMessage: state.ManagedExceptionMessage });
    return { physicalResourceId, data: toData(state, false) };
  }
  throw new Error(`An AWS Organizations declarative policy manages the EC2 instance metadata defaults of this account and Region (ManagedBy: ${MANAGED_BY_DECLARATIVE_POLICY}), so ${operation} cannot change them.${message} Set skipIfManagedByDeclarativePolicy to succeed without changes in accounts governed by a policy.`);
}

/** Whether EC2 answered the Modify with a client error: then it changed nothing. */
function isRejection(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500;
}

/** After a failed Create: restores the fields it may have changed, and says in the error what happened. */
async function restoreAfterFailedCreate(
  err: unknown, mayHaveChanged: boolean, before: AccountLevel, desired: Settings, signal: AbortSignal,
): Promise<Error> {
  const reason = describeError(err);
  if (!mayHaveChanged) {
    return new Error(reason);
  }
  if (signal.aborted) {
    return new Error(`${reason}. The settings may be partially applied.`);
  }
  try {
    await modifyDefaults(ec2(), valuesOf(before, Object.keys(desired) as (keyof Settings)[]), signal);
    return new Error(`${reason}. The previous values were restored.`);
  } catch (restoreErr) {
    return new Error(`${reason}. Restoring the previous values failed too (${describeError(restoreErr)}): the settings may be partially applied.`);
  }
}

/** The physical id answered on a successful Create: the stack's account and Region, as the setting is per account and Region. */
function stablePhysicalId(event: CloudFormationCustomResourceEvent): string {
  // arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>
  const [, , , region, account] = event.StackId.split(':');
  return `ImdsAccountDefaults:${account || 'unknown-account'}:${region || process.env.AWS_REGION || 'unknown-region'}`;
}

/** On failure, Update and Delete keep their id; a failed Create gets the marker that makes its Delete a no-op. */
function failurePhysicalId(event: CloudFormationCustomResourceEvent): string {
  const existing = event.RequestType !== 'Create' ? (event as { PhysicalResourceId?: string }).PhysicalResourceId : undefined;
  return existing || `${CREATE_FAILED_PREFIX}${event.RequestId}`;
}
