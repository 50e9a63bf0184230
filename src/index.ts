export * from './settings';
export * from './imds-account-defaults';
