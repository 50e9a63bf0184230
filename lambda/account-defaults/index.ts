/**
 * The custom resource handler of ImdsAccountDefaults: event routing and the
 * guarantees toward CloudFormation.
 *
 * - It always answers, exactly once: on success, on every exception, and from a
 *   timer that fires ahead of the function's deadline (an unanswered custom
 *   resource hangs its stack for an hour).
 * - Only CloudFormation's own events act (shared/confirm.ts): before anything is
 *   read or written, the event is confirmed with CloudFormation; one that is
 *   not changes nothing and is answered FAILED with a fixed reason.
 * - The physical id is chosen on Create from the stack's account and Region and
 *   the values the managed fields had before the Create (settings.ts
 *   formatPhysicalId), and never changes afterwards (a changed id makes
 *   CloudFormation delete the "old" resource, which would undo what was just
 *   applied). CloudFormation keeps it and confirms it with every event: the
 *   values a restoring Delete puts back, and those an Update hands back for the
 *   fields managed since the Create, come from it.
 * - A field an Update takes over has its value before recorded in the
 *   resource's own claim (`before`); an Update that hands it back uses that
 *   value only when SSM's history says this function wrote the claim's last
 *   version (claims.ts claimedBefore): anyone with ssm:PutParameter can edit a
 *   claim. Otherwise the field is left as it is.
 * - A failed Create answers with a marker id, so that the Delete CloudFormation
 *   sends next changes nothing.
 * - Ownership (ownership.ts): Create and Update fail, changing nothing, when
 *   another stack's live claim manages a field with another value; Delete
 *   changes only the fields that no other live claim manages (nor a retained
 *   claim whose resource is gone, while EC2 holds its value). Each resource
 *   records its claim after a successful Create or Update and removes it on
 *   Delete. Claims record ownership only, never values.
 * - Delete: a Delete during a rollback (the stack in ROLLBACK_STACK_STATUSES),
 *   or with OnDelete RESTORE, puts each field back to its value before the
 *   Create where EC2 still holds this resource's value; otherwise it resets the
 *   fields to no preference, and then re-applies the value of any live claim
 *   that started managing a reset field meanwhile.
 * - Readiness (readiness.ts): a Create or Update that enables HttpTokensEnforced
 *   first lists the launch templates, launch configurations and instances that
 *   allow IMDSv1; by default it fails, changing nothing, when launches would break.
 * - Only what differs is written, and a failed Create or Update puts back what it
 *   changed before answering, so CloudFormation's rollback starts from the state
 *   before the event.
 * - The ResponseURL is presigned: it is never logged.
 * - After the answer (shared/custom-resource.ts), a confirmed event is put as an
 *   "IMDS Defaults Changed" finding: the answer's outcome, the settings it asked
 *   for, EC2 before, the readiness check's Data when the check ran and, when it
 *   succeeded, what it did and EC2 after (only reads the event made anyway).
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { ClaimOptions, ClaimedBefore, Owner, claimName, claimedBefore, createSsmClient, deleteClaim, functionIdentity, putClaim, stackNameOf } from './claims';
import { onEvent } from './drift';
import { createEc2Client, getDefaults, modifyDefaults, verifyApplied } from './ec2';
import { CLAIM_PROBLEM_WARNING, Ownership, OwnershipUnknownError, conflicts, createCloudFormationClient, managedByOthers, protectedByRetained, readOwnership } from './ownership';
import { ReadinessClients, ReadinessData, checkReadiness, createAutoScalingClient, notChecked, parseReadinessCheck } from './readiness';
import {
  AccountLevel,
  Settings,
  PHYSICAL_ID_PREFIX,
  changesFrom,
  effectiveSettings,
  formatPhysicalId,
  holdsRequested,
  managedKeys,
  parseFlag,
  parseOnDelete,
  parsePhysicalIdBefore,
  parseSettings,
  resetSettings,
  toData,
  valuesOf,
} from './settings';
import { ImdsFindingType } from '../../src/findings';
import {
  CLAIM_PROBLEM_METRIC,
  MANAGED_BY_DECLARATIVE_POLICY,
  ON_DELETE_RESTORE,
  RESOURCE_TYPE,
  RETAINED_PROPERTY,
  ROLLBACK_STACK_STATUSES,
  SettingKey,
} from '../../src/private/properties';
import { Confirmed } from '../shared/confirm';
import { Outcome, RESPONSE_RESERVE_MS, answerCustomResource, isCloudFormationEvent, logEvent, stablePhysicalId as accountRegionId } from '../shared/custom-resource';
import { setFindingsOrigin } from '../shared/events';
import { describeError, log } from '../shared/log';
import { whileIamPropagates } from '../shared/sdk';
import { reportSecurityWarning } from '../shared/security-warning';

export { IAM_PROPAGATION_ATTEMPTS } from '../shared/sdk';

/** Time kept back from the deadline to answer CloudFormation (the PUT and its retries): shared/custom-resource.ts. */
export { RESPONSE_RESERVE_MS };

/** The prefix of the physical id answered for a failed Create: the following Delete does nothing. */
export const CREATE_FAILED_PREFIX = 'ImdsAccountDefaults:CreateFailed:';

/** The read-back after a Modify (ec2.ts verifyApplied): a mismatch after the last attempt fails the event. */
export { READ_BACK_ATTEMPTS, READ_BACK_INTERVAL_MS } from './ec2';

const SKIP_FLAG = 'SkipIfManagedByDeclarativePolicy';

// The clients, made on first use inside the handler's try: a failure to make one is answered, not a silent init error.
let ec2Client: EC2Client | undefined;
let ssmClient: SSMClient | undefined;
let cfnClient: CloudFormationClient | undefined;
const ec2 = () => (ec2Client ??= createEc2Client());
const ssm = () => (ssmClient ??= createSsmClient());
const cfn = () => (cfnClient ??= createCloudFormationClient());
// The readiness check's clients (readiness.ts): Auto Scaling only when the check runs.
let autoScalingClient: ReturnType<typeof createAutoScalingClient> | undefined;
const readinessClients: ReadinessClients = { ec2, autoScaling: () => (autoScalingClient ??= createAutoScalingClient()) };

/**
 * The finding of the event being answered (reset by each): the settings it asks
 * for, EC2 before, the readiness check's Data; and, put only when it succeeds,
 * what it did (`did`) and EC2 after (`found`: as before until a write is read back).
 */
let change: { expected?: Settings; previous?: AccountLevel; readinessCheck?: ReadinessData };
let did: string;
let found: AccountLevel | undefined;

/** The Lambda entry point. */
export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  setFindingsOrigin(context.invokedFunctionArn);
  if (!isCloudFormationEvent(event)) {
    // EventBridge (the drift guard's schedule and CloudTrail rules): checked there, never answered.
    return onEvent(event, context);
  }
  // Everything but the ResponseURL; answered exactly once, also at the deadline (shared/custom-resource.ts).
  logEvent(event);
  change = {};
  did = 'none';
  found = undefined;
  return answerCustomResource(event, context, {
    createFailedPrefix: CREATE_FAILED_PREFIX,
    timeoutReason: (requestType, seconds) => `${requestType} did not finish within ${seconds} s (the function's timeout less ${RESPONSE_RESERVE_MS / 1000} s to answer); the EC2 calls were stopped and the settings may be partially applied: compare GetInstanceMetadataDefaults with the resource's properties`,
    // The stack's status tells a rollback Delete from a deliberate one.
    confirm: { resourceType: RESOURCE_TYPE, cloudFormation: cfn, readStackStatusOn: ['Delete'] },
    // A failed event put back what it wrote (or says otherwise in its reason): no action, nothing read after it.
    finding: ({ status, reason }) => ({
      type: ImdsFindingType.DEFAULTS_CHANGED,
      detail: { requestType: event.RequestType, outcome: status, reason, ...change, ...(status === 'SUCCESS' && { action: did, found }) },
    }),
  }, (budget, confirmed) => route(event, context, confirmed, budget.signal));
}

function route(event: CloudFormationCustomResourceEvent, context: Context, confirmed: Confirmed, signal: AbortSignal): Promise<Outcome> {
  switch (event.RequestType) {
    case 'Create':
      return onCreate(event, signal);
    case 'Update':
      return onUpdate(event, context, signal);
    case 'Delete':
      return onDelete(event, confirmed, signal);
    default:
      throw new Error(`unknown RequestType ${JSON.stringify((event as { RequestType?: unknown }).RequestType)}`);
  }
}

async function onCreate(event: CloudFormationCustomResourceEvent, signal: AbortSignal): Promise<Outcome> {
  const desired = change.expected = parseSettings(event.ResourceProperties);
  const skip = parseFlag(event.ResourceProperties, SKIP_FLAG);
  const readinessCheck = parseReadinessCheck(event.ResourceProperties);
  const retained = parseFlag(event.ResourceProperties, RETAINED_PROPERTY);
  parseOnDelete(event.ResourceProperties);
  const self = ownerOf(event);

  const before = change.previous = found = await whileIamPropagates('EC2', () => getDefaults(ec2(), signal), signal);
  if (isManagedByPolicy(before)) {
    return skipOrFail(before, skip, stablePhysicalId(event), 'Create');
  }
  // The values before the Create, kept by CloudFormation in the physical id (what a rollback puts back).
  const physicalResourceId = formatPhysicalId(stablePhysicalId(event), valuesOf(before, Object.keys(desired) as SettingKey[]));
  const ownership = await readOwnership(ssm(), cfn(), self, signal);
  assertNoConflict(ownership, self, desired);
  // Before any write: enabling enforcement may stop launches (readiness.ts).
  const readiness = await checkReadiness(desired, before, readinessCheck, readinessClients, signal, change);
  // No claim `before`: the physical id has the values before of every field managed since the Create.
  const after = await applyAndClaim(self, desired, desired, { retained }, before, signal);
  return { physicalResourceId, data: { ...toData(after, true), ...readiness } };
}

async function onUpdate(event: CloudFormationCustomResourceEvent & { RequestType: 'Update' }, context: Context, signal: AbortSignal): Promise<Outcome> {
  const physicalResourceId = event.PhysicalResourceId;
  const desired = change.expected = parseSettings(event.ResourceProperties);
  const skip = parseFlag(event.ResourceProperties, SKIP_FLAG);
  const readinessCheck = parseReadinessCheck(event.ResourceProperties);
  const retained = parseFlag(event.ResourceProperties, RETAINED_PROPERTY);
  parseOnDelete(event.ResourceProperties);
  const self = ownerOf(event);

  const before = change.previous = found = await getDefaults(ec2(), signal);
  if (isManagedByPolicy(before)) {
    return skipOrFail(before, skip, physicalResourceId, 'Update');
  }
  const ownership = await readOwnership(ssm(), cfn(), self, signal);
  assertNoConflict(ownership, self, desired);
  const old = event.OldResourceProperties;
  const fromPhysicalId = beforeCreate(physicalResourceId);
  // The own claim's history, read at most once, and only when a value before is needed from it.
  let evidence: Promise<ClaimedBefore> | undefined;
  const claimed = () => (evidence ??= trustedClaimBefore(self, context, signal));
  const removed = managedKeys(old).filter((key) => desired[key] === undefined);
  const handedBack = await handBack(removed, old, ownership, before, fromPhysicalId, claimed);
  const target = { ...handedBack, ...desired };
  const claimBefore = await beforeToRecord(desired, old, ownership, before, fromPhysicalId, claimed);
  // Before any write: enabling enforcement (even by handing a field back) may stop launches (readiness.ts).
  const readiness = await checkReadiness(target, before, readinessCheck, readinessClients, signal, change);
  const after = await applyAndClaim(self, target, desired, { retained, before: claimBefore }, before, signal);
  return { physicalResourceId, data: { ...toData(after, true), ...readiness } };
}

async function onDelete(event: CloudFormationCustomResourceEvent & { RequestType: 'Delete' }, confirmed: Confirmed, signal: AbortSignal): Promise<Outcome> {
  const physicalResourceId = event.PhysicalResourceId;
  const self = ownerOf(event);
  if (physicalResourceId.startsWith(CREATE_FAILED_PREFIX)) {
    log('Delete after a failed Create: nothing to reset');
    await removeOwnClaim(self, signal);
    return { physicalResourceId };
  }
  const properties = event.ResourceProperties;
  const keys = managedKeys(properties);
  if (keys.length === 0) {
    await removeOwnClaim(self, signal);
    return { physicalResourceId };
  }
  let ownership: Ownership;
  try {
    ownership = await readOwnership(ssm(), cfn(), self, signal);
  } catch (err) {
    if (!(err instanceof OwnershipUnknownError)) {
      throw err;
    }
    // The safe side: a setting that may still be someone else's stays (IMDSv2 stays required).
    did = 'retained';
    log('Delete leaves the settings as they are: ownership could not be determined', { error: err.message, fields: keys });
    return { physicalResourceId };
  }
  const before = change.previous = found = await getDefaults(ec2(), signal);
  if (isManagedByPolicy(before)) {
    // Nothing a Delete may change, whatever SkipIfManagedByDeclarativePolicy says: the resource goes, its claim with it.
    did = 'skipped';
    log('a declarative policy manages the settings; Delete changes nothing', { managedExceptionMessage: before.ManagedExceptionMessage });
    await removeOwnClaim(self, signal);
    return { physicalResourceId, data: { ...toData(before, false), ...notChecked() } };
  }
  const restoring = isRollback(confirmed.stackStatus) || deleteMode(properties) === ON_DELETE_RESTORE;
  const target = change.expected = deleteTarget(keys, properties, ownership, before, restoring ? beforeCreate(physicalResourceId) : undefined);
  const { changed } = await apply(target, before, signal, restoring ? 'restored' : 'reset');
  await removeOwnClaim(self, signal);
  if (!restoring) {
    await reapplyClaimedAfterReset(self, changed, before, signal);
  }
  return { physicalResourceId };
}

/**
 * What a Delete writes, field by field. A field is left as it is when another
 * live resource manages it, or a retained claim whose resource is gone manages
 * it and EC2 still holds that claim's value. Otherwise, restoring (`beforeCreate`
 * given: a rollback, or OnDelete RESTORE): the value before this resource's
 * Create (no preference when the physical id has none), only where EC2 still
 * holds the value this resource set; resetting: no preference.
 */
function deleteTarget(
  keys: SettingKey[], properties: Record<string, unknown>, ownership: Ownership,
  current: AccountLevel, beforeCreateValues: Settings | undefined,
): Settings {
  const effective = effectiveSettings(current);
  const target: Record<string, unknown> = {};
  const others: SettingKey[] = [];
  const retained: SettingKey[] = [];
  const changedSince: SettingKey[] = [];
  for (const key of keys) {
    if (managedByOthers(ownership, key)) {
      others.push(key);
    } else if (protectedByRetained(ownership, key, effective)) {
      retained.push(key);
    } else if (beforeCreateValues === undefined) {
      target[key] = resetSettings([key])[key];
    } else if (!holdsRequested(current, properties, key)) {
      changedSince.push(key);
    } else {
      target[key] = beforeCreateValues[key] ?? resetSettings([key])[key];
    }
  }
  if (others.length > 0) {
    did = 'retained';
    log('fields another live resource manages are not reset', { fields: others });
  }
  if (retained.length > 0) {
    did = 'retained';
    log('fields a retained resource manages, and EC2 still holds its values, are not reset', { fields: retained });
  }
  if (beforeCreateValues !== undefined) {
    log('Delete restores the values from before the Create', { target, ...(changedSince.length > 0 ? { changedSince } : {}) });
  }
  return target as Settings;
}

/**
 * After a reset: another resource may have recorded its claim while this Delete
 * was reading the claims (two StackSets' instances in one account, one arriving
 * as the other leaves). For each field the reset changed that a live claim now
 * manages, the value EC2 held before the reset is put back, where it is that
 * claim's value (EC2 is the source of the value; the claim only says who owns it).
 */
async function reapplyClaimedAfterReset(self: Owner, changed: Settings, before: AccountLevel, signal: AbortSignal): Promise<void> {
  const fields = Object.keys(changed) as SettingKey[];
  if (fields.length === 0) {
    return;
  }
  try {
    const now = await readOwnership(ssm(), cfn(), self, signal);
    const held = valuesOf(before, fields);
    const back: Record<string, unknown> = {};
    for (const key of fields) {
      if (now.others.some((claim) => claim.fields[key] !== undefined && String(claim.fields[key]) === String(held[key]))) {
        back[key] = held[key];
      }
    }
    if (Object.keys(back).length === 0) {
      return;
    }
    log('another live resource claims fields this Delete reset: their values are put back', { fields: back });
    // The Delete's action stays what it was (reset).
    await apply(back as Settings, await getDefaults(ec2(), signal), signal, did);
  } catch (err) {
    log('could not check the claims again after the reset', { error: describeError(err) });
  }
}

function isRollback(stackStatus: string | undefined): boolean {
  return (ROLLBACK_STACK_STATUSES as readonly string[]).includes(stackStatus ?? '');
}

/** OnDelete on a Delete: an unknown value (never accepted by Create or Update) resets, as the default does. */
function deleteMode(properties: Record<string, unknown>): string {
  try {
    return parseOnDelete(properties);
  } catch (err) {
    log('OnDelete is not understood: the fields are reset', { error: describeError(err) });
    return 'RESET';
  }
}

/** The values before the Create, as the physical id carries them; none when it cannot be read strictly. */
function beforeCreate(physicalResourceId: string): Settings {
  const values = parsePhysicalIdBefore(physicalResourceId);
  if (values === undefined) {
    log('the physical id\'s values before the Create cannot be read: none are taken from it', { physicalResourceId });
    return {};
  }
  return values;
}

/**
 * What the fields an Update stops managing go back to, unless:
 * - someone changed it since (it no longer holds what the old properties asked
 *   for: a rollback Update's old properties are the values that just failed, and
 *   were never applied);
 * - another live resource manages it;
 * - this resource has a claim that does not name it: the field was never taken
 *   over (the Update that added it failed, and this is its rollback).
 * A field managed since the Create goes back to its value before the Create, as
 * the physical id carries it. Any other field (taken over by an Update, or
 * managed by a resource whose physical id carries no values: an earlier
 * release) goes back to the value before in the own claim, when the claim's
 * history vouches for it (trustedClaimBefore); it is left as it is when the
 * claim cannot be trusted or records no value before for it: a value nobody can
 * vouch for is never written (IMDSv2 stays as strict as it is).
 * Old values are not validated: in a rollback Update they are the values that just failed.
 */
async function handBack(
  removed: SettingKey[], old: Record<string, unknown>, ownership: Ownership, before: AccountLevel, beforeCreateValues: Settings,
  claimed: () => Promise<ClaimedBefore>,
): Promise<Settings> {
  const own = ownership.own;
  const back: Record<string, unknown> = {};
  const kept: SettingKey[] = [];
  const untrusted: SettingKey[] = [];
  for (const key of removed) {
    if (!holdsRequested(before, old, key) || managedByOthers(ownership, key) || (own && own.fields[key] === undefined)) {
      kept.push(key);
    } else if (beforeCreateValues[key] !== undefined) {
      back[key] = beforeCreateValues[key];
    } else {
      const evidence = await claimed();
      if (evidence.trusted && evidence.before[key] !== undefined) {
        back[key] = evidence.before[key];
      } else {
        untrusted.push(key);
      }
    }
  }
  if (kept.length > 0) {
    log('fields no longer managed and left as they are (changed since, managed by another resource, or never taken over)', { fields: kept });
  }
  if (untrusted.length > 0) {
    log('left as they are: no trusted value before', { fields: untrusted });
  }
  return back as Settings;
}

/**
 * The claim's `before` for the fields this Update manages, other than those the
 * physical id has (managed since the Create):
 * - a field this resource already managed keeps the value its claim recorded,
 *   when the claim's history vouches for it (none otherwise);
 * - a field taken over now: its value in EC2 before this Update's write;
 * - none for a field managed before this resource had a claim (a release
 *   without claims).
 * A field without a value before is left as it is when an Update hands it back.
 */
async function beforeToRecord(
  desired: Settings, old: Record<string, unknown>, ownership: Ownership, current: AccountLevel, beforeCreateValues: Settings,
  claimed: () => Promise<ClaimedBefore>,
): Promise<Settings> {
  const own = ownership.own;
  const managedBeforeClaims = own === undefined ? managedKeys(old) : [];
  const now = effectiveSettings(current);
  const recorded: Record<string, unknown> = {};
  for (const key of Object.keys(desired) as SettingKey[]) {
    if (beforeCreateValues[key] !== undefined) {
      continue;
    }
    if (own?.fields[key] !== undefined) {
      // Only a format 2 claim's values before were recorded by this release, and only its history can vouch for them.
      if (own.before?.[key] !== undefined && own.name === claimName(own)) {
        const evidence = await claimed();
        if (evidence.trusted && evidence.before[key] !== undefined) {
          recorded[key] = evidence.before[key];
        }
      }
    } else if (!managedBeforeClaims.includes(key)) {
      recorded[key] = now[key];
    }
  }
  return recorded as Settings;
}

/**
 * The own claim's values before, when SSM's history says this function wrote
 * its last version (claims.ts claimedBefore); logged otherwise, and a security
 * warning when someone else wrote it.
 */
async function trustedClaimBefore(self: Owner, context: Context, signal: AbortSignal): Promise<ClaimedBefore> {
  const evidence = await claimedBefore(ssm(), self, functionIdentity(context.invokedFunctionArn), signal);
  log('own claim\'s values before', evidence);
  if (!evidence.trusted && evidence.writer) {
    await reportSecurityWarning(CLAIM_PROBLEM_WARNING, CLAIM_PROBLEM_METRIC, { problem: 'other-writer', name: claimName(self), detail: evidence.reason }, signal);
  }
  return evidence;
}

/** Fails, naming the other stack and the field, when `desired` disagrees with another stack's live claim. */
function assertNoConflict(ownership: Ownership, self: Owner, desired: Settings): void {
  const conflicting = conflicts(ownership, self, desired);
  if (conflicting.length > 0) {
    throw new Error(`Another stack manages these instance metadata defaults of this account and Region with other values: ${conflicting.join('; ')}. Nothing was changed. Make the values agree, or remove the setting from one of the stacks.`);
  }
}

/**
 * Applies `target` (see apply), then records the claim on `claimed`. When the
 * claim cannot be recorded, the change is put back: an unrecorded change would
 * be invisible to the other resources' Deletes.
 */
async function applyAndClaim(
  self: Owner, target: Settings, claimed: Settings, options: ClaimOptions, before: AccountLevel, signal: AbortSignal,
): Promise<AccountLevel> {
  const { after, changed } = await apply(target, before, signal);
  try {
    await whileIamPropagates('SSM', () => putClaim(ssm(), self, claimed, options, signal), signal);
  } catch (err) {
    throw await restore(new OwnershipUnknownError(`the claim could not be recorded in SSM Parameter Store (${describeError(err)})`), true, before, changed, signal);
  }
  return after;
}

/**
 * Writes the fields of `target` whose value differs from `before` (nothing at
 * all when none does), reads them back, and on failure puts back what it changed.
 * A write read back is the event's `action` and `found`.
 */
async function apply(target: Settings, before: AccountLevel, signal: AbortSignal, action = 'applied'): Promise<{ after: AccountLevel; changed: Settings }> {
  const changed = changesFrom(before, target);
  if (Object.keys(changed).length === 0) {
    log('the settings are already as requested: no EC2 write', { target });
    return { after: before, changed };
  }
  let modifySucceeded = false;
  try {
    await modifyDefaults(ec2(), changed, signal);
    modifySucceeded = true;
    did = action;
    return { after: found = await verifyApplied(ec2(), changed, signal), changed };
  } catch (err) {
    throw await restore(err, modifySucceeded || !isRejection(err), before, changed, signal);
  }
}

/** Removes this resource's claim. A failure leaves a claim whose resource is gone: stale, ignored by every reader. */
async function removeOwnClaim(self: Owner, signal: AbortSignal): Promise<void> {
  try {
    await whileIamPropagates('SSM', () => deleteClaim(ssm(), claimName(self), signal), signal);
  } catch (err) {
    log('could not remove the claim; it is stale now and ignored by every reader', { error: describeError(err) });
  }
}

function isManagedByPolicy(state: AccountLevel): boolean {
  return state.ManagedBy === MANAGED_BY_DECLARATIVE_POLICY;
}

function skipOrFail(state: AccountLevel, skip: boolean, physicalResourceId: string, operation: string): Outcome {
  const message = state.ManagedExceptionMessage ? ` The policy's message: "${state.ManagedExceptionMessage}".` : '';
  if (skip) {
    did = 'skipped';
    log(`a declarative policy manages the settings; ${operation} skipped (${SKIP_FLAG})`, { managedExceptionMessage: state.ManagedExceptionMessage });
    return { physicalResourceId, data: { ...toData(state, false), ...notChecked() } };
  }
  throw new Error(`An AWS Organizations declarative policy manages the EC2 instance metadata defaults of this account and Region (ManagedBy: ${MANAGED_BY_DECLARATIVE_POLICY}), so ${operation} cannot change them.${message} Set skipIfManagedByDeclarativePolicy to succeed without changes in accounts governed by a policy.`);
}

/** Whether EC2 answered the Modify with a client error: then it changed nothing. */
function isRejection(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500;
}

/**
 * After a failed write: restores the fields it may have changed, and says in the
 * error what happened. A failed Create is followed by a Delete that does nothing
 * (marker id), and a failed Update by a rollback that must start from the state
 * before it.
 */
async function restore(
  err: unknown, mayHaveChanged: boolean, before: AccountLevel, changed: Settings, signal: AbortSignal,
): Promise<Error> {
  const reason = describeError(err);
  if (!mayHaveChanged || Object.keys(changed).length === 0) {
    return new Error(reason);
  }
  if (signal.aborted) {
    return new Error(`${reason}. The settings may be partially applied.`);
  }
  try {
    await modifyDefaults(ec2(), valuesOf(before, Object.keys(changed) as (keyof Settings)[]), signal);
    return new Error(`${reason}. The previous values were restored.`);
  } catch (restoreErr) {
    return new Error(`${reason}. Restoring the previous values failed too (${describeError(restoreErr)}): the settings may be partially applied.`);
  }
}

/** This resource, as its claim names it. */
function ownerOf(event: CloudFormationCustomResourceEvent): Owner {
  return { stackId: event.StackId, stackName: stackNameOf(event.StackId), logicalResourceId: event.LogicalResourceId };
}

/** The stack's account and Region, as the setting is per account and Region: the physical id's first part. */
function stablePhysicalId(event: CloudFormationCustomResourceEvent): string {
  return accountRegionId(event, PHYSICAL_ID_PREFIX);
}
