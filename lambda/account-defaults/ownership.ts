/**
 * Ownership: which other live resources manage which settings of this account
 * and Region, read from the claims (claims.ts) and checked against
 * CloudFormation.
 *
 * A claim is live while its stack exists and still holds that logical resource:
 * `DescribeStackResource` on the claim's StackId (a deleted stack stays
 * describable by its id for 90 days) and LogicalResourceId. It is stale when
 * CloudFormation says the stack or the resource does not exist, or reports the
 * resource DELETE_COMPLETE or DELETE_SKIPPED (retained by a deleted stack).
 * Every other status, DELETE_IN_PROGRESS and the failed ones included, counts as
 * live: when in doubt, a field stays managed (IMDSv2 stays required). Stale
 * claims are removed and never block anything.
 *
 * When ownership cannot be determined (SSM or CloudFormation unreachable after
 * the SDK's retries, access denied after IAM propagation), OwnershipUnknownError
 * is thrown: Create and Update then fail without changing anything, and Delete
 * leaves the settings as they are.
 */
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { Claim, Owner, claimName, deleteClaim, listClaims } from './claims';
import { Settings } from './settings';
import { CLAIMS_PATH, SettingKey } from '../../src/private/properties';
import { describeError, log } from '../shared/log';
import { CLIENT_CONFIG, whileIamPropagates } from '../shared/sdk';

/** Resource statuses of a claim's resource that make the claim stale. */
export const STALE_STATUSES: ReadonlySet<string> = new Set(['DELETE_COMPLETE', 'DELETE_SKIPPED']);

/**
 * How long reading ownership may take, whatever the function's time left: a
 * Delete must still answer SUCCESS (leaving the settings) when SSM or
 * CloudFormation hangs, well before the deadline answers FAILED for it.
 */
export const OWNERSHIP_BUDGET_MS = 12_000;

/** Ownership could not be determined: nothing may be changed on its account of it. */
export class OwnershipUnknownError extends Error {
  public readonly name = 'OwnershipUnknownError';
}

/** The live claims of the other resources (any stack, this one included), and this resource's own claim. */
export interface Ownership {
  readonly others: readonly Claim[];
  /** This resource's claim; undefined when it has none yet (a new resource, or one created by a release without claims). */
  readonly own?: Claim;
}

export function createCloudFormationClient(): CloudFormationClient {
  return new CloudFormationClient(CLIENT_CONFIG);
}

/** Reads every claim but this resource's own, keeps the live ones and removes the stale ones. */
export async function readOwnership(
  ssm: SSMClient, cfn: CloudFormationClient, self: Owner, deadline: AbortSignal,
): Promise<Ownership> {
  // A timer of our own: a signal from AbortSignal.any over AbortSignal.timeout can be
  // garbage-collected before it fires, and then never aborts (seen here on Node.js 20).
  const controller = new AbortController();
  const abort = () => controller.abort();
  deadline.addEventListener('abort', abort, { once: true });
  if (deadline.aborted) {
    abort();
  }
  const timer = setTimeout(abort, OWNERSHIP_BUDGET_MS);
  try {
    return await readWithin(ssm, cfn, self, controller.signal);
  } finally {
    clearTimeout(timer);
    deadline.removeEventListener('abort', abort);
  }
}

async function readWithin(ssm: SSMClient, cfn: CloudFormationClient, self: Owner, signal: AbortSignal): Promise<Ownership> {
  let claims: Claim[];
  try {
    claims = await whileIamPropagates('SSM', () => listClaims(ssm, signal), signal);
  } catch (err) {
    throw new OwnershipUnknownError(`the claims under ${CLAIMS_PATH} in SSM Parameter Store could not be read (${describeError(err)})`);
  }
  const ownName = claimName(self);
  const others: Claim[] = [];
  let first = true;
  for (const claim of claims.filter((c) => c.name !== ownName)) {
    let live: boolean;
    try {
      const check = () => isLive(cfn, claim, signal);
      live = first ? await whileIamPropagates('CloudFormation', check, signal) : await check();
      first = false;
    } catch (err) {
      throw new OwnershipUnknownError(`CloudFormation could not say whether stack ${claim.stackName} (${claim.stackId}) still holds ${claim.logicalResourceId}, which claims ${Object.keys(claim.fields).join(', ')} (${describeError(err)})`);
    }
    if (live) {
      others.push(claim);
    } else {
      await prune(ssm, claim, signal);
    }
  }
  log('ownership', { others: others.map(({ stackName, logicalResourceId, fields }) => ({ stackName, logicalResourceId, fields })) });
  return { others, own: claims.find((c) => c.name === ownName) };
}

/** Whether the claim's stack still holds its resource. */
async function isLive(cfn: CloudFormationClient, claim: Claim, abortSignal: AbortSignal): Promise<boolean> {
  try {
    const output = await cfn.send(new DescribeStackResourceCommand({
      StackName: claim.stackId,
      LogicalResourceId: claim.logicalResourceId,
    }), { abortSignal });
    return !STALE_STATUSES.has(output.StackResourceDetail?.ResourceStatus ?? '');
  } catch (err) {
    // "Stack with id … does not exist" / "Resource … does not exist for stack …".
    if ((err as Error).name === 'ValidationError') {
      log('the claim\'s stack or resource does not exist', { name: claim.name, error: describeError(err) });
      return false;
    }
    throw err;
  }
}

/**
 * The status CloudFormation reports for a resource, undefined when its stack or
 * the resource does not exist. Added for the drift guard (drift.ts), which acts
 * only while its own resource is settled: the liveness of the other claims above
 * keeps its own call and log.
 */
export async function resourceStatus(
  cfn: CloudFormationClient, owner: Pick<Owner, 'stackId' | 'logicalResourceId'>, abortSignal: AbortSignal,
): Promise<string | undefined> {
  try {
    const output = await cfn.send(new DescribeStackResourceCommand({
      StackName: owner.stackId,
      LogicalResourceId: owner.logicalResourceId,
    }), { abortSignal });
    return output.StackResourceDetail?.ResourceStatus ?? '';
  } catch (err) {
    if ((err as Error).name === 'ValidationError') {
      return undefined;
    }
    throw err;
  }
}

/** Removes a stale claim; a failure to do so changes nothing (it stays stale and is tried again next time). */
async function prune(ssm: SSMClient, claim: Claim, signal: AbortSignal): Promise<void> {
  log('removing a stale claim', { name: claim.name, stackId: claim.stackId, logicalResourceId: claim.logicalResourceId });
  try {
    await deleteClaim(ssm, claim.name, signal);
  } catch (err) {
    log('could not remove the stale claim', { name: claim.name, error: describeError(err) });
  }
}

/**
 * The fields `desired` would set to a value other than the one a live claim of
 * another stack manages, described for the failure reason. Claims of the same
 * stack never conflict (a resource renamed or moved inside its stack).
 */
export function conflicts(ownership: Ownership, self: Owner, desired: Settings): string[] {
  const found: string[] = [];
  for (const key of Object.keys(desired) as SettingKey[]) {
    for (const claim of ownership.others) {
      const theirs = claim.fields[key];
      if (claim.stackId !== self.stackId && theirs !== undefined && String(theirs) !== String(desired[key])) {
        found.push(`${key}: stack ${claim.stackName} (${claim.stackId}) manages it as ${JSON.stringify(theirs)}, this resource asks for ${JSON.stringify(desired[key])}`);
      }
    }
  }
  return found;
}

/** Whether another live resource manages the field. */
export function managedByOthers(ownership: Ownership, key: SettingKey): boolean {
  return ownership.others.some((claim) => claim.fields[key] !== undefined);
}
