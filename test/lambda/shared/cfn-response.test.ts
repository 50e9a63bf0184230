import * as http from 'http';
import * as https from 'https';
import { AddressInfo } from 'net';
import { DEFAULT_SEND_OPTIONS, MAX_BODY_BYTES, redactUrl, responseBody, sendResponse } from '../../../lambda/shared/cfn-response';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { captureLogs, quickWaits } from '../support';

/** The module object itself (the `import * as` namespace has read-only bindings that jest.spyOn cannot replace). */
const nodeModule = <T>(name: string): T => jest.requireActual<T>(name);

const target = (url = 'https://example.invalid/x?sig=1') => ({
  ResponseURL: url,
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1',
  RequestId: 'r-1',
  LogicalResourceId: 'Imds',
});

describe('responseBody', () => {
  test('echoes the ids and carries status, reason, physical id and data', () => {
    const body = JSON.parse(responseBody(target(), { status: 'FAILED', physicalResourceId: 'p', reason: 'why', data: { A: 'b' } }));
    expect(body).toEqual({
      Status: 'FAILED',
      Reason: 'why',
      PhysicalResourceId: 'p',
      NoEcho: false,
      Data: { A: 'b' },
      StackId: target().StackId,
      RequestId: 'r-1',
      LogicalResourceId: 'Imds',
    });
  });

  test.each([5_000, 20_000])('cuts a %d-character reason so the body stays under 4 KB', (n) => {
    const body = responseBody(target(), { status: 'FAILED', physicalResourceId: 'p', reason: 'é"'.repeat(n / 2) });
    expect(Buffer.byteLength(body)).toBeLessThan(MAX_BODY_BYTES);
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_BODY_BYTES - 200);
    expect(JSON.parse(body).Reason).toMatch(/ \[truncated\]$/);
  });

  test('leaves a short reason alone', () => {
    expect(JSON.parse(responseBody(target(), { status: 'FAILED', physicalResourceId: 'p', reason: 'short' })).Reason).toBe('short');
  });
});

test('redactUrl removes the URL and its signature', () => {
  const url = 'https://bucket.s3.amazonaws.com/key?X-Amz-Signature=abc&X-Amz-Credential=def';
  expect(redactUrl(`PUT ${url} failed`, url)).toBe('PUT [ResponseURL] failed');
  expect(redactUrl('query: X-Amz-Signature=abc&X-Amz-Credential=def', url)).toBe('query: [redacted]');
});

describe('sendResponse', () => {
  let endpoint: ResponseEndpoint;
  let logs: string[];
  const urlFor = (requestId: string) => endpoint.issue({ stackId: target().StackId, requestId, logicalResourceId: 'Imds', region: 'eu-west-1' });
  beforeAll(async () => {
    endpoint = await ResponseEndpoint.start();
    logs = captureLogs();
  });
  afterAll(() => endpoint.stop());
  beforeEach(() => {
    endpoint.attempts = 0;
  });

  test('gives up after the configured attempts, without the URL in the error or the logs', async () => {
    endpoint.failNext(10);
    const { url, signature } = urlFor('r-1');
    const error = await sendResponse(target(url), { status: 'SUCCESS', physicalResourceId: 'p' }, { attempts: 3, firstDelayMs: 1, attemptTimeoutMs: 1_000 })
      .catch((e: Error) => e);
    expect(String(error)).toMatch(/could not answer CloudFormation after 3 attempts: HTTP 500/);
    expect(endpoint.attempts).toBe(3);
    endpoint.failNext(0);
    expect(String(error)).not.toContain(signature);
    expect(logs.join('\n')).not.toContain(signature);
  });

  test('retries stop at the deadline (the function\'s end), whatever the attempts left', async () => {
    endpoint.failNext(100);
    const started = Date.now();
    const error = await sendResponse(target(urlFor('r-2').url), { status: 'SUCCESS', physicalResourceId: 'p' },
      { attempts: 100, firstDelayMs: 100, attemptTimeoutMs: 4_000, deadline: started + 350 }).catch((e: Error) => e);
    expect(String(error)).toMatch(/could not answer CloudFormation after [1-3] attempts: HTTP 500/);
    expect(Date.now() - started).toBeLessThan(1_000);
    endpoint.failNext(0);
  });

  test('an unreachable URL fails each attempt within its timeout', async () => {
    const error = await sendResponse(target('http://127.0.0.1:9/?X-Amz-Signature=s3cr3t'), { status: 'SUCCESS', physicalResourceId: 'p' },
      { attempts: 2, firstDelayMs: 1, attemptTimeoutMs: 500 }).catch((e: Error) => e);
    expect(String(error)).toMatch(/after 2 attempts/);
    expect(logs.join('\n')).not.toContain('s3cr3t');
  });
});

describe('responseBody at the size limit', () => {
  const sizeWith = (reason: string) => Buffer.byteLength(responseBody(target(), { status: 'FAILED', physicalResourceId: 'p', reason }));
  const base = sizeWith('');

  test(`a body of ${MAX_BODY_BYTES - 1} bytes is sent as it is; one of ${MAX_BODY_BYTES} bytes is cut`, () => {
    const fits = 'a'.repeat(MAX_BODY_BYTES - 1 - base);
    expect(JSON.parse(responseBody(target(), { status: 'FAILED', physicalResourceId: 'p', reason: fits })).Reason).toBe(fits);
    const tooLong = 'a'.repeat(MAX_BODY_BYTES - base);
    expect(JSON.parse(responseBody(target(), { status: 'FAILED', physicalResourceId: 'p', reason: tooLong })).Reason).toMatch(/a \[truncated\]$/);
  });

  test('the cut keeps the longest prefix that fits', () => {
    const body = responseBody(target(), { status: 'FAILED', physicalResourceId: 'p', reason: 'a'.repeat(10_000) });
    // Every character is one byte here: the longest prefix makes the body exactly one byte under the limit.
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES - 1);
    expect(JSON.parse(body).Reason).toBe(`${'a'.repeat(MAX_BODY_BYTES - 1 - base - ' [truncated]'.length)} [truncated]`);
  });

  test('a response without reason or data leaves them out', () => {
    expect(JSON.parse(responseBody(target(), { status: 'SUCCESS', physicalResourceId: 'p' }))).toEqual({
      Status: 'SUCCESS', PhysicalResourceId: 'p', StackId: target().StackId, RequestId: 'r-1', LogicalResourceId: 'Imds', NoEcho: false,
    });
  });
});

describe('redactUrl edge cases', () => {
  test('a URL without a query string is replaced, and nothing else is touched', () => {
    expect(redactUrl('PUT http://h/p?x failed at http://h/p', 'http://h/p')).toBe('PUT [ResponseURL]?x failed at [ResponseURL]');
  });

  test('a URL that ends in "?" (empty query string) is replaced, and nothing else is touched', () => {
    expect(redactUrl('error: http://h/p? and some text', 'http://h/p?')).toBe('error: [ResponseURL] and some text');
  });

  test('the query string alone is redacted wherever it shows', () => {
    expect(redactUrl('a=1&sig=2 then a=1&sig=2', 'https://h/p?a=1&sig=2')).toBe('[redacted] then [redacted]');
  });
});

describe('the PUT', () => {
  interface Seen { method?: string; headers: http.IncomingHttpHeaders; body: string }
  let server: http.Server;
  let base: string;
  let status = 200;
  let hang = false;
  const seen: Seen[] = [];
  let logs: string[];
  const answer = { status: 'SUCCESS', physicalResourceId: 'p', reason: 'fine', data: { A: 'b' } } as const;

  beforeAll(async () => {
    logs = captureLogs();
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (!hang) {
          res.writeHead(status, { 'content-length': 0 });
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen.length = 0;
    logs.length = 0;
    status = 200;
    hang = false;
  });
  afterEach(() => {
    jest.restoreAllMocks();
    logs = captureLogs();
  });

  const fast = { attempts: 3, firstDelayMs: 1, attemptTimeoutMs: 1_000 };

  test('is a PUT of the body with its Content-Length and an empty Content-Type (S3 presigned URLs are signed without one)', async () => {
    await sendResponse(target(`${base}/key?sig=1`), answer, fast);
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('PUT');
    expect(seen[0].headers['content-type']).toBe('');
    expect(seen[0].body).toBe(responseBody(target(), answer));
    expect(seen[0].headers['content-length']).toBe(String(Buffer.byteLength(seen[0].body)));
  });

  test('logs the answer, never the URL', async () => {
    await sendResponse(target(`${base}/key?sig=s3cr3t`), answer, fast);
    expect(logs).toEqual([JSON.stringify({ message: 'answering CloudFormation', status: 'SUCCESS', physicalResourceId: 'p', reason: 'fine', data: { A: 'b' } })]);
  });

  test.each([200, 201, 204, 299])('HTTP %d is accepted at the first attempt', async (code) => {
    status = code;
    await sendResponse(target(`${base}/k`), answer, fast);
    expect(seen).toHaveLength(1);
  });

  test.each([300, 302, 400, 403, 500])('HTTP %d is a failed attempt, retried, logged and named in the error', async (code) => {
    status = code;
    const error = await sendResponse(target(`${base}/k?sig=abc`), answer, fast).catch((e: Error) => e);
    expect(String(error)).toBe(`Error: could not answer CloudFormation after 3 attempts: HTTP ${code}`);
    expect(seen).toHaveLength(3);
    expect(logs.slice(1)).toEqual([1, 2, 3].map((attempt) => JSON.stringify({ message: 'the answer to CloudFormation did not go through', attempt, error: `HTTP ${code}` })));
  });

  test('the retries wait 250 ms, then twice as long each time, 5 attempts by default', async () => {
    status = 500;
    const delays = quickWaits();
    const error = await sendResponse(target(`${base}/k`), answer).catch((e: Error) => e);
    expect(String(error)).toMatch(/after 5 attempts: HTTP 500$/);
    expect(seen).toHaveLength(5);
    expect(delays).toEqual([250, 500, 1_000, 2_000]);
  });

  test('each attempt may take 4 s by default, less when the deadline is nearer, and at least 1 ms', async () => {
    const request = jest.spyOn(nodeModule<typeof http>('http'), 'request');
    await sendResponse(target(`${base}/k`), answer);
    await sendResponse(target(`${base}/k`), answer, { ...DEFAULT_SEND_OPTIONS, deadline: Date.now() + 2_000 });
    await sendResponse(target(`${base}/k`), answer, { ...DEFAULT_SEND_OPTIONS, deadline: Date.now() - 1_000 }).catch(() => undefined);
    const timeouts = request.mock.calls.map((call) => (call[1] as http.RequestOptions).timeout!);
    expect(timeouts[0]).toBe(4_000);
    expect(timeouts[1]).toBeGreaterThan(1_500);
    expect(timeouts[1]).toBeLessThanOrEqual(2_000);
    expect(timeouts[2]).toBe(1);
  });

  test('an endpoint that does not answer fails the attempt after its timeout, and the error says so', async () => {
    hang = true;
    const started = Date.now();
    const error = await sendResponse(target(`${base}/k?sig=abc`), answer, { attempts: 1, firstDelayMs: 1, attemptTimeoutMs: 300 }).catch((e: Error) => e);
    expect(String(error)).toBe('Error: could not answer CloudFormation after 1 attempts: no answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('a response cut off in its body fails the attempt (the error is not lost)', async () => {
    const cutting = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('partial', () => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => cutting.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(cutting.address() as AddressInfo).port}/k`;
      const error = await sendResponse(target(url), answer, { attempts: 1, firstDelayMs: 1, attemptTimeoutMs: 30_000 }).catch((e: Error) => e);
      expect(String(error)).toMatch(/^Error: could not answer CloudFormation after 1 attempts: /);
    } finally {
      cutting.closeAllConnections();
      await new Promise((resolve) => cutting.close(resolve));
    }
  });

  test('an https URL goes through https, an http URL through http', async () => {
    const viaHttps = jest.spyOn(nodeModule<typeof https>('https'), 'request');
    const viaHttp = jest.spyOn(nodeModule<typeof http>('http'), 'request');
    // TLS to a plain HTTP port fails the handshake: what matters is which transport was used.
    await sendResponse(target(`${base.replace('http:', 'https:')}/k`), answer, { attempts: 1, firstDelayMs: 1, attemptTimeoutMs: 1_000 }).catch(() => undefined);
    expect(viaHttps).toHaveBeenCalledTimes(1);
    expect(viaHttp).not.toHaveBeenCalled();
    await sendResponse(target(`${base}/k`), answer, fast);
    expect(viaHttp).toHaveBeenCalledTimes(1);
    expect(viaHttps).toHaveBeenCalledTimes(1);
  });
});
