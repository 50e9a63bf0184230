/**
 * CloudFormation's view of the stacks, for the handler tests that mock the
 * CloudFormation client with aws-sdk-client-mock: what DescribeStackResource and
 * DescribeStacks answer. Every custom resource event a test sends through
 * `answerOf` (support/index.ts) is first recorded here as CloudFormation shows
 * its resource while it waits for the answer (the event's ResourceType, the
 * matching *_IN_PROGRESS status, the event's physical id; the stack in
 * `eventStackStatus` or the matching *_IN_PROGRESS status), so that the
 * handlers confirm it (lambda/shared/confirm.ts). A test of a forged or late
 * event sets `confirmEvents` to false and records what CloudFormation shows itself.
 *
 * Simplified: resources are keyed by the StackId the event or claim names (no
 * lookup by stack name), and a stack without a recorded status is UPDATE_COMPLETE.
 */
import { DescribeStackResourceCommand, DescribeStackResourceCommandInput, DescribeStacksCommand, DescribeStacksCommandInput } from '@aws-sdk/client-cloudformation';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { AwsStub } from 'aws-sdk-client-mock';
import { onEventSent } from '.';
import { RESOURCE_TYPE } from '../../../src/private/properties';

/** A resource as DescribeStackResource shows it. */
export interface ResourceView {
  readonly type: string;
  readonly status: string;
  readonly physicalId?: string;
}

/** What CloudFormation holds. */
export interface CloudFormationView {
  /**
   * The resources by `${StackId}|${LogicalResourceId}`: a status (a resource of
   * type Custom::ImdsAccountDefaults with a physical id) or the whole view.
   */
  readonly resources: Map<string, string | ResourceView>;
  /** The stacks' statuses by StackId; DescribeStacks fails with ValidationError for a stack set to null. */
  readonly stacks: Map<string, string | null>;
  /** Whether each event sent through answerOf is recorded as CloudFormation shows it while waiting (true unless a test forges). */
  confirmEvents: boolean;
  /** The stack's status recorded with each event (a rollback: ROLLBACK_IN_PROGRESS); undefined: the RequestType's *_IN_PROGRESS. */
  eventStackStatus?: string;
}

export function newCloudFormationView(): CloudFormationView {
  return { resources: new Map(), stacks: new Map(), confirmEvents: true };
}

/** The statuses CloudFormation shows while it waits for each request type's answer. */
export const IN_PROGRESS: Record<string, string> = { Create: 'CREATE_IN_PROGRESS', Update: 'UPDATE_IN_PROGRESS', Delete: 'DELETE_IN_PROGRESS' };

/** An AWS SDK service error as the client surfaces it. */
function validationError(message: string): Error {
  return Object.assign(new Error(message), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
}

/** Records the event's resource and stack as CloudFormation shows them while it waits for the answer. */
export function recordEvent(view: CloudFormationView, event: CloudFormationCustomResourceEvent): void {
  view.resources.set(`${event.StackId}|${event.LogicalResourceId}`, {
    type: event.ResourceType,
    status: IN_PROGRESS[event.RequestType],
    physicalId: event.RequestType === 'Create' ? undefined : event.PhysicalResourceId,
  });
  view.stacks.set(event.StackId, view.eventStackStatus ?? IN_PROGRESS[event.RequestType]);
}

/** The DescribeStackResource and DescribeStacks emulations over `view`. */
export function cloudFormationFakes(view: CloudFormationView) {
  return {
    describeStackResource: (input: DescribeStackResourceCommandInput) => {
      const found = view.resources.get(`${input.StackName}|${input.LogicalResourceId}`);
      if (found === undefined) {
        throw validationError(`Resource ${input.LogicalResourceId} does not exist for stack ${input.StackName}`);
      }
      const resource: ResourceView = typeof found === 'string' ? { type: RESOURCE_TYPE, status: found, physicalId: 'some-physical-id' } : found;
      return {
        StackResourceDetail: {
          StackId: input.StackName,
          LogicalResourceId: input.LogicalResourceId,
          ResourceType: resource.type,
          ResourceStatus: resource.status,
          PhysicalResourceId: resource.physicalId,
        },
      };
    },
    describeStacks: (input: DescribeStacksCommandInput) => {
      const status = view.stacks.get(input.StackName!);
      if (status === null) {
        throw validationError(`Stack with id ${input.StackName} does not exist`);
      }
      return { Stacks: [{ StackId: input.StackName, StackName: input.StackName!.split('/')[1], StackStatus: status ?? 'UPDATE_COMPLETE', CreationTime: new Date(0) }] };
    },
  };
}

/** Gives the mock the emulations over `view`, and records every event sent through answerOf in it (unless confirmEvents is false). */
export function emulateCloudFormation(cfn: AwsStub<any, any, any>, view: CloudFormationView): void {
  const fakes = cloudFormationFakes(view);
  cfn.on(DescribeStackResourceCommand).callsFake(fakes.describeStackResource);
  cfn.on(DescribeStacksCommand).callsFake(fakes.describeStacks);
  onEventSent((event) => {
    if (view.confirmEvents) {
      recordEvent(view, event);
    }
  });
}
