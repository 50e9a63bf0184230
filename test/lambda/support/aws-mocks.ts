/**
 * The three services the handler calls, mocked with aws-sdk-client-mock and
 * given just enough of each service's semantics that a test checks both the
 * calls and the resulting state:
 * - EC2: one account-level state; Modify applies (no-preference / -1 clear a
 *   field), Get reports it (fields without a value omitted) with ManagedBy.
 * - SSM Parameter Store: a map of parameters; GetParametersByPath lists the
 *   direct children of a path, MaxResults at a time with a NextToken;
 *   DeleteParameter of a missing name fails with ParameterNotFound.
 * - CloudFormation: DescribeStackResource answers the status of a
 *   (StackId, LogicalResourceId) from a map, and ValidationError for one it
 *   does not hold, as CloudFormation does for a resource no longer in the stack.
 *
 * The SDK's own retries and timeouts live inside `send()`, which the mock
 * replaces: index.emulator.test.ts covers those against local endpoints.
 */
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStackResourceCommandInput } from '@aws-sdk/client-cloudformation';
import {
  EC2Client,
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommandInput,
} from '@aws-sdk/client-ec2';
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
import { claimName, formatClaim } from '../../../lambda/account-defaults/claims';
import { Settings } from '../../../lambda/account-defaults/settings';

export const ec2 = mockClient(EC2Client);
export const ssm = mockClient(SSMClient);
export const cfn = mockClient(CloudFormationClient);

export type State = Record<string, string | number | undefined>;

/** What the three services hold. */
export interface World {
  /** EC2's account-level settings (only set fields). */
  state: State;
  managedBy: { ManagedBy: string; ManagedExceptionMessage?: string };
  /** SSM parameters by name. */
  readonly parameters: Map<string, string>;
  /** CloudFormation resource statuses by `${StackId}|${LogicalResourceId}`. */
  readonly resources: Map<string, string>;
}

export function newWorld(state: State = {}): World {
  return { state, managedBy: { ManagedBy: 'account' }, parameters: new Map(), resources: new Map() };
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
  cfn.on(DescribeStackResourceCommand).callsFake(fakes(world).describeStackResource);
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
    describeStackResource: (input: DescribeStackResourceCommandInput) => {
      const status = world.resources.get(`${input.StackName}|${input.LogicalResourceId}`);
      if (status === undefined) {
        throw serviceError('ValidationError', `Resource ${input.LogicalResourceId} does not exist for stack ${input.StackName}`);
      }
      return { StackResourceDetail: { StackId: input.StackName, LogicalResourceId: input.LogicalResourceId, ResourceStatus: status } };
    },
  };
}

export function stackIdOf(stackName: string): string {
  return `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stackName}/${stackName.toLowerCase()}-0000-11ef-0000-000000000000`;
}

/**
 * Records a claim of another resource, as its handler would have, and the
 * status CloudFormation reports for that resource (null: not in the stack).
 */
export function addClaim(world: World, stackName: string, logicalResourceId: string, fields: Settings, status: string | null = 'CREATE_COMPLETE'): string {
  const owner = { stackId: stackIdOf(stackName), stackName, logicalResourceId };
  const name = claimName(owner);
  world.parameters.set(name, formatClaim(owner, fields));
  if (status !== null) {
    world.resources.set(`${owner.stackId}|${logicalResourceId}`, status);
  }
  return name;
}
