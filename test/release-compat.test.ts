// The API compatibility check (`npx projen compat`, projenrc/release-compat.js), run after
// every compile: "no release yet" passes; a removed member fails, unless .compatignore
// acknowledges it; a release that cannot be fetched fails instead of passing unchecked.
// It compares the assembly just compiled (.jsii) with copies of it, so it needs a compile.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const SCRIPT = path.join(ROOT, 'projenrc', 'release-compat.js');

let work: string;

/** A package directory jsii-diff can load: package.json, .jsii, and the project's node_modules for the dependencies. */
function packageDir(name: string, assembly: any): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.writeFileSync(path.join(dir, '.jsii'), JSON.stringify(assembly));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

function compat(cwd: string, env: Record<string, string>) {
  const result = spawnSync(process.execPath, [SCRIPT], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function git(cwd: string, ...args: string[]) {
  const result = spawnSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  }
}

let base: string;
let removed: string;
let removedKey: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-compat-'));
  const assembly = JSON.parse(fs.readFileSync(path.join(ROOT, '.jsii'), 'utf8'));
  base = packageDir('base', assembly);
  // The same API with one public method gone: the first class (by name) that has one.
  const changed = JSON.parse(JSON.stringify(assembly));
  const cls: any = Object.values(changed.types)
    .filter((t: any) => t.kind === 'class' && (t.methods ?? []).length > 0)
    .sort((a: any, b: any) => a.fqn.localeCompare(b.fqn))[0];
  const method = cls.methods.shift();
  removedKey = `removed:${cls.fqn}.${method.name}`;
  removed = packageDir('removed', changed);
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('before the first release (no v* tag) it says so and passes, without asking npm', () => {
  const repo = path.join(work, 'untagged');
  fs.mkdirSync(repo);
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(repo, 'package.json'));
  git(repo, 'init', '-q');
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'first');
  const result = compat(repo, { npm_config_registry: 'http://127.0.0.1:9/' });
  expect(result.output).toContain('compat: no release yet');
  expect(result.status).toBe(0);
});

test('the same API passes', () => {
  const result = compat(ROOT, { COMPAT_BASELINE: base, COMPAT_CURRENT: base, COMPAT_IGNORE: path.join(work, 'none') });
  expect(result.output).toContain('compat: no breaking change');
  expect(result.status).toBe(0);
});

test('a removed public method fails, naming the key to acknowledge it with', () => {
  const result = compat(ROOT, { COMPAT_BASELINE: base, COMPAT_CURRENT: removed, COMPAT_IGNORE: path.join(work, 'none') });
  expect(result.output).toContain(`[${removedKey}]`);
  expect(result.output).toContain('compat: FAILED');
  expect(result.status).toBe(1);
});

test('a breaking change acknowledged in the ignore file passes', () => {
  const ignore = path.join(work, 'compatignore');
  fs.writeFileSync(ignore, `# test: the method is gone on purpose\n${removedKey}\n`);
  const result = compat(ROOT, { COMPAT_BASELINE: base, COMPAT_CURRENT: removed, COMPAT_IGNORE: ignore });
  expect(result.output).toContain('compat: no breaking change');
  expect(result.status).toBe(0);
});

test('a tagged release that cannot be fetched fails (jsii-diff alone would skip the check and pass)', () => {
  const repo = path.join(work, 'tagged');
  fs.mkdirSync(repo);
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(repo, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(repo, 'node_modules'), 'dir');
  fs.writeFileSync(path.join(repo, '.jsii'), fs.readFileSync(path.join(ROOT, '.jsii')));
  git(repo, 'init', '-q');
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'first');
  git(repo, 'tag', 'v0.1.0');
  // A registry that cannot answer: the check must not pass as if there were nothing to compare.
  const result = compat(repo, { npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0' });
  expect(result.output).toContain('the latest release is v0.1.0');
  expect(result.output).toContain('compat: FAILED: jsii-diff could not load');
  expect(result.status).toBe(1);
});
