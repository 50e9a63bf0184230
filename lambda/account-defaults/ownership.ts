/**
 * Ownership: which other live resources manage which settings of this account
 * and Region, read from the claims (claims.ts) and checked against
 * CloudFormation, the source that cannot lie about a stack.
 *
 * A claim is live while its stack still holds that logical resource, of type
 * Custom::ImdsAccountDefaults: `DescribeStackResource` on the claim's StackId
 * (a deleted stack stays describable by its id for 90 days) and
 * LogicalResourceId. Its resource is gone when CloudFormation says the stack or
 * the resource does not exist, or reports the resource DELETE_COMPLETE or
 * DELETE_SKIPPED (retained by a deleted stack). Every other status,
 * DELETE_IN_PROGRESS and the failed ones included, counts as live: when in
 * doubt, a field stays managed (IMDSv2 stays required).
 *
 * A claim whose resource is gone never blocks anything, and is left in place (a
 * function may delete only its own claim; the README says how to remove
 * leftovers). A retained claim whose resource is gone still protects its fields
 * from another resource's Delete while EC2 holds its value (`retained`).
 * A claim naming a resource of another type is foreign; foreign and malformed
 * claims are reported (security warning `claim-problem` and
 * CLAIM_PROBLEM_METRIC) and ignored.
 *
 * When ownership cannot be determined (SSM or CloudFormation unreachable after
 * the SDK's retries, access denied after IAM propagation), OwnershipUnknownError
 * is thrown: Create and Update then fail without changing anything, and Delete
 * leaves the settings as they are.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { Claim, ClaimProblem, Owner, claimName, isOwnersName, legacyClaimName, listClaims } from './claims';
import { Settings } from './settings';
import { CLAIMS_PATH, CLAIM_PROBLEM_METRIC, RESOURCE_TYPE, SettingKey } from '../../src/private/properties';
import { createCloudFormationClient, describeResource } from '../shared/cloudformation';
import { describeError, log } from '../shared/log';
import { whileIamPropagates } from '../shared/sdk';
import { reportSecurityWarnings } from '../shared/security-warning';

export { createCloudFormationClient };

/** Resource statuses of a claim's resource that mean the resource is gone. */
export const STALE_STATUSES: ReadonlySet<string> = new Set(['DELETE_COMPLETE', 'DELETE_SKIPPED']);

/** The `warning` of the security warning logged for a claim that is not trusted. */
export const CLAIM_PROBLEM_WARNING = 'claim-problem';

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

/** What the claims say, checked against CloudFormation. */
export interface Ownership {
  /** The live claims of the other resources (any stack, this one included). */
  readonly others: readonly Claim[];
  /** This resource's claim (either format); undefined when it has none yet (a new resource, or one created by a release without claims). */
  readonly own?: Claim;
  /** The retained claims whose resource is gone: they protect their fields while EC2 holds their values. */
  readonly retainedOrphans: readonly Claim[];
  /** The claims that were not trusted (reported, ignored). */
  readonly problems: readonly ClaimProblem[];
}

/** Reads every claim, keeps the live ones of other resources, and reports the ones that are not trusted. */
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
  let ownership: Ownership;
  try {
    ownership = await readWithin(ssm, cfn, self, controller.signal);
  } finally {
    clearTimeout(timer);
    deadline.removeEventListener('abort', abort);
  }
  // One report for all of them: many junk parameters under the claims path cost one metric put.
  await reportSecurityWarnings(CLAIM_PROBLEM_WARNING, CLAIM_PROBLEM_METRIC,
    ownership.problems.map(({ problem, name, detail }) => ({ problem, name, detail })), deadline);
  return ownership;
}

async function readWithin(ssm: SSMClient, cfn: CloudFormationClient, self: Owner, signal: AbortSignal): Promise<Ownership> {
  let listed: { claims: Claim[]; problems: ClaimProblem[] };
  try {
    listed = await whileIamPropagates('SSM', () => listClaims(ssm, signal), signal);
  } catch (err) {
    throw new OwnershipUnknownError(`the claims under ${CLAIMS_PATH} in SSM Parameter Store could not be read (${describeError(err)})`);
  }
  const problems = [...listed.problems];
  const others: Claim[] = [];
  const retainedOrphans: Claim[] = [];
  let first = true;
  for (const claim of listed.claims.filter((c) => !isOwnersName(c.name, self))) {
    let status: string;
    try {
      const check = () => liveness(cfn, claim, signal);
      status = first ? await whileIamPropagates('CloudFormation', check, signal) : await check();
      first = false;
    } catch (err) {
      throw new OwnershipUnknownError(`CloudFormation could not say whether stack ${claim.stackName} (${claim.stackId}) still holds ${claim.logicalResourceId}, which claims ${Object.keys(claim.fields).join(', ')} (${describeError(err)})`);
    }
    if (status === 'live') {
      others.push(claim);
    } else if (status === 'foreign') {
      problems.push({ name: claim.name, problem: 'foreign', detail: `the resource ${claim.logicalResourceId} of ${claim.stackId} is not a ${RESOURCE_TYPE}` });
    } else if (claim.retained) {
      retainedOrphans.push(claim);
    }
  }
  // The own claim: the format 2 one when both exist (the format 1 claim stays behind after the upgrade).
  const own = listed.claims.find((c) => c.name === claimName(self)) ?? listed.claims.find((c) => c.name === legacyClaimName(self));
  const brief = (claims: Claim[]) => claims.map(({ stackName, logicalResourceId, fields }) => ({ stackName, logicalResourceId, fields }));
  log('ownership', { others: brief(others), ...(retainedOrphans.length > 0 ? { retainedOrphans: brief(retainedOrphans) } : {}) });
  return { others, own, retainedOrphans, problems };
}

/** Whether the claim's stack still holds its resource ('live'), no longer does ('gone'), or holds another kind of resource ('foreign'). */
async function liveness(cfn: CloudFormationClient, claim: Claim, abortSignal: AbortSignal): Promise<'live' | 'gone' | 'foreign'> {
  const resource = await describeResource(cfn, claim.stackId, claim.logicalResourceId, abortSignal);
  if (resource === undefined) {
    // "Stack with id … does not exist" / "Resource … does not exist for stack …".
    log('the claim\'s stack or resource does not exist', { name: claim.name });
    return 'gone';
  }
  if (resource.resourceType !== RESOURCE_TYPE) {
    return 'foreign';
  }
  return STALE_STATUSES.has(resource.resourceStatus) ? 'gone' : 'live';
}

/**
 * The status CloudFormation reports for a resource, undefined when its stack or
 * the resource does not exist. Used by the drift guard (drift.ts), which acts
 * only while its own resource is settled.
 */
export async function resourceStatus(
  cfn: CloudFormationClient, owner: Pick<Owner, 'stackId' | 'logicalResourceId'>, abortSignal: AbortSignal,
): Promise<string | undefined> {
  return (await describeResource(cfn, owner.stackId, owner.logicalResourceId, abortSignal))?.resourceStatus;
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

/**
 * Whether a retained claim whose resource is gone manages the field and EC2
 * still holds its value (`current`): then no other resource's Delete changes it.
 */
export function protectedByRetained(ownership: Ownership, key: SettingKey, current: Settings): boolean {
  return ownership.retainedOrphans.some((claim) => claim.fields[key] !== undefined && String(claim.fields[key]) === String(current[key]));
}
