/**
 * A local Amazon EventBridge endpoint for PutEvents that speaks the AWS JSON
 * 1.1 protocol, so tests can drive the real `@aws-sdk/client-eventbridge`
 * (via `endpoint` or AWS_ENDPOINT_URL_EVENTBRIDGE) without reaching AWS.
 * Listens on 127.0.0.1 only. One emulator holds the event buses of every
 * account and Region of a test (a central bus in another account is reached
 * through the same endpoint, as every Region's endpoint is one URL here).
 *
 * Faithful to the EventBridge API reference (PutEvents, PutEventsRequestEntry,
 * PutEventsResultEntry, Common Errors) and user guide ("Calculating PutEvents
 * event entry size", "Permissions for event buses") where it matters to the
 * functions:
 * - a signed POST to `/` with `Content-Type: application/x-amz-json-1.1` and
 *   `X-Amz-Target: AWSEvents.PutEvents`, JSON in and out; `Time` as epoch
 *   seconds (JSON 1.1's default); SigV4 is checked (test/support/sigv4.ts,
 *   signing name `events`) and answered as JSON services do
 *   (MissingAuthenticationTokenException, UnrecognizedClientException,
 *   InvalidSignatureException); the Region comes from the credential scope;
 * - errors as JSON 1.1 error bodies `{"__type":"<Code>","message":"…"}`:
 *   ValidationException 400, AccessDeniedException 400 (EventBridge answers
 *   "not authorized" with 400, as the messages users quote show),
 *   ThrottlingException 400, InternalException 500,
 *   UnknownOperationException 400, SerializationException 400;
 * - PutEvents takes 1..10 Entries (ValidationException otherwise); their total
 *   size, counted as EventBridge counts it (Time 14 bytes when given; Source,
 *   DetailType, Detail and each of Resources as UTF-8 bytes), over 256 KB
 *   refuses the whole call (ValidationException "Total size of the entries in
 *   the request is over the limit.", the message users quote);
 * - one result per entry, in order, and FailedEntryCount; a refused entry has
 *   ErrorCode and ErrorMessage, the others an EventId and are delivered:
 *   - Source, DetailType and Detail are required: an entry without one fails
 *     (InvalidArgument); a call in which no entry has all three fails whole
 *     (ValidationException), as the API reference says;
 *   - Detail must be a JSON object (MalformedDetail);
 *   - a Source beginning `aws.` fails (NotAuthorizedForSourceException "Not
 *     authorized for the source.", as users report it: the prefix is AWS's);
 * - EventBusName: a name (a bus of the caller's account in the endpoint's
 *   Region) or an ARN; none is the caller's default bus. Every account has a
 *   `default` bus in every Region; other buses exist once `addBus` made them;
 * - a bus of another account takes an event only when its resource policy
 *   (addBus / setBusPolicy) allows the caller events:PutEvents on it (see
 *   `evaluatePolicy`: Principal, Action, Resource and the condition keys
 *   aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn, events:source
 *   and events:detail-type, as the hub's policy uses them); the caller is the
 *   principal of the request's access key (setCaller), its aws:PrincipalArn
 *   the one setCaller names (an assumed-role session's role ARN, with the
 *   role's path), its organization the one setOrganization puts its account in;
 * - a delivered event is stored per bus as EventBridge delivers it to rules'
 *   targets: version "0", id, detail-type, source, account (the caller's
 *   account: the sender's, also on another account's bus), time (the entry's
 *   Time, else the call's, ISO 8601 to the second), region, resources
 *   (the entry's, else []) and detail (parsed).
 *
 * What is NOT documented, and what is modelled here instead (tests must not
 * rely on these being AWS's exact behaviour):
 * - a cross-account put that the bus's policy does not allow: the API reference
 *   lists AccessDeniedException both as a whole-call error and as an entry's
 *   ErrorCode, and EventBusName is per entry, so such an entry fails on its
 *   own with AccessDeniedException (as another emulator, fakecloud, also chose);
 *   `crossAccountDenial = 'call'` makes the whole call fail with
 *   AccessDeniedException instead, for tests that must hold either way. A
 *   caller the policy admits but whose Source (Detail type) a condition refuses
 *   fails the entry with NotAuthorizedForSourceException
 *   (NotAuthorizedForDetailTypeException), the codes documented for that;
 * - an entry naming a bus ARN of another Region than the endpoint's: EventBridge
 *   answers API calls that name another Region's resources with
 *   ValidationException "Cross-region api call is not allowed." (seen for
 *   PutRule / PutTargets); here the whole PutEvents call gets it;
 * - a bus of the caller's own account that does not exist: EventBridge has been
 *   reported (aws-cli issue 9186, aws-sdk issue 186) to accept the entry, give
 *   it an EventId and drop it; so does this emulator (`dropped` lists them). A
 *   missing bus of another account has no policy: denied as above;
 * - the ErrorMessage texts of InvalidArgument, MalformedDetail and injected
 *   entry failures are made up (their codes are the documented ones);
 * - the caller's identity policies (setIdentityPolicies: its role's policies, and
 *   its permissions boundary when known) are evaluated as IAM does for a request
 *   to a bus (Action, Resource, the same condition keys): a bus they do not allow
 *   refuses the whole call with AccessDeniedException ("... because no
 *   identity-based policy allows the events:PutEvents action", as users quote
 *   it); an entry whose Source or DetailType only a condition refuses fails on
 *   its own (NotAuthorizedForSourceException / ...DetailTypeException: a guess,
 *   not documented). A caller without identity policies set may put anywhere
 *   its own account allows; injectFault AccessDeniedException stands for a role
 *   without events:PutEvents. Service control policies, session policies and
 *   the wording IAM uses for an explicit deny are not modelled.
 *
 * Simplifications: only PutEvents (not PutRule, rules, targets or archives:
 * nothing is routed on from a bus); EndpointId (global endpoints, SigV4a) and
 * TraceHeader are refused / ignored; Resources are not checked for ARN
 * syntax; nested JSON depth (1,100 levels) and integer range are not checked;
 * partitions other than `aws` are not emulated; the x-amzn-query-error header
 * is not sent (EventBridge is not awsQuery-compatible).
 */
import * as crypto from 'crypto';
import * as http from 'http';
import { LocalEndpoint, Reply, TEST_ROLE_ARN } from './local-endpoint';
import { SigV4Error, accessKeyIdOf, verifySigV4 } from './sigv4';

export { TEST_CREDENTIALS, TEST_SESSION_TOKEN, testAccessKeyId } from './sigv4';
export { TEST_ACCOUNT } from './local-endpoint';

/** An event as EventBridge delivers it (to a rule's target, a log group, an archive). */
export interface DeliveredEvent {
  readonly 'version': '0';
  readonly 'id': string;
  readonly 'detail-type': string;
  readonly 'source': string;
  readonly 'account': string;
  readonly 'time': string;
  readonly 'region': string;
  readonly 'resources': readonly string[];
  readonly 'detail': Record<string, any>;
}

/** One recorded request: the action (from X-Amz-Target), its Region, its caller and its JSON input. */
export interface EventBridgeRecordedRequest {
  readonly action: string;
  readonly region: string;
  readonly input: any;
  /** The caller's principal ARN (setCaller, by the request's access key). */
  readonly caller: string;
  /** The EventBridge error code of an injected fault this request was answered with. */
  readonly fault?: string;
}

/** A bus to create. */
export interface BusOptions {
  readonly account: string;
  readonly region: string;
  /** Not `default` (every account has one in each Region already; setBusPolicy gives it a policy). */
  readonly name: string;
  /** Its resource policy (a policy document, as an object or JSON). @default none: only its own account may put */
  readonly policy?: object | string;
}

/** A caller's identity policies (setIdentityPolicies). */
export interface IdentityPolicies {
  /** Its role's policy documents (inline and attached). */
  readonly identity: readonly object[];
  /** Its permissions boundary's policy document(s). @default none (not evaluated) */
  readonly boundary?: readonly object[];
}

/** An injected per-entry failure: the next `entries` entries (to `bus`, if given) fail with `code`. */
export interface EntryFailure {
  /** An entry ErrorCode, e.g. ThrottlingException or InternalFailure (retryable), AccessDeniedException, MalformedDetail. */
  readonly code: string;
  readonly entries: number;
  /** Only entries to this bus ARN. @default any */
  readonly bus?: string;
  /** @default a message of the code's kind */
  readonly message?: string;
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'AWSEvents.';

/** EventBridge's limit on the entries of one PutEvents call, in bytes as it counts them. */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;
/** The most entries one PutEvents call takes. */
export const PUT_EVENTS_MAX_ENTRIES = 10;

/** The caller recorded for an access key that setCaller does not name. */
export const DEFAULT_CALLER_ARN = TEST_ROLE_ARN;

const ERROR_STATUS: Record<string, number> = {
  InternalException: 500,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

/** The message EventBridge sends with each injectable whole-call code ({caller} and {resource} filled in). */
const FAULT_MESSAGES: Record<string, string> = {
  AccessDeniedException: 'User: {caller} is not authorized to perform: events:PutEvents on resource: {resource} because no identity-based policy allows the events:PutEvents action',
  ThrottlingException: 'Rate exceeded',
  InternalException: 'An internal error occurred.',
};

/** The (made-up) ErrorMessage of each entry ErrorCode. */
const ENTRY_MESSAGES: Record<string, string> = {
  ThrottlingException: 'Request is throttled.',
  InternalFailure: 'Internal failure.',
  AccessDeniedException: 'You do not have sufficient access to perform this action.',
  MalformedDetail: 'Detail is malformed.',
  NotAuthorizedForSourceException: 'Not authorized for the source.',
  NotAuthorizedForDetailTypeException: 'Not authorized for the detail type.',
  InvalidArgument: 'A specified parameter is not valid.',
};

class EventBridgeError extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
  }
}

/** Where a put goes: a bus's ARN and its parts. */
interface BusRef {
  readonly arn: string;
  readonly account: string;
  readonly region: string;
  readonly name: string;
}

interface Bus {
  policy?: PolicyDocument;
  readonly events: DeliveredEvent[];
}

export class EventBridgeEmulator extends LocalEndpoint<EventBridgeRecordedRequest> {
  /** Starts an emulator on 127.0.0.1 with a free port. */
  public static async start(): Promise<EventBridgeEmulator> {
    const emulator = new EventBridgeEmulator();
    await emulator.listen();
    return emulator;
  }

  /** The ARN of a bus (`default` when no name is given). */
  public static busArn(account: string, region: string, name = 'default'): string {
    return `arn:aws:events:${region}:${account}:event-bus/${name}`;
  }

  /**
   * How a cross-account entry that the bus's policy does not allow is refused:
   * `entry` (the entry fails with AccessDeniedException) or `call` (the whole
   * call fails with AccessDeniedException). Not documented; see the file's comment.
   */
  public crossAccountDenial: 'entry' | 'call' = 'entry';
  /** Entries accepted for a bus of the caller's own account that does not exist (EventBridge drops them). */
  public readonly dropped: Array<{ readonly bus: string; readonly event: DeliveredEvent }> = [];
  /** Every event delivered to a bus, with the bus's ARN, in the order delivered. */
  public readonly deliveries: Array<{ readonly bus: string; readonly event: DeliveredEvent }> = [];
  /** How many entries were refused by an injected entry failure. */
  public entryFaultsServed = 0;

  private readonly buses = new Map<string, Bus>();
  private readonly callers = new Map<string, string>();
  /** aws:PrincipalArn of each caller. */
  private readonly principals = new Map<string, string>();
  private readonly identities = new Map<string, { identity: PolicyDocument[]; boundary?: PolicyDocument[] }>();
  private readonly organizations = new Map<string, string>();
  private readonly entryFailures: Array<{ code: string; remaining: number; bus?: string; message?: string }> = [];

  private constructor() {
    super();
  }

  /**
   * Treats requests signed with `accessKeyId` as made by `callerArn` (its account
   * is the ARN's; an assumed-role session `arn:aws:sts::<account>:assumed-role/<role>/<session>`),
   * whose aws:PrincipalArn is `principalArn` (for a session: its role's ARN, with
   * the role's path, which the session ARN does not show). @default principalArn:
   * the role's ARN without a path
   */
  public setCaller(accessKeyId: string, callerArn: string, principalArn: string = principalArnOf(callerArn)): void {
    accountOfArn(callerArn);
    this.callers.set(accessKeyId, callerArn);
    this.principals.set(callerArn, principalArn);
  }

  /**
   * Evaluates the identity policies of `callerArn` (its role's policy documents,
   * and its permissions boundary's when known) on every PutEvents it makes;
   * undefined stops evaluating them. Only the statements that may apply to
   * events:PutEvents are kept (and checked like bus policies: what is not
   * evaluated is refused here).
   */
  public setIdentityPolicies(callerArn: string, policies: IdentityPolicies | undefined): void {
    if (policies === undefined) {
      this.identities.delete(callerArn);
      return;
    }
    const parse = (docs: readonly object[]) => docs.map((doc) => parsePolicy(doc, `${callerArn}'s identity policy`, true));
    this.identities.set(callerArn, { identity: parse(policies.identity), boundary: policies.boundary && parse(policies.boundary) });
  }

  /** Makes these accounts members of the organization `organizationId` (their callers' aws:PrincipalOrgID). */
  public setOrganization(organizationId: string, accounts: readonly string[]): void {
    if (!/^o-[a-z0-9]{10,32}$/.test(organizationId)) {
      throw new Error(`an organization id is o- and 10 to 32 lower-case letters or digits: ${organizationId}`);
    }
    for (const account of accounts) {
      this.organizations.set(account, organizationId);
    }
  }

  /** The organization an account belongs to (undefined when none). */
  public organizationOf(account: string): string | undefined {
    return this.organizations.get(account);
  }

  /** Creates a bus (CreateEventBus, as its owner would) with an optional resource policy; returns its ARN. */
  public addBus(options: BusOptions): string {
    if (!/^[A-Za-z0-9._-]{1,256}$/.test(options.name) || options.name === 'default') {
      throw new Error(`not a custom event bus name: ${options.name}`);
    }
    const arn = EventBridgeEmulator.busArn(options.account, options.region, options.name);
    if (this.buses.has(arn)) {
      throw new Error(`ResourceAlreadyExistsException: Event bus ${options.name} already exists.`);
    }
    this.buses.set(arn, { events: [], policy: options.policy === undefined ? undefined : parsePolicy(options.policy, arn) });
    return arn;
  }

  /** Sets (or, with undefined, removes) the resource policy of a bus (a default bus too). */
  public setBusPolicy(busArn: string, policy: object | string | undefined): void {
    const bus = this.bus(parseBusArn(busArn), true);
    if (!bus) {
      throw new Error(`ResourceNotFoundException: Event bus ${busArn} does not exist.`);
    }
    bus.policy = policy === undefined ? undefined : parsePolicy(policy, busArn);
  }

  /** Deletes a custom bus and its events (DeleteEventBus). */
  public deleteBus(busArn: string): void {
    if (parseBusArn(busArn).name === 'default') {
      throw new Error('ValidationException: Cannot delete event bus default.');
    }
    this.buses.delete(busArn);
  }

  /** The events delivered to a bus (by ARN), oldest first (a copy; empty for a bus without events). */
  public events(busArn: string): DeliveredEvent[] {
    parseBusArn(busArn);
    return [...(this.buses.get(busArn)?.events ?? [])];
  }

  /** The events delivered to the default bus of an account in a Region. */
  public defaultBusEvents(account: string, region: string): DeliveredEvent[] {
    return this.events(EventBridgeEmulator.busArn(account, region));
  }

  /** Forgets every delivered and dropped event (buses and policies stay). */
  public clearEvents(): void {
    for (const bus of this.buses.values()) {
      bus.events.length = 0;
    }
    this.deliveries.length = 0;
    this.dropped.length = 0;
  }

  /** Makes the next `entries` entries (to `bus`, if given) fail with the entry ErrorCode `code`. */
  public failEntries(failure: EntryFailure): void {
    this.entryFailures.push({ code: failure.code, remaining: failure.entries, bus: failure.bus, message: failure.message });
  }

  /** Drops the per-entry failures not yet used up (clearFaults drops the whole-call ones). */
  public clearEntryFailures(): void {
    this.entryFailures.length = 0;
  }

  /** The request id travels in the x-amzn-requestid header only: JSON bodies do not carry it. */
  protected respond(req: http.IncomingMessage, body: string): Reply {
    try {
      return { status: 200, contentType: CONTENT_TYPE, body: JSON.stringify(this.handle(req, body)) };
    } catch (err) {
      const e = err instanceof EventBridgeError ? err : new EventBridgeError('InternalException', String(err));
      return { status: ERROR_STATUS[e.code] ?? 400, contentType: CONTENT_TYPE, body: JSON.stringify({ __type: e.code, message: e.message }) };
    }
  }

  /** A bus by reference; a default bus comes into being when first named (every account has one). */
  private bus(ref: BusRef, create: boolean): Bus | undefined {
    let bus = this.buses.get(ref.arn);
    if (!bus && ref.name === 'default' && create) {
      bus = { events: [] };
      this.buses.set(ref.arn, bus);
    }
    return bus;
  }

  private handle(req: http.IncomingMessage, body: string): unknown {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://localhost').pathname !== '/') {
      throw new EventBridgeError('UnknownOperationException', '');
    }
    let region: string;
    try {
      region = verifySigV4(req, body, 'events');
    } catch (err) {
      throw err instanceof SigV4Error ? authError(err) : err;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!target.startsWith(TARGET_PREFIX)) {
      throw new EventBridgeError('UnknownOperationException', '');
    }
    const action = target.slice(TARGET_PREFIX.length);
    if (!String(req.headers['content-type'] ?? '').startsWith(CONTENT_TYPE)) {
      throw new EventBridgeError('SerializationException', `Content-Type must be ${CONTENT_TYPE}`);
    }
    let input: any;
    try {
      input = body === '' ? {} : JSON.parse(body);
    } catch {
      throw new EventBridgeError('SerializationException', 'Start of structure or map found where not expected.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new EventBridgeError('SerializationException', 'Start of structure or map found where not expected.');
    }
    const accessKeyId = accessKeyIdOf(req);
    const caller = (accessKeyId !== undefined ? this.callers.get(accessKeyId) : undefined) ?? DEFAULT_CALLER_ARN;
    const fault = this.record({ action, region, input, caller });
    if (fault) {
      const resource = EventBridgeEmulator.busArn(accountOfArn(caller), region);
      throw new EventBridgeError(fault, (FAULT_MESSAGES[fault] ?? `injected ${fault}`).replace(/\{caller\}/g, caller).replace(/\{resource\}/g, resource));
    }
    switch (action) {
      case 'PutEvents':
        return this.putEvents(region, caller, input);
      default:
        throw new EventBridgeError('UnknownOperationException', '');
    }
  }

  private putEvents(region: string, caller: string, input: any): unknown {
    const entries = input.Entries;
    if (entries === undefined || entries === null) {
      throw validation('Value null at \'entries\' failed to satisfy constraint: Member must not be null');
    }
    if (!Array.isArray(entries)) {
      throw new EventBridgeError('SerializationException', 'Start of list found where not expected');
    }
    if (entries.length < 1 || entries.length > PUT_EVENTS_MAX_ENTRIES) {
      const bound = entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${PUT_EVENTS_MAX_ENTRIES}`;
      throw validation(`Value '[...]' at 'entries' failed to satisfy constraint: Member must have length ${bound}`);
    }
    if (input.EndpointId !== undefined) {
      throw new EventBridgeError('ValidationException', 'EndpointId (global endpoints) is not emulated');
    }
    for (const [i, e] of entries.entries()) {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) {
        throw new EventBridgeError('SerializationException', `Entries.${i + 1}: Start of structure or map found where not expected.`);
      }
      for (const key of ['Source', 'DetailType', 'Detail', 'EventBusName', 'TraceHeader']) {
        if (e[key] !== undefined && typeof e[key] !== 'string') {
          throw new EventBridgeError('SerializationException', `Entries.${i + 1}.${key}: expected a string`);
        }
      }
      if (e.Resources !== undefined && (!Array.isArray(e.Resources) || e.Resources.some((r: unknown) => typeof r !== 'string'))) {
        throw new EventBridgeError('SerializationException', `Entries.${i + 1}.Resources: expected a list of strings`);
      }
      if (e.Time !== undefined && typeof e.Time !== 'number') {
        throw new EventBridgeError('SerializationException', `Entries.${i + 1}.Time: expected epoch seconds`);
      }
    }
    if (entries.reduce((n: number, e: any) => n + putEventsEntrySize(e), 0) > PUT_EVENTS_MAX_BYTES) {
      throw new EventBridgeError('ValidationException', 'Total size of the entries in the request is over the limit.');
    }
    if (!entries.some((e: any) => e.Source !== undefined && e.DetailType !== undefined && e.Detail !== undefined)) {
      throw new EventBridgeError('ValidationException', 'Parameters Source, DetailType and Detail are required for at least one entry.');
    }
    const callerAccount = accountOfArn(caller);
    const refs = entries.map((e: any) => resolveBus(e.EventBusName, callerAccount, region));
    if (refs.some((ref: BusRef | undefined) => ref && ref.region !== region)) {
      throw new EventBridgeError('ValidationException', 'Cross-region api call is not allowed.');
    }
    // The caller's identity policies: a bus they do not allow refuses the whole call.
    const identity = this.identities.get(caller);
    for (const [i, e] of entries.entries()) {
      const ref: BusRef | undefined = refs[i];
      if (identity && ref) {
        const request = this.policyRequest(ref, caller, e);
        const by = !evaluatePolicies(identity.identity, request, ['events:source', 'events:detail-type'])
          ? 'identity-based policy'
          : identity.boundary && !evaluatePolicies(identity.boundary, request, ['events:source', 'events:detail-type']) ? 'permissions boundary' : undefined;
        if (by) {
          throw new EventBridgeError('AccessDeniedException', `User: ${caller} is not authorized to perform: events:PutEvents on resource: ${ref.arn} because no ${by} allows the events:PutEvents action`);
        }
      }
    }
    // Whole-call denial (crossAccountDenial 'call'): checked before anything is delivered.
    if (this.crossAccountDenial === 'call') {
      for (const [i, e] of entries.entries()) {
        const ref = refs[i];
        if (ref && ref.account !== callerAccount && this.authorize(ref, caller, e) === 'AccessDeniedException') {
          throw new EventBridgeError('AccessDeniedException', `User: ${caller} is not authorized to perform: events:PutEvents on resource: ${ref.arn} because no resource-based policy allows the events:PutEvents action`);
        }
      }
    }
    const now = new Date();
    const results = entries.map((e: any, i: number) => {
      const ref: BusRef | undefined = refs[i];
      const refuse = (code: string, message?: string) => ({ ErrorCode: code, ErrorMessage: message ?? ENTRY_MESSAGES[code] ?? code });
      if (!ref) {
        return refuse('InvalidArgument', `Parameter EventBusName is not valid: ${e.EventBusName}`);
      }
      const missing = ['Source', 'DetailType', 'Detail'].filter((k) => e[k] === undefined);
      if (missing.length > 0) {
        return refuse('InvalidArgument', `Parameter(s) ${missing.join(', ')} could not be found.`);
      }
      let detail: unknown;
      try {
        detail = JSON.parse(e.Detail);
      } catch {
        return refuse('MalformedDetail');
      }
      if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
        return refuse('MalformedDetail');
      }
      if (e.Source.startsWith('aws.')) {
        return refuse('NotAuthorizedForSourceException');
      }
      if (identity) {
        const denied = refusedEntry(identity.identity, identity.boundary, this.policyRequest(ref, caller, e));
        if (denied) {
          return refuse(denied);
        }
      }
      if (ref.account !== callerAccount) {
        const denied = this.authorize(ref, caller, e);
        if (denied) {
          return refuse(denied);
        }
      }
      const failure = this.entryFailures.find((f) => f.remaining > 0 && (f.bus === undefined || f.bus === ref.arn));
      if (failure) {
        failure.remaining--;
        this.entryFaultsServed++;
        return refuse(failure.code, failure.message);
      }
      const event: DeliveredEvent = {
        'version': '0',
        'id': crypto.randomUUID(),
        'detail-type': e.DetailType,
        'source': e.Source,
        'account': callerAccount,
        'time': eventTime(e.Time !== undefined ? new Date(e.Time * 1000) : now),
        'region': ref.region,
        'resources': [...(e.Resources ?? [])],
        'detail': detail as Record<string, any>,
      };
      const bus = this.bus(ref, true);
      if (bus) {
        bus.events.push(event);
        this.deliveries.push({ bus: ref.arn, event });
      } else {
        this.dropped.push({ bus: ref.arn, event });
      }
      return { EventId: event.id };
    });
    return { FailedEntryCount: results.filter((r: any) => r.ErrorCode).length, Entries: results };
  }

  /**
   * Whether a caller of another account may put this entry on the bus: undefined
   * (allowed), AccessDeniedException (the policy does not admit the caller),
   * NotAuthorizedForSourceException / NotAuthorizedForDetailTypeException (it
   * admits the caller but not this source / detail type).
   */
  private authorize(ref: BusRef, caller: string, entry: any): string | undefined {
    const policy = this.bus(ref, false)?.policy;
    if (!policy) {
      return 'AccessDeniedException';
    }
    const request = this.policyRequest(ref, caller, entry);
    if (!evaluatePolicy(policy, request, ['events:source', 'events:detail-type'])) {
      return 'AccessDeniedException';
    }
    return refusedEntry([policy], undefined, request);
  }

  /** A PutEvents of `entry` on the bus by the caller, with the condition keys IAM would see. */
  private policyRequest(ref: BusRef, caller: string, entry: any): PolicyRequest {
    const account = accountOfArn(caller);
    const context: Record<string, string | undefined> = {
      'aws:principalarn': this.principals.get(caller) ?? principalArnOf(caller),
      'aws:principalaccount': account,
      'aws:principalorgid': this.organizations.get(account),
      'events:source': entry.Source,
      'events:detail-type': entry.DetailType,
    };
    return { caller, principalArn: context['aws:principalarn']!, action: 'events:PutEvents', resource: ref.arn, context };
  }
}

/**
 * Which condition refuses an entry the caller may otherwise put (undefined:
 * none): events:source (NotAuthorizedForSourceException), else
 * events:detail-type (NotAuthorizedForDetailTypeException).
 */
function refusedEntry(
  policies: readonly PolicyDocument[], boundary: readonly PolicyDocument[] | undefined, request: PolicyRequest,
): string | undefined {
  const allowed = (assume: readonly string[]) => evaluatePolicies(policies, request, assume)
    && (!boundary || evaluatePolicies(boundary, request, assume));
  if (!allowed(['events:detail-type'])) {
    return 'NotAuthorizedForSourceException';
  }
  return allowed([]) ? undefined : 'NotAuthorizedForDetailTypeException';
}

/** An entry's size as EventBridge counts it ("Calculating PutEvents event entry size"). */
export function putEventsEntrySize(
  entry: { Time?: unknown; Source?: string; DetailType?: string; Detail?: string; Resources?: readonly string[] },
): number {
  const bytes = (s: string | undefined) => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));
  return (entry.Time !== undefined ? 14 : 0) + bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail)
    + (entry.Resources ?? []).reduce((n, r) => n + bytes(r), 0);
}

/** EventBridge's event times: ISO 8601 to the second, UTC. */
function eventTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The account of a principal's ARN (arn:aws:iam::<account>:… or arn:aws:sts::<account>:…). */
function accountOfArn(arn: string): string {
  const account = arn.split(':')[4];
  if (!/^\d{12}$/.test(account ?? '')) {
    throw new Error(`not a principal ARN with an account: ${arn}`);
  }
  return account;
}

/**
 * aws:PrincipalArn: for an assumed-role session, the role's ARN
 * (arn:aws:iam::<account>:role/<name>), as the IAM User Guide says; else the ARN.
 */
function principalArnOf(caller: string): string {
  const session = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(caller);
  return session ? `arn:aws:iam::${session[1]}:role/${session[2]}` : caller;
}

function parseBusArn(arn: string): BusRef {
  const m = /^arn:aws:events:([a-z0-9-]+):(\d{12}):event-bus\/([A-Za-z0-9._\-/]+)$/.exec(arn);
  if (!m) {
    throw new Error(`not an event bus ARN: ${arn}`);
  }
  return { arn, region: m[1], account: m[2], name: m[3] };
}

/** The bus an entry names (undefined when EventBusName is neither a name nor an event bus ARN). */
function resolveBus(name: string | undefined, callerAccount: string, region: string): BusRef | undefined {
  if (name === undefined || name === '') {
    return { arn: EventBridgeEmulator.busArn(callerAccount, region), account: callerAccount, region, name: 'default' };
  }
  if (name.startsWith('arn:')) {
    try {
      return parseBusArn(name);
    } catch {
      return undefined;
    }
  }
  if (!/^[A-Za-z0-9._\-/]{1,256}$/.test(name)) {
    return undefined;
  }
  return { arn: EventBridgeEmulator.busArn(callerAccount, region, name), account: callerAccount, region, name };
}

/** JSON services answer signature problems with these codes, all HTTP 400. */
function authError(err: SigV4Error): EventBridgeError {
  switch (err.failure) {
    case 'missing':
      return new EventBridgeError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    case 'unknown-key':
    case 'session-token':
      return new EventBridgeError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    case 'scope':
      return new EventBridgeError('InvalidSignatureException', err.message);
    default:
      return new EventBridgeError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
  }
}

function validation(detail: string): EventBridgeError {
  return new EventBridgeError('ValidationException', `1 validation error detected: ${detail}`);
}

// ---------------------------------------------------------------------------
// Resource policies: the subset of IAM's policy language that event bus
// policies use (the hub's, and the user guide's examples).

interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  /** A resource policy's; none in an identity policy. */
  readonly Principal?: '*' | { readonly AWS: string | readonly string[] };
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Statement[];
}

/** The condition operators evaluated (with ...IfExists variants). */
const OPERATORS = ['StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'];
/** The condition keys known (any other fails the policy at setup, rather than passing silently). */
const KEYS = ['aws:principalorgid', 'aws:principalaccount', 'aws:principalarn', 'events:source', 'events:detail-type'];

/**
 * Parses a bus policy (or, with `identity`, an identity policy, keeping only the
 * statements that may apply to events:PutEvents) and refuses what
 * `evaluatePolicy` does not evaluate (NotPrincipal, NotAction, NotResource,
 * Service principals, other operators or keys), so a test never relies on a
 * condition silently ignored.
 */
function parsePolicy(policy: object | string, of: string, identity = false): PolicyDocument {
  const doc = (typeof policy === 'string' ? JSON.parse(policy) : JSON.parse(JSON.stringify(policy))) as any;
  let statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  if ((!identity && statements.length === 0) || statements.some((s: any) => !s)) {
    throw new Error(`the policy of ${of} has no statements`);
  }
  if (identity) {
    statements = statements.filter((s: any) => s.NotAction !== undefined || list(s.Action ?? []).some((a: string) => wildcard(a, 'events:PutEvents', true)));
  }
  for (const s of statements) {
    const where = `the policy of ${of}, statement ${s.Sid ?? JSON.stringify(s)}`;
    for (const unsupported of ['NotPrincipal', 'NotAction', 'NotResource']) {
      if (s[unsupported] !== undefined) {
        throw new Error(`${where}: ${unsupported} is not emulated`);
      }
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') {
      throw new Error(`${where}: Effect must be Allow or Deny`);
    }
    if (identity ? s.Principal !== undefined
      : s.Principal !== '*' && (typeof s.Principal !== 'object' || s.Principal === null || Object.keys(s.Principal).some((k) => k !== 'AWS'))) {
      throw new Error(`${where}: ${identity ? 'an identity policy has no Principal' : 'Principal must be "*" or { AWS: ... } here'}`);
    }
    if (s.Action === undefined || s.Resource === undefined) {
      throw new Error(`${where}: Action and Resource are required`);
    }
    for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
      if (!OPERATORS.includes(operator.replace(/IfExists$/, ''))) {
        throw new Error(`${where}: the condition operator ${operator} is not emulated`);
      }
      for (const key of Object.keys(keys as object)) {
        if (!KEYS.includes(key.toLowerCase())) {
          throw new Error(`${where}: the condition key ${key} is not emulated`);
        }
      }
    }
  }
  return { Version: doc.Version, Statement: statements };
}

const list = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? v : [v as T]);

/** IAM's wildcard match: `*` any run of characters, `?` one; case-sensitive unless `ignoreCase`. */
function wildcard(pattern: string, value: string, ignoreCase = false): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, ignoreCase ? 'i' : '');
  return re.test(value);
}

function principalMatches(principal: Statement['Principal'], request: PolicyRequest): boolean {
  if (principal === undefined || principal === '*') {
    return true;
  }
  const account = accountOfArn(request.caller);
  return list(principal.AWS).some((p) => p === '*' || p === account || p === `arn:aws:iam::${account}:root` || p === request.principalArn || p === request.caller);
}

function conditionHolds(operator: string, values: readonly string[], actual: string | undefined): boolean {
  const ifExists = operator.endsWith('IfExists');
  const base = operator.replace(/IfExists$/, '');
  if (actual === undefined) {
    // A key absent from the request: ...IfExists holds; a negated operator holds; the others fail.
    return ifExists || base.includes('Not');
  }
  const like = base.includes('Like') || base.startsWith('Arn');
  const match = values.some((v) => (like ? wildcard(v, actual) : v === actual));
  return base.includes('Not') ? !match : match;
}

interface PolicyRequest {
  /** The caller's ARN (an assumed-role session's). */
  readonly caller: string;
  /** aws:PrincipalArn (a session's role ARN, with its path). */
  readonly principalArn: string;
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | undefined>>;
}

/**
 * IAM's evaluation of one resource policy on its own (a cross-account request
 * needs the resource policy to allow it; the caller's identity policy is not
 * modelled): allowed when an Allow statement matches and no Deny statement does.
 * Conditions on `assume` keys are taken as holding in Allow statements and as
 * not holding in Deny statements (to tell which key refused an entry).
 */
export function evaluatePolicy(policy: PolicyDocument, request: PolicyRequest, assume: readonly string[]): boolean {
  return evaluatePolicies([policy], request, assume);
}

/** evaluatePolicy over several documents taken together (a role's policies: any Allow, no Deny). */
function evaluatePolicies(policies: readonly PolicyDocument[], request: PolicyRequest, assume: readonly string[]): boolean {
  const matches = (s: Statement) => principalMatches(s.Principal, request)
    && list(s.Action).some((a) => wildcard(a, request.action, true))
    && list(s.Resource).some((r) => wildcard(r, request.resource))
    && Object.entries(s.Condition ?? {}).every(([operator, keys]) => Object.entries(keys).every(([key, values]) => {
      if (assume.includes(key.toLowerCase())) {
        return s.Effect === 'Allow';
      }
      return conditionHolds(operator, list(values), request.context[key.toLowerCase()]);
    }));
  const statements = policies.flatMap((p) => p.Statement);
  return !statements.some((s) => s.Effect === 'Deny' && matches(s)) && statements.some((s) => s.Effect === 'Allow' && matches(s));
}
