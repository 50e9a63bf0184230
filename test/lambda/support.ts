/**
 * Shared pieces of the handler tests: CloudFormation-like events (every
 * property a string, as CloudFormation delivers them) and a Lambda context.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { ResponseReceiver } from '../support/response-receiver';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/imds/0c5c6cd0-0000-11ef-0000-000000000000`;
export const PHYSICAL_ID = `ImdsAccountDefaults:${ACCOUNT}:${REGION}`;
const SERVICE_TOKEN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:imds-handler`;

type Props = Record<string, string>;
let counter = 0;

function base(receiver: ResponseReceiver) {
  const RequestId = `request-${++counter}`;
  return {
    ServiceToken: SERVICE_TOKEN,
    ResponseURL: receiver.url(RequestId),
    StackId: STACK_ID,
    RequestId,
    LogicalResourceId: 'ImdsDefaults',
    ResourceType: 'Custom::ImdsAccountDefaults',
  };
}

export function createEvent(receiver: ResponseReceiver, props: Props): CloudFormationCustomResourceEvent {
  return { ...base(receiver), RequestType: 'Create', ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props } };
}

export function updateEvent(receiver: ResponseReceiver, props: Props, oldProps: Props, physicalId = PHYSICAL_ID): CloudFormationCustomResourceEvent {
  return {
    ...base(receiver),
    RequestType: 'Update',
    PhysicalResourceId: physicalId,
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props },
    OldResourceProperties: { ServiceToken: SERVICE_TOKEN, ...oldProps },
  };
}

export function deleteEvent(receiver: ResponseReceiver, props: Props, physicalId = PHYSICAL_ID): CloudFormationCustomResourceEvent {
  return { ...base(receiver), RequestType: 'Delete', PhysicalResourceId: physicalId, ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props } };
}

/** A Lambda context whose remaining time counts down from `timeoutMs`. */
export function lambdaContext(timeoutMs = 30_000): Context {
  const deadline = Date.now() + timeoutMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now() } as Context;
}

/** Captures console.log lines (the handler's logs) and keeps them off the test output. */
export function captureLogs(): string[] {
  const lines: string[] = [];
  jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  return lines;
}
