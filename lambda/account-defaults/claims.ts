/**
 * Claims: the record each resource keeps of the settings it manages, so that a
 * Delete resets only what no other live resource still manages, and a Create or
 * Update that disagrees with another stack fails instead of overwriting it.
 *
 * This module alone owns the claim format and where claims live:
 * - SSM Parameter Store of the same account and Region, under CLAIMS_PATH, one
 *   String parameter (standard tier) per resource, named after a hash of its
 *   StackId and LogicalResourceId. A resource only ever writes its own
 *   parameter: no read-modify-write of anything shared.
 * - The value is JSON: `{"format":1,"stackId","stackName","logicalResourceId","fields","before"}`
 *   with `fields` in EC2 API shape (HttpTokens: "required", HttpPutResponseHopLimit: 2)
 *   and `before` the value each of those fields had when this resource took it over
 *   (what a rollback that drops the field puts back).
 *
 * Reads are tolerant: a later release may add keys or raise `format`; as long as
 * `stackId`, `logicalResourceId` and `fields` keep their meaning the claim is
 * understood, and a value that cannot be understood is reported and left alone.
 */
import * as crypto from 'crypto';
import {
  DeleteParameterCommand,
  GetParametersByPathCommand,
  GetParametersByPathCommandOutput,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { Settings } from './settings';
import { CLAIMS_PATH, SETTING_KEYS } from '../../src/private/properties';
import { log } from '../shared/log';
import { CLIENT_CONFIG } from '../shared/sdk';

/** The claim format this release writes. */
export const CLAIM_FORMAT = 1;

/** Who a claim belongs to: one resource of one stack. */
export interface Owner {
  readonly stackId: string;
  readonly stackName: string;
  readonly logicalResourceId: string;
}

/** A claim as stored: its owner and the fields it manages, with their values. */
export interface Claim extends Owner {
  /** The SSM parameter that holds it. */
  readonly name: string;
  readonly fields: Settings;
  /** For each managed field, its effective value when this resource took it over (empty when not recorded). */
  readonly before: Settings;
}

export function createSsmClient(): SSMClient {
  return new SSMClient(CLIENT_CONFIG);
}

/** The stack name inside a StackId (arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>); the StackId itself if it has none. */
export function stackNameOf(stackId: string): string {
  return stackId.split('/')[1] ?? stackId;
}

/** The parameter name of a resource's claim: stable for its StackId and LogicalResourceId. */
export function claimName(owner: Pick<Owner, 'stackId' | 'logicalResourceId'>): string {
  const hash = crypto.createHash('sha256').update(`${owner.stackId}|${owner.logicalResourceId}`).digest('hex');
  return `${CLAIMS_PATH}/${hash.slice(0, 40)}`;
}

/** The stored value of a claim. */
export function formatClaim(owner: Owner, fields: Settings, before: Settings = {}): string {
  return JSON.stringify({ format: CLAIM_FORMAT, ...owner, fields, before });
}

/** Reads a stored claim; undefined (and a log line) when the value cannot be understood. */
export function parseClaim(name: string, value: string | undefined): Claim | undefined {
  let parsed: any;
  try {
    parsed = JSON.parse(value ?? '');
  } catch {
    parsed = undefined;
  }
  const { stackId, stackName, logicalResourceId, fields, before } = parsed ?? {};
  if (typeof stackId !== 'string' || typeof logicalResourceId !== 'string' || typeof fields !== 'object' || fields === null) {
    log('ignoring a claim that cannot be read', { name });
    return undefined;
  }
  return {
    name,
    stackId,
    stackName: typeof stackName === 'string' ? stackName : stackNameOf(stackId),
    logicalResourceId,
    fields: knownSettings(fields),
    before: knownSettings(before),
  };
}

/** The settings keys of a stored object, unknown keys and empty values dropped. */
function knownSettings(stored: unknown): Settings {
  const known: Record<string, unknown> = {};
  if (typeof stored === 'object' && stored !== null) {
    for (const key of SETTING_KEYS) {
      const value = (stored as Record<string, unknown>)[key];
      if (value !== undefined && value !== null) {
        known[key] = value;
      }
    }
  }
  return known as Settings;
}

/** Every claim recorded in this account and Region (readable ones; see parseClaim). */
export async function listClaims(client: SSMClient, abortSignal: AbortSignal): Promise<Claim[]> {
  const claims: Claim[] = [];
  let nextToken: string | undefined;
  do {
    const page: GetParametersByPathCommandOutput = await client.send(
      new GetParametersByPathCommand({ Path: CLAIMS_PATH, Recursive: false, MaxResults: 10, NextToken: nextToken }),
      { abortSignal },
    );
    for (const parameter of page.Parameters ?? []) {
      const claim = parseClaim(parameter.Name ?? '', parameter.Value);
      if (claim) {
        claims.push(claim);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return claims;
}

/** Records (or replaces) a resource's claim. */
export async function putClaim(client: SSMClient, owner: Owner, fields: Settings, before: Settings, abortSignal: AbortSignal): Promise<void> {
  const name = claimName(owner);
  log('recording the claim', { name, fields, before });
  await client.send(new PutParameterCommand({
    Name: name,
    Value: formatClaim(owner, fields, before),
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
