/**
 * End-to-end: a StackSet for an organization whose service control policies
 * refuse `iam:CreateRole` without a permissions boundary. The StackSet's
 * TemplateBody, synthesized with `permissionsBoundaryPolicyName` and `rolePath`,
 * run as a stack instance through Create, Update and Delete, in two member
 * accounts: the boundary must name each account's own policy.
 *
 * The harness does not emulate IAM: what runs is the custom resource's
 * lifecycle with the template that carries the boundary, and the boundary's ARN
 * is resolved as CloudFormation resolves it in each account.
 */
import { REGION, expectSuccess, scenario } from './harness/scenario';
import { StackTemplate, resolve, synthesizeStackSet } from './harness/template';
import { HttpTokens, HttpTokensEnforced, ImdsAccountDefaultsStackSetProps } from '../../src';

const TARGETS = { organizationalUnitIds: ['ou-abcd-12345678'], regions: [REGION] };
const ROLE_OPTIONS = { permissionsBoundaryPolicyName: 'boundaries/ImdsBoundary', rolePath: '/platform/' };
const OTHER_ACCOUNT = '210987654321';

function stackSetTemplate(props: Omit<ImdsAccountDefaultsStackSetProps, 'organizationalUnitIds' | 'regions'>) {
  return synthesizeStackSet({ ...TARGETS, ...ROLE_OPTIONS, ...props });
}

/** The role's properties as CloudFormation creates them in one account. */
function roleIn(t: StackTemplate, account: string, stackName: string): Record<string, any> {
  const [logicalId] = Object.entries<any>(t.template.Resources).find(([, r]) => r.Type === 'AWS::IAM::Role')!;
  const ctx = { account, region: REGION, stackName, stackId: `arn:aws:cloudformation:${REGION}:${account}:stack/${stackName}/1`, parameters: {} };
  const { PermissionsBoundary, Path } = t.template.Resources[logicalId].Properties;
  return { PermissionsBoundary: resolve(t, PermissionsBoundary, ctx), Path };
}

scenario('a stack instance whose role has a permissions boundary: create, update, delete, in two member accounts', async (w) => {
  const other = await w.account(OTHER_ACCOUNT);
  const v1 = stackSetTemplate({ httpTokens: HttpTokens.REQUIRED, httpPutResponseHopLimit: 2 });
  const v2 = stackSetTemplate({ httpTokens: HttpTokens.REQUIRED, httpTokensEnforced: HttpTokensEnforced.ENABLED, httpPutResponseHopLimit: 2 });

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

    expectSuccess(await stack.delete());
    expect(w.state(REGION, account)).toEqual({});
    expect(w.claims(REGION, account)).toEqual([]);
  }
});

scenario('adding the boundary and path to running stack instances sends the custom resource no event: the settings stay', async (w) => {
  const stack = w.stack();
  const settings = { httpTokens: HttpTokens.REQUIRED, httpPutResponseHopLimit: 2 };
  const without = synthesizeStackSet({ ...TARGETS, ...settings });
  const withBoundary = stackSetTemplate(settings);
  expect(without.template.resourceLogicalId).toBe(withBoundary.template.resourceLogicalId);

  expectSuccess(await stack.create(without.template));
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  // The custom resource's properties are the same (the new role keeps the function's ARN): CloudFormation sends it nothing.
  const update = await stack.update(withBoundary.template);
  expect(update.event).toBeUndefined();
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});
