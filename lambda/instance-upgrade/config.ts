/**
 * The function's configuration: the environment variables the construct sets
 * (UPGRADE_ENV), every value a string. An absent variable takes its default
 * (UPGRADE_DEFAULTS: the safe REPORT_ONLY mode among them); a variable that is
 * set but invalid makes the whole configuration invalid, so the run does nothing.
 */
import { REJECTED_CALLS_ACTIONS, RejectedCallsActionValue, UPGRADE_DEFAULTS, UPGRADE_ENV, UPGRADE_LIMITS, UPGRADE_MODES, UpgradeMode } from '../../src/private/properties';

export interface UpgradeConfig {
  readonly mode: UpgradeMode;
  readonly lookbackSeconds: number;
  readonly exclusionTagKey: string;
  readonly upgradeWithoutMetrics: boolean;
  readonly maxUpgradesPerRun: number;
  /** The running time (seconds, whole hours) MetadataNoToken datapoints must cover inside the window, all zero. */
  readonly minimumObservedSeconds: number;
  /** When set, only instances carrying this tag key are considered. */
  readonly inclusionTagKey?: string;
  /** The schedule's interval (seconds): maxUpgradesPerRun holds over any such span. */
  readonly intervalSeconds: number;
  /** What is done about an instance this function switched that refuses IMDSv1 calls since. */
  readonly rejectedCallsAction: RejectedCallsActionValue;
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
  const { lookbackSeconds, maxUpgradesPerRun, exclusionTagKeyLength, minimumObservedSeconds, intervalSeconds } = UPGRADE_LIMITS;
  const tagKey = (value: string) => (value.length >= exclusionTagKeyLength.min && value.length <= exclusionTagKeyLength.max ? value : undefined);
  const tagKeyExpected = `a tag key of ${exclusionTagKeyLength.min} to ${exclusionTagKeyLength.max} characters`;

  let config: UpgradeConfig = {
    mode: read(UPGRADE_ENV.MODE, UPGRADE_DEFAULTS.mode,
      (value) => UPGRADE_MODES.find((mode) => mode === value),
      `one of ${UPGRADE_MODES.map((mode) => JSON.stringify(mode)).join(', ')}`),
    lookbackSeconds: read(UPGRADE_ENV.LOOKBACK_SECONDS, UPGRADE_DEFAULTS.lookbackSeconds,
      integer(lookbackSeconds), `an integer from ${lookbackSeconds.min} to ${lookbackSeconds.max} (seconds)`),
    exclusionTagKey: read(UPGRADE_ENV.EXCLUSION_TAG_KEY, UPGRADE_DEFAULTS.exclusionTagKey,
      tagKey, tagKeyExpected),
    upgradeWithoutMetrics: read(UPGRADE_ENV.WITHOUT_METRICS, UPGRADE_DEFAULTS.upgradeWithoutMetrics,
      (value) => (value === 'true' || value === 'false' ? value === 'true' : undefined), '"true" or "false"'),
    maxUpgradesPerRun: read(UPGRADE_ENV.MAX_PER_RUN, UPGRADE_DEFAULTS.maxUpgradesPerRun,
      integer(maxUpgradesPerRun), `an integer from ${maxUpgradesPerRun.min} to ${maxUpgradesPerRun.max}`),
    minimumObservedSeconds: read(UPGRADE_ENV.MIN_OBSERVED_SECONDS, UPGRADE_DEFAULTS.minimumObservedSeconds,
      (value) => {
        const n = integer({ min: minimumObservedSeconds.min, max: lookbackSeconds.max })(value);
        return n !== undefined && n % 3600 === 0 ? n : undefined;
      }, `a whole number of hours, at least ${minimumObservedSeconds.min} (seconds)`),
    inclusionTagKey: read<string | undefined>(UPGRADE_ENV.INCLUSION_TAG_KEY, undefined, tagKey, tagKeyExpected),
    intervalSeconds: read(UPGRADE_ENV.INTERVAL_SECONDS, UPGRADE_DEFAULTS.intervalSeconds,
      integer(intervalSeconds), `an integer from ${intervalSeconds.min} to ${intervalSeconds.max} (seconds)`),
    rejectedCallsAction: read(UPGRADE_ENV.REJECTED_CALLS_ACTION, UPGRADE_DEFAULTS.rejectedCallsAction,
      (value) => REJECTED_CALLS_ACTIONS.find((action) => action === value),
      `one of ${REJECTED_CALLS_ACTIONS.map((action) => JSON.stringify(action)).join(', ')}`),
  };
  // An absent MIN_OBSERVED_SECONDS takes the default, which a short lookback cannot hold: then the whole window is required.
  if (config.minimumObservedSeconds > config.lookbackSeconds) {
    if (env[UPGRADE_ENV.MIN_OBSERVED_SECONDS] === undefined) {
      config = { ...config, minimumObservedSeconds: config.lookbackSeconds };
    } else {
      problems.push(`${UPGRADE_ENV.MIN_OBSERVED_SECONDS} must be at most ${UPGRADE_ENV.LOOKBACK_SECONDS} (${config.lookbackSeconds}); got ${JSON.stringify(env[UPGRADE_ENV.MIN_OBSERVED_SECONDS])}`);
    }
  }
  if (config.inclusionTagKey !== undefined && config.inclusionTagKey === config.exclusionTagKey) {
    problems.push(`${UPGRADE_ENV.INCLUSION_TAG_KEY} must differ from ${UPGRADE_ENV.EXCLUSION_TAG_KEY}; both are ${JSON.stringify(config.exclusionTagKey)}`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration of the function, so nothing was done: ${problems.join('; ')}`);
  }
  return config;
}
