/**
 * Checks of the options of ImdsAccountDefaults beyond the settings (validate.ts), shared by
 * the construct and ImdsAccountDefaultsStackSet, which runs them before it synthesizes its
 * template so that errors name its own path. Options that would do nothing are errors.
 */
import { RemovalPolicy, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { failer, isRetained, removalPolicyName } from './validate';
import { DriftGuardMode, ImdsAccountDefaultsOptions, ReadinessCheckMode, SettingsOnDelete } from '../account-defaults-options';

/** Checks driftGuard, driftCheckInterval, readinessCheck and settingsOnDelete. */
export function validateAccountDefaultsOptions(scope: IConstruct, options: ImdsAccountDefaultsOptions): void {
  validateDriftGuard(scope, options);
  validateReadinessCheck(scope, options);
  validateSettingsOnDelete(scope, options.settingsOnDelete);
}

/** Checks driftGuard and driftCheckInterval (whole minutes, 1 or more; only with driftGuard). */
function validateDriftGuard(scope: IConstruct, props: ImdsAccountDefaultsOptions): void {
  const fail = failer(scope);
  const { driftGuard, driftCheckInterval: interval } = props;
  if (driftGuard !== undefined && !Object.values(DriftGuardMode).includes(driftGuard)) {
    fail(`driftGuard must be DriftGuardMode.REAPPLY or DriftGuardMode.REPORT_ONLY; got ${JSON.stringify(driftGuard)}`);
  }
  if (interval !== undefined && driftGuard === undefined) {
    fail(`driftCheckInterval applies only with driftGuard; got driftCheckInterval ${interval.toHumanString()} without driftGuard`);
  }
  if (interval !== undefined && !interval.isUnresolved() && (interval.toMilliseconds() < 60_000 || interval.toMilliseconds() % 60_000 !== 0)) {
    fail(`driftCheckInterval must be a whole number of minutes, 1 minute or more; got ${interval.toHumanString()}`);
  }
}

/**
 * Checks readinessCheck (a token is left to the handler); without httpTokensEnforced it
 * would do nothing, which is an error, as driftCheckInterval without driftGuard is.
 */
function validateReadinessCheck(scope: IConstruct, props: ImdsAccountDefaultsOptions): void {
  const value = props.readinessCheck;
  if (value === undefined) {
    return;
  }
  const fail = failer(scope);
  if (!Token.isUnresolved(value) && !Object.values(ReadinessCheckMode).includes(value)) {
    fail(`readinessCheck must be ReadinessCheckMode.BLOCK or ReadinessCheckMode.ENFORCE_AND_REPORT; got ${JSON.stringify(value)}`);
  }
  if (props.httpTokensEnforced === undefined) {
    fail(`readinessCheck applies only with httpTokensEnforced (the check runs when a create or update enables enforcement); got readinessCheck ${Token.isUnresolved(value) ? String(value) : `ReadinessCheckMode.${value}`} without httpTokensEnforced`);
  }
}

/** Checks settingsOnDelete (a token is left to the handler). */
function validateSettingsOnDelete(scope: IConstruct, value: SettingsOnDelete | undefined): void {
  if (value !== undefined && !Token.isUnresolved(value) && !Object.values(SettingsOnDelete).includes(value)) {
    failer(scope)(`settingsOnDelete must be SettingsOnDelete.RESET or SettingsOnDelete.RESTORE; got ${JSON.stringify(value)}`);
  }
}

/** settingsOnDelete is not for a resource whose removal policy retains it (ImdsAccountDefaults's removalPolicy). */
export function validateSettingsOnDeleteWithRemovalPolicy(
  scope: IConstruct, value: SettingsOnDelete | undefined, removalPolicy: RemovalPolicy | undefined,
): void {
  const fail = failer(scope);
  if (value !== undefined && removalPolicy !== undefined && isRetained(removalPolicy)) {
    fail(`settingsOnDelete applies only when CloudFormation may delete the resource; got settingsOnDelete ${Token.isUnresolved(value) ? String(value) : `SettingsOnDelete.${value}`} with removalPolicy ${removalPolicyName(removalPolicy)}: a retained resource is never deleted deliberately, and a delete that is part of a rollback always restores. Leave settingsOnDelete out, or use RemovalPolicy.DESTROY`);
  }
}
