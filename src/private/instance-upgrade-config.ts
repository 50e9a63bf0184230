/**
 * The options of ImdsInstanceUpgrade, checked and with their defaults applied:
 * shared by the construct and by ImdsAccountDefaultsStackSet (`instanceUpgrade`),
 * which checks them before it synthesizes its template, so that errors name
 * its own path and prop.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { UPGRADE_DEFAULTS, UPGRADE_LIMITS, UPGRADE_MODES, UpgradeMode } from './properties';
import { failer } from './validate';
import { ImdsInstanceUpgradeOptions } from '../instance-upgrade-options';

/** The shortest schedule: MetadataNoToken arrives in 5-minute datapoints, and each run lists every instance. */
export const MIN_INTERVAL = Duration.hours(1);

/** The default schedule. */
export const DEFAULT_INTERVAL = Duration.days(1);

/**
 * A tag key EC2 accepts in every context (tag keys that the instance metadata
 * and IAM condition keys carry too): letters, digits, spaces and + - = . _ : / @.
 */
const TAG_KEY = /^[\p{L}\p{N}\p{Zs}+\-=._:/@]+$/u;

/** The options with their defaults applied, as the function receives them. */
export interface InstanceUpgradeConfig {
  readonly mode: UpgradeMode;
  readonly lookbackSeconds: number;
  readonly interval: Duration;
  readonly exclusionTagKey: string;
  readonly upgradeWithoutMetrics: boolean;
  readonly maxUpgradesPerRun: number;
}

/**
 * Checks the options (errors name the construct path, the prop and the value)
 * and applies the defaults. Values must be known at synth: they become
 * environment variables and, for the tag key, part of the IAM policy.
 *
 * @param prefix put before the prop names in messages (`instanceUpgrade.` for the StackSet)
 */
export function instanceUpgradeConfig(scope: IConstruct, options: ImdsInstanceUpgradeOptions, prefix = ''): InstanceUpgradeConfig {
  const fail = failer(scope);
  const name = (prop: string) => `${prefix}${prop}`;
  const known = (prop: string, value: unknown) => {
    if (Token.isUnresolved(value)) {
      fail(`${name(prop)} must be known at synth (it sets the function's environment and IAM policy); got a token (${String(value)})`);
    }
  };

  const mode: string = options.mode ?? UPGRADE_DEFAULTS.mode;
  known('mode', mode);
  if (!(UPGRADE_MODES as readonly string[]).includes(mode)) {
    fail(`${name('mode')} must be one of ${UPGRADE_MODES.map((m) => JSON.stringify(m)).join(', ')} (InstanceUpgradeMode); got ${JSON.stringify(mode)}`);
  }

  const lookback = options.lookback ?? Duration.seconds(UPGRADE_DEFAULTS.lookbackSeconds);
  known('lookback', lookback.isUnresolved() ? lookback.toString() : undefined);
  const lookbackSeconds = lookback.toSeconds({ integral: false });
  const { min: lookbackMin, max: lookbackMax } = UPGRADE_LIMITS.lookbackSeconds;
  if (!Number.isInteger(lookbackSeconds / 3600) || lookbackSeconds < lookbackMin || lookbackSeconds > lookbackMax) {
    fail(`${name('lookback')} must be a whole number of hours from ${lookbackMin / 3600} hour to ${lookbackMax / 86400} days (CloudWatch keeps 1-hour datapoints of MetadataNoToken for ${lookbackMax / 86400} days); got ${lookback.toHumanString()}`);
  }

  const interval = options.interval ?? DEFAULT_INTERVAL;
  known('interval', interval.isUnresolved() ? interval.toString() : undefined);
  const intervalMinutes = interval.toMinutes({ integral: false });
  if (!Number.isInteger(intervalMinutes) || intervalMinutes < MIN_INTERVAL.toMinutes()) {
    fail(`${name('interval')} must be a whole number of minutes, at least ${MIN_INTERVAL.toHumanString()} (MetadataNoToken arrives in 5-minute datapoints, and each run lists every instance); got ${interval.toHumanString()}`);
  }

  const exclusionTagKey = options.exclusionTagKey ?? UPGRADE_DEFAULTS.exclusionTagKey;
  known('exclusionTagKey', exclusionTagKey);
  const { min: keyMin, max: keyMax } = UPGRADE_LIMITS.exclusionTagKeyLength;
  // Length in UTF-16 code units, as the function checks it (a letter outside the BMP counts twice: stricter than EC2).
  if (typeof exclusionTagKey !== 'string' || exclusionTagKey.length < keyMin || exclusionTagKey.length > keyMax
    || !TAG_KEY.test(exclusionTagKey) || exclusionTagKey.trim() !== exclusionTagKey || exclusionTagKey.toLowerCase().startsWith('aws:')) {
    fail(`${name('exclusionTagKey')} must be an EC2 tag key: ${keyMin} to ${keyMax} characters, letters, digits, spaces and + - = . _ : / @, no leading or trailing space, not starting with "aws:"; got ${JSON.stringify(exclusionTagKey)}`);
  }

  const upgradeWithoutMetrics = options.upgradeWithoutMetrics ?? UPGRADE_DEFAULTS.upgradeWithoutMetrics;
  known('upgradeWithoutMetrics', upgradeWithoutMetrics);
  if (typeof upgradeWithoutMetrics !== 'boolean') {
    fail(`${name('upgradeWithoutMetrics')} must be true or false; got ${JSON.stringify(upgradeWithoutMetrics)}`);
  }

  const maxUpgradesPerRun = options.maxUpgradesPerRun ?? UPGRADE_DEFAULTS.maxUpgradesPerRun;
  known('maxUpgradesPerRun', maxUpgradesPerRun);
  const { min: capMin, max: capMax } = UPGRADE_LIMITS.maxUpgradesPerRun;
  if (!Number.isInteger(maxUpgradesPerRun) || maxUpgradesPerRun < capMin || maxUpgradesPerRun > capMax) {
    fail(`${name('maxUpgradesPerRun')} must be an integer from ${capMin} to ${capMax}; got ${JSON.stringify(maxUpgradesPerRun)}`);
  }

  return { mode: mode as UpgradeMode, lookbackSeconds, interval, exclusionTagKey, upgradeWithoutMetrics, maxUpgradesPerRun };
}
