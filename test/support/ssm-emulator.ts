/**
 * A local SSM Parameter Store endpoint for PutParameter, GetParameter,
 * GetParametersByPath, GetParameterHistory and DeleteParameter that speaks the AWS JSON 1.1
 * protocol, so tests can drive the real `@aws-sdk/client-ssm` (via `endpoint`
 * or AWS_ENDPOINT_URL_SSM) without reaching AWS. Listens on 127.0.0.1 only.
 *
 * Faithful to the SSM API reference where it matters to the handler:
 * - a signed POST to `/` with `Content-Type: application/x-amz-json-1.1` and
 *   `X-Amz-Target: AmazonSSM.<Action>`, a JSON body, JSON answers; timestamps
 *   as epoch seconds (JSON 1.1's default);
 * - errors as JSON 1.1 error bodies `{"__type":"<Code>","message":"…"}` with
 *   the code and HTTP status SSM uses (ParameterNotFound 400 with no message,
 *   ParameterAlreadyExists 400, ValidationException 400,
 *   HierarchyLevelLimitExceededException 400, InvalidNextToken 400,
 *   AccessDeniedException 400, ThrottlingException 400, InternalServerError 500,
 *   UnknownOperationException 400, SerializationException 400);
 * - SigV4 is checked (test/support/sigv4.ts) and answered as JSON services do
 *   (MissingAuthenticationTokenException, UnrecognizedClientException,
 *   InvalidSignatureException, all 400); the Region comes from the credential
 *   scope and parameters are kept per Region;
 * - PutParameter: a new parameter needs a Type; an existing one is replaced
 *   only with `Overwrite: true` (ParameterAlreadyExists otherwise), its Version
 *   goes up by one and its Type is kept when none is given; Tags and Overwrite
 *   together are refused; the Standard tier holds values of up to 4096
 *   characters (Advanced 8192); AllowedPattern is enforced; the answer is
 *   `{ Version, Tier }`;
 * - parameter names: letters, digits, `.`, `-`, `_` and `/`; a name with a `/`
 *   must begin with one (a hierarchy); at most 15 levels; not beginning with
 *   `aws` or `ssm` (case-insensitive, with or without the leading `/`); at most
 *   1011 characters with the ARN prefix;
 * - GetParametersByPath: the Path begins with `/`; `Recursive: false` returns
 *   only the direct children of the Path; MaxResults is 1..10 (default 10);
 *   NextToken pages through the rest (a page ends where MaxResults says, the
 *   token picks up after the last name it returned, so parameters deleted
 *   between pages do not shift the next page);
 * - parameters carry Name, Type, Value, Version, LastModifiedDate, ARN and
 *   DataType (`text`);
 * - GetParameterHistory: every version of a parameter (Name, Type, Value,
 *   Version, LastModifiedDate, LastModifiedUser, Tier, DataType, Labels,
 *   Policies), oldest first; MaxResults 1..50; NextToken pages through the rest;
 *   ParameterNotFound (no message) for a name without versions. DeleteParameter
 *   deletes the history with the parameter (a parameter created again starts at
 *   version 1);
 * - LastModifiedUser is the ARN of the caller: the principal of the request's
 *   access key (setCaller; TEST_USER_ARN for a key without one), or the one
 *   setParameter is given.
 *
 * Simplifications (said here so no test relies on them being real SSM):
 * - one account (123456789012); Regions are independent maps;
 * - SecureString values are stored and returned as given (no KMS; WithDecryption
 *   changes nothing); only DataType `text`; no labels, policies or version
 *   selectors (`name:3`); the 100-version limit is not enforced (SSM drops the
 *   oldest unlabelled version); GetParameterHistory's default page size is
 *   not documented: 50 here; which ARN SSM records as LastModifiedUser for a
 *   caller with an assumed role is not documented either: the one setCaller
 *   names (the harness: the assumed-role session ARN);
 * - an access key is one of TEST_CREDENTIALS' or testAccessKeyId's (sigv4.ts),
 *   and a caller is whatever setCaller says, not an IAM principal;
 * - `foo` and `/foo` are different names (in SSM they are the same parameter),
 *   and for Path `/` the direct children include names without any `/`;
 * - GetParametersByPath ParameterFilters are refused (ValidationException)
 *   rather than applied;
 * - results come in name order (SSM's order is unspecified, and SSM may answer a
 *   page with fewer than MaxResults parameters and a NextToken: callers must
 *   follow NextToken, not count);
 * - the x-amzn-query-error header of awsQuery-compatible services is not sent
 *   (the SDK then takes the code from `__type`, as it does for SSM's own errors);
 * - only POST to `/` is served.
 */
import * as http from 'http';
import { LocalEndpoint, Reply, TEST_ACCOUNT, TEST_ROLE_ARN } from './local-endpoint';
import { SigV4Error, accessKeyIdOf, verifySigV4 } from './sigv4';

export { TEST_CREDENTIALS, TEST_SESSION_TOKEN, testAccessKeyId } from './sigv4';

/** The caller recorded for an access key that setCaller does not name (and for setParameter by default). */
export const TEST_USER_ARN = `arn:aws:iam::${TEST_ACCOUNT}:user/test-user`;

/** One version of a parameter as SSM keeps it. */
export interface StoredParameter {
  Name: string;
  Value: string;
  Type: string;
  Tier: string;
  Version: number;
  LastModifiedDate: Date;
  /** The ARN of the caller that wrote this version. */
  LastModifiedUser: string;
  DataType: string;
  Description?: string;
}

/** One recorded request: the action (from X-Amz-Target), its Region, and its JSON input. */
export interface SsmRecordedRequest {
  readonly action: string;
  readonly region: string;
  readonly input: any;
  /** The caller's ARN (setCaller, by the request's access key). */
  readonly caller?: string;
  /** The SSM error code of an injected fault this request was answered with. */
  readonly fault?: string;
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'AmazonSSM.';

const ERROR_STATUS: Record<string, number> = {
  InternalServerError: 500,
  ServiceUnavailable: 503,
};

/** The message text SSM sends with each injectable code ({action} and {resource} filled in). */
const FAULT_MESSAGES: Record<string, string> = {
  AccessDeniedException: `User: ${TEST_ROLE_ARN} is not authorized to perform: ssm:{action} on resource: {resource} because no identity-based policy allows the ssm:{action} action`,
  ThrottlingException: 'Rate exceeded',
  InternalServerError: 'An error occurred on the server side.',
};

const TYPES = ['String', 'StringList', 'SecureString'];
const TIERS: Record<string, number> = { 'Standard': 4096, 'Advanced': 8192, 'Intelligent-Tiering': 8192 };

class SsmError extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
  }
}

export class SsmEmulator extends LocalEndpoint<SsmRecordedRequest> {
  /** Starts an emulator on 127.0.0.1 with a free port. */
  public static async start(): Promise<SsmEmulator> {
    const emulator = new SsmEmulator();
    await emulator.listen();
    return emulator;
  }

  private readonly regions = new Map<string, Map<string, StoredParameter>>();
  /** Every version of each parameter, oldest first, per Region. */
  private readonly histories = new Map<string, Map<string, StoredParameter[]>>();
  private readonly callers = new Map<string, string>();

  private constructor() {
    super();
  }

  /** Records writes made with `accessKeyId` as made by `arn` (LastModifiedUser). */
  public setCaller(accessKeyId: string, arn: string): void {
    this.callers.set(accessKeyId, arn);
  }

  /** The parameters of a Region by name (a copy). */
  public parameters(region: string): Map<string, StoredParameter> {
    return new Map([...this.store(region)].map(([name, p]) => [name, { ...p }]));
  }

  /** Every version of a parameter, oldest first (a copy; empty when it does not exist). */
  public history(region: string, name: string): StoredParameter[] {
    return (this.historyOf(region).get(name) ?? []).map((p) => ({ ...p }));
  }

  /**
   * Puts a String parameter as if written outside the handler (e.g. another
   * stack's claim, or a malformed one) by `lastModifiedUser`: a new version if
   * it exists. The name is not validated, so tests can seed what SSM would hold.
   */
  public setParameter(region: string, name: string, value: string, lastModifiedUser = TEST_USER_ARN): void {
    const previous = this.store(region).get(name);
    this.keep(region, {
      Name: name,
      Value: value,
      Type: previous?.Type ?? 'String',
      Tier: previous?.Tier ?? 'Standard',
      Version: (previous?.Version ?? 0) + 1,
      LastModifiedDate: new Date(),
      LastModifiedUser: lastModifiedUser,
      DataType: 'text',
    });
  }

  /** Deletes a parameter (and its history) as if deleted outside the handler (nothing if it does not exist). */
  public deleteParameter(region: string, name: string): void {
    this.store(region).delete(name);
    this.historyOf(region).delete(name);
  }

  /** The request id travels in the x-amzn-requestid header only: JSON bodies do not carry it. */
  protected respond(req: http.IncomingMessage, body: string, _requestId: string): Reply {
    try {
      return { status: 200, contentType: CONTENT_TYPE, body: JSON.stringify(this.handle(req, body)) };
    } catch (err) {
      const e = err instanceof SsmError ? err : new SsmError('InternalServerError', String(err));
      const error: Record<string, string> = { __type: e.code };
      if (e.message) {
        error.message = e.message;
      }
      return { status: ERROR_STATUS[e.code] ?? 400, contentType: CONTENT_TYPE, body: JSON.stringify(error) };
    }
  }

  private store(region: string): Map<string, StoredParameter> {
    let store = this.regions.get(region);
    if (!store) {
      store = new Map();
      this.regions.set(region, store);
    }
    return store;
  }

  private historyOf(region: string): Map<string, StoredParameter[]> {
    let history = this.histories.get(region);
    if (!history) {
      history = new Map();
      this.histories.set(region, history);
    }
    return history;
  }

  /** Stores a new version: the parameter's latest, and one more in its history. */
  private keep(region: string, version: StoredParameter): void {
    this.store(region).set(version.Name, version);
    const history = this.historyOf(region);
    history.set(version.Name, [...(history.get(version.Name) ?? []), { ...version }]);
  }

  private handle(req: http.IncomingMessage, body: string): unknown {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://localhost').pathname !== '/') {
      throw new SsmError('UnknownOperationException', '');
    }
    let region: string;
    try {
      region = verifySigV4(req, body, 'ssm');
    } catch (err) {
      throw err instanceof SigV4Error ? authError(err) : err;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!target.startsWith(TARGET_PREFIX)) {
      throw new SsmError('UnknownOperationException', '');
    }
    const action = target.slice(TARGET_PREFIX.length);
    if (!String(req.headers['content-type'] ?? '').startsWith(CONTENT_TYPE)) {
      throw new SsmError('SerializationException', `Content-Type must be ${CONTENT_TYPE}`);
    }
    let input: any;
    try {
      input = body === '' ? {} : JSON.parse(body);
    } catch {
      throw new SsmError('SerializationException', 'Start of structure or map found where not expected.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new SsmError('SerializationException', 'Start of structure or map found where not expected.');
    }
    const accessKeyId = accessKeyIdOf(req);
    const caller = (accessKeyId !== undefined ? this.callers.get(accessKeyId) : undefined) ?? TEST_USER_ARN;
    const fault = this.record({ action, region, input, caller });
    if (fault) {
      const resource = `arn:aws:ssm:${region}:${TEST_ACCOUNT}:parameter${withSlash(String(input.Name ?? input.Path ?? ''))}`;
      throw new SsmError(fault, (FAULT_MESSAGES[fault] ?? `injected ${fault}`).replace(/\{action\}/g, action).replace(/\{resource\}/g, resource));
    }

    switch (action) {
      case 'PutParameter':
        return this.put(region, input, caller);
      case 'GetParameter':
        return { Parameter: this.describe(region, this.existing(region, input.Name)) };
      case 'GetParametersByPath':
        return this.byPath(region, input);
      case 'GetParameterHistory':
        return this.versions(region, input);
      case 'DeleteParameter':
        this.existing(region, input.Name);
        this.deleteParameter(region, input.Name);
        return {};
      default:
        throw new SsmError('UnknownOperationException', '');
    }
  }

  private put(region: string, input: any, caller: string): unknown {
    const name = required(input, 'Name', 'name');
    const value = required(input, 'Value', 'value');
    validateName(region, name);
    const store = this.store(region);
    const previous = store.get(name);
    if (input.Type !== undefined && !TYPES.includes(input.Type)) {
      throw validation(`Value '${input.Type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [${TYPES.join(', ')}]`);
    }
    const tier = input.Tier ?? previous?.Tier ?? 'Standard';
    if (TIERS[tier] === undefined) {
      throw validation(`Value '${tier}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [${Object.keys(TIERS).join(', ')}]`);
    }
    if (input.DataType !== undefined && input.DataType !== 'text') {
      throw new SsmError('UnsupportedParameterType', `The emulator knows only DataType text, not ${input.DataType}`);
    }
    if (input.Overwrite === true && input.Tags !== undefined) {
      throw new SsmError('ValidationException', 'Invalid request: tags and overwrite can\'t be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.');
    }
    if (previous && input.Overwrite !== true) {
      throw new SsmError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
    }
    const type = input.Type ?? previous?.Type;
    if (type === undefined) {
      throw new SsmError('ValidationException', 'A parameter type is required when you create a parameter.');
    }
    if (value.length === 0) {
      throw validation('Value \'\' at \'value\' failed to satisfy constraint: Member must have length greater than or equal to 1');
    }
    const effectiveTier = tier === 'Intelligent-Tiering' ? (value.length > TIERS.Standard ? 'Advanced' : 'Standard') : tier;
    if (effectiveTier === 'Standard' && value.length > TIERS.Standard) {
      throw new SsmError('ValidationException', `Standard tier parameters support a maximum parameter value of ${TIERS.Standard} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html`);
    }
    if (value.length > TIERS.Advanced) {
      throw validation(`Value at 'value' failed to satisfy constraint: Member must have length less than or equal to ${TIERS.Advanced}`);
    }
    if (previous?.Tier === 'Advanced' && effectiveTier === 'Standard') {
      throw new SsmError('ValidationException', 'This parameter uses the advanced-parameter tier. You can\'t downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.');
    }
    if (typeof input.AllowedPattern === 'string' && !new RegExp(input.AllowedPattern).test(value)) {
      throw new SsmError('ParameterPatternMismatchException', `Parameter value, cannot be validated against allowedPattern: ${input.AllowedPattern}`);
    }
    const stored: StoredParameter = {
      Name: name,
      Value: value,
      Type: type,
      Tier: effectiveTier,
      Version: (previous?.Version ?? 0) + 1,
      LastModifiedDate: new Date(),
      LastModifiedUser: caller,
      DataType: 'text',
    };
    const description = input.Description ?? previous?.Description;
    if (description !== undefined) {
      stored.Description = description;
    }
    this.keep(region, stored);
    return { Tier: stored.Tier, Version: stored.Version };
  }

  /** GetParameterHistory: the versions of one parameter, oldest first, MaxResults (1..50) at a time. */
  private versions(region: string, input: any): unknown {
    const given = required(input, 'Name', 'name');
    // The name, or the parameter's ARN in this account and Region.
    const arnPrefix = `arn:aws:ssm:${region}:${TEST_ACCOUNT}:parameter`;
    const name = given.startsWith(arnPrefix) ? given.slice(arnPrefix.length) : given;
    if (input.MaxResults !== undefined && (!Number.isInteger(input.MaxResults) || input.MaxResults < 1 || input.MaxResults > 50)) {
      const bound = input.MaxResults < 1 ? 'greater than or equal to 1' : 'less than or equal to 50';
      throw validation(`Value '${input.MaxResults}' at 'maxResults' failed to satisfy constraint: Member must have value ${bound}`);
    }
    const all = this.historyOf(region).get(name);
    if (!all || all.length === 0) {
      throw new SsmError('ParameterNotFound', '');
    }
    let after = 0;
    if (input.NextToken !== undefined) {
      const token = decodeHistoryToken(input.NextToken);
      if (!token || token.name !== all[0].Name) {
        throw new SsmError('InvalidNextToken', 'The specified token isn\'t valid.');
      }
      after = token.after;
    }
    const rest = all.filter((p) => p.Version > after);
    const page = rest.slice(0, input.MaxResults ?? 50);
    const out: Record<string, unknown> = {
      Parameters: page.map((p) => ({
        DataType: p.DataType,
        ...(p.Description !== undefined ? { Description: p.Description } : {}),
        Labels: [],
        LastModifiedDate: p.LastModifiedDate.getTime() / 1000,
        LastModifiedUser: p.LastModifiedUser,
        Name: p.Name,
        Policies: [],
        Tier: p.Tier,
        Type: p.Type,
        Value: p.Value,
        Version: p.Version,
      })),
    };
    if (rest.length > page.length) {
      out.NextToken = Buffer.from(JSON.stringify({ history: page[page.length - 1].Name, after: page[page.length - 1].Version }), 'utf8').toString('base64');
    }
    return out;
  }

  private byPath(region: string, input: any): unknown {
    const path = required(input, 'Path', 'path');
    if (!path.startsWith('/') || path.length > 2048) {
      throw new SsmError('ValidationException', 'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/". It can\'t be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.');
    }
    if (input.MaxResults !== undefined && (!Number.isInteger(input.MaxResults) || input.MaxResults < 1 || input.MaxResults > 10)) {
      const bound = input.MaxResults < 1 ? 'greater than or equal to 1' : 'less than or equal to 10';
      throw validation(`Value '${input.MaxResults}' at 'maxResults' failed to satisfy constraint: Member must have value ${bound}`);
    }
    if (input.ParameterFilters !== undefined) {
      throw new SsmError('ValidationException', 'The emulator does not apply ParameterFilters');
    }
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const recursive = input.Recursive === true;
    let after = '';
    if (input.NextToken !== undefined) {
      const token = decodeToken(input.NextToken);
      if (!token || token.path !== prefix || token.recursive !== recursive) {
        throw new SsmError('InvalidNextToken', 'The specified token isn\'t valid.');
      }
      after = token.after;
    }
    const matching = [...this.store(region).values()]
      .filter((p) => {
        const name = prefix === '/' && !p.Name.startsWith('/') ? `/${p.Name}` : p.Name;
        return name.startsWith(prefix) && name.length > prefix.length && (recursive || !name.slice(prefix.length).includes('/'));
      })
      .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0))
      .filter((p) => p.Name > after);
    const page = matching.slice(0, input.MaxResults ?? 10);
    const out: Record<string, unknown> = { Parameters: page.map((p) => this.describe(region, p)) };
    if (matching.length > page.length) {
      out.NextToken = encodeToken({ path: prefix, recursive, after: page[page.length - 1].Name });
    }
    return out;
  }

  private existing(region: string, name: unknown): StoredParameter {
    if (typeof name !== 'string' || name === '') {
      throw validation('Value null at \'name\' failed to satisfy constraint: Member must not be null');
    }
    const p = this.store(region).get(name);
    if (!p) {
      // SSM sends ParameterNotFound without a message.
      throw new SsmError('ParameterNotFound', '');
    }
    return p;
  }

  private describe(region: string, p: StoredParameter): unknown {
    return {
      ARN: `arn:aws:ssm:${region}:${TEST_ACCOUNT}:parameter${withSlash(p.Name)}`,
      DataType: p.DataType,
      LastModifiedDate: p.LastModifiedDate.getTime() / 1000,
      Name: p.Name,
      Type: p.Type,
      Value: p.Value,
      Version: p.Version,
    };
  }
}

/** JSON services answer signature problems with these codes, all HTTP 400. */
function authError(err: SigV4Error): SsmError {
  switch (err.failure) {
    case 'missing':
      return new SsmError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    case 'unknown-key':
    case 'session-token':
      return new SsmError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    case 'scope':
      return new SsmError('InvalidSignatureException', err.message);
    default:
      return new SsmError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
  }
}

function validation(detail: string): SsmError {
  return new SsmError('ValidationException', `1 validation error detected: ${detail}`);
}

function required(input: any, key: string, member: string): string {
  if (typeof input[key] !== 'string') {
    throw validation(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return input[key];
}

/** A parameter's ARN has one `/` between `parameter` and the name, whether the name begins with one or not. */
function withSlash(name: string): string {
  return name.startsWith('/') ? name : `/${name}`;
}

function validateName(region: string, name: string): void {
  const invalid = 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_';
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name) || /^\/?(aws|ssm)/i.test(name) || name.endsWith('/') || name.includes('//')) {
    throw new SsmError('ValidationException', invalid);
  }
  if (name.includes('/') && !name.startsWith('/')) {
    throw new SsmError('ValidationException', 'Parameter name must be a fully qualified name.');
  }
  if (name.split('/').length - 1 > 15) {
    throw new SsmError('HierarchyLevelLimitExceededException', 'A hierarchy can have a maximum of 15 levels. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-working.html');
  }
  if (`arn:aws:ssm:${region}:${TEST_ACCOUNT}:parameter${withSlash(name)}`.length > 1011) {
    throw validation('Value at \'name\' failed to satisfy constraint: Member must have length less than or equal to 1011 including the ARN prefix');
  }
}

interface PageToken {
  readonly path: string;
  readonly recursive: boolean;
  readonly after: string;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64');
}

function decodeHistoryToken(token: unknown): { name: string; after: number } | undefined {
  if (typeof token !== 'string') {
    return undefined;
  }
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    return typeof t?.history === 'string' && Number.isInteger(t.after) ? { name: t.history, after: t.after } : undefined;
  } catch {
    return undefined;
  }
}

function decodeToken(token: unknown): PageToken | undefined {
  if (typeof token !== 'string') {
    return undefined;
  }
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    return typeof t?.path === 'string' && typeof t.recursive === 'boolean' && typeof t.after === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}
