/**
 * For each Auto Scaling group of the account and Region: what it launches, and
 * whether that allows IMDSv1. Shared by the readiness report (account-defaults)
 * and the instance upgrade. Read-only: it never modifies a group, a launch
 * template or a launch configuration.
 *
 * - DescribeAutoScalingGroups, every page (MaxRecords 100, the API's maximum).
 *   A group launches from its LaunchTemplate, its LaunchConfigurationName, or
 *   its MixedInstancesPolicy.LaunchTemplate: the LaunchTemplateSpecification
 *   and every override's own LaunchTemplateSpecification.
 * - Launch templates: DescribeLaunchTemplateVersions once per template, with
 *   every version the groups name (a number, `$Default`, `$Latest`). The answer
 *   gives version numbers, not aliases: `$Default` is the version with
 *   DefaultVersion true, `$Latest` the highest number answered (it is among
 *   them, as it was asked for).
 * - Launch configurations: DescribeLaunchConfigurations by name, 50 at a time
 *   (the API's maximum of names per call).
 * - A source says IMDSv1 `allowed` when its MetadataOptions.HttpTokens is
 *   `optional`, `required-tokens` when `required`, `account-default` when it
 *   has no HttpTokens (the account default, then the AMI, decide at launch),
 *   `unknown` when it could not be read. A group is the worst of its sources:
 *   allowed > unknown > account-default > required-tokens.
 *
 * Bounded by `until` (epoch ms) and `signal`: no call starts after `until`,
 * and every call carries `signal`. What could not be listed or read in time is
 * `unknown`, and `complete` is false with the reason in `incomplete`.
 */
import type { AutoScalingClient, AutoScalingGroup, LaunchTemplateSpecification } from '@aws-sdk/client-auto-scaling';
import type { EC2Client, LaunchTemplateVersion } from '@aws-sdk/client-ec2';
import { describeError } from './log';
import { whileIamPropagates } from './sdk';

/** Where a group's instances come from. */
export type LaunchSource =
  | { readonly kind: 'launchTemplate'; readonly id: string; readonly name?: string; readonly version: string /* as the group says: number, $Default, $Latest */ }
  | { readonly kind: 'launchConfiguration'; readonly name: string }
  | { readonly kind: 'none' };

/** Whether launches from a source allow IMDSv1 (see the module's comment). */
export type Imdsv1 = 'allowed' | 'required-tokens' | 'account-default' | 'unknown';

/** One group: its sources, what they allow (the worst of them), and its instances. */
export interface GroupLaunchPath {
  readonly groupName: string;
  /** The launch template or configuration; with a mixed instances policy, the template and every override's own template. */
  readonly sources: readonly LaunchSource[];
  /** The worst over `sources`: allowed > unknown > account-default > required-tokens. */
  readonly imdsv1: Imdsv1;
  readonly instanceIds: readonly string[];
}

/** What describeGroupLaunchPaths found. */
export interface GroupLaunchPaths {
  readonly groups: readonly GroupLaunchPath[];
  /** Whether every group was listed and every source read. */
  readonly complete: boolean;
  /** Why not, when not complete. */
  readonly incomplete?: string;
}

/** The clients; the caller makes them (with the shared CLIENT_CONFIG). */
export interface AutoScalingClients {
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
}

/** The page size of DescribeAutoScalingGroups: the API's maximum. */
export const GROUP_PAGE_SIZE = 100;
/** Names per DescribeLaunchConfigurations call: the API's maximum. */
export const CONFIGURATION_NAMES_PER_CALL = 50;

const RANK: Readonly<Record<Imdsv1, number>> = { 'required-tokens': 0, 'account-default': 1, 'unknown': 2, 'allowed': 3 };

/** The worst of `values` (allowed > unknown > account-default > required-tokens); `unknown` for none. */
export function worstImdsv1(values: readonly Imdsv1[]): Imdsv1 {
  return values.length === 0 ? 'unknown' : values.reduce((a, b) => (RANK[b] > RANK[a] ? b : a));
}

/** What HttpTokens (of a template version's or a configuration's MetadataOptions) says about IMDSv1. */
export function imdsv1Of(httpTokens: string | undefined): Imdsv1 {
  switch (httpTokens) {
    case 'optional':
      return 'allowed';
    case 'required':
      return 'required-tokens';
    case undefined:
      return 'account-default';
    default:
      return 'unknown';
  }
}

/** The runtime's client-auto-scaling and client-ec2, loaded on first use (only the events that list groups pay for loading them). */
function sdks() {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    autoScaling: require('@aws-sdk/client-auto-scaling') as typeof import('@aws-sdk/client-auto-scaling'),
    ec2: require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2'),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

class TimeUp extends Error {
  constructor() {
    super('cut short: the time for listing the Auto Scaling groups is over');
  }
}

/**
 * Lists every Auto Scaling group of the client's Region with its launch sources
 * and whether they allow IMDSv1. Never throws for an AWS error or the time
 * running out: what could not be read is `unknown`, and `complete` is false.
 */
export async function describeGroupLaunchPaths(clients: AutoScalingClients, signal: AbortSignal, until: number): Promise<GroupLaunchPaths> {
  const problems: string[] = [];
  const check = () => {
    if (signal.aborted || Date.now() >= until) {
      throw new TimeUp();
    }
  };
  const raw: AutoScalingGroup[] = [];
  try {
    await listGroups(clients.autoScaling, raw, check, signal);
  } catch (err) {
    problems.push(`the groups could not all be listed (${err instanceof TimeUp ? err.message : describeError(err)})`);
  }
  const groups = raw.map((g) => ({ groupName: g.AutoScalingGroupName ?? '', sources: sourcesOf(g), instanceIds: (g.Instances ?? []).map((i) => i.InstanceId!).filter((id) => id !== undefined) }));
  const templates = await readTemplates(clients.ec2, groups.flatMap((g) => g.sources), check, signal, problems);
  const configurations = await readConfigurations(clients.autoScaling, groups.flatMap((g) => g.sources), check, signal, problems);
  const of = (source: LaunchSource): Imdsv1 => {
    switch (source.kind) {
      case 'launchTemplate':
        return templates.get(templateKey(source))?.get(source.version) ?? 'unknown';
      case 'launchConfiguration':
        return configurations.get(source.name) ?? 'unknown';
      default:
        return 'unknown';
    }
  };
  return {
    groups: groups.map((g) => ({ ...g, imdsv1: worstImdsv1(g.sources.map(of)) })),
    complete: problems.length === 0,
    ...(problems.length > 0 ? { incomplete: problems.join('; ') } : {}),
  };
}

async function listGroups(autoScaling: AutoScalingClient, into: AutoScalingGroup[], check: () => void, signal: AbortSignal): Promise<void> {
  const { DescribeAutoScalingGroupsCommand } = sdks().autoScaling;
  let NextToken: string | undefined;
  do {
    check();
    const page = await whileIamPropagates('Auto Scaling DescribeAutoScalingGroups', () => autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ MaxRecords: GROUP_PAGE_SIZE, NextToken }), { abortSignal: signal }), signal);
    into.push(...page.AutoScalingGroups ?? []);
    NextToken = page.NextToken;
  } while (NextToken);
}

/** A group's sources, in the order the group names them; `none` when it names none. */
export function sourcesOf(group: AutoScalingGroup): LaunchSource[] {
  const sources: LaunchSource[] = [];
  const template = (spec: LaunchTemplateSpecification | undefined) => {
    if (spec !== undefined && (spec.LaunchTemplateId !== undefined || spec.LaunchTemplateName !== undefined)) {
      sources.push({
        kind: 'launchTemplate',
        id: spec.LaunchTemplateId ?? '',
        ...(spec.LaunchTemplateName !== undefined ? { name: spec.LaunchTemplateName } : {}),
        // Auto Scaling stores $Default when a group is created without a version.
        version: spec.Version ?? '$Default',
      });
    }
  };
  if (group.LaunchConfigurationName !== undefined) {
    sources.push({ kind: 'launchConfiguration', name: group.LaunchConfigurationName });
  }
  template(group.LaunchTemplate);
  const mixed = group.MixedInstancesPolicy?.LaunchTemplate;
  template(mixed?.LaunchTemplateSpecification);
  for (const override of mixed?.Overrides ?? []) {
    template(override.LaunchTemplateSpecification);
  }
  const unique = sources.filter((s, i) => sources.findIndex((t) => JSON.stringify(t) === JSON.stringify(s)) === i);
  return unique.length > 0 ? unique : [{ kind: 'none' }];
}

/** A template's key: its id, or its name when the group gave only the name. */
function templateKey(source: { readonly id: string; readonly name?: string }): string {
  return source.id !== '' ? `id:${source.id}` : `name:${source.name}`;
}

/** For each template (templateKey), what each version the groups name (as they name it) allows. */
async function readTemplates(
  ec2: EC2Client, sources: readonly LaunchSource[], check: () => void, signal: AbortSignal, problems: string[],
): Promise<Map<string, Map<string, Imdsv1>>> {
  const wanted = new Map<string, { id: string; name?: string; versions: Set<string> }>();
  for (const s of sources) {
    if (s.kind === 'launchTemplate') {
      const entry = wanted.get(templateKey(s)) ?? { id: s.id, name: s.name, versions: new Set<string>() };
      entry.versions.add(s.version);
      wanted.set(templateKey(s), entry);
    }
  }
  const result = new Map<string, Map<string, Imdsv1>>();
  const failed: string[] = [];
  for (const [key, { id, name, versions }] of wanted) {
    try {
      check();
      const answered = await describeVersions(ec2, id, name, [...versions], signal);
      const byVersion = new Map<string, Imdsv1>();
      const latest = Math.max(...answered.map((v) => v.VersionNumber ?? 0));
      for (const version of versions) {
        const match = version === '$Default' ? answered.find((v) => v.DefaultVersion === true)
          : version === '$Latest' ? answered.find((v) => v.VersionNumber === latest)
            : answered.find((v) => String(v.VersionNumber) === version);
        if (match !== undefined) {
          byVersion.set(version, imdsv1Of(match.LaunchTemplateData?.MetadataOptions?.HttpTokens));
        }
      }
      result.set(key, byVersion);
    } catch (err) {
      if (err instanceof TimeUp) {
        problems.push(`launch templates not read (${err.message})`);
        break;
      }
      failed.push(`${id || name}: ${describeError(err)}`);
    }
  }
  if (failed.length > 0) {
    problems.push(`launch templates not read (${failed.slice(0, 3).join('; ')}${failed.length > 3 ? '; ...' : ''})`);
  }
  return result;
}

async function describeVersions(
  ec2: EC2Client, id: string, name: string | undefined, versions: string[], signal: AbortSignal,
): Promise<LaunchTemplateVersion[]> {
  const { DescribeLaunchTemplateVersionsCommand } = sdks().ec2;
  const found: LaunchTemplateVersion[] = [];
  let NextToken: string | undefined;
  do {
    const page = await whileIamPropagates('EC2 DescribeLaunchTemplateVersions', () => ec2.send(new DescribeLaunchTemplateVersionsCommand({
      ...(id !== '' ? { LaunchTemplateId: id } : { LaunchTemplateName: name }),
      Versions: versions,
      NextToken,
    }), { abortSignal: signal }), signal);
    found.push(...page.LaunchTemplateVersions ?? []);
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}

/** What each launch configuration the groups name allows (absent: not found or not read). */
async function readConfigurations(
  autoScaling: AutoScalingClient, sources: readonly LaunchSource[], check: () => void, signal: AbortSignal, problems: string[],
): Promise<Map<string, Imdsv1>> {
  const names = [...new Set(sources.flatMap((s) => (s.kind === 'launchConfiguration' ? [s.name] : [])))];
  const result = new Map<string, Imdsv1>();
  const { DescribeLaunchConfigurationsCommand } = sdks().autoScaling;
  try {
    for (let i = 0; i < names.length; i += CONFIGURATION_NAMES_PER_CALL) {
      const batch = names.slice(i, i + CONFIGURATION_NAMES_PER_CALL);
      let NextToken: string | undefined;
      do {
        check();
        const page = await whileIamPropagates('Auto Scaling DescribeLaunchConfigurations', () => autoScaling.send(new DescribeLaunchConfigurationsCommand({
          LaunchConfigurationNames: batch, MaxRecords: CONFIGURATION_NAMES_PER_CALL, NextToken,
        }), { abortSignal: signal }), signal);
        for (const c of page.LaunchConfigurations ?? []) {
          result.set(c.LaunchConfigurationName!, imdsv1Of(c.MetadataOptions?.HttpTokens));
        }
        NextToken = page.NextToken;
      } while (NextToken);
    }
  } catch (err) {
    problems.push(`launch configurations not read (${err instanceof TimeUp ? err.message : describeError(err)})`);
  }
  return result;
}
