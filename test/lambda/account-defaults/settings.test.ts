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
  parseFlag,
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
