#!/usr/bin/env node
/**
 * The API compatibility check (`npx projen compat`, run after every compile): jsii-diff
 * between the assembly just compiled (.jsii) and the latest release, failing on any
 * breaking change that .compatignore does not acknowledge.
 *
 * - The latest release is the newest `v<major>.<minor>.<patch>` git tag (the tag the
 *   release workflow pushes), compared as published: `npm:<name>@<version>`. projen's
 *   own compat task compares with `npm:<name>` (whatever `latest` is on the registry),
 *   which fails while nothing is published and would compare with a stranger's package
 *   if someone else took the name; the tag says which of our versions is the baseline.
 * - No tag: "no release yet", exit 0 (there is no promise to break).
 * - Every public type is `@stability experimental` (0.x, `stability` in .projenrc.ts), and
 *   jsii-diff only warns about experimental APIs by default: `--error-on all` makes
 *   a breaking change an error whatever its stability.
 * - A breaking change that is intended (0.x allows them in a minor release) is
 *   acknowledged by adding jsii-diff's key (printed with `-k`) to .compatignore, with a
 *   comment line saying why; the release then bumps the minor version
 *   (projenrc/release-version.js sees .compatignore changed since the tag).
 *
 * Environment (for tests and for checking against something else than the tag):
 *   COMPAT_BASELINE  the assembly to compare with: a directory with .jsii, a .jsii file
 *                    or npm:<name>@<version>. Set: no tag lookup.
 *   COMPAT_CURRENT   the assembly that must stay compatible (default: the project, ".").
 *   COMPAT_IGNORE    the ignore file (default: .compatignore).
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const TAG = /^v(\d+)\.(\d+)\.(\d+)$/;

function latestReleaseTag(cwd) {
  const result = spawnSync('git', ['tag', '--list', 'v*', '--sort=-version:refname'], { cwd, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`compat: git tag --list failed: ${result.stderr.trim()}`);
  }
  return result.stdout.split('\n').map((t) => t.trim()).find((t) => TAG.test(t));
}

function main() {
  const cwd = process.cwd();
  const name = JSON.parse(fs.readFileSync(path.join(cwd, 'package.json'), 'utf8')).name;
  let baseline = process.env.COMPAT_BASELINE;
  if (!baseline) {
    const tag = latestReleaseTag(cwd);
    if (!tag) {
      console.log(`compat: no release yet (no v<major>.<minor>.<patch> tag): nothing to compare ${name}'s API with; passing`);
      return 0;
    }
    baseline = `npm:${name}@${tag.slice(1)}`;
    console.log(`compat: the latest release is ${tag}: comparing the API with ${baseline}`);
  }
  const current = process.env.COMPAT_CURRENT || '.';
  const ignoreFile = process.env.COMPAT_IGNORE || '.compatignore';
  const args = [baseline, current, '--keys', '--error-on', 'all', '--ignore-file', ignoreFile];
  const bin = path.join(__dirname, '..', 'node_modules', '.bin', 'jsii-diff');
  const result = spawnSync(bin, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION: '1' },
  });
  if (result.error) {
    throw result.error;
  }
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  // jsii-diff exits 0 when it cannot load an assembly ("Could not load ...: Skipping
  // analysis"): a release that exists but cannot be fetched must not pass unchecked.
  if (/Skipping analysis/.test(result.stderr)) {
    console.error(`compat: FAILED: jsii-diff could not load ${baseline} or ${current}, so nothing was compared (offline, or the release was never published?)`);
    return 1;
  }
  if (result.status === 1) {
    console.error(`compat: FAILED: ${current === '.' ? name : current} breaks the API of ${baseline}.`);
    console.error(`compat: keep the old API, or acknowledge the change: add the key in [brackets] above to ${ignoreFile}, with a comment line saying why (the release is then a minor one: 0.x).`);
    return 1;
  }
  if (result.status !== 0) {
    console.error(`compat: FAILED: jsii-diff exited with ${result.status}`);
    return 1;
  }
  console.log(`compat: no breaking change against ${baseline}`);
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
