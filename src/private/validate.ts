import { Annotations, Token } from 'aws-cdk-lib';
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
import { HttpEndpoint, HttpTokens, HttpTokensEnforced, ImdsSettings, InstanceMetadataTags } from '../settings';

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
 * construct path, the prop and the value. Unresolved tokens (CfnParameter
 * values, for example) are skipped: the handler checks them at deploy time.
 */
export function validateSettings(scope: IConstruct, settings: ImdsSettings): void {
  const fail = failer(scope);

  const given = SETTING_PROPS.filter(({ prop }) => settings[prop] !== undefined);
  if (given.length === 0) {
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

  if (is(settings.httpTokensEnforced, HttpTokensEnforced.ENABLED) && is(settings.httpTokens, HttpTokens.OPTIONAL)) {
    Annotations.of(scope).addWarningV2('cdk-imds-account-defaults:enforcedWithOptionalTokens',
      'httpTokensEnforced is ENABLED but httpTokens is OPTIONAL: every launch that relies on the account default for httpTokens will fail with UnsupportedOperation. Set httpTokens to REQUIRED.');
  }
  if (is(settings.httpEndpoint, HttpEndpoint.DISABLED) && is(settings.instanceMetadataTags, InstanceMetadataTags.ENABLED)) {
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

/** The options of the handler's role that synth can check: the role path and the boundary's policy name. */
export interface RoleOptions {
  readonly permissionsBoundary?: unknown;
  readonly permissionsBoundaryPolicyName?: string;
  readonly rolePath?: string;
}

/** An IAM path: `/`, or segments of printable ASCII between slashes, at most 512 characters. */
const IAM_PATH = /^\/([\x21-\x2e\x30-\x7e]+\/)*$/;
/** A managed policy name, optionally after its path (`boundaries/ImdsBoundary`). */
const POLICY_NAME_WITH_PATH = /^([\x21-\x2e\x30-\x7e]+\/)*[\w+=,.@-]{1,128}$/;

/**
 * Checks `rolePath` and `permissionsBoundaryPolicyName` (tokens are left to
 * IAM), and that a boundary is given one way only.
 */
export function validateRoleOptions(scope: IConstruct, options: RoleOptions): void {
  const fail = failer(scope);
  const { rolePath, permissionsBoundaryPolicyName: name } = options;
  if (rolePath !== undefined && !Token.isUnresolved(rolePath) && (rolePath.length > 512 || !IAM_PATH.test(rolePath))) {
    fail(`rolePath must be "/" or a path that starts and ends with "/" (printable ASCII, at most 512 characters), e.g. "/platform/"; got ${JSON.stringify(rolePath)}`);
  }
  if (name !== undefined && !Token.isUnresolved(name) && name.startsWith('arn:')) {
    fail(`permissionsBoundaryPolicyName takes the policy's name, not its ARN (the ARN is built for each account the template deploys to; for one policy ARN, give permissionsBoundary); got ${JSON.stringify(name)}`);
  }
  if (name !== undefined && !Token.isUnresolved(name) && (name.length > 512 + 128 || !POLICY_NAME_WITH_PATH.test(name))) {
    fail(`permissionsBoundaryPolicyName must be a managed policy name (letters, digits and +=,.@_-, at most 128 characters), optionally after its path without the leading slash (e.g. "boundaries/ImdsBoundary"); got ${JSON.stringify(name)}`);
  }
  if (name !== undefined && options.permissionsBoundary !== undefined) {
    fail(`give permissionsBoundary or permissionsBoundaryPolicyName (${JSON.stringify(name)}), not both`);
  }
}
