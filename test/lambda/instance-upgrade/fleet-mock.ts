/**
 * EC2 and CloudWatch for the ImdsInstanceUpgrade handler tests, mocked with
 * aws-sdk-client-mock and given just enough of each API's semantics that a test
 * checks both the calls and the resulting fleet:
 * - DescribeInstances: the two filters the handler uses (any other filter name
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
 * - PutMetricData: recorded by the mock.
 */
import { CloudWatchClient, GetMetricDataCommand, GetMetricDataCommandInput, MetricDataResult, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstancesCommand,
  DescribeInstancesCommandInput,
  EC2Client,
  Instance,
  ModifyInstanceMetadataOptionsCommand,
  ModifyInstanceMetadataOptionsCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';

export const ec2 = mockClient(EC2Client);
export const cw = mockClient(CloudWatchClient);

export interface FakeInstance {
  readonly id: string;
  state: string;
  httpTokens: string;
  metadataState: string;
  readonly tags: Record<string, string>;
  /** The MetadataNoToken datapoints in the window; none: no datapoints. */
  readonly usage: readonly number[];
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

const FILTERS: Record<string, (i: FakeInstance) => string> = {
  'metadata-options.http-tokens': (i) => i.httpTokens,
  'instance-state-name': (i) => i.state,
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
        matching = matching.filter((i) => filter.Values!.includes(value(i)));
      }
      const start = Number(input.NextToken ?? 0);
      const end = start + max;
      return { Reservations: reservations(matching.slice(start, end)), NextToken: end < matching.length ? String(end) : undefined };
    },
    modify: (input: ModifyInstanceMetadataOptionsCommandInput) => {
      const i = byId(input.InstanceId!);
      if (!i) throw serviceError('InvalidInstanceID.NotFound', `The instance ID '${input.InstanceId}' does not exist`);
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
        return (byId(id)?.usage ?? []).map((value) => ({ query: q.Id!, value }));
      });
      const start = Number(input.NextToken ?? 0);
      const end = start + PAGE_DATAPOINTS;
      const last = end >= points.length;
      const page = points.slice(start, end);
      const results: MetricDataResult[] = [];
      for (const q of queries) {
        const values = page.filter((p) => p.query === q.Id).map((p) => p.value);
        if (values.length > 0 || last) {
          results.push({ Id: q.Id, Label: q.Id, StatusCode: last ? 'Complete' : 'PartialData', Values: values, Timestamps: values.map(() => input.StartTime as Date) });
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
  const f = fakes(fleet);
  ec2.on(DescribeInstancesCommand).callsFake(f.describeInstances);
  ec2.on(ModifyInstanceMetadataOptionsCommand).callsFake(f.modify);
  cw.on(GetMetricDataCommand).callsFake(f.getMetricData);
  cw.on(PutMetricDataCommand).resolves({});
}

/** The ids of the Modify calls, in order (and checks each asked for HttpTokens required and nothing else). */
export function modifiedIds(): string[] {
  return ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => {
    expect(c.args[0].input).toEqual({ InstanceId: c.args[0].input.InstanceId, HttpTokens: 'required' });
    return c.args[0].input.InstanceId!;
  });
}

/** The DescribeInstances calls that list (by filters) and those that read back (by ids). */
export function describeCalls(): { listing: DescribeInstancesCommandInput[]; byIds: DescribeInstancesCommandInput[] } {
  const inputs = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
  return { listing: inputs.filter((i) => !i.InstanceIds), byIds: inputs.filter((i) => i.InstanceIds) };
}
