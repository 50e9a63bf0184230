/**
 * What the functions read from CloudFormation, the source that cannot lie about
 * a stack: a resource's type, status and physical id (DescribeStackResource), and
 * a stack's status (DescribeStacks). Used to confirm custom resource events
 * (confirm.ts), by the claims' liveness check and by the drift guard.
 */
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CLIENT_CONFIG } from './sdk';

export function createCloudFormationClient(): CloudFormationClient {
  return new CloudFormationClient(CLIENT_CONFIG);
}

/** A resource as CloudFormation shows it. */
export interface StackResource {
  readonly resourceType: string;
  /** '' when CloudFormation gave none. */
  readonly resourceStatus: string;
  /** undefined while it has none (a Create in progress). */
  readonly physicalResourceId?: string;
}

/**
 * A resource of a stack (by StackId: deleted stacks stay describable by id for 90
 * days), or undefined when CloudFormation says the stack or the resource does not
 * exist (ValidationError). Other errors are thrown.
 */
export async function describeResource(
  cfn: CloudFormationClient, stackId: string, logicalResourceId: string, abortSignal: AbortSignal,
): Promise<StackResource | undefined> {
  try {
    const output = await cfn.send(new DescribeStackResourceCommand({ StackName: stackId, LogicalResourceId: logicalResourceId }), { abortSignal });
    const detail = output.StackResourceDetail;
    return {
      resourceType: detail?.ResourceType ?? '',
      resourceStatus: detail?.ResourceStatus ?? '',
      physicalResourceId: detail?.PhysicalResourceId,
    };
  } catch (err) {
    if ((err as Error).name === 'ValidationError') {
      return undefined;
    }
    throw err;
  }
}

/** A stack's status (by StackId), or undefined when CloudFormation says it does not exist (ValidationError). */
export async function describeStackStatus(cfn: CloudFormationClient, stackId: string, abortSignal: AbortSignal): Promise<string | undefined> {
  try {
    const output = await cfn.send(new DescribeStacksCommand({ StackName: stackId }), { abortSignal });
    return output.Stacks?.[0]?.StackStatus ?? '';
  } catch (err) {
    if ((err as Error).name === 'ValidationError') {
      return undefined;
    }
    throw err;
  }
}
