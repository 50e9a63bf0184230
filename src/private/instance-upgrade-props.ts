/**
 * The one place where ImdsInstanceUpgrade's props are made from the
 * StackSet's `instanceUpgrade` options and what both functions share (log
 * retention, role path, permissions boundary): used for the embedded template
 * (embedded-template.ts) and for the management account
 * (ImdsAccountDefaultsStackSet.addManagementAccount), so both get the same.
 */
import { ImdsInstanceUpgradeProps } from '../imds-instance-upgrade';
import { ImdsInstanceUpgradeOptions } from '../instance-upgrade-options';
import { ImdsPermissionsBoundary } from '../permissions-boundary';

/** What ImdsInstanceUpgradeProps adds to the options: taken from the account defaults' props. */
type SharedProps = Omit<ImdsInstanceUpgradeProps, keyof ImdsInstanceUpgradeOptions>;

/**
 * Every prop ImdsInstanceUpgradeProps adds to the options, each key present:
 * a prop added there and not here fails the compile instead of being dropped.
 */
type EverySharedProp = { [K in keyof Required<SharedProps>]: SharedProps[K] };

/** Where the shared props come from: the props of the account's ImdsAccountDefaults. */
export interface SharedPropsSource {
  readonly logRetention?: ImdsInstanceUpgradeProps['logRetention'];
  readonly rolePath?: string;
  readonly permissionsBoundary?: ImdsPermissionsBoundary;
  readonly logGroupEncryptionKey?: ImdsInstanceUpgradeProps['logGroupEncryptionKey'];
  readonly centralEventBusArn?: string;
}

/** ImdsInstanceUpgrade's props: the options, with the log retention and role options of `from`. */
export function instanceUpgradeProps(options: ImdsInstanceUpgradeOptions, from: SharedPropsSource): ImdsInstanceUpgradeProps {
  const shared: EverySharedProp = {
    logRetention: from.logRetention,
    permissionsBoundary: from.permissionsBoundary,
    rolePath: from.rolePath,
    logGroupEncryptionKey: from.logGroupEncryptionKey,
    centralEventBusArn: from.centralEventBusArn,
  };
  return { ...options, ...shared };
}
