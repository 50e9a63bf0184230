/**
 * An emulated fleet of a few thousand EC2 instances with their AWS/EC2
 * MetadataNoToken datapoints, for the end-to-end scenarios and the bench: one
 * call fills the EC2 emulator (instances) and the CloudWatch emulator
 * (datapoints) and says which instance falls in which category, so tests can
 * compare a run's summary with what the fleet holds.
 *
 * The mix is a pure function of the index (no randomness), so the same options
 * always give the same fleet:
 * - index % 20: 15 stopping, 16 pending, 17 stopped, 18 terminated,
 *   19 shutting-down, the rest running;
 * - index % 3 === 0: HttpTokens required (already IMDSv2), else optional;
 * - index % 10 === 1: carries the exclusion tag (value `true`);
 * - index % 7: 2 in use (hourly zeros and one datapoint above 0 within the
 *   lookback), 3 unknown (no datapoints at all), 4 too little data (three zero
 *   datapoints: three hours observed), the rest safe (hourly zeros over the
 *   last OBSERVED_DAYS days, or the whole lookback when it is shorter: more
 *   than the default minimum observed time of 7 days).
 */
import { CloudWatchEmulator, MetricDatapoint } from './cloudwatch-emulator';
import { Ec2Emulator, EmulatedInstance, InstanceSpec, InstanceStateName } from './ec2-emulator';

/** What seedFleet builds. */
export interface FleetOptions {
  /** How many instances. */
  readonly count: number;
  /** The exclusion tag key. Default: `imds-keep-v1` (the construct's default). */
  readonly exclusionTagKey?: string;
  /** The time the datapoints are placed before. Default: now. */
  readonly now?: Date;
  /** Every datapoint falls within this many days before `now`. Default: 14 (the construct's default lookback). */
  readonly lookbackDays?: number;
  /** Extra tags on every instance. Default: none. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Extra tags by index (after `tags`). Default: none. */
  readonly tagsOf?: (index: number) => Readonly<Record<string, string>>;
}

/** The ids of a fleet by category. Each optional instance in a candidate state is in exactly one of excluded / unknown / inUse / safe. */
export interface Fleet {
  readonly instances: readonly EmulatedInstance[];
  /** HttpTokens optional and state pending, running, stopping or stopped: what an upgrade considers. */
  readonly candidates: readonly string[];
  /** Candidates with the exclusion tag (whatever their datapoints). */
  readonly excluded: readonly string[];
  /** Candidates without the tag and without any datapoint. */
  readonly unknown: readonly string[];
  /** Candidates without the tag whose MetadataNoToken sum over the lookback is above 0. */
  readonly inUse: readonly string[];
  /** Candidates without the tag whose datapoints are all 0, in every hour of the observed days: safe to upgrade. */
  readonly safe: readonly string[];
  /** Candidates without the tag with three zero datapoints (three hours observed): too little data. */
  readonly tooLittleData: readonly string[];
  /** HttpTokens required (in any state). */
  readonly required: readonly string[];
  /** HttpTokens optional but shutting-down or terminated: never candidates. */
  readonly gone: readonly string[];
}

/** The instance states an upgrade considers. */
export const CANDIDATE_STATES: readonly InstanceStateName[] = ['pending', 'running', 'stopping', 'stopped'];

const STATE_BY_REMAINDER: Partial<Record<number, InstanceStateName>> = {
  15: 'stopping', 16: 'pending', 17: 'stopped', 18: 'terminated', 19: 'shutting-down',
};

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** The days of hourly datapoints of a safe (or in use) instance: more than the default minimumObservedTime, 7 days. */
export const OBSERVED_DAYS = 8;

/** The spec of the index-th instance of a fleet (see the module comment for the mix). */
export function fleetInstanceSpec(index: number, exclusionTagKey = 'imds-keep-v1', tags: Readonly<Record<string, string>> = {}): InstanceSpec {
  return {
    State: STATE_BY_REMAINDER[index % 20] ?? 'running',
    Tags: { Name: `fleet-${index}`, ...tags, ...(index % 10 === 1 ? { [exclusionTagKey]: 'true' } : {}) },
    MetadataOptions: { HttpTokens: index % 3 === 0 ? 'required' : 'optional' },
  };
}

/**
 * Adds `count` instances to the EC2 emulator's Region and their
 * MetadataNoToken datapoints to the CloudWatch emulator's, and returns the
 * fleet by category. 3,000 instances take well under a second.
 */
export function seedFleet(ec2: Ec2Emulator, cloudwatch: CloudWatchEmulator, region: string, options: FleetOptions): Fleet {
  const key = options.exclusionTagKey ?? 'imds-keep-v1';
  const now = (options.now ?? new Date()).getTime();
  const lookback = (options.lookbackDays ?? 14) * DAY;
  const at = (fraction: number) => new Date(now - Math.max(1, Math.floor(lookback * fraction)));
  // One zero in the middle of each hour (each falls in its own hourly period), inside the lookback.
  const observedHours = Math.min(OBSERVED_DAYS * DAY, lookback) / HOUR - 1;
  const hourly = (): MetricDatapoint[] =>
    Array.from({ length: observedHours }, (_, h) => ({ timestamp: new Date(now - h * HOUR - HOUR / 2), value: 0 }));
  const instances = ec2.addInstances(region, options.count, (i) => fleetInstanceSpec(i, key, { ...options.tags, ...options.tagsOf?.(i) }));
  const fleet = {
    instances,
    candidates: [] as string[],
    excluded: [] as string[],
    unknown: [] as string[],
    inUse: [] as string[],
    safe: [] as string[],
    tooLittleData: [] as string[],
    required: [] as string[],
    gone: [] as string[],
  };
  instances.forEach((instance, i) => {
    const id = instance.InstanceId;
    const kind = i % 7;
    let points: MetricDatapoint[] = [];
    if (kind === 2) {
      points = [...hourly(), { timestamp: at(0.5), value: 3 }];
    } else if (kind === 4) {
      points = [{ timestamp: at(0.9), value: 0 }, { timestamp: at(0.5), value: 0 }, { timestamp: at(0.1), value: 0 }];
    } else if (kind !== 3) {
      points = hourly();
    }
    cloudwatch.setMetadataNoToken(region, id, points);
    if (instance.MetadataOptions.HttpTokens === 'required') {
      fleet.required.push(id);
      return;
    }
    if (!CANDIDATE_STATES.includes(instance.State)) {
      fleet.gone.push(id);
      return;
    }
    fleet.candidates.push(id);
    if (instance.Tags[key] !== undefined) {
      fleet.excluded.push(id);
    } else if (points.length === 0) {
      fleet.unknown.push(id);
    } else if (kind === 2) {
      fleet.inUse.push(id);
    } else if (kind === 4) {
      fleet.tooLittleData.push(id);
    } else {
      fleet.safe.push(id);
    }
  });
  return fleet;
}
