/**
 * A local stand-in for the presigned S3 URL that CloudFormation gives a custom
 * resource as ResponseURL, on 127.0.0.1: HTTPS with a certificate made at test
 * time for the end-to-end suite (the handler's process trusts it through
 * NODE_EXTRA_CA_CERTS), plain HTTP for the handler's unit tests.
 *
 * Two layers, as in AWS:
 * - S3: only a PUT to a URL this endpoint issued, with its exact presigned query
 *   string, is accepted (else 403 SignatureDoesNotMatch, S3's error XML); the
 *   body needs a Content-Length (else 411 MissingContentLength). The signature is
 *   a random value per request, checked by comparison, not computed: a stand-in.
 * - CloudFormation: reads the stored body and checks it as it would: JSON under
 *   4 KB, Status SUCCESS or FAILED, the StackId, RequestId and
 *   LogicalResourceId of the request, a PhysicalResourceId of at most 1 KB, Data
 *   an object of scalar values. Problems are recorded with the answer (S3 accepts
 *   any body; CloudFormation is the one that fails the resource).
 */
import * as crypto from 'crypto';
import * as http from 'http';
import * as https from 'https';
import { AddressInfo } from 'net';
import { performance } from 'perf_hooks';

/** A PEM certificate and key to serve HTTPS with. */
export interface Tls {
  readonly cert: string;
  readonly key: string;
}

/** The body of a custom resource response. */
export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho?: boolean;
  readonly Data?: Record<string, unknown>;
}

/** One PUT that S3 accepted. */
export interface ReceivedAnswer {
  /** The parsed body, when it is JSON. */
  readonly response?: CfnResponse;
  /** What CloudFormation would reject in it; empty when valid. */
  readonly problems: readonly string[];
  readonly bytes: number;
  /** performance.now() in this process when it arrived. */
  readonly receivedAt: number;
}

/** What CloudFormation expects in the answer to one request. */
export interface ExpectedAnswer {
  readonly stackId: string;
  readonly requestId: string;
  readonly logicalResourceId: string;
  readonly region: string;
}

/** CloudFormation's limit on the response body. */
export const MAX_RESPONSE_BYTES = 4096;
/** CloudFormation's limit on a physical resource id. */
export const MAX_PHYSICAL_ID_LENGTH = 1024;

interface Issued {
  readonly expected: ExpectedAnswer;
  readonly query: string;
  readonly answers: ReceivedAnswer[];
}

export class ResponseEndpoint {
  /** Starts an endpoint on 127.0.0.1 with a free port: HTTPS with `tls`, else HTTP. */
  public static async start(tls?: Tls): Promise<ResponseEndpoint> {
    const endpoint = new ResponseEndpoint(tls);
    await new Promise<void>((resolve) => endpoint.server.listen(0, '127.0.0.1', resolve));
    return endpoint;
  }

  /** PUTs that were refused before reaching CloudFormation (wrong signature, method, …). */
  public readonly refused: string[] = [];
  /** How many PUTs were answered with an injected fault. */
  public faultsServed = 0;
  /** How many requests reached the endpoint, refused and failed ones included. */
  public attempts = 0;
  /** The signature of every URL issued: none may appear in the handler's logs. */
  public readonly signatures: string[] = [];

  private readonly server: http.Server | https.Server;
  private readonly protocol: 'http' | 'https';
  private readonly issued = new Map<string, Issued>();
  private failures = 0;

  private constructor(tls: Tls | undefined) {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res);
    this.server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, listener) : http.createServer(listener);
    this.protocol = tls ? 'https' : 'http';
  }

  /**
   * A presigned-style ResponseURL for one request, shaped like CloudFormation's
   * (bucket per Region, key from the stack ARN, logical id and request id, SigV4 query).
   * Returns the URL and its signature, which must never appear in the handler's logs.
   */
  public issue(expected: ExpectedAnswer): { readonly url: string; readonly signature: string } {
    const { port } = this.server.address() as AddressInfo;
    const signature = crypto.randomBytes(32).toString('hex');
    const date = '20260101T000000Z';
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Date': date,
      'X-Amz-SignedHeaders': 'host',
      'X-Amz-Expires': '7200',
      'X-Amz-Credential': `AKIAEXAMPLERESPONSE/${date.slice(0, 8)}/${expected.region}/s3/aws4_request`,
      'X-Amz-Signature': signature,
    }).toString();
    const key = encodeURIComponent(`${expected.stackId}|${expected.logicalResourceId}|${expected.requestId}`);
    const pathname = `/cloudformation-custom-resource-response-${expected.region.replace(/-/g, '')}/${key}`;
    this.issued.set(pathname, { expected, query, answers: [] });
    this.signatures.push(signature);
    return { url: `${this.protocol}://127.0.0.1:${port}${pathname}?${query}`, signature };
  }

  /** The accepted PUTs for one request id, in order of arrival. */
  public answersFor(requestId: string): readonly ReceivedAnswer[] {
    for (const issued of this.issued.values()) {
      if (issued.expected.requestId === requestId) {
        return issued.answers;
      }
    }
    return [];
  }

  /** Answers the next `n` PUTs with S3's 500 InternalError, as S3 occasionally does. */
  public failNext(n: number): void {
    this.failures = n;
  }

  public async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.attempts++;
      const url = new URL(req.url ?? '/', `${this.protocol}://127.0.0.1`);
      const issued = this.issued.get(url.pathname);
      const refuse = (status: number, code: string, message: string) => {
        this.refused.push(`${req.method} ${url.pathname}: ${code}`);
        s3Error(res, status, code, message);
      };
      if (!issued || !sameQuery(url.search.slice(1), issued.query)) {
        return refuse(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
      }
      if (req.method !== 'PUT') {
        return refuse(403, 'SignatureDoesNotMatch', `The URL is presigned for PUT, not ${req.method}.`);
      }
      if (req.headers['content-length'] === undefined) {
        return refuse(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
      }
      if (this.failures > 0) {
        this.failures--;
        this.faultsServed++;
        return s3Error(res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      }
      const raw = Buffer.concat(chunks);
      const { response, problems } = check(raw, issued.expected);
      issued.answers.push({ response, problems, bytes: raw.length, receivedAt: performance.now() });
      res.writeHead(200, { 'etag': `"${crypto.createHash('md5').update(raw).digest('hex')}"`, 'content-length': 0 });
      res.end();
    });
  }
}

/** Checks a response body as CloudFormation would. */
function check(raw: Buffer, expected: ExpectedAnswer): { response?: CfnResponse; problems: string[] } {
  const problems: string[] = [];
  if (raw.length >= MAX_RESPONSE_BYTES) {
    problems.push(`the body is ${raw.length} bytes; CloudFormation takes under ${MAX_RESPONSE_BYTES}`);
  }
  let response: CfnResponse | undefined;
  try {
    response = JSON.parse(raw.toString('utf8'));
  } catch {
    problems.push('the body is not JSON');
    return { problems };
  }
  if (typeof response !== 'object' || response === null || Array.isArray(response)) {
    problems.push('the body is not a JSON object');
    return { problems };
  }
  if (response.Status !== 'SUCCESS' && response.Status !== 'FAILED') {
    problems.push(`Status is ${JSON.stringify(response.Status)}, not SUCCESS or FAILED`);
  }
  const ids: Array<[keyof CfnResponse, string]> = [
    ['StackId', expected.stackId],
    ['RequestId', expected.requestId],
    ['LogicalResourceId', expected.logicalResourceId],
  ];
  for (const [key, value] of ids) {
    if (response[key] !== value) {
      problems.push(`${key} is ${JSON.stringify(response[key])}, the request's is ${JSON.stringify(value)}`);
    }
  }
  const physicalId = response.PhysicalResourceId;
  if (typeof physicalId !== 'string' || physicalId === '') {
    problems.push(`PhysicalResourceId is ${JSON.stringify(physicalId)}: a non-empty string is required`);
  } else if (physicalId.length > MAX_PHYSICAL_ID_LENGTH) {
    problems.push(`PhysicalResourceId is ${physicalId.length} characters; the limit is ${MAX_PHYSICAL_ID_LENGTH}`);
  }
  if (response.Reason !== undefined && typeof response.Reason !== 'string') {
    problems.push('Reason is not a string');
  }
  if (response.NoEcho !== undefined && typeof response.NoEcho !== 'boolean') {
    problems.push('NoEcho is not a boolean');
  }
  if (response.Data !== undefined) {
    if (typeof response.Data !== 'object' || response.Data === null || Array.isArray(response.Data)) {
      problems.push('Data is not an object');
    } else {
      for (const [key, value] of Object.entries(response.Data)) {
        if (typeof value === 'object' && value !== null) {
          problems.push(`Data.${key} is not a scalar`);
        }
      }
    }
  }
  return { response, problems };
}

function sameQuery(a: string, b: string): boolean {
  const norm = (q: string) => [...new URLSearchParams(q)].map(([k, v]) => `${k}=${v}`).sort().join('&');
  return norm(a) === norm(b);
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>E2E0000000000000</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}
