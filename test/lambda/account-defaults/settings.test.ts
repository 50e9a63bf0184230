/**
 * Parsing of the properties and the comparisons with what EC2 reports
 * (lambda/settings.ts): no I/O, every rule on its own.
 */
import {
  InvalidPropertiesError,
  changesFrom,
  effectiveSettings,
  holdsRequested,
  managedKeys,
  mismatches,
  PHYSICAL_ID_PREFIX,
  formatPhysicalId,
  parseFlag,
  parseOnDelete,
  parsePhysicalIdBefore,
  parseSettings,
  resetSettings,
  toData,
  valuesOf,
} from '../../../lambda/account-defaults/settings';

const parseError = (properties: Record<string, unknown> | undefined) => {
  try {
    parseSettings(properties);
  } catch (err) {
    return err as Error;
  }
  throw new Error('parseSettings did not throw');
};

describe('parseSettings', () => {
  test.each([['-1', -1], ['1', 1], ['2', 2], ['10', 10], ['64', 64], [2, 2], [-1, -1], [64, 64]])(
    'HttpPutResponseHopLimit %j is the number %d', (raw, n) => {
      expect(parseSettings({ HttpPutResponseHopLimit: raw })).toEqual({ HttpPutResponseHopLimit: n });
    });

  test.each(['0', '65', '-2', '100', ' 2', '2 ', '2.0', '1e1', 'two', '-', '', 0, 65, 2.5, true, {}, [2], ['2']])(
    'HttpPutResponseHopLimit %j is rejected, naming the range and the value', (raw) => {
      const err = parseError({ HttpPutResponseHopLimit: raw });
      expect(err).toBeInstanceOf(InvalidPropertiesError);
      expect(err.name).toBe('InvalidPropertiesError');
      expect(err.message).toBe(`HttpPutResponseHopLimit must be an integer from 1 to 64, or -1 for no preference; got ${JSON.stringify(raw)}`);
    });

  test.each([
    ['HttpTokens', ['optional', 'required', 'no-preference']],
    ['HttpTokensEnforced', ['disabled', 'enabled', 'no-preference']],
    ['HttpEndpoint', ['disabled', 'enabled', 'no-preference']],
    ['InstanceMetadataTags', ['disabled', 'enabled', 'no-preference']],
  ])('%s takes exactly %j', (key, allowed) => {
    for (const value of allowed) {
      expect(parseSettings({ [key]: value })).toEqual({ [key]: value });
    }
    for (const value of ['Enabled', 'true', '', 1, true]) {
      const err = parseError({ [key]: value });
      expect(err).toBeInstanceOf(InvalidPropertiesError);
      expect(err.message).toBe(`${key} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}; got ${JSON.stringify(value)}`);
    }
  });

  test('every given field is parsed; unknown keys (ServiceToken, Ownership, ServiceTimeout, the flag) are ignored', () => {
    expect(parseSettings({
      ServiceToken: 'arn',
      Ownership: 'claims-v1',
      ServiceTimeout: '120',
      SkipIfManagedByDeclarativePolicy: 'true',
      HttpTokens: 'required',
      HttpTokensEnforced: 'enabled',
      HttpPutResponseHopLimit: '2',
      HttpEndpoint: 'enabled',
      InstanceMetadataTags: 'disabled',
    })).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', InstanceMetadataTags: 'disabled' });
  });

  test.each([[undefined], [{}], [{ ServiceToken: 'arn', HttpTokens: null }]])('no field at all (%j) is rejected', (properties) => {
    const err = parseError(properties as Record<string, unknown> | undefined);
    expect(err).toBeInstanceOf(InvalidPropertiesError);
    expect(err.message).toBe('at least one of HttpTokens, HttpTokensEnforced, HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags is required');
  });
});

describe('managedKeys', () => {
  test('the settings keys present, in the fixed order, without null or undefined values and whatever their value', () => {
    expect(managedKeys({ InstanceMetadataTags: 'x', HttpTokens: '', HttpEndpoint: null, HttpTokensEnforced: undefined, HttpPutResponseHopLimit: 0, Other: 'y' }))
      .toEqual(['HttpTokens', 'HttpPutResponseHopLimit', 'InstanceMetadataTags']);
    expect(managedKeys(undefined)).toEqual([]);
  });
});

describe('parseFlag', () => {
  test.each([[undefined, false], [false, false], ['false', false], [true, true], ['true', true]])('%j is %j', (raw, expected) => {
    expect(parseFlag({ Flag: raw }, 'Flag')).toBe(expected);
  });

  test('an absent property set is false', () => {
    expect(parseFlag(undefined, 'Flag')).toBe(false);
  });

  test.each(['TRUE', 'False', 'yes', '', null, 1, 0])('%j is rejected, naming the property and the value', (raw) => {
    expect(() => parseFlag({ Flag: raw }, 'Flag')).toThrow(new InvalidPropertiesError(`Flag must be "true" or "false"; got ${JSON.stringify(raw)}`));
    expect(() => parseFlag({ Flag: raw }, 'Flag')).toThrow(InvalidPropertiesError);
  });
});

describe('values', () => {
  test('resetSettings clears each given field: -1 for the hop limit, no-preference for the others', () => {
    expect(resetSettings(['HttpTokens', 'HttpTokensEnforced', 'HttpPutResponseHopLimit', 'HttpEndpoint', 'InstanceMetadataTags'])).toEqual({
      HttpTokens: 'no-preference', HttpTokensEnforced: 'no-preference', HttpPutResponseHopLimit: -1, HttpEndpoint: 'no-preference', InstanceMetadataTags: 'no-preference',
    });
    expect(resetSettings([])).toEqual({});
  });

  test('effectiveSettings: a field EC2 omits has no preference', () => {
    expect(effectiveSettings({})).toEqual({
      HttpTokens: 'no-preference', HttpTokensEnforced: 'no-preference', HttpPutResponseHopLimit: -1, HttpEndpoint: 'no-preference', InstanceMetadataTags: 'no-preference',
    });
    const all = { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 3, HttpEndpoint: 'disabled', InstanceMetadataTags: 'enabled' };
    expect(effectiveSettings({ ...all, ManagedBy: 'account' })).toEqual(all);
  });

  test('valuesOf gives only the given fields, with their effective values', () => {
    expect(valuesOf({ HttpTokens: 'required', HttpEndpoint: 'enabled' }, ['HttpTokens', 'HttpPutResponseHopLimit', 'InstanceMetadataTags']))
      .toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: -1, InstanceMetadataTags: 'no-preference' });
  });

  test('changesFrom keeps only the fields whose effective value differs (an omitted field equals its reset value)', () => {
    const state = { HttpTokens: 'required', HttpPutResponseHopLimit: 2 };
    expect(changesFrom(state, { HttpTokens: 'required', HttpPutResponseHopLimit: 3, HttpEndpoint: 'no-preference', InstanceMetadataTags: 'enabled' }))
      .toEqual({ HttpPutResponseHopLimit: 3, InstanceMetadataTags: 'enabled' });
    expect(changesFrom({}, { HttpPutResponseHopLimit: -1 })).toEqual({});
  });

  test('holdsRequested compares as CloudFormation delivers values: 64 holds "64", an omitted field holds "no-preference" and "-1"', () => {
    expect(holdsRequested({ HttpPutResponseHopLimit: 64 }, { HttpPutResponseHopLimit: '64' }, 'HttpPutResponseHopLimit')).toBe(true);
    expect(holdsRequested({ HttpPutResponseHopLimit: 64 }, { HttpPutResponseHopLimit: '6' }, 'HttpPutResponseHopLimit')).toBe(false);
    expect(holdsRequested({}, { HttpPutResponseHopLimit: '-1' }, 'HttpPutResponseHopLimit')).toBe(true);
    expect(holdsRequested({}, { HttpTokens: 'no-preference' }, 'HttpTokens')).toBe(true);
    expect(holdsRequested({ HttpTokens: 'required' }, { HttpTokens: 'optional' }, 'HttpTokens')).toBe(false);
  });

  test('holdsRequested: a field the properties do not give (absent or null) is never held', () => {
    expect(holdsRequested({}, {}, 'HttpTokens')).toBe(false);
    expect(holdsRequested({}, { HttpTokens: null }, 'HttpTokens')).toBe(false);
    expect(holdsRequested({}, undefined, 'HttpTokens')).toBe(false);
  });

  test('mismatches names each requested field whose effective value differs, with both values', () => {
    expect(mismatches({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' }, { HttpEndpoint: 'enabled' }))
      .toEqual(['HttpTokens is "no-preference", expected "required"', 'HttpPutResponseHopLimit is -1, expected 2']);
    expect(mismatches({ HttpPutResponseHopLimit: -1 }, {})).toEqual([]);
  });

  test('toData: every attribute a string, the effective values, who manages them and whether they were applied', () => {
    expect(toData({ HttpPutResponseHopLimit: 2 }, false)).toEqual({
      HttpTokens: 'no-preference',
      HttpTokensEnforced: 'no-preference',
      HttpPutResponseHopLimit: '2',
      HttpEndpoint: 'no-preference',
      InstanceMetadataTags: 'no-preference',
      ManagedBy: 'account',
      Applied: 'false',
    });
    expect(toData({ HttpTokens: 'required', ManagedBy: 'declarative-policy' }, true)).toMatchObject({
      HttpTokens: 'required', HttpPutResponseHopLimit: '-1', ManagedBy: 'declarative-policy', Applied: 'true',
    });
  });
});

describe('parseOnDelete', () => {
  test.each([[undefined, 'RESET'], [{}, 'RESET'], [{ OnDelete: 'RESET' }, 'RESET'], [{ OnDelete: 'RESTORE' }, 'RESTORE']])('%j is %s', (properties, expected) => {
    expect(parseOnDelete(properties as Record<string, unknown> | undefined)).toBe(expected);
  });

  test.each(['reset', 'Restore', 'RETAIN', '', null, 1, true, ['RESET']])('%j is rejected, naming the property, the values and the value', (raw) => {
    expect(() => parseOnDelete({ OnDelete: raw })).toThrow(new InvalidPropertiesError(`OnDelete must be one of "RESET", "RESTORE"; got ${JSON.stringify(raw)}`));
    expect(() => parseOnDelete({ OnDelete: raw })).toThrow(InvalidPropertiesError);
  });
});

describe('physical id', () => {
  const ID = 'ImdsAccountDefaults:111111111111:us-east-1';

  test('the prefix', () => {
    expect(PHYSICAL_ID_PREFIX).toBe('ImdsAccountDefaults');
  });

  test('formatPhysicalId: the values before, Key=value joined by "," in SETTING_KEYS order, whatever the order given', () => {
    expect(formatPhysicalId(ID, { InstanceMetadataTags: 'disabled', HttpPutResponseHopLimit: -1, HttpTokens: 'optional' }))
      .toBe(`${ID}:HttpTokens=optional,HttpPutResponseHopLimit=-1,InstanceMetadataTags=disabled`);
    expect(formatPhysicalId(ID, {
      HttpEndpoint: 'enabled', HttpTokensEnforced: 'no-preference', HttpPutResponseHopLimit: 2, InstanceMetadataTags: 'no-preference', HttpTokens: 'required',
    })).toBe(`${ID}:HttpTokens=required,HttpTokensEnforced=no-preference,HttpPutResponseHopLimit=2,HttpEndpoint=enabled,InstanceMetadataTags=no-preference`);
  });

  test('formatPhysicalId: no values (or only undefined ones): the account and Region id alone', () => {
    expect(formatPhysicalId(ID, {})).toBe(ID);
    expect(formatPhysicalId(ID, { HttpTokens: undefined })).toBe(ID);
    expect(formatPhysicalId(ID, { HttpTokens: undefined, HttpEndpoint: 'disabled' })).toBe(`${ID}:HttpEndpoint=disabled`);
  });

  test('parsePhysicalIdBefore reads back what formatPhysicalId wrote', () => {
    const all = { HttpTokens: 'required', HttpTokensEnforced: 'disabled', HttpPutResponseHopLimit: 64, HttpEndpoint: 'no-preference', InstanceMetadataTags: 'enabled' };
    expect(parsePhysicalIdBefore(formatPhysicalId(ID, all))).toEqual(all);
    expect(parsePhysicalIdBefore(`${ID}:HttpTokens=optional,HttpPutResponseHopLimit=-1`)).toEqual({ HttpTokens: 'optional', HttpPutResponseHopLimit: -1 });
    expect(parsePhysicalIdBefore(`${ID}:HttpPutResponseHopLimit=2`)).toEqual({ HttpPutResponseHopLimit: 2 });
    expect(parsePhysicalIdBefore(`${ID}:InstanceMetadataTags=no-preference`)).toEqual({ InstanceMetadataTags: 'no-preference' });
  });

  test('the previous release\'s id (no values), a failed-create marker and an id that is not ours carry no values: {}', () => {
    expect(parsePhysicalIdBefore(ID)).toEqual({});
    expect(parsePhysicalIdBefore('ImdsAccountDefaults:unknown-account:unknown-region')).toEqual({});
    expect(parsePhysicalIdBefore('ImdsAccountDefaults:CreateFailed:0f3c-11ef')).toEqual({});
    expect(parsePhysicalIdBefore('Other:111111111111:us-east-1:HttpTokens=optional')).toEqual({});
    expect(parsePhysicalIdBefore('Other:x:y:HttpTokens=bad:z')).toEqual({});
    expect(parsePhysicalIdBefore('')).toEqual({});
  });

  test.each([
    ['too few parts', 'ImdsAccountDefaults:111111111111'],
    ['the prefix alone', 'ImdsAccountDefaults'],
    ['too many parts', `${ID}:HttpTokens=optional:HttpEndpoint=enabled`],
    ['an empty values part', `${ID}:`],
    ['an empty pair', `${ID}:HttpTokens=optional,`],
    ['an unknown key', `${ID}:HttpTokens=optional,Other=x`],
    ['only an unknown key', `${ID}:Other=x`],
    ['a key in another case', `${ID}:httptokens=optional`],
    ['keys out of order', `${ID}:HttpPutResponseHopLimit=2,HttpTokens=optional`],
    ['the last two keys out of order', `${ID}:HttpTokens=optional,InstanceMetadataTags=enabled,HttpEndpoint=enabled`],
    ['a repeated key', `${ID}:HttpTokens=optional,HttpTokens=required`],
    ['a repeated key, twice the same value', `${ID}:HttpTokens=optional,HttpTokens=optional`],
    ['a key without a value', `${ID}:HttpTokens`],
    ['a key without a value after a good pair', `${ID}:HttpTokens=optional,HttpEndpoint`],
    ['an empty value', `${ID}:HttpTokens=`],
    ['a value with "="', `${ID}:HttpTokens=optional=required`],
    ['a bad value', `${ID}:HttpTokens=off`],
    ['a bad value after a good one', `${ID}:HttpTokens=optional,HttpEndpoint=on`],
    ['a hop limit out of range', `${ID}:HttpPutResponseHopLimit=65`],
    ['a hop limit that is not an integer', `${ID}:HttpPutResponseHopLimit=2.0`],
    ['a value with spaces', `${ID}:HttpTokens= optional`],
  ])('%s cannot be read strictly: undefined', (_case, id) => {
    expect(parsePhysicalIdBefore(id)).toBeUndefined();
  });
});
