/**
 * The integration test's committed snapshot (test/integ.imds-account-defaults.ts.snapshot/,
 * written by integ-runner) still matches what the integ app synthesizes.
 *
 * integ-runner is not run here (it deploys to AWS); this is the check it does
 * before deploying, without it: the templates, asset manifests, integ manifest
 * and construct tree are compared file by file, after `normalize` below.
 * manifest.json is rewritten by integ-runner's toolkit and is not compared.
 *
 * After a change to the construct (or, before a release, the handler): `npx projen integ:snapshot`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const INTEG_APP = path.join(__dirname, 'integ.imds-account-defaults.ts');
const SNAPSHOT_DIR = `${INTEG_APP}.snapshot`;

/** The context integ-runner synthesizes with, as far as it changes these templates. */
const INTEG_RUNNER_CONTEXT = {
  'aws:cdk:version-reporting': false,
  'aws:cdk:enable-path-metadata': false,
  'aws:cdk:enable-asset-metadata': false,
};

/**
 * What may differ between two synths of the same app, made comparable: the
 * assertion `salt` (a timestamp), the hash suffix of assertion result ids, the
 * hashes of templates in asset manifests (they follow the salt), and the inline
 * handler code with the SHA-256 of it that the function's Description carries
 * (checked by the handler's own suites and test/inline-code.test.ts).
 */
function normalize(file: string, text: string): unknown {
  const json = JSON.parse(text.replace(/(AssertionResults\w*?)[0-9a-f]{32}\b/g, '$1<hash>'));
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.map(walk);
    }
    if (value === null || typeof value !== 'object') {
      return value;
    }
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === 'salt' && typeof v === 'string') {
        out[key] = '<timestamp>';
      } else if (key.toLowerCase() === 'description' && typeof v === 'string' && /code sha256 [0-9a-f]{64}$/.test(v)) {
        // 'Description' in the template, 'description' in tree.json's CloudFormation props.
        out[key] = v.replace(/[0-9a-f]{64}$/, '<sha256 of the inline handler code>');
      } else if (key.toLowerCase() === 'zipfile' && typeof v === 'string') {
        // The handler is checked by its own suites; a handler edit alone must not fail CI here.
        // (integ-runner, which compares the real bytes, redeploys the integ test on such a change.)
        out[key] = '<inline handler code>';
      } else {
        out[key] = walk(v);
      }
    }
    return out;
  };
  const normalized = walk(json) as Record<string, any>;
  if (file.endsWith('.assets.json')) {
    const files: Record<string, any> = {};
    for (const [hash, asset] of Object.entries<any>(normalized.files ?? {})) {
      const isTemplate = String(asset.source?.path).endsWith('.template.json');
      files[isTemplate ? `<template ${asset.source.path}>` : hash] = isTemplate ? { ...asset, destinations: '<template hash>' } : asset;
    }
    normalized.files = files;
  }
  return normalized;
}

function compared(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'manifest.json').sort();
}

describe('integ.imds-account-defaults snapshot', () => {
  let outdir: string;
  const env = { ...process.env };

  beforeAll(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-snapshot-'));
    process.env.CDK_OUTDIR = outdir;
    process.env.CDK_CONTEXT_JSON = JSON.stringify(INTEG_RUNNER_CONTEXT);
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(INTEG_APP);
    });
  });
  afterAll(() => {
    process.env = env;
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('the snapshot is committed', () => {
    expect(fs.existsSync(path.join(SNAPSHOT_DIR, 'integ.json'))).toBe(true);
  });

  test('the same files are synthesized (templates, asset manifests, integ manifest, asset directories)', () => {
    const listing = (dir: string) => fs.readdirSync(dir).filter((f) => f !== 'manifest.json' && f !== 'cdk.out').sort();
    expect(listing(outdir)).toEqual(listing(SNAPSHOT_DIR));
  });

  test.each(compared(SNAPSHOT_DIR))('%s matches the snapshot (run `npx projen integ:snapshot` after a change)', (file) => {
    const actual = normalize(file, fs.readFileSync(path.join(outdir, file), 'utf8'));
    const expected = normalize(file, fs.readFileSync(path.join(SNAPSHOT_DIR, file), 'utf8'));
    expect(actual).toEqual(expected);
  });

  test('the construct under test has no file assets; only the assertion provider has one', () => {
    const assets = JSON.parse(fs.readFileSync(path.join(SNAPSHOT_DIR, 'ImdsAccountDefaultsInteg.assets.json'), 'utf8'));
    const files = Object.values(assets.files) as Array<{ source: { path: string } }>;
    expect(files.map((f) => f.source.path)).toEqual(['ImdsAccountDefaultsInteg.template.json']);
  });

  test('the assertion reads the settings back with GetInstanceMetadataDefaults', () => {
    const template = fs.readFileSync(path.join(SNAPSHOT_DIR, 'ImdsAccountDefaultsTestDefaultTestDeployAssert5C1B4A4A.template.json'), 'utf8');
    expect(template).toContain('"api": "getInstanceMetadataDefaults"');
    expect(template).toContain('ec2:GetInstanceMetadataDefaults');
  });
});
