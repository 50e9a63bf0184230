#!/usr/bin/env node
/**
 * The next version (projen's `nextVersionCommand`, the task `bump:next-version`): what the
 * release says about the API. The version line is 0.x (`majorVersion: 0` in .projenrc.ts)
 * until the API is declared stable:
 *
 * - the first release is 0.1.0;
 * - a release whose API breaks the previous one is a minor release (0.x.0): the compat check
 *   (projenrc/release-compat.js) fails on every breaking change unless .compatignore
 *   acknowledges it, so a .compatignore changed since the last release tag means one;
 *   so does a Conventional Commit marked breaking or a `feat`;
 * - everything else is a patch release (0.x.y);
 * - RELEASE_AS=<major|minor|patch|x.y.z> overrides all of this (a 1.0.0 is declared that way,
 *   together with `majorVersion: 1`).
 *
 * Inputs (environment, set by projen's `bump`): LATEST_TAG (the last release tag, or the
 * synthetic v0.0.0 before the first), SUGGESTED_BUMP (commit-and-tag-version's reading of
 * the commits: none, patch, minor or major). Prints the bump type or the version.
 */
'use strict';
const { spawnSync } = require('child_process');

function git(args) {
  return spawnSync('git', args, { encoding: 'utf8' });
}

function nextVersion(env) {
  const override = (env.RELEASE_AS || '').trim();
  if (override) {
    if (!/^(major|minor|patch|\d+\.\d+\.\d+)$/.test(override)) {
      throw new Error(`release-version: RELEASE_AS must be major, minor, patch or x.y.z, not "${override}"`);
    }
    return override;
  }
  const tag = (env.LATEST_TAG || '').trim();
  if (!tag || git(['rev-parse', '--verify', '--quiet', `refs/tags/${tag}`]).status !== 0) {
    return '0.1.0';
  }
  if (git(['diff', '--quiet', tag, 'HEAD', '--', '.compatignore']).status !== 0) {
    return 'minor';
  }
  const suggested = (env.SUGGESTED_BUMP || '').trim();
  return suggested === 'major' || suggested === 'minor' ? 'minor' : 'patch';
}

try {
  process.stdout.write(nextVersion(process.env));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
