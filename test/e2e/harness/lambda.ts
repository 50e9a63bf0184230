/**
 * Runs the function's inline code as Lambda would: written as index.js into a
 * task root of its own, loaded by bootstrap.js in a separate process of the
 * Node.js binary of the function's runtime, with Lambda's environment variables,
 * NODE_PATH holding only the chosen SDK clients (runtime.ts SDK_CLIENTS, as the
 * runtime ships them), the function's own environment variables (the template's
 * Environment.Variables, resolved), the AWS endpoints redirected to the
 * scenario's local EC2, SSM, CloudFormation, CloudWatch and Auto Scaling
 * emulators (AWS_ENDPOINT_URL_<SERVICE>, which the SDK reads by itself: the
 * client's serviceId in upper case with spaces as `_`, so "Auto Scaling" reads
 * AWS_ENDPOINT_URL_AUTO_SCALING; @smithy/core getEndpointUrlConfig), and the
 * function's Timeout enforced by killing the process. AWS_ENDPOINT_URL itself is
 * never set: a client of any other service would head for AWS, which
 * bootstrap.js refuses. Each function has credentials of its own (an access key
 * of its own: executionRoleKey), which the SSM emulator records as the function's
 * assumed-role session (executionRoleSession), as SSM records who wrote a parameter.
 *
 * Every invocation is a cold start (a new process): custom resource events are
 * rare and minutes apart, so Lambda mostly starts a new sandbox for them too.
 */
import { ChildProcess, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { SdkName, nodeFor, sdkRoot } from './runtime';
import { TEST_CREDENTIALS, TEST_SESSION_TOKEN } from '../../support/ec2-emulator';
import { testAccessKeyId } from '../../support/sigv4';

const BOOTSTRAP = path.join(__dirname, 'bootstrap.js');

/** The EventBridge endpoint of an invocation given none: the discard port of the loopback, where nothing listens (connection refused). */
export const NO_EVENTBRIDGE = 'http://127.0.0.1:9';

/** Lambda stops an on-demand init that takes longer than this. */
export const INIT_TIMEOUT_MS = 10_000;

/** The function as the template declares it, with its names resolved. */
export interface FunctionConfig {
  readonly logicalId: string;
  readonly functionName: string;
  readonly arn: string;
  readonly runtime: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly code: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly logGroupName: string;
  /** The name of its execution role (the template's Role, resolved). */
  readonly roleName: string;
  /** Its execution role's ARN, with the role's path (aws:PrincipalArn of its sessions). */
  readonly roleArn?: string;
  /**
   * The execution role's policy statements that may apply to events:PutEvents
   * (template.ts roleEventPolicies), which the EventBridge emulator evaluates;
   * undefined when the role is not the template's (then nothing is evaluated).
   */
  readonly eventPolicies?: { readonly identity: readonly object[]; readonly boundary?: readonly object[] };
}

/**
 * The ARN of the session Lambda runs the function in:
 * `arn:aws:sts::<account>:assumed-role/<role name>/<function name>` (Lambda names
 * the session after the function).
 */
export function executionRoleSession(fn: FunctionConfig): string {
  const account = fn.arn.split(':')[4];
  return `arn:aws:sts::${account}:assumed-role/${fn.roleName}/${fn.functionName}`;
}

/** The access key of the function's credentials: one per function (its ARN's hash), so the emulators can tell who called. */
export function executionRoleKey(fn: FunctionConfig): string {
  return testAccessKeyId(crypto.createHash('sha256').update(fn.arn).digest('hex').slice(0, 12).toUpperCase());
}

export interface InvokeOptions {
  readonly fn: FunctionConfig;
  readonly event: object;
  readonly requestId: string;
  readonly region: string;
  readonly sdk: SdkName;
  /** AWS_ENDPOINT_URL_EC2. */
  readonly ec2Endpoint: string;
  /** AWS_ENDPOINT_URL_SSM. */
  readonly ssmEndpoint: string;
  /** AWS_ENDPOINT_URL_CLOUDFORMATION. */
  readonly cloudFormationEndpoint: string;
  /** AWS_ENDPOINT_URL_CLOUDWATCH. */
  readonly cloudWatchEndpoint: string;
  /** AWS_ENDPOINT_URL_AUTO_SCALING. */
  readonly autoScalingEndpoint: string;
  /**
   * AWS_ENDPOINT_URL_EVENTBRIDGE (one endpoint for every Region: the emulator
   * holds the buses of every account and Region). @default NO_EVENTBRIDGE, a
   * loopback port nothing listens on: puts fail at once, and nothing reaches AWS
   */
  readonly eventBridgeEndpoint?: string;
  /** NODE_EXTRA_CA_CERTS: the certificate of the local ResponseURL endpoint. */
  readonly caFile: string;
  /** The access key id of the function's credentials. @default executionRoleKey(fn) */
  readonly accessKeyId?: string;
}

/** How the invocation ended. */
export type Outcome =
  /** The handler's promise resolved. */
  | 'returned'
  /** The handler's promise rejected (`error` says why). */
  | 'error'
  /** Killed at the function's Timeout. */
  | 'timeout'
  /** The process ended without reporting (uncaught exception, unhandled rejection). */
  | 'crashed'
  /** index.js or its handler could not be loaded, or the init took too long. */
  | 'init-failed';

export interface Invocation {
  readonly outcome: Outcome;
  readonly error?: string;
  /** performance.now() here when the process was spawned. */
  readonly spawnedAt: number;
  /** performance.now() here when the event was handed to the handler. */
  readonly invokedAt?: number;
  /** performance.now() here when the invocation ended. */
  readonly endedAt: number;
  /** Spawn to handler loaded, measured here: Node start, index.js and the SDK loaded, the EC2 client created. */
  readonly coldStartMs?: number;
  /** Process start to handler loaded, measured in the process (Lambda's "Init Duration"). */
  readonly initMs?: number;
  /** The handler's wall time, measured in the process. */
  readonly handlerMs?: number;
  /** stdout and stderr of the process: the function's logs. */
  readonly logs: string;
  readonly nodeVersion?: string;
  /** The @aws-sdk/client-ec2 that index.js loaded. */
  readonly clientEc2?: { readonly path: string; readonly version: string };
  /** Every client of the runtime's SDK that index.js loaded (client-ec2, client-ssm, client-cloudformation, client-cloudwatch, client-auto-scaling, client-eventbridge), by package name. */
  readonly clients?: Readonly<Record<string, { readonly path: string; readonly version: string }>>;
}

const running = new Set<ChildProcess>();

/** Kills every function process still running (for afterAll: the suite must stop by itself). */
export function killAll(): void {
  for (const child of running) {
    child.kill('SIGKILL');
  }
}

/** Runs one invocation of the function to its end (returned, failed or killed at its Timeout). */
export async function invoke(options: InvokeOptions): Promise<Invocation> {
  const { fn } = options;
  const node = nodeFor(fn.runtime);
  const sdk = sdkRoot(options.sdk);
  const taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-e2e-task-'));
  try {
    fs.writeFileSync(path.join(taskRoot, 'index.js'), fn.code);
    const logStreamName = `2026/01/01/[$LATEST]${options.requestId.replace(/-/g, '')}`;
    const env: Record<string, string> = {
      // What the Lambda Node.js runtime sets (the paths are this machine's).
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      NODE_PATH: sdk.nodePath,
      LAMBDA_TASK_ROOT: taskRoot,
      LAMBDA_RUNTIME_DIR: path.dirname(BOOTSTRAP),
      _HANDLER: fn.handler,
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_REGION: options.region,
      AWS_DEFAULT_REGION: options.region,
      AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: fn.logGroupName,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
      // The execution role's temporary credentials: a test key of the function's own, with a session token.
      AWS_ACCESS_KEY_ID: options.accessKeyId ?? executionRoleKey(fn),
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: TEST_SESSION_TOKEN,
      // The function's own variables (Environment.Variables), then the test's redirections.
      ...fn.environment,
      AWS_ENDPOINT_URL_EC2: options.ec2Endpoint,
      AWS_ENDPOINT_URL_SSM: options.ssmEndpoint,
      AWS_ENDPOINT_URL_CLOUDFORMATION: options.cloudFormationEndpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH: options.cloudWatchEndpoint,
      AWS_ENDPOINT_URL_AUTO_SCALING: options.autoScalingEndpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: options.eventBridgeEndpoint ?? NO_EVENTBRIDGE,
      NODE_EXTRA_CA_CERTS: options.caFile,
      // Hermetic: no shared config or credentials file of this machine's user.
      AWS_CONFIG_FILE: path.join(taskRoot, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(taskRoot, 'no-aws-credentials'),
    };
    return await run(node.path, taskRoot, env, options, logStreamName);
  } finally {
    fs.rmSync(taskRoot, { recursive: true, force: true });
  }
}

function run(nodePath: string, taskRoot: string, env: Record<string, string>, options: InvokeOptions, logStreamName: string): Promise<Invocation> {
  const { fn } = options;
  return new Promise((resolve) => {
    const spawnedAt = performance.now();
    const child = spawn(nodePath, [BOOTSTRAP, taskRoot, fn.handler], { cwd: taskRoot, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    running.add(child);
    const logs: string[] = [];
    child.stdout!.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));

    let result: Partial<Invocation> & { outcome?: Outcome } = {};
    const initTimer = setTimeout(() => {
      result = { ...result, outcome: 'init-failed', error: `the init took longer than ${INIT_TIMEOUT_MS} ms` };
      child.kill('SIGKILL');
    }, INIT_TIMEOUT_MS);
    let invokeTimer: NodeJS.Timeout | undefined;

    child.on('message', (message: any) => {
      switch (message.type) {
        case 'ready': {
          clearTimeout(initTimer);
          const invokedAt = performance.now();
          const timeoutMs = fn.timeoutSeconds * 1000;
          result = {
            ...result,
            invokedAt,
            coldStartMs: invokedAt - spawnedAt,
            initMs: message.initMs,
            nodeVersion: message.node,
            clientEc2: message.clientEc2,
            clients: message.clients,
          };
          invokeTimer = setTimeout(() => {
            result = { ...result, outcome: 'timeout', error: `Task timed out after ${fn.timeoutSeconds} seconds` };
            child.kill('SIGKILL');
          }, timeoutMs);
          child.send({
            event: options.event,
            deadline: Date.now() + timeoutMs,
            requestId: options.requestId,
            fn: { functionName: fn.functionName, arn: fn.arn, memorySize: fn.memorySize, logGroupName: fn.logGroupName, logStreamName },
          });
          break;
        }
        case 'done':
          result = {
            ...result,
            outcome: message.error ? 'error' : 'returned',
            error: message.error,
            handlerMs: message.handlerMs,
            clients: { ...result.clients, ...message.clients },
          };
          break;
        case 'init-error':
          result = { ...result, outcome: 'init-failed', error: message.error };
          break;
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(initTimer);
      clearTimeout(invokeTimer);
      running.delete(child);
      const outcome = result.outcome ?? 'crashed';
      resolve({
        ...result,
        outcome,
        error: result.error ?? (outcome === 'crashed' ? `the process ended with ${signal ?? `exit code ${code}`} before the handler settled` : undefined),
        spawnedAt,
        endedAt: performance.now(),
        logs: logs.join(''),
      });
    });
  });
}
