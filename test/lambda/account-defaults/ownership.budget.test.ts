/**
 * The ownership budget (OWNERSHIP_BUDGET_MS, lambda/ownership.ts) with the real
 * client-ssm and client-cloudformation against hanging local endpoints: each
 * test waits the budget out (12 s). Not in the mutation run (stryker.config.json
 * ignores this file): every mutant these tests reach would wait as long.
 */
import { OWNERSHIP_BUDGET_MS } from '../../../lambda/account-defaults/ownership';
import { REGION, createEvent, deleteEvent } from '../support';
import { Emulators, HandlerModule, answerOf as answerOfEmulated, loadHandler, useEmulators } from '../support/emulators';

jest.setTimeout(30_000);

const emulators: Emulators = useEmulators();
const answerOf = (handler: HandlerModule['handler'], event: Parameters<HandlerModule['handler']>[0]) => answerOfEmulated(emulators, handler, event);

describe('a hanging ownership read is cut off by the ownership budget', () => {
  test('a hanging SSM: a Delete answers SUCCESS within the ownership budget and leaves the settings', async () => {
    const { handler } = loadHandler();
    emulators.ec2.setState(REGION, { HttpTokens: 'required' });
    emulators.ssm.hang = true;
    const started = Date.now();
    const answer = await answerOf(handler, deleteEvent(emulators.endpoint, { HttpTokens: 'required' }));
    const elapsed = Date.now() - started;
    expect(answer.Status).toBe('SUCCESS');
    // Cut off by the ownership budget, not by the function's deadline (25 s).
    expect(elapsed).toBeGreaterThanOrEqual(OWNERSHIP_BUDGET_MS);
    expect(elapsed).toBeLessThan(OWNERSHIP_BUDGET_MS + 5_000);
    expect(emulators.ec2.state(REGION)).toEqual({ HttpTokens: 'required' });
    expect(emulators.ec2.requestsOf('ModifyInstanceMetadataDefaults')).toHaveLength(0);
  });

  test('a hanging CloudFormation: a Create fails without writing, naming the claim it could not check', async () => {
    const { handler } = loadHandler();
    emulators.ssm.setParameter(REGION, '/cdk-imds-account-defaults/claims/1-Imds', JSON.stringify({
      format: 2, stackId: `arn:aws:cloudformation:${REGION}:123456789012:stack/platform/1`, stackName: 'platform', logicalResourceId: 'Imds', fields: { HttpTokens: 'required' },
    }));
    // CloudFormation hangs once the event is confirmed: from the claims' listing on.
    void emulators.ssm.holdAnswer((request) => request.action === 'GetParametersByPath', async () => {
      emulators.cfn.hang = true;
    });
    const answer = await answerOf(handler, createEvent(emulators.endpoint, { HttpTokens: 'required' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/^OwnershipUnknownError: CloudFormation could not say whether stack platform .* still holds Imds/);
    expect(emulators.ec2.requestsOf('ModifyInstanceMetadataDefaults')).toHaveLength(0);
  });
});
