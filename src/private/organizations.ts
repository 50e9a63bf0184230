/**
 * Checks of AWS Organizations ids and Region names, shared by the StackSet and
 * the declarative-policy constructs. Tokens are skipped; every error names the
 * construct path, the prop and the value.
 */
import { Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { failer } from './validate';

/** A root id: "r-" and 4 to 32 lowercase letters or digits (Organizations API reference). */
export const ROOT_ID = /^r-[0-9a-z]{4,32}$/;
/** An OU id: "ou-", 4 to 32 lowercase letters or digits, "-", 8 to 32 more. */
export const OU_ID = /^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/;
/** An account id: exactly 12 digits. */
export const ACCOUNT_ID = /^\d{12}$/;
/** A Region name such as us-east-1, eu-central-2, us-gov-west-1 or cn-northwest-1. */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

export interface IdKind {
  readonly name: string;
  readonly pattern: RegExp;
}

export const ROOT: IdKind = { name: 'a root id (r-…)', pattern: ROOT_ID };
export const OU: IdKind = { name: 'an OU id (ou-…-…)', pattern: OU_ID };
export const ACCOUNT: IdKind = { name: 'a 12-digit account id', pattern: ACCOUNT_ID };

/**
 * Checks a list prop: not empty (unless it is a token), every concrete element
 * of one of the given kinds, no duplicates. `emptyHint` ends the empty-list error.
 */
export function validateIdList(scope: IConstruct, prop: string, ids: readonly string[], kinds: readonly IdKind[], emptyHint: string): void {
  const fail = failer(scope);
  if (Token.isUnresolved(ids)) {
    return;
  }
  if (ids.length === 0) {
    fail(`${prop} is empty; ${emptyHint}`);
  }
  const seen = new Set<string>();
  for (const id of ids) {
    if (Token.isUnresolved(id)) {
      continue;
    }
    if (!kinds.some((k) => k.pattern.test(id))) {
      fail(`${prop} must hold only ${kinds.map((k) => k.name).join(' or ')}; got ${JSON.stringify(id)}`);
    }
    if (seen.has(id)) {
      fail(`${prop} lists ${JSON.stringify(id)} more than once`);
    }
    seen.add(id);
  }
}

/** Checks a Regions list: not empty, Region names, no duplicates. */
export function validateRegions(scope: IConstruct, prop: string, regions: readonly string[]): void {
  validateIdList(scope, prop, regions, [{ name: 'Region names such as "us-east-1"', pattern: REGION }],
    'give at least one Region to deploy to (a stack instance is created in each target account for each Region)');
}
