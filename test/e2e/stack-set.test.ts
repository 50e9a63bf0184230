/**
 * End-to-end: the template ImdsAccountDefaultsStackSet embeds as TemplateBody,
 * run as one stack instance (one account and Region) through Create, Update and
 * Delete, with the StackSet's parameters (every setting is one) and a stack
 * instance group's overrides as addStackInstances writes them, and in an
 * account governed by a declarative policy. It is the exact TemplateBody
 * string, parsed: what CloudFormation StackSets would deploy.
 *
 * By default (`memberRemovalPolicy` RETAIN) a stack instance's custom resource
 * has DeletionPolicy Retain and the property `Retained: true`: deleting the
 * stack instance sends it no Delete, the settings stay and its claim says
 * retained. The scenarios about what a Delete does (reset) choose
 * `memberRemovalPolicy: RemovalPolicy.DESTROY` and say so in their names.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudFormationStack } from './harness/cloudformation';
import { REGION, World, expectFailed, expectSuccess, scenario } from './harness/scenario';
import { readTemplate, synthesizeImds, synthesizeStackSet } from './harness/template';
import {
  ImdsAccountDefaultsStackSet,
  ImdsAccountDefaultsStackSetProps,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsSettings,
  ImdsStackSetTarget,
} from '../../src';

const TARGET = ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] });

/** The StackSet's TemplateBody, as a stack template the harness runs, and the StackSet's own parameter values. */
function stackSetTemplate(props: Omit<ImdsAccountDefaultsStackSetProps, 'target'>) {
  return synthesizeStackSet({ target: TARGET, ...props });
}

/**
 * A StackSet with a second stack instance group that overrides some settings
 * (addStackInstances): its TemplateBody, and the parameters of a stack instance
 * of each group, as CloudFormation gives them (the StackSet's values, with the
 * group's overrides on top), read from the StackSet resource the construct wrote.
 */
function stackSetWithOverrides(props: Omit<ImdsAccountDefaultsStackSetProps, 'target'>, overrides: ImdsSettings) {
  const stack = new Stack(new App(), 'Org');
  const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', { target: TARGET, ...props });
  stackSet.addStackInstances(ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-legacy01'], regions: [REGION] }), overrides);
  const resources = Template.fromStack(stack).findResources('AWS::CloudFormation::StackSet');
  const properties = Object.values(resources)[0].Properties;
  const toRecord = (list: Array<{ ParameterKey: string; ParameterValue: string }> = []) =>
    Object.fromEntries(list.map((p) => [p.ParameterKey, p.ParameterValue]));
  const parameters = toRecord(properties.Parameters);
  return {
    template: readTemplate(JSON.parse(stackSet.templateBody)),
    parameters,
    overridden: { ...parameters, ...toRecord(properties.StackInstancesGroup[1].ParameterOverrides) },
  };
}

scenario('a stack instance of a StackSet with memberRemovalPolicy DESTROY: create, update, delete apply, change and reset the settings', async (w) => {
  const stack = w.stack();
  // DESTROY, not the default (RETAIN): the point is the Delete that resets.
  const memberRemovalPolicy = RemovalPolicy.DESTROY;

  const v1 = stackSetTemplate({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2, memberRemovalPolicy });
  // Every setting is a parameter: the StackSet passes its values.
  expect(v1.parameters).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: '2' });
  const create = await stack.create(v1.template, v1.parameters);
  expectSuccess(create, { HttpTokens: 'required', HttpPutResponseHopLimit: '2', ManagedBy: 'account', Applied: 'true' });
  expect(create.event!.ResourceProperties.Retained).toBeUndefined();
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });

  const v2 = stackSetTemplate({
    httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 2, memberRemovalPolicy,
  });
  expectSuccess(await stack.update(v2.template, v2.parameters), { HttpTokensEnforced: 'enabled', Applied: 'true' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

  const del = await stack.delete();
  expectSuccess(del);
  expect(del.requestType).toBe('Delete');
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
});

scenario('the StackSet\'s values, then a group\'s overrides as addStackInstances writes them, then back', async (w) => {
  const stack = w.stack();
  const { template, parameters, overridden } = stackSetWithOverrides({
    httpTokens: ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
  }, { httpTokens: ImdsHttpTokens.OPTIONAL, httpTokensEnforced: ImdsHttpTokensEnforced.DISABLED });
  expect(parameters).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' });
  expect(overridden).toEqual({ HttpTokens: 'optional', HttpTokensEnforced: 'disabled', HttpPutResponseHopLimit: '2' });

  const create = await stack.create(template, parameters);
  expectSuccess(create, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' });
  // memberRemovalPolicy left out: retained by default.
  expect(create.event!.ResourceProperties).toMatchObject({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2', Retained: 'true' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

  // The account's stack instance moves into the group with the overrides.
  expectSuccess(await stack.update(template, overridden), { HttpTokens: 'optional', HttpTokensEnforced: 'disabled' });
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpTokensEnforced: 'disabled', HttpPutResponseHopLimit: 2 });

  expectSuccess(await stack.update(template, parameters));
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

  // Retained (the default): deleting the stack instance sends no Delete, and the StackSet's values stay.
  const del = await stack.delete();
  expect(del.event).toBeUndefined();
  expect(del.ec2Actions).toEqual([]);
  expect(stack.resourceStatus(template.resourceLogicalId)).toBe('DELETE_SKIPPED');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });
  expect(w.claims()).toEqual([expect.objectContaining({ retained: true, fields: { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 } })]);
});

scenario('a stack instance of the override group from the start: created with the overrides, the hop limit overridden to no preference', async (w) => {
  const stack = w.stack();
  const { template, overridden } = stackSetWithOverrides(
    { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 }, { httpPutResponseHopLimit: -1 });
  expect(overridden).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: '-1' });

  const create = await stack.create(template, overridden);
  expectSuccess(create, { HttpTokens: 'required', HttpPutResponseHopLimit: '-1' });
  expect(create.event!.ResourceProperties.Retained).toBe('true');
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  // Retained (the default): no Delete, the overridden values stay.
  const del = await stack.delete();
  expect(del.event).toBeUndefined();
  expect(del.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  expect(w.claims()).toEqual([expect.objectContaining({ retained: true, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: -1 } })]);
});

/**
 * The rollback of a Create that the handler refused: members are retained by default, except by the
 * rollback of their own Create (DeletionPolicy RetainExceptOnCreate), so that Delete is sent, and
 * changes nothing, since the refused Create changed nothing.
 */
async function expectRollbackOfRefusedCreate(w: World, stack: CloudFormationStack): Promise<void> {
  const rollback = await stack.delete();
  expectSuccess(rollback);
  expect(rollback.event!.RequestType).toBe('Delete');
  expect(rollback.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(rollback.stackStatus).toBe('ROLLBACK_COMPLETE');
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
}

scenario('a stack instance whose Create rolls back (another resource fails): retained by default, yet the rollback of its own Create puts back the values from before', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'optional', HttpPutResponseHopLimit: 1 });
  const stack = w.stack();
  const { template, parameters } = stackSetTemplate({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 });

  const create = await stack.create(template, parameters, { anotherResourceFails: 'SomeQueue' });
  expectSuccess(create);
  expect(create.event!.ResourceProperties.Retained).toBe('true');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(stack.status).toBe('ROLLBACK_IN_PROGRESS');

  // DeletionPolicy RetainExceptOnCreate: the Delete of the rollback is sent, and restores.
  const rollback = await stack.rollback();
  expectSuccess(rollback);
  expect(rollback.event!.RequestType).toBe('Delete');
  expect(w.state()).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: 1 });
  expect(stack.status).toBe('ROLLBACK_COMPLETE');
  expect(w.claims()).toEqual([]);
});

scenario('a bad parameter value from outside the code is refused before any EC2 write', async (w) => {
  const stack = w.stack();
  const { template, parameters } = stackSetTemplate({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 });

  // AllowedValues: CloudFormation refuses it and sends no event.
  await expect(stack.create(template, { ...parameters, HttpTokens: 'REQUIRED' })).rejects.toThrow(/Parameter 'HttpTokens' failed to satisfy constraint/);
  expect(w.ec2.requests).toEqual([]);

  // AllowedPattern (not emulated by the harness; CloudFormation would refuse it too): the handler is the backstop.
  const create = await stack.create(template, { ...parameters, HttpPutResponseHopLimit: '0' });
  expectFailed(create, /HttpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got "0"/);
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({});
  await expectRollbackOfRefusedCreate(w, stack);
});

scenario('a stack instance created before 1.0 (settings as values) updated to the 1.0 TemplateBody (parameters, governed accounts skipped, retained): the settings stay', async (w) => {
  const stack = w.stack();
  const settings = { httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 2 };
  // The TemplateBody before: ImdsAccountDefaults at the embedded template's path, its settings as values.
  const before = synthesizeImds(settings, 'ImdsAccountDefaults');
  const after = stackSetTemplate(settings);
  expect(after.template.resourceLogicalId).toBe(before.resourceLogicalId);
  expect(after.template.functionLogicalId).toBe(before.functionLogicalId);

  expectSuccess(await stack.create(before));
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

  const update = await stack.update(after.template, after.parameters);
  expect(update.requestType).toBe('Update');
  // The same values, now from the parameters; and the new defaults (governed accounts skipped, members retained).
  expect(update.event!.OldResourceProperties).toMatchObject({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2' });
  expect(update.event!.OldResourceProperties.SkipIfManagedByDeclarativePolicy).toBeUndefined();
  expect(update.event!.OldResourceProperties.Retained).toBeUndefined();
  expect(update.event!.ResourceProperties).toMatchObject({
    HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2', SkipIfManagedByDeclarativePolicy: 'true', Retained: 'true',
  });
  expectSuccess(update, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '2', Applied: 'true' });
  // EC2 already holds the values: nothing is written.
  expect(update.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });
  // The update marks the claim retained.
  expect(w.claims()).toEqual([expect.objectContaining({ retained: true, fields: { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 } })]);

  // Now retained (the new default): deleting the stack instance sends no Delete, and the settings stay.
  const del = await stack.delete();
  expect(del.event).toBeUndefined();
  expect(del.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });
  expect(w.claims()).toEqual([expect.objectContaining({ retained: true, fields: { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 } })]);
});

scenario('an account governed by a declarative policy: by default the stack instance succeeds without changes, and its delete (memberRemovalPolicy DESTROY) writes nothing', async (w) => {
  w.ec2.setState(REGION, { HttpTokens: 'required' });
  w.ec2.setDeclarativePolicy(REGION, 'IMDS is managed by the organization');
  const stack = w.stack();
  // skipIfManagedByDeclarativePolicy left out: the StackSet's default is to skip.
  // memberRemovalPolicy DESTROY, not the default (RETAIN, which sends no Delete at all): the point is what the Delete does here.
  const { template, parameters } = stackSetTemplate({
    httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2, memberRemovalPolicy: RemovalPolicy.DESTROY,
  });

  const create = await stack.create(template, parameters);
  expectSuccess(create, { ManagedBy: 'declarative-policy', Applied: 'false' });
  expect(create.event!.ResourceProperties.SkipIfManagedByDeclarativePolicy).toBe('true');
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  const del = await stack.delete();
  expectSuccess(del);
  expect(del.requestType).toBe('Delete');
  expect(del.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  expect(w.claims()).toEqual([]);
});

scenario('an account governed by a declarative policy: with skipIfManagedByDeclarativePolicy false the stack instance fails with the policy\'s message', async (w) => {
  w.ec2.setDeclarativePolicy(REGION, 'IMDS is managed by the organization');
  const stack = w.stack();
  const { template, parameters } = stackSetTemplate({ httpTokens: ImdsHttpTokens.REQUIRED, skipIfManagedByDeclarativePolicy: false });
  expect(template.template.Resources[template.resourceLogicalId].Properties.SkipIfManagedByDeclarativePolicy).toBeUndefined();

  const create = await stack.create(template, parameters);
  expectFailed(create, /declarative policy.*"IMDS is managed by the organization".*skipIfManagedByDeclarativePolicy/);
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  await expectRollbackOfRefusedCreate(w, stack);
});
