/**
 * End-to-end: the template ImdsAccountDefaultsStackSet embeds as TemplateBody,
 * run as one stack instance (one account and Region) through Create, Update and
 * Delete, with the StackSet's parameters and a stack instance's overrides, and in
 * an account governed by a declarative policy. It is the exact TemplateBody
 * string, parsed: what CloudFormation StackSets would deploy.
 */
import { REGION, expectFailed, expectSuccess, scenario } from './harness/scenario';
import { synthesizeStackSet } from './harness/template';
import { HttpTokens, HttpTokensEnforced, ImdsAccountDefaultsStackSetProps } from '../../src';

const TARGETS = { organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] };

/** The StackSet's TemplateBody, as a stack template the harness runs, and the StackSet's own parameter values. */
function stackSetTemplate(props: Omit<ImdsAccountDefaultsStackSetProps, 'organizationalUnitIds' | 'regions'>) {
  return synthesizeStackSet({ ...TARGETS, ...props });
}

scenario('a stack instance of the StackSet: create, update, delete apply, change and reset the settings', async (w) => {
  const stack = w.stack();

  const v1 = stackSetTemplate({ httpTokens: HttpTokens.REQUIRED, httpPutResponseHopLimit: 2 });
  expect(v1.parameters).toEqual({});
  expectSuccess(await stack.create(v1.template), { HttpTokens: 'required', HttpPutResponseHopLimit: '2', ManagedBy: 'account', Applied: 'true' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });

  const v2 = stackSetTemplate({ httpTokens: HttpTokens.REQUIRED, httpTokensEnforced: HttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 2 });
  expectSuccess(await stack.update(v2.template), { HttpTokensEnforced: 'enabled', Applied: 'true' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

scenario('settings as StackSet parameters: the StackSet\'s values, then an OU\'s override, then back', async (w) => {
  const stack = w.stack();
  const { template, parameters } = stackSetTemplate({
    httpTokens: HttpTokens.REQUIRED,
    httpTokensEnforced: HttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
    settingsAsParameters: true,
  });
  expect(parameters).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' });

  const create = await stack.create(template, parameters);
  expectSuccess(create, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' });
  expect(create.event!.ResourceProperties).toMatchObject({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

  // A stack instance parameter override, as addStackInstances({ settingOverrides }) writes it.
  const overridden = { ...parameters, HttpTokens: 'optional', HttpTokensEnforced: 'disabled' };
  expectSuccess(await stack.update(template, overridden), { HttpTokens: 'optional', HttpTokensEnforced: 'disabled' });
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpTokensEnforced: 'disabled', HttpPutResponseHopLimit: 2 });

  expectSuccess(await stack.update(template, parameters));
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

scenario('settings as StackSet parameters: a bad value from outside the code is refused before any EC2 write', async (w) => {
  const stack = w.stack();
  const { template, parameters } = stackSetTemplate({ httpTokens: HttpTokens.REQUIRED, httpPutResponseHopLimit: 2, settingsAsParameters: true });

  // AllowedValues: CloudFormation refuses it and sends no event.
  await expect(stack.create(template, { ...parameters, HttpTokens: 'REQUIRED' })).rejects.toThrow(/Parameter 'HttpTokens' failed to satisfy constraint/);
  expect(w.ec2.requests).toEqual([]);

  // AllowedPattern (not emulated by the harness; CloudFormation would refuse it too): the handler is the backstop.
  const create = await stack.create(template, { ...parameters, HttpPutResponseHopLimit: '0' });
  expectFailed(create, /HttpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got "0"/);
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({});
  expectSuccess(await stack.delete());
});

scenario('an account governed by a declarative policy: with skipIfManagedByDeclarativePolicy the stack instance succeeds without changes', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  w.ec2.setDeclarativePolicy(REGION, 'IMDS is managed by the organization');
  const stack = w.stack();
  const { template } = stackSetTemplate({ httpTokens: HttpTokens.REQUIRED, httpPutResponseHopLimit: 2, skipIfManagedByDeclarativePolicy: true });

  const create = await stack.create(template);
  expectSuccess(create, { ManagedBy: 'declarative-policy', Applied: 'false' });
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({ HttpTokens: 'required' });
});

scenario('an account governed by a declarative policy: without the opt-in the stack instance fails with the policy\'s message', async (w) => {
  w.ec2.setDeclarativePolicy(REGION, 'IMDS is managed by the organization');
  const stack = w.stack();
  const { template } = stackSetTemplate({ httpTokens: HttpTokens.REQUIRED });

  const create = await stack.create(template);
  expectFailed(create, /declarative policy.*"IMDS is managed by the organization".*skipIfManagedByDeclarativePolicy/);
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expectSuccess(await stack.delete());
});
