/**
 * Shared pieces of the handler tests: CloudFormation-like events (every
 * property a string, as CloudFormation delivers them), a Lambda context, and
 * running one event to its answer.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { CfnResponse, ResponseEndpoint } from '../../support/response-endpoint';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/imds/0c5c6cd0-0000-11ef-0000-000000000000`;
export const PHYSICAL_ID = `ImdsAccountDefaults:${ACCOUNT}:${REGION}`;
/** The ARN of the function under test: the events' ServiceToken and the context's invokedFunctionArn. */
export const SERVICE_TOKEN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:imds-handler`;

type Props = Record<string, string>;
let counter = 0;

export const LOGICAL_ID = 'ImdsDefaults';

function base(endpoint: ResponseEndpoint) {
  const RequestId = `request-${++counter}`;
  return {
    ServiceToken: SERVICE_TOKEN,
    ResponseURL: endpoint.issue({ stackId: STACK_ID, requestId: RequestId, logicalResourceId: LOGICAL_ID, region: REGION }).url,
    StackId: STACK_ID,
    RequestId,
    LogicalResourceId: LOGICAL_ID,
    ResourceType: 'Custom::ImdsAccountDefaults',
  };
}

export function createEvent(endpoint: ResponseEndpoint, props: Props): CloudFormationCustomResourceEvent {
  return { ...base(endpoint), RequestType: 'Create', ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props } };
}

export function updateEvent(endpoint: ResponseEndpoint, props: Props, oldProps: Props, physicalId = PHYSICAL_ID): CloudFormationCustomResourceEvent {
  return {
    ...base(endpoint),
    RequestType: 'Update',
    PhysicalResourceId: physicalId,
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props },
    OldResourceProperties: { ServiceToken: SERVICE_TOKEN, ...oldProps },
  };
}

export function deleteEvent(endpoint: ResponseEndpoint, props: Props, physicalId = PHYSICAL_ID): CloudFormationCustomResourceEvent {
  return { ...base(endpoint), RequestType: 'Delete', PhysicalResourceId: physicalId, ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props } };
}

/** A Lambda context of the function SERVICE_TOKEN names, whose remaining time counts down from `timeoutMs`. */
export function lambdaContext(timeoutMs = 30_000): Context {
  const deadline = Date.now() + timeoutMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now(), invokedFunctionArn: SERVICE_TOKEN } as Context;
}

type EventListener = (event: CloudFormationCustomResourceEvent) => void;
let eventListener: EventListener | undefined;

/**
 * Sets what answerOf does with each event before the handler runs (one listener:
 * the latest): the mocks record it as CloudFormation shows it while waiting
 * (support/cloudformation.ts), so that the handler confirms it.
 */
export function onEventSent(listener: EventListener | undefined): void {
  eventListener = listener;
}

/** Captures console.log lines (the handler's logs) and keeps them off the test output. */
export function captureLogs(): string[] {
  const lines: string[] = [];
  jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  return lines;
}

type Handler = (event: CloudFormationCustomResourceEvent, context: Context) => Promise<void>;

/**
 * Runs one event through the handler and returns its answer: exactly one, which
 * CloudFormation would accept (the endpoint checks it), sent before the handler returned.
 */
export async function answerOf(
  handler: Handler, endpoint: ResponseEndpoint, event: CloudFormationCustomResourceEvent, timeoutMs = 30_000,
): Promise<CfnResponse> {
  eventListener?.(event);
  await handler(event, lambdaContext(timeoutMs));
  const answers = endpoint.answersFor(event.RequestId);
  expect(endpoint.refused).toEqual([]);
  expect(answers).toHaveLength(1);
  expect(answers[0].problems).toEqual([]);
  return answers[0].response!;
}

/** Delays up to this long are the handler's waits between attempts; longer ones are its deadlines. */
const QUICK_UP_TO_MS = 10_000;

/**
 * Records every delay the code under test asks setTimeout for, and runs the
 * waits between attempts (read-back polling, IAM propagation, response PUT
 * backoff: up to 10 s) at once; deadlines (the function's budget, the ownership
 * budget) keep their real time. The retry tests then take milliseconds and can
 * check the intervals themselves. Call in beforeAll; the returned array is
 * emptied with `delays.length = 0`.
 */
export function quickWaits(): number[] {
  const delays: number[] = [];
  const realSetTimeout = global.setTimeout;
  jest.spyOn(global, 'setTimeout').mockImplementation(((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    delays.push(ms ?? 0);
    return realSetTimeout(callback, ms !== undefined && ms <= QUICK_UP_TO_MS ? 0 : ms, ...args);
  }) as typeof setTimeout);
  return delays;
}
