#!/usr/bin/env node
/**
 * Installs the cdk-nag 3 check's own node_modules (cdk-nag 3 and the aws-cdk-lib
 * it needs, which is newer than the one the project builds against) from the
 * lockfile beside this script: `npx projen nag3:install`, run by `npx projen test`.
 *
 * `npm ci` runs unless node_modules was installed from the same package.json and
 * package-lock.json (a stamp holds their hash), so a second run takes milliseconds.
 */
'use strict';
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const STAMP = '.nag3-install-stamp';
const hash = crypto.createHash('sha256');
for (const file of ['package.json', 'package-lock.json']) {
  hash.update(fs.readFileSync(path.join(__dirname, file)));
}
const digest = hash.digest('hex');
const stamp = path.join(__dirname, 'node_modules', STAMP);
if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest)) {
  console.log('nag3:install: npm ci in test/nag3');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: __dirname, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`nag3:install: npm ci failed in ${__dirname} (${result.error ? result.error.message : `exit code ${result.status}`})`);
    process.exit(1);
  }
  fs.writeFileSync(stamp, digest);
}
