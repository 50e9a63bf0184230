/**
 * The harness checks itself: what Lambda and CloudFormation would do to a
 * handler that misbehaves, and what the CloudFormation simulator shows a
 * handler while it runs (the statuses DescribeStackResource answers, the order
 * of the events). Each case swaps the function's inline code (and Timeout) in a
 * synthesized template for a few lines of its own, or writes a small template by
 * hand (the function's environment, other custom resource types, ServiceTimeout,
 * EventBridge rules and what they deliver, EventBridge's pattern matching).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { FunctionRun, stepOf } from './harness/cloudformation';
import { cloudTrailEvent, matchesPattern, scheduleRateMinutes } from './harness/eventbridge';
import { REGION, expectSuccess, scenario } from './harness/scenario';
import {
  ACCOUNT,
  CUSTOM_RESOURCE_TYPE,
  INSTANCE_UPGRADE_TYPE,
  StackTemplate,
  attributesRead,
  checkReferences,
  functionConfig,
  readTemplate,
  rules,
  synthesize,
  synthesizeImds,
  synthesizeStackSet,
  synthesizeWithoutImds,
} from './harness/template';
import { TimingRecorder } from './harness/timings';
import { DriftGuardMode, ImdsAccountDefaults, ImdsHttpTokens, ImdsInstanceUpgrade, ImdsStackSetTarget } from '../../src';

/**
 * The template (by default one ImdsAccountDefaults at Imds) with other inline
 * code (`answer(event, data)` PUTs a SUCCESS) and, optionally, another Timeout or
 * Runtime; without the Outputs synthesize() adds (the construct's attributes,
 * which such code does not answer).
 */
function withCode(
  body: string,
  overrides: { Timeout?: number; Runtime?: string } = {},
  t: StackTemplate = synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }),
): StackTemplate {
  const fn = t.template.Resources[t.functionLogicalId].Properties;
  fn.Code.ZipFile = `
    require('@aws-sdk/client-ec2');
    const https = require('https');
    const answer = (event, data) => new Promise((resolve, reject) => {
      const body = JSON.stringify({ Status: 'SUCCESS', PhysicalResourceId: 'test', StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, Data: data });
      const req = https.request(event.ResponseURL, { method: 'PUT', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
      req.end(body);
    });
    ${body}`;
  Object.assign(fn, overrides);
  delete t.template.Outputs;
  return t;
}

scenario('a handler that answers over HTTPS with the suite\'s certificate passes', async (w) => {
  const create = await w.stack().create(withCode('exports.handler = async (event) => { await answer(event); };'));
  expect(create.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'test' });
});

scenario('a handler still busy at the function\'s Timeout is stopped, and CloudFormation gets no answer', async (w) => {
  const stack = w.stack();
  await expect(stack.create(withCode('exports.handler = () => new Promise(() => setInterval(() => {}, 100));', { Timeout: 1 })))
    .rejects.toThrow(/no answer reached the ResponseURL[\s\S]*invocation: timeout \(Task timed out after 1 seconds\)/);
});

scenario('a handler whose promise never settles and leaves nothing to wait for ends its process, as in Lambda', async (w) => {
  await expect(w.stack().create(withCode('exports.handler = () => new Promise(() => {});')))
    .rejects.toThrow(/no answer reached the ResponseURL[\s\S]*invocation: crashed \(the process ended with exit code 0 before the handler settled\)/);
});

scenario('a handler that does not wait for its answer loses it, as when Lambda freezes the sandbox', async (w) => {
  const stack = w.stack();
  await expect(stack.create(withCode('exports.handler = async (event) => { setTimeout(() => answer(event), 200); };')))
    .rejects.toThrow(/no answer reached the ResponseURL/);
});

scenario('a handler that answers twice fails the step', async (w) => {
  await expect(w.stack().create(withCode('exports.handler = async (event) => { await answer(event); await answer(event); };')))
    .rejects.toThrow(/2 answers reached the ResponseURL/);
});

scenario('a handler that reaches beyond 127.0.0.1 is stopped and fails the step', async (w) => {
  const code = `exports.handler = async (event) => {
    await new Promise((resolve) => https.get('https://ec2.eu-west-1.amazonaws.com/', resolve).on('error', resolve));
    await answer(event);
  };`;
  await expect(w.stack().create(withCode(code))).rejects.toThrow(/tried to reach a host other than 127\.0\.0\.1/);
});

scenario('a handler that logs its ResponseURL fails the step', async (w) => {
  await expect(w.stack().create(withCode('exports.handler = async (event) => { console.log(event); await answer(event); };')))
    .rejects.toThrow(/the logs hold the ResponseURL's signature/);
});

scenario('a Runtime other than the installed Node.js major is refused', async (w) => {
  await expect(w.stack().create(withCode('exports.handler = async () => {};', { Runtime: 'nodejs22.x' })))
    .rejects.toThrow(/the function's Runtime is nodejs22\.x but test\/e2e\/runtime\/node installs Node\.js v24\./);
});

/**
 * Code that answers with what DescribeStackResource (the runtime's
 * client-cloudformation, through AWS_ENDPOINT_URL_CLOUDFORMATION) says while it
 * runs: the status of its own resource (Self) and of `other` in `otherStack`
 * (its own stack by default), or the error's name.
 */
function describing(other: string, t: StackTemplate, otherStack?: string): StackTemplate {
  return withCode(`
    const { CloudFormationClient, DescribeStackResourceCommand } = require('@aws-sdk/client-cloudformation');
    const cfn = new CloudFormationClient({});
    const status = (stack, id) => cfn.send(new DescribeStackResourceCommand({ StackName: stack, LogicalResourceId: id }))
      .then((o) => o.StackResourceDetail.ResourceStatus, (e) => e.name);
    exports.handler = async (event) => {
      const Self = await status(event.StackId, event.LogicalResourceId);
      const Other = await status(${JSON.stringify(otherStack ?? '')} || event.StackId, ${JSON.stringify(other)});
      await answer(event, { Self, Other });
    };`, {}, t);
}

scenario('the simulator: a rename creates the new logical id, then deletes the old one in the cleanup phase; DescribeStackResource shows each status as it happens', async (w) => {
  const before = synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED });
  const after = synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }, 'Security/Imds');
  const [oldId, newId] = [before.resourceLogicalId, after.resourceLogicalId];
  const stack = w.stack();

  const create = await stack.create(describing(newId, before));
  expect(create.answer!.Data).toEqual({ Self: 'CREATE_IN_PROGRESS', Other: 'ValidationError' });

  const update = await stack.update(describing(oldId, after));
  expect(update.steps.map((s) => [s.step, s.answer?.Data])).toEqual([
    [`Create ${newId}`, { Self: 'CREATE_IN_PROGRESS', Other: 'CREATE_COMPLETE' }],
    [`Delete (cleanup) ${oldId}`, { Self: 'DELETE_IN_PROGRESS', Other: 'CREATE_COMPLETE' }],
  ]);
  expect(stepOf(update, 'Delete').cfnActions).toEqual(['DescribeStackResource', 'DescribeStackResource']);
  expect(stack.history).toEqual([
    'ImdsE2e CREATE_IN_PROGRESS', `${oldId} CREATE_IN_PROGRESS`, `${oldId} CREATE_COMPLETE`, 'ImdsE2e CREATE_COMPLETE',
    'ImdsE2e UPDATE_IN_PROGRESS', `${newId} CREATE_IN_PROGRESS`, `${newId} CREATE_COMPLETE`,
    'ImdsE2e UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', `${oldId} DELETE_IN_PROGRESS`, `${oldId} DELETE_COMPLETE`,
    'ImdsE2e UPDATE_COMPLETE', `${oldId} removed from the stack`,
  ]);

  // The old logical id is no longer in the stack; a move out leaves the stack without the resource.
  const moved = await stack.update(synthesizeWithoutImds());
  expect(moved.steps.map((s) => [s.step, s.answer?.Data])).toEqual([['Delete (cleanup)', { Self: 'DELETE_IN_PROGRESS', Other: 'ValidationError' }]]);
  expect(moved.stackStatus).toBe('UPDATE_COMPLETE');
});

scenario('the simulator: a stack deleted with a retained resource stays describable by its StackId, the resource DELETE_SKIPPED', async (w) => {
  const retained = w.stack({ name: 'Retained' });
  const t = synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, removalPolicy: RemovalPolicy.RETAIN });
  expect((await retained.create(describing(t.resourceLogicalId, t))).answer!.Data).toEqual({ Self: 'CREATE_IN_PROGRESS', Other: 'CREATE_IN_PROGRESS' });
  const del = await retained.delete();
  expect(del.event).toBeUndefined();
  expect(retained.status).toBe('DELETE_COMPLETE');

  const observer = w.stack({ name: 'Observer' });
  const create = await observer.create(describing(t.resourceLogicalId, synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }), retained.stackId));
  expect(create.answer!.Data).toEqual({ Self: 'CREATE_IN_PROGRESS', Other: 'DELETE_SKIPPED' });
});

scenario('the simulator: a failed Update, and an Update that another resource fails, roll back with old and new swapped', async (w) => {
  // Code that fails every Update to HttpTokens "optional".
  const code = (httpTokens: ImdsHttpTokens) => withCode(`exports.handler = async (event) => {
    if (event.RequestType === 'Update' && event.ResourceProperties.HttpTokens === 'optional') {
      const body = JSON.stringify({ Status: 'FAILED', Reason: 'no', PhysicalResourceId: event.PhysicalResourceId, StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId });
      await new Promise((resolve) => https.request(event.ResponseURL, { method: 'PUT', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', resolve); }).end(body));
      return;
    }
    await answer(event);
  };`, {}, synthesizeImds({ httpTokens }));
  const stack = w.stack();
  const id = code(ImdsHttpTokens.REQUIRED).resourceLogicalId;
  expect((await stack.create(code(ImdsHttpTokens.REQUIRED))).answer!.Status).toBe('SUCCESS');

  const update = await stack.update(code(ImdsHttpTokens.OPTIONAL));
  expect(update.answer!.Status).toBe('FAILED');
  expect(stack.status).toBe('UPDATE_ROLLBACK_IN_PROGRESS');
  expect(stack.resourceStatus(id)).toBe('UPDATE_FAILED');
  const rollback = await stack.rollback();
  expect(rollback.event).toMatchObject({ RequestType: 'Update', ResourceProperties: { HttpTokens: 'required' }, OldResourceProperties: { HttpTokens: 'optional' } });
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');

  const other = await stack.update(code(ImdsHttpTokens.NO_PREFERENCE), {}, { anotherResourceFails: 'SomeQueue' });
  expect(other.answer!.Status).toBe('SUCCESS');
  expect(stack.history.slice(-4)).toEqual([`${id} UPDATE_IN_PROGRESS`, `${id} UPDATE_COMPLETE`, 'SomeQueue UPDATE_FAILED', 'ImdsE2e UPDATE_ROLLBACK_IN_PROGRESS']);
  const back = await stack.rollback();
  expect(back.event).toMatchObject({ ResourceProperties: { HttpTokens: 'required' }, OldResourceProperties: { HttpTokens: 'no-preference' } });
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  expect(stack.resourceStatus(id)).toBe('UPDATE_COMPLETE');
});

scenario('the simulator: RetainResources is refused unless the stack is in DELETE_FAILED, as CloudFormation refuses it', async (w) => {
  const stack = w.stack();
  const t = withCode('exports.handler = async (event) => { await answer(event); };');
  await stack.create(t);
  await expect(stack.delete({ retainResources: [t.resourceLogicalId] })).rejects.toThrow(/RetainResources can only be specified when the stack is in the DELETE_FAILED state/);
});

/**
 * Code that answers with what CloudFormation shows while it waits (the runtime's
 * client-cloudformation): the stack's status (DescribeStacks), its own
 * resource's status and physical id (DescribeStackResource). Fails a Create
 * whose properties say Fail, with a marker physical id, and an Update to Fail.
 */
const SHOWING = `
  const { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand } = require('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({});
  const put = (event, body) => new Promise((resolve, reject) => {
    const text = JSON.stringify({ StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, ...body });
    const req = https.request(event.ResponseURL, { method: 'PUT', headers: { 'content-length': Buffer.byteLength(text) } }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(text);
  });
  exports.handler = async (event) => {
    const Stack = await cfn.send(new DescribeStacksCommand({ StackName: event.StackId })).then((o) => o.Stacks[0].StackStatus, (e) => e.name);
    const detail = await cfn.send(new DescribeStackResourceCommand({ StackName: event.StackId, LogicalResourceId: event.LogicalResourceId }))
      .then((o) => o.StackResourceDetail, (e) => ({ ResourceStatus: e.name }));
    const Data = { Stack, Self: detail.ResourceStatus, Physical: detail.PhysicalResourceId || '-', Type: detail.ResourceType || '-' };
    const physical = event.PhysicalResourceId || 'probe-' + event.LogicalResourceId;
    if (event.ResourceProperties.Fail === 'true' && event.RequestType !== 'Delete') {
      await put(event, { Status: 'FAILED', Reason: 'asked to fail', PhysicalResourceId: event.RequestType === 'Create' ? 'marker-' + event.RequestId : physical, Data });
      return;
    }
    await put(event, { Status: 'SUCCESS', PhysicalResourceId: physical, Data });
  };`;

scenario('the simulator: what DescribeStacks and DescribeStackResource show while each event waits (create, update, rollbacks, cleanups, delete), and a failed Create\'s marker id in its rollback Delete', async (w) => {
  const template = (fail: boolean, extra: Record<string, any> = {}) => probeTemplate(SHOWING, { probe: { Fail: String(fail) }, extra });
  const shown = (step: { answer?: { Data?: Record<string, unknown> } }) => step.answer!.Data;

  // A new stack whose Create fails: the rollback Delete sees ROLLBACK_IN_PROGRESS and the marker id.
  const failing = w.stack({ name: 'Failing' });
  const create = await failing.create(template(true));
  expect(shown(create)).toEqual({ Stack: 'CREATE_IN_PROGRESS', Self: 'CREATE_IN_PROGRESS', Physical: '-', Type: 'Custom::Probe' });
  expect(create.shown).toEqual({ stackStatus: 'CREATE_IN_PROGRESS', resourceType: 'Custom::Probe', resourceStatus: 'CREATE_IN_PROGRESS', physicalResourceId: undefined });
  const marker = `marker-${create.event!.RequestId}`;
  expect(create.answer!.PhysicalResourceId).toBe(marker);
  const rollback = await failing.rollback();
  expect(shown(rollback)).toEqual({ Stack: 'ROLLBACK_IN_PROGRESS', Self: 'DELETE_IN_PROGRESS', Physical: marker, Type: 'Custom::Probe' });
  expect(rollback.shown).toMatchObject({ stackStatus: 'ROLLBACK_IN_PROGRESS', resourceStatus: 'DELETE_IN_PROGRESS', physicalResourceId: marker });
  expect(failing.status).toBe('ROLLBACK_COMPLETE');

  // Another resource fails a new stack: the same.
  const other = w.stack({ name: 'Other' });
  await other.create(template(false), {}, { anotherResourceFails: 'Queue' });
  expect(shown(await other.rollback())).toEqual({ Stack: 'ROLLBACK_IN_PROGRESS', Self: 'DELETE_IN_PROGRESS', Physical: 'probe-Probe', Type: 'Custom::Probe' });

  const stack = w.stack();
  expect(shown(await stack.create(template(false)))).toMatchObject({ Stack: 'CREATE_IN_PROGRESS', Self: 'CREATE_IN_PROGRESS' });
  // A failed Update, and its rollback Update: UPDATE_IN_PROGRESS both times, with the physical id.
  const update = await stack.update(template(true));
  expect(shown(update)).toEqual({ Stack: 'UPDATE_IN_PROGRESS', Self: 'UPDATE_IN_PROGRESS', Physical: 'probe-Probe', Type: 'Custom::Probe' });
  expect(shown(await stack.rollback())).toEqual({ Stack: 'UPDATE_ROLLBACK_IN_PROGRESS', Self: 'UPDATE_IN_PROGRESS', Physical: 'probe-Probe', Type: 'Custom::Probe' });
  // An update that adds a resource, which another resource fails: its Delete in UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS.
  const added = { Added: { Type: 'Custom::Probe', Properties: { ServiceToken: { 'Fn::GetAtt': ['Fn', 'Arn'] }, Fail: 'false' } } };
  const adding = await stack.update(template(false, added), {}, { anotherResourceFails: 'Queue' });
  expect(shown(stepOf(adding, 'Create', 'Added'))).toMatchObject({ Stack: 'UPDATE_IN_PROGRESS', Self: 'CREATE_IN_PROGRESS', Physical: '-' });
  const cleanup = stepOf(await stack.rollback(), 'Delete', 'Added');
  expect(shown(cleanup)).toEqual({ Stack: 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', Self: 'DELETE_IN_PROGRESS', Physical: 'probe-Added', Type: 'Custom::Probe' });
  // The same update, succeeding; then the resource leaves the template: its Delete in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS.
  expectSuccess(stepOf(await stack.update(template(false, added)), 'Create', 'Added'));
  const removal = await stack.update(template(false));
  expect(shown(stepOf(removal, 'Delete', 'Added'))).toEqual({ Stack: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', Self: 'DELETE_IN_PROGRESS', Physical: 'probe-Added', Type: 'Custom::Probe' });
  expect(shown(await stack.delete())).toEqual({ Stack: 'DELETE_IN_PROGRESS', Self: 'DELETE_IN_PROGRESS', Physical: 'probe-Probe', Type: 'Custom::Probe' });
  // Deleted: describable by StackId.
  expect(stack.view('Probe')).toEqual({ stackStatus: 'DELETE_COMPLETE', resourceType: 'Custom::Probe', resourceStatus: 'DELETE_COMPLETE', physicalResourceId: 'probe-Probe' });
}, { timeoutMs: 90_000 });

scenario('forgeEvent(): a CloudFormation-shaped event sent by someone else, with the real fields by default or made-up ones, its answer collected; deliverLate(): an earlier event again', async (w) => {
  const stack = w.stack();
  const create = await stack.create(probeTemplate(SHOWING));
  expectSuccess(create);

  const forged = await stack.forgeEvent('Delete');
  expect(forged.event).toEqual({
    RequestType: 'Delete',
    ServiceToken: stack.functionOf().arn,
    ResponseURL: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+\/cloudformation-custom-resource-response-euwest1\//),
    StackId: stack.stackId,
    RequestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    LogicalResourceId: 'Probe',
    PhysicalResourceId: 'probe-Probe',
    ResourceType: 'Custom::Probe',
    ResourceProperties: create.event!.ResourceProperties,
  });
  expect(forged.shown).toEqual({ stackStatus: 'CREATE_COMPLETE', resourceType: 'Custom::Probe', resourceStatus: 'CREATE_COMPLETE', physicalResourceId: 'probe-Probe' });
  expect(forged.answer).toMatchObject({ Status: 'SUCCESS', Data: { Stack: 'CREATE_COMPLETE', Self: 'CREATE_COMPLETE' } });
  // Nothing changed in what CloudFormation holds.
  expect(stack.resourceStatus('Probe')).toBe('CREATE_COMPLETE');

  const madeUp = await stack.forgeEvent('Create', { LogicalResourceId: 'Ghost', PhysicalResourceId: undefined, ResourceProperties: { ServiceToken: 'x', Fail: 'true' } });
  expect(madeUp.event).not.toHaveProperty('PhysicalResourceId');
  expect(madeUp.shown).toEqual({ stackStatus: 'CREATE_COMPLETE', resourceType: undefined, resourceStatus: undefined, physicalResourceId: undefined });
  expect(madeUp.answer).toMatchObject({ Status: 'FAILED', LogicalResourceId: 'Ghost', Data: { Self: 'ValidationError' } });

  // The Create again, after CloudFormation stopped waiting: same RequestId and ResponseURL, the resource CREATE_COMPLETE.
  const late = await stack.deliverLate(create);
  expect(late.event).toBe(create.event);
  expect(late.answers).toHaveLength(1);
  expect(late.answer).toMatchObject({ RequestId: create.event!.RequestId, Data: { Self: 'CREATE_COMPLETE' } });
  expect(w.responses.answersFor(create.event!.RequestId)).toHaveLength(2);
  await expect(stack.deliverLate({ step: 'none', ec2Requests: [] } as any)).rejects.toThrow(/no event was sent/);
});

// --- What the harness adds for the drift guard and the instance upgrade: the
// --- CloudWatch and Auto Scaling endpoints, the function's environment, any
// --- custom resource type, ServiceTimeout, and EventBridge's invocations.

/** Inline code: `answer(event, data)` PUTs a SUCCESS; `ec2` is the runtime's EC2 client, reaching the local endpoint. */
const PRELUDE = `
  const { EC2Client, GetInstanceMetadataDefaultsCommand } = require('@aws-sdk/client-ec2');
  const ec2 = new EC2Client({});
  const https = require('https');
  const answer = (event, data) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ Status: 'SUCCESS', PhysicalResourceId: 'probe', StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, Data: data });
    const req = https.request(event.ResponseURL, { method: 'PUT', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(body);
  });`;

/** A function resource with this inline code. */
function fnResource(code: string, properties: Record<string, any> = {}) {
  return {
    Type: 'AWS::Lambda::Function',
    Properties: { Code: { ZipFile: `${PRELUDE}\n${code}` }, Handler: 'index.handler', Runtime: 'nodejs24.x', Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Timeout: 10, ...properties },
  };
}

const ROLE = {
  Type: 'AWS::IAM::Role',
  Properties: { AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } },
};

/** A hand-written template: the function Fn with `code`, the custom resource Probe it backs, `extra` resources and `outputs`. */
function probeTemplate(
  code: string, options: { readonly fn?: object; readonly probe?: object; readonly extra?: object; readonly outputs?: object } = {},
): StackTemplate {
  return readTemplate({
    Resources: {
      Role: ROLE,
      Fn: fnResource(code, options.fn),
      Probe: { Type: 'Custom::Probe', Properties: { ServiceToken: { 'Fn::GetAtt': ['Fn', 'Arn'] }, ...options.probe } },
      ...options.extra,
    },
    ...(options.outputs ? { Outputs: options.outputs } : {}),
  });
}

/** A rule targeting Fn, and the permission EventBridge needs to invoke it (as events.Rule with targets.LambdaFunction synthesizes them). */
function ruleTo(logicalId: string, properties: Record<string, any>, permission: Record<string, any> = {}): Record<string, any> {
  return {
    [logicalId]: { Type: 'AWS::Events::Rule', Properties: { State: 'ENABLED', Targets: [{ Arn: { 'Fn::GetAtt': ['Fn', 'Arn'] }, Id: 'Target0' }], ...properties } },
    [`${logicalId}Permission`]: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': ['Fn', 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [logicalId, 'Arn'] },
        ...permission,
      },
    },
  };
}

const SCHEDULE = ruleTo('Schedule', { ScheduleExpression: 'rate(1 hour)' });
const CLOUDTRAIL_PATTERN = {
  'source': ['aws.ec2'],
  'detail-type': ['AWS API Call via CloudTrail'],
  'detail': { eventSource: ['ec2.amazonaws.com'], eventName: ['ModifyInstanceMetadataDefaults'] },
};
const ON_CHANGE = ruleTo('OnChange', { EventPattern: CLOUDTRAIL_PATTERN });

/**
 * Code that answers CloudFormation events; any other event is logged (EVENT
 * and the invoked ARN) and reads the EC2 settings twice, or fails on `boom`, or
 * PUTs to the ResponseURL the event carries.
 */
const EVENT_PROBE = `
  exports.handler = async (event, context) => {
    if (event.RequestType && event.StackId) { await answer(event, {}); return; }
    console.log('EVENT ' + JSON.stringify({ event, arn: context.invokedFunctionArn }));
    if (event.boom) { throw new Error('boom'); }
    if (event.ResponseURL) { await answer(event, {}); return; }
    await ec2.send(new GetInstanceMetadataDefaultsCommand({}));
    await ec2.send(new GetInstanceMetadataDefaultsCommand({}));
  };`;

/** What EVENT_PROBE logged. */
function loggedEvent(run: FunctionRun): { event: Record<string, any>; arn: string } {
  const line = run.invocation.logs.split('\n').find((l) => l.includes('EVENT '));
  return JSON.parse(line!.slice(line!.indexOf('EVENT ') + 6));
}

scenario('the function gets its Environment.Variables resolved, and the runtime\'s CloudWatch and Auto Scaling clients reach the local endpoints by themselves', async (w) => {
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy', MetadataOptions: { HttpTokens: 'optional' } });
  const t = probeTemplate(`
    const { CloudWatchClient, PutMetricDataCommand } = require('@aws-sdk/client-cloudwatch');
    const { AutoScalingClient, DescribeLaunchConfigurationsCommand } = require('@aws-sdk/client-auto-scaling');
    exports.handler = async (event) => {
      await new CloudWatchClient({}).send(new PutMetricDataCommand({ Namespace: 'Probe', MetricData: [{ MetricName: 'Runs', Value: 1, Unit: 'Count' }] }));
      const lc = await new AutoScalingClient({}).send(new DescribeLaunchConfigurationsCommand({}));
      const env = {};
      for (const k of ['STACK_ID', 'ROLE_ARN', 'SUB', 'PLAIN', 'NUMBER', 'JOINED']) { env[k] = process.env[k]; }
      await answer(event, { ...env, LaunchConfigurations: lc.LaunchConfigurations.map((c) => c.LaunchConfigurationName).join(',') });
    };`, {
    fn: {
      Environment: {
        Variables: {
          STACK_ID: { Ref: 'AWS::StackId' },
          ROLE_ARN: { 'Fn::GetAtt': ['Role', 'Arn'] },
          SUB: { 'Fn::Sub': '${AWS::Region}/${Fn}/${!Literal}' },
          PLAIN: 'plain',
          NUMBER: 42,
          JOINED: { 'Fn::Join': [':', [{ Ref: 'AWS::AccountId' }, { 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] }]] },
        },
      },
    },
  });
  const stack = w.stack();
  const create = await stack.create(t);
  const fn = stack.functionOf();
  expectSuccess(create, {
    STACK_ID: stack.stackId,
    ROLE_ARN: expect.stringMatching(new RegExp(`^arn:aws:iam::${ACCOUNT}:role/ImdsE2e-Role-[A-Z0-9]{12}$`)) as any,
    SUB: `${REGION}/${fn.functionName}/\${Literal}`,
    PLAIN: 'plain',
    NUMBER: '42',
    JOINED: `${ACCOUNT}:b`,
    LaunchConfigurations: 'legacy',
  });
  expect(fn.environment).toMatchObject({ STACK_ID: stack.stackId, NUMBER: '42' });
  expect(create.cloudwatchActions).toEqual(['PutMetricData']);
  expect(create.autoscalingActions).toEqual(['DescribeLaunchConfigurations']);
  expect(w.cloudwatch.putMetricData(REGION, 'Probe').map((d) => d.MetricName)).toEqual(['Runs']);
  // Both clients came from the runtime's NODE_PATH.
  expect(Object.keys(create.invocation!.clients!)).toEqual(expect.arrayContaining(['client-ec2', 'client-cloudwatch', 'client-auto-scaling']));
});

scenario('any Custom:: type whose ServiceToken is a function of the template runs that function; t.resourceOf picks one type', async (w) => {
  const t = probeTemplate('exports.handler = async (event) => { await answer(event, { Who: "probe" }); };', {
    extra: {
      UpgradeFn: fnResource('exports.handler = async (event) => { await answer(event, { Who: event.ResourceType }); };'),
      Upgrade: { Type: INSTANCE_UPGRADE_TYPE, Properties: { ServiceToken: { 'Fn::GetAtt': ['UpgradeFn', 'Arn'] }, ServiceTimeout: 600 } },
    },
  });
  expect(t.resourceOf(INSTANCE_UPGRADE_TYPE)).toEqual({ logicalId: 'Upgrade', functionLogicalId: 'UpgradeFn', type: INSTANCE_UPGRADE_TYPE });
  expect(() => t.resourceLogicalId).toThrow(/expected one custom resource in the template, found 2: Probe \(Custom::Probe\), Upgrade \(Custom::ImdsInstanceUpgrade\)/);
  expect(() => t.resourceOf(CUSTOM_RESOURCE_TYPE)).toThrow(/expected one Custom::ImdsAccountDefaults in the template, found 0/);

  const stack = w.stack();
  const create = await stack.create(t);
  expect(create.steps.map((s) => [s.step, s.event!.ResourceType, s.answer!.Data])).toEqual([
    ['Create Probe', 'Custom::Probe', { Who: 'probe' }],
    ['Create Upgrade', INSTANCE_UPGRADE_TYPE, { Who: INSTANCE_UPGRADE_TYPE }],
  ]);
  expect(stepOf(create, 'Create', 'Upgrade').event!.ResourceProperties).toEqual({ ServiceToken: stack.functionOf({ functionLogicalId: 'UpgradeFn' }).arn, ServiceTimeout: '600' });
  expect(stack.functionOf({ resourceType: INSTANCE_UPGRADE_TYPE }).logicalId).toBe('UpgradeFn');
  expect((await stack.delete()).steps.map((s) => s.step)).toEqual(['Delete Upgrade', 'Delete Probe']);

  // A ServiceToken that is not a function of the template: the suite cannot run it.
  expect(() => readTemplate({ Resources: { X: { Type: 'Custom::X', Properties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:elsewhere' } } } }))
    .toThrow(/the ServiceToken of X \(Custom::X\) is "arn:aws:lambda:eu-west-1:123456789012:function:elsewhere", not the Arn of a function in this template/);
  expect(() => readTemplate({ Resources: { X: { Type: 'Custom::Imds.Upgrade', Properties: {} } } })).toThrow(/the resource type Custom::Imds\.Upgrade is invalid/);
});

scenario('an answer later than the resource\'s ServiceTimeout fails the step: CloudFormation has stopped waiting; a ServiceTimeout CloudFormation refuses is refused', async (w) => {
  const late = probeTemplate('exports.handler = async (event) => { await new Promise((r) => setTimeout(r, 1_300)); await answer(event, {}); };', { probe: { ServiceTimeout: 1 } });
  await expect(w.stack().create(late)).rejects.toThrow(/past the resource's ServiceTimeout of 1000 ms/);
  // The same answer within a longer ServiceTimeout passes.
  const inTime = probeTemplate('exports.handler = async (event) => { await new Promise((r) => setTimeout(r, 1_300)); await answer(event, {}); };', { probe: { ServiceTimeout: 2 } });
  expectSuccess(await w.stack({ name: 'InTime' }).create(inTime));

  for (const bad of [0, 3601, 1.5]) {
    const stack = w.stack({ name: `Bad${String(bad).replace('.', '')}` });
    await expect(stack.create(probeTemplate('exports.handler = async (event) => { await answer(event, {}); };', { probe: { ServiceTimeout: bad } })))
      .rejects.toThrow(new RegExp(`Probe: ServiceTimeout ${bad} is invalid: CloudFormation takes an integer from 1 to 3600`));
    expect(stack.status).toBe('NEW');
  }
});

scenario('every Fn::GetAtt of a custom resource reads the Data of its last Create or Update: a key the answer lacks fails the event, or the update that sends the resource no event', async (w) => {
  // Answers a Data key for each name in the property Keys.
  const code = 'exports.handler = async (event) => { await answer(event, Object.fromEntries(event.ResourceProperties.Keys.split(",").map((k) => [k, "x"]))); };';
  const reading = (keys: string, ...attributes: string[]) => probeTemplate(code, {
    probe: { Keys: keys },
    // Fn::GetAtt in an Output, and in Fn::Sub in another resource's properties.
    outputs: Object.fromEntries(attributes.slice(1).map((a) => [`Out${a}`, { Value: { 'Fn::GetAtt': ['Probe', a] } }])),
    fn: attributes.length > 0 ? { Description: { 'Fn::Sub': `reads \${Probe.${attributes[0]}}` } } : {},
  });
  expect(attributesRead(reading('A', 'A', 'B', 'C'), 'Probe')).toEqual(['A', 'B', 'C']);

  const stack = w.stack();
  expectSuccess(await stack.create(reading('A,B', 'A', 'B')), { A: 'x', B: 'x' });
  // An Update whose answer lacks a key the template reads.
  await expect(stack.update(reading('A', 'A', 'B')))
    .rejects.toThrow(/Update: the template reads Fn::GetAtt Probe\.B, which the Data \(A\) lacks: CloudFormation fails the stack \(CustomResource attribute error: Vendor response doesn't contain B key in object probe\)/);

  // No event (the properties are unchanged): the Data of the Create still answers for A and B, not for C.
  const kept = w.stack({ name: 'Kept' });
  expectSuccess(await kept.create(reading('A,B', 'A')));
  const outputOnly = await kept.update(reading('A,B', 'A', 'B'));
  expect(outputOnly.event).toBeUndefined();
  await expect(w.stack({ name: 'Added' }).create(reading('A,B', 'A', 'C'))).rejects.toThrow(/Create: the template reads Fn::GetAtt Probe\.C, which the Data \(A, B\) lacks/);
  await expect(kept.update(reading('A,B', 'A', 'C'))).rejects.toThrow(/Probe was sent no Update \(its properties are unchanged\): the template reads Fn::GetAtt Probe\.C, which the Data \(A, B\) lacks/);
});

scenario('rollback({ functionsLast }): the rollback Update carries the old properties to the function as the failed update left it', async (w) => {
  const version = (v: string) => probeTemplate(`exports.handler = async (event) => { await answer(event, { Code: "${v}", Keys: event.ResourceProperties.Keys }); };`, { probe: { Keys: v } });
  const back = async (name: string, functionsLast?: boolean) => {
    const stack = w.stack({ name });
    expectSuccess(await stack.create(version('v1')));
    expectSuccess(await stack.update(version('v2'), {}, { anotherResourceFails: 'SomeQueue' }), { Code: 'v2', Keys: 'v2' });
    const rollback = await stack.rollback(functionsLast === undefined ? undefined : { functionsLast });
    expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    // The next event is run by the function rolled back to.
    expect((await stack.delete()).answer).toMatchObject({ Status: 'SUCCESS', Data: { Code: 'v1' } });
    return rollback.answer!.Data;
  };
  expect(await back('OldCode')).toEqual({ Code: 'v1', Keys: 'v1' });
  expect(await back('OldCodeToo', false)).toEqual({ Code: 'v1', Keys: 'v1' });
  expect(await back('NewCode', true)).toEqual({ Code: 'v2', Keys: 'v1' });
});

scenario('CloudFormation refuses a template with a dangling reference; EventBridge could not invoke a function without a permission for the rule', async (w) => {
  const code = 'exports.handler = async (event) => { await answer(event, {}); };';
  await expect(w.stack().create(probeTemplate(code, { fn: { Environment: { Variables: { X: { Ref: 'Missing' }, Y: { 'Fn::Sub': '${Gone.Arn}' } } } } })))
    .rejects.toThrow(/unresolved references \(CloudFormation refuses the template\): Fn: Ref Missing; Fn: Fn::Sub Gone/);
  await expect(w.stack().create(probeTemplate(code, { extra: { Rule: { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'rate(1 hour)', Targets: [{ Arn: { 'Fn::GetAtt': ['Fn', 'Arn'] }, Id: 'T' }] } } } })))
    .rejects.toThrow(/Rule: no AWS::Lambda::Permission lets events\.amazonaws\.com invoke Fn from arn:aws:events:eu-west-1:123456789012:rule\/ImdsE2e-Rule-/);
  // A permission for another rule does not do.
  const other = ruleTo('Rule', { ScheduleExpression: 'rate(1 hour)' }, { SourceArn: 'arn:aws:events:eu-west-1:123456789012:rule/another' });
  await expect(w.stack().create(probeTemplate(code, { extra: other }))).rejects.toThrow(/Rule: no AWS::Lambda::Permission/);
  await expect(w.stack().create(probeTemplate(code, { extra: ruleTo('Rule', { ScheduleExpression: 'rate(1 hours)' }) })))
    .rejects.toThrow(/ScheduleExpression rate\(1 hours\) is invalid/);
  await expect(w.stack().create(probeTemplate(code, { extra: ruleTo('Rule', {}) }))).rejects.toThrow(/Rule: a rule needs a ScheduleExpression or an EventPattern/);
  expect(w.responses.attempts).toBe(0);
});

scenario('schedule(): the schedule rule\'s Scheduled Event reaches the function it targets, outside CloudFormation, with its EC2 calls counted', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(probeTemplate(EVENT_PROBE, { extra: { ...SCHEDULE, ...ON_CHANGE } })));
  expect(stack.rules().map((r) => [r.logicalId, r.scheduleRateMinutes, r.targets.map((tg) => tg.functionLogicalId)])).toEqual([
    ['Schedule', 60, ['Fn']], ['OnChange', undefined, ['Fn']],
  ]);

  const time = new Date('2026-11-27T16:00:00.123Z');
  const run = await stack.schedule({ time });
  expect(run.event).toEqual({
    'version': '0',
    'id': expect.stringMatching(/^[0-9a-f-]{36}$/),
    'detail-type': 'Scheduled Event',
    'source': 'aws.events',
    'account': ACCOUNT,
    'time': '2026-11-27T16:00:00Z',
    'region': REGION,
    'resources': [stack.ruleArn('Schedule')],
    'detail': {},
  });
  expect(loggedEvent(run)).toEqual({ event: run.event, arn: stack.functionOf().arn });
  expect(run).toMatchObject({ ruleLogicalId: 'Schedule', functionLogicalId: 'Fn', step: 'Schedule Schedule' });
  expect(run.answer).toBeUndefined();
  expect(run.invocation.outcome).toBe('returned');
  expect(run.ec2Actions).toEqual(['GetInstanceMetadataDefaults', 'GetInstanceMetadataDefaults']);
  expect(run.ec2Calls).toEqual({ GetInstanceMetadataDefaults: 2 });
  expect(run.invocation.handlerMs).toBeGreaterThan(0);
  expect(w.responses.attempts).toBe(1);

  // A disabled rule never fires.
  const disabled = w.stack({ name: 'Disabled' });
  expectSuccess(await disabled.create(probeTemplate(EVENT_PROBE, { extra: ruleTo('Schedule', { ScheduleExpression: 'rate(5 minutes)', State: 'DISABLED' }) })));
  await expect(disabled.schedule()).rejects.toThrow(/Schedule is DISABLED: EventBridge never fires it/);
  await expect(stack.schedule({ ruleLogicalId: 'OnChange' })).rejects.toThrow(/expected one schedule rule OnChange in the deployed template, found 0/);

  expectSuccess(await stack.delete());
  await expect(stack.schedule()).rejects.toThrow(/cannot list the rules of the stack in DELETE_COMPLETE/);
});

scenario('putEvent(): a CloudTrail event reaches the function through the rule whose pattern matches it; other events match no rule', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(probeTemplate(EVENT_PROBE, { extra: { ...SCHEDULE, ...ON_CHANGE } })));
  const callerArn = `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/alice`;
  const event = cloudTrailEvent({ account: stack.accountId, region: stack.region, callerArn, eventId: 'e-1', requestParameters: { ModifyInstanceMetadataDefaultsRequest: { HttpTokens: 'optional' } } });
  expect(event).toMatchObject({
    'source': 'aws.ec2',
    'detail-type': 'AWS API Call via CloudTrail',
    'account': ACCOUNT,
    'region': REGION,
    'detail': { eventSource: 'ec2.amazonaws.com', eventName: 'ModifyInstanceMetadataDefaults', eventID: 'e-1', awsRegion: REGION, userIdentity: { type: 'AssumedRole', arn: callerArn } },
  });

  const delivered = await stack.putEvent(event);
  expect(delivered.matched).toEqual(['OnChange']);
  expect(delivered.runs.map((r) => [r.step, r.ruleLogicalId])).toEqual([['Event via OnChange', 'OnChange']]);
  expect(loggedEvent(delivered.runs[0]).event).toEqual(event);

  // Forged or other events: no rule matches, nothing is invoked.
  for (const other of [
    { ...event, source: 'my.app' },
    { ...event, detail: { ...event.detail, eventName: 'ModifyInstanceMetadataOptions' } },
    { ...event, 'detail-type': 'Scheduled Event' },
  ]) {
    expect(await stack.putEvent(other)).toEqual({ matched: [], runs: [] });
  }
  await expect(stack.putEvent({ ...event, account: '210987654321' })).rejects.toThrow(/does not reach the default bus of 123456789012 in eu-west-1/);
});

scenario('invokeFunction(): any event, checked as Lambda would; a PUT to a ResponseURL or an unexpected outcome fails the call', async (w) => {
  const stack = w.stack();
  const t = probeTemplate(EVENT_PROBE, { extra: { Other: fnResource('exports.handler = async () => {};') } });
  expectSuccess(await stack.create(t));
  await expect(stack.invokeFunction({ hello: 1 })).rejects.toThrow(/the deployed template has 2 functions \(Fn, Other\): say which/);

  const run = await stack.invokeFunction({ hello: 1 }, { resourceType: 'Custom::Probe' });
  expect(loggedEvent(run).event).toEqual({ hello: 1 });
  expect(run).toMatchObject({ step: 'Invoke Fn', functionLogicalId: 'Fn', ec2Calls: { GetInstanceMetadataDefaults: 2 } });
  expect((await stack.invokeFunction({}, { functionLogicalId: 'Other', label: 'quiet' })).ec2Actions).toEqual([]);

  await expect(stack.invokeFunction({ boom: true }, { functionLogicalId: 'Fn' })).rejects.toThrow(/the invocation ended error, expected returned[\s\S]*Error: boom/);
  const failed = await stack.invokeFunction({ boom: true }, { functionLogicalId: 'Fn', outcomes: ['error'] });
  expect(failed.invocation.error).toMatch(/boom/);

  // A forged event carrying a live ResponseURL: a function that answers it fails the call.
  const { url } = w.responses.issue({ stackId: stack.stackId, requestId: 'forged', logicalResourceId: 'Probe', region: REGION });
  await expect(stack.invokeFunction({ ResponseURL: url, StackId: stack.stackId, RequestId: 'forged', LogicalResourceId: 'Probe' }, { functionLogicalId: 'Fn' }))
    .rejects.toThrow(/sent 1 request\(s\) to a ResponseURL outside a CloudFormation event/);
});

test('matchesPattern: the EventBridge operators the suite implements, and a refusal for the others', () => {
  const event = cloudTrailEvent({ account: ACCOUNT, region: REGION, callerArn: 'arn:aws:iam::123456789012:user/bob', time: new Date('2026-01-01T00:00:00Z') });
  const cases: Array<[Record<string, any>, boolean]> = [
    [CLOUDTRAIL_PATTERN, true],
    [{ source: ['aws.ec2', 'aws.events'] }, true],
    [{ source: ['aws.events'] }, false],
    [{ detail: { eventName: [{ prefix: 'ModifyInstance' }] } }, true],
    [{ detail: { eventName: [{ prefix: 'Describe' }] } }, false],
    [{ detail: { eventName: [{ suffix: 'Defaults' }] } }, true],
    [{ detail: { eventName: [{ 'anything-but': ['ModifyInstanceMetadataDefaults'] }] } }, false],
    [{ detail: { eventName: [{ 'anything-but': 'RunInstances' }] } }, true],
    [{ detail: { eventName: [{ 'anything-but': { prefix: 'Modify' } }] } }, false],
    [{ detail: { errorCode: [{ exists: false }] } }, true],
    [{ detail: { errorCode: [{ exists: true }] } }, false],
    [{ detail: { userIdentity: { type: ['IAMUser'] } } }, true],
    [{ detail: { userIdentity: ['IAMUser'] } }, false],
    [{ detail: { eventSource: [{ 'equals-ignore-case': 'EC2.amazonaws.com' }] } }, true],
    [{ detail: { managementEvent: [true] } }, true],
    [{ detail: { requestParameters: [null] } }, true],
    [{ resources: [{ exists: false }] }, false],
    [{ missing: ['x'] }, false],
    [{ $or: [{ source: ['aws.events'] }, { detail: { eventName: ['ModifyInstanceMetadataDefaults'] } }] }, true],
    [{ $or: [{ source: ['aws.events'] }, { account: ['0'] }] }, false],
  ];
  expect(cases.map(([p]) => matchesPattern(p, event))).toEqual(cases.map(([, m]) => m));
  // Arrays in the event: any element matches.
  expect(matchesPattern({ resources: ['arn:b'] }, { resources: ['arn:a', 'arn:b'] })).toBe(true);
  expect(matchesPattern({ n: [{ numeric: ['>', 0, '<=', 5] }] }, { n: 5 })).toBe(true);
  expect(matchesPattern({ n: [{ numeric: ['>', 0, '<=', 5] }] }, { n: 6 })).toBe(false);
  expect(matchesPattern({ n: [5] }, { n: '5' })).toBe(false);
  expect(() => matchesPattern({ source: [{ wildcard: 'aws.*' }] }, event)).toThrow(/operator wildcard is not implemented/);
  expect(() => matchesPattern({ source: 'aws.ec2' }, event)).toThrow(/the values of an event pattern are arrays or objects/);
  expect(() => matchesPattern({ source: [] }, event)).toThrow(/an empty array matches nothing/);
});

test('scheduleRateMinutes: rates and crons as EventBridge validates them', () => {
  expect(['rate(1 minute)', 'rate(5 minutes)', 'rate(1 hour)', 'rate(2 days)', 'cron(0 12 * * ? *)'].map(scheduleRateMinutes)).toEqual([1, 5, 60, 2880, undefined]);
  for (const bad of ['rate(1 minutes)', 'rate(2 hour)', 'rate(0 minutes)', 'rate(1 week)', 'cron(0 12 * * ?)', 'every hour']) {
    expect(() => scheduleRateMinutes(bad)).toThrow(/is invalid/);
  }
});

test('the timings: calls per service and EC2 calls by action in the table; every row appended as JSON to E2E_TIMINGS_FILE', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-e2e-timings-'));
  const file = path.join(dir, 'rows.jsonl');
  const previous = process.env.E2E_TIMINGS_FILE;
  process.env.E2E_TIMINGS_FILE = file;
  try {
    const recorder = new TimingRecorder();
    recorder.add({ scenario: 's', step: 'Schedule Rule', sdk: 'current', handlerMs: 12.4, calls: '3/0/0/1/0', ec2Calls: { DescribeInstances: 2, ModifyInstanceMetadataOptions: 1 }, status: 'returned' });
    const table = recorder.format('title');
    expect(table).toMatch(/calls ec2\/ssm\/cfn\/cw\/asg/);
    expect(table).toMatch(/Schedule Rule .* 12 ms .* 3\/0\/0\/1\/0 {2}returned {2}DescribeInstances 2, ModifyInstanceMetadataOptions 1/);
    const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toEqual([expect.objectContaining({ step: 'Schedule Rule', handlerMs: 12.4, ec2Calls: { DescribeInstances: 2, ModifyInstanceMetadataOptions: 1 }, file: expect.stringMatching(/harness\.test\.ts$/) })]);
  } finally {
    if (previous === undefined) {
      delete process.env.E2E_TIMINGS_FILE;
    } else {
      process.env.E2E_TIMINGS_FILE = previous;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the library\'s own templates read as the harness expects: both custom resource types, each rule with its function target and permission, every reference resolved', () => {
  const both = synthesize((stack) => {
    new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REAPPLY });
    new ImdsInstanceUpgrade(stack, 'Upgrade', { interval: Duration.hours(6) });
  });
  const stackSet = synthesizeStackSet({
    target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }), httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REPORT_ONLY, instanceUpgrade: {},
  });
  // Every attribute of both constructs is read in an Output (synthesize()): each Create and Update answer must hold these keys.
  expect(attributesRead(both, both.resourceOf(CUSTOM_RESOURCE_TYPE).logicalId)).toEqual([
    'Applied', 'HttpEndpoint', 'HttpPutResponseHopLimit', 'HttpTokens', 'HttpTokensEnforced', 'InstanceMetadataTags',
    'InstancesAllowingImdsv1Count', 'LaunchConfigurationsAllowingImdsv1Count', 'LaunchTemplatesAllowingImdsv1Count', 'ManagedBy', 'ReadinessCheckResult',
  ]);
  expect(attributesRead(both, both.resourceOf(INSTANCE_UPGRADE_TYPE).logicalId)).toEqual([
    'Candidates', 'Eligible', 'Excluded', 'Failed', 'InUse', 'Pending', 'TooLittleData', 'Unknown', 'Upgraded',
  ]);
  const ctx = { account: ACCOUNT, stackName: 'ImdsE2e', stackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/ImdsE2e/x`, region: REGION };
  const trail = cloudTrailEvent({ account: ACCOUNT, region: REGION, callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/alice` });
  for (const [t, parameters] of [[both, {}], [stackSet.template, stackSet.parameters]] as const) {
    checkReferences(t);
    expect(t.customResources.map((r) => r.type)).toEqual([CUSTOM_RESOURCE_TYPE, INSTANCE_UPGRADE_TYPE]);
    const found = rules(t, { ...ctx, parameters });
    const target = (type: string) => [t.resourceOf(type).functionLogicalId];
    const summary = found.map((r) => ({
      schedule: r.scheduleRateMinutes,
      trail: r.eventPattern ? matchesPattern(r.eventPattern, trail) : undefined,
      targets: r.targets.map((tg) => tg.functionLogicalId),
    }));
    expect(summary).toEqual([
      { schedule: 60, trail: undefined, targets: target(CUSTOM_RESOURCE_TYPE) },
      { schedule: undefined, trail: true, targets: target(CUSTOM_RESOURCE_TYPE) },
      { schedule: t === both ? 360 : 1440, trail: undefined, targets: target(INSTANCE_UPGRADE_TYPE) },
    ]);
    // A forged event (another source) matches no rule.
    expect(found.filter((r) => r.eventPattern && matchesPattern(r.eventPattern, { ...trail, source: 'my.app' }))).toEqual([]);
    // The drift guard finds its own claim from its environment.
    expect(functionConfig(t, t.resourceOf(CUSTOM_RESOURCE_TYPE).functionLogicalId, { ...ctx, parameters }).environment)
      .toMatchObject({ IMDS_STACK_ID: ctx.stackId, IMDS_LOGICAL_ID: t.resourceOf(CUSTOM_RESOURCE_TYPE).logicalId });
  }
});

scenario('the shipped functions side by side in one stack: each custom resource runs its own function, each rule reaches its own', async (w) => {
  const t = synthesize((stack) => {
    new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REPORT_ONLY });
    new ImdsInstanceUpgrade(stack, 'Upgrade', {});
  });
  const stack = w.stack();
  const create = await stack.create(t);
  expect(create.steps.map((s) => [s.event!.ResourceType, s.answer!.Status, s.answer!.PhysicalResourceId])).toEqual([
    // The account defaults' physical id carries each managed field's value before the Create.
    [CUSTOM_RESOURCE_TYPE, 'SUCCESS', `ImdsAccountDefaults:${ACCOUNT}:${REGION}:HttpTokens=no-preference`],
    [INSTANCE_UPGRADE_TYPE, 'SUCCESS', `ImdsInstanceUpgrade:${ACCOUNT}:${REGION}`],
  ]);
  // The upgrade lists the (empty) fleet and puts its metrics; the account defaults do not.
  expect(stepOf(create, 'Create', t.resourceOf(INSTANCE_UPGRADE_TYPE).logicalId).ec2Actions).toContain('DescribeInstances');
  expect(stepOf(create, 'Create', t.resourceOf(CUSTOM_RESOURCE_TYPE).logicalId).ec2Actions).not.toContain('DescribeInstances');

  const [driftSchedule, , upgradeSchedule] = stack.rules();
  const drift = await stack.schedule({ ruleLogicalId: driftSchedule.logicalId });
  expect(drift.functionLogicalId).toBe(t.resourceOf(CUSTOM_RESOURCE_TYPE).functionLogicalId);
  expect(drift.ec2Actions).toContain('GetInstanceMetadataDefaults');
  expect(drift.ec2Actions).not.toContain('DescribeInstances');
  const upgrade = await stack.schedule({ ruleLogicalId: upgradeSchedule.logicalId });
  expect(upgrade.functionLogicalId).toBe(t.resourceOf(INSTANCE_UPGRADE_TYPE).functionLogicalId);
  expect(upgrade.ec2Actions).toContain('DescribeInstances');
  expect(upgrade.ec2Actions).not.toContain('GetInstanceMetadataDefaults');

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

scenario('a failed asynchronous invocation is retried as Lambda retries it: MaximumRetryAttempts of the EventInvokeConfig, else twice', async (w) => {
  const failing = `exports.handler = async (event) => {
    if (event.RequestType) { await answer(event, {}); return; }
    await ec2.send(new GetInstanceMetadataDefaultsCommand({}));
    throw new Error('scheduled run failed');
  };`;
  const byDefault = w.stack();
  expectSuccess(await byDefault.create(probeTemplate(failing, { extra: SCHEDULE })));
  const run = await byDefault.schedule({ outcomes: ['error'] });
  expect([run, ...run.retries!].map((r) => [r.step, r.invocation.outcome])).toEqual([
    ['Schedule Schedule', 'error'], ['Schedule Schedule (Lambda\'s retry 1)', 'error'], ['Schedule Schedule (Lambda\'s retry 2)', 'error'],
  ]);
  expect(w.ec2.requestsOf('GetInstanceMetadataDefaults')).toHaveLength(3);

  const once = w.stack({ name: 'Once' });
  const config = (attempts: number, qualifier = '$LATEST') => ({
    Type: 'AWS::Lambda::EventInvokeConfig', Properties: { FunctionName: { Ref: 'Fn' }, Qualifier: qualifier, MaximumRetryAttempts: attempts },
  });
  expectSuccess(await once.create(probeTemplate(failing, { extra: { ...SCHEDULE, Config: config(1), Other: config(0, 'live') } })));
  expect((await once.schedule({ outcomes: ['error'] })).retries).toHaveLength(1);

  const never = w.stack({ name: 'Never' });
  expectSuccess(await never.create(probeTemplate(failing, { extra: { ...SCHEDULE, Config: config(0) } })));
  expect((await never.schedule({ outcomes: ['error'] })).retries).toEqual([]);
  // Without `outcomes`, a failed run fails the test.
  await expect(never.schedule()).rejects.toThrow(/the invocation ended error, expected returned[\s\S]*scheduled run failed/);
});
