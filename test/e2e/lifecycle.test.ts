/**
 * End-to-end: the shipped handler (the inline index.js of the synthesized
 * template, run by the runtime's Node.js with only the runtime's SDK clients on
 * NODE_PATH) through Create, Update and Delete, against local EC2, SSM and
 * CloudFormation endpoints (ownership.test.ts: several stacks and resources). Every step is also checked as CloudFormation and
 * Lambda would check it: see harness/cloudformation.ts.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { REGION, expectSuccess, scenario } from './harness/scenario';
import { synthesizeImds } from './harness/template';
import { ImdsHttpEndpoint, ImdsHttpTokens, ImdsHttpTokensEnforced, ImdsInstanceMetadataTags } from '../../src';

/** The physical id of a Create that found the fields unset: account, Region, and each managed field's value before it. */
const PHYSICAL_ID = `ImdsAccountDefaults:123456789012:${REGION}:HttpTokens=no-preference,HttpPutResponseHopLimit=-1`;

scenario('create, update, delete: the settings are applied, changed, then reset', async (w) => {
  const stack = w.stack();

  const create = await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 }));
  expectSuccess(create, { HttpTokens: 'required', HttpPutResponseHopLimit: '2', HttpTokensEnforced: 'no-preference', ManagedBy: 'account', Applied: 'true' });
  // CloudFormation delivers the number 2 of the template as the string "2", and its own ServiceTimeout too.
  expect(create.event!.ResourceProperties).toEqual({
    ServiceToken: create.event!.ServiceToken, HttpTokens: 'required', HttpPutResponseHopLimit: '2', Ownership: 'claims-v2', ServiceTimeout: '120',
  });
  expect(create.answer!.PhysicalResourceId).toBe(PHYSICAL_ID);
  expect(create.ec2Actions).toEqual(['GetInstanceMetadataDefaults', 'ModifyInstanceMetadataDefaults', 'GetInstanceMetadataDefaults']);
  // The claims are read before the write and this resource's claim recorded after it.
  expect(create.ssmActions).toEqual(['GetParametersByPath', 'PutParameter']);
  // CloudFormation confirms the event first (only its own events act); no other claim to check.
  expect(create.cfnActions).toEqual(['DescribeStackResource']);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(w.claims().map((c) => c.fields)).toEqual([{ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }]);

  const update = await stack.update(synthesizeImds({
    httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 3,
  }));
  expectSuccess(update, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '3', Applied: 'true' });
  expect(update.event!).toMatchObject({ PhysicalResourceId: PHYSICAL_ID, OldResourceProperties: create.event!.ResourceProperties });
  // Only the fields whose value differs are sent.
  expect(update.ec2Requests.filter((r) => r.action === 'ModifyInstanceMetadataDefaults').map((r) => r.params)).toEqual([
    { Action: 'ModifyInstanceMetadataDefaults', Version: '2016-11-15', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: '3' },
  ]);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 3 });
  expect(w.claims().map((c) => c.fields)).toEqual([{ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 3 }]);

  const del = await stack.delete();
  expectSuccess(del);
  expect(del.event!.PhysicalResourceId).toBe(PHYSICAL_ID);
  // Confirmed, and the stack's status read (a deliberate Delete: reset); the claims read again after the reset.
  expect(del.cfnActions).toEqual(['DescribeStackResource', 'DescribeStacks']);
  expect(del.ssmActions).toEqual(['GetParametersByPath', 'DeleteParameter', 'GetParametersByPath']);
  expect(w.state()).toEqual({});
  expect(w.state('us-east-1')).toEqual({});
  expect(w.claims()).toEqual([]);
});

scenario('settings the stack does not manage are left untouched on create, update and delete', async (w) => {
  const outside = { HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' };
  w.ec2.setState(REGION, outside);
  const stack = w.stack();

  const create = await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }));
  expectSuccess(create, { HttpTokens: 'required', HttpEndpoint: 'enabled', InstanceMetadataTags: 'enabled' });
  expect(w.ec2.requestsOf('ModifyInstanceMetadataDefaults').map((r) => r.params)).toEqual([
    { Action: 'ModifyInstanceMetadataDefaults', Version: '2016-11-15', HttpTokens: 'required' },
  ]);
  expect(w.state()).toEqual({ ...outside, HttpTokens: 'required' });

  expectSuccess(await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 })));
  expect(w.state()).toEqual({ ...outside, HttpTokens: 'required', HttpPutResponseHopLimit: 2 });

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual(outside);
});

scenario('a setting removed on update goes back to no preference; the others stay', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({
    httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2, instanceMetadataTags: ImdsInstanceMetadataTags.DISABLED,
  })));
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, InstanceMetadataTags: 'disabled' });

  const update = await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED }));
  expectSuccess(update, { HttpTokens: 'required', HttpPutResponseHopLimit: '-1', InstanceMetadataTags: 'no-preference' });
  // HttpTokens is already "required": only the removed fields are written.
  expect(update.ec2Requests.filter((r) => r.action === 'ModifyInstanceMetadataDefaults').map((r) => r.params)).toEqual([
    { Action: 'ModifyInstanceMetadataDefaults', Version: '2016-11-15', HttpPutResponseHopLimit: '-1', InstanceMetadataTags: 'no-preference' },
  ]);
  expect(w.state()).toEqual({ HttpTokens: 'required' });

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

scenario('RETAIN: CloudFormation sends no Delete and the settings stay', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, removalPolicy: RemovalPolicy.RETAIN })));
  expect(w.state()).toEqual({ HttpTokens: 'required' });

  const del = await stack.delete();
  expect(del.event).toBeUndefined();
  expect(del.ec2Actions).toEqual([]);
  expect(stack.resourceStatus(del.logicalResourceId!)).toBe('DELETE_SKIPPED');
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  // The claim stays, marked retained: it keeps protecting its fields while EC2 holds its values (ownership.test.ts).
  expect(w.claims()).toEqual([expect.objectContaining({ retained: true, fields: { HttpTokens: 'required' } })]);
});

scenario('an update that changes no setting makes no EC2 write', async (w) => {
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds({ httpEndpoint: ImdsHttpEndpoint.ENABLED })));

  const update = await stack.update(synthesizeImds({ httpEndpoint: ImdsHttpEndpoint.ENABLED, skipIfManagedByDeclarativePolicy: true }));
  expectSuccess(update, { HttpEndpoint: 'enabled', Applied: 'true' });
  expect(update.event!.ResourceProperties.SkipIfManagedByDeclarativePolicy).toBe('true');
  expect(update.ec2Actions).toEqual(['GetInstanceMetadataDefaults']);
  expect(w.state()).toEqual({ HttpEndpoint: 'enabled' });
});

scenario('the state is per Region: two stacks of one StackSet in two Regions', async (w) => {
  const ireland = w.stack();
  const virginia = w.stack({ region: 'us-east-1' });
  expectSuccess(await ireland.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED })));
  const create = await virginia.create(synthesizeImds({ httpTokens: ImdsHttpTokens.OPTIONAL }));
  expectSuccess(create, { HttpTokens: 'optional' });
  expect(create.answer!.PhysicalResourceId).toBe('ImdsAccountDefaults:123456789012:us-east-1:HttpTokens=no-preference');
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  expect(w.state('us-east-1')).toEqual({ HttpTokens: 'optional' });
  // Claims are per Region too: no conflict between the two.
  expect(w.claims().map((c) => c.fields)).toEqual([{ HttpTokens: 'required' }]);
  expect(w.claims('us-east-1').map((c) => c.fields)).toEqual([{ HttpTokens: 'optional' }]);

  expectSuccess(await virginia.delete());
  expect(w.state('us-east-1')).toEqual({});
  expect(w.state()).toEqual({ HttpTokens: 'required' });
});

scenario('an older @aws-sdk/client-ec2 (3.996.0) without HttpTokensEnforced on NODE_PATH', async (w) => {
  const stack = w.stack({ sdk: '3.996.0' });

  const create = await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED }));
  expect(create.invocation!.clientEc2!.version).toBe('3.996.0');
  expectSuccess(create, { HttpTokens: 'required', HttpTokensEnforced: 'enabled', Applied: 'true' });
  // The field reaches EC2 in the signed request although this client cannot serialize it.
  expect(create.ec2Requests.find((r) => r.action === 'ModifyInstanceMetadataDefaults')!.params).toMatchObject({ HttpTokensEnforced: 'enabled' });
  expect(create.invocation!.logs).toMatch(/does not serialize HttpTokensEnforced/);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });

  expectSuccess(await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.DISABLED })), { HttpTokensEnforced: 'disabled' });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'disabled' });

  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});
