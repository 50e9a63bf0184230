/**
 * The readiness report (ImdsReadinessReport): the dry run of enforcement, in
 * a function of its own (index.ts) whose role can only read.
 *
 * It changes nothing, ever. On Create and Update, and on each run of its
 * schedule, it lists at the same time, within REPORT_LISTING_BUDGET_MS:
 * - launch templates whose $Default or $Latest version, launch configurations,
 *   and instances that allow IMDSv1 (readiness.ts's listings, the same ones the
 *   check before enforcement runs);
 * - Auto Scaling groups that launch from a source that allows IMDSv1, the
 *   version the group names included (shared/auto-scaling.ts): a group pinned to
 *   an old version that says `optional` stops scaling out under enforcement too;
 * and reads the account's current defaults (GetInstanceMetadataDefaults, with
 * ManagedBy). The result (REPORT_RESULTS):
 * - WOULD_STOP_LAUNCHES when a template, a configuration or a group allows IMDSv1
 *   (an explicit `optional`; a source without HttpTokens takes the account
 *   default, which the move to enforcement sets to `required`);
 * - otherwise INCOMPLETE when a listing did not finish, or a group's source
 *   could not be read, or the defaults could not be read;
 * - otherwise READY. Instances never decide the result: they keep running.
 *
 * A CloudFormation event is confirmed first (shared/confirm.ts, type
 * REPORT_RESOURCE_TYPE) and answered with the counts and the result as Data; an
 * incomplete listing never fails the resource (the result says so). Delete
 * answers at once and touches nothing. Every run puts the counts as metrics
 * (REPORT_METRIC_NAMES) and writes one log line with the names found (capped),
 * and its finding (shared/events.ts): put at the end of a scheduled run, held
 * and put after the answer for a CloudFormation event (shared/custom-resource.ts).
 * Putting it never changes an outcome.
 * A schedule event is checked as the drift guard checks its own (its account
 * and Region); anything else is ignored. An invocation by someone else can only
 * make the function read and put true values.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { ImdsFindingType } from '../../src/findings';
import {
  REPORT_METRIC_NAMES,
  REPORT_PHYSICAL_ID_PREFIX,
  REPORT_RESOURCE_TYPE,
  REPORT_RESULT_ATTRIBUTE,
  REPORT_UNKNOWN,
  ReportCountAttributeKey,
  ReportDefaultsAttributeKey,
  ReportResult,
} from '../../src/private/properties';
import { triggerOf } from '../account-defaults/drift';
import { createEc2Client, getDefaults } from '../account-defaults/ec2';
import { createCloudFormationClient } from '../account-defaults/ownership';
import { ReadinessClients, createAutoScalingClient, forLog, listWithin } from '../account-defaults/readiness';
import { AccountLevel, effectiveSettings } from '../account-defaults/settings';
import { GroupLaunchPaths, describeGroupLaunchPaths } from '../shared/auto-scaling';
import { Outcome, RESPONSE_RESERVE_MS, answerCustomResource, isCloudFormationEvent, logEvent, stablePhysicalId } from '../shared/custom-resource';
import { Finding, held, putFindings, setFindingsOrigin } from '../shared/events';
import { describeError, log } from '../shared/log';
import { MetricValue, createCloudWatchClient, putMetrics } from '../shared/metrics';
import { whileIamPropagates } from '../shared/sdk';

/** The prefix of the physical id answered for a failed Create: the following Delete does nothing (it never does). */
export const REPORT_CREATE_FAILED_PREFIX = 'ImdsReadinessReport:CreateFailed:';

/** How long the listings may take (the report's function has 60 s; the answer and the metrics need the rest). */
export const REPORT_LISTING_BUDGET_MS = 40_000;

/** Time kept for putting the metrics (and the answer's reserve) after the listings. */
export const REPORT_METRICS_RESERVE_MS = 5_000;

/** How many Auto Scaling groups the log line names. */
export const GROUPS_NAMED_IN_LOG = 50;

/** What one run found. */
export interface Report {
  readonly result: ReportResult;
  readonly data: Record<typeof REPORT_RESULT_ATTRIBUTE | ReportCountAttributeKey | ReportDefaultsAttributeKey, string>;
  readonly metrics: MetricValue[];
  /** The run's finding (its trigger set by the caller). */
  readonly finding: Finding;
}

let ec2Client: EC2Client | undefined;
let autoScalingClient: AutoScalingClient | undefined;
let cfnClient: CloudFormationClient | undefined;
let cwClient: CloudWatchClient | undefined;
const ec2 = () => (ec2Client ??= createEc2Client());
const autoScaling = () => (autoScalingClient ??= createAutoScalingClient());
const cfn = () => (cfnClient ??= createCloudFormationClient());
const clients: ReadinessClients = { ec2, autoScaling };

/** The report function's entry point (index.ts): CloudFormation's events, and its schedule's. */
export async function reportHandler(event: unknown, context: Context): Promise<void> {
  setFindingsOrigin(context.invokedFunctionArn);
  if (!isCloudFormationEvent(event)) {
    return onSchedule(event, context);
  }
  const cfnEvent = event as CloudFormationCustomResourceEvent;
  logEvent(cfnEvent);
  return answerCustomResource(cfnEvent, context, {
    createFailedPrefix: REPORT_CREATE_FAILED_PREFIX,
    timeoutReason: (requestType, seconds) => `${requestType} did not finish within ${seconds} s (the function's timeout less ${RESPONSE_RESERVE_MS / 1000} s to answer); nothing was changed (the readiness report only reads)`,
    confirm: { resourceType: REPORT_RESOURCE_TYPE, cloudFormation: cfn },
  }, async (budget) => {
    const physicalResourceId = stablePhysicalId(cfnEvent, REPORT_PHYSICAL_ID_PREFIX);
    switch (cfnEvent.RequestType) {
      case 'Create':
        return withReport(physicalResourceId, budget.signal, budget.end);
      case 'Update':
        // Kept as CloudFormation knows it: a changed id would make CloudFormation delete the "old" resource.
        return withReport(cfnEvent.PhysicalResourceId, budget.signal, budget.end);
      case 'Delete':
        log('Delete: the readiness report changes nothing');
        return { physicalResourceId: cfnEvent.PhysicalResourceId };
      default:
        throw new Error(`unknown RequestType ${JSON.stringify((cfnEvent as { RequestType?: unknown }).RequestType)}`);
    }
  });
}

async function withReport(physicalResourceId: string, signal: AbortSignal, end: number): Promise<Outcome> {
  const report = await runReport(signal, end, 'deploy');
  // Put after the answer (custom-resource.ts).
  held.list?.push(report.finding);
  await putMetrics((cwClient ??= createCloudWatchClient()), report.metrics, signal);
  return { physicalResourceId, data: report.data };
}

/** A run of the schedule: checked as the drift guard checks its schedule's events, then the report and its metrics. */
async function onSchedule(event: unknown, context: Context): Promise<void> {
  const trigger = triggerOf(event, context.invokedFunctionArn);
  if (typeof trigger === 'string' || trigger.trigger !== 'schedule') {
    log('ignored', { reason: typeof trigger === 'string' ? trigger : 'the readiness report runs only on its schedule' });
    return;
  }
  const controller = new AbortController();
  const budgetMs = Math.max(0, context.getRemainingTimeInMillis() - RESPONSE_RESERVE_MS);
  const timer = setTimeout(() => controller.abort(), budgetMs);
  try {
    const report = await runReport(controller.signal, Date.now() + budgetMs, 'schedule');
    await putMetrics((cwClient ??= createCloudWatchClient()), report.metrics, controller.signal);
    await putFindings([report.finding], controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lists what allows IMDSv1 and reads the defaults, within REPORT_LISTING_BUDGET_MS
 * and `end` (less REPORT_METRICS_RESERVE_MS); logs one line; never throws for
 * an AWS error (what could not be read makes the result INCOMPLETE).
 */
export async function runReport(signal: AbortSignal, end: number, trigger: 'deploy' | 'schedule'): Promise<Report> {
  const budgetMs = Math.max(0, Math.min(REPORT_LISTING_BUDGET_MS, end - REPORT_METRICS_RESERVE_MS - Date.now()));
  let listed: GroupLaunchPaths | undefined;
  const defaults = readDefaults(signal);
  const found = await listWithin(clients, signal, budgetMs, async (listingSignal) => {
    listed = await describeGroupLaunchPaths({ autoScaling: autoScaling(), ec2: ec2() }, listingSignal, Date.now() + budgetMs);
  });
  // listWithin waits for its `alongside`, and describeGroupLaunchPaths never throws: the groups are listed (or say why not).
  const groups = listed!;
  const current = await defaults;
  const allowing = groups.groups.filter((g) => g.imdsv1 === 'allowed');
  const unknownGroups = groups.groups.filter((g) => g.imdsv1 === 'unknown');
  const stops = found.launchTemplates.count > 0 || found.launchConfigurations.count > 0 || allowing.length > 0;
  const complete = [found.launchTemplates, found.launchConfigurations, found.instances].every((f) => f.complete)
    && groups.complete && unknownGroups.length === 0 && current.read;
  const result: ReportResult = stops ? 'WOULD_STOP_LAUNCHES' : complete ? 'READY' : 'INCOMPLETE';
  const counts: Record<ReportCountAttributeKey, number> = {
    LaunchTemplatesAllowingImdsv1Count: found.launchTemplates.count,
    LaunchConfigurationsAllowingImdsv1Count: found.launchConfigurations.count,
    AutoScalingGroupsAllowingImdsv1Count: allowing.length,
    InstancesAllowingImdsv1Count: found.instances.count,
  };
  log('readiness report', {
    result,
    defaults: current.values,
    launchTemplates: forLog(found.launchTemplates),
    launchConfigurations: forLog(found.launchConfigurations),
    instances: forLog(found.instances),
    autoScalingGroups: groupsForLog(groups, allowing.map((g) => g.groupName), unknownGroups.map((g) => g.groupName)),
    ...(current.error !== undefined ? { defaultsNotRead: current.error } : {}),
  });
  return {
    result,
    data: {
      [REPORT_RESULT_ATTRIBUTE]: result,
      ...(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)])) as Record<ReportCountAttributeKey, string>),
      ...current.values,
    },
    metrics: [
      ...(Object.keys(counts) as ReportCountAttributeKey[]).map((key) => ({ name: REPORT_METRIC_NAMES[key], value: counts[key] })),
      { name: REPORT_METRIC_NAMES.WouldStopLaunches, value: result === 'WOULD_STOP_LAUNCHES' ? 1 : 0 },
      { name: REPORT_METRIC_NAMES.Incomplete, value: complete ? 0 : 1 },
    ],
    finding: {
      type: ImdsFindingType.READINESS_REPORT,
      detail: {
        origin: 'readiness-report',
        result,
        trigger,
        found: current.state,
        counts,
        launchTemplates: found.launchTemplates.names,
        launchConfigurations: found.launchConfigurations.names,
        autoScalingGroups: allowing.map((g) => g.groupName),
        instances: found.instances.names,
      },
    },
  };
}

/** The defaults as Data (effective values and ManagedBy), or REPORT_UNKNOWN for each when they cannot be read; and as EC2 reported them. */
async function readDefaults(signal: AbortSignal): Promise<{
  values: Record<ReportDefaultsAttributeKey, string>; read: boolean; error?: string; state?: AccountLevel;
}> {
  let state: AccountLevel;
  try {
    state = await whileIamPropagates('EC2 GetInstanceMetadataDefaults', () => getDefaults(ec2(), signal), signal);
  } catch (err) {
    const unknown = { HttpTokens: REPORT_UNKNOWN, HttpTokensEnforced: REPORT_UNKNOWN, ManagedBy: REPORT_UNKNOWN };
    return { values: unknown, read: false, error: describeError(err) };
  }
  const effective = effectiveSettings(state);
  return { values: { HttpTokens: effective.HttpTokens, HttpTokensEnforced: effective.HttpTokensEnforced, ManagedBy: state.ManagedBy ?? 'account' }, read: true, state };
}

function groupsForLog(groups: GroupLaunchPaths, allowing: string[], unknown: string[]): Record<string, unknown> {
  return {
    count: groups.groups.length,
    allowingImdsv1: allowing.slice(0, GROUPS_NAMED_IN_LOG),
    ...(unknown.length > 0 ? { notRead: unknown.slice(0, GROUPS_NAMED_IN_LOG) } : {}),
    ...(groups.incomplete !== undefined ? { incomplete: groups.incomplete } : {}),
  };
}
