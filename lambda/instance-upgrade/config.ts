/**
 * The function's configuration: the environment variables the construct sets
 * (UPGRADE_ENV), every value a string. An absent variable takes its default
 * (UPGRADE_DEFAULTS: the safe REPORT_ONLY mode among them); a variable that is
 * set but invalid makes the whole configuration invalid, so the run does nothing.
 */
import { UPGRADE_DEFAULTS, UPGRADE_ENV, UPGRADE_LIMITS, UPGRADE_MODES, UpgradeMode } from '../../src/private/properties';

export interface UpgradeConfig {
  readonly mode: UpgradeMode;
  readonly lookbackSeconds: number;
  readonly exclusionTagKey: string;
  readonly upgradeWithoutMetrics: boolean;
  readonly maxUpgradesPerRun: number;
}

/** An invalid configuration; the message names every invalid variable and its value. */
export class ConfigError extends Error {
  public readonly name = 'ConfigError';
}

/** Reads and validates the configuration, reporting every invalid variable at once. */
export function readConfig(env: Readonly<Record<string, string | undefined>> = process.env): UpgradeConfig {
  const problems: string[] = [];
  const read = <T>(name: string, fallback: T, parse: (value: string) => T | undefined, expected: string): T => {
    const value = env[name];
    if (value === undefined) {
      return fallback;
    }
    const parsed = parse(value);
    if (parsed === undefined) {
      problems.push(`${name} must be ${expected}; got ${JSON.stringify(value)}`);
      return fallback;
    }
    return parsed;
  };
  const integer = (limits: { readonly min: number; readonly max: number }) => (value: string) => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    return n >= limits.min && n <= limits.max ? n : undefined;
  };
  const { lookbackSeconds, maxUpgradesPerRun, exclusionTagKeyLength } = UPGRADE_LIMITS;

  const config: UpgradeConfig = {
    mode: read(UPGRADE_ENV.MODE, UPGRADE_DEFAULTS.mode,
      (value) => UPGRADE_MODES.find((mode) => mode === value),
      `one of ${UPGRADE_MODES.map((mode) => JSON.stringify(mode)).join(', ')}`),
    lookbackSeconds: read(UPGRADE_ENV.LOOKBACK_SECONDS, UPGRADE_DEFAULTS.lookbackSeconds,
      integer(lookbackSeconds), `an integer from ${lookbackSeconds.min} to ${lookbackSeconds.max} (seconds)`),
    exclusionTagKey: read(UPGRADE_ENV.EXCLUSION_TAG_KEY, UPGRADE_DEFAULTS.exclusionTagKey,
      (value) => (value.length >= exclusionTagKeyLength.min && value.length <= exclusionTagKeyLength.max ? value : undefined),
      `a tag key of ${exclusionTagKeyLength.min} to ${exclusionTagKeyLength.max} characters`),
    upgradeWithoutMetrics: read(UPGRADE_ENV.WITHOUT_METRICS, UPGRADE_DEFAULTS.upgradeWithoutMetrics,
      (value) => (value === 'true' || value === 'false' ? value === 'true' : undefined), '"true" or "false"'),
    maxUpgradesPerRun: read(UPGRADE_ENV.MAX_PER_RUN, UPGRADE_DEFAULTS.maxUpgradesPerRun,
      integer(maxUpgradesPerRun), `an integer from ${maxUpgradesPerRun.min} to ${maxUpgradesPerRun.max}`),
  };
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration of the function, so nothing was done: ${problems.join('; ')}`);
  }
  return config;
}
