/**
 * What both constructs build the same way around their inline function: the
 * runtime, the role (with the permissions boundary and path options), the
 * asynchronous invocation settings, the metrics statement, and the "one per
 * stack, one per account and Region" placement rule.
 */
import { ArnFormat, CfnResource, CustomResource, Duration, RemovalPolicy, Stack, Token, aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_logs as logs } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { CENTRAL_EVENT_BUS_ENV, METRICS_NAMESPACE } from './properties';
import { ImdsFindings } from '../findings';
import { RoleOptions, failer } from './validate';

/**
 * The Lambda runtime of both functions: the newest GA Node.js runtime.
 * Declared by name so that aws-cdk-lib releases older than its constant still work.
 */
export const HANDLER_RUNTIME = new lambda.Runtime('nodejs24.x', lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true });

/**
 * The function's role (`<scope>/Role`), assumed by Lambda, with `rolePath` and the
 * permissions boundary (a boundary given by policy name resolves in the account
 * the template deploys to: `<scope>/PermissionsBoundary`).
 */
export function handlerRole(scope: IConstruct, description: string, options: RoleOptions): iam.Role {
  return new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description,
    path: options.rolePath,
    permissionsBoundary: options.permissionsBoundary?._bind(scope),
  });
}

/** What `onePerStack` and `onePerAccountAndRegion` say about a construct of one kind. */
export interface Placement {
  /** Whether a construct is of this kind. */
  readonly isKind: (c: IConstruct) => boolean;
  /** The error when another one is in the same stack (given that one's path and the stack's name). */
  readonly sameStack: (otherPath: string, stackName: string) => string;
  /** The error when another one, in another stack, targets the same account and Region. */
  readonly sameAccountAndRegion: (otherPath: string, otherStackName: string, env: string) => string;
}

/** Fails the construct (path in the message) when another one of its kind is in the same stack. */
export function onePerStack(self: IConstruct, placement: Placement): void {
  const stack = Stack.of(self);
  const other = stack.node.findAll().find((c) => c !== self && placement.isKind(c) && Stack.of(c) === stack);
  if (other !== undefined) {
    failer(self)(placement.sameStack(other.node.path, stack.stackName));
  }
}

/** The errors for the others of its kind, in other stacks of the app, that target the same concrete account and Region. */
export function onePerAccountAndRegion(self: IConstruct, placement: Placement): string[] {
  const env = concreteEnv(self);
  if (!env) {
    return [];
  }
  return self.node.root.node.findAll()
    .filter((c) => c !== self && placement.isKind(c))
    .filter((c) => Stack.of(c) !== Stack.of(self) && concreteEnv(c) === env)
    .map((c) => placement.sameAccountAndRegion(c.node.path, Stack.of(c).stackName, env));
}

/** "account/region" when both are concrete, else undefined (environment-agnostic stacks are not compared). */
function concreteEnv(c: IConstruct): string | undefined {
  const { account, region } = Stack.of(c);
  return Token.isUnresolved(account) || Token.isUnresolved(region) ? undefined : `${account}/${region}`;
}

/**
 * The asynchronous invocation settings of both functions (their EventInvokeConfig).
 * CloudFormation, EventBridge and the schedule invoke them asynchronously:
 * - no Lambda retry: a CloudFormation event may already have been answered, and the
 *   next scheduled run comes anyway;
 * - an event older than a minute is dropped: no longer than either custom resource's
 *   ServiceTimeout (120 and 600 seconds), so a throttled event never runs after
 *   CloudFormation stopped waiting for it (Lambda otherwise keeps retrying a throttled
 *   event for up to 6 hours, whatever the retry count says).
 */
export const ASYNC_INVOKE = {
  retryAttempts: 0,
  maxEventAge: Duration.seconds(60),
} as const satisfies Pick<lambda.FunctionProps, 'retryAttempts' | 'maxEventAge'>;

/**
 * cloudwatch:PutMetricData, which supports no resource-level permissions, limited to
 * the library's namespace by a condition: both functions put security warnings
 * (unconfirmed events, claim problems), and their own metrics.
 */
export function metricsStatement(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['cloudwatch:PutMetricData'],
    resources: ['*'],
    conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
  });
}

/**
 * events:PutEvents for the function's findings (lambda/shared/events.ts): on this
 * account's default bus and, when given, the central bus only, and only with the
 * library's source (`events:source`), so the role cannot be used to put events that
 * look like another service's or another tool's.
 */
export function findingsStatement(scope: IConstruct, centralEventBusArn: string | undefined): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['events:PutEvents'],
    resources: [
      Stack.of(scope).formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' }),
      ...(centralEventBusArn !== undefined ? [centralEventBusArn] : []),
    ],
    conditions: { StringEquals: { 'events:source': ImdsFindings.SOURCE } },
  });
}

/** The function's environment variable naming the central bus (none without one). */
export function findingsEnvironment(centralEventBusArn: string | undefined): Record<string, string> {
  return centralEventBusArn !== undefined ? { [CENTRAL_EVENT_BUS_ENV]: centralEventBusArn } : {};
}

/**
 * Sets CloudFormation's own `ServiceTimeout` (seconds) on a custom resource.
 *
 * Not through `properties`: aws-cdk-lib releases from about 2.27x warn there
 * (`@aws-cdk/core:customResourcePropConflict`), which fails `cdk synth --strict`;
 * not through the typed `serviceTimeout` prop either: 2.168, our minimum, lacks
 * it. A property override on the L1 resource works with both, and the handler
 * still receives it among the `ResourceProperties` (as a string), as before.
 */
export function setServiceTimeout(resource: CustomResource, seconds: number): void {
  (resource.node.defaultChild as CfnResource).addPropertyOverride('ServiceTimeout', seconds);
}

/** The function's log group: retention, and the KMS key when one is given. */
export interface HandlerLogGroupOptions {
  readonly retention: logs.RetentionDays;
  /** A customer managed key (same Region) that encrypts the logs; CloudWatch Logs' own encryption without. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The function's log group (`<scope>/LogGroup`), removed with the stack. With a
 * key, the key policy lets CloudWatch Logs of this Region use it for this
 * account's log groups (the grant CloudWatch Logs documents), also when the key
 * is defined in another stack of the app. An imported key (`Key.fromKeyArn`)
 * keeps its policy as it is: it must allow that already.
 */
export function handlerLogGroup(scope: IConstruct, { retention, encryptionKey }: HandlerLogGroupOptions): logs.LogGroup {
  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    retention,
    encryptionKey,
    // The log group goes with the stack; a failed Delete keeps it (its dependants stay too).
    removalPolicy: RemovalPolicy.DESTROY,
  });
  if (encryptionKey !== undefined) {
    const stack = Stack.of(scope);
    encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
        },
      },
    }));
  }
  return logGroup;
}
