/**
 * The function's configuration from its environment (lambda/instance-upgrade/config.ts).
 */
import { ConfigError, readConfig } from '../../../lambda/instance-upgrade/config';
import { UPGRADE_DEFAULTS, UPGRADE_ENV } from '../../../src/private/properties';

const PREFIX = 'Invalid configuration of the function, so nothing was done: ';

test('without variables: the defaults (REPORT_ONLY, 14 days, imds-keep-v1, no upgrade without metrics, 100 a run)', () => {
  expect(readConfig({})).toEqual({
    mode: 'REPORT_ONLY',
    lookbackSeconds: 1_209_600,
    exclusionTagKey: 'imds-keep-v1',
    upgradeWithoutMetrics: false,
    maxUpgradesPerRun: 100,
    minimumObservedSeconds: 604_800,
    intervalSeconds: 86_400,
    rejectedCallsAction: 'REPORT',
  });
  expect(readConfig({})).toEqual({ ...UPGRADE_DEFAULTS });
});

test('the variable names', () => {
  expect(UPGRADE_ENV).toEqual({
    MODE: 'IMDS_UPGRADE_MODE',
    LOOKBACK_SECONDS: 'IMDS_UPGRADE_LOOKBACK_SECONDS',
    EXCLUSION_TAG_KEY: 'IMDS_UPGRADE_EXCLUSION_TAG_KEY',
    WITHOUT_METRICS: 'IMDS_UPGRADE_WITHOUT_METRICS',
    MAX_PER_RUN: 'IMDS_UPGRADE_MAX_PER_RUN',
    MIN_OBSERVED_SECONDS: 'IMDS_UPGRADE_MIN_OBSERVED_SECONDS',
    INCLUSION_TAG_KEY: 'IMDS_UPGRADE_INCLUSION_TAG_KEY',
    INTERVAL_SECONDS: 'IMDS_UPGRADE_INTERVAL_SECONDS',
    REJECTED_CALLS_ACTION: 'IMDS_UPGRADE_REJECTED_CALLS_ACTION',
  });
});

test('every variable read, at its bounds', () => {
  expect(readConfig({
    IMDS_UPGRADE_MODE: 'UPGRADE',
    IMDS_UPGRADE_LOOKBACK_SECONDS: '3600',
    IMDS_UPGRADE_EXCLUSION_TAG_KEY: 'k',
    IMDS_UPGRADE_WITHOUT_METRICS: 'true',
    IMDS_UPGRADE_MAX_PER_RUN: '1',
    IMDS_UPGRADE_MIN_OBSERVED_SECONDS: '3600',
    IMDS_UPGRADE_INCLUSION_TAG_KEY: 'i',
    IMDS_UPGRADE_INTERVAL_SECONDS: '3600',
    IMDS_UPGRADE_REJECTED_CALLS_ACTION: 'RESTORE_OPTIONAL',
  })).toEqual({
    mode: 'UPGRADE',
    lookbackSeconds: 3600,
    exclusionTagKey: 'k',
    upgradeWithoutMetrics: true,
    maxUpgradesPerRun: 1,
    minimumObservedSeconds: 3600,
    inclusionTagKey: 'i',
    intervalSeconds: 3600,
    rejectedCallsAction: 'RESTORE_OPTIONAL',
  });
  expect(readConfig({
    IMDS_UPGRADE_MODE: 'REPORT_ONLY',
    IMDS_UPGRADE_LOOKBACK_SECONDS: String(455 * 86_400),
    IMDS_UPGRADE_EXCLUSION_TAG_KEY: 'k'.repeat(128),
    IMDS_UPGRADE_WITHOUT_METRICS: 'false',
    IMDS_UPGRADE_MAX_PER_RUN: '1000',
    IMDS_UPGRADE_MIN_OBSERVED_SECONDS: '39312000',
    IMDS_UPGRADE_INCLUSION_TAG_KEY: 'i'.repeat(128),
    IMDS_UPGRADE_INTERVAL_SECONDS: String(3650 * 86_400),
    IMDS_UPGRADE_REJECTED_CALLS_ACTION: 'REPORT',
  })).toEqual({
    mode: 'REPORT_ONLY',
    lookbackSeconds: 39_312_000,
    exclusionTagKey: 'k'.repeat(128),
    upgradeWithoutMetrics: false,
    maxUpgradesPerRun: 1000,
    minimumObservedSeconds: 39_312_000,
    inclusionTagKey: 'i'.repeat(128),
    intervalSeconds: 3650 * 86_400,
    rejectedCallsAction: 'REPORT',
  });
});

test.each([
  ['IMDS_UPGRADE_MODE', 'upgrade', 'one of "REPORT_ONLY", "UPGRADE"'],
  ['IMDS_UPGRADE_MODE', '', 'one of "REPORT_ONLY", "UPGRADE"'],
  ['IMDS_UPGRADE_LOOKBACK_SECONDS', '3599', 'an integer from 3600 to 39312000 (seconds)'],
  ['IMDS_UPGRADE_LOOKBACK_SECONDS', '39312001', 'an integer from 3600 to 39312000 (seconds)'],
  ['IMDS_UPGRADE_LOOKBACK_SECONDS', '3600.5', 'an integer from 3600 to 39312000 (seconds)'],
  ['IMDS_UPGRADE_LOOKBACK_SECONDS', '1e5', 'an integer from 3600 to 39312000 (seconds)'],
  ['IMDS_UPGRADE_LOOKBACK_SECONDS', ' 3600', 'an integer from 3600 to 39312000 (seconds)'],
  ['IMDS_UPGRADE_LOOKBACK_SECONDS', '3600 ', 'an integer from 3600 to 39312000 (seconds)'],
  ['IMDS_UPGRADE_LOOKBACK_SECONDS', '', 'an integer from 3600 to 39312000 (seconds)'],
  ['IMDS_UPGRADE_EXCLUSION_TAG_KEY', '', 'a tag key of 1 to 128 characters'],
  ['IMDS_UPGRADE_EXCLUSION_TAG_KEY', 'k'.repeat(129), 'a tag key of 1 to 128 characters'],
  ['IMDS_UPGRADE_WITHOUT_METRICS', 'yes', '"true" or "false"'],
  ['IMDS_UPGRADE_WITHOUT_METRICS', 'TRUE', '"true" or "false"'],
  ['IMDS_UPGRADE_WITHOUT_METRICS', 'constructor', '"true" or "false"'],
  ['IMDS_UPGRADE_MAX_PER_RUN', '0', 'an integer from 1 to 1000'],
  ['IMDS_UPGRADE_MAX_PER_RUN', '1001', 'an integer from 1 to 1000'],
  ['IMDS_UPGRADE_MAX_PER_RUN', '-5', 'an integer from 1 to 1000'],
  ['IMDS_UPGRADE_MIN_OBSERVED_SECONDS', '0', 'a whole number of hours, at least 3600 (seconds)'],
  ['IMDS_UPGRADE_MIN_OBSERVED_SECONDS', '3599', 'a whole number of hours, at least 3600 (seconds)'],
  ['IMDS_UPGRADE_MIN_OBSERVED_SECONDS', '5400', 'a whole number of hours, at least 3600 (seconds)'],
  ['IMDS_UPGRADE_MIN_OBSERVED_SECONDS', '39315600', 'a whole number of hours, at least 3600 (seconds)'],
  ['IMDS_UPGRADE_MIN_OBSERVED_SECONDS', '7d', 'a whole number of hours, at least 3600 (seconds)'],
  ['IMDS_UPGRADE_INCLUSION_TAG_KEY', '', 'a tag key of 1 to 128 characters'],
  ['IMDS_UPGRADE_INCLUSION_TAG_KEY', 'k'.repeat(129), 'a tag key of 1 to 128 characters'],
  ['IMDS_UPGRADE_INTERVAL_SECONDS', '3599', 'an integer from 3600 to 315360000 (seconds)'],
  ['IMDS_UPGRADE_INTERVAL_SECONDS', '315360001', 'an integer from 3600 to 315360000 (seconds)'],
  ['IMDS_UPGRADE_REJECTED_CALLS_ACTION', 'restore', 'one of "REPORT", "RESTORE_OPTIONAL"'],
  ['IMDS_UPGRADE_REJECTED_CALLS_ACTION', '', 'one of "REPORT", "RESTORE_OPTIONAL"'],
])('%s=%j is refused, naming the variable, what it must be and the value', (name, value, expected) => {
  expect(() => readConfig({ [name]: value })).toThrow(new ConfigError(`${PREFIX}${name} must be ${expected}; got ${JSON.stringify(value)}`));
});

test('every invalid variable is named at once, in a ConfigError', () => {
  let error: unknown;
  try {
    readConfig({ IMDS_UPGRADE_MODE: 'x', IMDS_UPGRADE_WITHOUT_METRICS: '1', IMDS_UPGRADE_LOOKBACK_SECONDS: '3600' });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).name).toBe('ConfigError');
  expect((error as Error).message).toBe(`${PREFIX}IMDS_UPGRADE_MODE must be one of "REPORT_ONLY", "UPGRADE"; got "x"; IMDS_UPGRADE_WITHOUT_METRICS must be "true" or "false"; got "1"`);
});

test('the minimum observed time: at most the lookback when set; without the variable, the default or the whole lookback when shorter', () => {
  expect(() => readConfig({ IMDS_UPGRADE_LOOKBACK_SECONDS: '7200', IMDS_UPGRADE_MIN_OBSERVED_SECONDS: '10800' })).toThrow(new ConfigError(
    `${PREFIX}IMDS_UPGRADE_MIN_OBSERVED_SECONDS must be at most IMDS_UPGRADE_LOOKBACK_SECONDS (7200); got "10800"`));
  expect(readConfig({ IMDS_UPGRADE_LOOKBACK_SECONDS: '7200', IMDS_UPGRADE_MIN_OBSERVED_SECONDS: '7200' }).minimumObservedSeconds).toBe(7200);
  expect(readConfig({ IMDS_UPGRADE_LOOKBACK_SECONDS: '7200' }).minimumObservedSeconds).toBe(7200);
  expect(readConfig({ IMDS_UPGRADE_LOOKBACK_SECONDS: String(7 * 86_400) }).minimumObservedSeconds).toBe(7 * 86_400);
  expect(readConfig({ IMDS_UPGRADE_LOOKBACK_SECONDS: String(30 * 86_400) }).minimumObservedSeconds).toBe(7 * 86_400);
});

test('the inclusion tag key must differ from the exclusion tag key; absent, none', () => {
  expect(() => readConfig({ IMDS_UPGRADE_INCLUSION_TAG_KEY: 'imds-keep-v1' })).toThrow(new ConfigError(
    `${PREFIX}IMDS_UPGRADE_INCLUSION_TAG_KEY must differ from IMDS_UPGRADE_EXCLUSION_TAG_KEY; both are "imds-keep-v1"`));
  expect(readConfig({}).inclusionTagKey).toBeUndefined();
});

test('reads process.env by default', () => {
  const saved = process.env.IMDS_UPGRADE_MAX_PER_RUN;
  process.env.IMDS_UPGRADE_MAX_PER_RUN = '7';
  try {
    expect(readConfig().maxUpgradesPerRun).toBe(7);
  } finally {
    if (saved === undefined) delete process.env.IMDS_UPGRADE_MAX_PER_RUN;
    else process.env.IMDS_UPGRADE_MAX_PER_RUN = saved;
  }
});
