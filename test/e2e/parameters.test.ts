/**
 * End-to-end: values known only at deploy time. The stack takes a setting from
 * a CloudFormation parameter (a token at synth, so the construct cannot check
 * it); CloudFormation resolves it and delivers it as a string, and the shipped
 * handler must reject a bad value before any EC2 write.
 */
import { CfnParameter } from 'aws-cdk-lib';
import { REGION, expectFailed, expectSuccess, scenario } from './harness/scenario';
import { synthesize } from './harness/template';
import { ImdsAccountDefaults, ImdsHttpTokens } from '../../src';

/** A stack whose hop limit is the Number parameter HopLimit. */
const hopLimitFromParameter = () => synthesize((stack) => {
  const hop = new CfnParameter(stack, 'HopLimit', { type: 'Number' });
  new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: hop.valueAsNumber });
});

/** A stack whose HttpTokens is the String parameter Tokens. */
const tokensFromParameter = () => synthesize((stack) => {
  const tokens = new CfnParameter(stack, 'Tokens', { type: 'String' });
  new ImdsAccountDefaults(stack, 'Imds', { httpTokens: tokens.valueAsString as ImdsHttpTokens });
});

scenario('a hop limit out of range, known only from a parameter at deploy time: FAILED, no EC2 write, the rollback Delete does nothing', async (w) => {
  w.ec2.setState(REGION, { HttpPutResponseHopLimit: 1 });
  const stack = w.stack();

  const create = await stack.create(hopLimitFromParameter(), { HopLimit: '65' });
  expect(create.event!.ResourceProperties.HttpPutResponseHopLimit).toBe('65');
  expectFailed(create, /HttpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got "65"/);
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({ HttpPutResponseHopLimit: 1 });

  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpPutResponseHopLimit: 1 });
});

scenario('an HttpTokens value in the wrong case, from a parameter: FAILED, no EC2 write', async (w) => {
  const stack = w.stack();
  const create = await stack.create(tokensFromParameter(), { Tokens: 'REQUIRED' });
  expectFailed(create, /HttpTokens must be one of "optional", "required", "no-preference"; got "REQUIRED"/);
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({});
  expectSuccess(await stack.delete());
});

scenario('a parameter change that fails on update is rolled back with the old value', async (w) => {
  const stack = w.stack();
  const template = hopLimitFromParameter();

  expectSuccess(await stack.create(template, { HopLimit: '2' }), { HttpPutResponseHopLimit: '2' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });

  const update = await stack.update(template, { HopLimit: '0' });
  expectFailed(update, /got "0"/);
  expect(update.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });

  // CloudFormation's rollback Update: the failed value is now the old one, and must not fail the rollback.
  const rollback = await stack.rollback();
  expect(rollback.event).toMatchObject({ ResourceProperties: { HttpPutResponseHopLimit: '2' }, OldResourceProperties: { HttpPutResponseHopLimit: '0' } });
  expectSuccess(rollback, { HttpPutResponseHopLimit: '2' });
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });

  expectSuccess(await stack.update(template, { HopLimit: '-1' }), { HttpPutResponseHopLimit: '-1' });
  expect(w.state()).toEqual({ HttpTokens: 'required' });

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

scenario('CloudFormation itself refuses a value that is not a number for a Number parameter: no event is sent', async (w) => {
  const stack = w.stack();
  await expect(stack.create(hopLimitFromParameter(), { HopLimit: 'two' })).rejects.toThrow(/Parameter 'HopLimit' must be a number/);
  expect(w.ec2.requests).toEqual([]);
});
