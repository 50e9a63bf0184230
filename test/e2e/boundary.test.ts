/**
 * End-to-end: a StackSet for an organization whose service control policies
 * refuse `iam:CreateRole` without a permissions boundary. The StackSet's
 * TemplateBody, synthesized with `permissionsBoundary` (a policy name) and `rolePath`,
 * run as a stack instance through Create, Update and Delete, in two member
 * accounts: the boundary must name each account's own policy. And a stack of
 * ImdsAccountDefaults and ImdsInstanceUpgrade with a boundary of each form
 * (`ImdsPermissionsBoundary.fromPolicyName`, `.fromManagedPolicy`).
 *
 * The harness does not emulate IAM: what runs is the custom resource's
 * lifecycle with the template that carries the boundary, and the boundary's ARN
 * is resolved as CloudFormation resolves it in each account.
 */
import { RemovalPolicy, aws_iam as iam } from 'aws-cdk-lib';
import { REGION, expectSuccess, scenario } from './harness/scenario';
import { ACCOUNT, CUSTOM_RESOURCE_TYPE, INSTANCE_UPGRADE_TYPE, StackTemplate, resolve, synthesize, synthesizeStackSet } from './harness/template';
import {
  ImdsAccountDefaults,
  ImdsAccountDefaultsStackSetProps,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsInstanceUpgrade,
  ImdsPermissionsBoundary,
  ImdsStackSetPermissionsBoundary,
  ImdsStackSetTarget,
} from '../../src';

const TARGETS = { target: ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] }) };
const ROLE_OPTIONS = { permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'), rolePath: '/platform/' };
const OTHER_ACCOUNT = '210987654321';

function stackSetTemplate(props: Omit<ImdsAccountDefaultsStackSetProps, 'target'>) {
  return synthesizeStackSet({ ...TARGETS, ...ROLE_OPTIONS, ...props });
}

/** The properties of the role of the function behind a custom resource of this type (by default the only role) as CloudFormation creates them in one account. */
function roleIn(t: StackTemplate, account: string, stackName: string, resourceType?: string): Record<string, any> {
  const logicalId = resourceType
    ? t.template.Resources[t.resourceOf(resourceType).functionLogicalId].Properties.Role['Fn::GetAtt'][0]
    : Object.entries<any>(t.template.Resources).find(([, r]) => r.Type === 'AWS::IAM::Role')![0];
  const ctx = { account, region: REGION, stackName, stackId: `arn:aws:cloudformation:${REGION}:${account}:stack/${stackName}/1`, parameters: {} };
  const { PermissionsBoundary, Path } = t.template.Resources[logicalId].Properties;
  return { PermissionsBoundary: resolve(t, PermissionsBoundary, ctx), Path };
}

scenario('a stack instance whose role has a permissions boundary: create, update, delete (memberRemovalPolicy DESTROY, so the Delete runs), in two member accounts', async (w) => {
  const other = await w.account(OTHER_ACCOUNT);
  // DESTROY, not the default (RETAIN, which sends no Delete): the function behind the bounded role must run the Delete too.
  const memberRemovalPolicy = RemovalPolicy.DESTROY;
  const v1 = stackSetTemplate({ httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2, memberRemovalPolicy });
  const v2 = stackSetTemplate({
    httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 2, memberRemovalPolicy,
  });

  for (const account of [w.main, other]) {
    const stack = w.stack({ account, name: 'StackSet-ImdsEverywhere-instance' });
    // The boundary names the policy of the account the stack instance runs in.
    for (const t of [v1.template, v2.template]) {
      expect(roleIn(t, account.id, stack.stackName)).toEqual({
        PermissionsBoundary: `arn:aws:iam::${account.id}:policy/boundaries/ImdsBoundary`,
        Path: '/platform/',
      });
    }

    expectSuccess(await stack.create(v1.template), { HttpTokens: 'required', HttpPutResponseHopLimit: '2', ManagedBy: 'account', Applied: 'true' });
    expect(w.state(REGION, account)).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });

    expectSuccess(await stack.update(v2.template), { HttpTokensEnforced: 'enabled', Applied: 'true' });
    expect(w.state(REGION, account)).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 });

    const del = await stack.delete();
    expectSuccess(del);
    expect(del.requestType).toBe('Delete');
    expect(w.state(REGION, account)).toEqual({});
    expect(w.claims(REGION, account)).toEqual([]);
  }
});

scenario('adding the boundary and path to running stack instances sends the custom resource no event: the settings stay', async (w) => {
  const stack = w.stack();
  const settings = { httpTokens: ImdsHttpTokens.REQUIRED, httpPutResponseHopLimit: 2 };
  const without = synthesizeStackSet({ ...TARGETS, ...settings });
  const withBoundary = stackSetTemplate(settings);
  expect(without.template.resourceLogicalId).toBe(withBoundary.template.resourceLogicalId);

  const create = await stack.create(without.template);
  expectSuccess(create);
  // memberRemovalPolicy left out: retained by default.
  expect(create.event!.ResourceProperties.Retained).toBe('true');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  // The custom resource's properties are the same (the new role keeps the function's ARN): CloudFormation sends it nothing.
  const update = await stack.update(withBoundary.template);
  expect(update.event).toBeUndefined();
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  // Retained (the default): deleting the stack instance sends no Delete either, and the settings stay.
  const del = await stack.delete();
  expect(del.event).toBeUndefined();
  expect(del.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expect(w.claims()).toEqual([expect.objectContaining({ retained: true, fields: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } })]);
});

scenario('ImdsAccountDefaults with a boundary by policy name and ImdsInstanceUpgrade with a managed policy object: each role gets its own, and the stack deploys and deletes', async (w) => {
  const t = synthesize((stack) => {
    new ImdsAccountDefaults(stack, 'Imds', {
      httpTokens: ImdsHttpTokens.REQUIRED, permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'), rolePath: '/platform/',
    });
    new ImdsInstanceUpgrade(stack, 'Upgrade', {
      permissionsBoundary: ImdsPermissionsBoundary.fromManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess')),
    });
  });
  const stack = w.stack();
  expect(roleIn(t, ACCOUNT, stack.stackName, CUSTOM_RESOURCE_TYPE)).toEqual({
    PermissionsBoundary: `arn:aws:iam::${ACCOUNT}:policy/boundaries/ImdsBoundary`,
    Path: '/platform/',
  });
  expect(roleIn(t, ACCOUNT, stack.stackName, INSTANCE_UPGRADE_TYPE)).toEqual({ PermissionsBoundary: 'arn:aws:iam::aws:policy/PowerUserAccess', Path: undefined });

  const create = await stack.create(t);
  expect(create.steps.map((s) => [s.event!.ResourceType, s.answer!.Status])).toEqual([[CUSTOM_RESOURCE_TYPE, 'SUCCESS'], [INSTANCE_UPGRADE_TYPE, 'SUCCESS']]);
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
  expect(w.claims()).toEqual([]);
});
