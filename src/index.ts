export * from './settings';
export * from './imds-account-defaults';
export * from './imds-account-defaults-stack-set';
export * from './imds-declarative-policy';
export * from './imds-instance-upgrade';
