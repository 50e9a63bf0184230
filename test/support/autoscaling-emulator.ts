/**
 * A local Amazon EC2 Auto Scaling endpoint for DescribeLaunchConfigurations
 * and DescribeAutoScalingGroups that speaks the AWS Query protocol (Version 2011-01-01), as
 * `@aws-sdk/client-auto-scaling` does (current and 3.995.0 alike), so tests can
 * drive the real client (via `endpoint` or AWS_ENDPOINT_URL_AUTO_SCALING)
 * without reaching AWS. It answers from launch configurations that the tests
 * add (addLaunchConfiguration). Listens on 127.0.0.1 only.
 *
 * Faithful to the Auto Scaling API reference where it matters to the readiness
 * check:
 * - form-encoded POST with Action and Version; XML answers in the Auto Scaling
 *   namespace with the request id in ResponseMetadata;
 * - errors as `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code>…` with
 *   Auto Scaling's codes and HTTP statuses (ValidationError 400, InvalidNextToken
 *   400, Throttling 400, AccessDenied 403, InternalFailure 500, InvalidAction 400
 *   for an action it does not emulate);
 * - SigV4 is checked (test/support/sigv4.ts, signing name `autoscaling`) and
 *   answered as Query services do (MissingAuthenticationToken,
 *   InvalidClientTokenId, SignatureDoesNotMatch, all 403); the Region comes from
 *   the credential scope and launch configurations are kept per Region;
 * - DescribeLaunchConfigurations: LaunchConfigurationNames (up to 50; names that
 *   do not exist are left out, not an error), MaxRecords 1..100 (default 50),
 *   NextToken; each launch configuration carries LaunchConfigurationName,
 *   LaunchConfigurationARN, ImageId, InstanceType, CreatedTime, and
 *   MetadataOptions (HttpTokens, HttpPutResponseHopLimit, HttpEndpoint) when it
 *   has any.
 * - DescribeAutoScalingGroups: AutoScalingGroupNames (names that do not exist
 *   are left out), MaxRecords 1..100 (default 50), NextToken (InvalidNextToken
 *   otherwise), IncludeInstances (default true; false leaves Instances out);
 *   each group carries AutoScalingGroupName, AutoScalingGroupARN, exactly one
 *   of LaunchConfigurationName, LaunchTemplate {LaunchTemplateId,
 *   LaunchTemplateName, Version} or MixedInstancesPolicy {LaunchTemplate
 *   {LaunchTemplateSpecification, Overrides[] {InstanceType,
 *   LaunchTemplateSpecification?}}}, as the group was created with (addAutoScalingGroup
 *   refuses none or two, as CreateAutoScalingGroup does), MinSize, MaxSize,
 *   DesiredCapacity, CreatedTime, and Instances[] {InstanceId,
 *   InstanceType, AvailabilityZone, LifecycleState, HealthStatus,
 *   LaunchConfigurationName or LaunchTemplate, ProtectedFromScaleIn}.
 *   Auto Scaling answers a template's id and name both; the emulator answers
 *   what the test gave (give both for fidelity).
 *
 * Simplifications (said here so no test relies on them being real Auto Scaling):
 * - one account; only the two Describe actions are emulated (groups are added by
 *   the tests: no scaling, no link to the EC2 emulator's instances, and a
 *   group's launch template or configuration is not checked to exist);
 * - Filters of DescribeAutoScalingGroups are refused (ValidationError);
 * - a launch configuration carries only the fields above (no SecurityGroups,
 *   BlockDeviceMappings, UserData, ...);
 * - results come in the order the configurations and groups were added (Auto
 *   Scaling's order is by name); the token is the position after the last one
 *   returned;
 * - only POST is served (the SDK always POSTs).
 */
import * as http from 'http';
import { LocalEndpoint, Reply, TEST_ACCOUNT, TEST_ROLE_ARN, escapeXml } from './local-endpoint';
import { queryAuthFailure, queryErrorXml } from './query-protocol';
import { SigV4Error, verifySigV4 } from './sigv4';

export { TEST_CREDENTIALS, TEST_SESSION_TOKEN } from './sigv4';

export const AUTOSCALING_NAMESPACE = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

/** The metadata options of a launch configuration (InstanceMetadataOptions in the API; each optional). */
export interface LaunchConfigurationMetadataOptions {
  HttpTokens?: 'optional' | 'required';
  HttpPutResponseHopLimit?: number;
  HttpEndpoint?: 'enabled' | 'disabled';
}

/** What addLaunchConfiguration takes. */
export interface LaunchConfigurationSpec {
  readonly LaunchConfigurationName: string;
  /** Default: `ami-0123456789abcdef0`. */
  readonly ImageId?: string;
  /** Default: `t3.micro`. */
  readonly InstanceType?: string;
  /** Default: none (the launch falls back to the account default, then EC2's default). */
  readonly MetadataOptions?: LaunchConfigurationMetadataOptions;
  /** Default: 2026-01-01T00:00:00Z. */
  readonly CreatedTime?: Date;
}

/** One emulated launch configuration (launchConfigurations() returns copies). */
export interface EmulatedLaunchConfiguration {
  LaunchConfigurationName: string;
  LaunchConfigurationARN: string;
  ImageId: string;
  InstanceType: string;
  CreatedTime: Date;
  MetadataOptions?: LaunchConfigurationMetadataOptions;
}

/** A launch template as a group names it (LaunchTemplateSpecification: an id or a name, and a version). */
export interface GroupLaunchTemplate {
  readonly LaunchTemplateId?: string;
  readonly LaunchTemplateName?: string;
  /** A version number, `$Default` or `$Latest`. Default: `$Default` (as Auto Scaling stores it when left out). */
  readonly Version?: string;
}

/** One instance of a group, as DescribeAutoScalingGroups lists it. */
export interface GroupInstanceSpec {
  readonly InstanceId: string;
  /** Default: `t3.micro`. */
  readonly InstanceType?: string;
  /** Default: `InService`. */
  readonly LifecycleState?: string;
  /** Default: the group's launch configuration or launch template. */
  readonly LaunchConfigurationName?: string;
  readonly LaunchTemplate?: GroupLaunchTemplate;
}

/** What addAutoScalingGroup takes: exactly one of LaunchConfigurationName, LaunchTemplate, MixedInstancesPolicy. */
export interface AutoScalingGroupSpec {
  readonly AutoScalingGroupName: string;
  readonly LaunchConfigurationName?: string;
  readonly LaunchTemplate?: GroupLaunchTemplate;
  readonly MixedInstancesPolicy?: {
    readonly LaunchTemplate: {
      readonly LaunchTemplateSpecification: GroupLaunchTemplate;
      readonly Overrides?: ReadonlyArray<{ readonly InstanceType?: string; readonly LaunchTemplateSpecification?: GroupLaunchTemplate }>;
    };
  };
  readonly Instances?: readonly GroupInstanceSpec[];
  /** Default: 0. */
  readonly MinSize?: number;
  /** Default: the number of instances (at least 1). DesiredCapacity is the number of instances. */
  readonly MaxSize?: number;
  /** Default: 2026-01-01T00:00:00Z. */
  readonly CreatedTime?: Date;
}

/** One emulated group (autoScalingGroups() returns copies). */
export interface EmulatedAutoScalingGroup extends AutoScalingGroupSpec {
  readonly AutoScalingGroupARN: string;
}

/** One recorded request: the action, its Region, and its form parameters. */
export interface AutoScalingRecordedRequest {
  readonly action: string;
  readonly region: string;
  readonly params: Record<string, string>;
  /** The Auto Scaling error code of an injected fault this request was answered with. */
  readonly fault?: string;
}

const VERSION = '2011-01-01';

const ERROR_STATUS: Record<string, number> = {
  AccessDenied: 403,
  MissingAuthenticationToken: 403,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

/** The message text Auto Scaling sends with each injectable code ({action} filled in). */
const FAULT_MESSAGES: Record<string, string> = {
  AccessDenied: `User: ${TEST_ROLE_ARN} is not authorized to perform: autoscaling:{action} because no identity-based policy allows the autoscaling:{action} action`,
  Throttling: 'Rate exceeded',
  InternalFailure: 'An internal error occurred.',
};

class AutoScalingError extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
  }
}

export class AutoScalingEmulator extends LocalEndpoint<AutoScalingRecordedRequest> {
  /** Starts an emulator on 127.0.0.1 with a free port. */
  public static async start(): Promise<AutoScalingEmulator> {
    const emulator = new AutoScalingEmulator();
    await emulator.listen();
    return emulator;
  }

  private readonly regions = new Map<string, Map<string, EmulatedLaunchConfiguration>>();
  private readonly groups = new Map<string, Map<string, EmulatedAutoScalingGroup>>();
  private counter = 0;

  private constructor() {
    super();
  }

  /** Adds a launch configuration to a Region and returns a copy. */
  public addLaunchConfiguration(region: string, spec: LaunchConfigurationSpec): EmulatedLaunchConfiguration {
    const configs = this.regions.get(region) ?? new Map<string, EmulatedLaunchConfiguration>();
    this.regions.set(region, configs);
    if (configs.has(spec.LaunchConfigurationName)) {
      throw new Error(`launch configuration ${spec.LaunchConfigurationName} already exists in ${region}`);
    }
    const uuid = `00000000-0000-4000-8000-${String(++this.counter).padStart(12, '0')}`;
    const config: EmulatedLaunchConfiguration = {
      LaunchConfigurationName: spec.LaunchConfigurationName,
      LaunchConfigurationARN: `arn:aws:autoscaling:${region}:${TEST_ACCOUNT}:launchConfiguration:${uuid}:launchConfigurationName/${spec.LaunchConfigurationName}`,
      ImageId: spec.ImageId ?? 'ami-0123456789abcdef0',
      InstanceType: spec.InstanceType ?? 't3.micro',
      CreatedTime: spec.CreatedTime ?? new Date('2026-01-01T00:00:00Z'),
      MetadataOptions: spec.MetadataOptions && { ...spec.MetadataOptions },
    };
    configs.set(config.LaunchConfigurationName, config);
    return copy(config);
  }

  /** The launch configurations of a Region (copies), in the order they were added. */
  public launchConfigurations(region: string): EmulatedLaunchConfiguration[] {
    return [...(this.regions.get(region)?.values() ?? [])].map(copy);
  }

  /** Removes every launch configuration of a Region. */
  public clearLaunchConfigurations(region: string): void {
    this.regions.delete(region);
  }

  /** Adds an Auto Scaling group to a Region and returns a copy. */
  public addAutoScalingGroup(region: string, spec: AutoScalingGroupSpec): EmulatedAutoScalingGroup {
    const groups = this.groups.get(region) ?? new Map<string, EmulatedAutoScalingGroup>();
    this.groups.set(region, groups);
    if (groups.has(spec.AutoScalingGroupName)) {
      throw new Error(`Auto Scaling group ${spec.AutoScalingGroupName} already exists in ${region}`);
    }
    const sources = [spec.LaunchConfigurationName, spec.LaunchTemplate, spec.MixedInstancesPolicy].filter((s) => s !== undefined);
    if (sources.length !== 1) {
      throw new Error('Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.');
    }
    const uuid = `00000000-0000-4000-8000-${String(++this.counter).padStart(12, '0')}`;
    const group: EmulatedAutoScalingGroup = {
      ...structuredClone(spec),
      AutoScalingGroupARN: `arn:aws:autoscaling:${region}:${TEST_ACCOUNT}:autoScalingGroup:${uuid}:autoScalingGroupName/${spec.AutoScalingGroupName}`,
    };
    groups.set(group.AutoScalingGroupName, group);
    return structuredClone(group);
  }

  /** The groups of a Region (copies), in the order they were added. */
  public autoScalingGroups(region: string): EmulatedAutoScalingGroup[] {
    return [...(this.groups.get(region)?.values() ?? [])].map((g) => structuredClone(g));
  }

  /** Removes every Auto Scaling group of a Region. */
  public clearAutoScalingGroups(region: string): void {
    this.groups.delete(region);
  }

  protected respond(req: http.IncomingMessage, body: string, requestId: string): Reply {
    try {
      return { status: 200, contentType: 'text/xml', body: this.handle(req, body, requestId) };
    } catch (err) {
      const e = err instanceof AutoScalingError ? err : new AutoScalingError('InternalFailure', String(err));
      const status = ERROR_STATUS[e.code] ?? 400;
      return { status, contentType: 'text/xml', body: errorXml(e.code, status >= 500 ? 'Receiver' : 'Sender', e.message, requestId) };
    }
  }

  private handle(req: http.IncomingMessage, body: string, requestId: string): string {
    if (req.method !== 'POST') {
      throw new AutoScalingError('InvalidAction', `Auto Scaling Query requests are POSTs here, got ${req.method}`);
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      throw new AutoScalingError('ValidationError', 'expected a form-encoded body');
    }
    let region: string;
    try {
      region = verifySigV4(req, body, 'autoscaling');
    } catch (err) {
      throw err instanceof SigV4Error ? authError(err) : err;
    }
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    if (params.Version !== VERSION || !['DescribeLaunchConfigurations', 'DescribeAutoScalingGroups'].includes(action)) {
      throw new AutoScalingError('InvalidAction', `Could not find operation ${action} for version ${params.Version ?? 'NO_VERSION_SPECIFIED'}`);
    }
    const fault = this.record({ action, region, params });
    if (fault) {
      throw new AutoScalingError(fault, (FAULT_MESSAGES[fault] ?? `injected ${fault}`).replace(/\{action\}/g, action));
    }
    return action === 'DescribeAutoScalingGroups'
      ? this.describeAutoScalingGroups(region, params, requestId)
      : this.describeLaunchConfigurations(region, params, requestId);
  }

  private describeAutoScalingGroups(region: string, params: Record<string, string>, requestId: string): string {
    for (const name of Object.keys(params)) {
      if (/^Filters\./.test(name)) {
        throw new AutoScalingError('ValidationError', 'Filters are not emulated');
      }
      if (!['Action', 'Version', 'MaxRecords', 'NextToken', 'IncludeInstances'].includes(name) && !/^AutoScalingGroupNames\.member\.\d+$/.test(name)) {
        throw new AutoScalingError('ValidationError', `Unknown parameter ${name}`);
      }
    }
    const names: string[] = [];
    for (let i = 1; params[`AutoScalingGroupNames.member.${i}`] !== undefined; i++) {
      names.push(params[`AutoScalingGroupNames.member.${i}`]);
    }
    const max = params.MaxRecords === undefined ? 50 : Number(params.MaxRecords);
    if (!Number.isInteger(max) || max < 1 || max > 100) {
      throw new AutoScalingError('ValidationError', `1 validation error detected: Value '${params.MaxRecords}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100`);
    }
    let after = 0;
    if (params.NextToken !== undefined) {
      const m = /^asg-page-(\d+)$/.exec(Buffer.from(params.NextToken, 'base64').toString('utf8'));
      if (!m) {
        throw new AutoScalingError('InvalidNextToken', 'The token provided is not valid.');
      }
      after = Number(m[1]);
    }
    const includeInstances = params.IncludeInstances !== 'false';
    const wanted = names.length > 0 ? new Set(names) : undefined;
    const all = [...(this.groups.get(region)?.values() ?? [])].filter((g) => !wanted || wanted.has(g.AutoScalingGroupName));
    const page = all.slice(after, after + max);
    const nextToken = after + max < all.length ? Buffer.from(`asg-page-${after + max}`).toString('base64') : undefined;
    const members = page.map((g) => groupXml(g, includeInstances));
    return `<DescribeAutoScalingGroupsResponse xmlns="${AUTOSCALING_NAMESPACE}">
  <DescribeAutoScalingGroupsResult>
    <AutoScalingGroups>${members.join('')}
    </AutoScalingGroups>${nextToken ? `\n    <NextToken>${nextToken}</NextToken>` : ''}
  </DescribeAutoScalingGroupsResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</DescribeAutoScalingGroupsResponse>
`;
  }

  private describeLaunchConfigurations(region: string, params: Record<string, string>, requestId: string): string {
    for (const name of Object.keys(params)) {
      if (!['Action', 'Version', 'MaxRecords', 'NextToken'].includes(name) && !/^LaunchConfigurationNames\.member\.\d+$/.test(name)) {
        throw new AutoScalingError('ValidationError', `Unknown parameter ${name}`);
      }
    }
    const names: string[] = [];
    for (let i = 1; params[`LaunchConfigurationNames.member.${i}`] !== undefined; i++) {
      names.push(params[`LaunchConfigurationNames.member.${i}`]);
    }
    if (names.length > 50) {
      throw new AutoScalingError('ValidationError', 'The number of launch configuration names cannot exceed 50.');
    }
    const max = params.MaxRecords === undefined ? 50 : Number(params.MaxRecords);
    if (!Number.isInteger(max) || max < 1 || max > 100) {
      throw new AutoScalingError('ValidationError', `1 validation error detected: Value '${params.MaxRecords}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100`);
    }
    let after = 0;
    if (params.NextToken !== undefined) {
      const m = /^lc-page-(\d+)$/.exec(Buffer.from(params.NextToken, 'base64').toString('utf8'));
      if (!m) {
        throw new AutoScalingError('InvalidNextToken', 'The token provided is not valid.');
      }
      after = Number(m[1]);
    }
    const wanted = names.length > 0 ? new Set(names) : undefined;
    const all = [...(this.regions.get(region)?.values() ?? [])].filter((c) => !wanted || wanted.has(c.LaunchConfigurationName));
    const page = all.slice(after, after + max);
    const nextToken = after + max < all.length ? Buffer.from(`lc-page-${after + max}`).toString('base64') : undefined;
    const members = page.map((c) => {
      const o = c.MetadataOptions;
      const options = o && Object.values(o).some((v) => v !== undefined)
        ? `\n        <MetadataOptions>${o.HttpTokens ? `<HttpTokens>${o.HttpTokens}</HttpTokens>` : ''}`
          + `${o.HttpPutResponseHopLimit !== undefined ? `<HttpPutResponseHopLimit>${o.HttpPutResponseHopLimit}</HttpPutResponseHopLimit>` : ''}`
          + `${o.HttpEndpoint ? `<HttpEndpoint>${o.HttpEndpoint}</HttpEndpoint>` : ''}</MetadataOptions>`
        : '';
      return `
      <member>
        <LaunchConfigurationName>${escapeXml(c.LaunchConfigurationName)}</LaunchConfigurationName>
        <LaunchConfigurationARN>${escapeXml(c.LaunchConfigurationARN)}</LaunchConfigurationARN>
        <ImageId>${escapeXml(c.ImageId)}</ImageId>
        <InstanceType>${escapeXml(c.InstanceType)}</InstanceType>
        <CreatedTime>${c.CreatedTime.toISOString()}</CreatedTime>
        <SecurityGroups/>
        <BlockDeviceMappings/>
        <InstanceMonitoring><Enabled>true</Enabled></InstanceMonitoring>
        <EbsOptimized>false</EbsOptimized>${options}
      </member>`;
    });
    return `<DescribeLaunchConfigurationsResponse xmlns="${AUTOSCALING_NAMESPACE}">
  <DescribeLaunchConfigurationsResult>
    <LaunchConfigurations>${members.join('')}
    </LaunchConfigurations>${nextToken ? `\n    <NextToken>${nextToken}</NextToken>` : ''}
  </DescribeLaunchConfigurationsResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</DescribeLaunchConfigurationsResponse>
`;
  }
}

/** A LaunchTemplateSpecification as Auto Scaling answers it (id and name both, when the group was given either). */
function templateXml(tag: string, t: GroupLaunchTemplate): string {
  return `<${tag}>${t.LaunchTemplateId ? `<LaunchTemplateId>${escapeXml(t.LaunchTemplateId)}</LaunchTemplateId>` : ''}`
    + `${t.LaunchTemplateName ? `<LaunchTemplateName>${escapeXml(t.LaunchTemplateName)}</LaunchTemplateName>` : ''}`
    + `<Version>${escapeXml(t.Version ?? '$Default')}</Version></${tag}>`;
}

function groupXml(g: EmulatedAutoScalingGroup, includeInstances: boolean): string {
  const instances = g.Instances ?? [];
  const source = g.LaunchConfigurationName !== undefined
    ? `<LaunchConfigurationName>${escapeXml(g.LaunchConfigurationName)}</LaunchConfigurationName>`
    : g.LaunchTemplate !== undefined
      ? templateXml('LaunchTemplate', g.LaunchTemplate)
      : `<MixedInstancesPolicy><LaunchTemplate>${templateXml('LaunchTemplateSpecification', g.MixedInstancesPolicy!.LaunchTemplate.LaunchTemplateSpecification)}`
        + `<Overrides>${(g.MixedInstancesPolicy!.LaunchTemplate.Overrides ?? []).map((o) => `<member>${o.InstanceType ? `<InstanceType>${escapeXml(o.InstanceType)}</InstanceType>` : ''}`
          + `${o.LaunchTemplateSpecification ? templateXml('LaunchTemplateSpecification', o.LaunchTemplateSpecification) : ''}</member>`).join('')}</Overrides>`
        + '</LaunchTemplate><InstancesDistribution><OnDemandAllocationStrategy>prioritized</OnDemandAllocationStrategy></InstancesDistribution></MixedInstancesPolicy>';
  const instanceXml = instances.map((i) => {
    const from = i.LaunchConfigurationName ?? g.LaunchConfigurationName;
    const template = i.LaunchTemplate ?? g.LaunchTemplate ?? g.MixedInstancesPolicy?.LaunchTemplate.LaunchTemplateSpecification;
    return `<member><InstanceId>${escapeXml(i.InstanceId)}</InstanceId><InstanceType>${escapeXml(i.InstanceType ?? 't3.micro')}</InstanceType>`
      + '<AvailabilityZone>eu-west-1a</AvailabilityZone>'
      + `<LifecycleState>${escapeXml(i.LifecycleState ?? 'InService')}</LifecycleState><HealthStatus>Healthy</HealthStatus>`
      + (from !== undefined ? `<LaunchConfigurationName>${escapeXml(from)}</LaunchConfigurationName>` : template ? templateXml('LaunchTemplate', template) : '')
      + '<ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>';
  }).join('');
  return `
      <member>
        <AutoScalingGroupName>${escapeXml(g.AutoScalingGroupName)}</AutoScalingGroupName>
        <AutoScalingGroupARN>${escapeXml(g.AutoScalingGroupARN)}</AutoScalingGroupARN>
        ${source}
        <MinSize>${g.MinSize ?? 0}</MinSize>
        <MaxSize>${g.MaxSize ?? Math.max(1, instances.length)}</MaxSize>
        <DesiredCapacity>${instances.length}</DesiredCapacity>
        <DefaultCooldown>300</DefaultCooldown>
        <AvailabilityZones><member>eu-west-1a</member></AvailabilityZones>
        <HealthCheckType>EC2</HealthCheckType>
        <CreatedTime>${(g.CreatedTime ?? new Date('2026-01-01T00:00:00Z')).toISOString()}</CreatedTime>${includeInstances ? `
        <Instances>${instanceXml}</Instances>` : ''}
        <ServiceLinkedRoleARN>arn:aws:iam::${TEST_ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling</ServiceLinkedRoleARN>
      </member>`;
}

function copy(c: EmulatedLaunchConfiguration): EmulatedLaunchConfiguration {
  return { ...c, MetadataOptions: c.MetadataOptions && { ...c.MetadataOptions } };
}

/** Query services answer signature problems with these codes, all HTTP 403. */
function authError(err: SigV4Error): AutoScalingError {
  const { code, message } = queryAuthFailure(err);
  return new AutoScalingError(code, message);
}

function errorXml(code: string, type: string, message: string, requestId: string): string {
  return queryErrorXml(AUTOSCALING_NAMESPACE, code, type, message, requestId);
}
