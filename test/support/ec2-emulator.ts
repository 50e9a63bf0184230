/**
 * A local EC2 endpoint that speaks the EC2 Query protocol, so tests can drive
 * the real `@aws-sdk/client-ec2` (via `endpoint` or AWS_ENDPOINT_URL_EC2)
 * without reaching AWS. Listens on 127.0.0.1 only. Actions:
 * GetInstanceMetadataDefaults and ModifyInstanceMetadataDefaults (the account
 * level), DescribeInstances, ModifyInstanceMetadataOptions and RunInstances
 * (the instances of an emulated fleet, see addInstances), and
 * DescribeLaunchTemplateVersions (launch templates, see addLaunchTemplate).
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
 *
 * Instances (DescribeInstances, ModifyInstanceMetadataOptions, RunInstances, CreateTags),
 * faithful to the API reference in: the XML (reservationSet / instancesSet /
 * instanceState with EC2's state codes / tagSet / metadataOptions); the
 * filters instance-id, instance-state-name, instance-state-code, tag-key, tag:<key>,
 * metadata-options.http-tokens, metadata-options.http-endpoint and
 * metadata-options.http-put-response-hop-limit (values OR'ed, filters AND'ed,
 * `*` and `?` wildcards); MaxResults 5..1000, not with InstanceIds
 * (InvalidParameterCombination), NextToken; InvalidInstanceID.Malformed and
 * InvalidInstanceID.NotFound; Modify answers the new options with State
 * `pending` and leaves out options it was not given unchanged. Simplified:
 * - each instance is its own reservation; the instance carries only InstanceId,
 *   ImageId, InstanceType, LaunchTime, State, Tags and MetadataOptions;
 * - `pending` turns `applied` after `describesUntilApplied` DescribeInstances
 *   answers have shown the instance pending (real EC2 takes a few seconds);
 *   `holdPending` keeps it pending forever; `stoppedAppliesOnStart` keeps a
 *   stopped instance's change pending until it runs (off by default, so a
 *   stopped instance applies like a running one); instance states never
 *   change by themselves (pending stays pending until a test sets it);
 * - instances come in the order they were added (EC2's order is unspecified);
 * - `failModifyFor` makes Modify of given instances fail with any EC2 code, and
 *   `callCounts` counts requests per action (for the bench);
 * - a page holds MaxResults instances (EC2 may answer fewer, with a NextToken:
 *   callers must follow NextToken); the token is the position after the last
 *   instance returned, so instances that stop matching a filter between pages
 *   do not shift the next page; any other token is InvalidPaginationToken;
 * - Modify with account-level HttpTokensEnforced=enabled refuses HttpTokens
 *   optional on an instance that requires IMDSv2 with UnsupportedOperation (as
 *   the User Guide says); the message text is ours. On a terminated instance
 *   it is IncorrectInstanceState (shutting-down too);
 * - RunInstances resolves each metadata option from the launch parameters,
 *   then the launch template version, then the account default, then EC2's
 *   defaults (optional, 1, enabled, disabled, disabled): AMIs have no
 *   ImdsSupport here; with HttpTokensEnforced=enabled a launch that resolves to
 *   HttpTokens optional fails with UnsupportedOperation (the message begins as
 *   the troubleshooting page quotes it; its tail is ours). Otherwise it creates
 *   MaxCount instances in state pending. No AMI, subnet or quota checks.
 *
 * Launch templates (DescribeLaunchTemplateVersions): by LaunchTemplateId or
 * LaunchTemplateName, or, with neither, every template for the versions
 * `$Latest` and/or `$Default` (AWS: "To describe the versions of all your
 * launch templates, specify $Latest, $Default, or both"); version numbers,
 * MinVersion/MaxVersion; filters http-tokens, http-endpoint,
 * is-default-version; MaxResults 1..200 and NextToken. Simplified: a
 * version's LaunchTemplateData holds ImageId, InstanceType and
 * MetadataOptions only; other filters are refused as InvalidParameterValue;
 * neither a template nor `$Latest`/`$Default` is MissingParameter (EC2's code
 * for that case is not documented).
 */
import * as http from 'http';
import { LocalEndpoint, Reply, TEST_ACCOUNT, TEST_ROLE_ARN, escapeXml } from './local-endpoint';
import { SigV4Error, verifySigV4 } from './sigv4';

export { TEST_CREDENTIALS, TEST_SESSION_TOKEN } from './sigv4';
export type { Fault } from './local-endpoint';
export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** The account-level state of one Region, as EC2 keeps it (only set fields present). */
export interface RegionState {
  HttpTokens?: string;
  HttpTokensEnforced?: string;
  HttpPutResponseHopLimit?: number;
  HttpEndpoint?: string;
  InstanceMetadataTags?: string;
}

/** An EC2 instance state name (Code in EC2_STATE_CODES). */
export type InstanceStateName = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

/** EC2's instance state codes (the low byte of instanceState.code). */
export const EC2_STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  'pending': 0, 'running': 16, 'shutting-down': 32, 'terminated': 48, 'stopping': 64, 'stopped': 80,
};

/** The metadata options of one instance, as DescribeInstances reports them. */
export interface InstanceMetadataOptions {
  HttpTokens: 'optional' | 'required';
  HttpPutResponseHopLimit: number;
  HttpEndpoint: 'enabled' | 'disabled';
  HttpProtocolIpv6: 'enabled' | 'disabled';
  InstanceMetadataTags: 'enabled' | 'disabled';
  /** `pending` after a ModifyInstanceMetadataOptions, `applied` once EC2 has applied it. */
  State: 'pending' | 'applied';
}

/** One emulated instance (instance() and instances() return copies). */
export interface EmulatedInstance {
  InstanceId: string;
  ImageId: string;
  InstanceType: string;
  LaunchTime: Date;
  State: InstanceStateName;
  /** Tag key → value. */
  Tags: Record<string, string>;
  MetadataOptions: InstanceMetadataOptions;
}

/** What addInstance / addInstances take: everything optional, EC2's launch defaults otherwise. */
export interface InstanceSpec {
  /** Default: the next generated id (`i-` and 17 hex digits). */
  readonly InstanceId?: string;
  /** Default: `running`. */
  readonly State?: InstanceStateName;
  /** Default: none. */
  readonly Tags?: Readonly<Record<string, string>>;
  /** Default: optional, 1, enabled, disabled, disabled, applied (an instance launched with EC2's defaults). */
  readonly MetadataOptions?: Partial<InstanceMetadataOptions>;
  /** Default: `ami-0123456789abcdef0`. */
  readonly ImageId?: string;
  /** Default: `t3.micro`. */
  readonly InstanceType?: string;
  /** Default: 2026-01-01T00:00:00Z. */
  readonly LaunchTime?: Date;
}

/** The metadata options a launch template version may set (each optional, as in LaunchTemplateInstanceMetadataOptions). */
export interface LaunchTemplateMetadataOptions {
  HttpTokens?: 'optional' | 'required';
  HttpPutResponseHopLimit?: number;
  HttpEndpoint?: 'enabled' | 'disabled';
  HttpProtocolIpv6?: 'enabled' | 'disabled';
  InstanceMetadataTags?: 'enabled' | 'disabled';
}

/** One version of a launch template (its LaunchTemplateData, reduced to what the emulator keeps). */
export interface LaunchTemplateVersionSpec {
  readonly ImageId?: string;
  readonly InstanceType?: string;
  /** Default: none (the launch falls back to the account default, then EC2's default). */
  readonly MetadataOptions?: LaunchTemplateMetadataOptions;
  readonly VersionDescription?: string;
}

/** What addLaunchTemplate takes. */
export interface LaunchTemplateSpec {
  readonly LaunchTemplateName: string;
  /** Default: the next generated id (`lt-` and 17 hex digits). */
  readonly LaunchTemplateId?: string;
  /** Versions 1, 2, … in this order (at least one). */
  readonly versions: readonly LaunchTemplateVersionSpec[];
  /** Default: 1. */
  readonly DefaultVersionNumber?: number;
}

/** One emulated launch template (launchTemplates() returns copies). */
export interface EmulatedLaunchTemplate {
  LaunchTemplateId: string;
  LaunchTemplateName: string;
  DefaultVersionNumber: number;
  LatestVersionNumber: number;
  CreateTime: Date;
  /** versions[n - 1] is version n. */
  versions: LaunchTemplateVersionSpec[];
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

  /**
   * How many DescribeInstances answers show an instance `pending` after a
   * ModifyInstanceMetadataOptions before it shows `applied` (0: the first
   * answer after the modify already shows applied).
   */
  public describesUntilApplied = 1;
  /**
   * The API reference: "When you modify the parameters on a stopped instance,
   * they are applied when the instance is started." When true, a change made
   * to a stopped or stopping instance stays `pending` until a test starts it
   * (setInstanceState running); then the countdown above runs. Off by default:
   * what DescribeInstances shows for a stopped instance before it starts is not
   * documented.
   */
  public stoppedAppliesOnStart = false;

  private readonly states = new Map<string, RegionState>();
  private readonly fleets = new Map<string, Map<string, InstanceEntry>>();
  private readonly templates = new Map<string, Map<string, EmulatedLaunchTemplate>>();
  private readonly modifyFaults = new Map<string, Map<string, string>>();
  private instanceCounter = 0;
  private templateCounter = 0;
  private ordinal = 0;

  private constructor() {
    super();
  }

  /** Adds one instance to a Region (EC2's launch defaults for what `spec` leaves out) and returns a copy. */
  public addInstance(region: string, spec: InstanceSpec = {}): EmulatedInstance {
    const id = spec.InstanceId ?? `i-${(++this.instanceCounter).toString(16).padStart(17, '0')}`;
    if (!INSTANCE_ID.test(id)) {
      throw new Error(`not an instance id: ${id}`);
    }
    const fleet = this.fleetOf(region);
    if (fleet.has(id)) {
      throw new Error(`instance ${id} already exists in ${region}`);
    }
    const instance: EmulatedInstance = {
      InstanceId: id,
      ImageId: spec.ImageId ?? 'ami-0123456789abcdef0',
      InstanceType: spec.InstanceType ?? 't3.micro',
      LaunchTime: spec.LaunchTime ?? new Date('2026-01-01T00:00:00Z'),
      State: spec.State ?? 'running',
      Tags: { ...(spec.Tags ?? {}) },
      MetadataOptions: { ...DEFAULT_METADATA_OPTIONS, ...(spec.MetadataOptions ?? {}) },
    };
    fleet.set(id, { instance, ordinal: ++this.ordinal, pendingDescribes: 0, held: false });
    return copyInstance(instance);
  }

  /**
   * Adds `count` instances to a Region; `spec` is one spec for all, or a
   * function of the index (0..count-1) for a mixed fleet. Returns copies.
   */
  public addInstances(region: string, count: number, spec: InstanceSpec | ((index: number) => InstanceSpec) = {}): EmulatedInstance[] {
    const out: EmulatedInstance[] = [];
    for (let i = 0; i < count; i++) {
      out.push(this.addInstance(region, typeof spec === 'function' ? spec(i) : spec));
    }
    return out;
  }

  /** One instance of a Region (a copy), or undefined. */
  public instance(region: string, instanceId: string): EmulatedInstance | undefined {
    const entry = this.fleets.get(region)?.get(instanceId);
    return entry ? copyInstance(entry.instance) : undefined;
  }

  /** The instances of a Region in the order they were added (copies). */
  public instances(region: string): EmulatedInstance[] {
    return [...(this.fleets.get(region)?.values() ?? [])].map((e) => copyInstance(e.instance));
  }

  /** Sets the state of an instance (EC2's instances never change state by themselves here). */
  public setInstanceState(region: string, instanceId: string, state: InstanceStateName): void {
    this.entry(region, instanceId).instance.State = state;
  }

  /** Sets metadata options of an instance directly (not through the API: no pending state unless given). */
  public setInstanceMetadataOptions(region: string, instanceId: string, options: Partial<InstanceMetadataOptions>): void {
    const entry = this.entry(region, instanceId);
    entry.instance.MetadataOptions = { ...entry.instance.MetadataOptions, ...options };
  }

  /** Removes every instance (and launch template, and instance fault) of a Region. */
  public clearFleet(region: string): void {
    this.fleets.delete(region);
    this.templates.delete(region);
    this.modifyFaults.delete(region);
  }

  /** Makes every pending metadata change of a Region `applied` now (held ones too). */
  public applyPending(region: string): void {
    for (const entry of this.fleets.get(region)?.values() ?? []) {
      entry.held = false;
      entry.pendingDescribes = 0;
      if (entry.instance.MetadataOptions.State === 'pending') {
        entry.instance.MetadataOptions.State = 'applied';
      }
    }
  }

  /** Keeps these instances' metadata options `pending` forever after a modify (until applyPending). */
  public holdPending(region: string, instanceIds: readonly string[]): void {
    for (const id of instanceIds) {
      this.entry(region, id).held = true;
    }
  }

  /**
   * Makes ModifyInstanceMetadataOptions of these instances fail with an EC2
   * error code (e.g. `InternalError` 500, `UnauthorizedOperation` 403,
   * `IncorrectInstanceState` 400) until cleared with `code: undefined`. The
   * recorded request carries the code in `fault`.
   */
  public failModifyFor(region: string, instanceIds: readonly string[], code: string | undefined): void {
    const faults = this.modifyFaults.get(region) ?? new Map<string, string>();
    this.modifyFaults.set(region, faults);
    for (const id of instanceIds) {
      if (code === undefined) {
        faults.delete(id);
      } else {
        faults.set(id, code);
      }
    }
  }

  /** Adds a launch template with its versions to a Region and returns a copy. */
  public addLaunchTemplate(region: string, spec: LaunchTemplateSpec): EmulatedLaunchTemplate {
    if (spec.versions.length === 0) {
      throw new Error('a launch template has at least one version');
    }
    const id = spec.LaunchTemplateId ?? `lt-${(++this.templateCounter).toString(16).padStart(17, '0')}`;
    const templates = this.templates.get(region) ?? new Map<string, EmulatedLaunchTemplate>();
    this.templates.set(region, templates);
    if (templates.has(id) || [...templates.values()].some((t) => t.LaunchTemplateName === spec.LaunchTemplateName)) {
      throw new Error(`launch template ${id} / ${spec.LaunchTemplateName} already exists in ${region}`);
    }
    const template: EmulatedLaunchTemplate = {
      LaunchTemplateId: id,
      LaunchTemplateName: spec.LaunchTemplateName,
      DefaultVersionNumber: spec.DefaultVersionNumber ?? 1,
      LatestVersionNumber: spec.versions.length,
      CreateTime: new Date('2026-01-01T00:00:00Z'),
      versions: spec.versions.map((v) => ({ ...v, MetadataOptions: v.MetadataOptions && { ...v.MetadataOptions } })),
    };
    if (template.DefaultVersionNumber < 1 || template.DefaultVersionNumber > template.LatestVersionNumber) {
      throw new Error(`DefaultVersionNumber ${template.DefaultVersionNumber} is not a version of ${spec.LaunchTemplateName}`);
    }
    templates.set(id, template);
    return copyTemplate(template);
  }

  /** The launch templates of a Region (copies). */
  public launchTemplates(region: string): EmulatedLaunchTemplate[] {
    return [...(this.templates.get(region)?.values() ?? [])].map(copyTemplate);
  }

  /** How many requests reached each action (faulted ones included), in one Region or all. */
  public callCounts(region?: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.requests) {
      if (region === undefined || r.region === region) {
        counts[r.action] = (counts[r.action] ?? 0) + 1;
      }
    }
    return counts;
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
      case 'DescribeInstances':
        return this.describeInstances(region, params, requestId);
      case 'ModifyInstanceMetadataOptions':
        return this.modifyInstance(region, params, requestId);
      case 'RunInstances':
        return this.runInstances(region, params, requestId);
      case 'DescribeLaunchTemplateVersions':
        return this.describeLaunchTemplateVersions(region, params, requestId);
      case 'CreateTags':
        return this.createTags(region, params, requestId);
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
  private fleetOf(region: string): Map<string, InstanceEntry> {
    let fleet = this.fleets.get(region);
    if (!fleet) {
      fleet = new Map();
      this.fleets.set(region, fleet);
    }
    return fleet;
  }

  private entry(region: string, instanceId: string): InstanceEntry {
    const entry = this.fleets.get(region)?.get(instanceId);
    if (!entry) {
      throw new Error(`no instance ${instanceId} in ${region}`);
    }
    return entry;
  }

  private describeInstances(region: string, params: Record<string, string>, requestId: string): string {
    checkKnown(params, ['DryRun', 'MaxResults', 'NextToken'], ['Filter.', 'InstanceId.']);
    const ids = listParam(params, 'InstanceId');
    const filters = filtersOf(params);
    const max = params.MaxResults === undefined ? undefined : Number(params.MaxResults);
    if (max !== undefined) {
      if (ids.length > 0) {
        throw new Ec2Error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
      }
      if (!Number.isInteger(max) || max < 5 || max > 1000) {
        throw new Ec2Error('InvalidParameterValue', `Value ( ${params.MaxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
      }
    }
    const fleet = this.fleetOf(region);
    for (const id of ids) {
      if (!INSTANCE_ID.test(id)) {
        throw new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
      }
    }
    const missing = ids.filter((id) => !fleet.has(id));
    if (missing.length > 0) {
      throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' ${missing.length > 1 ? 'do' : 'does'} not exist`);
    }
    const matchers = filters.map(instanceFilter);
    const after = params.NextToken === undefined ? 0 : decodeToken(params.NextToken, 'DescribeInstances');
    if (params.DryRun === 'true') {
      throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    }
    const wanted = ids.length > 0 ? new Set(ids) : undefined;
    const page: InstanceEntry[] = [];
    let nextToken: string | undefined;
    for (const entry of fleet.values()) {
      if (entry.ordinal <= after || (wanted && !wanted.has(entry.instance.InstanceId))) continue;
      if (!matchers.every((m) => m(entry.instance))) continue;
      if (max !== undefined && page.length === max) {
        nextToken = encodeToken(page[page.length - 1].ordinal, 'DescribeInstances');
        break;
      }
      page.push(entry);
    }
    const items = page.map((entry) => {
      this.observe(entry);
      const i = entry.instance;
      const reservation = `r-${i.InstanceId.slice(2)}`;
      return `<item><reservationId>${reservation}</reservationId><ownerId>${TEST_ACCOUNT}</ownerId><groupSet/>`
        + `<instancesSet><item>${instanceXml(i)}</item></instancesSet></item>`;
    });
    return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="${EC2_NAMESPACE}">
    <requestId>${requestId}</requestId>
    <reservationSet>${items.join('')}</reservationSet>${nextToken ? `\n    <nextToken>${nextToken}</nextToken>` : ''}
</DescribeInstancesResponse>`;
  }

  /** A DescribeInstances answer shows the instance: count down its pending describes. */
  private observe(entry: InstanceEntry): void {
    const options = entry.instance.MetadataOptions;
    if (options.State !== 'pending' || entry.held) return;
    if (this.stoppedAppliesOnStart && (entry.instance.State === 'stopped' || entry.instance.State === 'stopping')) return;
    if (entry.pendingDescribes <= 0) {
      options.State = 'applied';
    } else {
      entry.pendingDescribes--;
    }
  }

  /**
   * CreateTags on instances (ResourceId.N, Tag.N.Key / Tag.N.Value): adds or
   * overwrites each tag on each instance. Faithful in: MissingParameter without a
   * resource or a tag; InvalidInstanceID.Malformed / .NotFound (nothing is
   * tagged then); keys of 1..128 characters not starting with `aws:` and values
   * of up to 256 (InvalidParameterValue); at most 50 tags on an instance
   * (TagLimitExceeded). Simplified: only instance ids (other resource types are
   * InvalidID); the messages are ours.
   */
  private createTags(region: string, params: Record<string, string>, requestId: string): string {
    checkKnown(params, ['DryRun'], ['ResourceId.', 'Tag.']);
    const ids = listParam(params, 'ResourceId');
    const tags: Array<[string, string]> = [];
    for (let i = 1; params[`Tag.${i}.Key`] !== undefined; i++) {
      tags.push([params[`Tag.${i}.Key`], params[`Tag.${i}.Value`] ?? '']);
    }
    if (ids.length === 0 || tags.length === 0) {
      throw new Ec2Error('MissingParameter', `The request must contain the parameter ${ids.length === 0 ? 'resourceIdSet' : 'tagSet'}`);
    }
    for (const [key, value] of tags) {
      if (key.length < 1 || key.length > 128 || key.toLowerCase().startsWith('aws:') || value.length > 256) {
        throw new Ec2Error('InvalidParameterValue', `Tag key or value is invalid: ${JSON.stringify(key)}`);
      }
    }
    const entries = ids.map((id) => {
      if (!id.startsWith('i-')) {
        throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
      }
      if (!INSTANCE_ID.test(id)) {
        throw new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
      }
      const entry = this.fleetOf(region).get(id);
      if (!entry) {
        throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
      }
      if (Object.keys({ ...entry.instance.Tags, ...Object.fromEntries(tags) }).length > 50) {
        throw new Ec2Error('TagLimitExceeded', `The maximum number of tags for the resource ${id} has been reached`);
      }
      return entry;
    });
    if (params.DryRun === 'true') {
      throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    }
    for (const entry of entries) {
      entry.instance.Tags = { ...entry.instance.Tags, ...Object.fromEntries(tags) };
    }
    return `<?xml version="1.0" encoding="UTF-8"?>
<CreateTagsResponse xmlns="${EC2_NAMESPACE}">
    <requestId>${requestId}</requestId>
    <return>true</return>
</CreateTagsResponse>`;
  }

  /** Sets (or, with undefined, removes) tags of an instance, as a user with ec2:CreateTags / DeleteTags would. */
  public setTags(region: string, instanceId: string, tags: Readonly<Record<string, string | undefined>>): void {
    const entry = this.fleetOf(region).get(instanceId);
    if (!entry) {
      throw new Error(`no instance ${instanceId} in ${region}`);
    }
    const next = { ...entry.instance.Tags };
    for (const [key, value] of Object.entries(tags)) {
      if (value === undefined) {
        delete next[key];
      } else {
        next[key] = value;
      }
    }
    entry.instance.Tags = next;
  }

  private modifyInstance(region: string, params: Record<string, string>, requestId: string): string {
    checkKnown(params, ['DryRun', 'InstanceId', 'HttpTokens', 'HttpPutResponseHopLimit', 'HttpEndpoint', 'HttpProtocolIpv6', 'InstanceMetadataTags'], []);
    const id = params.InstanceId;
    if (id === undefined) {
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId');
    }
    const next: Partial<InstanceMetadataOptions> = {};
    for (const [key, allowed] of Object.entries(INSTANCE_ENUMS)) {
      const value = params[key];
      if (value === undefined) continue;
      if (!allowed.includes(value)) {
        throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter ${key} is invalid. Valid values: ${allowed.join(', ')}`);
      }
      (next as Record<string, unknown>)[key] = value;
    }
    if (params.HttpPutResponseHopLimit !== undefined) {
      const hop = params.HttpPutResponseHopLimit;
      const n = /^\d+$/.test(hop) ? Number(hop) : NaN;
      if (!(n >= 1 && n <= 64)) {
        throw new Ec2Error('InvalidParameterValue', `Value (${hop}) for parameter HttpPutResponseHopLimit is invalid. Valid values: 1 to 64`);
      }
      next.HttpPutResponseHopLimit = n;
    }
    if (!INSTANCE_ID.test(id)) {
      throw new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    }
    const entry = this.fleetOf(region).get(id);
    if (!entry) {
      throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    }
    const current = entry.instance;
    if (current.State === 'terminated' || current.State === 'shutting-down') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be modified.`);
    }
    if (next.HttpTokens === 'optional' && current.MetadataOptions.HttpTokens === 'required'
      && this.knowsHttpTokensEnforced && this.states.get(region)?.HttpTokensEnforced === 'enabled') {
      throw new Ec2Error('UnsupportedOperation', `You can't modify instance ${id} to allow IMDSv1 because httpTokensEnforced is enabled for this account.`);
    }
    const fault = this.modifyFaults.get(region)?.get(id);
    if (fault) {
      // Recorded like an injected fault (its code in `fault`), though not counted in faultsServed.
      this.requests[this.requests.length - 1] = { ...this.requests[this.requests.length - 1], fault };
      throw new Ec2Error(fault, (FAULT_MESSAGES[fault] ?? `injected ${fault}`).replace(/\{action\}/g, 'ModifyInstanceMetadataOptions'));
    }
    if (params.DryRun === 'true') {
      throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    }
    current.MetadataOptions = { ...current.MetadataOptions, ...next, State: 'pending' };
    entry.pendingDescribes = this.describesUntilApplied;
    return `<?xml version="1.0" encoding="UTF-8"?>
<ModifyInstanceMetadataOptionsResponse xmlns="${EC2_NAMESPACE}">
    <requestId>${requestId}</requestId>
    <instanceId>${id}</instanceId>
    <instanceMetadataOptions>${metadataOptionsXml(current.MetadataOptions)}</instanceMetadataOptions>
</ModifyInstanceMetadataOptionsResponse>`;
  }

  private runInstances(region: string, params: Record<string, string>, requestId: string): string {
    checkKnown(params, ['DryRun', 'ImageId', 'InstanceType', 'MinCount', 'MaxCount', 'ClientToken'], ['MetadataOptions.', 'LaunchTemplate.', 'TagSpecification.']);
    const min = Number(params.MinCount);
    const max = Number(params.MaxCount);
    if (params.MinCount === undefined || params.MaxCount === undefined) {
      throw new Ec2Error('MissingParameter', `The request must contain the parameter ${params.MinCount === undefined ? 'MinCount' : 'MaxCount'}`);
    }
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) {
      throw new Ec2Error('InvalidParameterValue', `Invalid value for MinCount (${params.MinCount}) / MaxCount (${params.MaxCount})`);
    }
    let version: LaunchTemplateVersionSpec | undefined;
    if (params['LaunchTemplate.LaunchTemplateId'] !== undefined || params['LaunchTemplate.LaunchTemplateName'] !== undefined) {
      const template = this.findTemplate(region, params['LaunchTemplate.LaunchTemplateId'], params['LaunchTemplate.LaunchTemplateName']);
      const wanted = params['LaunchTemplate.Version'] ?? '$Default';
      const n = wanted === '$Latest' ? template.LatestVersionNumber : wanted === '$Default' ? template.DefaultVersionNumber : Number(wanted);
      version = template.versions[n - 1];
      if (!version) {
        throw new Ec2Error('InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${wanted} for template ${template.LaunchTemplateId}`);
      }
    }
    const account = this.states.get(region) ?? {};
    const launch: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) {
      if (key.startsWith('MetadataOptions.')) launch[key.slice('MetadataOptions.'.length)] = value;
    }
    // Precedence (EC2 User Guide, "Order of precedence for instance metadata
    // options"): launch parameters, then the launch template, then the account
    // default, then EC2's default; each option on its own.
    const resolve = (key: keyof LaunchTemplateMetadataOptions & keyof InstanceMetadataOptions): any =>
      launch[key] ?? version?.MetadataOptions?.[key] ?? (account as Record<string, unknown>)[key] ?? DEFAULT_METADATA_OPTIONS[key];
    const options: InstanceMetadataOptions = {
      HttpTokens: resolve('HttpTokens'),
      HttpPutResponseHopLimit: Number(resolve('HttpPutResponseHopLimit')),
      HttpEndpoint: resolve('HttpEndpoint'),
      HttpProtocolIpv6: resolve('HttpProtocolIpv6'),
      InstanceMetadataTags: resolve('InstanceMetadataTags'),
      State: 'pending',
    };
    for (const [key, allowed] of Object.entries(INSTANCE_ENUMS)) {
      const value = (options as unknown as Record<string, string>)[key];
      if (!allowed.includes(value)) {
        throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter MetadataOptions.${key} is invalid. Valid values: ${allowed.join(', ')}`);
      }
    }
    if (!(options.HttpPutResponseHopLimit >= 1 && options.HttpPutResponseHopLimit <= 64)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${options.HttpPutResponseHopLimit}) for parameter MetadataOptions.HttpPutResponseHopLimit is invalid. Valid values: 1 to 64`);
    }
    // Enforcement is checked after precedence has resolved the options.
    if (this.knowsHttpTokensEnforced && account.HttpTokensEnforced === 'enabled' && options.HttpTokens !== 'required') {
      throw new Ec2Error('UnsupportedOperation', ENFORCED_LAUNCH_MESSAGE);
    }
    if (params.DryRun === 'true') {
      throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    }
    const tags: Record<string, string> = {};
    for (let t = 1; params[`TagSpecification.${t}.ResourceType`] !== undefined; t++) {
      if (params[`TagSpecification.${t}.ResourceType`] !== 'instance') continue;
      for (let k = 1; params[`TagSpecification.${t}.Tag.${k}.Key`] !== undefined; k++) {
        tags[params[`TagSpecification.${t}.Tag.${k}.Key`]] = params[`TagSpecification.${t}.Tag.${k}.Value`] ?? '';
      }
    }
    const launched = this.addInstances(region, max, {
      State: 'pending',
      Tags: tags,
      MetadataOptions: { ...options, State: 'applied' },
      ImageId: params.ImageId ?? version?.ImageId,
      InstanceType: params.InstanceType ?? version?.InstanceType,
      LaunchTime: new Date(),
    });
    const reservation = `r-${launched[0].InstanceId.slice(2)}`;
    return `<?xml version="1.0" encoding="UTF-8"?>
<RunInstancesResponse xmlns="${EC2_NAMESPACE}">
    <requestId>${requestId}</requestId>
    <reservationId>${reservation}</reservationId>
    <ownerId>${TEST_ACCOUNT}</ownerId>
    <groupSet/>
    <instancesSet>${launched.map((i) => `<item>${instanceXml(i)}</item>`).join('')}</instancesSet>
</RunInstancesResponse>`;
  }

  private findTemplate(region: string, id: string | undefined, name: string | undefined): EmulatedLaunchTemplate {
    const templates = [...(this.templates.get(region)?.values() ?? [])];
    if (id !== undefined) {
      if (!/^lt-[0-9a-f]{17}$/.test(id)) {
        throw new Ec2Error('InvalidLaunchTemplateId.Malformed', `The specified launch template ID is malformed: ${id}`);
      }
      const found = templates.find((t) => t.LaunchTemplateId === id);
      if (!found) {
        throw new Ec2Error('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${id}, does not exist.`);
      }
      return found;
    }
    const found = templates.find((t) => t.LaunchTemplateName === name);
    if (!found) {
      throw new Ec2Error('InvalidLaunchTemplateName.NotFoundException', `The specified launch template, with template name ${name}, does not exist.`);
    }
    return found;
  }

  private describeLaunchTemplateVersions(region: string, params: Record<string, string>, requestId: string): string {
    checkKnown(params, ['DryRun', 'LaunchTemplateId', 'LaunchTemplateName', 'MinVersion', 'MaxVersion', 'MaxResults', 'NextToken', 'ResolveAlias'], ['Filter.', 'LaunchTemplateVersion.']);
    const versions = listParam(params, 'LaunchTemplateVersion');
    const max = params.MaxResults === undefined ? undefined : Number(params.MaxResults);
    if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 200)) {
      throw new Ec2Error('InvalidParameterValue', `Value ( ${params.MaxResults} ) for parameter maxResults is invalid. Expecting a value between 1 and 200.`);
    }
    const matchers = filtersOf(params).map(templateFilter);
    let templates: EmulatedLaunchTemplate[];
    if (params.LaunchTemplateId !== undefined || params.LaunchTemplateName !== undefined) {
      if (params.LaunchTemplateId !== undefined && params.LaunchTemplateName !== undefined) {
        throw new Ec2Error('InvalidParameterCombination', 'You can specify either a launch template ID or a launch template name, but not both.');
      }
      templates = [this.findTemplate(region, params.LaunchTemplateId, params.LaunchTemplateName)];
    } else {
      if (versions.length === 0 || versions.some((v) => v !== '$Latest' && v !== '$Default')) {
        throw new Ec2Error('MissingParameter', 'To describe the versions of all your launch templates, specify $Latest, $Default, or both, and omit the launch template ID and name.');
      }
      templates = [...(this.templates.get(region)?.values() ?? [])];
    }
    const minV = params.MinVersion === undefined ? undefined : Number(params.MinVersion);
    const maxV = params.MaxVersion === undefined ? undefined : Number(params.MaxVersion);
    const after = params.NextToken === undefined ? 0 : decodeToken(params.NextToken, 'DescribeLaunchTemplateVersions');
    if (params.DryRun === 'true') {
      throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    }
    // Every (template, version) selected, in a stable order; the token is a position in it.
    const rows: Array<{ template: EmulatedLaunchTemplate; number: number }> = [];
    for (const template of templates) {
      const numbers = new Set<number>();
      if (versions.length === 0) {
        template.versions.forEach((_, i) => numbers.add(i + 1));
      }
      for (const v of versions) {
        const n = v === '$Latest' ? template.LatestVersionNumber : v === '$Default' ? template.DefaultVersionNumber : Number(v);
        if (!Number.isInteger(n) || n < 1 || n > template.LatestVersionNumber) {
          throw new Ec2Error('InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${v} for template ${template.LaunchTemplateId}`);
        }
        numbers.add(n);
      }
      for (const n of [...numbers].sort((a, b) => b - a)) {
        if ((minV !== undefined && n < minV) || (maxV !== undefined && n > maxV)) continue;
        if (matchers.every((m) => m(template, n))) rows.push({ template, number: n });
      }
    }
    const page = rows.slice(after, max === undefined ? undefined : after + max);
    const nextToken = max !== undefined && after + max < rows.length ? encodeToken(after + max, 'DescribeLaunchTemplateVersions') : undefined;
    const items = page.map(({ template, number }) => {
      const v = template.versions[number - 1];
      const data = [
        v.ImageId ? `<imageId>${escapeXml(v.ImageId)}</imageId>` : '',
        v.InstanceType ? `<instanceType>${escapeXml(v.InstanceType)}</instanceType>` : '',
        v.MetadataOptions ? `<metadataOptions>${templateOptionsXml(v.MetadataOptions)}</metadataOptions>` : '',
      ].join('');
      return `<item><createTime>${template.CreateTime.toISOString()}</createTime><createdBy>arn:aws:iam::${TEST_ACCOUNT}:root</createdBy>`
        + `<defaultVersion>${number === template.DefaultVersionNumber}</defaultVersion><launchTemplateData>${data}</launchTemplateData>`
        + `<launchTemplateId>${template.LaunchTemplateId}</launchTemplateId><launchTemplateName>${escapeXml(template.LaunchTemplateName)}</launchTemplateName>`
        + (v.VersionDescription ? `<versionDescription>${escapeXml(v.VersionDescription)}</versionDescription>` : '')
        + `<versionNumber>${number}</versionNumber></item>`;
    });
    return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeLaunchTemplateVersionsResponse xmlns="${EC2_NAMESPACE}">
    <requestId>${requestId}</requestId>
    <launchTemplateVersionSet>${items.join('')}</launchTemplateVersionSet>${nextToken ? `\n    <nextToken>${nextToken}</nextToken>` : ''}
</DescribeLaunchTemplateVersionsResponse>`;
  }
}

function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

interface InstanceEntry {
  instance: EmulatedInstance;
  /** Its position in the order instances were added (pagination tokens point into it). */
  readonly ordinal: number;
  /** DescribeInstances answers left that show a modify as pending. */
  pendingDescribes: number;
  /** holdPending: never applied. */
  held: boolean;
}

const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;

const DEFAULT_METADATA_OPTIONS: InstanceMetadataOptions = {
  HttpTokens: 'optional',
  HttpPutResponseHopLimit: 1,
  HttpEndpoint: 'enabled',
  HttpProtocolIpv6: 'disabled',
  InstanceMetadataTags: 'disabled',
  State: 'applied',
};

const INSTANCE_ENUMS: Record<string, readonly string[]> = {
  HttpTokens: ['optional', 'required'],
  HttpEndpoint: ['disabled', 'enabled'],
  HttpProtocolIpv6: ['disabled', 'enabled'],
  InstanceMetadataTags: ['disabled', 'enabled'],
};

/**
 * RunInstances' refusal under enforcement: the beginning is the text the EC2
 * User Guide's launch troubleshooting page quotes; the end, after "account
 * owner", is ours.
 */
export const ENFORCED_LAUNCH_MESSAGE = 'You can\'t launch instances with IMDSv1 because httpTokensEnforced is enabled for this account. '
  + 'Either launch the instance with httpTokens=required or contact your account owner to disable httpTokensEnforced.';

function copyInstance(i: EmulatedInstance): EmulatedInstance {
  return { ...i, Tags: { ...i.Tags }, MetadataOptions: { ...i.MetadataOptions } };
}

function copyTemplate(t: EmulatedLaunchTemplate): EmulatedLaunchTemplate {
  return { ...t, versions: t.versions.map((v) => ({ ...v, MetadataOptions: v.MetadataOptions && { ...v.MetadataOptions } })) };
}

/** Refuses parameters the action does not take (exact names, or prefixes of list members). */
function checkKnown(params: Record<string, string>, names: readonly string[], prefixes: readonly string[]): void {
  for (const name of Object.keys(params)) {
    if (name === 'Action' || name === 'Version' || names.includes(name) || prefixes.some((p) => name.startsWith(p))) continue;
    throw new Ec2Error('UnknownParameter', `The parameter ${name} is not recognized`);
  }
}

/** The members of an EC2 Query list parameter (`Name.1`, `Name.2`, …) in order. */
function listParam(params: Record<string, string>, name: string): string[] {
  const out: string[] = [];
  for (let i = 1; params[`${name}.${i}`] !== undefined; i++) {
    out.push(params[`${name}.${i}`]);
  }
  return out;
}

interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

/** `Filter.N.Name` with its `Filter.N.Value.M`. */
function filtersOf(params: Record<string, string>): Filter[] {
  const out: Filter[] = [];
  for (let i = 1; params[`Filter.${i}.Name`] !== undefined; i++) {
    out.push({ name: params[`Filter.${i}.Name`], values: listParam(params, `Filter.${i}.Value`) });
  }
  return out;
}

/** EC2 filter values may use `*` (any characters) and `?` (one character). */
function globMatcher(values: readonly string[]): (value: string | undefined) => boolean {
  const patterns = values.map((v) => new RegExp(`^${v.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  return (value) => value !== undefined && patterns.some((p) => p.test(value));
}

function instanceFilter(filter: Filter): (i: EmulatedInstance) => boolean {
  const match = globMatcher(filter.values);
  if (filter.name.startsWith('tag:')) {
    const key = filter.name.slice(4);
    return (i) => match(i.Tags[key]);
  }
  switch (filter.name) {
    case 'instance-id': return (i) => match(i.InstanceId);
    case 'instance-state-name': return (i) => match(i.State);
    case 'instance-state-code': return (i) => match(String(EC2_STATE_CODES[i.State]));
    case 'tag-key': return (i) => Object.keys(i.Tags).some((k) => match(k));
    case 'metadata-options.http-tokens': return (i) => match(i.MetadataOptions.HttpTokens);
    case 'metadata-options.http-endpoint': return (i) => match(i.MetadataOptions.HttpEndpoint);
    case 'metadata-options.http-put-response-hop-limit': return (i) => match(String(i.MetadataOptions.HttpPutResponseHopLimit));
    default:
      throw new Ec2Error('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
  }
}

function templateFilter(filter: Filter): (t: EmulatedLaunchTemplate, version: number) => boolean {
  const match = globMatcher(filter.values);
  switch (filter.name) {
    case 'http-tokens': return (t, n) => match(t.versions[n - 1].MetadataOptions?.HttpTokens);
    case 'http-endpoint': return (t, n) => match(t.versions[n - 1].MetadataOptions?.HttpEndpoint);
    case 'is-default-version': return (t, n) => match(String(n === t.DefaultVersionNumber));
    default:
      throw new Ec2Error('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
  }
}

function encodeToken(position: number, action: string): string {
  return Buffer.from(JSON.stringify({ a: action, p: position })).toString('base64');
}

function decodeToken(token: string, action: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (parsed.a === action && Number.isInteger(parsed.p) && parsed.p >= 0) {
      return parsed.p;
    }
  } catch {
    // answered below
  }
  throw new Ec2Error('InvalidPaginationToken', `Invalid pagination token: ${token}`);
}

function metadataOptionsXml(o: InstanceMetadataOptions): string {
  return `<state>${o.State}</state><httpTokens>${o.HttpTokens}</httpTokens><httpPutResponseHopLimit>${o.HttpPutResponseHopLimit}</httpPutResponseHopLimit>`
    + `<httpEndpoint>${o.HttpEndpoint}</httpEndpoint><httpProtocolIpv6>${o.HttpProtocolIpv6}</httpProtocolIpv6><instanceMetadataTags>${o.InstanceMetadataTags}</instanceMetadataTags>`;
}

function templateOptionsXml(o: LaunchTemplateMetadataOptions): string {
  return ([
    ['httpTokens', o.HttpTokens], ['httpPutResponseHopLimit', o.HttpPutResponseHopLimit], ['httpEndpoint', o.HttpEndpoint],
    ['httpProtocolIpv6', o.HttpProtocolIpv6], ['instanceMetadataTags', o.InstanceMetadataTags],
  ] as Array<[string, unknown]>).filter(([, v]) => v !== undefined).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
}

function instanceXml(i: EmulatedInstance): string {
  const tags = Object.entries(i.Tags).map(([k, v]) => `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`).join('');
  return `<instanceId>${i.InstanceId}</instanceId><imageId>${escapeXml(i.ImageId)}</imageId>`
    + `<instanceState><code>${EC2_STATE_CODES[i.State]}</code><name>${i.State}</name></instanceState>`
    + `<instanceType>${escapeXml(i.InstanceType)}</instanceType><launchTime>${i.LaunchTime.toISOString()}</launchTime>`
    + (tags ? `<tagSet>${tags}</tagSet>` : '')
    + `<metadataOptions>${metadataOptionsXml(i.MetadataOptions)}</metadataOptions>`;
}
