/**
 * The check every test applies to the findings the functions put: the event
 * (as EventBridge delivers it, or a PutEvents entry's fields) against
 * findings-schema.json at the package's root (JSON Schema draft-07, validated
 * with ajv), plus what a schema cannot say:
 * - the event's `account` (the sender's, as EventBridge sets it) is the detail's;
 * - nothing in it looks like a ResponseURL, a signature, the raw CloudFormation
 *   event or credentials (the design's "never put" list).
 *
 *   expectMatchesFindingsSchema(w.events()[0]);              // a delivered event
 *   expect(findingsSchemaErrors(event)).toEqual([]);          // the same, as a list of problems
 *   validateDetail('IMDS Drift Detected', detail);            // only a detail
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { ValidateFunction } from 'ajv';

/** The schema file shipped with the package. */
export const FINDINGS_SCHEMA_FILE = path.join(__dirname, '..', '..', 'findings-schema.json');

/** The definition (in findings-schema.json) of each detail-type's detail. */
export const FINDINGS_DEFINITIONS: Readonly<Record<string, string>> = {
  'IMDS Defaults Changed': 'DefaultsChanged',
  'IMDS Drift Detected': 'DriftDetected',
  'IMDS Readiness Report': 'ReadinessReport',
  'IMDS Instance Upgrade Run': 'InstanceUpgradeRun',
  'IMDS Rejected Calls': 'RejectedCalls',
  'IMDS Security Warning': 'SecurityWarning',
};

/** Text that must never be in a finding: a presigned URL's signature or credential, the test credentials' secrets. */
const FORBIDDEN_TEXT = /X-Amz-Signature=|X-Amz-Credential=|X-Amz-Security-Token=|local-emulator-secret|local-emulator-session-token/i;
/** Keys that must never be in a finding: those of a raw CloudFormation event, or of the environment's credentials. */
const FORBIDDEN_KEYS = new Set(['ResponseURL', 'ServiceToken', 'ResourceProperties', 'OldResourceProperties', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID']);

/** Every object key in a JSON value, depth first. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.flatMap(keysOf);
  }
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
  }
  return [];
}

let compiled: { ajv: Ajv; event: ValidateFunction; id: string } | undefined;

function schema(): { ajv: Ajv; event: ValidateFunction; id: string } {
  if (!compiled) {
    const json = JSON.parse(fs.readFileSync(FINDINGS_SCHEMA_FILE, 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: true });
    compiled = { ajv, event: ajv.compile(json), id: json.$id };
  }
  return compiled;
}

function messages(validate: ValidateFunction): string[] {
  // ajv also reports the `if` whose `then` failed: noise beside the errors that say what is wrong.
  return (validate.errors ?? []).filter((e) => e.keyword !== 'if').map((e) => `${e.instancePath || '/'} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/**
 * The problems of an event (empty when it matches): `{ source, 'detail-type',
 * detail, ... }` as EventBridge delivers it (or with `detail` as a JSON string, as
 * a PutEvents entry carries it, given as `{ Source, DetailType, Detail }`).
 */
export function findingsSchemaErrors(event: unknown): string[] {
  const e = normalize(event);
  const { event: validate } = schema();
  const problems = validate(e) ? [] : messages(validate);
  const detail = (e as any)?.detail;
  if (typeof (e as any)?.account === 'string' && detail && typeof detail === 'object' && (e as any).account !== detail.account) {
    problems.push(`/account the event's account (${(e as any).account}, the sender's) is not the detail's (${detail.account})`);
  }
  const forbidden = FORBIDDEN_TEXT.exec(JSON.stringify(e))?.[0] ?? keysOf(detail).find((k) => FORBIDDEN_KEYS.has(k));
  if (forbidden) {
    problems.push(`the event holds ${forbidden}: no ResponseURL, raw CloudFormation event or credentials may be put`);
  }
  return problems;
}

/** Fails (a jest expectation) unless the event matches findings-schema.json; the message lists each problem. */
export function expectMatchesFindingsSchema(event: unknown): void {
  const problems = findingsSchemaErrors(event);
  if (problems.length > 0) {
    throw new Error(`the event does not match findings-schema.json:\n  ${problems.join('\n  ')}\n--- event ---\n${JSON.stringify(event, undefined, 2)}`);
  }
}

/** The problems of one detail against its detail-type's definition (empty when it matches). */
export function validateDetail(detailType: string, detail: unknown): string[] {
  const name = FINDINGS_DEFINITIONS[detailType];
  if (!name) {
    return [`no such detail-type: ${detailType}`];
  }
  const { ajv, id } = schema();
  const validate = ajv.getSchema(`${id}#/definitions/${name}`)!;
  return validate(detail) ? [] : messages(validate);
}

/** A PutEvents entry ({ Source, DetailType, Detail: string }) as the event it becomes; a delivered event as it is. */
function normalize(event: unknown): unknown {
  const e = event as any;
  if (e && typeof e === 'object' && 'DetailType' in e) {
    return { 'source': e.Source, 'detail-type': e.DetailType, 'detail': typeof e.Detail === 'string' ? JSON.parse(e.Detail) : e.Detail };
  }
  return event;
}
