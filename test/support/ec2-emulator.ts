/**
 * A local EC2 endpoint for GetInstanceMetadataDefaults and
 * ModifyInstanceMetadataDefaults that speaks the EC2 Query protocol, so tests
 * can drive the real `@aws-sdk/client-ec2` (via `endpoint` or
 * AWS_ENDPOINT_URL_EC2) without reaching AWS. Listens on 127.0.0.1 only.
 *
 * Faithful to the EC2 API reference where it matters to the handler:
 * - form-encoded POST with Action and Version; XML responses in the EC2
 *   namespace; errors as `<Response><Errors><Error><Code>…` with EC2's codes and
 *   HTTP statuses (InvalidParameterValue 400, UnknownParameter 400,
 *   UnauthorizedOperation 403, RequestLimitExceeded 503, InternalError 500);
 * - a SigV4 Authorization header is required and its signature is checked
 *   against the test credentials (a body changed after signing is rejected with
 *   AuthFailure 401, as EC2 does); the Region comes from the credential scope and
 *   state is kept per Region; a session token (X-Amz-Security-Token, as Lambda's
 *   temporary credentials carry) must be signed and must be TEST_SESSION_TOKEN;
 * - injected faults answer with the code, HTTP status and message text EC2 uses
 *   (DryRunOperation is 412, as EC2 answers a successful dry run);
 * - values are validated as Modify documents them; `no-preference` and a hop
 *   limit of -1 clear a field, and Get omits fields that have no value;
 * - ManagedBy / ManagedExceptionMessage for accounts under a declarative policy.
 *
 * Simplifications (said here so no test relies on them being real EC2):
 * - one account; Regions are independent maps;
 * - Modify under a declarative policy fails with `OperationNotPermitted` 400:
 *   the real code is not documented (the handler decides from Get, not the code);
 * - a Modify with no setting at all is accepted as a no-op;
 * - `knowsHttpTokensEnforced: false` emulates an EC2 before 2026-02-24, which
 *   rejects the parameter as unknown;
 * - the session token is compared with a constant, not checked for expiry;
 * - only POST is served (EC2 also takes GET; the SDK always POSTs).
 */
import * as crypto from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDLOCALEMULATOR', secretAccessKey: 'local-emulator-secret' };
/** The only session token the emulator accepts when a request carries one (Lambda's credentials always do). */
export const TEST_SESSION_TOKEN = 'local-emulator-session-token';
export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** The account-level state of one Region, as EC2 keeps it (only set fields present). */
export interface RegionState {
  HttpTokens?: string;
  HttpTokensEnforced?: string;
  HttpPutResponseHopLimit?: number;
  HttpEndpoint?: string;
  InstanceMetadataTags?: string;
}

/** One recorded request: the action, its Region, and its form parameters. */
export interface RecordedRequest {
  readonly action: string;
  readonly region: string;
  readonly params: Record<string, string>;
  /** The EC2 error code of an injected fault this request was answered with. */
  readonly fault?: string;
}

/** A fault to inject into the next matching requests. */
export interface Fault {
  /** EC2 error code, e.g. RequestLimitExceeded, InternalError, UnauthorizedOperation. */
  readonly code: string;
  /** How many requests it applies to. */
  readonly times: number;
  /** Only this action (default: any). */
  readonly action?: string;
  /** Let this many matching requests through first (default 0). */
  readonly after?: number;
}

const ERROR_STATUS: Record<string, number> = {
  DryRunOperation: 412,
  RequestLimitExceeded: 503,
  InternalError: 500,
  Unavailable: 503,
  UnauthorizedOperation: 403,
  AuthFailure: 401,
  InvalidParameterValue: 400,
  UnknownParameter: 400,
  InvalidAction: 400,
  MissingParameter: 400,
  OperationNotPermitted: 400,
};

/** The message text EC2 sends with each code, for injected faults (the account and role are made up). */
const FAULT_MESSAGES: Record<string, string> = {
  RequestLimitExceeded: 'Request limit exceeded.',
  InternalError: 'An internal error has occurred',
  Unavailable: 'The server is overloaded and can\'t handle the request.',
  UnauthorizedOperation: 'You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/ImdsRole/ImdsHandler is not authorized to perform: ec2:{action} because no identity-based policy allows the ec2:{action} action',
};

const ENUM_VALUES: Record<string, readonly string[]> = {
  HttpTokens: ['optional', 'required', 'no-preference'],
  HttpTokensEnforced: ['disabled', 'enabled', 'no-preference'],
  HttpEndpoint: ['disabled', 'enabled', 'no-preference'],
  InstanceMetadataTags: ['disabled', 'enabled', 'no-preference'],
};

/** The XML element EC2 uses for each field (lower camel case). */
const ELEMENTS: ReadonlyArray<[keyof RegionState, string]> = [
  ['HttpTokens', 'httpTokens'],
  ['HttpPutResponseHopLimit', 'httpPutResponseHopLimit'],
  ['HttpEndpoint', 'httpEndpoint'],
  ['InstanceMetadataTags', 'instanceMetadataTags'],
  ['HttpTokensEnforced', 'httpTokensEnforced'],
];

class Ec2Error extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
  }
}

export class Ec2Emulator {
  /** Starts an emulator on 127.0.0.1 with a free port. */
  public static async start(): Promise<Ec2Emulator> {
    const emulator = new Ec2Emulator();
    await new Promise<void>((resolve) => emulator.server.listen(0, '127.0.0.1', resolve));
    return emulator;
  }

  /** Every request that reached an action, in order (rejected ones included). */
  public readonly requests: RecordedRequest[] = [];
  /** ManagedBy per Region; absent means `account`. */
  public readonly managedBy = new Map<string, { message: string }>();
  /** Whether the emulated EC2 knows HttpTokensEnforced (it does since 2026-02-24). */
  public knowsHttpTokensEnforced = true;
  /** When set, requests are accepted but never answered. */
  public hang = false;
  /** How many requests were answered with an injected fault. */
  public faultsServed = 0;
  /** How many requests were held unanswered because of `hang`. */
  public requestsHeld = 0;

  private readonly states = new Map<string, RegionState>();
  private readonly faults: Array<{ code: string; remaining: number; action?: string; skip: number }> = [];
  private readonly server: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();
  private requestCounter = 0;

  private constructor() {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  /** The endpoint URL, for `endpoint` or AWS_ENDPOINT_URL_EC2. */
  public get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The account-level state of a Region (a copy). */
  public state(region: string): RegionState {
    return { ...(this.states.get(region) ?? {}) };
  }

  /** Sets the account-level state of a Region, as if changed outside the stack. */
  public setState(region: string, state: RegionState): void {
    this.states.set(region, { ...state });
  }

  /** Makes the next `times` requests (of `action`, if given) fail with an EC2 error. */
  public injectFault(fault: Fault): void {
    this.faults.push({ code: fault.code, remaining: fault.times, action: fault.action, skip: fault.after ?? 0 });
  }

  /** Drops the faults not yet used up. */
  public clearFaults(): void {
    this.faults.length = 0;
  }

  /** Puts a Region under a declarative policy (ManagedBy: declarative-policy), or takes it out. */
  public setDeclarativePolicy(region: string, exceptionMessage: string | undefined): void {
    if (exceptionMessage === undefined) {
      this.managedBy.delete(region);
    } else {
      this.managedBy.set(region, { message: exceptionMessage });
    }
  }

  /** The requests of one action. */
  public requestsOf(action: string): RecordedRequest[] {
    return this.requests.filter((r) => r.action === action);
  }

  public async stop(): Promise<void> {
    for (const res of this.hanging) {
      res.destroy();
    }
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const requestId = `00000000-0000-4000-8000-${String(++this.requestCounter).padStart(12, '0')}`;
      if (this.hang) {
        this.requestsHeld++;
        this.hanging.add(res);
        return;
      }
      try {
        const { status, xml } = this.handle(req, body, requestId);
        send(res, status, xml, requestId);
      } catch (err) {
        const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', String(err));
        send(res, ERROR_STATUS[e.code] ?? 400, errorXml(e.code, e.message, requestId), requestId);
      }
    });
  }

  private handle(req: http.IncomingMessage, body: string, requestId: string): { status: number; xml: string } {
    if (req.method !== 'POST') {
      throw new Ec2Error('InvalidAction', `EC2 Query requests are POSTs here, got ${req.method}`);
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      throw new Ec2Error('InvalidParameterValue', 'expected a form-encoded body');
    }
    const region = verifySignature(req, body);
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    this.requests.push({ action, region, params });

    if (params.Version !== '2016-11-15') {
      throw new Ec2Error('InvalidParameterValue', `unsupported Version ${params.Version}`);
    }
    const fault = this.faults.find((f) => f.remaining > 0 && (f.action === undefined || f.action === action));
    if (fault && fault.skip > 0) {
      fault.skip--;
    } else if (fault) {
      fault.remaining--;
      this.faultsServed++;
      this.requests[this.requests.length - 1] = { action, region, params, fault: fault.code };
      throw new Ec2Error(fault.code, (FAULT_MESSAGES[fault.code] ?? `injected ${fault.code}`).replace(/\{action\}/g, action));
    }

    switch (action) {
      case 'GetInstanceMetadataDefaults':
        return { status: 200, xml: this.get(region, requestId) };
      case 'ModifyInstanceMetadataDefaults':
        return { status: 200, xml: this.modify(region, params, requestId) };
      default:
        throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private get(region: string, requestId: string): string {
    const state = this.states.get(region) ?? {};
    const policy = this.managedBy.get(region);
    const fields = ELEMENTS
      .filter(([key]) => state[key] !== undefined && (key !== 'HttpTokensEnforced' || this.knowsHttpTokensEnforced))
      .map(([key, element]) => `<${element}>${escapeXml(String(state[key]))}</${element}>`);
    fields.push(`<managedBy>${policy ? 'declarative-policy' : 'account'}</managedBy>`);
    if (policy) {
      fields.push(`<managedExceptionMessage>${escapeXml(policy.message)}</managedExceptionMessage>`);
    }
    return `<?xml version="1.0" encoding="UTF-8"?>
<GetInstanceMetadataDefaultsResponse xmlns="${EC2_NAMESPACE}">
    <requestId>${requestId}</requestId>
    <accountLevel>${fields.join('')}</accountLevel>
</GetInstanceMetadataDefaultsResponse>`;
  }

  private modify(region: string, params: Record<string, string>, requestId: string): string {
    const known = new Set(['Action', 'Version', 'DryRun', 'HttpTokens', 'HttpPutResponseHopLimit', 'HttpEndpoint', 'InstanceMetadataTags']);
    if (this.knowsHttpTokensEnforced) {
      known.add('HttpTokensEnforced');
    }
    for (const name of Object.keys(params)) {
      if (!known.has(name)) {
        throw new Ec2Error('UnknownParameter', `The parameter ${name} is not recognized`);
      }
    }
    const next: RegionState = { ...(this.states.get(region) ?? {}) };
    for (const [key, allowed] of Object.entries(ENUM_VALUES)) {
      const value = params[key];
      if (value === undefined) continue;
      if (!allowed.includes(value)) {
        throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter ${key} is invalid. Valid values: ${allowed.join(', ')}`);
      }
      if (value === 'no-preference') {
        delete (next as Record<string, unknown>)[key];
      } else {
        (next as Record<string, unknown>)[key] = value;
      }
    }
    const hop = params.HttpPutResponseHopLimit;
    if (hop !== undefined) {
      const n = /^-?\d+$/.test(hop) ? Number(hop) : NaN;
      if (n !== -1 && !(n >= 1 && n <= 64)) {
        throw new Ec2Error('InvalidParameterValue', `Value (${hop}) for parameter HttpPutResponseHopLimit is invalid. Valid values: 1 to 64, or -1 for no preference`);
      }
      if (n === -1) {
        delete next.HttpPutResponseHopLimit;
      } else {
        next.HttpPutResponseHopLimit = n;
      }
    }
    if (this.managedBy.has(region)) {
      throw new Ec2Error('OperationNotPermitted', 'The instance metadata defaults are managed by a declarative policy and cannot be modified.');
    }
    if (params.DryRun === 'true') {
      throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    }
    this.states.set(region, next);
    return `<?xml version="1.0" encoding="UTF-8"?>
<ModifyInstanceMetadataDefaultsResponse xmlns="${EC2_NAMESPACE}">
    <requestId>${requestId}</requestId>
    <return>true</return>
</ModifyInstanceMetadataDefaultsResponse>`;
  }
}

function send(res: http.ServerResponse, status: number, xml: string, requestId: string): void {
  // EC2 also sends the request ID as a header, which is where the SDK's $metadata.requestId comes from.
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(xml), 'x-amzn-requestid': requestId });
  res.end(xml);
}

function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const sha256 = (data: string) => crypto.createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: crypto.BinaryLike, data: string) => crypto.createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * Checks the SigV4 signature of a request against TEST_CREDENTIALS and returns
 * the Region of its credential scope. Throws AuthFailure otherwise.
 */
function verifySignature(req: http.IncomingMessage, body: string): string {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/ec2\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) {
    throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials (missing or malformed SigV4 Authorization header)');
  }
  const [, accessKeyId, date, region, signedHeaders, signature] = m;
  if (accessKeyId !== TEST_CREDENTIALS.accessKeyId) {
    throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials');
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const headers = signedHeaders.split(';');
  const canonicalHeaders = headers.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const url = new URL(req.url ?? '/', 'http://localhost');
  const canonicalQuery = [...url.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const sessionToken = req.headers['x-amz-security-token'];
  if (sessionToken !== undefined && (sessionToken !== TEST_SESSION_TOKEN || !signedHeaders.split(';').includes('x-amz-security-token'))) {
    throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials (unknown or unsigned session token)');
  }
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? sha256(body));
  if (payloadHash !== sha256(body)) {
    throw new Ec2Error('AuthFailure', 'The request body does not match its signed payload hash');
  }
  const canonicalRequest = [req.method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/ec2/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${TEST_CREDENTIALS.secretAccessKey}`, date), region), 'ec2'), 'aws4_request');
  const expected = crypto.createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  if (expected !== signature) {
    throw new Ec2Error('AuthFailure', 'The request signature we calculated does not match the signature you provided.');
  }
  return region;
}
