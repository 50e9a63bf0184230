/**
 * The emulated fleet (test/support/fleet.ts) says the truth about itself: what
 * seedFleet reports per category is what the real clients read back from the
 * EC2 and CloudWatch emulators, the way the instance upgrade looks (paginated
 * DescribeInstances with filters, GetMetricData hour by hour in batches that fit
 * 100,800 datapoints).
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { CloudWatchEmulator } from '../support/cloudwatch-emulator';
import { Ec2Emulator, TEST_CREDENTIALS } from '../support/ec2-emulator';
import { CANDIDATE_STATES, Fleet, fleetInstanceSpec, seedFleet } from '../support/fleet';

const REGION = 'eu-west-1';
const NOW = new Date('2026-11-27T00:00:00Z');
const DAY = 86_400_000;
let ec2: Ec2Emulator;
let cloudwatch: CloudWatchEmulator;
let fleet: Fleet;

beforeAll(async () => {
  [ec2, cloudwatch] = await Promise.all([Ec2Emulator.start(), CloudWatchEmulator.start()]);
  fleet = seedFleet(ec2, cloudwatch, REGION, { count: 3000, now: NOW });
});
afterAll(async () => {
  await Promise.all([ec2.stop(), cloudwatch.stop()]);
});

const config = (endpoint: string) => ({ region: REGION, endpoint, credentials: TEST_CREDENTIALS, maxAttempts: 1 });

test('the categories partition the fleet; each holds instances of every kind the mix promises', () => {
  expect(fleet.instances).toHaveLength(3000);
  const all = [...fleet.required, ...fleet.gone, ...fleet.candidates];
  expect(new Set(all).size).toBe(3000);
  expect([...fleet.excluded, ...fleet.unknown, ...fleet.inUse, ...fleet.safe, ...fleet.tooLittleData].sort()).toEqual([...fleet.candidates].sort());
  for (const list of [fleet.required, fleet.gone, fleet.excluded, fleet.unknown, fleet.inUse, fleet.safe, fleet.tooLittleData]) {
    expect(list.length).toBeGreaterThan(50);
  }
  const states = new Set(fleet.candidates.map((id) => ec2.instance(REGION, id)!.State));
  expect([...states].sort()).toEqual([...CANDIDATE_STATES].sort());
  expect(fleetInstanceSpec(1, 'keep')).toMatchObject({ Tags: { keep: 'true' }, MetadataOptions: { HttpTokens: 'optional' } });
});

test('DescribeInstances, as the upgrade filters it, finds exactly the candidates, and the exclusion tag exactly the excluded ones', async () => {
  const client = new EC2Client(config(ec2.endpoint));
  const ids: string[] = [];
  const excluded: string[] = [];
  ec2.requests.length = 0;
  const filters = [
    { Name: 'metadata-options.http-tokens', Values: ['optional'] },
    { Name: 'instance-state-name', Values: [...CANDIDATE_STATES] },
  ];
  for await (const page of paginateDescribeInstances({ client, pageSize: 1000 }, { Filters: filters, MaxResults: 1000 })) {
    for (const instance of page.Reservations!.flatMap((r) => r.Instances!)) {
      ids.push(instance.InstanceId!);
      if (instance.Tags?.some((t) => t.Key === 'imds-keep-v1')) excluded.push(instance.InstanceId!);
    }
  }
  expect(ids).toEqual(fleet.candidates);
  expect(excluded).toEqual(fleet.excluded);
  expect(ec2.callCounts(REGION)).toEqual({ DescribeInstances: Math.ceil(fleet.candidates.length / 1000) });
});

test('GetMetricData over the lookback, hour by hour, tells in-use, unknown, too little data (under 7 days observed) and safe apart as seedFleet says', async () => {
  const client = new CloudWatchClient(config(cloudwatch.endpoint));
  const sums = new Map<string, number | undefined>();
  const hours = new Map<string, number>();
  const ids = fleet.candidates.filter((id) => !fleet.excluded.includes(id));
  for (let i = 0; i < ids.length; i += 299) {
    const batch = ids.slice(i, i + 299);
    const out = await client.send(new GetMetricDataCommand({
      StartTime: new Date(NOW.getTime() - 14 * DAY),
      EndTime: NOW,
      MetricDataQueries: batch.map((id, n) => ({
        Id: `m${n}`,
        MetricStat: { Metric: { Namespace: 'AWS/EC2', MetricName: 'MetadataNoToken', Dimensions: [{ Name: 'InstanceId', Value: id }] }, Period: 3600, Stat: 'Sum' },
      })),
    }));
    expect(out.NextToken).toBeUndefined();
    for (const result of out.MetricDataResults!) {
      const values = result.Values!;
      sums.set(batch[Number(result.Id!.slice(1))], values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0));
      hours.set(batch[Number(result.Id!.slice(1))], values.length);
    }
  }
  expect(ids.filter((id) => sums.get(id) === undefined)).toEqual(fleet.unknown);
  expect(ids.filter((id) => (sums.get(id) ?? 0) > 0)).toEqual(fleet.inUse);
  expect(ids.filter((id) => sums.get(id) === 0 && hours.get(id)! < 7 * 24)).toEqual(fleet.tooLittleData);
  expect(ids.filter((id) => sums.get(id) === 0 && hours.get(id)! >= 7 * 24)).toEqual(fleet.safe);
});
