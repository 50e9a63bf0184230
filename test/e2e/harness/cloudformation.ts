/**
 * A CloudFormation stand-in for one stack holding the custom resource: it keeps
 * what CloudFormation keeps (the deployed template, resolved properties,
 * physical id, stack status), sends the events CloudFormation would send, runs
 * the function for each (lambda.ts), waits for the answer at the ResponseURL
 * (response-endpoint.ts) and checks the answer and the invocation as
 * CloudFormation and Lambda would. One method per event:
 *
 * - create(template, parameters)  Create
 * - update(template, parameters)  Update: OldResourceProperties and the
 *   PhysicalResourceId from before; refused, as CloudFormation refuses it, if the
 *   ServiceToken changes; not sent by CloudFormation if nothing changed
 * - rollback()                    after a failed Update: the Update back, with old
 *   and new properties swapped, run by the old template's function
 * - delete()                      Delete (also the rollback of a failed Create,
 *   with the physical id of the failed answer); no event at all when the
 *   resource's DeletionPolicy is Retain
 *
 * Simplifications: one resource (the custom resource); the other resources are
 * assumed created (their names are made up); it is not documented whether
 * CloudFormation sends the rollback Delete of a failed Create for a resource
 * with DeletionPolicy Retain: here it follows the DeletionPolicy, and the
 * handler is safe either way (a failed Create puts back what it changed).
 */
import * as crypto from 'crypto';
import { isDeepStrictEqual } from 'util';
import { Invocation, invoke } from './lambda';
import { SdkName, sdkRoot } from './runtime';
import {
  ACCOUNT,
  DeployContext,
  StackTemplate,
  deletionPolicy,
  functionConfig,
  parameterValues,
  resourceProperties,
} from './template';
import { TimingRecorder } from './timings';
import { Ec2Emulator, RecordedRequest } from '../../support/ec2-emulator';
import { CfnResponse, ResponseEndpoint } from '../../support/response-endpoint';

/** The slowest a handler may be against the local endpoint, injected faults aside. */
export const SLOWEST_EVENT_MS = 2_000;

export type StackStatus =
  | 'NEW' | 'CREATE_COMPLETE' | 'CREATE_FAILED' | 'ROLLBACK_COMPLETE'
  | 'UPDATE_COMPLETE' | 'UPDATE_FAILED' | 'UPDATE_ROLLBACK_COMPLETE' | 'UPDATE_ROLLBACK_FAILED'
  | 'DELETE_COMPLETE' | 'DELETE_FAILED';

/** One step: the event sent (if any), the answer, the invocation and the EC2 calls it made. */
export interface StepResult {
  readonly step: string;
  /** The event CloudFormation sent; undefined when it sends none (DeletionPolicy Retain). */
  readonly event?: Record<string, any>;
  readonly answer?: CfnResponse;
  readonly invocation?: Invocation;
  /** The EC2 requests made during this step, in order. */
  readonly ec2Requests: readonly RecordedRequest[];
  /** The EC2 actions made during this step, in order. */
  readonly ec2Actions: readonly string[];
  /** Whether a fault was injected into this step (EC2 or the ResponseURL). */
  readonly faulted: boolean;
}

export interface StackOptions {
  readonly scenario: string;
  readonly ec2: Ec2Emulator;
  readonly responses: ResponseEndpoint;
  readonly caFile: string;
  readonly timings: TimingRecorder;
  readonly region: string;
  readonly sdk: SdkName;
  readonly stackName?: string;
}

interface Deployed {
  readonly template: StackTemplate;
  readonly ctx: DeployContext;
  readonly properties: Record<string, any>;
  readonly physicalId: string;
}

export class CloudFormationStack {
  public status: StackStatus = 'NEW';
  private deployed?: Deployed;
  private failedUpdate?: { readonly template: StackTemplate; readonly ctx: DeployContext; readonly properties: Record<string, any> };
  private readonly stackName: string;
  private readonly stackId: string;

  constructor(private readonly options: StackOptions) {
    this.stackName = options.stackName ?? 'ImdsE2e';
    this.stackId = `arn:aws:cloudformation:${options.region}:${ACCOUNT}:stack/${this.stackName}/${crypto.randomUUID()}`;
  }

  /** The physical id CloudFormation holds for the resource. */
  public get physicalResourceId(): string | undefined {
    return this.deployed?.physicalId;
  }

  public async create(template: StackTemplate, parameters: Record<string, string> = {}): Promise<StepResult> {
    this.expectStatus('create', ['NEW']);
    const ctx = this.context(template, parameters);
    const properties = resourceProperties(template, ctx);
    const result = await this.send('Create', template, ctx, { ResourceProperties: properties });
    const answer = result.answer!;
    this.deployed = { template, ctx, properties, physicalId: answer.PhysicalResourceId };
    this.status = answer.Status === 'SUCCESS' ? 'CREATE_COMPLETE' : 'CREATE_FAILED';
    return result;
  }

  public async update(template: StackTemplate, parameters: Record<string, string> = {}): Promise<StepResult> {
    this.expectStatus('update', ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE']);
    const deployed = this.deployed!;
    if (template.resourceLogicalId !== deployed.template.resourceLogicalId) {
      throw new Error(`the custom resource's logical id changed from ${deployed.template.resourceLogicalId} to ${template.resourceLogicalId}: CloudFormation would replace it (create the new, delete the old)`);
    }
    const ctx = this.context(template, parameters);
    const properties = resourceProperties(template, ctx);
    if (properties.ServiceToken !== deployed.properties.ServiceToken) {
      throw new Error(`Modifying service token is not allowed. (${deployed.properties.ServiceToken} -> ${properties.ServiceToken}): CloudFormation fails such an update`);
    }
    if (isDeepStrictEqual(properties, deployed.properties)) {
      throw new Error('the custom resource\'s properties did not change: CloudFormation would send no Update');
    }
    const result = await this.send('Update', template, ctx, {
      PhysicalResourceId: deployed.physicalId,
      ResourceProperties: properties,
      OldResourceProperties: deployed.properties,
    });
    if (result.answer!.Status === 'SUCCESS') {
      this.deployed = { template, ctx, properties, physicalId: deployed.physicalId };
      this.status = 'UPDATE_COMPLETE';
    } else {
      this.failedUpdate = { template, ctx, properties };
      this.status = 'UPDATE_FAILED';
    }
    return result;
  }

  /** The rollback Update CloudFormation sends after a failed Update. */
  public async rollback(): Promise<StepResult> {
    this.expectStatus('roll back', ['UPDATE_FAILED']);
    const deployed = this.deployed!;
    const result = await this.send('Update', deployed.template, deployed.ctx, {
      PhysicalResourceId: deployed.physicalId,
      ResourceProperties: deployed.properties,
      OldResourceProperties: this.failedUpdate!.properties,
    }, 'Rollback');
    this.failedUpdate = undefined;
    this.status = result.answer!.Status === 'SUCCESS' ? 'UPDATE_ROLLBACK_COMPLETE' : 'UPDATE_ROLLBACK_FAILED';
    return result;
  }

  /** Deletes the stack (or rolls back a failed Create). */
  public async delete(): Promise<StepResult> {
    this.expectStatus('delete', ['CREATE_COMPLETE', 'CREATE_FAILED', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'DELETE_FAILED']);
    const deployed = this.deployed!;
    const step = this.status === 'CREATE_FAILED' ? 'Delete (rollback of the failed Create)' : 'Delete';
    if (deletionPolicy(deployed.template) === 'Retain') {
      this.status = 'DELETE_COMPLETE';
      this.options.timings.add({ scenario: this.options.scenario, step: `${step}: retained, no event`, sdk: this.options.sdk });
      return { step, ec2Requests: [], ec2Actions: [], faulted: false };
    }
    const result = await this.send('Delete', deployed.template, deployed.ctx, {
      PhysicalResourceId: deployed.physicalId,
      ResourceProperties: deployed.properties,
    }, step);
    this.status = result.answer!.Status === 'SUCCESS' ? (this.status === 'CREATE_FAILED' ? 'ROLLBACK_COMPLETE' : 'DELETE_COMPLETE') : 'DELETE_FAILED';
    return result;
  }

  private context(template: StackTemplate, parameters: Record<string, string>): DeployContext {
    return { stackName: this.stackName, stackId: this.stackId, region: this.options.region, parameters: parameterValues(template, parameters) };
  }

  private expectStatus(operation: string, allowed: StackStatus[]): void {
    if (!allowed.includes(this.status)) {
      throw new Error(`cannot ${operation} a stack in ${this.status} (allowed in ${allowed.join(', ')})`);
    }
  }

  /** Sends one event, runs the function, and checks what came back. */
  private async send(requestType: 'Create' | 'Update' | 'Delete', template: StackTemplate, ctx: DeployContext, fields: Record<string, any>, step: string = requestType): Promise<StepResult> {
    const { ec2, responses, region, sdk } = this.options;
    const fn = functionConfig(template, ctx);
    const requestId = crypto.randomUUID();
    const { url, signature } = responses.issue({ stackId: this.stackId, requestId, logicalResourceId: template.resourceLogicalId, region });
    const event = {
      RequestType: requestType,
      ServiceToken: fn.arn,
      ResponseURL: url,
      StackId: this.stackId,
      RequestId: requestId,
      LogicalResourceId: template.resourceLogicalId,
      ResourceType: template.template.Resources[template.resourceLogicalId].Type,
      ...fields,
    };

    const firstRequest = ec2.requests.length;
    const faultsBefore = ec2.faultsServed + ec2.requestsHeld + responses.faultsServed;
    const invocation = await invoke({ fn, event, requestId, region, sdk, ec2Endpoint: ec2.endpoint, caFile: this.options.caFile });
    const ec2Requests = ec2.requests.slice(firstRequest);
    const faulted = ec2.faultsServed + ec2.requestsHeld + responses.faultsServed > faultsBefore;
    const answers = responses.answersFor(requestId);

    const fail = (problem: string): never => {
      throw new Error(`${step}: ${problem}\n--- invocation: ${invocation.outcome}${invocation.error ? ` (${invocation.error})` : ''}\n--- function logs ---\n${invocation.logs}`);
    };
    // What Lambda and CloudFormation would see.
    if (invocation.outcome === 'init-failed') {
      fail('the function could not be loaded');
    }
    if (invocation.logs.includes('e2e-bootstrap: blocked a connection')) {
      fail('the function tried to reach a host other than 127.0.0.1');
    }
    if (answers.length === 0) {
      fail(`no answer reached the ResponseURL (the stack would wait an hour)${responses.refused.length ? `; refused PUTs: ${responses.refused.join('; ')}` : ''}`);
    }
    if (answers.length > 1) {
      fail(`${answers.length} answers reached the ResponseURL; the handler must answer exactly once`);
    }
    const [received] = answers;
    if (received.problems.length > 0) {
      fail(`CloudFormation would reject the answer: ${received.problems.join('; ')}`);
    }
    const timeoutMs = fn.timeoutSeconds * 1000;
    if (received.receivedAt - invocation.invokedAt! > timeoutMs) {
      fail(`the answer arrived ${Math.round(received.receivedAt - invocation.invokedAt!)} ms after the invocation began, past the function's Timeout of ${timeoutMs} ms`);
    }
    if (invocation.outcome !== 'returned') {
      fail(`the handler did not settle by itself: ${invocation.outcome}`);
    }
    if (!invocation.clientEc2 || !invocation.clientEc2.path.startsWith(sdkRoot(sdk).nodePath)) {
      fail(`index.js did not load @aws-sdk/client-ec2 from NODE_PATH: ${JSON.stringify(invocation.clientEc2)}`);
    }
    const query = url.slice(url.indexOf('?') + 1);
    if (invocation.logs.includes(signature) || invocation.logs.includes(query) || invocation.logs.includes(url)) {
      fail('the logs hold the ResponseURL\'s signature');
    }
    const answer = received.response!;
    if (answer.Status === 'FAILED' && !answer.Reason) {
      fail('a FAILED answer without a Reason');
    }
    if (answer.Status === 'SUCCESS' && answer.Data && Object.values(answer.Data).some((v) => typeof v !== 'string')) {
      fail(`Data values must be strings, as Fn::GetAtt returns them: ${JSON.stringify(answer.Data)}`);
    }
    if (requestType !== 'Create' && answer.PhysicalResourceId !== fields.PhysicalResourceId) {
      fail(`the physical id changed from ${fields.PhysicalResourceId} to ${answer.PhysicalResourceId}: CloudFormation would then delete the "old" resource`);
    }
    if (!faulted && invocation.handlerMs! > SLOWEST_EVENT_MS) {
      fail(`the handler took ${Math.round(invocation.handlerMs!)} ms against the local endpoint without injected faults (limit ${SLOWEST_EVENT_MS} ms)`);
    }

    this.options.timings.add({
      scenario: this.options.scenario,
      step,
      sdk,
      coldStartMs: invocation.coldStartMs,
      initMs: invocation.initMs,
      handlerMs: invocation.handlerMs,
      answerMs: received.receivedAt - invocation.invokedAt!,
      status: answer.Status,
      faulted,
      node: invocation.nodeVersion,
      clientEc2: invocation.clientEc2?.version,
    });
    return { step, event, answer, invocation, ec2Requests, ec2Actions: ec2Requests.map((r) => r.action), faulted };
  }
}
