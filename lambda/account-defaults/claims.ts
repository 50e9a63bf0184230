/**
 * Claims: the record each resource keeps of the settings it manages, so that a
 * Delete resets only what no other live resource still manages, and a Create or
 * Update that disagrees with another stack fails instead of overwriting it.
 *
 * This module alone owns the claim format and where claims live:
 * - SSM Parameter Store of the same account and Region, under CLAIMS_PATH, one
 *   String parameter (standard tier) per resource. Format 2 (this release) is
 *   named `claimParameterName(<stack uuid>, <logical id>)`, so IAM lets each
 *   function write and delete only its own claim; format 1 (the previous
 *   release) was named after a hash of StackId and LogicalResourceId, and is
 *   still read.
 * - The value is JSON: `{"format":2,"stackId","stackName","logicalResourceId","fields"}`,
 *   with `"before"` for the fields an Update took over (their values before it;
 *   the physical id has those of the fields managed since the Create), with
 *   `"retained":true` for a resource with DeletionPolicy Retain, `fields` and
 *   `before` in EC2 API shape (HttpTokens: "required", HttpPutResponseHopLimit: 2).
 *
 * A claim records ownership only, never values to apply: anyone with a common
 * ssm:* grant can write one. It is evidence, checked before it is used: the
 * name must be its owner's (else "foreign"), the StackId a CloudFormation stack
 * ARN and every field valid as a property of the custom resource (else
 * "malformed"). A claim with a problem is reported (security warning and
 * CLAIM_PROBLEM_METRIC, by ownership.ts) and ignored. Format 1's `before`
 * values are no longer read: the values before a Create live in the physical
 * id, which CloudFormation keeps (settings.ts formatPhysicalId).
 *
 * Format 2's `before` (validated like `fields`) is used only with evidence that
 * cannot lie (claimedBefore): SSM's record of who wrote the claim's last version
 * (GetParameterHistory's LastModifiedUser) must be this function's own role.
 */
import * as crypto from 'crypto';
import {
  DeleteParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersByPathCommandOutput,
  ParameterHistory,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { Settings, parseSettings } from './settings';
import { CLAIMS_PATH, DRIFT_ROLE_NAME_ENV, SETTING_KEYS, claimParameterName } from '../../src/private/properties';
import { describeError, log } from '../shared/log';
import { CLIENT_CONFIG, whileIamPropagates } from '../shared/sdk';

/** The claim format this release writes. */
export const CLAIM_FORMAT = 2;

/** Who a claim belongs to: one resource of one stack. */
export interface Owner {
  readonly stackId: string;
  readonly stackName: string;
  readonly logicalResourceId: string;
}

/** A claim as stored and validated: its owner and the fields it manages, with their values. */
export interface Claim extends Owner {
  /** The SSM parameter that holds it. */
  readonly name: string;
  readonly fields: Settings;
  /** Whether its resource has DeletionPolicy Retain: it keeps protecting its fields after its stack lets it go. */
  readonly retained: boolean;
  /**
   * Format 2: the values before an Update took the fields over, when it recorded
   * any (absent otherwise). Not a value to use unless claimedBefore vouches for it.
   */
  readonly before?: Settings;
}

/**
 * What is wrong with a claim that is not trusted: its name is not its owner's,
 * its value does not hold up, or (a resource's own claim) someone other than the
 * function wrote it last.
 */
export type ClaimProblemKind = 'foreign' | 'malformed' | 'other-writer';

export interface ClaimProblem {
  readonly name: string;
  readonly problem: ClaimProblemKind;
  /** What did not hold up (for the log). */
  readonly detail: string;
}

export function createSsmClient(): SSMClient {
  return new SSMClient(CLIENT_CONFIG);
}

/** The stack name inside a StackId (arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>); the StackId itself if it has none. */
export function stackNameOf(stackId: string): string {
  return stackId.split('/')[1] ?? stackId;
}

/** The stack's uuid: the last part of the StackId. */
export function stackUuidOf(stackId: string): string {
  const parts = stackId.split('/');
  return parts[parts.length - 1];
}

/** The parameter name of a resource's claim (format 2): `<CLAIMS_PATH>/<stack uuid>-<logical id>`. */
export function claimName(owner: Pick<Owner, 'stackId' | 'logicalResourceId'>): string {
  return claimParameterName(stackUuidOf(owner.stackId), owner.logicalResourceId);
}

/** The parameter name of a resource's claim in format 1 (the previous release): a hash of StackId and LogicalResourceId. */
export function legacyClaimName(owner: Pick<Owner, 'stackId' | 'logicalResourceId'>): string {
  const hash = crypto.createHash('sha256').update(`${owner.stackId}|${owner.logicalResourceId}`).digest('hex');
  return `${CLAIMS_PATH}/${hash.slice(0, 40)}`;
}

/** Whether `name` is the owner's claim name under either scheme. */
export function isOwnersName(name: string, owner: Pick<Owner, 'stackId' | 'logicalResourceId'>): boolean {
  return name === claimName(owner) || name === legacyClaimName(owner);
}

export interface ClaimOptions {
  /** The resource has DeletionPolicy Retain. */
  readonly retained?: boolean;
  /** The values before an Update took these fields over (left out when empty). */
  readonly before?: Settings;
}

/** The stored value of a claim (format 2). */
export function formatClaim(owner: Owner, fields: Settings, options: ClaimOptions = {}): string {
  return JSON.stringify({
    format: CLAIM_FORMAT,
    ...owner,
    fields,
    ...(hasAny(options.before) ? { before: options.before } : {}),
    ...(options.retained === true ? { retained: true } : {}),
  });
}

function hasAny(settings: Settings | undefined): settings is Settings {
  return settings !== undefined && Object.keys(settings).length > 0;
}

/** A CloudFormation stack ARN. */
const STACK_ARN = /^arn:[a-z-]+:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]*\/[A-Za-z0-9-]+$/;
/** A CloudFormation logical id: alphanumeric. */
const LOGICAL_ID = /^[A-Za-z0-9]{1,255}$/;

/** Reads and validates a stored claim: the claim, or what is wrong with it. */
export function parseClaim(name: string, value: string | undefined): Claim | ClaimProblem {
  const malformed = (detail: string): ClaimProblem => ({ name, problem: 'malformed', detail });
  let parsed: unknown;
  try {
    parsed = JSON.parse(value ?? '');
  } catch {
    return malformed('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return malformed('not a JSON object');
  }
  const { format, stackId, logicalResourceId, fields, retained, before } = parsed as Record<string, unknown>;
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 1) {
    return malformed('format is not a positive integer');
  }
  if (typeof stackId !== 'string' || !STACK_ARN.test(stackId)) {
    return malformed('stackId is not a CloudFormation stack ARN');
  }
  if (typeof logicalResourceId !== 'string' || !LOGICAL_ID.test(logicalResourceId)) {
    return malformed('logicalResourceId is not a logical id');
  }
  if (!isOwnersName(name, { stackId, logicalResourceId })) {
    return { name, problem: 'foreign', detail: `the name is not the claim name of ${logicalResourceId} in ${stackId}` };
  }
  if (retained !== undefined && typeof retained !== 'boolean') {
    return malformed('retained is not a boolean');
  }
  let settings: Settings;
  try {
    settings = parseSettings(knownSettings(fields));
  } catch (err) {
    return malformed(`fields: ${describeError(err)}`);
  }
  // Format 1's values before (written for every field) are not read: the physical id has them now.
  const beforeSettings: Settings = {};
  try {
    for (const [key, raw] of Object.entries(format > 1 ? knownSettings(before) : {})) {
      Object.assign(beforeSettings, parseSettings({ [key]: raw }));
    }
  } catch (err) {
    return malformed(`before: ${describeError(err)}`);
  }
  return {
    name,
    stackId,
    stackName: stackNameOf(stackId),
    logicalResourceId,
    fields: settings,
    retained: retained === true,
    ...(hasAny(beforeSettings) ? { before: beforeSettings } : {}),
  };
}


/** Whether parseClaim's result is a problem. */
export function isProblem(parsed: Claim | ClaimProblem): parsed is ClaimProblem {
  return 'problem' in parsed;
}

/**
 * The settings keys of a stored object. Keys a later release may add are left
 * out; the known ones are validated by parseSettings, as the properties are.
 */
function knownSettings(stored: unknown): Record<string, unknown> {
  const known: Record<string, unknown> = {};
  if (typeof stored === 'object' && stored !== null && !Array.isArray(stored)) {
    for (const key of SETTING_KEYS) {
      const value = (stored as Record<string, unknown>)[key];
      if (value !== undefined) {
        known[key] = value;
      }
    }
  }
  return known;
}

/** The claims in this account and Region: the valid ones, and the problems of the others. */
export interface ClaimList {
  readonly claims: Claim[];
  readonly problems: ClaimProblem[];
}

/** Every claim recorded in this account and Region, validated (see parseClaim). */
export async function listClaims(client: SSMClient, abortSignal: AbortSignal): Promise<ClaimList> {
  const claims: Claim[] = [];
  const problems: ClaimProblem[] = [];
  let nextToken: string | undefined;
  do {
    const page: GetParametersByPathCommandOutput = await client.send(
      new GetParametersByPathCommand({ Path: CLAIMS_PATH, Recursive: false, MaxResults: 10, NextToken: nextToken }),
      { abortSignal },
    );
    for (const parameter of page.Parameters ?? []) {
      const parsed = parseClaim(parameter.Name ?? '', parameter.Value);
      if (isProblem(parsed)) {
        problems.push(parsed);
      } else {
        claims.push(parsed);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return { claims, problems };
}

/** Records (or replaces) a resource's claim (format 2). */
export async function putClaim(client: SSMClient, owner: Owner, fields: Settings, options: ClaimOptions, abortSignal: AbortSignal): Promise<void> {
  const name = claimName(owner);
  log('recording the claim', { name, fields, retained: options.retained === true, ...(hasAny(options.before) ? { before: options.before } : {}) });
  await client.send(new PutParameterCommand({
    Name: name,
    Value: formatClaim(owner, fields, options),
    Type: 'String',
    Tier: 'Standard',
    Overwrite: true,
  }), { abortSignal });
}

/** Removes a claim; one that is already gone is fine. */
export async function deleteClaim(client: SSMClient, name: string, abortSignal: AbortSignal): Promise<void> {
  try {
    await client.send(new DeleteParameterCommand({ Name: name }), { abortSignal });
  } catch (err) {
    if ((err as Error).name !== 'ParameterNotFound') {
      throw err;
    }
  }
}

/**
 * Who the function is, as SSM records the writer of a parameter: its role (the
 * name from DRIFT_ROLE_NAME_ENV, which the construct always sets) and session
 * (Lambda names it after the function), in the partition and account of the
 * invoked function's ARN.
 */
export interface FunctionIdentity {
  readonly partition: string;
  readonly account: string;
  readonly roleName: string;
  readonly functionName: string;
}

/** The function's identity, or undefined when its environment does not say. */
export function functionIdentity(invokedFunctionArn: string | undefined): FunctionIdentity | undefined {
  const [, partition, , , account] = String(invokedFunctionArn).split(':');
  const roleName = process.env[DRIFT_ROLE_NAME_ENV];
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
  return account && roleName && functionName ? { partition, account, roleName, functionName } : undefined;
}

/**
 * Whether SSM's LastModifiedUser names this function. Which form SSM records
 * for a write made with an assumed role is not documented in what we could
 * read (the API reference says "ARN of the AWS user who last changed the
 * parameter"), so both are accepted, each naming this function's own role only:
 * the session ARN `arn:<p>:sts::<account>:assumed-role/<role name>/<function name>`,
 * or the role ARN `arn:<p>:iam::<account>:role/<path>/<role name>` (a role name
 * is unique in its account, whatever its path).
 */
export function isOwnWriter(user: string | undefined, identity: FunctionIdentity): boolean {
  const { partition, account, roleName, functionName } = identity;
  const role = `arn:${partition}:iam::${account}:role/`;
  return user === `arn:${partition}:sts::${account}:assumed-role/${roleName}/${functionName}`
    || (!!user?.startsWith(role) && `/${user.slice(role.length)}`.endsWith(`/${roleName}`));
}

/** The last version of a parameter (every page read, the highest Version kept); ParameterNotFound is thrown when it does not exist. */
export async function lastVersion(client: SSMClient, name: string, abortSignal: AbortSignal): Promise<ParameterHistory | undefined> {
  let last: ParameterHistory | undefined;
  let NextToken: string | undefined;
  do {
    const page = await client.send(new GetParameterHistoryCommand({ Name: name, WithDecryption: false, MaxResults: 50, NextToken }), { abortSignal });
    for (const p of page.Parameters ?? []) {
      if (!last || p.Version! > last.Version!) {
        last = p;
      }
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return last;
}

/** What the own claim's history says about its values before. */
export type ClaimedBefore =
  /** The last version is this function's, and valid: its `before` (possibly empty) can be used. */
  | { readonly trusted: true; readonly before: Settings }
  /** It cannot be used; `writer` when someone else wrote it (a security warning). */
  | { readonly trusted: false; readonly reason: string; readonly writer?: string };

/**
 * The `before` of the resource's own claim (format 2), used only when SSM says
 * this function wrote its last version (isOwnWriter): anyone with
 * ssm:PutParameter can edit a claim, but not SSM's record of who did.
 */
export async function claimedBefore(
  client: SSMClient, owner: Owner, identity: FunctionIdentity | undefined, abortSignal: AbortSignal,
): Promise<ClaimedBefore> {
  const untrusted = (reason: string, writer?: string): ClaimedBefore => ({ trusted: false, reason, writer });
  if (!identity) {
    return untrusted(`no ${DRIFT_ROLE_NAME_ENV}`);
  }
  const name = claimName(owner);
  let last: ParameterHistory | undefined;
  try {
    last = await whileIamPropagates('SSM', () => lastVersion(client, name, abortSignal), abortSignal);
  } catch (err) {
    return untrusted((err as Error).name === 'ParameterNotFound' ? 'no history' : describeError(err));
  }
  if (last === undefined) {
    return untrusted('no history');
  }
  const user = last.LastModifiedUser;
  if (!isOwnWriter(user, identity)) {
    return untrusted(`written by ${user}`, String(user));
  }
  const parsed = parseClaim(name, last.Value);
  return isProblem(parsed) ? untrusted(`${parsed.problem}: ${parsed.detail}`) : { trusted: true, before: parsed.before ?? {} };
}
