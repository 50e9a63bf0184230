/**
 * The three services the handler calls, mocked with aws-sdk-client-mock and
 * given just enough of each service's semantics that a test checks both the
 * calls and the resulting state:
 * - EC2: one account-level state; Modify applies (no-preference / -1 clear a
 *   field), Get reports it (fields without a value omitted) with ManagedBy.
 * - SSM Parameter Store: a map of parameters; GetParametersByPath lists the
 *   direct children of a path, MaxResults at a time with a NextToken;
 *   DeleteParameter of a missing name fails with ParameterNotFound.
 * - CloudFormation (support/cloudformation.ts): DescribeStackResource answers
 *   the type, status and physical id of a (StackId, LogicalResourceId) from a
 *   map, and ValidationError for one it does not hold, as CloudFormation does
 *   for a resource no longer in the stack; DescribeStacks the stack's status.
 *   Every event sent through answerOf is recorded as CloudFormation shows it
 *   while it waits, so that the handler confirms it (unless confirmEvents is false).
 * - CloudWatch: PutMetricData accepted (the security warnings' metrics).
 * - EventBridge: PutEvents accepts every entry (the findings, lambda/shared/events.ts);
 *   `putEvents()` reads them back as a bus would deliver them.
 * - What the readiness check lists (EC2 DescribeLaunchTemplateVersions and
 *   DescribeInstances, Auto Scaling DescribeLaunchConfigurations): the world's
 *   launch template versions, instances and launch configurations, with the
 *   filters the check uses applied as EC2 documents them, MaxResults (MaxRecords)
 *   at a time with a NextToken.
 *
 * The SDK's own retries and timeouts live inside `send()`, which the mock
 * replaces: index.emulator.test.ts covers those against local endpoints.
 */
import { AutoScalingClient, DescribeLaunchConfigurationsCommand, DescribeLaunchConfigurationsCommandInput, LaunchConfiguration } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstancesCommand,
  DescribeInstancesCommandInput,
  DescribeLaunchTemplateVersionsCommand,
  DescribeLaunchTemplateVersionsCommandInput,
  EC2Client,
  Filter,
  GetInstanceMetadataDefaultsCommand,
  Instance,
  LaunchTemplateVersion,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommandInput,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand, PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import {
  DeleteParameterCommand,
  DeleteParameterCommandInput,
  GetParametersByPathCommand,
  GetParametersByPathCommandInput,
  PutParameterCommand,
  PutParameterCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { ACCOUNT, REGION } from '.';
import { CloudFormationView, cloudFormationFakes, emulateCloudFormation, newCloudFormationView } from './cloudformation';
import { claimName, formatClaim } from '../../../lambda/account-defaults/claims';
import { Settings } from '../../../lambda/account-defaults/settings';
import { expectMatchesFindingsSchema } from '../../support/findings-schema';

export const ec2 = mockClient(EC2Client);
export const ssm = mockClient(SSMClient);
export const cfn = mockClient(CloudFormationClient);
export const autoScaling = mockClient(AutoScalingClient);
export const cw = mockClient(CloudWatchClient);
export const eventBridge = mockClient(EventBridgeClient);

/** PutEvents' answer when EventBridge takes every entry. */
export function acceptEvents(input: PutEventsCommandInput) {
  return { FailedEntryCount: 0, Entries: input.Entries!.map((_, i) => ({ EventId: `event-${i}` })) };
}

/** A finding as put: the bus ('default', or the ARN the entry named), its detail type, source and parsed detail. */
export interface PutEvent {
  readonly bus: string;
  readonly source: string;
  readonly detailType: string;
  readonly detail: Record<string, any>;
}

/** Fails unless every entry of every PutEvents call matches findings-schema.json (test/support/findings-schema.ts). */
export function expectPutEventsMatchSchema(): void {
  for (const call of eventBridge.commandCalls(PutEventsCommand)) {
    call.args[0].input.Entries!.forEach(expectMatchesFindingsSchema);
  }
}

/** Everything the PutEvents calls sent, as text (to check what must never be in a finding, as the ResponseURL). */
export function putEventsText(): string {
  return JSON.stringify(eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input));
}

/** Every entry of every PutEvents call the mock received (`eventBridge`), in order; `detailType` keeps only those. */
export function putEvents(detailType?: string): PutEvent[] {
  return eventBridge.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => ({
    bus: e.EventBusName ?? 'default',
    source: e.Source!,
    detailType: e.DetailType!,
    detail: JSON.parse(e.Detail!),
  }))).filter((e) => detailType === undefined || e.detailType === detailType);
}

export type State = Record<string, string | number | undefined>;

/** What the services hold. */
export interface World extends CloudFormationView {
  /** EC2's account-level settings (only set fields). */
  state: State;
  managedBy: { ManagedBy: string; ManagedExceptionMessage?: string };
  /** SSM parameters by name. */
  readonly parameters: Map<string, string>;
  /** Every version of every launch template (DefaultVersion marks each template's default; the highest VersionNumber is its $Latest). */
  launchTemplateVersions: LaunchTemplateVersion[];
  /** The Auto Scaling launch configurations. */
  launchConfigurations: LaunchConfiguration[];
  /** The instances, one per reservation. */
  instances: Instance[];
}

export function newWorld(state: State = {}): World {
  return {
    state,
    managedBy: { ManagedBy: 'account' },
    parameters: new Map(),
    ...newCloudFormationView(),
    launchTemplateVersions: [],
    launchConfigurations: [],
    instances: [],
  };
}

/** An AWS SDK service error as the client surfaces it. */
export function serviceError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

/** Resets the mocks and gives them the services' semantics over `world`. */
export function emulate(world: World): void {
  ec2.reset();
  ssm.reset();
  cfn.reset();
  autoScaling.reset();
  cw.reset();
  eventBridge.reset();

  ec2.on(GetInstanceMetadataDefaultsCommand).callsFake(() => ({ AccountLevel: { ...world.state, ...world.managedBy } }));
  ec2.on(ModifyInstanceMetadataDefaultsCommand).callsFake((input: ModifyInstanceMetadataDefaultsCommandInput) => {
    for (const [key, value] of Object.entries(input)) {
      world.state[key] = value === 'no-preference' || value === -1 ? undefined : value;
      if (world.state[key] === undefined) delete world.state[key];
    }
    return { Return: true };
  });

  ssm.on(GetParametersByPathCommand).callsFake(fakes(world).getParametersByPath);
  ssm.on(PutParameterCommand).callsFake((input: PutParameterCommandInput) => {
    world.parameters.set(input.Name!, input.Value!);
    return { Version: 1, Tier: 'Standard' };
  });
  ssm.on(DeleteParameterCommand).callsFake((input: DeleteParameterCommandInput) => {
    if (!world.parameters.delete(input.Name!)) {
      throw serviceError('ParameterNotFound', `Parameter ${input.Name} not found.`);
    }
    return {};
  });
  emulateCloudFormation(cfn, world);
  cw.on(PutMetricDataCommand).resolves({});
  eventBridge.on(PutEventsCommand).callsFake(acceptEvents);
  ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake(fakes(world).describeLaunchTemplateVersions);
  ec2.on(DescribeInstancesCommand).callsFake(fakes(world).describeInstances);
  autoScaling.on(DescribeLaunchConfigurationsCommand).callsFake(fakes(world).describeLaunchConfigurations);
}

/** One page of `items`: MaxResults from NextToken (an index), and the next token when more remain. */
function page<T>(items: T[], nextToken: string | undefined, max: number): { items: T[]; NextToken?: string } {
  const start = Number(nextToken ?? 0);
  const end = start + max;
  return { items: items.slice(start, end), NextToken: end < items.length ? String(end) : undefined };
}

/** Whether a resource passes every filter (EC2: values of one filter are ORed, filters ANDed); `valueOf` reads a filter's field. */
function passes(filters: Filter[] | undefined, valueOf: (name: string) => string | undefined): boolean {
  return (filters ?? []).every((f) => {
    const value = valueOf(f.Name!);
    return value !== undefined && f.Values!.includes(value);
  });
}

/** The read calls' emulations, for tests that first make a call fail (`.rejectsOnce(err).callsFake(...)`). */
export function fakes(world: World) {
  return {
    getParametersByPath: (input: GetParametersByPathCommandInput) => {
      const children = [...world.parameters.keys()].sort()
        .filter((name) => name.startsWith(`${input.Path}/`) && !name.slice(input.Path!.length + 1).includes('/'));
      const start = Number(input.NextToken ?? 0);
      const end = start + (input.MaxResults ?? 10);
      return {
        Parameters: children.slice(start, end).map((Name) => ({ Name, Type: 'String', Value: world.parameters.get(Name) })),
        NextToken: end < children.length ? String(end) : undefined,
      };
    },
    /** Without a template id: the $Latest and/or $Default version of every template (a version both is listed once). */
    describeLaunchTemplateVersions: (input: DescribeLaunchTemplateVersionsCommandInput) => {
      if (input.LaunchTemplateId !== undefined || input.LaunchTemplateName !== undefined) {
        throw new Error('the mock serves only the all-templates form (no template id or name)');
      }
      const latest = new Map<string, number>();
      for (const v of world.launchTemplateVersions) {
        latest.set(v.LaunchTemplateId!, Math.max(latest.get(v.LaunchTemplateId!) ?? 0, v.VersionNumber!));
      }
      const wanted = world.launchTemplateVersions.filter((v) => (input.Versions!.includes('$Default') && v.DefaultVersion)
        || (input.Versions!.includes('$Latest') && latest.get(v.LaunchTemplateId!) === v.VersionNumber));
      const matching = wanted.filter((v) => passes(input.Filters, (name) => (name === 'http-tokens' ? v.LaunchTemplateData?.MetadataOptions?.HttpTokens : undefined)));
      const { items, NextToken } = page(matching, input.NextToken, input.MaxResults ?? 1000);
      return { LaunchTemplateVersions: items, NextToken };
    },
    describeInstances: (input: DescribeInstancesCommandInput) => {
      const matching = world.instances.filter((i) => passes(input.Filters, (name) => ({
        'metadata-options.http-tokens': i.MetadataOptions?.HttpTokens,
        'instance-state-name': i.State?.Name,
      } as Record<string, string | undefined>)[name]));
      const { items, NextToken } = page(matching, input.NextToken, input.MaxResults ?? 1000);
      return { Reservations: items.map((i) => ({ Instances: [i] })), NextToken };
    },
    describeLaunchConfigurations: (input: DescribeLaunchConfigurationsCommandInput) => {
      const { items, NextToken } = page(world.launchConfigurations, input.NextToken, input.MaxRecords ?? 50);
      return { LaunchConfigurations: items, NextToken };
    },
    ...cloudFormationFakes(world),
  };
}

export function stackIdOf(stackName: string): string {
  return `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stackName}/${stackName.toLowerCase()}-0000-11ef-0000-000000000000`;
}

/**
 * Records a claim of another resource, as its handler would have (format 2), and the
 * status CloudFormation reports for that resource (null: not in the stack).
 */
export function addClaim(
  world: World, stackName: string, logicalResourceId: string, fields: Settings, status: string | null = 'CREATE_COMPLETE', options: { retained?: boolean } = {},
): string {
  const owner = { stackId: stackIdOf(stackName), stackName, logicalResourceId };
  const name = claimName(owner);
  world.parameters.set(name, formatClaim(owner, fields, options));
  if (status !== null) {
    world.resources.set(`${owner.stackId}|${logicalResourceId}`, status);
  }
  return name;
}
