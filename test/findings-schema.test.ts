/**
 * findings-schema.json (the package's root): the documented schema of every
 * finding the functions put as an EventBridge event. Checked here:
 * - it is a valid draft-07 schema (ajv, strict), names version 1, has a
 *   definition per detail-type and for Settings, and covers exactly
 *   ImdsFindingType's detail types;
 * - one example event per detail-type (test/fixtures/findings/<type>.json)
 *   matches it; FIXTURES says which were captured from a function's run and
 *   which were written from the contract;
 * - every field the schema requires, at any depth, is required: removing it
 *   from the example fails (the list comes from the schema itself, so a field
 *   made required later gets its negative test without anyone writing it);
 * - wrong values, unknown fields (the objects are closed), oversized lists and
 *   strings, the wrong source, an event whose account is not its detail's, and
 *   anything that looks like a ResponseURL, a raw CloudFormation event or
 *   credentials all fail;
 * - the README's example events match it, once the README documents them.
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { ImdsFindingType, ImdsFindings } from '../src/findings';
import { FINDINGS_DEFINITIONS, FINDINGS_SCHEMA_FILE, expectMatchesFindingsSchema, findingsSchemaErrors, validateDetail } from './support/findings-schema';

const schema = JSON.parse(fs.readFileSync(FINDINGS_SCHEMA_FILE, 'utf8'));
const FIXTURES_DIR = path.join(__dirname, 'fixtures', 'findings');

/**
 * The example of each detail-type, and where it came from: `contract` (written
 * from the design's event contract) or `captured` (a function's event, as an
 * end-to-end run delivered it).
 */
const FIXTURES: Record<string, { readonly file: string; readonly origin: 'contract' | 'captured' }> = {
  'IMDS Defaults Changed': { file: 'defaults-changed.json', origin: 'captured' },
  'IMDS Drift Detected': { file: 'drift-detected.json', origin: 'captured' },
  'IMDS Readiness Report': { file: 'readiness-report.json', origin: 'captured' },
  // Captured; one entry added to its (empty) failures, as the e2e suite's failed switches give it, so every required field is there.
  'IMDS Instance Upgrade Run': { file: 'instance-upgrade-run.json', origin: 'captured' },
  'IMDS Rejected Calls': { file: 'rejected-calls.json', origin: 'captured' },
  'IMDS Security Warning': { file: 'security-warning.json', origin: 'captured' },
};

function fixture(detailType: string): any {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, FIXTURES[detailType].file), 'utf8'));
}

/** A copy of `value` with `mutate` applied. */
function changed(value: any, mutate: (copy: any) => void): any {
  const copy = JSON.parse(JSON.stringify(value));
  mutate(copy);
  return copy;
}

/**
 * Every required field the schema states for a detail-type, as paths into the
 * event (`detail.resource.function`, `detail.drifts.0.field`): the `required`
 * lists found walking its definition (through $ref, allOf, properties and
 * items; an array's items at index 0).
 */
function requiredPaths(definition: string): string[][] {
  const paths: string[][] = [];
  const walk = (node: any, at: string[], seen: Set<string>): void => {
    if (node.$ref) {
      const name = String(node.$ref).replace('#/definitions/', '');
      if (!seen.has(name)) {
        walk(schema.definitions[name], at, new Set([...seen, name]));
      }
      return;
    }
    for (const sub of node.allOf ?? []) {
      walk(sub, at, seen);
    }
    for (const key of node.required ?? []) {
      paths.push([...at, key]);
    }
    for (const [key, sub] of Object.entries(node.properties ?? {})) {
      walk(sub, [...at, key], seen);
    }
    if (node.items) {
      walk(node.items, [...at, '0'], seen);
    }
  };
  walk({ $ref: `#/definitions/${definition}` }, ['detail'], new Set());
  // Each once (FoundSettings' keys appear through both its allOf parts).
  return [...new Map(paths.map((p) => [p.join('.'), p])).values()];
}

function has(value: any, at: readonly string[]): boolean {
  return at.reduce<{ ok: boolean; v: any }>((acc, key) => (acc.ok && acc.v !== null && typeof acc.v === 'object' && key in acc.v
    ? { ok: true, v: acc.v[key] } : { ok: false, v: undefined }), { ok: true, v: value }).ok;
}

function without(value: any, at: readonly string[]): any {
  return changed(value, (copy) => {
    const parent = at.slice(0, -1).reduce((v, key) => v[key], copy);
    delete parent[at[at.length - 1]];
  });
}

describe('the schema file', () => {
  test('is a draft-07 schema that ajv compiles in strict mode, naming version 1', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toMatch(/findings-schema\/1\.json$/);
    const ajv = new Ajv({ strict: true, allErrors: true });
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
    expect(schema.definitions.Version).toEqual(expect.objectContaining({ const: ImdsFindings.SCHEMA_VERSION }));
    expect(schema.properties.source).toEqual({ const: ImdsFindings.SOURCE });
  });

  test('has one definition per detail-type, for exactly ImdsFindingType\'s values, and one for Settings', () => {
    const types = Object.values(ImdsFindingType);
    expect(Object.keys(FINDINGS_DEFINITIONS).sort()).toEqual([...types].sort());
    expect(schema.properties['detail-type'].enum.sort()).toEqual([...types].sort());
    // The detail-type -> definition map of the schema (its allOf) is the one the tests use.
    const map = Object.fromEntries(schema.allOf.map((c: any) => [c.if.properties['detail-type'].const, c.then.properties.detail.$ref.replace('#/definitions/', '')]));
    expect(map).toEqual(FINDINGS_DEFINITIONS);
    for (const name of [...Object.values(FINDINGS_DEFINITIONS), 'Settings', 'FoundSettings']) {
      expect(schema.definitions[name]).toBeDefined();
    }
    expect(Object.keys(FIXTURES).sort()).toEqual([...types].sort());
  });
});

describe.each(Object.keys(FIXTURES))('%s', (detailType) => {
  const event = fixture(detailType);
  const definition = FINDINGS_DEFINITIONS[detailType];

  test(`the example (${FIXTURES[detailType].origin}) matches, as an event, as a PutEvents entry and as a detail`, () => {
    expect(event['detail-type']).toBe(detailType);
    expect(findingsSchemaErrors(event)).toEqual([]);
    expectMatchesFindingsSchema(event);
    expectMatchesFindingsSchema({ Source: event.source, DetailType: detailType, Detail: JSON.stringify(event.detail) });
    expect(validateDetail(detailType, event.detail)).toEqual([]);
  });

  const required = requiredPaths(definition);

  test('the example holds every field the schema requires (so each has a negative test below)', () => {
    expect(required.length).toBeGreaterThan(5);
    expect(required.filter((at) => !has(event, at)).map((at) => at.join('.'))).toEqual([]);
  });

  test.each(required.map((at) => [at.join('.'), at] as const))('without %s it fails', (_name, at) => {
    const problems = findingsSchemaErrors(without(event, at));
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining(`must have required property '${at[at.length - 1]}'`)]));
  });

  test('an unknown field, in the detail or in a nested object, fails (the objects are closed)', () => {
    expect(findingsSchemaErrors(changed(event, (e) => {
      e.detail.extra = 1;
    }))).toEqual([expect.stringContaining('must NOT have additional properties')]);
    expect(findingsSchemaErrors(changed(event, (e) => {
      e.detail.resource.extra = 1;
    }))).toEqual([expect.stringContaining('/detail/resource must NOT have additional properties')]);
  });

  test('the common fields are checked: version, account, Region, resource, truncated', () => {
    const wrong: Array<[string, (e: any) => void, string]> = [
      ['version 2', (e) => { e.detail.version = '2'; }, '/detail/version must be equal to constant'],
      ['version as a number', (e) => { e.detail.version = 1; }, '/detail/version must be equal to constant'],
      ['an empty account', (e) => { e.detail.account = ''; }, '/detail/account must match pattern'],
      ['an empty Region', (e) => { e.detail.region = ''; }, '/detail/region must match pattern'],
      ['an empty function name', (e) => { e.detail.resource.function = ''; }, '/detail/resource/function must NOT have fewer than 1 characters'],
      ['truncated false', (e) => { e.detail.truncated = false; }, '/detail/truncated must be equal to constant'],
      ['a StackId over 1,025 characters', (e) => { e.detail.resource.stackId = 'x'.repeat(1026); }, '/detail/resource/stackId must NOT have more than 1025 characters'],
    ];
    for (const [, mutate, message] of wrong) {
      expect(findingsSchemaErrors(changed(event, mutate))).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
    }
    expect(findingsSchemaErrors(changed(event, (e) => { e.detail.truncated = true; }))).toEqual([]);
  });

  test('the envelope is checked: the source, the detail-type, the detail, and the account (the sender\'s is the detail\'s)', () => {
    expect(findingsSchemaErrors(changed(event, (e) => { e.source = 'someone.else'; }))).toEqual([expect.stringContaining('/source must be equal to constant')]);
    expect(findingsSchemaErrors(changed(event, (e) => { e['detail-type'] = 'IMDS Something Else'; }))).toEqual([expect.stringContaining('/detail-type must be equal to one of the allowed values')]);
    expect(findingsSchemaErrors(changed(event, (e) => { delete e.detail; }))).toEqual(expect.arrayContaining([expect.stringContaining('must have required property \'detail\'')]));
    expect(findingsSchemaErrors(changed(event, (e) => { e.account = '999999999999'; }))).toEqual([expect.stringContaining('is not the detail\'s')]);
  });

  test('nothing that looks like a ResponseURL, a raw CloudFormation event or credentials passes, wherever it is', () => {
    const forbidden: Array<(e: any) => void> = [
      (e) => { e.detail.resource.stackId = 'https://bucket.s3.amazonaws.com/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc'; },
      (e) => { e.detail.extra = { ResponseURL: 'https://x' }; },
      (e) => { e.resources = ['local-emulator-session-token']; },
    ];
    for (const mutate of forbidden) {
      expect(findingsSchemaErrors(changed(event, mutate))).toEqual(expect.arrayContaining([expect.stringMatching(/no ResponseURL, raw CloudFormation event or credentials/)]));
    }
    expect(() => expectMatchesFindingsSchema(changed(event, forbidden[1]))).toThrow(/does not match findings-schema\.json/);
  });

  test('lists hold at most 25 items (the full counts are in `counts`)', () => {
    const lists = Object.entries(schema.definitions[definition].properties).filter(([, v]: [string, any]) => v.type === 'array').map(([k]) => k);
    // The example shows each list the detail-type has (Defaults Changed has none).
    expect(Object.entries(event.detail).filter(([, v]) => Array.isArray(v)).map(([k]) => k).sort()).toEqual([...lists].sort());
    for (const key of lists) {
      const over = changed(event, (e) => {
        e.detail[key] = Array.from({ length: 26 }, () => e.detail[key][0]);
      });
      expect(findingsSchemaErrors(over)).toEqual([expect.stringContaining(`/detail/${key} must NOT have more than 25 items`)]);
    }
  });
});

describe('each detail-type\'s own values', () => {
  const check = (detailType: string, mutate: (d: any) => void) => validateDetail(detailType, changed(fixture(detailType).detail, mutate));

  test('Settings: EC2\'s own shape and values (a field EC2 shows no value for is absent); open to fields EC2 adds', () => {
    expect(check('IMDS Defaults Changed', (d) => { d.expected.HttpTokens = 'REQUIRED'; })).toEqual([expect.stringContaining('/expected/HttpTokens must be equal to one of the allowed values')]);
    for (const hop of [0, 65, 2.5, '2']) {
      expect(check('IMDS Defaults Changed', (d) => { d.expected.HttpPutResponseHopLimit = hop; })).not.toEqual([]);
    }
    for (const hop of [-1, 1, 64]) {
      expect(check('IMDS Defaults Changed', (d) => { d.expected.HttpPutResponseHopLimit = hop; })).toEqual([]);
    }
    expect(check('IMDS Defaults Changed', (d) => { d.expected = { InstanceMetadataTags: 'enabled' }; })).toEqual([]);
    expect(check('IMDS Defaults Changed', (d) => { d.found.ManagedBy = 'organization'; })).toEqual([expect.stringContaining('/found/ManagedBy must be equal to one of the allowed values')]);
    expect(check('IMDS Drift Detected', (d) => { d.found.HttpTokensEnforced = 'on'; })).toEqual([expect.stringContaining('/found/HttpTokensEnforced must be equal to one of the allowed values')]);
    // Nothing is required inside (EC2 leaves out what has no value); a field EC2 adds later passes.
    expect(check('IMDS Defaults Changed', (d) => { d.previous = {}; d.found = { ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team', NewField: 1 }; })).toEqual([]);
    // previous, expected, reason and readinessCheck are optional.
    expect(check('IMDS Defaults Changed', (d) => { delete d.previous; delete d.expected; delete d.reason; delete d.readinessCheck; })).toEqual([]);
  });

  test('Defaults Changed: action (and found) only when the event succeeded, and then action always', () => {
    expect(check('IMDS Defaults Changed', (d) => { delete d.action; })).toEqual([expect.stringContaining('must have required property \'action\'')]);
    expect(check('IMDS Defaults Changed', (d) => { delete d.found; })).toEqual([]);
    expect(check('IMDS Defaults Changed', (d) => { d.outcome = 'FAILED'; d.reason = 'x'; })).toEqual(expect.arrayContaining([
      expect.stringContaining('/action boolean schema is false'), expect.stringContaining('/found boolean schema is false'),
    ]));
    expect(check('IMDS Defaults Changed', (d) => { d.outcome = 'FAILED'; d.reason = 'x'; delete d.action; delete d.found; })).toEqual([]);
  });

  test('enumerations of every detail-type refuse other values', () => {
    const cases: Array<[string, (d: any) => void]> = [
      ['IMDS Defaults Changed', (d) => { d.requestType = 'Rollback'; }],
      ['IMDS Defaults Changed', (d) => { d.outcome = 'OK'; }],
      ['IMDS Defaults Changed', (d) => { d.action = 'changed'; }],
      ['IMDS Defaults Changed', (d) => { d.readinessCheck.ReadinessCheckResult = 'NOT_CHECKED'; }],
      ['IMDS Defaults Changed', (d) => { d.readinessCheck.InstancesAllowingImdsv1Count = 0; }],
      ['IMDS Defaults Changed', (d) => { d.readinessCheck.LaunchTemplatesAllowingImdsv1Count = '1+'; }],
      ['IMDS Defaults Changed', (d) => { d.readinessCheck.Other = '1'; }],
      ['IMDS Drift Detected', (d) => { d.trigger = 'deploy'; }],
      ['IMDS Drift Detected', (d) => { d.mode = 'REPAIR'; }],
      ['IMDS Drift Detected', (d) => { d.drifts[0].field = 'httpTokens'; }],
      ['IMDS Drift Detected', (d) => { d.drifts[0].action = 'fixed'; }],
      ['IMDS Drift Detected', (d) => { d.drifts[0].action = 'skipped'; }],
      ['IMDS Drift Detected', (d) => { d.drifts[0].other = 1; }],
      ['IMDS Drift Detected', (d) => { d.drifts[0].expected = true; }],
      ['IMDS Drift Detected', (d) => { d.counts.drifts = 0; }],
      ['IMDS Readiness Report', (d) => { d.origin = 'report'; }],
      ['IMDS Readiness Report', (d) => { d.result = 'NOT_READY'; }],
      ['IMDS Readiness Report', (d) => { d.counts.InstancesAllowingImdsv1Count = -1; }],
      ['IMDS Readiness Report', (d) => { d.counts.other = 1; }],
      ['IMDS Readiness Report', (d) => { d.instances = ['not-an-instance']; }],
      ['IMDS Instance Upgrade Run', (d) => { d.mode = 'DRY_RUN'; }],
      ['IMDS Instance Upgrade Run', (d) => { d.expected.HttpTokens = 'optional'; }],
      ['IMDS Instance Upgrade Run', (d) => { d.counts.Upgraded = 1.5; }],
      ['IMDS Instance Upgrade Run', (d) => { d.failures[0].instanceId = 'i-xyz'; }],
      ['IMDS Instance Upgrade Run', (d) => { d.failures[0].action = 'DescribeInstances'; }],
      ['IMDS Instance Upgrade Run', (d) => { d.counts.Switched = 1; }],
      ['IMDS Rejected Calls', (d) => { d.action = 'RESTORE'; }],
      ['IMDS Rejected Calls', (d) => { d.instances[0].action = 'switched'; }],
      ['IMDS Security Warning', (d) => { d.count = 0; }],
      ['IMDS Security Warning', (d) => { d.metric = 'Unconfirmed Events'; }],
      ['IMDS Security Warning', (d) => { d.entries = ['a line']; }],
    ];
    for (const [detailType, mutate] of cases) {
      const which = { detailType, mutate: mutate.toString() };
      expect({ ...which, refused: check(detailType, mutate).length > 0 }).toEqual({ ...which, refused: true });
    }
  });

  test('what stays open: a security warning\'s entries may carry more fields; counts a run does not have, and empty sample lists, are left out', () => {
    expect(check('IMDS Security Warning', (d) => { d.entries[0].more = { any: 'thing' }; })).toEqual([]);
    expect(check('IMDS Instance Upgrade Run', (d) => { d.counts = {}; d.stoppedEarly = 'the run\'s time ran out'; })).toEqual([]);
    // A report always has its four counts; its sample lists only when it found something.
    expect(check('IMDS Readiness Report', (d) => { delete d.launchTemplates; delete d.instances; })).toEqual([]);
  });

  test('an unknown detail-type has no definition', () => {
    expect(validateDetail('IMDS Nothing', {})).toEqual(['no such detail-type: IMDS Nothing']);
  });
});

/** The README's example events: every ```json block with a cdk-imds-account-defaults `detail-type`. */
const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const readmeExamples = [...README.matchAll(/```json\n([\s\S]*?)\n```/g)]
  .map((m) => m[1])
  .filter((block) => block.includes('"detail-type"') && block.includes('"IMDS '))
  .map((block) => JSON.parse(block));

// Until the README documents the findings (its "Findings as events" section) this is skipped, visibly.
(readmeExamples.length > 0 ? test : test.skip)('the README shows one example per detail-type, each matching the schema', () => {
  expect(readmeExamples.map((e) => e['detail-type']).sort()).toEqual(Object.values(ImdsFindingType).sort());
  for (const example of readmeExamples) {
    expectMatchesFindingsSchema(example);
  }
});
