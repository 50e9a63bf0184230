// The next version (projenrc/release-version.js, projen's nextVersionCommand): 0.1.0 first;
// minor when .compatignore changed since the last tag (an acknowledged breaking change) or the
// commits say feat / breaking; patch otherwise; RELEASE_AS overrides. Run in a scratch git
// repository, as `bump` runs it (LATEST_TAG and SUGGESTED_BUMP in the environment).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.join(__dirname, '..', 'projenrc', 'release-version.js');
let repo: string;

function git(...args: string[]) {
  const result = spawnSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: repo, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  }
}

function next(env: Record<string, string>) {
  const clean = { ...process.env };
  delete clean.RELEASE_AS;
  const result = spawnSync(process.execPath, [SCRIPT], { cwd: repo, encoding: 'utf8', env: { ...clean, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeEach(() => {
  repo = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-version-'));
  git('init', '-q');
  git('commit', '-q', '--allow-empty', '-m', 'first');
});

afterEach(() => {
  fs.rmSync(repo, { recursive: true, force: true });
});

test('the first release (the tag bump resolved does not exist) is 0.1.0', () => {
  expect(next({ LATEST_TAG: 'v0.0.0', SUGGESTED_BUMP: 'none' }).stdout).toBe('0.1.0');
});

test('after a release: patch, unless the commits say feat or breaking (minor, never major at 0.x)', () => {
  git('tag', 'v0.1.0');
  git('commit', '-q', '--allow-empty', '-m', 'README: a fix');
  expect(next({ LATEST_TAG: 'v0.1.0', SUGGESTED_BUMP: 'patch' }).stdout).toBe('patch');
  expect(next({ LATEST_TAG: 'v0.1.0', SUGGESTED_BUMP: 'none' }).stdout).toBe('patch');
  expect(next({ LATEST_TAG: 'v0.1.0', SUGGESTED_BUMP: 'minor' }).stdout).toBe('minor');
  expect(next({ LATEST_TAG: 'v0.1.0', SUGGESTED_BUMP: 'major' }).stdout).toBe('minor');
});

test('a breaking change acknowledged in .compatignore since the last tag makes a minor release', () => {
  git('tag', 'v0.1.0');
  fs.writeFileSync(path.join(repo, '.compatignore'), '# renamed on purpose\nremoved:cdk-imds-account-defaults.Foo.bar\n');
  git('add', '.compatignore');
  git('commit', '-q', '-m', 'rename bar');
  expect(next({ LATEST_TAG: 'v0.1.0', SUGGESTED_BUMP: 'patch' }).stdout).toBe('minor');
});

test('RELEASE_AS overrides, and must be a bump type or a version', () => {
  expect(next({ LATEST_TAG: 'v0.0.0', RELEASE_AS: '1.0.0' }).stdout).toBe('1.0.0');
  expect(next({ LATEST_TAG: 'v0.0.0', RELEASE_AS: 'patch' }).stdout).toBe('patch');
  const bad = next({ LATEST_TAG: 'v0.0.0', RELEASE_AS: 'soon' });
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/RELEASE_AS must be major, minor, patch or x\.y\.z, not "soon"/);
});
