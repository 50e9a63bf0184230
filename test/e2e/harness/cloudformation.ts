/**
 * A CloudFormation stand-in for the stacks of one scenario: each
 * CloudFormationStack keeps what CloudFormation keeps (the deployed template,
 * every custom resource's resolved properties, physical id and status, the
 * stack status), sends the events CloudFormation would send in the order it
 * sends them, runs the function for each (lambda.ts), waits for the answer at
 * the ResponseURL (response-endpoint.ts) and checks the answer and the
 * invocation as CloudFormation and Lambda would.
 *
 * Every status change is written into the account's CloudFormationEmulator as
 * it happens, so a handler that calls DescribeStackResource on any stack of the
 * scenario sees what CloudFormation would show at that moment: the resource
 * being created is CREATE_IN_PROGRESS, the stack of a rename's cleanup Delete is
 * UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, a deleted stack stays describable by its
 * StackId with its retained resource DELETE_SKIPPED, a resource no longer in its
 * stack's template does not exist.
 *
 * Operations (each returns the events it sent, in order; see OperationResult):
 * - create(template, parameters)  CREATE_IN_PROGRESS; a Create per custom
 *   resource; CREATE_COMPLETE, or ROLLBACK_IN_PROGRESS after a failure (then
 *   rollback() or delete() sends the rollback Deletes: ROLLBACK_COMPLETE)
 * - update(template, parameters)  UPDATE_IN_PROGRESS; a Create for a custom
 *   resource new to the template (a new logical id: a rename or a move in),
 *   an Update for one whose properties changed (refused, as CloudFormation
 *   refuses it, if its ServiceToken changes), none for one unchanged; then
 *   UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, a Delete for every custom resource no
 *   longer in the template (the old logical id of a rename, a move out; none for
 *   one whose DeletionPolicy is Retain: DELETE_SKIPPED), UPDATE_COMPLETE. After a
 *   failure (of ours, or `anotherResourceFails`): UPDATE_ROLLBACK_IN_PROGRESS,
 *   and rollback() sends the Updates back (old and new properties swapped, run
 *   by the old template's function; with `functionsLast`, by the function the
 *   failed update left), then in UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS
 *   the Deletes of what the failed update created, UPDATE_ROLLBACK_COMPLETE
 * - delete({ retainResources })  DELETE_IN_PROGRESS; a Delete per custom
 *   resource (none for DeletionPolicy Retain or a resource in retainResources,
 *   which CloudFormation accepts only for a stack in DELETE_FAILED:
 *   DELETE_SKIPPED); DELETE_COMPLETE or DELETE_FAILED. A stack in
 *   ROLLBACK_FAILED (a rollback Delete failed) can only be deleted: the failed
 *   Deletes are sent again
 *
 * What CloudFormation shows while it waits for an answer (each StepResult's
 * `shown`, read from the emulator as the function is invoked; what a handler's
 * DescribeStacks and DescribeStackResource see): the resource CREATE_IN_PROGRESS
 * (no physical id yet), UPDATE_IN_PROGRESS (also for a rollback Update) or
 * DELETE_IN_PROGRESS with its physical id (a failed Create's marker physical id
 * is recorded, so its rollback Delete shows it); the stack CREATE_IN_PROGRESS,
 * UPDATE_IN_PROGRESS, UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (cleanup Deletes),
 * ROLLBACK_IN_PROGRESS (the Deletes after a failed Create),
 * UPDATE_ROLLBACK_IN_PROGRESS (rollback Updates),
 * UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS (the Deletes of what a failed
 * update created) or DELETE_IN_PROGRESS.
 *
 * Outside CloudFormation events, as EventBridge and Lambda would (see FunctionRun):
 * - invokeFunction(event)  an invocation of a function of the deployed template
 *   with any event (a forged one, say), checked as Lambda would;
 * - forgeEvent(requestType, fields)  a custom resource event CloudFormation did
 *   not send: someone allowed lambda:InvokeFunction invokes the function
 *   directly with a CloudFormation-shaped event (by default the real StackId,
 *   LogicalResourceId, PhysicalResourceId and properties of the stack's
 *   resource; `fields` replaces any of them) whose ResponseURL is one of the
 *   local endpoint's, and listens there for the answer (ForgedRun.answer);
 * - deliverLate(step)  the event of an earlier step delivered again, after
 *   CloudFormation stopped waiting for it (a throttled asynchronous event that
 *   Lambda runs late, or runs twice): the same event, same RequestId and
 *   ResponseURL, run by the function as deployed now; any answer is accepted by
 *   S3 and ignored by CloudFormation (ForgedRun.answers);
 * - schedule()  the "Scheduled Event" of the template's schedule rule, delivered
 *   to the function it targets;
 * - putEvent(event)  an event on the default bus (a CloudTrail event, say):
 *   every enabled rule of the template whose EventPattern matches it invokes its
 *   function targets.
 * A function run outside CloudFormation must not PUT to any ResponseURL. Lambda
 * runs EventBridge's invocations asynchronously: a failed one is retried as the
 * function's EventInvokeConfig says (FunctionRun.retries).
 *
 * Custom resources: any Custom::<Name> whose ServiceToken is a function of the
 * template (template.ts), each with its ServiceToken's function and its own
 * ServiceTimeout (an answer later than it fails the step, as CloudFormation
 * stops waiting then). Every Fn::GetAtt of a custom resource the template holds
 * (synthesize() outputs every attribute of the library's constructs) must name
 * a key of the Data of its last successful Create or Update, also when an
 * update sends it no event: CloudFormation fails the stack otherwise (here the
 * step, or the update, throws).
 *
 * Simplifications: the other resources of a template (function, role, log
 * group, rules, permissions) are assumed to deploy (their names are made up)
 * and are not entered in the emulator's model; create and update check only
 * that their references resolve and that every rule may invoke the function it
 * targets (template.ts checkReferences, rules); custom resources are processed one at a time in
 * template order (CloudFormation runs independent ones in parallel) and the
 * first failure stops the rest; a Delete that fails in a cleanup phase is
 * recorded DELETE_FAILED and the stack still completes, as CloudFormation does;
 * it is not documented whether CloudFormation sends the rollback Delete of a
 * failed Create for a resource with DeletionPolicy Retain: here it follows the
 * DeletionPolicy. DeletionPolicy RetainExceptOnCreate retains, except in the
 * rollback of the operation that created the resource (a failed Create, or the
 * cleanup of a failed Update that added it), as the CloudFormation user guide
 * describes it.
 */
import * as crypto from 'crypto';
import { isDeepStrictEqual } from 'util';
import { matchesPattern, scheduledEvent } from './eventbridge';
import { FunctionConfig, Invocation, Outcome, executionRoleKey, executionRoleSession, invoke } from './lambda';
import { SdkName, sdkRoot } from './runtime';
import {
  CUSTOM_RESOURCE_TYPE,
  DeployContext,
  RuleConfig,
  StackTemplate,
  asyncRetryAttempts,
  attributesRead,
  checkReferences,
  deletionPolicy,
  functionConfig,
  parameterValues,
  resourceProperties,
  rules,
  serviceTimeoutSeconds,
  withFunctionsOf,
} from './template';
import { TimingRecorder } from './timings';
import { AutoScalingEmulator } from '../../support/autoscaling-emulator';
import { CfnRecordedRequest, CloudFormationEmulator } from '../../support/cloudformation-emulator';
import { CloudWatchEmulator } from '../../support/cloudwatch-emulator';
import { Ec2Emulator, RecordedRequest } from '../../support/ec2-emulator';
import { DeliveredEvent, EventBridgeEmulator, EventBridgeRecordedRequest } from '../../support/eventbridge-emulator';
import { findingsSchemaErrors } from '../../support/findings-schema';
import { CfnResponse, ReceivedAnswer, ResponseEndpoint } from '../../support/response-endpoint';
import { SsmEmulator, SsmRecordedRequest } from '../../support/ssm-emulator';

/** The slowest a handler may be against the local endpoints, injected faults aside (StackOptions.slowestEventMs overrides it). */
export const SLOWEST_EVENT_MS = 2_000;

/** A request the local CloudWatch endpoint recorded. */
export type CloudWatchRequest = CloudWatchEmulator['requests'][number];
/** A request the local Auto Scaling endpoint recorded. */
export type AutoScalingRequest = AutoScalingEmulator['requests'][number];

export type StackStatus =
  | 'NEW'
  | 'CREATE_IN_PROGRESS' | 'CREATE_COMPLETE' | 'ROLLBACK_IN_PROGRESS' | 'ROLLBACK_COMPLETE' | 'ROLLBACK_FAILED'
  | 'UPDATE_IN_PROGRESS' | 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' | 'UPDATE_COMPLETE'
  | 'UPDATE_ROLLBACK_IN_PROGRESS' | 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS' | 'UPDATE_ROLLBACK_COMPLETE' | 'UPDATE_ROLLBACK_FAILED'
  | 'DELETE_IN_PROGRESS' | 'DELETE_COMPLETE' | 'DELETE_FAILED';

export type ResourceStatus =
  | 'CREATE_IN_PROGRESS' | 'CREATE_COMPLETE' | 'CREATE_FAILED'
  | 'UPDATE_IN_PROGRESS' | 'UPDATE_COMPLETE' | 'UPDATE_FAILED'
  | 'DELETE_IN_PROGRESS' | 'DELETE_COMPLETE' | 'DELETE_FAILED' | 'DELETE_SKIPPED';

/** The emulators of one account: the state EC2, SSM, CloudFormation, CloudWatch and Auto Scaling keep for it. */
export interface AccountEndpoints {
  readonly id: string;
  readonly ec2: Ec2Emulator;
  readonly ssm: SsmEmulator;
  readonly cfn: CloudFormationEmulator;
  readonly cloudwatch: CloudWatchEmulator;
  readonly autoscaling: AutoScalingEmulator;
}

/**
 * What CloudFormation showed about a resource and its stack at one moment:
 * DescribeStacks' StackStatus, DescribeStackResource's ResourceType,
 * ResourceStatus and PhysicalResourceId (undefined fields: CloudFormation would
 * answer ValidationError "does not exist", or gives no physical id yet).
 */
export interface CloudFormationView {
  readonly stackStatus?: string;
  readonly resourceType?: string;
  readonly resourceStatus?: string;
  readonly physicalResourceId?: string;
}

/** One event: the event sent (if any), the answer, the invocation and the calls it made. */
export interface StepResult {
  readonly step: string;
  readonly requestType?: 'Create' | 'Update' | 'Delete';
  readonly logicalResourceId?: string;
  /** The event CloudFormation sent; undefined when it sends none (DeletionPolicy Retain). */
  readonly event?: Record<string, any>;
  readonly answer?: CfnResponse;
  readonly invocation?: Invocation;
  /** The EC2 requests made during this step, in order. */
  readonly ec2Requests: readonly RecordedRequest[];
  /** The EC2 actions made during this step, in order. */
  readonly ec2Actions: readonly string[];
  /** The SSM requests made during this step, in order. */
  readonly ssmRequests: readonly SsmRecordedRequest[];
  readonly ssmActions: readonly string[];
  /** The CloudFormation API requests made during this step, in order. */
  readonly cfnRequests: readonly CfnRecordedRequest[];
  readonly cfnActions: readonly string[];
  /** The CloudWatch requests made during this step, in order. */
  readonly cloudwatchRequests: readonly CloudWatchRequest[];
  readonly cloudwatchActions: readonly string[];
  /** The Auto Scaling requests made during this step, in order. */
  readonly autoscalingRequests: readonly AutoScalingRequest[];
  readonly autoscalingActions: readonly string[];
  /** The EventBridge requests made during this step (to any account's or Region's bus), in order. */
  readonly eventbridgeRequests: readonly EventBridgeRecordedRequest[];
  readonly eventbridgeActions: readonly string[];
  /** The events EventBridge delivered during this step, each with its bus's ARN, in order (`events[i].event.detail` is the finding). */
  readonly events: ReadonlyArray<{ readonly bus: string; readonly event: DeliveredEvent }>;
  /** The EC2 requests of this step counted by action, e.g. `{ DescribeInstances: 3, ModifyInstanceMetadataOptions: 100 }` (for the bench). */
  readonly ec2Calls: Readonly<Record<string, number>>;
  /** Whether a fault was injected into this step (any endpoint of the account, or the ResponseURL). */
  readonly faulted: boolean;
  /** What CloudFormation showed about the event's stack and resource when the function was invoked. */
  readonly shown?: CloudFormationView;
}

/**
 * One invocation outside CloudFormation (invokeFunction, schedule, putEvent):
 * the event, the invocation (outcome, logs, handlerMs) and the calls it made.
 */
export interface FunctionRun extends StepResult {
  readonly event: Record<string, any>;
  readonly invocation: Invocation;
  /** The function invoked. */
  readonly functionLogicalId: string;
  /** The rule that delivered the event (schedule, putEvent). */
  readonly ruleLogicalId?: string;
  /**
   * The invocations Lambda retried after this one failed (schedule and putEvent,
   * which Lambda runs asynchronously): up to the function's EventInvokeConfig
   * MaximumRetryAttempts (Lambda's default 2), run at once here where Lambda
   * waits about a minute, then two.
   */
  readonly retries?: readonly FunctionRun[];
}

/**
 * A custom resource event run outside CloudFormation's wait (forgeEvent,
 * deliverLate): the invocation, the calls it made, and what reached the event's
 * ResponseURL.
 */
export interface ForgedRun extends FunctionRun {
  /** The answers PUT to the event's ResponseURL during this run, in order. */
  readonly answers: readonly ReceivedAnswer[];
  /** The answer, when exactly one arrived. */
  readonly answer?: CfnResponse;
  /** What CloudFormation showed about the event's StackId and LogicalResourceId when the function was invoked. */
  readonly shown: CloudFormationView;
}

export interface ForgeEventOptions {
  /** The custom resource whose function is invoked and whose fields are the defaults. @default the deployed template's only custom resource */
  readonly resourceType?: string;
  /** @default ['returned'] */
  readonly outcomes?: readonly Outcome[];
  /** @default `Forged <RequestType>` */
  readonly label?: string;
}

/** What putEvent did: the rules whose pattern matched (in template order), and each function invocation they made. */
export interface EventDelivery {
  readonly matched: readonly string[];
  readonly runs: readonly FunctionRun[];
}

export interface InvokeFunctionOptions {
  /** The function to invoke. @default the function of the custom resource of `resourceType`, or the template's only function */
  readonly functionLogicalId?: string;
  /** Invoke the function behind the custom resource of this type (e.g. Custom::ImdsInstanceUpgrade). */
  readonly resourceType?: string;
  /** The outcomes accepted; any other fails the call. @default ['returned'] */
  readonly outcomes?: readonly Outcome[];
  /** The step's label in the timings. @default `Invoke <function logical id>` */
  readonly label?: string;
}

export interface ScheduleOptions {
  /** The rule. @default the template's only rule with a ScheduleExpression */
  readonly ruleLogicalId?: string;
  /** The event's time. @default now */
  readonly time?: Date;
  /** @default ['returned'] */
  readonly outcomes?: readonly Outcome[];
}

/**
 * What an operation did: every event it sent (`steps`, in order) and the stack
 * status it ended in. It also reads as its first event (or as an event-less
 * step when it sent none), which is the only one in a one-resource stack.
 */
export interface OperationResult extends StepResult {
  readonly steps: readonly StepResult[];
  readonly stackStatus: StackStatus;
}

/** The step of an operation that sent this request type (to this logical id, when given); throws if there is not exactly one. */
export function stepOf(result: OperationResult, requestType: 'Create' | 'Update' | 'Delete', logicalResourceId?: string): StepResult {
  const found = result.steps.filter((s) => s.requestType === requestType && (!logicalResourceId || s.logicalResourceId === logicalResourceId));
  if (found.length !== 1) {
    throw new Error(`expected one ${requestType}${logicalResourceId ? ` of ${logicalResourceId}` : ''}, found ${found.length} among: ${result.steps.map((s) => s.step).join('; ')}`);
  }
  return found[0];
}

export interface StackOptions {
  readonly scenario: string;
  readonly account: AccountEndpoints;
  readonly responses: ResponseEndpoint;
  readonly caFile: string;
  readonly timings: TimingRecorder;
  readonly region: string;
  readonly sdk: SdkName;
  /** The scenario's EventBridge endpoint (one for every account and Region: the default buses and any central bus). */
  readonly eventbridge: EventBridgeEmulator;
  /** @default 'ImdsE2e' */
  readonly stackName?: string;
  /** The slowest a handler may be without injected faults, in ms (e.g. a run over a large fleet). @default SLOWEST_EVENT_MS */
  readonly slowestEventMs?: number;
}

export interface OperationOptions {
  /**
   * Another resource of the template (this logical id, made up) fails after
   * every custom resource event of the operation succeeded: the stack rolls back.
   */
  readonly anotherResourceFails?: string;
}

/** A custom resource as CloudFormation holds it. */
interface Resource {
  readonly logicalId: string;
  /** The template (and so the function and DeletionPolicy) it was last deployed with. */
  template: StackTemplate;
  ctx: DeployContext;
  properties: Record<string, any>;
  physicalId?: string;
  /** The Data of its last successful Create or Update: what Fn::GetAtt of it resolves to. */
  data?: Readonly<Record<string, unknown>>;
  status: ResourceStatus;
}

type Snapshot = Omit<Resource, 'logicalId' | 'status'>;

type Pending =
  | { readonly kind: 'create'; readonly created: string[] }
  | {
    readonly kind: 'update';
    readonly before: Map<string, Snapshot>;
    readonly deployedBefore: { template: StackTemplate; ctx: DeployContext };
    readonly created: string[];
    /** Resources sent an Update (successful or not), with the properties it tried and the template it was sent with. */
    readonly updated: Array<{ logicalId: string; attempted: Record<string, any>; template: StackTemplate }>;
  };

const GONE: readonly ResourceStatus[] = ['DELETE_COMPLETE', 'DELETE_SKIPPED'];

/** The keys of a custom resource event, in the order CloudFormation sends them. */
const ORDER: Record<string, true> = Object.fromEntries(
  ['RequestType', 'ServiceToken', 'ResponseURL', 'StackId', 'RequestId', 'LogicalResourceId', 'PhysicalResourceId', 'ResourceType', 'ResourceProperties', 'OldResourceProperties']
    .map((k) => [k, true]),
);

/** A step without an event. */
const NO_CALLS = {
  ec2Requests: [],
  ec2Actions: [],
  ssmRequests: [],
  ssmActions: [],
  cfnRequests: [],
  cfnActions: [],
  cloudwatchRequests: [],
  cloudwatchActions: [],
  autoscalingRequests: [],
  autoscalingActions: [],
  eventbridgeRequests: [],
  eventbridgeActions: [],
  events: [],
  ec2Calls: {},
  faulted: false,
} as const;

/** Counts of each action, in order of first appearance. */
function countByAction(requests: ReadonlyArray<{ readonly action: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) {
    counts[r.action] = (counts[r.action] ?? 0) + 1;
  }
  return counts;
}

/** The requests an invocation made to each endpoint of the account. */
type Calls = Pick<StepResult,
  'ec2Requests' | 'ec2Actions' | 'ssmRequests' | 'ssmActions' | 'cfnRequests' | 'cfnActions'
  | 'cloudwatchRequests' | 'cloudwatchActions' | 'autoscalingRequests' | 'autoscalingActions'
  | 'eventbridgeRequests' | 'eventbridgeActions' | 'events' | 'ec2Calls' | 'faulted'>;

export class CloudFormationStack {
  public status: StackStatus = 'NEW';
  public readonly stackName: string;
  public readonly stackId: string;
  /** Every status change of the stack and its custom resources, in order: `<name or logical id> <status>`. */
  public readonly history: string[] = [];
  private readonly resources = new Map<string, Resource>();
  /** The function logical id each event was sent to, by RequestId (deliverLate). */
  private readonly sentTo = new Map<string, string>();
  private deployed?: { template: StackTemplate; ctx: DeployContext };
  private pending?: Pending;

  constructor(private readonly options: StackOptions) {
    this.stackName = options.stackName ?? 'ImdsE2e';
    this.stackId = `arn:aws:cloudformation:${options.region}:${options.account.id}:stack/${this.stackName}/${crypto.randomUUID()}`;
  }

  /** The stack's account id. */
  public get accountId(): string {
    return this.options.account.id;
  }

  /** The stack's Region. */
  public get region(): string {
    return this.options.region;
  }

  /** The EventBridge rules of the deployed template, resolved (names, ARNs, patterns, targets). */
  public rules(): RuleConfig[] {
    const { template, ctx } = this.current('list the rules of');
    return rules(template, ctx);
  }

  /** The ARN of a rule of the deployed template. */
  public ruleArn(ruleLogicalId: string): string {
    const rule = this.rules().find((r) => r.logicalId === ruleLogicalId);
    if (!rule) {
      throw new Error(`no AWS::Events::Rule ${ruleLogicalId} in the deployed template`);
    }
    return rule.arn;
  }

  /** A function of the deployed template as Lambda runs it (its name, ARN, environment…). */
  public functionOf(options: Pick<InvokeFunctionOptions, 'functionLogicalId' | 'resourceType'> = {}): FunctionConfig {
    const { template, ctx } = this.current('find a function of');
    return functionConfig(template, this.pickFunction(template, options), ctx);
  }

  /**
   * Invokes a function of the deployed template with `event`, as Lambda runs an
   * asynchronous invocation (EventBridge's): nothing waits for an answer at a
   * ResponseURL, and any PUT to one fails the call. Checked as Lambda would (the
   * runtime's SDK only, the loopback only, the stack's Region only); fails
   * unless the outcome is one of `outcomes` (`returned` by default).
   */
  public async invokeFunction(event: Record<string, any>, options: InvokeFunctionOptions = {}): Promise<FunctionRun> {
    const { template, ctx } = this.current('invoke a function of');
    const functionLogicalId = this.pickFunction(template, options);
    return this.runFunction(functionConfig(template, functionLogicalId, ctx), event, options.label ?? `Invoke ${functionLogicalId}`, options.outcomes);
  }

  /**
   * What EventBridge does when a schedule rule of the deployed template fires:
   * its "Scheduled Event" (or the target's constant Input) delivered to the
   * function it targets. The rule must be ENABLED and target exactly one
   * function of the template, which a Lambda permission lets it invoke.
   */
  public async schedule(options: ScheduleOptions = {}): Promise<FunctionRun> {
    const scheduled = this.rules()
      .filter((r) => r.scheduleExpression !== undefined && (!options.ruleLogicalId || r.logicalId === options.ruleLogicalId));
    if (scheduled.length !== 1) {
      throw new Error(`expected one schedule rule${options.ruleLogicalId ? ` ${options.ruleLogicalId}` : ''} in the deployed template, found ${scheduled.length}`);
    }
    const [rule] = scheduled;
    if (rule.state !== 'ENABLED') {
      throw new Error(`${rule.logicalId} is ${rule.state}: EventBridge never fires it`);
    }
    const targets = rule.targets.filter((tg) => tg.functionLogicalId);
    if (targets.length !== 1) {
      throw new Error(`${rule.logicalId} targets ${targets.length} functions of the template; schedule() delivers to exactly one`);
    }
    const event = scheduledEvent({ account: this.accountId, region: this.region, ruleArn: rule.arn, time: options.time });
    return this.deliver(rule, targets[0], event, `Schedule ${rule.logicalId}`, options.outcomes);
  }

  /**
   * Puts an event on the default bus of the stack's account and Region, as a
   * service (CloudTrail) does: every ENABLED rule of the deployed template whose
   * EventPattern matches it invokes each of its function targets, in template
   * order. An event of another account or Region never reaches this bus.
   */
  public async putEvent(event: Record<string, any>, options: { readonly outcomes?: readonly Outcome[] } = {}): Promise<EventDelivery> {
    if (event.account !== this.accountId || event.region !== this.region) {
      throw new Error(`the event is for ${event.account} in ${event.region}: it does not reach the default bus of ${this.accountId} in ${this.region}`);
    }
    const matched = this.rules().filter((r) => r.state === 'ENABLED' && r.eventPattern !== undefined && matchesPattern(r.eventPattern, event));
    const runs: FunctionRun[] = [];
    for (const rule of matched) {
      for (const target of rule.targets.filter((tg) => tg.functionLogicalId)) {
        runs.push(await this.deliver(rule, target, event, `Event via ${rule.logicalId}`, options.outcomes));
      }
    }
    return { matched: matched.map((r) => r.logicalId), runs };
  }

  /**
   * A custom resource event that CloudFormation did not send: a direct invoke of
   * the function of the deployed template's custom resource, with a
   * CloudFormation-shaped event. Defaults: this stack's StackId, the resource's
   * LogicalResourceId, ResourceType, ResourceProperties (as CloudFormation holds
   * them) and, for Update and Delete, its PhysicalResourceId (Update:
   * OldResourceProperties the same properties), the function's ARN as
   * ServiceToken, a new RequestId, and a ResponseURL of the local endpoint for
   * that StackId, RequestId and LogicalResourceId. `fields` replaces or adds any
   * field (undefined removes it). Nothing in the stack's model changes: a forger
   * cannot change what CloudFormation holds.
   *
   * Checked as Lambda would (the runtime's SDK, the loopback, the Region; the
   * outcome one of `outcomes`) and as a careful handler must behave: at most one
   * answer, and never the ResponseURL in the logs.
   */
  public async forgeEvent(requestType: 'Create' | 'Update' | 'Delete', fields: Record<string, any> = {}, options: ForgeEventOptions = {}): Promise<ForgedRun> {
    const { template, ctx } = this.current('forge an event for');
    const ref = options.resourceType
      ? template.resourceOf(options.resourceType)
      : template.customResources.length === 1 ? template.customResources[0] : template.resourceOf(CUSTOM_RESOURCE_TYPE);
    const fn = functionConfig(template, ref.functionLogicalId, ctx);
    const live = this.live(ref.logicalId);
    const event: Record<string, any> = {
      RequestType: requestType,
      ServiceToken: fn.arn,
      StackId: this.stackId,
      RequestId: crypto.randomUUID(),
      LogicalResourceId: ref.logicalId,
      ResourceType: ref.type,
      ResourceProperties: live?.properties ?? resourceProperties(template, ref.logicalId, ctx),
      ...(requestType !== 'Create' && live ? { PhysicalResourceId: live.physicalId } : {}),
      ...(requestType === 'Update' && live ? { OldResourceProperties: live.properties } : {}),
    };
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) {
        delete event[key];
      } else {
        event[key] = value;
      }
    }
    let signature: string | undefined;
    if (!('ResponseURL' in fields)) {
      const issued = this.options.responses.issue({
        stackId: String(event.StackId), requestId: String(event.RequestId), logicalResourceId: String(event.LogicalResourceId), region: this.region,
      });
      event.ResponseURL = issued.url;
      signature = issued.signature;
    }
    // Keys in the order CloudFormation sends them.
    const ordered = Object.fromEntries([
      ...Object.keys(ORDER).filter((k) => k in event).map((k) => [k, event[k]]),
      ...Object.entries(event).filter(([k]) => !(k in ORDER)),
    ]);
    return this.runOutside(fn, ordered, options.label ?? `Forged ${requestType}`, options.outcomes, signature);
  }

  /**
   * The event of an earlier step delivered again after CloudFormation stopped
   * waiting for it: Lambda ran a throttled asynchronous event late (up to its
   * MaximumEventAgeInSeconds), or twice. The same event (RequestId, ResponseURL)
   * runs in the function of the same logical id as deployed now; the function
   * must still exist (else Lambda drops the event). CloudFormation ignores any
   * answer it sends. Nothing in the stack's model changes.
   */
  public async deliverLate(step: StepResult, options: Pick<ForgeEventOptions, 'outcomes' | 'label'> = {}): Promise<ForgedRun> {
    if (!step.event) {
      throw new Error(`${step.step}: no event was sent, none can be delivered late`);
    }
    const functionLogicalId = this.sentTo.get(step.event.RequestId);
    if (!functionLogicalId) {
      throw new Error(`${step.step}: not an event this stack sent`);
    }
    const { template, ctx } = this.current('deliver a late event to');
    if (template.template.Resources[functionLogicalId]?.Type !== 'AWS::Lambda::Function') {
      throw new Error(`${functionLogicalId} is no longer in the deployed template: Lambda drops the event (ResourceNotFoundException)`);
    }
    return this.runOutside(functionConfig(template, functionLogicalId, ctx), step.event, options.label ?? `Late ${step.step}`, options.outcomes);
  }

  /** What CloudFormation shows now about a resource of any stack of the account (DescribeStacks, DescribeStackResource). */
  public view(logicalId: string, stackId: string = this.stackId): CloudFormationView {
    const { cfn } = this.options.account;
    const resource = cfn.resource(stackId, logicalId);
    return {
      stackStatus: cfn.stackStatus(stackId),
      resourceType: resource?.resourceType,
      resourceStatus: resource?.resourceStatus,
      physicalResourceId: resource?.physicalResourceId,
    };
  }

  /** The physical id CloudFormation holds for the stack's one custom resource. */
  public get physicalResourceId(): string | undefined {
    const live = [...this.resources.values()].filter((r) => !GONE.includes(r.status));
    return live.length === 1 ? live[0].physicalId : undefined;
  }

  /** The status of a custom resource as DescribeStackResource shows it (undefined when not in the stack). */
  public resourceStatus(logicalId: string): ResourceStatus | undefined {
    return this.resources.get(logicalId)?.status;
  }

  public async create(template: StackTemplate, parameters: Record<string, string> = {}, options: OperationOptions = {}): Promise<OperationResult> {
    this.expectStatus('create', ['NEW']);
    const ctx = this.context(template, parameters);
    this.validate(template, ctx);
    this.setStack('CREATE_IN_PROGRESS');
    const steps: StepResult[] = [];
    const created: string[] = [];
    let failed = false;
    for (const ref of template.customResources) {
      const resource: Resource = { logicalId: ref.logicalId, template, ctx, properties: resourceProperties(template, ref.logicalId, ctx), status: 'CREATE_IN_PROGRESS' };
      this.resources.set(ref.logicalId, resource);
      created.push(ref.logicalId);
      this.setResource(resource, 'CREATE_IN_PROGRESS');
      const step = await this.send('Create', resource.logicalId, template, ctx, { ResourceProperties: resource.properties });
      steps.push(step);
      resource.physicalId = step.answer!.PhysicalResourceId;
      if (step.answer!.Status !== 'SUCCESS') {
        this.setResource(resource, 'CREATE_FAILED');
        failed = true;
        break;
      }
      resource.data = step.answer!.Data ?? {};
      this.setResource(resource, 'CREATE_COMPLETE');
    }
    if (!failed && options.anotherResourceFails) {
      this.history.push(`${options.anotherResourceFails} CREATE_FAILED`);
      failed = true;
    }
    if (failed) {
      this.pending = { kind: 'create', created };
      this.setStack('ROLLBACK_IN_PROGRESS');
    } else {
      this.deployed = { template, ctx };
      this.setStack('CREATE_COMPLETE');
    }
    return this.result(steps, 'Create');
  }

  public async update(template: StackTemplate, parameters: Record<string, string> = {}, options: OperationOptions = {}): Promise<OperationResult> {
    this.expectStatus('update', ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE']);
    const deployed = this.deployed!;
    const ctx = this.context(template, parameters);
    this.validate(template, ctx);
    const plan = template.customResources.map((ref) => {
      const properties = resourceProperties(template, ref.logicalId, ctx);
      const existing = this.live(ref.logicalId);
      if (!existing) {
        return { logicalId: ref.logicalId, kind: 'Create' as const, properties };
      }
      if (properties.ServiceToken !== existing.properties.ServiceToken) {
        throw new Error(`Modifying service token is not allowed. (${ref.logicalId}: ${existing.properties.ServiceToken} -> ${properties.ServiceToken}): CloudFormation fails such an update`);
      }
      return { logicalId: ref.logicalId, kind: isDeepStrictEqual(properties, existing.properties) ? 'None' as const : 'Update' as const, properties };
    });
    const kept = new Set(plan.map((p) => p.logicalId));
    const removed = [...this.resources.values()].filter((r) => !GONE.includes(r.status) && !kept.has(r.logicalId));
    if (plan.every((p) => p.kind === 'None') && removed.length === 0
      && isDeepStrictEqual(template.template, deployed.template.template) && isDeepStrictEqual(ctx.parameters, deployed.ctx.parameters)) {
      throw new Error('No updates are to be performed.: CloudFormation would send no event');
    }

    const before = new Map<string, Snapshot>();
    for (const r of this.resources.values()) {
      before.set(r.logicalId, { template: r.template, ctx: r.ctx, properties: r.properties, physicalId: r.physicalId });
    }
    const updated: Array<{ logicalId: string; attempted: Record<string, any>; template: StackTemplate }> = [];
    const pending = { kind: 'update' as const, before, deployedBefore: deployed, created: [] as string[], updated };
    this.setStack('UPDATE_IN_PROGRESS');
    const steps: StepResult[] = [];
    let failed = false;
    for (const p of plan) {
      if (p.kind === 'None') {
        // The function may have changed (new code): the resource's next event runs it.
        const resource = this.resources.get(p.logicalId)!;
        Object.assign(resource, { template, ctx });
        // No event: Fn::GetAtt reads the Data of its last Create or Update, perhaps an older function's.
        checkAttributes(template, resource, resource.data, (problem) => {
          throw new Error(`${p.logicalId} was sent no Update (its properties are unchanged): ${problem}`);
        });
        continue;
      }
      if (p.kind === 'Create') {
        const resource: Resource = { logicalId: p.logicalId, template, ctx, properties: p.properties, status: 'CREATE_IN_PROGRESS' };
        this.resources.set(p.logicalId, resource);
        pending.created.push(p.logicalId);
        this.setResource(resource, 'CREATE_IN_PROGRESS');
        const step = await this.send('Create', p.logicalId, template, ctx, { ResourceProperties: p.properties });
        steps.push(step);
        resource.physicalId = step.answer!.PhysicalResourceId;
        failed = step.answer!.Status !== 'SUCCESS';
        if (!failed) {
          resource.data = step.answer!.Data ?? {};
        }
        this.setResource(resource, failed ? 'CREATE_FAILED' : 'CREATE_COMPLETE');
      } else {
        const resource = this.resources.get(p.logicalId)!;
        pending.updated.push({ logicalId: p.logicalId, attempted: p.properties, template });
        this.setResource(resource, 'UPDATE_IN_PROGRESS');
        const step = await this.send('Update', p.logicalId, template, ctx, {
          PhysicalResourceId: resource.physicalId,
          ResourceProperties: p.properties,
          OldResourceProperties: resource.properties,
        });
        steps.push(step);
        failed = step.answer!.Status !== 'SUCCESS';
        if (!failed) {
          Object.assign(resource, { template, ctx, properties: p.properties, data: step.answer!.Data ?? {} });
        }
        this.setResource(resource, failed ? 'UPDATE_FAILED' : 'UPDATE_COMPLETE');
      }
      if (failed) {
        break;
      }
    }
    if (!failed && options.anotherResourceFails) {
      this.history.push(`${options.anotherResourceFails} UPDATE_FAILED`);
      failed = true;
    }
    if (failed) {
      this.pending = pending;
      this.setStack('UPDATE_ROLLBACK_IN_PROGRESS');
      return this.result(steps, 'Update');
    }

    this.setStack('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    for (const resource of removed.reverse()) {
      steps.push(await this.deleteResource(resource, 'Delete (cleanup)'));
    }
    this.deployed = { template, ctx };
    this.setStack('UPDATE_COMPLETE');
    // What left the template is no longer a resource of the stack.
    for (const resource of removed) {
      this.forget(resource.logicalId);
    }
    return this.result(steps, 'Update');
  }

  /**
   * The rollback CloudFormation runs after a failed Create or Update. The
   * rollback Updates are run by the function of the template rolled back to;
   * with `functionsLast`, by the function as the failed update left it (its
   * code, environment, ...), as when a custom resource is rolled back before
   * its function (CloudFormation does not document the order): a handler must
   * then take the earlier release's properties.
   */
  public async rollback(options: { readonly functionsLast?: boolean } = {}): Promise<OperationResult> {
    if (this.status === 'ROLLBACK_IN_PROGRESS') {
      return this.rollbackCreate();
    }
    this.expectStatus('roll back', ['UPDATE_ROLLBACK_IN_PROGRESS']);
    const pending = this.pending as Extract<Pending, { kind: 'update' }>;
    this.pending = undefined;
    const steps: StepResult[] = [];
    let failed = false;
    for (const { logicalId, attempted, template } of [...pending.updated].reverse()) {
      const resource = this.resources.get(logicalId)!;
      const old = pending.before.get(logicalId)!;
      this.setResource(resource, 'UPDATE_IN_PROGRESS');
      const runBy = options.functionsLast ? withFunctionsOf(old.template, template) : old.template;
      const step = await this.send('Update', logicalId, runBy, old.ctx, {
        PhysicalResourceId: resource.physicalId,
        ResourceProperties: old.properties,
        OldResourceProperties: attempted,
      }, 'Rollback');
      steps.push(step);
      if (step.answer!.Status !== 'SUCCESS') {
        this.setResource(resource, 'UPDATE_FAILED');
        failed = true;
        break;
      }
      Object.assign(resource, old, { data: step.answer!.Data ?? {} });
      this.setResource(resource, 'UPDATE_COMPLETE');
    }
    if (failed) {
      this.setStack('UPDATE_ROLLBACK_FAILED');
      return this.result(steps, 'Rollback');
    }
    const rolledBack = new Set(pending.updated.map((u) => u.logicalId));
    for (const [logicalId, old] of pending.before) {
      if (this.resources.has(logicalId)) {
        const resource = this.resources.get(logicalId)!;
        // A resource sent a rollback Update keeps that answer's Data.
        Object.assign(resource, old, rolledBack.has(logicalId) ? { data: resource.data } : {});
      }
    }
    this.setStack('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    for (const logicalId of [...pending.created].reverse()) {
      steps.push(await this.deleteResource(this.resources.get(logicalId)!, 'Delete (rollback cleanup)', false, true));
    }
    this.deployed = pending.deployedBefore;
    this.setStack('UPDATE_ROLLBACK_COMPLETE');
    for (const logicalId of pending.created) {
      this.forget(logicalId);
    }
    return this.result(steps, 'Rollback');
  }

  /**
   * Deletes the stack (or, in ROLLBACK_IN_PROGRESS, rolls back the failed Create).
   * `retainResources`: the logical ids to keep, which CloudFormation accepts only for a stack in DELETE_FAILED.
   */
  public async delete(options: { readonly retainResources?: readonly string[] } = {}): Promise<OperationResult> {
    if (this.status === 'ROLLBACK_IN_PROGRESS' && !options.retainResources) {
      return this.rollbackCreate();
    }
    // ROLLBACK_FAILED: the only thing CloudFormation lets one do with such a stack is delete it (its Deletes are sent again).
    this.expectStatus('delete', ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_FAILED', 'ROLLBACK_COMPLETE', 'ROLLBACK_FAILED', 'DELETE_FAILED']);
    const retain = options.retainResources ?? [];
    if (retain.length > 0 && this.status !== 'DELETE_FAILED') {
      throw new Error(`Invalid operation on stack [${this.stackId}]. RetainResources can only be specified when the stack is in the DELETE_FAILED state`);
    }
    this.setStack('DELETE_IN_PROGRESS');
    const steps: StepResult[] = [];
    for (const resource of [...this.resources.values()].reverse()) {
      if (GONE.includes(resource.status)) {
        continue;
      }
      steps.push(await this.deleteResource(resource, 'Delete', retain.includes(resource.logicalId)));
    }
    const failed = [...this.resources.values()].some((r) => r.status === 'DELETE_FAILED');
    this.setStack(failed ? 'DELETE_FAILED' : 'DELETE_COMPLETE');
    return this.result(steps, 'Delete');
  }

  private async rollbackCreate(): Promise<OperationResult> {
    const pending = this.pending as Extract<Pending, { kind: 'create' }>;
    this.pending = undefined;
    const steps: StepResult[] = [];
    for (const logicalId of [...pending.created].reverse()) {
      steps.push(await this.deleteResource(this.resources.get(logicalId)!, 'Delete (rollback of the failed Create)', false, true));
    }
    const failed = [...this.resources.values()].some((r) => r.status === 'DELETE_FAILED');
    this.setStack(failed ? 'ROLLBACK_FAILED' : 'ROLLBACK_COMPLETE');
    return this.result(steps, 'Delete (rollback of the failed Create)');
  }

  /**
   * Deletes one custom resource, or skips it (DeletionPolicy Retain; RetainExceptOnCreate unless
   * `rollingBackItsCreation`, the rollback of the operation that created it; or retained by the
   * caller): no event then.
   */
  private async deleteResource(resource: Resource, step: string, retained = false, rollingBackItsCreation = false): Promise<StepResult> {
    const policy = deletionPolicy(resource.template, resource.logicalId);
    if (retained || policy === 'Retain' || (policy === 'RetainExceptOnCreate' && !rollingBackItsCreation)) {
      this.setResource(resource, 'DELETE_SKIPPED');
      const label = `${step} ${resource.logicalId}: retained, no event`;
      this.options.timings.add({ scenario: this.options.scenario, step: label, sdk: this.options.sdk });
      return { step: label, logicalResourceId: resource.logicalId, ...NO_CALLS };
    }
    this.setResource(resource, 'DELETE_IN_PROGRESS');
    const result = await this.send('Delete', resource.logicalId, resource.template, resource.ctx, {
      PhysicalResourceId: resource.physicalId,
      ResourceProperties: resource.properties,
    }, step);
    this.setResource(resource, result.answer!.Status === 'SUCCESS' ? 'DELETE_COMPLETE' : 'DELETE_FAILED');
    return result;
  }

  private live(logicalId: string): Resource | undefined {
    const resource = this.resources.get(logicalId);
    return resource && !GONE.includes(resource.status) ? resource : undefined;
  }

  /** The resource is no longer in the stack's template: DescribeStackResource no longer finds it. */
  private forget(logicalId: string): void {
    this.resources.delete(logicalId);
    this.options.account.cfn.removeResource(this.stackId, logicalId);
    this.history.push(`${logicalId} removed from the stack`);
  }

  private setStack(status: StackStatus): void {
    this.status = status;
    this.history.push(`${this.stackName} ${status}`);
    this.options.account.cfn.putStack({ stackId: this.stackId, stackName: this.stackName, stackStatus: status });
  }

  private setResource(resource: Resource, status: ResourceStatus): void {
    resource.status = status;
    this.history.push(`${resource.logicalId} ${status}`);
    this.options.account.cfn.putResource(this.stackId, {
      logicalResourceId: resource.logicalId,
      physicalResourceId: resource.physicalId,
      resourceType: resource.template.template.Resources[resource.logicalId].Type,
      resourceStatus: status,
    });
  }

  private result(steps: StepResult[], noEvent: string): OperationResult {
    const primary: StepResult = steps.find((s) => s.event) ?? steps[0] ?? {
      step: `${noEvent}: no event`, ...NO_CALLS,
    };
    return { ...primary, steps, stackStatus: this.status };
  }

  private context(template: StackTemplate, parameters: Record<string, string>): DeployContext {
    return {
      account: this.options.account.id,
      stackName: this.stackName,
      stackId: this.stackId,
      region: this.options.region,
      parameters: parameterValues(template, parameters),
    };
  }

  private expectStatus(operation: string, allowed: StackStatus[]): void {
    if (!allowed.includes(this.status)) {
      throw new Error(`cannot ${operation} a stack in ${this.status} (allowed in ${allowed.join(', ')})`);
    }
  }

  /** Sends one event to the function of `template` for the custom resource `logicalId`, runs it, and checks what came back. */
  private async send(
    requestType: 'Create' | 'Update' | 'Delete', logicalId: string, template: StackTemplate, ctx: DeployContext,
    fields: Record<string, any>, step: string = requestType,
  ): Promise<StepResult> {
    const { responses, region } = this.options;
    const ref = template.customResources.find((r) => r.logicalId === logicalId)!;
    const fn = functionConfig(template, ref.functionLogicalId, ctx);
    const serviceTimeoutMs = serviceTimeoutSeconds(template, logicalId, ctx) * 1000;
    const requestId = crypto.randomUUID();
    const { url, signature } = responses.issue({ stackId: this.stackId, requestId, logicalResourceId: logicalId, region });
    const event = {
      RequestType: requestType,
      ServiceToken: fn.arn,
      ResponseURL: url,
      StackId: this.stackId,
      RequestId: requestId,
      LogicalResourceId: logicalId,
      ResourceType: template.template.Resources[logicalId].Type,
      ...fields,
    };
    const label = template.customResources.length > 1 || this.resources.size > 1 ? `${step} ${logicalId}` : step;
    this.sentTo.set(requestId, fn.logicalId);
    const shown = this.view(logicalId);

    const { invocation, calls } = await this.observe(fn, event, requestId);
    const answers = responses.answersFor(requestId);

    // What Lambda and CloudFormation would see.
    const fail = loadedOrFail(label, invocation);
    if (answers.length === 0) {
      fail(`no answer reached the ResponseURL (the stack would wait until the ServiceTimeout)${responses.refused.length ? `; refused PUTs: ${responses.refused.join('; ')}` : ''}`);
    }
    if (answers.length > 1) {
      fail(`${answers.length} answers reached the ResponseURL; the handler must answer exactly once`);
    }
    const [received] = answers;
    if (received.problems.length > 0) {
      fail(`CloudFormation would reject the answer: ${received.problems.join('; ')}`);
    }
    const timeoutMs = fn.timeoutSeconds * 1000;
    const answerMs = received.receivedAt - invocation.invokedAt!;
    if (answerMs > timeoutMs) {
      fail(`the answer arrived ${Math.round(answerMs)} ms after the invocation began, past the function's Timeout of ${timeoutMs} ms`);
    }
    if (answerMs > serviceTimeoutMs) {
      fail(`the answer arrived ${Math.round(answerMs)} ms after the invocation began, past the resource's ServiceTimeout of ${serviceTimeoutMs} ms: CloudFormation has failed the resource by then`);
    }
    if (invocation.outcome !== 'returned') {
      fail(`the handler did not settle by itself: ${invocation.outcome}`);
    }
    this.checkRuntime(invocation, calls, fail);
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
    if (requestType !== 'Delete' && answer.Status === 'SUCCESS') {
      checkAttributes(template, { logicalId, physicalId: answer.PhysicalResourceId }, answer.Data, fail);
    }
    if (requestType !== 'Create' && answer.PhysicalResourceId !== fields.PhysicalResourceId) {
      fail(`the physical id changed from ${fields.PhysicalResourceId} to ${answer.PhysicalResourceId}: CloudFormation would then delete the "old" resource`);
    }
    this.checkSpeed(invocation, calls, fail);

    this.record(label, invocation, calls, { answerMs, status: answer.Status });
    return { step: label, requestType, logicalResourceId: logicalId, event, answer, invocation, ...calls, shown };
  }

  /**
   * Runs a custom resource event outside CloudFormation's wait (forgeEvent,
   * deliverLate) and collects what reached its ResponseURL. `signature`: of a
   * URL issued for this run, which must not appear in the logs.
   */
  private async runOutside(fn: FunctionConfig, event: Record<string, any>, label: string, outcomes: readonly Outcome[] = ['returned'], signature?: string): Promise<ForgedRun> {
    const { responses } = this.options;
    const requestId = String(event.RequestId);
    const before = responses.answersFor(requestId).length;
    const shown = this.view(String(event.LogicalResourceId), String(event.StackId));
    const { invocation, calls } = await this.observe(fn, event, crypto.randomUUID());
    const answers = responses.answersFor(requestId).slice(before);
    const fail = loadedOrFail(label, invocation);
    if (!outcomes.includes(invocation.outcome)) {
      fail(`the invocation ended ${invocation.outcome}, expected ${outcomes.join(' or ')}`);
    }
    if (answers.length > 1) {
      fail(`${answers.length} answers reached the ResponseURL; the handler must answer at most once`);
    }
    const url = typeof event.ResponseURL === 'string' ? event.ResponseURL : '';
    const query = url.slice(url.indexOf('?') + 1);
    if ((signature && invocation.logs.includes(signature)) || (query && invocation.logs.includes(query))) {
      fail('the logs hold the ResponseURL\'s signature');
    }
    this.checkRuntime(invocation, calls, fail);
    if (invocation.handlerMs !== undefined) {
      this.checkSpeed(invocation, calls, fail);
    }
    this.record(label, invocation, calls, { status: answers[0]?.response?.Status ?? invocation.outcome });
    return {
      step: label,
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
      event,
      invocation,
      functionLogicalId: fn.logicalId,
      answers,
      answer: answers.length === 1 ? answers[0].response : undefined,
      ...calls,
      shown,
    };
  }

  /** Runs a function outside CloudFormation (an asynchronous invocation) and checks it as Lambda would. */
  private async runFunction(fn: FunctionConfig, event: Record<string, any>, label: string, outcomes: readonly Outcome[] = ['returned'], ruleLogicalId?: string): Promise<FunctionRun> {
    const { responses } = this.options;
    const putsBefore = responses.attempts;
    const { invocation, calls } = await this.observe(fn, event, crypto.randomUUID());
    const fail = loadedOrFail(label, invocation);
    if (responses.attempts > putsBefore) {
      fail(`the function sent ${responses.attempts - putsBefore} request(s) to a ResponseURL outside a CloudFormation event`);
    }
    if (!outcomes.includes(invocation.outcome)) {
      fail(`the invocation ended ${invocation.outcome}, expected ${outcomes.join(' or ')}`);
    }
    this.checkRuntime(invocation, calls, fail);
    if (invocation.handlerMs !== undefined) {
      this.checkSpeed(invocation, calls, fail);
    }
    this.record(label, invocation, calls, { status: invocation.outcome });
    return { step: label, event, invocation, functionLogicalId: fn.logicalId, ruleLogicalId, ...calls };
  }

  /**
   * EventBridge invoking one function target of a rule with an event (or the
   * target's constant Input), asynchronously: Lambda retries a failed invocation.
   */
  private async deliver(
    rule: RuleConfig, target: RuleConfig['targets'][number], event: Record<string, any>, label: string, outcomes?: readonly Outcome[],
  ): Promise<FunctionRun> {
    if (target.unsupported) {
      throw new Error(`${rule.logicalId} target ${target.id}: ${target.unsupported} is not emulated by the EventBridge stand-in`);
    }
    const { template, ctx } = this.current('deliver an event to');
    const delivered = target.input === undefined ? event : target.input as Record<string, any>;
    const fn = functionConfig(template, target.functionLogicalId!, ctx);
    const first = await this.runFunction(fn, delivered, label, outcomes, rule.logicalId);
    const retries: FunctionRun[] = [];
    const attempts = asyncRetryAttempts(template, fn.logicalId, ctx);
    for (let last = first; last.invocation.outcome !== 'returned' && retries.length < attempts;) {
      last = await this.runFunction(fn, delivered, `${label} (Lambda's retry ${retries.length + 1})`, outcomes, rule.logicalId);
      retries.push(last);
    }
    return { ...first, retries };
  }

  /** Runs one invocation with the account's endpoints, and collects the requests it made to each. */
  private async observe(fn: FunctionConfig, event: object, requestId: string): Promise<{ invocation: Invocation; calls: Calls }> {
    const { account: { ec2, ssm, cfn, cloudwatch, autoscaling }, responses, region, sdk, eventbridge } = this.options;
    const endpoints = [ec2, ssm, cfn, cloudwatch, autoscaling, eventbridge] as const;
    const first = endpoints.map((e) => e.requests.length);
    const firstEvent = eventbridge.deliveries.length;
    const faultCount = () => endpoints.reduce((n, e) => n + e.faultsServed + e.requestsHeld, responses.faultsServed + eventbridge.entryFaultsServed);
    const faultsBefore = faultCount();
    // SSM records the writer of each parameter version: this function's session; EventBridge the sender of each event.
    ssm.setCaller(executionRoleKey(fn), executionRoleSession(fn));
    eventbridge.setCaller(executionRoleKey(fn), executionRoleSession(fn), fn.roleArn);
    // What the role's policies allow (events:PutEvents on which buses, with which source) is checked as IAM would.
    eventbridge.setIdentityPolicies(executionRoleSession(fn), fn.eventPolicies);
    const invocation = await invoke({
      fn,
      event,
      requestId,
      region,
      sdk,
      caFile: this.options.caFile,
      ec2Endpoint: ec2.endpoint,
      ssmEndpoint: ssm.endpoint,
      cloudFormationEndpoint: cfn.endpoint,
      cloudWatchEndpoint: cloudwatch.endpoint,
      autoScalingEndpoint: autoscaling.endpoint,
      eventBridgeEndpoint: eventbridge.endpoint,
    });
    const ec2Requests = ec2.requests.slice(first[0]);
    const ssmRequests = ssm.requests.slice(first[1]);
    const cfnRequests = cfn.requests.slice(first[2]);
    const cloudwatchRequests = cloudwatch.requests.slice(first[3]);
    const autoscalingRequests = autoscaling.requests.slice(first[4]);
    const eventbridgeRequests = eventbridge.requests.slice(first[5]);
    return {
      invocation,
      calls: {
        ec2Requests,
        ec2Actions: ec2Requests.map((r) => r.action),
        ssmRequests,
        ssmActions: ssmRequests.map((r) => r.action),
        cfnRequests,
        cfnActions: cfnRequests.map((r) => r.action),
        cloudwatchRequests,
        cloudwatchActions: cloudwatchRequests.map((r) => r.action),
        autoscalingRequests,
        autoscalingActions: autoscalingRequests.map((r) => r.action),
        eventbridgeRequests,
        eventbridgeActions: eventbridgeRequests.map((r) => r.action),
        events: eventbridge.deliveries.slice(firstEvent),
        ec2Calls: countByAction(ec2Requests),
        faulted: faultCount() > faultsBefore,
      },
    };
  }

  /** What the runtime guarantees: the SDK from NODE_PATH only, and every call to the stack's Region. */
  private checkRuntime(invocation: Invocation, calls: Calls, fail: (problem: string) => never): void {
    const { region, sdk } = this.options;
    if (!invocation.clientEc2 || !invocation.clientEc2.path.startsWith(sdkRoot(sdk).nodePath)) {
      fail(`index.js did not load @aws-sdk/client-ec2 from NODE_PATH: ${JSON.stringify(invocation.clientEc2)}`);
    }
    const foreign = Object.entries(invocation.clients ?? {}).filter(([, c]) => !c.path.startsWith(sdkRoot(sdk).nodePath));
    if (foreign.length > 0) {
      fail(`index.js loaded SDK clients from outside NODE_PATH (the bundle must leave @aws-sdk/* to the runtime): ${JSON.stringify(foreign)}`);
    }
    // The settings, the claims, the fleet and the metrics are per account and Region: every call goes to the stack's Region.
    const all: ReadonlyArray<{ readonly action: string; readonly region: string }> = [
      ...calls.ec2Requests, ...calls.ssmRequests, ...calls.cfnRequests, ...calls.cloudwatchRequests, ...calls.autoscalingRequests,
    ];
    // EventBridge: the default bus is the stack's Region's; a central bus (IMDS_EVENT_BUS) is reached in its own Region.
    const busRegions = (r: EventBridgeRecordedRequest): string[] => (Array.isArray(r.input?.Entries) ? r.input.Entries : [])
      .map((e: any) => (typeof e?.EventBusName === 'string' && e.EventBusName.startsWith('arn:') ? e.EventBusName.split(':')[3] : region));
    const elsewhere = [
      ...all.filter((r) => r.region !== region),
      ...calls.eventbridgeRequests.filter((r) => busRegions(r).some((busRegion) => busRegion !== r.region)),
    ];
    if (elsewhere.length > 0) {
      fail(`calls to another Region than the stack's (${region}) or the named event bus's: ${elsewhere.map((r) => `${r.action} in ${r.region}`).join(', ')}`);
    }
    // Every finding delivered matches the documented schema (findings-schema.json).
    for (const { bus, event } of calls.events.filter((d) => d.event.source === 'cdk-imds-account-defaults')) {
      const problems = findingsSchemaErrors(event);
      if (problems.length > 0) {
        fail(`the finding put to ${bus} does not match findings-schema.json: ${problems.join('; ')}\n${JSON.stringify(event)}`);
      }
    }
  }

  private checkSpeed(invocation: Invocation, calls: Calls, fail: (problem: string) => never): void {
    const limit = this.options.slowestEventMs ?? SLOWEST_EVENT_MS;
    if (!calls.faulted && invocation.handlerMs! > limit) {
      fail(`the handler took ${Math.round(invocation.handlerMs!)} ms against the local endpoints without injected faults (limit ${limit} ms)`);
    }
  }

  private record(label: string, invocation: Invocation, calls: Calls, extra: { answerMs?: number; status: string }): void {
    this.options.timings.add({
      scenario: this.options.scenario,
      step: label,
      sdk: this.options.sdk,
      coldStartMs: invocation.coldStartMs,
      initMs: invocation.initMs,
      handlerMs: invocation.handlerMs,
      answerMs: extra.answerMs,
      status: extra.status,
      faulted: calls.faulted,
      calls: [calls.ec2Requests, calls.ssmRequests, calls.cfnRequests, calls.cloudwatchRequests, calls.autoscalingRequests].map((r) => r.length).join('/'),
      ec2Calls: calls.ec2Calls,
      node: invocation.nodeVersion,
      clientEc2: invocation.clientEc2?.version,
    });
  }

  /** The template deployed now (its function exists), and its deploy context. */
  private current(what: string): { template: StackTemplate; ctx: DeployContext } {
    if (!this.deployed || this.status === 'DELETE_COMPLETE') {
      throw new Error(`cannot ${what} the stack in ${this.status}: no deployed template (Lambda would answer ResourceNotFoundException)`);
    }
    return this.deployed;
  }

  private pickFunction(template: StackTemplate, options: Pick<InvokeFunctionOptions, 'functionLogicalId' | 'resourceType'>): string {
    if (options.functionLogicalId) {
      if (template.template.Resources[options.functionLogicalId]?.Type !== 'AWS::Lambda::Function') {
        throw new Error(`${options.functionLogicalId} is not a function of the deployed template`);
      }
      return options.functionLogicalId;
    }
    if (options.resourceType) {
      return template.resourceOf(options.resourceType).functionLogicalId;
    }
    const functions = Object.keys(template.template.Resources).filter((id) => template.template.Resources[id].Type === 'AWS::Lambda::Function');
    if (functions.length !== 1) {
      throw new Error(`the deployed template has ${functions.length} functions (${functions.join(', ')}): say which (functionLogicalId or resourceType)`);
    }
    return functions[0];
  }

  /** What CloudFormation validates before it starts: references, rules and their permissions, ServiceTimeouts. */
  private validate(template: StackTemplate, ctx: DeployContext): void {
    checkReferences(template);
    rules(template, ctx);
    for (const ref of template.customResources) {
      serviceTimeoutSeconds(template, ref.logicalId, ctx);
    }
  }
}

/**
 * What Lambda would see first of any invocation: the function loaded, and reached
 * nothing but 127.0.0.1. Returns the `fail` the other checks use, which names the
 * step and shows the invocation's outcome and logs.
 */
function loadedOrFail(label: string, invocation: Invocation): (problem: string) => never {
  const fail = (problem: string): never => {
    throw new Error(`${label}: ${problem}\n--- invocation: ${invocation.outcome}${invocation.error ? ` (${invocation.error})` : ''}\n--- function logs ---\n${invocation.logs}`);
  };
  if (invocation.outcome === 'init-failed') {
    fail('the function could not be loaded');
  }
  if (invocation.logs.includes('e2e-bootstrap: blocked a connection')) {
    fail('the function tried to reach a host other than 127.0.0.1');
  }
  return fail;
}

/**
 * What CloudFormation does with a custom resource's Data once its Create or
 * Update succeeded: it resolves every Fn::GetAtt of it the template holds (in
 * other resources' properties and in Outputs) from that Data, and fails the
 * stack when a key is missing ("CustomResource attribute error: Vendor response
 * doesn't contain <key> key in object <physical id>"). template.ts's synthesize()
 * puts every attribute of the library's constructs in an Output, so each answer
 * must hold them all.
 */
function checkAttributes(
  template: StackTemplate, resource: { readonly logicalId: string; readonly physicalId?: string },
  data: Readonly<Record<string, unknown>> | undefined, fail: (problem: string) => never,
): void {
  const missing = attributesRead(template, resource.logicalId).filter((key) => !Object.hasOwn(data ?? {}, key));
  if (missing.length > 0) {
    fail(`the template reads Fn::GetAtt ${missing.map((key) => `${resource.logicalId}.${key}`).join(', ')}, which the Data (${Object.keys(data ?? {}).join(', ') || 'none'}) lacks: CloudFormation fails the stack (CustomResource attribute error: Vendor response doesn't contain ${missing[0]} key in object ${resource.physicalId})`);
  }
}
