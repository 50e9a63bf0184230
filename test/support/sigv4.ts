/**
 * SigV4 verification shared by the local AWS endpoints (EC2, SSM,
 * CloudFormation): a request must carry an `AWS4-HMAC-SHA256` Authorization
 * header for TEST_CREDENTIALS, scoped to the emulated service, whose signature
 * matches the request as it arrived (method, path, query, signed headers and
 * body). A session token (X-Amz-Security-Token, as Lambda's temporary
 * credentials carry) must be signed and must be TEST_SESSION_TOKEN.
 *
 * Each service words its authentication errors differently (EC2: AuthFailure
 * 401; JSON services: InvalidSignatureException 400, ...; Query services:
 * SignatureDoesNotMatch 403, ...), so this module only says what failed and
 * each emulator answers with its service's code.
 *
 * Simplifications: the X-Amz-Date is not compared with the clock (AWS refuses
 * requests more than 15 minutes off), and the session token is compared with a
 * constant, not checked for expiry.
 */
import * as crypto from 'crypto';
import * as http from 'http';

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDLOCALEMULATOR', secretAccessKey: 'local-emulator-secret' };

/**
 * Another principal's access key, which every emulator accepts as well (with
 * TEST_CREDENTIALS' secret and TEST_SESSION_TOKEN): TEST_CREDENTIALS' key id
 * followed by `suffix` (letters and digits). The SSM emulator records who
 * wrote a parameter by access key (SsmEmulator.setCaller).
 */
export function testAccessKeyId(suffix: string): string {
  if (!/^[A-Z0-9]{1,40}$/.test(suffix)) {
    throw new Error(`an access key suffix is upper-case letters and digits: ${suffix}`);
  }
  return `${TEST_CREDENTIALS.accessKeyId}${suffix}`;
}

/** The access key id of a request's SigV4 Authorization header (undefined when it has none). */
export function accessKeyIdOf(req: http.IncomingMessage): string | undefined {
  return /^AWS4-HMAC-SHA256 Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
}
/** The only session token the emulators accept when a request carries one (Lambda's credentials always do). */
export const TEST_SESSION_TOKEN = 'local-emulator-session-token';

/**
 * What is wrong with a request's signature:
 * - `missing`: no or a malformed SigV4 Authorization header;
 * - `unknown-key`: an access key other than TEST_CREDENTIALS' (or a testAccessKeyId);
 * - `session-token`: a session token that is unknown or not signed;
 * - `scope`: a credential scope for another service;
 * - `payload`: a body that does not match its signed payload hash;
 * - `signature`: a signature that does not match the request.
 */
export type SigV4Failure = 'missing' | 'unknown-key' | 'session-token' | 'scope' | 'payload' | 'signature';

export class SigV4Error extends Error {
  constructor(public readonly failure: SigV4Failure, message: string) {
    super(message);
  }
}

const sha256 = (data: string | Buffer) => (typeof data === 'string'
  ? crypto.createHash('sha256').update(data, 'utf8') : crypto.createHash('sha256').update(data)).digest('hex');
const hmac = (key: crypto.BinaryLike, data: string) => crypto.createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * Checks the SigV4 signature of a request to `service` (the signing name:
 * `ec2`, `ssm`, `cloudformation`) against TEST_CREDENTIALS and returns the
 * Region of its credential scope. Throws SigV4Error otherwise.
 */
export function verifySigV4(req: http.IncomingMessage, body: string | Buffer, service: string): string {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) {
    throw new SigV4Error('missing', 'AWS was not able to validate the provided access credentials (missing or malformed SigV4 Authorization header)');
  }
  const [, accessKeyId, date, region, scopeService, signedHeaders, signature] = m;
  const suffix = accessKeyId.startsWith(TEST_CREDENTIALS.accessKeyId) ? accessKeyId.slice(TEST_CREDENTIALS.accessKeyId.length) : undefined;
  if (suffix === undefined || !/^[A-Z0-9]{0,40}$/.test(suffix)) {
    throw new SigV4Error('unknown-key', 'AWS was not able to validate the provided access credentials');
  }
  if (scopeService !== service) {
    throw new SigV4Error('scope', `Credential should be scoped to correct service: '${service}'.`);
  }
  const headers = signedHeaders.split(';');
  const sessionToken = req.headers['x-amz-security-token'];
  if (sessionToken !== undefined && (sessionToken !== TEST_SESSION_TOKEN || !headers.includes('x-amz-security-token'))) {
    throw new SigV4Error('session-token', 'AWS was not able to validate the provided access credentials (unknown or unsigned session token)');
  }
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? sha256(body));
  if (payloadHash !== sha256(body)) {
    throw new SigV4Error('payload', 'The request body does not match its signed payload hash');
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const canonicalHeaders = headers.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const url = new URL(req.url ?? '/', 'http://localhost');
  const canonicalQuery = [...url.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const canonicalRequest = [req.method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${TEST_CREDENTIALS.secretAccessKey}`, date), region), service), 'aws4_request');
  const expected = crypto.createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  if (expected !== signature) {
    throw new SigV4Error('signature', 'The request signature we calculated does not match the signature you provided.');
  }
  return region;
}
