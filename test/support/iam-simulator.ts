/**
 * Policies evaluated by an IAM policy simulator (@cloud-copilot/iam-simulate,
 * npm), not by hand-written checks: identity policies, and service control
 * policies above them, as AWS's evaluation logic combines them.
 *
 * The simulator takes the request's context as given: `aws:PrincipalArn` is
 * not derived from the principal, so `request` always sets it (as AWS does on
 * every request), and a context key the simulator drops as not applying to the
 * action fails the call instead of passing silently.
 */

/** The simulator's overall answer. */
export type SimulatedResult = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

interface SimulatorModule {
  runSimulation(simulation: unknown, options: Record<string, unknown>): Promise<any>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const simulator: SimulatorModule = require('@cloud-copilot/iam-simulate');

/** The AWS managed SCP every target of an organization has unless it is detached. */
const FULL_AWS_ACCESS = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

export const MEMBER_ACCOUNT = '111122223333';

export interface SimulatedRequest {
  /** The calling principal's ARN (a role or user: what `aws:PrincipalArn` holds). */
  readonly principalArn: string;
  readonly action: string;
  /** @default '*' */
  readonly resource?: string;
  /** Request context keys beside aws:PrincipalArn. */
  readonly context?: Record<string, string | string[]>;
}

export interface SimulatedPolicies {
  /** The principal's identity policies. @default one that allows everything (an administrator) */
  readonly identityPolicies?: object[];
  /** Service control policies attached to the root, beside FullAWSAccess. @default none */
  readonly serviceControlPolicies?: object[];
}

/** Evaluates one request against the policies and returns the simulator's overall result. */
export async function simulate(policies: SimulatedPolicies, request: SimulatedRequest): Promise<SimulatedResult> {
  const context = { 'aws:PrincipalArn': request.principalArn, ...request.context };
  const identity = policies.identityPolicies ?? [FULL_AWS_ACCESS];
  const result = await simulator.runSimulation({
    request: {
      principal: request.principalArn,
      action: request.action,
      resource: { resource: request.resource ?? '*', accountId: MEMBER_ACCOUNT },
      contextVariables: context,
    },
    identityPolicies: identity.map((policy, i) => ({ name: `identity${i}`, policy })),
    serviceControlPolicies: [
      { orgIdentifier: 'r-abcd', policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }, ...(policies.serviceControlPolicies ?? []).map((policy, i) => ({ name: `scp${i}`, policy }))] },
      { orgIdentifier: MEMBER_ACCOUNT, policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }] },
    ],
    resourceControlPolicies: [],
  }, {});
  if (result.resultType === 'error') {
    throw new Error(`the simulator refused the request: ${JSON.stringify(result.errors)}`);
  }
  const results: Array<{ ignoredContextKeys?: string[] }> = result.resultType === 'single' ? [result.result] : result.results;
  const ignored = results.flatMap((r) => r.ignoredContextKeys ?? []);
  if (ignored.length > 0) {
    throw new Error(`the simulator ignored the context keys ${ignored.join(', ')} for ${request.action}: the request would not test what it claims`);
  }
  return result.overallResult;
}

/**
 * Resolves the CloudFormation intrinsics of a synthesized policy document for
 * the simulator: pseudo parameters from `env`, Fn::Join / Fn::Select /
 * Fn::Split computed, any other Ref or Fn::GetAtt turned into a placeholder
 * ARN of the given account and Region.
 */
export function resolveIntrinsics(value: unknown, env: { account: string; region: string; partition?: string }): any {
  const partition = env.partition ?? 'aws';
  const pseudo: Record<string, string> = {
    'AWS::Region': env.region,
    'AWS::AccountId': env.account,
    'AWS::Partition': partition,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackId': `arn:${partition}:cloudformation:${env.region}:${env.account}:stack/Stack/00000000-0000-0000-0000-000000000000`,
    'AWS::StackName': 'Stack',
  };
  const resolve = (v: unknown): any => {
    if (Array.isArray(v)) {
      return v.map(resolve);
    }
    if (v === null || typeof v !== 'object') {
      return v;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0];
      if (key === 'Ref') {
        return pseudo[arg as string] ?? `arn:${partition}:placeholder:${env.region}:${env.account}:${String(arg)}`;
      }
      if (key === 'Fn::GetAtt') {
        const [logicalId] = arg as string[];
        return `arn:${partition}:placeholder:${env.region}:${env.account}:${logicalId}`;
      }
      if (key === 'Fn::Join') {
        const [sep, parts] = arg as [string, unknown[]];
        return (resolve(parts) as unknown[]).map(String).join(sep);
      }
      if (key === 'Fn::Split') {
        const [sep, source] = arg as [string, unknown];
        return String(resolve(source)).split(sep);
      }
      if (key === 'Fn::Select') {
        const [index, list] = arg as [number | string, unknown];
        return (resolve(list) as unknown[])[Number(index)];
      }
    }
    return Object.fromEntries(entries.map(([k, x]) => [k, resolve(x)]));
  };
  return resolve(value);
}
