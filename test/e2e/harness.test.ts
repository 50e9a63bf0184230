/**
 * The harness checks itself: what Lambda and CloudFormation would do to a
 * handler that misbehaves. Each case swaps the function's inline code (and
 * Timeout) in a synthesized template for a few lines of its own.
 */
import { scenario } from './harness/scenario';
import { StackTemplate, synthesizeImds } from './harness/template';
import { HttpTokens } from '../../src';

/** The template with other inline code (`answer(event)` PUTs a SUCCESS) and, optionally, another Timeout or Runtime. */
function withCode(body: string, overrides: { Timeout?: number; Runtime?: string } = {}): StackTemplate {
  const t = synthesizeImds({ httpTokens: HttpTokens.REQUIRED });
  const fn = t.template.Resources[t.functionLogicalId].Properties;
  fn.Code.ZipFile = `
    require('@aws-sdk/client-ec2');
    const https = require('https');
    const answer = (event) => new Promise((resolve, reject) => {
      const body = JSON.stringify({ Status: 'SUCCESS', PhysicalResourceId: 'test', StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId });
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
