/**
 * The drift guard: the same function, invoked by EventBridge on a schedule and
 * on CloudTrail's `ModifyInstanceMetadataDefaults` events, compares each field
 * this resource manages (its claim, claims.ts, is the source of truth) with what
 * EC2 reports, and re-applies (REAPPLY) or only reports (REPORT_ONLY) each
 * difference.
 *
 * - Not a CloudFormation event: nothing here answers a ResponseURL, and nothing
 *   here can change what the custom resource answers CloudFormation.
 * - The event is checked strictly; anything else is logged as `ignored`, with the
 *   reason, and nothing else happens.
 * - It acts only while its own claim exists and its resource is settled in its
 *   stack (a `_COMPLETE` status): during a Create, Update or Delete the
 *   CloudFormation handler may be between its Modify and its claim, and after a
 *   failed one the claim may not be what CloudFormation rolls back to.
 * - Nothing while a declarative policy manages the settings; never a field the
 *   claim does not name; never a field that another live claim manages with
 *   another value: another stack's (its deployments own it: the guards must not
 *   fight), or this stack's other resource while a rename that also changes the
 *   value waits for its cleanup (the old resource's guard would undo the new
 *   value). A field another claim manages with the same value is guarded by both.
 * - Each difference is one log line (`drift`: field, expected, found, action,
 *   and the CloudTrail caller and event id when the event carried them); each run
 *   that compared puts DriftDetected and DriftReapplied (0 included).
 * - An error (a service unreachable, a read-back that does not show the change)
 *   is logged and thrown: Lambda counts it in the function's `Errors` metric.
 *   The function's asynchronous retries are 0: the next run checks again.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { Owner, createSsmClient, stackNameOf } from './claims';
import { createEc2Client, getDefaults, modifyDefaults, verifyApplied } from './ec2';
import { createCloudFormationClient, readOwnership, resourceStatus } from './ownership';
import { Settings, effectiveSettings, parseSettings } from './settings';
import {
  DRIFT_DETECTED_METRIC,
  DRIFT_GUARD_ENV,
  DRIFT_LOGICAL_ID_ENV,
  DRIFT_REAPPLIED_METRIC,
  DRIFT_STACK_ID_ENV,
  MANAGED_BY_DECLARATIVE_POLICY,
  SettingKey,
} from '../../src/private/properties';
import { describeError, log } from '../shared/log';
import { createCloudWatchClient, putMetrics } from '../shared/metrics';
import { whileIamPropagates } from '../shared/sdk';

/** The calls are stopped this long before the function's timeout, so the run still logs how it ended. */
export const DRIFT_RESERVE_MS = 2_000;

export const REAPPLY = 'REAPPLY';
export const REPORT_ONLY = 'REPORT_ONLY';

/** What invoked the guard: its schedule, or a CloudTrail event (with the caller when it names one). */
export interface Trigger {
  readonly trigger: 'schedule' | 'cloudtrail';
  readonly caller?: string;
  readonly eventId?: string;
}

/** What happened to one difference. */
export type DriftAction = 'reapplied' | 'reported' | 'left-alone' | 'reapply-failed';

let ec2Client: EC2Client | undefined;
let ssmClient: SSMClient | undefined;
let cfnClient: CloudFormationClient | undefined;
let cwClient: CloudWatchClient | undefined;
const ec2 = () => (ec2Client ??= createEc2Client());
const ssm = () => (ssmClient ??= createSsmClient());
const cfn = () => (cfnClient ??= createCloudFormationClient());
const cw = () => (cwClient ??= createCloudWatchClient());

/** The entry point for every event that is not CloudFormation's. */
export async function onEvent(event: unknown, context: Context): Promise<void> {
  const trigger = triggerOf(event, context.invokedFunctionArn);
  if (typeof trigger === 'string') {
    log('ignored', { reason: trigger });
    return;
  }
  const mode = process.env[DRIFT_GUARD_ENV];
  if (mode === undefined) {
    log('ignored', { reason: `the drift guard is off (no ${DRIFT_GUARD_ENV})` });
    return;
  }
  log('drift check', { mode, ...trigger });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, context.getRemainingTimeInMillis() - DRIFT_RESERVE_MS));
  try {
    await check(mode, selfOf(mode), trigger, controller.signal);
  } catch (err) {
    log('drift check failed', { error: describeError(err) });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The trigger of an EventBridge event this guard acts on, or why it does not:
 * its schedule's event, or CloudTrail's record of ModifyInstanceMetadataDefaults,
 * in the function's own account and Region. A change made by this function
 * itself (its CloudFormation events, its re-applies) is not checked again.
 */
export function triggerOf(event: unknown, functionArn: string | undefined): Trigger | string {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return `not an EventBridge event: ${q(event)}`;
  }
  const e = event as Record<string, any>;
  const kind = e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event' ? 'schedule'
    : e.source === 'aws.ec2' && e['detail-type'] === 'AWS API Call via CloudTrail' ? 'cloudtrail'
      : undefined;
  if (kind === undefined) {
    return `source ${q(e.source)} with detail-type ${q(e['detail-type'])} is neither the schedule's nor CloudTrail's`;
  }
  // arn:aws:lambda:<region>:<account>:function:<name>
  const [, , , region, account] = String(functionArn).split(':');
  if (e.account !== account || e.region !== region) {
    return `account ${q(e.account)} and region ${q(e.region)} are not this function's (${account}, ${region})`;
  }
  if (kind === 'schedule') {
    return { trigger: kind };
  }
  const detail = e.detail;
  if (typeof detail !== 'object' || detail === null || detail.eventSource !== 'ec2.amazonaws.com' || detail.eventName !== 'ModifyInstanceMetadataDefaults') {
    return `the CloudTrail event is not ec2.amazonaws.com ModifyInstanceMetadataDefaults: detail ${q(detail).slice(0, 200)}`;
  }
  const caller = typeof detail.userIdentity?.arn === 'string' ? detail.userIdentity.arn : undefined;
  // Lambda's session name is the function's name: arn:aws:sts::<account>:assumed-role/<role>/<function>.
  if (caller?.includes(':assumed-role/') && caller.endsWith(`/${process.env.AWS_LAMBDA_FUNCTION_NAME}`)) {
    return `the change was made by this function (${caller})`;
  }
  return { trigger: kind, caller, eventId: typeof detail.eventID === 'string' ? detail.eventID : undefined };
}

/** This resource, from the function's environment (set by the construct when the guard is on). */
function selfOf(mode: string): Owner {
  const stackId = process.env[DRIFT_STACK_ID_ENV];
  const logicalResourceId = process.env[DRIFT_LOGICAL_ID_ENV];
  if ((mode !== REAPPLY && mode !== REPORT_ONLY) || !stackId || !logicalResourceId) {
    throw new Error(`the drift guard's environment is incomplete: ${DRIFT_GUARD_ENV} must be ${REAPPLY} or ${REPORT_ONLY} (got ${q(mode)}), ${DRIFT_STACK_ID_ENV} and ${DRIFT_LOGICAL_ID_ENV} set (got ${q(stackId)}, ${q(logicalResourceId)})`);
  }
  return { stackId, stackName: stackNameOf(stackId), logicalResourceId };
}

interface Drift {
  readonly field: SettingKey;
  readonly expected: unknown;
  readonly found: unknown;
  /** Another live claim on the field with another value (`<stack name> (<StackId>)`). */
  readonly managedBy?: string;
}

async function check(mode: string, self: Owner, trigger: Trigger, signal: AbortSignal): Promise<void> {
  const status = await whileIamPropagates('CloudFormation', () => resourceStatus(cfn(), self, signal), signal);
  if (status === undefined || !status.endsWith('_COMPLETE') || status === 'DELETE_COMPLETE') {
    return skip(`this resource (${self.logicalResourceId} of ${self.stackName}) is ${status ?? 'not in its stack'}: the guard acts only while it is settled`);
  }
  const ownership = await readOwnership(ssm(), cfn(), self, signal);
  if (!ownership.own) {
    return skip('this resource has no claim (created by a release without claims and not updated since)');
  }
  let claimed: Settings;
  try {
    claimed = parseSettings({ ...ownership.own.fields });
  } catch (err) {
    throw new Error(`this resource's claim ${ownership.own.name} cannot be used: ${describeError(err)}`);
  }
  const state = await whileIamPropagates('EC2', () => getDefaults(ec2(), signal), signal);
  if (state.ManagedBy === MANAGED_BY_DECLARATIVE_POLICY) {
    return skip('a declarative policy manages the settings', { managedExceptionMessage: state.ManagedExceptionMessage });
  }

  const effective = effectiveSettings(state);
  const drifts: Drift[] = (Object.keys(claimed) as SettingKey[])
    .filter((field) => claimed[field] !== effective[field])
    .map((field) => {
      const other = ownership.others.find((c) => c.fields[field] !== undefined && String(c.fields[field]) !== String(claimed[field]));
      return { field, expected: claimed[field], found: effective[field], managedBy: other && `${other.stackName} (${other.stackId})` };
    });

  const reapply = mode === REAPPLY ? drifts.filter((d) => d.managedBy === undefined) : [];
  let failure: unknown;
  if (reapply.length > 0) {
    const settings = Object.fromEntries(reapply.map((d) => [d.field, claimed[d.field]])) as Settings;
    try {
      await modifyDefaults(ec2(), settings, signal);
      await verifyApplied(ec2(), settings, signal);
    } catch (err) {
      failure = err;
    }
  }
  for (const { field, expected, found, managedBy } of drifts) {
    const action: DriftAction = managedBy !== undefined ? 'left-alone'
      : mode !== REAPPLY ? 'reported'
        : failure === undefined ? 'reapplied' : 'reapply-failed';
    log('drift', { field, expected, found, action, managedBy, ...trigger });
  }
  const reapplied = failure === undefined ? reapply.length : 0;
  log('drift check done', { mode, detected: drifts.length, reapplied });
  await putMetrics(cw(), [
    { name: DRIFT_DETECTED_METRIC, value: drifts.length },
    { name: DRIFT_REAPPLIED_METRIC, value: reapplied },
  ], signal);
  if (failure !== undefined) {
    throw failure;
  }
}

/** A run that does not compare: one log line saying why, no metrics (no comparison, no count). */
function skip(reason: string, fields: Record<string, unknown> = {}): void {
  log('drift check skipped', { reason, ...fields });
}

function q(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
