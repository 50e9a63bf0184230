/**
 * The public API as other languages see it (the jsii assembly, `.jsii`, written by
 * `npx projen compile`), and the enum values that templates and environments carry.
 *
 * - No exported type may share its name with a type of aws-cdk-lib or constructs:
 *   C# `using Amazon.CDK.AWS.EC2;` beside this library makes such a name ambiguous
 *   (CS0104), Java needs fully qualified names, Python's `import *` shadows one with
 *   the other. No .NET compiler (nor the NuGet packages it would need) can be had on
 *   the build machine, so this is checked on the assemblies every generated language
 *   binding comes from: against the aws-cdk-lib we build with (our oldest supported),
 *   and the newest the project installs (test/nag3), which added `aws_ec2.HttpTokens`.
 * - Every enum value is frozen: the values are written into users' templates (custom
 *   resource properties, environment variables), and the handler of every later
 *   release reads them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Assembly, TypeKind, loadAssemblyFromPath } from '@jsii/spec';
import * as api from '../src';

const ROOT = path.join(__dirname, '..');

/** The assembly of the package in `dir` (plain or compressed `.jsii`). */
function assemblyIn(dir: string): Assembly {
  // Only the type names are read: accept every assembly feature (newer aws-cdk-lib uses intersection types).
  return loadAssemblyFromPath(dir, false, ['intersection-types', 'class-covariant-overrides']);
}

/** The library's own assembly: `npx projen compile` writes it. */
function ownAssembly(): Assembly {
  if (!fs.existsSync(path.join(ROOT, '.jsii'))) {
    throw new Error('no .jsii: run `npx projen compile` (the build does) before this test');
  }
  return assemblyIn(ROOT);
}

/** A type's name as a language binding declares it: the last part of its fully qualified name. */
const shortName = (fqn: string) => fqn.slice(fqn.lastIndexOf('.') + 1);

/** The other assemblies a user's app imports beside ours. */
const NEIGHBOURS: ReadonlyArray<{ readonly label: string; readonly dir: string }> = [
  { label: 'aws-cdk-lib (the version the library builds with)', dir: path.join(ROOT, 'node_modules', 'aws-cdk-lib') },
  { label: 'aws-cdk-lib (the newest the project installs, test/nag3)', dir: path.join(ROOT, 'test', 'nag3', 'node_modules', 'aws-cdk-lib') },
  { label: 'constructs', dir: path.join(ROOT, 'node_modules', 'constructs') },
];

describe('the jsii assembly', () => {
  const own = ownAssembly();
  const ownTypes = Object.keys(own.types ?? {});

  test('exports the types the library documents', () => {
    // A sample, so that an assembly that lost its types fails here and not by passing every check below.
    expect(ownTypes.map(shortName)).toEqual(expect.arrayContaining([
      'ImdsAccountDefaults', 'ImdsAccountDefaultsStackSet', 'ImdsInstanceUpgrade', 'ImdsDeclarativePolicy',
      'ImdsHttpTokens', 'ImdsHttpTokensEnforced', 'ImdsHttpEndpoint', 'ImdsInstanceMetadataTags', 'ImdsMetrics',
      'ImdsPermissionsBoundary', 'ImdsStackSetPermissionsBoundary', 'DriftGuardMode', 'ReadinessCheckMode',
    ]));
  });

  test.each(NEIGHBOURS)('no exported type shares its name with a type of $label', ({ label, dir }) => {
    if (!fs.existsSync(dir)) {
      throw new Error(`${label} is not installed at ${dir} (test/nag3: \`npx projen nag3:install\`)`);
    }
    const theirs = new Set(Object.keys(assemblyIn(dir).types ?? {}).map(shortName));
    // The check itself: the name users of aws-cdk-lib >= 2.231 reported.
    if (dir.includes('nag3')) {
      expect(theirs.has('HttpTokens')).toBe(true);
    }
    const clashes = ownTypes.map(shortName).filter((name) => theirs.has(name));
    expect(clashes).toEqual([]);
  });

  test('every exported enum has its values frozen below', () => {
    const enums = Object.values(own.types ?? {}).filter((t) => t.kind === TypeKind.Enum).map((t) => t.name).sort();
    expect(enums).toEqual(Object.keys(FROZEN_ENUMS).sort());
  });
});

/**
 * Every enum's members and their values: written into templates and environments,
 * so never renamed (a new member may be added, with its own line here).
 */
const FROZEN_ENUMS: Record<string, Record<string, string>> = {
  ImdsHttpTokens: { OPTIONAL: 'optional', REQUIRED: 'required', NO_PREFERENCE: 'no-preference' },
  ImdsHttpTokensEnforced: { ENABLED: 'enabled', DISABLED: 'disabled', NO_PREFERENCE: 'no-preference' },
  ImdsHttpEndpoint: { ENABLED: 'enabled', DISABLED: 'disabled', NO_PREFERENCE: 'no-preference' },
  ImdsInstanceMetadataTags: { ENABLED: 'enabled', DISABLED: 'disabled', NO_PREFERENCE: 'no-preference' },
  DriftGuardMode: { REAPPLY: 'REAPPLY', REPORT_ONLY: 'REPORT_ONLY' },
  ReadinessCheckMode: { BLOCK: 'BLOCK', ENFORCE_AND_REPORT: 'ENFORCE_AND_REPORT' },
  ReadinessCheckResult: { NOT_CHECKED: 'NOT_CHECKED', COMPLETE: 'COMPLETE', INCOMPLETE: 'INCOMPLETE' },
  ReadinessReportResult: { READY: 'READY', WOULD_STOP_LAUNCHES: 'WOULD_STOP_LAUNCHES', INCOMPLETE: 'INCOMPLETE' },
  SettingsOnDelete: { RESET: 'RESET', RESTORE: 'RESTORE' },
  InstanceUpgradeMode: { REPORT_ONLY: 'REPORT_ONLY', UPGRADE: 'UPGRADE' },
  RejectedCallsAction: { REPORT: 'REPORT', RESTORE_OPTIONAL: 'RESTORE_OPTIONAL' },
  ImdsFindingType: {
    DEFAULTS_CHANGED: 'IMDS Defaults Changed',
    DRIFT_DETECTED: 'IMDS Drift Detected',
    READINESS_REPORT: 'IMDS Readiness Report',
    UPGRADE_RUN: 'IMDS Instance Upgrade Run',
    REJECTED_CALLS: 'IMDS Rejected Calls',
    SECURITY_WARNING: 'IMDS Security Warning',
  },
  StackSetCallAs: { SELF: 'SELF', DELEGATED_ADMIN: 'DELEGATED_ADMIN' },
  StackSetRegionConcurrency: { PARALLEL: 'PARALLEL', SEQUENTIAL: 'SEQUENTIAL' },
  StackSetConcurrencyMode: { STRICT_FAILURE_TOLERANCE: 'STRICT_FAILURE_TOLERANCE', SOFT_FAILURE_TOLERANCE: 'SOFT_FAILURE_TOLERANCE' },
};

describe('enum values are frozen', () => {
  test.each(Object.entries(FROZEN_ENUMS))('%s', (name, members) => {
    const actual = (api as unknown as Record<string, Record<string, string>>)[name];
    expect(actual).toBeDefined();
    expect({ ...actual }).toEqual(members);
  });
});
