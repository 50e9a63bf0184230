/**
 * The EC2 calls: list the instances that allow IMDSv1 (DescribeInstances), require
 * IMDSv2 on one (ModifyInstanceMetadataOptions), and read back the metadata
 * options of some (DescribeInstances by id).
 */
import {
  DescribeInstancesCommand,
  DescribeInstancesCommandOutput,
  EC2Client,
  Instance,
  ModifyInstanceMetadataOptionsCommand,
} from '@aws-sdk/client-ec2';
import { describeError, log } from '../shared/log';
import { CLIENT_CONFIG } from '../shared/sdk';

/** The states of an instance whose options can be changed and which may still use IMDS. */
export const CANDIDATE_STATES: readonly string[] = ['pending', 'running', 'stopping', 'stopped'];

/** DescribeInstances' largest page. */
export const PAGE_SIZE = 1000;

/** Instance ids per DescribeInstances call when reading back. */
export const IDS_PER_DESCRIBE = 100;

/** An instance that allows IMDSv1. */
export interface Candidate {
  readonly instanceId: string;
  readonly state: string;
  /** The keys of its tags (undefined for a tag EC2 answered without one). */
  readonly tagKeys: readonly (string | undefined)[];
}

/** The metadata options of an instance, as DescribeInstances reports them. */
export interface MetadataState {
  readonly httpTokens?: string;
  /** `pending` or `applied`. */
  readonly state?: string;
}

export function createEc2Client(): EC2Client {
  return new EC2Client(CLIENT_CONFIG);
}

/**
 * Every instance in a candidate state whose HttpTokens is `optional` (and, with
 * `inclusionTagKey`, that carries that tag key), in the order EC2 lists them,
 * each once. The filters do the selection on EC2's side; it is checked again
 * here, so that a filter EC2 ignored never widens it.
 */
export async function listCandidates(
  ec2: EC2Client, signal: AbortSignal, wrap: <T>(first: boolean, call: () => Promise<T>) => Promise<T>, inclusionTagKey?: string,
): Promise<Candidate[]> {
  const found = new Map<string, Candidate>();
  let NextToken: string | undefined;
  let pages = 0;
  do {
    const page: DescribeInstancesCommandOutput = await wrap(pages === 0, () => ec2.send(new DescribeInstancesCommand({
      Filters: [
        { Name: 'metadata-options.http-tokens', Values: ['optional'] },
        { Name: 'instance-state-name', Values: [...CANDIDATE_STATES] },
        ...(inclusionTagKey === undefined ? [] : [{ Name: 'tag-key', Values: [inclusionTagKey] }]),
      ],
      MaxResults: PAGE_SIZE,
      NextToken,
    }), { abortSignal: signal }));
    pages++;
    for (const instance of instancesOf(page)) {
      const state = String(instance.State?.Name);
      const tagKeys = (instance.Tags ?? []).map((tag) => tag.Key);
      if (instance.InstanceId && instance.MetadataOptions?.HttpTokens === 'optional' && CANDIDATE_STATES.includes(state)
        && (inclusionTagKey === undefined || tagKeys.includes(inclusionTagKey))) {
        found.set(instance.InstanceId, { instanceId: instance.InstanceId, state, tagKeys });
      }
    }
    NextToken = page.NextToken;
  } while (NextToken);
  log('instances allowing IMDSv1 listed', { count: found.size, pages });
  return [...found.values()];
}

/** Requires IMDSv2 on one instance, changing nothing else. Whether it took effect is read back later (metadataStates). */
export async function requireTokens(ec2: EC2Client, instanceId: string, signal: AbortSignal): Promise<void> {
  await ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: instanceId, HttpTokens: 'required' }), { abortSignal: signal });
}

/**
 * The metadata options of the given instances, IDS_PER_DESCRIBE at a time. A
 * batch that fails is logged and its instances are left out of the answer (EC2
 * fails the whole batch when one of its instances no longer exists).
 */
export async function metadataStates(
  ec2: EC2Client, instanceIds: readonly string[], signal: AbortSignal, retry: <T>(call: () => Promise<T>) => Promise<T>,
): Promise<Map<string, MetadataState>> {
  const states = new Map<string, MetadataState>();
  for (let i = 0; i < instanceIds.length; i += IDS_PER_DESCRIBE) {
    const batch = instanceIds.slice(i, i + IDS_PER_DESCRIBE);
    try {
      const out = await retry(() => ec2.send(new DescribeInstancesCommand({ InstanceIds: batch }), { abortSignal: signal }));
      for (const instance of instancesOf(out)) {
        states.set(instance.InstanceId!, { httpTokens: instance.MetadataOptions?.HttpTokens, state: instance.MetadataOptions?.State });
      }
    } catch (err) {
      log('could not read back the metadata options of some instances', { instanceIds: batch.length, error: describeError(err) });
    }
  }
  return states;
}

/** The instances of a DescribeInstances answer, every reservation's. */
function instancesOf(out: DescribeInstancesCommandOutput): Instance[] {
  return (out.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
}
