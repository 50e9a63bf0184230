/**
 * A local CloudFormation endpoint for DescribeStackResource and DescribeStacks
 * that speaks the AWS Query protocol (Version 2010-05-15), so tests can drive
 * the real `@aws-sdk/client-cloudformation` (via `endpoint` or
 * AWS_ENDPOINT_URL_CLOUDFORMATION) without reaching AWS. It answers from a
 * model of stacks and their resources that the tests set (putStack,
 * putResource, ...), as the handler's liveness check of a claim, its
 * confirmation of a custom resource event and the drift guard's settled-stack
 * check need. Listens on 127.0.0.1 only.
 *
 * Faithful to the CloudFormation API reference where it matters to the handler:
 * - form-encoded POST with Action and Version; XML answers in the
 *   CloudFormation namespace, indented as CloudFormation sends them, with the
 *   request id in ResponseMetadata;
 * - errors as `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code>…` with
 *   CloudFormation's codes and HTTP statuses (ValidationError 400, AccessDenied
 *   403, Throttling 400, InternalFailure 500, InvalidAction 400 for an action it
 *   does not know: "Could not find operation <Action> for version <Version>");
 * - SigV4 is checked (test/support/sigv4.ts) and answered as Query services do
 *   (MissingAuthenticationToken, InvalidClientTokenId, SignatureDoesNotMatch,
 *   all 403);
 * - a stack belongs to the Region of its StackId (an ARN); requests see only
 *   the stacks of the Region in their credential scope;
 * - StackName may be a name or a StackId: a name finds only a stack that is not
 *   DELETE_COMPLETE; a StackId finds deleted stacks too (CloudFormation keeps
 *   them describable by id for 90 days), with the resources and statuses they
 *   ended with;
 * - an unknown stack is ValidationError "Stack with id <StackName> does not
 *   exist"; a logical id the stack does not hold (never had, or no longer in its
 *   template) is ValidationError "Resource <LogicalResourceId> does not exist
 *   for stack <StackName>";
 * - the StackResourceDetail carries StackName, StackId, LogicalResourceId,
 *   PhysicalResourceId (when it has one), ResourceType, LastUpdatedTimestamp
 *   (the time of the last putResource or setResourceStatus), ResourceStatus and
 *   DriftInformation (NOT_CHECKED);
 * - DescribeStacks with a StackName (name or StackId, found as above; the same
 *   ValidationError "Stack with id <StackName> does not exist") answers
 *   `Stacks.member.1` with StackId, StackName, CreationTime (the first
 *   putStack), LastUpdatedTime (once an update began: the last change to an
 *   UPDATE_* status), DeletionTime (DELETE_COMPLETE), StackStatus,
 *   DisableRollback false, NotificationARNs, Tags (empty), RollbackConfiguration
 *   (empty), EnableTerminationProtection false and DriftInformation
 *   (NOT_CHECKED); without a StackName, every stack of the Region that is not
 *   DELETE_COMPLETE, in the order first put.
 *
 * Simplifications (said here so no test relies on them being real CloudFormation):
 * - one account; only DescribeStackResource and DescribeStacks are emulated;
 * - DescribeStacks has no Parameters, Outputs, Capabilities, Description or
 *   StackStatusReason, and no NextToken paging (one page, whatever the count);
 * - the model changes only when a test changes it: deleting a stack
 *   (setStackStatus DELETE_COMPLETE) does not change its resources' statuses,
 *   the test sets DELETE_COMPLETE or DELETE_SKIPPED (RETAIN) on each;
 * - no ResourceStatusReason, Description or Metadata;
 * - only POST is served (the SDK always POSTs).
 */
import * as http from 'http';
import { LocalEndpoint, Reply, TEST_ACCOUNT, TEST_ROLE_ARN, escapeXml } from './local-endpoint';
import { queryAuthFailure, queryErrorXml } from './query-protocol';
import { SigV4Error, verifySigV4 } from './sigv4';

export { TEST_CREDENTIALS, TEST_SESSION_TOKEN } from './sigv4';

export const CLOUDFORMATION_NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

/** One recorded request: the action, its Region, and its form parameters. */
export interface CfnRecordedRequest {
  readonly action: string;
  readonly region: string;
  readonly params: Record<string, string>;
  /** The CloudFormation error code of an injected fault this request was answered with. */
  readonly fault?: string;
}

/** A stack of the model. */
export interface ModelStack {
  /** Its ARN: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`. */
  readonly stackId: string;
  readonly stackName: string;
  readonly stackStatus: string;
}

/** A resource of a stack in the model. */
export interface ModelResource {
  readonly logicalResourceId: string;
  readonly physicalResourceId?: string;
  readonly resourceType: string;
  readonly resourceStatus: string;
}

const VERSION = '2010-05-15';

/** The actions emulated. */
const ACTIONS = ['DescribeStackResource', 'DescribeStacks'];

const STACK_STATUSES = [
  'CREATE_IN_PROGRESS', 'CREATE_FAILED', 'CREATE_COMPLETE', 'ROLLBACK_IN_PROGRESS', 'ROLLBACK_FAILED', 'ROLLBACK_COMPLETE',
  'DELETE_IN_PROGRESS', 'DELETE_FAILED', 'DELETE_COMPLETE', 'UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
  'UPDATE_COMPLETE', 'UPDATE_FAILED', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_FAILED',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE', 'REVIEW_IN_PROGRESS', 'IMPORT_IN_PROGRESS',
  'IMPORT_COMPLETE', 'IMPORT_ROLLBACK_IN_PROGRESS', 'IMPORT_ROLLBACK_FAILED', 'IMPORT_ROLLBACK_COMPLETE',
];

const RESOURCE_STATUSES = [
  'CREATE_IN_PROGRESS', 'CREATE_FAILED', 'CREATE_COMPLETE', 'DELETE_IN_PROGRESS', 'DELETE_FAILED', 'DELETE_COMPLETE',
  'DELETE_SKIPPED', 'UPDATE_IN_PROGRESS', 'UPDATE_FAILED', 'UPDATE_COMPLETE', 'IMPORT_FAILED', 'IMPORT_COMPLETE',
  'IMPORT_IN_PROGRESS', 'IMPORT_ROLLBACK_IN_PROGRESS', 'IMPORT_ROLLBACK_FAILED', 'IMPORT_ROLLBACK_COMPLETE',
  'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_FAILED', 'ROLLBACK_IN_PROGRESS',
  'ROLLBACK_COMPLETE', 'ROLLBACK_FAILED',
];

const ERROR_STATUS: Record<string, number> = {
  AccessDenied: 403,
  MissingAuthenticationToken: 403,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

/** The message text CloudFormation sends with each injectable code ({action} and {resource} filled in). */
const FAULT_MESSAGES: Record<string, string> = {
  AccessDenied: `User: ${TEST_ROLE_ARN} is not authorized to perform: cloudformation:{action} on resource: {resource} because no identity-based policy allows the cloudformation:{action} action`,
  Throttling: 'Rate exceeded',
  InternalFailure: 'An internal error occurred.',
};

const STACK_ARN = /^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):(\d{12}):stack\/([^/]+)\/[^/]+$/;

class CfnError extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
  }
}

interface StackEntry extends ModelStack {
  readonly region: string;
  readonly resources: Map<string, ModelResource & { readonly lastUpdated: Date }>;
  readonly creationTime: Date;
  readonly lastUpdatedTime?: Date;
  readonly deletionTime?: Date;
}

export class CloudFormationEmulator extends LocalEndpoint<CfnRecordedRequest> {
  /** Starts an emulator on 127.0.0.1 with a free port. */
  public static async start(): Promise<CloudFormationEmulator> {
    const emulator = new CloudFormationEmulator();
    await emulator.listen();
    return emulator;
  }

  /** The stacks by StackId, in the order they were first put. */
  private readonly stacks = new Map<string, StackEntry>();

  private constructor() {
    super();
  }

  /** Adds a stack, or changes its name and status (by StackId); its resources stay. */
  public putStack(stack: ModelStack): void {
    const arn = STACK_ARN.exec(stack.stackId);
    if (!arn) {
      throw new Error(`a StackId is an ARN arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>, not ${stack.stackId}`);
    }
    checkStatus('stack', stack.stackStatus, STACK_STATUSES);
    const previous = this.stacks.get(stack.stackId);
    const now = new Date();
    const changed = previous?.stackStatus !== stack.stackStatus;
    this.stacks.set(stack.stackId, {
      stackId: stack.stackId,
      stackName: stack.stackName,
      stackStatus: stack.stackStatus,
      region: arn[1],
      resources: previous?.resources ?? new Map(),
      creationTime: previous?.creationTime ?? now,
      lastUpdatedTime: changed && stack.stackStatus.startsWith('UPDATE_') ? now : previous?.lastUpdatedTime,
      deletionTime: stack.stackStatus === 'DELETE_COMPLETE' ? (changed ? now : previous?.deletionTime) : undefined,
    });
  }

  /** Changes a stack's status (e.g. DELETE_COMPLETE: describable by StackId only from then on). */
  public setStackStatus(stackId: string, stackStatus: string): void {
    this.putStack({ ...this.stack(stackId), stackStatus });
  }

  /** Adds a resource to a stack, or replaces it (by logical id). */
  public putResource(stackId: string, resource: ModelResource): void {
    checkStatus('resource', resource.resourceStatus, RESOURCE_STATUSES);
    this.stack(stackId).resources.set(resource.logicalResourceId, { ...resource, lastUpdated: new Date() });
  }

  /** Changes a resource's status (DELETE_COMPLETE after its Delete, DELETE_SKIPPED when retained, ...). */
  public setResourceStatus(stackId: string, logicalResourceId: string, resourceStatus: string): void {
    const resource = this.stack(stackId).resources.get(logicalResourceId);
    if (!resource) {
      throw new Error(`the stack ${stackId} has no resource ${logicalResourceId}`);
    }
    this.putResource(stackId, { ...resource, resourceStatus });
  }

  /** The status the model holds for a stack (undefined when not in the model). */
  public stackStatus(stackId: string): string | undefined {
    return this.stacks.get(stackId)?.stackStatus;
  }

  /** A resource as the model holds it (undefined when its stack or it is not in the model). */
  public resource(stackId: string, logicalResourceId: string): ModelResource | undefined {
    const found = this.stacks.get(stackId)?.resources.get(logicalResourceId);
    return found && {
      logicalResourceId: found.logicalResourceId,
      physicalResourceId: found.physicalResourceId,
      resourceType: found.resourceType,
      resourceStatus: found.resourceStatus,
    };
  }

  /** Takes a resource out of a stack (no longer in its template at all). */
  public removeResource(stackId: string, logicalResourceId: string): void {
    this.stack(stackId).resources.delete(logicalResourceId);
  }

  protected respond(req: http.IncomingMessage, body: string, requestId: string): Reply {
    try {
      return { status: 200, contentType: 'text/xml', body: this.handle(req, body, requestId) };
    } catch (err) {
      const e = err instanceof CfnError ? err : new CfnError('InternalFailure', String(err));
      const status = ERROR_STATUS[e.code] ?? 400;
      return { status, contentType: 'text/xml', body: errorXml(e.code, status >= 500 ? 'Receiver' : 'Sender', e.message, requestId) };
    }
  }

  private stack(stackId: string): StackEntry {
    const stack = this.stacks.get(stackId);
    if (!stack) {
      throw new Error(`no stack ${stackId} in the model: putStack it first`);
    }
    return stack;
  }

  private handle(req: http.IncomingMessage, body: string, requestId: string): string {
    if (req.method !== 'POST') {
      throw new CfnError('InvalidAction', `CloudFormation Query requests are POSTs here, got ${req.method}`);
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      throw new CfnError('ValidationError', 'expected a form-encoded body');
    }
    let region: string;
    try {
      region = verifySigV4(req, body, 'cloudformation');
    } catch (err) {
      throw err instanceof SigV4Error ? authError(err) : err;
    }
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    if (params.Version !== VERSION || !ACTIONS.includes(action)) {
      throw new CfnError('InvalidAction', `Could not find operation ${action} for version ${params.Version ?? 'NO_VERSION_SPECIFIED'}`);
    }
    const fault = this.record({ action, region, params });
    if (fault) {
      const stackName = params.StackName ?? '';
      const resource = STACK_ARN.test(stackName) ? stackName : `arn:aws:cloudformation:${region}:${TEST_ACCOUNT}:stack/${stackName}/*`;
      throw new CfnError(fault, (FAULT_MESSAGES[fault] ?? `injected ${fault}`).replace(/\{action\}/g, action).replace(/\{resource\}/g, resource));
    }
    return action === 'DescribeStacks' ? this.describeStacks(region, params, requestId) : this.describeStackResource(region, params, requestId);
  }

  /** A stack of the Region by name (not DELETE_COMPLETE) or by StackId (deleted ones too), or ValidationError. */
  private find(region: string, stackName: string): StackEntry {
    const inRegion = [...this.stacks.values()].filter((s) => s.region === region);
    const stack = STACK_ARN.test(stackName)
      ? inRegion.find((s) => s.stackId === stackName)
      : inRegion.filter((s) => s.stackName === stackName && s.stackStatus !== 'DELETE_COMPLETE').pop();
    if (!stack) {
      throw new CfnError('ValidationError', `Stack with id ${stackName} does not exist`);
    }
    return stack;
  }

  private describeStacks(region: string, params: Record<string, string>, requestId: string): string {
    if (params.NextToken !== undefined) {
      // One page is all this emulator answers: a NextToken it never gave out is refused as CloudFormation refuses a bad one.
      throw new CfnError('ValidationError', 'Invalid NextToken');
    }
    const stacks = params.StackName === undefined
      ? [...this.stacks.values()].filter((s) => s.region === region && s.stackStatus !== 'DELETE_COMPLETE')
      : [this.find(region, params.StackName)];
    const time = (name: string, date?: Date) => (date ? `\n        <${name}>${date.toISOString()}</${name}>` : '');
    const members = stacks.map((stack) => `
      <member>
        <StackId>${escapeXml(stack.stackId)}</StackId>
        <StackName>${escapeXml(stack.stackName)}</StackName>
        <CreationTime>${stack.creationTime.toISOString()}</CreationTime>${time('LastUpdatedTime', stack.lastUpdatedTime)}${time('DeletionTime', stack.deletionTime)}
        <StackStatus>${stack.stackStatus}</StackStatus>
        <DisableRollback>false</DisableRollback>
        <NotificationARNs/>
        <Tags/>
        <RollbackConfiguration/>
        <EnableTerminationProtection>false</EnableTerminationProtection>
        <DriftInformation>
          <StackDriftStatus>NOT_CHECKED</StackDriftStatus>
        </DriftInformation>
      </member>`).join('');
    return `<DescribeStacksResponse xmlns="${CLOUDFORMATION_NAMESPACE}">
  <DescribeStacksResult>
    <Stacks>${members}
    </Stacks>
  </DescribeStacksResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</DescribeStacksResponse>
`;
  }

  private describeStackResource(region: string, params: Record<string, string>, requestId: string): string {
    for (const [key, member] of [['StackName', 'stackName'], ['LogicalResourceId', 'logicalResourceId']]) {
      if (params[key] === undefined) {
        throw new CfnError('ValidationError', `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
      }
    }
    const { StackName: stackName, LogicalResourceId: logicalId } = params;
    const stack = this.find(region, stackName);
    const resource = stack.resources.get(logicalId);
    if (!resource) {
      throw new CfnError('ValidationError', `Resource ${logicalId} does not exist for stack ${stackName}`);
    }
    const physical = resource.physicalResourceId === undefined ? ''
      : `\n      <PhysicalResourceId>${escapeXml(resource.physicalResourceId)}</PhysicalResourceId>`;
    return `<DescribeStackResourceResponse xmlns="${CLOUDFORMATION_NAMESPACE}">
  <DescribeStackResourceResult>
    <StackResourceDetail>
      <StackId>${escapeXml(stack.stackId)}</StackId>
      <ResourceStatus>${resource.resourceStatus}</ResourceStatus>
      <DriftInformation>
        <StackResourceDriftStatus>NOT_CHECKED</StackResourceDriftStatus>
      </DriftInformation>
      <StackName>${escapeXml(stack.stackName)}</StackName>
      <LogicalResourceId>${escapeXml(resource.logicalResourceId)}</LogicalResourceId>${physical}
      <ResourceType>${escapeXml(resource.resourceType)}</ResourceType>
      <LastUpdatedTimestamp>${resource.lastUpdated.toISOString()}</LastUpdatedTimestamp>
    </StackResourceDetail>
  </DescribeStackResourceResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</DescribeStackResourceResponse>
`;
  }
}

function checkStatus(kind: string, status: string, allowed: readonly string[]): void {
  if (!allowed.includes(status)) {
    throw new Error(`${status} is not a CloudFormation ${kind} status (${allowed.join(', ')})`);
  }
}

/** Query services answer signature problems with these codes, all HTTP 403. */
function authError(err: SigV4Error): CfnError {
  const { code, message } = queryAuthFailure(err);
  return new CfnError(code, message);
}

function errorXml(code: string, type: string, message: string, requestId: string): string {
  return queryErrorXml(CLOUDFORMATION_NAMESPACE, code, type, message, requestId);
}
