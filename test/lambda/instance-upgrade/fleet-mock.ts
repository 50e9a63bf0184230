/**
 * EC2 and CloudWatch for the ImdsInstanceUpgrade handler tests, mocked with
 * aws-sdk-client-mock and given just enough of each API's semantics that a test
 * checks both the calls and the resulting fleet:
 * - DescribeInstances: the three filters the handler uses (any other filter name
 *   is refused, as EC2 refuses an unknown one), MaxResults 5..1000 with a
 *   NextToken, never together with InstanceIds (EC2's InvalidParameterCombination);
 *   by InstanceIds, an unknown id fails the whole call (InvalidInstanceID.NotFound).
 *   Instances come in reservations of three.
 * - ModifyInstanceMetadataOptions: sets HttpTokens, answers State `pending`; the
 *   instance reads `applied` after `readsUntilApplied` describes by id.
 * - GetMetricData: at most 500 queries with unique, well-formed Ids; each
 *   query's datapoints are its instance's `usage` values. Simplification: pages
 *   hold PAGE_DATAPOINTS datapoints (CloudWatch pages by MaxDatapoints), so one
 *   query's values can be split across pages; results of a page that is not the
 *   last are PartialData, the rest Complete.
 * - CreateTags: sets the tags on the fake instances (unknown id: InvalidInstanceID.NotFound).
 * - ModifyInstanceMetadataOptions to `optional` on an instance that requires IMDSv2
 *   while `enforced.on`: UnsupportedOperation (as EC2 with HttpTokensEnforced).
 * - GetMetricData of MetadataNoTokenRejected: the instance's `rejected` values;
 *   datapoints carry `timestamps` when the fake gives them (else StartTime).
 * - SSM (the interval's claim): PutParameter with Overwrite false refuses an
 *   existing name (ParameterAlreadyExists), GetParameter / DeleteParameter of a
 *   missing one are ParameterNotFound.
 * - PutMetricData: recorded by the mock.
 */
import { AutoScalingClient, AutoScalingGroup, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand, GetMetricDataCommandInput, MetricDataResult, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateTagsCommand,
  CreateTagsCommandInput,
  DescribeLaunchTemplateVersionsCommand,
  DescribeInstancesCommand,
  DescribeInstancesCommandInput,
  EC2Client,
  Instance,
  ModifyInstanceMetadataOptionsCommand,
  ModifyInstanceMetadataOptionsCommandInput,
} from '@aws-sdk/client-ec2';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';

export const ec2 = mockClient(EC2Client);
export const cw = mockClient(CloudWatchClient);
export const ssm = mockClient(SSMClient);
export const autoScaling = mockClient(AutoScalingClient);

/** The fake Auto Scaling groups (one page); the launch template versions answer from `templates`. */
export const groups: AutoScalingGroup[] = [];
/** HttpTokens of launch template versions, by `<id>:<version>`. */
export const templates = new Map<string, string | undefined>();

/** The fake Parameter Store (the interval claims). */
export const parameters = new Map<string, string>();

/** Whether the fake account has HttpTokensEnforced on. */
export const enforced = { on: false };

export interface FakeInstance {
  readonly id: string;
  state: string;
  httpTokens: string;
  metadataState: string;
  readonly tags: Record<string, string>;
  /** The MetadataNoToken datapoints in the window; none: no datapoints. */
  readonly usage: readonly number[];
  /** The times (epoch ms) of the `usage` datapoints; default: the query's StartTime for each. */
  readonly usageTimes?: readonly number[];
  /** The MetadataNoTokenRejected datapoints in the window. */
  readonly rejected?: readonly number[];
  /** The times (epoch ms) of the `rejected` datapoints; default: the query's EndTime for each. */
  readonly rejectedTimes?: readonly number[];
  /** Describes by id that still read `pending` after a Modify. */
  readsUntilApplied: number;
}

/** An instance that allows IMDSv1, running, untagged, without datapoints unless given. */
export function instance(id: string, fields: Partial<FakeInstance> = {}): FakeInstance {
  return { id, state: 'running', httpTokens: 'optional', metadataState: 'applied', tags: {}, usage: [], readsUntilApplied: 1, ...fields };
}

/** `n` instances named i-<prefix><index, 6 digits>, each with the given fields. */
export function instances(n: number, prefix: string, fields: Partial<FakeInstance> = {}): FakeInstance[] {
  return Array.from({ length: n }, (_, i) => instance(`i-${prefix}${String(i).padStart(6, '0')}`, fields));
}

export const PAGE_DATAPOINTS = 4;

/** An AWS SDK service error as the client surfaces it. */
export function serviceError(name: string, message = `${name} happened`, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

/** Each filter the handler uses: the values of an instance it matches against. */
const FILTERS: Record<string, (i: FakeInstance) => string[]> = {
  'metadata-options.http-tokens': (i) => [i.httpTokens],
  'instance-state-name': (i) => [i.state],
  'tag-key': (i) => Object.keys(i.tags),
};

function toInstance(i: FakeInstance): Instance {
  return {
    InstanceId: i.id,
    State: { Name: i.state as never },
    MetadataOptions: { HttpTokens: i.httpTokens as never, State: i.metadataState as never, HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
    Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
  };
}

function reservations(list: FakeInstance[]) {
  const out = [];
  for (let i = 0; i < list.length; i += 3) {
    out.push({ ReservationId: `r-${i}`, Instances: list.slice(i, i + 3).map(toInstance) });
  }
  return out;
}

/** The fakes, for tests that first make a call fail (`.rejectsOnce(err).callsFake(...)`). */
export function fakes(fleet: FakeInstance[]) {
  const index = new Map(fleet.map((i) => [i.id, i]));
  const byId = (id: string) => index.get(id);
  return {
    describeInstances: (input: DescribeInstancesCommandInput) => {
      if (input.InstanceIds) {
        if (input.MaxResults !== undefined || input.Filters !== undefined) {
          throw serviceError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
        }
        const found = input.InstanceIds.map((id) => {
          const i = byId(id);
          if (!i) throw serviceError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
          if (i.metadataState === 'pending' && --i.readsUntilApplied <= 0) i.metadataState = 'applied';
          return i;
        });
        return { Reservations: reservations(found) };
      }
      const max = input.MaxResults ?? 1000;
      if (max < 5 || max > 1000) throw serviceError('InvalidParameterValue', `MaxResults ${max}`);
      let matching = fleet;
      for (const filter of input.Filters ?? []) {
        const value = FILTERS[filter.Name!];
        if (!value) throw serviceError('InvalidParameterValue', `The filter '${filter.Name}' is invalid`);
        matching = matching.filter((i) => value(i).some((v) => filter.Values!.includes(v)));
      }
      const start = Number(input.NextToken ?? 0);
      const end = start + max;
      return { Reservations: reservations(matching.slice(start, end)), NextToken: end < matching.length ? String(end) : undefined };
    },
    createTags: (input: CreateTagsCommandInput) => {
      const found = (input.Resources ?? []).map((id) => {
        const i = byId(id);
        if (!i) throw serviceError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
        return i;
      });
      for (const i of found) {
        for (const t of input.Tags ?? []) i.tags[t.Key!] = t.Value ?? '';
      }
      return {};
    },
    modify: (input: ModifyInstanceMetadataOptionsCommandInput) => {
      const i = byId(input.InstanceId!);
      if (!i) throw serviceError('InvalidInstanceID.NotFound', `The instance ID '${input.InstanceId}' does not exist`);
      if (input.HttpTokens === 'optional' && i.httpTokens === 'required' && enforced.on) {
        throw serviceError('UnsupportedOperation', `You can't modify instance ${i.id} to allow IMDSv1 because httpTokensEnforced is enabled for this account.`);
      }
      i.httpTokens = input.HttpTokens ?? i.httpTokens;
      i.metadataState = 'pending';
      return { InstanceId: i.id, InstanceMetadataOptions: { State: 'pending', HttpTokens: i.httpTokens, HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 } };
    },
    getMetricData: (input: GetMetricDataCommandInput) => {
      const queries = input.MetricDataQueries ?? [];
      if (queries.length === 0 || queries.length > 500) throw serviceError('ValidationError', `${queries.length} queries`);
      const ids = queries.map((q) => q.Id!);
      if (new Set(ids).size !== ids.length || ids.some((id) => !/^[a-z][a-zA-Z0-9_]*$/.test(id))) {
        throw serviceError('ValidationError', 'The Id of each query must be unique and start with a lowercase letter');
      }
      const points = queries.flatMap((q) => {
        const id = q.MetricStat!.Metric!.Dimensions!.find((d) => d.Name === 'InstanceId')!.Value!;
        const i = byId(id);
        const rejected = q.MetricStat!.Metric!.MetricName === 'MetadataNoTokenRejected';
        const values = (rejected ? i?.rejected : i?.usage) ?? [];
        const times = rejected ? i?.rejectedTimes : i?.usageTimes;
        const fallback = rejected ? input.EndTime as Date : input.StartTime as Date;
        return values.map((value, n) => ({ query: q.Id!, value, time: times?.[n] === undefined ? fallback : new Date(times[n]) }));
      });
      const start = Number(input.NextToken ?? 0);
      const end = start + PAGE_DATAPOINTS;
      const last = end >= points.length;
      const page = points.slice(start, end);
      const results: MetricDataResult[] = [];
      for (const q of queries) {
        const mine = page.filter((p) => p.query === q.Id);
        if (mine.length > 0 || last) {
          results.push({ Id: q.Id, Label: q.Id, StatusCode: last ? 'Complete' : 'PartialData', Values: mine.map((p) => p.value), Timestamps: mine.map((p) => p.time) });
        }
      }
      return { MetricDataResults: results, NextToken: last ? undefined : String(end), Messages: [] };
    },
  };
}

/** Resets the mocks and gives them the APIs' semantics over `fleet`. */
export function emulate(fleet: FakeInstance[]): void {
  ec2.reset();
  cw.reset();
  ssm.reset();
  autoScaling.reset();
  groups.length = 0;
  templates.clear();
  autoScaling.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({ AutoScalingGroups: [...groups] }));
  autoScaling.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
  ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake((input) => ({
    LaunchTemplateVersions: (input.Versions ?? []).map((v: string) => ({
      LaunchTemplateId: input.LaunchTemplateId,
      VersionNumber: Number(v) || 1,
      DefaultVersion: v === '$Default',
      LaunchTemplateData: { MetadataOptions: { HttpTokens: templates.get(`${input.LaunchTemplateId}:${v}`) as never } },
    })),
  }));
  parameters.clear();
  enforced.on = false;
  const f = fakes(fleet);
  ec2.on(DescribeInstancesCommand).callsFake(f.describeInstances);
  ec2.on(ModifyInstanceMetadataOptionsCommand).callsFake(f.modify);
  ec2.on(CreateTagsCommand).callsFake(f.createTags);
  ssm.on(PutParameterCommand).callsFake((input) => {
    if (parameters.has(input.Name!) && !input.Overwrite) throw serviceError('ParameterAlreadyExists', 'The parameter already exists.');
    parameters.set(input.Name!, input.Value!);
    return { Version: 1, Tier: 'Standard' };
  });
  ssm.on(GetParameterCommand).callsFake((input) => {
    if (!parameters.has(input.Name!)) throw serviceError('ParameterNotFound', '');
    return { Parameter: { Name: input.Name, Value: parameters.get(input.Name!), Type: 'String', Version: 1 } };
  });
  ssm.on(DeleteParameterCommand).callsFake((input) => {
    if (!parameters.delete(input.Name!)) throw serviceError('ParameterNotFound', '');
    return {};
  });
  cw.on(GetMetricDataCommand).callsFake(f.getMetricData);
  cw.on(PutMetricDataCommand).resolves({});
}

/** The ids of the Modify calls to `required`, in order (and checks each asked for HttpTokens required and nothing else). */
export function modifiedIds(): string[] {
  return ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).filter((c) => c.args[0].input.HttpTokens !== 'optional').map((c) => {
    expect(c.args[0].input).toEqual({ InstanceId: c.args[0].input.InstanceId, HttpTokens: 'required' });
    return c.args[0].input.InstanceId!;
  });
}

/**
 * The DescribeInstances calls that list the candidates (by filters, HttpTokens optional), those that
 * list the instances with an upgrade record (by the tag-key filter), and those that read back (by ids).
 */
export function describeCalls(): Record<'listing' | 'records' | 'byIds', DescribeInstancesCommandInput[]> {
  const inputs = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
  const isRecords = (i: DescribeInstancesCommandInput) => (i.Filters ?? []).some((f) => f.Name === 'tag-key' && f.Values?.includes('cdk-imds-account-defaults:upgraded-at'));
  return {
    listing: inputs.filter((i) => !i.InstanceIds && !isRecords(i)),
    records: inputs.filter(isRecords),
    byIds: inputs.filter((i) => i.InstanceIds),
  };
}
