/**
 * The function of ImdsInstanceUpgrade: brings the instances of its account and
 * Region that allow IMDSv1 to IMDSv2, only where MetadataNoToken shows no IMDSv1
 * use (upgrade.ts). Its configuration is its environment (config.ts).
 *
 * Invocations:
 * - a CloudFormation custom resource event (Custom::ImdsInstanceUpgrade): Create
 *   and Update run once, reporting only (never switching: the cap holds per
 *   interval, upgrade.ts), and answer SUCCESS with the run's counts as Data, or
 *   FAILED when the configuration is invalid or the instances cannot be listed;
 *   Delete answers SUCCESS and changes nothing (upgrades are never undone).
 *   Always answered, exactly once, before the function's timeout; the physical id
 *   is `ImdsInstanceUpgrade:<account>:<region>`, a failed Create's a marker.
 *   Each event is first confirmed with CloudFormation (shared/confirm.ts): one
 *   that CloudFormation did not send runs nothing and is answered FAILED.
 * - the EventBridge "Scheduled Event" of its own account and Region: one run;
 *   an invalid configuration or a run that could not complete is logged and
 *   thrown (the function's Errors metric counts it).
 * - anything else: logged (a few fields, never a ResponseURL) and ignored.
 *
 * Each run ends with one summary log line and the same counts as CloudWatch
 * metrics (report.ts); metrics are not put when the instances could not be listed.
 * Then its findings (report.ts): a scheduled run puts them within the function's
 * time left; a CloudFormation event's are held and put after the answer
 * (shared/custom-resource.ts). Putting them never changes an outcome.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { UpgradeConfig, readConfig } from './config';
import { createEc2Client } from './fleet';
import { RunReport, Trigger } from './report';
import { runUpgrade } from './upgrade';
import { UPGRADE_PHYSICAL_ID_PREFIX, UPGRADE_RESOURCE_TYPE } from '../../src/private/properties';
import { createCloudFormationClient } from '../shared/cloudformation';
import { Budget, Outcome, RESPONSE_RESERVE_MS, answerCustomResource, isCloudFormationEvent, logEvent, stablePhysicalId, withBudget } from '../shared/custom-resource';
import { held, putFindings, setFindingsOrigin } from '../shared/events';
import { describeError, log } from '../shared/log';
import { createCloudWatchClient, putMetrics } from '../shared/metrics';
import { CLIENT_CONFIG } from '../shared/sdk';

/** The prefix of the physical id answered for a failed Create: the following Delete recognises it. */
export const CREATE_FAILED_PREFIX = `${UPGRADE_PHYSICAL_ID_PREFIX}:CreateFailed:`;

/** The summary line's message. */
export const SUMMARY_MESSAGE = 'instance upgrade summary';

/** Metrics are put within this time, and never past the function's timeout less 500 ms. */
const METRICS_TIMEOUT_MS = 4_000;

// The clients, made on first use inside the handler's try: a failure to make one is reported, not a silent init error.
let ec2Client: EC2Client | undefined;
let cwClient: CloudWatchClient | undefined;
let cfnClient: CloudFormationClient | undefined;
let ssmClient: SSMClient | undefined;
let autoScalingClient: AutoScalingClient | undefined;
const ec2 = () => (ec2Client ??= createEc2Client());
const cw = () => (cwClient ??= createCloudWatchClient());
const cfn = () => (cfnClient ??= createCloudFormationClient());
const ssm = () => (ssmClient ??= new SSMClient(CLIENT_CONFIG));
const autoScaling = () => (autoScalingClient ??= new AutoScalingClient(CLIENT_CONFIG));

/** The Lambda entry point. */
export async function handler(event: unknown, context: Context): Promise<void> {
  setFindingsOrigin(context.invokedFunctionArn);
  if (isCloudFormationEvent(event)) {
    logEvent(event);
    return answerCustomResource(event, context, {
      createFailedPrefix: CREATE_FAILED_PREFIX,
      timeoutReason: (requestType, seconds) => `${requestType} did not finish within ${seconds} s (the function's timeout less ${RESPONSE_RESERVE_MS / 1000} s to answer); instances modified so far stay upgraded: see the function's log`,
      confirm: { resourceType: UPGRADE_RESOURCE_TYPE, cloudFormation: cfn },
    }, (budget) => onCloudFormation(event, budget));
  }
  if (isOwnSchedule(event, context)) {
    log('scheduled run', { id: event.id, time: event.time });
    await withBudget(context, () => undefined, async (budget) => {
      try {
        await run('schedule', readConfig(), budget);
      } catch (err) {
        // Thrown on: Lambda counts it in the function's Errors metric.
        log('the run did not complete', { error: describeError(err) });
        throw err;
      }
    });
    return;
  }
  log('ignored: neither a CloudFormation custom resource event nor the schedule of this account and Region', describeForeign(event));
}

async function onCloudFormation(event: CloudFormationCustomResourceEvent, budget: Budget): Promise<Outcome> {
  switch (event.RequestType) {
    case 'Create':
    case 'Update': {
      const physicalResourceId = event.RequestType === 'Create' ? stablePhysicalId(event, UPGRADE_PHYSICAL_ID_PREFIX) : event.PhysicalResourceId;
      const report = await run(event.RequestType, readConfig(), budget);
      return { physicalResourceId, data: report.data() };
    }
    case 'Delete':
      log('Delete: nothing to undo (upgraded instances stay upgraded)');
      return { physicalResourceId: event.PhysicalResourceId };
    default:
      throw new Error(`unknown RequestType ${JSON.stringify((event as { RequestType?: unknown }).RequestType)}`);
  }
}

/**
 * One run, ended by its summary line and metrics. Throws a ConfigError before
 * doing anything when the configuration is invalid, and the run's error after
 * reporting when the instances could not be listed.
 */
async function run(trigger: Trigger, config: UpgradeConfig, budget: Budget): Promise<RunReport> {
  const report = new RunReport(trigger, config);
  let metricsPut = false;
  try {
    await runUpgrade(config, { ec2: ec2(), cw: cw(), ssm: ssm(), autoScaling: autoScaling() }, budget, report);
  } catch (err) {
    report.error = describeError(err);
  }
  if (report.error === undefined) {
    const timeout = Math.max(1, Math.min(METRICS_TIMEOUT_MS, budget.functionEnd - 500 - Date.now()));
    metricsPut = await putMetrics(cw(), report.metricValues(), AbortSignal.timeout(timeout));
  }
  log(SUMMARY_MESSAGE, { ...report.summary(), metricsPut });
  if (held.list) {
    held.list.push(...report.findings());
  } else {
    await putFindings(report.findings(), AbortSignal.timeout(Math.max(1, budget.functionEnd - 500 - Date.now())));
  }
  if (report.error !== undefined) {
    throw new Error(report.error);
  }
  return report;
}

interface ScheduledEvent {
  readonly id?: unknown;
  readonly time?: unknown;
}

/** The EventBridge schedule's event, from the function's own account and Region (read from its ARN). */
function isOwnSchedule(event: unknown, context: Context): event is ScheduledEvent {
  // arn:aws:lambda:<region>:<account>:function:<name>
  const [, , , region, account] = String(context.invokedFunctionArn).split(':');
  const e = Object(event) as Record<string, unknown>;
  return e.source === 'aws.events'
    && e['detail-type'] === 'Scheduled Event'
    && !!account && e.account === account
    && !!region && e.region === region;
}

/** What is logged of an event that is ignored: its shape and routing fields, never a value that could be a ResponseURL. */
function describeForeign(event: unknown): Record<string, unknown> {
  if (typeof event !== 'object' || event === null) {
    return { type: event === null ? 'null' : typeof event };
  }
  const e = event as Record<string, unknown>;
  const short = (value: unknown) => (typeof value === 'string' ? value.slice(0, 100) : undefined);
  return {
    keys: Object.keys(e).slice(0, 20),
    source: short(e.source),
    detailType: short(e['detail-type']),
    account: short(e.account),
    region: short(e.region),
  };
}
