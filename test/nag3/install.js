#!/usr/bin/env node
/**
 * Installs the cdk-nag 3 check's own node_modules (cdk-nag 3 and the aws-cdk-lib
 * it needs, which is newer than the one the project builds against) from the
 * lockfile beside this script: `npx projen nag3:install`, run by `npx projen test`.
 *
 * `npm ci` runs only when the lockfile changed (test/support/npm-ci-once.js).
 */
'use strict';
const { npmCiOnce } = require('../support/npm-ci-once');

npmCiOnce(__dirname, 'nag3:install');
