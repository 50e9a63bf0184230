/**
 * The harness checks itself: what Lambda and CloudFormation would do to a
 * handler that misbehaves, and what the CloudFormation simulator shows a
 * handler while it runs (the statuses DescribeStackResource answers, the order
 * of the events). Each case swaps the function's inline code (and Timeout) in a
 * synthesized template for a few lines of its own.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { stepOf } from './harness/cloudformation';
import { scenario } from './harness/scenario';
import { StackTemplate, synthesizeImds, synthesizeWithoutImds } from './harness/template';
import { HttpTokens } from '../../src';

/**
 * The template (by default one ImdsAccountDefaults at Imds) with other inline
 * code (`answer(event, data)` PUTs a SUCCESS) and, optionally, another Timeout or Runtime.
 */
function withCode(
  body: string,
  overrides: { Timeout?: number; Runtime?: string } = {},
  t: StackTemplate = synthesizeImds({ httpTokens: HttpTokens.REQUIRED }),
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
  const before = synthesizeImds({ httpTokens: HttpTokens.REQUIRED });
  const after = synthesizeImds({ httpTokens: HttpTokens.REQUIRED }, 'Security/Imds');
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
  const t = synthesizeImds({ httpTokens: HttpTokens.REQUIRED, removalPolicy: RemovalPolicy.RETAIN });
  expect((await retained.create(describing(t.resourceLogicalId, t))).answer!.Data).toEqual({ Self: 'CREATE_IN_PROGRESS', Other: 'CREATE_IN_PROGRESS' });
  const del = await retained.delete();
  expect(del.event).toBeUndefined();
  expect(retained.status).toBe('DELETE_COMPLETE');

  const observer = w.stack({ name: 'Observer' });
  const create = await observer.create(describing(t.resourceLogicalId, synthesizeImds({ httpTokens: HttpTokens.REQUIRED }), retained.stackId));
  expect(create.answer!.Data).toEqual({ Self: 'CREATE_IN_PROGRESS', Other: 'DELETE_SKIPPED' });
});

scenario('the simulator: a failed Update, and an Update that another resource fails, roll back with old and new swapped', async (w) => {
  // Code that fails every Update to HttpTokens "optional".
  const code = (httpTokens: HttpTokens) => withCode(`exports.handler = async (event) => {
    if (event.RequestType === 'Update' && event.ResourceProperties.HttpTokens === 'optional') {
      const body = JSON.stringify({ Status: 'FAILED', Reason: 'no', PhysicalResourceId: event.PhysicalResourceId, StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId });
      await new Promise((resolve) => https.request(event.ResponseURL, { method: 'PUT', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', resolve); }).end(body));
      return;
    }
    await answer(event);
  };`, {}, synthesizeImds({ httpTokens }));
  const stack = w.stack();
  const id = code(HttpTokens.REQUIRED).resourceLogicalId;
  expect((await stack.create(code(HttpTokens.REQUIRED))).answer!.Status).toBe('SUCCESS');

  const update = await stack.update(code(HttpTokens.OPTIONAL));
  expect(update.answer!.Status).toBe('FAILED');
  expect(stack.status).toBe('UPDATE_ROLLBACK_IN_PROGRESS');
  expect(stack.resourceStatus(id)).toBe('UPDATE_FAILED');
  const rollback = await stack.rollback();
  expect(rollback.event).toMatchObject({ RequestType: 'Update', ResourceProperties: { HttpTokens: 'required' }, OldResourceProperties: { HttpTokens: 'optional' } });
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');

  const other = await stack.update(code(HttpTokens.NO_PREFERENCE), {}, { anotherResourceFails: 'SomeQueue' });
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
