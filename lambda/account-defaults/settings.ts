/**
 * Parsing and checking of the custom resource's properties, and the comparison
 * of requested settings with what EC2 reports. No I/O here.
 */
import {
  ALLOWED_VALUES,
  AttributeKey,
  EnumSettingKey,
  HOP_LIMIT_MAX,
  HOP_LIMIT_MIN,
  HOP_LIMIT_NO_PREFERENCE,
  NO_PREFERENCE,
  ON_DELETE_PROPERTY,
  ON_DELETE_RESET,
  ON_DELETE_VALUES,
  SETTING_KEYS,
  SettingKey,
} from '../../src/private/properties';

/** Settings in EC2 API shape: a key is present only when it is managed. */
export interface Settings {
  HttpTokens?: string;
  HttpTokensEnforced?: string;
  HttpPutResponseHopLimit?: number;
  HttpEndpoint?: string;
  InstanceMetadataTags?: string;
}

/** What GetInstanceMetadataDefaults reports under AccountLevel. */
export interface AccountLevel extends Settings {
  ManagedBy?: string;
  ManagedExceptionMessage?: string;
}

/** The properties break a rule; the message names the property and the value. No EC2 write follows. */
export class InvalidPropertiesError extends Error {
  public readonly name = 'InvalidPropertiesError';
}

type Properties = Record<string, unknown> | undefined;

/**
 * Parses and validates the settings. CloudFormation delivers every value as a
 * string, and tokens (CfnParameter values) are only known now, so nothing is trusted.
 */
export function parseSettings(properties: Properties): Settings {
  const settings: Settings = {};
  for (const key of managedKeys(properties)) {
    const raw = properties![key];
    if (key === 'HttpPutResponseHopLimit') {
      settings[key] = parseHopLimit(raw);
    } else {
      const allowed = ALLOWED_VALUES[key];
      if (typeof raw !== 'string' || !allowed.includes(raw)) {
        throw new InvalidPropertiesError(`${key} must be one of ${allowed.map(q).join(', ')}; got ${q(raw)}`);
      }
      settings[key] = raw;
    }
  }
  if (Object.keys(settings).length === 0) {
    throw new InvalidPropertiesError(`at least one of ${SETTING_KEYS.join(', ')} is required`);
  }
  return settings;
}

function parseHopLimit(raw: unknown): number {
  const text = typeof raw === 'number' ? String(raw) : raw;
  const n = typeof text === 'string' && /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (n !== HOP_LIMIT_NO_PREFERENCE && !(n >= HOP_LIMIT_MIN && n <= HOP_LIMIT_MAX)) {
    throw new InvalidPropertiesError(`HttpPutResponseHopLimit must be an integer from ${HOP_LIMIT_MIN} to ${HOP_LIMIT_MAX}, or ${HOP_LIMIT_NO_PREFERENCE} for no preference; got ${q(raw)}`);
  }
  return n;
}

/**
 * The settings keys present in a property set, without judging their values.
 * Used for old properties and on Delete: a rollback Update carries, as its old
 * properties, the very values that made the update fail, and it must still succeed.
 */
export function managedKeys(properties: Properties): SettingKey[] {
  return SETTING_KEYS.filter((key) => properties?.[key] !== undefined && properties[key] !== null);
}

/** Parses a boolean flag ("true"/"false" as CloudFormation delivers it). */
export function parseFlag(properties: Properties, key: string): boolean {
  const raw = properties?.[key];
  if (raw === undefined || raw === false || raw === 'false') {
    return false;
  }
  if (raw === true || raw === 'true') {
    return true;
  }
  throw new InvalidPropertiesError(`${key} must be "true" or "false"; got ${q(raw)}`);
}

/** What a deliberate Delete does with the fields (the OnDelete property): RESET when absent. */
export type OnDelete = (typeof ON_DELETE_VALUES)[number];

export function parseOnDelete(properties: Properties): OnDelete {
  const raw = properties?.[ON_DELETE_PROPERTY];
  if (raw === undefined) {
    return ON_DELETE_RESET;
  }
  if (typeof raw !== 'string' || !(ON_DELETE_VALUES as readonly string[]).includes(raw)) {
    throw new InvalidPropertiesError(`${ON_DELETE_PROPERTY} must be one of ${ON_DELETE_VALUES.map(q).join(', ')}; got ${q(raw)}`);
  }
  return raw as OnDelete;
}

/** The prefix of the physical id: `ImdsAccountDefaults:<account>:<region>`. */
export const PHYSICAL_ID_PREFIX = 'ImdsAccountDefaults';

/**
 * The physical id answered on Create: `<account id>` + `:` + the values `before`
 * gives, `Key=value` joined by `,` in SETTING_KEYS order
 * (`ImdsAccountDefaults:111111111111:us-east-1:HttpTokens=optional,HttpPutResponseHopLimit=-1`);
 * just the account id when `before` is empty. CloudFormation keeps it, and shows
 * it with the resource: the values before the Create cannot be edited by anyone
 * but CloudFormation, unlike a claim.
 */
export function formatPhysicalId(accountRegionId: string, before: Settings): string {
  const pairs = SETTING_KEYS.filter((key) => before[key] !== undefined).map((key) => `${key}=${before[key]}`);
  return pairs.length === 0 ? accountRegionId : `${accountRegionId}:${pairs.join(',')}`;
}

/**
 * The values before the Create that a physical id carries: {} for an id without
 * them (a release before them, or a failed-create marker), undefined for one
 * that cannot be read strictly (unknown key, bad value, keys out of order or repeated).
 */
export function parsePhysicalIdBefore(physicalResourceId: string): Settings | undefined {
  const parts = physicalResourceId.split(':');
  if (parts[0] !== PHYSICAL_ID_PREFIX || parts.length < 3 || parts.length > 4) {
    return parts[0] === PHYSICAL_ID_PREFIX ? undefined : {};
  }
  if (parts.length === 3) {
    return {};
  }
  const raw: Record<string, string> = {};
  let last = -1;
  for (const pair of parts[3].split(',')) {
    const [key, value, ...rest] = pair.split('=');
    const index = SETTING_KEYS.indexOf(key as SettingKey);
    if (index <= last || value === undefined || rest.length > 0) {
      return undefined;
    }
    last = index;
    raw[key] = value;
  }
  try {
    return parseSettings(raw);
  } catch {
    return undefined;
  }
}

function normalize(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Settings that clear each of the given fields. */
export function resetSettings(keys: readonly SettingKey[]): Settings {
  const settings: Settings = {};
  for (const key of keys) {
    if (key === 'HttpPutResponseHopLimit') {
      settings[key] = HOP_LIMIT_NO_PREFERENCE;
    } else {
      settings[key] = NO_PREFERENCE;
    }
  }
  return settings;
}

/** The given fields set to the values an earlier read reported (cleared when it reported none). */
export function valuesOf(state: AccountLevel, keys: readonly SettingKey[]): Settings {
  const effective = effectiveSettings(state);
  const settings: Settings = {};
  for (const key of keys) {
    (settings as Record<string, unknown>)[key] = effective[key];
  }
  return settings;
}

/** Every setting's effective value: EC2 omits a field that has no account-level value. */
export function effectiveSettings(state: AccountLevel): Required<Settings> {
  const enumValue = (key: EnumSettingKey) => state[key] ?? NO_PREFERENCE;
  return {
    HttpTokens: enumValue('HttpTokens'),
    HttpTokensEnforced: enumValue('HttpTokensEnforced'),
    HttpPutResponseHopLimit: state.HttpPutResponseHopLimit ?? HOP_LIMIT_NO_PREFERENCE,
    HttpEndpoint: enumValue('HttpEndpoint'),
    InstanceMetadataTags: enumValue('InstanceMetadataTags'),
  };
}

/** The fields of `target` whose effective value is not yet the one `target` gives: what a Modify must send. */
export function changesFrom(state: AccountLevel, target: Settings): Settings {
  const effective = effectiveSettings(state);
  const changes: Record<string, unknown> = {};
  for (const key of Object.keys(target) as SettingKey[]) {
    if (target[key] !== effective[key]) {
      changes[key] = target[key];
    }
  }
  return changes as Settings;
}

/** Whether the field's effective value is the one a property set asked for (compared as CloudFormation delivers it). */
export function holdsRequested(state: AccountLevel, properties: Properties, key: SettingKey): boolean {
  return String(effectiveSettings(state)[key]) === normalize(properties?.[key]);
}

/** The requested fields whose effective value differs, described for the failure reason. */
export function mismatches(requested: Settings, state: AccountLevel): string[] {
  const effective = effectiveSettings(state);
  return (Object.keys(requested) as SettingKey[])
    .filter((key) => requested[key] !== effective[key])
    .map((key) => `${key} is ${q(effective[key])}, expected ${q(requested[key])}`);
}

/** The response Data (every value a string, as Fn::GetAtt returns it). */
export function toData(state: AccountLevel, applied: boolean): Record<AttributeKey, string> {
  const effective = effectiveSettings(state);
  return {
    HttpTokens: effective.HttpTokens,
    HttpTokensEnforced: effective.HttpTokensEnforced,
    HttpPutResponseHopLimit: String(effective.HttpPutResponseHopLimit),
    HttpEndpoint: effective.HttpEndpoint,
    InstanceMetadataTags: effective.InstanceMetadataTags,
    ManagedBy: state.ManagedBy ?? 'account',
    Applied: String(applied),
  };
}

function q(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
