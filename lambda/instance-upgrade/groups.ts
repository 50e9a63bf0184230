/**
 * Auto Scaling's treadmill: an instance of a group whose launch template
 * version or launch configuration still allows IMDSv1 comes back allowing it
 * whenever the group replaces it, however often this function switches it.
 * So each run groups the instances by Auto Scaling group (shared/auto-scaling.ts,
 * read-only: no group, launch template or launch configuration is ever
 * modified) and reports, per group, what it launches and whether that allows
 * IMDSv1, with how many of its instances allow IMDSv1 now and how many this run
 * switched. A group that launches instances allowing IMDSv1 gets a log line of
 * its own and is counted in AutoScalingGroupsAllowingImdsv1.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { RunReport } from './report';
import { LaunchSource, describeGroupLaunchPaths } from '../shared/auto-scaling';
import { log } from '../shared/log';

/** The message of the log line for each group that still launches instances allowing IMDSv1. */
export const GROUP_MESSAGE = 'Auto Scaling group launches instances that allow IMDSv1';

/** One group, as the run reports it. */
export interface GroupReport {
  readonly groupName: string;
  /** allowed, required-tokens, account-default (the account default or the AMI decides) or unknown. */
  readonly imdsv1: string;
  /** `lt-…:<version>` / `lt-name:<version>`, `lc:<name>`, or `none`. */
  readonly sources: readonly string[];
  /** Its instances that allowed IMDSv1 when the run listed them. */
  readonly instancesAllowingImdsv1: number;
  /** Of those, the ones this run switched. */
  readonly switchedThisRun: number;
}

/** A source in a few characters, for the log. */
export function describeSource(source: LaunchSource): string {
  switch (source.kind) {
    case 'launchTemplate':
      return `${source.id || source.name}:${source.version}`;
    case 'launchConfiguration':
      return `lc:${source.name}`;
    default:
      return 'none';
  }
}

/**
 * Reads every group (never throws: what could not be read is `unknown`, and the
 * run says the report is incomplete) and fills `report.groups` with the groups
 * that hold a candidate or launch instances allowing IMDSv1.
 */
export async function reportGroups(
  clients: { readonly autoScaling: AutoScalingClient; readonly ec2: EC2Client }, signal: AbortSignal, until: number, report: RunReport,
): Promise<void> {
  const found = await describeGroupLaunchPaths(clients, signal, until);
  const candidates = new Set(report.candidates);
  const switched = new Set(report.upgraded);
  for (const group of found.groups) {
    const allowing = group.instanceIds.filter((id) => candidates.has(id));
    if (allowing.length === 0 && group.imdsv1 !== 'allowed') {
      continue;
    }
    const entry: GroupReport = {
      groupName: group.groupName,
      imdsv1: group.imdsv1,
      sources: group.sources.map(describeSource),
      instancesAllowingImdsv1: allowing.length,
      switchedThisRun: allowing.filter((id) => switched.has(id)).length,
    };
    report.groups.push(entry);
    if (group.imdsv1 === 'allowed') {
      log(GROUP_MESSAGE, { ...entry });
    }
  }
  if (!found.complete) {
    report.groupsIncomplete = found.incomplete ?? 'incomplete';
    log('the Auto Scaling groups could not all be read', { reason: report.groupsIncomplete });
  }
}
