import { captureLogs } from './support';
import { MAX_BODY_BYTES, redactUrl, responseBody, sendResponse } from '../../lambda/cfn-response';
import { ResponseEndpoint } from '../support/response-endpoint';

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
