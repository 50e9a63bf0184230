/**
 * The readiness check before enforcement: what stops launching once
 * HttpTokensEnforced is enabled, listed before a Create or Update writes it.
 *
 * With enforcement enabled, EC2 refuses every launch whose resolved HttpTokens
 * is not `required` (UnsupportedOperation), so a launch template or a launch
 * configuration that says `optional` stops working (an Auto Scaling group that
 * uses it can no longer scale out); instances that already allow IMDSv1 keep
 * running. The check runs only when the event is about to change
 * HttpTokensEnforced to `enabled` (it is not `enabled` now), and lists, in the
 * account and Region, at the same time:
 * - launch templates whose $Default or $Latest version sets
 *   MetadataOptions.HttpTokens to `optional` (DescribeLaunchTemplateVersions
 *   without template ids, filter http-tokens; one entry per template);
 * - Auto Scaling launch configurations that do (DescribeLaunchConfigurations
 *   has no filter: filtered here);
 * - instances (pending, running, stopping, stopped) that allow IMDSv1
 *   (filter metadata-options.http-tokens): information only, they never block.
 * Only an explicit `optional` is seen: a template without MetadataOptions
 * resolves HttpTokens at launch from the account default and the AMI.
 *
 * Bounded: the whole check has READINESS_BUDGET_MS (the ownership read has its
 * own budget; the function has 30 s). A listing that does not finish, cut short
 * or failed, counts what it saw as "at least N" (Data "N+").
 *
 * `BLOCK` (the default) fails the event before any write when a launch template
 * or launch configuration allows IMDSv1, and also when either listing did not
 * finish: the check then cannot show that enforcing is safe. `ENFORCE_AND_REPORT` logs
 * and goes on. Either way one log line names what was found (capped), and the
 * Data attributes are also given to `out.readinessCheck` (the event's finding;
 * a blocked event's too).
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeLaunchTemplateVersionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AccountLevel, InvalidPropertiesError, Settings, effectiveSettings } from './settings';
import {
  READINESS_ATTRIBUTE_KEYS,
  READINESS_CHECK_LEGACY_VALUES,
  READINESS_CHECK_PROPERTY,
  READINESS_CHECK_VALUES,
  READINESS_COUNT_ATTRIBUTE_KEYS,
  READINESS_NOT_CHECKED,
  READINESS_RESULT_ATTRIBUTE,
  ReadinessCountAttributeKey,
  ReadinessResult,
  ReadinessAttributeKey,
} from '../../src/private/properties';
import { describeError, log } from '../shared/log';
import { CLIENT_CONFIG, whileIamPropagates } from '../shared/sdk';

export type ReadinessMode = (typeof READINESS_CHECK_VALUES)[number];

/** How long the whole check may take. */
export const READINESS_BUDGET_MS = 8_000;
/** How many of each kind the failure reason names (CloudFormation's answer stays under 4 KB). */
export const NAMED_IN_REASON = 5;
/** How many of each kind the log line names. */
export const NAMED_IN_LOG = 50;
/** The longest name quoted in the reason. */
const NAME_CHARS = 64;
/** The page sizes: each API's maximum. */
export const PAGE_SIZE = { launchTemplates: 200, launchConfigurations: 100, instances: 1000 } as const;

/** The clients, made on first use (the Auto Scaling client only when the check runs). */
export interface ReadinessClients {
  readonly ec2: () => EC2Client;
  readonly autoScaling: () => AutoScalingClient;
}

/**
 * The runtime's client-auto-scaling, loaded on first use: only a Create or Update
 * that turns enforcement on needs it, so the other events (and the drift guard's
 * runs) do not pay for loading it at init.
 */
function autoScalingSdk(): typeof import('@aws-sdk/client-auto-scaling') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-auto-scaling');
}

export function createAutoScalingClient(): AutoScalingClient {
  return new (autoScalingSdk().AutoScalingClient)(CLIENT_CONFIG);
}

/**
 * Parses the ReadinessCheck property (absent: BLOCK). A value earlier releases
 * wrote (READINESS_CHECK_LEGACY_VALUES: 'REPORT_ONLY') keeps its meaning: a
 * rollback to such a template, or a stack not yet upgraded, sends it.
 */
export function parseReadinessCheck(properties: Record<string, unknown> | undefined): ReadinessMode {
  const raw = properties?.[READINESS_CHECK_PROPERTY];
  if (raw === undefined) {
    return 'BLOCK';
  }
  const legacy = typeof raw === 'string' && Object.hasOwn(READINESS_CHECK_LEGACY_VALUES, raw) ? READINESS_CHECK_LEGACY_VALUES[raw] : undefined;
  if (legacy !== undefined) {
    return legacy;
  }
  if (!READINESS_CHECK_VALUES.includes(raw as ReadinessMode)) {
    throw new InvalidPropertiesError(`${READINESS_CHECK_PROPERTY} must be one of ${READINESS_CHECK_VALUES.map((v) => JSON.stringify(v)).join(', ')}; got ${JSON.stringify(raw)}`);
  }
  return raw as ReadinessMode;
}

/** What one listing found: described resources by id, and why it did not finish, if it did not. */
interface Listing {
  readonly items: Map<string, string>;
  done: boolean;
  incomplete?: string;
}

/** One listing's result, fixed when the check ends (a listing cut short may still run in the background). */
export interface Found {
  readonly count: number;
  readonly complete: boolean;
  /** The first NAMED_IN_LOG, described. */
  readonly names: readonly string[];
  /** Why the listing did not finish ("cut short …", or the error). */
  readonly incomplete?: string;
}

export interface Readiness {
  readonly launchTemplates: Found;
  readonly launchConfigurations: Found;
  readonly instances: Found;
}

/** The readiness check's Data keys (the 1.0 ones and the ones earlier releases' templates may read). */
export type ReadinessData = Record<ReadinessAttributeKey | ReadinessCountAttributeKey | typeof READINESS_RESULT_ATTRIBUTE, string>;

/** The Data of an event that did not run the check. */
export function notChecked(): ReadinessData {
  return {
    ...Object.fromEntries(READINESS_ATTRIBUTE_KEYS.map((key) => [key, READINESS_NOT_CHECKED])),
    ...Object.fromEntries(READINESS_COUNT_ATTRIBUTE_KEYS.map((key) => [key, '0'])),
    [READINESS_RESULT_ATTRIBUTE]: 'NOT_CHECKED',
  } as ReadinessData;
}

/**
 * Runs the check when `target` enables enforcement and `before` shows it is not
 * enabled yet; returns the Data attributes (also `out.readinessCheck` when the check
 * ran). In BLOCK mode, throws (the reason for CloudFormation) when enforcing would
 * break launches or cannot be shown safe.
 */
export async function checkReadiness(
  target: Settings, before: AccountLevel, mode: ReadinessMode, clients: ReadinessClients, deadline: AbortSignal,
  out: { readinessCheck?: ReadinessData },
): Promise<ReadinessData> {
  if (target.HttpTokensEnforced !== 'enabled' || effectiveSettings(before).HttpTokensEnforced === 'enabled') {
    return notChecked();
  }
  const found = await listWithin(clients, deadline);
  const blocks = blocking(found);
  log('readiness check before enforcing IMDSv2', {
    readinessCheck: mode,
    outcome: !blocks ? 'nothing would break' : mode === 'BLOCK' ? 'blocked: nothing is changed' : 'applying anyway (ENFORCE_AND_REPORT)',
    launchTemplates: forLog(found.launchTemplates),
    launchConfigurations: forLog(found.launchConfigurations),
    instances: forLog(found.instances),
  });
  const kinds = [found.launchTemplates, found.launchConfigurations, found.instances];
  const result: ReadinessResult = kinds.every((f) => f.complete) ? 'COMPLETE' : 'INCOMPLETE';
  const data = out.readinessCheck = {
    LaunchTemplatesAllowingImdsv1: count(found.launchTemplates),
    LaunchConfigurationsAllowingImdsv1: count(found.launchConfigurations),
    InstancesAllowingImdsv1: count(found.instances),
    LaunchTemplatesAllowingImdsv1Count: String(found.launchTemplates.count),
    LaunchConfigurationsAllowingImdsv1Count: String(found.launchConfigurations.count),
    InstancesAllowingImdsv1Count: String(found.instances.count),
    [READINESS_RESULT_ATTRIBUTE]: result,
  };
  if (blocks && mode === 'BLOCK') {
    throw new Error(reasonFor(found));
  }
  return data;
}

/** Whether BLOCK stops the event: something would break, or the check cannot show that nothing would. */
function blocking(found: Readiness): boolean {
  return [found.launchTemplates, found.launchConfigurations].some((f) => f.count > 0 || !f.complete);
}

/**
 * Lists the three kinds at once, within `budgetMs` (READINESS_BUDGET_MS for the
 * check before enforcement; the readiness report gives its own) and the handler's
 * deadline. `alongside`, when given, runs at the same time under the same budget
 * (the report's Auto Scaling groups) and gets the signal that ends it.
 */
export async function listWithin(
  clients: ReadinessClients, deadline: AbortSignal, budgetMs: number = READINESS_BUDGET_MS,
  alongside?: (signal: AbortSignal) => Promise<void>,
): Promise<Readiness> {
  // A timer of our own, as for the ownership read (AbortSignal.timeout can be garbage-collected unfired).
  const controller = new AbortController();
  const abort = () => controller.abort();
  deadline.addEventListener('abort', abort, { once: true });
  if (deadline.aborted) {
    abort();
  }
  let timer: NodeJS.Timeout | undefined;
  const budgetOver = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      abort();
      resolve();
    }, budgetMs);
  });
  // Each listing ends, fails, or is left behind when the budget is over (its calls are aborted).
  const run = async (list: (listing: Listing, signal: AbortSignal) => Promise<void>): Promise<Found> => {
    const listing: Listing = { items: new Map(), done: false };
    const running = (async () => {
      try {
        await list(listing, controller.signal);
        listing.done = true;
      } catch (err) {
        listing.incomplete = controller.signal.aborted ? cutShort(budgetMs) : describeError(err);
      }
    })();
    await Promise.race([running, budgetOver]);
    return fix(listing, budgetMs);
  };
  try {
    const [launchTemplates, launchConfigurations, instances] = await Promise.all([
      run((l, s) => listLaunchTemplates(clients.ec2(), l, s)),
      run((l, s) => listLaunchConfigurations(clients.autoScaling(), l, s)),
      run((l, s) => listInstances(clients.ec2(), l, s)),
      alongside?.(controller.signal),
    ]);
    return { launchTemplates, launchConfigurations, instances };
  } finally {
    clearTimeout(timer);
    deadline.removeEventListener('abort', abort);
  }
}

function cutShort(budgetMs: number): string {
  return `cut short: the check has ${budgetMs / 1000} s`;
}

function fix(listing: Listing, budgetMs: number): Found {
  return {
    count: listing.items.size,
    complete: listing.done,
    names: [...listing.items.values()].slice(0, NAMED_IN_LOG),
    ...(listing.done ? {} : { incomplete: listing.incomplete ?? cutShort(budgetMs) }),
  };
}

/** Reads every page (`call` with the previous page's NextToken) and hands each to `each`. */
async function everyPage<T extends { NextToken?: string }>(
  what: string, call: (NextToken: string | undefined) => Promise<T>, each: (page: T) => void, signal: AbortSignal,
): Promise<void> {
  let NextToken: string | undefined;
  do {
    const page = await whileIamPropagates(what, () => call(NextToken), signal);
    each(page);
    NextToken = page.NextToken;
  } while (NextToken);
}

/** Launch templates whose $Default or $Latest version sets HttpTokens optional, one entry per template. */
function listLaunchTemplates(ec2: EC2Client, listing: Listing, signal: AbortSignal): Promise<void> {
  const versions = new Map<string, number[]>();
  return everyPage('EC2 DescribeLaunchTemplateVersions', (NextToken) => ec2.send(new DescribeLaunchTemplateVersionsCommand({
    Versions: ['$Latest', '$Default'],
    Filters: [{ Name: 'http-tokens', Values: ['optional'] }],
    MaxResults: PAGE_SIZE.launchTemplates,
    NextToken,
  }), { abortSignal: signal }), (page) => {
    for (const v of page.LaunchTemplateVersions ?? []) {
      const id = v.LaunchTemplateId!;
      // $Latest and $Default may be the same version.
      const numbers = [...new Set([...versions.get(id) ?? [], v.VersionNumber!])].sort((x, y) => x - y);
      versions.set(id, numbers);
      listing.items.set(id, `${id} (${short(v.LaunchTemplateName!)}, version ${numbers.join(', ')})`);
    }
  }, signal);
}

/** Launch configurations whose MetadataOptions.HttpTokens is optional (the API has no filter). */
function listLaunchConfigurations(autoScaling: AutoScalingClient, listing: Listing, signal: AbortSignal): Promise<void> {
  return everyPage('Auto Scaling DescribeLaunchConfigurations', (NextToken) => autoScaling.send(new (autoScalingSdk().DescribeLaunchConfigurationsCommand)({
    MaxRecords: PAGE_SIZE.launchConfigurations,
    NextToken,
  }), { abortSignal: signal }), (page) => {
    for (const c of page.LaunchConfigurations ?? []) {
      if (c.MetadataOptions?.HttpTokens === 'optional') {
        listing.items.set(c.LaunchConfigurationName!, short(c.LaunchConfigurationName!));
      }
    }
  }, signal);
}

/** Instances that are not terminated and allow IMDSv1. */
function listInstances(ec2: EC2Client, listing: Listing, signal: AbortSignal): Promise<void> {
  return everyPage('EC2 DescribeInstances', (NextToken) => ec2.send(new DescribeInstancesCommand({
    Filters: [
      { Name: 'metadata-options.http-tokens', Values: ['optional'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ],
    MaxResults: PAGE_SIZE.instances,
    NextToken,
  }), { abortSignal: signal }), (page) => {
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      listing.items.set(instance.InstanceId!, instance.InstanceId!);
    }
  }, signal);
}

/** "3", or "3+" (at least 3) when the listing did not finish. */
function count(found: Found): string {
  return found.complete ? String(found.count) : `${found.count}+`;
}

/** "3", or "at least 3" when the listing did not finish. */
function atLeast(found: Found): string {
  return found.complete ? String(found.count) : `at least ${found.count}`;
}

export function forLog(found: Found): Record<string, unknown> {
  return { count: count(found), names: found.names, ...(found.incomplete ? { incomplete: found.incomplete } : {}) };
}

function short(name: string): string {
  return name.length > NAME_CHARS ? `${name.slice(0, NAME_CHARS - 3)}...` : name;
}

/** The failure reason in BLOCK mode: what would break (the first few), what could not be listed, and how to proceed. */
function reasonFor(found: Readiness): string {
  const kinds: Array<[string, Found]> = [['launch templates', found.launchTemplates], ['launch configurations', found.launchConfigurations]];
  const listed = kinds.filter(([, f]) => f.count > 0).map(([kind, f]) =>
    `${kind} (${atLeast(f)}): ${f.names.slice(0, NAMED_IN_REASON).join(', ')}${f.count > NAMED_IN_REASON ? ', ...' : ''}`);
  const unlisted = kinds.filter(([, f]) => !f.complete).map(([kind, f]) => `the ${kind} could not all be listed (${f.incomplete!.slice(0, 300)})`);
  const parts: string[] = [];
  if (listed.length > 0) {
    parts.push(`Enforcing IMDSv2 (HttpTokensEnforced enabled) would make launches fail that use these, which set HttpTokens to optional: ${listed.join('; ')}.`);
  }
  if (unlisted.length > 0) {
    parts.push(`The readiness check cannot show that enforcing IMDSv2 is safe: ${unlisted.join('; ')}.`);
  }
  parts.push('Nothing was changed.');
  parts.push(listed.length > 0
    ? 'Make them require IMDSv2 (HttpTokens required: a new default launch template version, a new launch configuration), or set readinessCheck to ENFORCE_AND_REPORT to enforce anyway.'
    : 'Deploy again, or set readinessCheck to ENFORCE_AND_REPORT to enforce without the check.');
  if (found.instances.count > 0) {
    parts.push(`Instances allowing IMDSv1: ${atLeast(found.instances)} (they keep running; the function's log lists them).`);
  }
  return parts.join(' ');
}
