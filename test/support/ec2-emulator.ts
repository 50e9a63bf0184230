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
import * as http from 'http';
import { LocalEndpoint, Reply, TEST_ROLE_ARN, escapeXml } from './local-endpoint';
import { SigV4Error, verifySigV4 } from './sigv4';

export { TEST_CREDENTIALS, TEST_SESSION_TOKEN } from './sigv4';
export { Fault } from './local-endpoint';
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
  UnauthorizedOperation: `You are not authorized to perform this operation. User: ${TEST_ROLE_ARN} is not authorized to perform: ec2:{action} because no identity-based policy allows the ec2:{action} action`,
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

export class Ec2Emulator extends LocalEndpoint<RecordedRequest> {
  /** Starts an emulator on 127.0.0.1 with a free port. */
  public static async start(): Promise<Ec2Emulator> {
    const emulator = new Ec2Emulator();
    await emulator.listen();
    return emulator;
  }

  /** ManagedBy per Region; absent means `account`. */
  public readonly managedBy = new Map<string, { message: string }>();
  /** Whether the emulated EC2 knows HttpTokensEnforced (it does since 2026-02-24). */
  public knowsHttpTokensEnforced = true;

  private readonly states = new Map<string, RegionState>();

  private constructor() {
    super();
  }

  /** The account-level state of a Region (a copy). */
  public state(region: string): RegionState {
    return { ...(this.states.get(region) ?? {}) };
  }

  /** Sets the account-level state of a Region, as if changed outside the stack. */
  public setState(region: string, state: RegionState): void {
    this.states.set(region, { ...state });
  }

  /** Puts a Region under a declarative policy (ManagedBy: declarative-policy), or takes it out. */
  public setDeclarativePolicy(region: string, exceptionMessage: string | undefined): void {
    if (exceptionMessage === undefined) {
      this.managedBy.delete(region);
    } else {
      this.managedBy.set(region, { message: exceptionMessage });
    }
  }

  protected respond(req: http.IncomingMessage, body: string, requestId: string): Reply {
    try {
      return { status: 200, contentType: 'text/xml;charset=UTF-8', body: this.handle(req, body, requestId) };
    } catch (err) {
      const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', String(err));
      return { status: ERROR_STATUS[e.code] ?? 400, contentType: 'text/xml;charset=UTF-8', body: errorXml(e.code, e.message, requestId) };
    }
  }

  private handle(req: http.IncomingMessage, body: string, requestId: string): string {
    if (req.method !== 'POST') {
      throw new Ec2Error('InvalidAction', `EC2 Query requests are POSTs here, got ${req.method}`);
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      throw new Ec2Error('InvalidParameterValue', 'expected a form-encoded body');
    }
    let region: string;
    try {
      region = verifySigV4(req, body, 'ec2');
    } catch (err) {
      // EC2 answers every signature problem with AuthFailure 401.
      throw err instanceof SigV4Error ? new Ec2Error('AuthFailure', err.message) : err;
    }
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    if (params.Version !== '2016-11-15') {
      throw new Ec2Error('InvalidParameterValue', `unsupported Version ${params.Version}`);
    }
    const fault = this.record({ action, region, params });
    if (fault) {
      throw new Ec2Error(fault, (FAULT_MESSAGES[fault] ?? `injected ${fault}`).replace(/\{action\}/g, action));
    }

    switch (action) {
      case 'GetInstanceMetadataDefaults':
        return this.get(region, requestId);
      case 'ModifyInstanceMetadataDefaults':
        return this.modify(region, params, requestId);
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

function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}
