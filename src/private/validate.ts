import { Annotations, RemovalPolicy, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import {
  ALLOWED_VALUES,
  EnumSettingKey,
  HOP_LIMIT_MAX,
  HOP_LIMIT_MIN,
  HOP_LIMIT_NO_PREFERENCE,
  ImdsResourceProperties,
  SettingKey,
} from './properties';
import type { ImdsPermissionsBoundary } from '../permissions-boundary';
import { ImdsHttpEndpoint, ImdsHttpTokens, ImdsHttpTokensEnforced, ImdsInstanceMetadataTags, ImdsSettings } from '../settings';

/** Each setting's prop name (camelCase, as users write it) and its EC2 API key. */
export const SETTING_PROPS: ReadonlyArray<{ readonly prop: keyof ImdsSettings; readonly key: SettingKey }> = [
  { prop: 'httpTokens', key: 'HttpTokens' },
  { prop: 'httpTokensEnforced', key: 'HttpTokensEnforced' },
  { prop: 'httpPutResponseHopLimit', key: 'HttpPutResponseHopLimit' },
  { prop: 'httpEndpoint', key: 'HttpEndpoint' },
  { prop: 'instanceMetadataTags', key: 'InstanceMetadataTags' },
];

/** Throws `[construct path] message`: every synth-time error names the construct. */
export function failer(scope: IConstruct): (message: string) => never {
  return (message: string): never => {
    throw new Error(`[${scope.node.path}] ${message}`);
  };
}

/**
 * Checks the settings at synth time and throws an error that names the
 * construct path, the prop and the value. At least one is required unless
 * `options.required` is false. Unresolved tokens (CfnParameter
 * values, for example) are skipped: the handler checks them at deploy time.
 */
export function validateSettings(scope: IConstruct, settings: ImdsSettings, options: { readonly required?: boolean } = {}): void {
  const fail = failer(scope);

  const given = SETTING_PROPS.filter(({ prop }) => settings[prop] !== undefined);
  // Not required where something else is rolled out (a StackSet with only the readiness report or the instance upgrade).
  if (given.length === 0 && options.required !== false) {
    fail(`at least one setting is required (${SETTING_PROPS.map(({ prop }) => prop).join(', ')}); a setting left out is not managed, so an empty ${scope.constructor.name} would do nothing`);
  }

  for (const { prop, key } of given) {
    const value = settings[prop];
    if (Token.isUnresolved(value)) {
      continue;
    }
    if (key === 'HttpPutResponseHopLimit') {
      const n = value as number;
      if (typeof n !== 'number' || !Number.isInteger(n) || (n !== HOP_LIMIT_NO_PREFERENCE && (n < HOP_LIMIT_MIN || n > HOP_LIMIT_MAX))) {
        fail(`${prop} must be an integer from ${HOP_LIMIT_MIN} to ${HOP_LIMIT_MAX}, or ${HOP_LIMIT_NO_PREFERENCE} for no preference; got ${JSON.stringify(value)}`);
      }
    } else {
      const allowed = ALLOWED_VALUES[key as EnumSettingKey];
      if (!allowed.includes(value as string)) {
        fail(`${prop} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}; got ${JSON.stringify(value)}`);
      }
    }
  }
}

/**
 * Adds a warning (`Annotations`) for settings that contradict each other.
 * Values that are tokens are not compared.
 */
export function warnOnContradictions(scope: IConstruct, settings: ImdsSettings): void {
  const is = <T>(value: T | undefined, expected: T) => value !== undefined && !Token.isUnresolved(value) && value === expected;

  if (is(settings.httpTokensEnforced, ImdsHttpTokensEnforced.ENABLED) && is(settings.httpTokens, ImdsHttpTokens.OPTIONAL)) {
    Annotations.of(scope).addWarningV2('cdk-imds-account-defaults:enforcedWithOptionalTokens',
      'httpTokensEnforced is ENABLED but httpTokens is OPTIONAL: every launch that relies on the account default for httpTokens will fail with UnsupportedOperation. Set httpTokens to REQUIRED.');
  }
  if (is(settings.httpEndpoint, ImdsHttpEndpoint.DISABLED) && is(settings.instanceMetadataTags, ImdsInstanceMetadataTags.ENABLED)) {
    Annotations.of(scope).addWarningV2('cdk-imds-account-defaults:tagsWithEndpointDisabled',
      'instanceMetadataTags is ENABLED but httpEndpoint is DISABLED: instances cannot reach the metadata service to read their tags.');
  }
}

/**
 * The settings as custom resource properties: EC2 API keys, only the settings
 * that are given, tokens passed through for CloudFormation to resolve.
 */
export function toResourceProperties(settings: ImdsSettings): ImdsResourceProperties {
  const properties: Record<string, string | number> = {};
  for (const { prop, key } of SETTING_PROPS) {
    const value = settings[prop];
    if (value !== undefined) {
      properties[key] = value;
    }
  }
  return properties;
}

/** The options of the handler's role that synth can check: the role path and the boundary. */
export interface RoleOptions {
  readonly permissionsBoundary?: ImdsPermissionsBoundary;
  readonly rolePath?: string;
}

/** An IAM path: `/`, or segments of printable ASCII between slashes, at most 512 characters. */
const IAM_PATH = /^\/([\x21-\x2e\x30-\x7e]+\/)*$/;
/** A managed policy name, optionally after its path (`boundaries/ImdsBoundary`). */
const POLICY_NAME_WITH_PATH = /^([\x21-\x2e\x30-\x7e]+\/)*[\w+=,.@-]{1,128}$/;

/** Checks `rolePath` and a boundary given by policy name (tokens are left to IAM). */
export function validateRoleOptions(scope: IConstruct, options: RoleOptions): void {
  const fail = failer(scope);
  const { rolePath } = options;
  if (rolePath !== undefined && !Token.isUnresolved(rolePath) && (rolePath.length > 512 || !IAM_PATH.test(rolePath))) {
    fail(`rolePath must be "/" or a path that starts and ends with "/" (printable ASCII, at most 512 characters), e.g. "/platform/"; got ${JSON.stringify(rolePath)}`);
  }
  validatePolicyName(scope, 'permissionsBoundary: ImdsPermissionsBoundary.fromPolicyName', options.permissionsBoundary?._policyName);
}

/** An EventBridge event bus ARN: arn:<partition>:events:<region>:<account>:event-bus/<name>. */
const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z]{2}(-[a-z]+)+-\d:\d{12}:event-bus\/[/.\-_A-Za-z0-9]{1,256}$/;

/** Checks `centralEventBusArn` (a token is left to the function's IAM and EventBridge). */
export function validateCentralEventBusArn(scope: IConstruct, arn: string | undefined): void {
  if (arn !== undefined && !Token.isUnresolved(arn) && !EVENT_BUS_ARN.test(arn)) {
    failer(scope)(`centralEventBusArn must be the ARN of an EventBridge event bus, arn:<partition>:events:<region>:<account>:event-bus/<name> (e.g. from ImdsFindingsHub.eventBusArnOf); got ${JSON.stringify(arn)}`);
  }
}

/**
 * Checks a managed policy name given to a boundary factory (`what` names the
 * prop and the factory in the error); a token, or undefined, is left alone.
 */
export function validatePolicyName(scope: IConstruct, what: string, name: string | undefined): void {
  if (name === undefined || Token.isUnresolved(name)) {
    return;
  }
  const fail = failer(scope);
  if (name.startsWith('arn:')) {
    fail(`${what} takes the policy's name, not its ARN (the ARN is built for each account the template deploys to; for one policy object, use ImdsPermissionsBoundary.fromManagedPolicy); got ${JSON.stringify(name)}`);
  }
  if (name.length > 512 + 128 || !POLICY_NAME_WITH_PATH.test(name)) {
    fail(`${what} must be a managed policy name (letters, digits and +=,.@_-, at most 128 characters), optionally after its path without the leading slash (e.g. "boundaries/ImdsBoundary"); got ${JSON.stringify(name)}`);
  }
}

/** `RemovalPolicy.RETAIN`, as users write it. */
export function removalPolicyName(policy: RemovalPolicy): string {
  const name = Object.entries(RemovalPolicy).find(([, v]) => v === policy)?.[0];
  return name !== undefined ? `RemovalPolicy.${name}` : JSON.stringify(policy);
}

/** Whether CloudFormation keeps the resource when it leaves the stack (DeletionPolicy Retain or RetainExceptOnCreate). */
export function isRetained(policy: RemovalPolicy): boolean {
  return policy === RemovalPolicy.RETAIN || policy === RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
}

/**
 * Checks a removal policy prop (`prop` names it in the error): `SNAPSHOT` is
 * refused, because the resource it would apply to has no snapshot (CloudFormation
 * accepts DeletionPolicy Snapshot only on resources that support it).
 */
export function validateRemovalPolicy(scope: IConstruct, prop: string, policy: RemovalPolicy | undefined): void {
  if (policy === RemovalPolicy.SNAPSHOT) {
    failer(scope)(`${prop} must be RemovalPolicy.DESTROY, RemovalPolicy.RETAIN or RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE; got RemovalPolicy.SNAPSHOT, which CloudFormation accepts only on resources that can be snapshotted`);
  }
}
