import { Stack, aws_iam as iam } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The permissions boundary of a function's IAM role, for organizations whose
 * service control policies refuse `iam:CreateRole` without one. One of the
 * factories; the role gets exactly one boundary.
 *
 * For `ImdsAccountDefaultsStackSet`, whose template deploys to many accounts, see
 * `ImdsStackSetPermissionsBoundary`.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
 */
export abstract class ImdsPermissionsBoundary {
  /**
   * A managed policy object: a policy of the account the stack deploys to
   * (`iam.ManagedPolicy.fromManagedPolicyName(...)`, a policy this app creates),
   * or an AWS managed policy (`iam.ManagedPolicy.fromAwsManagedPolicyName(...)`).
   */
  public static fromManagedPolicy(policy: iam.IManagedPolicy): ImdsPermissionsBoundary {
    return new ManagedPolicyBoundary(policy);
  }

  /**
   * A customer managed policy by name, with its path if it has one
   * (`ImdsBoundary`, `boundaries/ImdsBoundary`), in the account the template
   * deploys to: the role gets
   * `arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/<path/><name>`.
   * Letters, digits and `+=,.@_-`, at most 128 characters, after an optional path.
   */
  public static fromPolicyName(policyName: string): ImdsPermissionsBoundary {
    return new PolicyNameBoundary(policyName);
  }

  /**
   * The policy name given to `fromPolicyName` (checked by the construct, which
   * names itself in the error), or undefined.
   * @internal
   */
  public abstract readonly _policyName?: string;

  /** @internal */
  protected constructor() {}

  /**
   * The boundary as a managed policy in `scope`'s stack (a construct
   * `<scope>/PermissionsBoundary` for a policy given by name).
   * @internal
   */
  public abstract _bind(scope: IConstruct): iam.IManagedPolicy;
}

class ManagedPolicyBoundary extends ImdsPermissionsBoundary {
  public readonly _policyName = undefined;
  constructor(private readonly policy: iam.IManagedPolicy) {
    super();
  }
  public _bind(): iam.IManagedPolicy {
    return this.policy;
  }
}

class PolicyNameBoundary extends ImdsPermissionsBoundary {
  constructor(public readonly _policyName: string) {
    super();
  }
  public _bind(scope: IConstruct): iam.IManagedPolicy {
    return iam.ManagedPolicy.fromManagedPolicyArn(scope, 'PermissionsBoundary', Stack.of(scope).formatArn({
      service: 'iam', region: '', resource: 'policy', resourceName: this._policyName,
    }));
  }
}

/**
 * The permissions boundary of the functions' roles in every member account of
 * `ImdsAccountDefaultsStackSet`: only forms that resolve in each account, as a
 * policy every member account holds by name, or an AWS managed policy.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
 */
export abstract class ImdsStackSetPermissionsBoundary {
  /**
   * A customer managed policy that every member account holds under this name,
   * with its path if it has one (`ImdsBoundary`, `boundaries/ImdsBoundary`): each
   * role gets `arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/<path/><name>`,
   * which resolves in its own account.
   */
  public static fromPolicyName(policyName: string): ImdsStackSetPermissionsBoundary {
    return new StackSetBoundary(ImdsPermissionsBoundary.fromPolicyName(policyName), policyName, undefined);
  }

  /**
   * An AWS managed policy, by its name (`PowerUserAccess`, or with its path:
   * `service-role/AWSLambdaBasicExecutionRole`): the same policy in every account.
   */
  public static fromAwsManagedPolicyName(managedPolicyName: string): ImdsStackSetPermissionsBoundary {
    return new StackSetBoundary(
      ImdsPermissionsBoundary.fromManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName(managedPolicyName)),
      undefined, managedPolicyName);
  }

  /** The name given to `fromPolicyName`, or undefined. @internal */
  public abstract readonly _policyName?: string;

  /** The name given to `fromAwsManagedPolicyName`, or undefined. @internal */
  public abstract readonly _awsManagedPolicyName?: string;

  /** @internal */
  protected constructor() {}

  /** The same boundary for one account's stack (the embedded template, the management account's stacks). @internal */
  public abstract _forAccount(): ImdsPermissionsBoundary;
}

class StackSetBoundary extends ImdsStackSetPermissionsBoundary {
  constructor(
    private readonly boundary: ImdsPermissionsBoundary,
    public readonly _policyName: string | undefined,
    public readonly _awsManagedPolicyName: string | undefined,
  ) {
    super();
  }
  public _forAccount(): ImdsPermissionsBoundary {
    return this.boundary;
  }
}
