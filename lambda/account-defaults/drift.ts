/**
 * The drift guard: the same function, invoked by EventBridge on a schedule and
 * on CloudTrail's `ModifyInstanceMetadataDefaults` events, compares each field
 * this resource manages with what EC2 reports, and re-applies (REAPPLY) or only
 * reports (REPORT_ONLY) each difference.
 *
 * - The values it holds EC2 to are the template's: the function's environment,
 *   one `IMDS_SETTING_<field>` per managed field, written by CloudFormation with
 *   the same values as the custom resource's properties and parsed with the same
 *   rules (settings.ts). Never the claim: anyone allowed `ssm:PutParameter` can
 *   edit it. Values that are missing or invalid are a misconfigured function: the
 *   run compares nothing and fails (see "Failures").
 * - The own claim (claims.ts) is evidence of ownership only. Missing, or not the
 *   template's values (edited in Parameter Store), it is reported as a security
 *   warning (`claim-problem`, metric CLAIM_PROBLEM_METRIC) and the guard goes on
 *   with the template's values: deleting the claim does not turn the guard off.
 * - Not a CloudFormation event: nothing here answers a ResponseURL, and nothing
 *   here can change what the custom resource answers CloudFormation.
 * - The event is checked strictly; anything else (and CloudTrail's record of a
 *   failed call, or of a change this function made itself, recognised by the full
 *   assumed-role ARN of its role and session) is logged as `ignored`, with the
 *   reason, and nothing else happens: no AWS call, no metric.
 * - It acts only while its stack and its resource are settled (a `_COMPLETE`
 *   status; see `settled` for why the stack's own status is needed).
 * - Nothing while a declarative policy manages the settings; never a field the
 *   template does not name; never a field that another live claim manages with
 *   another value: another stack's (its deployments own it: the guards must not
 *   fight), or this stack's other resource while a rename that also changes the
 *   value waits for its cleanup (the old resource's guard would undo the new
 *   value). A field another claim manages with the same value is guarded by both.
 * - Each difference is one log line (`drift`: field, expected, found, action,
 *   and the CloudTrail caller and event id when the event carried them), and a
 *   run that found any puts one "IMDS Drift Detected" finding (shared/events.ts)
 *   within the run's time: the differences as logged, the CloudTrail caller as
 *   reported (`changedBy`: evidence, not proof), the template's values and EC2's.
 *
 * Metrics (namespace METRICS_NAMESPACE, no dimensions), put only when there is
 * something to say, so that a guard with nothing to report costs no custom-metric
 * charges: DriftDetected and DriftReapplied by a run that found a difference
 * (DriftReapplied 0 included: REPORT_ONLY, left-alone fields, a failed set-back);
 * DriftChecksSkipped (1) by every run that did not compare, whatever the reason
 * (not settled, a declarative policy, a misconfigured function, a service
 * unreachable before the comparison). What a user alarms on: DriftDetected > 0
 * (something changed the settings), DriftChecksSkipped > 0 for longer than a
 * deployment takes (the guard cannot do its job), ClaimProblems > 0. There is no
 * "I ran" metric: the heartbeat is Lambda's own `Invocations` of the function
 * (at least one per interval; missing data is breaching) and `Errors` (> 0).
 *
 * Failures: an error (a misconfigured environment, a service unreachable, a
 * read-back that does not show the change) is logged (`drift check failed`) and
 * thrown: Lambda counts it in the function's `Errors` metric. The function's
 * asynchronous retries are 0: the next run checks again.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { Claim, Owner, claimName, createSsmClient, isOwnersName, stackNameOf } from './claims';
import { createEc2Client, getDefaults, modifyDefaults, verifyApplied } from './ec2';
import { CLAIM_PROBLEM_WARNING, readOwnership, resourceStatus } from './ownership';
import { Settings, effectiveSettings, parseSettings } from './settings';
import { ImdsFindingType } from '../../src/findings';
import {
  CLAIM_PROBLEM_METRIC,
  DRIFT_CHECK_SKIPPED_METRIC,
  DRIFT_DETECTED_METRIC,
  DRIFT_GUARD_ENV,
  DRIFT_LOGICAL_ID_ENV,
  DRIFT_REAPPLIED_METRIC,
  DRIFT_ROLE_NAME_ENV,
  DRIFT_SETTING_ENV_PREFIX,
  DRIFT_STACK_ID_ENV,
  MANAGED_BY_DECLARATIVE_POLICY,
  SETTING_KEYS,
  SettingKey,
} from '../../src/private/properties';
import { createCloudFormationClient, describeStackStatus } from '../shared/cloudformation';
import { putFindings } from '../shared/events';
import { describeError, log } from '../shared/log';
import { createCloudWatchClient, putMetrics } from '../shared/metrics';
import { whileIamPropagates } from '../shared/sdk';
import { reportSecurityWarning } from '../shared/security-warning';

/** The calls are stopped this long before the function's timeout, so the run still logs how it ended. */
export const DRIFT_RESERVE_MS = 2_000;
/** The longest the skipped metric may take to put, within DRIFT_RESERVE_MS. */
export const SKIPPED_METRIC_TIMEOUT_MS = 1_000;

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

/** The guard's configuration, all from the function's environment (the template). */
export interface DriftConfig {
  readonly mode: typeof REAPPLY | typeof REPORT_ONLY;
  /** This resource. */
  readonly self: Owner;
  /** The values EC2 is held to (the template's). */
  readonly expected: Settings;
}

/** The function's environment does not configure the guard completely: nothing is compared. */
export class DriftConfigurationError extends Error {
  public readonly name = 'DriftConfigurationError';
}

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
  const run: Run = { compared: false };
  try {
    await check(configOf(mode), trigger, run, controller.signal);
  } catch (err) {
    log('drift check failed', { error: describeError(err) });
    throw err;
  } finally {
    clearTimeout(timer);
    if (!run.compared) {
      await putSkipped();
    }
  }
}

/**
 * The trigger of an EventBridge event this guard acts on, or why it does not:
 * its schedule's event, or CloudTrail's record of a successful
 * ModifyInstanceMetadataDefaults, in the function's own account and Region. A
 * change made by this function itself (its CloudFormation events, its re-applies)
 * is not checked again.
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
  // arn:<partition>:lambda:<region>:<account>:function:<name>
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
  // A failed call changed nothing (the rule filters these out too: detail.errorCode does not exist).
  if (detail.errorCode !== undefined) {
    return `the call failed (errorCode ${q(detail.errorCode).slice(0, 100)}): it changed nothing`;
  }
  const caller = typeof detail.userIdentity?.arn === 'string' ? detail.userIdentity.arn : undefined;
  if (caller !== undefined && caller === ownSessionArn(functionArn)) {
    return `the change was made by this function (${caller})`;
  }
  return { trigger: kind, caller, eventId: typeof detail.eventID === 'string' ? detail.eventID : undefined };
}

/**
 * The ARN CloudTrail names this function by when it calls EC2: its role, assumed
 * by Lambda with the function's name as the session name,
 * `arn:<partition>:sts::<account>:assumed-role/<role name>/<function name>`
 * (partition and account from the function's ARN). The session name alone proves
 * nothing: anyone allowed to assume any role can choose it. Undefined without the
 * role's name (the run then fails on its incomplete environment).
 */
export function ownSessionArn(functionArn: string | undefined): string | undefined {
  const roleName = process.env[DRIFT_ROLE_NAME_ENV];
  if (!roleName) {
    return undefined;
  }
  const [, partition, , , account] = String(functionArn).split(':');
  return `arn:${partition}:sts::${account}:assumed-role/${roleName}/${process.env.AWS_LAMBDA_FUNCTION_NAME}`;
}

/** The guard's configuration from the function's environment; DriftConfigurationError naming every problem. */
export function configOf(mode: string): DriftConfig {
  const env = process.env;
  const problems: string[] = [];
  if (mode !== REAPPLY && mode !== REPORT_ONLY) {
    problems.push(`${DRIFT_GUARD_ENV} must be ${REAPPLY} or ${REPORT_ONLY} (got ${q(mode)})`);
  }
  for (const name of [DRIFT_STACK_ID_ENV, DRIFT_LOGICAL_ID_ENV, DRIFT_ROLE_NAME_ENV]) {
    if (!env[name]) {
      problems.push(`${name} must be set (got ${q(env[name])})`);
    }
  }
  const values: Record<string, unknown> = {};
  for (const name of Object.keys(env).filter((n) => n.startsWith(DRIFT_SETTING_ENV_PREFIX))) {
    const key = name.slice(DRIFT_SETTING_ENV_PREFIX.length);
    if ((SETTING_KEYS as readonly string[]).includes(key)) {
      values[key] = env[name];
    } else {
      problems.push(`${name} is not a setting (${SETTING_KEYS.map((k) => DRIFT_SETTING_ENV_PREFIX + k).join(', ')})`);
    }
  }
  let expected: Settings = {};
  try {
    expected = parseSettings(values);
  } catch (err) {
    problems.push(`the values (${DRIFT_SETTING_ENV_PREFIX}<field>) cannot be used: ${(err as Error).message}`);
  }
  if (problems.length > 0) {
    throw new DriftConfigurationError(`the drift guard's environment is incomplete or invalid: ${problems.join('; ')}`);
  }
  const stackId = env[DRIFT_STACK_ID_ENV]!;
  return {
    mode: mode as DriftConfig['mode'],
    self: { stackId, stackName: stackNameOf(stackId), logicalResourceId: env[DRIFT_LOGICAL_ID_ENV]! },
    expected,
  };
}

interface Drift {
  readonly field: SettingKey;
  readonly expected: unknown;
  readonly found: unknown;
  /** Another live claim on the field with another value (`<stack name> (<StackId>)`). */
  readonly managedBy?: string;
  /** What the run did about it (set once it is known). */
  action?: DriftAction;
}

/** How far a run got: `compared` once EC2 was compared with the template's values, whatever followed. */
interface Run {
  compared: boolean;
}

/** One run (`run.compared` says whether it compared, even when it then fails). */
async function check(config: DriftConfig, trigger: Trigger, run: Run, signal: AbortSignal): Promise<void> {
  const { mode, self, expected } = config;
  const unsettled = await settled(self, signal);
  if (unsettled !== undefined) {
    return skip(`${unsettled}: the guard acts only while its stack and its resource are settled`);
  }
  const ownership = await readOwnership(ssm(), cfn(), self, signal);
  // A malformed or foreign own claim was reported by readOwnership (and is not `own`): reported once.
  const reported = ownership.problems.some((p) => isOwnersName(p.name, self));
  const problem = claimProblem(ownership.own, expected);
  if (problem !== undefined && !reported) {
    await reportSecurityWarning(CLAIM_PROBLEM_WARNING, CLAIM_PROBLEM_METRIC, {
      problem,
      name: ownership.own?.name ?? claimName(self),
      stackId: self.stackId,
      logicalResourceId: self.logicalResourceId,
      claimed: ownership.own?.fields,
      template: expected,
      consequence: 'the drift guard goes on with the template\'s values (its environment)',
    }, signal);
  }
  const state = await whileIamPropagates('EC2', () => getDefaults(ec2(), signal), signal);
  if (state.ManagedBy === MANAGED_BY_DECLARATIVE_POLICY) {
    return skip('a declarative policy manages the settings', { managedExceptionMessage: state.ManagedExceptionMessage });
  }

  const effective = effectiveSettings(state);
  const drifts: Drift[] = (Object.keys(expected) as SettingKey[])
    .filter((field) => expected[field] !== effective[field])
    .map((field) => {
      const other = ownership.others.find((c) => c.fields[field] !== undefined && String(c.fields[field]) !== String(expected[field]));
      return { field, expected: expected[field], found: effective[field], managedBy: other && `${other.stackName} (${other.stackId})` };
    });
  run.compared = true;

  const reapply = mode === REAPPLY ? drifts.filter((d) => d.managedBy === undefined) : [];
  let failure: unknown;
  if (reapply.length > 0) {
    const settings = Object.fromEntries(reapply.map((d) => [d.field, expected[d.field]])) as Settings;
    try {
      await modifyDefaults(ec2(), settings, signal);
      await verifyApplied(ec2(), settings, signal);
    } catch (err) {
      failure = err;
    }
  }
  for (const drift of drifts) {
    drift.action = drift.managedBy !== undefined ? 'left-alone'
      : mode !== REAPPLY ? 'reported'
        : failure === undefined ? 'reapplied' : 'reapply-failed';
    log('drift', { ...drift, ...trigger });
  }
  const reapplied = failure === undefined ? reapply.length : 0;
  log('drift check done', { mode, detected: drifts.length, reapplied });
  if (drifts.length > 0) {
    await putMetrics(cw(), [
      { name: DRIFT_DETECTED_METRIC, value: drifts.length },
      { name: DRIFT_REAPPLIED_METRIC, value: reapplied },
    ], signal);
    await putFindings([{
      type: ImdsFindingType.DRIFT_DETECTED,
      ...self,
      // Counts before lists: Logs Insights reads an event's first 200 fields.
      detail: {
        trigger: trigger.trigger, mode, changedBy: trigger.caller, counts: { drifts: drifts.length, reapplied }, drifts, expected, found: state,
      },
    }], signal);
  }
  if (failure !== undefined) {
    throw failure;
  }
}

/**
 * Why the stack or this resource is not settled, or undefined when both are: the
 * stack's status ends in `_COMPLETE` and is neither DELETE_COMPLETE nor
 * ROLLBACK_COMPLETE (a failed Create: its resources are deleted), and this
 * resource's status ends in `_COMPLETE` and is not DELETE_COMPLETE.
 *
 * The resource's status alone is not enough. During a stack update CloudFormation
 * updates the function (its environment: the new values) before the custom
 * resource that depends on it, and the resource shows the status of its last
 * operation (UPDATE_COMPLETE) until CloudFormation reaches it. A run in between
 * would hold EC2 to values that no Create or Update has applied yet (without the
 * conflict and readiness checks, and before the claim says so); during a rollback
 * or the cleanup phase the environment and the resource are just as out of step.
 */
async function settled(self: Owner, signal: AbortSignal): Promise<string | undefined> {
  const stack = await whileIamPropagates('CloudFormation', () => describeStackStatus(cfn(), self.stackId, signal), signal);
  if (stack === undefined || !stack.endsWith('_COMPLETE') || stack === 'DELETE_COMPLETE' || stack === 'ROLLBACK_COMPLETE') {
    return `its stack ${self.stackName} is ${stack ?? 'gone'}`;
  }
  const resource = await resourceStatus(cfn(), self, signal);
  if (resource === undefined || !resource.endsWith('_COMPLETE') || resource === 'DELETE_COMPLETE') {
    return `this resource (${self.logicalResourceId} of ${self.stackName}) is ${resource ?? 'not in its stack'}`;
  }
  return undefined;
}

/**
 * What is wrong with this resource's own valid claim, judged against the
 * template's values (the claim is only evidence): 'missing' (deleted, or never
 * written), or 'not-the-template-values' (another set of fields, or other
 * values: edited in Parameter Store).
 */
function claimProblem(own: Claim | undefined, expected: Settings): string | undefined {
  if (own === undefined) {
    return 'missing';
  }
  const same = SETTING_KEYS.every((key) => String(own.fields[key]) === String(expected[key]));
  return same ? undefined : 'not-the-template-values';
}

/** A run that does not compare: one log line saying why (onEvent puts DRIFT_CHECK_SKIPPED_METRIC). */
function skip(reason: string, fields: Record<string, unknown> = {}): void {
  log('drift check skipped', { reason, ...fields });
}

/** DRIFT_CHECK_SKIPPED_METRIC = 1, bounded by SKIPPED_METRIC_TIMEOUT_MS (the run's own deadline may have passed). */
async function putSkipped(): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SKIPPED_METRIC_TIMEOUT_MS);
  try {
    await putMetrics(cw(), [{ name: DRIFT_CHECK_SKIPPED_METRIC, value: 1 }], controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

function q(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
