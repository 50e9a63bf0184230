/**
 * A stand-in for the Lambda Node.js runtime's bootstrap, run by the Node.js
 * binary of the function's runtime in a process of its own (see lambda.ts):
 *
 *   node bootstrap.js <task root> <handler>      (IPC channel to the parent)
 *
 * 1. Init: loads <task root>/index.js as CommonJS (the inline ZipFile that
 *    Lambda writes as index.js) and finds the handler export, then reports
 *    `ready` with the init time and which @aws-sdk clients it loaded (`clientEc2`,
 *    and `clients` for every client the runtime's SDK roots hold: client-ec2,
 *    client-ssm, client-cloudformation, client-cloudwatch, client-auto-scaling,
 *    client-eventbridge).
 * 2. Invoke: on an `invoke` message, calls handler(event, context) with a
 *    context whose getRemainingTimeInMillis counts down to the deadline the
 *    parent set (the parent kills this process at that deadline, as Lambda
 *    stops a function at its Timeout), awaits the returned promise and reports
 *    `done` with the handler's wall time and the clients loaded by then.
 * 3. Then the process exits at once: Lambda freezes the sandbox as soon as the
 *    handler's promise settles, so nothing the handler left running (an
 *    un-awaited PUT to CloudFormation, a timer) gets to finish.
 *
 * A guard that Lambda does not have: every TCP connection to a host other than
 * the loopback is refused before any DNS lookup and reported on stderr
 * (BLOCKED_MARKER), so that a handler or SDK that ignores AWS_ENDPOINT_URL_EC2
 * fails the suite instead of reaching AWS.
 *
 * Simplifications: handlers are CommonJS files required from the task root (our
 * inline code is); callback-style handlers are refused, as nodejs24.x does;
 * console output is not reformatted into Lambda's log line format.
 */
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const { performance } = require('perf_hooks');

const BLOCKED_MARKER = 'e2e-bootstrap: blocked a connection';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  // connect(options[, cb]), connect(port[, host][, cb]), or Node's own normalized [options, cb].
  let options = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof options !== 'object' || options === null) {
    options = { port: args[0], host: typeof args[1] === 'string' ? args[1] : undefined };
  }
  const host = options.host === undefined ? 'localhost' : String(options.host);
  if (!options.path && !LOOPBACK.has(host) && !host.startsWith('127.')) {
    process.stderr.write(`${BLOCKED_MARKER} to ${host}:${options.port}\n`);
    const error = Object.assign(new Error(`connect ECONNREFUSED ${host}:${options.port} (the end-to-end suite reaches 127.0.0.1 only)`), { code: 'ECONNREFUSED' });
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};

const [taskRoot, handlerSpec] = process.argv.slice(2);

function report(message) {
  return new Promise((resolve) => process.send(message, () => resolve()));
}

function describe(err) {
  return err instanceof Error ? (err.stack || `${err.name}: ${err.message}`) : String(err);
}

/** The @aws-sdk/<client> that index.js really loaded: its folder and version. */
function loadedClient(client) {
  const marker = `${path.sep}@aws-sdk${path.sep}${client}${path.sep}`;
  const file = Object.keys(require.cache).find((key) => key.includes(marker));
  if (!file) {
    return undefined;
  }
  const dir = file.slice(0, file.indexOf(marker) + marker.length - 1);
  return { path: dir, version: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version };
}

/** Each client of the runtime's SDK that index.js loaded, by package name (those it did not load are left out). */
function loadedClients() {
  const clients = {};
  for (const client of ['client-ec2', 'client-ssm', 'client-cloudformation', 'client-cloudwatch', 'client-auto-scaling', 'client-eventbridge']) {
    const loaded = loadedClient(client);
    if (loaded) {
      clients[client] = loaded;
    }
  }
  return clients;
}

async function main() {
  const dot = handlerSpec.lastIndexOf('.');
  const moduleName = handlerSpec.slice(0, dot);
  const exportName = handlerSpec.slice(dot + 1);
  let handler;
  try {
    const mod = require(path.join(taskRoot, `${moduleName}.js`));
    handler = mod[exportName];
    if (typeof handler !== 'function') {
      throw new Error(`Runtime.HandlerNotFound: ${handlerSpec} is undefined or not exported`);
    }
  } catch (err) {
    await report({ type: 'init-error', error: describe(err) });
    process.exit(1);
  }
  process.once('message', async (message) => {
    const { event, deadline, requestId, fn } = message;
    const context = {
      functionName: fn.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memorySize),
      awsRequestId: requestId,
      logGroupName: fn.logGroupName,
      logStreamName: fn.logStreamName,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    const started = performance.now();
    let error;
    try {
      const result = handler(event, context);
      if (!result || typeof result.then !== 'function') {
        throw new Error('Runtime.CallbackHandlerDeprecated: the handler did not return a promise; nodejs24.x supports async handlers only');
      }
      await result;
    } catch (err) {
      error = describe(err);
    }
    // The clients loaded during the invocation too (a handler may require one lazily).
    await report({ type: 'done', handlerMs: performance.now() - started, error, clients: loadedClients() });
    process.exit(0);
  });
  await report({ type: 'ready', initMs: performance.now(), node: process.version, clientEc2: loadedClient('client-ec2'), clients: loadedClients() });
}

main().catch((err) => {
  process.stderr.write(`bootstrap: ${describe(err)}\n`);
  process.exit(2);
});
