/**
 * The options of ImdsInstanceUpgrade, checked and with their defaults applied:
 * shared by the construct and by ImdsAccountDefaultsStackSet (`instanceUpgrade`),
 * which checks them before it synthesizes its template, so that errors name
 * its own path and prop.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { REJECTED_CALLS_ACTIONS, RejectedCallsActionValue, UPGRADE_DEFAULTS, UPGRADE_LIMITS, UPGRADE_MODES, UpgradeMode } from './properties';
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
  readonly minimumObservedSeconds: number;
  readonly inclusionTagKey?: string;
  readonly rejectedCallsAction: RejectedCallsActionValue;
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

  const { min: keyMin, max: keyMax } = UPGRADE_LIMITS.exclusionTagKeyLength;
  const tagKey = (prop: string, key: string) => {
    known(prop, key);
    // Length in UTF-16 code units, as the function checks it (a letter outside the BMP counts twice: stricter than EC2).
    if (typeof key !== 'string' || key.length < keyMin || key.length > keyMax
      || !TAG_KEY.test(key) || key.trim() !== key || key.toLowerCase().startsWith('aws:')) {
      fail(`${name(prop)} must be an EC2 tag key: ${keyMin} to ${keyMax} characters, letters, digits, spaces and + - = . _ : / @, no leading or trailing space, not starting with "aws:"; got ${JSON.stringify(key)}`);
    }
  };
  const exclusionTagKey = options.exclusionTagKey ?? UPGRADE_DEFAULTS.exclusionTagKey;
  tagKey('exclusionTagKey', exclusionTagKey);
  const inclusionTagKey = options.inclusionTagKey;
  if (inclusionTagKey !== undefined) {
    tagKey('inclusionTagKey', inclusionTagKey);
    if (inclusionTagKey === exclusionTagKey) {
      fail(`${name('inclusionTagKey')} must differ from ${name('exclusionTagKey')} (an instance carrying it would be both included and excluded); both are ${JSON.stringify(inclusionTagKey)}`);
    }
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

  // The default never exceeds a shorter lookback (apps written before this option keep synthesizing): the whole window then.
  const minimumObserved = options.minimumObservedTime ?? Duration.seconds(Math.min(UPGRADE_DEFAULTS.minimumObservedSeconds, lookbackSeconds));
  // A token (a CfnParameter, for example) is not checked here: the function checks it (ConfigError) and does nothing when it is invalid.
  const minimumObservedSeconds = minimumObserved.toSeconds({ integral: false });
  const { min: observedMin } = UPGRADE_LIMITS.minimumObservedSeconds;
  const observedKnown = !minimumObserved.isUnresolved();
  if (observedKnown && (!Number.isInteger(minimumObservedSeconds / 3600) || minimumObservedSeconds < observedMin)) {
    fail(`${name('minimumObservedTime')} must be a whole number of hours, at least ${observedMin / 3600} hour (running time is counted in hours with a MetadataNoToken datapoint); got ${minimumObserved.toHumanString()}`);
  }
  if (observedKnown && minimumObservedSeconds > lookbackSeconds) {
    fail(`${name('minimumObservedTime')} (${minimumObserved.toHumanString()}) must be no longer than ${name('lookback')} (${lookback.toHumanString()}): the running time is observed inside the lookback window`);
  }

  const rejectedCallsAction: string = options.rejectedCallsAction ?? UPGRADE_DEFAULTS.rejectedCallsAction;
  known('rejectedCallsAction', rejectedCallsAction);
  if (!(REJECTED_CALLS_ACTIONS as readonly string[]).includes(rejectedCallsAction)) {
    fail(`${name('rejectedCallsAction')} must be one of ${REJECTED_CALLS_ACTIONS.map((a) => JSON.stringify(a)).join(', ')} (RejectedCallsAction); got ${JSON.stringify(rejectedCallsAction)}`);
  }

  return {
    mode: mode as UpgradeMode,
    lookbackSeconds,
    interval,
    exclusionTagKey,
    upgradeWithoutMetrics,
    maxUpgradesPerRun,
    minimumObservedSeconds,
    rejectedCallsAction: rejectedCallsAction as RejectedCallsActionValue,
    ...(inclusionTagKey === undefined ? {} : { inclusionTagKey }),
  };
}
